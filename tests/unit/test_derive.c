/*
 * test_derive.c - features and identity derived from recorded CPUID.
 *
 * The dumps in tests/data/cpuid/ are written by hand from the Intel SDM /
 * AMD APM bit definitions and published dumps of real parts; expected
 * values below come from those parts' documentation, not from this code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "features/profile.h"
#include "support/testutil.h"

#define DATA "tests/data/cpuid/"

static void load(const char *file, mg_profile *p)
{
	mg_error err = { 0 };
	if (mg_profile_load(file, p, &err) != 0)
		fail_msg("%s: %s", file, err.msg);
}

static bool has(const mg_profile *p, const char *name)
{
	mg_feature_id id = mg_feature_by_name(name);
	if (id == MG_FEATURE_NONE)
		fail_msg("feature table has no '%s'", name);
	return mg_fset_has(&p->features, id);
}

static void expect(const mg_profile *p, const char *const *yes, const char *const *no)
{
	for (; yes && *yes; yes++)
		if (!has(p, *yes))
			fail_msg("%s: expected '%s' usable", p->name, *yes);
	for (; no && *no; no++)
		if (has(p, *no))
			fail_msg("%s: expected '%s' NOT usable", p->name, *no);
}

/* Every feature of the AVX-512, AMX and APX families. */
static size_t count_family(const mg_feature_set *s, mg_family fam)
{
	size_t n = 0;
	for (mg_feature_id id = mg_fset_next(s, -1); id >= 0; id = mg_fset_next(s, id))
		if (mg_feature_get(id)->family == fam)
			n++;
	return n;
}

static void test_find_honours_maximum(void **state)
{
	(void)state;
	mg_cpuid_dump d = { 0 };
	mg_error err = { 0 };

	assert_int_equal(mg_cpuid_dump_add(&d, 0, 0, 0xD, 0, 0, 0, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 7, 0, 0, 0x281, 0, 0, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 7, 1, ~0u, ~0u, ~0u, ~0u, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 0xD, 0, 7, 0, 0, 0, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 0x1E, 0, ~0u, ~0u, ~0u, ~0u, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 0x80000001, 0, 0, 0, ~0u, ~0u, &err), 0);

	assert_non_null(mg_cpuid_dump_find(&d, 7, 0));
	assert_non_null(mg_cpuid_dump_find(&d, 0xD, 0));
	assert_null(mg_cpuid_dump_find(&d, 7, 1));          /* 7.0:EAX says max subleaf 0 */
	assert_null(mg_cpuid_dump_find(&d, 0x1E, 0));       /* above max basic 0xD */
	assert_non_null(mg_cpuid_dump_find_raw(&d, 0x1E, 0));
	assert_null(mg_cpuid_dump_find(&d, 5, 0));          /* not recorded */
	assert_null(mg_cpuid_dump_find(&d, 0x80000001, 0)); /* no 0x80000000 recorded */

	/* An implausible extended maximum (Intel's answer for a missing
	 * range is basic-leaf data) means the range does not exist. */
	assert_int_equal(mg_cpuid_dump_add(&d, 0x80000000, 0, 0xD, 0, 0, 0, &err), 0);
	assert_null(mg_cpuid_dump_find(&d, 0x80000001, 0));
	assert_int_equal(mg_cpuid_dump_max_leaf(&d, 0x80000000), 0);
	assert_int_equal(mg_cpuid_dump_max_leaf(&d, 0), 0xD);
	mg_cpuid_dump_free(&d);

	assert_int_equal(mg_cpuid_dump_add(&d, 0x80000000, 0, 0x80000001, 0, 0, 0, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 0x80000001, 0, 0, 0, 1, 0, &err), 0);
	assert_int_equal(mg_cpuid_dump_add(&d, 0x80000008, 0, 0, 1, 0, 0, &err), 0);
	assert_non_null(mg_cpuid_dump_find(&d, 0x80000001, 0));
	assert_null(mg_cpuid_dump_find(&d, 0x80000008, 0));  /* above max extended */
	mg_cpuid_dump_free(&d);
}

static const char *const ivb_yes[] = {
	"fpu", "cmov", "cx8", "mmx", "fxsr", "sse", "sse2", "pni", "ssse3",
	"sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm", "lm", "syscall",
	"avx", "aes", "pclmulqdq", "f16c", "rdrand", "xsave", "xsaveopt",
	"osxsave", "rdtscp", NULL
};
static const char *const ivb_no[] = {
	"avx2", "fma", "bmi1", "bmi2", "movbe", "abm", "adx", "rdseed",
	"avx512f", "avx512vl", "xsavec", "xsaves", "sha_ni", "clflushopt",
	"amx_tile", "amx_int8", "amx_bf16", "avx_vnni", "avx512_bf16",
	"sse4a", "clzero", "rdpid", "smap", "invpcid", NULL
};

static void test_ivybridge(void **state)
{
	(void)state;
	mg_profile p;

	load(DATA "ivybridge-ep.json", &p);
	assert_string_equal(p.vendor, "GenuineIntel");
	assert_int_equal(p.family, 6);
	assert_int_equal(p.model, 0x3E);
	assert_int_equal(p.stepping, 4);
	assert_string_equal(p.brand, "Intel(R) Xeon(R) CPU E5-2680 v2 @ 2.80GHz");
	assert_int_equal(p.xsave_size, 0x340);
	assert_true(p.has_xcr0);
	assert_int_equal(p.xcr0, 0x7);
	expect(&p, ivb_yes, ivb_no);
	assert_int_equal(mg_x86_64_level_of(&p.features), 2);
	mg_profile_free(&p);
}

/*
 * The same CPU recorded by a collector that read leaves above the maximum
 * (as the LiveMigrate-Detector collector did, seeing AMX on Ivy Bridge):
 * the all-ones garbage must change nothing.
 */
static void test_ivybridge_out_of_range_garbage(void **state)
{
	(void)state;
	mg_profile clean, dirty;

	load(DATA "ivybridge-ep.json", &clean);
	load(DATA "ivybridge-ep-garbage.json", &dirty);
	assert_non_null(mg_cpuid_dump_find_raw(&dirty.cpuid, 0x1E, 1));
	assert_non_null(mg_cpuid_dump_find_raw(&dirty.cpuid, 0x7, 1));
	assert_null(mg_cpuid_dump_find(&dirty.cpuid, 0x7, 1));
	assert_null(mg_cpuid_dump_find(&dirty.cpuid, 0x19, 0));
	assert_null(mg_cpuid_dump_find(&dirty.cpuid, 0x24, 0));
	assert_null(mg_cpuid_dump_find(&dirty.cpuid, 0xC0000001, 0));
	expect(&dirty, ivb_yes, ivb_no);
	assert_int_equal(count_family(&dirty.features, MG_FAM_AMX), 0);
	assert_int_equal(count_family(&dirty.features, MG_FAM_AVX512), 0);
	assert_int_equal(count_family(&dirty.features, MG_FAM_APX), 0);
	if (!mg_fset_equal(&clean.features, &dirty.features)) {
		mg_feature_set extra = dirty.features;
		mg_fset_subtract(&extra, &clean.features);
		char *s = mg_fset_to_string(&extra);
		fail_msg("garbage leaves added features: %s", s ? s : "?");
	}
	/* Without the maximum rule the garbage would have shown (this is what
	 * makes the test able to fail): leaf 7.1 EAX[4] is avx_vnni. */
	const mg_cpuid_leaf *raw = mg_cpuid_dump_find_raw(&dirty.cpuid, 7, 1);
	assert_true((raw->eax >> 4) & 1);
	mg_profile_free(&clean);
	mg_profile_free(&dirty);
}

static const char *const skx_yes[] = {
	"avx", "avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "adx", "rdseed",
	"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl",
	"clflushopt", "clwb", "xsavec", "xsaves", "pku", "ospke", "invpcid",
	"3dnowprefetch", NULL
};
static const char *const skx_no[] = {
	"avx512ifma", "avx512vbmi", "avx512_vnni", "avx512_bf16",
	"avx512_vpopcntdq", "avx512er", "avx512pf", "sha_ni", "vaes",
	"gfni", "amx_tile", "sse4a", "rdpid", NULL
};

static void test_skylake_sp(void **state)
{
	(void)state;
	mg_profile p;

	load(DATA "skylake-sp.json", &p);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.model, 0x55);
	assert_int_equal(p.stepping, 4);
	assert_int_equal(p.xsave_size, 0xA88);
	expect(&p, skx_yes, skx_no);
	assert_int_equal(count_family(&p.features, MG_FAM_AVX512), 5);
	assert_int_equal(mg_x86_64_level_of(&p.features), 4);
	mg_profile_free(&p);
}

/* XCR0 = 0x7: CPUID still advertises AVX-512 but the OS did not enable
 * opmask/ZMM state, so none of it is usable; AVX/AVX2 still are. */
static void test_skylake_sp_xcr0_without_zmm(void **state)
{
	(void)state;
	mg_profile p;
	static const char *const yes[] = { "avx", "avx2", "fma", "f16c", "bmi2", NULL };
	static const char *const no[] = { "avx512f", "avx512cd", "avx512bw",
					  "avx512dq", "avx512vl", "pku", NULL };

	load(DATA "skylake-sp-xcr0-7.json", &p);
	assert_int_equal(p.xcr0, 0x7);
	assert_int_equal(p.xsave_size, 0x340);
	expect(&p, yes, no);
	assert_int_equal(count_family(&p.features, MG_FAM_AVX512), 0);
	assert_int_equal(mg_x86_64_level_of(&p.features), 3);
	mg_profile_free(&p);
}

/* Derivation straight from a dump: XCR0 unknown / OSXSAVE clear. */
static void test_skylake_sp_no_xcr0(void **state)
{
	(void)state;
	mg_profile p;
	mg_feature_set s;

	load(DATA "skylake-sp.json", &p);
	mg_derive_features(&p.cpuid, false, 0, &s);
	assert_false(mg_fset_has(&s, mg_feature_by_name("avx")));
	assert_false(mg_fset_has(&s, mg_feature_by_name("avx512f")));
	assert_true(mg_fset_has(&s, mg_feature_by_name("sse4_2")));
	assert_true(mg_fset_has(&s, mg_feature_by_name("bmi2")));
	mg_derive_features(&p.cpuid, true, 0x2ff, &s);
	assert_true(mg_fset_has(&s, mg_feature_by_name("avx512f")));
	/* A claimed XCR0 means nothing when OSXSAVE is clear. */
	for (size_t i = 0; i < p.cpuid.count; i++)
		if (p.cpuid.leaves[i].leaf == 1)
			p.cpuid.leaves[i].ecx &= ~(1u << 27);
	mg_derive_features(&p.cpuid, true, 0x2ff, &s);
	assert_false(mg_fset_has(&s, mg_feature_by_name("avx")));
	assert_false(mg_fset_has(&s, mg_feature_by_name("osxsave")));
	mg_profile_free(&p);
}

static void test_zen3(void **state)
{
	(void)state;
	mg_profile p;
	static const char *const yes[] = {
		"avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe",
		"adx", "sha_ni", "vaes", "vpclmulqdq", "aes", "pclmulqdq",
		"clzero", "sse4a", "rdpid", "rdseed", "clflushopt", "clwb",
		"misalignsse", "3dnowprefetch", "xsavec", "xsaves", "pku",
		"ospke", "lahf_lm", "cx16", "popcnt", NULL
	};
	static const char *const no[] = {
		"avx512f", "avx512vl", "avx512_vnni", "gfni", "avx_vnni",
		"xop", "fma4", "tbm", "amx_tile", "sha512", "movdiri", NULL
	};

	load(DATA "zen3-epyc-7763.json", &p);
	assert_string_equal(p.vendor, "AuthenticAMD");
	assert_int_equal(p.family, 0x19);
	assert_int_equal(p.model, 0x01);
	assert_int_equal(p.stepping, 1);
	assert_string_equal(p.brand, "AMD EPYC 7763 64-Core Processor");
	assert_int_equal(p.xsave_size, 0x988);
	expect(&p, yes, no);
	assert_int_equal(count_family(&p.features, MG_FAM_AVX512), 0);
	assert_int_equal(mg_x86_64_level_of(&p.features), 3);
	mg_profile_free(&p);
}

/* Family/model rules on synthetic leaf 1 values. */
/*
 * FSGSBASE (and the other kernel gates, MG_OS_*) is usable only when the
 * kernel enables it: a dump that does not say leaves it unknown (the
 * recorded machines above), one that says decides it.
 */
static void test_os_gates(void **state)
{
	(void)state;
	static const struct {
		const char *os;          /* inserted after the first '{' */
		bool usable, unknown;
	} cases[] = {
		{ "", false, true },
		{ "\"os_support\": {\"fsgsbase\": true},", true, false },
		{ "\"os_support\": {\"fsgsbase\": false, \"later\": 1},", false, false },
		{ "\"os_support\": {\"user_shstk\": true},", false, true },
	};
	size_t len;
	char *text = tu_read_file(DATA "ivybridge-ep.json", &len);
	mg_feature_id f = mg_feature_by_name("fsgsbase");
	assert_non_null(text);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *doc;
		mg_profile p;
		mg_error err = { 0 };
		assert_true(asprintf(&doc, "{%s%s", cases[i].os, strchr(text, '{') + 1) > 0);
		if (mg_profile_from_json(doc, strlen(doc), "case", &p, &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_int_equal(mg_fset_has(&p.features, f), cases[i].usable);
		assert_int_equal(mg_fset_has(&p.unknown, f), cases[i].unknown);
		mg_profile_free(&p);
		free(doc);
	}
	/* A gate that is not a boolean is a malformed profile. */
	char *doc;
	mg_profile p;
	mg_error err = { 0 };
	assert_true(asprintf(&doc, "{\"os_support\": {\"fsgsbase\": 1},%s",
			     strchr(text, '{') + 1) > 0);
	assert_int_equal(mg_profile_from_json(doc, strlen(doc), "bad", &p, &err), -1);
	assert_non_null(strstr(err.msg, "os_support.fsgsbase"));
	free(doc);
	free(text);
}

static void test_identity_rules(void **state)
{
	(void)state;
	struct { uint32_t eax; int family, model, stepping; } cases[] = {
		{ 0x000306E4, 6, 0x3E, 4 },     /* Ivy Bridge-EP */
		{ 0x000806F8, 6, 0x8F, 8 },     /* Sapphire Rapids */
		{ 0x00A00F11, 0x19, 0x01, 1 },  /* Zen 3 */
		{ 0x00B00F21, 0x1A, 0x02, 1 },  /* Zen 5 */
		{ 0x00000F41, 0x0F, 0x04, 1 },  /* NetBurst: ext family 0 */
		{ 0x00010551, 5, 0x05, 1 },     /* family 5: ext model ignored */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mg_profile p;
		mg_error err = { 0 };
		mg_profile_init(&p);
		assert_int_equal(mg_cpuid_dump_add(&p.cpuid, 0, 0, 1, 0, 0, 0, &err), 0);
		assert_int_equal(mg_cpuid_dump_add(&p.cpuid, 1, 0, cases[i].eax, 0, 0, 0, &err), 0);
		assert_int_equal(mg_profile_fill_identity(&p, &err), 0);
		assert_int_equal(p.family, cases[i].family);
		assert_int_equal(p.model, cases[i].model);
		assert_int_equal(p.stepping, cases[i].stepping);
		assert_null(p.brand);
		mg_profile_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_honours_maximum),
		cmocka_unit_test(test_ivybridge),
		cmocka_unit_test(test_ivybridge_out_of_range_garbage),
		cmocka_unit_test(test_skylake_sp),
		cmocka_unit_test(test_skylake_sp_xcr0_without_zmm),
		cmocka_unit_test(test_skylake_sp_no_xcr0),
		cmocka_unit_test(test_zen3),
		cmocka_unit_test(test_os_gates),
		cmocka_unit_test(test_identity_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
