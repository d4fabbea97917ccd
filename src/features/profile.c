/*
 * profile.c - CPU profiles in JSON (docs/profile-format.md).
 *
 * Profiles come from other machines and other people, so every value is
 * checked for type and range and every failure names the file and the key
 * ("c5.json: 'cpuid[3].eax' is not a hex string").  Registers and masks
 * are written as "0x..." strings (JSON numbers are doubles to many readers,
 * and CPUID is read in hex); numbers are accepted too.
 */
#include "features/profile.h"
#include "features/feature_json.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/json.h"

#define MAX_PROFILE_BYTES  (16u << 20)   /* a full profile is ~20 KiB */
#define MAX_CPUID_ENTRIES  4096
#define MAX_NAME_LIST      4096          /* entries of "features"/"unknown" */
#define MAX_STRING         1024          /* any single string value */
#define MAX_JSON_DEPTH     16

void mg_profile_init(mg_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->family = p->model = p->stepping = -1;
}

void mg_profile_free(mg_profile *p)
{
	free(p->name);
	free(p->vendor);
	free(p->brand);
	free(p->kernel);
	free(p->origin);
	free(p->first_ignored);
	mg_cpuid_dump_free(&p->cpuid);
	mg_profile_init(p);
}

/* --- reading ---------------------------------------------------------------- */

struct reader {
	const char *origin;
	mg_error *err;
	mg_profile *p;
};

static int bad(struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct reader *r, const char *fmt, ...)
{
	char what[MG_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mg_fail(r->err, MG_ERR_PROFILE, "%s: %s", r->origin, what);
}

static int oom(struct reader *r)
{
	return mg_fail(r->err, MG_ERR_INTERNAL, "%s: out of memory", r->origin);
}

/* A string value without NUL bytes or control characters, bounded. */
static int get_string(struct reader *r, json_object *v, const char *key,
		      const char **out)
{
	const char *s;
	int len;

	if (!json_object_is_type(v, json_type_string))
		return bad(r, "'%s' is not a string", key);
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len < 0 || len > MAX_STRING)
		return bad(r, "'%s' is longer than %d bytes", key, MAX_STRING);
	for (int i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad(r, "'%s' contains a control character", key);
	*out = s;
	return 0;
}

static int dup_string(struct reader *r, json_object *v, const char *key,
		      char **out)
{
	const char *s;

	if (get_string(r, v, key, &s) < 0)
		return -1;
	free(*out);
	*out = strdup(s);
	return *out ? 0 : oom(r);
}

/* Optional string: absent or null leaves *out alone. */
static int opt_string(struct reader *r, json_object *obj, const char *key,
		      char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return 0;
	return dup_string(r, v, key, out);
}

/*
 * An unsigned value up to `max`: a JSON integer or a "0x..." hex string.
 * json-c saturates integers it cannot hold to INT64_MIN/MAX, which the
 * range check rejects like any other out-of-range value.
 */
static int get_uint(struct reader *r, json_object *v, const char *key,
		    uint64_t max, uint64_t *out)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		if (n < 0 || n == INT64_MAX || (uint64_t)n > max)
			return bad(r, "'%s' is out of range (0..0x%" PRIx64 ")",
				   key, max);
		*out = (uint64_t)n;
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		int len = json_object_get_string_len(v);
		uint64_t n = 0;

		if (len < 3 || len > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
			return bad(r, "'%s' is not a hex string", key);
		for (int i = 2; i < len; i++) {
			char c = s[i];
			unsigned d;
			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				return bad(r, "'%s' is not a hex string", key);
			n = n << 4 | d;
		}
		if (n > max)
			return bad(r, "'%s' is out of range (0..0x%" PRIx64 ")",
				   key, max);
		*out = n;
		return 0;
	}
	return bad(r, "'%s' is not a hex string or integer", key);
}

/* Optional small signed integer in [lo, hi]. */
static int opt_int(struct reader *r, json_object *obj, const char *key,
		   int lo, int hi, int *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return bad(r, "'%s' is not an integer", key);
	n = json_object_get_int64(v);
	if (n < lo || n > hi)
		return bad(r, "'%s' is out of range (%d..%d)", key, lo, hi);
	*out = (int)n;
	return 0;
}

/* A list of feature names into `set`; names this build does not know are
 * counted in p->ignored_names (see profile.h). */
static int read_names(struct reader *r, json_object *arr, const char *key,
		      mg_feature_set *set)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return bad(r, "'%s' is not an array", key);
	n = json_object_array_length(arr);
	if (n > MAX_NAME_LIST)
		return bad(r, "'%s' has more than %d entries", key, MAX_NAME_LIST);
	for (size_t i = 0; i < n; i++) {
		char where[64];
		const char *name;
		mg_feature_id id;

		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		if (get_string(r, json_object_array_get_idx(arr, i), where, &name) < 0)
			return -1;
		id = mg_feature_by_name(name);
		if (id != MG_FEATURE_NONE) {
			mg_fset_add(set, id);
			continue;
		}
		r->p->ignored_names++;
		if (r->p->first_ignored == NULL &&
		    (r->p->first_ignored = strdup(name)) == NULL)
			return oom(r);
	}
	return 0;
}

static const char *const reg_keys[4] = { "eax", "ebx", "ecx", "edx" };

static int read_cpuid_entry(struct reader *r, json_object *e, size_t i)
{
	uint64_t leaf, subleaf = 0, regs[4];
	json_object *v;
	char where[64];

	if (!json_object_is_type(e, json_type_object))
		return bad(r, "'cpuid[%zu]' is not an object", i);
	snprintf(where, sizeof(where), "cpuid[%zu].leaf", i);
	if (!json_object_object_get_ex(e, "leaf", &v) || v == NULL)
		return bad(r, "'%s' is missing", where);
	if (get_uint(r, v, where, UINT32_MAX, &leaf) < 0)
		return -1;
	snprintf(where, sizeof(where), "cpuid[%zu].subleaf", i);
	if (json_object_object_get_ex(e, "subleaf", &v) && v != NULL &&
	    get_uint(r, v, where, UINT32_MAX, &subleaf) < 0)
		return -1;
	for (int k = 0; k < 4; k++) {
		snprintf(where, sizeof(where), "cpuid[%zu].%s", i, reg_keys[k]);
		if (!json_object_object_get_ex(e, reg_keys[k], &v) || v == NULL)
			return bad(r, "'%s' is missing", where);
		if (get_uint(r, v, where, UINT32_MAX, &regs[k]) < 0)
			return -1;
	}
	if (mg_cpuid_dump_find_raw(&r->p->cpuid, (uint32_t)leaf, (uint32_t)subleaf))
		return bad(r, "'cpuid[%zu]' repeats leaf 0x%" PRIx64 " subleaf %" PRIu64,
			   i, leaf, subleaf);
	if (mg_cpuid_dump_add(&r->p->cpuid, (uint32_t)leaf, (uint32_t)subleaf,
			      (uint32_t)regs[0], (uint32_t)regs[1],
			      (uint32_t)regs[2], (uint32_t)regs[3], r->err) < 0)
		return -1;
	return 0;
}

static int read_cpuid(struct reader *r, json_object *arr)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return bad(r, "'cpuid' is not an array");
	n = json_object_array_length(arr);
	if (n == 0)
		return bad(r, "'cpuid' is empty");
	if (n > MAX_CPUID_ENTRIES)
		return bad(r, "'cpuid' has more than %d entries", MAX_CPUID_ENTRIES);
	for (size_t i = 0; i < n; i++)
		if (read_cpuid_entry(r, json_object_array_get_idx(arr, i), i) < 0)
			return -1;
	if (mg_cpuid_dump_find_raw(&r->p->cpuid, 0, 0) == NULL)
		return bad(r, "'cpuid' has no leaf 0x0 (maximum basic leaf)");
	r->p->has_cpuid = true;
	return 0;
}

static int check_schema(struct reader *r, json_object *obj)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, "schema", &v) || v == NULL)
		return 0;   /* minimal form */
	if (get_string(r, v, "schema", &s) < 0)
		return -1;
	if (strcmp(s, MG_PROFILE_SCHEMA) != 0)
		return bad(r, "unsupported schema '%s' (this build reads '%s')",
			   s, MG_PROFILE_SCHEMA);
	return 0;
}

/*
 * "os_support": {"user_shstk": true, ...}: what the kernel enables beyond
 * XCR0 (mg_derive_os_gates).  Keys this version does not know are
 * ignored (a newer writer); a gate not listed stays unknown.
 */
static int read_os_support(struct reader *r, json_object *obj)
{
	json_object *os;
	if (!json_object_object_get_ex(obj, "os_support", &os) || os == NULL)
		return 0;
	if (!json_object_is_type(os, json_type_object))
		return bad(r, "'os_support' is not an object");
	for (uint32_t gate = 1; gate & MG_OS_ALL; gate <<= 1) {
		json_object *v;
		if (!json_object_object_get_ex(os, mg_os_gate_name(gate), &v))
			continue;
		if (!json_object_is_type(v, json_type_boolean))
			return bad(r, "'os_support.%s' is not a boolean", mg_os_gate_name(gate));
		r->p->os_known |= gate;
		if (json_object_get_boolean(v))
			r->p->os_enabled |= gate;
	}
	return 0;
}

static int read_profile(struct reader *r, json_object *obj)
{
	mg_profile *p = r->p;
	json_object *v, *features = NULL, *cpuid = NULL;
	uint64_t n;
	int level = 0;

	if (!json_object_is_type(obj, json_type_object))
		return bad(r, "not a JSON object");
	if (check_schema(r, obj) < 0)
		return -1;
	if (!json_object_object_get_ex(obj, "name", &v) || v == NULL)
		return bad(r, "'name' is missing");
	if (dup_string(r, v, "name", &p->name) < 0)
		return -1;
	if (p->name[0] == '\0')
		return bad(r, "'name' is empty");
	if (opt_string(r, obj, "vendor", &p->vendor) < 0 ||
	    opt_string(r, obj, "brand", &p->brand) < 0 ||
	    opt_string(r, obj, "kernel", &p->kernel) < 0 ||
	    opt_int(r, obj, "family", -1, 0xFFFF, &p->family) < 0 ||
	    opt_int(r, obj, "model", -1, 0xFFFF, &p->model) < 0 ||
	    opt_int(r, obj, "stepping", -1, 0xFFFF, &p->stepping) < 0 ||
	    opt_int(r, obj, "x86_64_level", 0, 4, &level) < 0)
		return -1;
	if (json_object_object_get_ex(obj, "xcr0", &v) && v != NULL) {
		if (get_uint(r, v, "xcr0", UINT64_MAX, &p->xcr0) < 0)
			return -1;
		p->has_xcr0 = true;
	}
	if (json_object_object_get_ex(obj, "xsave_size", &v) && v != NULL) {
		if (get_uint(r, v, "xsave_size", UINT32_MAX, &n) < 0)
			return -1;
		p->xsave_size = (uint32_t)n;
	}
	if (json_object_object_get_ex(obj, "amx_permitted", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return bad(r, "'amx_permitted' is not a boolean");
		p->amx_permitted = json_object_get_boolean(v);
	}
	if (read_os_support(r, obj) < 0)
		return -1;
	json_object_object_get_ex(obj, "features", &features);
	json_object_object_get_ex(obj, "cpuid", &cpuid);
	if (features == NULL && cpuid == NULL)
		return bad(r, "has neither 'features' nor 'cpuid'");
	if (features != NULL && read_names(r, features, "features", &p->features) < 0)
		return -1;
	if (json_object_object_get_ex(obj, "unknown", &v) && v != NULL &&
	    read_names(r, v, "unknown", &p->unknown) < 0)
		return -1;
	if (cpuid != NULL) {
		/* Re-derive: a newer feature table sees more in an old dump. */
		if (read_cpuid(r, cpuid) < 0)
			return -1;
		mg_derive_features(&p->cpuid, p->has_xcr0, p->xcr0, &p->features);
		mg_derive_undecidable(&p->cpuid, p->has_xcr0, &p->features, &p->unknown);
		mg_derive_os_gates(p->os_known, p->os_enabled, &p->features, &p->unknown);
		if (mg_profile_fill_identity(p, r->err) < 0)
			return -1;
	}
	mg_fset_subtract(&p->unknown, &p->features);
	return 0;
}

int mg_profile_from_json(const char *text, size_t len, const char *origin,
			 mg_profile *out, mg_error *err)
{
	struct reader r = { .origin = origin ? origin : "profile", .err = err, .p = out };
	json_object *obj;
	int rc;

	mg_profile_init(out);
	/* RFC 8259 only: a profile we accept is one every other JSON reader
	 * accepts too. */
	if (mg_json_parse(text, len, MAX_PROFILE_BYTES, MAX_JSON_DEPTH, r.origin,
			  MG_ERR_PROFILE, &obj, err) < 0)
		return -1;
	rc = read_profile(&r, obj);
	json_object_put(obj);
	if (rc == 0 && (out->origin = strdup(r.origin)) == NULL)
		rc = oom(&r);
	if (rc < 0)
		mg_profile_free(out);
	return rc;
}

int mg_profile_load(const char *path, mg_profile *out, mg_error *err)
{
	size_t len;
	char *text;
	int rc;

	mg_profile_init(out);
	text = mg_read_file(path, MAX_PROFILE_BYTES, MG_ERR_IO, &len, err);
	if (text == NULL)
		return -1;
	rc = mg_profile_from_json(text, len, path, out, err);
	free(text);
	return rc;
}

/* --- writing ---------------------------------------------------------------- */

/* A string or JSON null; json-c represents null as a NULL object, so
 * this cannot use mg_json_add()'s NULL-means-out-of-memory convention. */
static int add_opt_str(json_object *obj, const char *key, const char *s)
{
	if (s != NULL)
		return mg_json_add(obj, key, json_object_new_string(s));
	return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
}

static json_object *cpuid_entry(const mg_cpuid_leaf *l)
{
	json_object *e = json_object_new_object();

	if (e == NULL ||
	    mg_json_add(e, "leaf", mg_json_hex(l->leaf)) < 0 ||
	    mg_json_add(e, "subleaf", json_object_new_int64(l->subleaf)) < 0 ||
	    mg_json_add(e, "eax", mg_json_hex(l->eax)) < 0 ||
	    mg_json_add(e, "ebx", mg_json_hex(l->ebx)) < 0 ||
	    mg_json_add(e, "ecx", mg_json_hex(l->ecx)) < 0 ||
	    mg_json_add(e, "edx", mg_json_hex(l->edx)) < 0) {
		json_object_put(e);
		return NULL;
	}
	return e;
}

static json_object *cpuid_array(const mg_cpuid_dump *d)
{
	json_object *arr = json_object_new_array();

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < d->count; i++) {
		if (mg_json_append(arr, cpuid_entry(&d->leaves[i]))) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static json_object *os_support_object(const mg_profile *p)
{
	json_object *o = json_object_new_object();
	for (uint32_t gate = 1; o != NULL && (gate & MG_OS_ALL); gate <<= 1)
		if ((p->os_known & gate) &&
		    mg_json_add(o, mg_os_gate_name(gate),
				json_object_new_boolean((p->os_enabled & gate) != 0)) < 0) {
			json_object_put(o);
			return NULL;
		}
	return o;
}

static json_object *profile_object(const mg_profile *p)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	if (mg_json_add(o, "schema", json_object_new_string(MG_PROFILE_SCHEMA)) < 0 ||
	    add_opt_str(o, "name", p->name ? p->name : "unnamed") < 0 ||
	    add_opt_str(o, "vendor", p->vendor) < 0 ||
	    mg_json_add(o, "family", json_object_new_int(p->family)) < 0 ||
	    mg_json_add(o, "model", json_object_new_int(p->model)) < 0 ||
	    mg_json_add(o, "stepping", json_object_new_int(p->stepping)) < 0 ||
	    add_opt_str(o, "brand", p->brand) < 0 ||
	    add_opt_str(o, "kernel", p->kernel) < 0 ||
	    mg_json_add(o, "x86_64_level", json_object_new_int(mg_x86_64_level_of(&p->features))) < 0 ||
	    mg_json_add(o, "features", mg_fset_to_json(&p->features)) < 0 ||
	    (!mg_fset_is_empty(&p->unknown) &&
	     mg_json_add(o, "unknown", mg_fset_to_json(&p->unknown)) < 0) ||
	    (p->has_xcr0 && mg_json_add(o, "xcr0", mg_json_hex(p->xcr0)) < 0) ||
	    mg_json_add(o, "xsave_size", json_object_new_int64(p->xsave_size)) < 0 ||
	    mg_json_add(o, "amx_permitted", json_object_new_boolean(p->amx_permitted)) < 0 ||
	    (p->os_known && mg_json_add(o, "os_support", os_support_object(p)) < 0) ||
	    (p->has_cpuid && mg_json_add(o, "cpuid", cpuid_array(&p->cpuid)) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *mg_profile_to_json(const mg_profile *p, mg_error *err)
{
	json_object *o = profile_object(p);
	const char *s;
	char *copy = NULL;

	if (o == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory writing profile");
		return NULL;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		copy = malloc(strlen(s) + 2);
	if (copy != NULL) {
		strcpy(copy, s);
		strcat(copy, "\n");
	} else {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory writing profile");
	}
	json_object_put(o);
	return copy;
}
