/*
 * report.c - check's table and JSON (report.h).
 */
#include "verdict/report.h"

#include <stdlib.h>
#include <string.h>

#include "features/feature_json.h"
#include "util/json.h"
#include "verdict/groups.h"

/* Wide enough for "c5.{large,xlarge} c5d.* m5.* +9 more (62 types)". */
#define LABEL_MAX 52

void mg_report_counts(const mg_report *r, size_t counts[3])
{
	counts[0] = counts[1] = counts[2] = 0;
	for (size_t i = 0; i < r->targets->count; i++)
		counts[r->verdicts[i].kind]++;
}

static const mg_spot_price *price_of(const mg_report *r, size_t i)
{
	return r->prices ? mg_prices_find(r->prices, r->targets->items[i].name) : NULL;
}

static const char *name_of(const mg_report *r, size_t i)
{
	return r->targets->items[i].name ? r->targets->items[i].name : "?";
}

long mg_report_cheapest(const mg_report *r)
{
	long best = -1;
	for (size_t i = 0; i < r->targets->count; i++) {
		const mg_spot_price *p = price_of(r, i), *b = best >= 0 ? price_of(r, (size_t)best) : NULL;
		if (p == NULL || r->verdicts[i].kind != MG_VERDICT_COMPATIBLE)
			continue;
		if (b == NULL || p->price < b->price ||
		    (p->price == b->price && strcmp(name_of(r, i), name_of(r, (size_t)best)) < 0))
			best = (long)i;
	}
	return best;
}

/* --- table ---------------------------------------------------------------------------- */

/* The member of g with the lowest price; -1 if none has one. */
static long group_cheapest(const mg_report *r, const mg_group *g)
{
	long best = -1;
	for (size_t k = 0; k < g->count; k++) {
		const mg_spot_price *p = price_of(r, g->members[k]);
		if (p && (best < 0 || p->price < price_of(r, (size_t)best)->price))
			best = (long)g->members[k];
	}
	return best;
}

struct row {
	const mg_group *g;
	char *label;
	long cheapest;        /* target index, -1 */
	size_t order;
};

static const mg_report *sort_report;   /* qsort has no context argument */

static int cmp_row_price(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if ((x->cheapest < 0) != (y->cheapest < 0))
		return x->cheapest < 0 ? 1 : -1;
	if (x->cheapest >= 0) {
		double px = price_of(sort_report, (size_t)x->cheapest)->price;
		double py = price_of(sort_report, (size_t)y->cheapest)->price;
		if (px != py)
			return px < py ? -1 : 1;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

static void print_set(FILE *out, const char *label, const mg_feature_set *s, bool *first)
{
	if (mg_fset_is_empty(s))
		return;
	char *names = mg_fset_to_string(s);
	fprintf(out, "%s%s: %s", *first ? "" : "; ", label, names ? names : "?");
	free(names);
	*first = false;
}

static void explain_table(FILE *out, const mg_report *r, const mg_feature_set *missing)
{
	if (r->req == NULL || mg_fset_is_empty(missing))
		return;
	fprintf(out, "\nwhy (instructions that need each missing feature):\n");
	for (mg_feature_id id = mg_fset_next(missing, -1); id >= 0;
	     id = mg_fset_next(missing, id)) {
		size_t shown = 0;
		size_t n = r->req->feature_sites[id];
		fprintf(out, "  %s (%zu %s)\n", mg_feature_get(id)->name, n, n == 1 ? "site" : "sites");
		for (size_t i = 0; i < r->req->nevidence; i++) {
			const mg_evidence *e = &r->req->evidence[i];
			if (e->feature != id)
				continue;
			fprintf(out, "    %s  %s+0x%llx  %s  [%s]\n", e->module ? e->module : "?",
				e->function ? e->function : "?", (unsigned long long)e->offset,
				e->instruction ? e->instruction : "?",
				e->reached_via ? e->reached_via : "?");
			if (++shown >= 5)
				break;
		}
		if (shown == 0)
			fprintf(out, "    (no evidence recorded in the requirements)\n");
	}
}

static void print_row(FILE *out, const mg_report *r, const struct row *row, int width,
		      int pwidth)
{
	const mg_verdict *v = &r->verdicts[row->g->members[0]];
	bool first = true;
	fprintf(out, "%-*s  %-12s  ", width, row->label, mg_verdict_kind_name(v->kind));
	if (r->prices) {
		char price[160] = "-";
		if (row->cheapest >= 0) {
			const mg_spot_price *p = price_of(r, (size_t)row->cheapest);
			if (row->g->count > 1)
				snprintf(price, sizeof(price), "%s %s", p->price_text,
					 name_of(r, (size_t)row->cheapest));
			else
				snprintf(price, sizeof(price), "%s", p->price_text);
		}
		fprintf(out, "%-*s  ", pwidth, price);
	}
	print_set(out, "missing", &v->missing, &first);
	print_set(out, "unknown", &v->unknown, &first);
	for (size_t k = 0; k < v->nreasons; k++) {
		fprintf(out, "%s%s", first ? "" : "; ", v->reasons[k]);
		first = false;
	}
	fprintf(out, "\n");
}

static void print_cheapest(FILE *out, const mg_report *r)
{
	long c = mg_report_cheapest(r);
	if (c < 0) {
		fprintf(out, "cheapest compatible: none (no compatible target has a %s spot price)\n",
			r->prices->product ? r->prices->product : "");
		return;
	}
	const mg_spot_price *p = price_of(r, (size_t)c);
	fprintf(out, "cheapest compatible: %s at %s USD/h in %s (%s spot)\n", name_of(r, (size_t)c),
		p->price_text, p->zone, r->prices->product ? r->prices->product : "");
}

int mg_report_table(FILE *out, const mg_report *r, mg_error *err)
{
	mg_group_list groups;
	mg_feature_set all_missing;
	size_t counts[3];
	int width = 6, pwidth = 8, rc = 0;

	if (mg_group_targets(r->targets, r->verdicts, &groups, err) != 0)
		return -1;
	struct row *rows = calloc(groups.count ? groups.count : 1, sizeof(*rows));
	if (rows == NULL) {
		mg_group_list_free(&groups);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	mg_fset_clear(&all_missing);
	for (size_t i = 0; i < groups.count; i++) {
		rows[i] = (struct row){ .g = &groups.items[i], .order = i,
					.label = mg_group_label(r->targets, &groups.items[i], LABEL_MAX),
					.cheapest = group_cheapest(r, &groups.items[i]) };
		if (rows[i].label == NULL) {
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			goto out;
		}
		if ((int)strlen(rows[i].label) > width)
			width = (int)strlen(rows[i].label);
		if (rows[i].cheapest >= 0) {
			int n = (int)strlen(price_of(r, (size_t)rows[i].cheapest)->price_text) +
				(rows[i].g->count > 1 ? 1 + (int)strlen(name_of(r, (size_t)rows[i].cheapest)) : 0);
			if (n > pwidth)
				pwidth = n;
		}
		mg_fset_union(&all_missing, &r->verdicts[groups.items[i].members[0]].missing);
	}
	if (r->prices) {
		sort_report = r;
		qsort(rows, groups.count, sizeof(*rows), cmp_row_price);
	}
	fprintf(out, "source: %s   policy: %s\n\n", r->source, r->policy);
	fprintf(out, "%-*s  %-12s  ", width, "TARGET", "VERDICT");
	if (r->prices)
		fprintf(out, "%-*s  ", pwidth, "USD/H");
	fprintf(out, "MISSING / UNKNOWN\n");
	for (size_t i = 0; i < groups.count; i++)
		print_row(out, r, &rows[i], width, pwidth);
	mg_report_counts(r, counts);
	fprintf(out, "\n%zu targets: %zu compatible, %zu incompatible, %zu unknown",
		r->targets->count, counts[0], counts[1], counts[2]);
	if (groups.count < r->targets->count)
		fprintf(out, " (in %zu rows of identical targets; --json lists each)", groups.count);
	fprintf(out, "\n");
	if (r->prices)
		print_cheapest(out, r);
	if (r->explain)
		explain_table(out, r, &all_missing);
out:
	for (size_t i = 0; i < groups.count; i++)
		free(rows[i].label);
	free(rows);
	mg_group_list_free(&groups);
	return rc;
}

/* --- JSON ------------------------------------------------------------------------------- */

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static json_object *site_json(const mg_evidence *e)
{
	json_object *s = json_object_new_object();
	if (s == NULL ||
	    mg_json_add(s, "module", json_object_new_string(or_empty(e->module))) ||
	    mg_json_add(s, "function", json_object_new_string(or_empty(e->function))) ||
	    mg_json_add(s, "address", mg_json_hex(e->address)) ||
	    mg_json_add(s, "instruction", json_object_new_string(or_empty(e->instruction)))) {
		json_object_put(s);
		return NULL;
	}
	return s;
}

/* For each missing feature, the sites that need it. */
static json_object *evidence_json(const mg_report *r, const mg_feature_set *missing)
{
	json_object *o = json_object_new_object();
	for (mg_feature_id id = mg_fset_next(missing, -1); o && id >= 0;
	     id = mg_fset_next(missing, id)) {
		json_object *a = json_object_new_array();
		if (mg_json_add(o, mg_feature_get(id)->name, a))
			goto fail;
		for (size_t i = 0; r->req && i < r->req->nevidence; i++)
			if (r->req->evidence[i].feature == id &&
			    mg_json_append(a, site_json(&r->req->evidence[i])))
				goto fail;
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/* A price as AWS printed it (json-c would print 0.0315 as 0.031500000000000000222). */
static json_object *price_json(const mg_spot_price *p)
{
	return json_object_new_double_s(p->price, p->price_text);
}

/* json-c stores JSON null as a NULL object: added directly, not as "out of memory". */
static int add_null(json_object *o, const char *key)
{
	return json_object_object_add(o, key, NULL) == 0 ? 0 : -1;
}

static int add_price(json_object *t, const mg_spot_price *p)
{
	if (p == NULL)
		return add_null(t, "price") || add_null(t, "zone");
	return mg_json_add(t, "price", price_json(p)) ||
	       mg_json_add(t, "zone", json_object_new_string(p->zone));
}

static json_object *target_json(const mg_report *r, size_t i)
{
	const mg_verdict *v = &r->verdicts[i];
	json_object *t = json_object_new_object();
	if (t == NULL ||
	    mg_json_add(t, "name", json_object_new_string(name_of(r, i))) ||
	    mg_json_add(t, "verdict", json_object_new_string(mg_verdict_kind_name(v->kind))) ||
	    mg_json_add(t, "missing", mg_fset_to_json(&v->missing)) ||
	    mg_json_add(t, "unknown", mg_fset_to_json(&v->unknown)))
		goto fail;
	if (v->nreasons) {
		json_object *rs = json_object_new_array();
		if (mg_json_add(t, "reasons", rs))
			goto fail;
		for (size_t k = 0; k < v->nreasons; k++)
			if (mg_json_append(rs, json_object_new_string(v->reasons[k])))
				goto fail;
	}
	if (r->prices && add_price(t, price_of(r, i)))
		goto fail;
	return t;
fail:
	json_object_put(t);
	return NULL;
}

static int add_cheapest(const mg_report *r, json_object *sum)
{
	long c = mg_report_cheapest(r);
	if (c < 0)
		return add_null(sum, "cheapest_compatible");
	const mg_spot_price *p = price_of(r, (size_t)c);
	json_object *o = json_object_new_object();
	if (mg_json_add(sum, "cheapest_compatible", o))
		return -1;
	return mg_json_add(o, "name", json_object_new_string(name_of(r, (size_t)c))) ||
	       mg_json_add(o, "price", price_json(p)) ||
	       mg_json_add(o, "zone", json_object_new_string(p->zone));
}

json_object *mg_report_json(const mg_report *r, mg_error *err)
{
	json_object *root = json_object_new_object(), *arr = NULL, *sum = NULL;
	mg_feature_set all_missing;
	size_t counts[3];

	mg_report_counts(r, counts);
	mg_fset_clear(&all_missing);
	if (root == NULL ||
	    mg_json_add(root, "source", json_object_new_string(r->source)) ||
	    mg_json_add(root, "policy", json_object_new_string(r->policy)) ||
	    mg_json_add(root, "targets", arr = json_object_new_array()))
		goto fail;
	for (size_t i = 0; i < r->targets->count; i++) {
		if (mg_json_append(arr, target_json(r, i)))
			goto fail;
		mg_fset_union(&all_missing, &r->verdicts[i].missing);
	}
	if (mg_json_add(root, "summary", sum = json_object_new_object()) ||
	    mg_json_add(sum, "compatible", json_object_new_int64((int64_t)counts[0])) ||
	    mg_json_add(sum, "incompatible", json_object_new_int64((int64_t)counts[1])) ||
	    mg_json_add(sum, "unknown", json_object_new_int64((int64_t)counts[2])) ||
	    (r->prices && add_cheapest(r, sum)))
		goto fail;
	if (r->explain && r->req &&
	    mg_json_add(root, "evidence", evidence_json(r, &all_missing)))
		goto fail;
	return root;
fail:
	json_object_put(root);
	mg_fail(err, MG_ERR_INTERNAL, "out of memory writing JSON");
	return NULL;
}
