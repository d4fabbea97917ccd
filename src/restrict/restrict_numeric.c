/*
 * restrict_numeric.c - numpy's dispatch targets and OpenBLAS's kernels.
 *
 * numpy 1.24 tests its dispatch targets (numpy/core/src/common/
 * npy_cpu_features.c) once, at import, and fills its ufunc loop tables
 * with the best variant; NPY_DISABLE_CPU_FEATURES="NAME ..." turns
 * targets off.  A target is a group with implications (AVX512_SKX needs
 * AVX512F, CD, VL, BW, DQ and AVX2, FMA3, ...), and disabling a member
 * does not disable the group (checked: -AVX512F leaves AVX512_SKX on), so
 * every target whose features are not all allowed is named.  Naming a
 * target this numpy does not dispatch, or one this CPU lacks, prints a
 * warning at import: only targets of Debian's build that this CPU has
 * are named.  The baseline (SSE SSE2 SSE3) cannot be disabled.
 *
 * OpenBLAS 0.3.21 built with DYNAMIC_ARCH (Debian) picks one kernel set
 * per process from CPUID (driver/others/dynamic.c); OPENBLAS_CORETYPE
 * forces one.  The most capable core type whose instruction set lies
 * within the allowed features is chosen (SapphireRapids is not in
 * Debian's 0.3.21 build).
 */
#include "restrict/restrict.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NUMPY_WHAT "numpy 1.24: its dispatch targets (ufunc loops)"
#define OPENBLAS_WHAT "OpenBLAS 0.3.21 (DYNAMIC_ARCH): its kernel set"

/* Every feature of a list (comma-separated) is in s. */
static bool all_in(const mg_feature_set *s, const char *list)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (!mg_fset_has(s, mg_feature_by_name(f)))
			return false;
	return true;
}

/* numpy 1.24's dispatch targets on x86-64 (Debian's build: the list of
 * numpy.core._multiarray_umath.__cpu_dispatch__), each with every
 * feature it implies (numpy/distutils/ccompiler_opt.py). */
#define NPY_AVX "pni,ssse3,sse4_1,popcnt,sse4_2,avx"
#define NPY_AVX512F NPY_AVX ",f16c,fma,avx2,avx512f"
#define NPY_SKX NPY_AVX512F ",avx512cd,avx512vl,avx512bw,avx512dq"
static const char *const numpy_targets[][2] = {
	{ "SSSE3", "pni,ssse3" },
	{ "SSE41", "pni,ssse3,sse4_1" },
	{ "POPCNT", "pni,ssse3,sse4_1,popcnt" },
	{ "SSE42", "pni,ssse3,sse4_1,popcnt,sse4_2" },
	{ "AVX", NPY_AVX },
	{ "F16C", NPY_AVX ",f16c" },
	{ "FMA3", NPY_AVX ",f16c,fma" },
	{ "AVX2", NPY_AVX ",f16c,avx2" },
	{ "AVX512F", NPY_AVX512F },
	{ "AVX512CD", NPY_AVX512F ",avx512cd" },
	{ "AVX512_SKX", NPY_SKX },
	{ "AVX512_CLX", NPY_SKX ",avx512_vnni" },
	{ "AVX512_CNL", NPY_SKX ",avx512ifma,avx512vbmi" },
	{ "AVX512_ICL", NPY_SKX ",avx512_vnni,avx512ifma,avx512vbmi,avx512_vbmi2,"
			"avx512_bitalg,avx512_vpopcntdq" },
};

/* The existing list's names plus ours, space-separated, each once. */
static int numpy_value(const char *old, const char *ours, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", pass == 0 ? (old ? old : "") : ours);
		char *save = NULL;
		for (char *n = strtok_r(buf, " ,\t", &save); n; n = strtok_r(NULL, " ,\t", &save)) {
			char key[64];
			snprintf(key, sizeof(key), " %s ", n);
			char padded[520];
			snprintf(padded, sizeof(padded), " %s ", out);
			if (strstr(padded, key))
				continue;
			int w = snprintf(out + used, size - used, "%s%s", used ? " " : "", n);
			if (w < 0 || (size_t)w >= size - used)
				return -1;
			used += (size_t)w;
		}
	}
	return 0;
}

int mg_restrict_numpy(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	char ours[256] = "", value[512];
	size_t used = 0;
	for (size_t i = 0; i < sizeof(numpy_targets) / sizeof(numpy_targets[0]); i++) {
		if (!all_in(&r->host, numpy_targets[i][1]) || all_in(&r->allowed, numpy_targets[i][1]))
			continue;
		int w = snprintf(ours + used, sizeof(ours) - used, "%s%s", used ? " " : "",
				 numpy_targets[i][0]);
		if (w < 0 || (size_t)w >= sizeof(ours) - used)
			return mg_fail(err, MG_ERR_INTERNAL, "numpy list too long");
		used += (size_t)w;
	}
	if (mg_restrict_removed(r, "pni") &&
	    mg_restrict_add_cannot(r, err, "numpy 1.24: its baseline (SSE SSE2 SSE3) needs "
				   "pni (SSE3), which the targets lack") != 0)
		return -1;
	if (used == 0)
		return 0;
	const char *old = mg_restrict_getenv(in->envp, "NPY_DISABLE_CPU_FEATURES");
	if (numpy_value(old, ours, value, sizeof(value)) != 0) {
		/* A list longer than any numpy knows: ours alone, and say so. */
		if (mg_restrict_add_cannot(r, err, "NPY_DISABLE_CPU_FEATURES (%zu bytes) replaced",
					   strlen(old)) != 0 ||
		    numpy_value(NULL, ours, value, sizeof(value)) != 0)
			return -1;
	}
	return mg_restrict_add_env(r, "NPY_DISABLE_CPU_FEATURES", value, NUMPY_WHAT, err);
}

/* --- OpenBLAS ------------------------------------------------------------------------ */

/* OpenBLAS core types, most capable first, with the instruction set their
 * kernels are compiled for (Makefile.x86_64: -march=cooperlake,
 * -march=skylake-avx512, -mavx2 -mfma, -mavx, ...): generous, so that a
 * compiler's choice of instructions inside a kernel stays covered. */
#define OB_PRESCOTT "sse2,pni"
#define OB_NEHALEM OB_PRESCOTT ",ssse3,sse4_1,sse4_2,popcnt"
#define OB_SANDY OB_NEHALEM ",avx"
#define OB_HASWELL OB_SANDY ",avx2,fma,f16c,bmi1,bmi2,abm,movbe"
#define OB_SKX OB_HASWELL ",avx512f,avx512cd,avx512bw,avx512dq,avx512vl,adx,rdseed"
static const char *const openblas_cores[][2] = {
	{ "Cooperlake", OB_SKX ",avx512_vnni,avx512_bf16" },
	{ "SkylakeX", OB_SKX },
	{ "Haswell", OB_HASWELL },   /* "Zen" on AMD: the same kernels */
	{ "Sandybridge", OB_SANDY },
	{ "Nehalem", OB_NEHALEM },
	{ "Penryn", OB_PRESCOTT ",ssse3,sse4_1" },
	{ "Core2", OB_PRESCOTT ",ssse3" },
	{ "Prescott", OB_PRESCOTT },
};
#define N_CORES (sizeof(openblas_cores) / sizeof(openblas_cores[0]))

/* Index of the best core whose set is in s, or N_CORES. */
static size_t best_core(const mg_feature_set *s)
{
	size_t i = 0;
	while (i < N_CORES && !all_in(s, openblas_cores[i][1]))
		i++;
	return i;
}

int mg_restrict_openblas(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	/* Forced whenever a core type above the pick needs a removed
	 * feature: OpenBLAS's own detection tests fewer features than these
	 * sets, so "the host's best is the pick" is no proof it picks no more. */
	size_t pick = best_core(&r->allowed);
	bool above = false;
	for (size_t i = 0; i < pick && i < N_CORES && !above; i++) {
		mg_feature_set need;
		mg_fset_clear(&need);
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", openblas_cores[i][1]);
		char *save = NULL;
		for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save))
			mg_fset_add(&need, mg_feature_by_name(f));
		mg_fset_intersect(&need, &r->removed);
		above = !mg_fset_is_empty(&need);
	}
	if (!above)
		return 0;
	const char *old = mg_restrict_getenv(in->envp, "OPENBLAS_CORETYPE");
	if (old && old[0]) {
		for (size_t i = 0; i < N_CORES; i++)
			if (strcasecmp(old, openblas_cores[i][0]) == 0 && i >= pick)
				return 0;   /* the user's choice is already within */
		if (mg_restrict_add_cannot(r, err, "OPENBLAS_CORETYPE=%s replaced (not known "
					   "to be within the targets)", old) != 0)
			return -1;
	}
	if (pick == N_CORES)
		return mg_restrict_add_cannot(r, err, "OpenBLAS: no kernel set within the "
					      "targets (Prescott needs SSE3)");
	const char *name = openblas_cores[pick][0];
	if (strcmp(name, "Haswell") == 0 && in->host_vendor &&
	    strcmp(in->host_vendor, "AuthenticAMD") == 0)
		name = "Zen";
	return mg_restrict_add_env(r, "OPENBLAS_CORETYPE", name, OPENBLAS_WHAT, err);
}
