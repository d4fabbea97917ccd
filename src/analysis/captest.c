/*
 * captest.c - branches on a capability vector a library filled once.
 *
 * OpenSSL (libcrypto, x86-64) reads CPUID once, into OPENSSL_ia32cap_P
 * (four 32-bit words, masked by $OPENSSL_ia32cap), and its assembly picks
 * an implementation by testing those words at the top of each entry
 * point:
 *
 *   sha1_block_data_order:
 *     mov  OPENSSL_ia32cap_P+0(%rip),%r9d
 *     mov  OPENSSL_ia32cap_P+4(%rip),%r8d
 *     mov  OPENSSL_ia32cap_P+8(%rip),%r10d
 *     test $0x20000000,%r10d      # SHA
 *     jne  sha1_block_data_order_shaext
 *
 * Only OPENSSL_cpuid_setup writes the vector (crypto/cryptlib.c, OpenSSL
 * 1.1 to 3.x), and it returns at once once its `trigger` is set: what the
 * process read at start-up is what every later test sees, on any CPU it
 * moves to.  So a jump whose test the vector decides against is never
 * taken, and the function it leads to is not reached that way.
 *
 * Debian strips the symbols, so the model finds the variable through the
 * code that fills it: DT_INIT calls OPENSSL_cpuid_setup (x86_64cpuid.pl
 * puts the call in .init), which begins by testing its trigger
 * (`mov T(%rip),%eax; test %eax,%eax`), sets it (`movl $1,T(%rip)`), and
 * takes the vector's address (`lea X(%rip)`, X writable) to hand it to
 * OPENSSL_ia32_cpuid and store into it.  The model applies only when all
 * of this is found and T reads non-zero.
 *
 * The fold (mg_captest_fold) walks a function from its first instruction
 * while it is straight-line code nothing else in the function jumps into,
 * knowing the registers loaded from the vector (directly or through a
 * register holding its address), through and/test/cmp/bt, and decides the
 * conditional jumps on them.  A jump to another function that cannot be
 * taken is dead.  An entry into the function past its first instruction
 * (a jump into the middle, a return address, a stopped thread's pc)
 * could arrive with other register values: the scan then reaches the dead
 * targets too (worklist.c).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

#define FOLD_MAX_INSNS 48      /* the tests come first; stop looking after that */

static int gpr(ZydisRegister r)
{
	ZydisRegister l = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	return l >= ZYDIS_REGISTER_RAX && l <= ZYDIS_REGISTER_R15 ? (int)(l - ZYDIS_REGISTER_RAX)
								     : -1;
}

/* Absolute address of a RIP-relative memory operand. */
static bool rip_target(const mg_flow_insn *x, const ZydisDecodedOperand *op, uint64_t base,
		       uint64_t *out)
{
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.base != ZYDIS_REGISTER_RIP ||
	    op->mem.index != ZYDIS_REGISTER_NONE || !op->mem.disp.has_displacement)
		return false;
	*out = base + x->off + x->in.length + (uint64_t)op->mem.disp.value;
	return true;
}

/* --- finding the vector -------------------------------------------------- */

static const uint8_t *code_at(mg_scan_ctx *cx, uint64_t addr, size_t *len, uint32_t *unit)
{
	*unit = mg_codemap_find(cx->map, addr);
	if (*unit == MG_NO_UNIT || cx->map->units[*unit].start != addr)
		return NULL;
	const uint8_t *b = mg_unit_bytes(cx, *unit);
	*len = (size_t)(cx->map->units[*unit].end - addr);
	return b;
}

static bool writable(const mg_scan_ctx *cx, uint64_t addr)
{
	const mg_mapping *m = mg_image_find_mapping(cx->img, addr);
	return m != NULL && (m->prot & MG_PROT_WRITE);
}

/* The last direct call of DT_INIT's function: OPENSSL_cpuid_setup. */
static uint64_t init_callee(mg_scan_ctx *cx, uint64_t init)
{
	size_t len, n;
	uint32_t u;
	const uint8_t *b = code_at(cx, init, &len, &u);
	mg_flow_insn *v = b ? mg_flow_decode(cx, b, len, &n) : NULL;
	uint64_t callee = 0;
	for (size_t i = 0; v && i < n; i++) {
		if (v[i].in.mnemonic == ZYDIS_MNEMONIC_CALL &&
		    v[i].op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && v[i].op[0].imm.is_relative)
			callee = init + v[i].off + v[i].in.length + (uint64_t)v[i].op[0].imm.value.s;
		if (!v[i].falls)
			break;
	}
	free(v);
	return callee;
}

/* In OPENSSL_cpuid_setup: its trigger T (tested first, set to 1) and the
 * writable vector X whose address it takes.  False unless both. */
static bool setup_shape(mg_scan_ctx *cx, uint64_t setup, uint64_t *trigger, uint64_t *vec)
{
	size_t len, n;
	uint32_t u;
	const uint8_t *b = code_at(cx, setup, &len, &u);
	mg_flow_insn *v = b ? mg_flow_decode(cx, b, len, &n) : NULL;
	bool tested = false, set = false;
	*vec = 0;
	if (v && n >= 3 && v[0].in.mnemonic == ZYDIS_MNEMONIC_MOV &&
	    v[0].op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && v[0].op[0].size == 32 &&
	    rip_target(&v[0], &v[0].op[1], setup, trigger) &&
	    v[1].in.mnemonic == ZYDIS_MNEMONIC_TEST)
		tested = true;
	for (size_t i = 1; tested && i < n; i++) {
		uint64_t at;
		if (v[i].in.mnemonic == ZYDIS_MNEMONIC_MOV && rip_target(&v[i], &v[i].op[0], setup, &at) &&
		    at == *trigger && v[i].op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		    v[i].op[1].imm.value.u == 1)
			set = true;
		if (v[i].in.mnemonic == ZYDIS_MNEMONIC_LEA && rip_target(&v[i], &v[i].op[1], setup, &at) &&
		    at != *trigger && writable(cx, at))
			*vec = *vec == 0 || *vec == at ? at : UINT64_MAX;   /* one only */
	}
	free(v);
	return tested && set && *vec != 0 && *vec != UINT64_MAX;
}

/* Is some thread inside unit u (its pc, or a return address on its
 * stack)?  Then the vector may be half written. */
static bool thread_inside(const mg_scan_ctx *cx, uint32_t u)
{
	for (size_t t = 0; t < cx->img->nthreads; t++) {
		uint64_t v;
		for (size_t pos = 0; mg_thread_next_code_word(cx, &cx->img->threads[t], &pos, &v);)
			if (mg_codemap_find(cx->map, v) == u)
				return true;
	}
	return false;
}

static void find_vector(mg_scan_ctx *cx, const mg_loaded_module *lm, uint32_t mi)
{
	const char *base = strrchr(lm->name, '/');
	base = base ? base + 1 : lm->name;
	if (strncmp(base, "libcrypto.so", 12) != 0 || lm->module->dt_init == 0)
		return;
	uint64_t setup = init_callee(cx, lm->module->dt_init + lm->bias), trigger, vec;
	uint64_t t = 0;
	if (setup == 0 || !setup_shape(cx, setup, &trigger, &vec) ||
	    !mg_read_u64(cx, trigger, &t) || (uint32_t)t == 0)
		return;
	/* Set, and not being written now: every module's initializers have
	 * run (initdone.c) and no thread is inside the setup. */
	if (!cx->data.initializers_done || thread_inside(cx, mg_codemap_find(cx->map, setup))) {
		mg_scan_fact(cx, "OpenSSL (%s): OPENSSL_ia32cap_P may still be being set up: "
			     "its tests are not folded", lm->name);
		return;
	}
	uint64_t w01, w23;
	if (!mg_read_u64(cx, vec, &w01) || !mg_read_u64(cx, vec + 8, &w23))
		return;
	mg_capvec *c = &cx->capvec;
	c->module = mi;
	c->addr = vec;
	c->word[0] = (uint32_t)w01;
	c->word[1] = (uint32_t)(w01 >> 32);
	c->word[2] = (uint32_t)w23;
	c->word[3] = (uint32_t)(w23 >> 32);
	c->known = true;
	c->mid_entry = g_hash_table_new(g_direct_hash, g_direct_equal);   /* unit + 1 -> offset */
	c->folds = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free);
	mg_scan_fact(cx, "OpenSSL (%s): OPENSSL_ia32cap_P = %08x:%08x:%08x:%08x, set once at "
		     "start-up (OPENSSL_cpuid_setup has run): jumps its tests decide against "
		     "are not taken", lm->name, c->word[0], c->word[1], c->word[2], c->word[3]);
}

void mg_captest_init(mg_scan_ctx *cx)
{
	if (cx->opt->method == MG_METHOD_FULL)
		return;
	for (size_t i = 0; i < cx->map->nmodules && !cx->capvec.known; i++)
		find_vector(cx, &cx->map->modules[i], (uint32_t)i);
}

void mg_captest_free(mg_scan_ctx *cx)
{
	if (cx->capvec.mid_entry)
		g_hash_table_destroy(cx->capvec.mid_entry);
	if (cx->capvec.folds)
		g_hash_table_destroy(cx->capvec.folds);
	memset(&cx->capvec, 0, sizeof(cx->capvec));
}

/* --- the fold -------------------------------------------------------------- */

typedef struct fold_state {
	bool known[16];
	uint64_t value[16];        /* as the register holds it (32-bit loads zero-extend) */
	bool is_vec[16];           /* holds the vector's address */
	bool flags;                /* cf (and zf, if zf_known) reflect a known compare */
	bool zf_known;             /* false after bt, which leaves ZF undefined */
	bool zf, cf;
} fold_state;

/* A 32- or 64-bit load from the vector into a register: the offset of
 * the first word it reads, or -1. */
static int vector_word(const mg_capvec *c, const fold_state *s, const mg_flow_insn *x,
		       uint64_t base)
{
	const ZydisDecodedOperand *src = &x->op[1];
	if (src->type != ZYDIS_OPERAND_TYPE_MEMORY || (src->size != 32 && src->size != 64))
		return -1;
	uint64_t at;
	if (rip_target(x, src, base, &at)) {
		/* absolute */
	} else if (src->mem.index == ZYDIS_REGISTER_NONE && gpr(src->mem.base) >= 0 &&
		   s->is_vec[gpr(src->mem.base)]) {
		at = c->addr + (uint64_t)(src->mem.disp.has_displacement ? src->mem.disp.value : 0);
	} else {
		return -1;
	}
	if (at < c->addr || at + src->size / 8 > c->addr + 16 || (at - c->addr) % 4)
		return -1;
	return (int)((at - c->addr) / 4);
}

/* The value a register has after an instruction with destination size
 * bits operates on it, and the operand it then tests. */
static uint64_t operand_value(const fold_state *s, int r, unsigned bits)
{
	return bits == 64 ? s->value[r] : (uint32_t)s->value[r];
}

/* Forget the registers x writes (and the flags, unless it is a mov or
 * lea, which leave them). */
static void forget_writes(fold_state *s, const mg_flow_insn *x)
{
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *op = &x->op[i];
		int r = op->type == ZYDIS_OPERAND_TYPE_REGISTER ? gpr(op->reg.value) : -1;
		if (r >= 0 && (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			s->known[r] = s->is_vec[r] = false;
	}
	if (x->in.mnemonic != ZYDIS_MNEMONIC_MOV && x->in.mnemonic != ZYDIS_MNEMONIC_LEA)
		s->flags = false;
}

/* and/test/cmp/bt of a known register with an immediate: the flags
 * (and, for and, the value) follow.  False if it is not such a one. */
static bool known_flag_op(fold_state *s, const mg_flow_insn *x, int r)
{
	const ZydisDecodedOperand *d = &x->op[0], *src = &x->op[1];
	ZydisMnemonic m = x->in.mnemonic;
	if ((m != ZYDIS_MNEMONIC_AND && m != ZYDIS_MNEMONIC_TEST && m != ZYDIS_MNEMONIC_CMP &&
	     m != ZYDIS_MNEMONIC_BT) ||
	    r < 0 || (d->size != 32 && d->size != 64) || !s->known[r] ||
	    x->in.operand_count_visible < 2 || src->type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return false;
	/* Immediates are sign-extended to the operand size. */
	uint64_t mask = d->size == 64 ? UINT64_MAX : UINT32_MAX;
	uint64_t k = (uint64_t)src->imm.value.s & mask, v = operand_value(s, r, d->size);
	s->flags = true;
	s->zf_known = m != ZYDIS_MNEMONIC_BT;
	s->cf = false;
	if (m == ZYDIS_MNEMONIC_AND) {
		s->value[r] = v & k;       /* a 32-bit and zero-extends */
		s->zf = s->value[r] == 0;
	} else if (m == ZYDIS_MNEMONIC_TEST) {
		s->zf = (v & k) == 0;
	} else if (m == ZYDIS_MNEMONIC_CMP) {
		s->zf = v == k;
		s->cf = v < k;
	} else {                           /* bt: only CF is defined */
		s->cf = (v >> (src->imm.value.u & (d->size - 1))) & 1;
	}
	return true;
}

/* Apply one instruction; false when the walk must stop (control leaves). */
static bool step(const mg_capvec *c, fold_state *s, const mg_flow_insn *x, uint64_t base)
{
	const ZydisDecodedOperand *d = &x->op[0], *src = &x->op[1];
	int r = d->type == ZYDIS_OPERAND_TYPE_REGISTER ? gpr(d->reg.value) : -1;
	uint64_t at;
	if (x->in.mnemonic == ZYDIS_MNEMONIC_MOV) {
		int w = r >= 0 && d->size == src->size ? vector_word(c, s, x, base) : -1;
		forget_writes(s, x);
		if (w >= 0) {
			s->known[r] = true;
			s->value[r] = c->word[w] |
				      (d->size == 64 ? (uint64_t)c->word[w + 1] << 32 : 0);
		}
		return true;
	}
	if (x->in.mnemonic == ZYDIS_MNEMONIC_LEA) {
		forget_writes(s, x);
		if (r >= 0 && d->size == 64 && rip_target(x, src, base, &at) && at == c->addr)
			s->is_vec[r] = true;
		return true;
	}
	if (known_flag_op(s, x, r))
		return true;
	if (!x->falls || x->in.mnemonic == ZYDIS_MNEMONIC_CALL || x->indirect)
		return false;
	forget_writes(s, x);
	return true;
}

/* Is the conditional jump x taken (1), not taken (0), or unknown (-1)? */
static int decide(const fold_state *s, const mg_flow_insn *x)
{
	if (!s->flags)
		return -1;
	bool zf = s->zf_known;     /* may ZF be used? */
	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_JZ:   return zf ? s->zf : -1;
	case ZYDIS_MNEMONIC_JNZ:  return zf ? !s->zf : -1;
	case ZYDIS_MNEMONIC_JB:   return s->cf;
	case ZYDIS_MNEMONIC_JNB:  return !s->cf;
	case ZYDIS_MNEMONIC_JBE:  return zf ? (s->cf || s->zf) : -1;
	case ZYDIS_MNEMONIC_JNBE: return zf ? (!s->cf && !s->zf) : -1;
	default:                  return -1;
	}
}

mg_captest_fold_result *mg_captest_fold(mg_scan_ctx *cx, uint32_t unit, const uint8_t *bytes)
{
	const mg_capvec *c = &cx->capvec;
	const mg_unit *u = &cx->map->units[unit];
	size_t len = (size_t)(u->end - u->start), n;
	mg_flow_insn *v = mg_flow_decode(cx, bytes, len, &n);
	if (v == NULL)
		return NULL;
	uint8_t *joined = calloc(n ? n : 1, 1);     /* some in-unit branch lands here */
	mg_captest_fold_result *res = calloc(1, sizeof(*res));
	if (joined == NULL || res == NULL) {
		free(v);
		free(joined);
		free(res);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].target >= 0)
			joined[v[i].target] = 1;
	fold_state s;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < n && i < FOLD_MAX_INSNS; i++) {
		const mg_flow_insn *x = &v[i];
		if ((i > 0 && joined[i]) || (i > 0 && v[i].off != v[i - 1].off + v[i - 1].in.length))
			break;     /* a join, or bytes that did not decode: stop knowing */
		if (x->in.meta.category == ZYDIS_CATEGORY_COND_BR) {
			int t = decide(&s, x);
			if (t < 0) {
				s.flags = false;
			} else if (t == 0 && x->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
				   x->target < 0 && res->ndead < MG_CAPTEST_MAX_DEAD) {
				res->dead[res->ndead++] = u->start + x->off + x->in.length +
							  (uint64_t)x->op[0].imm.value.s;
				res->chain_end = x->off;
			} else if (t == 1) {
				res->chain_end = x->off;
				break;     /* always taken: the rest is not this path */
			}
			continue;
		}
		if (!step(c, &s, x, u->start))
			break;
	}
	/* A target some other instruction of the function also jumps to is
	 * not dead (the summary keeps one reference per target). */
	size_t keep = 0;
	for (size_t d = 0; d < res->ndead; d++) {
		size_t jumps = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].in.operand_count_visible >= 1 &&
			    v[i].op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && v[i].op[0].imm.is_relative &&
			    u->start + v[i].off + v[i].in.length + (uint64_t)v[i].op[0].imm.value.s ==
			    res->dead[d])
				jumps++;
		if (jumps == 1)
			res->dead[keep++] = res->dead[d];
	}
	res->ndead = keep;
	free(v);
	free(joined);
	if (res->ndead == 0) {
		free(res);
		return NULL;
	}
	return res;
}

bool mg_captest_applies(const mg_scan_ctx *cx, uint32_t unit, const mg_unit_summary *s)
{
	const mg_capvec *c = &cx->capvec;
	const mg_unit *u = &cx->map->units[unit];
	if (!c->known || u->module != c->module || u->kind != MG_UNIT_FUNCTION ||
	    mg_unit_is_gap(cx->map, unit))
		return false;
	for (uint32_t i = 0; i < s->nrefs; i++) {
		const mg_code_ref *r = &s->refs[i];
		if (r->kind != MG_REF_MEM_REL && r->kind != MG_REF_LEA_REL &&
		    r->kind != MG_REF_CMP_REL)
			continue;
		uint64_t at = u->start + (uint64_t)r->value;
		if (at >= c->addr && at < c->addr + 16)
			return true;
	}
	return false;
}

/* The lowest offset past its start the unit was entered at (0: none). */
static uint32_t lowest_mid_entry(const mg_capvec *c, uint32_t unit)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(c->mid_entry, GUINT_TO_POINTER(unit + 1)));
}

/* An entry at or before the last test may bring other register values:
 * what the tests ruled out is reachable after all. */
static void revive(mg_scan_ctx *cx, uint32_t unit, const mg_captest_fold_result *f)
{
	uint32_t mid = lowest_mid_entry(&cx->capvec, unit);
	if (mid == 0 || mid > f->chain_end)
		return;
	for (size_t i = 0; i < f->ndead; i++)
		mg_reach_address(cx, f->dead[i], MG_WHY_DIRECT, unit, 0);
}

void mg_captest_entered(mg_scan_ctx *cx, uint32_t unit, uint64_t addr)
{
	mg_capvec *c = &cx->capvec;
	const mg_unit *u = &cx->map->units[unit];
	if (!c->known || u->module != c->module || addr <= u->start || addr >= u->end)
		return;
	uint32_t off = (uint32_t)(addr - u->start), mid = lowest_mid_entry(c, unit);
	if (mid != 0 && mid <= off)
		return;
	g_hash_table_insert(c->mid_entry, GUINT_TO_POINTER(unit + 1), GUINT_TO_POINTER(off));
	mg_captest_fold_result *f = g_hash_table_lookup(c->folds, GUINT_TO_POINTER(unit + 1));
	if (f != NULL)
		revive(cx, unit, f);
}

void mg_captest_register(mg_scan_ctx *cx, uint32_t unit, mg_captest_fold_result *f)
{
	g_hash_table_insert(cx->capvec.folds, GUINT_TO_POINTER(unit + 1), f);
	cx->capvec.folded += f->ndead;
	revive(cx, unit, f);
}
