/*
 * jit_engines.c - the JIT engines migratable knows, and what each may
 * still emit (jit.c does the rest).
 *
 * Modelled engines: what the engine's code generators may emit is bounded
 * by the CPU view the engine itself keeps in memory, which it took from
 * CPUID at start-up, narrowed by its own flags, and consults before it
 * emits any instruction beyond its baseline.  Both are read from the
 * process (live or CRIU dump) at the addresses of their symbols
 * (process/module_syms.c); docs/jit.md documents each, with the version
 * it was checked on.
 *
 *   HotSpot (OpenJDK, libjvm.so; checked on 17.0.15): the feature bits
 *   Abstract_VM_Version::_features, named by VM_Version::_features_names
 *   (read from the process too, so a JDK with other bits is named right;
 *   a name this table does not know widens), already clamped by UseAVX
 *   and UseSSE; narrowed by the flags that alone enable a feature's
 *   intrinsics (UseAES, UseSHA, UseCLMUL, UseFMA, UseRTMLocking,
 *   UseCountLeadingZerosInstruction).
 *
 *   V8 (node, libnode, Chromium; checked on 11.3.244 in node 20): the
 *   bits of CpuFeatures::supported_, cleared by --no-enable-avx and the
 *   like.  The bit numbering changes between V8 versions: for a version
 *   other than 11.3 only the features V8's x64 assembler can encode count
 *   (it has no EVEX encoder: no AVX-512).
 *
 * Engines known by their library but not modelled widen to every feature
 * a code generator could use.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

/* Features every x86-64 code generator uses without asking (x87 for
 * remainders, SSE2 for floating point, CMOV, CMPXCHG8B). */
static const char *const baseline[] = { "fpu", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2", "lm" };

static void add_names(mg_feature_set *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mg_fset_add(s, mg_feature_by_name(names[i]));
}

/* Does this mapped instance of a module hold the symbol's data?  A file
 * can be mapped twice (V8 maps its builtins' code again near its code
 * space): only the instance with the file's data mappings has it. */
static bool instance_has(const mg_loaded_module *lm, const char *sym)
{
	uint64_t va;
	if (!mg_module_state_symbol(lm->module, sym, &va, NULL))
		return false;
	/* The segment holding it starts in this instance's mappings (its
	 * .bss tail may lie past them, in anonymous memory). */
	for (size_t i = 0; i < lm->module->nsegments; i++) {
		const mg_segment *s = &lm->module->segments[i];
		uint64_t start = (s->vaddr & ~(uint64_t)0xfff) + lm->bias;
		if (va >= s->vaddr && va - s->vaddr < s->memsz)
			return start >= lm->lo && start < lm->hi;
	}
	return false;
}

/* Read len bytes of the process at a module's symbol; false if the module
 * has no such symbol or the memory cannot be read. */
static bool read_symbol(mg_scan_ctx *cx, const mg_loaded_module *lm, const char *sym,
			void *buf, size_t len)
{
	uint64_t va, size;
	if (!mg_module_state_symbol(lm->module, sym, &va, &size) || (size != 0 && size < len) ||
	    !instance_has(lm, sym))
		return false;
	return mg_image_read(cx->img, va + lm->bias, buf, len) == (ssize_t)len;
}

/* --- HotSpot ------------------------------------------------------------------- */

/* HotSpot's names for its feature bits (vm_version_x86.hpp) -> ours;
 * NULL: not an instruction set (ht, erms, tscinv, hv, ...). */
static const struct {
	const char *hotspot;
	const char *ours[2];
} hotspot_names[] = {
	{ "cx8", { "cx8" } }, { "cmov", { "cmov" } }, { "fxsr", { "fxsr" } },
	{ "ht", { NULL } }, { "mmx", { "mmx" } }, { "3dnowpref", { "3dnowprefetch" } },
	{ "sse", { "sse" } }, { "sse2", { "sse2" } }, { "sse3", { "pni" } },
	{ "ssse3", { "ssse3" } }, { "sse4a", { "sse4a" } }, { "sse4.1", { "sse4_1" } },
	{ "sse4.2", { "sse4_2" } }, { "popcnt", { "popcnt" } }, { "lzcnt", { "abm" } },
	{ "tsc", { "tsc" } }, { "tscinvbit", { NULL } }, { "tscinv", { NULL } },
	{ "avx", { "avx" } }, { "avx2", { "avx2" } }, { "aes", { "aes" } },
	{ "erms", { NULL } }, { "clmul", { "pclmulqdq" } }, { "bmi1", { "bmi1" } },
	{ "bmi2", { "bmi2" } }, { "rtm", { "rtm" } }, { "adx", { "adx" } },
	{ "avx512f", { "avx512f" } }, { "avx512dq", { "avx512dq" } },
	{ "avx512pf", { "avx512pf" } }, { "avx512er", { "avx512er" } },
	{ "avx512cd", { "avx512cd" } }, { "avx512bw", { "avx512bw" } },
	{ "avx512vl", { "avx512vl" } }, { "sha", { "sha_ni" } }, { "fma", { "fma" } },
	{ "vzeroupper", { "avx" } }, { "avx512_vpopcntdq", { "avx512_vpopcntdq" } },
	{ "avx512_vpclmulqdq", { "vpclmulqdq", "avx512f" } },
	{ "avx512_vaes", { "vaes", "avx512f" } }, { "avx512_vnni", { "avx512_vnni" } },
	{ "clflush", { "clflush" } }, { "clflushopt", { "clflushopt" } }, { "clwb", { "clwb" } },
	{ "avx512_vbmi2", { "avx512_vbmi2" } }, { "avx512_vbmi", { "avx512vbmi" } },
	{ "hv", { NULL } }, { "serialize", { "serialize" } }, { "fsrm", { NULL } },
	{ "gfni", { "gfni" } }, { "avx512_bitalg", { "avx512_bitalg" } },
	{ "avx512_ifma", { "avx512ifma" } }, { "f16c", { "f16c" } },
	{ "pku", { "pku" } }, { "ospke", { "ospke" } }, { "cet_ibt", { NULL } },
	{ "cet_ss", { "shstk" } }, { "avx512_fp16", { "avx512_fp16" } },
	{ "avx_ifma", { "avx_ifma" } }, { "apx_f", { "apx_f" } }, { "sha512", { "sha512" } },
	{ "avx10_1", { "avx10_v1" } }, { "avx10_2", { "avx10_v2" } }, { "hybrid", { NULL } },
	{ "avx512_vp2intersect", { "avx512_vp2intersect" } }, { "avx_vnni", { "avx_vnni" } },
};

/* Flags that alone enable the code that uses a feature (with false, the
 * intrinsics and instructions it guards are never generated). */
static const struct {
	const char *flag;
	const char *features[2];
} hotspot_flags[] = {
	{ "UseAES", { "aes", "vaes" } },
	{ "UseSHA", { "sha_ni" } },
	{ "UseCLMUL", { "pclmulqdq", "vpclmulqdq" } },
	{ "UseFMA", { "fma" } },
	{ "UseRTMLocking", { "rtm" } },
	{ "UseCountLeadingZerosInstruction", { "abm" } },
};

/* Our features for one of HotSpot's names; false for a name not in the
 * table (a newer JDK's bit). */
static bool hotspot_feature(const char *name, mg_feature_set *out)
{
	for (size_t i = 0; i < sizeof(hotspot_names) / sizeof(hotspot_names[0]); i++)
		if (strcmp(hotspot_names[i].hotspot, name) == 0) {
			for (int k = 0; k < 2 && hotspot_names[i].ours[k]; k++)
				mg_fset_add(out, mg_feature_by_name(hotspot_names[i].ours[k]));
			return true;
		}
	return false;
}

/* Name of HotSpot feature bit `bit`, from _features_names in the process
 * (an array of char pointers); false if it cannot be read. */
static bool hotspot_bit_name(mg_scan_ctx *cx, uint64_t names_at, size_t bit, char *buf,
			     size_t len)
{
	uint64_t ptr;
	if (mg_image_read(cx->img, names_at + 8 * bit, &ptr, 8) != 8 || len < 2)
		return false;
	ssize_t got = mg_image_read(cx->img, ptr, buf, len - 1);
	if (got <= 0)
		return false;
	buf[got] = '\0';
	return memchr(buf, '\0', (size_t)got) != NULL;
}

static int hotspot_bound(mg_scan_ctx *cx, const mg_loaded_module *lm, mg_code_generator *g,
			 GString *detail)
{
	uint64_t features, names_va, names_size;
	int64_t use_avx = -1, use_sse = -1;
	if (!read_symbol(cx, lm, "_ZN19Abstract_VM_Version9_featuresE", &features, 8) ||
	    !mg_module_state_symbol(lm->module, "_ZN10VM_Version15_features_namesE",
				    &names_va, &names_size)) {
		g_string_append(detail, "its feature bits cannot be read");
		return -1;
	}
	size_t nbits = names_size / 8 < 64 ? names_size / 8 : 64;
	add_names(&g->features, baseline, sizeof(baseline) / sizeof(baseline[0]));
	for (size_t bit = 0; bit < 64; bit++) {
		char name[40];
		if (!((features >> bit) & 1))
			continue;
		if (bit >= nbits || !hotspot_bit_name(cx, names_va + lm->bias, bit, name, sizeof(name))) {
			g_string_append_printf(detail, "feature bit %zu has no readable name", bit);
			return -1;
		}
		if (!hotspot_feature(name, &g->features)) {
			g_string_append_printf(detail, "feature '%s' is unknown to this migratable", name);
			return -1;
		}
	}
	read_symbol(cx, lm, "UseAVX", &use_avx, 8);
	read_symbol(cx, lm, "UseSSE", &use_sse, 8);
	g_string_append_printf(detail, "_features 0x%" PRIx64 ", UseAVX=%" PRId64 ", UseSSE=%" PRId64,
			       features, use_avx, use_sse);
	for (size_t i = 0; i < sizeof(hotspot_flags) / sizeof(hotspot_flags[0]); i++) {
		uint8_t on = 1;
		if (!read_symbol(cx, lm, hotspot_flags[i].flag, &on, 1) || on)
			continue;
		g_string_append_printf(detail, ", -XX:-%s", hotspot_flags[i].flag);
		for (int k = 0; k < 2 && hotspot_flags[i].features[k]; k++)
			mg_fset_remove(&g->features, mg_feature_by_name(hotspot_flags[i].features[k]));
	}
	return 0;
}

/* --- V8 ------------------------------------------------------------------------ */

/* Every feature V8's x64 assembler can encode, in any version known. */
static const char *const v8_vocabulary[] = {
	"pni", "ssse3", "sse4_1", "sse4_2", "lahf_lm", "avx", "avx2", "fma", "bmi1",
	"bmi2", "abm", "popcnt", "f16c", "avx_vnni", "avx_vnni_int8", "shstk",
};

/* CpuFeatures::supported_ bits of V8 11.3 (cpu-features.h: SSE4_2, SSE4_1,
 * SSSE3, SSE3, SAHF, AVX, AVX2, FMA3, BMI1, BMI2, LZCNT, POPCNT,
 * INTEL_ATOM, INTEL_JCC_ERRATUM_MITIGATION, CETSS), measured with node
 * 20's --no-enable-* flags (tests/integration/test_jit.c). */
static const char *const v8_11_3_bits[] = {
	"sse4_2", "sse4_1", "ssse3", "pni", "lahf_lm", "avx", "avx2", "fma", "bmi1",
	"bmi2", "abm", "popcnt", NULL, NULL, "shstk",
};

static int v8_bound(mg_scan_ctx *cx, const mg_loaded_module *lm, mg_code_generator *g,
		    GString *detail)
{
	uint32_t bits;
	int32_t major = -1, minor = -1;
	if (!read_symbol(cx, lm, "_ZN2v88internal11CpuFeatures10supported_E", &bits, 4)) {
		g_string_append(detail, "CpuFeatures::supported_ cannot be read");
		return -1;
	}
	read_symbol(cx, lm, "_ZN2v88internal7Version6major_E", &major, 4);
	read_symbol(cx, lm, "_ZN2v88internal7Version6minor_E", &minor, 4);
	add_names(&g->features, baseline, sizeof(baseline) / sizeof(baseline[0]));
	if (major != 11 || minor != 3) {
		add_names(&g->features, v8_vocabulary, sizeof(v8_vocabulary) / sizeof(v8_vocabulary[0]));
		g_string_append_printf(detail, "V8 %d.%d: its feature bits are not known to this "
				       "migratable; bounded by what V8's x64 assembler encodes",
				       major, minor);
		return 0;
	}
	for (size_t b = 0; b < 32; b++) {
		if (!((bits >> b) & 1))
			continue;
		if (b >= sizeof(v8_11_3_bits) / sizeof(v8_11_3_bits[0])) {
			g_string_append_printf(detail, "V8 11.3 feature bit %zu is unknown", b);
			return -1;
		}
		if (v8_11_3_bits[b])
			mg_fset_add(&g->features, mg_feature_by_name(v8_11_3_bits[b]));
	}
	g_string_append_printf(detail, "V8 %d.%d, CpuFeatures::supported_ 0x%x", major, minor, bits);
	return 0;
}

/* --- the list ------------------------------------------------------------------ */

typedef struct engine_desc {
	const char *name;
	const char *model;          /* name of the model, NULL: not modelled */
	const char *state_symbol;   /* a module holding this symbol is the engine */
	const char *library;        /* ... or a module whose file name starts so */
	const char *entry;          /* if set: only once this export is reachable */
	int (*bound)(mg_scan_ctx *cx, const mg_loaded_module *lm, mg_code_generator *g,
		     GString *detail);
} engine_desc;

static const engine_desc engines[] = {
	{ "HotSpot", "hotspot", "_ZN19Abstract_VM_Version9_featuresE", "libjvm.so", NULL, hotspot_bound },
	{ "V8", "v8", "_ZN2v88internal11CpuFeatures10supported_E", "libnode.so", NULL, v8_bound },
	{ ".NET CoreCLR", NULL, NULL, "libcoreclr.so", NULL, NULL },
	{ ".NET RyuJIT", NULL, NULL, "libclrjit.so", NULL, NULL },
	{ "Mono", NULL, NULL, "libmonosgen-2.0.so", NULL, NULL },
	{ "Mono", NULL, NULL, "libmono-2.0.so", NULL, NULL },
	{ "LuaJIT", NULL, NULL, "libluajit-5.1.so", NULL, NULL },
	{ "PyPy", NULL, NULL, "libpypy", NULL, NULL },
	{ "Wasmtime", NULL, NULL, "libwasmtime.so", NULL, NULL },
	{ "Wasmer", NULL, NULL, "libwasmer.so", NULL, NULL },
	{ "WAMR", NULL, NULL, "libiwasm.so", NULL, NULL },
	{ "SpiderMonkey", NULL, NULL, "libmozjs-", NULL, NULL },
	{ "JavaScriptCore", NULL, NULL, "libjavascriptcoregtk-", NULL, NULL },
	{ "LLVM", NULL, NULL, "libLLVM", NULL, NULL },
	{ "libgccjit", NULL, NULL, "libgccjit.so", NULL, NULL },
	{ "PCRE2 JIT", NULL, NULL, "libpcre2-8.so", "pcre2_jit_compile_8", NULL },
	{ "PCRE2 JIT", NULL, NULL, "libpcre2-16.so", "pcre2_jit_compile_16", NULL },
	{ "PCRE2 JIT", NULL, NULL, "libpcre2-32.so", "pcre2_jit_compile_32", NULL },
};

/* Was module m (another mapped instance of it) accounted already? */
static bool seen_module(const mg_scan_ctx *cx, size_t upto, const mg_module *m)
{
	for (size_t i = 0; i < upto; i++)
		if (cx->map->modules[i].module == m)
			return true;
	return false;
}

/* Is instance i the engine e?  By its state symbol (in the instance that
 * holds the data), else by file name (once per file). */
static bool module_is(const mg_scan_ctx *cx, size_t i, const engine_desc *e)
{
	const mg_loaded_module *lm = &cx->map->modules[i];
	if (e->state_symbol && instance_has(lm, e->state_symbol))
		return true;
	const char *base = strrchr(lm->name, '/');
	base = base ? base + 1 : lm->name;
	return e->library && strncmp(base, e->library, strlen(e->library)) == 0 &&
	       !seen_module(cx, i, lm->module);
}

/* Is the engine's entry point (a compile function) reachable? */
static bool entry_reachable(const mg_scan_ctx *cx, const mg_loaded_module *lm, const char *entry)
{
	const mg_function *f = mg_module_lookup_export(lm->module, entry);
	if (f == NULL)
		return true;     /* cannot tell: count it */
	uint32_t u = mg_codemap_find(cx->map, f->start + lm->bias);
	return u == MG_NO_UNIT || cx->state[u].done;
}

/* One engine found in module lm: its bound, or the widening. */
static void account_engine(mg_scan_ctx *cx, const engine_desc *e, const mg_loaded_module *lm,
			   const mg_feature_set *generator)
{
	if (mg_jit_assumed_no_new_code(cx)) {
		mg_jit_add_generator(cx, e->name, lm->name, "assumed: no new code",
				     "--assume no-new-code: only the code there now counts");
		return;
	}
	GString *detail = g_string_new(NULL);
	mg_code_generator g = { 0 };
	bool modelled = e->bound != NULL && e->bound(cx, lm, &g, detail) == 0;
	if (!modelled)
		g_string_prepend(detail, e->bound ? "model failed: " : "not modelled");
	mg_code_generator *out = mg_jit_add_generator(cx, e->name, lm->name,
						      modelled ? e->model : "widened", detail->str);
	if (out != NULL) {
		out->features = modelled ? g.features : *generator;
		if (!modelled)
			mg_image_warn(cx->img, "code generator: %s (%s): %s; every feature of the "
				      "source a code generator could use is required "
				      "(--assume no-new-code counts only the code there now; unsound)",
				      e->name, lm->name, detail->str);
		mg_jit_require(cx, out);
	}
	g_string_free(detail, TRUE);
}

size_t mg_jit_account_engines(mg_scan_ctx *cx, const mg_feature_set *generator)
{
	size_t found = 0;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		for (size_t k = 0; k < sizeof(engines) / sizeof(engines[0]); k++) {
			const engine_desc *e = &engines[k];
			if (!module_is(cx, i, e))
				continue;
			if (e->entry != NULL && !entry_reachable(cx, lm, e->entry))
				break;
			account_engine(cx, e, lm, generator);
			found++;
			break;
		}
	}
	return found;
}
