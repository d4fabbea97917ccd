/*
 * test_scan_result.c - the `scan --json` document: round trip and strict
 * reading of requirement files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analysis/scan.h"

#define REQ "tests/data/verdict/req-avx512.json"

static void test_load_fields(void **state)
{
	(void)state;
	mg_scan_result *r = NULL;
	mg_error err = { 0 };

	assert_int_equal(mg_scan_result_load(REQ, &r, &err), 0);
	assert_int_equal(r->pid, 4242);
	assert_int_equal(r->method, MG_METHOD_REACHABLE);
	assert_string_equal(r->source, "pid 4242");
	assert_int_equal(mg_fset_count(&r->required), 4);
	assert_true(mg_fset_has(&r->required, mg_feature_by_name("avx512f")));
	assert_int_equal(r->nevidence, 2);
	assert_int_equal(r->evidence[0].feature, mg_feature_by_name("avx512f"));
	assert_int_equal(r->evidence[0].address, 0x7f0000001234ull);
	assert_int_equal(r->evidence[0].offset, 0x14);
	assert_string_equal(r->evidence[0].instruction, "vpaddd zmm0, zmm1, zmm2");
	assert_int_equal(r->stats.instructions_decoded, 1000);
	assert_int_equal(r->nwarnings, 1);
	assert_int_equal(r->feature_sites[mg_feature_by_name("sse2")], 40);
	mg_scan_result_free(r);
}

static void test_round_trip(void **state)
{
	(void)state;
	mg_scan_result *a = NULL, *b = NULL;
	mg_error err = { 0 };

	assert_int_equal(mg_scan_result_load(REQ, &a, &err), 0);
	a->method = MG_METHOD_FULL;
	char *text = mg_scan_result_to_json(a, &err);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"address\":\"0x7f0000001234\""));
	assert_int_equal(mg_scan_result_from_json(text, strlen(text), "mem", &b, &err), 0);
	assert_int_equal(b->pid, a->pid);
	assert_int_equal(b->method, MG_METHOD_FULL);
	assert_string_equal(b->source, a->source);
	assert_true(mg_fset_equal(&a->required, &b->required));
	assert_int_equal(b->nevidence, a->nevidence);
	for (size_t i = 0; i < a->nevidence; i++) {
		assert_int_equal(b->evidence[i].feature, a->evidence[i].feature);
		assert_int_equal(b->evidence[i].address, a->evidence[i].address);
		assert_int_equal(b->evidence[i].offset, a->evidence[i].offset);
		assert_string_equal(b->evidence[i].module, a->evidence[i].module);
		assert_string_equal(b->evidence[i].function, a->evidence[i].function);
		assert_string_equal(b->evidence[i].reached_via, a->evidence[i].reached_via);
	}
	assert_memory_equal(&a->stats, &b->stats, sizeof(a->stats));
	assert_memory_equal(a->feature_sites, b->feature_sites, sizeof(a->feature_sites));
	assert_int_equal(b->nwarnings, 1);
	assert_string_equal(b->warnings[0], "demo warning");
	free(text);
	mg_scan_result_free(a);
	mg_scan_result_free(b);
}

/* Evidence of an instruction Zydis could not classify survives a round trip. */
static void test_unclassified_evidence(void **state)
{
	(void)state;
	mg_scan_result *a = NULL, *b = NULL;
	mg_error err = { 0 };
	assert_int_equal(mg_scan_result_load(REQ, &a, &err), 0);
	assert_true(a->nevidence > 0);
	a->evidence[0].feature = MG_FEATURE_NONE;
	char *text = mg_scan_result_to_json(a, &err);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"feature\":\"unclassified\""));
	assert_int_equal(mg_scan_result_from_json(text, strlen(text), "mem", &b, &err), 0);
	assert_int_equal(b->evidence[0].feature, MG_FEATURE_NONE);
	free(text);
	mg_scan_result_free(a);
	mg_scan_result_free(b);
}

/* Parse text; expect MG_ERR_USAGE with a message containing `needle`. */
static void expect_bad(const char *text, const char *needle)
{
	mg_scan_result *r = (mg_scan_result *)1;
	mg_error err = { 0 };
	assert_int_equal(mg_scan_result_from_json(text, strlen(text), "req.json", &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_non_null(strstr(err.msg, "req.json"));
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_null(strchr(err.msg, '\n'));
}

static void test_malformed(void **state)
{
	(void)state;
	expect_bad("{\"required_features\": [\"avx2\", \"avx9000\"]}", "avx9000");
	expect_bad("{\"required_features\": \"avx2\"}", "wrong type");
	expect_bad("{\"required_features\": [1]}", "strings");
	expect_bad("{\"pid\": 1}", "required_features");
	expect_bad("[\"avx2\"]", "JSON object");
	expect_bad("{\"required_features\": [\"avx2\"]", "truncated");
	expect_bad("{\"required_features\": []} x", "trailing");
	expect_bad("{\"required_features\": [], \"method\": \"psychic\"}", "psychic");
	expect_bad("{\"required_features\": [], \"pid\": \"12\"}", "pid");
	expect_bad("{\"required_features\": [], \"evidence\": [{\"feature\": \"avx2\", "
		   "\"address\": \"1234\"}]}", "hex");
	expect_bad("{\"required_features\": [], \"evidence\": [{\"feature\": \"nope\"}]}", "nope");
	expect_bad("{\"required_features\": [], \"feature_sites\": {\"avx2\": -1}}", "avx2");
	expect_bad("{\"required_features\": [], \"feature_sites\": {\"zzz\": 1}}", "zzz");
	expect_bad("{\"required_features\": [], \"stats\": {\"threads\": \"x\"}}", "threads");
	expect_bad("", "JSON");
}

static void test_minimal_and_file_errors(void **state)
{
	(void)state;
	mg_scan_result *r = NULL;
	mg_error err = { 0 };
	const char *t = "{\"required_features\": [\"sha\", \"avx2\"]}";

	/* documented aliases are accepted */
	assert_int_equal(mg_scan_result_from_json(t, strlen(t), "m", &r, &err), 0);
	assert_true(mg_fset_has(&r->required, mg_feature_by_name("sha_ni")));
	assert_int_equal(r->nevidence, 0);
	mg_scan_result_free(r);

	assert_int_equal(mg_scan_result_load("/nonexistent/req.json", &r, &err), -1);
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_non_null(strstr(err.msg, "/nonexistent/req.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_fields),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unclassified_evidence),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_minimal_and_file_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
