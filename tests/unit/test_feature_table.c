/*
 * test_feature_table.c - the feature table against the shared CPUID
 * reference, plus name lookup and set operations.
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

static mg_feature_id must(const char *name)
{
	mg_feature_id id = mg_feature_by_name(name);

	if (id == MG_FEATURE_NONE)
		fail_msg("feature '%s' missing from the table", name);
	return id;
}

static int parse_reg(const char *s, mg_cpuid_reg *reg)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*reg = (mg_cpuid_reg)i;
			return 0;
		}
	return -1;
}

/*
 * Every row of cpuid-reference.tsv: the table has a feature at exactly
 * that (leaf, subleaf, reg, bit), named linux_flag (or the lower-case
 * XED record where linux_flag is empty).
 */
static void test_reference_tsv(void **state)
{
	(void)state;
	const char *dir = tu_shared_data();
	char path[4096], *text, *line, *save = NULL;
	size_t len;
	int rows = 0;

	if (dir == NULL)
		tu_skip(TU_SKIP_NO_SHARED, "no ../shared/data");
	snprintf(path, sizeof(path), "%s/cpuid-reference.tsv", dir);
	text = tu_read_file(path, &len);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char leaf_s[32], reg_s[8], flag[64] = "", xed[64] = "";
		unsigned subleaf, bit;
		mg_cpuid_reg reg = MG_EAX;
		const char *want;
		mg_feature_id id;
		const mg_feature_info *f;
		char *fields[6];
		int nf = 0;
		char *p = line;

		if (strncmp(line, "leaf\t", 5) == 0)
			continue;
		/* Split by tabs keeping empty fields. */
		while (nf < 6) {
			fields[nf++] = p;
			p = strchr(p, '\t');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		assert_int_equal(nf, 6);
		snprintf(leaf_s, sizeof(leaf_s), "%s", fields[0]);
		subleaf = (unsigned)strtoul(fields[1], NULL, 0);
		snprintf(reg_s, sizeof(reg_s), "%s", fields[2]);
		bit = (unsigned)strtoul(fields[3], NULL, 0);
		snprintf(flag, sizeof(flag), "%s", fields[4]);
		snprintf(xed, sizeof(xed), "%s", fields[5]);
		assert_int_equal(parse_reg(reg_s, &reg), 0);

		want = flag[0] ? flag : xed;
		id = mg_feature_by_location((uint32_t)strtoul(leaf_s, NULL, 0),
					    subleaf, reg, bit);
		if (id == MG_FEATURE_NONE)
			fail_msg("no feature at %s.%u.%s.%u (%s)", leaf_s, subleaf, reg_s, bit, want);
		f = mg_feature_get(id);
		if (strcmp(f->name, want) != 0)
			fail_msg("%s.%u.%s.%u: table says '%s', reference '%s'",
				 leaf_s, subleaf, reg_s, bit, f->name, want);
		/* And the other way: the name resolves to this very row. */
		assert_int_equal(mg_feature_by_name(want), id);
		rows++;
	}
	free(text);
	assert_true(rows > 100);
}

/* Names, NFD labels and locations are unique; every row is sane. */
static void test_table_consistency(void **state)
{
	(void)state;
	size_t n = mg_feature_count();

	assert_true(n > 100);
	assert_true(n <= MG_FEATURE_SET_BITS);
	assert_null(mg_feature_get((mg_feature_id)n));
	assert_null(mg_feature_get(-1));
	for (size_t i = 0; i < n; i++) {
		const mg_feature_info *a = mg_feature_get((mg_feature_id)i);

		assert_non_null(a->name);
		assert_non_null(a->description);
		assert_true(a->bit < 32);
		assert_true((unsigned)a->family < MG_FAM_COUNT);
		assert_int_equal(mg_feature_by_name(a->name), (mg_feature_id)i);
		for (const char *c = a->name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
		if (a->field_width == 0)
			assert_int_equal(mg_feature_by_location(a->leaf, a->subleaf, a->reg, a->bit),
					 (mg_feature_id)i);
		if (a->nfd)
			assert_int_equal(mg_feature_by_name(a->nfd), (mg_feature_id)i);
		for (size_t j = i + 1; j < n; j++) {
			const mg_feature_info *b = mg_feature_get((mg_feature_id)j);

			assert_string_not_equal(a->name, b->name);
			if (a->nfd && b->nfd)
				assert_string_not_equal(a->nfd, b->nfd);
			if (a->field_width == 0 && b->field_width == 0 &&
			    a->leaf == b->leaf && a->subleaf == b->subleaf &&
			    a->reg == b->reg && a->bit == b->bit)
				fail_msg("%s and %s share a CPUID bit", a->name, b->name);
		}
	}
}

static void expect_location(const char *name, uint32_t leaf, uint32_t sub,
			    mg_cpuid_reg reg, unsigned bit)
{
	const mg_feature_info *f = mg_feature_get(must(name));

	if (f->leaf != leaf || f->subleaf != sub || f->reg != reg || f->bit != bit)
		fail_msg("%s at %#x.%u.%s.%u", name, f->leaf, f->subleaf,
			 mg_cpuid_reg_name(f->reg), f->bit);
}

/* Bits the reference TSV does not carry (AMD-only, baseline, leaf 0x24). */
static void test_non_reference_locations(void **state)
{
	(void)state;
	expect_location("3dnow", 0x80000001, 0, MG_EDX, 31);
	expect_location("3dnowext", 0x80000001, 0, MG_EDX, 30);
	expect_location("mmxext", 0x80000001, 0, MG_EDX, 22);
	expect_location("xop", 0x80000001, 0, MG_ECX, 11);
	expect_location("fma4", 0x80000001, 0, MG_ECX, 16);
	expect_location("tbm", 0x80000001, 0, MG_ECX, 21);
	expect_location("lwp", 0x80000001, 0, MG_ECX, 15);
	expect_location("misalignsse", 0x80000001, 0, MG_ECX, 7);
	expect_location("clzero", 0x80000008, 0, MG_EBX, 0);
	expect_location("invlpgb", 0x80000008, 0, MG_EBX, 3);
	expect_location("cx8", 0x1, 0, MG_EDX, 8);
	expect_location("syscall", 0x80000001, 0, MG_EDX, 11);
	expect_location("svm", 0x80000001, 0, MG_ECX, 2);
	expect_location("xgetbv1", 0xd, 1, MG_EAX, 2);
	expect_location("avx10_v1", 0x24, 0, MG_EBX, 0);
}

static void test_aliases(void **state)
{
	(void)state;
	static const char *const pairs[][2] = {
		{ "sha", "sha_ni" }, { "lzcnt", "abm" }, { "sse3", "pni" },
		{ "sse4.1", "sse4_1" }, { "sse4.2", "sse4_2" }, { "lahf", "lahf_lm" },
		{ "pclmul", "pclmulqdq" }, { "fxsave", "fxsr" }, { "cmpxchg16b", "cx16" },
		{ "bmi", "bmi1" }, { "prefetchw", "3dnowprefetch" }, { "SSE42", "sse4_2" },
		{ "AVX512VNNI", "avx512_vnni" }, { "AVXVNNI", "avx_vnni" }, { "FMA3", "fma" },
		{ "CLMUL", "pclmulqdq" }, { "AMXTILE", "amx_tile" }, { "rng", "via_padlock_rng" },
		{ "AVX2", "avx2" }, { "ssse3", "ssse3" }, { "popcnt", "popcnt" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		mg_feature_id a = mg_feature_by_name(pairs[i][0]);

		if (a != must(pairs[i][1]))
			fail_msg("alias %s does not resolve to %s", pairs[i][0], pairs[i][1]);
	}
	assert_int_equal(mg_feature_by_name("no_such_feature"), MG_FEATURE_NONE);
	assert_int_equal(mg_feature_by_name(""), MG_FEATURE_NONE);
	assert_int_equal(mg_feature_by_name(NULL), MG_FEATURE_NONE);
	/* "ace" is XED's AMX ACE, not Linux's PadLock ace. */
	expect_location("ace", 0x7, 1, MG_ECX, 11);
}

/* XCR0 requirements follow the encoding family. */
static void test_xcr0(void **state)
{
	(void)state;
	for (size_t i = 0; i < mg_feature_count(); i++) {
		const mg_feature_info *f = mg_feature_get((mg_feature_id)i);

		if (f->family == MG_FAM_AVX512)
			assert_int_equal(f->xcr0_needed & MG_XCR0_AVX512, MG_XCR0_AVX512);
		if (f->family == MG_FAM_AVX)
			assert_int_equal(f->xcr0_needed & MG_XCR0_AVX, MG_XCR0_AVX);
		if (f->family == MG_FAM_AMX)
			assert_int_equal(f->xcr0_needed & MG_XCR0_AMX, MG_XCR0_AMX);
	}
	assert_int_equal(mg_feature_get(must("fma"))->xcr0_needed, MG_XCR0_AVX);
	assert_int_equal(mg_feature_get(must("vaes"))->xcr0_needed, MG_XCR0_AVX);
	assert_int_equal(mg_feature_get(must("mpx"))->xcr0_needed,
			 MG_XCR0_BNDREGS | MG_XCR0_BNDCSR);
	assert_int_equal(mg_feature_get(must("apx_f"))->xcr0_needed, MG_XCR0_APX);
	assert_int_equal(mg_feature_get(must("pku"))->xcr0_needed, MG_XCR0_PKRU);
	assert_int_equal(mg_feature_get(must("popcnt"))->xcr0_needed, 0);
	assert_true(mg_feature_get(must("osxsave"))->linux_hides);
	assert_false(mg_feature_get(must("avx2"))->linux_hides);
}

static void test_avx10_version(void **state)
{
	(void)state;
	const mg_feature_info *v1 = mg_feature_get(must("avx10_v1"));
	const mg_feature_info *v2 = mg_feature_get(must("avx10_v2"));
	const mg_feature_info *avx = mg_feature_get(must("avx"));

	/* EBX of leaf 0x24: version 1 with 256/512-bit support. */
	assert_true(mg_feature_in_reg(v1, 0x00060001));
	assert_false(mg_feature_in_reg(v2, 0x00060001));
	assert_true(mg_feature_in_reg(v2, 0x00070002));
	assert_true(mg_feature_in_reg(v1, 0x00070002));
	assert_false(mg_feature_in_reg(v1, 0x00070000));
	assert_true(mg_feature_in_reg(avx, 1u << 28));
	assert_false(mg_feature_in_reg(avx, ~(1u << 28)));
	/* A version field is never found by bit location. */
	assert_int_equal(mg_feature_by_location(0x24, 0, MG_EBX, 0), MG_FEATURE_NONE);
}

static void test_sets(void **state)
{
	(void)state;
	mg_feature_set a, b, c;
	char *s;
	mg_feature_id last = (mg_feature_id)mg_feature_count() - 1;

	mg_fset_clear(&a);
	assert_true(mg_fset_is_empty(&a));
	s = mg_fset_to_string(&a);
	assert_string_equal(s, "");
	free(s);
	mg_fset_add(&a, must("sse2"));
	mg_fset_add(&a, must("avx2"));
	mg_fset_add(&a, must("3dnow"));
	mg_fset_add(&a, last);
	mg_fset_add(&a, 300);      /* out of range: ignored */
	mg_fset_add(&a, -1);
	assert_int_equal(mg_fset_count(&a), 4);
	s = mg_fset_to_string(&a);
	char want[256];
	snprintf(want, sizeof(want), "3dnow,avx2,sse2,%s", mg_feature_get(last)->name);
	/* sorted by name: the last table row is a via_* name, after sse2 */
	assert_string_equal(s, want);
	free(s);

	mg_fset_clear(&b);
	mg_fset_add(&b, must("avx2"));
	assert_true(mg_fset_is_subset(&b, &a));
	assert_false(mg_fset_is_subset(&a, &b));
	c = a;
	mg_fset_subtract(&c, &b);
	assert_int_equal(mg_fset_count(&c), 3);
	assert_false(mg_fset_has(&c, must("avx2")));
	mg_fset_intersect(&c, &b);
	assert_true(mg_fset_is_empty(&c));
	mg_fset_union(&c, &b);
	assert_true(mg_fset_equal(&c, &b));
	mg_fset_remove(&c, must("avx2"));
	assert_true(mg_fset_is_empty(&c));

	/* Iteration visits exactly the members, in id order. */
	size_t seen = 0;
	mg_feature_id prev = -1;
	for (mg_feature_id id = mg_fset_next(&a, -1); id >= 0; id = mg_fset_next(&a, id)) {
		assert_true(id > prev);
		assert_true(mg_fset_has(&a, id));
		prev = id;
		seen++;
	}
	assert_int_equal(seen, 4);
	/* A bit in the last word, beyond the table, is iterated but not named. */
	mg_fset_clear(&c);
	c.bits[3] = 1ull << 63;
	assert_int_equal(mg_fset_next(&c, -1), 255);
	assert_int_equal(mg_fset_next(&c, 255), MG_FEATURE_NONE);
	s = mg_fset_to_string(&c);
	assert_string_equal(s, "");
	free(s);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mg_family_name(MG_FAM_AVX512), "avx512");
	assert_string_equal(mg_family_name(MG_FAM_COUNT), "?");
	assert_string_equal(mg_cpuid_reg_name(MG_ECX), "ecx");
	assert_string_equal(mg_cpuid_reg_name((mg_cpuid_reg)7), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_tsv),
		cmocka_unit_test(test_table_consistency),
		cmocka_unit_test(test_non_reference_locations),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_xcr0),
		cmocka_unit_test(test_avx10_version),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
