/*
 * wl_criu_basic - a small process for the CRIU tests.
 *
 * Prints (one per line, then "ready"):
 *   pid=N            its PID as it sees it (inside a PID namespace)
 *   heap=0xADDR len=N  a heap buffer filled with wl_pattern(i)
 *   handler=0xADDR   the SIGUSR1 handler it installed
 *   threads=2
 *   guard=0xN        glibc's pointer guard (fs:0x30)
 * then loops: the main thread rewrites ./counter (a decimal count,
 * bumped every 20 ms) so a test can see that a restored copy still runs;
 * a second thread spins on a volatile counter with short sleeps.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wl_util.h"

#define HEAP_LEN (64 * 1024)

static volatile sig_atomic_t usr1_seen;
static volatile unsigned long worker_ticks;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static uint8_t wl_pattern(size_t i)
{
	return (uint8_t)((i * 7 + 13) ^ (i >> 8));
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		worker_ticks++;
		wl_sleep_ms(10);
	}
	return NULL;
}

int main(void)
{
	uint8_t *heap = malloc(HEAP_LEN);
	if (heap == NULL)
		return 1;
	for (size_t i = 0; i < HEAP_LEN; i++)
		heap[i] = wl_pattern(i);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return 1;

	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;

	int fd = open("counter", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;

	printf("pid=%d\n", (int)getpid());
	printf("heap=%p len=%d\n", (void *)heap, HEAP_LEN);
	printf("handler=%p\n", (void *)on_usr1);
	printf("threads=2\n");
	unsigned long guard;
	__asm__ volatile("mov %%fs:0x30, %0" : "=r"(guard));
	printf("guard=0x%lx\n", guard);
	printf("ready\n");
	fflush(stdout);

	return wl_count_forever(fd);
}
