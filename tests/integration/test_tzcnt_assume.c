/*
 * test_tzcnt_assume.c - --assume tzcnt-as-bsf (src/analysis/tzcnt.c) on a
 * real process (wl_tzcnt): GCC's __builtin_ctzl in a function built for
 * the baseline stops counting as BMI1; a tzcnt whose CF is read, and one
 * in a function built for BMI1 and BMI2, still count; the result says
 * what it assumed and how many sites.
 * Marker: bmi1, which the scan names only where this CPU has it; on a CPU
 * without it the assertions about sites hold trivially (the output says
 * which), while the count of sites taken as bsf does not depend on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

/* `scan PID --explain bmi1 [--assume tzcnt-as-bsf]`'s text (free it). */
static char *explain_bmi1(pid_t pid, bool assume)
{
	char pidbuf[16], *out = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	/* (without the assumption, the NULL ends the arguments there) */
	int rc = tu_migratable(&out, NULL, "scan", pidbuf, "--explain", "bmi1",
			       assume ? "--assume" : NULL, "tzcnt-as-bsf", NULL);
	if (rc != 0)
		fail_msg("scan --explain bmi1 exited %d", rc);
	return out;
}

/* Does the explanation list a site in wl_tzcnt's function fn? */
static bool lists(const char *text, const char *fn)
{
	char needle[96];
	snprintf(needle, sizeof(needle), "wl_tzcnt  %s+0x", fn);
	return strstr(text, needle) != NULL;
}

/* The warning's count of sites taken as bsf, 0 if none. */
static long sites_taken(json_object *scan)
{
	json_object *w = tu_json_get(scan, "warnings");
	for (size_t i = 0; i < json_object_array_length(w); i++) {
		const char *s = strstr(json_object_get_string(json_object_array_get_idx(w, i)),
				       "tzcnt-as-bsf: ");
		if (s != NULL)
			return strtol(s + 14, NULL, 10);
	}
	return 0;
}

static void test_compiled_ctz_only(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_tzcnt"), NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	char *sound = explain_bmi1(pid, false), *assumed = explain_bmi1(pid, true);
	const char *extra[] = { "--assume", "tzcnt-as-bsf", NULL };
	json_object *scan = tu_scan_pid(pid, extra), *plain = tu_scan_pid(pid, NULL);
	tu_stop(pid);
	bool has = tu_cpu_has("bmi1");
	static const char *const fns[] = { "lowest_bit", "lowest_bit_or_zero",
					   "shifted_lowest_bit" };
	for (size_t i = 0; i < 3; i++)
		printf("CPU %s BMI1: %s %s by default, %s under --assume tzcnt-as-bsf\n",
		       has ? "with" : "without", fns[i], lists(sound, fns[i]) ? "listed" : "not listed",
		       lists(assumed, fns[i]) ? "listed" : "not listed");
	printf("sites taken as bsf: %ld (none without the assumption: %ld)\n", sites_taken(scan),
	       sites_taken(plain));
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(lists(sound, fns[i]), has);
	assert_false(lists(assumed, "lowest_bit"));
	assert_int_equal(lists(assumed, "lowest_bit_or_zero"), has);
	assert_int_equal(lists(assumed, "shifted_lowest_bit"), has);
	assert_true(sites_taken(scan) >= 1);
	assert_int_equal(sites_taken(plain), 0);
	assert_true(tu_json_lists(scan, "assumptions", "tzcnt-as-bsf"));
	assert_false(tu_json_lists(plain, "assumptions", "tzcnt-as-bsf"));
	free(sound);
	free(assumed);
	json_object_put(scan);
	json_object_put(plain);
}

/* `observe PID --json --seconds 1 [--assume tzcnt-as-bsf]` (put it). */
static json_object *observe(pid_t pid, bool assume)
{
	char pidbuf[16], *out = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&out, NULL, "observe", pidbuf, "--json", "--seconds", "1",
			       assume ? "--assume" : NULL, "tzcnt-as-bsf", NULL);
	if (rc != 0)
		fail_msg("observe exited %d", rc);
	json_object *j = json_tokener_parse(out);
	free(out);
	assert_non_null(j);
	return j;
}

/*
 * The oracle under the assumption counts executed code as the scan does:
 * wl_tzcnt running only lowest_bit executes a tzcnt the scan takes as
 * bsf, so what that scan must cover lacks BMI1 where the strict count
 * (on a CPU with BMI1) has it; without the assumption there is no such
 * count.  A name the oracle has no use for is refused.
 */
static void test_observe_assumed(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_tzcnt"), "ctz", NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	json_object *assumed = observe(pid, true), *plain = observe(pid, false);
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int refused = tu_migratable(NULL, NULL, "observe", pidbuf, "--assume", "no-dlsym", NULL);
	tu_stop(pid);
	bool has = tu_cpu_has("bmi1");
	bool strict = tu_json_lists(assumed, "features_required", "bmi1");
	bool under = tu_json_lists(assumed, "assumed_features_required", "bmi1");
	int64_t sites = json_object_get_int64(tu_json_get(assumed, "assumed_tzcnt_as_bsf_sites"));
	printf("CPU %s BMI1: executed tzcnts taken as bsf: %lld; bmi1 %s strictly, %s under "
	       "the assumption\n", has ? "with" : "without", (long long)sites,
	       strict ? "required" : "not required", under ? "required" : "not required");
	assert_true(sites >= 1);
	assert_int_equal(strict, has);
	assert_false(under);
	assert_true(tu_json_lists(plain, "features_required", "bmi1") == has);
	assert_false(json_object_object_get_ex(plain, "assumed_features_required", NULL));
	assert_int_equal(refused, 2);
	json_object_put(assumed);
	json_object_put(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compiled_ctz_only),
		cmocka_unit_test(test_observe_assumed),
	};
	return cmocka_run_group_tests_name("tzcnt_assume", tests, NULL, NULL);
}
