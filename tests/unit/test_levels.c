/*
 * test_levels.c - x86-64 psABI micro-architecture levels.
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
#include "support/testutil.h"

static void set_of(mg_feature_set *s, const char *csv)
{
	char buf[1024], *tok, *save = NULL;

	mg_fset_clear(s);
	snprintf(buf, sizeof(buf), "%s", csv);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		mg_feature_id id = mg_feature_by_name(tok);

		if (id == MG_FEATURE_NONE)
			fail_msg("unknown feature %s", tok);
		mg_fset_add(s, id);
	}
}

/* The exact psABI lists (as Linux flag names), plus xsave, which v3's
 * OSXSAVE implies. */
static void test_exact_lists(void **state)
{
	(void)state;
	static const char *const want[4] = {
		"cmov,cx8,fpu,fxsr,lm,mmx,sse,sse2",
		"cmov,cx16,cx8,fpu,fxsr,lahf_lm,lm,mmx,pni,popcnt,sse,sse2,sse4_1,sse4_2,ssse3",
		"abm,avx,avx2,bmi1,bmi2,cmov,cx16,cx8,f16c,fma,fpu,fxsr,lahf_lm,lm,mmx,movbe,"
		"osxsave,pni,popcnt,sse,sse2,sse4_1,sse4_2,ssse3,xsave",
		"abm,avx,avx2,avx512bw,avx512cd,avx512dq,avx512f,avx512vl,bmi1,bmi2,cmov,cx16,"
		"cx8,f16c,fma,fpu,fxsr,lahf_lm,lm,mmx,movbe,osxsave,pni,popcnt,sse,sse2,sse4_1,"
		"sse4_2,ssse3,xsave",
	};

	for (int l = 1; l <= 4; l++) {
		mg_feature_set s;
		char *str;

		assert_true(mg_x86_64_level_features(l, &s));
		str = mg_fset_to_string(&s);
		assert_non_null(str);
		assert_string_equal(str, want[l - 1]);
		free(str);
	}
}

static void test_nesting_and_level_of(void **state)
{
	(void)state;
	mg_feature_set lv[5], s;

	assert_false(mg_x86_64_level_features(0, &s));
	assert_false(mg_x86_64_level_features(5, &s));
	for (int l = 1; l <= 4; l++) {
		assert_true(mg_x86_64_level_features(l, &lv[l]));
		assert_int_equal(mg_x86_64_level_of(&lv[l]), l);
		if (l > 1) {
			assert_true(mg_fset_is_subset(&lv[l - 1], &lv[l]));
			assert_false(mg_fset_equal(&lv[l - 1], &lv[l]));
		}
	}
	/* v3 minus one feature is v2. */
	s = lv[3];
	mg_fset_remove(&s, mg_feature_by_name("movbe"));
	assert_int_equal(mg_x86_64_level_of(&s), 2);
	/* v4 features without v3's osxsave: only v2 (levels are cumulative). */
	s = lv[4];
	mg_fset_remove(&s, mg_feature_by_name("osxsave"));
	assert_int_equal(mg_x86_64_level_of(&s), 2);
	/* Extra features do not hurt. */
	s = lv[2];
	mg_fset_add(&s, mg_feature_by_name("avx512f"));
	mg_fset_add(&s, mg_feature_by_name("sha_ni"));
	assert_int_equal(mg_x86_64_level_of(&s), 2);
	mg_fset_clear(&s);
	assert_int_equal(mg_x86_64_level_of(&s), 0);
}

static void test_long_mode_implied(void **state)
{
	(void)state;
	mg_feature_set s, v1;

	/* The XED-derived catalogs carry lm but not cx8: v1 needs the
	 * architectural implications of long mode. */
	set_of(&s, "lm,cmov,fpu,fxsr,mmx,sse,sse2");
	assert_int_equal(mg_x86_64_level_of(&s), 0);
	mg_fset_add_long_mode_implied(&s);
	assert_int_equal(mg_x86_64_level_of(&s), 1);
	assert_true(mg_fset_has(&s, mg_feature_by_name("syscall")));
	/* Without lm nothing is implied. */
	set_of(&s, "sse");
	mg_fset_add_long_mode_implied(&s);
	assert_int_equal(mg_fset_count(&s), 1);
	assert_true(mg_x86_64_level_features(1, &v1));
}

/* Real profiles: c5.large (Skylake-SP) is v4, c4.large (Haswell) is v3. */
static void test_catalog_profiles(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		int level;
	} cases[] = {
		{ "c5.large.json", 4 },
		{ "c4.large.json", 3 },
	};
	const char *data = tu_shared_data();

	if (data == NULL)
		tu_skip(TU_SKIP_NO_SHARED, "no ../shared/data");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[4096], *text, *p;
		mg_feature_set s;

		snprintf(path, sizeof(path), "%s/catalogs/aws-us-west-2/%s", data, cases[i].file);
		text = tu_read_file(path, NULL);
		if (text == NULL)
			tu_skip(TU_SKIP_NO_SHARED, "no %s", path);
		/* Minimal reading of the "features" array: quoted names up to ']'. */
		mg_fset_clear(&s);
		p = strstr(text, "\"features\"");
		assert_non_null(p);
		p = strchr(p, '[');
		assert_non_null(p);
		for (p++; *p && *p != ']'; p++) {
			char name[64];
			char *end;

			if (*p != '"')
				continue;
			end = strchr(p + 1, '"');
			assert_non_null(end);
			assert_true((size_t)(end - p - 1) < sizeof(name));
			memcpy(name, p + 1, (size_t)(end - p - 1));
			name[end - p - 1] = '\0';
			if (mg_feature_by_name(name) == MG_FEATURE_NONE)
				fail_msg("%s: unknown feature %s", cases[i].file, name);
			mg_fset_add(&s, mg_feature_by_name(name));
			p = end;
		}
		free(text);
		mg_fset_add_long_mode_implied(&s);
		if (mg_x86_64_level_of(&s) != cases[i].level)
			fail_msg("%s: level %d, want %d", cases[i].file,
				 mg_x86_64_level_of(&s), cases[i].level);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_lists),
		cmocka_unit_test(test_nesting_and_level_of),
		cmocka_unit_test(test_long_mode_implied),
		cmocka_unit_test(test_catalog_profiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
