/*
 * memscan.c - reading target memory and finding the code pointers in it.
 *
 * Every aligned word of writable memory is a potential code pointer, as is
 * its PTR_MANGLE-demangled value.  For a large heap this is the longest
 * stage of a scan, and its cost splits about evenly between the kernel
 * copying the pages out (process_vm_readv) and the word loop.  So a large
 * range is scanned as a two-stage pipeline:
 *
 *   main thread:   read chunk k+1          | follow the hits of chunk k
 *   filter thread: filter the words of chunk k
 *
 * The filter thread never reads the image (back-ends keep unlocked state
 * such as cached file descriptors; the decoding workers that run later
 * read it under slot_lock) and never touches the reach state
 * (mg_reach_address): it reads nothing but its buffer and the code map,
 * which no longer changes once roots are being added.  Hits
 * are followed in address order, so the result is the sequential one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

#define SCAN_CHUNK (1u << 20)                  /* bytes per read */
#define PIPELINE_MIN ((uint64_t)16 << 20)      /* smaller ranges: one thread */

/* A word that lies in a code region or in module data, and how it was
 * found. */
typedef struct word_hit {
	uint64_t addr;
	mg_reason why;
	bool data;          /* a data chunk's address (data.c), not code */
} word_hit;

static inline uint64_t ror64(uint64_t v, unsigned n)
{
	return (v >> n) | (v << (64 - n));
}

/*
 * Append to hits every word of buf (at runtime address base) that passes
 * the cheap code filters, as is (reason why) and demangled.  Reads only
 * cx->map and the pointer guard: safe off the main thread.
 */
static void filter_words(const mg_scan_ctx *cx, const uint8_t *buf, size_t len,
			 uint64_t base, mg_reason why, GArray *hits)
{
	const mg_codemap *map = cx->map;
	const mg_data_state *data = &cx->data;
	const uint64_t lo = map->lo, hi = map->hi;
	const bool demangle = cx->img->pointer_guard_known;
	const uint64_t guard = cx->img->pointer_guard;
	size_t skip = (8 - (base & 7)) & 7;    /* first 8-byte aligned word */

	for (size_t off = skip; off + 8 <= len; off += 8) {
		uint64_t v;
		memcpy(&v, buf + off, 8);
		/* A library's code and data often share a 2 MiB region:
		 * a word can pass both filters. */
		if (v - lo < hi - lo && mg_codemap_in_code_region(map, v)) {
			word_hit h = { v, why, false };
			g_array_append_val(hits, h);
		}
		if (mg_data_maybe(data, v)) {
			word_hit h = { v, why, true };
			g_array_append_val(hits, h);
		}
		if (demangle) {
			/* glibc PTR_DEMANGLE: ror 0x11, then xor the guard
			 * (only code pointers are mangled) */
			uint64_t d = ror64(v, 0x11) ^ guard;
			if (d - lo < hi - lo && mg_codemap_in_code_region(map, d)) {
				word_hit h = { d, MG_WHY_MANGLED, false };
				g_array_append_val(hits, h);
			}
		}
	}
}

/*
 * Follow the hits of memory found for `why`.  Words of a data chunk lead
 * on from the code unit that reached the chunk (the reach path then reads
 * "f -(pointer in table)-> g"); data addresses reach more chunks.
 */
static void follow_hits(mg_scan_ctx *cx, const GArray *hits, mg_reason why, uint32_t detail)
{
	uint32_t parent = why == MG_WHY_DATA ? mg_data_code_parent(cx, detail) : MG_NO_UNIT;
	for (guint i = 0; i < hits->len; i++) {
		const word_hit *h = &g_array_index(hits, word_hit, i);
		if (h->data)
			mg_data_reach(cx, h->addr, why, parent, detail);
		else
			mg_reach_address(cx, h->addr, h->why, parent, detail);
	}
}

void mg_scan_words(mg_scan_ctx *cx, const uint8_t *buf, size_t len,
		   uint64_t base, mg_reason why, uint32_t detail)
{
	GArray *hits = g_array_new(FALSE, FALSE, sizeof(word_hit));
	filter_words(cx, buf, len, base, why, hits);
	follow_hits(cx, hits, why, detail);
	g_array_free(hits, TRUE);
}

/* Without the memory to scan, any function could be pointed to. */
static void reach_every_unit(mg_scan_ctx *cx, uint32_t detail)
{
	if (cx->all_units_reached)
		return;
	cx->all_units_reached = true;
	for (size_t u = 0; u < cx->map->nunits; u++)
		mg_reach_unit(cx, (uint32_t)u, MG_WHY_MEMORY, MG_NO_UNIT, detail);
}

static void widen_all(mg_scan_ctx *cx, uint64_t start, uint32_t detail)
{
	mg_image_warn(cx->img, "out of memory scanning 0x%" PRIx64
		      "; result widened to every function", start);
	reach_every_unit(cx, detail);
}

/*
 * Read up to one chunk at *at into buf.  On memory that cannot be read
 * (a CRIU dump without those pages, a device mapping), widen: a word there
 * could point to any function (soundness first).  Nothing read afterwards
 * can change that answer, so the rest of the range is skipped rather than
 * probed page by page (a huge unreadable mapping would take minutes), and
 * the warning names the range from the first unreadable byte.  Returns 0
 * then, with *at at end.
 */
static size_t read_chunk(mg_scan_ctx *cx, uint64_t *at, uint64_t end, uint8_t *buf,
			 uint32_t detail)
{
	size_t want = end - *at < SCAN_CHUNK ? (size_t)(end - *at) : SCAN_CHUNK;
	ssize_t got = mg_image_read(cx->img, *at, buf, want);
	if (got > 0)
		return (size_t)got;
	mg_image_warn(cx->img, "memory at 0x%" PRIx64 "-0x%" PRIx64 " unreadable; a code "
		      "pointer stored there could name any function: every function "
		      "is treated as reachable", *at, end);
	reach_every_unit(cx, detail);
	*at = end;
	return 0;
}

static void scan_sequential(mg_scan_ctx *cx, uint64_t start, uint64_t end,
			    mg_reason why, uint32_t detail)
{
	uint8_t small[4096];
	bool fits = end - start <= sizeof(small);   /* most data objects */
	uint8_t *buf = fits ? small : malloc(SCAN_CHUNK);
	if (buf == NULL) {
		widen_all(cx, start, detail);
		return;
	}
	for (uint64_t at = start; at < end;) {
		uint64_t from = at;
		size_t got = read_chunk(cx, &at, end, buf, detail);
		if (got == 0)
			continue;
		mg_scan_words(cx, buf, got, from, why, detail);
		at += got;
	}
	if (!fits)
		free(buf);
}

/* --- the pipeline ------------------------------------------------------------ */

typedef struct scan_job {
	uint8_t *buf;
	size_t len;
	uint64_t base;
	GArray *hits;               /* word_hit, filled by the filter thread */
} scan_job;

typedef struct pipeline {
	const mg_scan_ctx *cx;
	mg_reason why;              /* of every word scanned */
	GAsyncQueue *todo, *done;   /* scan_job *, in submission order */
	scan_job jobs[2];           /* one being read, one being filtered */
	scan_job stop;              /* pushed to end the filter thread */
} pipeline;

static gpointer filter_thread(gpointer data)
{
	pipeline *p = data;
	for (;;) {
		scan_job *j = g_async_queue_pop(p->todo);
		if (j == &p->stop)
			return NULL;
		g_array_set_size(j->hits, 0);
		filter_words(p->cx, j->buf, j->len, j->base, p->why, j->hits);
		g_async_queue_push(p->done, j);
	}
}

static void pipeline_free(pipeline *p)
{
	for (int i = 0; i < 2; i++) {
		free(p->jobs[i].buf);
		if (p->jobs[i].hits)
			g_array_free(p->jobs[i].hits, TRUE);
	}
	g_async_queue_unref(p->todo);
	g_async_queue_unref(p->done);
}

static bool pipeline_init(pipeline *p, const mg_scan_ctx *cx, mg_reason why)
{
	memset(p, 0, sizeof(*p));
	p->cx = cx;
	p->why = why;
	p->todo = g_async_queue_new();
	p->done = g_async_queue_new();
	for (int i = 0; i < 2; i++) {
		p->jobs[i].buf = malloc(SCAN_CHUNK);
		p->jobs[i].hits = g_array_new(FALSE, FALSE, sizeof(word_hit));
		if (p->jobs[i].buf == NULL) {
			pipeline_free(p);
			return false;
		}
	}
	return true;
}

/* Read on this thread while the filter thread works on the previous chunk. */
static void run_pipeline(mg_scan_ctx *cx, pipeline *p, uint64_t start, uint64_t end,
			 uint32_t detail)
{
	scan_job *idle[2] = { &p->jobs[0], &p->jobs[1] };
	int nidle = 2;
	for (uint64_t at = start; at < end;) {
		if (nidle == 0) {
			scan_job *j = g_async_queue_pop(p->done);
			follow_hits(cx, j->hits, p->why, detail);
			idle[nidle++] = j;
		}
		scan_job *j = idle[--nidle];
		j->base = at;
		j->len = read_chunk(cx, &at, end, j->buf, detail);
		if (j->len == 0) {
			idle[nidle++] = j;
			continue;
		}
		at += j->len;
		g_async_queue_push(p->todo, j);
	}
	while (nidle < 2) {
		scan_job *j = g_async_queue_pop(p->done);
		follow_hits(cx, j->hits, p->why, detail);
		nidle++;
	}
}

void mg_scan_memory(mg_scan_ctx *cx, uint64_t start, uint64_t end, uint32_t detail)
{
	mg_scan_memory_as(cx, start, end, MG_WHY_MEMORY, detail);
}

void mg_scan_memory_as(mg_scan_ctx *cx, uint64_t start, uint64_t end, mg_reason why,
		       uint32_t detail)
{
	if (cx->all_units_reached)
		return;         /* every function is reachable already */
	if (end - start < PIPELINE_MIN || cx->nthreads < 2) {
		scan_sequential(cx, start, end, why, detail);
		return;
	}
	pipeline p;
	if (!pipeline_init(&p, cx, why)) {
		scan_sequential(cx, start, end, why, detail);
		return;
	}
	GThread *t = g_thread_try_new("mg-memscan", filter_thread, &p, NULL);
	if (t == NULL) {
		pipeline_free(&p);
		scan_sequential(cx, start, end, why, detail);
		return;
	}
	run_pipeline(cx, &p, start, end, detail);
	g_async_queue_push(p.todo, &p.stop);
	g_thread_join(t);
	pipeline_free(&p);
}
