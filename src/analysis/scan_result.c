/*
 * scan_result.c - the `scan --json` document: writing it, and freeing a
 * result (scan_result_read.c reads it back).
 */
#include "analysis/scan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "features/feature_json.h"
#include "util/json.h"


const char *mg_scan_method_name(mg_scan_method m)
{
	switch (m) {
	case MG_METHOD_REACHABLE: return "reachable";
	case MG_METHOD_FULL:      return "full";
	}
	return "unknown";
}

void mg_scan_result_free(mg_scan_result *r)
{
	if (r == NULL)
		return;
	free(r->source);
	for (size_t i = 0; i < r->nevidence; i++)
		mg_evidence_clear(&r->evidence[i]);
	free(r->evidence);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	for (size_t i = 0; i < r->nfacts; i++)
		free(r->facts[i]);
	free(r->facts);
	free(r->unit_reachable);
	free(r->processes);
	for (size_t i = 0; i < r->ngenerators; i++)
		mg_code_generator_clear(&r->generators[i]);
	free(r->generators);
	free(r);
}

/* --- writing ---------------------------------------------------------------- */

static json_object *opt_string(const char *s)
{
	return json_object_new_string(s ? s : "");
}


static const char *feature_name(mg_feature_id id)
{
	const mg_feature_info *fi = mg_feature_get(id);
	return fi ? fi->name : MG_EVIDENCE_UNCLASSIFIED;
}

static json_object *evidence_json(const mg_evidence *e)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	if (mg_json_add(o, "feature", json_object_new_string(feature_name(e->feature))) ||
	    mg_json_add(o, "module", opt_string(e->module)) ||
	    mg_json_add(o, "function", opt_string(e->function)) ||
	    mg_json_add(o, "address", mg_json_hex(e->address)) ||
	    mg_json_add(o, "offset", mg_json_hex(e->offset)) ||
	    mg_json_add(o, "instruction", opt_string(e->instruction)) ||
	    mg_json_add(o, "reached_via", opt_string(e->reached_via))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *stats_json(const mg_scan_stats *s)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	if (mg_json_add(o, "pause_ms", json_object_new_double(s->pause_ms)) ||
	    mg_json_add(o, "wall_ms", json_object_new_double(s->wall_ms)) ||
	    mg_json_add(o, "threads", json_object_new_int64((int64_t)s->threads)) ||
	    mg_json_add(o, "functions_reachable", json_object_new_int64((int64_t)s->functions_reachable)) ||
	    mg_json_add(o, "functions_total", json_object_new_int64((int64_t)s->functions_total)) ||
	    mg_json_add(o, "bytes_decoded", json_object_new_int64((int64_t)s->bytes_decoded)) ||
	    mg_json_add(o, "instructions_decoded", json_object_new_int64((int64_t)s->instructions_decoded)) ||
	    mg_json_add(o, "modules", json_object_new_int64((int64_t)s->modules)) ||
	    mg_json_add(o, "codemap_ms", json_object_new_double(s->codemap_ms)) ||
	    mg_json_add(o, "roots_ms", json_object_new_double(s->roots_ms)) ||
	    mg_json_add(o, "decode_ms", json_object_new_double(s->decode_ms))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* "processes": what each process of a multi-process scan needs. */
static int add_processes(json_object *root, const mg_scan_result *r)
{
	json_object *arr = json_object_new_array();
	if (mg_json_add(root, "processes", arr))
		return -1;
	for (size_t i = 0; i < r->nprocesses; i++) {
		const mg_process_summary *p = &r->processes[i];
		json_object *o = json_object_new_object();
		if (mg_json_append(arr, o) ||
		    mg_json_add(o, "pid", json_object_new_int64(p->pid)) ||
		    mg_json_add(o, "required_features", mg_fset_to_json(&p->required)) ||
		    mg_json_add(o, "functions_reachable",
				json_object_new_int64((int64_t)p->functions_reachable)) ||
		    mg_json_add(o, "functions_total", json_object_new_int64((int64_t)p->functions_total)))
			return -1;
	}
	return 0;
}

static json_object *generator_json(const mg_code_generator *g)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	if (mg_json_add(o, "engine", opt_string(g->engine)) ||
	    mg_json_add(o, "where", opt_string(g->where)) ||
	    mg_json_add(o, "model", opt_string(g->model)) ||
	    mg_json_add(o, "detail", opt_string(g->detail)) ||
	    mg_json_add(o, "features", mg_fset_to_json(&g->features))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* "assumptions" (the unsound shortcuts taken) and "code_generators". */
static int add_generators(json_object *root, const mg_scan_result *r)
{
	json_object *as = json_object_new_array(), *gens;
	if (mg_json_add(root, "assumptions", as))
		return -1;
	for (unsigned bit = 1; bit & MG_ASSUME_ALL; bit <<= 1)
		if ((r->assumptions & bit) &&
		    mg_json_append(as, json_object_new_string(mg_assumption_name(bit))))
			return -1;
	gens = json_object_new_array();
	if (mg_json_add(root, "code_generators", gens))
		return -1;
	for (size_t i = 0; i < r->ngenerators; i++)
		if (mg_json_append(gens, generator_json(&r->generators[i])))
			return -1;
	return 0;
}

static int fill_result_json(json_object *root, const mg_scan_result *r)
{
	json_object *ev, *warn, *sites;

	if (mg_json_add(root, "pid", json_object_new_int64(r->pid)) ||
	    mg_json_add(root, "method", json_object_new_string(mg_scan_method_name(r->method))) ||
	    mg_json_add(root, "source", opt_string(r->source)))
		return -1;

	if (mg_json_add(root, "required_features", mg_fset_to_json(&r->required)) ||
	    mg_json_add(root, "generated_features", mg_fset_to_json(&r->generated)) ||
	    mg_json_add(root, "conditional_features", mg_fset_to_json(&r->conditional)) ||
	    add_generators(root, r))
		return -1;

	ev = json_object_new_array();
	if (mg_json_add(root, "evidence", ev))
		return -1;
	for (size_t i = 0; i < r->nevidence; i++)
		if (mg_json_append(ev, evidence_json(&r->evidence[i])))
			return -1;

	if (mg_json_add(root, "stats", stats_json(&r->stats)))
		return -1;

	warn = json_object_new_array();
	if (mg_json_add(root, "warnings", warn))
		return -1;
	for (size_t i = 0; i < r->nwarnings; i++)
		if (mg_json_append(warn, json_object_new_string(r->warnings[i])))
			return -1;

	if (mg_json_add(root, "unknown_isa_sites", json_object_new_int64((int64_t)r->unknown_isa_sites)))
		return -1;
	json_object *facts = json_object_new_array();
	if (mg_json_add(root, "dispatch_state", facts))
		return -1;
	for (size_t i = 0; i < r->nfacts; i++)
		if (mg_json_append(facts, json_object_new_string(r->facts[i])))
			return -1;

	sites = json_object_new_object();
	if (mg_json_add(root, "feature_sites", sites))
		return -1;
	for (size_t id = 0; id < MG_FEATURE_SET_BITS; id++) {
		if (r->feature_sites[id] == 0)
			continue;
		if (mg_json_add(sites, feature_name((mg_feature_id)id),
			json_object_new_int64((int64_t)r->feature_sites[id])))
			return -1;
	}
	json_object *hints = json_object_new_object();
	if (mg_json_add(root, "hint_features", hints))
		return -1;
	for (mg_feature_id id = mg_fset_next(&r->hints, -1); id >= 0; id = mg_fset_next(&r->hints, id))
		if (mg_json_add(hints, feature_name(id), json_object_new_int64((int64_t)r->hint_sites[id])))
			return -1;
	return r->nprocesses ? add_processes(root, r) : 0;
}

char *mg_scan_result_to_json(const mg_scan_result *r, mg_error *err)
{
	json_object *root = json_object_new_object();
	char *out = NULL;

	if (root == NULL || fill_result_json(root, r) != 0) {
		json_object_put(root);
		mg_fail(err, MG_ERR_INTERNAL, "out of memory serialising the scan result");
		return NULL;
	}
	const char *text = json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text)
		out = strdup(text);
	json_object_put(root);
	if (out == NULL)
		mg_fail(err, MG_ERR_INTERNAL, "out of memory serialising the scan result");
	return out;
}

