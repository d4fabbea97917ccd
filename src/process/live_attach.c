/*
 * live_attach.c - stopping every thread of a process, and letting go.
 *
 * PTRACE_SEIZE (not ATTACH) because it does not send SIGSTOP: the stop
 * we cause with PTRACE_INTERRUPT is invisible to the process, and when
 * the tracer dies the kernel detaches and the interrupt-stop simply ends.
 *
 * Threads created while we attach: a thread we have not seized yet can
 * still clone.  We re-list /proc/PID/task after every round until a
 * round finds no new thread; once every thread is stopped no new one
 * can appear.
 *
 * Every seized tid is also recorded in a registry the signal guard reads
 * (async-signal-safe: a plain array published through a volatile
 * pointer), so that SIGINT/SIGTERM/SIGHUP detach before the tool exits.
 */
#include "process/live_priv.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

/* A thread that does not reach a ptrace-stop within this time is stuck
 * in the kernel (D state); we give up rather than hang. */
#define STOP_TIMEOUT_MS 3000
/* Rounds of re-listing before we call the thread set unstable. */
#define MAX_ROUNDS 64

/* --- registry for the signal guard ------------------------------------------- */

static pid_t *volatile g_tids;
static volatile sig_atomic_t g_ntids;
static size_t g_tids_cap;

static int registry_add(pid_t tid)
{
	if ((size_t)g_ntids == g_tids_cap) {
		size_t ncap = g_tids_cap ? g_tids_cap * 2 : 256;
		pid_t *grown = malloc(ncap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		if (g_ntids > 0)
			memcpy(grown, g_tids, (size_t)g_ntids * sizeof(*grown));
		pid_t *old = g_tids;
		/* Publish the full copy before freeing the old one: a handler
		 * running in between reads either, both complete. */
		g_tids = grown;
		g_tids_cap = ncap;
		free(old);
	}
	g_tids[g_ntids] = tid;
	g_ntids = g_ntids + 1;
	return 0;
}

static void registry_remove(pid_t tid)
{
	for (sig_atomic_t i = 0; i < g_ntids; i++) {
		if (g_tids[i] == tid) {
			g_tids[i] = g_tids[g_ntids - 1];
			g_ntids = g_ntids - 1;
			return;
		}
	}
}

static void guard_handler(int sig)
{
	(void)sig;
	/* Threads in a ptrace-stop are resumed by the detach; threads not
	 * stopped refuse it (ESRCH) and are detached by the kernel when we
	 * exit.  Registers are never altered here: the injection in
	 * live_inject.c blocks these signals while it runs. */
	for (sig_atomic_t i = 0; i < g_ntids; i++)
		ptrace(PTRACE_DETACH, g_tids[i], NULL, NULL);
	/* A keeper child taking the snapshot finishes on its own (it ignores
	 * these signals); waiting for it keeps the promise that when
	 * migratable has exited, the target runs again. */
	pid_t keeper = live_keeper_release();
	if (keeper > 0)
		waitpid(keeper, NULL, 0);
	_exit(MG_ERR_INTERRUPTED);
}

void mg_live_install_signal_guard(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* --- session ---------------------------------------------------------------------- */

void live_session_init(live_session *s, pid_t pid)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->mem_fd = -1;
}

void live_session_release(live_session *s)
{
	live_detach_all(s);
	free(s->threads);
	s->threads = NULL;
	s->nthreads = s->cap = 0;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
}

static live_thread *find_thread(live_session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	return NULL;
}

static live_thread *add_thread(live_session *s, pid_t tid)
{
	if (s->nthreads == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		live_thread *grown = realloc(s->threads, ncap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		s->threads = grown;
		s->cap = ncap;
	}
	live_thread *t = &s->threads[s->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->state = LT_GONE;
	return t;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)live_ms_between(since, &now);
}

/* Classify a wait status of t; see ptrace(2) "Stopped states". */
static void note_status(live_session *s, live_thread *t, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->state = LT_GONE;
		registry_remove(t->tid);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	int event = status >> 16, sig = WSTOPSIG(status);
	t->state = LT_STOPPED;
	switch (event) {
	case PTRACE_EVENT_STOP:
		if (sig == SIGTRAP)
			t->interrupt_stop = true;
		else
			t->group_stop = true;     /* SIGSTOP, SIGTSTP, ... */
		break;
	case PTRACE_EVENT_EXEC:
		s->exec_seen = true;
		break;
	case PTRACE_EVENT_EXIT:
		t->exiting = true;
		break;
	case 0:
		/* Signal-delivery-stop: the signal is dequeued; hand it back
		 * at detach so the process never loses it. */
		t->detach_sig = sig;
		break;
	default:
		break;
	}
}

int live_wait_stop(live_session *s, live_thread *t, int *status, mg_error *err)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned spins = 0;

	for (;;) {
		int st = 0;
		pid_t r = waitpid(t->tid, &st, __WALL | WNOHANG);
		if (r == t->tid) {
			note_status(s, t, st);
			if (status)
				*status = st;
			if (t->state == LT_STOPPED || t->state == LT_GONE)
				return 0;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ECHILD) {
			/* Already reaped: the thread is gone. */
			t->state = LT_GONE;
			registry_remove(t->tid);
			return 0;
		}
		if (r < 0)
			return mg_fail(err, MG_ERR_INTERNAL, "pid %d: waitpid(%d): %s",
				       (int)s->pid, (int)t->tid, strerror(errno));
		if (elapsed_ms(&start) > STOP_TIMEOUT_MS)
			return mg_fail(err, MG_ERR_UNSUPPORTED,
				       "pid %d: thread %d did not stop within %d ms (blocked in the kernel?)",
				       (int)s->pid, (int)t->tid, STOP_TIMEOUT_MS);
		/* The stop usually comes within microseconds: yield first,
		 * sleep only if it takes longer. */
		if (++spins < 2000) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
}

/*
 * Resume and detach t, handing back the signal it dequeued while stopped.
 * True if detached; false if there was nothing to detach (gone) or it
 * could not be stopped (stuck in the kernel: the kernel detaches it when
 * we exit, and the interrupt-stop it is heading for then simply ends).
 */
static bool detach_thread(live_session *s, live_thread *t)
{
	if (t->state == LT_SEIZED) {
		/* Seized but never seen stopped (error path): a detach needs
		 * a ptrace-stop, so bring it to one first.  A failed interrupt
		 * (ESRCH: it exited) shows in the wait. */
		ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL);
		if (live_wait_stop(s, t, NULL, NULL) != 0)
			return false;
	}
	if (t->state != LT_STOPPED)
		return false;
	/* Can fail only with ESRCH (killed meanwhile): nothing to resume. */
	ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)t->detach_sig);
	registry_remove(t->tid);
	t->state = LT_GONE;
	return true;
}

/* PTRACE_SEIZE one thread; 1 if seized, 0 if it is gone, -1 on error. */
static int seize_one(live_session *s, pid_t tid, mg_error *err)
{
	long opts = PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)opts) == 0) {
		if (registry_add(tid) != 0) {
			/* Cannot promise the signal guard covers it: let go. */
			live_thread tmp = { .tid = tid, .state = LT_SEIZED };
			(void)detach_thread(s, &tmp);   /* we fail either way */
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory attaching to pid %d",
				       (int)s->pid);
		}
		return 1;
	}
	int e = errno;
	if (e == ESRCH)
		return 0;
	procfs_stat st;
	if (e == EPERM && procfs_read_stat(s->pid, tid, &st) == 0 &&
	    (st.state == 'Z' || st.state == 'X'))
		return 0;   /* a thread that already exited cannot be traced */
	if (e == EPERM || e == EACCES) {
		uint64_t tracer = 0;
		if (procfs_status_field(s->pid, tid, "TracerPid:", 10, &tracer) == 0 &&
		    tracer != 0)
			return mg_fail(err, MG_ERR_PERMISSION,
				       "pid %d is already traced by pid %llu (a debugger or strace?); detach it first",
				       (int)s->pid, (unsigned long long)tracer);
		return mg_fail(err, MG_ERR_PERMISSION, "cannot attach to pid %d: %s; %s",
			       (int)s->pid, strerror(e), procfs_permission_hint());
	}
	return mg_fail(err, MG_ERR_INTERNAL, "pid %d: PTRACE_SEIZE(%d): %s",
		       (int)s->pid, (int)tid, strerror(e));
}

/* One round: seize the tids not yet known, interrupt them, wait for the
 * stops.  *found is the number of new threads. */
static int attach_round(live_session *s, size_t *found, mg_error *err)
{
	pid_t *tids;
	size_t n;
	*found = 0;
	if (procfs_list_tasks(s->pid, &tids, &n) != 0) {
		if (errno == ENOENT || errno == ESRCH)
			return mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan",
				       (int)s->pid);
		return mg_fail(err, errno == EACCES ? MG_ERR_PERMISSION : MG_ERR_IO,
			       "cannot list /proc/%d/task: %s", (int)s->pid, strerror(errno));
	}
	size_t first_new = s->nthreads;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (find_thread(s, tids[i]))
			continue;
		live_thread *t = add_thread(s, tids[i]);
		if (t == NULL) {
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory attaching to pid %d",
				     (int)s->pid);
			break;
		}
		int r = seize_one(s, tids[i], err);
		if (r < 0)
			rc = -1;
		else if (r == 1)
			t->state = LT_SEIZED;
		(*found)++;
	}
	free(tids);

	/* Interrupt all new threads first, then wait: their stops overlap. */
	for (size_t i = first_new; i < s->nthreads; i++) {
		live_thread *t = &s->threads[i];
		if (t->state != LT_SEIZED)
			continue;
		if (!s->stopping) {
			clock_gettime(CLOCK_MONOTONIC, &s->t_first_stop);
			s->stopping = true;
		}
		ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL);
	}
	for (size_t i = first_new; i < s->nthreads; i++) {
		live_thread *t = &s->threads[i];
		if (t->state == LT_SEIZED && live_wait_stop(s, t, NULL, err) != 0)
			rc = -1;
	}
	return rc;
}

int live_attach_all(live_session *s, mg_error *err)
{
	for (int round = 0; round < MAX_ROUNDS; round++) {
		size_t found;
		if (attach_round(s, &found, err) != 0)
			return -1;
		if (s->exec_seen)
			return mg_fail(err, MG_ERR_VANISHED,
				       "pid %d executed a new program during the scan", (int)s->pid);
		if (found == 0)
			return 0;
	}
	return mg_fail(err, MG_ERR_UNSUPPORTED,
		       "pid %d keeps creating threads faster than they can be stopped",
		       (int)s->pid);
}

void live_detach_all(live_session *s)
{
	bool any = false;
	for (size_t i = 0; i < s->nthreads; i++)
		if (detach_thread(s, &s->threads[i]))
			any = true;
	if (any || s->stopping)
		clock_gettime(CLOCK_MONOTONIC, &s->t_last_resumed);
}
