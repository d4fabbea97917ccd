/*
 * captest_fold.c - deciding one function's jumps on OpenSSL's capability
 * vector, and what of the function then runs.
 *
 * captest.c finds the vector and knows its value for good (only
 * OPENSSL_cpuid_setup writes it, once).  Here a function is walked as a
 * forward dataflow over its own control flow from its start: which
 * registers hold known values (loaded from the vector or its once-flag,
 * immediates, the vector's address), and which flags a test of them set.
 * A conditional jump those flags decide follows one way only:
 *
 *   perlasm:  mov OPENSSL_ia32cap_P+8(%rip),%r10d; test $SHA,%r10d; jne shaext
 *   C:        lea OPENSSL_ia32cap_P(%rip),%rax; testb $2,7(%rax); je ...
 *   ecp:      mov $0x80100,%ecx; and OPENSSL_ia32cap_P+8(%rip),%ecx; cmp; je
 *   setup:    mov trigger(%rip),%eax; test %eax,%eax; je do_setup; ret
 *
 * The function's summary is then made of the instructions some path
 * reaches (live), without the references of jumps never taken.  Where
 * paths meet, a register stays known only if it is known, and equal, on
 * both.  A call forgets everything (perlasm's internal calls keep no
 * ABI).  The walk gives up, leaving the function whole, when its flow
 * is not fully known: an indirect jump, a branch into the middle of an
 * instruction, bytes that do not decode on a path.  Addresses of the
 * function's own code that it takes are entries with nothing known.
 *
 * An entry from outside past the start (a jump into the middle, a
 * return address, a thread's pc) comes with unknown registers: it is
 * safe when no path from it reaches a decided jump and it is live; any
 * other has the function decoded whole (captest.c).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

#define FOLD_MAX_INSNS 16384    /* larger functions are left whole */
#define REACH_MAX_PASSES 64     /* backward passes for "reaches a decided jump" */


bool mg_insn_rip_target(const mg_flow_insn *x, const ZydisDecodedOperand *op, uint64_t base,
			uint64_t *out)
{
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.base != ZYDIS_REGISTER_RIP ||
	    op->mem.index != ZYDIS_REGISTER_NONE || !op->mem.disp.has_displacement)
		return false;
	*out = base + x->off + x->in.length + (uint64_t)op->mem.disp.value;
	return true;
}

typedef struct fold_state {
	uint16_t known;            /* bit r: value[r] is what register r holds */
	uint64_t value[16];        /* as the register holds it (32-bit writes zero-extend) */
	/* (the two fields above are laid out as mg_captest_regs) */
	bool flags;                /* cf (and zf, if zf_known) reflect a known compare */
	bool zf_known;             /* false after bt, which leaves ZF undefined */
	bool zf, cf;
} fold_state;

/* What the walk needs: the function, and what it knows of memory. */
typedef struct fold_walk {
	mg_scan_ctx *cx;
	int depth;                 /* 1 inside a callee evaluated for its return */
	const mg_capvec *c;
	uint64_t base;             /* runtime address of the function */
	size_t len;
	const mg_flow_insn *v;
	size_t n;
	const mg_captest_entry *entries;   /* where it was entered, with what known */
	size_t nentries;
	const fold_state *start;   /* without entries: the state at the start */
} fold_walk;

static uint64_t size_mask(unsigned bits)
{
	return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* The bits-wide value at addr, if it lies in the vector or the flag. */
static bool known_memory(const mg_capvec *c, uint64_t at, unsigned bits, uint64_t *val)
{
	unsigned n = bits / 8;
	uint8_t bytes[20];
	memcpy(bytes, c->word, 16);
	memcpy(bytes + 16, &c->trigger_value, 4);
	const uint8_t *src = NULL;
	if (n == 0 || n > 8 || bits % 8)
		return false;
	if (at >= c->addr && at + n <= c->addr + 16)
		src = bytes + (at - c->addr);
	else if (c->trigger != 0 && at >= c->trigger && at + n <= c->trigger + 4)
		src = bytes + 16 + (at - c->trigger);
	if (src == NULL)
		return false;
	uint64_t v = 0;
	memcpy(&v, src, n);     /* x86 is little-endian, as the words are stored */
	*val = v;
	return true;
}

/* The address a memory operand reads, if known (RIP-relative, or a known
 * base register without index). */
static bool mem_address(const fold_walk *fw, const fold_state *s, const mg_flow_insn *x,
			const ZydisDecodedOperand *op, uint64_t *at)
{
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.segment == ZYDIS_REGISTER_FS ||
	    op->mem.segment == ZYDIS_REGISTER_GS)
		return false;
	if (mg_insn_rip_target(x, op, fw->base, at))
		return true;
	int b = mg_gpr_index(op->mem.base);
	if (b < 0 || op->mem.index != ZYDIS_REGISTER_NONE || !(s->known & (1u << b)))
		return false;
	*at = s->value[b] + (uint64_t)(op->mem.disp.has_displacement ? op->mem.disp.value : 0);
	return true;
}

/* A register operand the walk can track: a full, 32-bit or low-byte one. */
static int tracked_reg(const ZydisDecodedOperand *op)
{
	if (op->type != ZYDIS_OPERAND_TYPE_REGISTER)
		return -1;
	ZydisRegister r = op->reg.value;
	if (r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_BH || r == ZYDIS_REGISTER_CH ||
	    r == ZYDIS_REGISTER_DH)
		return -1;
	return mg_gpr_index(r);
}

/* The value of operand op of x (bits wide), if known. */
static bool operand_value(const fold_walk *fw, const fold_state *s, const mg_flow_insn *x,
			  const ZydisDecodedOperand *op, unsigned bits, uint64_t *v)
{
	uint64_t at;
	int r;
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		r = tracked_reg(op);
		if (r < 0 || !(s->known & (1u << r)))
			return false;
		*v = s->value[r] & size_mask(bits);
		return true;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		*v = (uint64_t)op->imm.value.s & size_mask(bits);   /* sign-extended */
		return true;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		return mem_address(fw, s, x, op, &at) && known_memory(fw->c, at, bits, v);
	default:
		return false;
	}
}

/* Register r now holds v, written bits wide (a 32-bit write zero-extends;
 * a narrower one merges, which the walk does not follow). */
static void set_reg(fold_state *s, int r, unsigned bits, bool known, uint64_t v)
{
	if (known && bits >= 32) {
		s->known |= (uint16_t)(1u << r);
		s->value[r] = v & size_mask(bits);
	} else {
		s->known &= (uint16_t)~(1u << r);
	}
}

/* Forget every register x writes, and the flags if it changes CF or ZF. */
static void forget_writes(fold_state *s, const mg_flow_insn *x)
{
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		int r = op->type == ZYDIS_OPERAND_TYPE_REGISTER ? mg_gpr_index(op->reg.value) : -1;
		if (r >= 0 && (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			s->known &= (uint16_t)~(1u << r);
	}
	const ZydisAccessedFlags *f = x->in.cpu_flags;
	ZydisAccessedFlagsMask cz = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_ZF;
	if (f == NULL || ((f->modified | f->set_0 | f->set_1 | f->undefined) & cz))
		s->flags = false;
}

/* and/or/xor/test/cmp/bt: the flags and (for the first three) the value,
 * when both operands are known.  False if x is none of them. */
static bool alu(const fold_walk *fw, fold_state *s, const mg_flow_insn *x)
{
	ZydisMnemonic m = x->in.mnemonic;
	if (m != ZYDIS_MNEMONIC_AND && m != ZYDIS_MNEMONIC_OR && m != ZYDIS_MNEMONIC_XOR &&
	    m != ZYDIS_MNEMONIC_TEST && m != ZYDIS_MNEMONIC_CMP && m != ZYDIS_MNEMONIC_BT)
		return false;
	if (x->in.operand_count_visible < 2)
		return false;
	const ZydisDecodedOperand *d = &x->op[0], *src = &x->op[1];
	unsigned bits = d->size;
	int r = tracked_reg(d);
	uint64_t a = 0, b = 0;
	bool same = m == ZYDIS_MNEMONIC_XOR && r >= 0 && src->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    src->reg.value == d->reg.value;                  /* xor r,r: zero */
	bool ok = same || (bits >= 8 && bits <= 64 && operand_value(fw, s, x, d, bits, &a) &&
			   operand_value(fw, s, x, src, bits, &b));
	bool writes = m == ZYDIS_MNEMONIC_AND || m == ZYDIS_MNEMONIC_OR || m == ZYDIS_MNEMONIC_XOR;
	if (!ok) {
		forget_writes(s, x);
		return true;
	}
	uint64_t res = same ? 0 : m == ZYDIS_MNEMONIC_AND || m == ZYDIS_MNEMONIC_TEST ? a & b :
			m == ZYDIS_MNEMONIC_OR ? a | b : a ^ b;
	s->flags = true;
	s->zf_known = true;
	s->cf = false;                     /* and/or/xor/test clear CF */
	s->zf = res == 0;
	if (m == ZYDIS_MNEMONIC_CMP) {
		s->zf = a == b;
		s->cf = a < b;
	} else if (m == ZYDIS_MNEMONIC_BT) {
		if (src->type != ZYDIS_OPERAND_TYPE_IMMEDIATE) {   /* a bit string in memory */
			s->flags = false;
			return true;
		}
		s->cf = (a >> (b & (bits - 1))) & 1;
		s->zf_known = false;             /* bt leaves ZF undefined */
	}
	if (writes) {
		if (r >= 0)
			set_reg(s, r, bits, true, res);
		else
			forget_writes(s, x);     /* a memory destination: nothing to track */
		s->flags = true;
	}
	return true;
}

/* Does the condition of jcc/cmovcc x hold (1), not (0), or unknown (-1)? */
static int condition(const fold_state *s, const mg_flow_insn *x)
{
	if (!s->flags)
		return -1;
	bool zf = s->zf_known;     /* may ZF be used? */
	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_JZ:   case ZYDIS_MNEMONIC_CMOVZ:   return zf ? s->zf : -1;
	case ZYDIS_MNEMONIC_JNZ:  case ZYDIS_MNEMONIC_CMOVNZ:  return zf ? !s->zf : -1;
	case ZYDIS_MNEMONIC_JB:   case ZYDIS_MNEMONIC_CMOVB:   return s->cf;
	case ZYDIS_MNEMONIC_JNB:  case ZYDIS_MNEMONIC_CMOVNB:  return !s->cf;
	case ZYDIS_MNEMONIC_JBE:  case ZYDIS_MNEMONIC_CMOVBE:  return zf ? (s->cf || s->zf) : -1;
	case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_CMOVNBE: return zf ? (!s->cf && !s->zf) : -1;
	default:                  return -1;
	}
}

/* Where paths meet: keep what both know alike.  True if *into changed. */
static bool meet(fold_state *into, const fold_state *from)
{
	fold_state old = *into;
	uint16_t both = into->known & from->known;
	for (int r = 0; r < 16; r++)
		if ((both & (1u << r)) && into->value[r] != from->value[r])
			both &= (uint16_t)~(1u << r);
	into->known = both;
	if (into->flags && (!from->flags || into->cf != from->cf ||
			    (into->zf_known && (!from->zf_known || into->zf != from->zf))))
		into->flags = false;
	if (into->flags && !from->zf_known)
		into->zf_known = false;
	return into->known != old.known || into->flags != old.flags ||
	       into->zf_known != old.zf_known;
}

/* cmovcc into register r: the source if the condition holds, else the
 * destination (a 32-bit cmov zero-extends it either way).  False if the
 * result is not known. */
static bool cmov(const fold_walk *fw, fold_state *s, const mg_flow_insn *x, int r)
{
	const ZydisDecodedOperand *d = &x->op[0], *src = &x->op[1];
	int t = condition(s, x);
	uint64_t a = 0, b = 0;
	bool ka = operand_value(fw, s, x, d, d->size, &a);
	bool kb = operand_value(fw, s, x, src, d->size, &b);
	if (t == 1 && kb)
		set_reg(s, r, d->size, true, b);
	else if (t == 0 && ka)
		set_reg(s, r, d->size, true, a);
	else if (t < 0 && ka && kb && a == b)
		set_reg(s, r, d->size, true, a);
	else
		return false;
	return true;
}

static bool walk(const fold_walk *fw, uint8_t *reached, int8_t *decision, fold_state *in);

#define CALLEE_MAX_INSNS 64     /* callees evaluated for what they return */

/*
 * A call of a small function of the library (x25519_fe64_eligible:
 * `mov OPENSSL_ia32cap_P+8,%ecx; xor %eax,%eax; and; cmp; cmove %ecx,%eax;
 * ret`): walk it from the caller's state, and take the registers known
 * alike at each of its returns.  False if that is not known.
 */
static bool return_state(const fold_walk *fw, fold_state *s, const mg_flow_insn *x)
{
	const mg_scan_ctx *cx = fw->cx;
	if (fw->depth > 0 || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return false;
	uint64_t target = fw->base + x->off + x->in.length + (uint64_t)x->op[0].imm.value.s, h;
	uint32_t cu = mg_codemap_find(cx->map, target);
	const mg_unit *cu_unit = cu == MG_NO_UNIT ? NULL : &cx->map->units[cu];
	if (cu_unit == NULL || cu_unit->start != target || cu_unit->module != fw->c->module ||
	    cu_unit->kind != MG_UNIT_FUNCTION || mg_unit_is_gap(cx->map, cu))
		return false;
	const uint8_t *b = mg_unit_code(cx, cu, &h);
	fold_walk sub = { fw->cx, 1, fw->c, target, (size_t)(cu_unit->end - target), NULL, 0,
			  NULL, 0, s };
	mg_flow_insn *v = b ? mg_flow_decode(fw->cx, b, sub.len, &sub.n) : NULL;
	sub.v = v;
	uint8_t *reached = v && sub.n <= CALLEE_MAX_INSNS ? calloc(sub.n, 1) : NULL;
	int8_t decision[CALLEE_MAX_INSNS];
	fold_state in[CALLEE_MAX_INSNS], out;
	bool ok = reached != NULL && v[0].off == 0;
	if (ok) {
		memset(decision, -1, sizeof(decision));
		ok = walk(&sub, reached, decision, in);
	}
	bool any = false;
	for (size_t i = 0; ok && i < sub.n; i++) {
		if (!reached[i] || v[i].in.mnemonic != ZYDIS_MNEMONIC_RET)
			continue;
		if (!any)
			out = in[i];
		else
			meet(&out, &in[i]);
		any = true;
	}
	free(v);
	free(reached);
	if (!ok || !any)
		return false;
	out.flags = false;
	*s = out;
	return true;
}

/* Apply one instruction that is not a conditional jump. */
static void step(const fold_walk *fw, fold_state *s, const mg_flow_insn *x)
{
	const ZydisDecodedOperand *d = &x->op[0], *src = &x->op[1];
	int r = x->in.operand_count_visible == 2 ? tracked_reg(d) : -1;
	uint64_t v = 0, at;
	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_CALL:
		if (!return_state(fw, s, x))
			memset(s, 0, sizeof(*s));     /* the callee may change anything */
		return;
	case ZYDIS_MNEMONIC_CMOVZ: case ZYDIS_MNEMONIC_CMOVNZ: case ZYDIS_MNEMONIC_CMOVB:
	case ZYDIS_MNEMONIC_CMOVNB: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVNBE:
		if (r >= 0 && cmov(fw, s, x, r))
			return;
		break;
	case ZYDIS_MNEMONIC_MOV:
	case ZYDIS_MNEMONIC_MOVZX:
		if (r >= 0) {
			unsigned from = x->in.mnemonic == ZYDIS_MNEMONIC_MOVZX ? src->size : d->size;
			bool k = operand_value(fw, s, x, src, from, &v);
			set_reg(s, r, d->size, k, v);
			return;
		}
		break;
	case ZYDIS_MNEMONIC_LEA:
		if (r >= 0 && d->size == 64 && mg_insn_rip_target(x, src, fw->base, &at)) {
			set_reg(s, r, 64, true, at);
			return;
		}
		break;
	default:
		if (alu(fw, s, x))
			return;
		break;
	}
	forget_writes(s, x);
}

/* Does x branch to an offset inside the function that is no instruction
 * start (then its flow is not known)? */
static bool branch_into_insn(const fold_walk *fw, const mg_flow_insn *x)
{
	if (x->target >= 0 || x->in.operand_count_visible == 0 ||
	    x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !x->op[0].imm.is_relative ||
	    x->in.mnemonic == ZYDIS_MNEMONIC_CALL)
		return false;
	int64_t dst = (int64_t)x->off + x->in.length + x->op[0].imm.value.s;
	return dst >= 0 && (uint64_t)dst < fw->len;
}


/* A call into the function itself (perlasm's local subroutines): the
 * instruction it enters, -1 for none, -2 for the middle of one. */
static long own_call(const fold_walk *fw, const mg_flow_insn *x)
{
	if (x->in.mnemonic != ZYDIS_MNEMONIC_CALL || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return -1;
	int64_t dst = (int64_t)x->off + x->in.length + x->op[0].imm.value.s;
	if (dst < 0 || (uint64_t)dst >= fw->len)
		return -1;
	long j = mg_flow_index_at(fw->v, fw->n, (uint64_t)dst);
	return j >= 0 ? j : -2;
}

/* Does instruction i fall through onto i + 1 (contiguous)?  -1: it falls
 * onto bytes that did not decode, or past a known flow. */
static int falls_to_next(const fold_walk *fw, size_t i)
{
	const mg_flow_insn *x = &fw->v[i];
	bool falls = x->falls || x->in.meta.category == ZYDIS_CATEGORY_COND_BR;
	if (!falls)
		return 0;
	uint64_t next = (uint64_t)x->off + x->in.length;
	if (next >= fw->len)
		return 0;              /* into the next unit: the summary's ends_flow says so */
	return i + 1 < fw->n && fw->v[i + 1].off == next ? 1 : -1;
}

/* Hand state s on to instruction j. */
static void flow_to(GArray *todo, uint8_t *reached, fold_state *in, size_t j,
		    const fold_state *s)
{
	if (!reached[j]) {
		reached[j] = 1;
		in[j] = *s;
	} else if (!meet(&in[j], s)) {
		return;
	}
	g_array_append_val(todo, j);
}

/* Enter instruction j with nothing known. */
static void enter(GArray *todo, uint8_t *reached, fold_state *in, size_t j)
{
	fold_state none;
	memset(&none, 0, sizeof(none));
	flow_to(todo, reached, in, j, &none);
}

/* Where the function was entered from outside (with what was known
 * there), and its own code addresses it takes (lea/mov of one: nothing
 * known).  False if one is inside an instruction. */
static bool other_entries(const fold_walk *fw, GArray *todo, uint8_t *reached, fold_state *in)
{
	for (size_t k = 0; k < fw->nentries; k++) {
		const mg_captest_entry *e = &fw->entries[k];
		long j = mg_flow_index_at(fw->v, fw->n, e->off);
		if (j < 0)
			return false;
		fold_state s;
		memset(&s, 0, sizeof(s));
		s.known = e->regs.known;
		memcpy(s.value, e->regs.value, sizeof(s.value));
		flow_to(todo, reached, in, (size_t)j, &s);
	}
	for (size_t i = 0; i < fw->n; i++) {
		const mg_flow_insn *x = &fw->v[i];
		for (unsigned k = 0; k < x->in.operand_count_visible; k++) {
			uint64_t at;
			const ZydisDecodedOperand *op = &x->op[k];
			if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && mg_insn_rip_target(x, op, fw->base, &at))
				;
			else if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && !op->imm.is_relative)
				at = op->imm.value.u;
			else
				continue;
			if (at < fw->base || at >= fw->base + fw->len)
				continue;
			long j = mg_flow_index_at(fw->v, fw->n, at - fw->base);
			if (j < 0)
				return false;  /* into an instruction: its flow is unknown */
			enter(todo, reached, in, (size_t)j);
		}
	}
	return true;
}

/* The dataflow: reached[i], and decision[i] (-1 unknown, 0/1 decided) of
 * each conditional jump.  False when the flow is not fully known. */
static bool walk(const fold_walk *fw, uint8_t *reached, int8_t *decision, fold_state *in)
{
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(size_t));
	bool ok;
	if (fw->nentries == 0 && fw->start != NULL)
		flow_to(todo, reached, in, 0, fw->start);
	else if (fw->nentries == 0)
		enter(todo, reached, in, 0);     /* from its start */
	ok = other_entries(fw, todo, reached, in);
	while (ok && todo->len > 0) {
		size_t i = g_array_index(todo, size_t, todo->len - 1);
		g_array_set_size(todo, todo->len - 1);
		const mg_flow_insn *x = &fw->v[i];
		fold_state s = in[i];
		int t = -1;
		long callee = own_call(fw, x);
		if (x->indirect || branch_into_insn(fw, x) || callee == -2) {
			ok = false;
			break;
		}
		if (callee >= 0)
			enter(todo, reached, in, (size_t)callee);
		if (x->in.meta.category == ZYDIS_CATEGORY_COND_BR)
			decision[i] = (int8_t)(t = condition(&s, x));
		else
			step(fw, &s, x);
		int next = falls_to_next(fw, i);
		if (next < 0 && t != 1) {
			ok = false;
			break;
		}
		if (next > 0 && t != 1)
			flow_to(todo, reached, in, i + 1, &s);
		if (x->target >= 0 && t != 0)
			flow_to(todo, reached, in, (size_t)x->target, &s);
	}
	g_array_free(todo, TRUE);
	return ok;
}

static void set_bit(uint8_t *bits, uint32_t i)
{
	bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* The entries that change nothing: live, and no path from them (every
 * branch followed both ways) reaches a decided jump. */
static bool safe_entries(const fold_walk *fw, const uint8_t *reached, const int8_t *decision,
			 uint8_t *safe)
{
	uint8_t *reaches = calloc(fw->n, 1);
	if (reaches == NULL)
		return false;
	for (size_t i = 0; i < fw->n; i++)
		reaches[i] = reached[i] && decision[i] >= 0;
	bool changed = true;
	for (int pass = 0; changed && pass < REACH_MAX_PASSES; pass++) {
		changed = false;
		for (size_t i = fw->n; i-- > 0;) {
			const mg_flow_insn *x = &fw->v[i];
			if (reaches[i])
				continue;
			long callee = own_call(fw, x);
			bool r = (falls_to_next(fw, i) > 0 && reaches[i + 1]) ||
				 (x->target >= 0 && reaches[x->target]) ||
				 (callee >= 0 && reaches[callee]);
			if (r)
				reaches[i] = changed = 1;
		}
	}
	if (!changed)          /* settled: otherwise no entry is called safe */
		for (size_t i = 0; i < fw->n; i++)
			if (reached[i] && !reaches[i])
				set_bit(safe, fw->v[i].off);
	free(reaches);
	return true;
}

/* The summary of the live instructions, without the references of the
 * jumps the vector decides are never taken. */
static bool live_summary(const fold_walk *fw, const uint8_t *reached, const int8_t *decision,
			 mg_captest_fold_result *res)
{
	size_t cap = 0;
	memset(&res->summary, 0, sizeof(res->summary));
	for (size_t i = 0; i < fw->n; i++) {
		const mg_flow_insn *x = &fw->v[i];
		if (!reached[i]) {
			res->pruned++;
			continue;
		}
		set_bit(res->live, x->off);
		res->summary.instructions++;
		if (decision[i] >= 0)
			res->decided++;
		if (decision[i] == 0)
			continue;          /* its target is not reached this way */
		if (!mg_summary_add_insn(&res->summary, &cap, &x->in, x->off, fw->len))
			return false;
	}
	mg_summary_finish(&res->summary);
	return true;
}

/* The jumps and calls into other functions that some path reaches with
 * registers known: those functions are entered with them (captest.c). */
static bool exits(const fold_walk *fw, const uint8_t *reached, const int8_t *decision,
		  const fold_state *in, mg_captest_fold_result *res)
{
	for (size_t i = 0; i < fw->n; i++) {
		const mg_flow_insn *x = &fw->v[i];
		if (!reached[i] || decision[i] == 0 || in[i].known == 0 ||
		    x->in.operand_count_visible == 0 || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    !x->op[0].imm.is_relative)
			continue;
		int64_t dst = (int64_t)x->off + x->in.length + x->op[0].imm.value.s;
		if (dst >= 0 && (uint64_t)dst < fw->len)
			continue;      /* inside: followed by the walk */
		mg_captest_exit e = { fw->base + (uint64_t)dst, { in[i].known, { 0 } } };
		memcpy(e.regs.value, in[i].value, sizeof(e.regs.value));
		size_t k = 0;
		while (k < res->nexits && res->exits[k].addr != e.addr)
			k++;
		if (k < res->nexits) {          /* two ways there: what both know */
			fold_state a = { 0 }, b = { 0 };
			a.known = res->exits[k].regs.known;
			memcpy(a.value, res->exits[k].regs.value, sizeof(a.value));
			b.known = e.regs.known;
			memcpy(b.value, e.regs.value, sizeof(b.value));
			meet(&a, &b);
			res->exits[k].regs.known = a.known;
			continue;
		}
		mg_captest_exit *g = realloc(res->exits, (res->nexits + 1) * sizeof(*g));
		if (g == NULL)
			return false;
		res->exits = g;
		res->exits[res->nexits++] = e;
	}
	return true;
}

/* Did deciding change what the function leads to: pruned code, or a
 * never-taken jump out of it? */
static bool matters(const fold_walk *fw, const int8_t *decision, const mg_captest_fold_result *r)
{
	if (r->pruned > 0 || r->nexits > 0)
		return true;
	for (size_t i = 0; i < fw->n; i++)
		if (decision[i] == 0 && fw->v[i].target < 0)
			return true;
	return false;
}

void mg_captest_fold_free(mg_captest_fold_result *f)
{
	if (f == NULL)
		return;
	mg_unit_summary_free(&f->summary);
	free(f->exits);
	free(f->live);
	free(f->safe);
	free(f);
}

mg_captest_fold_result *mg_captest_fold(mg_scan_ctx *cx, uint32_t unit, const uint8_t *bytes)
{
	const mg_unit *u = &cx->map->units[unit];
	fold_walk fw = { cx, 0, &cx->capvec, u->start, (size_t)(u->end - u->start), NULL, 0,
			 NULL, 0, NULL };
	fw.entries = mg_captest_entries(cx, unit, &fw.nentries);
	mg_flow_insn *v = mg_flow_decode(cx, bytes, fw.len, &fw.n);
	fw.v = v;
	if (v == NULL || fw.n == 0 || fw.n > FOLD_MAX_INSNS || v[0].off != 0) {
		free(v);
		return NULL;
	}
	uint8_t *reached = calloc(fw.n, 1);
	int8_t *decision = malloc(fw.n);
	fold_state *in = malloc(fw.n * sizeof(*in));
	mg_captest_fold_result *res = calloc(1, sizeof(*res));
	size_t nbits = fw.len / 8 + 1;
	if (res != NULL) {
		res->len = (uint32_t)fw.len;
		res->live = calloc(nbits, 1);
		res->safe = calloc(nbits, 1);
	}
	bool ok = reached && decision && in && res && res->live && res->safe;
	if (ok) {
		memset(decision, -1, fw.n);
		ok = walk(&fw, reached, decision, in) &&
		     live_summary(&fw, reached, decision, res) &&
		     exits(&fw, reached, decision, in, res) && matters(&fw, decision, res) &&
		     safe_entries(&fw, reached, decision, res->safe);
	}
	free(v);
	free(reached);
	free(decision);
	free(in);
	if (!ok) {
		mg_captest_fold_free(res);
		return NULL;
	}
	return res;
}
