/*
 * captest_priv.h - the state the fold of OpenSSL's capability tests
 * keeps, shared by its two halves: captest_eval.c (what one instruction
 * does to the known registers and flags) and captest_fold.c (the
 * dataflow over a function, and what it leaves reachable).
 */
#ifndef MG_CAPTEST_PRIV_H
#define MG_CAPTEST_PRIV_H

#include "analysis/engine.h"

/* The flags the fold follows (bits of fold_state's known and value). */
#define FOLD_CF 1u
#define FOLD_ZF 2u
#define FOLD_SF 4u

typedef struct fold_state {
	mg_captest_regs regs;      /* as the registers hold them (32-bit writes zero-extend) */
	uint8_t known;             /* FOLD_* flags set by a known compare (bt leaves ZF and SF
				      undefined: not known) */
	uint8_t value;             /* ... and their values */
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

/* Apply one instruction that is not a conditional jump to s. */
void mg_fold_step(const fold_walk *fw, fold_state *s, const mg_flow_insn *x);

/* Does the condition of jcc/cmovcc x hold (1), not (0), or unknown (-1)? */
int mg_fold_condition(const fold_state *s, const mg_flow_insn *x);

/* Where paths meet: keep in *into what both know alike; true if it changed. */
bool mg_fold_meet(fold_state *into, const fold_state *from);

/* The dataflow over fw's function: reached[i], decision[i] of each
 * conditional jump (-1 unknown, 0/1), the state in[i] before each
 * reached instruction.  False when the function's flow is not fully
 * known. */
bool mg_fold_walk(const fold_walk *fw, uint8_t *reached, int8_t *decision, fold_state *in);

#endif
