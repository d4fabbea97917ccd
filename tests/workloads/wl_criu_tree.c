/*
 * wl_criu_tree - a process tree for the CRIU tests: what a container's
 * dump holds.
 *
 * The parent forks two children: one that runs and alone reaches sha_fn
 * (sha1msg1, through a pointer only its own heap holds), and one that
 * exits at once and is never reaped (a zombie).  The parent itself can
 * never reach sha_fn: the hook that leads there is cleared in it before
 * it prints anything.
 *
 * Prints (one per line, then "ready"): pid=N, child=N, zombie=N (PIDs as
 * the parent sees them).  The parent rewrites ./counter and the child
 * ./counter-child every 20 ms, so a test can see that a restored tree
 * still runs.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "wl_util.h"

/* Reached only through the child's heap. */
__attribute__((used, noinline)) static void sha_fn(void)
{
	__asm__ volatile("sha1msg1 %%xmm2, %%xmm1" ::: "xmm1");
}

static int count_forever(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	return fd < 0 ? 1 : wl_count_forever(fd);
}

static void __attribute__((noreturn)) child_main(void)
{
	void (*volatile *slot)(void) = malloc(sizeof(*slot));
	if (slot == NULL)
		_exit(1);
	*slot = sha_fn;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sha"))
		(*slot)();
	_exit(count_forever("counter-child"));
}

/* The only way to child_main; cleared in the parent once it has forked. */
static void (*volatile child_hook)(void) = child_main;

int main(void)
{
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_hook();
	}
	child_hook = NULL;
	pid_t zombie = fork();
	if (zombie < 0)
		return 1;
	if (zombie == 0)
		_exit(0);

	printf("pid=%d\nchild=%d\nzombie=%d\nready\n", (int)getpid(), (int)child, (int)zombie);
	fflush(stdout);
	return count_forever("counter");
}
