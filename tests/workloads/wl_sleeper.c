/*
 * wl_sleeper - a single-threaded process asleep in nanosleep().
 *
 * Prints "ready guard=0x... marker=0x..." (its glibc pointer guard, read
 * from %fs:0x30, and the address of a known string) so a test can check
 * what a snapshot reads.  Then sleeps 200 ms at a time and reports each
 * sleep as "slept ok" or "slept BAD" (returned early or failed): a
 * snapshot that broke the interrupted nanosleep's restart shows up here.
 * A SIGUSR1 handler (prints "usr1") gives the snapshot one caught signal.
 *
 *   --exit-after-ms N   exit N ms after "ready"
 *   --exec-after-ms N   exec /bin/sleep N ms after "ready"
 *   --deleted-map       also map a file that is then unlinked
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

const char marker[] = "MIGRATABLE-SLEEPER-MARKER";

static void on_usr1(int sig)
{
	(void)sig;
	static const char msg[] = "usr1\n";
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *map_deleted_file(void)
{
	char path[] = "/tmp/wl_sleeper-deleted-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, "deleted-file-content", 20) != 20)
		exit(2);
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		exit(2);
	unlink(path);
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	long exit_after = -1, exec_after = -1;
	void *deleted = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--exit-after-ms") == 0 && i + 1 < argc)
			exit_after = atol(argv[++i]);
		else if (strcmp(argv[i], "--exec-after-ms") == 0 && i + 1 < argc)
			exec_after = atol(argv[++i]);
		else if (strcmp(argv[i], "--deleted-map") == 0)
			deleted = map_deleted_file();
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	uint64_t guard;
	__asm__ volatile("mov %%fs:0x30, %0" : "=r"(guard));
	printf("ready guard=%#llx marker=%p deleted=%p\n", (unsigned long long)guard,
	       (const void *)marker, deleted);
	fflush(stdout);

	if (exit_after >= 0) {
		sleep_ms(exit_after);
		exit(0);
	}
	if (exec_after >= 0) {
		sleep_ms(exec_after);
		execl("/bin/sleep", "sleep", "5", (char *)NULL);
		exit(2);
	}
	for (;;) {
		struct timespec ts = { 0, 200 * 1000000L };
		long t0 = now_ms();
		int r = nanosleep(&ts, NULL);
		int e = errno;
		long took = now_ms() - t0;
		if (r == 0 && took >= 200)
			printf("slept ok %ld\n", took);
		else
			printf("slept BAD r=%d errno=%d took=%ld\n", r, r ? e : 0, took);
		fflush(stdout);
	}
}
