/*
 * test_soundness.c - every unit that executes must be in the scan's
 * reachable set, and every feature of executed code (that this host can
 * run) must be in the scan's required features.
 *
 * tests/workloads/corpus/drive.sh starts a workload, scans one snapshot
 * (methods reachable and full), runs the int3 oracle (`migratable observe
 * --check`) and starts the workload's activity when the oracle's window
 * opens, so most of what executes runs for the first time after the scan.
 * Any miss fails the test and is printed with its unit, module and how it
 * was entered.  The C corpus also checks that the oracle itself sees each
 * indirect mechanism (a test that cannot fail proves nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/testutil.h"

/* drive.sh finds the corpus and migratable through the environment. */
static int group_setup(void **state)
{
	(void)state;
	const char *corpus = tu_corpus_dir();
	if (corpus == NULL || setenv("CORPUS", corpus, 1) != 0 ||
	    setenv("MIGRATABLE", tu_migratable_bin(), 1) != 0)
		return -1;
	return 0;
}

/* Run one workload through drive.sh; returns the parsed JSON, or NULL
 * after skip() when its program is not installed. */
static json_object *drive(const char *workload)
{
	char out[] = "/tmp/mg-sound-XXXXXX";
	tu_temp_file(out);
	char *argv[] = { "tests/workloads/corpus/drive.sh", (char *)workload, out, "1.5", NULL };
	char *err = NULL;
	int rc = tu_run(argv, NULL, &err);
	if (rc == 77) {
		unlink(out);
		tu_skip_note(TU_SKIP_HOST, "%s is not installed (scripts/install-deps.sh installs it): %s",
			     workload, err ? err : "");
		free(err);
		skip();
	}
	json_object *j = json_object_from_file(out);
	unlink(out);
	if (rc != 0 || j == NULL)
		fprintf(stderr, "drive.sh %s: status %d\n%s", workload, rc, err ? err : "");
	free(err);
	assert_non_null(j);
	return j;
}

/* Zero misses, printed in full if not. */
static void assert_sound(json_object *j, const char *workload)
{
	json_object *s = tu_json_get(j, "soundness");
	json_object *misses = tu_json_get(s, "unit_misses");
	json_object *fmiss = tu_json_get(s, "feature_misses");
	size_t n = json_object_array_length(misses);
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(misses, i);
		fprintf(stderr, "SOUNDNESS MISS (%s): %s at %s in %s: %s\n", workload,
			json_object_get_string(tu_json_get(m, "name")),
			json_object_get_string(tu_json_get(m, "address")),
			json_object_get_string(tu_json_get(m, "module")),
			json_object_get_string(tu_json_get(m, "why")));
	}
	if (json_object_array_length(fmiss))
		fprintf(stderr, "FEATURE MISS (%s): %s\n", workload,
			json_object_to_json_string(fmiss));
	assert_int_equal(n, 0);
	assert_int_equal(json_object_array_length(fmiss), 0);
	assert_true(json_object_get_int64(tu_json_get(s, "executed")) > 0);
}

static bool executed(json_object *j, const char *name)
{
	json_object *ex = tu_json_get(j, "executed");
	for (size_t i = 0; i < json_object_array_length(ex); i++) {
		json_object *unit = json_object_array_get_idx(ex, i);
		const char *n = json_object_get_string(tu_json_get(unit, "name"));
		if (strcmp(n, name) == 0 || (name[strlen(name) - 1] == '@' &&
					     strncmp(n, name, strlen(name)) == 0))
			return true;
	}
	return false;
}

/* The oracle must see each indirect mechanism of the C corpus run. */
static void assert_c_mechanisms_seen(json_object *j)
{
	static const char *names[] = {
		"f_heap", "f_data", "cmp_bmi1", "thread_bmi2", "on_usr1_adx", "f_tls",
		"f_tail_target", "after_longjmp", "plugin_rdseed", "jit@", "cbrt",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!executed(j, names[i]))
			fail_msg("the oracle did not see %s run", names[i]);
	}
}

/* drive() a workload and assert_sound() its run; json_object_put() it. */
static json_object *drive_sound(const char *workload)
{
	json_object *j = drive(workload);
	assert_sound(j, workload);
	return j;
}

/* The C corpus program, lazy or immediate binding. */
static void c_corpus(const char *workload)
{
	json_object *j = drive_sound(workload);
	assert_c_mechanisms_seen(j);
	json_object_put(j);
}

static void test_c_lazy(void **state)
{
	(void)state;
	c_corpus("c_lazy");
}

static void test_c_now(void **state)
{
	(void)state;
	c_corpus("c_now");
}

static void test_cxx(void **state)
{
	(void)state;
	json_object *j = drive_sound("cxx");
	assert_true(executed(j, "_ZN6Square4areaEm"));   /* vtable */
	assert_true(executed(j, "_ZN6Circle4areaEm"));
	assert_true(executed(j, "_ZL12via_functionm"));  /* std::function */
	json_object_put(j);
}

static void test_python_numpy(void **state)
{
	(void)state;
	json_object *j = drive_sound("python_numpy");
	assert_true(json_object_array_length(tu_json_get(j, "executed")) > 100);
	json_object_put(j);
}

static void test_sqlite3(void **state)
{
	(void)state;
	json_object_put(drive_sound("sqlite3"));
}

static void test_zstd(void **state)
{
	(void)state;
	json_object_put(drive_sound("zstd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c_lazy),
		cmocka_unit_test(test_c_now),
		cmocka_unit_test(test_cxx),
		cmocka_unit_test(test_python_numpy),
		cmocka_unit_test(test_sqlite3),
		cmocka_unit_test(test_zstd),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
