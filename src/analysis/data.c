/*
 * data.c - module data as units of reachability.
 *
 * A module's data holds the function pointers of its tables: OpenBLAS's
 * gotoblas_HASWELL, gotoblas_SKYLAKEX, ... (one table of kernels per CPU
 * type), libgcrypt's digest and cipher specs, OpenSSL's method tables.
 * Scanning all of it as roots makes every table's functions reachable,
 * though the process can only ever use the tables it can address.  So the
 * sections a compiler fills with C objects (.data.rel.ro, .data, .bss,
 * process/module_data.c) are not roots: each object is scanned for
 * pointers only once something that can run can address it:
 *
 *   - reachable code takes its address (RIP-relative lea or load, an
 *     absolute immediate, a GOT slot that holds it: decode.c);
 *   - a pointer to it is in memory that is scanned (a root: stacks,
 *     registers, heap, the rest of the module data; or another object
 *     that was reached);
 *   - dlsym can return it (dlsym.c: a constant name, or every export).
 *
 * What is not an object (a stripped module's data, the bytes between
 * symbols) is a section's unnamed data, reached as one block by any
 * reference into it (no C object spans two sections).  Everything else stays a root: the GOT is followed
 * through the code that reads it (roots.c); .fini_array, .dynamic, .tdata
 * and sections walked by bounds are scanned whole; .init_array and
 * .preinit_array too unless every initializer has run (initdone.c).
 *
 * Soundness rests on C's rule that a pointer stays within its object (or
 * one past its end).  Compilers bend it in one known way: a loop over
 * a[i - k] may address a - k*size.  So an address also reaches the object
 * that ends exactly there, and one that code computes (or a thread keeps
 * in a register or on its stack) every object that starts up to
 * MG_DATA_WINDOW bytes after it.  Unreadable data widens as any memory
 * does (memscan.c).  docs/analysis.md has the argument in full.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

/* How far after a reference an object it may address can start. */
#define MG_DATA_WINDOW 256u

static int cmp_chunk(const void *a, const void *b)
{
	const mg_data_chunk *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_range(const void *a, const void *b)
{
	const mg_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static bool push_chunk(GArray *out, uint64_t start, uint64_t end, uint32_t module,
		       int section, const char *name, bool anon)
{
	if (end <= start)
		return true;
	mg_data_chunk c = {
		.start = start, .end = end, .module = module, .name = name,
		.section = (uint8_t)section, .anon = anon, .parent = MG_NO_UNIT,
	};
	g_array_append_val(out, c);
	return true;
}

/* Cut one split section of a loaded module into its objects and the
 * unnamed bytes between them (runtime addresses). */
static void cut_section(GArray *out, const mg_loaded_module *lm, uint32_t mi, int k)
{
	const mg_range *sec = &lm->module->data_sections[k];
	const mg_module *m = lm->module;
	uint64_t at = sec->start;
	/* Objects are sorted: find the first one inside the section. */
	size_t lo = 0, hi = m->nobjects;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->objects[mid].start < sec->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->nobjects && m->objects[i].start < sec->end; i++) {
		const mg_data_object *o = &m->objects[i];
		push_chunk(out, at + lm->bias, o->start + lm->bias, mi, k, NULL, true);
		push_chunk(out, o->start + lm->bias, o->end + lm->bias, mi, k, o->name, false);
		at = o->end;
	}
	push_chunk(out, at + lm->bias, sec->end + lm->bias, mi, k, NULL, true);
}

static void add_excluded(GArray *ex, uint64_t start, uint64_t end)
{
	if (end > start) {
		mg_range r = { start, end };
		g_array_append_val(ex, r);
	}
}

/* Ranges never scanned as roots, sorted and merged. */
static void build_excluded(mg_scan_ctx *cx, GArray *ex)
{
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		const mg_module *m = lm->module;
		add_excluded(ex, m->got.start + lm->bias, m->got.end + lm->bias);
		if (cx->opt->method == MG_METHOD_FULL)
			continue;
		for (int k = 0; k < MG_DATA_SECTIONS; k++)
			add_excluded(ex, m->data_sections[k].start + lm->bias,
				     m->data_sections[k].end + lm->bias);
		if (cx->data.initializers_done) {
			add_excluded(ex, m->init_array.start + lm->bias,
				     m->init_array.end + lm->bias);
			add_excluded(ex, m->preinit_array.start + lm->bias,
				     m->preinit_array.end + lm->bias);
		}
	}
	g_array_sort(ex, cmp_range);
	guint w = 0;
	for (guint i = 0; i < ex->len; i++) {
		mg_range r = g_array_index(ex, mg_range, i);
		if (w > 0 && r.start <= g_array_index(ex, mg_range, w - 1).end) {
			mg_range *last = &g_array_index(ex, mg_range, w - 1);
			if (r.end > last->end)
				last->end = r.end;
			continue;
		}
		g_array_index(ex, mg_range, w++) = r;
	}
	g_array_set_size(ex, w);
}

static void set_region_bits(mg_data_state *d)
{
	for (size_t i = 0; i < d->nchunks; i++) {
		uint64_t s = d->chunks[i].start, e = d->chunks[i].end;
		if (e > (1ull << MG_USER_SPACE_BITS))
			continue;       /* cannot be a user address: never looked up */
		for (uint64_t r = s >> MG_REGION_SHIFT; r <= (e - 1) >> MG_REGION_SHIFT; r++)
			d->region_bits[r >> 3] |= (uint8_t)(1u << (r & 7));
	}
}

/* Each module's chunks are contiguous once sorted (modules do not
 * overlap): remember where they start and end. */
static int index_modules(mg_scan_ctx *cx)
{
	mg_data_state *d = &cx->data;
	size_t n = cx->map->nmodules ? cx->map->nmodules : 1;
	d->mod_first = calloc(n, sizeof(*d->mod_first));
	d->mod_end = calloc(n, sizeof(*d->mod_end));
	if (d->mod_first == NULL || d->mod_end == NULL)
		return -1;
	for (size_t i = 0; i < d->nchunks; i++) {
		uint32_t mi = d->chunks[i].module;
		if (d->mod_end[mi] == 0)
			d->mod_first[mi] = (uint32_t)i;
		d->mod_end[mi] = (uint32_t)i + 1;
	}
	return 0;
}

int mg_data_init(mg_scan_ctx *cx)
{
	mg_data_state *d = &cx->data;
	d->queue = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	d->dispatchers = g_array_new(FALSE, FALSE, sizeof(mg_dispatch_unit));
	if (cx->opt->method != MG_METHOD_FULL)
		d->initializers_done = mg_initializers_done(cx);
	GArray *ex = g_array_new(FALSE, FALSE, sizeof(mg_range));
	build_excluded(cx, ex);
	d->nexcluded = ex->len;
	d->excluded = (mg_range *)g_array_free(ex, FALSE);
	if (cx->opt->method == MG_METHOD_FULL)
		return 0;

	GArray *chunks = g_array_new(FALSE, FALSE, sizeof(mg_data_chunk));
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		for (int k = 0; k < MG_DATA_SECTIONS; k++)
			if (lm->module->data_sections[k].end > lm->module->data_sections[k].start)
				cut_section(chunks, lm, (uint32_t)i, k);
	}
	g_array_sort(chunks, cmp_chunk);
	d->nchunks = chunks->len;
	d->chunks = (mg_data_chunk *)g_array_free(chunks, FALSE);
	d->region_bits = calloc(((1ull << MG_USER_SPACE_BITS) >> MG_REGION_SHIFT) / 8, 1);
	if (d->region_bits == NULL || index_modules(cx) != 0)
		return -1;
	if (d->nchunks) {
		d->lo = d->chunks[0].start;
		d->hi = d->chunks[d->nchunks - 1].end;
	}
	set_region_bits(d);
	for (size_t i = 0; i < d->nchunks; i++)
		if (!d->chunks[i].anon)
			d->nobjects++;
	mg_dispatch_init(cx);
	return 0;
}

void mg_data_free(mg_scan_ctx *cx)
{
	mg_data_state *d = &cx->data;
	free(d->chunks);
	free(d->excluded);
	free(d->region_bits);
	free(d->mod_first);
	free(d->mod_end);
	if (d->queue)
		g_array_free(d->queue, TRUE);
	if (d->dispatchers)
		g_array_free(d->dispatchers, TRUE);
	memset(d, 0, sizeof(*d));
}

uint32_t mg_data_find(const mg_scan_ctx *cx, uint64_t addr)
{
	const mg_data_state *d = &cx->data;
	if (!mg_data_maybe(d, addr))
		return MG_NO_UNIT;
	size_t lo = 0, hi = d->nchunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < d->chunks[mid].start)
			hi = mid;
		else if (addr >= d->chunks[mid].end)
			lo = mid + 1;
		else
			return (uint32_t)mid;
	}
	return MG_NO_UNIT;
}

static void queue_chunk(mg_data_state *d, uint32_t i, mg_reason why, uint32_t parent,
			uint32_t from)
{
	mg_data_chunk *c = &d->chunks[i];
	if (c->reached)
		return;
	c->reached = 1;
	c->why = (uint8_t)why;
	c->parent = parent;
	c->from = from;
	d->nreached++;
	g_array_append_val(d->queue, i);
}

/* Reach chunk i.  The unnamed data of one section is reached as one:
 * its objects' bounds are unknown, but none spans two sections. */
static void reach_chunk(mg_scan_ctx *cx, uint32_t i, mg_reason why, uint32_t parent,
			uint32_t from)
{
	mg_data_state *d = &cx->data;
	const mg_data_chunk *c = &d->chunks[i];
	if (c->reached || (why == MG_WHY_CODE_REF && mg_dispatch_skips(cx, parent, c)))
		return;
	queue_chunk(d, i, why, parent, from);
	if (!c->anon)
		return;
	for (uint32_t k = d->mod_first[c->module]; k < d->mod_end[c->module]; k++)
		if (d->chunks[k].anon && d->chunks[k].section == c->section)
			queue_chunk(d, k, why, parent, from);
}

/* The first chunk that ends after addr. */
static size_t first_ending_after(const mg_data_state *d, uint64_t addr)
{
	size_t lo = 0, hi = d->nchunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->chunks[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Can an address near chunk c, but outside it, stand for it?  For an
 * object, yes (a biased base, an end pointer).  Unnamed bytes shorter
 * than MG_DATA_PADDING between two objects are alignment padding; the
 * unnamed data of a stripped module or what a compiler emits without a
 * symbol is longer, and counts too.
 */
#define MG_DATA_PADDING 64u

static bool near_counts(const mg_data_chunk *c)
{
	return !c->anon || c->end - c->start >= MG_DATA_PADDING;
}

void mg_data_reach(mg_scan_ctx *cx, uint64_t addr, mg_reason why, uint32_t parent,
		   uint32_t from)
{
	mg_data_state *d = &cx->data;
	if (d->nchunks == 0 || addr + MG_DATA_WINDOW < d->lo || addr > d->hi)
		return;
	size_t i = first_ending_after(d, addr);
	/* One past the end of the object before (a loop's end pointer).
	 * Not for unnamed data: every link_map holds pointers just past it
	 * (l_ld and l_info[] to .dynamic, which follows .data.rel.ro;
	 * l_map_end, the end of .bss), and code addresses what the compiler
	 * emitted without a symbol by its start. */
	if (i > 0 && d->chunks[i - 1].end == addr && !d->chunks[i - 1].anon)
		reach_chunk(cx, (uint32_t)(i - 1), why, parent, from);
	/* The chunk holding addr... */
	if (i < d->nchunks && d->chunks[i].start <= addr) {
		reach_chunk(cx, (uint32_t)i, why, parent, from);
		i++;
	}
	/* ...and the objects a biased base may stand for: code computes one
	 * (a lea), a loop may keep it in a register or its stack frame;
	 * pointers stored in the heap and in data point into their objects,
	 * and so does one code loads from data (MG_WHY_SLOT). */
	if (why == MG_WHY_MEMORY || why == MG_WHY_DATA || why == MG_WHY_DLSYM ||
	    why == MG_WHY_SLOT)
		return;
	for (; i < d->nchunks && d->chunks[i].start <= addr + MG_DATA_WINDOW; i++)
		if (near_counts(&d->chunks[i]))
			reach_chunk(cx, (uint32_t)i, why, parent, from);
}

/* The code unit a chunk's pointers are reached from, for the evidence. */
uint32_t mg_data_code_parent(const mg_scan_ctx *cx, uint32_t chunk)
{
	return chunk < cx->data.nchunks ? cx->data.chunks[chunk].parent : MG_NO_UNIT;
}

bool mg_data_drain(mg_scan_ctx *cx)
{
	mg_data_state *d = &cx->data;
	bool any = false;
	while (d->head < d->queue->len) {
		uint32_t i = g_array_index(d->queue, uint32_t, d->head++);
		const mg_data_chunk *c = &d->chunks[i];
		d->bytes += c->end - c->start;
		mg_scan_memory_as(cx, c->start, c->end, MG_WHY_DATA, i);
		any = true;
	}
	return any;
}

void mg_data_scan_roots(mg_scan_ctx *cx, uint64_t start, uint64_t end, uint32_t detail)
{
	const mg_data_state *d = &cx->data;
	/* The first excluded range that ends after start. */
	size_t lo = 0, hi = d->nexcluded;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->excluded[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t at = start;
	for (size_t i = lo; i < d->nexcluded && d->excluded[i].start < end && at < end; i++) {
		if (d->excluded[i].start > at)
			mg_scan_memory(cx, at, d->excluded[i].start, detail);
		if (d->excluded[i].end > at)
			at = d->excluded[i].end;
	}
	if (at < end)
		mg_scan_memory(cx, at, end, detail);
}

void mg_data_reach_export(mg_scan_ctx *cx, const char *name)
{
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		uint64_t va;
		if (!mg_module_export_object(lm->module, name, &va))
			continue;
		uint32_t c = mg_data_find(cx, va + lm->bias);
		if (c != MG_NO_UNIT)
			reach_chunk(cx, c, MG_WHY_DLSYM, MG_NO_UNIT, 0);
	}
}

size_t mg_data_reach_all_exports(mg_scan_ctx *cx)
{
	mg_data_state *d = &cx->data;
	size_t added = 0;
	for (size_t i = 0; i < d->nchunks; i++) {
		const mg_data_chunk *c = &d->chunks[i];
		const mg_module *m = cx->map->modules[c->module].module;
		uint64_t bias = cx->map->modules[c->module].bias;
		const mg_data_object *o = c->anon ? NULL : mg_module_object_at(m, c->start - bias);
		if (o == NULL || !o->exported || c->reached)
			continue;
		reach_chunk(cx, (uint32_t)i, MG_WHY_DLSYM, MG_NO_UNIT, 0);
		added++;
	}
	return added;
}

void mg_data_describe(const mg_scan_ctx *cx, uint32_t chunk, char *buf, size_t len)
{
	if (chunk >= cx->data.nchunks) {
		snprintf(buf, len, "data");
		return;
	}
	const mg_data_chunk *c = &cx->data.chunks[chunk];
	const char *path = cx->map->modules[c->module].name;
	const char *base = path ? strrchr(path, '/') : NULL;
	base = base ? base + 1 : path ? path : "?";
	if (c->name)
		snprintf(buf, len, "%s (%s)", c->name, base);
	else
		snprintf(buf, len, "unnamed data of %s at 0x%" PRIx64, base, c->start);
}
