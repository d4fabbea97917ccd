/*
 * image.h - a process image: what the analysis needs to know about one
 * process, whether it is live (ptrace, /proc) or a CRIU checkpoint.
 *
 * Two sources fill the same structure (live.c, criu_image.c); the
 * analysis never knows which one it reads.  Everything the analysis
 * needs to be consistent (registers, XSAVE state, stacks, signal
 * actions) is captured into the image while the process is stopped;
 * other memory is read on demand through ops->read.
 */
#ifndef MG_PROCESS_IMAGE_H
#define MG_PROCESS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "util/error.h"

#define MG_PROT_READ  1u
#define MG_PROT_WRITE 2u
#define MG_PROT_EXEC  4u

typedef enum mg_map_kind {
	MG_MAP_FILE,       /* backed by a regular file */
	MG_MAP_ANON,       /* anonymous (including JIT code) */
	MG_MAP_HEAP,       /* [heap] */
	MG_MAP_STACK,      /* [stack] (main thread) */
	MG_MAP_VDSO,       /* [vdso]: supplied by the destination kernel */
	MG_MAP_VVAR,       /* [vvar], [vvar_vclock]: kernel data */
	MG_MAP_VSYSCALL,   /* [vsyscall] */
	MG_MAP_OTHER       /* any other [name] */
} mg_map_kind;

typedef struct mg_mapping {
	uint64_t start, end;       /* [start, end) */
	uint64_t file_offset;
	unsigned prot;             /* MG_PROT_* */
	bool shared;
	unsigned dev_major, dev_minor;
	uint64_t inode;
	char *path;                /* as in /proc/PID/maps (without " (deleted)"), NULL if none */
	bool deleted;
	mg_map_kind kind;
	/* Live images: the mapped file was changed (ctime) after the process
	 * started, or that could not be told; its bytes may then be ones this
	 * process wrote.  Always false in CRIU images. */
	bool changed_since_start;
} mg_mapping;

typedef struct mg_thread {
	pid_t tid;
	struct user_regs_struct regs;  /* includes fs_base */
	bool has_xstate;
	uint64_t xstate_bv;            /* XSAVE header: components in live use */
	uint8_t *xsave;                /* raw XSAVE area (scanned for pointers), may be NULL */
	size_t xsave_len;
	/* Copy of the stack from (rsp - red zone) to the end of its mapping,
	 * taken while the thread was stopped. */
	uint64_t stack_start;
	uint8_t *stack;
	size_t stack_len;
} mg_thread;

typedef struct mg_sigaction {
	int signo;
	uint64_t handler;          /* SIG_DFL = 0, SIG_IGN = 1, else an address */
	uint64_t flags;
	uint64_t restorer;
} mg_sigaction;

typedef struct mg_image mg_image;

typedef struct mg_image_ops {
	/* Read target memory; returns bytes read (maybe short) or -1. */
	ssize_t (*read)(mg_image *img, uint64_t addr, void *buf, size_t len);
	/* Open the file backing mapping m read-only; fd or -1 with err set. */
	int (*open_mapping)(mg_image *img, const mg_mapping *m, mg_error *err);
	/* Release source-private state (not the common fields). */
	void (*destroy)(mg_image *img);
} mg_image_ops;

struct mg_image {
	const mg_image_ops *ops;
	void *priv;

	pid_t pid;
	char *source;              /* "pid 1234" or "criu:/path/to/dump" */
	char *exe;                 /* path of the main executable, may be NULL */

	mg_mapping *maps;          /* sorted by start */
	size_t nmaps;

	mg_thread *threads;
	size_t nthreads;

	bool sigactions_known;     /* false: handlers could not be read (widens, warns) */
	mg_sigaction sigactions[64];
	size_t nsigactions;        /* only signals with a handler address */

	uint64_t at_entry;         /* from auxv, 0 if unknown */
	uint64_t at_sysinfo_ehdr;  /* vDSO base, 0 if none */

	/* CET shadow stack of the process: 1 enabled, 0 not enabled, -1
	 * unknown.  Shadow-stack instructions (incssp, rstorssp, wrss, ...)
	 * fault unless it is enabled, so a process without one never runs
	 * them, on the source or after migration (scan.c). */
	int shadow_stack;

	bool pointer_guard_known;
	uint64_t pointer_guard;    /* glibc PTR_MANGLE guard (fs:0x30) */

	double pause_ms;           /* first thread stopped .. last resumed; 0 for dumps */

	char **warnings;           /* things that widened the result */
	size_t nwarnings;
};

/* Read memory through the image (ops->read), bounded and checked. */
ssize_t mg_image_read(mg_image *img, uint64_t addr, void *buf, size_t len);

/* Mapping containing addr, or NULL (binary search). */
const mg_mapping *mg_image_find_mapping(const mg_image *img, uint64_t addr);

/* Append a formatted warning (kept on allocation failure: silently dropped
 * only if even that fails). */
void mg_image_warn(mg_image *img, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Free everything, including source-private state. */
void mg_image_free(mg_image *img);

/* The System V x86-64 red zone: live data below rsp that a stack copy
 * keeps and injected code must not touch. */
#define MG_STACK_RED_ZONE 128
/* A larger stack copy is truncated (with a warning). */
#define MG_STACK_COPY_MAX ((size_t)64 << 20)

/*
 * Copy th's live stack (rsp - red zone .. end of its mapping, at most
 * MG_STACK_COPY_MAX) into th->stack through mg_image_read; problems are
 * warnings on the image (the analysis then scans the mapping instead).
 */
void mg_image_copy_stack(mg_image *img, mg_thread *th);

/* Is m a mapping of glibc's libc.so.6? */
bool mg_mapping_is_libc(const mg_mapping *m);

/*
 * glibc keeps PTR_MANGLE's guard at fs:0x30 in every thread's TCB.  Set
 * img->pointer_guard from the first thread whose TCB looks like glibc's
 * (its self pointers at +0 and +0x10 point at itself) when libc.so.6 is
 * mapped; otherwise leave it unknown, with a warning, which makes the
 * analysis treat mangled pointers as unseen (musl, Go, a zero-filled
 * page of a dump give no guard rather than a wrong one).
 */
void mg_image_find_pointer_guard(mg_image *img);

/*
 * Take AT_ENTRY and AT_SYSINFO_EHDR from an auxiliary vector as both
 * sources hold it (/proc/PID/auxv, CRIU's mm_saved_auxv): len bytes of
 * native 64-bit (type, value) pairs, need not be aligned, ended by
 * AT_NULL or by len; a trailing partial pair is ignored.  A value the
 * vector lacks is set to 0.
 */
void mg_auxv_parse(const void *auxv, size_t len, uint64_t *at_entry,
		   uint64_t *at_sysinfo_ehdr);

/* --- /proc/PID/maps text (live_maps.c) ---------------------------------------- */

/* Longest maps line accepted: fixed fields plus a PATH_MAX path and the
 * " (deleted)" suffix.  Longer lines are rejected, never truncated. */
#define MG_MAPS_LINE_MAX (4096 + 256)

/*
 * Parse the text of a /proc/PID/maps file (len bytes, need not be
 * NUL-terminated) into a malloc'd array sorted by start.  Strict: every
 * field must be present and well-formed, ranges must be non-empty,
 * ascending and non-overlapping; anything else is MG_ERR_IO naming the
 * line.  Empty text gives *out = NULL, *nout = 0 (a process without mm).
 * Free the result with mg_maps_free().
 */
int mg_maps_parse(const char *text, size_t len, mg_mapping **out, size_t *nout,
		  mg_error *err);

/* Free an array returned by mg_maps_parse(). */
void mg_maps_free(mg_mapping *maps, size_t n);

/* --- live processes (live.c) ------------------------------------------------- */

typedef struct mg_live_options {
	/*
	 * Inject one rt_sigaction query per caught signal (SigCgt) into a
	 * stopped thread to learn the handler addresses.  The thread's
	 * registers are altered only while it is stopped and restored
	 * before detaching; SIGINT/SIGTERM/SIGHUP are held off meanwhile.
	 * A SIGKILL of the tracer inside that window (one single-step per
	 * caught signal, microseconds) would let the thread resume in the
	 * injected state, as with CRIU's parasite: see `isolate`.  When
	 * false (or when injection is impossible), sigactions_known is false
	 * and a warning says the analysis must widen.
	 */
	bool read_sigactions;
	/*
	 * Take the snapshot in a short-lived keeper child (own process group,
	 * terminal signals ignored) that always restores and detaches, even
	 * if the calling process is killed meanwhile (live_keeper.c).  The
	 * CLI always sets it; it costs one fork.
	 */
	bool isolate;
} mg_live_options;

/*
 * Snapshot a running process: PTRACE_SEIZE + PTRACE_INTERRUPT every
 * thread, read registers, fs_base, XSAVE state, stacks and signal
 * actions, then detach.  The process is never left stopped, also on
 * error or SIGINT/SIGTERM (the caller must have called
 * mg_live_install_signal_guard()).
 *
 * opt may be NULL (read_sigactions = true, isolate = true).  img->pause_ms is the time
 * from the first PTRACE_INTERRUPT to the last PTRACE_DETACH.  Errors:
 * MG_ERR_NO_PROCESS (no such pid), MG_ERR_PERMISSION (ptrace or /proc
 * refused, already traced; the message has a hint), MG_ERR_UNSUPPORTED
 * (kernel thread, zombie, 32-bit/x32/non-x86-64, a thread that cannot
 * be stopped within 3 s), MG_ERR_VANISHED (exited or exec'd during the
 * scan), MG_ERR_IO (malformed /proc data), MG_ERR_INTERNAL.
 * Other memory is read later through img->ops (process_vm_readv, then
 * /proc/PID/mem); mapped files open via /proc/PID/map_files (deleted
 * files too), else /proc/PID/root/<path> checked against the inode.
 */
int mg_live_open(pid_t pid, const mg_live_options *opt, mg_image **out,
		 mg_error *err);

/* One process of a tree: of a CRIU dump (as pstree.img lists it) or of a
 * live process and its descendants. */
typedef struct mg_task {
	pid_t pid;                 /* a dump's: as it names it (inside its PID namespace) */
	pid_t ppid;
	bool has_memory;           /* false for a zombie or dead task: nothing can run */
} mg_task;

/*
 * pid and its descendants (children, grandchildren, ... through
 * /proc/PID/task/TID/children), pid first, parents before their children,
 * into a malloc'd array; zombies have has_memory false.  The list is a
 * moment's: a process forked later is a copy of one listed (until it
 * execs), one that exits later is gone.  MG_ERR_NO_PROCESS if pid is not
 * there.
 */
int mg_live_list_tree(pid_t pid, mg_task **tasks, size_t *n, mg_error *err);

/* Has pid exited (gone, or a zombie)?  For telling a process that ended
 * during a scan from one that cannot be scanned. */
bool mg_live_has_exited(pid_t pid);

/*
 * Install SIGINT/SIGTERM/SIGHUP handlers that detach from any thread the
 * current snapshot holds before the tool exits.  Idempotent.
 */
void mg_live_install_signal_guard(void);

/* --- CRIU checkpoints (criu_image.c) ----------------------------------------- */




/*
 * The processes of a CRIU image directory, the root task first (the order
 * of pstree.img), into a malloc'd array.  A dump of a container holds its
 * whole process tree: every task with memory must be scanned.
 */
int mg_criu_list_tasks(const char *dir, mg_task **tasks, size_t *n, mg_error *err);

/*
 * Open process `pid` of a CRIU image directory (0: the root task);
 * `root` resolves mapped files (default "/").  A task without memory (a
 * zombie) is MG_ERR_UNSUPPORTED.
 */
int mg_criu_open_task(const char *dir, const char *root, pid_t pid, mg_image **out,
		      mg_error *err);

/* The root task only (mg_criu_open_task with pid 0); warns when the dump
 * holds more processes, which the caller then does not see. */
int mg_criu_open(const char *dir, const char *root, mg_image **out, mg_error *err);

/* The same over any checkpoint source (process/criu_files.h: an image
 * directory or a container checkpoint archive); src must outlive the
 * task list / the image. */
struct mg_criu_files;
int mg_criu_list_tasks_files(struct mg_criu_files *src, mg_task **tasks, size_t *n,
			     mg_error *err);
int mg_criu_open_task_files(struct mg_criu_files *src, pid_t pid, mg_image **out,
			    mg_error *err);

#endif
