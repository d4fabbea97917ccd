/*
 * test_procfs.c - the pure parsers behind the live source's /proc reads:
 * the shadow-stack flag of /proc/PID/status, the auxiliary vector, and
 * the start time of /proc/PID/stat.
 *
 * Every text is copied into a heap buffer of exactly its length, without
 * a terminating NUL, so that a parser reading past len is caught by
 * AddressSanitizer (make check-sanitize).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process/image.h"
#include "process/live_priv.h"

/* procfs_parse_shadow_stack() on the first len bytes of text, from a
 * buffer that ends there. */
static int shstk_n(const char *text, size_t len)
{
	char *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, text, len);
	int on = procfs_parse_shadow_stack(buf, len);
	free(buf);
	return on;
}

/* The lines around the one we want, as a 6.6+ kernel prints them. */
#define HEAD "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t4242\n"
#define TAIL "Cpus_allowed:\tff\nvoluntary_ctxt_switches:\t0\n"
#define KEY "x86_Thread_features:"
#define LOCKED "x86_Thread_features_locked:"

/* Status texts and the answer each must give. */
static const struct {
	const char *what, *text;
	int want;
} shstk_cases[] = {
	{ "enabled", HEAD KEY "\tshstk wrss \n" LOCKED "\t\n" TAIL, 1 },
	{ "second token", HEAD KEY "\twrss shstk \n" TAIL, 1 },
	{ "runs of blanks", HEAD KEY " \t wrss\t\tshstk\n" TAIL, 1 },
	{ "first line", KEY "\tshstk \n" TAIL, 1 },
	{ "no blank after colon", HEAD KEY "shstk\n" TAIL, 1 },

	{ "kernel without the line", HEAD TAIL, 0 },
	{ "none enabled", HEAD KEY "\t\n" LOCKED "\t\n" TAIL, 0 },
	{ "wrss only", HEAD KEY "\twrss \n" TAIL, 0 },

	/* Look-alikes: only the features line counts, whole tokens only,
	 * the key starts its line in its case, the next line is not its
	 * value. */
	{ "locked, not enabled", HEAD KEY "\t\n" LOCKED "\tshstk \n" TAIL, 0 },
	{ "locked line only", HEAD LOCKED "\tshstk \n" TAIL, 0 },
	{ "shstk_locked token", HEAD KEY "\tshstk_locked \n" TAIL, 0 },
	{ "partial tokens", HEAD KEY "\txshstk shstkwrss shst\n" TAIL, 0 },
	{ "key mid-line", HEAD "Foo: " KEY "\tshstk\n" TAIL, 0 },
	{ "key in other case", HEAD "x86_Thread_Features:\tshstk\n" TAIL, 0 },
	{ "token on next line", HEAD KEY "\t\nshstk\n" TAIL, 0 },

	/* Truncated inside the key, right after it, inside the token. */
	{ "cut in key", HEAD "x86_Thread_feat", 0 },
	{ "cut before colon", HEAD "x86_Thread_features", 0 },
	{ "cut after colon", HEAD KEY, 0 },
	{ "cut after blank", HEAD KEY "\t", 0 },
	{ "cut in token", HEAD KEY "\tshs", 0 },

	/* The last line need not end with a newline. */
	{ "no newline", HEAD KEY "\tshstk", 1 },
	{ "no newline, second", HEAD KEY "\twrss shstk", 1 },
	{ "no newline, alone", KEY "\tshstk", 1 },
	{ "no newline, wrss", HEAD KEY "\twrss", 0 },

	{ "empty", "", 0 },
	{ "newline", "\n", 0 },
	{ "blank lines", "\n\n\n", 0 },
	{ "bare token", "shstk\n", 0 },
};

static void test_shstk_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(shstk_cases) / sizeof(shstk_cases[0]); i++) {
		const char *text = shstk_cases[i].text;
		int got = shstk_n(text, strlen(text));
		if (got != shstk_cases[i].want)
			fail_msg("%s: got %d, want %d", shstk_cases[i].what, got,
				 shstk_cases[i].want);
	}
}

/* len bounds the parse even when the text goes on; no text at all is
 * no shadow stack. */
static void test_shstk_bounds(void **state)
{
	(void)state;
	static const char full[] = KEY "\tshstk\n";
	size_t line = strlen(KEY "\tshstk");
	for (size_t len = 0; len < line; len++)
		assert_int_equal(shstk_n(full, len), 0);
	assert_int_equal(shstk_n(full, line), 1);
	assert_int_equal(procfs_parse_shadow_stack(NULL, 0), 0);
}

/* The reader around the parser: a real status file gives 0 or 1, a
 * missing one -1. */
static void test_shstk_proc(void **state)
{
	(void)state;
	int on = procfs_shadow_stack(getpid());
	assert_true(on == 0 || on == 1);
	assert_int_equal(procfs_shadow_stack(INT32_MAX), -1);
}

/* mg_auxv_parse() on the first len bytes of words, from a buffer of
 * exactly that size; the outputs start as garbage. */
static void auxv(const uint64_t *words, size_t len, uint64_t *entry, uint64_t *vdso)
{
	unsigned char *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, words, len);
	*entry = *vdso = 0xdead;
	mg_auxv_parse(buf, len, entry, vdso);
	free(buf);
}

static void test_auxv(void **state)
{
	(void)state;
	uint64_t entry, vdso;
	const uint64_t v[] = {
		AT_SYSINFO_EHDR, 0x7ffd000, AT_PAGESZ, 4096, AT_ENTRY, 0x401000,
		AT_NULL, 0, AT_ENTRY, 0xbad
	};
	auxv(v, sizeof(v), &entry, &vdso);
	assert_int_equal(entry, 0x401000);
	assert_int_equal(vdso, 0x7ffd000);

	/* Without the entries, both are 0 (not left as they were). */
	const uint64_t none[] = { AT_PAGESZ, 4096, AT_NULL, 0 };
	auxv(none, sizeof(none), &entry, &vdso);
	assert_int_equal(entry, 0);
	assert_int_equal(vdso, 0);
	auxv(v, 0, &entry, &vdso);
	assert_int_equal(entry, 0);
	assert_int_equal(vdso, 0);

	/* A trailing partial pair is ignored; no AT_NULL ends at len. */
	const uint64_t tail[] = { AT_ENTRY, 0x401000, AT_SYSINFO_EHDR, 0x7ffd000 };
	auxv(tail, sizeof(tail) - 1, &entry, &vdso);
	assert_int_equal(entry, 0x401000);
	assert_int_equal(vdso, 0);
	auxv(tail, sizeof(tail), &entry, &vdso);
	assert_int_equal(vdso, 0x7ffd000);
}

/* The live reader agrees with glibc's copy of our own auxv. */
static void test_auxv_proc(void **state)
{
	(void)state;
	uint64_t entry, vdso;
	assert_int_equal(procfs_read_auxv(getpid(), &entry, &vdso), 0);
	assert_int_equal(vdso, getauxval(AT_SYSINFO_EHDR));
	assert_int_equal(entry, getauxval(AT_ENTRY));
}

/* /proc/PID/task/TID/children text, from a buffer of exactly its length. */
static int pids_of(const char *text, pid_t *out, size_t max, size_t *n)
{
	size_t len = strlen(text);
	char *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, text, len);
	int rc = procfs_parse_pids(buf, len, out, max, n);
	free(buf);
	return rc;
}

static void test_children_text(void **state)
{
	(void)state;
	pid_t p[4];
	size_t n;
	assert_int_equal(pids_of("", p, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pids_of("12 345 ", p, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0], 12);
	assert_int_equal(p[1], 345);
	assert_int_equal(pids_of("7\n", p, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids_of("2147483647", p, 4, &n), 0);   /* INT32_MAX */
	static const char *const bad[] = { "2147483648", "99999999999999999999", "0", "1 x",
					   "12a", "-3", "1 2 3 4 5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pids_of(bad[i], p, 4, &n) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
}

/* Field 22 of /proc/PID/stat: a child started after us, and both before now. */
static void test_stat_start_time(void **state)
{
	(void)state;
	procfs_stat self, child;
	assert_int_equal(procfs_read_stat(getpid(), 0, &self), 0);
	assert_true(self.state == 'R');
	struct timespec pause = { 0, 30 * 1000000L };
	nanosleep(&pause, NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pause.tv_sec = 10;
		nanosleep(&pause, NULL);
		_exit(0);
	}
	int rc = procfs_read_stat(pid, 0, &child);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(rc, 0);
	struct timespec boot;
	assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &boot), 0);
	unsigned long long hz = (unsigned long long)sysconf(_SC_CLK_TCK);
	assert_true(self.start_ticks > 0);
	assert_true(child.start_ticks >= self.start_ticks + 2);   /* 30 ms at 100 Hz: 3 ticks */
	assert_true(child.start_ticks / hz <= (unsigned long long)boot.tv_sec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shstk_cases),
		cmocka_unit_test(test_shstk_bounds),
		cmocka_unit_test(test_shstk_proc),
		cmocka_unit_test(test_auxv),
		cmocka_unit_test(test_auxv_proc),
		cmocka_unit_test(test_stat_start_time),
		cmocka_unit_test(test_children_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
