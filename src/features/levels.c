/*
 * levels.c - x86-64 micro-architecture levels (x86-64 psABI, 3.1.1).
 *
 * The psABI lists, per level, CPUID features by their SDM names; here they
 * are the Linux flag names of the same bits:
 *
 *   v1  CMOV CX8 FPU FXSR MMX OSFXSR SCE SSE SSE2
 *       -> cmov cx8 fpu fxsr mmx sse sse2, plus lm
 *   v2  CMPXCHG16B LAHF-SAHF POPCNT SSE3 SSE4_1 SSE4_2 SSSE3
 *       -> cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3
 *   v3  AVX AVX2 BMI1 BMI2 F16C FMA LZCNT MOVBE OSXSAVE
 *       -> avx avx2 bmi1 bmi2 f16c fma abm movbe osxsave, plus xsave
 *   v4  AVX512F AVX512BW AVX512CD AVX512DQ AVX512VL
 *       -> avx512f avx512bw avx512cd avx512dq avx512vl
 *
 * Decisions for v1:
 *   - OSFXSR is CR4.OSFXSR, an OS setting with no CPUID bit; every x86-64
 *     Linux kernel sets it, so it is not modelled.
 *   - SCE (SYSCALL, CPUID.80000001:EDX[11]) is left out: Intel reports it
 *     only when CPUID is executed in 64-bit mode, every long-mode CPU has
 *     it, and profiles derived from XED data never record it.  `lm`
 *     implies it.
 *   - `lm` is included: the levels are levels of x86-64, and a CPU
 *     without long mode cannot run an x86-64 process at all.
 * OSXSAVE is in v3 as the psABI says (AVX is unusable without it); note
 * that /proc/cpuinfo hides osxsave, so a /proc/cpuinfo profile needs it
 * inferred (xsave + avx on Linux imply it).  XSAVE is added to v3 because
 * OSXSAVE implies it (CR4.OSXSAVE can only be set on a CPU with XSAVE):
 * without it a level used as a target would wrongly lack xsave, which
 * ld.so's lazy-binding trampoline and glibc's string functions need on
 * any v3 machine.
 */
#include "features/features.h"

#include <stddef.h>

static const char *const level_names[4][11] = {
	{ "cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2", "lm", NULL },
	{ "cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3", NULL },
	{ "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "osxsave", "xsave", NULL },
	{ "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", NULL },
};

bool mg_x86_64_level_features(int level, mg_feature_set *out)
{
	if (level < 1 || level > 4)
		return false;
	mg_fset_clear(out);
	for (int l = 0; l < level; l++) {
		for (size_t i = 0; level_names[l][i]; i++) {
			mg_feature_id id = mg_feature_by_name(level_names[l][i]);

			/* The names are this file's own; a miss is a table bug
			 * that test_levels catches. */
			mg_fset_add(out, id);
		}
	}
	return true;
}

int mg_x86_64_level_of(const mg_feature_set *have)
{
	int best = 0;

	for (int level = 1; level <= 4; level++) {
		mg_feature_set need;

		if (!mg_x86_64_level_features(level, &need) ||
		    !mg_fset_is_subset(&need, have))
			break;
		best = level;
	}
	return best;
}

void mg_fset_add_long_mode_implied(mg_feature_set *s)
{
	static const char *const implied[] = {
		"fpu", "tsc", "cx8", "cmov", "mmx", "fxsr", "sse", "sse2", "syscall",
	};

	if (!mg_fset_has(s, mg_feature_by_name("lm")))
		return;
	for (size_t i = 0; i < sizeof(implied) / sizeof(implied[0]); i++)
		mg_fset_add(s, mg_feature_by_name(implied[i]));
}
