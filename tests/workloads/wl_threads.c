/*
 * wl_threads - many threads, each blocked in a different kind of call
 * (nanosleep, read, condition variable, poll, select, epoll, sigwait,
 * semaphore, pause) plus one that computes, so a snapshot has to stop
 * threads both in the kernel and running.
 *
 *   wl_threads [N] [--exit-after-ms M]
 *
 * Starts N threads (default 64), prints "ready threads=N" once all run,
 * then waits forever (or exits the whole process M ms later).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static pthread_barrier_t started;
static int idle_pipe[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static volatile unsigned long spin_counter;

enum { K_NANOSLEEP, K_READ, K_COND, K_POLL, K_SELECT, K_EPOLL, K_SIGWAIT,
       K_SEM, K_PAUSE, K_KINDS };

static void block_forever(int kind)
{
	char c;
	switch (kind) {
	case K_NANOSLEEP:
		for (;;) {
			struct timespec ts = { 1, 0 };
			nanosleep(&ts, NULL);
		}
	case K_READ:
		for (;;)
			if (read(idle_pipe[0], &c, 1) < 0 && errno != EINTR)
				abort();
	case K_COND:
		pthread_mutex_lock(&lock);
		for (;;)
			pthread_cond_wait(&never, &lock);
	case K_POLL:
		for (;;) {
			struct pollfd p = { .fd = idle_pipe[0], .events = POLLIN };
			poll(&p, 1, -1);
		}
	case K_SELECT:
		for (;;) {
			fd_set rd;
			FD_ZERO(&rd);
			FD_SET(idle_pipe[0], &rd);
			struct timeval tv = { 1, 0 };
			select(idle_pipe[0] + 1, &rd, NULL, NULL, &tv);
		}
	case K_EPOLL: {
		int ep = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN };
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, idle_pipe[0], &ev) != 0)
			abort();
		for (;;)
			epoll_wait(ep, &ev, 1, -1);
	}
	case K_SIGWAIT: {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGRTMIN + 3);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		for (;;) {
			int sig;
			sigwait(&set, &sig);
		}
	}
	case K_SEM:
		for (;;)
			sem_wait(&sem);
	default:
		for (;;)
			pause();
	}
}

static void *thread_main(void *arg)
{
	long i = (long)arg;
	pthread_barrier_wait(&started);
	if (i == 7) {
		/* The computing thread: mostly running, never blocked long. */
		for (;;) {
			for (int k = 0; k < 200000; k++)
				spin_counter++;
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	block_forever((int)(i % K_KINDS));
	return NULL;
}

int main(int argc, char **argv)
{
	long n = 64, exit_after = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--exit-after-ms") == 0 && i + 1 < argc)
			exit_after = atol(argv[++i]);
		else
			n = atol(argv[i]);
	}
	if (n < 1 || n > 4096 || pipe(idle_pipe) != 0 || sem_init(&sem, 0, 0) != 0)
		return 2;
	pthread_barrier_init(&started, NULL, (unsigned)n + 1);
	for (long i = 0; i < n; i++) {
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&t, &attr, thread_main, (void *)i) != 0)
			return 2;
		pthread_attr_destroy(&attr);
	}
	pthread_barrier_wait(&started);
	printf("ready threads=%ld\n", n);
	fflush(stdout);
	if (exit_after >= 0) {
		struct timespec ts = { exit_after / 1000, (exit_after % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		exit(0);
	}
	for (;;)
		pause();
}
