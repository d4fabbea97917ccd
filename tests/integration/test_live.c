/*
 * test_live.c - mg_live_open() on real processes (the workloads in
 * tests/workloads), and the /proc/PID/maps parser on crafted text.
 *
 * After every snapshot the target must be running and untraced: each
 * test checks every thread's state and TracerPid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process/image.h"
#include "support/testutil.h"

/* --- helpers ------------------------------------------------------------------- */

static long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000L, (us % 1000000L) * 1000L };
	nanosleep(&ts, NULL);
}

/* Processes a test started: killed by the teardown if the test fails
 * half-way, so no workload or scanner outlives its test. */
static pid_t tracked[8];

static void track(pid_t pid)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		if (tracked[i] == 0) {
			tracked[i] = pid;
			return;
		}
}

static void untrack(pid_t pid)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		if (tracked[i] == pid)
			tracked[i] = 0;
}

/* tu_stop() a tracked process. */
static void stop(pid_t pid)
{
	untrack(pid);
	tu_stop(pid);
}

static pid_t start(char *const argv[])
{
	pid_t pid = tu_spawn_ready(argv, 5000);
	if (pid > 0)
		track(pid);
	return pid;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		if (tracked[i] > 0)
			stop(tracked[i]);
	return 0;
}

/* Read one line from fd within timeout_ms into buf (without newline). */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t used = 0;
	long deadline = now_us() + timeout_ms * 1000L;
	while (used + 1 < size) {
		long left = (deadline - now_us()) / 1000;
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char c;
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n') {
			buf[used] = '\0';
			return 0;
		}
		buf[used++] = c;
	}
	buf[used] = '\0';
	return 0;
}

/* A workload started with its stdin and stdout piped (start_piped). */
typedef struct piped {
	pid_t pid;
	int in, out;            /* write end of its stdin, read end of its stdout */
	char line[256];         /* the line next_line() read last */
} piped;

/* Read w's next line into w->line (without newline) within timeout_ms. */
static int next_line(piped *w, int timeout_ms)
{
	return read_line(w->out, w->line, sizeof(w->line), timeout_ms);
}

/* w's next line (within 2 s) must be want. */
static void expect_line(piped *w, const char *want)
{
	assert_int_equal(next_line(w, 2000), 0);
	assert_string_equal(w->line, want);
}

/*
 * Start a workload (with arg unless NULL), stdin and stdout piped; its
 * first line, in w->line, must contain "ready".  Own process group, so
 * tu_stop() kills it.  Fails the running test when it cannot.
 */
static void start_piped(piped *w, const char *workload, const char *arg)
{
	char *argv[] = { (char *)tu_workload_path(workload), (char *)arg, NULL };
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		fail_msg("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setpgid(0, 0) != 0 || dup2(in[0], STDIN_FILENO) < 0 ||
		    dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	track(pid);
	close(in[0]);
	close(out[1]);
	w->pid = pid;
	w->in = in[1];
	w->out = out[0];
	memset(w->line, 0, sizeof(w->line));   /* a timed-out read_line() adds no NUL */
	if (read_line(w->out, w->line, sizeof(w->line), 5000) != 0 || !strstr(w->line, "ready")) {
		stop(pid);
		fail_msg("%s did not print ready (got \"%s\")", workload, w->line);
	}
}

/* Close w's pipes and stop it. */
static void stop_piped(piped *w)
{
	close(w->in);
	close(w->out);
	stop(w->pid);
}

/* Every thread of pid is running (not in a ptrace- or job-stop) and has
 * no tracer. */
static void assert_untouched(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	int seen = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char file[320], *text;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		text = tu_read_file(file, NULL);
		if (text == NULL)
			continue;   /* exited meanwhile */
		char *p = strrchr(text, ')');
		assert_non_null(p);
		char state = p[2];
		free(text);
		if (state == 't' || state == 'T')
			fail_msg("pid %d thread %s left in state %c", (int)pid, e->d_name, state);
		snprintf(file, sizeof(file), "/proc/%d/task/%s/status", (int)pid, e->d_name);
		text = tu_read_file(file, NULL);
		if (text == NULL)
			continue;
		char *tp = strstr(text, "TracerPid:");
		assert_non_null(tp);
		assert_int_equal(atoi(tp + 10), 0);
		free(text);
		seen++;
	}
	closedir(d);
	assert_true(seen > 0);
	assert_int_equal(tu_tracer_pid(pid), 0);
}

static const mg_mapping *mapping_named(const mg_image *img, const char *suffix)
{
	size_t sl = strlen(suffix);
	for (size_t i = 0; i < img->nmaps; i++) {
		const char *p = img->maps[i].path;
		if (p && strlen(p) >= sl && strcmp(p + strlen(p) - sl, suffix) == 0)
			return &img->maps[i];
	}
	return NULL;
}

static bool in_exec_mapping(const mg_image *img, uint64_t addr)
{
	const mg_mapping *m = mg_image_find_mapping(img, addr);
	return m && (m->prot & MG_PROT_EXEC);
}

static mg_image *snapshot(pid_t pid, bool sigactions)
{
	mg_live_options opt = { .read_sigactions = sigactions };
	mg_image *img = NULL;
	mg_error err;
	mg_error_clear(&err);
	if (mg_live_open(pid, &opt, &img, &err) != 0)
		fail_msg("mg_live_open(%d): %s (code %d)", (int)pid, err.msg, err.code);
	assert_non_null(img);
	assert_untouched(pid);
	return img;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* --- maps parser ------------------------------------------------------------------- */

static void test_maps_parse_kinds(void **state)
{
	(void)state;
	const char *text =
		"55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"
		"55d0c0a02000-55d0c0a07000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
		"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]\n"
		"7f0000000000-7f0000001000 rw-s 00000000 00:01 1234                       /memfd:jit (deleted)\n"
		"7f0000001000-7f0000002000 rw-p 00000000 00:00 0 \n"
		"7f0000002000-7f0000003000 r--p 00000000 fe:00 99                         /tmp/a file with spaces\n"
		"7f0000003000-7f0000004000 ---p 00000000 00:00 0                          [anon:guard]\n"
		"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
		"7ffc00100000-7ffc00104000 r--p 00000000 00:00 0                          [vvar]\n"
		"7ffc00104000-7ffc00106000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
		"7ffc00106000-7ffc00108000 r-xp 00000000 00:00 0                          [vdso]\n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";
	mg_mapping *m;
	size_t n;
	mg_error err;
	mg_error_clear(&err);
	assert_int_equal(mg_maps_parse(text, strlen(text), &m, &n, &err), 0);
	assert_int_equal(n, 12);
	assert_int_equal(m[0].start, 0x55d0c0a00000ull);
	assert_int_equal(m[0].end, 0x55d0c0a02000ull);
	assert_int_equal(m[0].kind, MG_MAP_FILE);
	assert_string_equal(m[0].path, "/usr/bin/cat");
	assert_int_equal(m[0].prot, MG_PROT_READ);
	assert_int_equal(m[1].prot, MG_PROT_READ | MG_PROT_EXEC);
	assert_int_equal(m[1].file_offset, 0x2000);
	assert_int_equal(m[1].dev_major, 0xfe);
	assert_int_equal(m[1].inode, 247134);
	assert_int_equal(m[2].kind, MG_MAP_HEAP);
	assert_int_equal(m[3].kind, MG_MAP_FILE);
	assert_true(m[3].deleted);
	assert_true(m[3].shared);
	assert_string_equal(m[3].path, "/memfd:jit");
	assert_int_equal(m[4].kind, MG_MAP_ANON);
	assert_null(m[4].path);
	assert_string_equal(m[5].path, "/tmp/a file with spaces");
	assert_false(m[5].deleted);
	assert_int_equal(m[6].kind, MG_MAP_OTHER);
	assert_int_equal(m[6].prot, 0);
	assert_int_equal(m[7].kind, MG_MAP_STACK);
	assert_int_equal(m[8].kind, MG_MAP_VVAR);
	assert_int_equal(m[9].kind, MG_MAP_VVAR);
	assert_int_equal(m[10].kind, MG_MAP_VDSO);
	assert_int_equal(m[11].kind, MG_MAP_VSYSCALL);
	assert_int_equal(m[11].end, 0xffffffffff601000ull);
	mg_maps_free(m, n);

	assert_int_equal(mg_maps_parse("", 0, &m, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(m);
}

static void expect_maps_error(const char *text, size_t len, const char *what)
{
	mg_mapping *m = (mg_mapping *)1;
	size_t n = 99;
	mg_error err;
	mg_error_clear(&err);
	if (mg_maps_parse(text, len, &m, &n, &err) == 0)
		fail_msg("accepted bad maps text (%s)", what);
	assert_int_equal(err.code, MG_ERR_IO);
	assert_non_null(strstr(err.msg, "line"));
	assert_null(m);
	assert_int_equal(n, 0);
}

static void test_maps_parse_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
		"1000-2000 r-xp 00000000 fe:00 1",           /* ok line, used below */
		"1000 r-xp 00000000 fe:00 1 /x",
		"1000-2000 rwzp 00000000 fe:00 1 /x",
		"1000-2000 r-xp 00000000 fe00 1 /x",
		"2000-1000 r-xp 00000000 fe:00 1 /x",
		"1000-1000 r-xp 00000000 fe:00 1 /x",
		"1000-2000 r-xp 00000000 fe:00 /x",
		"1000-2000 r-xp 00000000 fe:00 99999999999999999999999 /x",
		"11111111111111111-2000 r-xp 00000000 fe:00 1 /x",
		"1000-2000 r-xp 0 fe:00 1x",
		"1000-2000  r-xp 00000000 fe:00 1 /x",
		"g000-2000 r-xp 00000000 fe:00 1 /x",
	};
	mg_mapping *m;
	size_t n;
	mg_error err;
	mg_error_clear(&err);
	assert_int_equal(mg_maps_parse(bad[0], strlen(bad[0]), &m, &n, &err), 0);
	mg_maps_free(m, n);
	for (size_t i = 1; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_maps_error(bad[i], strlen(bad[i]), bad[i]);

	const char overlap[] = "1000-3000 r-xp 0 fe:00 1 /x\n2000-4000 r-xp 0 fe:00 1 /x\n";
	expect_maps_error(overlap, strlen(overlap), "overlap");
	const char unsorted[] = "5000-6000 r-xp 0 fe:00 1 /x\n1000-2000 r-xp 0 fe:00 1 /x\n";
	expect_maps_error(unsorted, strlen(unsorted), "unsorted");
	const char nul[] = "1000-2000 r-xp 0 fe:00 1 /a\0b\n";
	expect_maps_error(nul, sizeof(nul) - 1, "NUL in path");

	/* A line longer than the bound, whatever it holds. */
	size_t len = MG_MAPS_LINE_MAX + 100;
	char *lng = malloc(len + 1);
	assert_non_null(lng);
	memcpy(lng, "1000-2000 r-xp 0 fe:00 1 /", 26);
	memset(lng + 26, 'a', len - 26);
	lng[len] = '\0';
	expect_maps_error(lng, len, "long line");
	free(lng);
}

/* The parser agrees with the kernel on our own maps. */
static void test_maps_parse_self(void **state)
{
	(void)state;
	size_t len;
	char *text = tu_read_file("/proc/self/maps", &len);
	assert_non_null(text);
	mg_mapping *m;
	size_t n;
	mg_error err;
	mg_error_clear(&err);
	assert_int_equal(mg_maps_parse(text, len, &m, &n, &err), 0);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(n, lines);
	bool stack = false, vdso = false;
	for (size_t i = 0; i < n; i++) {
		stack |= m[i].kind == MG_MAP_STACK;
		vdso |= m[i].kind == MG_MAP_VDSO;
	}
	assert_true(stack);
	assert_true(vdso);
	mg_maps_free(m, n);
	free(text);
}

/* --- snapshots ------------------------------------------------------------------------ */

static void test_sleeper_snapshot(void **state)
{
	(void)state;
	piped w;
	start_piped(&w, "wl_sleeper", "--deleted-map");
	pid_t pid = w.pid;
	unsigned long long guard = 0;
	void *marker = NULL, *deleted = NULL;
	assert_int_equal(sscanf(w.line, "ready guard=%llx marker=%p deleted=%p", &guard, &marker,
				&deleted), 3);
	sleep_us(20000);   /* let it enter nanosleep */

	long t0 = now_us();
	mg_image *img = snapshot(pid, true);
	double wall_ms = (double)(now_us() - t0) / 1000.0;
	printf("sleeper: pause %.3f ms (snapshot %.1f ms), %zu maps, %zu warnings\n",
	       img->pause_ms, wall_ms, img->nmaps, img->nwarnings);
	for (size_t i = 0; i < img->nwarnings; i++)
		printf("  warning: %s\n", img->warnings[i]);

	char src[32];
	snprintf(src, sizeof(src), "pid %d", (int)pid);
	assert_string_equal(img->source, src);
	assert_int_equal(img->pid, pid);
	assert_non_null(img->exe);
	assert_non_null(strstr(img->exe, "wl_sleeper"));
	const mg_mapping *exe = mapping_named(img, "/wl_sleeper");
	assert_non_null(exe);
	assert_non_null(mapping_named(img, "/libc.so.6"));
	assert_int_equal(img->nthreads, 1);

	const mg_thread *t = &img->threads[0];
	assert_int_equal(t->tid, pid);
	assert_true(in_exec_mapping(img, t->regs.rip));
	assert_true(t->stack_len > 0);
	assert_int_equal(t->stack_start, t->regs.rsp - 128);
	assert_true(t->stack_start + t->stack_len == mg_image_find_mapping(img, t->regs.rsp)->end);
	assert_true(t->has_xstate);
	assert_true(t->xsave_len >= 576);
	assert_true(t->regs.fs_base != 0);

	assert_true(img->pointer_guard_known);
	assert_int_equal(img->pointer_guard, guard);

	/* auxv: the entry point is in the executable, the vDSO is mapped. */
	const mg_mapping *entry = mg_image_find_mapping(img, img->at_entry);
	assert_non_null(entry);
	assert_non_null(entry->path);
	assert_non_null(strstr(entry->path, "wl_sleeper"));
	const mg_mapping *vdso = mg_image_find_mapping(img, img->at_sysinfo_ehdr);
	assert_non_null(vdso);
	assert_int_equal(vdso->kind, MG_MAP_VDSO);

	/* The SIGUSR1 handler was read (the sleeper's only caught signal). */
	assert_true(img->sigactions_known);
	assert_int_equal(img->nsigactions, 1);
	assert_int_equal(img->sigactions[0].signo, SIGUSR1);
	assert_true(in_exec_mapping(img, img->sigactions[0].handler));

	/* Memory reads after detaching. */
	char buf[32] = { 0 };
	assert_int_equal(mg_image_read(img, (uint64_t)(uintptr_t)marker, buf, 25), 25);
	assert_string_equal(buf, "MIGRATABLE-SLEEPER-MARKER");

	/* The mapped files: the executable by map_files, a deleted file too. */
	mg_error err;
	mg_error_clear(&err);
	int fd = img->ops->open_mapping(img, exe, &err);
	assert_true(fd >= 0);
	char magic[4];
	assert_int_equal(pread(fd, magic, 4, 0), 4);
	assert_memory_equal(magic, "\x7f" "ELF", 4);
	close(fd);
	const mg_mapping *dm = mg_image_find_mapping(img, (uint64_t)(uintptr_t)deleted);
	assert_non_null(dm);
	assert_true(dm->deleted);
	fd = img->ops->open_mapping(img, dm, &err);
	if (fd < 0)
		fail_msg("open deleted mapping: %s", err.msg);
	assert_int_equal(pread(fd, buf, 20, 0), 20);
	assert_memory_equal(buf, "deleted-file-content", 20);
	close(fd);

	/* The 10 ms goal is measured by bench/ (a loaded machine can delay
	 * any stop); here: the pause is measured and lies inside the call. */
	assert_true(img->pause_ms > 0);
	assert_true(img->pause_ms < wall_ms);
	mg_image_free(img);

	/* The interrupted nanosleep restarted and kept its full duration. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(next_line(&w, 2000), 0);
		if (strncmp(w.line, "slept ok", 8) != 0)
			fail_msg("sleeper after snapshot: %s", w.line);
	}
	stop_piped(&w);
}

/* Snapshots in a row while the sleeper sleeps: every sleep stays whole. */
static void test_sleeper_repeated_injection(void **state)
{
	(void)state;
	piped w;
	start_piped(&w, "wl_sleeper", NULL);
	for (int i = 0; i < 20; i++) {
		mg_image *img = snapshot(w.pid, true);
		assert_true(img->sigactions_known);
		assert_int_equal(img->nsigactions, 1);
		mg_image_free(img);
		sleep_us(7000 + 3000 * i);
	}
	/* Every sleep reported during (and just after) the snapshots. */
	int ok = 0;
	for (long end = now_us() + 700000; now_us() < end; ) {
		if (next_line(&w, 400) != 0)
			break;
		if (strncmp(w.line, "slept ok", 8) != 0)
			fail_msg("sleeper after snapshots: %s", w.line);
		ok++;
	}
	assert_true(ok >= 3);
	/* The handler still runs. */
	assert_int_equal(kill(w.pid, SIGUSR1), 0);
	do
		assert_int_equal(next_line(&w, 2000), 0);
	while (strcmp(w.line, "usr1") != 0);
	stop_piped(&w);
}

static void test_threads_snapshot(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_threads"), "64", NULL };
	pid_t pid = start(argv);
	assert_true(pid > 0);
	sleep_us(20000);
	mg_image *img = snapshot(pid, true);
	printf("threads: %zu captured, pause %.3f ms\n", img->nthreads, img->pause_ms);
	assert_int_equal(img->nthreads, 65);
	for (size_t i = 0; i < img->nthreads; i++) {
		const mg_thread *t = &img->threads[i];
		assert_true(in_exec_mapping(img, t->regs.rip));
		assert_true(t->stack_len > 0);
		assert_true(t->regs.fs_base != 0);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(img->threads[j].tid, t->tid);
	}
	assert_int_equal(img->threads[0].tid, pid);
	assert_true(img->pointer_guard_known);
	assert_true(img->sigactions_known);   /* no handler: nothing to inject */
	mg_image_free(img);
	stop(pid);
}

static void test_sighandler_snapshot(void **state)
{
	(void)state;
	piped w;
	start_piped(&w, "wl_sighandler", NULL);
	pid_t pid = w.pid;
	void *h1 = NULL, *h2 = NULL;
	assert_int_equal(sscanf(w.line, "ready handler1=%p handler2=%p", &h1, &h2), 2);
	sleep_us(20000);   /* let it block in read() */

	mg_image *img = snapshot(pid, true);
	printf("sighandler: pause %.3f ms\n", img->pause_ms);
	assert_true(img->sigactions_known);
	assert_int_equal(img->nsigactions, 2);
	assert_int_equal(img->sigactions[0].signo, SIGUSR1);
	assert_int_equal(img->sigactions[0].handler, (uint64_t)(uintptr_t)h1);
	assert_true(img->sigactions[0].flags & SA_SIGINFO);
	assert_true(img->sigactions[0].flags & SA_RESTART);
	assert_true(in_exec_mapping(img, img->sigactions[0].restorer));
	assert_int_equal(img->sigactions[1].signo, SIGUSR2);
	assert_int_equal(img->sigactions[1].handler, (uint64_t)(uintptr_t)h2);
	assert_false(img->sigactions[1].flags & SA_SIGINFO);
	mg_image_free(img);

	/* The interrupted read() restarted: it gets exactly our byte. */
	assert_int_equal(write(w.in, "x", 1), 1);
	expect_line(&w, "read x");
	/* The handlers still work. */
	assert_int_equal(kill(pid, SIGUSR1), 0);
	expect_line(&w, "got usr1");
	assert_int_equal(kill(pid, SIGUSR2), 0);
	expect_line(&w, "got usr2");
	assert_int_equal(write(w.in, "y", 1), 1);
	expect_line(&w, "read y");

	/* EOF: it exits 0 (not 3, a broken read). */
	close(w.in);
	int status;
	untrack(pid);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(w.out);
}

/* A process already stopped by SIGSTOP stays stopped, and its handlers are
 * not injected into (a group-stop is not ours to resume). */
static void test_stopped_process_stays_stopped(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_sleeper"), NULL };
	pid_t pid = start(argv);
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	for (int i = 0; i < 200 && tu_proc_state(pid) != 'T'; i++)
		sleep_us(1000);
	assert_int_equal(tu_proc_state(pid), 'T');
	mg_live_options opt = { .read_sigactions = true };
	mg_image *img = NULL;
	mg_error err;
	mg_error_clear(&err);
	assert_int_equal(mg_live_open(pid, &opt, &img, &err), 0);
	assert_int_equal(img->nthreads, 1);
	assert_false(img->sigactions_known);
	assert_true(img->nwarnings > 0);
	mg_image_free(img);
	/* Detaching wakes a group-stopped thread, which stops again at
	 * once: give it that moment. */
	for (int i = 0; i < 200 && tu_proc_state(pid) != 'T'; i++)
		sleep_us(1000);
	assert_int_equal(tu_proc_state(pid), 'T');
	assert_int_equal(tu_tracer_pid(pid), 0);
	assert_int_equal(kill(pid, SIGCONT), 0);
	for (int i = 0; i < 200 && tu_proc_state(pid) == 'T'; i++)
		sleep_us(1000);
	assert_untouched(pid);
	stop(pid);
}

static void test_pause_figures(void **state)
{
	(void)state;
	enum { RUNS = 7 };
	const char *names[] = { "wl_sleeper", "wl_threads" };
	for (int w = 0; w < 2; w++) {
		char *argv[] = { (char *)tu_workload_path(names[w]), NULL };
		pid_t pid = start(argv);
		assert_true(pid > 0);
		sleep_us(20000);
		double ms[RUNS];
		size_t threads = 0;
		for (int i = 0; i < RUNS; i++) {
			mg_image *img = snapshot(pid, true);
			ms[i] = img->pause_ms;
			threads = img->nthreads;
			mg_image_free(img);
			sleep_us(10000);
		}
		qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
		printf("pause %s (%zu threads): min %.3f ms, median %.3f ms, max %.3f ms\n",
		       names[w], threads, ms[0], ms[RUNS / 2], ms[RUNS - 1]);
		stop(pid);
	}
}

/* --- errors ------------------------------------------------------------------------------ */

static int open_code(pid_t pid, mg_error *err)
{
	mg_live_options opt = { .read_sigactions = true };
	mg_image *img = (mg_image *)1;
	mg_error_clear(err);
	int rc = mg_live_open(pid, &opt, &img, err);
	if (rc == 0) {
		mg_image_free(img);
		return MG_OK;
	}
	assert_int_equal(rc, -1);
	assert_null(img);
	assert_true(err->msg[0] != '\0');
	assert_null(strchr(err->msg, '\n'));
	return err->code;
}

static void test_no_such_process(void **state)
{
	(void)state;
	/* A pid that existed and is gone (reaped) is reliably unused now. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	mg_error err;
	assert_int_equal(open_code(pid, &err), MG_ERR_NO_PROCESS);
	char want[64];
	snprintf(want, sizeof(want), "no such process: %d", (int)pid);
	assert_string_equal(err.msg, want);
	assert_int_equal(open_code(-5, &err), MG_ERR_NO_PROCESS);
}

static void test_kernel_thread(void **state)
{
	(void)state;
	char *comm = tu_read_file("/proc/2/comm", NULL);
	if (comm == NULL || strncmp(comm, "kthreadd", 8) != 0) {
		free(comm);
		tu_skip(TU_SKIP_HOST, "PID 2 is no kernel thread here (a PID namespace?)");
	}
	free(comm);
	mg_error err;
	assert_int_equal(open_code(2, &err), MG_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "kernel thread"));
	printf("kthreadd: %s\n", err.msg);
}

static void test_zombie(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	for (int i = 0; i < 1000 && tu_proc_state(pid) != 'Z'; i++)
		sleep_us(1000);
	assert_int_equal(tu_proc_state(pid), 'Z');
	mg_error err;
	assert_int_equal(open_code(pid, &err), MG_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "zombie"));
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_i386_process(void **state)
{
	(void)state;
	char obj[] = "/tmp/mg-wl-i386-XXXXXX";
	tu_temp_file(obj);
	char bin[64];
	snprintf(bin, sizeof(bin), "%s.bin", obj);
	char *as[] = { "as", "--32", "-o", obj, "tests/workloads/wl_i386.s", NULL };
	char *ld[] = { "ld", "-m", "elf_i386", "-o", bin, obj, NULL };
	if (tu_run(as, NULL, NULL) != 0 || tu_run(ld, NULL, NULL) != 0) {
		unlink(obj);
		unlink(bin);
		tu_skip(TU_SKIP_HOST, "no 32-bit assembler/linker (as --32, ld -m elf_i386)");
	}
	char *argv[] = { bin, NULL };
	pid_t pid = start(argv);
	unlink(obj);
	if (pid <= 0) {
		unlink(bin);
		tu_skip(TU_SKIP_HOST, "kernel without IA32 emulation");
	}
	mg_error err;
	int code = open_code(pid, &err);
	stop(pid);
	unlink(bin);
	assert_int_equal(code, MG_ERR_UNSUPPORTED);
	char want[96];
	snprintf(want, sizeof(want), "pid %d is a 32-bit (i386) process; only x86-64 is supported",
		 (int)pid);
	assert_string_equal(err.msg, want);
}

static void test_permission_denied(void **state)
{
	(void)state;
	if (geteuid() != 0)
		tu_skip(TU_SKIP_NO_PRIVILEGE, "needs root to become another user");
	char *argv[] = { (char *)tu_workload_path("wl_sleeper"), NULL };
	pid_t pid = start(argv);
	assert_true(pid > 0);
	int msg[2];
	assert_int_equal(pipe(msg), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(msg[0]);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(100);
		mg_live_options opt = { .read_sigactions = true };
		mg_image *img = NULL;
		mg_error err;
		mg_error_clear(&err);
		if (mg_live_open(pid, &opt, &img, &err) == 0)
			_exit(0);
		if (write(msg[1], err.msg, strlen(err.msg)) < 0)
			_exit(101);
		_exit(err.code);
	}
	close(msg[1]);
	char text[MG_ERROR_MSG_MAX] = { 0 };
	ssize_t n = read(msg[0], text, sizeof(text) - 1);
	(void)n;
	close(msg[0]);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	printf("as nobody: %s\n", text);
	assert_int_equal(WEXITSTATUS(status), MG_ERR_PERMISSION);
	assert_non_null(strstr(text, "root"));
	assert_untouched(pid);
	stop(pid);
}

/* A process that exits (or execs) while being scanned: a clean answer,
 * never a crash, a hang or a stopped process. */
static void test_exit_during_scan(void **state)
{
	(void)state;
	int ok = 0, vanished = 0, zombie = 0, gone = 0;
	for (int i = 0; i < 24; i++) {
		char delay[16];
		snprintf(delay, sizeof(delay), "%d", i % 6);
		bool exec = i % 3 == 2;
		char *thr[] = { (char *)tu_workload_path("wl_threads"), "32", "--exit-after-ms", delay, NULL };
		char *slp[] = { (char *)tu_workload_path("wl_sleeper"), "--exec-after-ms", delay, NULL };
		pid_t pid = start(exec ? slp : thr);
		assert_true(pid > 0);
		mg_error err;
		int code = open_code(pid, &err);
		switch (code) {
		case MG_OK:
			ok++;
			break;
		case MG_ERR_VANISHED:
			vanished++;
			assert_non_null(strstr(err.msg, "during the scan"));
			break;
		case MG_ERR_UNSUPPORTED:
			/* It had already exited: a zombie awaiting us. */
			if (!strstr(err.msg, "zombie"))
				fail_msg("unexpected: %s", err.msg);
			zombie++;
			break;
		case MG_ERR_NO_PROCESS:
			gone++;
			break;
		default:
			fail_msg("round %d pid %d: code %d: %s", i, (int)pid, code, err.msg);
		}
		if (tu_proc_state(pid) != 'Z' && tu_proc_state(pid) != 0)
			assert_untouched(pid);
		stop(pid);
	}
	printf("exit during scan: %d ok, %d vanished, %d already zombie, %d gone\n", ok,
	       vanished, zombie, gone);
}

/*
 * The scanner is SIGKILLed in the middle of snapshots: the kernel detaches
 * and the target keeps running.  Without signal-handler injection: a
 * SIGKILL inside the few microseconds a thread runs an injected syscall
 * cannot be survived by the target (see mg_live_options in image.h).
 */
static void test_tracer_killed(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_threads"), "64", NULL };
	pid_t pid = start(argv);
	assert_true(pid > 0);
	for (int round = 0; round < 8; round++) {
		pid_t child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			for (;;) {
				mg_live_options opt = { .read_sigactions = false };
				mg_image *img = NULL;
				mg_error err;
				mg_error_clear(&err);
				if (mg_live_open(pid, &opt, &img, &err) != 0) {
					fprintf(stderr, "scanner: %s\n", err.msg);
					_exit(err.code);
				}
				mg_image_free(img);
			}
		}
		track(child);
		sleep_us(3000 + 1700 * round);
		untrack(child);
		assert_int_equal(kill(child, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFSIGNALED(status));
		assert_untouched(pid);
	}
	stop(pid);
}

/* SIGTERM with the signal guard installed: exit 130, target untouched. */
static void test_signal_guard(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_threads"), "64", NULL };
	pid_t pid = start(argv);
	assert_true(pid > 0);
	for (int round = 0; round < 6; round++) {
		int sig = round % 3 == 0 ? SIGTERM : round % 3 == 1 ? SIGINT : SIGHUP;
		int ready[2];
		assert_int_equal(pipe(ready), 0);
		pid_t child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			mg_live_install_signal_guard();
			close(ready[0]);
			close(ready[1]);   /* the guard is in place */
			for (;;) {
				mg_image *img = NULL;
				mg_error err;
				mg_error_clear(&err);
				if (mg_live_open(pid, NULL, &img, &err) != 0)
					_exit(err.code);
				mg_image_free(img);
			}
		}
		track(child);
		close(ready[1]);
		char c;
		assert_int_equal(read(ready[0], &c, 1), 0);
		close(ready[0]);
		sleep_us(5000 + 2300 * round);
		untrack(child);
		assert_int_equal(kill(child, sig), 0);
		int status;
		assert_int_equal(waitpid(child, &status, 0), child);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != MG_ERR_INTERRUPTED)
			fail_msg("scanner got signal %d: status %#x", sig, status);
		assert_untouched(pid);
	}
	stop(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_maps_parse_kinds, teardown),
		cmocka_unit_test_teardown(test_maps_parse_rejects, teardown),
		cmocka_unit_test_teardown(test_maps_parse_self, teardown),
		cmocka_unit_test_teardown(test_sleeper_snapshot, teardown),
		cmocka_unit_test_teardown(test_sleeper_repeated_injection, teardown),
		cmocka_unit_test_teardown(test_threads_snapshot, teardown),
		cmocka_unit_test_teardown(test_sighandler_snapshot, teardown),
		cmocka_unit_test_teardown(test_stopped_process_stays_stopped, teardown),
		cmocka_unit_test_teardown(test_pause_figures, teardown),
		cmocka_unit_test_teardown(test_no_such_process, teardown),
		cmocka_unit_test_teardown(test_kernel_thread, teardown),
		cmocka_unit_test_teardown(test_zombie, teardown),
		cmocka_unit_test_teardown(test_i386_process, teardown),
		cmocka_unit_test_teardown(test_permission_denied, teardown),
		cmocka_unit_test_teardown(test_exit_during_scan, teardown),
		cmocka_unit_test_teardown(test_tracer_killed, teardown),
		cmocka_unit_test_teardown(test_signal_guard, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
