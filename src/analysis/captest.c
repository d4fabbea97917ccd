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
 * The fold (captest_fold.c) decides a function's conditional jumps on
 * the vector, and the function's summary keeps only what some path then
 * reaches.  An entry into the function past its first instruction (a
 * jump into the middle, a return address, a stopped thread's pc) could
 * arrive with other register values: unless the fold shows that it
 * reaches no decided jump, the function is decoded again, whole.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

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
	    mg_insn_rip_target(&v[0], &v[0].op[1], setup, trigger) &&
	    v[1].in.mnemonic == ZYDIS_MNEMONIC_TEST)
		tested = true;
	for (size_t i = 1; tested && i < n; i++) {
		uint64_t at;
		if (v[i].in.mnemonic == ZYDIS_MNEMONIC_MOV && mg_insn_rip_target(&v[i], &v[i].op[0], setup, &at) &&
		    at == *trigger && v[i].op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		    v[i].op[1].imm.value.u == 1)
			set = true;
		if (v[i].in.mnemonic == ZYDIS_MNEMONIC_LEA && mg_insn_rip_target(&v[i], &v[i].op[1], setup, &at) &&
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

static void free_entries(gpointer p)
{
	g_array_free(p, TRUE);
}

static void free_fold(gpointer p)
{
	mg_captest_fold_free(p);
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
	c->trigger = trigger;
	c->trigger_value = (uint32_t)t;
	mg_captest_enable(c);
	mg_scan_fact(cx, "OpenSSL (%s): OPENSSL_ia32cap_P = %08x:%08x:%08x:%08x, set once at "
		     "start-up (OPENSSL_cpuid_setup has run, its flag is %u): jumps its tests "
		     "decide against are not taken", lm->name, c->word[0], c->word[1], c->word[2], c->word[3], c->trigger_value);
}

void mg_captest_enable(mg_capvec *c)
{
	if (c->entries != NULL)
		return;
	c->entries = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_entries);
	c->folds = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_fold);
	c->unfolded = g_hash_table_new(g_direct_hash, g_direct_equal);
}

bool mg_captest_module(const mg_capvec *c, uint32_t module)
{
	return (c->known && module == c->module) || (c->npy_known && module == c->npy_module);
}

void mg_captest_init(mg_scan_ctx *cx)
{
	if (cx->opt->method == MG_METHOD_FULL)
		return;
	for (size_t i = 0; i < cx->map->nmodules && !cx->capvec.known; i++)
		find_vector(cx, &cx->map->modules[i], (uint32_t)i);
	mg_npycap_init(cx);
}

void mg_captest_free(mg_scan_ctx *cx)
{
	if (cx->capvec.entries)
		g_hash_table_destroy(cx->capvec.entries);
	if (cx->capvec.folds)
		g_hash_table_destroy(cx->capvec.folds);
	if (cx->capvec.unfolded)
		g_hash_table_destroy(cx->capvec.unfolded);
	memset(&cx->capvec, 0, sizeof(cx->capvec));
}

/* --- entries and folds --------------------------------------------------- */

#define PREDICATE_MAX_BYTES 64     /* a callee short enough to be a test of the vector */

const uint8_t *mg_capvec_bytes(const mg_capvec *c, uint64_t at, unsigned n)
{
	/* (the words as the process stores them: x86 is little-endian) */
	if (c->known && at >= c->addr && at + n <= c->addr + 16)
		return (const uint8_t *)c->word + (at - c->addr);
	if (c->known && at >= c->trigger && at + n <= c->trigger + 4)
		return (const uint8_t *)&c->trigger_value + (at - c->trigger);
	if (c->npy_known && at >= c->npy_addr && at + n <= c->npy_addr + c->npy_len)
		return c->npy_have + (at - c->npy_addr);
	return NULL;
}

static bool in_vector(const mg_capvec *c, uint64_t at)
{
	return mg_capvec_bytes(c, at, 1) != NULL;
}

const uint8_t *mg_captest_callee_code(const mg_scan_ctx *cx, uint64_t addr, size_t max,
				      size_t *len)
{
	const mg_capvec *c = &cx->capvec;
	uint32_t v = mg_codemap_find(cx->map, addr);
	if (v == MG_NO_UNIT)
		return NULL;
	const mg_unit *u = &cx->map->units[v];
	bool gap = mg_unit_is_gap(cx->map, v);
	if (!mg_captest_module(c, u->module) || u->kind != MG_UNIT_FUNCTION ||
	    (!gap && u->start != addr))
		return NULL;
	/* In a gap (perlasm's ossl_rsaz_avx512ifma_eligible has no FDE), the
	 * bytes from addr on: what follows its ret may be data, which the
	 * walk never reaches unless a branch leads there. */
	uint64_t end = u->end;
	if (end - addr > max && !gap)
		return NULL;
	if (end - addr > max)
		end = addr + max;
	uint64_t h;
	const uint8_t *b = mg_unit_code(cx, v, &h);
	if (b == NULL)
		return NULL;
	*len = (size_t)(end - addr);
	return b + (addr - u->start);
}

/* Is the code at addr a short function of the library that reads the
 * vector (x25519_fe64_eligible: a test whose answer it returns)? */
static bool short_vector_reader(const mg_scan_ctx *cx, uint64_t addr)
{
	const mg_capvec *c = &cx->capvec;
	size_t len;
	const uint8_t *b = mg_captest_callee_code(cx, addr, PREDICATE_MAX_BYTES, &len);
	ZydisDecodedInstruction in;
	for (size_t off = 0; b != NULL && off < len; off += in.length) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&cx->decoder, NULL, b + off, len - off,
								&in)))
			return false;
		if (in.raw.modrm.offset != 0 && in.raw.modrm.mod == 0 && in.raw.modrm.rm == 5 &&
		    in_vector(c, addr + off + in.length + (uint64_t)in.raw.disp.value))
			return true;
		if (in.meta.category == ZYDIS_CATEGORY_RET)
			return false;
	}
	return false;
}

bool mg_captest_applies(const mg_scan_ctx *cx, uint32_t unit, const mg_unit_summary *s)
{
	const mg_capvec *c = &cx->capvec;
	const mg_unit *u = &cx->map->units[unit];
	if (!mg_captest_module(c, u->module) || u->kind != MG_UNIT_FUNCTION ||
	    mg_unit_is_gap(cx->map, unit))
		return false;
	for (uint32_t i = 0; i < s->nrefs; i++) {
		const mg_code_ref *r = &s->refs[i];
		if ((r->kind == MG_REF_MEM_REL || r->kind == MG_REF_LEA_REL ||
		     r->kind == MG_REF_CMP_REL) && in_vector(c, u->start + (uint64_t)r->value))
			return true;
	}
	for (uint32_t i = 0; i < s->nrefs; i++)
		if (s->refs[i].kind == MG_REF_BRANCH &&
		    short_vector_reader(cx, u->start + (uint64_t)s->refs[i].value))
			return true;
	/* Or it is entered with registers known (bn_mul_mont loads the
	 * vector, and jumps into bn_mul4x_mont's test of it), or past its
	 * start (a thread's pc in bn_mul4x_mont's loop, a return address).
	 * Decoded whole then, it would keep for good the jump to
	 * bn_mulx4x_mont that no entry reaches with the vector unknown:
	 * what is reached can only grow, and the entry from bn_mul_mont may
	 * come later. */
	size_t n;
	const mg_captest_entry *e = mg_captest_entries(cx, unit, &n);
	for (size_t i = 0; i < n; i++)
		if (e[i].regs.known != 0 || e[i].off != 0)
			return true;
	return false;
}

bool mg_captest_wants_entries(const mg_scan_ctx *cx, uint32_t unit)
{
	const mg_unit *u = &cx->map->units[unit];
	return cx->capvec.entries != NULL && mg_captest_module(&cx->capvec, u->module) &&
	       !mg_unit_is_gap(cx->map, unit) && !mg_captest_unfolded(cx, unit);
}

bool mg_captest_unfolded(const mg_scan_ctx *cx, uint32_t unit)
{
	return cx->capvec.unfolded != NULL &&
	       g_hash_table_contains(cx->capvec.unfolded, GUINT_TO_POINTER(unit + 1));
}

#define MAX_ENTRIES 64         /* more entries: decoded whole */

const mg_captest_entry *mg_captest_entries(const mg_scan_ctx *cx, uint32_t unit, size_t *n)
{
	GArray *e = cx->capvec.entries
		    ? g_hash_table_lookup(cx->capvec.entries, GUINT_TO_POINTER(unit + 1)) : NULL;
	*n = e ? e->len : 0;
	return e ? (const mg_captest_entry *)(void *)e->data : NULL;
}

/* Does an entry at offset off with nothing known change nothing the fold
 * decided? */
static bool entry_safe(const mg_captest_fold_result *f, uint32_t off)
{
	return off < f->len && mg_bit_test(f->safe, off);
}

/* What parent's fold knows on its way to addr (nothing, if no fold of it
 * says). */
static mg_captest_regs exit_regs(const mg_capvec *c, uint32_t parent, uint64_t addr)
{
	mg_captest_regs r = { 0 };
	const mg_captest_fold_result *f = parent == MG_NO_UNIT ? NULL
		: g_hash_table_lookup(c->folds, GUINT_TO_POINTER(parent + 1));
	for (size_t i = 0; f != NULL && i < f->nexits; i++)
		if (f->exits[i].addr == addr)
			return f->exits[i].regs;
	return r;
}

bool mg_captest_regs_meet(mg_captest_regs *into, const mg_captest_regs *from)
{
	bool changed = false;
	for (int r = 0; r < 16; r++) {
		uint64_t bits = into->bits[r] & from->bits[r] & ~(into->value[r] ^ from->value[r]);
		if (!(into->known & (1u << r)) || !(from->known & (1u << r)))
			bits = 0;
		changed |= bits != into->bits[r];
		into->bits[r] = bits;
		into->value[r] &= bits;
		if (bits == 0)
			into->known &= (uint16_t)~(1u << r);
	}
	return changed;
}

/* Add (or meet) the entry; *changed if the unit's entries changed.
 * False if there are too many. */
static bool add_entry(mg_capvec *c, uint32_t unit, const mg_captest_entry *in, bool *changed)
{
	GArray *e = g_hash_table_lookup(c->entries, GUINT_TO_POINTER(unit + 1));
	if (e == NULL) {
		e = g_array_new(FALSE, FALSE, sizeof(mg_captest_entry));
		g_hash_table_insert(c->entries, GUINT_TO_POINTER(unit + 1), e);
	}
	*changed = false;
	for (guint i = 0; i < e->len; i++) {
		mg_captest_entry *x = &g_array_index(e, mg_captest_entry, i);
		if (x->off == in->off) {
			*changed = mg_captest_regs_meet(&x->regs, &in->regs);
			return true;
		}
	}
	if (e->len >= MAX_ENTRIES)
		return false;
	g_array_append_val(e, *in);
	*changed = true;
	return true;
}

/*
 * The unit was entered at addr, coming from parent (MG_NO_UNIT: from
 * memory, a root, ...).  The entry, with what parent's fold knows on its
 * way there, joins those the unit's fold starts from.  If the unit was
 * folded already, an entry that changes nothing is done with (the same
 * entry again, or one where the fold shows that even with nothing known
 * it reaches no decided jump); any other has it decoded again (a fold from more
 * entries, or knowing less, reaches only more).  Past MAX_ENTRIES the
 * unit is decoded whole.
 */
void mg_captest_entered(mg_scan_ctx *cx, uint32_t unit, uint64_t addr, uint32_t parent)
{
	mg_capvec *c = &cx->capvec;
	const mg_unit *u = &cx->map->units[unit];
	if (!mg_captest_module(c, u->module) || addr < u->start || addr >= u->end ||
	    mg_captest_unfolded(cx, unit))
		return;
	mg_captest_entry in = { (uint32_t)(addr - u->start), exit_regs(c, parent, addr) };
	mg_captest_fold_result *f = g_hash_table_lookup(c->folds, GUINT_TO_POINTER(unit + 1));
	if (f != NULL && entry_safe(f, in.off))
		return;        /* knowing more there would not change it either */
	bool changed;
	if (!add_entry(c, unit, &in, &changed)) {
		g_hash_table_add(c->unfolded, GUINT_TO_POINTER(unit + 1));
		changed = true;
	}
	if (f != NULL && changed)
		mg_reach_again(cx, unit);
}

void mg_captest_register(mg_scan_ctx *cx, uint32_t unit, mg_captest_fold_result *f)
{
	mg_capvec *c = &cx->capvec;
	if (f == NULL) {             /* decoded whole this time */
		g_hash_table_remove(c->folds, GUINT_TO_POINTER(unit + 1));
		return;
	}
	g_hash_table_insert(c->folds, GUINT_TO_POINTER(unit + 1), f);   /* replaces an older one */
	c->decided += f->decided;
	c->pruned += f->pruned;
}
