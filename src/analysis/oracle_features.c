/*
 * oracle_features.c - what the code the oracle saw executing needs.
 *
 * A unit the oracle saw entered is decoded as the scan decodes it: a
 * gap entered at its first byte by the scan's gap walk from there (gap.c),
 * anything else by a linear sweep.  Its instructions' features are
 * `seen`; those runnable on the host are `required`.
 *
 * Under --assume tzcnt-as-bsf the same unit is also counted as the scan
 * counts it under that assumption (tzcnt.c): a tzcnt whose CF and ZF go
 * unread, in a unit that needs nothing else beyond x86-64-v2, runs as bsf
 * alike and needs no BMI1.  That count (`assumed`) is what a scan under
 * the assumption must cover; comparing it with the strict one would make
 * the assumption itself look like a contradiction.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "features/isa_map.h"

typedef struct unit_walk {
	const mg_exec_options *opt;
	const uint8_t *buf;
	size_t len;
	mg_exec_features *f;
	/* Of the tzcnts that run as bsf alike, kept apart until the unit is
	 * known to be built for the baseline. */
	mg_feature_set bsf_seen, bsf_required;
} unit_walk;

static void note_insn(unit_walk *w, const ZydisDecodedInstruction *insn, size_t off)
{
	mg_isa_requirement req;
	mg_instruction_requirement(insn, &req);
	if (req.kind == MG_ISA_UNKNOWN)
		w->f->unknown_isa_sites++;
	if (req.kind != MG_ISA_FEATURES)
		return;
	bool bsf = w->opt->tzcnt_as_bsf && mg_tzcnt_flags_unread(w->buf, w->len, off, insn);
	w->f->as_bsf_sites += bsf;
	mg_fset_union(bsf ? &w->bsf_seen : &w->f->seen, &req.features);
	/* An instruction this host cannot run did not execute: none of its
	 * features is required. */
	if (mg_fset_is_subset(&req.features, w->opt->host))
		mg_fset_union(bsf ? &w->bsf_required : &w->f->required, &req.features);
}

static bool visit_gap_insn(void *arg, const ZydisDecodedInstruction *insn, size_t off)
{
	note_insn(arg, insn, off);
	return true;
}

/* A gap entered at its first byte runs what the scan's gap walk from
 * there finds: count that, not the data a sweep would decode after it.
 * False if the walk cannot tell (sweep it all). */
static bool walk_gap(const ZydisDecoder *d, unit_walk *w)
{
	uint8_t *started = calloc(w->len / 8 + 1, 1);
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	uint32_t first = 0;
	g_array_append_val(todo, first);
	bool falls_off = false;
	bool ok = started != NULL && mg_gap_walk(d, w->buf, w->len, started, todo, &falls_off,
					      visit_gap_insn, w);
	free(started);
	g_array_free(todo, TRUE);
	return ok;
}

static void sweep(const ZydisDecoder *d, unit_walk *w)
{
	ZydisDecodedInstruction insn;
	ZydisDecoderContext dctx;
	for (size_t off = 0; off < w->len;) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(d, &dctx, w->buf + off,
								w->len - off, &insn))) {
			off++;
			continue;
		}
		note_insn(w, &insn, off);
		off += insn.length;
	}
}

void mg_exec_unit_features(const ZydisDecoder *d, const mg_codemap *map, uint32_t unit,
			   const uint8_t *buf, size_t len, const mg_exec_options *opt,
			   mg_exec_features *out)
{
	memset(out, 0, sizeof(*out));
	unit_walk w = { .opt = opt, .buf = buf, .len = len, .f = out };
	if (!mg_unit_is_gap(map, unit) || !walk_gap(d, &w)) {
		memset(out, 0, sizeof(*out));      /* a walk that could not tell */
		mg_fset_clear(&w.bsf_seen);
		mg_fset_clear(&w.bsf_required);
		sweep(d, &w);
	}
	/* The scan counts the tzcnts as bsf only in a unit that needs
	 * nothing else beyond the baseline: elsewhere they need BMI1. */
	out->assumed = out->required;
	if (!mg_fset_is_subset(&out->seen, &opt->baseline)) {
		mg_fset_union(&out->assumed, &w.bsf_required);
		out->as_bsf_sites = 0;
	}
	mg_fset_union(&out->seen, &w.bsf_seen);
	mg_fset_union(&out->required, &w.bsf_required);
}
