/*
 * live_priv.h - internals of the live-process source (live*.c, procfs.c),
 * shared between its pieces and nowhere else (but the unit tests of its
 * pure parsers).
 *
 *   procfs.c        bounded reads and parsers for /proc/PID files
 *   live_maps.c     /proc/PID/maps text -> mg_mapping[] (public: image.h)
 *   live_attach.c   seize/interrupt/wait/detach, the attached-tid registry
 *                   and the signal guard
 *   live_capture.c  registers, XSAVE state, stacks, pointer guard
 *   live_inject.c   rt_sigaction queries injected into a stopped thread
 *   live_mem.c      memory reads and mapped-file access (img->ops)
 *   live.c          mg_live_open(): validation and the sequence above
 */
#ifndef MG_PROCESS_LIVE_PRIV_H
#define MG_PROCESS_LIVE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include <time.h>

#include "process/image.h"
#include "util/error.h"

/* --- procfs.c ---------------------------------------------------------------- */

/*
 * Read a whole file (sizes of /proc files are unknown in advance) into a
 * NUL-terminated malloc'd buffer of at most max bytes.  Returns 0, or -1
 * with errno set (EFBIG when the file is larger than max).
 */
int procfs_read(const char *path, size_t max, char **out, size_t *len);

typedef struct procfs_stat {
	char state;                 /* 'R', 'S', 'D', 'Z', 't', ... */
	unsigned long flags;        /* PF_* (field 9) */
	unsigned long long start_ticks;  /* start after boot, clock ticks (field 22) */
} procfs_stat;

#define PROCFS_PF_KTHREAD 0x00200000ul

/* Parse /proc/PID/stat, or /proc/PID/task/TID/stat when tid > 0.
 * Returns -1 with errno set (EINVAL if malformed). */
int procfs_read_stat(pid_t pid, pid_t tid, procfs_stat *st);

/* Value of a "Key:\t<number>" line of /proc/PID/status (or the task's when
 * tid > 0) in the given base (10 or 16).  -1 with errno (ENOENT: no such
 * key). */
int procfs_status_field(pid_t pid, pid_t tid, const char *key, int base,
			uint64_t *out);

/* Whether the process runs with a CET shadow stack: 1 yes, 0 no (also
 * when the kernel cannot give one), -1 if /proc/PID/status is unreadable. */
int procfs_shadow_stack(pid_t pid);

/* The parser behind it, on the text of a status file (len bytes, need
 * not be NUL-terminated): 1 if the "x86_Thread_features:" line has the
 * token "shstk", else 0 (also for malformed or truncated text). */
int procfs_parse_shadow_stack(const char *text, size_t len);

/* Thread ids in /proc/PID/task, ascending, as a malloc'd array.  -1 with
 * errno set. */
int procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n);

/*
 * The PIDs of text (len bytes, need not be NUL-terminated): decimal
 * numbers separated by spaces or newlines, as /proc/PID/task/TID/children
 * holds them.  At most max into out; -1 with EINVAL on anything else
 * (a non-digit, 0, a number above INT32_MAX, more than max).
 */
int procfs_parse_pids(const char *text, size_t len, pid_t *out, size_t max, size_t *n);

/* The children thread tid of pid has forked (/proc/PID/task/TID/children,
 * CONFIG_PROC_CHILDREN), at most max.  -1 with errno. */
int procfs_children(pid_t pid, pid_t tid, pid_t *out, size_t max, size_t *n);

/* AT_ENTRY and AT_SYSINFO_EHDR from /proc/PID/auxv (0 when absent; see
 * mg_auxv_parse()).  -1 with errno set if the file is unreadable. */
int procfs_read_auxv(pid_t pid, uint64_t *at_entry, uint64_t *at_sysinfo_ehdr);

/* A hint for MG_ERR_PERMISSION messages that reflects Yama's
 * ptrace_scope when present; static string. */
const char *procfs_permission_hint(void);

/* --- live.c / live_keeper.c -------------------------------------------------- */

/* Stop, capture (maps, threads, signal handlers), resume: in this process. */
int live_snapshot_here(pid_t pid, mg_image *img, const mg_live_options *opt,
		       mg_error *err);

/* The same, in a keeper child that finishes even if we are killed. */
int live_snapshot_isolated(pid_t pid, mg_image *img, const mg_live_options *opt,
			   mg_error *err);

/* Let a running keeper finish (close our end of its pipe) and return its
 * PID, else 0.  For the signal guard, which then waits for it
 * (async-signal-safe). */
pid_t live_keeper_release(void);

/* --- live_attach.c ------------------------------------------------------------ */

typedef enum live_thread_state {
	LT_SEIZED,      /* traced, not (yet) known to be stopped */
	LT_STOPPED,     /* in a ptrace-stop we waited for */
	LT_GONE         /* exited (or never traceable); nothing to detach */
} live_thread_state;

typedef struct live_thread {
	pid_t tid;
	live_thread_state state;
	bool interrupt_stop;   /* PTRACE_EVENT_STOP by our interrupt: safe to inject */
	bool group_stop;       /* job-control stop (SIGSTOP, ...) already in effect */
	bool exiting;          /* PTRACE_EVENT_EXIT: regs are meaningless */
	int detach_sig;        /* signal dequeued while stopped: re-delivered at detach */
} live_thread;

typedef struct live_session {
	pid_t pid;
	live_thread *threads;
	size_t nthreads, cap;
	bool exec_seen;        /* PTRACE_EVENT_EXEC: the image is not the one we saw */
	bool stopping;         /* t_first_stop is set */
	struct timespec t_first_stop, t_last_resumed;
	int mem_fd;            /* /proc/PID/mem, -1 until needed */
} live_session;

void live_session_init(live_session *s, pid_t pid);
void live_session_release(live_session *s);

/*
 * Seize and stop every thread of s->pid, re-listing /proc/PID/task until
 * no new thread appears.  On error some threads may be attached: call
 * live_detach_all() in every case.
 */
int live_attach_all(live_session *s, mg_error *err);

/* Resume and detach every attached thread (idempotent), recording
 * t_last_resumed. */
void live_detach_all(live_session *s);

/*
 * Wait (bounded) for the next ptrace-stop of t after a resume request;
 * updates t's state and flags.  Returns 0 (check t->state), or -1 on
 * timeout or a wait error.
 */
int live_wait_stop(live_session *s, live_thread *t, int *status, mg_error *err);

/* --- live_capture.c ----------------------------------------------------------- */


/* Fill img->threads (registers, XSAVE, stacks) from every stopped thread
 * of s, using img->maps; then the pointer guard. */
int live_capture_threads(live_session *s, mg_image *img, mg_error *err);

/* --- live_inject.c ------------------------------------------------------------ */

/* Query the handler of every signal in `caught` (SigCgt bit n-1 = signal
 * n) by injecting rt_sigaction into one stopped thread; fills
 * img->sigactions.  Sets img->sigactions_known. */
int live_read_sigactions(live_session *s, mg_image *img, uint64_t caught,
			 mg_error *err);

/* --- live_mem.c --------------------------------------------------------------- */

/* Read target memory: process_vm_readv, falling back to pread on
 * /proc/PID/mem (opened on demand into *mem_fd) for what it refuses.
 * Returns bytes read (maybe short) or -1. */
ssize_t live_mem_read(pid_t pid, int *mem_fd, uint64_t addr, void *buf, size_t len);

/* Write target memory (process_vm_writev, then /proc/PID/mem).
 * Returns 0 only if all len bytes were written. */
int live_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

/* Install img->ops / img->priv for reading the live process. */
int live_mem_attach_ops(mg_image *img, mg_error *err);

/*
 * Set changed_since_start on the read-only, non-executable file mappings
 * of img (a live image with its ops attached) whose file's ctime is not
 * clearly before the process started, or whose file or start time cannot
 * be read.  Runs with the process running: it needs no snapshot.
 */
void live_mark_changed_files(mg_image *img);

/* --- time helpers --------------------------------------------------------------- */

static inline double live_ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

#endif
