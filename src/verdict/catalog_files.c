/*
 * catalog_files.c - catalog files: reading, writing, finding them
 * (catalog_files.h, docs/catalogs.md).
 *
 * Catalog files come from this repository but also from other people's
 * fleets, so the reader checks every type and bound and names the field
 * that is wrong.
 */
#include "verdict/catalog_files.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "features/feature_json.h"
#include "util/file.h"
#include "util/json.h"
#include "verdict/groups.h"

#define MAX_CATALOG_BYTES ((size_t)64 << 20)
#define MAX_JSON_DEPTH    8
#define MAX_TARGETS       1000000
#define MAX_NAME          256       /* a member (target) name */
#define MAX_CATALOG_NAME  64        /* a catalog name or alias */
#define MAX_TEXT          4096      /* description, provenance, date */

void mg_catalog_meta_free(mg_catalog_meta *m)
{
	free(m->name);
	for (size_t i = 0; i < m->naliases; i++)
		free(m->aliases[i]);
	free(m->description);
	free(m->provenance);
	free(m->date);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

/* --- reading ------------------------------------------------------------------------ */

struct reader {
	const char *origin;
	mg_error *err;
	mg_catalog_meta *meta;
	mg_target_list targets;
	GHashTable *names;          /* member names seen (borrowed from targets) */
};

static int bad(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct reader *r, const char *fmt, ...)
{
	char what[MG_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mg_fail(r->err, MG_ERR_USAGE, "%s: %s", r->origin, what);
}

/* A bounded string without control characters. */
static int get_text(struct reader *r, json_object *v, const char *field, size_t max,
		    const char **out)
{
	if (!json_object_is_type(v, json_type_string))
		return bad(r, "%s: not a string", field);
	const char *s = json_object_get_string(v);
	int len = json_object_get_string_len(v);
	if (len <= 0)
		return bad(r, "%s: empty", field);
	if ((size_t)len > max)
		return bad(r, "%s: longer than %zu bytes", field, max);
	for (int i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad(r, "%s: contains a control character", field);
	*out = s;
	return 0;
}

/* Catalog names go on command lines: letters, digits and . _ + - only. */
static int get_catalog_name(struct reader *r, json_object *v, const char *field, char **out)
{
	const char *s;
	if (get_text(r, v, field, MAX_CATALOG_NAME, &s) != 0)
		return -1;
	for (const char *p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && !(p > s && strchr("._+-", *p)))
			return bad(r, "%s: \"%s\" is not a catalog name (letters, digits, . _ + -)",
				   field, s);
	return (*out = strdup(s)) ? 0 : mg_fail(r->err, MG_ERR_INTERNAL, "out of memory");
}

static int opt_text(struct reader *r, json_object *root, const char *key, char **out)
{
	json_object *v;
	const char *s;
	if (!json_object_object_get_ex(root, key, &v) || v == NULL)
		return 0;
	if (get_text(r, v, key, MAX_TEXT, &s) != 0)
		return -1;
	return (*out = strdup(s)) ? 0 : mg_fail(r->err, MG_ERR_INTERNAL, "out of memory");
}

/* A list of feature names; unknown names are counted into *ignored. */
static int read_features(struct reader *r, json_object *arr, const char *field,
			 mg_feature_set *set, size_t *ignored, const char **first_ignored)
{
	if (!json_object_is_type(arr, json_type_array))
		return bad(r, "%s: not an array", field);
	mg_fset_clear(set);
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		char where[96];
		const char *name;
		snprintf(where, sizeof(where), "%s[%zu]", field, i);
		if (get_text(r, json_object_array_get_idx(arr, i), where, 64, &name) != 0)
			return -1;
		mg_feature_id id = mg_feature_by_name(name);
		if (id != MG_FEATURE_NONE) {
			mg_fset_add(set, id);
		} else {
			if (*ignored == 0)
				*first_ignored = name;
			(*ignored)++;
		}
	}
	return 0;
}

static int add_member(struct reader *r, json_object *v, const char *field,
		      const mg_feature_set *features, const mg_feature_set *unknown,
		      size_t ignored, const char *first_ignored)
{
	const char *name;
	if (get_text(r, v, field, MAX_NAME, &name) != 0)
		return -1;
	if (g_hash_table_contains(r->names, name))
		return bad(r, "%s: \"%s\" is listed twice", field, name);
	if (r->targets.count >= MAX_TARGETS)
		return bad(r, "more than %d targets", MAX_TARGETS);

	mg_profile p;
	mg_profile_init(&p);
	p.features = *features;
	p.unknown = *unknown;
	mg_fset_subtract(&p.unknown, &p.features);
	p.ignored_names = ignored;
	p.name = strdup(name);
	p.first_ignored = first_ignored ? strdup(first_ignored) : NULL;
	if (asprintf(&p.origin, "catalog:%s", r->meta->name) < 0)
		p.origin = NULL;
	if (p.name == NULL || p.origin == NULL || (first_ignored && p.first_ignored == NULL) ||
	    mg_target_list_take(&r->targets, &p, r->err) != 0) {
		mg_profile_free(&p);
		return mg_fail(r->err, MG_ERR_INTERNAL, "out of memory");
	}
	g_hash_table_add(r->names, r->targets.items[r->targets.count - 1].name);
	return 0;
}

static int read_group(struct reader *r, json_object *g, size_t gi)
{
	char field[96];
	json_object *v, *members;
	mg_feature_set features, unknown;
	size_t ignored = 0;
	const char *first_ignored = NULL;

	if (!json_object_is_type(g, json_type_object))
		return bad(r, "groups[%zu]: not an object", gi);
	snprintf(field, sizeof(field), "groups[%zu].features", gi);
	if (!json_object_object_get_ex(g, "features", &v) || v == NULL)
		return bad(r, "%s: missing", field);
	if (read_features(r, v, field, &features, &ignored, &first_ignored) != 0)
		return -1;
	mg_fset_clear(&unknown);
	snprintf(field, sizeof(field), "groups[%zu].unknown", gi);
	if (json_object_object_get_ex(g, "unknown", &v) && v != NULL &&
	    read_features(r, v, field, &unknown, &ignored, &first_ignored) != 0)
		return -1;
	snprintf(field, sizeof(field), "groups[%zu].members", gi);
	if (!json_object_object_get_ex(g, "members", &members) || members == NULL)
		return bad(r, "%s: missing", field);
	if (!json_object_is_type(members, json_type_array))
		return bad(r, "%s: not an array", field);
	size_t n = json_object_array_length(members);
	if (n == 0)
		return bad(r, "%s: empty", field);
	for (size_t i = 0; i < n; i++) {
		snprintf(field, sizeof(field), "groups[%zu].members[%zu]", gi, i);
		if (add_member(r, json_object_array_get_idx(members, i), field, &features,
			       &unknown, ignored, first_ignored) != 0)
			return -1;
	}
	return 0;
}

static int read_meta(struct reader *r, json_object *root)
{
	json_object *v;
	const char *s;

	if (!json_object_is_type(root, json_type_object))
		return bad(r, "not a JSON object (expected a %s catalog)", MG_CATALOG_SCHEMA);
	if (!json_object_object_get_ex(root, "schema", &v) || v == NULL)
		return bad(r, "schema: missing (expected \"%s\")", MG_CATALOG_SCHEMA);
	if (get_text(r, v, "schema", MAX_CATALOG_NAME, &s) != 0)
		return -1;
	if (strcmp(s, MG_CATALOG_SCHEMA) != 0)
		return bad(r, "schema: \"%s\" is not \"%s\"", s, MG_CATALOG_SCHEMA);
	if (!json_object_object_get_ex(root, "name", &v) || v == NULL)
		return bad(r, "name: missing");
	if (get_catalog_name(r, v, "name", &r->meta->name) != 0)
		return -1;
	if (json_object_object_get_ex(root, "aliases", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_array))
			return bad(r, "aliases: not an array");
		if (json_object_array_length(v) > MG_CATALOG_MAX_ALIASES)
			return bad(r, "aliases: more than %d", MG_CATALOG_MAX_ALIASES);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			char field[32];
			snprintf(field, sizeof(field), "aliases[%zu]", i);
			if (get_catalog_name(r, json_object_array_get_idx(v, i), field,
					     &r->meta->aliases[r->meta->naliases]) != 0)
				return -1;
			r->meta->naliases++;
		}
	}
	return opt_text(r, root, "description", &r->meta->description) ||
	       opt_text(r, root, "provenance", &r->meta->provenance) ||
	       opt_text(r, root, "date", &r->meta->date) ? -1 : 0;
}

static int read_catalog(struct reader *r, json_object *root)
{
	json_object *groups, *v;

	if (read_meta(r, root) != 0)
		return -1;
	if (!json_object_object_get_ex(root, "groups", &groups) || groups == NULL)
		return bad(r, "groups: missing");
	if (!json_object_is_type(groups, json_type_array))
		return bad(r, "groups: not an array");
	if (json_object_array_length(groups) == 0)
		return bad(r, "groups: empty (a catalog has at least one target)");
	for (size_t i = 0; i < json_object_array_length(groups); i++)
		if (read_group(r, json_object_array_get_idx(groups, i), i) != 0)
			return -1;
	r->meta->ngroups = json_object_array_length(groups);
	r->meta->ntargets = r->targets.count;
	/* "targets" is the writer's count: a hand edit that lost members shows. */
	if (json_object_object_get_ex(root, "targets", &v) && v != NULL &&
	    (!json_object_is_type(v, json_type_int) ||
	     json_object_get_int64(v) != (int64_t)r->targets.count))
		return bad(r, "targets: not the number of members (%zu)", r->targets.count);
	return 0;
}

static int cmp_profile_name(const void *a, const void *b)
{
	const mg_profile *x = a, *y = b;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

int mg_catalog_parse(const char *text, size_t len, const char *origin,
		     mg_catalog_meta *meta, mg_target_list *out, mg_error *err)
{
	struct reader r = { .origin = origin ? origin : "catalog", .err = err, .meta = meta };
	json_object *root;
	int rc;

	memset(meta, 0, sizeof(*meta));
	if (mg_json_parse(text, len, MAX_CATALOG_BYTES, MAX_JSON_DEPTH, r.origin, MG_ERR_USAGE,
			  &root, err) != 0)
		return -1;
	r.names = g_hash_table_new(g_str_hash, g_str_equal);
	rc = read_catalog(&r, root);
	json_object_put(root);
	g_hash_table_destroy(r.names);
	if (rc == 0 && r.targets.count)
		qsort(r.targets.items, r.targets.count, sizeof(*r.targets.items), cmp_profile_name);
	for (size_t i = 0; rc == 0 && i < r.targets.count; i++)
		rc = mg_target_list_take(out, &r.targets.items[i], err);
	mg_target_list_free(&r.targets);
	if (rc != 0)
		mg_catalog_meta_free(meta);
	return rc;
}

int mg_catalog_read(const char *path, mg_catalog_meta *meta, mg_target_list *out,
		    mg_error *err)
{
	size_t len;
	char *text = mg_read_file(path, MAX_CATALOG_BYTES, MG_ERR_USAGE, &len, err);
	if (text == NULL)
		return -1;
	int rc = mg_catalog_parse(text, len, path, meta, out, err);
	free(text);
	if (rc == 0 && (meta->path = strdup(path)) == NULL) {
		mg_catalog_meta_free(meta);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	return rc;
}

/* --- writing ------------------------------------------------------------------------ */

static json_object *group_json(const mg_target_list *sorted, const mg_group *g)
{
	const mg_profile *first = &sorted->items[g->members[0]];
	json_object *o = json_object_new_object(), *m = NULL;
	if (o == NULL || mg_json_add(o, "features", mg_fset_to_json(&first->features)) ||
	    mg_json_add(o, "unknown", mg_fset_to_json(&first->unknown)) ||
	    mg_json_add(o, "members", m = json_object_new_array()))
		goto fail;
	for (size_t k = 0; k < g->count; k++)
		if (mg_json_append(m, json_object_new_string(sorted->items[g->members[k]].name)))
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static int add_text(json_object *o, const char *key, const char *s)
{
	return s ? mg_json_add(o, key, json_object_new_string(s)) : 0;
}

static json_object *catalog_json(const mg_catalog_meta *meta, const mg_target_list *sorted,
				 const mg_group_list *groups)
{
	json_object *o = json_object_new_object(), *a = NULL, *g = NULL;
	if (o == NULL ||
	    mg_json_add(o, "schema", json_object_new_string(MG_CATALOG_SCHEMA)) ||
	    mg_json_add(o, "name", json_object_new_string(meta->name)) ||
	    mg_json_add(o, "aliases", a = json_object_new_array()))
		goto fail;
	for (size_t i = 0; i < meta->naliases; i++)
		if (mg_json_append(a, json_object_new_string(meta->aliases[i])))
			goto fail;
	if (add_text(o, "description", meta->description) ||
	    add_text(o, "provenance", meta->provenance) || add_text(o, "date", meta->date) ||
	    mg_json_add(o, "targets", json_object_new_int64((int64_t)sorted->count)) ||
	    mg_json_add(o, "groups", g = json_object_new_array()))
		goto fail;
	for (size_t i = 0; i < groups->count; i++)
		if (mg_json_append(g, group_json(sorted, &groups->items[i])))
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

char *mg_catalog_to_json(const mg_catalog_meta *meta, const mg_target_list *targets,
			 mg_error *err)
{
	/* A sorted shallow copy: groups then list members by name. */
	mg_target_list sorted = { .count = targets->count };
	mg_group_list groups = { 0 };
	json_object *o = NULL;
	char *text = NULL;

	if (meta->name == NULL || targets->count == 0) {
		mg_fail(err, MG_ERR_USAGE, "a catalog needs a name and a target");
		return NULL;
	}
	sorted.items = malloc(targets->count * sizeof(*sorted.items));
	if (sorted.items == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	memcpy(sorted.items, targets->items, targets->count * sizeof(*sorted.items));
	for (size_t i = 0; i < sorted.count; i++)
		if (sorted.items[i].name == NULL || sorted.items[i].name[0] == '\0') {
			mg_fail(err, MG_ERR_USAGE, "a target has no name");
			goto out;
		}
	qsort(sorted.items, sorted.count, sizeof(*sorted.items), cmp_profile_name);
	for (size_t i = 1; i < sorted.count; i++)
		if (strcmp(sorted.items[i - 1].name, sorted.items[i].name) == 0) {
			mg_fail(err, MG_ERR_USAGE, "two targets are named \"%s\" (%s and %s)",
				sorted.items[i].name,
				sorted.items[i - 1].origin ? sorted.items[i - 1].origin : "?",
				sorted.items[i].origin ? sorted.items[i].origin : "?");
			goto out;
		}
	if (mg_group_targets(&sorted, NULL, &groups, err) != 0)
		goto out;
	o = catalog_json(meta, &sorted, &groups);
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE)
			  : NULL;
	if (s == NULL || asprintf(&text, "%s\n", s) < 0) {
		text = NULL;
		mg_fail(err, MG_ERR_INTERNAL, "out of memory writing the catalog");
	}
out:
	json_object_put(o);
	mg_group_list_free(&groups);
	free(sorted.items);      /* shallow: the profiles stay targets' */
	return text;
}
