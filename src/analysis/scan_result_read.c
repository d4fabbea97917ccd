/*
 * scan_result_read.c - reading a `scan --json` document back, for
 * `check --requirements`.
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
	bool unclassified = strcmp(fname, MG_EVIDENCE_UNCLASSIFIED) == 0;
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

/* A list of feature names into a set (every name must be known). */
static int read_feature_list(struct reader *rd, json_object *arr, const char *what,
			     mg_feature_set *out);

static int read_assumptions(struct reader *rd, json_object *root, mg_scan_result *r)
{
	int fail = 0;
	json_object *gen = field(rd, root, "generated_features", json_type_array, "", &fail);
	if (fail || (gen && read_feature_list(rd, gen, "generated_features", &r->generated)))
		return -1;
	if (!mg_fset_is_subset(&r->generated, &r->required))
		return bad(rd, "\"%s\" names features that are not required", "generated_features");
	json_object *cond = field(rd, root, "conditional_features", json_type_array, "", &fail);
	if (fail || (cond && read_feature_list(rd, cond, "conditional_features", &r->conditional)))
		return -1;
	if (!mg_fset_is_subset(&r->conditional, &r->required))
		return bad(rd, "\"%s\" names features that are not required", "conditional_features");
	json_object *arr = field(rd, root, "assumptions", json_type_array, "", &fail);
	if (fail)
		return -1;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		unsigned bit = json_object_get_type(v) == json_type_string
			       ? mg_assumption_by_name(json_object_get_string(v)) : 0;
		if (bit == 0)
			return bad(rd, "\"assumptions\" holds an unknown assumption %s",
				   json_object_to_json_string(v));
		r->assumptions |= bit;
	}
	return 0;
}

/* A list of feature names into a set (every name must be known). */
static int read_feature_list(struct reader *rd, json_object *arr, const char *what,
			     mg_feature_set *out)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (json_object_get_type(v) != json_type_string)
			return bad(rd, "\"%s\" must hold strings", what);
		mg_feature_id id = known_feature(rd, json_object_get_string(v), what);
		if (id < 0)
			return -1;
		mg_fset_add(out, id);
	}
	return 0;
}

static int read_one_generator(struct reader *rd, json_object *o, mg_code_generator *g)
{
	int fail = 0;
	if (json_object_get_type(o) != json_type_object)
		return bad(rd, "\"%s\" must hold objects", "code_generators");
	if (get_str(rd, o, "engine", "code_generators.", &g->engine) ||
	    get_str(rd, o, "where", "code_generators.", &g->where) ||
	    get_str(rd, o, "model", "code_generators.", &g->model) ||
	    get_str(rd, o, "detail", "code_generators.", &g->detail))
		return -1;
	if (g->engine == NULL || g->where == NULL || g->model == NULL)
		return bad(rd, "a code generator lacks \"%s\"", "engine, where or model");
	json_object *f = field(rd, o, "features", json_type_array, "code_generators.", &fail);
	if (fail || (f && read_feature_list(rd, f, "code_generators.features", &g->features)))
		return -1;
	if (g->detail == NULL && (g->detail = strdup("")) == NULL)
		return mg_fail(rd->err, MG_ERR_INTERNAL, "out of memory");
	return 0;
}

static int read_generators(struct reader *rd, json_object *root, mg_scan_result *r)
{
	json_object *arr;
	void *items;
	size_t n;
	if (open_optional_array(rd, root, "code_generators", sizeof(*r->generators), &arr,
				&items, &n))
		return -1;
	r->generators = items;
	for (size_t i = 0; i < n; i++) {
		r->ngenerators = i + 1;  /* so that free sees partially filled entries */
		if (read_one_generator(rd, json_object_array_get_idx(arr, i), &r->generators[i]))
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
	    read_warnings(&rd, root, r) || read_sites(&rd, root, r) ||
	    read_assumptions(&rd, root, r) || read_generators(&rd, root, r)) {
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
