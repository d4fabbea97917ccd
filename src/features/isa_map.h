/*
 * isa_map.h - from a Zydis ISA set to the CPUID features it requires.
 *
 * Zydis classifies every decoded instruction by an ISA set whose names are
 * Intel XED's (AVX512F_256, BMI2, SSE4A, ...).  This is the one table the
 * project writes by hand; tests check it against XED's own records.
 */
#ifndef MG_FEATURES_ISA_MAP_H
#define MG_FEATURES_ISA_MAP_H

#include <Zydis/Zydis.h>

#include "features/features.h"

typedef enum mg_isa_kind {
	MG_ISA_FEATURES,   /* needs every feature in `features` */
	MG_ISA_BASELINE,   /* no CPUID bit on x86-64 (I86, I386, LONGMODE, X87, FAT_NOP, ...) */
	MG_ISA_UNKNOWN,    /* the decoder could not classify it: report, never drop */
	MG_ISA_HINT        /* encodes `features`' instruction, but a CPU without it runs it
	                      harmlessly (a hint NOP; PREFETCHW on every x86-64): no
	                      requirement, `features` names the bit for reporting */
} mg_isa_kind;

typedef struct mg_isa_requirement {
	mg_isa_kind kind;
	mg_feature_set features;   /* valid for MG_ISA_FEATURES */
	/*
	 * Where the row comes from: "xed" (XED's default group), "baseline"
	 * (XED n/a), "amd-apm" / "intel-sdm" (vendor manual where XED has no
	 * bit), "override" (documented departure from XED), "hint-nop"
	 * (per-instruction: encodings that execute as NOPs without the
	 * feature), "amd-apm+hint" (PREFETCHW), "unknown".  See docs/isa-map.md.
	 */
	const char *source;
} mg_isa_requirement;

/*
 * Requirement of one ISA set.  Never fails: an ISA set the table does not
 * know (a newer Zydis) comes back as MG_ISA_UNKNOWN.
 */
const mg_isa_requirement *mg_isa_set_requirement(ZydisISASet set);

/*
 * Requirement of one decoded instruction.  Usually that of its ISA set;
 * the few instructions whose ISA set is coarser than the CPUID bits that
 * gate them (documented in isa_map.c) are refined here.
 */
void mg_instruction_requirement(const ZydisDecodedInstruction *insn,
				mg_isa_requirement *out);

/*
 * Is insn a TZCNT in its legacy encoding (F3 0F BC)?  A CPU without BMI1
 * ignores the F3 prefix and runs it as BSF (Intel SDM vol. 2B, TZCNT;
 * AMD APM vol. 3): the same destination for a non-zero source, but other
 * flags (TZCNT sets CF for a zero source and ZF for a zero result, BSF ZF
 * for a zero source) and, for a zero source, the destination left as it
 * was instead of the operand size.  So it stays a BMI1 requirement; what
 * may make it none is the code around it (src/analysis/tzcnt.c).
 */
bool mg_insn_runs_as_bsf(const ZydisDecodedInstruction *insn);

/* XED-style name of an ISA set ("AVX512F_256"); "?" if out of range. */
const char *mg_isa_set_name(ZydisISASet set);

/* Whether the table has an explicit row for `set` (tests use it to prove
 * there is no silent default). */
bool mg_isa_set_row_defined(ZydisISASet set);

#endif
