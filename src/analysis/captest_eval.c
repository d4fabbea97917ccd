/*
 * captest_eval.c - what one instruction does to the registers and flags
 * the fold of OpenSSL's capability tests knows (captest_fold.c walks the
 * function).
 *
 * Known values come from loads of the capability vector and of
 * OPENSSL_cpuid_setup's once-flag (the only memory the fold knows, at any
 * width and offset), immediates, and the address a RIP-relative lea
 * takes; and/or/xor/movzx and shifts by a constant combine them,
 * test/cmp/bt set known flags (CF, ZF, SF), a
 * cmov on decided flags picks its operand.  A call of a short function
 * of the library is walked for what it returns; any other call forgets
 * everything.  Anything else forgets what it writes.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/captest_priv.h"

bool mg_insn_rip_target(const mg_flow_insn *x, const ZydisDecodedOperand *op, uint64_t base,
			uint64_t *out)
{
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.base != ZYDIS_REGISTER_RIP ||
	    op->mem.index != ZYDIS_REGISTER_NONE || !op->mem.disp.has_displacement)
		return false;
	*out = base + x->off + x->in.length + (uint64_t)op->mem.disp.value;
	return true;
}

static uint64_t size_mask(unsigned bits)
{
	return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* The bits-wide value at addr, if it lies in the dispatch state the fold
 * knows (the vector, its flag, numpy's array). */
static bool known_memory(const mg_capvec *c, uint64_t at, unsigned bits, uint64_t *val)
{
	unsigned n = bits / 8;
	const uint8_t *src = n == 0 || n > 8 || bits % 8 ? NULL : mg_capvec_bytes(c, at, n);
	if (src == NULL)
		return false;
	uint64_t v = 0;
	memcpy(&v, src, n);     /* little-endian, as the process stores it */
	*val = v;
	return true;
}

/* Is all of register r known? */
static bool full_reg(const fold_state *s, int r)
{
	return (s->regs.known & (1u << r)) && s->regs.bits[r] == UINT64_MAX;
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
	int b = mg_gpr_index(op->mem.base), i = mg_gpr_index(op->mem.index);
	bool indexed = op->mem.index != ZYDIS_REGISTER_NONE;
	if (b < 0 || !full_reg(s, b) || (indexed && (i < 0 || !full_reg(s, i))))
		return false;
	*at = s->regs.value[b] + (uint64_t)(op->mem.disp.has_displacement ? op->mem.disp.value : 0);
	if (i >= 0)      /* npy_cpu_have: movzbl (%rax,%rdi,1),%eax */
		*at += s->regs.value[i] * op->mem.scale;
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

/* Which bits of operand op of x (bits wide) are known (*v: their values,
 * 0 elsewhere). */
static uint64_t operand_bits(const fold_walk *fw, const fold_state *s, const mg_flow_insn *x,
			     const ZydisDecodedOperand *op, unsigned bits, uint64_t *v)
{
	uint64_t at, all = size_mask(bits), mask;
	int r;
	*v = 0;
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		r = tracked_reg(op);
		if (r < 0 || !(s->regs.known & (1u << r)))
			return 0;
		mask = s->regs.bits[r] & all;
		*v = s->regs.value[r] & mask;
		return mask;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		*v = (uint64_t)op->imm.value.s & all;   /* sign-extended */
		return all;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		return mem_address(fw, s, x, op, &at) && known_memory(fw->c, at, bits, v) ? all : 0;
	default:
		return 0;
	}
}

/* The value of operand op of x (bits wide), if all of it is known. */
static bool operand_value(const fold_walk *fw, const fold_state *s, const mg_flow_insn *x,
			  const ZydisDecodedOperand *op, unsigned bits, uint64_t *v)
{
	return operand_bits(fw, s, x, op, bits, v) == size_mask(bits);
}

/* Register r now holds v where mask says, written bits wide (a 32-bit
 * write zero-extends: the upper half is known; a narrower one merges,
 * which the walk does not follow). */
static void set_bits(fold_state *s, int r, unsigned bits, uint64_t mask, uint64_t v)
{
	mask &= size_mask(bits);
	if (bits == 32)
		mask |= UINT64_C(0xffffffff00000000);
	if (bits < 32)
		mask = 0;
	s->regs.bits[r] = mask;
	s->regs.value[r] = v & mask;
	if (mask != 0)
		s->regs.known |= (uint16_t)(1u << r);
	else
		s->regs.known &= (uint16_t)~(1u << r);
}

/* Register r now holds v, all of it known if known. */
static void set_reg(fold_state *s, int r, unsigned bits, bool known, uint64_t v)
{
	set_bits(s, r, bits, known ? UINT64_MAX : 0, v);
}

/* Forget every register x writes, and the flags it changes. */
static void forget_writes(fold_state *s, const mg_flow_insn *x)
{
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		int r = op->type == ZYDIS_OPERAND_TYPE_REGISTER ? mg_gpr_index(op->reg.value) : -1;
		if (r >= 0 && (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			set_reg(s, r, 64, false, 0);
	}
	const ZydisAccessedFlags *f = x->in.cpu_flags;
	ZydisAccessedFlagsMask w = f ? f->modified | f->set_0 | f->set_1 | f->undefined : ~0u;
	if (w & ZYDIS_CPUFLAG_CF)
		s->known &= (uint8_t)~FOLD_CF;
	if (w & ZYDIS_CPUFLAG_ZF)
		s->known &= (uint8_t)~FOLD_ZF;
	if (w & ZYDIS_CPUFLAG_SF)
		s->known &= (uint8_t)~FOLD_SF;
}

/* The flags in mask are now known, as far as the bits-wide result says
 * (known: its known bits, res their values): CF as cf, ZF once a bit is
 * known set or all are known, SF once the top bit is known.  The others
 * are not. */
static void set_flags(fold_state *s, uint8_t mask, bool cf, uint64_t res, uint64_t known,
		      unsigned bits)
{
	uint64_t top = UINT64_C(1) << (bits - 1);
	if (!(res & known) && known != size_mask(bits))
		mask &= (uint8_t)~FOLD_ZF;
	if (!(known & top))
		mask &= (uint8_t)~FOLD_SF;
	s->known = mask;
	s->value = (uint8_t)((cf ? FOLD_CF : 0) | ((res & known) == 0 ? FOLD_ZF : 0) |
			     (res & top ? FOLD_SF : 0));
	s->value &= mask;
}

/* The known bits of a op b, for and/or/xor/test (a bit of an and is
 * known where either operand's is known clear, or both are known). */
static uint64_t logic_bits(ZydisMnemonic m, uint64_t ka, uint64_t a, uint64_t kb, uint64_t b,
			   uint64_t *res)
{
	uint64_t k;
	switch (m) {
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_TEST:
		k = (ka & kb) | (ka & ~a) | (kb & ~b);
		*res = a & b & k;
		return k;
	case ZYDIS_MNEMONIC_OR:
		k = (ka & kb) | (ka & a) | (kb & b);
		*res = (a | b) & k;
		return k;
	default:                   /* xor */
		k = ka & kb;
		*res = (a ^ b) & k;
		return k;
	}
}

/* and/or/xor/test/cmp/bt: the flags and (for the first three) the value,
 * as far as the operands' known bits tell.  False if x is none of them. */
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
	uint64_t a = 0, b = 0, all = size_mask(bits), res = 0, known;
	if (bits < 8 || bits > 64) {
		forget_writes(s, x);
		return true;
	}
	bool same = m == ZYDIS_MNEMONIC_XOR && r >= 0 && src->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    src->reg.value == d->reg.value;                  /* xor r,r: zero */
	uint64_t ka = same ? all : operand_bits(fw, s, x, d, bits, &a);
	uint64_t kb = same ? all : operand_bits(fw, s, x, src, bits, &b);
	if (same)
		a = b = 0;
	bool writes = m == ZYDIS_MNEMONIC_AND || m == ZYDIS_MNEMONIC_OR || m == ZYDIS_MNEMONIC_XOR;
	if (m == ZYDIS_MNEMONIC_CMP || m == ZYDIS_MNEMONIC_BT) {
		unsigned bit = (unsigned)(b & (bits - 1));
		forget_writes(s, x);
		if (m == ZYDIS_MNEMONIC_CMP && ka == all && kb == all)
			set_flags(s, FOLD_CF | FOLD_ZF | FOLD_SF, a < b, (a - b) & all, all, bits);
		else if (m == ZYDIS_MNEMONIC_BT && src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
			 (ka >> bit) & 1)            /* bt leaves ZF and SF undefined */
			set_flags(s, FOLD_CF, (a >> bit) & 1, 0, all, bits);
		return true;
	}
	known = logic_bits(m, ka, a, kb, b, &res);
	if (writes && r >= 0)
		set_bits(s, r, bits, known, res);
	else if (writes)
		forget_writes(s, x);     /* a memory destination: nothing to track */
	if (known != 0)              /* and/or/xor/test clear CF */
		set_flags(s, FOLD_CF | FOLD_ZF | FOLD_SF, false, res, known, bits);
	else
		forget_writes(s, x);
	return true;
}

/* shl/shr by an immediate (poly1305_init: `mov OPENSSL_ia32cap_P+4,%r9;
 * shr $32,%r9` brings the third word down): the value, and the flags a
 * non-zero count sets.  False if x is neither. */
static bool shift(const fold_walk *fw, fold_state *s, const mg_flow_insn *x)
{
	ZydisMnemonic m = x->in.mnemonic;
	if ((m != ZYDIS_MNEMONIC_SHR && m != ZYDIS_MNEMONIC_SHL) || x->in.operand_count_visible < 2 ||
	    x->op[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return false;
	const ZydisDecodedOperand *d = &x->op[0];
	int r = tracked_reg(d);
	unsigned bits = d->size, count = (unsigned)x->op[1].imm.value.u & (bits == 64 ? 63 : 31);
	uint64_t a, all = size_mask(bits);
	uint64_t ka = r >= 0 && bits >= 32 ? operand_bits(fw, s, x, d, bits, &a) : 0;
	if (count == 0 && ka != 0)
		return true;       /* nothing changes, not even the flags */
	if (ka == 0 || count == 0) {
		forget_writes(s, x);
		return true;
	}
	bool shr = m == ZYDIS_MNEMONIC_SHR;
	unsigned out = shr ? count - 1 : bits - count;   /* the last bit shifted out: CF */
	uint64_t in = shr ? ~(all >> count) & all : (UINT64_C(1) << count) - 1;   /* zeros */
	uint64_t res = (shr ? a >> count : a << count) & all;
	uint64_t known = (((shr ? ka >> count : ka << count) & all) | in);
	set_bits(s, r, bits, known, res);
	set_flags(s, FOLD_CF | FOLD_ZF | FOLD_SF, (a >> out) & 1, res, known, bits);
	if (!((ka >> out) & 1))
		s->known &= (uint8_t)~FOLD_CF;
	return true;
}

/* Does the condition of jcc/cmovcc x hold (1), not (0), or unknown (-1)? */
int mg_fold_condition(const fold_state *s, const mg_flow_insn *x)
{
	uint8_t need;              /* the flags the condition reads */
	bool holds;
	bool cf = s->value & FOLD_CF, zf = s->value & FOLD_ZF, sf = s->value & FOLD_SF;
	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_JZ:   case ZYDIS_MNEMONIC_CMOVZ:   need = FOLD_ZF, holds = zf; break;
	case ZYDIS_MNEMONIC_JNZ:  case ZYDIS_MNEMONIC_CMOVNZ:  need = FOLD_ZF, holds = !zf; break;
	case ZYDIS_MNEMONIC_JB:   case ZYDIS_MNEMONIC_CMOVB:   need = FOLD_CF, holds = cf; break;
	case ZYDIS_MNEMONIC_JNB:  case ZYDIS_MNEMONIC_CMOVNB:  need = FOLD_CF, holds = !cf; break;
	case ZYDIS_MNEMONIC_JS:   case ZYDIS_MNEMONIC_CMOVS:   need = FOLD_SF, holds = sf; break;
	case ZYDIS_MNEMONIC_JNS:  case ZYDIS_MNEMONIC_CMOVNS:  need = FOLD_SF, holds = !sf; break;
	case ZYDIS_MNEMONIC_JBE:  case ZYDIS_MNEMONIC_CMOVBE:
		need = FOLD_CF | FOLD_ZF, holds = cf || zf;
		break;
	case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_CMOVNBE:
		need = FOLD_CF | FOLD_ZF, holds = !cf && !zf;
		break;
	default:
		return -1;
	}
	return (s->known & need) == need ? holds : -1;
}

/* Where paths meet: keep what both know alike.  True if *into changed. */
bool mg_fold_meet(fold_state *into, const fold_state *from)
{
	uint8_t known = into->known;
	bool changed = mg_captest_regs_meet(&into->regs, &from->regs);
	into->known &= from->known & (uint8_t)~(into->value ^ from->value);
	into->value &= into->known;
	return changed || into->known != known;
}

/* cmovcc into register r: the source if the condition holds, else the
 * destination (a 32-bit cmov zero-extends it either way).  False if the
 * result is not known. */
static bool cmov(const fold_walk *fw, fold_state *s, const mg_flow_insn *x, int r)
{
	const ZydisDecodedOperand *d = &x->op[0], *src = &x->op[1];
	int t = mg_fold_condition(s, x);
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

#define CALLEE_MAX_INSNS 64     /* callees evaluated for what they return */
#define CALLEE_MAX_BYTES 1024   /* ... and the bytes they may span */

/* Does some path of the walked callee leave it other than by ret: a jump
 * to another function (a tail call returns from there, with what that
 * one leaves), or running off the bytes walked? */
static bool leaves_by_other_than_ret(const fold_walk *sub, const uint8_t *reached,
				     const int8_t *decision)
{
	for (size_t i = 0; i < sub->n; i++) {
		const mg_flow_insn *x = &sub->v[i];
		bool jcc = x->in.meta.category == ZYDIS_CATEGORY_COND_BR;
		if (!reached[i] || x->in.mnemonic == ZYDIS_MNEMONIC_CALL)
			continue;
		bool branches = x->in.operand_count_visible > 0 &&
				x->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && x->op[0].imm.is_relative;
		if (branches && x->target < 0 && (!jcc || decision[i] != 0))
			return true;
		bool falls = (x->falls && !jcc) || (jcc && decision[i] != 1);
		if (falls && (i + 1 == sub->n || sub->v[i + 1].off != x->off + x->in.length))
			return true;
	}
	return false;
}

/* Walk only the callee's first CALLEE_MAX_INSNS instructions: a gap's
 * bytes run on past the function (rsaz_avx2_eligible, 8 instructions,
 * is followed by 280 bytes of padding and the next function).  A path
 * that branches or runs past them then leaves the bytes walked, which
 * tells nothing. */
static void keep_first_insns(fold_walk *sub, mg_flow_insn *v)
{
	if (sub->n <= CALLEE_MAX_INSNS)
		return;
	sub->n = CALLEE_MAX_INSNS;
	sub->len = v[CALLEE_MAX_INSNS].off;
	for (size_t i = 0; i < sub->n; i++)
		if (v[i].target >= CALLEE_MAX_INSNS)
			v[i].target = -1;      /* (past sub->len: out of the bytes) */
}

/*
 * A call of a small function of the library (x25519_fe64_eligible:
 * `mov OPENSSL_ia32cap_P+8,%ecx; xor %eax,%eax; and; cmp; cmove %ecx,%eax;
 * ret`; or one without an FDE, in a gap: ossl_rsaz_avx512ifma_eligible):
 * walk it from the caller's state, and take the registers known alike at
 * each of its returns.  False if that is not known, or a path leaves it
 * other than by ret.
 */
static bool return_state(const fold_walk *fw, fold_state *s, const mg_flow_insn *x)
{
	const mg_scan_ctx *cx = fw->cx;
	if (fw->depth > 0 || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return false;
	uint64_t target = fw->base + x->off + x->in.length + (uint64_t)x->op[0].imm.value.s;
	size_t len;
	const uint8_t *b = mg_captest_callee_code(cx, target, CALLEE_MAX_BYTES, &len);
	fold_walk sub = { fw->cx, 1, fw->c, target, len, NULL, 0, NULL, 0, s };
	mg_flow_insn *v = b ? mg_flow_decode(fw->cx, b, sub.len, &sub.n) : NULL;
	sub.v = v;
	if (v != NULL)
		keep_first_insns(&sub, v);
	uint8_t *reached = v && sub.n > 0 ? calloc(sub.n, 1) : NULL;
	int8_t decision[CALLEE_MAX_INSNS];
	fold_state in[CALLEE_MAX_INSNS], out;
	bool ok = reached != NULL && v[0].off == 0;
	if (ok) {
		memset(decision, -1, sizeof(decision));
		ok = mg_fold_walk(&sub, reached, decision, in) &&
		     !leaves_by_other_than_ret(&sub, reached, decision);
	}
	bool any = false;
	for (size_t i = 0; ok && i < sub.n; i++) {
		if (!reached[i] || v[i].in.mnemonic != ZYDIS_MNEMONIC_RET)
			continue;
		if (!any)
			out = in[i];
		else
			mg_fold_meet(&out, &in[i]);
		any = true;
	}
	free(v);
	free(reached);
	if (!ok || !any)
		return false;
	out.known = 0;
	*s = out;
	return true;
}

/* Apply one instruction that is not a conditional jump. */
void mg_fold_step(const fold_walk *fw, fold_state *s, const mg_flow_insn *x)
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
	case ZYDIS_MNEMONIC_CMOVS: case ZYDIS_MNEMONIC_CMOVNS:
		if (r >= 0 && cmov(fw, s, x, r))
			return;
		break;
	case ZYDIS_MNEMONIC_MOV:
	case ZYDIS_MNEMONIC_MOVZX:
		if (r >= 0) {
			unsigned from = x->in.mnemonic == ZYDIS_MNEMONIC_MOVZX ? src->size : d->size;
			uint64_t k = operand_bits(fw, s, x, src, from, &v);
			if (k != 0)        /* movzx: the bits above the source are zero */
				k |= size_mask(d->size) & ~size_mask(from);
			set_bits(s, r, d->size, k, v);
			return;
		}
		break;
	case ZYDIS_MNEMONIC_LEA:
		if (r >= 0 && d->size == 64 && mg_insn_rip_target(x, src, fw->base, &at)) {
			set_reg(s, r, 64, true, at);
			return;
		}
		/* an address computed from known registers: lea -1(%rdi),%edx */
		if (r >= 0 && d->size >= 32 && src->mem.base != ZYDIS_REGISTER_RIP &&
		    src->mem.segment != ZYDIS_REGISTER_FS && src->mem.segment != ZYDIS_REGISTER_GS &&
		    mem_address(fw, s, x, src, &at)) {
			set_reg(s, r, d->size, true, at);
			return;
		}
		break;
	case ZYDIS_MNEMONIC_MOVSXD:   /* movslq %edi,%rdi */
		if (r >= 0 && d->size == 64 && operand_value(fw, s, x, src, 32, &v)) {
			set_reg(s, r, 64, true, (uint64_t)(int64_t)(int32_t)(uint32_t)v);
			return;
		}
		break;
	default:
		if (alu(fw, s, x) || shift(fw, s, x))
			return;
		break;
	}
	forget_writes(s, x);
}
