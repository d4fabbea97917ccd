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
 * ABI), unless it is of a short function walked for what it returns
 * (captest_eval.c).  The walk gives up, leaving the function whole, when
 * its flow is not fully known: an indirect jump, a branch into the middle
 * of an instruction, bytes that do not decode on a path.  Addresses of the
 * function's own code that it takes are entries with nothing known.
 *
 * The walk starts from every entry captest.c recorded (the start, a
 * jump into the middle, a return address, a thread's pc), each with the
 * registers known there.  It also says which later entries would change
 * nothing: live instructions from which no path reaches a decided jump
 * or a jump into another function that carries known registers.  Any
 * other entry has the function folded again (captest.c).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/captest_priv.h"

#define FOLD_MAX_INSNS 16384    /* larger functions are left whole */
#define REACH_MAX_PASSES 64     /* backward passes for "reaches a decided jump" */

/* The offset from the function's start that the direct jump or call x
 * leads to (negative or past its end: another function); false if x is
 * none. */
static bool direct_target(const mg_flow_insn *x, int64_t *dst)
{
	if (x->in.operand_count_visible == 0 || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
	    !x->op[0].imm.is_relative)
		return false;
	*dst = (int64_t)x->off + x->in.length + x->op[0].imm.value.s;
	return true;
}

static bool inside(const fold_walk *fw, int64_t off)
{
	return off >= 0 && (uint64_t)off < fw->len;
}

/* Does x branch to an offset inside the function that is no instruction
 * start (then its flow is not known)? */
static bool branch_into_insn(const fold_walk *fw, const mg_flow_insn *x)
{
	int64_t dst;
	return x->target < 0 && x->in.mnemonic != ZYDIS_MNEMONIC_CALL && direct_target(x, &dst) &&
	       inside(fw, dst);
}

/* A call into the function itself (perlasm's local subroutines): the
 * instruction it enters, -1 for none, -2 for the middle of one. */
static long own_call(const fold_walk *fw, const mg_flow_insn *x)
{
	int64_t dst;
	if (x->in.mnemonic != ZYDIS_MNEMONIC_CALL || !direct_target(x, &dst) || !inside(fw, dst))
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
	} else if (!mg_fold_meet(&in[j], s)) {
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
		s.regs = e->regs;
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
bool mg_fold_walk(const fold_walk *fw, uint8_t *reached, int8_t *decision, fold_state *in)
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
			decision[i] = (int8_t)(t = mg_fold_condition(&s, x));
		else
			mg_fold_step(fw, &s, x);
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

/* Is instruction i a jump or call into another function that some path
 * reaches with registers known (an exit: *to is where it leads)? */
static bool carries_registers(const fold_walk *fw, const uint8_t *reached,
			      const int8_t *decision, const fold_state *in, size_t i, uint64_t *to)
{
	int64_t dst;
	if (!reached[i] || decision[i] == 0 || in[i].regs.known == 0 ||
	    !direct_target(&fw->v[i], &dst) || inside(fw, dst))
		return false;      /* (inside: followed by the walk) */
	*to = fw->base + (uint64_t)dst;
	return true;
}

/* The entries that change nothing: live, and no path from them (every
 * branch followed both ways) reaches a decided jump or an exit (whose
 * registers an entry knowing nothing could change). */
static bool safe_entries(const fold_walk *fw, const uint8_t *reached, const int8_t *decision,
			 const fold_state *in, uint8_t *safe)
{
	uint8_t *reaches = calloc(fw->n, 1);
	if (reaches == NULL)
		return false;
	for (size_t i = 0; i < fw->n; i++) {
		uint64_t to;
		reaches[i] = reached[i] &&
			     (decision[i] >= 0 || carries_registers(fw, reached, decision, in, i, &to));
	}
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
				mg_bit_set(safe, fw->v[i].off);
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
		mg_bit_set(res->live, x->off);
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
		uint64_t to;
		if (!carries_registers(fw, reached, decision, in, i, &to))
			continue;
		mg_captest_exit e = { to, in[i].regs };
		size_t k = 0;
		while (k < res->nexits && res->exits[k].addr != e.addr)
			k++;
		if (k < res->nexits) {          /* two ways there: what both know */
			mg_captest_regs_meet(&res->exits[k].regs, &e.regs);
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
		ok = mg_fold_walk(&fw, reached, decision, in) &&
		     live_summary(&fw, reached, decision, res) &&
		     exits(&fw, reached, decision, in, res) && matters(&fw, decision, res) &&
		     safe_entries(&fw, reached, decision, in, res->safe);
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
