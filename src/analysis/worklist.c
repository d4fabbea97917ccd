/*
 * worklist.c - the reachability worklist, the core every analysis calls
 * back into.
 *
 *   roots --> queue --> decode a level of units (decode.c, on the decoding
 *   threads) --> their edges, folded in by the main thread --> queue
 *
 * Each function unit is decoded once; a gap again when it is entered
 * somewhere new (gap.c).  The main thread alone changes the queue and the
 * units' state, between levels.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "analysis/summary_cache.h"

static void queue_unit(mg_scan_ctx *cx, uint32_t unit, mg_reason why,
		       uint32_t parent, uint32_t detail)
{
	mg_unit_state *st = &cx->state[unit];
	if (cx->dlsym.watch && cx->dlsym.watch[unit])
		mg_dlsym_note(cx, unit, why, parent);
	if (cx->map->units[unit].kind == MG_UNIT_VDSO)
		return;     /* the vDSO and vsyscall page come from the destination kernel */
	if (st->queued) {
		/* A gap decoded already may have been entered somewhere new. */
		if (st->done && mg_unit_is_gap(cx->map, unit) && mg_gap_has_work(cx, unit)) {
			st->done = 0;
			g_array_append_val(cx->queue, unit);
		}
		return;
	}
	st->queued = 1;
	st->why = (uint8_t)why;
	st->parent = parent;
	st->detail = detail;
	g_array_append_val(cx->queue, unit);
	/* A resolver that already chose returns that variant, whoever runs it
	 * (its references to the others lead nowhere: ifunc.c). */
	if (cx->resolved_resolver && cx->resolved_resolver[unit])
		mg_reach_address(cx, mg_ifunc_target(cx, cx->map->units[unit].start),
				 MG_WHY_CODE_REF, unit, 0);
}

size_t mg_mark_units_named(mg_scan_ctx *cx, uint32_t module, bool (*named)(const char *),
			   uint8_t *flags)
{
	size_t n = 0;
	for (size_t u = 0; u < cx->map->nunits; u++) {
		const mg_unit *unit = &cx->map->units[u];
		if (unit->module == module && unit->func && named(unit->func->name)) {
			flags[u] = 1;
			n++;
		}
	}
	return n;
}

void mg_reach_again(mg_scan_ctx *cx, uint32_t unit)
{
	mg_unit_state *st = &cx->state[unit];
	if (st->queued && st->done) {
		st->done = 0;
		g_array_append_val(cx->queue, unit);
	}
}

/* Reached with no address: a gap is then swept whole (gap.c). */
void mg_reach_unit(mg_scan_ctx *cx, uint32_t unit, mg_reason why,
		   uint32_t parent, uint32_t detail)
{
	if (mg_unit_is_gap(cx->map, unit))
		mg_gap_whole(cx, unit);
	else if (cx->capvec.entries)  /* at its start, with nothing known */
		mg_captest_entered(cx, unit, cx->map->units[unit].start, MG_NO_UNIT);
	queue_unit(cx, unit, why, parent, detail);
}

/* Reach unit, entered at addr: a gap is decoded from there (gap.c), and
 * an entry into a function OpenSSL's tests were folded in joins the fold's
 * entries (captest.c). */
static void reach_at(mg_scan_ctx *cx, uint32_t unit, uint64_t addr, mg_reason why,
		     uint32_t parent, uint32_t detail)
{
	if (cx->map->units[unit].kind == MG_UNIT_VDSO)
		return;
	if (mg_unit_is_gap(cx->map, unit))
		mg_gap_enter(cx, unit, addr);
	else if (cx->capvec.entries)
		mg_captest_entered(cx, unit, addr, parent);
	queue_unit(cx, unit, why, parent, detail);
}

bool mg_reach_address(mg_scan_ctx *cx, uint64_t addr, mg_reason why,
		      uint32_t parent, uint32_t detail)
{
	/* Most edges (jcc, loops) stay inside the unit being decoded, which
	 * counts whole; a gap counts only from its entries. */
	if (parent != MG_NO_UNIT && addr >= cx->map->units[parent].start &&
	    addr < cx->map->units[parent].end && !mg_unit_is_gap(cx->map, parent))
		return true;
	uint32_t unit = mg_codemap_find(cx->map, addr);
	if (unit == MG_NO_UNIT)
		return false;
	reach_at(cx, unit, addr, why, parent, detail);
	return true;
}

static void worker_init(mg_worker *w, mg_scan_ctx *cx)
{
	memset(w, 0, sizeof(*w));
	w->cx = cx;
	w->edges = g_array_new(FALSE, FALSE, sizeof(mg_edge));
	w->data_edges = g_array_new(FALSE, FALSE, sizeof(mg_data_edge));
	w->evidence = g_ptr_array_new();
	w->explained = g_hash_table_new(g_direct_hash, g_direct_equal);
	w->unresolved = g_ptr_array_new_with_free_func(g_free);
	w->fresh = g_array_new(FALSE, FALSE, sizeof(mg_fresh_summary));
	w->gap_unit = MG_NO_UNIT;
	w->gap_local = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	w->folds = g_array_new(FALSE, FALSE, sizeof(mg_fold_found));
	w->tzcnt_counted = g_array_new(FALSE, FALSE, sizeof(uint32_t));
}

static void worker_free(mg_worker *w)
{
	g_array_free(w->edges, TRUE);
	g_array_free(w->data_edges, TRUE);
	for (guint i = 0; i < w->evidence->len; i++)
		mg_evidence_free(g_ptr_array_index(w->evidence, i));
	g_ptr_array_free(w->evidence, TRUE);
	g_hash_table_destroy(w->explained);
	g_ptr_array_free(w->unresolved, TRUE);
	for (guint i = 0; i < w->fresh->len; i++)
		mg_unit_summary_free(&g_array_index(w->fresh, mg_fresh_summary, i).summary);
	g_array_free(w->fresh, TRUE);
	g_array_free(w->gap_local, TRUE);
	for (guint i = 0; i < w->folds->len; i++)     /* not registered: an error path */
		mg_captest_fold_free(g_array_index(w->folds, mg_fold_found, i).fold);
	g_array_free(w->folds, TRUE);
	g_array_free(w->tzcnt_counted, TRUE);
}

static gpointer worker_run(gpointer data)
{
	mg_worker *w = data;
	for (size_t i = 0; i < w->nunits; i++)
		mg_decode_unit(w, w->units[i]);
	return NULL;
}

/* Fold a worker's findings into the result and the worklist. */
static void worker_merge(mg_scan_ctx *cx, mg_worker *w)
{
	mg_scan_result *r = cx->res;
	mg_fset_union(&r->required, &w->required);
	mg_fset_union(&r->seen, &w->seen);
	for (size_t f = 0; f < MG_FEATURE_SET_BITS; f++) {
		r->feature_sites[f] += w->sites[f];
		r->hint_sites[f] += w->hint_sites[f];
	}
	mg_fset_union(&r->hints, &w->hints);
	r->unknown_isa_sites += w->unknown_isa_sites;
	if (w->widened)
		mg_image_warn(cx->img, "out of memory while decoding: every feature of "
			      "this host is assumed required");
	if (w->unreadable_slot != 0)
		mg_image_warn(cx->img, "GOT slot at 0x%" PRIx64 " unreadable: the function it "
			      "names is unknown; every feature of this host is assumed required",
			      w->unreadable_slot);
	r->stats.bytes_decoded += w->bytes;
	r->stats.instructions_decoded += w->instructions;
	mg_merge_evidence(cx, w);
	for (guint i = 0; i < w->edges->len; i++) {
		const mg_edge *e = &g_array_index(w->edges, mg_edge, i);
		reach_at(cx, e->unit, e->addr, (mg_reason)e->why, e->parent, 0);
	}
	for (guint i = 0; i < w->data_edges->len; i++) {
		const mg_data_edge *e = &g_array_index(w->data_edges, mg_data_edge, i);
		mg_data_reach(cx, e->addr, e->stored ? MG_WHY_SLOT : MG_WHY_CODE_REF, e->parent,
			      e->parent);
	}
	for (guint i = 0; i < w->unresolved->len; i++)
		g_hash_table_add(cx->unresolved, g_strdup(g_ptr_array_index(w->unresolved, i)));
	mg_tzcnt_merge(cx, w->tzcnt_counted);
	for (guint i = 0; i < w->fresh->len; i++) {
		const mg_fresh_summary *f = &g_array_index(w->fresh, mg_fresh_summary, i);
		mg_summary_cache_put(cx->cache, f->map_hash, f->key, f->len, &f->summary);
	}
}

/* Small levels are not worth a thread start. */
#define PARALLEL_MIN_BYTES (256u << 10)

/*
 * Decode one level of the worklist (the units queued so far and not yet
 * decoded), split by bytes across the decoding threads.
 */
static void decode_level(mg_scan_ctx *cx, guint from, guint to)
{
	const uint32_t *units = &g_array_index(cx->queue, uint32_t, from);
	size_t n = to - from;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		cx->state[units[i]].done = 1;
		mg_unit_bytes(cx, units[i]);      /* read code before threads start */
		total += cx->map->units[units[i]].end - cx->map->units[units[i]].start;
	}
	unsigned nw = total < PARALLEL_MIN_BYTES ? 1 : cx->nthreads;
	mg_worker w[8];
	GThread *th[8] = { NULL };
	size_t i = 0;
	for (unsigned k = 0; k < nw; k++) {
		worker_init(&w[k], cx);
		uint64_t share = 0, want = total / nw;
		w[k].units = units + i;
		while (i < n && (k == nw - 1 || share < want)) {
			share += cx->map->units[units[i]].end - cx->map->units[units[i]].start;
			i++;
		}
		w[k].nunits = (size_t)(units + i - w[k].units);
		if (k > 0)
			th[k] = g_thread_try_new("mg-decode", worker_run, &w[k], NULL);
	}
	worker_run(&w[0]);
	for (unsigned k = 1; k < nw; k++) {
		if (th[k])
			g_thread_join(th[k]);
		else
			worker_run(&w[k]);            /* no thread: do it here */
	}
	/* Folds first: an edge of one worker may enter a unit another folded. */
	for (unsigned k = 0; k < nw; k++) {
		for (guint f = 0; f < w[k].folds->len; f++) {
			const mg_fold_found *ff = &g_array_index(w[k].folds, mg_fold_found, f);
			mg_captest_register(cx, ff->unit, ff->fold);
		}
		g_array_set_size(w[k].folds, 0);
	}
	for (unsigned k = 0; k < nw; k++) {
		worker_merge(cx, &w[k]);
		worker_free(&w[k]);
	}
}

/* Decode level after level, and scan the data objects the code reached,
 * until nothing new is reachable. */
void mg_worklist_drain(mg_scan_ctx *cx, guint *head)
{
	do {
		while (*head < cx->queue->len) {
			guint to = cx->queue->len;
			decode_level(cx, *head, to);
			*head = to;
		}
	} while (mg_data_drain(cx));
}

