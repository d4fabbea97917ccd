/*
 * evidence.c - where each feature is needed, and how that code is reached.
 *
 * One example site per feature is kept (the first found), or every site of
 * the feature asked for with --explain.  Instruction text is formatted only
 * for kept sites, so the cost is per feature, not per instruction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

static const char *const reason_names[MG_WHY_COUNT] = {
	[MG_WHY_NONE]        = "?",
	[MG_WHY_THREAD_PC]   = "pc of thread",
	[MG_WHY_REGISTER]    = "register of thread",
	[MG_WHY_XSTATE]      = "vector register of thread",
	[MG_WHY_STACK]       = "stack of thread",
	[MG_WHY_MEMORY]      = "pointer in memory",
	[MG_WHY_MANGLED]     = "mangled pointer in memory",
	[MG_WHY_SIGNAL]      = "handler of signal",
	[MG_WHY_FINI]        = "DT_FINI",
	[MG_WHY_JIT]         = "anonymous executable memory",
	[MG_WHY_OPAQUE]      = "unparsed executable file",
	[MG_WHY_FULL]        = "full sweep",
	[MG_WHY_DLSYM]       = "exported (dlsym is reachable)",
	[MG_WHY_DATA]        = "pointer in data",
	[MG_WHY_DIRECT]      = "call/jmp",
	[MG_WHY_CODE_REF]    = "address taken",
	[MG_WHY_SLOT]        = "pointer slot",
	[MG_WHY_LAZY]        = "lazy PLT binding",
	[MG_WHY_FALLTHROUGH] = "falls through",
};

const char *mg_reason_name(mg_reason why)
{
	return why < MG_WHY_COUNT ? reason_names[why] : "?";
}

static void describe_root(mg_scan_ctx *cx, const mg_unit_state *st,
			  char *buf, size_t len);

/*
 * "pointer in gotoblas_SKYLAKEX (libopenblas.so.0) <- pointer in memory
 * (... at 0x...)": the data chunk a code pointer was found in, and what
 * led to the chunk when no code did (a root, or another chunk).
 */
static void describe_chunk(mg_scan_ctx *cx, uint32_t chunk, char *buf, size_t len)
{
	size_t used = 0;
	for (int depth = 0; depth < 4 && chunk < cx->data.nchunks && used + 1 < len; depth++) {
		const mg_data_chunk *c = &cx->data.chunks[chunk];
		char name[160];
		mg_data_describe(cx, chunk, name, sizeof(name));
		int n = snprintf(buf + used, len - used, "%s%s", depth ? " <- " : "pointer in ", name);
		if (n < 0)
			return;
		used += (size_t)n < len - used ? (size_t)n : len - used - 1;
		if (c->why != MG_WHY_DATA || c->parent != MG_NO_UNIT) {
			if (c->parent == MG_NO_UNIT && used + 5 < len) {
				mg_unit_state root = { .why = c->why, .detail = c->from,
						       .parent = MG_NO_UNIT };
				memcpy(buf + used, " <- ", 5);
				used += 4;
				describe_root(cx, &root, buf + used, len - used);
			}
			return;
		}
		chunk = c->from;
	}
}

static void describe_root(mg_scan_ctx *cx, const mg_unit_state *st,
			  char *buf, size_t len)
{
	switch ((mg_reason)st->why) {
	case MG_WHY_DATA:
		describe_chunk(cx, st->detail, buf, len);
		return;
	case MG_WHY_THREAD_PC:
	case MG_WHY_REGISTER:
	case MG_WHY_XSTATE:
	case MG_WHY_STACK:
	case MG_WHY_SIGNAL:
		snprintf(buf, len, "%s %u", mg_reason_name(st->why), st->detail);
		return;
	case MG_WHY_MEMORY:
	case MG_WHY_MANGLED:
		if (st->detail < cx->img->nmaps) {
			const mg_mapping *m = &cx->img->maps[st->detail];
			const char *what = m->path ? m->path :
				m->kind == MG_MAP_HEAP ? "[heap]" :
				m->kind == MG_MAP_STACK ? "[stack]" : "anonymous memory";
			snprintf(buf, len, "%s (%s at 0x%" PRIx64 ")",
				 mg_reason_name(st->why), what, m->start);
			return;
		}
		break;
	default:
		break;
	}
	snprintf(buf, len, "%s", mg_reason_name(st->why));
}

char *mg_reach_path(mg_scan_ctx *cx, uint32_t unit)
{
	/* Walk back to the root, then print root first. */
	uint32_t chain[16];
	size_t n = 0;
	for (uint32_t u = unit; u != MG_NO_UNIT && n < 16; u = cx->state[u].parent)
		chain[n++] = u;
	GString *s = g_string_new(NULL);
	const mg_unit_state *root = &cx->state[chain[n - 1]];
	char buf[256];
	if (cx->state[chain[n - 1]].parent != MG_NO_UNIT)
		g_string_append(s, "... ");
	describe_root(cx, root, buf, sizeof(buf));
	g_string_append(s, buf);
	for (size_t i = n; i-- > 0;) {
		mg_unit_name(cx->map, chain[i], buf, sizeof(buf));
		if (i + 1 == n)
			g_string_append_printf(s, " -> %s", buf);
		else if (cx->state[chain[i]].why == MG_WHY_DATA) {
			char via[200];
			mg_data_describe(cx, cx->state[chain[i]].detail, via, sizeof(via));
			g_string_append_printf(s, " -(pointer in %s)-> %s", via, buf);
		} else
			g_string_append_printf(s, " -(%s)-> %s",
					       mg_reason_name(cx->state[chain[i]].why), buf);
	}
	return g_string_free(s, FALSE);
}

static char *format_insn(mg_scan_ctx *cx, uint64_t ip, const uint8_t *bytes,
			 size_t avail)
{
	ZydisDecodedInstruction full;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	char text[256];
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&cx->full_decoder, bytes, avail,
						 &full, ops)) ||
	    !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&cx->formatter, &full, ops,
							  full.operand_count_visible,
							  text, sizeof(text), ip, NULL)))
		snprintf(text, sizeof(text), "(undecodable at 0x%" PRIx64 ")", ip);
	return strdup(text);
}

/*
 * Should the worker keep this site?  Workers decide on their own copies of
 * the "already kept" flags; the main thread makes the final choice when it
 * merges (mg_merge_evidence), so the result is the same with any number of
 * threads.
 */
static bool want_site(mg_worker *w, mg_feature_id f, uint64_t ip)
{
	mg_scan_ctx *cx = w->cx;
	if (f == cx->opt->explain && f != MG_FEATURE_NONE) {
		gpointer key = GSIZE_TO_POINTER(ip);
		if (g_hash_table_contains(w->explained, key))
			return false;
		g_hash_table_add(w->explained, key);
		return true;
	}
	size_t idx = f == MG_FEATURE_NONE ? MG_FEATURE_SET_BITS : (size_t)f;
	if (cx->example_kept[idx] || w->example_kept[idx])
		return false;
	w->example_kept[idx] = true;
	return true;
}

void mg_evidence_clear(mg_evidence *ev)
{
	free(ev->module);
	free(ev->function);
	free(ev->instruction);
	free(ev->reached_via);
}

void mg_evidence_free(mg_evidence *ev)
{
	if (ev == NULL)
		return;
	mg_evidence_clear(ev);
	free(ev);
}

static void push_evidence(GPtrArray *to, mg_evidence *ev)
{
	if (ev->module == NULL || ev->function == NULL || ev->reached_via == NULL ||
	    ev->instruction == NULL) {
		mg_evidence_free(ev);   /* out of memory: drop the example only */
		return;
	}
	g_ptr_array_add(to, ev);
}

void mg_note_site(mg_worker *w, uint32_t unit, uint64_t ip,
		  mg_feature_id feature, const uint8_t *bytes, size_t avail)
{
	if (!want_site(w, feature, ip))
		return;
	mg_scan_ctx *cx = w->cx;
	const mg_unit *u = &cx->map->units[unit];
	mg_evidence *ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return;
	char name[256];
	mg_unit_name(cx->map, unit, name, sizeof(name));
	ev->feature = feature;
	ev->address = ip;
	ev->offset = ip - u->start;
	ev->function = strdup(name);
	if (u->module != MG_NO_MODULE) {
		ev->module = strdup(cx->map->modules[u->module].name);
	} else {
		const mg_mapping *m = mg_image_find_mapping(cx->img, ip);
		char anon[64];
		snprintf(anon, sizeof(anon), "[anon:0x%" PRIx64 "]", m ? m->start : u->start);
		ev->module = strdup(m && m->path ? m->path : anon);
	}
	ev->instruction = format_insn(cx, ip, bytes, avail);
	ev->reached_via = mg_reach_path(cx, unit);
	push_evidence(w->evidence, ev);
}

void mg_merge_evidence(mg_scan_ctx *cx, mg_worker *w)
{
	for (guint i = 0; i < w->evidence->len; i++) {
		mg_evidence *ev = g_ptr_array_index(w->evidence, i);
		mg_feature_id f = ev->feature;
		bool keep;
		if (f == cx->opt->explain && f != MG_FEATURE_NONE) {
			gpointer key = GSIZE_TO_POINTER(ev->address);
			keep = !g_hash_table_contains(cx->evidence_seen, key);
			if (keep)
				g_hash_table_add(cx->evidence_seen, key);
		} else {
			size_t idx = f == MG_FEATURE_NONE ? MG_FEATURE_SET_BITS : (size_t)f;
			keep = !cx->example_kept[idx];
			cx->example_kept[idx] = true;
		}
		if (keep)
			g_ptr_array_add(cx->evidence, ev);
		else
			mg_evidence_free(ev);
	}
	g_ptr_array_set_size(w->evidence, 0);
}

void mg_note_requirement(mg_scan_ctx *cx, mg_feature_id feature, const char *module,
			 const char *function, const char *instruction, const char *reached_via)
{
	size_t idx = feature == MG_FEATURE_NONE ? MG_FEATURE_SET_BITS : (size_t)feature;
	if (feature != cx->opt->explain && cx->example_kept[idx])
		return;
	cx->example_kept[idx] = true;
	mg_evidence *ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return;
	ev->feature = feature;
	ev->module = strdup(module);
	ev->function = strdup(function);
	ev->instruction = strdup(instruction);
	ev->reached_via = strdup(reached_via);
	push_evidence(cx->evidence, ev);
}

void mg_note_state(mg_scan_ctx *cx, mg_feature_id feature, pid_t tid,
		   const char *what)
{
	char via[96];
	snprintf(via, sizeof(via), "live register state of thread %d", (int)tid);
	mg_note_requirement(cx, feature, "[registers]", what, what, via);
}
