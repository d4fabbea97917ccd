/*
 * test_criu_policy.c - CRIU's cpuinfo rules over hand-made profile pairs
 * (tests/data/verdict/criu/: skylake-sp with single CPUID edits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "features/profile.h"
#include "verdict/criu_policy.h"
#include "verdict/verdict.h"

#define DIR "tests/data/verdict/criu/"

static void load(const char *name, mg_profile *p)
{
	char path[256];
	mg_error err = { 0 };
	snprintf(path, sizeof(path), DIR "%s.json", name);
	mg_profile_init(p);
	if (mg_profile_load(path, p, &err) != 0)
		fail_msg("%s: %s", path, err.msg);
}

/* Verdict of `criu cpuinfo check` with an image from src restored on dst. */
static mg_verdict_kind criu(const char *src, const char *dst, unsigned caps)
{
	mg_profile s, d;
	mg_verdict v;
	load(src, &s);
	load(dst, &d);
	mg_verdict_criu(&s, &d, caps, &v);
	mg_profile_free(&s);
	mg_profile_free(&d);
	return v.kind;
}

static void test_words_like_compel(void **state)
{
	(void)state;
	mg_profile p;
	mg_compel_cpuinfo c;
	mg_error err = { 0 };

	load("skx", &p);
	assert_int_equal(mg_compel_cpuinfo_from_profile(&p, &c, &err), 0);
	assert_true(c.intel);
	assert_int_equal(c.family, 6);
	assert_int_equal(c.model, 85);
	assert_int_equal(c.cap[4], 0x7ffefbff);       /* CPUID_1_ECX */
	assert_int_equal(c.cap[0], 0xbfebfbff);       /* CPUID_1_EDX */
	assert_int_equal(c.cap[9], 0xd39ffffb);       /* CPUID_7_0_EBX */
	assert_int_equal(c.cap[11], 0x00000018);      /* CPUID_7_0_ECX */
	assert_int_equal(c.cap[10], 0x0000000f);      /* CPUID_D_1_EAX */
	/* synthetic word 3: NOPL, CPUID and, on Intel family 6, REP_GOOD */
	assert_int_equal(c.cap[3], (1u << 16) | (1u << 20) | (1u << 25));
	/* 0x2ff & XFEATURE_MASK_USER & ~compel's 0x10a "supervisor" mask */
	assert_int_equal(c.xfeatures_mask, 0x2f5);
	assert_int_equal(c.xsave_size, 0xa88);
	assert_int_equal(c.xsave_size_max, 0xa88);
	mg_profile_free(&p);
}

static void test_ins_mask(void **state)
{
	(void)state;
	/* fma is outside x86_ins_capability_mask: ins does not see it */
	assert_int_equal(criu("skx", "skx-nofma", MG_CRIU_CAP_INS), MG_VERDICT_COMPATIBLE);
	assert_int_equal(criu("skx", "skx-nofma", MG_CRIU_CAP_DEFAULT), MG_VERDICT_COMPATIBLE);
	/* ... but the strict cpu rule does */
	assert_int_equal(criu("skx", "skx-nofma", MG_CRIU_CAP_CPU), MG_VERDICT_INCOMPATIBLE);
	/* avx2 is inside the mask */
	assert_int_equal(criu("skx", "skx-noavx2", MG_CRIU_CAP_INS), MG_VERDICT_INCOMPATIBLE);
	assert_int_equal(criu("skx", "skx-noavx2", MG_CRIU_CAP_FPU), MG_VERDICT_COMPATIBLE);
	/* a richer destination is fine for ins, not for cpu */
	assert_int_equal(criu("skx-noavx2", "skx", MG_CRIU_CAP_INS), MG_VERDICT_COMPATIBLE);
	assert_int_equal(criu("skx-noavx2", "skx", MG_CRIU_CAP_ALL), MG_VERDICT_INCOMPATIBLE);
	assert_int_equal(criu("skx", "skx", MG_CRIU_CAP_ALL), MG_VERDICT_COMPATIBLE);
}

static void test_ins_missing_names(void **state)
{
	(void)state;
	mg_profile s, d;
	mg_verdict v;
	load("skx", &s);
	load("skx-noavx2", &d);
	mg_verdict_criu(&s, &d, MG_CRIU_CAP_INS, &v);
	assert_true(mg_fset_has(&v.missing, mg_feature_by_name("avx2")));
	assert_int_equal(mg_fset_count(&v.missing), 1);
	mg_profile_free(&s);
	mg_profile_free(&d);
}

static void test_xsave_features_subset(void **state)
{
	(void)state;
	/* target lacks the AVX-512 state components the source has */
	assert_int_equal(criu("skx", "skx-no-avx512-xstate", MG_CRIU_CAP_FPU),
			 MG_VERDICT_INCOMPATIBLE);
	assert_int_equal(criu("skx", "skx-no-avx512-xstate", MG_CRIU_CAP_INS),
			 MG_VERDICT_COMPATIBLE);
	/* a superset on the target is accepted (sizes equal here) */
	assert_int_equal(criu("skx-no-avx512-xstate", "skx", MG_CRIU_CAP_FPU),
			 MG_VERDICT_COMPATIBLE);
}

static void test_xsave_sizes_equal(void **state)
{
	(void)state;
	assert_int_equal(criu("skx", "skx-xsave-size", MG_CRIU_CAP_FPU), MG_VERDICT_INCOMPATIBLE);
	assert_int_equal(criu("skx-xsave-size", "skx", MG_CRIU_CAP_FPU), MG_VERDICT_INCOMPATIBLE);
	assert_int_equal(criu("skx", "skx-xsave-size", MG_CRIU_CAP_INS), MG_VERDICT_COMPATIBLE);
	assert_int_equal(criu("skx", "skx-xsave-size-max", MG_CRIU_CAP_FPU),
			 MG_VERDICT_INCOMPATIBLE);
	assert_int_equal(criu("skx", "skx-xsave-size-max", MG_CRIU_CAP_INS | MG_CRIU_CAP_CPU),
			 MG_VERDICT_COMPATIBLE);
}

static void test_unsupported_vendor_and_no_cpuid(void **state)
{
	(void)state;
	mg_profile s, d;
	mg_verdict v;

	assert_int_equal(criu("skx", "skx-via", MG_CRIU_CAP_INS), MG_VERDICT_INCOMPATIBLE);

	/* a feature-list-only target: CRIU's rules cannot be evaluated */
	load("skx", &s);
	mg_profile_init(&d);
	d.name = strdup("minimal");
	d.features = s.features;
	d.unknown = s.unknown;      /* fsgsbase: the recorded dump names no kernel */
	mg_verdict_criu(&s, &d, MG_CRIU_CAP_DEFAULT, &v);
	assert_int_equal(v.kind, MG_VERDICT_UNKNOWN);
	assert_true(v.nreasons >= 1);
	assert_non_null(strstr(v.reasons[0], "no raw CPUID"));
	/* the criu-like policy works on it: same features, compatible */
	mg_verdict_criu_like(&s, &d, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);
	/* and notices an ins-mask feature going away, not a non-mask one */
	mg_fset_remove(&d.features, mg_feature_by_name("fma"));
	mg_verdict_criu_like(&s, &d, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);
	mg_fset_remove(&d.features, mg_feature_by_name("avx2"));
	mg_verdict_criu_like(&s, &d, &v);
	assert_int_equal(v.kind, MG_VERDICT_INCOMPATIBLE);
	assert_true(mg_fset_has(&v.missing, mg_feature_by_name("avx2")));
	/* an undecidable mask feature on the target makes it unknown */
	mg_fset_add(&d.features, mg_feature_by_name("avx2"));
	mg_fset_remove(&d.features, mg_feature_by_name("aes"));
	mg_fset_add(&d.unknown, mg_feature_by_name("aes"));
	mg_verdict_criu_like(&s, &d, &v);
	assert_int_equal(v.kind, MG_VERDICT_UNKNOWN);
	mg_profile_free(&s);
	mg_profile_free(&d);
}

static void test_ins_feature_set(void **state)
{
	(void)state;
	mg_feature_set m;
	mg_criu_ins_features(&m);
	assert_true(mg_fset_has(&m, mg_feature_by_name("avx2")));
	assert_true(mg_fset_has(&m, mg_feature_by_name("avx512vl")));
	assert_true(mg_fset_has(&m, mg_feature_by_name("sse4_2")));
	assert_true(mg_fset_has(&m, mg_feature_by_name("rdpid")));
	assert_false(mg_fset_has(&m, mg_feature_by_name("fma")));
	assert_false(mg_fset_has(&m, mg_feature_by_name("xsaves")));
	assert_true(mg_fset_has(&m, mg_feature_by_name("gfni")));
}

/* CRIU's --cpu-cap reading: names add to the default fpu,ins. */
static unsigned caps_of(const char *arg)
{
	unsigned c = MG_CRIU_CAP_DEFAULT;
	mg_error err = { 0 };
	if (mg_criu_parse_caps(arg, &c, &err) != 0)
		fail_msg("--cpu-cap %s: %s", arg, err.msg);
	return c;
}

static void test_parse_caps(void **state)
{
	(void)state;
	const unsigned F = MG_CRIU_CAP_FPU, I = MG_CRIU_CAP_INS, C = MG_CRIU_CAP_CPU;
	assert_int_equal(caps_of("fpu,ins"), F | I);
	assert_int_equal(caps_of("fpu"), F | I);         /* not fpu alone */
	assert_int_equal(caps_of("ins"), F | I);
	assert_int_equal(caps_of("cpu"), F | I | C);
	assert_int_equal(caps_of("all"), MG_CRIU_CAP_ALL);
	assert_int_equal(caps_of("^fpu"), I);
	assert_int_equal(caps_of("none,ins"), I);
	assert_int_equal(caps_of("none,fpu"), F);
	assert_int_equal(caps_of("none"), 0u);
	assert_int_equal(caps_of("^none"), MG_CRIU_CAP_ALL);
	assert_int_equal(caps_of("all,^cpu"), F | I);
	assert_int_equal(caps_of("^fpu,cpu"), I | C);    /* ',' ends the '^' */
	assert_int_equal(caps_of("^fpuins"), 0u);        /* ... nothing else does */
	assert_int_equal(caps_of("fpuins"), F | I);      /* names by their letters, as CRIU */
	assert_int_equal(caps_of(""), F | I);

	unsigned c = MG_CRIU_CAP_FPU;
	mg_error err = { 0 };
	assert_int_equal(mg_criu_parse_caps("fpu,bogus", &c, &err), -1);
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_non_null(strstr(err.msg, "bogus"));
	assert_int_equal(c, MG_CRIU_CAP_FPU);             /* unchanged on error */
}

/* --cpu-cap=none: CRIU restores without reading cpuinfo.img at all. */
static void test_caps_none(void **state)
{
	(void)state;
	assert_int_equal(criu("skx", "skx-noavx2", 0), MG_VERDICT_COMPATIBLE);
	assert_int_equal(criu("skx", "skx-xsave-size", 0), MG_VERDICT_COMPATIBLE);
	/* ... but still needs a CPU it can run on */
	assert_int_equal(criu("skx", "skx-via", 0), MG_VERDICT_INCOMPATIBLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_like_compel),
		cmocka_unit_test(test_ins_mask),
		cmocka_unit_test(test_ins_missing_names),
		cmocka_unit_test(test_xsave_features_subset),
		cmocka_unit_test(test_xsave_sizes_equal),
		cmocka_unit_test(test_unsupported_vendor_and_no_cpuid),
		cmocka_unit_test(test_ins_feature_set),
		cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_caps_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
