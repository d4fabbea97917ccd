/*
 * feature_table.c - the one table of instruction-related CPUID features.
 *
 * Every row is one CPUID bit that gates instructions, or OS support for
 * them (osxsave, ospke), or the AVX10 version field.  Sources:
 *   - Intel SDM vol. 2A, CPUID; Intel ISE programming reference (leaf 7
 *     subleaf 1/2, leaves 0x19, 0x1E, 0x24, 0x29);
 *   - AMD APM vol. 3, appendix E (0x80000001, 0x80000008, 0x8000001F);
 *   - ../shared/data/cpuid-reference.tsv (checked by test_feature_table:
 *     every row there is here at the same location with the same name);
 *   - Linux arch/x86/include/asm/cpufeatures.h for the names;
 *   - klauspost/cpuid FeatureID names for the NFD labels
 *     (feature.node.kubernetes.io/cpu-cpuid.<NFD>); NULL where klauspost
 *     has no such feature, so NFD never labels it.
 *
 * Ids are indices into this table: stable within a build, not across
 * builds.  Persist names, never ids.
 *
 * linux_hides is set where /proc/cpuinfo cannot tell whether the CPU has
 * the bit, so a profile read from /proc/cpuinfo must treat the feature as
 * unknown rather than absent.  The reason is given on each such row.
 *
 * Names Linux does not define are the lower-case XED record name
 * (pbndkb, msr_imm, ace, amx_fp8, ...) as cpuid-reference.tsv prescribes.
 *
 * AVX10 version: AVX10 is enumerated by CPUID.(7,1):EDX[19] (`avx10`)
 * plus a version number in CPUID.(24H,0):EBX[7:0].  The version is not a
 * bit, so it is modelled as version-field features `avx10_v1` and
 * `avx10_v2` (field_width 8, field_min 1 / 2): a CPU reporting version 2
 * has both, because AVX10 versions are cumulative.  This lets a feature
 * set (a bitset) say "needs AVX10.2" without a separate number.
 */
#include "features/features.h"

#include <string.h>
#include <strings.h>

#define X_AVX    MG_XCR0_AVX
#define X_512    MG_XCR0_AVX512
#define X_AMX    MG_XCR0_AMX
#define X_MPX    (MG_XCR0_BNDREGS | MG_XCR0_BNDCSR)
#define X_PKRU   MG_XCR0_PKRU
#define X_APX    MG_XCR0_APX

/* F(name, leaf, subleaf, reg, bit, family, nfd, xcr0, hides, description) */
#define F(n, l, s, r, b, fam, nfd_, x, h, d) \
	{ .name = (n), .leaf = (l), .subleaf = (s), .reg = (r), .bit = (b), \
	  .family = (fam), .nfd = (nfd_), .description = (d), \
	  .xcr0_needed = (x), .linux_hides = (h) }
/* V(name, leaf, subleaf, reg, lowbit, width, min, family, nfd, xcr0, desc):
 * a version field, always hidden from /proc/cpuinfo. */
#define V(n, l, s, r, b, w, m, fam, nfd_, x, d) \
	{ .name = (n), .leaf = (l), .subleaf = (s), .reg = (r), .bit = (b), \
	  .family = (fam), .nfd = (nfd_), .description = (d), \
	  .xcr0_needed = (x), .linux_hides = true, \
	  .field_width = (w), .field_min = (m) }

static const mg_feature_info feature_table[] = {
	/* --- CPUID.1:EDX ------------------------------------------------- */
	F("fpu",       0x1, 0, MG_EDX,  0, MG_FAM_BASE, "X87", 0, false, "x87 floating-point unit"),
	F("tsc",       0x1, 0, MG_EDX,  4, MG_FAM_BASE, NULL, 0, false, "RDTSC time-stamp counter"),
	F("cx8",       0x1, 0, MG_EDX,  8, MG_FAM_BASE, "CMPXCHG8", 0, false, "CMPXCHG8B"),
	F("sep",       0x1, 0, MG_EDX, 11, MG_FAM_SYSTEM, "SYSEE", 0, false, "SYSENTER/SYSEXIT"),
	F("cmov",      0x1, 0, MG_EDX, 15, MG_FAM_BASE, "CMOV", 0, false, "CMOVcc (and FCMOVcc/FCOMI with fpu)"),
	F("clflush",   0x1, 0, MG_EDX, 19, MG_FAM_MEMORY, NULL, 0, false, "CLFLUSH"),
	F("mmx",       0x1, 0, MG_EDX, 23, MG_FAM_BASE, "MMX", 0, false, "MMX integer SIMD"),
	F("fxsr",      0x1, 0, MG_EDX, 24, MG_FAM_BASE, "FXSR", 0, false, "FXSAVE/FXRSTOR"),
	F("sse",       0x1, 0, MG_EDX, 25, MG_FAM_SSE, "SSE", 0, false, "SSE"),
	F("sse2",      0x1, 0, MG_EDX, 26, MG_FAM_SSE, "SSE2", 0, false, "SSE2"),

	/* --- CPUID.1:ECX ------------------------------------------------- */
	F("pni",       0x1, 0, MG_ECX,  0, MG_FAM_SSE, "SSE3", 0, false, "SSE3 (Prescott New Instructions)"),
	F("pclmulqdq", 0x1, 0, MG_ECX,  1, MG_FAM_CRYPTO, "CLMUL", 0, false, "PCLMULQDQ carry-less multiply"),
	F("monitor",   0x1, 0, MG_ECX,  3, MG_FAM_SYSTEM, NULL, 0, false, "MONITOR/MWAIT"),
	F("vmx",       0x1, 0, MG_ECX,  5, MG_FAM_SYSTEM, "VMX", 0, false, "Intel VT-x (VMXON, VMLAUNCH, ...)"),
	F("smx",       0x1, 0, MG_ECX,  6, MG_FAM_SYSTEM, NULL, 0, false, "Safer Mode Extensions (GETSEC)"),
	F("ssse3",     0x1, 0, MG_ECX,  9, MG_FAM_SSE, "SSSE3", 0, false, "Supplemental SSE3"),
	F("fma",       0x1, 0, MG_ECX, 12, MG_FAM_AVX, "FMA3", X_AVX, false, "FMA3 fused multiply-add (VEX)"),
	F("cx16",      0x1, 0, MG_ECX, 13, MG_FAM_OTHER, "CX16", 0, false, "CMPXCHG16B"),
	F("sse4_1",    0x1, 0, MG_ECX, 19, MG_FAM_SSE, "SSE4", 0, false, "SSE4.1"),
	F("sse4_2",    0x1, 0, MG_ECX, 20, MG_FAM_SSE, "SSE42", 0, false, "SSE4.2 (incl. CRC32, PCMPxSTRx)"),
	F("movbe",     0x1, 0, MG_ECX, 22, MG_FAM_BITMANIP, "MOVBE", 0, false, "MOVBE byte-swapping move"),
	F("popcnt",    0x1, 0, MG_ECX, 23, MG_FAM_BITMANIP, "POPCNT", 0, false, "POPCNT"),
	F("aes",       0x1, 0, MG_ECX, 25, MG_FAM_CRYPTO, "AESNI", 0, false, "AES-NI"),
	F("xsave",     0x1, 0, MG_ECX, 26, MG_FAM_SYSTEM, "XSAVE", 0, false, "XSAVE/XRSTOR/XGETBV/XSETBV"),
	/* Hidden: cpufeatures.h gives OSXSAVE no /proc/cpuinfo name (it
	 * mirrors CR4.OSXSAVE, which Linux always sets when xsave exists). */
	F("osxsave",   0x1, 0, MG_ECX, 27, MG_FAM_SYSTEM, "OSXSAVE", 0, true, "OS enabled XSAVE (XGETBV usable)"),
	F("avx",       0x1, 0, MG_ECX, 28, MG_FAM_AVX, "AVX", X_AVX, false, "AVX"),
	F("f16c",      0x1, 0, MG_ECX, 29, MG_FAM_AVX, "F16C", X_AVX, false, "F16C half-precision conversions"),
	F("rdrand",    0x1, 0, MG_ECX, 30, MG_FAM_SYSTEM, "RDRAND", 0, false, "RDRAND"),

	/* --- CPUID.(7,0):EBX --------------------------------------------- */
	F("fsgsbase",  0x7, 0, MG_EBX,  0, MG_FAM_SYSTEM, NULL, 0, false, "RD/WR FS/GS BASE"),
	F("sgx",       0x7, 0, MG_EBX,  2, MG_FAM_SYSTEM, "SGX", 0, false, "Software Guard Extensions (ENCLS/ENCLU)"),
	F("bmi1",      0x7, 0, MG_EBX,  3, MG_FAM_BITMANIP, "BMI1", 0, false, "BMI1 (ANDN, BEXTR, BLSx, TZCNT)"),
	F("hle",       0x7, 0, MG_EBX,  4, MG_FAM_SYSTEM, "HLE", 0, false, "TSX hardware lock elision (XACQUIRE/XRELEASE)"),
	F("avx2",      0x7, 0, MG_EBX,  5, MG_FAM_AVX, "AVX2", X_AVX, false, "AVX2"),
	F("bmi2",      0x7, 0, MG_EBX,  8, MG_FAM_BITMANIP, "BMI2", 0, false, "BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX, ...)"),
	F("invpcid",   0x7, 0, MG_EBX, 10, MG_FAM_SYSTEM, NULL, 0, false, "INVPCID"),
	F("rtm",       0x7, 0, MG_EBX, 11, MG_FAM_SYSTEM, "RTM", 0, false, "TSX restricted transactional memory (XBEGIN, ...)"),
	F("mpx",       0x7, 0, MG_EBX, 14, MG_FAM_SYSTEM, "MPX", X_MPX, false, "Memory Protection Extensions (BNDxx)"),
	F("avx512f",   0x7, 0, MG_EBX, 16, MG_FAM_AVX512, "AVX512F", X_512, false, "AVX-512 Foundation"),
	F("avx512dq",  0x7, 0, MG_EBX, 17, MG_FAM_AVX512, "AVX512DQ", X_512, false, "AVX-512 doubleword/quadword"),
	F("rdseed",    0x7, 0, MG_EBX, 18, MG_FAM_SYSTEM, "RDSEED", 0, false, "RDSEED"),
	F("adx",       0x7, 0, MG_EBX, 19, MG_FAM_BITMANIP, "ADX", 0, false, "ADCX/ADOX"),
	F("smap",      0x7, 0, MG_EBX, 20, MG_FAM_SYSTEM, NULL, 0, false, "SMAP (STAC/CLAC)"),
	F("avx512ifma", 0x7, 0, MG_EBX, 21, MG_FAM_AVX512, "AVX512IFMA", X_512, false, "AVX-512 integer FMA (52-bit)"),
	F("clflushopt", 0x7, 0, MG_EBX, 23, MG_FAM_MEMORY, NULL, 0, false, "CLFLUSHOPT"),
	F("clwb",      0x7, 0, MG_EBX, 24, MG_FAM_MEMORY, NULL, 0, false, "CLWB cache-line write-back"),
	F("intel_pt",  0x7, 0, MG_EBX, 25, MG_FAM_SYSTEM, NULL, 0, false, "Intel Processor Trace"),
	F("avx512pf",  0x7, 0, MG_EBX, 26, MG_FAM_AVX512, "AVX512PF", X_512, false, "AVX-512 prefetch (Xeon Phi)"),
	F("avx512er",  0x7, 0, MG_EBX, 27, MG_FAM_AVX512, "AVX512ER", X_512, false, "AVX-512 exponential/reciprocal (Xeon Phi)"),
	F("avx512cd",  0x7, 0, MG_EBX, 28, MG_FAM_AVX512, "AVX512CD", X_512, false, "AVX-512 conflict detection"),
	F("sha_ni",    0x7, 0, MG_EBX, 29, MG_FAM_CRYPTO, "SHA", 0, false, "SHA-1/SHA-256 extensions"),
	F("avx512bw",  0x7, 0, MG_EBX, 30, MG_FAM_AVX512, "AVX512BW", X_512, false, "AVX-512 byte/word"),
	F("avx512vl",  0x7, 0, MG_EBX, 31, MG_FAM_AVX512, "AVX512VL", X_512, false, "AVX-512 128/256-bit vector lengths"),

	/* --- CPUID.(7,0):ECX --------------------------------------------- */
	/* Hidden: Linux defines no feature for CPUID.(7,0):ECX[0]; the name
	 * is the one cpuid-reference.tsv uses. */
	F("prefetchwt1", 0x7, 0, MG_ECX, 0, MG_FAM_MEMORY, NULL, 0, true, "PREFETCHWT1 (Xeon Phi)"),
	F("avx512vbmi", 0x7, 0, MG_ECX, 1, MG_FAM_AVX512, "AVX512VBMI", X_512, false, "AVX-512 vector byte manipulation"),
	F("pku",       0x7, 0, MG_ECX,  3, MG_FAM_SYSTEM, NULL, X_PKRU, false, "Protection keys (RDPKRU/WRPKRU; needs ospke)"),
	F("ospke",     0x7, 0, MG_ECX,  4, MG_FAM_SYSTEM, NULL, X_PKRU, false, "OS enabled protection keys (CR4.PKE)"),
	F("waitpkg",   0x7, 0, MG_ECX,  5, MG_FAM_SYSTEM, "WAITPKG", 0, false, "UMONITOR/UMWAIT/TPAUSE"),
	F("avx512_vbmi2", 0x7, 0, MG_ECX, 6, MG_FAM_AVX512, "AVX512VBMI2", X_512, false, "AVX-512 VBMI2"),
	F("shstk",     0x7, 0, MG_ECX,  7, MG_FAM_SYSTEM, "CETSS", 0, false, "CET shadow stack"),
	F("gfni",      0x7, 0, MG_ECX,  8, MG_FAM_CRYPTO, "GFNI", 0, false, "Galois-field instructions"),
	F("vaes",      0x7, 0, MG_ECX,  9, MG_FAM_CRYPTO, "VAES", X_AVX, false, "Vector AES (VEX/EVEX 256/512-bit)"),
	F("vpclmulqdq", 0x7, 0, MG_ECX, 10, MG_FAM_CRYPTO, "VPCLMULQDQ", X_AVX, false, "Vector carry-less multiply"),
	F("avx512_vnni", 0x7, 0, MG_ECX, 11, MG_FAM_AVX512, "AVX512VNNI", X_512, false, "AVX-512 vector neural network instructions"),
	F("avx512_bitalg", 0x7, 0, MG_ECX, 12, MG_FAM_AVX512, "AVX512BITALG", X_512, false, "AVX-512 bit algorithms"),
	F("avx512_vpopcntdq", 0x7, 0, MG_ECX, 14, MG_FAM_AVX512, "AVX512VPOPCNTDQ", X_512, false, "AVX-512 VPOPCNTD/Q"),
	F("rdpid",     0x7, 0, MG_ECX, 22, MG_FAM_SYSTEM, NULL, 0, false, "RDPID"),
	/* Hidden: mainline Linux has no Key Locker support (the AES-KL
	 * series was never merged), so no keylocker* flag is printed. */
	F("keylocker", 0x7, 0, MG_ECX, 23, MG_FAM_CRYPTO, "KEYLOCKER", 0, true, "Key Locker (LOADIWKEY, AESENC128KL, ...)"),
	F("cldemote",  0x7, 0, MG_ECX, 25, MG_FAM_MEMORY, "CLDEMOTE", 0, false, "CLDEMOTE"),
	F("movdiri",   0x7, 0, MG_ECX, 27, MG_FAM_MEMORY, "MOVDIRI", 0, false, "MOVDIRI direct store"),
	F("movdir64b", 0x7, 0, MG_ECX, 28, MG_FAM_MEMORY, "MOVDIR64B", 0, false, "MOVDIR64B 64-byte direct store"),
	F("enqcmd",    0x7, 0, MG_ECX, 29, MG_FAM_SYSTEM, "ENQCMD", 0, false, "ENQCMD/ENQCMDS"),

	/* --- CPUID.(7,0):EDX --------------------------------------------- */
	F("avx512_4vnniw", 0x7, 0, MG_EDX, 2, MG_FAM_AVX512, NULL, X_512, false, "AVX-512 4-iteration VNNI (Xeon Phi)"),
	F("avx512_4fmaps", 0x7, 0, MG_EDX, 3, MG_FAM_AVX512, NULL, X_512, false, "AVX-512 4-iteration FMA (Xeon Phi)"),
	F("uintr",     0x7, 0, MG_EDX,  5, MG_FAM_SYSTEM, NULL, 0, false, "User interrupts (UIRET, SENDUIPI, ...)"),
	F("avx512_vp2intersect", 0x7, 0, MG_EDX, 8, MG_FAM_AVX512, "AVX512VP2INTERSECT", X_512, false, "AVX-512 VP2INTERSECTD/Q"),
	F("serialize", 0x7, 0, MG_EDX, 14, MG_FAM_SYSTEM, "SERIALIZE", 0, false, "SERIALIZE"),
	F("tsxldtrk",  0x7, 0, MG_EDX, 16, MG_FAM_SYSTEM, "TSXLDTRK", 0, false, "TSX suspend load address tracking"),
	F("pconfig",   0x7, 0, MG_EDX, 18, MG_FAM_SYSTEM, "PCONFIG", 0, false, "PCONFIG"),
	F("ibt",       0x7, 0, MG_EDX, 20, MG_FAM_SYSTEM, "CETIBT", 0, false, "CET indirect branch tracking (ENDBR)"),
	F("amx_bf16",  0x7, 0, MG_EDX, 22, MG_FAM_AMX, "AMXBF16", X_AMX, false, "AMX bfloat16 tile multiply"),
	F("avx512_fp16", 0x7, 0, MG_EDX, 23, MG_FAM_AVX512, "AVX512FP16", X_512, false, "AVX-512 half precision"),
	F("amx_tile",  0x7, 0, MG_EDX, 24, MG_FAM_AMX, "AMXTILE", X_AMX, false, "AMX tile architecture"),
	F("amx_int8",  0x7, 0, MG_EDX, 25, MG_FAM_AMX, "AMXINT8", X_AMX, false, "AMX int8 tile multiply"),

	/* --- CPUID.(7,1):EAX --------------------------------------------- */
	F("sha512",    0x7, 1, MG_EAX,  0, MG_FAM_CRYPTO, NULL, X_AVX, false, "SHA-512 (VEX)"),
	F("sm3",       0x7, 1, MG_EAX,  1, MG_FAM_CRYPTO, "SM3_X86", X_AVX, false, "SM3 hash (VEX)"),
	F("sm4",       0x7, 1, MG_EAX,  2, MG_FAM_CRYPTO, "SM4_X86", X_AVX, false, "SM4 cipher (VEX)"),
	F("rao_int",   0x7, 1, MG_EAX,  3, MG_FAM_MEMORY, NULL, 0, false, "Remote atomic operations (AADD, AAND, ...)"),
	F("avx_vnni",  0x7, 1, MG_EAX,  4, MG_FAM_AVX, "AVXVNNI", X_AVX, false, "AVX-VNNI (VEX)"),
	F("avx512_bf16", 0x7, 1, MG_EAX, 5, MG_FAM_AVX512, "AVX512BF16", X_512, false, "AVX-512 bfloat16"),
	F("cmpccxadd", 0x7, 1, MG_EAX,  7, MG_FAM_MEMORY, "CMPCCXADD", 0, false, "CMPccXADD"),
	F("fred",      0x7, 1, MG_EAX, 17, MG_FAM_SYSTEM, "FRED", 0, false, "Flexible return and event delivery (ERETS/ERETU)"),
	F("lkgs",      0x7, 1, MG_EAX, 18, MG_FAM_SYSTEM, NULL, 0, false, "LKGS load kernel GS"),
	F("wrmsrns",   0x7, 1, MG_EAX, 19, MG_FAM_SYSTEM, "WRMSRNS", 0, false, "WRMSRNS"),
	F("amx_fp16",  0x7, 1, MG_EAX, 21, MG_FAM_AMX, "AMXFP16", X_AMX, false, "AMX fp16 tile multiply"),
	F("hreset",    0x7, 1, MG_EAX, 22, MG_FAM_SYSTEM, "HRESET", 0, false, "HRESET history reset"),
	F("avx_ifma",  0x7, 1, MG_EAX, 23, MG_FAM_AVX, "AVXIFMA", X_AVX, false, "AVX-IFMA (VEX)"),
	F("msrlist",   0x7, 1, MG_EAX, 27, MG_FAM_SYSTEM, "MSRLIST", 0, false, "RDMSRLIST/WRMSRLIST"),
	F("movrs",     0x7, 1, MG_EAX, 31, MG_FAM_MEMORY, NULL, 0, false, "MOVRS read-shared loads"),

	/* --- CPUID.(7,1):EBX/ECX: names from XED (Linux defines none) ------ */
	/* Hidden (all three): Linux defines no feature for these bits. */
	F("pbndkb",    0x7, 1, MG_EBX,  1, MG_FAM_CRYPTO, NULL, 0, true, "PBNDKB platform bind key"),
	F("msr_imm",   0x7, 1, MG_ECX,  5, MG_FAM_SYSTEM, NULL, 0, true, "RDMSR/WRMSRNS with immediate MSR index"),
	F("ace",       0x7, 1, MG_ECX, 11, MG_FAM_AMX, NULL, X_AMX, true, "AMX/AVX compute extension (XED ACE_1)"),

	/* --- CPUID.(7,1):EDX: hidden.  Linux has no cpufeatures word for
	 * this register (KVM's arch/x86/kvm/reverse_cpuid.h keeps it as a
	 * KVM-only word), so /proc/cpuinfo never prints these bits: seen on
	 * kernel 6.18 with a CPU reporting prefetchi and avx10. --------- */
	F("avx_vnni_int8", 0x7, 1, MG_EDX, 4, MG_FAM_AVX, "AVXVNNIINT8", X_AVX, true, "AVX-VNNI-INT8"),
	F("avx_ne_convert", 0x7, 1, MG_EDX, 5, MG_FAM_AVX, "AVXNECONVERT", X_AVX, true, "AVX-NE-CONVERT"),
	F("amx_complex", 0x7, 1, MG_EDX, 8, MG_FAM_AMX, "AMXCOMPLEX", X_AMX, true, "AMX complex tile multiply"),
	F("avx_vnni_int16", 0x7, 1, MG_EDX, 10, MG_FAM_AVX, "AVXVNNIINT16", X_AVX, true, "AVX-VNNI-INT16"),
	F("prefetchi", 0x7, 1, MG_EDX, 14, MG_FAM_MEMORY, "PREFETCHI", 0, true, "PREFETCHIT0/IT1 code prefetch"),
	F("user_msr",  0x7, 1, MG_EDX, 15, MG_FAM_SYSTEM, NULL, 0, true, "URDMSR/UWRMSR"),
	F("avx10",     0x7, 1, MG_EDX, 19, MG_FAM_AVX512, "AVX10", X_512, true, "AVX10 converged vector ISA (version in leaf 0x24)"),
	F("apx_f",     0x7, 1, MG_EDX, 21, MG_FAM_APX, "APX_F", X_APX, true, "Advanced Performance Extensions (REX2/EGPRs, NDD, NF)"),

	/* --- CPUID.(7,2):EDX: hidden, Linux keeps BHI_CTRL in an unnamed
	 * synthetic word. */
	F("bhi_ctrl",  0x7, 2, MG_EDX,  4, MG_FAM_SYSTEM, "BHI_CTRL", 0, true, "BHI_DIS_S control; IBHF instruction"),

	/* --- CPUID.(0xD,1):EAX ------------------------------------------- */
	F("xsaveopt",  0xd, 1, MG_EAX,  0, MG_FAM_SYSTEM, "XSAVEOPT", 0, false, "XSAVEOPT"),
	F("xsavec",    0xd, 1, MG_EAX,  1, MG_FAM_SYSTEM, "XSAVEC", 0, false, "XSAVEC compacted save"),
	F("xgetbv1",   0xd, 1, MG_EAX,  2, MG_FAM_SYSTEM, "XGETBV1", 0, false, "XGETBV with ECX=1 (XINUSE)"),
	F("xsaves",    0xd, 1, MG_EAX,  3, MG_FAM_SYSTEM, "XSAVES", 0, false, "XSAVES/XRSTORS supervisor state"),

	/* --- CPUID.(0x12,0):EAX: hidden, Linux keeps SGX leaf bits
	 * (sgx1/sgx2/enclv) in an unnamed word. */
	F("sgx_enclv", 0x12, 0, MG_EAX, 5, MG_FAM_SYSTEM, NULL, 0, true, "SGX ENCLV virtualization leaves"),

	/* --- CPUID.(0x14,0):EBX: hidden, Linux exposes PT capabilities in
	 * /sys/bus/event_source/devices/intel_pt/caps/, not /proc/cpuinfo. */
	F("ptwrite",   0x14, 0, MG_EBX, 4, MG_FAM_SYSTEM, NULL, 0, true, "PTWRITE (with intel_pt)"),

	/* --- CPUID.(0x19,0):EBX: Key Locker leaf, hidden as keylocker. --- */
	F("keylocker_enabled", 0x19, 0, MG_EBX, 0, MG_FAM_CRYPTO, NULL, 0, true, "Key Locker AES instructions enabled (AESKLE)"),
	F("keylocker_wide", 0x19, 0, MG_EBX, 2, MG_FAM_CRYPTO, "KEYLOCKERW", 0, true, "Key Locker wide (AESENCWIDE128KL, ...)"),

	/* --- CPUID.(0x1E,1):EAX: AMX leaf; hidden, Linux defines none. --- */
	F("amx_fp8",   0x1e, 1, MG_EAX, 4, MG_FAM_AMX, "AMXFP8", X_AMX, true, "AMX fp8 tile multiply"),
	F("amx_avx512", 0x1e, 1, MG_EAX, 7, MG_FAM_AMX, NULL, X_AMX | X_512, true, "AMX-AVX512 tile/vector moves"),
	F("amx_movrs", 0x1e, 1, MG_EAX, 8, MG_FAM_AMX, NULL, X_AMX, true, "AMX-MOVRS read-shared tile loads"),

	/* --- CPUID.(0x24,0): AVX10 version and vector lengths; hidden,
	 * Linux prints no AVX10 version or length flag. */
	V("avx10_v1",  0x24, 0, MG_EBX, 0, 8, 1, MG_FAM_AVX512, NULL, X_512, "AVX10 version >= 1 (AVX10.1)"),
	V("avx10_v2",  0x24, 0, MG_EBX, 0, 8, 2, MG_FAM_AVX512, NULL, X_512, "AVX10 version >= 2 (AVX10.2)"),
	F("avx10_256", 0x24, 0, MG_EBX, 17, MG_FAM_AVX512, "AVX10_256", X_512, true, "AVX10 256-bit vectors"),
	F("avx10_512", 0x24, 0, MG_EBX, 18, MG_FAM_AVX512, "AVX10_512", X_512, true, "AVX10 512-bit vectors"),
	/* Hidden: Linux defines no feature for it. */
	F("avx10_v2_aux", 0x24, 1, MG_ECX, 3, MG_FAM_AVX512, NULL, X_512, true, "AVX10.2 auxiliary instructions (XED AVX10_V2_AUX)"),

	/* --- CPUID.(0x29,0):EBX: APX leaf; hidden, Linux defines none. --- */
	F("apx_f_nci_ndd_nf", 0x29, 0, MG_EBX, 0, MG_FAM_APX, NULL, X_APX, true, "APX NCI/NDD/NF forms of more instructions (XED APX_F_*_N3)"),

	/* --- CPUID.0x80000001:ECX (AMD APM vol. 3 E.4.2) ----------------- */
	F("lahf_lm",   0x80000001, 0, MG_ECX,  0, MG_FAM_OTHER, "LAHF", 0, false, "LAHF/SAHF in 64-bit mode"),
	F("svm",       0x80000001, 0, MG_ECX,  2, MG_FAM_SYSTEM, "SVM", 0, false, "AMD-V secure virtual machine (VMRUN, ...)"),
	F("abm",       0x80000001, 0, MG_ECX,  5, MG_FAM_BITMANIP, "LZCNT", 0, false, "Advanced bit manipulation (LZCNT)"),
	F("sse4a",     0x80000001, 0, MG_ECX,  6, MG_FAM_SSE, "SSE4A", 0, false, "AMD SSE4a (EXTRQ, INSERTQ, MOVNTSx)"),
	F("misalignsse", 0x80000001, 0, MG_ECX, 7, MG_FAM_AMD, NULL, 0, false, "Misaligned SSE mode"),
	F("3dnowprefetch", 0x80000001, 0, MG_ECX, 8, MG_FAM_MEMORY, NULL, 0, false, "PREFETCH/PREFETCHW"),
	F("xop",       0x80000001, 0, MG_ECX, 11, MG_FAM_AMD, "XOP", X_AVX, false, "AMD XOP"),
	F("skinit",    0x80000001, 0, MG_ECX, 12, MG_FAM_SYSTEM, NULL, 0, false, "SKINIT/STGI"),
	F("lwp",       0x80000001, 0, MG_ECX, 15, MG_FAM_AMD, NULL, 0, false, "AMD lightweight profiling (LLWPCB, ...)"),
	F("fma4",      0x80000001, 0, MG_ECX, 16, MG_FAM_AMD, "FMA4", X_AVX, false, "AMD FMA4"),
	F("tbm",       0x80000001, 0, MG_ECX, 21, MG_FAM_AMD, "TBM", 0, false, "AMD trailing bit manipulation"),
	F("mwaitx",    0x80000001, 0, MG_ECX, 29, MG_FAM_AMD, NULL, 0, false, "MONITORX/MWAITX"),

	/* --- CPUID.0x80000001:EDX ---------------------------------------- */
	F("syscall",   0x80000001, 0, MG_EDX, 11, MG_FAM_BASE, "SYSCALL", 0, false, "SYSCALL/SYSRET"),
	F("mmxext",    0x80000001, 0, MG_EDX, 22, MG_FAM_AMD, "MMXEXT", 0, false, "AMD MMX extensions"),
	F("rdtscp",    0x80000001, 0, MG_EDX, 27, MG_FAM_SYSTEM, "RDTSCP", 0, false, "RDTSCP"),
	F("lm",        0x80000001, 0, MG_EDX, 29, MG_FAM_BASE, NULL, 0, false, "Long mode (x86-64)"),
	F("3dnowext",  0x80000001, 0, MG_EDX, 30, MG_FAM_AMD, "AMD3DNOWEXT", 0, false, "AMD 3DNow! extensions"),
	F("3dnow",     0x80000001, 0, MG_EDX, 31, MG_FAM_AMD, "AMD3DNOW", 0, false, "AMD 3DNow!"),

	/* --- CPUID.0x80000008:EBX ---------------------------------------- */
	F("clzero",    0x80000008, 0, MG_EBX,  0, MG_FAM_AMD, "CLZERO", 0, false, "CLZERO"),
	F("invlpgb",   0x80000008, 0, MG_EBX,  3, MG_FAM_SYSTEM, "INVLPGB", 0, false, "INVLPGB/TLBSYNC"),
	F("rdpru",     0x80000008, 0, MG_EBX,  4, MG_FAM_AMD, "RDPRU", 0, false, "RDPRU"),
	F("mcommit",   0x80000008, 0, MG_EBX,  8, MG_FAM_AMD, "MCOMMIT", 0, false, "MCOMMIT"),
	F("wbnoinvd",  0x80000008, 0, MG_EBX,  9, MG_FAM_MEMORY, "WBNOINVD", 0, false, "WBNOINVD"),

	/* --- CPUID.0x8000001F:EAX ---------------------------------------- */
	F("sev_snp",   0x8000001f, 0, MG_EAX,  4, MG_FAM_SYSTEM, "SEV_SNP", 0, false, "SEV-SNP (PVALIDATE, RMPADJUST, ...)"),

	/* --- CPUID.0xC0000001:EDX: VIA/Zhaoxin PadLock.  Linux prints these
	 * as rng, rng_en, ace, ace_en, phe, phe_en, pmm, pmm_en; the table
	 * uses XED's names (cpuid-reference.tsv has no linux_flag for them,
	 * and "ace" is taken by CPUID.(7,1):ECX[11]).  Linux's names are
	 * accepted as aliases except "ace", which Linux spells for PadLock
	 * AES but XED for AMX ACE: use via_padlock_aes. */
	F("via_padlock_rng",    0xc0000001, 0, MG_EDX,  2, MG_FAM_OTHER, NULL, 0, false, "PadLock RNG present (XSTORE)"),
	F("via_padlock_rng_en", 0xc0000001, 0, MG_EDX,  3, MG_FAM_OTHER, NULL, 0, false, "PadLock RNG enabled"),
	F("via_padlock_aes",    0xc0000001, 0, MG_EDX,  6, MG_FAM_OTHER, NULL, 0, false, "PadLock ACE present (XCRYPT*)"),
	F("via_padlock_aes_en", 0xc0000001, 0, MG_EDX,  7, MG_FAM_OTHER, NULL, 0, false, "PadLock ACE enabled"),
	F("via_padlock_sha",    0xc0000001, 0, MG_EDX, 10, MG_FAM_OTHER, NULL, 0, false, "PadLock PHE present (XSHA*)"),
	F("via_padlock_sha_en", 0xc0000001, 0, MG_EDX, 11, MG_FAM_OTHER, NULL, 0, false, "PadLock PHE enabled"),
	F("via_padlock_pmm",    0xc0000001, 0, MG_EDX, 12, MG_FAM_OTHER, NULL, 0, false, "PadLock PMM present (MONTMUL)"),
	F("via_padlock_pmm_en", 0xc0000001, 0, MG_EDX, 13, MG_FAM_OTHER, NULL, 0, false, "PadLock PMM enabled"),
};

#define FEATURE_COUNT (sizeof(feature_table) / sizeof(feature_table[0]))

_Static_assert(FEATURE_COUNT <= MG_FEATURE_SET_BITS,
	       "feature table outgrew mg_feature_set");

/*
 * Alternative spellings accepted by mg_feature_by_name: the common
 * vendor/compiler names (gcc -m flags, Intel SDM mnemonics) and Linux's
 * names for the PadLock bits.  NFD (klauspost) names are accepted too,
 * through the table's nfd column.
 */
static const struct {
	const char *alias;
	const char *name;
} feature_aliases[] = {
	{ "sse3", "pni" },
	{ "sse4.1", "sse4_1" },
	{ "sse41", "sse4_1" },
	{ "sse4.2", "sse4_2" },
	{ "sse42", "sse4_2" },
	{ "sha", "sha_ni" },
	{ "lzcnt", "abm" },
	{ "lahf", "lahf_lm" },
	{ "lahf_sahf", "lahf_lm" },
	{ "pclmul", "pclmulqdq" },
	{ "fxsave", "fxsr" },
	{ "cmpxchg16b", "cx16" },
	{ "cmpxchg8b", "cx8" },
	{ "bmi", "bmi1" },
	{ "prefetchw", "3dnowprefetch" },
	{ "fma3", "fma" },
	{ "x87", "fpu" },
	{ "aesni", "aes" },
	{ "adcx", "adx" },
	{ "adox", "adx" },
	{ "fsgs", "fsgsbase" },
	{ "rdwrfsgs", "fsgsbase" },
	{ "movdir", "movdiri" },
	{ "monitorx", "mwaitx" },
	{ "cet_ss", "shstk" },
	{ "cet_ibt", "ibt" },
	{ "avx512vnni", "avx512_vnni" },
	{ "avx512bf16", "avx512_bf16" },
	{ "avx512fp16", "avx512_fp16" },
	{ "avx512vbmi2", "avx512_vbmi2" },
	{ "avx512bitalg", "avx512_bitalg" },
	{ "avx512vpopcntdq", "avx512_vpopcntdq" },
	{ "avx512vp2intersect", "avx512_vp2intersect" },
	{ "amx_tiles", "amx_tile" },
	{ "avxvnni", "avx_vnni" },
	{ "avxifma", "avx_ifma" },
	{ "tsx_ldtrk", "tsxldtrk" },
	{ "rng", "via_padlock_rng" },
	{ "rng_en", "via_padlock_rng_en" },
	{ "ace_en", "via_padlock_aes_en" },
	{ "phe", "via_padlock_sha" },
	{ "phe_en", "via_padlock_sha_en" },
	{ "pmm", "via_padlock_pmm" },
	{ "pmm_en", "via_padlock_pmm_en" },
};

size_t mg_feature_count(void)
{
	return FEATURE_COUNT;
}

const mg_feature_info *mg_feature_get(mg_feature_id id)
{
	if (id < 0 || (size_t)id >= FEATURE_COUNT)
		return NULL;
	return &feature_table[id];
}

static mg_feature_id lookup_exact(const char *name)
{
	for (size_t i = 0; i < FEATURE_COUNT; i++)
		if (strcasecmp(feature_table[i].name, name) == 0)
			return (mg_feature_id)i;
	return MG_FEATURE_NONE;
}

mg_feature_id mg_feature_by_name(const char *name)
{
	mg_feature_id id;

	if (name == NULL || *name == '\0')
		return MG_FEATURE_NONE;
	id = lookup_exact(name);
	if (id != MG_FEATURE_NONE)
		return id;
	for (size_t i = 0; i < sizeof(feature_aliases) / sizeof(feature_aliases[0]); i++)
		if (strcasecmp(feature_aliases[i].alias, name) == 0)
			return lookup_exact(feature_aliases[i].name);
	/* NFD / klauspost spelling ("AVX512VNNI", "SSE42", "CLMUL"). */
	for (size_t i = 0; i < FEATURE_COUNT; i++)
		if (feature_table[i].nfd && strcasecmp(feature_table[i].nfd, name) == 0)
			return (mg_feature_id)i;
	return MG_FEATURE_NONE;
}

mg_feature_id mg_feature_by_location(uint32_t leaf, uint32_t subleaf,
				     mg_cpuid_reg reg, unsigned bit)
{
	for (size_t i = 0; i < FEATURE_COUNT; i++) {
		const mg_feature_info *f = &feature_table[i];

		if (f->field_width == 0 && f->leaf == leaf &&
		    f->subleaf == subleaf && f->reg == reg && f->bit == bit)
			return (mg_feature_id)i;
	}
	return MG_FEATURE_NONE;
}

bool mg_feature_in_reg(const mg_feature_info *f, uint32_t reg_value)
{
	uint32_t field;

	if (f == NULL || f->bit > 31)
		return false;
	if (f->field_width == 0)
		return (reg_value >> f->bit) & 1;
	field = reg_value >> f->bit;
	if (f->field_width < 32)
		field &= (1u << f->field_width) - 1;
	return field >= f->field_min;
}

const char *mg_family_name(mg_family fam)
{
	static const char *const names[MG_FAM_COUNT] = {
		[MG_FAM_BASE] = "base",
		[MG_FAM_SSE] = "sse",
		[MG_FAM_AVX] = "avx",
		[MG_FAM_AVX512] = "avx512",
		[MG_FAM_AMX] = "amx",
		[MG_FAM_APX] = "apx",
		[MG_FAM_BITMANIP] = "bitmanip",
		[MG_FAM_CRYPTO] = "crypto",
		[MG_FAM_MEMORY] = "memory",
		[MG_FAM_SYSTEM] = "system",
		[MG_FAM_AMD] = "amd",
		[MG_FAM_OTHER] = "other",
	};

	if ((unsigned)fam >= MG_FAM_COUNT)
		return "?";
	return names[fam];
}

const char *mg_cpuid_reg_name(mg_cpuid_reg reg)
{
	switch (reg) {
	case MG_EAX: return "eax";
	case MG_EBX: return "ebx";
	case MG_ECX: return "ecx";
	case MG_EDX: return "edx";
	}
	return "?";
}
