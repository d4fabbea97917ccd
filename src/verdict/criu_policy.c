/*
 * criu_policy.c - CRIU's cpuinfo rules over recorded CPUID (see
 * criu_policy.h).  Every constant here is CRIU's, not ours: the point is
 * to predict what CRIU will say, so its quirks are reproduced and
 * commented rather than fixed.
 */
#include "verdict/criu_policy.h"

#include "process/criu_image.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* enum cpuid_leafs in compel/arch/x86/src/lib/include/uapi/asm/cpu.h */
enum {
	W_1_EDX = 0, W_8000_0001_EDX = 1, W_8086_0001_EDX = 2, W_LNX_1 = 3,
	W_1_ECX = 4, W_C000_0001_EDX = 5, W_8000_0001_ECX = 6, W_LNX_2 = 7,
	W_LNX_3 = 8, W_7_0_EBX = 9, W_D_1_EAX = 10, W_7_0_ECX = 11,
	W_F_1_EDX = 12, W_8000_0008_EBX = 13, W_6_EAX = 14, W_8000_000A_EDX = 15,
	W_F_0_EDX = 16, W_8000_0007_EBX = 17, W_7_0_EDX = 18
};

#define BIT(n) (1u << (n))

/* Feature bits CRIU tests by number (word * 32 + bit). */
#define F_FPU       (W_1_EDX * 32 + 0)
#define F_FXSR      (W_1_EDX * 32 + 24)
#define F_XMM       (W_1_EDX * 32 + 25)
#define F_REP_GOOD  (W_LNX_1 * 32 + 16)
#define F_NOPL      (W_LNX_1 * 32 + 20)
#define F_CPUID     (W_LNX_1 * 32 + 25)
#define F_XSAVE     (W_1_ECX * 32 + 26)
#define F_OSXSAVE   (W_1_ECX * 32 + 27)
#define F_AVX       (W_1_ECX * 32 + 28)
#define F_MPX       (W_7_0_EBX * 32 + 14)
#define F_AVX512F   (W_7_0_EBX * 32 + 16)
#define F_INTEL_PT  (W_7_0_EBX * 32 + 25)
#define F_ERMS      (W_7_0_EBX * 32 + 9)
#define F_XSAVES    (W_D_1_EAX * 32 + 3)
#define F_PKU       (W_7_0_ECX * 32 + 3)
#define F_HDC       (W_6_EAX * 32 + 13)
#define F_CQM_LLC   (W_F_0_EDX * 32 + 1)

/* x86_ins_capability_mask[] of criu/arch/x86/cpu.c (CRIU 4.x). */
static const uint32_t ins_mask[MG_CRIU_NCAPINTS] = {
	[W_1_EDX] = BIT(0) /* fpu */ | BIT(4) /* tsc */ | BIT(8) /* cx8 */ |
		BIT(11) /* sep */ | BIT(15) /* cmov */ | BIT(19) /* clflush */ |
		BIT(23) /* mmx */ | BIT(24) /* fxsr */ | BIT(25) /* sse */ |
		BIT(26) /* sse2 */,
	[W_8000_0001_EDX] = BIT(11) /* syscall */ | BIT(22) /* mmxext */ |
		BIT(27) /* rdtscp */ | BIT(30) /* 3dnowext */ | BIT(31) /* 3dnow */,
	[W_LNX_1] = BIT(16) /* rep_good */ | BIT(20) /* nopl */,
	[W_1_ECX] = BIT(0) /* pni */ | BIT(1) /* pclmulqdq */ | BIT(3) /* monitor */ |
		BIT(9) /* ssse3 */ | BIT(13) /* cx16 */ | BIT(19) /* sse4_1 */ |
		BIT(20) /* sse4_2 */ | BIT(22) /* movbe */ | BIT(23) /* popcnt */ |
		BIT(25) /* aes */ | BIT(26) /* xsave */ | BIT(27) /* osxsave */ |
		BIT(28) /* avx */ | BIT(29) /* f16c */ | BIT(30) /* rdrand */,
	/* Note: no fma (1.ECX bit 12) - CRIU's mask does not list it. */
	[W_8000_0001_ECX] = BIT(5) /* abm */ | BIT(6) /* sse4a */ |
		BIT(7) /* misalignsse */ | BIT(8) /* 3dnowprefetch */ |
		BIT(11) /* xop */ | BIT(16) /* fma4 */ | BIT(21) /* tbm */,
	[W_7_0_EBX] = BIT(0) /* fsgsbase */ | BIT(3) /* bmi1 */ | BIT(4) /* hle */ |
		BIT(5) /* avx2 */ | BIT(8) /* bmi2 */ | BIT(9) /* erms */ |
		BIT(11) /* rtm */ | BIT(14) /* mpx */ | BIT(16) /* avx512f */ |
		BIT(17) /* avx512dq */ | BIT(18) /* rdseed */ | BIT(19) /* adx */ |
		BIT(23) /* clflushopt */ | BIT(26) /* avx512pf */ |
		BIT(27) /* avx512er */ | BIT(28) /* avx512cd */ | BIT(29) /* sha_ni */ |
		BIT(30) /* avx512bw */ | BIT(31) /* avx512vl */,
	[W_D_1_EAX] = BIT(0) /* xsaveopt */ | BIT(1) /* xsavec */ | BIT(2) /* xgetbv1 */,
	[W_7_0_ECX] = BIT(1) /* avx512vbmi */ | BIT(6) /* avx512_vbmi2 */ |
		BIT(8) /* gfni */ | BIT(9) /* vaes */ | BIT(10) /* vpclmulqdq */ |
		BIT(11) /* avx512_vnni */ | BIT(12) /* avx512_bitalg */ |
		BIT(13) /* tme */ | BIT(14) /* avx512_vpopcntdq */ | BIT(22) /* rdpid */,
	[W_8000_0008_EBX] = BIT(0) /* clzero */,
	[W_7_0_EDX] = BIT(2) /* avx512_4vnniw */ | BIT(3) /* avx512_4fmaps */,
};

uint32_t mg_criu_ins_mask(unsigned w)
{
	return w < MG_CRIU_NCAPINTS ? ins_mask[w] : 0;
}

void mg_criu_ins_features(mg_feature_set *out)
{
	mg_fset_clear(out);
	for (unsigned w = 0; w < MG_CRIU_NCAPINTS; w++) {
		uint32_t leaf, sub;
		mg_cpuid_reg reg;
		if (!mg_criu_cap_word_location(w, &leaf, &sub, &reg))
			continue;
		for (unsigned b = 0; b < 32; b++)
			if (ins_mask[w] & BIT(b))
				mg_fset_add(out, mg_feature_by_location(leaf, sub, reg, b));
	}
}

/* --- compel_cpuid() over a dump ----------------------------------------------- */

/* The raw leaf, without CPUID's max-leaf rule: compel checks the maximum
 * itself before each query, so we follow its checks, not ours.  An
 * unrecorded leaf reads as zeros. */
static mg_cpuid_leaf raw(const mg_cpuid_dump *d, uint32_t leaf, uint32_t sub)
{
	const mg_cpuid_leaf *l = mg_cpuid_dump_find_raw(d, leaf, sub);
	return l ? *l : (mg_cpuid_leaf){ .leaf = leaf, .subleaf = sub };
}

static bool test_cap(const mg_compel_cpuinfo *c, unsigned f)
{
	return f < MG_CRIU_NCAPINTS * 32 && (c->cap[f / 32] >> (f % 32)) & 1;
}

static void set_cap(mg_compel_cpuinfo *c, unsigned f)
{
	if (f < MG_CRIU_NCAPINTS * 32)
		c->cap[f / 32] |= BIT(f % 32);
}

static void clear_cap(mg_compel_cpuinfo *c, unsigned f)
{
	if (f < MG_CRIU_NCAPINTS * 32)
		c->cap[f / 32] &= ~BIT(f % 32);
}

/* compel's XFEATURE_* numbering and masks (compel uapi asm/fpu.h). */
#define XFEATURE_MASK_FPSSE 0x3ull
#define XFEATURE_MASK_USER  0x2ffull   /* FP SSE YMM BNDREGS BNDCSR OPMASK ZMM_Hi256 Hi16_ZMM PKRU */
/*
 * compel defines XFEATURE_MASK_SUPERVISOR as (XFEATURE_MASK_PT |
 * XFEATURE_HDC): the HDC *index* (10), not its mask, so the value is
 * 0x100 | 0xa = 0x10a and `&= ~SUPERVISOR` also clears SSE (bit 1) and
 * BNDREGS (bit 3).  Reproduced on purpose: it is what CRIU compares.
 */
#define XFEATURE_MASK_SUPERVISOR (0x100ull | 10ull)

static int compel_fpuid(const mg_cpuid_dump *d, mg_compel_cpuinfo *c,
			const char *name, mg_error *err)
{
	/* xsave_cpuid_features[]: XSAVE component i is dropped when the CPU
	 * lacks the feature that owns it. */
	static const unsigned owner[] = {
		F_FPU, F_XMM, F_AVX, F_MPX, F_MPX, F_AVX512F, F_AVX512F,
		F_AVX512F, F_INTEL_PT, F_PKU, F_HDC,
	};

	if (!test_cap(c, F_FPU))
		return mg_fail(err, MG_ERR_PROFILE, "%s: no FPU: CRIU refuses to run", name);
	if (!test_cap(c, F_XSAVE))
		return 0;   /* FXSAVE only: mask and sizes stay 0 */

	mg_cpuid_leaf l = raw(d, 0xd, 0);
	c->xfeatures_mask = l.eax + ((uint64_t)l.edx << 32);
	if ((c->xfeatures_mask & XFEATURE_MASK_FPSSE) != XFEATURE_MASK_FPSSE)
		return mg_fail(err, MG_ERR_PROFILE,
			       "%s: FP/SSE not among the CPU's xstate features (0x%" PRIx64
			       "): CRIU refuses to run", name, c->xfeatures_mask);
	for (unsigned i = 0; i < sizeof(owner) / sizeof(owner[0]); i++)
		if (!test_cap(c, owner[i]))
			c->xfeatures_mask &= ~(1ull << i);
	c->xfeatures_mask &= XFEATURE_MASK_USER;
	c->xfeatures_mask &= ~XFEATURE_MASK_SUPERVISOR;
	c->xsave_size = l.ebx;
	c->xsave_size_max = l.ecx;
	return 0;
}

static void fill_words(const mg_cpuid_dump *d, mg_compel_cpuinfo *c,
		       uint32_t level, uint32_t ext)
{
	mg_cpuid_leaf l;

	if (level >= 0x1) {
		l = raw(d, 0x1, 0);
		c->cap[W_1_EDX] = l.edx;
		c->cap[W_1_ECX] = l.ecx;
	}
	if (level >= 0x6)
		c->cap[W_6_EAX] = raw(d, 0x6, 0).eax;
	if (level >= 0x7) {
		l = raw(d, 0x7, 0);
		c->cap[W_7_0_EBX] = l.ebx;
		c->cap[W_7_0_ECX] = l.ecx;
		c->cap[W_7_0_EDX] = l.edx;
	}
	if (level >= 0xd)
		c->cap[W_D_1_EAX] = raw(d, 0xd, 1).eax;
	if (level >= 0xf) {
		c->cap[W_F_0_EDX] = raw(d, 0xf, 0).edx;
		if (test_cap(c, F_CQM_LLC))
			c->cap[W_F_1_EDX] = raw(d, 0xf, 1).edx;
	}
	if ((ext & 0xffff0000u) == 0x80000000u && ext >= 0x80000001u) {
		l = raw(d, 0x80000001, 0);
		c->cap[W_8000_0001_ECX] = l.ecx;
		c->cap[W_8000_0001_EDX] = l.edx;
	}
	/* compel tests these against the raw maximum, without the
	 * 0x8000xxxx sanity check it applies to 0x80000001. */
	if (ext >= 0x80000007u)
		c->cap[W_8000_0007_EBX] = raw(d, 0x80000007, 0).ebx;
	if (ext >= 0x8000000au)
		c->cap[W_8000_000A_EDX] = raw(d, 0x8000000a, 0).edx;
	if (ext >= 0x80000008u)
		c->cap[W_8000_0008_EBX] = raw(d, 0x80000008, 0).ebx;
}

int mg_compel_cpuinfo_from_profile(const mg_profile *p, mg_compel_cpuinfo *c,
				 mg_error *err)
{
	const char *name = p->name ? p->name : "profile";
	const mg_cpuid_dump *d = &p->cpuid;
	char vendor[13];

	memset(c, 0, sizeof(*c));
	if (!p->has_cpuid || d->count == 0)
		return mg_fail(err, MG_ERR_USAGE, "%s: no raw CPUID in this profile", name);

	mg_cpuid_leaf l0 = raw(d, 0, 0);
	memcpy(vendor, &l0.ebx, 4);
	memcpy(vendor + 4, &l0.edx, 4);
	memcpy(vendor + 8, &l0.ecx, 4);
	vendor[12] = '\0';
	if (strcmp(vendor, "GenuineIntel") == 0)
		c->intel = true;
	else if (strcmp(vendor, "AuthenticAMD") != 0 && strcmp(vendor, "HygonGenuine") != 0)
		/* p->vendor is the same string with unprintable bytes replaced:
		 * the raw one comes from an untrusted file. */
		return mg_fail(err, MG_ERR_PROFILE,
			       "%s: CPU vendor \"%s\" is not supported by CRIU", name,
			       p->vendor ? p->vendor : "?");

	/* compel keeps cpuid_level in an int and compares signed. */
	int32_t level = (int32_t)l0.eax;
	uint32_t ext = raw(d, 0x80000000, 0).eax;

	/* x86_family etc. are uint8_t in compel_cpuinfo_t. */
	uint8_t family = 4, model = 0, stepping = 0;
	uint32_t eax1 = 0;
	if (level >= 1) {
		eax1 = raw(d, 0x1, 0).eax;
		family = (eax1 >> 8) & 0xf;
		model = (eax1 >> 4) & 0xf;
		stepping = eax1 & 0xf;
		if (family == 0xf)
			family = (uint8_t)(family + ((eax1 >> 20) & 0xff));
		if (family >= 0x6)
			model = (uint8_t)(model + (((eax1 >> 16) & 0xf) << 4));
	}
	c->family = family;
	c->model = model;
	c->stepping = stepping;

	fill_words(d, c, level < 0 ? 0 : (uint32_t)level, ext);

	set_cap(c, F_CPUID);
	set_cap(c, F_NOPL);
	if (level < 0xd)
		clear_cap(c, F_XSAVE);   /* filter_cpuid_features() */

	if (c->intel) {
		if (family == 15) {
			clear_cap(c, F_REP_GOOD);
			clear_cap(c, F_ERMS);
		} else if (family == 6) {
			set_cap(c, F_REP_GOOD);
		}
	} else {
		clear_cap(c, 0 * 32 + 31);   /* nonstandard 3DNow bit */
		if (family >= 0x10)
			set_cap(c, F_REP_GOOD);
		if (family == 0xf &&
		    ((eax1 >= 0x0f48 && eax1 < 0x0f50) || eax1 >= 0x0f58))
			set_cap(c, F_REP_GOOD);
	}
	return compel_fpuid(d, c, name, err);
}

/* --- img_to_cpuinfo(): the words of a cpuinfo.img ------------------------------ */

/* NCAPINTS_V1 / NCAPINTS_V2 of criu/arch/x86/include/asm/cpu.h. */
#define NCAPINTS_V1 12
#define NCAPINTS_V2 19

int mg_compel_cpuinfo_from_image(const mg_profile *p, const mg_compel_cpuinfo *rt,
				 mg_compel_cpuinfo *c, mg_error *err)
{
	const char *name = p->origin ? p->origin : (p->name ? p->name : "cpuinfo.img");
	size_t want;

	memset(c, 0, sizeof(*c));
	if (!p->criu_cpuinfo)
		return mg_fail(err, MG_ERR_USAGE, "%s: not read from a CRIU cpuinfo.img", name);
	/* img_to_cpuinfo() refuses these, so CRIU restores nothing. */
	if (p->vendor == NULL || (strcmp(p->vendor, "GenuineIntel") != 0 &&
				  strcmp(p->vendor, "AuthenticAMD") != 0))
		return mg_fail(err, MG_ERR_PROFILE, "%s: the image carries an unknown CPU vendor: "
			       "CRIU refuses it", name);
	if (p->criu_caps_ver == 1)
		want = NCAPINTS_V1;
	else if (p->criu_caps_ver == 2)
		want = NCAPINTS_V2;
	else
		return mg_fail(err, MG_ERR_PROFILE, "%s: unknown capability version %u: CRIU refuses it",
			       name, p->criu_caps_ver);
	if (p->ncriu_caps != want)
		return mg_fail(err, MG_ERR_PROFILE, "%s: %zu capability words, version %u has %zu: "
			       "CRIU refuses it", name, p->ncriu_caps, p->criu_caps_ver, want);

	/* What an old image lacks, CRIU takes from the CPU it restores on, so
	 * those parts always match there: without that CPU we cannot tell. */
	bool partial = want < NCAPINTS_V2 || !p->criu_has_xfeatures ||
		       !p->criu_has_xsave_size || !p->criu_has_xsave_size_max;
	if (partial && rt == NULL)
		return mg_fail(err, MG_ERR_USAGE, "%s: an old image (capability version %u%s) "
			       "is completed from the destination CPU", name, p->criu_caps_ver,
			       p->criu_has_xsave_size_max ? "" : ", no XSAVE sizes");
	memcpy(c->cap, p->criu_caps, want * sizeof(c->cap[0]));
	if (want < NCAPINTS_V2)
		memcpy(&c->cap[want], &rt->cap[want], (NCAPINTS_V2 - want) * sizeof(c->cap[0]));
	c->intel = strcmp(p->vendor, "GenuineIntel") == 0;
	c->family = (unsigned)p->family;
	c->model = (unsigned)p->model;
	c->stepping = (unsigned)p->stepping;
	c->xfeatures_mask = p->criu_has_xfeatures ? p->criu_xfeatures_mask : rt->xfeatures_mask;
	c->xsave_size = p->criu_has_xsave_size ? p->xsave_size : rt->xsave_size;
	c->xsave_size_max = p->criu_has_xsave_size_max ? p->xsave_size_max : rt->xsave_size_max;
	return 0;
}

/* --- cpu_validate_features() ------------------------------------------------------ */

static const char *lnx1_name(unsigned bit)
{
	switch (bit) {
	case 16: return "rep_good";
	case 20: return "nopl";
	case 25: return "cpuid";
	default: return NULL;
	}
}

/* Record the bits of word w the source has and the target lacks. */
static void note_lost_bits(unsigned w, uint32_t lost, const char *rule, mg_verdict *v)
{
	uint32_t leaf, sub;
	mg_cpuid_reg reg;
	bool located = mg_criu_cap_word_location(w, &leaf, &sub, &reg);

	for (unsigned b = 0; b < 32; b++) {
		if (!(lost & BIT(b)))
			continue;
		mg_feature_id id = located ? mg_feature_by_location(leaf, sub, reg, b)
					   : MG_FEATURE_NONE;
		if (id >= 0) {
			mg_fset_add(&v->missing, id);
			continue;
		}
		const char *n = w == W_LNX_1 ? lnx1_name(b) : NULL;
		if (n)
			mg_verdict_add_reason(v, "%s: source has %s, target lacks it", rule, n);
		else
			mg_verdict_add_reason(v, "%s: capability word %u bit %u lost", rule, w, b);
	}
}

static void check_fpu(const mg_compel_cpuinfo *s, const mg_compel_cpuinfo *d, mg_verdict *v)
{
	static const struct { unsigned f; const char *name; } bits[] = {
		{ F_FPU, "fpu" }, { F_FXSR, "fxsr" }, { F_OSXSAVE, "osxsave" },
		{ F_XSAVES, "xsaves" },
	};
	bool fail = false;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (test_cap(s, bits[i].f) && !test_cap(d, bits[i].f)) {
			note_lost_bits(bits[i].f / 32, BIT(bits[i].f % 32), "fpu", v);
			mg_verdict_add_reason(v, "fpu: %s required by the image is missing",
					      bits[i].name);
			fail = true;
		}
	}
	uint64_t m = s->xfeatures_mask & ~d->xfeatures_mask;
	if (m) {
		mg_verdict_add_reason(v, "fpu: xfeatures 0x%" PRIx64 " of the source are missing"
				      " (source 0x%" PRIx64 ", target 0x%" PRIx64 ")",
				      m, s->xfeatures_mask, d->xfeatures_mask);
		fail = true;
	}
	if (s->xsave_size != d->xsave_size) {
		mg_verdict_add_reason(v, "fpu: xsave_size differs (source %u, target %u)",
				      s->xsave_size, d->xsave_size);
		fail = true;
	}
	if (s->xsave_size_max != d->xsave_size_max) {
		mg_verdict_add_reason(v, "fpu: xsave_size_max differs (source %u, target %u)",
				      s->xsave_size_max, d->xsave_size_max);
		fail = true;
	}
	if (fail)
		v->kind = MG_VERDICT_INCOMPATIBLE;
}

static void check_ins(const mg_compel_cpuinfo *s, const mg_compel_cpuinfo *d, mg_verdict *v)
{
	for (unsigned w = 0; w < MG_CRIU_NCAPINTS; w++) {
		uint32_t sm = s->cap[w] & ins_mask[w];
		uint32_t dm = d->cap[w] & ins_mask[w];
		if (sm & ~dm) {
			note_lost_bits(w, sm & ~dm, "ins", v);
			v->kind = MG_VERDICT_INCOMPATIBLE;
		}
	}
}

static void check_cpu(const mg_compel_cpuinfo *s, const mg_compel_cpuinfo *d, mg_verdict *v)
{
	for (unsigned w = 0; w < MG_CRIU_NCAPINTS; w++) {
		if (s->cap[w] == d->cap[w])
			continue;
		mg_verdict_add_reason(v, "cpu: capability word %u differs (source 0x%08x, target 0x%08x)",
				      w, s->cap[w], d->cap[w]);
		note_lost_bits(w, s->cap[w] & ~d->cap[w], "cpu", v);
		v->kind = MG_VERDICT_INCOMPATIBLE;
	}
}

void mg_criu_validate(const mg_compel_cpuinfo *src, const mg_compel_cpuinfo *dst,
		      unsigned caps, mg_verdict *v)
{
	mg_verdict_init(v);
	/* CRIU stops at the first failed rule; we run them all so the user
	 * sees every reason, which gives the same verdict. */
	if (caps & MG_CRIU_CAP_FPU)
		check_fpu(src, dst, v);
	if (caps & MG_CRIU_CAP_INS)
		check_ins(src, dst, v);
	if (caps & MG_CRIU_CAP_CPU)
		check_cpu(src, dst, v);
}

/*
 * The CPU CRIU restores on: compel_cpuid() over its raw CPUID, or the
 * words a `criu cpuinfo dump` there wrote (the very same, when complete).
 */
static int runtime_cpuinfo(const mg_profile *p, mg_compel_cpuinfo *c, mg_error *err)
{
	if (p->criu_cpuinfo)
		return mg_compel_cpuinfo_from_image(p, NULL, c, err);
	return mg_compel_cpuinfo_from_profile(p, c, err);
}

void mg_verdict_criu(const mg_profile *source, const mg_profile *target,
		     unsigned caps, mg_verdict *v)
{
	mg_compel_cpuinfo s, d;
	mg_error err = { 0 };

	mg_verdict_init(v);
	if (runtime_cpuinfo(target, &d, &err) != 0) {
		/* No CPUID: we cannot tell.  CPUID CRIU rejects: CRIU cannot
		 * restore there at all. */
		v->kind = err.code == MG_ERR_PROFILE ? MG_VERDICT_INCOMPATIBLE
						     : MG_VERDICT_UNKNOWN;
		mg_verdict_add_reason(v, "%s", err.msg);
		return;
	}
	if (caps == 0)
		return;     /* --cpu-cap=none: restore reads no cpuinfo.img at all */
	int rc = source->criu_cpuinfo ? mg_compel_cpuinfo_from_image(source, &d, &s, &err)
				      : mg_compel_cpuinfo_from_profile(source, &s, &err);
	if (rc != 0) {
		/* An image CRIU refuses restores nowhere; a source without
		 * CPUID decides nothing. */
		v->kind = source->criu_cpuinfo && err.code == MG_ERR_PROFILE
			  ? MG_VERDICT_INCOMPATIBLE : MG_VERDICT_UNKNOWN;
		mg_verdict_add_reason(v, "source: %s", err.msg);
		return;
	}
	mg_criu_validate(&s, &d, caps, v);
}

/*
 * As CRIU's parse_cpu_cap() (criu/config.c): each name adds its rules to
 * what is already set, which starts as the default fpu,ins, so
 * `--cpu-cap=cpu` means fpu,ins,cpu; '^' before a name removes it (until
 * the next ','), "none" clears everything ("^none": everything).  Names
 * are matched by their first letters as CRIU does, so "fpuins" is fpu,ins.
 */
int mg_criu_parse_caps(const char *s, unsigned *caps, mg_error *err)
{
	static const struct { const char *name; unsigned bits; } names[] = {
		{ "fpu", MG_CRIU_CAP_FPU }, { "all", MG_CRIU_CAP_ALL },
		{ "cpu", MG_CRIU_CAP_CPU }, { "ins", MG_CRIU_CAP_INS },
	};
	unsigned c = *caps;
	bool inverse = false;

	for (const char *p = s; *p;) {
		if (*p == '^' || *p == ',') {
			inverse = *p == '^' ? !inverse : false;
			p++;
			continue;
		}
		if (strncmp(p, "none", 4) == 0) {
			c = inverse ? MG_CRIU_CAP_ALL : 0;
			p += 4;
			continue;
		}
		size_t i = 0;
		while (i < sizeof(names) / sizeof(names[0]) && strncmp(p, names[i].name, 3) != 0)
			i++;
		if (i == sizeof(names) / sizeof(names[0]))
			return mg_fail(err, MG_ERR_USAGE,
				       "--cpu-cap: unknown capability at \"%.20s\" (expected fpu, ins, "
				       "cpu, all or none, as in CRIU)", p);
		c = inverse ? c & ~names[i].bits : c | names[i].bits;
		p += 3;
	}
	*caps = c;
	return 0;
}
