/*
 * restrict_libc.c - glibc's dispatch (IFUNCs, libm, ld.so's lazy-binding
 * trampoline, glibc-hwcaps library directories) and the C libraries of
 * Debian 12 programs that dispatch without a switch.
 *
 * glibc reads CPUID once, in ld.so (init_cpu_features), and every IFUNC
 * resolver of libc and libm, the choice of _dl_runtime_resolve_{xsavec,
 * xsave,fxsave}, and the glibc-hwcaps/x86-64-vN search path read the
 * `active` bits it keeps.  GLIBC_TUNABLES=glibc.cpu.hwcaps=-NAME,...
 * clears them (sysdeps/x86/cpu-tunables.c; checked on Debian's 2.36 with
 * <sys/platform/x86.h>'s CPU_FEATURE_ACTIVE, test_run).  Each name clears
 * its own bit only: -AVX leaves AVX2 active, so every removed feature is
 * named (mg_restrict_plan closes the removed set over AVX state first).
 */
#include "restrict/restrict.h"

#include <stdlib.h>
#include <string.h>

#define GLIBC_WHAT "glibc 2.36: IFUNCs of libc/libm, ld.so's trampoline, glibc-hwcaps dirs"

/* Linux flag -> glibc 2.36 cpu-tunables name: the features glibc's
 * selectors test that the tunable can clear. */
static const char *const glibc_names[][2] = {
	{ "sse2", "SSE2" }, { "ssse3", "SSSE3" }, { "sse4_1", "SSE4_1" },
	{ "sse4_2", "SSE4_2" }, { "popcnt", "POPCNT" }, { "avx", "AVX" },
	{ "avx2", "AVX2" }, { "fma", "FMA" }, { "fma4", "FMA4" },
	{ "bmi1", "BMI1" }, { "bmi2", "BMI2" }, { "abm", "LZCNT" },
	{ "movbe", "MOVBE" }, { "rtm", "RTM" },
	{ "cx8", "CX8" }, { "cmov", "CMOV" }, { "xsave", "XSAVE" },
	{ "xsavec", "XSAVEC" }, { "avx512f", "AVX512F" }, { "avx512cd", "AVX512CD" },
	{ "avx512bw", "AVX512BW" }, { "avx512dq", "AVX512DQ" },
	{ "avx512er", "AVX512ER" }, { "avx512pf", "AVX512PF" },
	{ "avx512vl", "AVX512VL" },
};

/*
 * Linux flag -> glibc 2.36 "preferred" bit that selects code needing it
 * although the active bit is clear.  init_cpu_features sets
 * AVX_Fast_Unaligned_Load from AVX2 before the tunables run, and
 * memmove/memcpy/mempcpy's selector (ifunc-memmove.h) then picks
 * __memmove_avx_unaligned_erms on AVX_Fast_Unaligned_Load alone: with
 * -AVX,-AVX2 only, a Zen 3 process kept its AVX memcpy (the oracle saw
 * it execute under `run --catalog aws`).  cpu-tunables.c clears the bit
 * by name.
 */
static const char *const glibc_preferred[][2] = {
	{ "avx", "AVX_Fast_Unaligned_Load" },
};

/* Append ",-NAME" (or "-NAME" first) to list[*used]. */
static int append_name(char *list, size_t size, size_t *used, const char *name, mg_error *err)
{
	int w = snprintf(list + *used, size - *used, "%s-%s", *used ? "," : "", name);
	if (w < 0 || (size_t)w >= size - *used)
		return mg_fail(err, MG_ERR_INTERNAL, "hwcaps list too long");
	*used += (size_t)w;
	return 0;
}

/* The existing GLIBC_TUNABLES with our hwcaps list merged in: appended to
 * an existing glibc.cpu.hwcaps value (later names win in glibc's parser,
 * and ours only disable), else added as one more tunable. */
static char *merge_tunables(const char *old, const char *list)
{
	static const char key[] = "glibc.cpu.hwcaps=";
	char *out = NULL;
	if (old == NULL || old[0] == '\0') {
		if (asprintf(&out, "%s%s", key, list) < 0)
			return NULL;
		return out;
	}
	const char *at = strstr(old, key);
	if (at && (at == old || at[-1] == ':')) {
		const char *val = at + strlen(key);
		const char *end = strchr(val, ':');
		if (end == NULL)
			end = val + strlen(val);
		if (asprintf(&out, "%.*s%s%s%s", (int)(end - old), old, end == val ? "" : ",",
			     list, end) < 0)
			return NULL;
		return out;
	}
	if (asprintf(&out, "%s:%s%s", old, key, list) < 0)
		return NULL;
	return out;
}

int mg_restrict_glibc(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	char list[512] = "";
	size_t used = 0;
	for (size_t i = 0; i < sizeof(glibc_names) / sizeof(glibc_names[0]); i++)
		if (mg_restrict_removed(r, glibc_names[i][0]) &&
		    append_name(list, sizeof(list), &used, glibc_names[i][1], err) != 0)
			return -1;
	for (size_t i = 0; i < sizeof(glibc_preferred) / sizeof(glibc_preferred[0]); i++)
		if (mg_restrict_removed(r, glibc_preferred[i][0]) &&
		    append_name(list, sizeof(list), &used, glibc_preferred[i][1], err) != 0)
			return -1;
	if (used == 0)
		return 0;
	char *value = merge_tunables(mg_restrict_getenv(in->envp, "GLIBC_TUNABLES"), list);
	if (value == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	int rc = mg_restrict_add_env(r, "GLIBC_TUNABLES", value, GLIBC_WHAT, err);
	free(value);
	if (rc != 0)
		return -1;
	/* Bind every PLT slot at start-up: the lazy trampoline is never
	 * entered, and each slot then holds the variant the restricted
	 * resolver chose, which the scan reads (a lazy slot makes it follow
	 * the resolver to every variant). */
	if (in->lazy_binding || mg_restrict_getenv(in->envp, "LD_BIND_NOW"))
		return 0;
	return mg_restrict_add_env(r, "LD_BIND_NOW", "1",
				   "ld.so: bind every symbol at start-up (no lazy trampoline)", err);
}

/* --- dispatchers without a switch ------------------------------------------------ */

struct no_switch {
	const char *features;      /* comma-separated: reported if one is removed */
	const char *what;
};

/*
 * Found by disassembling the libraries and programs of the corpus
 * (docs/run.md: CPUID in libzstd, zstd, liblzma, libstdc++, libgcc_s,
 * libcrypto, libgcrypt, numpy, OpenBLAS; none in python3.11, zlib 1.2.13,
 * sqlite3, redis-server, gzip).  liblzma's was found by the oracle
 * (bench/run-targets.sh: xz executed PCLMULQDQ under --catalog aws).
 */
static const struct no_switch no_switch[] = {
	{ "bmi1,bmi2,abm", "libzstd 1.5.4 (zstd, and libzstd users): its BMI2 entropy "
			   "coders, chosen by its own CPUID" },
	{ "pclmulqdq,ssse3,sse4_1", "liblzma 5.4.1 (xz): its CLMUL CRC64, chosen by its own "
				    "CPUID (PCLMULQDQ+SSSE3+SSE4.1)" },
	{ "rdrand,rdseed", "libstdc++ 12 std::random_device: RDSEED/RDRAND, chosen by "
			   "its own CPUID" },
	/* No dispatch at all: the functions run RDPKRU/WRPKRU whenever they
	 * are called, and a program that looks names up (python's ctypes,
	 * sqlite3's .load) can call them (docs/run.md). */
	{ "pku,ospke", "glibc 2.36 pkey_get/pkey_set: RDPKRU/WRPKRU on every call, no switch; "
		       "a program that can call them by name (dlsym: python's ctypes, "
		       "sqlite3's .load) keeps needing PKU, unless it keeps glibc's contract "
		       "(only keys pkey_alloc gave: check ... --assume glibc-contracts)" },
	/* Not a dispatch: GCC's `rep bsf` (the bytes of TZCNT) for
	 * __builtin_ctz, everywhere (glibc, jemalloc, liblzma, liblz4). */
	{ "bmi1", "compiled tzcnt (GCC's rep bsf for __builtin_ctz: glibc's malloc and printf, "
		  "jemalloc, liblzma, liblz4): BMI1 to the sound scan, bsf alike without it for "
		  "the non-zero sources GCC allows (check ... --assume tzcnt-as-bsf)" },
};

static bool any_removed(const mg_restriction *r, const char *list)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (mg_restrict_removed(r, f))
			return true;
	return false;
}

int mg_restrict_no_switch(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	(void)in;
	for (size_t i = 0; i < sizeof(no_switch) / sizeof(no_switch[0]); i++)
		if (any_removed(r, no_switch[i].features) &&
		    mg_restrict_add_cannot(r, err, "%s", no_switch[i].what) != 0)
			return -1;
	return mg_restrict_add_cannot(r, err,
		"code that tests CPUID itself (GCC's __builtin_cpu_supports, target_clones, "
		"hand-written cpuid) or was built with -march= beyond the targets: "
		"`migratable check PID` shows it");
}
