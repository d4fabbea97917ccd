/*
 * wl_mark.h - marker instructions, one per CPU feature, for workloads
 * whose tests must run on any x86-64 CPU.
 *
 * A test marks each way code can be reached (a heap pointer, a thread, a
 * signal handler, ...) with a feature that the CPU it runs on has and
 * that the same workload marked with nothing does not already need
 * (tests/support/testutil.h: tu_pick_markers), so that finding the
 * feature proves the scan followed that way, on whatever CPU the test
 * machine has today.
 *
 * WL_MARKERS(X, arg) expands X(arg, name, instruction) for every marker:
 * `name` is the feature's name in migratable's feature table (the Linux
 * /proc/cpuinfo flag), `instruction` one instruction (AT&T syntax, as
 * basic asm: single %) that needs exactly that feature, plus at most
 * features every CPU with it has (vaes: avx).  Rules for the list:
 *   - only caller-saved registers are written (rax, rcx, rdx, rsi, the
 *     vector and mask registers), memory only in the red zone below the
 *     stack pointer, so a marker function needs no clobber list;
 *   - no instruction that executes as a NOP or as an older instruction
 *     on CPUs without its bit (prefetchw, cldemote, endbr64, tzcnt):
 *     those need nothing of a target, and the analysis may say so;
 *   - nothing that can wait, trap or need the kernel's permission
 *     beyond what the host profile checks (no AMX, mwait, tpause);
 *   - nothing every x86-64 CPU has (x87, MMX, SSE2: x86-64-v1): a target
 *     without it cannot exist, so a test could not build one.
 * "none" (a nop) marks with nothing.
 *
 * Header-only: each workload is a single program built from one file.
 */
#ifndef WL_MARK_H
#define WL_MARK_H

#include <string.h>

#define WL_MARKERS(X, p) \
	X(p, none,             "nop") \
	X(p, clflush,          "clflush -64(%rsp)") \
	X(p, pni,              "haddps %xmm1, %xmm0") \
	X(p, ssse3,            "pshufb %xmm1, %xmm0") \
	X(p, sse4_1,           "pminsd %xmm1, %xmm0") \
	X(p, sse4_2,           "crc32l %ecx, %eax") \
	X(p, popcnt,           "popcnt %rcx, %rax") \
	X(p, cx16,             "lea -48(%rsp), %rsi; and $-16, %rsi; cmpxchg16b (%rsi)") \
	X(p, lahf_lm,          "lahf") \
	X(p, rdtscp,           "rdtscp") \
	X(p, aes,              "aesenc %xmm1, %xmm0") \
	X(p, pclmulqdq,        "pclmulqdq $0, %xmm1, %xmm0") \
	X(p, movbe,            "movbe -8(%rsp), %eax") \
	X(p, rdrand,           "rdrand %eax") \
	X(p, rdseed,           "rdseed %eax") \
	X(p, adx,              "adcx %rcx, %rax") \
	X(p, abm,              "lzcnt %rcx, %rax") \
	X(p, bmi1,             "andn %rcx, %rax, %rdx") \
	X(p, bmi2,             "pdep %rcx, %rax, %rdx") \
	X(p, sha_ni,           "sha1msg1 %xmm2, %xmm1") \
	X(p, gfni,             "gf2p8affineqb $0, %xmm2, %xmm1") \
	X(p, sse4a,            "extrq $8, $0, %xmm0") \
	X(p, rdpid,            "rdpid %rax") \
	X(p, fsgsbase,         "rdfsbase %rax") \
	X(p, clflushopt,       "clflushopt -64(%rsp)") \
	X(p, clwb,             "clwb -64(%rsp)") \
	X(p, clzero,           "lea -64(%rsp), %rax; and $-64, %rax; clzero") \
	X(p, movdiri,          "movdiri %eax, -8(%rsp)") \
	X(p, serialize,        "serialize") \
	X(p, avx,              "vaddps %ymm1, %ymm2, %ymm0") \
	X(p, f16c,             "vcvtph2ps %xmm1, %xmm0") \
	X(p, fma,              "vfmadd231ps %xmm1, %xmm2, %xmm0") \
	X(p, avx2,             "vpaddd %ymm1, %ymm2, %ymm0") \
	X(p, vaes,             "vaesenc %ymm2, %ymm1, %ymm0") \
	X(p, vpclmulqdq,       "vpclmulqdq $0, %ymm2, %ymm1, %ymm0") \
	X(p, avx_vnni,         "{vex} vpdpbusd %ymm2, %ymm1, %ymm0") \
	X(p, avx512f,          "vpaddd %zmm1, %zmm2, %zmm0") \
	X(p, avx512dq,         "vandps %zmm1, %zmm2, %zmm0") \
	X(p, avx512bw,         "vpaddb %zmm1, %zmm2, %zmm0") \
	X(p, avx512cd,         "vpconflictd %zmm1, %zmm0") \
	X(p, avx512vl,         "vpaddd %ymm17, %ymm18, %ymm16") \
	X(p, avx512ifma,       "vpmadd52luq %zmm1, %zmm2, %zmm0") \
	X(p, avx512vbmi,       "vpermb %zmm1, %zmm2, %zmm0") \
	X(p, avx512_vbmi2,     "vpshldw $1, %zmm1, %zmm2, %zmm0") \
	X(p, avx512_vnni,      "vpdpbusd %zmm2, %zmm1, %zmm0") \
	X(p, avx512_bitalg,    "vpopcntb %zmm1, %zmm0") \
	X(p, avx512_vpopcntdq, "vpopcntd %zmm1, %zmm0") \
	X(p, avx512_bf16,      "vcvtne2ps2bf16 %zmm1, %zmm2, %zmm0") \
	X(p, avx512_fp16,      "vaddph %zmm1, %zmm2, %zmm0")

typedef void (*wl_mark_fn)(int);

/* static void PREFIX_NAME(int): runs the marker once, nothing else. */
#define WL_MARK_FN(prefix, name, insn) \
	__attribute__((noinline, used)) static void prefix##_##name(int unused) \
	{ \
		(void)unused; \
		__asm__ volatile(insn); \
	}

#define WL_MARK_CASE(prefix, name, insn) \
	if (strcmp(want, #name) == 0) \
		return prefix##_##name;

/*
 * WL_MARK_DEFINE(prefix) defines one marker function per feature,
 * prefix_<name>, and prefix_lookup(name) returning it (NULL for a name
 * not in the list).  The lookup refers to every marker of the prefix:
 * call it only from set-up code that is unreachable afterwards, or all
 * of them are reachable.
 */
#define WL_MARK_DEFINE(prefix) \
	WL_MARKERS(WL_MARK_FN, prefix) \
	__attribute__((noinline, unused)) static wl_mark_fn prefix##_lookup(const char *want) \
	{ \
		WL_MARKERS(WL_MARK_CASE, prefix) \
		return NULL; \
	}

/*
 * The marker instructions' bytes in .rodata (wl_bytes_<name> up to
 * wl_bytes_<name>_end), for workloads that generate code (JIT) or
 * write it into files; no code refers to them.
 */
#define WL_MARK_BYTES(p, name, insn) \
	__asm__(".pushsection .rodata\n" \
		".globl wl_bytes_" #name "\n.hidden wl_bytes_" #name "\n" \
		".globl wl_bytes_" #name "_end\n.hidden wl_bytes_" #name "_end\n" \
		"wl_bytes_" #name ":\n\t" insn "\nwl_bytes_" #name "_end:\n" \
		".popsection\n"); \
	extern const unsigned char wl_bytes_##name[] __attribute__((visibility("hidden"))); \
	extern const unsigned char wl_bytes_##name##_end[] __attribute__((visibility("hidden")));

#define WL_MARK_BYTES_CASE(p, name, insn) \
	if (strcmp(want, #name) == 0) { \
		*len = (size_t)(wl_bytes_##name##_end - wl_bytes_##name); \
		return wl_bytes_##name; \
	}

/* WL_MARK_DEFINE_BYTES(): the bytes of every marker, and
 * wl_mark_bytes(name, &len) returning them (NULL for an unknown name). */
#define WL_MARK_DEFINE_BYTES() \
	WL_MARKERS(WL_MARK_BYTES, _) \
	__attribute__((noinline, unused)) static const unsigned char *wl_mark_bytes(const char *want, \
									     size_t *len) \
	{ \
		WL_MARKERS(WL_MARK_BYTES_CASE, _) \
		return NULL; \
	}

/*
 * Parse "kind=name" for one of kinds[] (n of them) into values[] (left as
 * they are for kinds not given).  Returns 0, or -1 for an argument that
 * is no such pair.
 */
static inline int wl_mark_args(int argc, char **argv, const char *const kinds[],
			       const char *values[], int n)
{
	for (int a = 1; a < argc; a++) {
		const char *eq = strchr(argv[a], '=');
		int k;
		for (k = 0; k < n && eq; k++)
			if (strlen(kinds[k]) == (size_t)(eq - argv[a]) &&
			    strncmp(argv[a], kinds[k], (size_t)(eq - argv[a])) == 0)
				break;
		if (eq == NULL || k == n)
			return -1;
		values[k] = eq + 1;
	}
	return 0;
}

#endif
