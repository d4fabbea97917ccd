/*
 * test_oracle.c - `migratable observe` never leaves a breakpoint behind.
 *
 * The oracle writes an int3 on every function of a real process (the C
 * corpus program, active: threads, forks, signals, lazy PLT, JIT code).
 * It is ended by its timeout, and at random moments by SIGINT and SIGTERM;
 * after each run the target's executable file mappings must equal the
 * file's bytes (read through /proc/PID/mem), the target must be untraced
 * and running, and it must finally exit normally (exit status 0, atexit
 * handler run).  SIGKILL of the oracle cannot be cleaned up (documented in
 * docs/soundness.md) and is not tested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/testutil.h"

static const char *corpus;

static int group_setup(void **state)
{
	(void)state;
	corpus = tu_corpus_dir();
	if (corpus == NULL)
		return -1;
	char plugin[PATH_MAX];
	snprintf(plugin, sizeof(plugin), "%s/corpus_plugin.so", corpus);
	if (setenv("PLUGIN", plugin, 1) != 0)
		return -1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return 0;
}

static pid_t spawn_corpus(const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", corpus, name);
	char *argv[] = { path, NULL };
	return tu_spawn_ready(argv, 5000);
}

/* Start `migratable observe PID --json --seconds SECONDS`; JSON to `out`.
 * With window_fd, its stderr goes to a pipe whose read end is stored
 * there (see wait_window_open).  Fails the running test when it cannot. */
static pid_t spawn_observe(pid_t target, const char *seconds, const char *out, int *window_fd)
{
	int fds[2] = { -1, -1 };
	if (window_fd && pipe(fds) != 0)
		fail_msg("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid != 0) {
		if (window_fd) {
			close(fds[1]);
			*window_fd = fds[0];
		}
		return pid;
	}
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		_exit(127);
	dup2(fd, STDOUT_FILENO);
	if (window_fd)
		dup2(fds[1], STDERR_FILENO);
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
	char *argv[] = { (char *)tu_migratable_bin(), "observe", pidbuf, "--json",
			 "--seconds", (char *)seconds, NULL };
	execv(argv[0], argv);
	_exit(127);
}

/* Block until observe says its window is open (every breakpoint planted),
 * rather than guess how long planting takes on a loaded machine.  The
 * pipe stays open (observe may still write to stderr): close it after. */
static void wait_window_open(int fd)
{
	char buf[4096];
	size_t len = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 30000) != 1)
			fail_msg("observe did not open its window within 30 s");
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			fail_msg("observe exited before opening its window: %.*s", (int)len, buf);
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "window open"))
			return;
		if (len == sizeof(buf) - 1)
			len = 0;       /* keep reading; the line is still to come */
	}
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Compare every executable file mapping of pid with its file.  Returns
 * the number of differing bytes (0 = clean), or -1 if nothing could be
 * compared.
 */
static long text_diff(pid_t pid, size_t *compared)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	int mem = open(path, O_RDONLY | O_CLOEXEC);
	if (maps == NULL || mem < 0) {
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return -1;
	}
	char line[4096 + 256];
	long diff = 0;
	*compared = 0;
	while (fgets(line, sizeof(line), maps)) {
		uint64_t lo, hi, off;
		char perms[8], file[4096];
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %4095s",
			   &lo, &hi, perms, &off, file) != 5 || perms[2] != 'x' ||
		    file[0] != '/' || strstr(line, "(deleted)"))
			continue;
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct stat stbuf;
		if (fstat(fd, &stbuf) != 0 || (uint64_t)stbuf.st_size <= off) {
			close(fd);
			continue;
		}
		uint64_t len = hi - lo;
		if (len > (uint64_t)stbuf.st_size - off)
			len = (uint64_t)stbuf.st_size - off;
		static uint8_t a[65536], b[65536];
		for (uint64_t done = 0; done < len;) {
			size_t n = len - done > sizeof(a) ? sizeof(a) : (size_t)(len - done);
			if (pread(mem, a, n, (off_t)(lo + done)) != (ssize_t)n ||
			    pread(fd, b, n, (off_t)(off + done)) != (ssize_t)n) {
				diff++;
				break;
			}
			for (size_t i = 0; i < n; i++)
				if (a[i] != b[i]) {
					if (diff < 5)
						fprintf(stderr, "  differs: %s+0x%" PRIx64 " mem %02x file %02x\n",
							file, off + done + i, a[i], b[i]);
					diff++;
				}
			done += n;
			*compared += n;
		}
		close(fd);
	}
	fclose(maps);
	close(mem);
	return diff;
}

static void assert_clean_and_alive(pid_t target)
{
	size_t compared = 0;
	long diff = text_diff(target, &compared);
	assert_int_equal(diff, 0);
	assert_true(compared > 100000);   /* the program, libc, libm, plugin */
	char st = tu_proc_state(target);
	assert_true(st == 'R' || st == 'S');
	assert_int_equal(tu_tracer_pid(target), 0);
}

/* Ask the target to exit; it must exit normally (status 0). */
static void assert_exits_normally(pid_t target)
{
	assert_int_equal(kill(target, SIGUSR2), 0);
	int st = wait_status(target);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int64_t stat_of(json_object *j, const char *key)
{
	return json_object_get_int64(tu_json_get(tu_json_get(j, "stats"), key));
}

/* A corpus program under `migratable observe` with its window open. */
typedef struct observed {
	pid_t target, obs;
	int window;                  /* observe's stderr (wait_window_open) */
	char out[32];                /* its JSON report */
} observed;

/* Start program and observe it for `seconds`; once every breakpoint is
 * planted, start the program's activity (SIGUSR1) inside the window. */
static void observe_window(observed *o, const char *program, const char *seconds)
{
	o->target = spawn_corpus(program);
	assert_true(o->target > 0);
	snprintf(o->out, sizeof(o->out), "/tmp/mg-oracle-XXXXXX");
	tu_temp_file(o->out);
	o->obs = spawn_observe(o->target, seconds, o->out, &o->window);
	wait_window_open(o->window);
	assert_int_equal(kill(o->target, SIGUSR1), 0);
}

/* observe must end with status 0; its report (json_object_put it). */
static json_object *observe_report(observed *o)
{
	int st = wait_status(o->obs);
	close(o->window);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	json_object *j = tu_load_json(o->out);
	unlink(o->out);
	return j;
}

static void test_timeout_restores_everything(void **state)
{
	(void)state;
	observed o;
	observe_window(&o, "corpus_c_lazy", "1");
	json_object *j = observe_report(&o);
	assert_true(stat_of(j, "planted") > 1000);
	assert_true(stat_of(j, "traps") > 20);
	assert_true(stat_of(j, "new_threads") >= 1);     /* pthread_create in the window */
	assert_true(stat_of(j, "forks_cleaned") >= 1);   /* fork child got its bytes back */
	json_object_put(j);
	assert_clean_and_alive(o.target);
	sleep_ms(100);                   /* keeps running (forks, threads) afterwards */
	assert_clean_and_alive(o.target);
	assert_exits_normally(o.target);
}

/* End the oracle with `sig` at a random moment, `rounds` times, on one
 * active target. */
static void stop_at_random(int sig, int rounds)
{
	pid_t target = spawn_corpus("corpus_c_now");
	assert_true(target > 0);
	assert_int_equal(kill(target, SIGUSR1), 0);
	for (int r = 0; r < rounds; r++) {
		char out[] = "/tmp/mg-oracle-XXXXXX";
		tu_temp_file(out);
		long delay = 20 + rand() % 600;
		fprintf(stderr, "  round %d: %s after %ld ms\n", r, strsignal(sig), delay);
		pid_t obs = spawn_observe(target, "30", out, NULL);
		sleep_ms(delay);
		assert_int_equal(kill(obs, sig), 0);
		int st = wait_status(obs);
		/* A signal during the snapshot (before anything is planted)
		 * ends it with status 130; inside the window it ends the
		 * window and the oracle reports normally. */
		assert_true(WIFEXITED(st));
		assert_true(WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 130);
		if (WEXITSTATUS(st) == 0) {
			json_object *j = tu_load_json(out);
			assert_true(json_object_get_boolean(tu_json_get(j, "interrupted")));
			json_object_put(j);
		}
		unlink(out);
		assert_clean_and_alive(target);
	}
	assert_exits_normally(target);
}

static void test_sigint_restores_everything(void **state)
{
	(void)state;
	stop_at_random(SIGINT, 3);
}

static void test_sigterm_restores_everything(void **state)
{
	(void)state;
	stop_at_random(SIGTERM, 3);
}

/* The target exits inside the window (atexit handler under breakpoints):
 * the oracle notices, reports it and exits cleanly. */
static void test_target_exit_ends_window(void **state)
{
	(void)state;
	observed o;
	observe_window(&o, "corpus_c_now", "20");
	sleep_ms(200);                   /* its activity runs under breakpoints */
	assert_int_equal(kill(o.target, SIGUSR2), 0);
	json_object *j = observe_report(&o);
	assert_true(json_object_get_boolean(tu_json_get(j, "target_exited")));
	json_object *ex = tu_json_get(j, "executed");
	bool saw_atexit = false;
	for (size_t i = 0; i < json_object_array_length(ex); i++) {
		json_object *name = tu_json_get(json_object_array_get_idx(ex, i), "name");
		saw_atexit |= strcmp(json_object_get_string(name), "at_exit_movbe") == 0;
	}
	assert_true(saw_atexit);
	json_object_put(j);
	int st = wait_status(o.target);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_int_equal(tu_migratable(NULL, NULL, "observe", NULL), 2);
	assert_int_equal(tu_migratable(NULL, NULL, "observe", "1x", NULL), 2);
	assert_int_equal(tu_migratable(NULL, NULL, "observe", "1", "--seconds", "0", NULL), 2);
	assert_int_equal(tu_migratable(NULL, NULL, "observe", "999999999", NULL), 3);   /* no such process */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_timeout_restores_everything),
		cmocka_unit_test(test_sigint_restores_everything),
		cmocka_unit_test(test_sigterm_restores_everything),
		cmocka_unit_test(test_target_exit_ends_window),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
