/*
 * scan.c - mg_scan_image: one scan, from the code map to the result.
 *
 *   roots (roots.c) --> worklist (worklist.c) --> widen for dlsym, JIT
 *   engines --> result
 *
 * Code bytes are read per executable mapping,
 * in one batch, after the process was resumed (the snapshot holds only
 * what must be consistent: registers, stacks, signal actions).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analysis/engine.h"
#include "analysis/summary_cache.h"
#include "features/profile.h"

#define PAGE 4096u

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool read_u64_locked(mg_scan_ctx *cx, uint64_t addr, uint64_t *out);

/* Called by decoding workers too: the page cache is shared. */
bool mg_read_u64(mg_scan_ctx *cx, uint64_t addr, uint64_t *out)
{
	g_mutex_lock(&cx->slot_lock);
	bool ok = read_u64_locked(cx, addr, out);
	g_mutex_unlock(&cx->slot_lock);
	return ok;
}

static bool read_u64_locked(mg_scan_ctx *cx, uint64_t addr, uint64_t *out)
{
	uint64_t page = addr & ~(uint64_t)(PAGE - 1);
	if ((addr & (PAGE - 1)) > PAGE - 8) {      /* straddles two pages */
		uint8_t b[8];
		if (mg_image_read(cx->img, addr, b, 8) != 8)
			return false;
		memcpy(out, b, 8);
		return true;
	}
	gpointer key = GSIZE_TO_POINTER(page), val;
	if (!g_hash_table_lookup_extended(cx->slot_pages, key, NULL, &val)) {
		uint8_t *buf = malloc(PAGE);
		if (buf == NULL)    /* no memory to cache it: read just the slot */
			return mg_image_read(cx->img, addr, out, 8) == 8;
		if (mg_image_read(cx->img, page, buf, PAGE) != PAGE) {
			free(buf);
			buf = NULL;     /* unreadable: remembered as such */
		}
		val = buf;
		g_hash_table_insert(cx->slot_pages, key, val);
	}
	if (val == NULL)
		return false;
	memcpy(out, (uint8_t *)val + (addr - page), 8);
	return true;
}

static mg_code_cache *code_cache_for(mg_scan_ctx *cx, uint64_t addr)
{
	size_t lo = 0, hi = cx->ncode;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < cx->code[mid].start)
			hi = mid;
		else if (addr >= cx->code[mid].end)
			lo = mid + 1;
		else
			return &cx->code[mid];
	}
	return NULL;
}

/* Soundness: code we cannot read could need anything this host has. */
static void widen_unreadable(mg_scan_ctx *cx, const mg_code_cache *cc)
{
	mg_image_warn(cx->img, "code at 0x%" PRIx64 "-0x%" PRIx64 " unreadable; "
		      "every feature of this host is assumed required",
		      cc->start, cc->end);
	mg_fset_union(&cx->res->required, &cx->host);
}

const uint8_t *mg_unit_code(const mg_scan_ctx *cx, uint32_t unit, uint64_t *map_hash)
{
	const mg_unit *u = &cx->map->units[unit];
	const mg_code_cache *cc = code_cache_for((mg_scan_ctx *)cx, u->start);
	if (cc == NULL || cc->bytes == NULL || u->end > cc->end)
		return NULL;
	*map_hash = cc->hash;
	return cc->bytes + (u->start - cc->start);
}

const uint8_t *mg_unit_bytes(mg_scan_ctx *cx, uint32_t unit)
{
	const mg_unit *u = &cx->map->units[unit];
	mg_code_cache *cc = code_cache_for(cx, u->start);
	if (cc == NULL || u->end > cc->end)
		return NULL;
	if (!cc->tried) {
		cc->tried = true;
		size_t len = (size_t)(cc->end - cc->start);
		cc->bytes = malloc(len);
		if (cc->bytes == NULL ||
		    mg_image_read(cx->img, cc->start, cc->bytes, len) != (ssize_t)len) {
			free(cc->bytes);
			cc->bytes = NULL;
			widen_unreadable(cx, cc);
		} else if (cx->cache) {
			cc->hash = mg_summary_key(cc->bytes, len);
			mg_summary_cache_load(cx->cache, cc->hash);
		}
	}
	return cc->bytes ? cc->bytes + (u->start - cc->start) : NULL;
}

static int build_code_caches(mg_scan_ctx *cx, mg_error *err)
{
	size_t n = 0;
	for (size_t i = 0; i < cx->img->nmaps; i++)
		if (cx->img->maps[i].prot & MG_PROT_EXEC)
			n++;
	cx->code = calloc(n ? n : 1, sizeof(*cx->code));
	if (cx->code == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (code cache)");
	for (size_t i = 0; i < cx->img->nmaps; i++) {
		const mg_mapping *m = &cx->img->maps[i];
		if (m->prot & MG_PROT_EXEC) {
			cx->code[cx->ncode].start = m->start;
			cx->code[cx->ncode].end = m->end;
			cx->ncode++;
		}
	}
	return 0;
}

/* Live register state the destination must be able to restore. */
static void add_state_features(mg_scan_ctx *cx)
{
	static const struct {
		uint64_t components;
		const char *feature;
		const char *what;
	} rules[] = {
		{ MG_XCR0_OPMASK | MG_XCR0_ZMM_HI256 | MG_XCR0_HI16_ZMM, "avx512f",
		  "live AVX-512 state (opmask/ZMM in xstate_bv)" },
		{ MG_XCR0_YMM, "avx", "live AVX state (YMM in xstate_bv)" },
		{ MG_XCR0_XTILEDATA, "amx_tile", "live AMX tile data (xstate_bv)" },
	};
	for (size_t t = 0; t < cx->img->nthreads; t++) {
		const mg_thread *th = &cx->img->threads[t];
		if (!th->has_xstate)
			continue;
		for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
			mg_feature_id f = mg_feature_by_name(rules[r].feature);
			if (!(th->xstate_bv & rules[r].components) || f < 0)
				continue;
			if (!mg_fset_has(&cx->res->required, f))
				mg_note_state(cx, f, th->tid, rules[r].what);
			mg_fset_add(&cx->res->required, f);
		}
	}
}

/* Decoding threads: MIGRATABLE_THREADS, else one per online CPU (max 8). */
static unsigned decode_threads(void)
{
	const char *env = getenv("MIGRATABLE_THREADS");
	long n = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > 8 ? 8 : (unsigned)n;
}

static int init_ctx(mg_scan_ctx *cx, mg_image *img, const mg_scan_options *opt,
		    mg_error *err)
{
	memset(cx, 0, sizeof(*cx));
	cx->img = img;
	cx->opt = opt;
	/* Minimal mode gives length, mnemonic, ISA set and raw fields, all
	 * the sweep needs, about 20% faster than a full decode. */
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&cx->decoder, ZYDIS_MACHINE_MODE_LONG_64,
					   ZYDIS_STACK_WIDTH_64)) ||
	    !ZYAN_SUCCESS(ZydisDecoderEnableMode(&cx->decoder, ZYDIS_DECODER_MODE_MINIMAL,
						 ZYAN_TRUE)) ||
	    !ZYAN_SUCCESS(ZydisDecoderInit(&cx->full_decoder, ZYDIS_MACHINE_MODE_LONG_64,
					   ZYDIS_STACK_WIDTH_64)) ||
	    !ZYAN_SUCCESS(ZydisFormatterInit(&cx->formatter, ZYDIS_FORMATTER_STYLE_INTEL)))
		return mg_fail(err, MG_ERR_INTERNAL, "cannot initialise Zydis");
	if (opt->host_features) {
		cx->host = *opt->host_features;
	} else {
		mg_profile host;
		mg_profile_init(&host);
		if (mg_host_profile(&host, "host", err) != 0)
			return -1;
		cx->host = host.features;
		mg_profile_free(&host);
	}
	/* Without a shadow stack, shadow-stack instructions fault on this host
	 * as they would on any other: a working process never executes them
	 * (libgcc's unwinder runs incssp only after rdssp found one). */
	if (img->shadow_stack == 0)
		mg_fset_remove(&cx->host, mg_feature_by_name("shstk"));
	cx->res = calloc(1, sizeof(*cx->res));
	cx->queue = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	cx->slot_pages = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free);
	cx->evidence_seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_mutex_init(&cx->slot_lock);
	cx->nthreads = decode_threads();
	if (!opt->no_cache)
		cx->cache = mg_summary_cache_open();
	cx->evidence = g_ptr_array_new();
	cx->unresolved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	cx->arenas = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	if (cx->res == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (scan result)");
	return 0;
}

static void free_ctx(mg_scan_ctx *cx)
{
	mg_codemap_free(&cx->own_map);   /* zeroed when never built */
	free(cx->state);
	if (cx->queue)
		g_array_free(cx->queue, TRUE);
	if (cx->slot_pages)
		g_hash_table_destroy(cx->slot_pages);
	if (cx->evidence_seen)
		g_hash_table_destroy(cx->evidence_seen);
	if (cx->unresolved)
		g_hash_table_destroy(cx->unresolved);
	if (cx->arenas)
		g_array_free(cx->arenas, TRUE);
	mg_dlsym_free(cx);
	mg_gap_free(cx);
	mg_captest_free(cx);
	mg_tzcnt_free(cx);
	mg_ifunc_free(cx);
	mg_data_free(cx);
	free(cx->no_code_ref);
	free(cx->refs_unfollowed);
	free(cx->not_by_name);
	free(cx->no_call);
	g_mutex_clear(&cx->slot_lock);
	mg_summary_cache_close(cx->cache);
	for (size_t i = 0; i < cx->ncode; i++)
		free(cx->code[i].bytes);
	free(cx->code);
	if (cx->evidence) {
		for (guint i = 0; i < cx->evidence->len; i++)
			mg_evidence_free(g_ptr_array_index(cx->evidence, i));
		g_ptr_array_free(cx->evidence, TRUE);
	}
	mg_scan_result_free(cx->res);
}

/* One warning for all lazily bound symbols no loaded module defines:
 * weak references (libstdc++'s _ITM_*) or a library a later dlopen loads. */
static void warn_unresolved(mg_scan_ctx *cx)
{
	guint n = g_hash_table_size(cx->unresolved);
	if (n == 0)
		return;
	GList *names = g_list_sort(g_hash_table_get_keys(cx->unresolved),
				   (GCompareFunc)strcmp);
	GString *s = g_string_new(NULL);
	guint shown = 0;
	for (GList *l = names; l && shown < 5; l = l->next, shown++)
		g_string_append_printf(s, "%s%s", shown ? ", " : "", (char *)l->data);
	mg_image_warn(cx->img, "%u lazily bound symbol(s) have no definition in any "
		      "loaded module (weak references, or a library loaded later): %s%s",
		      n, s->str, n > shown ? ", ..." : "");
	g_string_free(s, TRUE);
	g_list_free(names);
}

void mg_scan_fact(mg_scan_ctx *cx, const char *fmt, ...)
{
	mg_scan_result *r = cx->res;
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	char **grown = n < 0 ? NULL : realloc(r->facts, (r->nfacts + 1) * sizeof(*grown));
	if (grown == NULL) {
		if (n >= 0)
			free(s);
		return;     /* out of memory: the fact only explains, it decides nothing */
	}
	r->facts = grown;
	r->facts[r->nfacts++] = s;
}

static const char *const assumption_names[] = { "no-dlsym", "no-new-code", "glibc-contracts",
						"tzcnt-as-bsf" };

const char *mg_assumption_name(unsigned bit)
{
	for (unsigned i = 0; i < sizeof(assumption_names) / sizeof(assumption_names[0]); i++)
		if (bit == 1u << i)
			return assumption_names[i];
	return NULL;
}

unsigned mg_assumption_by_name(const char *name)
{
	for (unsigned i = 0; i < sizeof(assumption_names) / sizeof(assumption_names[0]); i++)
		if (strcmp(name, assumption_names[i]) == 0)
			return 1u << i;
	return 0;
}

/*
 * dlsym can return any exported function of any loaded module, for a name
 * computed at run time: when some call's name is unknown (dlsym.c), every
 * export is reachable (an IFUNC export through its resolver, hence
 * conservatively every variant it can pick).
 */
static void widen_for_dlsym(mg_scan_ctx *cx)
{
	if (cx->opt->method == MG_METHOD_FULL || !cx->dlsym.unbounded)
		return;
	if (cx->opt->assumptions & MG_ASSUME_NO_DLSYM) {
		mg_image_warn(cx->img, "dlsym may be called with a name computed at run time (%s) "
			      "but --assume no-dlsym was given: functions only dlsym could return "
			      "are not counted", cx->dlsym.why_unknown ? cx->dlsym.why_unknown : "?");
		return;
	}
	size_t added = 0;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		for (size_t f = 0; f < lm->module->nfuncs; f++) {
			const mg_function *fn = &lm->module->funcs[f];
			if (!fn->exported)
				continue;
			uint64_t at = fn->start + lm->bias;
			uint32_t named = mg_codemap_find(cx->map, at);
			if (named != MG_NO_UNIT && cx->not_by_name[named])
				continue;          /* (contracts.c) */
			if (fn->is_ifunc_resolver && mg_ifunc_target(cx, at)) {
				/* dlsym runs the resolver, which returns the variant
				 * it chose */
				mg_reach_address(cx, at, MG_WHY_DLSYM, MG_NO_UNIT, 0);
				at = mg_ifunc_target(cx, at);
			}
			uint32_t u = mg_codemap_find(cx->map, at);
			if (u == MG_NO_UNIT)
				continue;
			if (!cx->state[u].queued)
				added++;
			mg_reach_unit(cx, u, MG_WHY_DLSYM, MG_NO_UNIT, 0);
		}
	}
	size_t objects = mg_data_reach_all_exports(cx);
	cx->res->dlsym_widened = added;
	mg_image_warn(cx->img, "dlsym: %zu call(s) with a name the analysis cannot bound (%s%s); "
		      "every exported function and object of every module counts as a possible "
		      "result (%zu functions, %zu objects added)", cx->dlsym.nunknown,
		      cx->dlsym.why_unknown ? cx->dlsym.why_unknown : "?",
		      cx->dlsym.nunknown > 3 ? "; ..." : "", added, objects);
}

/* Move evidence and warnings into the result (the context gives them up). */
static int finish_result(mg_scan_ctx *cx, mg_error *err)
{
	mg_scan_result *r = cx->res;
	r->nevidence = cx->evidence->len;
	r->evidence = calloc(r->nevidence ? r->nevidence : 1, sizeof(*r->evidence));
	if (r->evidence == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (evidence)");
	for (size_t i = 0; i < r->nevidence; i++) {
		mg_evidence *ev = g_ptr_array_index(cx->evidence, i);
		r->evidence[i] = *ev;
		free(ev);
	}
	g_ptr_array_set_size(cx->evidence, 0);

	r->warnings = cx->img->warnings;
	r->nwarnings = cx->img->nwarnings;
	cx->img->warnings = NULL;
	cx->img->nwarnings = 0;

	r->pid = cx->img->pid;
	r->source = strdup(cx->img->source ? cx->img->source : "?");
	r->method = cx->opt->method;
	r->assumptions = cx->opt->assumptions;
	r->stats.pause_ms = cx->img->pause_ms;
	r->stats.threads = cx->img->nthreads;
	r->stats.functions_total = cx->map->nunits;
	r->stats.modules = cx->map->nmodules;
	r->unit_reachable = calloc(cx->map->nunits ? cx->map->nunits : 1, 1);
	if (r->unit_reachable == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (unit set)");
	r->nunits = cx->map->nunits;
	for (size_t u = 0; u < cx->map->nunits; u++)
		if (cx->state[u].done) {
			r->stats.functions_reachable++;
			r->unit_reachable[u] = 1;
		}
	return r->source ? 0 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
}

int mg_scan_image(mg_image *img, const mg_scan_options *opt,
		  mg_scan_result **out, mg_error *err)
{
	double t0 = now_ms();
	mg_scan_ctx cx;
	*out = NULL;
	if (init_ctx(&cx, img, opt, err) != 0)
		goto fail;
	cx.map = opt->map != NULL ? opt->map : &cx.own_map;
	if ((opt->map == NULL && mg_codemap_build(img, &cx.own_map, err) != 0) ||
	    build_code_caches(&cx, err) != 0)
		goto fail;
	double t_map = now_ms();
	cx.state = calloc(cx.map->nunits ? cx.map->nunits : 1, sizeof(*cx.state));
	if (cx.state == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory (unit state)");
		goto fail;
	}
	cx.no_code_ref = calloc(cx.map->nunits ? cx.map->nunits : 1, 1);
	cx.no_call = calloc(cx.map->nunits ? cx.map->nunits : 1, 1);
	cx.refs_unfollowed = calloc(cx.map->nunits ? cx.map->nunits : 1, 1);
	cx.not_by_name = calloc(cx.map->nunits ? cx.map->nunits : 1, 1);
	if (cx.no_code_ref == NULL || cx.no_call == NULL || cx.refs_unfollowed == NULL ||
	    cx.not_by_name == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory (unit flags)");
		goto fail;
	}
	mg_lazy_init(&cx);
	mg_ifunc_init(&cx);
	if (mg_dlsym_init(&cx) != 0 || mg_data_init(&cx) != 0 || mg_gap_init(&cx) != 0) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory (dlsym, data objects, gaps)");
		goto fail;
	}
	mg_elision_init(&cx);
	mg_contracts_init(&cx);
	mg_tzcnt_init(&cx);
	mg_captest_init(&cx);
	if (mg_add_roots(&cx, err) != 0)
		goto fail;
	double t_roots = now_ms();
	guint head = 0;
	mg_worklist_drain(&cx, &head);
	/* Constant dlsym names reach more code, which may call dlsym again. */
	while (!cx.dlsym.unbounded && mg_dlsym_resolve(&cx))
		mg_worklist_drain(&cx, &head);
	widen_for_dlsym(&cx);
	mg_worklist_drain(&cx, &head);
	warn_unresolved(&cx);
	mg_tzcnt_report(&cx);
	add_state_features(&cx);
	mg_feature_set present = cx.res->required;
	mg_jit_account(&cx);
	cx.res->generated = cx.res->required;
	mg_fset_subtract(&cx.res->generated, &present);
	if (opt->host_undecided) {
		cx.res->conditional = cx.res->required;
		mg_fset_intersect(&cx.res->conditional, opt->host_undecided);
	}
	double t_decode = now_ms();
	if (finish_result(&cx, err) != 0)
		goto fail;
	cx.res->stats.codemap_ms = t_map - t0;
	cx.res->stats.roots_ms = t_roots - t_map;
	cx.res->stats.decode_ms = t_decode - t_roots;
	cx.res->stats.wall_ms = now_ms() - t0;
	*out = cx.res;
	cx.res = NULL;
	free_ctx(&cx);
	return 0;
fail:
	free_ctx(&cx);
	return -1;
}
