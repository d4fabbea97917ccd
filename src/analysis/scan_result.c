/*
 * scan_result.c - the `scan --json` document: writing it, reading it
 * back for `check --requirements`, and freeing a result.
 *
 * The reader is strict on purpose: a requirements file decides where a
 * process may go, so a feature name we do not know, or a field of the
 * wrong type, is an error rather than something quietly skipped.
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
#include "util/file.h"
#include "util/json.h"

#define MAX_REQUIREMENTS_BYTES ((size_t)64 << 20)  /* a python3+numpy scan is ~30 KiB */
#define MAX_JSON_DEPTH         16

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
	free(r->unit_reachable);
	free(r->processes);
	free(r);
}

/* --- writing ---------------------------------------------------------------- */

static json_object *opt_string(const char *s)
{
	return json_object_new_string(s ? s : "");
}

/* Evidence for an instruction Zydis could not classify (no feature). */
#define UNCLASSIFIED "unclassified"

static const char *feature_name(mg_feature_id id)
{
	const mg_feature_info *fi = mg_feature_get(id);
	return fi ? fi->name : UNCLASSIFIED;
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

static int fill_result_json(json_object *root, const mg_scan_result *r)
{
	json_object *ev, *warn, *sites;

	if (mg_json_add(root, "pid", json_object_new_int64(r->pid)) ||
	    mg_json_add(root, "method", json_object_new_string(mg_scan_method_name(r->method))) ||
	    mg_json_add(root, "source", opt_string(r->source)))
		return -1;

	if (mg_json_add(root, "required_features", mg_fset_to_json(&r->required)))
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

/* --- reading ---------------------------------------------------------------- */

struct reader {
	const char *origin;
	mg_error *err;
};

static int bad(struct reader *rd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct reader *rd, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mg_fail(rd->err, MG_ERR_USAGE, "%s: %s", rd->origin, msg);
}

/* Field `key` of `obj` with type `type`; NULL if absent.  A present field
 * of another type sets *fail. */
static json_object *field(struct reader *rd, json_object *obj, const char *key,
			  json_type type, const char *where, int *fail)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return NULL;
	if (json_object_get_type(v) != type &&
	    !(type == json_type_double && json_object_get_type(v) == json_type_int)) {
		char what[128];
		snprintf(what, sizeof(what), "%s%s", where, key);
		bad(rd, "\"%s\" has the wrong type", what);
		*fail = 1;
		return NULL;
	}
	return v;
}

static int get_uint(struct reader *rd, json_object *obj, const char *key,
		    const char *where, uint64_t *out)
{
	int fail = 0;
	json_object *v = field(rd, obj, key, json_type_int, where, &fail);
	if (fail)
		return -1;
	if (v == NULL)
		return 0;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (x < 0 || errno == ERANGE) {
		char what[128];
		snprintf(what, sizeof(what), "%s%s", where, key);
		return bad(rd, "\"%s\" must be a non-negative integer", what);
	}
	*out = (uint64_t)x;
	return 0;
}

static int get_str(struct reader *rd, json_object *obj, const char *key,
		   const char *where, char **out)
{
	int fail = 0;
	json_object *v = field(rd, obj, key, json_type_string, where, &fail);
	if (fail)
		return -1;
	if (v == NULL)
		return 0;
	*out = strdup(json_object_get_string(v));
	if (*out == NULL)
		return mg_fail(rd->err, MG_ERR_INTERNAL, "out of memory");
	return 0;
}

static int parse_hex(struct reader *rd, json_object *obj, const char *key,
		     uint64_t *out)
{
	int fail = 0;
	json_object *v = field(rd, obj, key, json_type_string, "evidence.", &fail);
	if (fail)
		return -1;
	if (v == NULL)
		return 0;
	const char *s = json_object_get_string(v);
	char *end;
	if (strncmp(s, "0x", 2) != 0 || s[2] == '\0')
		return bad(rd, "evidence \"%s\" must be a hex string \"0x...\"", key);
	errno = 0;
	unsigned long long x = strtoull(s + 2, &end, 16);
	if (errno || *end != '\0' || s[2] == '-' || s[2] == '+')
		return bad(rd, "evidence \"%s\" must be a hex string \"0x...\"", key);
	*out = x;
	return 0;
}

static mg_feature_id known_feature(struct reader *rd, const char *name,
				   const char *where)
{
	mg_feature_id id = mg_feature_by_name(name);
	if (id == MG_FEATURE_NONE) {
		mg_fail(rd->err, MG_ERR_USAGE,
			"%s: unknown CPU feature \"%s\" in %s (refusing to ignore it)",
			rd->origin, name, where);
	}
	return id;
}

static int read_required(struct reader *rd, json_object *root, mg_scan_result *r)
{
	int fail = 0;
	json_object *arr = field(rd, root, "required_features", json_type_array, "", &fail);
	if (fail)
		return -1;
	if (arr == NULL)
		return bad(rd, "missing \"%s\" (not a saved `scan --json`?)", "required_features");
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (json_object_get_type(v) != json_type_string)
			return bad(rd, "\"%s\" must hold strings", "required_features");
		mg_feature_id id = known_feature(rd, json_object_get_string(v),
						 "required_features");
		if (id < 0)
			return -1;
		mg_fset_add(&r->required, id);
	}
	/* What was seen before the host intersection is not saved; the
	 * required set is the best lower bound we have. */
	r->seen = r->required;
	return 0;
}

static int read_one_evidence(struct reader *rd, json_object *o, mg_evidence *e)
{
	char *fname = NULL;
	if (json_object_get_type(o) != json_type_object)
		return bad(rd, "\"%s\" must hold objects", "evidence");
	if (get_str(rd, o, "feature", "evidence.", &fname))
		return -1;
	if (fname == NULL)
		return bad(rd, "an evidence entry lacks \"%s\"", "feature");
	bool unclassified = strcmp(fname, UNCLASSIFIED) == 0;
	e->feature = unclassified ? MG_FEATURE_NONE : known_feature(rd, fname, "evidence");
	free(fname);
	if (e->feature < 0 && !unclassified)
		return -1;
	if (get_str(rd, o, "module", "evidence.", &e->module) ||
	    get_str(rd, o, "function", "evidence.", &e->function) ||
	    get_str(rd, o, "instruction", "evidence.", &e->instruction) ||
	    get_str(rd, o, "reached_via", "evidence.", &e->reached_via) ||
	    parse_hex(rd, o, "address", &e->address) ||
	    parse_hex(rd, o, "offset", &e->offset))
		return -1;
	return 0;
}

/*
 * An optional array member: *arr is NULL and *n 0 when it is absent or
 * empty; otherwise *items is a zeroed array of *n elements of @size.
 * Returns -1 (error set) on a wrong type or no memory.
 */
static int open_optional_array(struct reader *rd, json_object *root, const char *key,
			       size_t size, json_object **arr, void **items, size_t *n)
{
	int fail = 0;
	*items = NULL;
	*n = 0;
	*arr = field(rd, root, key, json_type_array, "", &fail);
	if (fail)
		return -1;
	if (*arr == NULL || json_object_array_length(*arr) == 0)
		return 0;
	*n = json_object_array_length(*arr);
	*items = calloc(*n, size);
	if (*items == NULL)
		return mg_fail(rd->err, MG_ERR_INTERNAL, "out of memory");
	return 0;
}

static int read_evidence(struct reader *rd, json_object *root, mg_scan_result *r)
{
	json_object *arr;
	void *items;
	size_t n;
	if (open_optional_array(rd, root, "evidence", sizeof(*r->evidence), &arr, &items, &n))
		return -1;
	r->evidence = items;
	for (size_t i = 0; i < n; i++) {
		r->nevidence = i + 1;  /* so that free sees partially filled entries */
		if (read_one_evidence(rd, json_object_array_get_idx(arr, i), &r->evidence[i]))
			return -1;
	}
	return 0;
}

/* An optional number of milliseconds in "stats". */
static void read_ms(struct reader *rd, json_object *o, const char *name,
		    double *out, int *fail)
{
	json_object *v = field(rd, o, name, json_type_double, "stats.", fail);
	if (v)
		*out = json_object_get_double(v);
}

static int read_stats(struct reader *rd, json_object *root, mg_scan_stats *s)
{
	int fail = 0;
	json_object *o = field(rd, root, "stats", json_type_object, "", &fail);
	if (fail)
		return -1;
	if (o == NULL)
		return 0;
	read_ms(rd, o, "pause_ms", &s->pause_ms, &fail);
	read_ms(rd, o, "wall_ms", &s->wall_ms, &fail);
	read_ms(rd, o, "codemap_ms", &s->codemap_ms, &fail);
	read_ms(rd, o, "roots_ms", &s->roots_ms, &fail);
	read_ms(rd, o, "decode_ms", &s->decode_ms, &fail);
	if (fail)
		return -1;
	uint64_t x;
#define STAT(name) do { x = 0; \
		if (get_uint(rd, o, #name, "stats.", &x)) return -1; \
		s->name = x; } while (0)
	STAT(threads);
	STAT(functions_reachable);
	STAT(functions_total);
	STAT(bytes_decoded);
	STAT(instructions_decoded);
	STAT(modules);
#undef STAT
	return 0;
}

static int read_warnings(struct reader *rd, json_object *root, mg_scan_result *r)
{
	json_object *arr;
	void *items;
	size_t n;
	if (open_optional_array(rd, root, "warnings", sizeof(char *), &arr, &items, &n))
		return -1;
	r->warnings = items;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (json_object_get_type(v) != json_type_string)
			return bad(rd, "\"%s\" must hold strings", "warnings");
		r->warnings[i] = strdup(json_object_get_string(v));
		if (r->warnings[i] == NULL)
			return mg_fail(rd->err, MG_ERR_INTERNAL, "out of memory");
		r->nwarnings = i + 1;
	}
	return 0;
}

static int read_sites(struct reader *rd, json_object *root, mg_scan_result *r)
{
	int fail = 0;
	json_object *o = field(rd, root, "feature_sites", json_type_object, "", &fail);
	if (fail)
		return -1;
	if (o == NULL)
		return 0;
	json_object_object_foreach(o, key, val) {
		mg_feature_id id = known_feature(rd, key, "feature_sites");
		if (id < 0 || id >= MG_FEATURE_SET_BITS)
			return -1;
		if (json_object_get_type(val) != json_type_int || json_object_get_int64(val) < 0)
			return bad(rd, "feature_sites \"%s\" must be a non-negative integer", key);
		r->feature_sites[id] = (size_t)json_object_get_int64(val);
	}
	return 0;
}

static int read_header(struct reader *rd, json_object *root, mg_scan_result *r)
{
	int fail = 0;
	json_object *v = field(rd, root, "pid", json_type_int, "", &fail);
	if (fail)
		return -1;
	if (v) {
		int64_t pid = json_object_get_int64(v);
		if (pid < 0 || pid > INT32_MAX)
			return bad(rd, "\"%s\" is out of range", "pid");
		r->pid = (pid_t)pid;
	}
	char *method = NULL;
	if (get_str(rd, root, "method", "", &method))
		return -1;
	if (method) {
		if (strcmp(method, "reachable") == 0)
			r->method = MG_METHOD_REACHABLE;
		else if (strcmp(method, "full") == 0)
			r->method = MG_METHOD_FULL;
		else {
			bad(rd, "unknown method \"%s\" (expected reachable or full)", method);
			free(method);
			return -1;
		}
		free(method);
	}
	uint64_t u = 0;
	if (get_str(rd, root, "source", "", &r->source) ||
	    get_uint(rd, root, "unknown_isa_sites", "", &u))
		return -1;
	r->unknown_isa_sites = u;
	return 0;
}

int mg_scan_result_from_json(const char *text, size_t len, const char *origin,
			     mg_scan_result **out, mg_error *err)
{
	struct reader rd = { .origin = origin ? origin : "requirements", .err = err };
	json_object *root;
	mg_scan_result *r;

	*out = NULL;
	if (mg_json_parse(text, len, MAX_REQUIREMENTS_BYTES, MAX_JSON_DEPTH, rd.origin,
			  MG_ERR_USAGE, &root, err) < 0)
		return -1;
	if (json_object_get_type(root) != json_type_object) {
		json_object_put(root);
		return mg_fail(err, MG_ERR_USAGE, "%s: expected a JSON object (a saved `scan --json`)",
			       rd.origin);
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		json_object_put(root);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	mg_fset_clear(&r->required);
	mg_fset_clear(&r->seen);
	if (read_header(&rd, root, r) || read_required(&rd, root, r) ||
	    read_evidence(&rd, root, r) || read_stats(&rd, root, &r->stats) ||
	    read_warnings(&rd, root, r) || read_sites(&rd, root, r)) {
		json_object_put(root);
		mg_scan_result_free(r);
		return -1;
	}
	json_object_put(root);
	*out = r;
	return 0;
}

int mg_scan_result_load(const char *path, mg_scan_result **out, mg_error *err)
{
	size_t len;
	*out = NULL;
	char *text = mg_read_file(path, MAX_REQUIREMENTS_BYTES, MG_ERR_USAGE, &len, err);
	if (text == NULL)
		return -1;
	int rc = mg_scan_result_from_json(text, len, path, out, err);
	free(text);
	return rc;
}
