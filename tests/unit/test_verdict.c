/*
 * test_verdict.c - verdict rules on minimal profiles, and the
 * `migratable check` command end to end (exit codes, JSON, errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "support/testutil.h"
#include "analysis/scan.h"
#include "verdict/verdict.h"

#define D "tests/data/verdict/"

#define F(name) tu_feature(name)

/* A feature needed only if the source had it (conditional) that the
 * target lacks: unknown, not incompatible; a sure one: incompatible. */
static void test_conditional_requirements(void **state)
{
	(void)state;
	mg_profile t;
	mg_scan_result r;
	mg_verdict v;
	memset(&r, 0, sizeof(r));
	mg_profile_init(&t);
	mg_fset_add(&t.features, F("avx2"));
	mg_fset_add(&r.required, F("avx2"));
	mg_fset_add(&r.required, F("sha512"));
	mg_fset_add(&r.conditional, F("sha512"));
	mg_verdict_scan(&r, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_UNKNOWN);
	assert_true(mg_fset_has(&v.unknown, F("sha512")));
	assert_true(mg_fset_is_empty(&v.missing));
	assert_non_null(strstr(v.reasons[v.nreasons - 1], "only if the source CPU had it"));
	mg_fset_add(&t.features, F("sha512"));
	mg_verdict_scan(&r, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);
	mg_fset_remove(&t.features, F("sha512"));
	mg_fset_add(&r.required, F("sha_ni"));
	mg_verdict_scan(&r, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_INCOMPATIBLE);
	assert_true(mg_fset_has(&v.missing, F("sha_ni")));
	assert_false(mg_fset_has(&v.missing, F("sha512")));
	mg_profile_free(&t);
}

static void test_workload_rules(void **state)
{
	(void)state;
	mg_profile t;
	mg_feature_set req;
	mg_verdict v;

	mg_profile_init(&t);
	mg_fset_add(&t.features, F("avx2"));
	mg_fset_add(&t.unknown, F("avx512f"));
	mg_fset_clear(&req);
	mg_fset_add(&req, F("avx2"));

	mg_verdict_workload(&req, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);

	/* required and unknown for the target: never compatible */
	mg_fset_add(&req, F("avx512f"));
	mg_verdict_workload(&req, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_UNKNOWN);
	assert_true(mg_fset_has(&v.unknown, F("avx512f")));
	assert_true(mg_fset_is_empty(&v.missing));

	/* one missing feature makes it incompatible, unknowns still listed */
	mg_fset_add(&req, F("sha_ni"));
	mg_verdict_workload(&req, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_INCOMPATIBLE);
	assert_true(mg_fset_has(&v.missing, F("sha_ni")));
	assert_int_equal(mg_fset_count(&v.missing), 1);
	assert_true(mg_fset_has(&v.unknown, F("avx512f")));

	/* long mode implies cx8 and syscall even when a list omits them */
	mg_fset_clear(&req);
	mg_fset_add(&req, F("cx8"));
	mg_verdict_workload(&req, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_INCOMPATIBLE);
	mg_fset_add(&t.features, F("lm"));
	mg_verdict_workload(&req, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);

	/* empty requirements: compatible anywhere */
	mg_fset_clear(&req);
	mg_verdict_workload(&req, &t, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);
	mg_profile_free(&t);
}

/* Run `migratable check ARGS...`; returns the exit status. */
static int check(char **out, char **err, ...)
{
	va_list ap;
	va_start(ap, err);
	int rc = tu_migratable_v(out, err, "check", ap);
	va_end(ap);
	return rc;
}

/* A feature name from a newer catalog is ignored, with a warning. */
static void test_cli_warns_unknown_names(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL;
	int rc = check(&out, &err, "--requirements", D "req-avx512.json",
		       "--target", D "newer/newer.json", NULL);
	assert_true(rc == 0 || rc == 1);
	assert_non_null(strstr(err, "newer-cpu: 1 feature name(s) unknown to this build "
			       "ignored (first: avx42_future_extension)"));
	free(out);
	free(err);
}

static void test_cli_json(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL;
	int rc = check(&out, &err, "--requirements", D "req-avx512.json",
		       "--target", D "targets", "--json", "--explain", NULL);
	assert_int_equal(rc, 1);
	json_object *root = json_tokener_parse(out);
	assert_non_null(root);
	json_object *targets, *sum, *v;
	assert_true(json_object_object_get_ex(root, "targets", &targets));
	assert_int_equal(json_object_array_length(targets), 3);
	const char *expect[][2] = {
		{ "has-everything", "compatible" },
		{ "no-avx512", "incompatible" },
		{ "undecided-avx512", "unknown" },
	};
	for (size_t i = 0; i < 3; i++) {
		json_object *t = json_object_array_get_idx(targets, i);
		assert_true(json_object_object_get_ex(t, "name", &v));
		assert_string_equal(json_object_get_string(v), expect[i][0]);
		assert_true(json_object_object_get_ex(t, "verdict", &v));
		assert_string_equal(json_object_get_string(v), expect[i][1]);
	}
	json_object *t1 = json_object_array_get_idx(targets, 1), *miss;
	assert_true(json_object_object_get_ex(t1, "missing", &miss));
	assert_int_equal(json_object_array_length(miss), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(miss, 0)), "avx512f");
	assert_true(json_object_object_get_ex(root, "summary", &sum));
	assert_true(json_object_object_get_ex(sum, "unknown", &v));
	assert_int_equal(json_object_get_int(v), 1);
	/* --explain: the evidence site of the missing feature */
	json_object *ev, *sites;
	assert_true(json_object_object_get_ex(root, "evidence", &ev));
	assert_true(json_object_object_get_ex(ev, "avx512f", &sites));
	assert_int_equal(json_object_array_length(sites), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(sites, 0), "function", &v));
	assert_string_equal(json_object_get_string(v), "sum_zmm");
	json_object_put(root);
	free(out);
	free(err);

	/* all compatible: exit 0 */
	rc = check(&out, &err, "--requirements", D "req-avx512.json",
		   "--target", D "targets/a-full.json", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "has-everything"));
	free(out);
	free(err);
}

/* Bad input: exit 2 and exactly one line on stderr naming `needle`. */
static void expect_usage_error(const char *needle, ...)
{
	char *out = NULL, *err = NULL;
	va_list ap;
	va_start(ap, needle);
	int rc = tu_migratable_v(&out, &err, "check", ap);
	va_end(ap);
	if (rc != 2 || strstr(err, needle) == NULL)
		fail_msg("rc %d, stderr \"%s\", wanted 2 and \"%s\"", rc, err, needle);
	assert_non_null(strstr(err, "migratable"));
	free(out);
	free(err);
}

static void test_cli_bad_input(void **state)
{
	(void)state;
	expect_usage_error("broken-profile.json", "--requirements", D "req-avx512.json",
			   "--target", D "bad/broken-profile.json", NULL);
	expect_usage_error("warp_drive", "--requirements", D "bad/unknown-feature-req.json",
			   "--catalog", "x86-64-v3", NULL);
	expect_usage_error("metadata.name", "--requirements", D "req-avx512.json",
			   "--catalog", "nfd:" D "bad/kubectl-no-name.json", NULL);
	expect_usage_error("index.xml:5", "--requirements", D "req-avx512.json",
			   "--catalog", "libvirt:" D "libvirt-bad", NULL);
	expect_usage_error("unknown catalog", "--requirements", D "req-avx512.json",
			   "--catalog", "ec2", NULL);
	expect_usage_error("what to check", "--catalog", "x86-64-v3", NULL);
	expect_usage_error("unknown policy", "--requirements", D "req-avx512.json",
			   "--policy", "yolo", NULL);
	expect_usage_error("bogus", "--policy", "criu", "--cpu-cap", "bogus", NULL);
	expect_usage_error("broken-profile.json", "--policy", "criu", "--source",
			   D "bad/broken-profile.json", "--catalog", "x86-64-v1", NULL);
}

static void test_cli_criu_policy(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL;
	int rc = check(&out, &err, "--policy", "criu", "--source", D "criu/skx.json",
		       "--target", D "criu/skx-nofma.json", "--target", D "criu/skx-xsave-size.json",
		       "--catalog", "x86-64-v4", NULL);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "skx-nofma"));
	assert_non_null(strstr(out, "xsave_size differs"));
	assert_non_null(strstr(out, "no raw CPUID"));     /* x86-64-v4: unknown */
	assert_non_null(strstr(out, "1 compatible, 1 incompatible, 1 unknown"));
	free(out);
	free(err);

	/* As CRIU reads --cpu-cap: "ins" adds to the default fpu,ins (the
	 * sizes still count); "none,ins" is the instruction rule alone. */
	rc = check(&out, &err, "--policy", "criu", "--cpu-cap", "ins", "--source",
		   D "criu/skx.json", "--target", D "criu/skx-xsave-size.json", NULL);
	assert_int_equal(rc, 1);
	free(out);
	free(err);
	rc = check(&out, &err, "--policy", "criu", "--cpu-cap", "none,ins", "--source",
		   D "criu/skx.json", "--target", D "criu/skx-xsave-size.json", NULL);
	assert_int_equal(rc, 0);
	free(out);
	free(err);

	/* Saved requirements with a host policy: not needed, not read (this
	 * crashed once, on their warnings). */
	rc = check(&out, &err, "--requirements", D "req-avx512.json", "--policy", "criu-like",
		   "--source", D "criu/skx.json", "--catalog", "x86-64-v4", NULL);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "missing: 3dnowprefetch"));
	free(out);
	free(err);
}

static void test_cli_affinity(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL;
	int rc = check(&out, &err, "--requirements", D "req-avx512.json",
		       "--format", "nfd-affinity", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "nodeSelectorTerms"));
	assert_non_null(strstr(out, "cpu-cpuid.AVX512F"));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workload_rules),
		cmocka_unit_test(test_conditional_requirements),
		cmocka_unit_test(test_cli_json),
		cmocka_unit_test(test_cli_warns_unknown_names),
		cmocka_unit_test(test_cli_bad_input),
		cmocka_unit_test(test_cli_criu_policy),
		cmocka_unit_test(test_cli_affinity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
