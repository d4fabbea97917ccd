/*
 * isa_map.c - Zydis ISA set -> CPUID features (see isa_map.h and
 * docs/isa-map.md).
 *
 * One row per ZydisISASet value of Zydis 4.0.0, no default: a row left
 * out is a bug test_isa_map finds, and at run time an unlisted set is
 * MG_ISA_UNKNOWN (never "no requirement").
 *
 * Sources of the rows (the `source` string):
 *   "xed"       Intel XED's default group for the same-named ISA set
 *               (../shared/data/xed-cpuid/), ALL bits required.
 *               test_isa_map compares every such row with XED.
 *   "baseline"  XED says n/a: no CPUID bit on x86-64 (I86 .. PPRO, X87,
 *               FAT_NOP, PAUSE, PREFETCH_NOP, RDPMC).
 *   "amd-apm"   XED says n/a (or has no record) but the AMD APM vol. 3
 *               appendix E names a bit: XOP, FMA4, TBM, LWP, CLZERO,
 *               AMD3DNOW, SVM, AMD_INVLPGB, AMD (32-bit SYSCALL).
 *   "intel-sdm" Zydis-only sets XED's files do not name, from the SDM:
 *               SSE_PREFETCH, SGX_ENCLV.
 *   "override"  a deliberate departure from XED, with its reason below
 *               and in docs/isa-map.md.
 *   "unknown"   no CPUID bit can say whether a target runs it (TDX,
 *               VMFUNC, Knights Corner MVEX): reported, never dropped.
 *
 * Where a Zydis ISA set is coarser than CPUID (MOVDIR holds two bits,
 * AMD3DNOW mixes 3DNow! and its extensions, PREFETCH_NOP holds
 * PREFETCHW, PPRO holds FCOMI and SYSENTER, CET and MPX hold hint-NOP
 * encodings), the set row is the sound union (or XED's row when XED has
 * that very set) and mg_instruction_requirement() refines per mnemonic.
 * The contents of each set were listed by brute-force decoding every
 * legacy/0F/0F38/0F3A opcode with 66/F2/F3/REX.W prefixes and every
 * VEX/XOP/EVEX map/pp/L/W combination with Zydis 4.0.0 (docs/isa-map.md).
 */
#include "features/isa_map.h"

#include <pthread.h>
#include <string.h>

#define MAX_REQ_NAMES 5

typedef struct isa_row {
	mg_isa_kind kind;
	const char *source;                  /* NULL: row absent */
	const char *names[MAX_REQ_NAMES];    /* NULL-terminated */
} isa_row;

#define XED(...)      { MG_ISA_FEATURES, "xed", { __VA_ARGS__, NULL } }
#define AMD(...)      { MG_ISA_FEATURES, "amd-apm", { __VA_ARGS__, NULL } }
#define SDM(...)      { MG_ISA_FEATURES, "intel-sdm", { __VA_ARGS__, NULL } }
#define OVERRIDE(...) { MG_ISA_FEATURES, "override", { __VA_ARGS__, NULL } }
#define BASE          { MG_ISA_BASELINE, "baseline", { NULL } }
#define UNKNOWN       { MG_ISA_UNKNOWN, "unknown", { NULL } }

static const isa_row isa_rows[ZYDIS_ISA_SET_MAX_VALUE + 1] = {
	/* The decoder could not classify the instruction. */
	[ZYDIS_ISA_SET_INVALID] = UNKNOWN,

	/* --- baseline: XED n/a ----------------------------------------- */
	[ZYDIS_ISA_SET_I86] = BASE,
	[ZYDIS_ISA_SET_I186] = BASE,
	[ZYDIS_ISA_SET_I286PROTECTED] = BASE,
	[ZYDIS_ISA_SET_I286REAL] = BASE,
	[ZYDIS_ISA_SET_I386] = BASE,
	[ZYDIS_ISA_SET_I486] = BASE,
	[ZYDIS_ISA_SET_I486REAL] = BASE,
	[ZYDIS_ISA_SET_PENTIUMREAL] = BASE,  /* cmpxchg8b, rdtsc, rdmsr, wrmsr */
	[ZYDIS_ISA_SET_PPRO] = BASE,         /* refined: fcomi*, sysenter/exit */
	[ZYDIS_ISA_SET_X87] = BASE,
	[ZYDIS_ISA_SET_PAUSE] = BASE,
	[ZYDIS_ISA_SET_RDPMC] = BASE,
	[ZYDIS_ISA_SET_FAT_NOP] = BASE,      /* 0F 19 multi-byte NOP; not in XED's files */
	[ZYDIS_ISA_SET_PREFETCH_NOP] = BASE, /* refined: prefetchw */
	/* KNC_MISC is the 0F 1F NOP as classified in KNC mode: a NOP. */
	[ZYDIS_ISA_SET_KNC_MISC] = BASE,

	/* --- long mode --------------------------------------------------- */
	[ZYDIS_ISA_SET_LONGMODE] = XED("lm"),
	[ZYDIS_ISA_SET_FXSAVE64] = XED("fxsr", "lm"),
	/* Zydis puts SYSCALL/SYSRET outside 64-bit mode in ISA set AMD (in
	 * 64-bit mode they are LONGMODE).  XED: n/a.  APM: SysCallSysRet,
	 * CPUID 0x80000001:EDX[11]. */
	[ZYDIS_ISA_SET_AMD] = AMD("syscall"),

	/* --- general-purpose extensions ------------------------------------ */
	[ZYDIS_ISA_SET_CMOV] = XED("cmov"),
	[ZYDIS_ISA_SET_FCMOV] = XED("cmov", "fpu"),
	[ZYDIS_ISA_SET_CMPXCHG16B] = XED("cx16"),
	[ZYDIS_ISA_SET_LAHF] = XED("lahf_lm"),
	[ZYDIS_ISA_SET_MOVBE] = XED("movbe"),
	[ZYDIS_ISA_SET_POPCNT] = XED("popcnt"),
	[ZYDIS_ISA_SET_LZCNT] = XED("abm"),
	[ZYDIS_ISA_SET_BMI1] = XED("bmi1"),
	[ZYDIS_ISA_SET_BMI2] = XED("bmi2"),
	[ZYDIS_ISA_SET_ADOX_ADCX] = XED("adx"),
	[ZYDIS_ISA_SET_RDRAND] = XED("rdrand"),
	[ZYDIS_ISA_SET_RDSEED] = XED("rdseed"),
	[ZYDIS_ISA_SET_RDTSCP] = XED("rdtscp"),
	[ZYDIS_ISA_SET_RDPID] = XED("rdpid"),
	[ZYDIS_ISA_SET_RDWRFSGS] = XED("fsgsbase"),
	[ZYDIS_ISA_SET_SERIALIZE] = XED("serialize"),
	[ZYDIS_ISA_SET_HRESET] = XED("hreset"),
	[ZYDIS_ISA_SET_UINTR] = XED("uintr"),
	[ZYDIS_ISA_SET_WAITPKG] = XED("waitpkg"),
	[ZYDIS_ISA_SET_ENQCMD] = XED("enqcmd"),
	[ZYDIS_ISA_SET_MONITOR] = XED("monitor"),
	[ZYDIS_ISA_SET_PKU] = XED("pku", "ospke"),
	[ZYDIS_ISA_SET_CET] = XED("shstk"),      /* refined: endbr*, rdssp* */
	[ZYDIS_ISA_SET_MPX] = XED("mpx"),        /* refined: hint NOPs */
	[ZYDIS_ISA_SET_RTM] = XED("rtm"),
	[ZYDIS_ISA_SET_TSX_LDTRK] = XED("tsxldtrk"),

	/* --- memory / cache -------------------------------------------------- */
	[ZYDIS_ISA_SET_CLFSH] = XED("clflush"),
	[ZYDIS_ISA_SET_CLFLUSHOPT] = XED("clflushopt"),
	[ZYDIS_ISA_SET_CLWB] = XED("clwb"),
	[ZYDIS_ISA_SET_CLDEMOTE] = XED("cldemote"),  /* refined: hint NOP */
	[ZYDIS_ISA_SET_PREFETCHWT1] = XED("prefetchwt1"),
	/* MOVDIR holds MOVDIRI and MOVDIR64B, two CPUID bits: the set row is
	 * the union, refined per mnemonic. */
	[ZYDIS_ISA_SET_MOVDIR] = XED("movdiri", "movdir64b"),
	/* PREFETCHh (0F 18 /0-3): SDM, CPUID SSE.  XED's files have no set. */
	[ZYDIS_ISA_SET_SSE_PREFETCH] = SDM("sse"),

	/* --- system ---------------------------------------------------------- */
	[ZYDIS_ISA_SET_XSAVE] = XED("xsave", "osxsave"),
	[ZYDIS_ISA_SET_XSAVEC] = XED("xsavec"),
	[ZYDIS_ISA_SET_XSAVEOPT] = XED("xsaveopt"),
	[ZYDIS_ISA_SET_XSAVES] = XED("xsaves"),
	[ZYDIS_ISA_SET_FXSAVE] = XED("fxsr"),
	[ZYDIS_ISA_SET_INVPCID] = XED("invpcid"),
	[ZYDIS_ISA_SET_SMAP] = XED("smap"),
	[ZYDIS_ISA_SET_SMX] = XED("smx"),
	[ZYDIS_ISA_SET_VTX] = XED("vmx"),
	[ZYDIS_ISA_SET_SGX] = XED("sgx"),
	/* ENCLV: SDM, CPUID.(EAX=12H,ECX=0):EAX[5] on top of SGX. */
	[ZYDIS_ISA_SET_SGX_ENCLV] = SDM("sgx", "sgx_enclv"),
	[ZYDIS_ISA_SET_PCONFIG] = XED("pconfig"),
	[ZYDIS_ISA_SET_PT] = XED("intel_pt", "ptwrite"),   /* XED: PTWRITE */
	[ZYDIS_ISA_SET_KEYLOCKER] = XED("keylocker", "keylocker_enabled"),
	[ZYDIS_ISA_SET_KEYLOCKER_WIDE] = XED("keylocker", "keylocker_enabled", "keylocker_wide"),
	[ZYDIS_ISA_SET_SNP] = XED("sev_snp"),
	[ZYDIS_ISA_SET_MCOMMIT] = XED("mcommit"),
	[ZYDIS_ISA_SET_RDPRU] = XED("rdpru"),
	[ZYDIS_ISA_SET_MONITORX] = XED("mwaitx"),
	/* XED n/a; APM: SVM bit 0x80000001:ECX[2] (VMRUN, STGI, SKINIT, ...). */
	[ZYDIS_ISA_SET_SVM] = AMD("svm"),
	/* XED n/a ("not published yet"); APM: 0x80000008:EBX[3]. */
	[ZYDIS_ISA_SET_AMD_INVLPGB] = AMD("invlpgb"),
	/* XED n/a.  TDCALL/SEAM* only work inside a TDX trust domain or
	 * SEAM mode, which no CPUID feature bit reports: unknown, so a
	 * process using them is never declared portable by default. */
	[ZYDIS_ISA_SET_TDX] = UNKNOWN,
	/* XED n/a.  VMFUNC works only in VMX non-root operation with the
	 * hypervisor's consent; the guest sees no CPUID bit for it. */
	[ZYDIS_ISA_SET_VMFUNC] = UNKNOWN,

	/* --- VIA PadLock: present and enabled bits (XED VIA_PADLOCK_*) ------ */
	[ZYDIS_ISA_SET_PADLOCK_RNG] = XED("via_padlock_rng", "via_padlock_rng_en"),
	[ZYDIS_ISA_SET_PADLOCK_ACE] = XED("via_padlock_aes", "via_padlock_aes_en"),
	[ZYDIS_ISA_SET_PADLOCK_PHE] = XED("via_padlock_sha", "via_padlock_sha_en"),
	[ZYDIS_ISA_SET_PADLOCK_PMM] = XED("via_padlock_pmm", "via_padlock_pmm_en"),

	/* --- MMX / SSE ------------------------------------------------------- */
	[ZYDIS_ISA_SET_PENTIUMMMX] = XED("mmx"),
	[ZYDIS_ISA_SET_SSE] = XED("sse"),
	[ZYDIS_ISA_SET_SSEMXCSR] = XED("sse"),
	[ZYDIS_ISA_SET_SSE2] = XED("sse2"),
	[ZYDIS_ISA_SET_SSE2MMX] = XED("sse2", "mmx"),
	[ZYDIS_ISA_SET_SSE3] = XED("pni"),
	[ZYDIS_ISA_SET_SSE3X87] = XED("pni"),
	[ZYDIS_ISA_SET_SSSE3] = XED("ssse3"),
	[ZYDIS_ISA_SET_SSSE3MMX] = XED("ssse3", "mmx"),
	[ZYDIS_ISA_SET_SSE4] = XED("sse4_1"),
	[ZYDIS_ISA_SET_SSE42] = XED("sse4_2"),
	[ZYDIS_ISA_SET_SSE4A] = XED("sse4a"),
	[ZYDIS_ISA_SET_AES] = XED("aes"),
	[ZYDIS_ISA_SET_PCLMULQDQ] = XED("pclmulqdq"),
	[ZYDIS_ISA_SET_SHA] = XED("sha_ni"),
	[ZYDIS_ISA_SET_GFNI] = XED("gfni"),

	/* --- AMD-only (XED n/a or no record): AMD APM vol. 3 ------------- */
	[ZYDIS_ISA_SET_XOP] = AMD("xop"),
	[ZYDIS_ISA_SET_FMA4] = AMD("fma4"),
	[ZYDIS_ISA_SET_TBM] = AMD("tbm"),
	[ZYDIS_ISA_SET_LWP] = AMD("lwp"),
	[ZYDIS_ISA_SET_CLZERO] = AMD("clzero"),
	/* 3DNow! and five 3DNow!+ instructions: union, refined per mnemonic. */
	[ZYDIS_ISA_SET_AMD3DNOW] = AMD("3dnow", "3dnowext"),

	/* --- AVX (VEX) ------------------------------------------------------- */
	[ZYDIS_ISA_SET_AVX] = XED("avx"),
	[ZYDIS_ISA_SET_AVXAES] = XED("aes", "avx"),
	[ZYDIS_ISA_SET_AVX2] = XED("avx2"),
	[ZYDIS_ISA_SET_AVX2GATHER] = XED("avx2"),
	[ZYDIS_ISA_SET_FMA] = XED("fma", "avx"),
	[ZYDIS_ISA_SET_F16C] = XED("f16c"),
	[ZYDIS_ISA_SET_AVX_GFNI] = XED("gfni", "avx"),
	[ZYDIS_ISA_SET_AVX_VNNI] = XED("avx_vnni"),
	[ZYDIS_ISA_SET_VAES] = XED("vaes"),
	[ZYDIS_ISA_SET_VPCLMULQDQ] = XED("vpclmulqdq"),

	/* --- AMX -------------------------------------------------------------- */
	[ZYDIS_ISA_SET_AMX_TILE] = XED("amx_tile"),
	[ZYDIS_ISA_SET_AMX_INT8] = XED("amx_tile", "amx_int8"),
	[ZYDIS_ISA_SET_AMX_BF16] = XED("amx_tile", "amx_bf16"),

	/* --- AVX-512 (XED default group, never the AVX10 alternative) ------ */
	[ZYDIS_ISA_SET_AVX512F_128] = XED("avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512F_128N] = XED("avx512f"),
	[ZYDIS_ISA_SET_AVX512F_256] = XED("avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512F_512] = XED("avx512f"),
	[ZYDIS_ISA_SET_AVX512F_KOP] = XED("avx512f"),        /* XED: AVX512F_KOPW */
	[ZYDIS_ISA_SET_AVX512F_SCALAR] = XED("avx512f"),
	[ZYDIS_ISA_SET_AVX512BW_128] = XED("avx512bw", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512BW_128N] = XED("avx512bw"),
	[ZYDIS_ISA_SET_AVX512BW_256] = XED("avx512bw", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512BW_512] = XED("avx512bw"),
	[ZYDIS_ISA_SET_AVX512BW_KOP] = XED("avx512bw"),      /* XED: KOPD, KOPQ */
	[ZYDIS_ISA_SET_AVX512CD_128] = XED("avx512cd", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512CD_256] = XED("avx512cd", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512CD_512] = XED("avx512cd"),
	[ZYDIS_ISA_SET_AVX512DQ_128] = XED("avx512dq", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512DQ_128N] = XED("avx512dq"),
	[ZYDIS_ISA_SET_AVX512DQ_256] = XED("avx512dq", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512DQ_512] = XED("avx512dq"),
	[ZYDIS_ISA_SET_AVX512DQ_KOP] = XED("avx512dq"),      /* XED: KOPB, KOPW */
	[ZYDIS_ISA_SET_AVX512DQ_SCALAR] = XED("avx512dq"),
	[ZYDIS_ISA_SET_AVX512ER_512] = XED("avx512er"),
	[ZYDIS_ISA_SET_AVX512ER_SCALAR] = XED("avx512er"),
	[ZYDIS_ISA_SET_AVX512PF_512] = XED("avx512pf"),
	[ZYDIS_ISA_SET_AVX512_4FMAPS_512] = XED("avx512_4fmaps"),
	[ZYDIS_ISA_SET_AVX512_4FMAPS_SCALAR] = XED("avx512_4fmaps"),
	[ZYDIS_ISA_SET_AVX512_4VNNIW_512] = XED("avx512_4vnniw"),
	/* XED's default group for BF16_128/256 omits AVX512VL, but the SDM
	 * lists "AVX512VL AVX512_BF16" for the EVEX.128/256 forms: adding
	 * it only widens the requirement. */
	[ZYDIS_ISA_SET_AVX512_BF16_128] = OVERRIDE("avx512_bf16", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_BF16_256] = OVERRIDE("avx512_bf16", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_BF16_512] = XED("avx512_bf16"),
	[ZYDIS_ISA_SET_AVX512_BITALG_128] = XED("avx512_bitalg", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_BITALG_256] = XED("avx512_bitalg", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_BITALG_512] = XED("avx512_bitalg"),
	[ZYDIS_ISA_SET_AVX512_FP16_128] = XED("avx512_fp16", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_FP16_128N] = XED("avx512_fp16"),
	[ZYDIS_ISA_SET_AVX512_FP16_256] = XED("avx512_fp16", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_FP16_512] = XED("avx512_fp16"),
	[ZYDIS_ISA_SET_AVX512_FP16_SCALAR] = XED("avx512_fp16"),
	[ZYDIS_ISA_SET_AVX512_GFNI_128] = XED("gfni", "avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_GFNI_256] = XED("gfni", "avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_GFNI_512] = XED("gfni", "avx512f"),
	[ZYDIS_ISA_SET_AVX512_IFMA_128] = XED("avx512ifma", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_IFMA_256] = XED("avx512ifma", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_IFMA_512] = XED("avx512ifma"),
	[ZYDIS_ISA_SET_AVX512_VAES_128] = XED("vaes", "aes", "avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VAES_256] = XED("vaes", "aes", "avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VAES_512] = XED("vaes", "aes", "avx512f"),
	[ZYDIS_ISA_SET_AVX512_VBMI2_128] = XED("avx512_vbmi2", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VBMI2_256] = XED("avx512_vbmi2", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VBMI2_512] = XED("avx512_vbmi2"),
	[ZYDIS_ISA_SET_AVX512_VBMI_128] = XED("avx512vbmi", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VBMI_256] = XED("avx512vbmi", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VBMI_512] = XED("avx512vbmi"),
	[ZYDIS_ISA_SET_AVX512_VNNI_128] = XED("avx512_vnni", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VNNI_256] = XED("avx512_vnni", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VNNI_512] = XED("avx512_vnni"),
	[ZYDIS_ISA_SET_AVX512_VP2INTERSECT_128] = XED("avx512_vp2intersect", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VP2INTERSECT_256] = XED("avx512_vp2intersect", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VP2INTERSECT_512] = XED("avx512_vp2intersect"),
	[ZYDIS_ISA_SET_AVX512_VPCLMULQDQ_128] = XED("vpclmulqdq", "pclmulqdq", "avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VPCLMULQDQ_256] = XED("vpclmulqdq", "pclmulqdq", "avx512f", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VPCLMULQDQ_512] = XED("vpclmulqdq", "pclmulqdq", "avx512f"),
	[ZYDIS_ISA_SET_AVX512_VPOPCNTDQ_128] = XED("avx512_vpopcntdq", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VPOPCNTDQ_256] = XED("avx512_vpopcntdq", "avx512vl"),
	[ZYDIS_ISA_SET_AVX512_VPOPCNTDQ_512] = XED("avx512_vpopcntdq"),

	/* --- Knights Corner (MVEX, k1om): decoded only in Zydis KNC mode,
	 * which the project never enables; no x86-64 CPU has a CPUID bit
	 * for them, so they can run on no target we know. */
	[ZYDIS_ISA_SET_KNCE] = UNKNOWN,
	[ZYDIS_ISA_SET_KNCJKBR] = UNKNOWN,
	[ZYDIS_ISA_SET_KNCSTREAM] = UNKNOWN,
	[ZYDIS_ISA_SET_KNCV] = UNKNOWN,
	[ZYDIS_ISA_SET_KNC_PF_HINT] = UNKNOWN,
};

/* Requirements resolved from names once: ids are only known at run time
 * (they are table indices), and a name typo must not pass silently. */
static mg_isa_requirement resolved[ZYDIS_ISA_SET_MAX_VALUE + 1];
static const mg_isa_requirement unknown_req = {
	.kind = MG_ISA_UNKNOWN, .source = "unknown",
};
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

/* Per-instruction refinements, resolved with the table. */
enum refinement {
	REF_PREFETCHW,       /* hint: 3dnowprefetch */
	REF_3DNOW,           /* 3dnow */
	REF_3DNOW_EXT,       /* 3dnow + 3dnowext */
	REF_MOVDIRI,
	REF_MOVDIR64B,
	REF_FCOMI,           /* cmov + fpu (XED FCOMI) */
	REF_SEP,             /* sep (XED SEP) */
	REF_HINT_IBT,        /* hint NOPs, by the bit they belong to */
	REF_HINT_SHSTK,
	REF_HINT_MPX,
	REF_HINT_CLDEMOTE,
	REF_HINT_PREFETCHWT1,
	REF_COUNT
};

static const isa_row ref_rows[REF_COUNT] = {
	/* 0F 0D /1.  AMD APM vol. 3, PREFETCHW: supported when CPUID
	 * 3DNowPrefetch OR LongMode OR 3DNow! is set, so on every AMD64
	 * CPU; Intel CPUs before Broadwell (no PRFCHW bit) run 0F 0D /1 as a
	 * NOP, the rest of the 0F 0D row being XED's PREFETCH_NOP.  A
	 * prefetch is a hint either way: no x86-64 CPU faults on it. */
	[REF_PREFETCHW] = { MG_ISA_HINT, "amd-apm+hint", { "3dnowprefetch", NULL } },
	[REF_3DNOW] = AMD("3dnow"),
	[REF_3DNOW_EXT] = AMD("3dnow", "3dnowext"),
	[REF_MOVDIRI] = XED("movdiri"),
	[REF_MOVDIR64B] = XED("movdir64b"),
	[REF_FCOMI] = XED("cmov", "fpu"),
	[REF_SEP] = XED("sep"),
	[REF_HINT_IBT] = { MG_ISA_HINT, "hint-nop", { "ibt", NULL } },
	[REF_HINT_SHSTK] = { MG_ISA_HINT, "hint-nop", { "shstk", NULL } },
	[REF_HINT_MPX] = { MG_ISA_HINT, "hint-nop", { "mpx", NULL } },
	[REF_HINT_CLDEMOTE] = { MG_ISA_HINT, "hint-nop", { "cldemote", NULL } },
	/* 0F 0D /2: in the 0F 0D space Intel runs as a NOP without the bit
	 * (XED PREFETCH_NOP), AMD as PREFETCH (APM). */
	[REF_HINT_PREFETCHWT1] = { MG_ISA_HINT, "hint-nop", { "prefetchwt1", NULL } },
};
static mg_isa_requirement ref_resolved[REF_COUNT];

static void resolve_row(const isa_row *row, mg_isa_requirement *out)
{
	*out = unknown_req;
	if (row->source == NULL)
		return;
	out->kind = row->kind;
	out->source = row->source;
	mg_fset_clear(&out->features);
	for (int i = 0; i < MAX_REQ_NAMES && row->names[i]; i++) {
		mg_feature_id id = mg_feature_by_name(row->names[i]);

		/* A name the feature table lacks would shrink the
		 * requirement: make the whole row unknown instead.
		 * test_isa_map checks no row ends up here. */
		if (id == MG_FEATURE_NONE) {
			*out = unknown_req;
			return;
		}
		mg_fset_add(&out->features, id);
	}
}

static void resolve_all(void)
{
	for (int s = 0; s <= ZYDIS_ISA_SET_MAX_VALUE; s++)
		resolve_row(&isa_rows[s], &resolved[s]);
	for (int r = 0; r < REF_COUNT; r++)
		resolve_row(&ref_rows[r], &ref_resolved[r]);
}

const mg_isa_requirement *mg_isa_set_requirement(ZydisISASet set)
{
	if ((unsigned)set > ZYDIS_ISA_SET_MAX_VALUE)
		return &unknown_req;
	pthread_once(&resolve_once, resolve_all);
	return &resolved[set];
}

/* Which refinement applies to this instruction; REF_COUNT for none. */
static enum refinement refine(const ZydisDecodedInstruction *insn)
{
	switch (insn->meta.isa_set) {
	case ZYDIS_ISA_SET_PREFETCH_NOP:
		/* 0F 0D /1: XED's PREFETCHW set (CPUID 3DNowPrefetch).
		 * 0F 0D /0 PREFETCH and the other /r forms stay NOPs. */
		if (insn->mnemonic == ZYDIS_MNEMONIC_PREFETCHW)
			return REF_PREFETCHW;
		break;
	case ZYDIS_ISA_SET_AMD3DNOW:
		switch (insn->mnemonic) {
		case ZYDIS_MNEMONIC_PF2IW:
		case ZYDIS_MNEMONIC_PFNACC:
		case ZYDIS_MNEMONIC_PFPNACC:
		case ZYDIS_MNEMONIC_PI2FW:
		case ZYDIS_MNEMONIC_PSWAPD:
			/* APM: 3DNow! extensions, CPUID 3DNowExt. */
			return REF_3DNOW_EXT;
		default:
			return REF_3DNOW;
		}
	case ZYDIS_ISA_SET_MOVDIR:
		if (insn->mnemonic == ZYDIS_MNEMONIC_MOVDIRI)
			return REF_MOVDIRI;
		if (insn->mnemonic == ZYDIS_MNEMONIC_MOVDIR64B)
			return REF_MOVDIR64B;
		break;
	case ZYDIS_ISA_SET_PPRO:
		switch (insn->mnemonic) {
		case ZYDIS_MNEMONIC_FCOMI:
		case ZYDIS_MNEMONIC_FCOMIP:
		case ZYDIS_MNEMONIC_FUCOMI:
		case ZYDIS_MNEMONIC_FUCOMIP:
			return REF_FCOMI;
		case ZYDIS_MNEMONIC_SYSENTER:
		case ZYDIS_MNEMONIC_SYSEXIT:
			return REF_SEP;
		default:
			break;
		}
		break;
	case ZYDIS_ISA_SET_CET:
		/* ENDBR32/64 (F3 0F 1E FB/FA) and RDSSPD/Q (F3 0F 1E /1)
		 * are in the 0F 1E hint-NOP space: NOPs on CPUs without CET
		 * and when shadow stacks are off, which is why every
		 * -fcf-protection binary runs on pre-CET CPUs. */
		switch (insn->mnemonic) {
		case ZYDIS_MNEMONIC_ENDBR32:
		case ZYDIS_MNEMONIC_ENDBR64:
			return REF_HINT_IBT;
		case ZYDIS_MNEMONIC_RDSSPD:
		case ZYDIS_MNEMONIC_RDSSPQ:
			return REF_HINT_SHSTK;
		default:
			break;
		}
		break;
	case ZYDIS_ISA_SET_MPX:
		/* Every MPX instruction is encoded in the 0F 1A/0F 1B
		 * hint-NOP space and executes as a NOP without MPX (and with
		 * MPX disabled, as Linux >= 5.6 always leaves it). */
		return REF_HINT_MPX;
	case ZYDIS_ISA_SET_CLDEMOTE:
		/* 0F 1C /0: hint-NOP space, a NOP on older CPUs (SDM). */
		return REF_HINT_CLDEMOTE;
	case ZYDIS_ISA_SET_PREFETCHWT1:
		return REF_HINT_PREFETCHWT1;
	default:
		break;
	}
	return REF_COUNT;
}

void mg_instruction_requirement(const ZydisDecodedInstruction *insn,
				mg_isa_requirement *out)
{
	enum refinement r;

	if (insn == NULL) {
		*out = unknown_req;
		return;
	}
	*out = *mg_isa_set_requirement(insn->meta.isa_set);
	r = refine(insn);
	if (r != REF_COUNT)
		*out = ref_resolved[r];
}

bool mg_insn_runs_as_bsf(const ZydisDecodedInstruction *insn)
{
	return insn != NULL && insn->mnemonic == ZYDIS_MNEMONIC_TZCNT &&
	       insn->encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY;
}

const char *mg_isa_set_name(ZydisISASet set)
{
	const char *name;

	if ((unsigned)set > ZYDIS_ISA_SET_MAX_VALUE)
		return "?";
	name = ZydisISASetGetString(set);
	if (name == NULL)
		return "?";
	if (strncmp(name, "ZYDIS_ISA_SET_", 14) == 0)
		name += 14;
	return name;
}

bool mg_isa_set_row_defined(ZydisISASet set)
{
	return (unsigned)set <= ZYDIS_ISA_SET_MAX_VALUE &&
	       isa_rows[set].source != NULL;
}
