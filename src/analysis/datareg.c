/*
 * datareg.c - a stopped thread's register that holds a table's address,
 * not code's.
 *
 * Each register of a stopped thread is a root: it may hold the address
 * the thread jumps to next.  OpenSSL's perlasm keeps its constant tables
 * in .text (K256, K_XX_XX, ...), and a thread that is hashing holds a
 * pointer into one (sha256_block_data_order_avx2 steps %rbp through
 * K256).  Decoded as code from there the table gives garbage, and on a
 * moment's luck a "jump" into the SHA-NI function (gap.c).
 *
 * The function the thread is stopped in tells what the register is for.
 * If on every path from the thread's pc the register only serves as the
 * base or index of memory operands (data, not a jump through memory), is
 * compared or tested, or is stepped into itself (add/sub, lea into the
 * same register), until something overwrites it, and no path leaves the
 * function (a return, a call, a jump out) while it still holds the
 * value, then no instruction ever transfers control to it: it is not a
 * root.  Anything else keeps it one.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

#define WALK_MAX_INSNS 20000


typedef enum { KEEPS, KILLS, ESCAPES } reg_use;

static bool is_control(const mg_flow_insn *x)
{
	ZydisInstructionCategory c = x->in.meta.category;
	return c == ZYDIS_CATEGORY_CALL || c == ZYDIS_CATEGORY_UNCOND_BR ||
	       c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_RET;
}

/* add/sub of an immediate or another register into r, or lea d(r),r:
 * r stays an address derived from itself. */
static bool steps_itself(const mg_flow_insn *x, int r)
{
	const ZydisDecodedOperand *d = &x->op[0], *s = &x->op[1];
	if (x->in.operand_count_visible != 2 || d->type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    mg_gpr_index(d->reg.value) != r || d->size != 64)
		return false;
	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_ADD:
	case ZYDIS_MNEMONIC_SUB:
		return s->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		       (s->type == ZYDIS_OPERAND_TYPE_REGISTER && mg_gpr_index(s->reg.value) != r);
	case ZYDIS_MNEMONIC_LEA:
		return s->type == ZYDIS_OPERAND_TYPE_MEMORY && mg_gpr_index(s->mem.base) == r &&
		       mg_gpr_index(s->mem.index) != r;
	default:
		return false;
	}
}

/* What instruction x does with the value register r holds. */
static reg_use use_of(const mg_flow_insn *x, int r)
{
	if (steps_itself(x, r))
		return KEEPS;
	bool flags_only = x->in.mnemonic == ZYDIS_MNEMONIC_CMP || x->in.mnemonic == ZYDIS_MNEMONIC_TEST;
	bool reads = false, writes = false, partial = false;
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
			if (mg_gpr_index(op->mem.base) != r && mg_gpr_index(op->mem.index) != r)
				continue;
			/* jmp/call through memory, or a visible lea that copies
			 * the address elsewhere */
			if (is_control(x) || x->in.mnemonic == ZYDIS_MNEMONIC_LEA)
				return ESCAPES;
			continue;           /* a data access through it */
		}
		if (op->type != ZYDIS_OPERAND_TYPE_REGISTER || mg_gpr_index(op->reg.value) != r)
			continue;
		if (op->actions & ZYDIS_OPERAND_ACTION_MASK_READ)
			reads = true;
		if (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) {
			writes = true;
			partial |= op->size < 32;
		}
	}
	if (reads && !flags_only)
		return ESCAPES;
	if (writes)
		return partial ? ESCAPES : KILLS;   /* an 8/16-bit write merges */
	return KEEPS;
}


/* Walk every path from instruction i while r holds the value. */
static bool only_addresses(const mg_flow_insn *v, size_t n, size_t len, size_t first, int r)
{
	uint8_t *seen = calloc(n, 1);
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(size_t));
	bool ok = seen != NULL;
	size_t steps = 0;
	if (ok)
		g_array_append_val(todo, first);
	while (ok && todo->len > 0) {
		size_t i = g_array_index(todo, size_t, todo->len - 1);
		g_array_set_size(todo, todo->len - 1);
		if (seen[i])
			continue;
		seen[i] = 1;
		const mg_flow_insn *x = &v[i];
		reg_use u = use_of(x, r);
		if (u == ESCAPES || ++steps > WALK_MAX_INSNS) {
			ok = false;
			break;
		}
		if (u == KILLS)
			continue;
		ZydisInstructionCategory c = x->in.meta.category;
		if (c == ZYDIS_CATEGORY_CALL || c == ZYDIS_CATEGORY_RET || x->indirect ||
		    (c == ZYDIS_CATEGORY_UNCOND_BR && x->target < 0) ||
		    (c == ZYDIS_CATEGORY_COND_BR && x->target < 0)) {
			ok = false;        /* it leaves the function still holding it */
			break;
		}
		if (x->target >= 0) {
			size_t t = (size_t)x->target;
			g_array_append_val(todo, t);
		}
		if (x->falls || c == ZYDIS_CATEGORY_COND_BR) {
			uint64_t next = (uint64_t)x->off + x->in.length;
			if (next >= len || i + 1 >= n || v[i + 1].off != next) {
				ok = false;    /* into the next function, or bytes not decoded */
				break;
			}
			size_t j = i + 1;
			g_array_append_val(todo, j);
		} else if (!x->falls && x->target < 0 && c != ZYDIS_CATEGORY_UNCOND_BR) {
			continue;          /* ud2, hlt: the path ends */
		}
	}
	g_array_free(todo, TRUE);
	free(seen);
	return ok;
}

uint16_t mg_registers_only_addresses(mg_scan_ctx *cx, uint64_t pc, uint16_t which)
{
	uint32_t unit = mg_codemap_find(cx->map, pc);
	if (which == 0 || unit == MG_NO_UNIT || cx->map->units[unit].kind != MG_UNIT_FUNCTION ||
	    mg_unit_is_gap(cx->map, unit))
		return 0;
	const mg_unit *u = &cx->map->units[unit];
	const uint8_t *bytes = mg_unit_bytes(cx, unit);
	size_t len = (size_t)(u->end - u->start), n = 0;
	mg_flow_insn *v = bytes ? mg_flow_decode(cx, bytes, len, &n) : NULL;
	long first = v ? mg_flow_index_at(v, n, pc - u->start) : -1;
	uint16_t only = 0;
	for (int r = 0; first >= 0 && r < 16; r++)
		if ((which & (1u << r)) && only_addresses(v, n, len, (size_t)first, r))
			only |= (uint16_t)(1u << r);
	free(v);
	return only;
}
