/*
 * test_restrict.c - restriction plans (src/restrict) for given host and
 * target feature sets: each switch's value, merging with what the
 * environment already sets, and what is reported as not restricted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restrict/restrict.h"
#include "support/testutil.h"

static void set_of(mg_feature_set *s, const char *list)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s", list);
	mg_fset_clear(s);
	char *save = NULL;
	for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save))
		mg_fset_add(s, tu_feature(f));
}

#define BASE "fpu,cx8,cmov,mmx,fxsr,sse,sse2,syscall,lm,tsc,pni,ssse3,sse4_1,sse4_2,popcnt," \
	     "xsave,osxsave,avx,pclmulqdq,aes"
#define HASWELL BASE ",avx2,fma,f16c,bmi1,bmi2,abm,movbe,rdrand"
#define SKX HASWELL ",avx512f,avx512cd,avx512bw,avx512dq,avx512vl,adx,rdseed,xsavec"
#define ICL SKX ",avx512_vnni,avx512ifma,avx512vbmi,avx512_vbmi2,avx512_bitalg," \
	    "avx512_vpopcntdq,sha_ni,vaes,vpclmulqdq,gfni"

static const char *env_of(const mg_restriction *r, const char *name)
{
	for (size_t i = 0; i < r->nenv; i++)
		if (strcmp(r->env[i].name, name) == 0)
			return r->env[i].value;
	return NULL;
}

static bool cannot_has(const mg_restriction *r, const char *needle)
{
	for (size_t i = 0; i < r->ncannot; i++)
		if (strstr(r->cannot[i], needle))
			return true;
	return false;
}

static void plan(const char *host, const char *allowed, char **argv, char **envp,
		 mg_restriction *r)
{
	mg_feature_set h, a;
	mg_error err = { 0 };
	set_of(&h, host);
	set_of(&a, allowed);
	mg_restrict_input in = { .host = &h, .host_vendor = "GenuineIntel", .allowed = &a,
				 .argv = argv, .envp = envp };
	assert_int_equal(mg_restrict_plan(&in, r, &err), 0);
}

static char *cmd_true[] = { "true", NULL };
static char *no_env[] = { NULL };

static void test_nothing_to_restrict(void **state)
{
	(void)state;
	mg_restriction r;
	plan(HASWELL, SKX, cmd_true, no_env, &r);   /* targets have more than the host */
	assert_true(mg_fset_is_empty(&r.removed));
	assert_int_equal(r.nenv, 0);
	assert_int_equal(r.ncannot, 0);
	mg_restriction_free(&r);
}

static void test_icelake_to_haswell(void **state)
{
	(void)state;
	mg_restriction r;
	plan(ICL, HASWELL, cmd_true, no_env, &r);
	assert_string_equal(env_of(&r, "GLIBC_TUNABLES"),
			    "glibc.cpu.hwcaps=-XSAVEC,-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL");
	assert_string_equal(env_of(&r, "LD_BIND_NOW"), "1");
	/* leaf 7 EBX: avx512f 16, dq 17, rdseed 18, adx 19, ifma 21, cd 28,
	 * sha 29, bw 30, vl 31; ECX (<< 32): vbmi 1, vbmi2 6, gfni 8, vaes 9,
	 * vpclmulqdq 10, vnni 11, bitalg 12, vpopcntdq 14. */
	assert_string_equal(env_of(&r, "OPENSSL_ia32cap"), "~0x0:~0x5f42f02f0000");
	assert_string_equal(env_of(&r, "NPY_DISABLE_CPU_FEATURES"),
			    "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL");
	assert_string_equal(env_of(&r, "OPENBLAS_CORETYPE"), "Haswell");
	assert_string_equal(env_of(&r, "JAVA_TOOL_OPTIONS"), "-XX:UseAVX=2 -XX:-UseSHA");
	assert_true(cannot_has(&r, "HotSpot: no flag keeps its adx"));
	assert_true(cannot_has(&r, "std::random_device"));   /* rdseed */
	assert_false(cannot_has(&r, "libzstd"));
	assert_int_equal(r.nargs, 0);
	mg_restriction_free(&r);
}

static void test_state_closure(void **state)
{
	(void)state;
	mg_restriction r;
	/* A target list with avx2 but no avx: avx2 goes too (glibc's -AVX
	 * alone would leave AVX2 active). */
	plan(HASWELL, BASE ",avx2,fma,f16c,bmi1,bmi2,abm,movbe,rdrand", cmd_true, no_env, &r);
	assert_true(mg_fset_is_empty(&r.removed));
	mg_restriction_free(&r);
	char allowed[1024];
	snprintf(allowed, sizeof(allowed), "%s", HASWELL);
	char *avx = strstr(allowed, ",avx,");
	memmove(avx, avx + 4, strlen(avx + 4) + 1);
	plan(HASWELL, allowed, cmd_true, no_env, &r);
	assert_true(mg_restrict_removed(&r, "avx2"));
	assert_true(mg_restrict_removed(&r, "fma"));
	assert_true(mg_restrict_removed(&r, "f16c"));
	assert_false(mg_restrict_removed(&r, "bmi2"));
	assert_non_null(strstr(env_of(&r, "GLIBC_TUNABLES"), "-AVX,-AVX2,-FMA"));
	assert_string_equal(env_of(&r, "OPENBLAS_CORETYPE"), "Nehalem");
	mg_restriction_free(&r);
}

static void test_merges_existing_environment(void **state)
{
	(void)state;
	mg_restriction r;
	char *env[] = { "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX2:x.y=1",
			"OPENSSL_ia32cap=~0x2:~0x1", "NPY_DISABLE_CPU_FEATURES=AVX512_ICL FMA3",
			"JAVA_TOOL_OPTIONS=-Xmx1g", "OPENBLAS_CORETYPE=Prescott", NULL };
	plan(ICL, HASWELL, cmd_true, env, &r);
	assert_string_equal(env_of(&r, "GLIBC_TUNABLES"),
			    "glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX2,-XSAVEC,-AVX512F,-AVX512CD,"
			    "-AVX512BW,-AVX512DQ,-AVX512VL:x.y=1");
	assert_string_equal(env_of(&r, "OPENSSL_ia32cap"), "~0x2:~0x5f42f02f0001");
	assert_string_equal(env_of(&r, "NPY_DISABLE_CPU_FEATURES"),
			    "AVX512_ICL FMA3 AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL");
	assert_string_equal(env_of(&r, "JAVA_TOOL_OPTIONS"), "-Xmx1g -XX:UseAVX=2 -XX:-UseSHA");
	assert_null(env_of(&r, "OPENBLAS_CORETYPE"));   /* the user's is within */

	/* The environment COMMAND gets: ours replace, the rest stays. */
	mg_error err = { 0 };
	char **e = mg_restrict_environ(&r, env, &err);
	assert_non_null(e);
	size_t n = 0, tunables = 0;
	for (; e[n]; n++)
		tunables += strncmp(e[n], "GLIBC_TUNABLES=", 15) == 0;
	assert_int_equal(tunables, 1);
	assert_int_equal(n, 5 + 1);   /* + LD_BIND_NOW */
	free(e);
	mg_restriction_free(&r);

	/* An absolute OPENSSL_ia32cap keeps its bits minus ours; one without
	 * a second word keeps leaf 7 cleared; a malformed one is replaced. */
	char *abs1[] = { "OPENSSL_ia32cap=0xff:0xffffffffffffffff", NULL };
	plan(ICL, HASWELL, cmd_true, abs1, &r);
	assert_string_equal(env_of(&r, "OPENSSL_ia32cap"), "0xff:0xffffa0bd0fd0ffff");
	mg_restriction_free(&r);
	char *abs2[] = { "OPENSSL_ia32cap=0x3", NULL };
	plan(ICL, HASWELL, cmd_true, abs2, &r);
	assert_string_equal(env_of(&r, "OPENSSL_ia32cap"), "0x3:0x0");
	mg_restriction_free(&r);
	char *bad[] = { "OPENSSL_ia32cap=banana", NULL };
	plan(ICL, HASWELL, cmd_true, bad, &r);
	assert_string_equal(env_of(&r, "OPENSSL_ia32cap"), "~0x0:~0x5f42f02f0000");
	assert_true(cannot_has(&r, "banana"));
	mg_restriction_free(&r);
}

static void test_jit_engines(void **state)
{
	(void)state;
	mg_restriction r;
	char *node[] = { "/usr/bin/node", "--enable-avx2", "app.js", "--enable-fma3", NULL };
	plan(HASWELL, BASE, node, no_env, &r);
	assert_int_equal(r.nargs, 5);   /* avx2, fma3, bmi1, bmi2, lzcnt */
	assert_string_equal(r.args[0], "--no-enable-avx2");
	assert_string_equal(r.args[4], "--no-enable-lzcnt");
	assert_true(cannot_has(&r, "COMMAND's own --enable-avx2"));
	assert_false(cannot_has(&r, "--enable-fma3"));   /* the script's argument */
	mg_error err = { 0 };
	char **argv = mg_restrict_argv(&r, node, &err);
	assert_non_null(argv);
	assert_string_equal(argv[0], "/usr/bin/node");
	assert_string_equal(argv[1], "--no-enable-avx2");
	assert_string_equal(argv[6], "--enable-avx2");
	assert_string_equal(argv[7], "app.js");
	assert_null(argv[9]);
	free(argv);
	assert_string_equal(env_of(&r, "JAVA_TOOL_OPTIONS"),
			    "-XX:UseAVX=1 -XX:-UseFMA -XX:-UseBMI1Instructions "
			    "-XX:-UseCountTrailingZerosInstruction -XX:-UseBMI2Instructions "
			    "-XX:-UseCountLeadingZerosInstruction");
	mg_restriction_free(&r);

	/* Not node: the flags cannot go anywhere, and that is said. */
	plan(HASWELL, BASE, cmd_true, no_env, &r);
	assert_int_equal(r.nargs, 0);
	assert_true(cannot_has(&r, "V8: a node that COMMAND starts itself"));
	mg_restriction_free(&r);

	/* java's own -XX:+UseSHA would win over JAVA_TOOL_OPTIONS. */
	char *java[] = { "java", "-XX:+UseSHA", "-jar", "a.jar", NULL };
	char *env[] = { "_JAVA_OPTIONS=-XX:UseAVX=3", NULL };
	plan(ICL, HASWELL, java, env, &r);
	assert_true(cannot_has(&r, "its command line sets -XX:+UseSHA"));
	assert_true(cannot_has(&r, "_JAVA_OPTIONS sets -XX:UseAVX=3"));
	mg_restriction_free(&r);
}

/* PKU has no switch: reported where the targets lack it, not otherwise. */
static void test_pku_reported(void **state)
{
	(void)state;
	mg_restriction r;
	plan(SKX ",pku,ospke", SKX, cmd_true, no_env, &r);
	assert_true(cannot_has(&r, "pkey_get/pkey_set"));
	mg_restriction_free(&r);
	plan(ICL, HASWELL, cmd_true, no_env, &r);
	assert_false(cannot_has(&r, "pkey_get/pkey_set"));
	mg_restriction_free(&r);
}

static void test_numpy_baseline_and_levels(void **state)
{
	(void)state;
	mg_restriction r;
	plan(SKX, "fpu,cx8,cmov,mmx,fxsr,sse,sse2,syscall,lm,tsc", cmd_true, no_env, &r);
	assert_true(cannot_has(&r, "numpy 1.24: its baseline"));
	assert_true(cannot_has(&r, "OpenBLAS: no kernel set"));
	assert_non_null(strstr(env_of(&r, "JAVA_TOOL_OPTIONS"), "-XX:UseAVX=0 -XX:UseSSE=2"));
	assert_true(cannot_has(&r, "libzstd"));
	mg_restriction_free(&r);
}

static void test_common_features(void **state)
{
	(void)state;
	mg_target_list t = { 0 };
	mg_error err = { 0 };
	for (int i = 0; i < 2; i++) {
		mg_profile p;
		mg_profile_init(&p);
		p.name = strdup(i ? "b" : "a");
		set_of(&p.features, i ? "lm,sse4_2,avx,avx2" : "lm,sse4_2,avx,aes");
		if (i)
			set_of(&p.unknown, "avx");
		assert_int_equal(mg_target_list_take(&t, &p, &err), 0);
	}
	mg_feature_set common;
	mg_restrict_common(&t, &common);
	assert_true(mg_fset_has(&common, tu_feature("sse4_2")));
	assert_true(mg_fset_has(&common, tu_feature("sse2")));   /* implied by lm */
	assert_false(mg_fset_has(&common, tu_feature("avx")));   /* unknown on b */
	assert_false(mg_fset_has(&common, tu_feature("aes")));
	assert_false(mg_fset_has(&common, tu_feature("avx2")));
	mg_target_list_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_to_restrict),
		cmocka_unit_test(test_icelake_to_haswell),
		cmocka_unit_test(test_state_closure),
		cmocka_unit_test(test_merges_existing_environment),
		cmocka_unit_test(test_jit_engines),
		cmocka_unit_test(test_numpy_baseline_and_levels),
		cmocka_unit_test(test_pku_reported),
		cmocka_unit_test(test_common_features),
	};
	return cmocka_run_group_tests_name("restrict", tests, NULL, NULL);
}
