/*
 * profile.h - a CPU profile: what one host (or instance type, or CPU
 * model) offers, with the raw CPUID it was derived from when known.
 *
 * Two JSON forms are read:
 *   full    {"schema": "migratable/profile-v1", "name", "vendor", ...,
 *            "features": [...], "xcr0", "xsave_size", "cpuid": [...]}
 *           features are re-derived from "cpuid" when present, so a newer
 *           migratable can read an old profile and see more features.
 *   minimal {"name": "c5.large", "features": [...], "unknown": [...]}
 *           a flag in neither list is absent; flags in "unknown" cannot be
 *           decided from this profile.
 * docs/profile-format.md documents the schema.
 */
#ifndef MG_FEATURES_PROFILE_H
#define MG_FEATURES_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/features.h"
#include "util/error.h"

#define MG_PROFILE_SCHEMA "migratable/profile-v1"

typedef struct mg_cpuid_leaf {
	uint32_t leaf, subleaf;
	uint32_t eax, ebx, ecx, edx;
} mg_cpuid_leaf;

/* A recorded CPUID: every (leaf, subleaf) the CPU defines. */
typedef struct mg_cpuid_dump {
	mg_cpuid_leaf *leaves;
	size_t count;
	size_t capacity;
} mg_cpuid_dump;

typedef struct mg_profile {
	char *name;
	char *vendor;              /* "GenuineIntel", "AuthenticAMD", NULL if unknown */
	char *brand;
	int family, model, stepping;   /* -1 if unknown */
	char *kernel;              /* uname release of the host, NULL if unknown */
	bool has_cpuid;
	mg_cpuid_dump cpuid;
	bool has_xcr0;
	uint64_t xcr0;
	uint32_t xsave_size;       /* CPUID.(0xD,0).EBX: size for enabled XCR0; 0 if unknown */
	uint32_t xsave_size_max;   /* CPUID.(0xD,0).ECX; 0 if unknown (CRIU cpuinfo.img) */
	uint32_t criu_caps[64];    /* compel capability words, from a CRIU cpuinfo.img */
	size_t ncriu_caps;         /* 0 when the profile did not come from one */
	/* Also from a cpuinfo.img, verbatim (xcr0 above is a repaired copy of
	 * the mask): what CRIU itself compares at restore. */
	bool criu_cpuinfo;         /* the profile was read from a cpuinfo.img */
	uint32_t criu_caps_ver;    /* capability_ver: 1 (12 words) or 2 (19 words) */
	bool criu_has_xfeatures, criu_has_xsave_size, criu_has_xsave_size_max;
	uint64_t criu_xfeatures_mask;
	bool amx_permitted;        /* arch_prctl(ARCH_GET_XCOMP_PERM) allows tile data */
	/* Kernel support some features need beyond CPUID and XCR0 (MG_OS_*):
	 * os_known says which the profile recorded, os_enabled which of those
	 * the kernel enables.  See mg_derive_os_gates. */
	uint32_t os_known, os_enabled;
	mg_feature_set features;   /* usable features */
	mg_feature_set unknown;    /* features this profile cannot decide */
	char *origin;              /* file it was read from, or "host", "x86-64-v3", ... */
	/*
	 * Feature names a file listed that this build's feature table does not
	 * know (a newer catalog).  They are ignored: a target then looks less
	 * capable than it is, which can only make a verdict more cautious.
	 * Callers may warn with these; first_ignored is NULL when none.
	 */
	size_t ignored_names;
	char *first_ignored;
} mg_profile;

/* --- recorded CPUID --------------------------------------------------------- */

/* Append a leaf; -1 on allocation failure. */
int mg_cpuid_dump_add(mg_cpuid_dump *d, uint32_t leaf, uint32_t subleaf,
		      uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx,
		      mg_error *err);

/*
 * Look a leaf up.  Follows CPUID's own rule for leaves beyond the maximum:
 * returns NULL (not garbage) when `leaf` is above the maximum basic or
 * extended leaf recorded in leaf 0 / 0x80000000 (or when that maximum is
 * unrecorded), and for a subleaf of leaf 7, 0x14, 0x17, 0x18, 0x1D or 0x24
 * above the highest one its subleaf 0 EAX declares.
 */
const mg_cpuid_leaf *mg_cpuid_dump_find(const mg_cpuid_dump *d, uint32_t leaf,
					uint32_t subleaf);

/*
 * Look a leaf up exactly as recorded, ignoring the maximum-leaf rule (for
 * duplicate checks and for the maximum leaves themselves); NULL if absent.
 */
const mg_cpuid_leaf *mg_cpuid_dump_find_raw(const mg_cpuid_dump *d,
					    uint32_t leaf, uint32_t subleaf);

/*
 * Highest valid leaf of the range starting at `base` (0, 0x40000000,
 * 0x80000000, 0xC0000000), read from that range's first leaf; 0 when the
 * range is not recorded or its maximum is implausible (outside base..base+0xFF).
 */
uint32_t mg_cpuid_dump_max_leaf(const mg_cpuid_dump *d, uint32_t base);

/* Basic leaves whose subleaf 0 EAX is the highest valid subleaf (7, 0x14,
 * 0x17, 0x18, 0x1D, 0x24): one list for recording a host and for the
 * lookup rule above. */
bool mg_cpuid_leaf_counts_subleaves(uint32_t leaf);

void mg_cpuid_dump_free(mg_cpuid_dump *d);

/* --- derivation ------------------------------------------------------------- */

/*
 * Derive the usable features from a CPUID dump and XCR0: a feature is
 * usable when its CPUID bit is set (in a leaf not above the maximum) and
 * the OS enabled the XCR0 state it needs.  Without XCR0 (has_xcr0 false),
 * features needing extended state are not usable unless OSXSAVE is clear,
 * in which case none of them are.
 */
void mg_derive_features(const mg_cpuid_dump *d, bool has_xcr0, uint64_t xcr0,
			mg_feature_set *out);

/*
 * When XCR0 was not recorded (has_xcr0 false), a feature whose CPUID bit
 * is set but whose register state cannot be checked is undecidable, not
 * absent: add those (not already in features) to unknown.  Every reader
 * of a dump without XCR0 must call this after mg_derive_features(), or
 * AVX and the like look absent and requirements on them are dropped.
 */
void mg_derive_undecidable(const mg_cpuid_dump *d, bool has_xcr0,
			   const mg_feature_set *features, mg_feature_set *unknown);

/*
 * Features a process can use only when the kernel enables them, beyond
 * CPUID and XCR0 (CPL-3 use needs a control bit only the kernel sets):
 *   MG_OS_USER_SHSTK   shstk: user shadow stacks (Linux's user_shstk flag,
 *                      X86_FEATURE_USER_SHSTK: CONFIG_X86_USER_SHADOW_STACK
 *                      and the CPU's CET user state)
 *   MG_OS_FSGSBASE     fsgsbase: CR4.FSGSBASE (AT_HWCAP2 bit 1; Linux >= 5.9
 *                      unless booted with nofsgsbase)
 *   MG_OS_RING3MWAIT   monitor: MONITOR/MWAIT at CPL 3 (AT_HWCAP2 bit 0,
 *                      Xeon Phi's ring-3 MWAIT; #UD elsewhere)
 */
#define MG_OS_USER_SHSTK  (1u << 0)
#define MG_OS_FSGSBASE    (1u << 1)
#define MG_OS_RING3MWAIT  (1u << 2)
#define MG_OS_ALL         (MG_OS_USER_SHSTK | MG_OS_FSGSBASE | MG_OS_RING3MWAIT)

/* "user_shstk", "fsgsbase", "ring3_mwait" (the profile JSON's keys);
 * NULL for anything but one MG_OS_* bit. */
const char *mg_os_gate_name(uint32_t gate);

/*
 * Apply the kernel gates to derived features: a gated feature stays only
 * if the kernel enables it (gate in known and enabled), is removed if the
 * profile knows it does not, and moves to `unknown` if the profile does
 * not say (a CPUID dump alone, a CRIU cpuinfo.img).
 */
void mg_derive_os_gates(uint32_t known, uint32_t enabled, mg_feature_set *features,
			mg_feature_set *unknown);

/* The features some kernel gate governs (shstk, fsgsbase, monitor). */
void mg_os_gated_features(mg_feature_set *out);

/* Fill vendor, family/model/stepping, brand and xsave_size from the dump. */
int mg_profile_fill_identity(mg_profile *p, mg_error *err);

/* --- the host --------------------------------------------------------------- */

/*
 * Read this machine's CPUID, XCR0 and kernel version into a new profile
 * (mg_profile_init is done here; mg_profile_free it).  `name` NULL means
 * the host name.  amx_permitted asks the kernel (arch_prctl) whether a
 * process may use AMX tile data: already permitted, or granted on request
 * when the kernel supports it (the request enlarges this process's signal
 * frames, nothing else).
 */
int mg_host_profile(mg_profile *out, const char *name, mg_error *err);

/* Append this CPU's CPUID leaves (every defined leaf and subleaf, none above
 * a range's maximum) to `d`. */
int mg_host_cpuid(mg_cpuid_dump *d, mg_error *err);

/* --- files ------------------------------------------------------------------ */

/* Parse a profile from JSON text; `origin` names it in error messages. */
int mg_profile_from_json(const char *text, size_t len, const char *origin,
			 mg_profile *out, mg_error *err);

/* Read one profile file.  Errors name the file and the problem. */
int mg_profile_load(const char *path, mg_profile *out, mg_error *err);

/* Serialise (full form, pretty-printed); newly allocated string or NULL. */
char *mg_profile_to_json(const mg_profile *p, mg_error *err);

void mg_profile_init(mg_profile *p);
void mg_profile_free(mg_profile *p);

#endif
