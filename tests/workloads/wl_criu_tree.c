/*
 * wl_criu_tree - a process tree for the CRIU tests: what a container's
 * dump holds.
 *
 *   wl_criu_tree [mark=F]
 *
 * The parent forks two children: one that runs and alone reaches
 * child_F (the marker function of feature F, wl_mark.h, "none" unless
 * given; through a pointer only its own heap holds), and one that
 * exits at once and is never reaped (a zombie).  The parent itself can
 * never reach child_F: the hook that leads there is cleared in it before
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

#include "wl_mark.h"
#include "wl_util.h"

/* child_<name>: reached only through the child's heap. */
WL_MARK_DEFINE(child)

static const char *mark = "none";
static void (*volatile child_fn)(int);    /* child_F until the fork */

/* Called once through a pointer that is then cleared, like child_hook:
 * the lookup refers to every marker. */
static int prepare(void)
{
	child_fn = child_lookup(mark);
	return child_fn ? 0 : -1;
}

static int (*volatile prepare_hook)(void) = prepare;

static int count_forever(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	return fd < 0 ? 1 : wl_count_forever(fd);
}

static void __attribute__((noreturn)) child_main(void)
{
	void (*volatile *slot)(int) = malloc(sizeof(*slot));
	if (slot == NULL)
		_exit(1);
	*slot = child_fn;
	child_fn = NULL;
	(*slot)(0);
	_exit(count_forever("counter-child"));
}

/* The only way to child_main; cleared in the parent once it has forked. */
static void (*volatile child_hook)(void) = child_main;

int main(int argc, char **argv)
{
	static const char *const kinds[] = { "mark" };
	if (wl_mark_args(argc, argv, kinds, &mark, 1) != 0 || prepare_hook() != 0) {
		fprintf(stderr, "usage: wl_criu_tree [mark=FEATURE]\n");
		return 2;
	}
	prepare_hook = NULL;
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_hook();
	}
	child_hook = NULL;
	child_fn = NULL;
	pid_t zombie = fork();
	if (zombie < 0)
		return 1;
	if (zombie == 0)
		_exit(0);

	printf("pid=%d\nchild=%d\nzombie=%d\nready\n", (int)getpid(), (int)child, (int)zombie);
	fflush(stdout);
	return count_forever("counter");
}
