/*
 * wl_demo: the process `make demo` starts and scans.  Ordinary C that
 * runs on any x86-64: string and memory functions (glibc picks SSE2, AVX2
 * or EVEX variants at start-up from CPUID), a qsort callback, a worker
 * thread, a signal handler and an atexit handler.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf_a[4096], buf_b[4096];
static volatile sig_atomic_t hangups;

static int by_value(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void on_hangup(int sig)
{
	(void)sig;
	hangups = hangups + 1;
}

static void goodbye(void)
{
	fprintf(stderr, "wl_demo: exiting after %d hangups\n", (int)hangups);
}

static void *worker(void *arg)
{
	(void)arg;
	int values[256];
	for (;;) {
		for (int i = 0; i < 256; i++)
			values[i] = rand() % 1000;
		qsort(values, 256, sizeof(values[0]), by_value);
		usleep(5000);
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	signal(SIGHUP, on_hangup);
	atexit(goodbye);
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	memset(buf_a, 'x', sizeof(buf_a) - 1);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		memcpy(buf_b, buf_a, sizeof(buf_a));
		if (strlen(buf_b) != sizeof(buf_a) - 1 || strchr(buf_b, 'y'))
			return 2;
		usleep(5000);
	}
}
