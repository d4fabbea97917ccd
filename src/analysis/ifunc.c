/*
 * ifunc.c - what an IFUNC resolves to, from the slots it already filled.
 *
 * Reaching an IFUNC (a lazy PLT slot, a dlsym'd name) means reaching its
 * resolver, whose code refers to every variant it can pick: for glibc's
 * memcpy that is the SSE2, AVX2, EVEX and AVX-512 copies alike.  But the
 * resolver's choice depends only on the CPU state the process took at
 * start-up (glibc's cpu_features, libgcc's __cpu_model), and the dynamic
 * linker has already called it for every R_X86_64_IRELATIVE relocation
 * of that resolver (glibc's own internal calls go through such slots),
 * writing its answer into the slot.  When every such slot of a resolver
 * holds the same code address, that address is what the resolver returns
 * now and will return later: reaching the IFUNC reaches that one variant,
 * and the resolver itself (binding an IFUNC, lazily or through dlsym, runs
 * it), whose references to the other variants then lead nowhere.
 * A resolver with no resolved slot, with slots that disagree or cannot be
 * read, is followed as before.  The assumption that a resolver always
 * returns the same thing is glibc's (it calls each resolver once per
 * relocation and caches nothing else); it is named in dispatch_state.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "analysis/engine.h"

#define CONFLICT UINT64_MAX

/* Record the value of one IRELATIVE slot for its resolver. */
static void note_slot(mg_scan_ctx *cx, uint64_t resolver, uint64_t slot)
{
	uint64_t value;
	gpointer key = GSIZE_TO_POINTER(resolver), old;
	if (!mg_read_u64(cx, slot, &value) || mg_codemap_find(cx->map, value) == MG_NO_UNIT)
		value = CONFLICT;      /* unreadable or not code: do not trust */
	if (g_hash_table_lookup_extended(cx->ifunc_resolved, key, NULL, &old) &&
	    (uint64_t)GPOINTER_TO_SIZE(old) != value)
		value = CONFLICT;
	g_hash_table_insert(cx->ifunc_resolved, key, GSIZE_TO_POINTER(value));
}

/*
 * The resolvers no slot has resolved yet: evaluate them (ifunc_eval.c).
 * The evaluator is first checked on every resolver whose answer the
 * slots give; a single disagreement means it does not model this libc,
 * and nothing is evaluated.
 */
static void evaluate_unresolved(mg_scan_ctx *cx)
{
	GHashTableIter it;
	gpointer k, v;
	size_t agree = 0, checked = 0, added = 0;
	g_hash_table_iter_init(&it, cx->ifunc_resolved);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		uint64_t want = (uint64_t)GPOINTER_TO_SIZE(v);
		if (want == CONFLICT)
			continue;
		uint64_t got = mg_ifunc_evaluate(cx, (uint64_t)GPOINTER_TO_SIZE(k));
		if (got == 0)
			continue;
		checked++;
		if (got != want) {
			mg_scan_fact(cx, "IFUNC resolver at 0x%" PRIx64 " evaluates to 0x%" PRIx64
				     " but its slots hold 0x%" PRIx64 ": unresolved IFUNCs are "
				     "followed whole", (uint64_t)GPOINTER_TO_SIZE(k), got, want);
			return;
		}
		agree++;
	}
	if (agree == 0)
		return;     /* nothing to check the evaluator against */
	typedef struct { uint64_t resolver, target; } pick;
	GArray *found = g_array_new(FALSE, FALSE, sizeof(pick));
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		for (size_t f = 0; f < lm->module->nfuncs; f++) {
			const mg_function *fn = &lm->module->funcs[f];
			uint64_t at = fn->start + lm->bias, t;
			if (!fn->is_ifunc_resolver ||
			    g_hash_table_contains(cx->ifunc_resolved, GSIZE_TO_POINTER(at)) ||
			    (t = mg_ifunc_evaluate(cx, at)) == 0 ||
			    mg_codemap_find(cx->map, t) == MG_NO_UNIT)
				continue;
			pick p = { at, t };
			g_array_append_val(found, p);
		}
	}
	for (guint i = 0; i < found->len; i++) {
		const pick *p = &g_array_index(found, pick, i);
		g_hash_table_insert(cx->ifunc_resolved, GSIZE_TO_POINTER(p->resolver),
				    GSIZE_TO_POINTER(p->target));
		added++;
	}
	g_array_free(found, TRUE);
	if (added)
		mg_scan_fact(cx, "%zu IFUNC resolvers no slot has resolved were evaluated on the "
			     "process's read-only CPU state (the evaluator agreed with all %zu "
			     "resolved ones it could run)", added, checked);
}

int mg_ifunc_init(mg_scan_ctx *cx)
{
	cx->ifunc_resolved = g_hash_table_new(g_direct_hash, g_direct_equal);
	size_t known = 0;
	cx->resolved_resolver = calloc(cx->map->nunits ? cx->map->nunits : 1, 1);
	if (cx->resolved_resolver == NULL)
		return -1;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		for (size_t r = 0; r < lm->module->nrelocs; r++) {
			const mg_reloc *rel = &lm->module->relocs[r];
			if (rel->kind == MG_RELOC_IRELATIVE)
				note_slot(cx, (uint64_t)rel->addend + lm->bias, rel->offset + lm->bias);
		}
	}
	evaluate_unresolved(cx);
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, cx->ifunc_resolved);
	gpointer k;
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if ((uint64_t)GPOINTER_TO_SIZE(v) == CONFLICT)
			continue;
		uint32_t u = mg_codemap_find(cx->map, (uint64_t)GPOINTER_TO_SIZE(k));
		if (u != MG_NO_UNIT)
			cx->resolved_resolver[u] = 1;
		known++;
	}
	if (known)
		mg_scan_fact(cx, "%zu IFUNC resolvers already resolved in R_X86_64_IRELATIVE slots: "
			     "reaching one of them reaches the variant it chose (resolvers are taken "
			     "to return what they returned at start-up)", known);
	return 0;
}

void mg_ifunc_free(mg_scan_ctx *cx)
{
	if (cx->ifunc_resolved)
		g_hash_table_destroy(cx->ifunc_resolved);
	cx->ifunc_resolved = NULL;
	free(cx->resolved_resolver);
	cx->resolved_resolver = NULL;
}

uint64_t mg_ifunc_target(const mg_scan_ctx *cx, uint64_t resolver)
{
	gpointer v;
	if (cx->ifunc_resolved == NULL ||
	    !g_hash_table_lookup_extended(cx->ifunc_resolved, GSIZE_TO_POINTER(resolver), NULL, &v))
		return 0;
	uint64_t t = (uint64_t)GPOINTER_TO_SIZE(v);
	return t == CONFLICT ? 0 : t;
}

uint64_t mg_ifunc_export_target(const mg_scan_ctx *cx, const mg_loaded_module *lm,
				const char *name, uint64_t *resolver)
{
	uint64_t va;
	bool is_ifunc;
	*resolver = 0;
	if (!mg_module_export_vaddr(lm->module, name, &va, &is_ifunc))
		return 0;
	if (!is_ifunc)
		return va + lm->bias;
	uint64_t t = mg_ifunc_target(cx, va + lm->bias);
	if (t == 0)
		return va + lm->bias;     /* the resolver, and all it names */
	*resolver = va + lm->bias;
	return t;
}
