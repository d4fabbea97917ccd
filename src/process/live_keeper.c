/*
 * live_keeper.c - take the snapshot in a child process that outlives us.
 *
 * Reading signal handlers means making a stopped thread of the target run
 * one injected rt_sigaction call: for some microseconds its registers are
 * not its own.  If the tracer dies then (SIGKILL, OOM killer), the kernel
 * detaches and the thread resumes with the injected registers, and the
 * target crashes.  No handler can run on SIGKILL, so the only defence is
 * for the tracer not to be the process that gets killed: the snapshot is
 * taken by a short-lived "keeper" child in its own process group, which
 * ignores terminal signals, always finishes (restores, detaches) and sends
 * what it captured back through a pipe.  Killing `migratable` then leaves
 * the keeper to finish its few milliseconds of work.
 *
 * The stream is native-endian (same machine, same binary); the reader
 * bounds every count and length all the same.
 */
#include "process/live_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEPER_MAGIC 0x6d676b70u          /* "mgkp" */
#define MAX_COUNT    (1u << 20)           /* maps, threads, warnings */
#define MAX_BLOB     ((size_t)128 << 20)  /* one stack or XSAVE copy */

/* --- writing (keeper side) ------------------------------------------------- */

typedef struct out_stream {
	int fd;
	bool failed;
} out_stream;

static void put(out_stream *o, const void *p, size_t n)
{
	const char *c = p;
	while (n && !o->failed) {
		ssize_t w = write(o->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = true;   /* reader gone: keep going, just stop writing */
			return;
		}
		c += w;
		n -= (size_t)w;
	}
}

static void put_u64(out_stream *o, uint64_t v) { put(o, &v, sizeof(v)); }

static void put_blob(out_stream *o, const void *p, size_t n)
{
	put_u64(o, n);
	if (n)
		put(o, p, n);
}

static void put_str(out_stream *o, const char *s)
{
	put_blob(o, s, s ? strlen(s) + 1 : 0);
}

static void write_image(out_stream *o, const mg_image *img)
{
	put_u64(o, img->nmaps);
	for (size_t i = 0; i < img->nmaps; i++) {
		const mg_mapping *m = &img->maps[i];
		put(o, m, sizeof(*m));          /* path pointer is replaced below */
		put_str(o, m->path);
	}
	put_u64(o, img->nthreads);
	for (size_t i = 0; i < img->nthreads; i++) {
		const mg_thread *t = &img->threads[i];
		put(o, t, sizeof(*t));          /* pointers replaced by the blobs */
		put_blob(o, t->xsave, t->xsave_len);
		put_blob(o, t->stack, t->stack_len);
	}
	put_u64(o, img->sigactions_known);
	put_u64(o, img->nsigactions);
	put(o, img->sigactions, sizeof(img->sigactions));
	put_u64(o, img->pointer_guard_known);
	put_u64(o, img->pointer_guard);
	put(o, &img->pause_ms, sizeof(img->pause_ms));
	put_u64(o, img->nwarnings);
	for (size_t i = 0; i < img->nwarnings; i++)
		put_str(o, img->warnings[i]);
}

static const int terminal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP };

static void terminal_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(terminal_signals) / sizeof(terminal_signals[0]); i++)
		sigaddset(set, terminal_signals[i]);
}

static void ignore_terminal_signals(void)
{
	for (size_t i = 0; i < sizeof(terminal_signals) / sizeof(terminal_signals[0]); i++)
		signal(terminal_signals[i], SIG_IGN);
	sigset_t set;
	terminal_signal_set(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);   /* blocked across fork; now ignored */
	/* Out of the terminal's process group: Ctrl-C and `kill -- -PGID`
	 * aimed at migratable do not reach the keeper. */
	if (setpgid(0, 0) != 0) {
		/* Still safe: the signals above are ignored. */
	}
}

static void __attribute__((noreturn))
keeper_main(int fd, pid_t pid, mg_image *img, const mg_live_options *opt)
{
	ignore_terminal_signals();
	mg_error err = { 0 };
	int rc = live_snapshot_here(pid, img, opt, &err);
	out_stream o = { fd, false };
	uint32_t magic = KEEPER_MAGIC;
	put(&o, &magic, sizeof(magic));
	put(&o, &rc, sizeof(rc));
	put(&o, &err, sizeof(err));
	if (rc == 0)
		write_image(&o, img);
	_exit(o.failed ? 1 : 0);
}

/* --- reading (our side) ---------------------------------------------------- */

typedef struct in_stream {
	int fd;
	bool failed;
} in_stream;

static bool get(in_stream *in, void *p, size_t n)
{
	char *c = p;
	while (n && !in->failed) {
		ssize_t r = read(in->fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			in->failed = true;
			break;
		}
		c += r;
		n -= (size_t)r;
	}
	return !in->failed;
}

static bool get_u64(in_stream *in, uint64_t *v) { return get(in, v, sizeof(*v)); }

static bool get_count(in_stream *in, size_t *n)
{
	uint64_t v;
	if (!get_u64(in, &v) || v > MAX_COUNT)
		return in->failed = true, false;
	*n = (size_t)v;
	return true;
}

/* A length-prefixed blob into a new buffer (NULL for length 0). */
static bool get_blob(in_stream *in, uint8_t **p, size_t *len)
{
	uint64_t n;
	*p = NULL;
	*len = 0;
	if (!get_u64(in, &n) || n > MAX_BLOB)
		return in->failed = true, false;
	if (n == 0)
		return true;
	*p = malloc((size_t)n);
	if (*p == NULL || !get(in, *p, (size_t)n)) {
		free(*p);
		*p = NULL;
		return in->failed = true, false;
	}
	*len = (size_t)n;
	return true;
}

static bool get_str(in_stream *in, char **s)
{
	uint8_t *p;
	size_t n;
	if (!get_blob(in, &p, &n))
		return false;
	if (n && p[n - 1] != '\0') {        /* must be NUL-terminated */
		free(p);
		return in->failed = true, false;
	}
	*s = (char *)p;
	return true;
}

static bool read_maps(in_stream *in, mg_image *img)
{
	size_t n;
	if (!get_count(in, &n))
		return false;
	img->maps = calloc(n ? n : 1, sizeof(*img->maps));
	if (img->maps == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		mg_mapping *m = &img->maps[i];
		if (!get(in, m, sizeof(*m))) {
			memset(m, 0, sizeof(*m));
			return false;
		}
		m->path = NULL;
		img->nmaps = i + 1;
		if (!get_str(in, &m->path))
			return false;
	}
	return true;
}

static bool read_threads(in_stream *in, mg_image *img)
{
	size_t n;
	if (!get_count(in, &n))
		return false;
	img->threads = calloc(n ? n : 1, sizeof(*img->threads));
	if (img->threads == NULL)
		return false;
	/* img->nthreads counts the threads read so far, so that on a short
	 * stream mg_image_free releases exactly what was allocated. */
	for (size_t i = 0; i < n; i++) {
		mg_thread *t = &img->threads[i];
		if (!get(in, t, sizeof(*t))) {
			memset(t, 0, sizeof(*t));
			img->nthreads = i;
			return false;
		}
		t->xsave = t->stack = NULL;
		img->nthreads = i + 1;         /* so mg_image_free frees what we read */
		if (!get_blob(in, &t->xsave, &t->xsave_len) ||
		    !get_blob(in, &t->stack, &t->stack_len))
			return false;
	}
	return true;
}

static bool read_image(in_stream *in, mg_image *img)
{
	uint64_t known, guard_known;
	if (!read_maps(in, img) || !read_threads(in, img) || !get_u64(in, &known) ||
	    !get_count(in, &img->nsigactions) || img->nsigactions > 64 ||
	    !get(in, img->sigactions, sizeof(img->sigactions)) ||
	    !get_u64(in, &guard_known) || !get_u64(in, &img->pointer_guard) ||
	    !get(in, &img->pause_ms, sizeof(img->pause_ms)))
		return false;
	img->sigactions_known = known != 0;
	img->pointer_guard_known = guard_known != 0;
	size_t nw;
	if (!get_count(in, &nw))
		return false;
	for (size_t i = 0; i < nw; i++) {
		char *w;
		if (!get_str(in, &w))
			return false;
		if (w)
			mg_image_warn(img, "%s", w);
		free(w);
	}
	return true;
}

static volatile sig_atomic_t g_keeper;      /* pid of the running keeper, or 0 */
static volatile sig_atomic_t g_keeper_fd = -1; /* our end of its pipe */

pid_t live_keeper_release(void)
{
	/* Called from a signal handler that is about to wait for the keeper:
	 * close our end first, or a keeper blocked writing a full pipe would
	 * never finish (its writes now fail with EPIPE, which it ignores). */
	if (g_keeper_fd >= 0)
		close(g_keeper_fd);
	return (pid_t)g_keeper;
}

static int reap(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

int live_snapshot_isolated(pid_t pid, mg_image *img, const mg_live_options *opt,
			   mg_error *err)
{
	int fds[2];
	if (pipe(fds) != 0)
		return mg_fail(err, MG_ERR_INTERNAL, "pipe: %s", strerror(errno));
	/* The signal guard must see the keeper from the moment it exists:
	 * hold terminal signals until g_keeper is set. */
	sigset_t block, saved;
	terminal_signal_set(&block);
	sigprocmask(SIG_BLOCK, &block, &saved);
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &saved, NULL);
		close(fds[0]);
		close(fds[1]);
		return mg_fail(err, MG_ERR_INTERNAL, "fork: %s", strerror(e));
	}
	if (child == 0) {
		close(fds[0]);
		keeper_main(fds[1], pid, img, opt);
	}
	close(fds[1]);
	g_keeper_fd = fds[0];
	g_keeper = child;
	sigprocmask(SIG_SETMASK, &saved, NULL);

	in_stream in = { fds[0], false };
	uint32_t magic = 0;
	int rc = -1;
	mg_error kerr = { 0 };
	bool ok = get(&in, &magic, sizeof(magic)) && magic == KEEPER_MAGIC &&
		  get(&in, &rc, sizeof(rc)) && get(&in, &kerr, sizeof(kerr));
	kerr.msg[sizeof(kerr.msg) - 1] = '\0';
	if (ok && rc == 0)
		ok = read_image(&in, img);
	g_keeper_fd = -1;
	close(fds[0]);
	int status = reap(child);
	g_keeper = 0;

	if (!ok)
		return mg_fail(err, MG_ERR_INTERNAL, "the snapshot process for pid %d "
			       "failed (status 0x%x)", (int)pid, (unsigned)status);
	if (rc != 0) {
		if (err)
			*err = kerr;
		return -1;
	}
	return 0;
}
