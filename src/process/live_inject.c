/*
 * live_inject.c - reading signal handlers, which only the kernel knows.
 *
 * /proc/PID/status says which signals are caught (SigCgt) but not where
 * their handlers are.  Like CRIU's parasite or gdb's `call`, we make one
 * stopped thread execute `rt_sigaction(sig, NULL, &old, 8)`:
 *
 *   - the thread must be in our interrupt-stop (not a group-stop, not a
 *     signal-delivery-stop, not exiting) and not under seccomp (a filter
 *     could kill the process for an unexpected syscall);
 *   - scratch memory is on its own stack below the red zone, saved first
 *     and written back after;
 *   - RIP goes to a `syscall` instruction found in the vDSO (or libc),
 *     orig_rax = -1 so the kernel applies no syscall-restart fix-up to
 *     the injected state; one PTRACE_SINGLESTEP runs exactly the syscall;
 *   - the original registers are restored exactly (rax and orig_rax
 *     included), so a read() or nanosleep() the stop interrupted restarts
 *     as if nothing happened.  The single-step SIGTRAP is discarded by
 *     detaching with signal 0.
 *
 * SIGINT/SIGTERM/SIGHUP are blocked while the registers are altered: the
 * signal guard must never detach a thread in the injected state.
 */
#include "process/live_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Code we search for a `syscall` instruction, at most. */
#define GADGET_SEARCH_MAX ((size_t)4 << 20)

/* The kernel's struct sigaction for rt_sigaction on x86-64. */
struct kernel_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct injector {
	live_session *s;
	live_thread *t;
	struct user_regs_struct orig;   /* registers at the stop */
	uint64_t gadget;                /* address of 0F 05 */
	uint64_t scratch;
	uint8_t saved[sizeof(struct kernel_sigaction)];
};

/* Search the mapping m for the bytes 0F 05; 0 if none. */
static uint64_t search_syscall(live_session *s, const mg_mapping *m)
{
	size_t len = (size_t)(m->end - m->start);
	if (len > GADGET_SEARCH_MAX)
		len = GADGET_SEARCH_MAX;
	uint8_t *buf = malloc(len);
	if (buf == NULL)
		return 0;
	uint64_t found = 0;
	ssize_t n = live_mem_read(s->pid, &s->mem_fd, m->start, buf, len);
	if (n >= 2) {
		const uint8_t *hit = memmem(buf, (size_t)n, "\x0f\x05", 2);
		if (hit)
			found = m->start + (uint64_t)(hit - buf);
	}
	free(buf);
	return found;
}

/* A `syscall` instruction in executable memory of the target. */
static uint64_t find_gadget(live_session *s, const mg_image *img, uint64_t rip)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < img->nmaps; i++) {
			const mg_mapping *m = &img->maps[i];
			if (!(m->prot & MG_PROT_EXEC))
				continue;
			if ((pass == 0 && m->kind != MG_MAP_VDSO) || (pass == 1 && !mg_mapping_is_libc(m)))
				continue;
			uint64_t g = search_syscall(s, m);
			if (g)
				return g;
		}
	}
	/* Stopped right after a syscall instruction? */
	uint8_t b[2];
	const mg_mapping *m = mg_image_find_mapping(img, rip - 2);
	if (rip >= 2 && m && (m->prot & MG_PROT_EXEC) &&
	    live_mem_read(s->pid, &s->mem_fd, rip - 2, b, 2) == 2 && b[0] == 0x0f && b[1] == 0x05)
		return rip - 2;
	return 0;
}

/* Scratch below the red zone, 16-aligned, inside a writable mapping. */
static uint64_t pick_scratch(const mg_image *img, uint64_t rsp)
{
	if (rsp < MG_STACK_RED_ZONE + 64)
		return 0;
	uint64_t scratch = (rsp - MG_STACK_RED_ZONE - sizeof(struct kernel_sigaction)) & ~(uint64_t)15;
	const mg_mapping *m = mg_image_find_mapping(img, scratch);
	if (m == NULL || !(m->prot & MG_PROT_WRITE) ||
	    scratch + sizeof(struct kernel_sigaction) > m->end)
		return 0;
	return scratch;
}

static bool under_seccomp(live_session *s, pid_t tid)
{
	uint64_t mode = 0;
	/* Unknown counts as "yes": we only inject when sure it is safe. */
	if (procfs_status_field(s->pid, tid, "Seccomp:", 10, &mode) != 0)
		return errno != ENOENT;
	return mode != 0;
}

/* Choose the thread and the addresses; a reason string when impossible. */
static const char *prepare(live_session *s, const mg_image *img, struct injector *inj)
{
	const char *why = "no thread is in a plain interrupt-stop";
	for (size_t i = 0; i < s->nthreads; i++) {
		live_thread *t = &s->threads[i];
		if (t->state != LT_STOPPED || !t->interrupt_stop || t->exiting || t->detach_sig)
			continue;
		const mg_thread *th = NULL;
		for (size_t j = 0; j < img->nthreads; j++)
			if (img->threads[j].tid == t->tid)
				th = &img->threads[j];
		if (th == NULL)
			continue;
		if (under_seccomp(s, t->tid)) {
			why = "the threads run under a seccomp filter";
			continue;
		}
		uint64_t scratch = pick_scratch(img, th->regs.rsp);
		if (scratch == 0) {
			why = "no stack has room below its red zone";
			continue;
		}
		uint64_t gadget = find_gadget(s, img, th->regs.rip);
		if (gadget == 0)
			return "no syscall instruction found in the vDSO or libc";
		if (live_mem_read(s->pid, &s->mem_fd, scratch, inj->saved, sizeof(inj->saved)) !=
		    (ssize_t)sizeof(inj->saved)) {
			why = "the scratch stack bytes are unreadable";
			continue;
		}
		inj->s = s;
		inj->t = t;
		inj->orig = th->regs;
		inj->gadget = gadget;
		inj->scratch = scratch;
		return NULL;
	}
	return why;
}

/*
 * Run rt_sigaction(sig, NULL, scratch, 8) in the thread.  0 with *ksa on
 * success, 1 if the kernel refused (e.g. EINVAL), -1 if the injection
 * must stop (reason in *why).
 */
static int query_one(struct injector *inj, int sig, struct kernel_sigaction *ksa,
		     const char **why)
{
	live_thread *t = inj->t;
	struct user_regs_struct r = inj->orig;
	r.rip = inj->gadget;
	r.rax = SYS_rt_sigaction;
	r.rdi = (uint64_t)sig;
	r.rsi = 0;
	r.rdx = inj->scratch;
	r.r10 = sizeof(ksa->mask);
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &r) != 0 ||
	    ptrace(PTRACE_SINGLESTEP, t->tid, NULL, NULL) != 0) {
		*why = "ptrace refused to run the thread";
		return -1;
	}
	int status = 0;
	t->state = LT_SEIZED;
	if (live_wait_stop(inj->s, t, &status, NULL) != 0 || t->state != LT_STOPPED) {
		*why = "the thread did not come back from the single step";
		return -1;
	}
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if ((status >> 16) != 0 || WSTOPSIG(status) != SIGTRAP ||
	    ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) != 0 || si.si_code <= 0) {
		/* A real signal (kept in detach_sig for re-delivery) or a
		 * job-control stop came first. */
		*why = "a signal arrived during the injection";
		return -1;
	}
	t->detach_sig = 0;   /* our single-step trap: never delivered */
	if (ptrace(PTRACE_GETREGS, t->tid, NULL, &r) != 0 || r.rip != inj->gadget + 2) {
		*why = "the injected syscall did not run as expected";
		return -1;
	}
	if ((int64_t)r.rax < 0)
		return 1;
	if (live_mem_read(inj->s->pid, &inj->s->mem_fd, inj->scratch, ksa, sizeof(*ksa)) !=
	    (ssize_t)sizeof(*ksa)) {
		*why = "the result could not be read back";
		return -1;
	}
	return 0;
}

/* Put back registers and scratch bytes; -1 if the thread could not be
 * restored (it is still stopped, so nothing ran with the wrong state
 * unless the process was killed). */
static int restore(struct injector *inj)
{
	live_thread *t = inj->t;
	if (t->state != LT_STOPPED)
		return t->state == LT_GONE ? 0 : -1;
	int rc = 0;
	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &inj->orig) != 0)
		rc = -1;
	if (live_mem_write(inj->s->pid, inj->scratch, inj->saved,
			   sizeof(inj->saved)) != 0)
		rc = -1;
	return rc;
}

static void record(mg_image *img, int sig, const struct kernel_sigaction *ksa)
{
	if (ksa->handler <= 1)   /* SIG_DFL, SIG_IGN: changed since SigCgt */
		return;
	mg_sigaction *sa = &img->sigactions[img->nsigactions++];
	sa->signo = sig;
	sa->handler = ksa->handler;
	sa->flags = ksa->flags;
	sa->restorer = ksa->restorer;
}

int live_read_sigactions(live_session *s, mg_image *img, uint64_t caught,
			 mg_error *err)
{
	img->nsigactions = 0;
	img->sigactions_known = false;
	if (caught == 0) {
		img->sigactions_known = true;
		return 0;
	}
	struct injector inj;
	memset(&inj, 0, sizeof(inj));
	const char *why = prepare(s, img, &inj);
	if (why) {
		mg_image_warn(img, "signal handlers not read: %s; every caught signal's handler is unknown",
			      why);
		return 0;
	}

	sigset_t guard, old;
	sigemptyset(&guard);
	sigaddset(&guard, SIGINT);
	sigaddset(&guard, SIGTERM);
	sigaddset(&guard, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &guard, &old);

	int rc = 0;
	bool complete = true;
	for (int sig = 1; sig <= 64 && complete; sig++) {
		if (!(caught & (1ull << (sig - 1))) || sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct kernel_sigaction ksa;
		int r = query_one(&inj, sig, &ksa, &why);
		if (r < 0)
			complete = false;
		else if (r == 0)
			record(img, sig, &ksa);
		else {
			why = "rt_sigaction failed in the target";
			complete = false;
		}
	}
	if (restore(&inj) != 0)
		rc = mg_fail(err, MG_ERR_INTERNAL,
			     "pid %d: could not restore thread %d after reading signal handlers",
			     (int)s->pid, (int)inj.t->tid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (complete) {
		img->sigactions_known = true;
	} else {
		img->nsigactions = 0;
		mg_image_warn(img, "signal handlers not read: %s; every caught signal's handler is unknown",
			      why);
	}
	return rc;
}
