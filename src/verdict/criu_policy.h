/*
 * criu_policy.h - CRIU's own CPU compatibility rules, reproduced.
 *
 * CRIU (criu/arch/x86/cpu.c, compel/arch/x86/src/lib/cpu.c, CRIU 4.x)
 * records at dump time a `compel_cpuinfo_t`: NCAPINTS (19) 32-bit
 * capability words filled from fixed CPUID leaves in the Linux kernel's
 * word layout, plus the XSAVE feature mask and frame sizes.  At restore
 * (or `criu cpuinfo check`) it compares them with the running CPU under
 * --cpu-cap:
 *   fpu  image has FPU/FXSR/OSXSAVE/XSAVES and the host lacks one -> fail;
 *        image xfeatures_mask has a bit the host lacks -> fail;
 *        xsave_size differs, or xsave_size_max differs -> fail.
 *   ins  (image word & ins_mask) & ~(host word & ins_mask) != 0 -> fail.
 *   cpu  any capability word differs -> fail.
 * Default (`criu cpuinfo check`, restore): fpu,ins.  all = fpu,cpu,ins.
 *
 * We compute the same words from a profile's raw CPUID exactly as
 * compel_cpuid()/compel_fpuid() do, quirks included (see criu_policy.c).
 */
#ifndef MG_VERDICT_CRIU_POLICY_H
#define MG_VERDICT_CRIU_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "features/features.h"
#include "features/profile.h"
#include "util/error.h"
#include "verdict/verdict.h"

#define MG_CRIU_NCAPINTS 19

/* --cpu-cap bits, as CRIU's CPU_CAP_*. */
#define MG_CRIU_CAP_FPU 1u
#define MG_CRIU_CAP_CPU 2u
#define MG_CRIU_CAP_INS 4u
#define MG_CRIU_CAP_ALL (MG_CRIU_CAP_FPU | MG_CRIU_CAP_CPU | MG_CRIU_CAP_INS)
#define MG_CRIU_CAP_DEFAULT (MG_CRIU_CAP_FPU | MG_CRIU_CAP_INS)

typedef struct mg_compel_cpuinfo {
	bool intel;                    /* X86_VENDOR_INTEL, else AMD (or Hygon) */
	unsigned family, model, stepping;
	uint32_t cap[MG_CRIU_NCAPINTS];
	uint64_t xfeatures_mask;
	uint32_t xsave_size;
	uint32_t xsave_size_max;
} mg_compel_cpuinfo;

/*
 * compel_cpuid() + compel_fpuid() over a recorded CPUID.  Fails
 * (MG_ERR_PROFILE) where compel fails: a vendor other than Intel, AMD or
 * Hygon, or no FPU; and (MG_ERR_USAGE) when the profile has no raw CPUID.
 */
int mg_compel_cpuinfo_from_profile(const mg_profile *p, mg_compel_cpuinfo *out,
				 mg_error *err);

/*
 * img_to_cpuinfo(): the compel_cpuinfo_t CRIU builds from a cpuinfo.img
 * read into profile p (p->criu_cpuinfo): its capability words, XSAVE mask
 * and sizes, verbatim.  As CRIU does, what an old image lacks (words 12..18
 * of a version-1 image, a missing mask or size) is taken from `rt`, the
 * CPU it is restored on; rt may be NULL for a complete image.  Fails
 * (MG_ERR_PROFILE) where CRIU refuses the image: unknown vendor, unknown
 * capability version, a word count that does not match it; MG_ERR_USAGE
 * when the image is partial and rt is NULL.
 */
int mg_compel_cpuinfo_from_image(const mg_profile *p, const mg_compel_cpuinfo *rt,
				 mg_compel_cpuinfo *out, mg_error *err);

/*
 * cpu_validate_features(): may an image dumped on `src` be restored on
 * `dst` under `caps` (MG_CRIU_CAP_*)?  Fills v (compatible/incompatible,
 * missing features where a failing bit maps to one, and a reason per
 * failed rule).
 */
void mg_criu_validate(const mg_compel_cpuinfo *src, const mg_compel_cpuinfo *dst,
		      unsigned caps, mg_verdict *v);

/*
 * The whole policy between two profiles.  Each is either raw CPUID
 * (compel_cpuid() is emulated over it) or a cpuinfo.img (its words are
 * used as recorded; for the source that is what CRIU compares at
 * restore).  Unknown (with a reason) when either has no raw CPUID nor
 * words, or the target's image is partial; incompatible when CRIU could
 * not run on the target or refuses the source image.
 */
void mg_verdict_criu(const mg_profile *source, const mg_profile *target,
		     unsigned caps, mg_verdict *v);

/*
 * Apply a --cpu-cap value to *caps (MG_CRIU_CAP_* bits) the way CRIU 4.x
 * applies its own --cpu-cap: names add to what *caps holds (for CRIU,
 * the default fpu,ins), "^name" removes, "none" clears; so "cpu" on the
 * default is fpu,ins,cpu and "none,ins" is ins alone.  0 means CRIU
 * checks nothing when it restores.  -1 (MG_ERR_USAGE) on an unknown name,
 * *caps unchanged.
 */
int mg_criu_parse_caps(const char *s, unsigned *caps, mg_error *err);

/* Features of our table whose CPUID bit lies in CRIU's x86_ins_capability_mask. */
void mg_criu_ins_features(mg_feature_set *out);

/* x86_ins_capability_mask[w] (0 outside the table). */
uint32_t mg_criu_ins_mask(unsigned w);

#endif
