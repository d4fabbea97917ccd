/*
 * regflow.c - what registers hold at each instruction of one function:
 * constants (a lea of a string, an immediate) and the caller's arguments,
 * by a forward dataflow over the function's own control flow.  dlsym.c
 * asks it which name each lookup call passes.
 *
 * Every branch inside the function is followed; a call clobbers the
 * caller-saved registers; an instruction no known edge reaches starts from
 * nothing known.  An indirect jump is resolved when it is a compiler's
 * bounded jump table (jump_table); any other may land on any instruction,
 * which then meets the state at that jump.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

/* More cases than this: treated as an unknown indirect jump. */
#define MAX_CASES 1024

int mg_gpr_index(ZydisRegister r)
{
	ZydisRegister l = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	if (l >= ZYDIS_REGISTER_RAX && l <= ZYDIS_REGISTER_R15)
		return (int)(l - ZYDIS_REGISTER_RAX);
	return -1;
}

static void forget(mg_reg_state *s, int r)
{
	s->known[r] = false;
	s->param[r] = 0;
}

static void clobber_call(mg_reg_state *s)
{
	static const ZydisRegister volatile_regs[] = {
		ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RSI,
		ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R8, ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R10,
		ZYDIS_REGISTER_R11,
	};
	for (size_t i = 0; i < sizeof(volatile_regs) / sizeof(volatile_regs[0]); i++)
		forget(s, volatile_regs[i] - ZYDIS_REGISTER_RAX);
}

/* Apply one instruction (ending at next_ip) to the register state. */
static void step(mg_reg_state *s, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
		 uint64_t next_ip)
{
	if (in->mnemonic == ZYDIS_MNEMONIC_CALL) {
		clobber_call(s);
		return;
	}
	int dst = in->operand_count_visible > 0 && op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			  (op[0].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
		  ? mg_gpr_index(op[0].reg.value) : -1;
	bool wide = dst >= 0 && op[0].size >= 32;
	if (dst >= 0 && wide && in->operand_count_visible == 2) {
		const ZydisDecodedOperand *src = &op[1];
		if (in->mnemonic == ZYDIS_MNEMONIC_LEA && src->type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    src->mem.base == ZYDIS_REGISTER_RIP && src->mem.index == ZYDIS_REGISTER_NONE) {
			s->known[dst] = true;
			s->value[dst] = next_ip + (uint64_t)src->mem.disp.value;
			s->param[dst] = 0;
			goto others;
		}
		if (in->mnemonic == ZYDIS_MNEMONIC_MOV && src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			s->known[dst] = true;
			s->value[dst] = op[0].size == 32 ? (uint32_t)src->imm.value.u : src->imm.value.u;
			s->param[dst] = 0;
			goto others;
		}
		if (in->mnemonic == ZYDIS_MNEMONIC_MOV && src->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    op[0].size == 64 && mg_gpr_index(src->reg.value) >= 0) {
			int from = mg_gpr_index(src->reg.value);
			s->known[dst] = s->known[from];
			s->value[dst] = s->value[from];
			s->param[dst] = s->param[from];
			goto others;
		}
	}
	/* Any other register an instruction writes is unknown after it. */
	for (unsigned i = 0; i < in->operand_count; i++)
		if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && mg_gpr_index(op[i].reg.value) >= 0)
			forget(s, mg_gpr_index(op[i].reg.value));
	return;
others:
	/* The destination was set; hidden writes (flags) do not matter. */
	return;
}


/* a = a meet b: what holds on both ways in. */
static bool meet(mg_reg_state *a, bool *a_seen, const mg_reg_state *b)
{
	if (!*a_seen) {
		*a = *b;
		*a_seen = true;
		return true;
	}
	bool changed = false;
	for (int r = 0; r < 16; r++) {
		if (a->known[r] && (!b->known[r] || b->value[r] != a->value[r])) {
			a->known[r] = false;
			changed = true;
		}
		if (a->param[r] && a->param[r] != b->param[r]) {
			a->param[r] = 0;
			changed = true;
		}
	}
	return changed;
}

static bool ends_flow_here(const ZydisDecodedInstruction *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_RET: case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT:
		return true;
	default:
		return false;
	}
}

mg_flow_insn *mg_flow_decode(mg_scan_ctx *cx, const uint8_t *b, size_t len, size_t *n)
{
	mg_flow_insn *v = NULL;
	size_t cap = 0, count = 0;
	GHashTable *index = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (size_t off = 0; off < len;) {
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			mg_flow_insn *g = realloc(v, cap * sizeof(*g));
			if (g == NULL) {
				free(v);
				g_hash_table_destroy(index);
				return NULL;
			}
			v = g;
		}
		mg_flow_insn *x = &v[count];
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&cx->full_decoder, b + off, len - off,
							 &x->in, x->op))) {
			off++;          /* data: not an instruction */
			continue;
		}
		x->off = (uint32_t)off;
		x->target = -1;
		x->falls = !ends_flow_here(&x->in);
		x->indirect = x->in.mnemonic == ZYDIS_MNEMONIC_JMP &&
			      x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE;
		g_hash_table_insert(index, GSIZE_TO_POINTER(off + 1), GSIZE_TO_POINTER(count + 1));
		off += x->in.length;
		count++;
	}
	for (size_t k = 0; k < count; k++) {
		mg_flow_insn *x = &v[k];
		if (x->in.operand_count_visible == 0 || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    !x->op[0].imm.is_relative || x->in.mnemonic == ZYDIS_MNEMONIC_CALL)
			continue;
		int64_t dst = (int64_t)x->off + x->in.length + x->op[0].imm.value.s;
		gpointer at = dst >= 0 ? g_hash_table_lookup(index, GSIZE_TO_POINTER((size_t)dst + 1)) : NULL;
		if (at != NULL)
			x->target = (int32_t)(GPOINTER_TO_SIZE(at) - 1);
	}
	g_hash_table_destroy(index);
	*n = count;
	return v;
}

long mg_flow_index_at(const mg_flow_insn *v, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].off == off ? (long)lo : -1;
}

static bool is_padding(const ZydisDecodedInstruction *in)
{
	return in->mnemonic == ZYDIS_MNEMONIC_NOP || in->mnemonic == ZYDIS_MNEMONIC_INT3;
}

/* The instruction starting at offset off, or -1. */
static ssize_t insn_at(const mg_flow_insn *v, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].off == off ? (ssize_t)lo : -1;
}

static bool writes_gpr(const mg_flow_insn *x, int r)
{
	if (x->in.mnemonic == ZYDIS_MNEMONIC_CALL)
		return true;
	for (unsigned i = 0; i < x->in.operand_count; i++)
		if (x->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (x->op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
		    mg_gpr_index(x->op[i].reg.value) == r)
			return true;
	return false;
}

static bool is_zero_extension(const mg_flow_insn *x, int r)
{
	return x->in.mnemonic == ZYDIS_MNEMONIC_MOV && x->in.operand_count_visible == 2 &&
	       x->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	       x->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER && x->op[0].size == 32 &&
	       x->op[0].reg.value == x->op[1].reg.value && mg_gpr_index(x->op[0].reg.value) == r;
}

/*
 * The bound N of a jump table indexed by register `idx`, checked by the
 * `cmp idx, N; ja default` the compiler puts before it (within a few
 * instructions before `from`, with no write to idx in between); -1 if
 * there is none.
 */
static int64_t table_bound(const mg_flow_insn *v, size_t from, int idx)
{
	for (size_t j = from; j-- > 0 && from - j <= 12;) {
		const mg_flow_insn *x = &v[j];
		if (x->in.mnemonic == ZYDIS_MNEMONIC_CMP && x->in.operand_count_visible == 2 &&
		    x->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && mg_gpr_index(x->op[0].reg.value) == idx &&
		    x->op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && j + 1 < from &&
		    v[j + 1].in.mnemonic == ZYDIS_MNEMONIC_JNBE) {
			int64_t bound = (int64_t)x->op[1].imm.value.u;
			return bound >= 0 && bound < MAX_CASES ? bound : -1;
		}
		if (is_zero_extension(x, idx))
			continue;    /* mov %eax, %eax: the value cmp bounded, widened */
		if (writes_gpr(x, idx) || !x->falls ||
		    (x->target >= 0 && x->in.mnemonic != ZYDIS_MNEMONIC_JNBE))
			return -1;   /* idx changes, or control flow we do not follow */
	}
	return -1;
}

/* The table's entries, from read-only memory; false if unreadable. */
static bool read_table(mg_scan_ctx *cx, uint64_t at, size_t size, size_t count, int64_t *out)
{
	const mg_mapping *m = mg_image_find_mapping(cx->img, at);
	uint8_t buf[MAX_CASES * 8];
	if (m == NULL || (m->prot & MG_PROT_WRITE) || at + size * count > m->end ||
	    mg_image_read(cx->img, at, buf, size * count) != (ssize_t)(size * count))
		return false;
	for (size_t i = 0; i < count; i++) {
		if (size == 4) {
			int32_t e;
			memcpy(&e, buf + 4 * i, 4);
			out[i] = e;
		} else {
			uint64_t e;
			memcpy(&e, buf + 8 * i, 8);
			out[i] = (int64_t)e;
		}
	}
	return true;
}

/*
 * The targets of the indirect jump at v[k], when it is a compiler's
 * bounded jump table:
 *   PIC:      movslq (T,idx,4), r; add T, r; jmp *r    (T known: lea table)
 *   fixed:    jmp *table(,idx,8)
 * with `cmp idx, N; ja` before; every target must start an instruction
 * of the unit.  Returns how many (into out), 0 if not recognised (then
 * the jump may go anywhere in the unit).
 */
static size_t jump_table(mg_scan_ctx *cx, const mg_flow_insn *v, size_t n, size_t k,
			 const mg_reg_state *in, uint64_t base, size_t *out, size_t max)
{
	const mg_flow_insn *j = &v[k];
	uint64_t table, base_off;
	size_t size, at;
	int idx;
	if (j->op[0].type == ZYDIS_OPERAND_TYPE_MEMORY && j->op[0].mem.base == ZYDIS_REGISTER_NONE &&
	    j->op[0].mem.scale == 8 && j->op[0].mem.index != ZYDIS_REGISTER_NONE) {
		idx = mg_gpr_index(j->op[0].mem.index);
		table = (uint64_t)j->op[0].mem.disp.value;
		size = 8, at = k, base_off = 0;
	} else if (j->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && k >= 2) {
		const mg_flow_insn *add = &v[k - 1], *ld = &v[k - 2];
		int r = mg_gpr_index(j->op[0].reg.value);
		if (add->in.mnemonic != ZYDIS_MNEMONIC_ADD || add->in.operand_count_visible != 2 ||
		    add->op[0].type != ZYDIS_OPERAND_TYPE_REGISTER || mg_gpr_index(add->op[0].reg.value) != r ||
		    add->op[1].type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    ld->in.mnemonic != ZYDIS_MNEMONIC_MOVSXD || ld->op[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    mg_gpr_index(ld->op[0].reg.value) != r || ld->op[1].type != ZYDIS_OPERAND_TYPE_MEMORY ||
		    ld->op[1].mem.scale != 4 || ld->op[1].mem.disp.value != 0)
			return 0;
		int tb = mg_gpr_index(ld->op[1].mem.base);
		if (tb < 0 || tb != mg_gpr_index(add->op[1].reg.value) || !in[k - 2].known[tb] ||
		    !in[k - 1].known[tb] || in[k - 1].value[tb] != in[k - 2].value[tb])
			return 0;
		idx = mg_gpr_index(ld->op[1].mem.index);
		table = in[k - 2].value[tb];
		size = 4, at = k - 2, base_off = table;
	} else {
		return 0;
	}
	int64_t bound = idx >= 0 ? table_bound(v, at, idx) : -1;
	int64_t e[MAX_CASES];
	if (bound < 0 || (size_t)bound + 1 > max ||
	    !read_table(cx, table, size, (size_t)bound + 1, e))
		return 0;
	for (int64_t i = 0; i <= bound; i++) {
		uint64_t target = base_off + (uint64_t)e[i];
		ssize_t t = target >= base ? insn_at(v, n, target - base) : -1;
		if (t < 0)
			return 0;
		out[i] = (size_t)t;
	}
	return (size_t)bound + 1;
}

mg_reg_state *mg_flow_states(mg_scan_ctx *cx, const mg_flow_insn *v, size_t n, uint64_t base)
{
	if (n == 0)
		return calloc(1, sizeof(mg_reg_state));
	mg_reg_state *in = calloc(n, sizeof(*in));
	bool *seen = calloc(n ? n : 1, sizeof(*seen));
	bool *queued = calloc(n ? n : 1, sizeof(*queued));
	size_t *queue = malloc((n ? n : 1) * sizeof(*queue)), head = 0, tail = 0;
	if (in == NULL || seen == NULL || queued == NULL || queue == NULL) {
		free(queue);
		free(queued);
		free(seen);
		free(in);
		return NULL;
	}
	/* A ring of at most n instructions, each queued once at a time. */
#define PUSH(k) do { if (!queued[k]) { queued[k] = true; queue[tail] = (k); \
			tail = (tail + 1) % n; } } while (0)
	mg_reg_state nothing = { { false } }, jumps = { { false } }, entry = { { false } };
	/* On entry the argument registers hold the caller's arguments. */
	static const ZydisRegister args[] = {
		ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDX,
		ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R8, ZYDIS_REGISTER_R9,
	};
	for (size_t a = 0; a < sizeof(args) / sizeof(args[0]); a++) {
		int r = (int)(args[a] - ZYDIS_REGISTER_RAX);
		entry.param[r] = (uint8_t)(r + 1);
	}
	bool any_jump = false;
	size_t next_seed = 0, cases[MAX_CASES];
	while (next_seed < n) {
		/* From the entry first, then from each instruction still unseen
		 * (only an unknown edge leads there: nothing is known). */
		/* Alignment padding after a jump or return is never entered:
		 * seeding it would let "nothing known" fall into the code after. */
		if (!seen[next_seed] && !is_padding(&v[next_seed].in)) {
			meet(&in[next_seed], &seen[next_seed], next_seed == 0 && v[0].off == 0
			     ? &entry : &nothing);
			PUSH(next_seed);
		}
		next_seed++;
		while (head != tail) {
			size_t k = queue[head];
			head = (head + 1) % n;
			queued[k] = false;
			mg_reg_state out = in[k];
			step(&out, &v[k].in, v[k].op, base + v[k].off + v[k].in.length);
			if (v[k].falls && k + 1 < n && meet(&in[k + 1], &seen[k + 1], &out))
				PUSH(k + 1);
			if (v[k].target >= 0 && meet(&in[v[k].target], &seen[v[k].target], &out))
				PUSH((size_t)v[k].target);
			if (!v[k].indirect)
				continue;
			size_t ncases = jump_table(cx, v, n, k, in, base, cases, MAX_CASES);
			if (ncases > 0) {
				for (size_t c = 0; c < ncases; c++)
					if (meet(&in[cases[c]], &seen[cases[c]], &out))
						PUSH(cases[c]);
				continue;
			}
			if (!meet(&jumps, &any_jump, &in[k]))
				continue;
			/* Any instruction may be that jump's target. */
			for (size_t t = 0; t < n; t++)
				if (seen[t] && meet(&in[t], &seen[t], &jumps))
					PUSH(t);
		}
	}
#undef PUSH
	free(queue);
	free(queued);
	free(seen);
	return in;
}
