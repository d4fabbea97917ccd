/*
 * test_isa_map.c - the ISA-set table against Intel XED's own records,
 * completeness over every ZydisISASet, and real decoded instructions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/isa_map.h"
#include "support/testutil.h"

/*
 * XED names that differ from Zydis's for the same instructions.  The
 * expected requirement of a Zydis set is the union of the default groups
 * of every XED set mapped to it (MOVDIR = MOVDIRI + MOVDIR64B).
 */
static const struct {
	const char *xed, *zydis;
} name_map[] = {
	{ "PTWRITE", "PT" },
	{ "AVX512F_KOPW", "AVX512F_KOP" },
	{ "AVX512DQ_KOPB", "AVX512DQ_KOP" },
	{ "AVX512DQ_KOPW", "AVX512DQ_KOP" },
	{ "AVX512BW_KOPD", "AVX512BW_KOP" },
	{ "AVX512BW_KOPQ", "AVX512BW_KOP" },
	{ "VIA_PADLOCK_RNG", "PADLOCK_RNG" },
	{ "VIA_PADLOCK_AES", "PADLOCK_ACE" },
	{ "VIA_PADLOCK_SHA", "PADLOCK_PHE" },
	{ "VIA_PADLOCK_MONTMUL", "PADLOCK_PMM" },
	{ "MOVDIRI", "MOVDIR" },
	{ "MOVDIR64B", "MOVDIR" },
	{ "3DNOW", "AMD3DNOW" },
};

/*
 * Deliberate departures from XED's default group (documented in
 * isa_map.c and docs/isa-map.md).  `superset`: the row must still hold
 * every XED bit (it only adds).
 */
static const struct {
	const char *zydis;
	bool superset;
	const char *reason;
} overrides[] = {
	{ "XOP", false, "XED n/a; AMD APM CPUID 0x80000001:ECX[11]" },
	{ "TBM", false, "XED n/a; AMD APM CPUID 0x80000001:ECX[21]" },
	{ "FMA4", false, "XED n/a; AMD APM CPUID 0x80000001:ECX[16]" },
	{ "AMD3DNOW", false, "XED n/a; AMD APM 3DNow!/3DNowExt bits" },
	{ "AMD", false, "XED n/a; Zydis puts legacy-mode SYSCALL/SYSRET here; APM SysCallSysRet" },
	{ "SVM", false, "XED n/a; AMD APM SVM bit 0x80000001:ECX[2]" },
	{ "AMD_INVLPGB", false, "XED n/a (unpublished then); APM 0x80000008:EBX[3]" },
	{ "TDX", false, "XED n/a, but only runs inside a TD: unknown, not baseline" },
	{ "VMFUNC", false, "XED n/a, but only runs in VMX non-root: unknown, not baseline" },
	{ "AVX512_BF16_128", true, "SDM requires AVX512VL for EVEX.128; XED omits it" },
	{ "AVX512_BF16_256", true, "SDM requires AVX512VL for EVEX.256; XED omits it" },
};

static ZydisISASet zydis_set_named(const char *name)
{
	for (int s = 0; s <= ZYDIS_ISA_SET_MAX_VALUE; s++)
		if (strcmp(mg_isa_set_name((ZydisISASet)s), name) == 0)
			return (ZydisISASet)s;
	return ZYDIS_ISA_SET_INVALID;
}

static int override_index(const char *zydis)
{
	for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
		if (strcmp(overrides[i].zydis, zydis) == 0)
			return (int)i;
	return -1;
}

static int parse_reg(const char *s, mg_cpuid_reg *reg)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };

	for (int i = 0; i < 4; i++)
		if (strncmp(s, names[i], 3) == 0) {
			*reg = (mg_cpuid_reg)i;
			return 0;
		}
	return -1;
}

/* A version field feature at this location with this minimum. */
static mg_feature_id field_feature(uint32_t leaf, uint32_t sub, mg_cpuid_reg reg,
				   unsigned lo, unsigned width, unsigned min)
{
	for (size_t i = 0; i < mg_feature_count(); i++) {
		const mg_feature_info *f = mg_feature_get((mg_feature_id)i);

		if (f->field_width == width && f->leaf == leaf && f->subleaf == sub &&
		    f->reg == reg && f->bit == lo && f->field_min == min)
			return (mg_feature_id)i;
	}
	return MG_FEATURE_NONE;
}

/*
 * One XED requirement token: name.leaf.subleaf.reg.bit,
 * name.leaf.subleaf.reg[bit] or name.leaf.subleaf.reg[lo:hi]=value
 * (leaf in hex).  Returns the feature id, failing the test if the table
 * has no feature there.
 */
static mg_feature_id xed_token_feature(const char *tok, const char *file)
{
	char buf[128], *p, *name, *leaf_s, *sub_s, *rest;
	uint32_t leaf, sub;
	mg_cpuid_reg reg = MG_EAX;
	mg_feature_id id = MG_FEATURE_NONE;

	snprintf(buf, sizeof(buf), "%s", tok);
	name = buf;
	p = strchr(name, '.');
	assert_non_null(p);
	*p = '\0';
	leaf_s = p + 1;
	p = strchr(leaf_s, '.');
	assert_non_null(p);
	*p = '\0';
	sub_s = p + 1;
	p = strchr(sub_s, '.');
	assert_non_null(p);
	*p = '\0';
	rest = p + 1;
	leaf = (uint32_t)strtoul(leaf_s, NULL, 16);
	sub = (uint32_t)strtoul(sub_s, NULL, 16);
	if (parse_reg(rest, &reg) != 0)
		fail_msg("%s: bad register in '%s'", file, tok);
	rest += 3;
	if (*rest == '.') {
		id = mg_feature_by_location(leaf, sub, reg, (unsigned)strtoul(rest + 1, NULL, 10));
	} else if (*rest == '[') {
		unsigned lo, hi, val;

		if (sscanf(rest, "[%u:%u]=%u", &lo, &hi, &val) == 3) {
			if (hi < lo)
				lo ^= hi, hi ^= lo, lo ^= hi;
			id = field_feature(leaf, sub, reg, lo, hi - lo + 1, val);
		} else if (sscanf(rest, "[%u]", &lo) == 1) {
			id = mg_feature_by_location(leaf, sub, reg, lo);
		} else {
			fail_msg("%s: cannot parse '%s'", file, tok);
		}
	} else {
		fail_msg("%s: cannot parse '%s'", file, tok);
	}
	if (id == MG_FEATURE_NONE)
		fail_msg("%s: XED bit '%s' is not in the feature table", file, tok);
	return id;
}

typedef struct expect {
	bool seen;
	bool baseline;            /* some XED line said n/a */
	mg_feature_set features;  /* union of the default groups */
	char xed_names[256];
} expect;

/* Parse one XED file into per-Zydis-set expectations. */
static void parse_xed_file(const char *path, const char *file, expect *exp, int *lines)
{
	char *text = tu_read_file(path, NULL), *line, *save = NULL;

	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *head, *colon, *hash, *tok, *save2 = NULL;
		char xed_name[96];
		const char *zname = NULL;
		ZydisISASet set;
		expect *e;

		while (isspace((unsigned char)*line))
			line++;
		if (strncmp(line, "XED_ISA_SET_", 12) != 0)
			continue;
		colon = strchr(line, ':');
		assert_non_null(colon);
		*colon = '\0';
		head = line + 12;
		/* ", AVX10" / ", FBIT": an alternative group, not the default. */
		if (strchr(head, ','))
			continue;
		hash = strchr(colon + 1, '#');
		if (hash)
			*hash = '\0';
		sscanf(head, "%95s", xed_name);
		zname = xed_name;
		for (size_t i = 0; i < sizeof(name_map) / sizeof(name_map[0]); i++)
			if (strcmp(name_map[i].xed, xed_name) == 0)
				zname = name_map[i].zydis;
		set = zydis_set_named(zname);
		if (set == ZYDIS_ISA_SET_INVALID)
			continue;  /* XED-only set (newer than Zydis 4.0) */
		(*lines)++;
		e = &exp[set];
		if (!e->seen)
			mg_fset_clear(&e->features);
		e->seen = true;
		if (strlen(e->xed_names) + strlen(xed_name) + 2 < sizeof(e->xed_names)) {
			strcat(e->xed_names, " ");
			strcat(e->xed_names, xed_name);
		}
		for (tok = strtok_r(colon + 1, " \t\r", &save2); tok; tok = strtok_r(NULL, " \t\r", &save2)) {
			if (strcmp(tok, "n/a") == 0) {
				e->baseline = true;
				continue;
			}
			mg_fset_add(&e->features, xed_token_feature(tok, file));
		}
	}
	free(text);
}

/* (b) Every ISA set known to both Zydis and XED requires exactly XED's
 * default-group bits, except the documented overrides. */
static void test_against_xed(void **state)
{
	(void)state;
	const char *data = tu_shared_data();
	char dir[4096];
	static expect exp[ZYDIS_ISA_SET_MAX_VALUE + 1];
	DIR *d;
	struct dirent *de;
	int files = 0, lines = 0, compared = 0, overridden = 0;

	if (data == NULL)
		tu_skip(TU_SKIP_NO_SHARED, "no ../shared/data/xed-cpuid");
	memset(exp, 0, sizeof(exp));
	snprintf(dir, sizeof(dir), "%s/xed-cpuid", data);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[8192];
		size_t n = strlen(de->d_name);

		if (n < 4 || strcmp(de->d_name + n - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		parse_xed_file(path, de->d_name, exp, &lines);
		files++;
	}
	closedir(d);
	assert_true(files > 50);

	for (int s = 0; s <= ZYDIS_ISA_SET_MAX_VALUE; s++) {
		const mg_isa_requirement *r = mg_isa_set_requirement((ZydisISASet)s);
		const char *name = mg_isa_set_name((ZydisISASet)s);
		int ov = override_index(name);
		expect *e = &exp[s];

		if (!e->seen) {
			/* A row claiming XED as its source must be backed by XED. */
			if (strcmp(r->source, "xed") == 0)
				fail_msg("%s claims source xed but XED has no such set", name);
			continue;
		}
		if (e->baseline && !mg_fset_is_empty(&e->features))
			fail_msg("%s: XED says both n/a and bits (%s)", name, e->xed_names);
		if (ov >= 0) {
			overridden++;
			assert_string_not_equal(r->source, "xed");
			if (overrides[ov].superset) {
				assert_int_equal(r->kind, MG_ISA_FEATURES);
				if (!mg_fset_is_subset(&e->features, &r->features))
					fail_msg("%s: override drops XED bits", name);
			}
			continue;
		}
		compared++;
		if (e->baseline) {
			if (r->kind != MG_ISA_BASELINE)
				fail_msg("%s: XED n/a but the table says kind %d", name, r->kind);
			continue;
		}
		if (r->kind != MG_ISA_FEATURES || !mg_fset_equal(&r->features, &e->features)) {
			char *want = mg_fset_to_string(&e->features);
			char *got = mg_fset_to_string(&r->features);

			fail_msg("%s: XED (%s) requires {%s}, table {%s} (kind %d, source %s)",
				 name, e->xed_names, want, got, r->kind, r->source);
		}
		assert_string_equal(r->source, "xed");
	}
	/* Every override names a set XED knows, so none is stale. */
	for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
		ZydisISASet s = zydis_set_named(overrides[i].zydis);

		assert_int_not_equal(s, ZYDIS_ISA_SET_INVALID);
		if (!exp[s].seen)
			fail_msg("override %s: XED has no such set", overrides[i].zydis);
	}
	print_message("XED: %d files, %d default lines, %d sets compared, %d overridden\n",
		      files, lines, compared, overridden);
	assert_true(compared > 140);
	assert_int_equal(overridden, (int)(sizeof(overrides) / sizeof(overrides[0])));
}

/* (c) No silent default: every ZydisISASet has its own row. */
static void test_every_set_has_a_row(void **state)
{
	(void)state;
	int kinds[3] = { 0, 0, 0 };

	for (int s = 0; s <= ZYDIS_ISA_SET_MAX_VALUE; s++) {
		const mg_isa_requirement *r = mg_isa_set_requirement((ZydisISASet)s);
		const char *name = mg_isa_set_name((ZydisISASet)s);

		if (!mg_isa_set_row_defined((ZydisISASet)s))
			fail_msg("ZydisISASet %d (%s) has no row", s, name);
		assert_string_not_equal(name, "?");
		assert_non_null(r->source);
		assert_true(r->kind >= MG_ISA_FEATURES && r->kind <= MG_ISA_UNKNOWN);
		kinds[r->kind]++;
		if (r->kind == MG_ISA_FEATURES) {
			/* A name typo would have made the row unknown. */
			assert_false(mg_fset_is_empty(&r->features));
		} else {
			assert_true(mg_fset_is_empty(&r->features));
		}
	}
	assert_int_equal(mg_isa_set_requirement(ZYDIS_ISA_SET_INVALID)->kind, MG_ISA_UNKNOWN);
	assert_int_equal(mg_isa_set_requirement((ZydisISASet)(ZYDIS_ISA_SET_MAX_VALUE + 1))->kind,
			 MG_ISA_UNKNOWN);
	assert_false(mg_isa_set_row_defined((ZydisISASet)(ZYDIS_ISA_SET_MAX_VALUE + 1)));
	assert_string_equal(mg_isa_set_name((ZydisISASet)(ZYDIS_ISA_SET_MAX_VALUE + 1)), "?");
	assert_string_equal(mg_isa_set_name(ZYDIS_ISA_SET_AVX512F_256), "AVX512F_256");
	print_message("ISA sets: %d features, %d baseline, %d unknown\n",
		      kinds[0], kinds[1], kinds[2]);
}

static void expect_set(const mg_isa_requirement *r, const char *names, const char *what)
{
	mg_feature_set want;
	char buf[256], *tok, *save = NULL;

	mg_fset_clear(&want);
	snprintf(buf, sizeof(buf), "%s", names);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		mg_feature_id id = mg_feature_by_name(tok);

		if (id == MG_FEATURE_NONE)
			fail_msg("%s: unknown feature %s in the test", what, tok);
		mg_fset_add(&want, id);
	}
	if (r->kind != MG_ISA_FEATURES || !mg_fset_equal(&want, &r->features)) {
		char *got = mg_fset_to_string(&r->features);

		fail_msg("%s: want {%s}, got kind %d {%s} (%s)", what, names, r->kind, got, r->source);
	}
}

/* (d) Real instruction bytes (assembled with GNU as) through Zydis. */
static void test_decoded_instructions(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *hex;
		const char *features;   /* NULL: baseline; "hint:F": runs without F */
	} cases[] = {
		{ "vpaddd zmm0,zmm1,zmm2", "62f17548fec2", "avx512f" },
		{ "vpaddd xmm0,xmm1,xmm2 (VEX)", "c5f1fec2", "avx" },
		{ "vpaddd ymm0,ymm1,ymm2 (VEX)", "c5f5fec2", "avx2" },
		{ "vpaddd xmm0{k1},xmm1,xmm2 (EVEX)", "62f17509fec2", "avx512f,avx512vl" },
		{ "andn rax,rbx,rcx", "c4e2e0f2c1", "bmi1" },
		{ "lzcnt rax,rbx", "f3480fbdc3", "abm" },
		{ "tzcnt rax,rbx", "f3480fbcc3", "bmi1" },
		{ "popcnt rax,rbx", "f3480fb8c3", "popcnt" },
		{ "sha256rnds2", "0f38cbca", "sha_ni" },
		{ "prefetchw [rax]", "0f0d08", "hint:3dnowprefetch" },
		{ "prefetch [rax]", "0f0d00", NULL },
		{ "prefetchnta [rax]", "0f1800", "sse" },
		{ "extrq xmm1,8,4", "660f78c10804", "sse4a" },
		{ "vfmaddps (FMA4)", "c4e3f168c320", "fma4" },
		{ "vfmadd231ps (FMA3)", "c4e271b8c2", "fma,avx" },
		{ "crc32 rax,rbx", "f2480f38f1c3", "sse4_2" },
		{ "xgetbv", "0f01d0", "xsave,osxsave" },
		{ "kmovw k2,k1", "c5f890d1", "avx512f" },
		{ "kmovb k2,k1", "c5f990d1", "avx512dq" },
		{ "kmovd k2,k1", "c4e1f990d1", "avx512bw" },
		{ "endbr64", "f30f1efa", "hint:ibt" },
		{ "rdsspq rax", "f3480f1ec8", "hint:shstk" },
		{ "incsspq rax", "f3480faee8", "shstk" },
		{ "movdiri [rbx],rax", "480f38f903", "movdiri" },
		{ "movdir64b rbx,[rax]", "660f38f818", "movdir64b" },
		{ "pswapd mm0,mm1", "0f0fc1bb", "3dnow,3dnowext" },
		{ "pfadd mm0,mm1", "0f0fc19e", "3dnow" },
		{ "fcomi st,st(1)", "dbf1", "cmov,fpu" },
		{ "sysenter", "0f34", "sep" },
		{ "syscall", "0f05", "lm" },
		{ "cmpxchg16b [rax]", "480fc708", "cx16" },
		{ "lahf", "9f", "lahf_lm" },
		{ "add rax,rbx", "4801d8", NULL },
		{ "rdpkru", "0f01ee", "pku,ospke" },
		{ "{vex} vpdpbusd", "c4e27150c2", "avx_vnni" },
		{ "vaesenc ymm", "c4e275dcc2", "vaes" },
		{ "vpclmulqdq ymm", "c4e37544c200", "vpclmulqdq" },
		{ "bndmk bnd0,[rax]", "f30f1b00", "hint:mpx" },
		{ "aesenc xmm0,xmm1", "660f38dcc1", "aes" },
		{ "vcvtne2ps2bf16 xmm", "62f2770872c2", "avx512_bf16,avx512vl" },
		{ "vprotb (XOP)", "8fe96890c1", "xop" },
		{ "blcfill (TBM)", "8fe9f801cb", "tbm" },
		{ "clzero", "0f01fc", "clzero" },
		{ "xbegin", "c7f8faffffff", "rtm" },
		{ "cldemote [rax]", "0f1c00", "hint:cldemote" },
		{ "prefetchwt1 [rax]", "0f0d10", "hint:prefetchwt1" },
		{ "vpgatherdd", "c4e269900488", "avx2" },
		{ "rdtscp", "0f01f9", "rdtscp" },
	};
	ZydisDecoder dec;

	assert_true(ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
						  ZYDIS_STACK_WIDTH_64)));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t bytes[16];
		size_t n = strlen(cases[i].hex) / 2;
		ZydisDecodedInstruction insn;
		mg_isa_requirement r;

		for (size_t j = 0; j < n; j++) {
			unsigned v;

			assert_int_equal(sscanf(cases[i].hex + 2 * j, "%2x", &v), 1);
			bytes[j] = (uint8_t)v;
		}
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, bytes, n, &insn)))
			fail_msg("%s: Zydis cannot decode %s", cases[i].text, cases[i].hex);
		assert_int_equal(insn.length, n);
		mg_instruction_requirement(&insn, &r);
		if (cases[i].features == NULL) {
			if (r.kind != MG_ISA_BASELINE)
				fail_msg("%s (%s): want baseline, got kind %d", cases[i].text,
					 mg_isa_set_name(insn.meta.isa_set), r.kind);
		} else if (strncmp(cases[i].features, "hint:", 5) == 0) {
			if (r.kind != MG_ISA_HINT ||
			    !mg_fset_has(&r.features, mg_feature_by_name(cases[i].features + 5)) ||
			    mg_fset_count(&r.features) != 1)
				fail_msg("%s: want a hint for %s, got kind %d", cases[i].text,
					 cases[i].features + 5, r.kind);
		} else {
			expect_set(&r, cases[i].features, cases[i].text);
		}
	}
	/* NULL instruction: unknown, never "nothing needed". */
	mg_isa_requirement r;
	mg_instruction_requirement(NULL, &r);
	assert_int_equal(r.kind, MG_ISA_UNKNOWN);
}

/* Every feature an ISA set requires is a real table row (no stray ids). */
static void test_rows_use_table_features(void **state)
{
	(void)state;
	for (int s = 0; s <= ZYDIS_ISA_SET_MAX_VALUE; s++) {
		const mg_isa_requirement *r = mg_isa_set_requirement((ZydisISASet)s);

		for (mg_feature_id id = mg_fset_next(&r->features, -1); id >= 0;
		     id = mg_fset_next(&r->features, id))
			assert_non_null(mg_feature_get(id));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_set_has_a_row),
		cmocka_unit_test(test_against_xed),
		cmocka_unit_test(test_decoded_instructions),
		cmocka_unit_test(test_rows_use_table_features),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
