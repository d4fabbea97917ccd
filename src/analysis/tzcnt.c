/*
 * tzcnt.c - a tzcnt that runs as bsf, and the assumption that makes it
 * no BMI1 requirement (--assume tzcnt-as-bsf).
 *
 * GCC, built for a CPU without BMI1 (Debian's x86-64 baseline), emits
 * `rep bsf` for __builtin_ctz and its kin: the bytes of TZCNT.  A CPU
 * with BMI1 runs them as TZCNT, one without as BSF (the prefix is
 * ignored).  The two agree on the destination for a non-zero source; for
 * a zero source TZCNT writes the operand size and BSF leaves the
 * destination as it was; and they set CF and ZF differently.  GCC emits
 * it only where the source may not be zero (__builtin_ctz(0) is
 * undefined) and never reads the flags it leaves.  glibc's malloc and
 * printf, jemalloc, liblzma and liblz4 are full of them: with them the
 * 19 AWS types without BMI1 (Ivy Bridge: c3, i2, r3, ...) were never
 * compatible, whatever `migratable run` restricted.
 *
 * What the code shows is checked here, at summary time: no path from the
 * tzcnt reads CF or ZF before an instruction writes both (decode.c keeps
 * such sites in their own requirement group).  That the source is never
 * zero is a contract the scan cannot see kept: hence an assumption, and
 * only for functions built for the baseline (nothing of x86-64-v3 or
 * later in them besides these tzcnts), since code built for BMI1 (a
 * function with target("bmi"), -march=haswell) may use tzcnt's result for
 * zero on purpose.
 */
#include <string.h>

#include "analysis/engine.h"
#include "features/isa_map.h"

#define WALK_MAX_INSNS 64       /* instructions followed after the tzcnt */
#define WALK_MAX_PATHS 8        /* pending branch targets */

#define CF_ZF (ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_ZF)

/* The flags of CF_ZF that x surely writes.  A shift or rotate by a count
 * that may be zero (%cl, or an immediate masked to 0) leaves them all. */
static ZydisAccessedFlagsMask writes(const ZydisDecodedInstruction *x,
				     const ZydisDecodedOperand *op)
{
	const ZydisAccessedFlags *f = x->cpu_flags;
	if (f == NULL)
		return 0;
	switch (x->mnemonic) {
	case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
	case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL:
	case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD: {
		const ZydisDecodedOperand *count = &op[x->operand_count_visible - 1];
		unsigned mask = x->operand_width == 64 ? 63 : 31;
		if (count->type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    (count->imm.value.u & mask) == 0)
			return 0;
		break;
	}
	default:
		break;
	}
	return (f->modified | f->set_0 | f->set_1 | f->undefined) & CF_ZF;
}

/* A direct branch's target, as an offset into the bytes; false if x has
 * none (indirect). */
static bool branch_target(const ZydisDecodedInstruction *x, const ZydisDecodedOperand *op,
			  size_t off, int64_t *dst)
{
	if (x->operand_count_visible == 0 || op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
	    !op[0].imm.is_relative)
		return false;
	*dst = (int64_t)off + x->length + op[0].imm.value.s;
	return true;
}

/*
 * Follow one path from off: true if it reaches an instruction writing
 * both CF and ZF, a ret, a call or a jump out of the bytes (the psABI
 * passes no flags across calls and returns), or a trap, before reading
 * either.  A conditional jump that does not read them leaves a second
 * path, pushed on paths.
 */
static bool path_unread(const ZydisDecoder *d, const uint8_t *bytes, size_t len, size_t off,
			size_t *budget, size_t *paths, size_t *npaths)
{
	ZydisDecodedInstruction x;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	ZydisAccessedFlagsMask pending = CF_ZF;
	while (off < len && (*budget)-- > 0) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(d, bytes + off, len - off, &x, op)))
			return false;
		if (x.cpu_flags != NULL && (x.cpu_flags->tested & pending))
			return false;
		pending &= ~writes(&x, op);
		if (pending == 0)
			return true;
		int64_t dst;
		switch (x.meta.category) {
		case ZYDIS_CATEGORY_RET:
		case ZYDIS_CATEGORY_CALL:
		case ZYDIS_CATEGORY_INTERRUPT:
			return true;
		case ZYDIS_CATEGORY_UNCOND_BR:
			if (!branch_target(&x, op, off, &dst))
				return false;       /* a jump table: its targets are not known here */
			if (dst < 0 || (uint64_t)dst >= len)
				return true;        /* a tail call */
			off = (size_t)dst;
			continue;
		case ZYDIS_CATEGORY_COND_BR:
			if (!branch_target(&x, op, off, &dst) || *npaths == WALK_MAX_PATHS)
				return false;
			if (dst >= 0 && (uint64_t)dst < len)
				paths[(*npaths)++] = (size_t)dst;
			break;                      /* (out of the bytes: a tail call) */
		default:
			if (x.mnemonic == ZYDIS_MNEMONIC_UD2 || x.mnemonic == ZYDIS_MNEMONIC_HLT)
				return true;
			break;
		}
		off += x.length;
	}
	return false;
}

bool mg_tzcnt_flags_unread(const uint8_t *bytes, size_t len, size_t off,
			   const ZydisDecodedInstruction *insn)
{
	ZydisDecoder full;          /* (the sweep's decoder is minimal: no flags, no operands) */
	if (!mg_insn_runs_as_bsf(insn) ||
	    !ZYAN_SUCCESS(ZydisDecoderInit(&full, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
		return false;
	const ZydisDecoder *d = &full;
	size_t budget = WALK_MAX_INSNS, paths[WALK_MAX_PATHS], npaths = 0;
	if (!path_unread(d, bytes, len, off + insn->length, &budget, paths, &npaths))
		return false;
	/* Each branch target left is followed with CF and ZF both unread
	 * again (the path to it may have written one: knowing less). */
	while (npaths > 0) {
		size_t at = paths[--npaths];
		if (!path_unread(d, bytes, len, at, &budget, paths, &npaths))
			return false;
	}
	return true;
}

void mg_tzcnt_init(mg_scan_ctx *cx)
{
	mg_fset_clear(&cx->tzcnt_baseline);
	if (!(cx->opt->assumptions & MG_ASSUME_TZCNT_AS_BSF))
		return;
	(void)mg_x86_64_level_features(2, &cx->tzcnt_baseline);
	cx->tzcnt_counted = g_hash_table_new(g_direct_hash, g_direct_equal);
}

bool mg_tzcnt_assumed(const mg_scan_ctx *cx, const mg_unit_summary *s)
{
	if (!(cx->opt->assumptions & MG_ASSUME_TZCNT_AS_BSF))
		return false;
	for (uint32_t i = 0; i < s->ngroups; i++) {
		const mg_req_group *g = &s->groups[i];
		if (!g->hint && !g->as_bsf && !mg_fset_is_subset(&g->features, &cx->tzcnt_baseline))
			return false;      /* built for more than the baseline */
	}
	return true;
}

void mg_tzcnt_merge(mg_scan_ctx *cx, const GArray *counted)
{
	for (guint i = 0; cx->tzcnt_counted != NULL && i + 1 < counted->len; i += 2) {
		uint32_t unit = g_array_index(counted, uint32_t, i);
		uint32_t sites = g_array_index(counted, uint32_t, i + 1);
		g_hash_table_insert(cx->tzcnt_counted, GUINT_TO_POINTER(unit + 1),
				    GUINT_TO_POINTER(sites));
	}
}

void mg_tzcnt_report(mg_scan_ctx *cx)
{
	if (cx->tzcnt_counted == NULL)
		return;
	GHashTableIter it;
	gpointer unit, sites;
	size_t total = 0;
	g_hash_table_iter_init(&it, cx->tzcnt_counted);
	while (g_hash_table_iter_next(&it, &unit, &sites))
		total += GPOINTER_TO_UINT(sites);
	if (total > 0)
		mg_image_warn(cx->img, "--assume tzcnt-as-bsf: %zu tzcnt site(s) in %u function(s) "
			      "built for the baseline counted as bsf (their CF and ZF unread; "
			      "assumed: never given 0)", total,
			      g_hash_table_size(cx->tzcnt_counted));
}

void mg_tzcnt_free(mg_scan_ctx *cx)
{
	if (cx->tzcnt_counted != NULL)
		g_hash_table_destroy(cx->tzcnt_counted);
	cx->tzcnt_counted = NULL;
}
