/*
 * wl_bench_bigheap: a benchmark target with a large heap full of pointers and
 * many threads, the worst case for the memory side of `scan`.
 *
 *   wl_bench_bigheap [HEAP_SIZE] [THREADS]
 *
 * HEAP_SIZE takes a K/M/G suffix (default 2G); THREADS defaults to 64.
 * The heap is cut into malloc'ed objects of 256 B to 8 KiB; every word of
 * every object holds a pointer to another object (so the scanner sees only
 * plausible addresses, none of them code), except about one word in 64 Ki,
 * which holds a pointer to a function (a few of ours, a few of libc's), so
 * the heap also contributes a handful of roots. Every thread but the main one
 * blocks in a different kind of call (sleeps, pipes, poll, futexes, sockets,
 * signals...) so the captured stacks and registers are varied. Prints "ready"
 * once the heap is filled and every thread has started; runs until killed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OBJ_MIN 256
#define OBJ_MAX 8192
#define FUNC_EVERY 65536	/* about one word in this many is a code pointer */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: fast and good enough to scatter pointers. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Callbacks only the heap points to: reachable only through heap words. */
static int cb_add(int a, int b) { return a + b; }
static int cb_sub(int a, int b) { return a - b; }
static int cb_mul(int a, int b) { return a * b; }
static int cb_xor(int a, int b) { return a ^ b; }

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s) {
		fprintf(stderr, "wl_bench_bigheap: bad size '%s'\n", s);
		exit(2);
	}
	switch (*end) {
	case 'G': case 'g': v <<= 30; break;
	case 'M': case 'm': v <<= 20; break;
	case 'K': case 'k': v <<= 10; break;
	case '\0': break;
	default:
		fprintf(stderr, "wl_bench_bigheap: bad size suffix in '%s'\n", s);
		exit(2);
	}
	return (size_t)v;
}

static void **objs;
static size_t *obj_words;
static size_t nobjs;

static void build_heap(size_t heap)
{
	size_t cap = heap / OBJ_MIN + 1, used = 0;
	void *funcs[] = {
		(void *)cb_add, (void *)cb_sub, (void *)cb_mul, (void *)cb_xor,
		(void *)qsort, (void *)memcpy, (void *)strlen, (void *)printf,
	};

	objs = malloc(cap * sizeof(*objs));
	obj_words = malloc(cap * sizeof(*obj_words));
	if (!objs || !obj_words) {
		perror("wl_bench_bigheap: malloc");
		exit(1);
	}
	while (used < heap && nobjs < cap) {
		size_t sz = OBJ_MIN + (rng() % (OBJ_MAX - OBJ_MIN)) / 8 * 8;

		objs[nobjs] = malloc(sz);
		if (!objs[nobjs]) {
			perror("wl_bench_bigheap: malloc");
			exit(1);
		}
		obj_words[nobjs++] = sz / sizeof(void *);
		used += sz;
	}
	/* Fill after allocating everything, so words point forwards too. */
	for (size_t i = 0; i < nobjs; i++) {
		void **w = objs[i];

		for (size_t j = 0; j < obj_words[i]; j++) {
			uint64_t r = rng();

			if (r % FUNC_EVERY == 0)
				w[j] = funcs[(r >> 32) % (sizeof(funcs) / sizeof(funcs[0]))];
			else
				w[j] = (char *)objs[(r >> 16) % nobjs] + (r & 0x38);
		}
	}
}

/* Blocking calls the threads sit in; thread i uses kind i % NKINDS. */
enum kind {
	K_NANOSLEEP, K_READ_PIPE, K_POLL, K_SELECT, K_EPOLL, K_COND,
	K_MUTEX, K_SEM, K_BARRIER, K_RECV, K_SIGWAIT, K_EVENTFD,
	K_CLOCK_NANOSLEEP, K_RECVMSG, K_PAUSE, K_ACCEPT, NKINDS
};

static int pipe_fds[2], sock_fds[2], dgram_fds[2], listen_fd, event_fd, epoll_fd;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t never_barrier;
static sem_t never_sem;
static int started;
static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cond = PTHREAD_COND_INITIALIZER;

static void announce(void)
{
	pthread_mutex_lock(&started_lock);
	started++;
	pthread_cond_signal(&started_cond);
	pthread_mutex_unlock(&started_lock);
}

static void block_once(enum kind k)
{
	char c;
	uint64_t v;
	struct pollfd pfd = { .fd = pipe_fds[0], .events = POLLIN };
	struct epoll_event ev;
	struct timespec long_time = { .tv_sec = 3600 };
	fd_set rd;
	sigset_t set;
	int sig;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	switch (k) {
	case K_NANOSLEEP: nanosleep(&long_time, NULL); break;
	case K_READ_PIPE: if (read(pipe_fds[0], &c, 1) < 0) sleep(1); break;
	case K_POLL: poll(&pfd, 1, -1); break;
	case K_SELECT:
		FD_ZERO(&rd);
		FD_SET(pipe_fds[0], &rd);
		select(pipe_fds[0] + 1, &rd, NULL, NULL, NULL);
		break;
	case K_EPOLL: epoll_wait(epoll_fd, &ev, 1, -1); break;
	case K_COND:
		pthread_mutex_lock(&cond_lock);
		pthread_cond_wait(&never, &cond_lock);
		pthread_mutex_unlock(&cond_lock);
		break;
	case K_MUTEX:
		pthread_mutex_lock(&held_lock);	/* main holds it forever */
		pthread_mutex_unlock(&held_lock);
		break;
	case K_SEM: sem_wait(&never_sem); break;
	case K_BARRIER: pthread_barrier_wait(&never_barrier); break;
	case K_RECV: if (recv(sock_fds[0], &c, 1, 0) < 0) sleep(1); break;
	case K_SIGWAIT:
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigwait(&set, &sig);
		break;
	case K_EVENTFD: if (read(event_fd, &v, sizeof(v)) < 0) sleep(1); break;
	case K_CLOCK_NANOSLEEP:
		clock_nanosleep(CLOCK_MONOTONIC, 0, &long_time, NULL);
		break;
	case K_RECVMSG:
		iov.iov_base = &c;
		iov.iov_len = 1;
		if (recvmsg(dgram_fds[0], &msg, 0) < 0)
			sleep(1);
		break;
	case K_PAUSE: pause(); break;
	case K_ACCEPT: if (accept(listen_fd, NULL, NULL) < 0) sleep(1); break;
	default: sleep(1); break;
	}
}

static void *blocker(void *arg)
{
	enum kind k = (enum kind)((uintptr_t)arg % NKINDS);

	announce();
	for (;;)
		block_once(k);
	return NULL;
}

static void setup_blockers(int nthreads)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_un unnamed = { .sun_family = AF_UNIX };
	sigset_t set;

	if (pipe(pipe_fds) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sock_fds) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram_fds) < 0) {
		perror("wl_bench_bigheap: pipe/socketpair");
		exit(1);
	}
	/* Bound with only the family: the kernel picks an abstract name. */
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	event_fd = eventfd(0, 0);
	epoll_fd = epoll_create1(0);
	if (listen_fd < 0 || event_fd < 0 || epoll_fd < 0 ||
	    bind(listen_fd, (struct sockaddr *)&unnamed, sizeof(sa_family_t)) < 0 ||
	    listen(listen_fd, 1) < 0) {
		perror("wl_bench_bigheap: socket/eventfd/epoll");
		exit(1);
	}
	ev.data.fd = pipe_fds[0];
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pipe_fds[0], &ev) < 0 ||
	    sem_init(&never_sem, 0, 0) < 0 ||
	    pthread_barrier_init(&never_barrier, NULL, (unsigned)nthreads + 1) != 0) {
		perror("wl_bench_bigheap: epoll_ctl/sem/barrier");
		exit(1);
	}
	/* SIGUSR2 is for sigwait: block it everywhere (threads inherit). */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&held_lock);
}

int main(int argc, char **argv)
{
	size_t heap = parse_size(argc > 1 ? argv[1] : "2G");
	int nthreads = argc > 2 ? atoi(argv[2]) : 64;
	pthread_attr_t attr;

	if (nthreads < 1 || nthreads > 4096) {
		fprintf(stderr, "wl_bench_bigheap: bad thread count\n");
		return 2;
	}
	build_heap(heap);
	setup_blockers(nthreads);
	/* Small stacks: 64 threads should not cost 512 MiB of address space. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < nthreads; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, blocker, (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "wl_bench_bigheap: pthread_create failed\n");
			return 1;
		}
	}
	pthread_mutex_lock(&started_lock);
	while (started < nthreads)
		pthread_cond_wait(&started_cond, &started_lock);
	pthread_mutex_unlock(&started_lock);

	printf("ready pid=%d objects=%zu heap=%zu threads=%d\n", (int)getpid(),
	       nobjs, heap, nthreads);
	fflush(stdout);
	for (;;)
		pause();
}
