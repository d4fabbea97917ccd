/*
 * features.h - the CPU feature model every pipeline stage speaks.
 *
 * A feature is one CPUID bit that gates instructions (or OS support for
 * them).  Its canonical name is the Linux /proc/cpuinfo flag name
 * ("sse4_2", "avx512vl", "sha_ni"); features Linux does not name get a
 * lower-case name derived from Intel XED's record ("pbndkb", "msr_imm").
 *
 * Sets of features are fixed-size bitsets indexed by mg_feature_id, so
 * they can be copied, compared and combined without allocation.
 */
#ifndef MG_FEATURES_FEATURES_H
#define MG_FEATURES_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum mg_cpuid_reg {
	MG_EAX = 0,
	MG_EBX = 1,
	MG_ECX = 2,
	MG_EDX = 3
} mg_cpuid_reg;

/* XCR0 state components (Intel SDM vol. 1, 13.1). */
#define MG_XCR0_X87        (1ull << 0)
#define MG_XCR0_SSE        (1ull << 1)
#define MG_XCR0_YMM        (1ull << 2)
#define MG_XCR0_BNDREGS    (1ull << 3)
#define MG_XCR0_BNDCSR     (1ull << 4)
#define MG_XCR0_OPMASK     (1ull << 5)
#define MG_XCR0_ZMM_HI256  (1ull << 6)
#define MG_XCR0_HI16_ZMM   (1ull << 7)
#define MG_XCR0_PKRU       (1ull << 9)
#define MG_XCR0_XTILECFG   (1ull << 17)
#define MG_XCR0_XTILEDATA  (1ull << 18)
#define MG_XCR0_APX        (1ull << 19)
#define MG_XCR0_AVX        (MG_XCR0_SSE | MG_XCR0_YMM)
#define MG_XCR0_AVX512     (MG_XCR0_AVX | MG_XCR0_OPMASK | MG_XCR0_ZMM_HI256 | MG_XCR0_HI16_ZMM)
#define MG_XCR0_AMX        (MG_XCR0_XTILECFG | MG_XCR0_XTILEDATA)

/* Feature families, for grouping output. */
typedef enum mg_family {
	MG_FAM_BASE,       /* x87, cmov, cx8, lm, ...: present on every x86-64 */
	MG_FAM_SSE,        /* sse .. sse4_2, sse4a, ssse3 */
	MG_FAM_AVX,        /* avx, avx2, fma, f16c, avx_vnni, ... (VEX) */
	MG_FAM_AVX512,     /* every avx512* and avx10 */
	MG_FAM_AMX,
	MG_FAM_APX,
	MG_FAM_BITMANIP,   /* bmi1, bmi2, abm/lzcnt, popcnt, adx, tbm, movbe */
	MG_FAM_CRYPTO,     /* aes, pclmulqdq, sha_ni, vaes, gfni, sm3, ... */
	MG_FAM_MEMORY,     /* clflush*, clwb, prefetch*, movdir*, ... */
	MG_FAM_SYSTEM,     /* xsave*, fsgsbase, rdtscp, rdpid, rdrand, pku, cet, tsx, ... */
	MG_FAM_AMD,        /* 3dnow, xop, fma4, clzero, ... (AMD-only legacy) */
	MG_FAM_OTHER,
	MG_FAM_COUNT
} mg_family;

typedef int mg_feature_id;         /* index into the feature table, or -1 */
#define MG_FEATURE_NONE (-1)
#define MG_FEATURE_SET_BITS 256

typedef struct mg_feature_info {
	const char *name;          /* Linux /proc/cpuinfo flag name */
	uint32_t leaf;
	uint32_t subleaf;
	mg_cpuid_reg reg;
	uint8_t bit;
	mg_family family;
	const char *nfd;           /* NFD label suffix (klauspost/cpuid name), NULL if none */
	const char *description;   /* one line */
	uint64_t xcr0_needed;      /* XCR0 components the OS must enable for it to be usable */
	bool linux_hides;          /* Linux never shows it in /proc/cpuinfo (see table comment) */
	/*
	 * Version fields (AVX10's CPUID.24H.0:EBX[7:0]): when field_width is
	 * non-zero the feature is not one bit but "the field of field_width
	 * bits starting at `bit` is >= field_min".  0 for ordinary flags.
	 * Use mg_feature_in_reg() rather than testing `bit` directly.
	 */
	uint8_t field_width;
	uint8_t field_min;
} mg_feature_info;

typedef struct mg_feature_set {
	uint64_t bits[MG_FEATURE_SET_BITS / 64];
} mg_feature_set;

/* --- the table ---------------------------------------------------------- */

/* Number of features in the table; ids are 0 .. count-1. */
size_t mg_feature_count(void);

/* Info for an id; NULL if out of range. */
const mg_feature_info *mg_feature_get(mg_feature_id id);

/* Id for a Linux flag name (also accepts the documented aliases such as
 * "sha" for sha_ni or "lzcnt" for abm); MG_FEATURE_NONE if unknown. */
mg_feature_id mg_feature_by_name(const char *name);

/* Id for a CPUID location; MG_FEATURE_NONE if the table has no such bit.
 * Version-field features (field_width != 0) are never returned. */
mg_feature_id mg_feature_by_location(uint32_t leaf, uint32_t subleaf,
				     mg_cpuid_reg reg, unsigned bit);

/*
 * Whether the feature is present given the value of its CPUID register
 * (leaf/subleaf/reg of the feature): tests the bit, or compares the
 * version field for field features.
 */
bool mg_feature_in_reg(const mg_feature_info *f, uint32_t reg_value);

/* "sse", "avx", ... for grouping output. */
const char *mg_family_name(mg_family fam);

/* "eax".."edx". */
const char *mg_cpuid_reg_name(mg_cpuid_reg reg);

/* --- sets ----------------------------------------------------------------- */

static inline void mg_fset_clear(mg_feature_set *s)
{
	for (size_t i = 0; i < MG_FEATURE_SET_BITS / 64; i++)
		s->bits[i] = 0;
}

static inline void mg_fset_add(mg_feature_set *s, mg_feature_id id)
{
	if (id >= 0 && id < MG_FEATURE_SET_BITS)
		s->bits[id / 64] |= 1ull << (id % 64);
}

static inline void mg_fset_remove(mg_feature_set *s, mg_feature_id id)
{
	if (id >= 0 && id < MG_FEATURE_SET_BITS)
		s->bits[id / 64] &= ~(1ull << (id % 64));
}

static inline bool mg_fset_has(const mg_feature_set *s, mg_feature_id id)
{
	return id >= 0 && id < MG_FEATURE_SET_BITS &&
	       (s->bits[id / 64] >> (id % 64)) & 1;
}

/* dst |= src */
void mg_fset_union(mg_feature_set *dst, const mg_feature_set *src);
/* dst &= src */
void mg_fset_intersect(mg_feature_set *dst, const mg_feature_set *src);
/* dst &= ~src */
void mg_fset_subtract(mg_feature_set *dst, const mg_feature_set *src);
bool mg_fset_is_empty(const mg_feature_set *s);
bool mg_fset_is_subset(const mg_feature_set *sub, const mg_feature_set *super);
bool mg_fset_equal(const mg_feature_set *a, const mg_feature_set *b);
size_t mg_fset_count(const mg_feature_set *s);

/* Iterate: for (id = mg_fset_next(s, -1); id >= 0; id = mg_fset_next(s, id)) */
mg_feature_id mg_fset_next(const mg_feature_set *s, mg_feature_id after);

/*
 * Comma-separated names sorted by name, newly allocated (free()).
 * Returns NULL on allocation failure.
 */
char *mg_fset_to_string(const mg_feature_set *s);

/*
 * The names of s sorted by name into names[] (which s's lifetime does not
 * bound: they are the feature table's); ids without a name are skipped.
 * Returns how many.
 */
size_t mg_fset_names(const mg_feature_set *s, const char *names[MG_FEATURE_SET_BITS]);

/* --- x86-64 micro-architecture levels (psABI) ------------------------------ */

/* Features of level 1..4, cumulative (v3 includes v2 and v1).
 * Returns false for a level outside 1..4. */
bool mg_x86_64_level_features(int level, mg_feature_set *out);

/* Highest level whose features are all in `have` (0 if not even v1). */
int mg_x86_64_level_of(const mg_feature_set *have);

/*
 * Add the features every x86-64 CPU has architecturally when `s` holds
 * `lm` (fpu, tsc, cx8, cmov, mmx, fxsr, sse, sse2, syscall).  Profiles
 * built from partial data (the XED-derived catalogs carry no cx8 or
 * syscall) use it so that level v1 and baseline checks do not fail on
 * bits nobody recorded.  No-op without `lm`.
 */
void mg_fset_add_long_mode_implied(mg_feature_set *s);

#endif
