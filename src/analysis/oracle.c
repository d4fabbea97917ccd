/*
 * oracle.c - one-shot int3 breakpoints on every unit of a code map.
 *
 *   seize + interrupt every thread --> plant 0xCC at each unit start
 *   --> resume; on our SIGTRAP: restore byte, rip -= 1, note unit, resume
 *   --> at the end: interrupt all, drain pending traps, restore, detach
 *
 * Tasks that share the target's memory (threads, vfork children) are
 * handled alike.  A fork child gets a copy of the int3 bytes: it is
 * restored in its own memory and released at its first stop.  Signals
 * that are not ours are re-injected unchanged.
 */
#include "analysis/oracle.h"

#include <Zydis/Zydis.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/engine.h"
#include "features/isa_map.h"
#include "features/profile.h"

#define PAGE 4096u
#define INT3 0xCC
#define TEARDOWN_LIMIT_MS 5000.0
#define PTRACE_OPTS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
		     PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)

typedef struct bp {
	uint64_t addr;
	uint32_t unit;
	uint8_t orig;
	bool armed;              /* 0xCC is (believed to be) in memory */
	bool planted;            /* was armed at some time: a fork child's copy
				  * may still hold it after the parent's hit */
} bp;


typedef enum task_kind { K_THREAD, K_VFORK, K_FORK, K_UNKNOWN } task_kind;
typedef enum task_state { T_RUNNING, T_STOPPED, T_EXPECTED, T_GONE } task_state;

typedef struct task {
	pid_t tid;
	task_kind kind;
	task_state state;
	int pending_sig;         /* to deliver when resumed or detached */
	bool group_stop;
} task;

typedef struct oracle {
	pid_t pid;
	const mg_codemap *map;
	const mg_oracle_options *opt;
	mg_oracle_result *res;
	mg_feature_set host;
	int mem_fd;
	bp *bps;                 /* sorted by addr */
	size_t nbps;
	GHashTable *tasks;       /* tid -> task* */
	GArray *hits;
	GPtrArray *warnings;
	ZydisDecoder decoder;
	mg_exec_options exec;    /* how executed units are counted */
	double t0;
	bool holding;            /* teardown: keep stopped tasks stopped */
	bool target_gone;
} oracle;

/* Is b's byte to be restored in pid?  In the target: if still armed.  In a
 * fork child: if ever planted, since the child copied the memory while
 * it was armed and the parent's later hits did not reach the copy. */
static bool to_restore(const oracle *o, const bp *b, pid_t pid)
{
	return pid == o->pid ? b->armed : b->planted;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_tick(int sig)
{
	(void)sig;   /* only interrupts waitpid */
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void warn(oracle *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(oracle *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(o->warnings, s);
}

/* --- breakpoint table -------------------------------------------------------- */

static bp *bp_find(oracle *o, uint64_t addr)
{
	size_t lo = 0, hi = o->nbps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->bps[mid].addr == addr)
			return &o->bps[mid];
		if (o->bps[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A gap unit may start in the middle of an instruction when the symbol
 * before it understates its size: an int3 there would silently change an
 * operand.  Plant only where a linear sweep of the preceding unit ends
 * exactly at the gap. */
static bool gap_start_is_boundary(oracle *o, mg_image *img, uint32_t ui)
{
	const mg_unit *u = &o->map->units[ui];
	if (ui == 0)
		return false;
	const mg_unit *p = &o->map->units[ui - 1];
	if (p->end != u->start || p->module != u->module || p->func == NULL)
		return false;
	size_t len = (size_t)(p->end - p->start);
	if (len > (1u << 20))
		return false;
	uint8_t *buf = malloc(len);
	if (buf == NULL || mg_image_read(img, p->start, buf, len) != (ssize_t)len) {
		free(buf);
		return false;
	}
	size_t off = 0;
	ZydisDecodedInstruction insn;
	ZydisDecoderContext dctx;
	while (off < len) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&o->decoder, &dctx,
								buf + off, len - off,
								&insn))) {
			off++;
			continue;
		}
		off += insn.length;
	}
	free(buf);
	return off == len;
}

static int build_bps(oracle *o, mg_image *img, mg_error *err)
{
	o->bps = calloc(o->map->nunits ? o->map->nunits : 1, sizeof(*o->bps));
	if (o->bps == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (breakpoints)");
	for (uint32_t i = 0; i < o->map->nunits; i++) {
		const mg_unit *u = &o->map->units[i];
		if (u->kind == MG_UNIT_VDSO || u->kind == MG_UNIT_OPAQUE) {
			o->res->stats.skipped_other++;
			continue;
		}
		if (u->kind == MG_UNIT_FUNCTION && u->func == NULL &&
		    !gap_start_is_boundary(o, img, i)) {
			o->res->stats.skipped_boundary++;
			continue;
		}
		o->bps[o->nbps].addr = u->start;
		o->bps[o->nbps].unit = i;
		o->nbps++;
	}
	return 0;
}

/* --- writing target memory ---------------------------------------------------- */

/* Write one byte of the target: through /proc/PID/mem, or in word mode
 * with PEEK/POKEDATA via `tid`, which must be a stopped tracee sharing
 * the target's memory. */
static int poke_byte(oracle *o, int fd, pid_t tid, uint64_t addr, uint8_t v)
{
	if (o->opt->poke == MG_POKE_WORD && fd == o->mem_fd && tid > 0) {
		uint64_t w = addr & ~7ull;
		errno = 0;
		long word = ptrace(PTRACE_PEEKDATA, tid, (void *)w, NULL);
		if (errno == 0) {
			((uint8_t *)&word)[addr - w] = v;
			if (ptrace(PTRACE_POKEDATA, tid, (void *)w, (void *)word) == 0)
				return 0;
		}
		/* fall back to the memory file: a byte must never stay half-done */
	}
	return pwrite(fd, &v, 1, (off_t)addr) == 1 ? 0 : -1;
}

/* A stopped tracee sharing the target's memory (for PEEK/POKEDATA), or 0. */
static pid_t stopped_tid(oracle *o)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->tasks);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const task *t = v;
		if (t->state == T_STOPPED && t->kind == K_THREAD)
			return t->tid;
	}
	return 0;
}

/*
 * Set (plant) or restore the bytes of bps[first..last) which share one
 * page: one read and one write of the touched span per page, or one
 * PEEK/POKE per touched word in word mode.  Planting records the original
 * bytes; restoring writes a byte back only where it still reads 0xCC (a
 * JIT may have rewritten its code meanwhile).
 */
static void write_page(oracle *o, int fd, pid_t pid, size_t first, size_t last,
		       bool plant)
{
	uint64_t page = o->bps[first].addr & ~(uint64_t)(PAGE - 1);
	uint8_t buf[PAGE];
	ssize_t got = pread(fd, buf, PAGE, (off_t)page);
	if (got != (ssize_t)PAGE) {
		if (plant)
			o->res->stats.skipped_other += last - first;
		return;
	}
	size_t lo = PAGE, hi = 0, changed = 0;
	pid_t word_tid = o->opt->poke == MG_POKE_WORD && pid == o->pid ? stopped_tid(o) : 0;
	for (size_t i = first; i < last; i++) {
		bp *b = &o->bps[i];
		size_t off = (size_t)(b->addr - page);
		if (plant) {
			if (buf[off] == INT3) {   /* the program's own int3 */
				o->res->stats.skipped_other++;
				continue;
			}
			b->orig = buf[off];
			buf[off] = INT3;
		} else {
			if (!to_restore(o, b, pid))
				continue;
			if (buf[off] != INT3) {
				if (pid == o->pid)
					warn(o, "breakpoint at 0x%" PRIx64 " was overwritten "
					     "by the process (JIT?); left as is", b->addr);
				continue;
			}
			buf[off] = b->orig;
			if (pid == o->pid)
				o->res->stats.left_planted++;
		}
		if (off < lo)
			lo = off;
		if (off + 1 > hi)
			hi = off + 1;
		changed++;
		if (o->opt->poke == MG_POKE_WORD && pid == o->pid) {
			if (poke_byte(o, fd, word_tid, b->addr, buf[off]) == 0) {
				b->armed = plant;
				b->planted |= plant;
				o->res->stats.write_calls++;
			}
		}
	}
	if (changed == 0 || (o->opt->poke == MG_POKE_WORD && pid == o->pid))
		goto out;
	if (pwrite(fd, buf + lo, hi - lo, (off_t)(page + lo)) != (ssize_t)(hi - lo)) {
		if (pid == o->pid)
			warn(o, "cannot write page 0x%" PRIx64 " of pid %d: %s",
			     page, (int)pid, strerror(errno));
		return;
	}
	o->res->stats.write_calls++;
	if (pid != o->pid)
		return;
	for (size_t i = first; i < last; i++) {
		size_t off = (size_t)(o->bps[i].addr - page);
		if (plant && buf[off] == INT3 && o->bps[i].orig != INT3)
			o->bps[i].armed = o->bps[i].planted = true;
		else if (!plant)
			o->bps[i].armed = false;
	}
out:
	if (pid == o->pid)
		o->res->stats.pages_written++;
}

static void write_all(oracle *o, int fd, pid_t pid, bool plant)
{
	size_t i = 0;
	while (i < o->nbps) {
		uint64_t page = o->bps[i].addr & ~(uint64_t)(PAGE - 1);
		size_t j = i + 1;
		while (j < o->nbps && (o->bps[j].addr & ~(uint64_t)(PAGE - 1)) == page)
			j++;
		bool any = plant;
		for (size_t k = i; k < j && !any; k++)
			any = to_restore(o, &o->bps[k], pid);
		if (any)
			write_page(o, fd, pid, i, j, plant);
		i = j;
	}
}

/* --- tasks ------------------------------------------------------------------- */

static task *task_get(oracle *o, pid_t tid)
{
	return g_hash_table_lookup(o->tasks, GINT_TO_POINTER(tid));
}

static task *task_add(oracle *o, pid_t tid, task_kind kind, task_state st)
{
	task *t = g_new0(task, 1);
	t->tid = tid;
	t->kind = kind;
	t->state = st;
	g_hash_table_replace(o->tasks, GINT_TO_POINTER(tid), t);
	if (kind == K_THREAD)
		o->res->stats.threads++;
	return t;
}

static void resume(oracle *o, task *t)
{
	if (o->holding) {
		t->state = T_STOPPED;
		return;
	}
	int sig = t->pending_sig;
	t->pending_sig = 0;
	long rc = t->group_stop ? ptrace(PTRACE_LISTEN, t->tid, NULL, NULL)
				: ptrace(PTRACE_CONT, t->tid, NULL, (void *)(long)sig);
	t->state = rc == 0 ? T_RUNNING : T_GONE;
}

static void detach(oracle *o, task *t)
{
	(void)o;
	if (t->state == T_GONE)
		return;
	ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)t->pending_sig);
	t->state = T_GONE;
}

/* A fork child holds a private copy of our int3 bytes: put the original
 * bytes back in its memory, then let it go. */
static void release_fork_child(oracle *o, task *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)t->tid);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		write_all(o, fd, t->tid, false);
		close(fd);
	} else {
		warn(o, "fork child %d: cannot open its memory (%s); it may die "
		     "of SIGTRAP", (int)t->tid, strerror(errno));
	}
	o->res->stats.forks_cleaned++;
	t->pending_sig = 0;
	detach(o, t);
}

/* --- executed units ------------------------------------------------------------ */

static void note_unit_features(oracle *o, uint32_t ui)
{
	const mg_unit *u = &o->map->units[ui];
	size_t len = (size_t)(u->end - u->start);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL || pread(o->mem_fd, buf, len, (off_t)u->start) != (ssize_t)len) {
		warn(o, "executed code at 0x%" PRIx64 " unreadable: its features are "
		     "unknown", u->start);
		free(buf);
		return;
	}
	/* Breakpoints sit only on unit starts: this unit's own one has just
	 * been restored, so these are the original bytes. */
	mg_exec_features f;
	mg_exec_unit_features(&o->decoder, o->map, ui, buf, len, &o->exec, &f);
	free(buf);
	mg_fset_union(&o->res->seen, &f.seen);
	mg_fset_union(&o->res->required, &f.required);
	mg_fset_union(&o->res->assumed_required, &f.assumed);
	o->res->unknown_isa_sites += f.unknown_isa_sites;
	o->res->as_bsf_sites += f.as_bsf_sites;
	o->res->as_bsf_units += f.as_bsf_sites > 0;
}

/* SIGTRAP stop of a task sharing our memory: ours if it came from an int3
 * (SI_KERNEL) at a planted address.  Returns true if handled. */
static bool handle_trap(oracle *o, task *t)
{
	siginfo_t si;
	struct user_regs_struct regs;
	if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) != 0 || si.si_code != SI_KERNEL ||
	    ptrace(PTRACE_GETREGS, t->tid, NULL, &regs) != 0)
		return false;
	bp *b = bp_find(o, regs.rip - 1);
	if (b == NULL || (!b->armed && !o->res->executed[b->unit]))
		return false;
	if (b->armed) {
		if (poke_byte(o, o->mem_fd, t->tid, b->addr, b->orig) != 0)
			warn(o, "cannot restore 0x%" PRIx64 ": %s", b->addr, strerror(errno));
		b->armed = false;
	}
	regs.rip -= 1;
	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &regs) != 0)
		warn(o, "thread %d: cannot rewind rip: %s", (int)t->tid, strerror(errno));
	o->res->stats.traps++;
	if (!o->res->executed[b->unit]) {
		o->res->executed[b->unit] = 1;
		mg_oracle_hit h = { b->unit, t->tid, 0, now_ms() - o->t0 };
		errno = 0;
		long ret = ptrace(PTRACE_PEEKDATA, t->tid, (void *)regs.rsp, NULL);
		if (errno == 0)
			h.return_address = (uint64_t)ret;
		g_array_append_val(o->hits, h);
		note_unit_features(o, b->unit);
	}
	return true;
}

static void handle_new_child(oracle *o, task *parent, int event)
{
	unsigned long msg = 0;
	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, NULL, &msg) != 0)
		return;
	pid_t child = (pid_t)msg;
	task_kind kind = event == PTRACE_EVENT_CLONE ? K_THREAD :
			 event == PTRACE_EVENT_VFORK ? K_VFORK : K_FORK;
	task *c = task_get(o, child);
	if (c == NULL) {
		task_add(o, child, kind, T_EXPECTED);
		if (kind == K_THREAD)
			o->res->stats.new_threads++;
		return;
	}
	/* Its first stop came before our event: it waits, held. */
	c->kind = kind;
	if (kind == K_THREAD) {
		o->res->stats.threads++;
		o->res->stats.new_threads++;
	}
	if (kind == K_FORK)
		release_fork_child(o, c);
	else
		resume(o, c);
}

static void handle_status(oracle *o, pid_t tid, int status)
{
	task *t = task_get(o, tid);
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t != NULL)
			t->state = T_GONE;
		if (tid == o->pid) {
			o->res->target_exited = true;
			o->target_gone = true;
		}
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (t == NULL)   /* a child whose parent's event we have not seen yet */
		t = task_add(o, tid, K_UNKNOWN, T_STOPPED);
	t->state = T_STOPPED;
	int sig = WSTOPSIG(status), event = status >> 16;

	if (t->kind == K_UNKNOWN)
		return;        /* held until the parent's event classifies it */
	if (t->kind == K_FORK) {
		release_fork_child(o, t);
		return;
	}
	switch (event) {
	case PTRACE_EVENT_STOP:
		t->group_stop = sig == SIGSTOP || sig == SIGTSTP ||
				sig == SIGTTIN || sig == SIGTTOU;
		resume(o, t);
		return;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		handle_new_child(o, t, event);
		resume(o, t);
		return;
	case PTRACE_EVENT_EXEC:
		if (t->kind == K_VFORK) {   /* left our memory behind */
			t->pending_sig = 0;
			detach(o, t);
			return;
		}
		/* The target itself exec'd: its memory, our bytes included,
		 * are gone. */
		o->res->target_execed = true;
		o->target_gone = true;
		for (size_t i = 0; i < o->nbps; i++)
			o->bps[i].armed = false;
		resume(o, t);
		return;
	case 0:
		break;
	default:
		resume(o, t);
		return;
	}
	t->group_stop = false;
	if (sig == SIGTRAP && handle_trap(o, t)) {
		resume(o, t);
		return;
	}
	o->res->stats.foreign_signals++;
	t->pending_sig = sig;
	resume(o, t);
}

/* --- attach, run, teardown ------------------------------------------------------ */

static bool all_stopped(oracle *o)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->tasks);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		task *t = v;
		if (t->state == T_RUNNING || t->state == T_EXPECTED)
			return false;
		if (t->state == T_STOPPED && t->kind == K_UNKNOWN)
			return false;   /* its parent's event is still to come */
	}
	return true;
}

/* Wait until every task is stopped (holding mode), bounded in time. */
static void wait_all_stopped(oracle *o, double limit_ms)
{
	double end = now_ms() + limit_ms;
	while (!all_stopped(o) && now_ms() < end) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break;   /* ECHILD: nothing left */
		}
		handle_status(o, tid, status);
	}
}

static int list_tasks(pid_t pid, GArray *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	GDir *d = g_dir_open(path, 0, NULL);
	if (d == NULL)
		return -1;
	const char *name;
	while ((name = g_dir_read_name(d)) != NULL) {
		pid_t tid = (pid_t)atoi(name);
		if (tid > 0)
			g_array_append_val(out, tid);
	}
	g_dir_close(d);
	return 0;
}

static int attach_all(oracle *o, mg_error *err)
{
	o->holding = true;
	for (int round = 0; round < 100; round++) {
		GArray *tids = g_array_new(FALSE, FALSE, sizeof(pid_t));
		if (list_tasks(o->pid, tids) != 0) {
			g_array_free(tids, TRUE);
			return mg_fail(err, MG_ERR_NO_PROCESS, "pid %d: no such process",
				       (int)o->pid);
		}
		size_t added = 0;
		for (guint i = 0; i < tids->len; i++) {
			pid_t tid = g_array_index(tids, pid_t, i);
			if (task_get(o, tid) != NULL)
				continue;
			if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)PTRACE_OPTS) != 0) {
				if (errno == ESRCH)
					continue;
				int e = errno;
				g_array_free(tids, TRUE);
				return mg_fail(err, e == EPERM ? MG_ERR_PERMISSION : MG_ERR_INTERNAL,
					       "pid %d: cannot trace thread %d: %s",
					       (int)o->pid, (int)tid, strerror(e));
			}
			task_add(o, tid, K_THREAD, T_RUNNING);
			ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
			added++;
		}
		g_array_free(tids, TRUE);
		wait_all_stopped(o, TEARDOWN_LIMIT_MS);
		if (added == 0)
			return all_stopped(o) ? 0 :
				mg_fail(err, MG_ERR_INTERNAL, "pid %d: threads did not stop",
					(int)o->pid);
	}
	return mg_fail(err, MG_ERR_INTERNAL, "pid %d: threads keep appearing", (int)o->pid);
}

static void resume_all(oracle *o)
{
	o->holding = false;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->tasks);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		task *t = v;
		if (t->state == T_STOPPED && t->kind != K_UNKNOWN)
			resume(o, t);
	}
}

static bool sigtrap_pending(pid_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)tid, (int)tid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return false;
	char line[256];
	bool pending = false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;
		if (sscanf(line, "SigPnd: %llx", &mask) == 1 ||
		    sscanf(line, "ShdPnd: %llx", &mask) == 1)
			pending |= (mask >> (SIGTRAP - 1)) & 1;
	}
	fclose(f);
	return pending;
}

/*
 * A thread stopped by our interrupt may have executed one of our int3s
 * and not yet taken the SIGTRAP (the interrupt is reported first).
 * Detaching would deliver it untraced and kill the process: let it take
 * the trap now, under our eye.
 */
static void drain_pending_traps(oracle *o)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->tasks);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		task *t = v;
		struct user_regs_struct regs;
		if (t->state != T_STOPPED || t->kind == K_FORK || t->kind == K_UNKNOWN ||
		    ptrace(PTRACE_GETREGS, t->tid, NULL, &regs) != 0)
			continue;
		bp *b = bp_find(o, regs.rip - 1);
		if (b == NULL || (!b->armed && !o->res->executed[b->unit]) ||
		    !sigtrap_pending(t->tid))
			continue;
		if (ptrace(PTRACE_CONT, t->tid, NULL, NULL) != 0)
			continue;
		t->state = T_RUNNING;
		for (int tries = 0; tries < 8 && t->state != T_STOPPED &&
		     t->state != T_GONE; tries++) {
			int status;
			pid_t tid = waitpid(t->tid, &status, __WALL);
			if (tid < 0 && errno == EINTR)
				continue;
			if (tid < 0)
				break;
			handle_status(o, tid, status);
		}
	}
}

static void teardown(oracle *o)
{
	double t = now_ms();
	o->holding = true;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->tasks);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		task *tk = v;
		if (tk->state == T_RUNNING)
			ptrace(PTRACE_INTERRUPT, tk->tid, NULL, NULL);
	}
	wait_all_stopped(o, TEARDOWN_LIMIT_MS);
	if (!all_stopped(o))
		warn(o, "some threads did not stop within %.0f ms; restoring anyway",
		     TEARDOWN_LIMIT_MS);
	drain_pending_traps(o);
	/* Only armed bytes are written (none after an exec); writes to an
	 * exited target fail harmlessly. */
	write_all(o, o->mem_fd, o->pid, false);
	g_hash_table_iter_init(&it, o->tasks);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		task *tk = v;
		if (tk->kind == K_UNKNOWN)
			tk->pending_sig = 0;
		detach(o, tk);
	}
	o->res->stats.restore_ms = now_ms() - t;
}

static void run_window(oracle *o)
{
	double deadline = o->t0 + o->opt->seconds * 1e3;
	while (!o->target_gone) {
		if (stop_requested || (o->opt->stop && *o->opt->stop)) {
			o->res->interrupted = true;
			break;
		}
		if (now_ms() >= deadline)
			break;
		int status;
		pid_t tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			o->target_gone = true;   /* ECHILD: no tracee left */
			break;
		}
		handle_status(o, tid, status);
	}
	o->res->stats.window_ms = now_ms() - o->t0;
}

/* --- signal and timer plumbing for the window ---------------------------------------- */

typedef struct saved_signals {
	struct sigaction old[4];
	struct itimerval old_timer;
} saved_signals;

static const int guarded[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };

static void install_signals(saved_signals *s)
{
	stop_requested = 0;
	for (size_t i = 0; i < 4; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = guarded[i] == SIGALRM ? on_tick : on_stop_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;     /* no SA_RESTART: waitpid must see EINTR */
		sigaction(guarded[i], &sa, &s->old[i]);
	}
	/* A periodic tick bounds how late the deadline or a stop request is
	 * noticed while waitpid blocks. */
	struct itimerval tv = { { 0, 20000 }, { 0, 20000 } };
	setitimer(ITIMER_REAL, &tv, &s->old_timer);
}

static void restore_signals(saved_signals *s)
{
	setitimer(ITIMER_REAL, &s->old_timer, NULL);
	for (size_t i = 0; i < 4; i++)
		sigaction(guarded[i], &s->old[i], NULL);
}

/* --- public ----------------------------------------------------------------------- */

static void finish(oracle *o)
{
	mg_oracle_result *r = o->res;
	r->nhits = o->hits->len;
	r->hits = (mg_oracle_hit *)(void *)g_array_free(o->hits, FALSE);
	o->hits = NULL;
	r->nwarnings = o->warnings->len;
	g_ptr_array_add(o->warnings, NULL);
	char **w = (char **)g_ptr_array_free(o->warnings, FALSE);
	o->warnings = NULL;
	r->warnings = calloc(r->nwarnings + 1, sizeof(char *));
	for (size_t i = 0; i < r->nwarnings; i++) {
		if (r->warnings)
			r->warnings[i] = strdup(w[i]);
		g_free(w[i]);
	}
	g_free(w);
	if (r->warnings == NULL)
		r->nwarnings = 0;
}

static void oracle_free(oracle *o)
{
	if (o->mem_fd >= 0)
		close(o->mem_fd);
	free(o->bps);
	if (o->tasks)
		g_hash_table_destroy(o->tasks);
	if (o->hits)
		g_array_free(o->hits, TRUE);
	if (o->warnings)
		g_ptr_array_free(o->warnings, TRUE);
}

static int oracle_init(oracle *o, pid_t pid, const mg_codemap *map,
		       const mg_oracle_options *opt, mg_error *err)
{
	memset(o, 0, sizeof(*o));
	o->pid = pid;
	o->map = map;
	o->opt = opt;
	o->mem_fd = -1;
	o->tasks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	o->hits = g_array_new(FALSE, FALSE, sizeof(mg_oracle_hit));
	o->warnings = g_ptr_array_new_with_free_func(g_free);
	if (!(opt->seconds > 0))
		return mg_fail(err, MG_ERR_USAGE, "observation window must be > 0 s");
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&o->decoder, ZYDIS_MACHINE_MODE_LONG_64,
					   ZYDIS_STACK_WIDTH_64)))
		return mg_fail(err, MG_ERR_INTERNAL, "cannot initialise Zydis");
	if (opt->host_features) {
		o->host = *opt->host_features;
	} else {
		mg_profile host;
		mg_profile_init(&host);
		if (mg_host_profile(&host, "host", err) != 0)
			return -1;
		o->host = host.features;
		mg_profile_free(&host);
	}
	o->exec.host = &o->host;
	o->exec.tzcnt_as_bsf = opt->tzcnt_as_bsf;
	if (opt->tzcnt_as_bsf && !mg_x86_64_level_features(2, &o->exec.baseline))
		return mg_fail(err, MG_ERR_INTERNAL, "no x86-64-v2 feature set");
	o->res = calloc(1, sizeof(*o->res));
	if (o->res == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (oracle)");
	o->res->pid = pid;
	o->res->nunits = map->nunits;
	o->res->executed = calloc(map->nunits ? map->nunits : 1, 1);
	o->res->stats.units = map->nunits;
	if (o->res->executed == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (oracle)");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	o->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (o->mem_fd < 0)
		return mg_fail(err, errno == ENOENT ? MG_ERR_NO_PROCESS : MG_ERR_PERMISSION,
			       "%s: %s", path, strerror(errno));
	return 0;
}

int mg_oracle_observe(pid_t pid, mg_image *img, const mg_codemap *map,
		      const mg_oracle_options *opt, mg_oracle_result **out,
		      mg_error *err)
{
	oracle o;
	*out = NULL;
	if (oracle_init(&o, pid, map, opt, err) != 0 || build_bps(&o, img, err) != 0) {
		mg_oracle_result_free(o.res);
		oracle_free(&o);
		return -1;
	}
	saved_signals saved;
	install_signals(&saved);
	if (attach_all(&o, err) != 0) {
		teardown(&o);    /* detaches whatever was seized; nothing planted */
		restore_signals(&saved);
		mg_oracle_result_free(o.res);
		oracle_free(&o);
		return -1;
	}
	double t = now_ms();
	write_all(&o, o.mem_fd, o.pid, true);
	for (size_t i = 0; i < o.nbps; i++)
		o.res->stats.planted += o.bps[i].armed;
	o.res->stats.plant_ms = now_ms() - t;
	if (opt->window_open)
		opt->window_open(opt->window_arg, &o.res->stats);
	o.t0 = now_ms();
	resume_all(&o);
	run_window(&o);
	teardown(&o);
	restore_signals(&saved);
	finish(&o);
	*out = o.res;
	oracle_free(&o);
	return 0;
}

void mg_oracle_result_free(mg_oracle_result *r)
{
	if (r == NULL)
		return;
	free(r->executed);
	g_free(r->hits);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r);
}

const char *mg_oracle_unit_module(const mg_codemap *map, uint32_t unit)
{
	const mg_unit *u = &map->units[unit];
	if (u->module == MG_NO_MODULE || u->module >= map->nmodules)
		return u->kind == MG_UNIT_VDSO ? "[vdso]" : "[anon]";
	return map->modules[u->module].name;
}

/* How could the scan have missed this unit?  What we can tell from the
 * unit's origin and the caller seen at run time. */
static char *explain_miss(const mg_oracle_hit *h, const mg_scan_result *scan,
			  const mg_codemap *map)
{
	const mg_unit *u = &map->units[h->unit];
	const char *origin = u->kind == MG_UNIT_JIT ? "JIT mapping" :
		u->func == NULL ? "gap (no symbol/FDE)" :
		u->func->origin == MG_FUNC_PLT ? "PLT entry" :
		u->func->origin == MG_FUNC_FDE ? "FDE-only function" :
		u->func->is_ifunc_resolver ? "IFUNC resolver" :
		u->func->exported ? "exported function" : "local function";
	uint32_t cu = h->return_address ? mg_codemap_find(map, h->return_address) : MG_NO_UNIT;
	if (cu == MG_NO_UNIT)
		return g_strdup_printf("%s; entered by thread %d, return address 0x%" PRIx64
				       " is not code (callback from the kernel, signal "
				       "or a jump)", origin, (int)h->tid, h->return_address);
	char name[160];
	mg_unit_name(map, cu, name, sizeof(name));
	bool caller_reachable = cu < scan->nunits && scan->unit_reachable[cu];
	return g_strdup_printf("%s; entered by thread %d with return address in %s+0x%" PRIx64
			       " (%s, caller %s by the scan): an indirect call or "
			       "tail jump the scan did not resolve",
			       origin, (int)h->tid, name,
			       h->return_address - map->units[cu].start,
			       mg_oracle_unit_module(map, cu),
			       caller_reachable ? "reachable" : "NOT reachable");
}

int mg_oracle_check(const mg_oracle_result *o, const mg_scan_result *scan,
		    const mg_codemap *map, mg_soundness *out, mg_error *err)
{
	memset(out, 0, sizeof(*out));
	if (scan->unit_reachable == NULL || scan->nunits != map->nunits ||
	    o->nunits != map->nunits)
		return mg_fail(err, MG_ERR_INTERNAL, "oracle and scan used different code "
			       "maps (%zu, %zu and %zu units)", o->nunits, scan->nunits,
			       map->nunits);
	out->misses = calloc(o->nhits ? o->nhits : 1, sizeof(*out->misses));
	if (out->misses == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (misses)");
	for (size_t i = 0; i < o->nhits; i++) {
		const mg_oracle_hit *h = &o->hits[i];
		out->executed++;
		if (scan->unit_reachable[h->unit]) {
			out->executed_reachable++;
			continue;
		}
		mg_oracle_miss *m = &out->misses[out->nmisses++];
		char name[256];
		mg_unit_name(map, h->unit, name, sizeof(name));
		m->unit = h->unit;
		m->module = strdup(mg_oracle_unit_module(map, h->unit));
		m->name = strdup(name);
		m->address = map->units[h->unit].start;
		/* GLib >= 2.46 allocates with malloc: free() releases it */
		m->why = explain_miss(h, scan, map);
		if (m->module == NULL || m->name == NULL)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	out->feature_misses = o->required;
	mg_fset_subtract(&out->feature_misses, &scan->required);
	return 0;
}

void mg_soundness_free(mg_soundness *s)
{
	for (size_t i = 0; i < s->nmisses; i++) {
		free(s->misses[i].module);
		free(s->misses[i].name);
		free(s->misses[i].why);
	}
	free(s->misses);
	memset(s, 0, sizeof(*s));
}
