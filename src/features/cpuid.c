/*
 * cpuid.c - a recorded CPUID (see profile.h).
 *
 * The one subtle rule lives in mg_cpuid_dump_find: a leaf above its
 * range's maximum does not exist.  Intel CPUs answer such a query with the
 * data of the highest basic leaf instead of zeros, so a collector that
 * blindly asks for leaf 0x1E on an Ivy Bridge (max basic leaf 0xD) records
 * garbage that looks like AMX.  We never trust such a leaf, even when a
 * dump contains it.
 */
#include "features/profile.h"

#include <stdlib.h>
#include <string.h>

/* No dump we write or accept has more leaves than this (see profile.c). */
#define MG_CPUID_DUMP_MAX_LEAVES 4096

int mg_cpuid_dump_add(mg_cpuid_dump *d, uint32_t leaf, uint32_t subleaf,
		      uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx,
		      mg_error *err)
{
	if (d->count >= MG_CPUID_DUMP_MAX_LEAVES)
		return mg_fail(err, MG_ERR_PROFILE,
			       "CPUID dump has more than %d leaves",
			       MG_CPUID_DUMP_MAX_LEAVES);
	if (d->count == d->capacity) {
		size_t cap = d->capacity ? d->capacity * 2 : 64;
		mg_cpuid_leaf *n = realloc(d->leaves, cap * sizeof(*n));
		if (n == NULL)
			return mg_fail(err, MG_ERR_INTERNAL,
				       "out of memory recording CPUID");
		d->leaves = n;
		d->capacity = cap;
	}
	d->leaves[d->count++] = (mg_cpuid_leaf){
		.leaf = leaf, .subleaf = subleaf,
		.eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
	};
	return 0;
}

const mg_cpuid_leaf *mg_cpuid_dump_find_raw(const mg_cpuid_dump *d,
					    uint32_t leaf, uint32_t subleaf)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->leaves[i].leaf == leaf && d->leaves[i].subleaf == subleaf)
			return &d->leaves[i];
	return NULL;
}

/*
 * Highest valid leaf of the range `base` belongs to, or 0 with *ok false
 * when the range's maximum is unrecorded or not plausible.  A plausible
 * maximum lies inside [base, base + 0xFF]: no vendor defines more, and a
 * value outside means the range does not exist (an Intel CPU returns basic
 * leaf data for 0xC0000000, for instance).
 */
static uint32_t range_max(const mg_cpuid_dump *d, uint32_t base, bool *ok)
{
	const mg_cpuid_leaf *top = mg_cpuid_dump_find_raw(d, base, 0);

	*ok = false;
	if (top == NULL)
		return 0;
	if (top->eax < base || top->eax - base > 0xFF)
		return 0;
	*ok = true;
	return top->eax;
}

uint32_t mg_cpuid_dump_max_leaf(const mg_cpuid_dump *d, uint32_t base)
{
	bool ok;
	uint32_t max = range_max(d, base, &ok);
	return ok ? max : 0;
}

bool mg_cpuid_leaf_counts_subleaves(uint32_t leaf)
{
	switch (leaf) {
	case 0x7: case 0x14: case 0x17: case 0x18: case 0x1D: case 0x24:
		return true;
	default:
		return false;
	}
}

const mg_cpuid_leaf *mg_cpuid_dump_find(const mg_cpuid_dump *d, uint32_t leaf,
					uint32_t subleaf)
{
	/* Ranges are 0x0..., 0x40000000 (hypervisor), 0x80000000 (extended),
	 * 0xC0000000 (Centaur/Zhaoxin); each starts with its maximum. */
	uint32_t base = leaf & 0xF0000000u;
	bool ok;
	uint32_t max;

	if (d == NULL)
		return NULL;
	max = range_max(d, base, &ok);
	if (!ok || leaf > max)
		return NULL;
	/* Likewise a subleaf above the one subleaf 0 declares the highest
	 * (leaf 7 subleaf 1 on a CPU whose 7.0:EAX is 0) does not exist. */
	if (subleaf > 0 && mg_cpuid_leaf_counts_subleaves(leaf)) {
		const mg_cpuid_leaf *s0 = mg_cpuid_dump_find_raw(d, leaf, 0);
		if (s0 == NULL || subleaf > s0->eax)
			return NULL;
	}
	return mg_cpuid_dump_find_raw(d, leaf, subleaf);
}

void mg_cpuid_dump_free(mg_cpuid_dump *d)
{
	free(d->leaves);
	d->leaves = NULL;
	d->count = 0;
	d->capacity = 0;
}
