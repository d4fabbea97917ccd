/*
 * jit.c - code a process has not generated yet.
 *
 * The scan decodes the code that exists.  A process that generates code
 * (a JIT engine, a regular-expression compiler, anything that writes
 * instructions into executable memory) will emit more after the scan,
 * chosen from the CPU view it took at start-up, and goes on doing so
 * after a migration.  For each code generator the process holds, the
 * features it may still emit are required:
 *
 *   - a modelled engine: its own CPU view, read from its memory, bounds
 *     what its code generators can emit (jit_engines.c: HotSpot, V8);
 *   - an engine that is not modelled (jit_engines.c: .NET, LuaJIT, PyPy,
 *     wasm runtimes, LLVM, PCRE2 once pcre2_jit_compile is reachable),
 *     and executable memory that the process wrote and no engine accounts
 *     for: every feature of the source that a user-mode code generator
 *     could use, with a warning naming it;
 *   - fixed trampolines are not generators: libffi's closures are
 *     recognised by their stubs' bytes; their words are scanned as data
 *     (the pointers the stubs jump through) instead of being decoded.
 *
 * --assume no-new-code counts only the code present now (unsound, named
 * in the output).
 *
 * Attribution: when a process holds a JIT engine, the executable memory
 * it wrote is taken to be that engine's (one arena looks like another); a
 * second, unknown generator in the same process would go unseen.
 * docs/jit.md says what is read from each engine and why it bounds what
 * the engine emits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

/*
 * Features no user-mode code generator can use: privileged instructions
 * (CPL 0 only), or ones that need the kernel to set something up for the
 * process first (a PASID, a Key Locker key, user interrupts, ring-3
 * MWAIT).  A JIT that is not modelled may use every other feature of the
 * source.
 */
static const char *const not_generated[] = {
	"vmx", "svm", "smx", "skinit", "invpcid", "invlpgb", "sev_snp", "sgx",
	"sgx_enclv", "intel_pt", "ptwrite", "smap", "pconfig", "fred", "lkgs",
	"wrmsrns", "msrlist", "msr_imm", "hreset", "xsaves", "wbnoinvd",
	"bhi_ctrl", "keylocker", "keylocker_enabled", "keylocker_wide", "enqcmd",
	"uintr", "user_msr", "monitor", "mcommit", "rdpru", "pbndkb",
};

void mg_jit_generator_features(const mg_feature_set *host, mg_feature_set *out)
{
	*out = *host;
	for (size_t i = 0; i < sizeof(not_generated) / sizeof(not_generated[0]); i++)
		mg_fset_remove(out, mg_feature_by_name(not_generated[i]));
}

/* --- libffi closure arenas ------------------------------------------------- */

/*
 * libffi 3.4 (x86-64, built for CET) writes each closure as this stub,
 * followed by the pointer it jumps through and the closure's data:
 *   endbr64; lea -0xb(%rip),%r10; jmp *0x7(%rip); nopl 0x0(%rax)
 * Older libffi wrote movabs $fn,%r11; movabs $closure,%r10; jmp *%r11.
 */
static const uint8_t ffi_stub_cet[] = {
	0xf3, 0x0f, 0x1e, 0xfa, 0x4c, 0x8d, 0x15, 0xf5, 0xff, 0xff, 0xff,
	0xff, 0x25, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00,
};

static bool is_old_ffi_stub(const uint8_t *p, size_t avail)
{
	return avail >= 23 && p[0] == 0x49 && p[1] == 0xbb && p[10] == 0x49 &&
	       p[11] == 0xba && p[20] == 0x49 && p[21] == 0xff && p[22] == 0xe3;
}

static bool libffi_loaded(const mg_scan_ctx *cx)
{
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const char *base = strrchr(cx->map->modules[i].name, '/');
		base = base ? base + 1 : cx->map->modules[i].name;
		if (strncmp(base, "libffi.so", 9) == 0)
			return true;
	}
	return false;
}

/* Does an anonymous executable mapping hold libffi closure stubs (at
 * 16-byte aligned offsets, as its allocator places closures)? */
static bool holds_ffi_stubs(const uint8_t *b, size_t len)
{
	for (size_t off = 0; off + sizeof(ffi_stub_cet) <= len; off += 16)
		if (memcmp(b + off, ffi_stub_cet, sizeof(ffi_stub_cet)) == 0 ||
		    is_old_ffi_stub(b + off, len - off))
			return true;
	return false;
}

bool mg_jit_trampoline_arena(mg_scan_ctx *cx, uint32_t unit)
{
	const mg_unit *u = &cx->map->units[unit];
	if (u->kind != MG_UNIT_JIT || !libffi_loaded(cx))
		return false;
	const uint8_t *bytes = mg_unit_bytes(cx, unit);
	if (bytes == NULL || !holds_ffi_stubs(bytes, (size_t)(u->end - u->start)))
		return false;
	g_array_append_val(cx->arenas, unit);
	return true;
}

static bool is_arena(const mg_scan_ctx *cx, uint32_t unit)
{
	for (guint i = 0; i < cx->arenas->len; i++)
		if (g_array_index(cx->arenas, uint32_t, i) == unit)
			return true;
	return false;
}

/* --- generators in the result ---------------------------------------------- */

void mg_code_generator_clear(mg_code_generator *g)
{
	free(g->engine);
	free(g->where);
	free(g->model);
	free(g->detail);
	memset(g, 0, sizeof(*g));
}

mg_code_generator *mg_jit_add_generator(mg_scan_ctx *cx, const char *engine,
					const char *where, const char *model,
					const char *detail)
{
	mg_scan_result *r = cx->res;
	mg_code_generator *grown = realloc(r->generators, (r->ngenerators + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	r->generators = grown;
	mg_code_generator *g = &r->generators[r->ngenerators];
	memset(g, 0, sizeof(*g));
	g->engine = strdup(engine);
	g->where = strdup(where);
	g->model = strdup(model);
	g->detail = strdup(detail ? detail : "");
	if (g->engine == NULL || g->where == NULL || g->model == NULL || g->detail == NULL) {
		mg_code_generator_clear(g);
		return NULL;
	}
	r->ngenerators++;
	return g;
}

void mg_jit_require(mg_scan_ctx *cx, const mg_code_generator *g)
{
	mg_feature_set f = g->features;
	mg_fset_intersect(&f, &cx->host);
	for (mg_feature_id id = mg_fset_next(&f, -1); id >= 0; id = mg_fset_next(&f, id)) {
		char what[200], via[600];
		snprintf(what, sizeof(what), "code %s may still generate (%s)", g->engine, g->model);
		snprintf(via, sizeof(via), "code generator %s in %s%s%s", g->engine, g->where,
			 g->detail[0] ? ": " : "", g->detail);
		mg_note_requirement(cx, id, g->where, what, "(code not generated yet)", via);
	}
	mg_fset_union(&cx->res->required, &f);
}

/* "[anon:0x...-0x...]" or the path of the mapping holding u. */
static void unit_where(const mg_scan_ctx *cx, const mg_unit *u, char *buf, size_t len)
{
	const mg_mapping *m = mg_image_find_mapping(cx->img, u->start);
	if (m != NULL && m->path != NULL)
		snprintf(buf, len, "%s%s at 0x%" PRIx64 "-0x%" PRIx64, m->path,
			 m->deleted ? " (deleted)" : "", u->start, u->end);
	else
		snprintf(buf, len, "[anon:0x%" PRIx64 "-0x%" PRIx64 "]", u->start, u->end);
}

/* Executable memory the process wrote: an anonymous mapping (not a
 * trampoline arena), or a memfd, /dev/shm or deleted file that is no ELF
 * module. */
static bool is_generated_code(const mg_scan_ctx *cx, uint32_t unit)
{
	const mg_unit *u = &cx->map->units[unit];
	if (u->kind == MG_UNIT_JIT)
		return !is_arena(cx, unit);
	if (u->kind != MG_UNIT_OPAQUE)
		return false;
	const mg_mapping *m = mg_image_find_mapping(cx->img, u->start);
	return m != NULL && mg_mapping_written_by_process(m);
}

/* --- the accounting --------------------------------------------------------- */

bool mg_jit_assumed_no_new_code(const mg_scan_ctx *cx)
{
	return (cx->opt->assumptions & MG_ASSUME_NO_NEW_CODE) != 0;
}

static void report_arenas(mg_scan_ctx *cx)
{
	for (guint i = 0; i < cx->arenas->len; i++) {
		const mg_unit *u = &cx->map->units[g_array_index(cx->arenas, uint32_t, i)];
		char where[160];
		unit_where(cx, u, where, sizeof(where));
		mg_jit_add_generator(cx, "libffi closures", where, "trampoline",
				     "fixed stubs, no code generator: their words are scanned as data");
	}
}

/* Generated code no engine accounts for: one generator per mapping. */
static void account_unknown(mg_scan_ctx *cx, const mg_feature_set *generator)
{
	for (size_t i = 0; i < cx->map->nunits; i++) {
		if (!is_generated_code(cx, (uint32_t)i))
			continue;
		char where[160];
		unit_where(cx, &cx->map->units[i], where, sizeof(where));
		if (mg_jit_assumed_no_new_code(cx)) {
			mg_jit_add_generator(cx, "unknown", where, "assumed: no new code",
					     "--assume no-new-code: only the code there now counts");
			continue;
		}
		mg_code_generator *g = mg_jit_add_generator(cx, "unknown", where, "widened",
			"executable memory the process wrote and no known engine owns");
		if (g == NULL)
			continue;
		g->features = *generator;
		mg_image_warn(cx->img, "code generator: %s holds code the process wrote and no "
			      "known JIT engine owns: it may write more, so every feature of "
			      "the source a code generator could use is required "
			      "(--assume no-new-code counts only the code there now; unsound)",
			      where);
		mg_jit_require(cx, g);
	}
}

void mg_jit_account(mg_scan_ctx *cx)
{
	mg_feature_set generator;
	mg_jit_generator_features(&cx->host, &generator);
	report_arenas(cx);
	if (mg_jit_account_engines(cx, &generator) == 0)
		account_unknown(cx, &generator);
}
