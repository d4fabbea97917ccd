/*
 * derive.c - from recorded CPUID (+ XCR0) to usable features and identity.
 *
 * A CPUID bit says the CPU implements an instruction set; it is usable only
 * if the OS also enabled the register state it needs in XCR0 (AVX needs
 * SSE+YMM state, AVX-512 opmask+ZMM state, AMX tile state).  A kernel may
 * clear such state (e.g. "noxsave", or a hypervisor masking AVX-512 state),
 * and then the instructions fault even though CPUID advertises them.
 */
#include "features/profile.h"

#include <stdlib.h>
#include <string.h>

static uint32_t reg_value(const mg_cpuid_leaf *l, mg_cpuid_reg reg)
{
	switch (reg) {
	case MG_EAX: return l->eax;
	case MG_EBX: return l->ebx;
	case MG_ECX: return l->ecx;
	case MG_EDX: return l->edx;
	}
	return 0;
}

static bool cpuid_bit(const mg_cpuid_dump *d, uint32_t leaf, uint32_t subleaf,
		      mg_cpuid_reg reg, unsigned bit)
{
	const mg_cpuid_leaf *l = mg_cpuid_dump_find(d, leaf, subleaf);
	return l != NULL && bit < 32 && (reg_value(l, reg) >> bit) & 1;
}

/*
 * The state the OS lets processes use.  Without OSXSAVE there is no XCR0,
 * only the legacy x87/SSE state FXSAVE manages; when XCR0 was not recorded
 * we assume no more than that (mg_derive_undecidable reports the difference
 * as unknown).
 */
static uint64_t effective_xcr0(const mg_cpuid_dump *d, bool has_xcr0,
			       uint64_t xcr0)
{
	bool osxsave = cpuid_bit(d, 1, 0, MG_ECX, 27);

	if (osxsave && has_xcr0)
		return xcr0 | MG_XCR0_X87;   /* bit 0 is always 1 in real XCR0 */
	return MG_XCR0_X87 | MG_XCR0_SSE;
}

void mg_derive_features(const mg_cpuid_dump *d, bool has_xcr0, uint64_t xcr0,
			mg_feature_set *out)
{
	uint64_t state = effective_xcr0(d, has_xcr0, xcr0);
	size_t n = mg_feature_count();

	mg_fset_clear(out);
	for (size_t id = 0; id < n; id++) {
		const mg_feature_info *f = mg_feature_get((mg_feature_id)id);
		if (f == NULL)
			continue;
		/* Looked up only through mg_cpuid_dump_find, which refuses
		 * leaves above the maximum: their content is whatever the CPU
		 * returns for out-of-range queries. */
		const mg_cpuid_leaf *l = mg_cpuid_dump_find(d, f->leaf, f->subleaf);
		if (l == NULL || !mg_feature_in_reg(f, reg_value(l, f->reg)))
			continue;
		if ((f->xcr0_needed & state) != f->xcr0_needed)
			continue;
		mg_fset_add(out, (mg_feature_id)id);
	}
}

/* Copy 16 bytes of brand string from one leaf, registers in EAX..EDX order. */
static void brand_part(char *dst, const mg_cpuid_leaf *l)
{
	uint32_t r[4] = { l->eax, l->ebx, l->ecx, l->edx };
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 4; b++)
			dst[i * 4 + b] = (char)((r[i] >> (8 * b)) & 0xFF);
}

/* Brand string from 0x80000002..4, trimmed; NULL if absent or empty. */
static char *brand_string(const mg_cpuid_dump *d, bool *oom)
{
	char buf[49];
	size_t start = 0, end;

	*oom = false;
	for (uint32_t i = 0; i < 3; i++) {
		const mg_cpuid_leaf *l = mg_cpuid_dump_find(d, 0x80000002u + i, 0);
		if (l == NULL)
			return NULL;
		brand_part(buf + i * 16, l);
	}
	buf[48] = '\0';
	end = strlen(buf);
	/* Keep printable ASCII only, so a strange dump cannot smuggle control
	 * characters into terminal output or JSON. */
	for (size_t i = 0; i < end; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = ' ';
	while (start < end && buf[start] == ' ')
		start++;
	while (end > start && buf[end - 1] == ' ')
		end--;
	if (end == start)
		return NULL;
	buf[end] = '\0';
	char *s = strdup(buf + start);
	*oom = s == NULL;
	return s;
}

static char *vendor_string(const mg_cpuid_leaf *l0, bool *oom)
{
	char v[13];
	uint32_t r[3] = { l0->ebx, l0->edx, l0->ecx };

	for (int i = 0; i < 3; i++)
		for (int b = 0; b < 4; b++) {
			char c = (char)((r[i] >> (8 * b)) & 0xFF);
			v[i * 4 + b] = (c >= 0x20 && c <= 0x7e) ? c : '?';
		}
	v[12] = '\0';
	char *s = strdup(v);
	*oom = s == NULL;
	return s;
}

int mg_profile_fill_identity(mg_profile *p, mg_error *err)
{
	const mg_cpuid_dump *d = &p->cpuid;
	const mg_cpuid_leaf *l0 = mg_cpuid_dump_find_raw(d, 0, 0);
	const mg_cpuid_leaf *l1 = mg_cpuid_dump_find(d, 1, 0);
	const mg_cpuid_leaf *xs = mg_cpuid_dump_find(d, 0xD, 0);
	bool oom = false;

	if (l0 != NULL) {
		char *v = vendor_string(l0, &oom);
		if (oom)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		free(p->vendor);
		p->vendor = v;
	}
	if (l1 != NULL) {
		int base_family = (l1->eax >> 8) & 0xF;
		int base_model = (l1->eax >> 4) & 0xF;
		int ext_family = (l1->eax >> 20) & 0xFF;
		int ext_model = (l1->eax >> 16) & 0xF;

		p->family = base_family == 0xF ? base_family + ext_family : base_family;
		p->model = (base_family == 0x6 || base_family == 0xF)
				   ? (ext_model << 4) + base_model
				   : base_model;
		p->stepping = l1->eax & 0xF;
	}
	char *brand = brand_string(d, &oom);
	if (oom)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (brand != NULL) {
		free(p->brand);
		p->brand = brand;
	}
	if (xs != NULL)
		p->xsave_size = xs->ebx;
	return 0;
}

/* Which feature each kernel gate governs. */
static const struct {
	uint32_t gate;
	const char *name;       /* profile JSON key */
	const char *feature;
} os_gates[] = {
	{ MG_OS_USER_SHSTK, "user_shstk",  "shstk" },
	{ MG_OS_FSGSBASE,   "fsgsbase",    "fsgsbase" },
	{ MG_OS_RING3MWAIT, "ring3_mwait", "monitor" },
};

const char *mg_os_gate_name(uint32_t gate)
{
	for (size_t i = 0; i < sizeof(os_gates) / sizeof(os_gates[0]); i++)
		if (os_gates[i].gate == gate)
			return os_gates[i].name;
	return NULL;
}

void mg_os_gated_features(mg_feature_set *out)
{
	mg_fset_clear(out);
	for (size_t i = 0; i < sizeof(os_gates) / sizeof(os_gates[0]); i++)
		mg_fset_add(out, mg_feature_by_name(os_gates[i].feature));
}

void mg_derive_os_gates(uint32_t known, uint32_t enabled, mg_feature_set *features,
			mg_feature_set *unknown)
{
	for (size_t i = 0; i < sizeof(os_gates) / sizeof(os_gates[0]); i++) {
		mg_feature_id f = mg_feature_by_name(os_gates[i].feature);
		if (!mg_fset_has(features, f))
			continue;
		if (known & enabled & os_gates[i].gate)
			continue;
		mg_fset_remove(features, f);
		if (!(known & os_gates[i].gate))
			mg_fset_add(unknown, f);
	}
}

void mg_derive_undecidable(const mg_cpuid_dump *d, bool has_xcr0,
			   const mg_feature_set *features, mg_feature_set *unknown)
{
	mg_feature_set any_state;

	if (has_xcr0)
		return;
	mg_derive_features(d, true, ~0ull, &any_state);
	mg_fset_subtract(&any_state, features);
	mg_fset_union(unknown, &any_state);
}
