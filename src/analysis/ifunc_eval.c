/*
 * ifunc_eval.c - what an IFUNC resolver returns, by running it on paper.
 *
 * An IFUNC that no R_X86_64_IRELATIVE slot has resolved yet (glibc's
 * wcsncmp, reached through another module's lazy PLT slot or dlsym) is
 * bound later, and its resolver then picks from the CPU state the process
 * took at start-up: glibc's resolvers read cpu_features in
 * _rtld_global_ro, which is read-only after relocation.  So what a
 * resolver will return is what it returns now, computed from the
 * process's memory: a resolver is a few dozen instructions of loads, bit
 * tests, branches and `lea variant(%rip)`, with no arguments (ld.so calls
 * x86-64 resolvers with none) and no side effects.
 *
 * mg_ifunc_evaluate interprets that subset exactly: the general registers
 * (a value is known or not), the flags of the last arithmetic or compare
 * (ZF, SF, CF, OF), loads only from memory no code of the process can
 * write (a read-only mapping: RELRO, .rodata), and branches, cmov and ret.
 * Anything else (an unknown register, a call, a writable load, an
 * instruction outside the subset, more than EVAL_STEPS steps) gives up,
 * and the resolver is followed whole as before.
 */
#include <inttypes.h>
#include <string.h>

#include "analysis/engine.h"

#define EVAL_STEPS 512

typedef struct machine {
	uint64_t reg[16];
	bool known[16];
	bool zf, sf, cf, of, flags_known;
} machine;

/* A general register: index, and bit offset (8 for AH..BH), or -1. */
static int reg_slot(ZydisRegister r, unsigned *shift)
{
	*shift = 0;
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
		static const int hi[] = { 0, 1, 2, 3 };   /* ah, ch, dh, bh: rax, rcx, rdx, rbx */
		*shift = 8;
		return hi[r - ZYDIS_REGISTER_AH];
	}
	ZydisRegister l = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	return l >= ZYDIS_REGISTER_RAX && l <= ZYDIS_REGISTER_R15 ? (int)(l - ZYDIS_REGISTER_RAX) : -1;
}

static uint64_t mask_of(unsigned bits)
{
	return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

/* Read memory no code can write; false if writable or unreadable. */
static bool read_constant(mg_scan_ctx *cx, uint64_t addr, unsigned bytes, uint64_t *out)
{
	const mg_mapping *m = mg_image_find_mapping(cx->img, addr);
	uint64_t v = 0;
	if (m == NULL || (m->prot & MG_PROT_WRITE) || !(m->prot & MG_PROT_READ) ||
	    addr + bytes > m->end || bytes > 8 ||
	    mg_image_read(cx->img, addr, &v, bytes) != (ssize_t)bytes)
		return false;
	*out = v;
	return true;
}

static bool effective_address(const machine *mc, const ZydisDecodedOperand *op, uint64_t next_ip,
			      uint64_t *out)
{
	const ZydisDecodedOperand *o = op;
	if (o->mem.segment == ZYDIS_REGISTER_FS || o->mem.segment == ZYDIS_REGISTER_GS)
		return false;
	uint64_t a = (uint64_t)o->mem.disp.value;
	unsigned sh;
	if (o->mem.base == ZYDIS_REGISTER_RIP) {
		a += next_ip;
	} else if (o->mem.base != ZYDIS_REGISTER_NONE) {
		int b = reg_slot(o->mem.base, &sh);
		if (b < 0 || !mc->known[b])
			return false;
		a += mc->reg[b];
	}
	if (o->mem.index != ZYDIS_REGISTER_NONE) {
		int x = reg_slot(o->mem.index, &sh);
		if (x < 0 || !mc->known[x])
			return false;
		a += mc->reg[x] * o->mem.scale;
	}
	*out = a;
	return true;
}

/* The value of a source operand (register, immediate, constant memory). */
static bool get(mg_scan_ctx *cx, const machine *mc, const ZydisDecodedOperand *o,
		uint64_t next_ip, uint64_t *out)
{
	unsigned sh;
	uint64_t a;
	switch (o->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER: {
		int r = reg_slot(o->reg.value, &sh);
		if (r < 0 || !mc->known[r])
			return false;
		*out = (mc->reg[r] >> sh) & mask_of(o->size);
		return true;
	}
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		*out = (o->imm.is_signed ? (uint64_t)o->imm.value.s : o->imm.value.u) & mask_of(o->size);
		return true;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		return effective_address(mc, o, next_ip, &a) && read_constant(cx, a, o->size / 8, out);
	default:
		return false;
	}
}

/* Write a register destination with x86-64's rules (32-bit writes
 * zero-extend, 8/16-bit ones merge). */
static bool put(machine *mc, const ZydisDecodedOperand *o, uint64_t v)
{
	unsigned sh;
	int r = o->type == ZYDIS_OPERAND_TYPE_REGISTER ? reg_slot(o->reg.value, &sh) : -1;
	if (r < 0)
		return false;
	if (o->size == 64 || o->size == 32) {
		mc->reg[r] = v & mask_of(o->size);
		mc->known[r] = true;
		return true;
	}
	if (!mc->known[r])
		return false;           /* merging into an unknown register */
	uint64_t m = mask_of(o->size) << sh;
	mc->reg[r] = (mc->reg[r] & ~m) | ((v << sh) & m);
	return true;
}

static void set_logic_flags(machine *mc, uint64_t res, unsigned bits)
{
	res &= mask_of(bits);
	mc->zf = res == 0;
	mc->sf = (res >> (bits - 1)) & 1;
	mc->cf = mc->of = false;
	mc->flags_known = true;
}

static void set_sub_flags(machine *mc, uint64_t a, uint64_t b, unsigned bits)
{
	uint64_t m = mask_of(bits), res = (a - b) & m;
	a &= m;
	b &= m;
	mc->zf = res == 0;
	mc->sf = (res >> (bits - 1)) & 1;
	mc->cf = a < b;
	mc->of = (((a ^ b) & (a ^ res)) >> (bits - 1)) & 1;
	mc->flags_known = true;
}

/* The condition of a jcc/cmovcc; -1 if this is not one we know. */
static int condition(const machine *mc, ZydisMnemonic mn)
{
	if (!mc->flags_known)
		return -1;
	switch (mn) {
	case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_CMOVZ: return mc->zf;
	case ZYDIS_MNEMONIC_JNZ: case ZYDIS_MNEMONIC_CMOVNZ: return !mc->zf;
	case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_CMOVS: return mc->sf;
	case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_CMOVNS: return !mc->sf;
	case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_CMOVB: return mc->cf;
	case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_CMOVNB: return !mc->cf;
	case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_CMOVBE: return mc->cf || mc->zf;
	case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_CMOVNBE: return !mc->cf && !mc->zf;
	case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_CMOVL: return mc->sf != mc->of;
	case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_CMOVNL: return mc->sf == mc->of;
	case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_CMOVLE: return mc->zf || mc->sf != mc->of;
	case ZYDIS_MNEMONIC_JNLE: case ZYDIS_MNEMONIC_CMOVNLE: return !mc->zf && mc->sf == mc->of;
	default: return -1;
	}
}

static bool is_cmov(ZydisMnemonic mn)
{
	return mn >= ZYDIS_MNEMONIC_CMOVB && mn <= ZYDIS_MNEMONIC_CMOVZ;
}

/* One arithmetic/logic instruction dst op= src; false if not in the subset. */
static bool alu(mg_scan_ctx *cx, machine *mc, const ZydisDecodedInstruction *in,
		const ZydisDecodedOperand *op, uint64_t next_ip)
{
	uint64_t a = 0, b = 0, r;
	unsigned bits = op[0].size;
	bool store = in->mnemonic != ZYDIS_MNEMONIC_TEST && in->mnemonic != ZYDIS_MNEMONIC_CMP;
	if (!get(cx, mc, &op[1], next_ip, &b))
		return false;
	/* xor r, r and sub r, r are zero whatever r held */
	bool self = op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    op[0].reg.value == op[1].reg.value &&
		    (in->mnemonic == ZYDIS_MNEMONIC_XOR || in->mnemonic == ZYDIS_MNEMONIC_SUB);
	if (!self && !get(cx, mc, &op[0], next_ip, &a))
		return false;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_TEST: r = a & b; set_logic_flags(mc, r, bits); break;
	case ZYDIS_MNEMONIC_OR:  r = a | b; set_logic_flags(mc, r, bits); break;
	case ZYDIS_MNEMONIC_XOR: r = self ? 0 : a ^ b; set_logic_flags(mc, r, bits); break;
	case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_CMP:
		r = self ? 0 : a - b;
		set_sub_flags(mc, self ? 0 : a, self ? 0 : b, bits);
		break;
	case ZYDIS_MNEMONIC_ADD: r = a + b; mc->flags_known = false; break;
	case ZYDIS_MNEMONIC_SHR: r = (a & mask_of(bits)) >> (b & 63); mc->flags_known = false; break;
	case ZYDIS_MNEMONIC_SHL: r = a << (b & 63); mc->flags_known = false; break;
	default: return false;
	}
	return !store || put(mc, &op[0], r);
}

uint64_t mg_ifunc_evaluate(mg_scan_ctx *cx, uint64_t resolver)
{
	uint32_t u = mg_codemap_find(cx->map, resolver);
	const uint8_t *bytes = u != MG_NO_UNIT ? mg_unit_bytes(cx, u) : NULL;
	if (bytes == NULL)
		return 0;
	const mg_unit *unit = &cx->map->units[u];
	machine mc;
	memset(&mc, 0, sizeof(mc));
	uint64_t ip = resolver;
	for (int step = 0; step < EVAL_STEPS; step++) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
		if (ip < unit->start || ip >= unit->end ||
		    !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&cx->full_decoder, bytes + (ip - unit->start),
							 unit->end - ip, &in, op)))
			return 0;
		uint64_t next = ip + in.length, v;
		int c;
		switch (in.mnemonic) {
		case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_ENDBR64:
			break;
		case ZYDIS_MNEMONIC_RET:
			return mc.known[0] ? mc.reg[0] : 0;
		case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX:
			if (!get(cx, &mc, &op[1], next, &v) || !put(&mc, &op[0], v))
				return 0;
			break;
		case ZYDIS_MNEMONIC_LEA:
			if (!effective_address(&mc, &op[1], next, &v) || !put(&mc, &op[0], v))
				return 0;
			break;
		case ZYDIS_MNEMONIC_JMP:
			if (op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !op[0].imm.is_relative)
				return 0;
			next += (uint64_t)op[0].imm.value.s;
			break;
		default:
			if (is_cmov(in.mnemonic)) {
				if ((c = condition(&mc, in.mnemonic)) < 0)
					return 0;
				if (c && (!get(cx, &mc, &op[1], next, &v) || !put(&mc, &op[0], v)))
					return 0;
				if (!c && op[0].size == 32) {   /* zero-extends either way */
					unsigned sh;
					int r = reg_slot(op[0].reg.value, &sh);
					if (r < 0 || !mc.known[r])
						return 0;
					mc.reg[r] &= 0xffffffffu;
				}
				break;
			}
			if (in.meta.category == ZYDIS_CATEGORY_COND_BR) {
				if ((c = condition(&mc, in.mnemonic)) < 0 ||
				    op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
					return 0;
				if (c)
					next += (uint64_t)op[0].imm.value.s;
				break;
			}
			if (in.operand_count_visible != 2 || !alu(cx, &mc, &in, op, next))
				return 0;
			break;
		}
		ip = next;
	}
	return 0;
}
