/*
 * test_profile.c - profile JSON: round trip, both forms, the AWS catalog,
 * and malformed input (every failure MG_ERR_PROFILE naming the file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features/features.h"
#include "features/profile.h"
#include "support/testutil.h"

static mg_feature_id id_of(const char *name)
{
	mg_feature_id id = mg_feature_by_name(name);
	if (id == MG_FEATURE_NONE)
		fail_msg("feature table has no '%s'", name);
	return id;
}

static void test_host_round_trip(void **state)
{
	(void)state;
	mg_profile host, back;
	mg_error err = { 0 };
	char *json;

	if (mg_host_profile(&host, "round-trip", &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(host.has_cpuid);
	assert_true(mg_fset_count(&host.features) > 10);
	json = mg_profile_to_json(&host, &err);
	assert_non_null(json);
	if (mg_profile_from_json(json, strlen(json), "round-trip.json", &back, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(mg_fset_equal(&host.features, &back.features));
	assert_true(mg_fset_equal(&host.unknown, &back.unknown));
	assert_int_equal(host.has_xcr0, back.has_xcr0);
	assert_int_equal(host.xcr0, back.xcr0);
	assert_int_equal(host.xsave_size, back.xsave_size);
	assert_int_equal(host.amx_permitted, back.amx_permitted);
	assert_string_equal(back.name, "round-trip");
	assert_string_equal(host.vendor, back.vendor);
	if (host.brand)
		assert_string_equal(host.brand, back.brand);
	assert_string_equal(host.kernel, back.kernel);
	assert_int_equal(host.family, back.family);
	assert_int_equal(host.model, back.model);
	assert_int_equal(host.stepping, back.stepping);
	assert_int_equal(host.cpuid.count, back.cpuid.count);
	assert_memory_equal(host.cpuid.leaves, back.cpuid.leaves,
			    host.cpuid.count * sizeof(mg_cpuid_leaf));
	assert_string_equal(back.origin, "round-trip.json");

	/* Serialising again gives the same text: the form is canonical. */
	char *again = mg_profile_to_json(&back, &err);
	assert_non_null(again);
	assert_string_equal(json, again);
	free(again);
	free(json);
	mg_profile_free(&host);
	mg_profile_free(&back);
}

/* The host never records a leaf above a range's maximum. */
static void test_host_within_maxima(void **state)
{
	(void)state;
	mg_cpuid_dump d = { 0 };
	mg_error err = { 0 };

	assert_int_equal(mg_host_cpuid(&d, &err), 0);
	uint32_t max_basic = mg_cpuid_dump_max_leaf(&d, 0);
	uint32_t max_ext = mg_cpuid_dump_max_leaf(&d, 0x80000000u);
	assert_true(max_basic >= 1);
	for (size_t i = 0; i < d.count; i++) {
		const mg_cpuid_leaf *l = &d.leaves[i];
		if (l->leaf < 0x80000000u)
			assert_true(l->leaf <= max_basic);
		else if (l->leaf < 0xC0000000u)
			assert_true(l->leaf <= max_ext);
		/* Every recorded leaf is reachable through the checked lookup. */
		assert_ptr_equal(mg_cpuid_dump_find(&d, l->leaf, l->subleaf), l);
	}
	mg_cpuid_dump_free(&d);
}

static void test_minimal_form(void **state)
{
	(void)state;
	static const char text[] =
		"{\"name\": \"m\", \"features\": [\"avx2\", \"sha\", \"frobnicate\", \"avx\"],"
		" \"unknown\": [\"amx_tile\", \"quux\", \"avx\"], \"note\": \"x\"}";
	mg_profile p;
	mg_error err = { 0 };

	if (mg_profile_from_json(text, strlen(text), "m.json", &p, &err) != 0)
		fail_msg("%s", err.msg);
	assert_false(p.has_cpuid);
	assert_false(p.has_xcr0);
	assert_true(mg_fset_has(&p.features, id_of("avx2")));
	assert_true(mg_fset_has(&p.features, id_of("sha_ni")));   /* alias */
	assert_true(mg_fset_has(&p.features, id_of("avx")));
	assert_int_equal(mg_fset_count(&p.features), 3);
	assert_true(mg_fset_has(&p.unknown, id_of("amx_tile")));
	/* Listed as present and unknown: present wins. */
	assert_false(mg_fset_has(&p.unknown, id_of("avx")));
	assert_int_equal(mg_fset_count(&p.unknown), 1);
	assert_int_equal(p.ignored_names, 2);
	assert_string_equal(p.first_ignored, "frobnicate");

	/* Written back in full form (vendor, brand, kernel null) and re-read:
	 * same features and unknowns. */
	char *json = mg_profile_to_json(&p, &err);
	mg_profile back;
	if (json == NULL)
		fail_msg("%s", err.msg);
	assert_non_null(strstr(json, "\"vendor\": null"));
	if (mg_profile_from_json(json, strlen(json), "m2.json", &back, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(mg_fset_equal(&p.features, &back.features));
	assert_true(mg_fset_equal(&p.unknown, &back.unknown));
	assert_null(back.vendor);
	assert_int_equal(back.family, -1);
	free(json);
	mg_profile_free(&back);
	mg_profile_free(&p);
}

/* A full profile without xcr0: state-dependent features are unknown. */
static void test_cpuid_without_xcr0(void **state)
{
	(void)state;
	char *text = tu_read_file("tests/data/cpuid/skylake-sp.json", NULL);
	assert_non_null(text);
	char *x = strstr(text, "\"xcr0\"");
	assert_non_null(x);
	memcpy(x, "\"xcrX\"", 6);
	mg_profile p;
	mg_error err = { 0 };
	if (mg_profile_from_json(text, strlen(text), "noxcr0.json", &p, &err) != 0)
		fail_msg("%s", err.msg);
	assert_false(p.has_xcr0);
	assert_false(mg_fset_has(&p.features, id_of("avx512f")));
	assert_false(mg_fset_has(&p.features, id_of("avx")));
	assert_true(mg_fset_has(&p.unknown, id_of("avx512f")));
	assert_true(mg_fset_has(&p.unknown, id_of("avx2")));
	assert_true(mg_fset_has(&p.features, id_of("sse4_2")));
	assert_false(mg_fset_has(&p.unknown, id_of("sse4_2")));
	mg_profile_free(&p);
	free(text);
}

/* Registers as numbers are accepted too; cpuid overrides 'features'. */
static void test_numbers_and_rederive(void **state)
{
	(void)state;
	static const char text[] =
		"{\"schema\": \"migratable/profile-v1\", \"name\": \"n\", \"xcr0\": 7,"
		" \"features\": [\"avx512f\"],"
		" \"cpuid\": [{\"leaf\": 0, \"eax\": 1, \"ebx\": 0, \"ecx\": 0, \"edx\": 0},"
		"           {\"leaf\": \"0x1\", \"subleaf\": 0, \"eax\": 0, \"ebx\": 0,"
		"            \"ecx\": 402653184, \"edx\": \"0x06000000\"}]}";
	mg_profile p;
	mg_error err = { 0 };

	if (mg_profile_from_json(text, strlen(text), "n.json", &p, &err) != 0)
		fail_msg("%s", err.msg);
	/* ECX = 0x18000000: osxsave + avx; EDX: sse, sse2. */
	assert_true(mg_fset_has(&p.features, id_of("avx")));
	assert_true(mg_fset_has(&p.features, id_of("sse2")));
	assert_false(mg_fset_has(&p.features, id_of("avx512f")));
	assert_int_equal(p.cpuid.count, 2);
	mg_profile_free(&p);
}

static void test_aws_catalog(void **state)
{
	(void)state;
	const char *shared = tu_shared_data();
	char dir[4096], path[8192];
	DIR *dp;
	struct dirent *de;
	int loaded = 0;

	if (shared == NULL)
		tu_skip(TU_SKIP_NO_SHARED, "no ../shared/data");
	snprintf(dir, sizeof(dir), "%s/catalogs/aws-us-west-2", shared);
	dp = opendir(dir);
	if (dp == NULL)
		tu_skip(TU_SKIP_NO_SHARED, "no %s", dir);
	while ((de = readdir(dp)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		mg_profile p;
		mg_error err = { 0 };
		if (mg_profile_load(path, &p, &err) != 0)
			fail_msg("%s", err.msg);

		/* Compare with the file's own lists, read independently. */
		json_object *o = tu_load_json(path);
		json_object *feats = tu_json_get(o, "features");
		assert_string_equal(p.name, json_object_get_string(tu_json_get(o, "name")));
		size_t known = 0;
		for (size_t i = 0; i < json_object_array_length(feats); i++) {
			const char *f = json_object_get_string(json_object_array_get_idx(feats, i));
			mg_feature_id id = mg_feature_by_name(f);
			if (id == MG_FEATURE_NONE)
				continue;
			if (!mg_fset_has(&p.features, id))
				fail_msg("%s: '%s' listed but not loaded", path, f);
			known++;
		}
		assert_int_equal(mg_fset_count(&p.features), known);
		if (strcmp(de->d_name, "c5.large.json") == 0) {
			/* c5.large is Skylake-SP: AVX-512 F..VL, no VNNI
			 * (Cascade Lake) per its file. */
			assert_true(mg_fset_has(&p.features, id_of("avx512f")));
			assert_true(mg_fset_has(&p.features, id_of("avx512vl")));
			assert_false(mg_fset_has(&p.features, id_of("avx512_vnni")));
			assert_false(mg_fset_has(&p.features, id_of("amx_tile")));
			assert_true(mg_fset_has(&p.unknown, id_of("amx_int8")));
		}
		json_object_put(o);
		mg_profile_free(&p);
		loaded++;
	}
	closedir(dp);
	assert_true(loaded > 300);
}

struct bad_case {
	const char *text;
	const char *needle;   /* expected in the message */
};

static const struct bad_case bad_cases[] = {
	{ "{\"name\": \"x\", \"features\": [\"avx\"", "truncated" },
	{ "{\"name\": \"x\", \"feat", "truncated" },
	{ "[1, 2, 3]", "not a JSON object" },
	{ "\"just a string\"", "not a JSON object" },
	{ "{\"name\": 5, \"features\": []}", "'name' is not a string" },
	{ "{\"features\": []}", "'name' is missing" },
	{ "{\"name\": \"\", \"features\": []}", "'name' is empty" },
	{ "{\"name\": \"x\"}", "neither 'features' nor 'cpuid'" },
	{ "{\"name\": \"x\", \"features\": \"avx\"}", "'features' is not an array" },
	{ "{\"name\": \"x\", \"features\": [\"avx\", 3]}", "'features[1]' is not a string" },
	{ "{\"name\": \"x\", \"features\": [], \"unknown\": {}}", "'unknown' is not an array" },
	{ "{\"name\": \"x\", \"features\": [], \"family\": \"6\"}", "'family' is not an integer" },
	{ "{\"name\": \"x\", \"features\": [], \"family\": 99999999999999999999999}", "'family' is out of range" },
	{ "{\"name\": \"x\", \"features\": [], \"xcr0\": \"0xZZ\"}", "'xcr0' is not a hex string" },
	{ "{\"name\": \"x\", \"features\": [], \"xcr0\": \"0x\"}", "'xcr0' is not a hex string" },
	{ "{\"name\": \"x\", \"features\": [], \"xcr0\": \"0x11112222333344445\"}", "'xcr0' is not a hex string" },
	{ "{\"name\": \"x\", \"features\": [], \"xcr0\": -1}", "'xcr0' is out of range" },
	{ "{\"name\": \"x\", \"features\": [], \"xcr0\": 1.5}", "'xcr0' is not a hex string or integer" },
	{ "{\"name\": \"x\", \"features\": [], \"xcr0\": 18446744073709551615}", "'xcr0' is out of range" },
	{ "{\"name\": \"x\", \"features\": [], \"xsave_size\": \"0x100000000\"}", "'xsave_size' is out of range" },
	{ "{\"name\": \"x\", \"features\": [], \"amx_permitted\": 1}", "'amx_permitted' is not a boolean" },
	{ "{\"name\": \"x\", \"features\": [], \"schema\": \"migratable/profile-v2\"}", "unsupported schema" },
	{ "{\"name\": \"x\", \"cpuid\": {}}", "'cpuid' is not an array" },
	{ "{\"name\": \"x\", \"cpuid\": []}", "'cpuid' is empty" },
	{ "{\"name\": \"x\", \"cpuid\": [3]}", "'cpuid[0]' is not an object" },
	{ "{\"name\": \"x\", \"cpuid\": [{\"leaf\": \"0x0\"}]}", "'cpuid[0].eax' is missing" },
	{ "{\"name\": \"x\", \"cpuid\": [{\"eax\": 1, \"ebx\": 1, \"ecx\": 1, \"edx\": 1}]}",
	  "'cpuid[0].leaf' is missing" },
	{ "{\"name\": \"x\", \"cpuid\": [{\"leaf\": \"0x0\", \"eax\": \"0x1\", \"ebx\": \"0x0\","
	  " \"ecx\": \"0x0\", \"edx\": \"0x0\"}, {\"leaf\": \"0x1\", \"eax\": \"0xfoo\", \"ebx\": \"0x0\","
	  " \"ecx\": \"0x0\", \"edx\": \"0x0\"}]}", "'cpuid[1].eax' is not a hex string" },
	{ "{\"name\": \"x\", \"cpuid\": [{\"leaf\": \"0x0\", \"eax\": \"0x100000000\", \"ebx\": 0,"
	  " \"ecx\": 0, \"edx\": 0}]}", "'cpuid[0].eax' is out of range" },
	{ "{\"name\": \"x\", \"cpuid\": [{\"leaf\": \"0x0\", \"eax\": 1, \"ebx\": 0, \"ecx\": 0, \"edx\": 0},"
	  " {\"leaf\": 0, \"subleaf\": 0, \"eax\": 1, \"ebx\": 0, \"ecx\": 0, \"edx\": 0}]}", "repeats leaf 0x0" },
	{ "{\"name\": \"x\", \"cpuid\": [{\"leaf\": \"0x1\", \"eax\": 1, \"ebx\": 0, \"ecx\": 0, \"edx\": 0}]}",
	  "no leaf 0x0" },
	{ "{\"name\": \"x\", \"features\": []} trailing", "invalid JSON at byte 30" },
	{ "{\"name\": \"x\\u0007\", \"features\": []}", "control character" },
	{ "{\"name\": \"x\", \"features\": [] ,}", "invalid JSON" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	  "invalid JSON" },
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		mg_profile p;
		mg_error err = { 0 };
		const char *t = bad_cases[i].text;
		int rc = mg_profile_from_json(t, strlen(t), "bad-profile.json", &p, &err);
		if (rc != -1)
			fail_msg("case %zu accepted: %s", i, t);
		assert_int_equal(err.code, MG_ERR_PROFILE);
		if (strncmp(err.msg, "bad-profile.json: ", 18) != 0 ||
		    strstr(err.msg, bad_cases[i].needle) == NULL)
			fail_msg("case %zu: message '%s' lacks file name or '%s'",
				 i, err.msg, bad_cases[i].needle);
		assert_null(strchr(err.msg, '\n'));
	}
}

/* Through the file path: empty file, NUL bytes, missing file, directory. */
static void test_malformed_files(void **state)
{
	(void)state;
	char path[] = "/tmp/mg-test-profile-XXXXXX";
	int fd = mkstemp(path);
	mg_profile p;
	mg_error err = { 0 };

	assert_true(fd >= 0);
	assert_int_equal(mg_profile_load(path, &p, &err), -1);
	assert_int_equal(err.code, MG_ERR_PROFILE);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "is empty"));

	assert_int_equal(write(fd, "{\"name\"\0: 1}", 12), 12);
	mg_error_clear(&err);
	assert_int_equal(mg_profile_load(path, &p, &err), -1);
	assert_int_equal(err.code, MG_ERR_PROFILE);
	assert_non_null(strstr(err.msg, "NUL byte"));
	close(fd);
	unlink(path);

	mg_error_clear(&err);
	assert_int_equal(mg_profile_load(path, &p, &err), -1);
	assert_int_equal(err.code, MG_ERR_IO);
	assert_non_null(strstr(err.msg, path));

	mg_error_clear(&err);
	assert_int_equal(mg_profile_load("/tmp", &p, &err), -1);
	assert_int_equal(err.code, MG_ERR_IO);
	assert_non_null(strstr(err.msg, "is a directory"));
}

/* Every prefix of a valid full profile is rejected cleanly (no crash). */
static void test_every_truncation(void **state)
{
	(void)state;
	size_t len;
	char *text = tu_read_file("tests/data/cpuid/zen3-epyc-7763.json", &len);
	assert_non_null(text);
	/* Strip trailing whitespace so every shorter prefix is incomplete. */
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	for (size_t n = 0; n < len; n++) {
		mg_profile p;
		mg_error err = { 0 };
		if (mg_profile_from_json(text, n, "zen3.json", &p, &err) != -1)
			fail_msg("prefix of %zu bytes accepted", n);
		assert_int_equal(err.code, MG_ERR_PROFILE);
		assert_non_null(strstr(err.msg, "zen3.json"));
	}
	mg_profile p;
	mg_error err = { 0 };
	assert_int_equal(mg_profile_from_json(text, len, "zen3.json", &p, &err), 0);
	mg_profile_free(&p);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_round_trip),
		cmocka_unit_test(test_host_within_maxima),
		cmocka_unit_test(test_minimal_form),
		cmocka_unit_test(test_cpuid_without_xcr0),
		cmocka_unit_test(test_numbers_and_rederive),
		cmocka_unit_test(test_aws_catalog),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_files),
		cmocka_unit_test(test_every_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
