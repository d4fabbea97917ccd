/*
 * criu_profile.c - a CPU profile from a CRIU cpuinfo.img.
 *
 * compel records 19 capability words, most of them raw CPUID registers
 * (criu_cpuinfo.c has the layout).  We rebuild those CPUID leaves and let
 * the common derivation decide the features; any feature whose CPUID word
 * compel does not record goes to `unknown` (never silently absent).
 */
#include "process/criu_image.h"

#include <stdlib.h>
#include <string.h>

static int add_word(mg_cpuid_dump *d, uint32_t leaf, uint32_t sub, mg_cpuid_reg reg,
		    uint32_t value, mg_error *err)
{
	uint32_t r[4] = { 0, 0, 0, 0 };
	for (size_t i = 0; i < d->count; i++) {
		mg_cpuid_leaf *l = &d->leaves[i];
		if (l->leaf != leaf || l->subleaf != sub)
			continue;
		/* Several words share a leaf: update the recorded leaf in place. */
		uint32_t *regs[4] = { &l->eax, &l->ebx, &l->ecx, &l->edx };
		*regs[reg] = value;
		return 0;
	}
	r[reg] = value;
	return mg_cpuid_dump_add(d, leaf, sub, r[0], r[1], r[2], r[3], err);
}

static bool word_recorded(const mg_criu_cpuinfo *ci, uint32_t leaf, uint32_t sub,
			  mg_cpuid_reg reg)
{
	for (unsigned w = 0; w < ci->ncaps; w++) {
		uint32_t l, s;
		mg_cpuid_reg r;
		if (mg_criu_cap_word_location(w, &l, &s, &r) && l == leaf && s == sub && r == reg)
			return true;
	}
	return false;
}

/* Turn a parsed cpuinfo.img into a profile; frees ci. */
static int load_parsed(mg_criu_cpuinfo *ci_in, const char *path, mg_profile *out,
		       mg_error *err);

int mg_criu_cpuinfo_load(const char *path, mg_profile *out, mg_error *err)
{
	mg_profile_init(out);
	mg_criu_cpuinfo ci;
	if (mg_criu_cpuinfo_read(path, &ci, err) < 0)
		return -1;
	return load_parsed(&ci, path, out, err);
}

int mg_criu_cpuinfo_load_mem(const char *origin, const uint8_t *data, size_t len,
			     mg_profile *out, mg_error *err)
{
	mg_profile_init(out);
	mg_criu_cpuinfo ci;
	if (mg_criu_cpuinfo_parse(origin, data, len, &ci, err) < 0)
		return -1;
	return load_parsed(&ci, origin, out, err);
}

static int load_parsed(mg_criu_cpuinfo *ci_in, const char *path, mg_profile *out,
		       mg_error *err)
{
	mg_criu_cpuinfo ci = *ci_in;
	static const char *vendors[] = { NULL, "GenuineIntel", "AuthenticAMD" };
	mg_cpuid_dump d = { 0 };
	int rc = -1;
	out->name = strdup("criu-cpuinfo");
	out->origin = strdup(path);
	if (out->name == NULL || out->origin == NULL ||
	    (vendors[ci.vendor] && (out->vendor = strdup(vendors[ci.vendor])) == NULL) ||
	    (ci.model_id && (out->brand = strdup(ci.model_id)) == NULL)) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	out->family = (int)ci.family;
	out->model = (int)ci.model;
	out->stepping = (int)ci.stepping;
	out->has_xcr0 = ci.has_xfeatures;
	/* compel's xfeatures_mask may omit SSE (bit 1) although any XCR0
	 * with AVX (bit 2) must have it, and x86-64 Linux always enables
	 * x87 and SSE: add both, which only states what must be true. */
	out->xcr0 = ci.xfeatures_mask | 3;
	out->xsave_size = ci.xsave_size;
	out->xsave_size_max = ci.xsave_size_max;
	memcpy(out->criu_caps, ci.caps, ci.ncaps * sizeof(uint32_t));
	out->ncriu_caps = ci.ncaps;
	out->criu_cpuinfo = true;
	out->criu_caps_ver = ci.capability_ver;
	out->criu_has_xfeatures = ci.has_xfeatures;
	out->criu_xfeatures_mask = ci.xfeatures_mask;
	out->criu_has_xsave_size = ci.has_xsave_size;
	out->criu_has_xsave_size_max = ci.has_xsave_size_max;

	/* Maximum leaves first, so the derivation's range rule accepts the
	 * leaves we rebuild (leaf 7 declares no subleaf above 0: 7.1 and
	 * beyond are marked unknown below). */
	if (mg_cpuid_dump_add(&d, 0, 0, 0xF, 0, 0, 0, err) < 0 ||
	    mg_cpuid_dump_add(&d, 0x80000000, 0, 0x8000000A, 0, 0, 0, err) < 0)
		goto out;
	for (unsigned w = 0; w < ci.ncaps; w++) {
		uint32_t leaf, sub;
		mg_cpuid_reg reg;
		if (mg_criu_cap_word_location(w, &leaf, &sub, &reg) &&
		    add_word(&d, leaf, sub, reg, ci.caps[w], err) < 0)
			goto out;
	}
	mg_derive_features(&d, out->has_xcr0, out->xcr0, &out->features);
	/* compel without xfeatures_mask (older CRIU): what needs XSAVE
	 * state is unknown, not absent. */
	mg_derive_undecidable(&d, out->has_xcr0, &out->features, &out->unknown);
	/* A cpuinfo.img says nothing of the kernel that will restore. */
	mg_derive_os_gates(0, 0, &out->features, &out->unknown);
	for (size_t id = 0; id < mg_feature_count(); id++) {
		const mg_feature_info *f = mg_feature_get((mg_feature_id)id);
		/* Centaur/Zhaoxin leaves (0xC0000000..) exist only on those
		 * vendors' CPUs: on an Intel or AMD source they are absent. */
		bool centaur_leaf = f != NULL && f->leaf >= 0xC0000000u;
		if (centaur_leaf && vendors[ci.vendor] != NULL)
			continue;
		if (f != NULL && !word_recorded(&ci, f->leaf, f->subleaf, f->reg)) {
			mg_fset_remove(&out->features, (mg_feature_id)id);
			mg_fset_add(&out->unknown, (mg_feature_id)id);
		}
	}
	rc = 0;
out:
	mg_cpuid_dump_free(&d);
	mg_criu_cpuinfo_free(&ci);
	if (rc < 0)
		mg_profile_free(out);
	return rc;
}
