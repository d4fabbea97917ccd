/*
 * datareg.c - an address of code that a function only uses as data.
 *
 * OpenSSL's perlasm keeps its constant tables in .text, where no symbol
 * or FDE covers them (gap.c): K256, K_XX_XX, ecp_nistz256's 150 KB
 * precomputed table.  Decoded as code, a table gives garbage, and on a
 * moment's luck AVX-512 "instructions" or a "jump" into the SHA-NI
 * function.  Two things point there: a stopped thread's register
 * (sha256_block_data_order_avx2 steps %rbp through K256), and a lea that
 * takes the table's address (ecp_nistz256_points_mul: lea table, %rbx,
 * then %rbx goes to ecp_nistz256_gather_w7 as its table argument).
 *
 * Whether such an address can become a jump target is a question about
 * where its value flows.  The walk follows it forward, on every path,
 * through the registers (and pushed stack slots) that may hold it or an
 * address derived from it (add, sub, lea off it).  Serving as the base or
 * index of a memory operand, being compared or tested, is data use; a
 * 64-bit word loaded through it holds it too if the table has any word
 * that points into code (a table of code pointers in .text).  It
 * escapes, and the address stays a possible jump target, on anything
 * else that reads it: a jump or call through it, a store to memory other
 * than a push, an operation the walk does not follow, a return while it
 * is held (the caller could use it) or that pops a slot holding it, a
 * jump into a function the walk cannot follow.
 *
 * Calls: a direct call hands every register to the callee (perlasm's
 * internal subroutines keep no ABI), so the callee is walked the same
 * way, a few levels deep, and what may hold the value at its returns is
 * what holds it after the call (the walk followed every register
 * there).  A call through the PLT or a pointer goes to a function
 * callable from C: under the psABI it may read only argument registers
 * and must give back the callee-saved ones, so a value held only in
 * callee-saved registers passes through it; held in any other, it
 * escapes.  The walk of a callee goes on over the caller's stack, so
 * a pushed slot keeps its place; pushed slots escape at a C-callable call
 * (its stack arguments), and once the stack pointer is copied or changed
 * other than by push, pop, add or sub.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

#define WALK_MAX_STEPS 50000   /* instructions walked, callees included */
#define CALL_DEPTH 3           /* callees walked below the function */
#define SLOTS 64               /* pushed 8-byte slots followed */
#define DEPTH_UNKNOWN INT32_MIN

#define RSP_INDEX 4            /* mg_gpr_index(rsp) */
/* rbx, rbp, r12-r15: the psABI's callee-saved registers */
#define CALLEE_SAVED ((1u << 3) | (1u << 5) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 15))

/* What may hold the value before an instruction. */
typedef struct taint {
	uint16_t regs;             /* registers (bit = mg_gpr_index) */
	int32_t depth;             /* bytes pushed since the walk began, or DEPTH_UNKNOWN */
	uint64_t slots;            /* bit k: the slot k+1 pushes deep (8(k+1) bytes) */
	uint64_t saved;            /* of those, the ones that save a callee-saved register
				      at a callee's entry (its prologue) */
	bool entry;                /* still in the callee's prologue pushes */
	uint16_t sp;               /* registers holding a stack address: the walk's first
				      rsp + sp_off[r] (perlasm epilogues reload the saved
				      registers through one) */
	int32_t sp_off[16];
} taint;

typedef struct walk {
	mg_scan_ctx *cx;
	size_t steps;              /* shared with the callees' walks */
	bool loads_pointers;       /* the table holds words that point into code: a
				      64-bit load through the value may be one */
} walk;

static bool merge(taint *into, const taint *from)
{
	taint old = *into;
	into->saved = (into->saved | ~into->slots) & (from->saved | ~from->slots);
	into->regs |= from->regs;
	into->slots |= from->slots;
	into->saved &= into->slots;
	into->entry = into->entry && from->entry;
	for (int r = 0; r < 16; r++)
		if (!(from->sp & (1u << r)) || from->sp_off[r] != into->sp_off[r])
			into->sp &= (uint16_t)~(1u << r);
	if (into->depth != from->depth)
		into->depth = DEPTH_UNKNOWN;
	return memcmp(&old, into, sizeof(old)) != 0;
}

static bool reg_tainted(const taint *t, int r)
{
	return r >= 0 && (t->regs & (1u << r));
}

static void set_reg(taint *t, int r, bool tainted)
{
	if (r < 0)
		return;
	t->sp &= (uint16_t)~(1u << r);     /* written: no longer a known stack address */
	if (tainted)
		t->regs |= (uint16_t)(1u << r);
	else
		t->regs &= (uint16_t)~(1u << r);
}

/* The pushed slots the bytes [rel, rel + size) from the walk's first rsp
 * overlap (size 0: unknown, all). */
static uint64_t slots_overlapped(int64_t rel, unsigned size)
{
	if (size == 0)
		return UINT64_MAX;
	uint64_t m = 0;
	for (int k = 0; k < SLOTS; k++) {
		int64_t lo = -8 * (int64_t)(k + 1);
		if (rel < lo + 8 && lo < rel + (int64_t)size)
			m |= UINT64_C(1) << k;
	}
	return m;
}

/* The stack address (from the walk's first rsp) a memory operand based on
 * rsp or on a register holding a stack address starts at; false if it is
 * neither, or not known. */
static bool stack_address(const taint *t, const ZydisDecodedOperand *op, int64_t *rel)
{
	int b = mg_gpr_index(op->mem.base);
	int64_t disp = op->mem.disp.has_displacement ? op->mem.disp.value : 0;
	if (b == RSP_INDEX && t->depth != DEPTH_UNKNOWN)
		*rel = disp - t->depth;
	else if (b >= 0 && (t->sp & (1u << b)))
		*rel = t->sp_off[b] + disp;
	else
		return false;
	return true;
}

/* Is the operand's base rsp or a register holding a stack address? */
static bool on_stack(const taint *t, const ZydisDecodedOperand *op)
{
	int b = mg_gpr_index(op->mem.base);
	return b == RSP_INDEX || (b >= 0 && (t->sp & (1u << b)));
}

/* What a memory operand on the stack does to the pushed slots that may
 * hold the value: reloading one into a 64-bit register taints it
 * (*reloads), overwriting one whole with something else clears it.
 * False if it touches one otherwise, or cannot be placed. */
static bool stack_operand(const mg_flow_insn *x, const ZydisDecodedOperand *op, taint *t,
			  int dr, bool *reloads)
{
	uint64_t held = t->slots;
	int64_t rel;
	if (held == 0)
		return true;
	if (op->mem.index != ZYDIS_REGISTER_NONE)
		return (held & ~t->saved) == 0;   /* indexing an object: not the saves */
	if (!stack_address(t, op, &rel))
		return false;
	uint64_t hit = slots_overlapped(rel, op->size / 8) & held;
	if (hit == 0)
		return true;
	int k = op->size == 64 && rel % 8 == 0 ? (int)(-rel / 8 - 1) : -1;
	bool exact = k >= 0 && k < SLOTS && hit == UINT64_C(1) << k;
	if (exact && (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
	    !(op->actions & ZYDIS_OPERAND_ACTION_MASK_READ)) {
		t->slots &= ~hit;              /* overwritten (a store of it escapes) */
		t->saved &= ~hit;
		return true;
	}
	if (exact && x->in.mnemonic == ZYDIS_MNEMONIC_MOV && dr >= 0 &&
	    (op->actions & ZYDIS_OPERAND_ACTION_MASK_READ)) {
		*reloads = true;
		return true;
	}
	return false;
}

/* The slots pushed deeper than the stack now reaches hold nothing. */
static void release_slots(taint *t)
{
	for (int k = 0; k < SLOTS; k++)
		if (t->depth < 8 * (k + 1))
			t->slots &= ~(UINT64_C(1) << k);
	t->saved &= t->slots;
}

static bool mem_uses(const ZydisDecodedOperand *op, const taint *t)
{
	return reg_tainted(t, mg_gpr_index(op->mem.base)) ||
	       reg_tainted(t, mg_gpr_index(op->mem.index));
}

typedef enum { GOES_ON, ESCAPES } step_result;

static step_result stack_step(const walk *wk, const mg_flow_insn *x, taint *t);
static step_result call_step(walk *wk, const mg_flow_insn *x, uint64_t base, int depth,
			     taint *t);

/* Does x load 64 bits through the value into a register (a word of the
 * table, which may be a code pointer if the table holds any)? */
static bool loads_word(const walk *wk, const mg_flow_insn *x, const taint *t)
{
	if (!wk->loads_pointers)
		return false;
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->size == 64 && mem_uses(op, t) &&
		    (op->actions & ZYDIS_OPERAND_ACTION_MASK_READ) &&
		    x->in.mnemonic != ZYDIS_MNEMONIC_LEA)
			return true;
	}
	return false;
}

static bool is_cmov(ZydisMnemonic m)
{
	return m >= ZYDIS_MNEMONIC_CMOVB && m <= ZYDIS_MNEMONIC_CMOVZ;
}

/* What a non-control instruction does to the value. */
static step_result data_step(const walk *wk, const mg_flow_insn *x, taint *t)
{
	ZydisMnemonic m = x->in.mnemonic;
	const ZydisDecodedOperand *d = &x->op[0], *s = &x->op[1];
	bool two = x->in.operand_count_visible == 2;
	int dr = two && d->type == ZYDIS_OPERAND_TYPE_REGISTER ? mg_gpr_index(d->reg.value) : -1;
	int sr = two && s->type == ZYDIS_OPERAND_TYPE_REGISTER ? mg_gpr_index(s->reg.value) : -1;
	if (m == ZYDIS_MNEMONIC_PUSH || m == ZYDIS_MNEMONIC_POP || m == ZYDIS_MNEMONIC_LEAVE ||
	    (dr == RSP_INDEX && d->size == 64))
		return stack_step(wk, x, t);
	/* Copies and derived addresses: mov r,r; lea d(r),r; add/sub into a
	 * 64-bit register. */
	if (m == ZYDIS_MNEMONIC_LEA && dr >= 0 && d->size == 64) {
		int64_t rel;
		bool stack = on_stack(t, s) && s->mem.index == ZYDIS_REGISTER_NONE &&
			     stack_address(t, s, &rel);
		if (on_stack(t, s) && !stack && t->slots)
			return ESCAPES;        /* a pointer into the slots, not placed */
		set_reg(t, dr, mem_uses(s, t));
		if (stack) {
			t->sp |= (uint16_t)(1u << dr);
			t->sp_off[dr] = (int32_t)rel;
		}
		return GOES_ON;
	}
	if (m == ZYDIS_MNEMONIC_MOV && dr >= 0 && sr >= 0 && d->size == 64) {
		bool stack = (sr == RSP_INDEX && t->depth != DEPTH_UNKNOWN) || (t->sp & (1u << sr));
		int32_t off = sr == RSP_INDEX ? -t->depth : t->sp_off[sr];
		if (sr == RSP_INDEX && !stack && t->slots)
			return ESCAPES;
		set_reg(t, dr, reg_tainted(t, sr));
		if (stack) {
			t->sp |= (uint16_t)(1u << dr);
			t->sp_off[dr] = off;
		}
		return GOES_ON;
	}
	/* cmovcc r64,r64 (sha1_multi_block picks its table or a lane's
	 * input with cmovle): either value, so the destination holds it if
	 * either did.  A stack address either way is left to the general
	 * case. */
	if (is_cmov(m) && dr >= 0 && sr >= 0 && d->size == 64 && sr != RSP_INDEX &&
	    !(t->sp & ((1u << sr) | (1u << dr)))) {
		set_reg(t, dr, reg_tainted(t, dr) || reg_tainted(t, sr));
		return GOES_ON;
	}
	if ((m == ZYDIS_MNEMONIC_XOR || m == ZYDIS_MNEMONIC_SUB) && dr >= 0 && sr == dr &&
	    d->size >= 32) {
		set_reg(t, dr, false);         /* xor r,r: zero */
		return GOES_ON;
	}
	if ((m == ZYDIS_MNEMONIC_ADD || m == ZYDIS_MNEMONIC_SUB) && dr >= 0 && d->size == 64 &&
	    (s->type == ZYDIS_OPERAND_TYPE_IMMEDIATE || sr >= 0)) {
		bool stack = (t->sp & (1u << dr)) && s->type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
		int32_t off = t->sp_off[dr] + (int32_t)(m == ZYDIS_MNEMONIC_ADD ? s->imm.value.s
										: -s->imm.value.s);
		if ((t->sp & (1u << dr)) && !stack && t->slots)
			return ESCAPES;        /* a stack address moved by an unknown amount */
		set_reg(t, dr, reg_tainted(t, dr) || reg_tainted(t, sr));
		if (stack) {
			t->sp |= (uint16_t)(1u << dr);
			t->sp_off[dr] = off;
		}
		return GOES_ON;
	}
	bool flags_only = m == ZYDIS_MNEMONIC_CMP || m == ZYDIS_MNEMONIC_TEST;
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
			bool reloads = false;
			if (on_stack(t, op) &&
			    !stack_operand(x, op, t, d->size == 64 ? dr : -1, &reloads))
				return ESCAPES;
			if (reloads) {
				set_reg(t, dr, true);
				return GOES_ON;    /* reloaded from its slot */
			}
			continue;              /* a data access (through it, maybe) */
		}
		int r = op->type == ZYDIS_OPERAND_TYPE_REGISTER ? mg_gpr_index(op->reg.value) : -1;
		if (!reg_tainted(t, r))
			continue;
		if ((op->actions & ZYDIS_OPERAND_ACTION_MASK_READ) && !flags_only)
			return ESCAPES;        /* stored, or computed with */
		if ((op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && op->size < 32)
			return ESCAPES;        /* an 8/16-bit write merges */
	}
	/* Whatever else is written no longer holds it, unless it is a word
	 * loaded from a table that holds code pointers. */
	bool word = loads_word(wk, x, t);
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		if (op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
			if (mg_gpr_index(op->reg.value) == RSP_INDEX)
				return stack_step(wk, x, t);
			set_reg(t, mg_gpr_index(op->reg.value), word && op->size == 64);
		}
	}
	return GOES_ON;
}

/* push, pop, and other writes of rsp. */
static step_result stack_step(const walk *wk, const mg_flow_insn *x, taint *t)
{
	ZydisMnemonic m = x->in.mnemonic;
	const ZydisDecodedOperand *d = &x->op[0], *s = &x->op[1];
	bool known = t->depth != DEPTH_UNKNOWN;
	if (m == ZYDIS_MNEMONIC_PUSH) {
		bool held = d->type == ZYDIS_OPERAND_TYPE_REGISTER && reg_tainted(t, mg_gpr_index(d->reg.value));
		bool copy = false;
		if (d->type == ZYDIS_OPERAND_TYPE_MEMORY && on_stack(t, d) &&
		    !stack_operand(x, d, t, -1, &copy))
			return ESCAPES;        /* pushes a copy of a slot that holds it */
		if (d->type == ZYDIS_OPERAND_TYPE_MEMORY && mem_uses(d, t))
			held = loads_word(wk, x, t);   /* pushes what the address points to */
		if (held && (!known || t->depth / 8 >= SLOTS))
			return ESCAPES;
		if (known) {
			t->depth += 8;
			int k = t->depth / 8 - 1;
			uint64_t bit = k >= 0 && k < SLOTS ? UINT64_C(1) << k : 0;
			int r = d->type == ZYDIS_OPERAND_TYPE_REGISTER ? mg_gpr_index(d->reg.value) : -1;
			t->slots = held ? t->slots | bit : t->slots & ~bit;
			t->saved &= ~bit;
			if (held && t->entry && r >= 0 && (CALLEE_SAVED & (1u << r)))
				t->saved |= bit;
		}
		return GOES_ON;
	}
	if (m == ZYDIS_MNEMONIC_POP) {
		int k = known ? t->depth / 8 - 1 : -1;
		bool held = k >= 0 && k < SLOTS && (t->slots >> k) & 1;
		if (!known && t->slots)
			return ESCAPES;
		if (k >= 0 && k < SLOTS) {
			t->slots &= ~(UINT64_C(1) << k);
			t->saved &= ~(UINT64_C(1) << k);
		}
		if (known)
			t->depth -= 8;
		if (d->type == ZYDIS_OPERAND_TYPE_REGISTER)
			set_reg(t, mg_gpr_index(d->reg.value), held);
		else if (held)
			return ESCAPES;        /* popped into memory */
		return GOES_ON;
	}
	if ((m == ZYDIS_MNEMONIC_ADD || m == ZYDIS_MNEMONIC_SUB) &&
	    s->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && known) {
		int64_t delta = m == ZYDIS_MNEMONIC_SUB ? s->imm.value.s : -s->imm.value.s;
		t->depth += (int32_t)delta;
		release_slots(t);              /* popped by add */
		return GOES_ON;
	}
	/* rsp set from a stack address: lea 0x38(%rsi),%rsp; mov %rbp,%rsp;
	 * leave (then pop %rbp) */
	int64_t rel;
	bool placed = false;
	if (m == ZYDIS_MNEMONIC_LEA && s->mem.index == ZYDIS_REGISTER_NONE && on_stack(t, s))
		placed = stack_address(t, s, &rel);
	else if (m == ZYDIS_MNEMONIC_MOV && s->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		 mg_gpr_index(s->reg.value) >= 0 && (t->sp & (1u << mg_gpr_index(s->reg.value))))
		rel = t->sp_off[mg_gpr_index(s->reg.value)], placed = true;
	else if (m == ZYDIS_MNEMONIC_LEAVE && (t->sp & (1u << 5)))
		rel = t->sp_off[5], placed = true;
	if (placed) {
		t->depth = (int32_t)-rel;
		release_slots(t);
		if (m == ZYDIS_MNEMONIC_LEAVE) {   /* and pop %rbp */
			int k = t->depth / 8 - 1;
			bool held = k >= 0 && k < SLOTS && (t->slots >> k) & 1;
			t->depth -= 8;
			release_slots(t);
			set_reg(t, 5, held);
		}
		return GOES_ON;
	}
	if (t->slots)
		return ESCAPES;                /* the slots can no longer be placed */
	t->depth = DEPTH_UNKNOWN;
	return GOES_ON;
}

static bool walk_function(walk *wk, uint32_t unit, size_t first_off, taint start, int depth,
			  uint16_t *at_ret);
static bool walk_callee(walk *wk, uint64_t target, taint in, int depth, uint16_t *out);

/*
 * A call while something holds the value: walk a direct callee with it
 * (what holds it at the callee's returns holds it after); let it through
 * a C-callable one only in callee-saved registers.
 */
static step_result call_step(walk *wk, const mg_flow_insn *x, uint64_t base, int depth,
			     taint *t)
{
	if (t->regs == 0 && t->slots == 0)
		return GOES_ON;
	const ZydisDecodedOperand *op = &x->op[0];
	if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && mem_uses(op, t))
		return ESCAPES;                /* a call through a table it points into */
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER && reg_tainted(t, mg_gpr_index(op->reg.value)))
		return ESCAPES;                /* a call to it */
	uint64_t target = 0;
	uint32_t cu = MG_NO_UNIT;
	if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative) {
		target = base + x->off + x->in.length + (uint64_t)op->imm.value.s;
		cu = mg_codemap_find(wk->cx->map, target);
	}
	const mg_unit *u = cu == MG_NO_UNIT ? NULL : &wk->cx->map->units[cu];
	bool plt = u != NULL && u->func != NULL && u->func->origin == MG_FUNC_PLT;
	if (u == NULL || plt) {
		/* through a pointer or the PLT: a function callable from C
		 * (whose stack arguments are the caller's top slots) */
		if ((t->regs & ~CALLEE_SAVED) || t->slots)
			return ESCAPES;
		t->sp &= CALLEE_SAVED;         /* the others it may change */
		return GOES_ON;
	}
	/* The callee's walk goes on from the caller's stack, below the
	 * return address: the caller's pushed slots stay where they are. */
	taint in = *t;
	in.depth = t->depth == DEPTH_UNKNOWN ? DEPTH_UNKNOWN : t->depth + 8;
	in.entry = true;
	uint16_t out = 0;
	if (!walk_callee(wk, target, in, depth, &out))
		return ESCAPES;
	t->regs = out;                     /* the callee's walk followed every register */
	t->sp &= CALLEE_SAVED;
	return GOES_ON;
}

/* Walk the function that starts at target, entered with in from a walk
 * at depth: what may hold the value at its returns goes to *out.  False
 * if it escapes there, or target is no function to walk. */
static bool walk_callee(walk *wk, uint64_t target, taint in, int depth, uint16_t *out)
{
	uint32_t cu = mg_codemap_find(wk->cx->map, target);
	const mg_unit *u = cu == MG_NO_UNIT ? NULL : &wk->cx->map->units[cu];
	if (u == NULL || u->kind != MG_UNIT_FUNCTION || mg_unit_is_gap(wk->cx->map, cu) ||
	    u->start != target || depth >= CALL_DEPTH || (in.slots && in.depth == DEPTH_UNKNOWN))
		return false;
	return walk_function(wk, cu, 0, in, depth + 1, out);
}

/* Does x jump directly out of its function (a tail call)? */
static bool jumps_out(const mg_flow_insn *x)
{
	ZydisInstructionCategory c = x->in.meta.category;
	return (c == ZYDIS_CATEGORY_UNCOND_BR || c == ZYDIS_CATEGORY_COND_BR) && x->target < 0;
}

/* Would a ret now jump to the value (`push %rbx; ret`): is the slot it
 * pops one that may hold it, or can that not be told? */
static bool returns_to_it(const taint *t)
{
	if (t->slots == 0)
		return false;
	if (t->depth == DEPTH_UNKNOWN)
		return true;
	int k = t->depth / 8 - 1;   /* (a value is pushed only into the first SLOTS) */
	return k >= 0 && k < SLOTS && ((t->slots >> k) & 1);
}

/* A jump of x into another function: a tail call, whose returns are the
 * walked function's own (at depth 0, with the value held, an escape).
 * False if it escapes. */
static bool tail_call(walk *wk, const mg_flow_insn *x, uint64_t base, int depth, const taint *t,
		      uint16_t *at_ret)
{
	uint16_t out = 0;
	uint64_t target = base + x->off + x->in.length + (uint64_t)x->op[0].imm.value.s;
	if (t->regs == 0 && t->slots == 0)
		return true;
	taint in = *t;
	in.entry = true;
	if (x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !walk_callee(wk, target, in, depth, &out))
		return false;
	if (depth == 0 && out)
		return false;
	*at_ret |= out;
	return true;
}

/*
 * Walk the function of unit from offset first_off with start; at depth 0
 * a return while something holds the value is an escape, below it the
 * registers that may hold it at the returns go to *at_ret.  False if it
 * escapes (or the walk cannot tell).
 */
static bool walk_function(walk *wk, uint32_t unit, size_t first_off, taint start, int depth,
			  uint16_t *at_ret)
{
	mg_scan_ctx *cx = wk->cx;
	const mg_unit *u = &cx->map->units[unit];
	uint64_t h;
	const uint8_t *bytes = mg_unit_code(cx, unit, &h);
	size_t len = (size_t)(u->end - u->start), n = 0;
	mg_flow_insn *v = bytes ? mg_flow_decode(cx, bytes, len, &n) : NULL;
	long first = v ? mg_flow_index_at(v, n, first_off) : -1;
	taint *in = first >= 0 ? calloc(n, sizeof(*in)) : NULL;
	uint8_t *reached = in ? calloc(n, 1) : NULL;
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(size_t));
	bool ok = reached != NULL;
	if (ok) {
		size_t f = (size_t)first;
		in[f] = start;
		reached[f] = 1;
		g_array_append_val(todo, f);
	}
	while (ok && todo->len > 0) {
		size_t i = g_array_index(todo, size_t, todo->len - 1);
		g_array_set_size(todo, todo->len - 1);
		const mg_flow_insn *x = &v[i];
		taint t = in[i];
		ZydisInstructionCategory c = x->in.meta.category;
		if (jumps_out(x) && !tail_call(wk, x, u->start, depth, &t, at_ret)) {
			ok = false;
			break;
		}
		if (++wk->steps > WALK_MAX_STEPS || x->indirect) {
			ok = false;
			break;
		}
		if (c == ZYDIS_CATEGORY_RET) {
			if ((depth == 0 && (t.regs || t.slots)) || returns_to_it(&t))
				ok = false;
			else
				*at_ret |= t.regs;
			continue;
		}
		step_result r = c == ZYDIS_CATEGORY_CALL ? call_step(wk, x, u->start, depth, &t)
							 : data_step(wk, x, &t);
		if (x->in.mnemonic != ZYDIS_MNEMONIC_PUSH)
			t.entry = false;       /* the prologue's pushes are over */
		if (r == ESCAPES) {
			ok = false;
			break;
		}
		if (t.regs == 0 && t.slots == 0)
			continue;                  /* nothing holds it on this path any more */
		size_t next[2];
		int nn = 0;
		if (x->target >= 0)
			next[nn++] = (size_t)x->target;
		if (x->falls || c == ZYDIS_CATEGORY_COND_BR) {
			uint64_t after = (uint64_t)x->off + x->in.length;
			if (after >= len || i + 1 >= n || v[i + 1].off != after) {
				ok = false;            /* into the next function, or bytes not decoded */
				break;
			}
			next[nn++] = i + 1;
		}
		for (int k = 0; k < nn; k++) {
			size_t j = next[k];
			if (!reached[j]) {
				reached[j] = 1;
				in[j] = t;
			} else if (!merge(&in[j], &t)) {
				continue;
			}
			g_array_append_val(todo, j);
		}
	}
	g_array_free(todo, TRUE);
	free(reached);
	free(in);
	free(v);
	return ok;
}

#define POINTER_SCAN_MAX (1u << 20)   /* bytes of a table searched for code pointers */

/*
 * Does the unit holding addr (a table kept in .text) hold an 8-byte word
 * that points into code?  Then a word loaded from it may be a jump
 * target.  True also when that cannot be told (unreadable, or too large
 * to search).
 */
static bool holds_code_pointers(mg_scan_ctx *cx, uint64_t addr)
{
	uint32_t u = mg_codemap_find(cx->map, addr);
	uint64_t h, at = 0, w;
	if (u == MG_NO_UNIT || mg_unit_code(cx, u, &h) == NULL ||
	    cx->map->units[u].end - cx->map->units[u].start > POINTER_SCAN_MAX)
		return true;
	return mg_unit_next_code_word(cx, u, &at, &w);
}

uint16_t mg_registers_only_addresses(mg_scan_ctx *cx, uint64_t pc, uint16_t which,
				     const uint64_t value[16])
{
	uint32_t unit = mg_codemap_find(cx->map, pc);
	if (which == 0 || unit == MG_NO_UNIT || cx->map->units[unit].kind != MG_UNIT_FUNCTION ||
	    mg_unit_is_gap(cx->map, unit) || mg_unit_bytes(cx, unit) == NULL)
		return 0;
	uint16_t only = 0;
	for (int r = 0; r < 16; r++) {
		uint32_t table = (which & (1u << r)) ? mg_codemap_find(cx->map, value[r]) : MG_NO_UNIT;
		if (table != MG_NO_UNIT && mg_unit_bytes(cx, table) == NULL)
			continue;
		walk wk = { cx, 0, table == MG_NO_UNIT || holds_code_pointers(cx, value[r]) };
		taint t = { (uint16_t)(1u << r), 0, 0 };
		uint16_t unused = 0;
		if ((which & (1u << r)) && r != RSP_INDEX &&
		    walk_function(&wk, unit, (size_t)(pc - cx->map->units[unit].start), t, 0, &unused))
			only |= (uint16_t)(1u << r);
	}
	return only;
}

bool mg_lea_only_data(mg_scan_ctx *cx, uint32_t unit, uint64_t addr)
{
	const mg_unit *u = &cx->map->units[unit];
	uint64_t h;
	const uint8_t *bytes = mg_unit_code(cx, unit, &h);
	if (u->kind != MG_UNIT_FUNCTION || mg_unit_is_gap(cx->map, unit) || bytes == NULL)
		return false;
	size_t len = (size_t)(u->end - u->start), n = 0, found = 0;
	mg_flow_insn *v = mg_flow_decode(cx, bytes, len, &n);
	bool ok = v != NULL;
	walk wk = { cx, 0, holds_code_pointers(cx, addr) };
	for (size_t i = 0; ok && i < n; i++) {
		const mg_flow_insn *x = &v[i];
		uint64_t at;
		bool takes = false;
		for (unsigned k = 0; k < x->in.operand_count_visible; k++)
			if (mg_insn_rip_target(x, &x->op[k], u->start, &at) && at == addr)
				takes = true;
		if (!takes)
			continue;
		int r = mg_gpr_index(x->op[0].reg.value);
		if (x->in.mnemonic != ZYDIS_MNEMONIC_LEA || x->op[0].size != 64 || r < 0 ||
		    r == RSP_INDEX || !x->falls || i + 1 >= n) {
			ok = false;                /* a load or a store of it: not followed here */
			break;
		}
		taint t = { (uint16_t)(1u << r), 0, 0 };
		uint16_t unused = 0;
		ok = walk_function(&wk, unit, v[i + 1].off, t, 0, &unused);
		found++;
	}
	free(v);
	return ok && found > 0;
}
