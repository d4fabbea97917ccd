/*
 * report_html.c - `check --format html`: the compatibility matrix of
 * several workloads against groups of targets, as one self-contained page
 * (report.h).  Nothing is fetched (no script, font or image): the page is
 * meant to be mailed or attached to a ticket and opened anywhere.
 */
#include "verdict/report.h"

#include <stdlib.h>
#include <string.h>

#include "verdict/groups.h"

#define LABEL_MAX 60

static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':  fputs("&amp;", out); break;
		case '<':  fputs("&lt;", out); break;
		case '>':  fputs("&gt;", out); break;
		case '"':  fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:   fputc(*s, out);
		}
	}
}

/* Feature names with ", " between them, so that a long list wraps. */
static void esc_set(FILE *out, const mg_feature_set *s)
{
	const char *names[MG_FEATURE_SET_BITS];
	size_t n = mg_fset_names(s, names);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", out);
		esc(out, names[i]);
	}
	if (n == 0)
		fputs("(none)", out);
}

static const char style[] =
	"body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px;color:#222}\n"
	"h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
	"table{border-collapse:collapse}\n"
	"th,td{border:1px solid #bbb;padding:3px 6px;font-size:13px}\n"
	"thead th{background:#eee;vertical-align:bottom}\n"
	"thead th small{display:block;font-weight:normal;color:#555}\n"
	"tbody th{text-align:left;background:#f6f6f6;white-space:nowrap}\n"
	"td.cell{text-align:center;min-width:26px;font-weight:bold;cursor:default}\n"
	"td.cell:hover{outline:2px solid #000}\n"
	"td.compatible,.key .compatible{background:#2e7d32;color:#fff}\n"
	"td.incompatible,.key .incompatible{background:#c62828;color:#fff}\n"
	"td.unknown,.key .unknown{background:#f9a825;color:#000}\n"
	".key span{padding:2px 8px;margin-right:8px}\n"
	"table.legend td{vertical-align:top;max-width:720px}\n"
	"table.legend td.members{font-family:DejaVu Sans Mono,monospace;font-size:12px;max-width:420px}\n";

static const char *symbol(mg_verdict_kind k)
{
	switch (k) {
	case MG_VERDICT_COMPATIBLE:   return "&#10003;";    /* check mark */
	case MG_VERDICT_INCOMPATIBLE: return "&#10007;";    /* ballot x */
	case MG_VERDICT_UNKNOWN:      return "?";
	}
	return "?";
}

static void header(FILE *out, const char *title, size_t nw, const mg_group_list *g,
		   const mg_target_list *t, char **labels)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", out);
	esc(out, title);
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", style);
	esc(out, title);
	fprintf(out, "</h1>\n<p>%zu workload%s against %zu target%s in %zu groups of identical "
		"CPU features (columns; the legend below lists their members). Hover over a "
		"cell for what is missing.</p>\n", nw, nw == 1 ? "" : "s", t->count,
		t->count == 1 ? "" : "s", g->count);
	fputs("<p class=\"key\"><span class=\"compatible\">&#10003; compatible</span>"
	      "<span class=\"incompatible\">&#10007; incompatible</span>"
	      "<span class=\"unknown\">? unknown</span></p>\n", out);
	fputs("<table class=\"matrix\">\n<thead><tr><th>workload</th>", out);
	for (size_t j = 0; j < g->count; j++) {
		fprintf(out, "<th title=\"");
		esc(out, labels[j]);
		fprintf(out, "\">G%zu<small>%zu</small></th>", j + 1, g->items[j].count);
	}
	fputs("</tr></thead>\n<tbody>\n", out);
}

static void cell(FILE *out, const mg_workload *w, size_t j, const char *label,
		 const mg_verdict *v)
{
	fprintf(out, "<td class=\"cell %s\" data-group=\"G%zu\" title=\"", mg_verdict_kind_name(v->kind),
		j + 1);
	esc(out, w->name);
	fputs(" on ", out);
	esc(out, label);
	fprintf(out, ": %s", mg_verdict_kind_name(v->kind));
	if (!mg_fset_is_empty(&v->missing)) {
		fputs("; missing: ", out);
		esc_set(out, &v->missing);
	}
	if (!mg_fset_is_empty(&v->unknown)) {
		fputs("; unknown: ", out);
		esc_set(out, &v->unknown);
	}
	fprintf(out, "\">%s</td>", symbol(v->kind));
}

/* The cheapest member of a group with a price, as "0.0315 c6a.large". */
static void group_price(FILE *out, const mg_target_list *t, const mg_group *g,
			const mg_price_table *prices)
{
	const mg_spot_price *best = NULL;
	for (size_t k = 0; prices && k < g->count; k++) {
		const mg_spot_price *p = mg_prices_find(prices, t->items[g->members[k]].name);
		if (p && (best == NULL || p->price < best->price))
			best = p;
	}
	if (best == NULL) {
		fputs("-", out);
		return;
	}
	esc(out, best->price_text);
	fputc(' ', out);
	esc(out, best->instance_type);
	fputs(" (", out);
	esc(out, best->zone);
	fputc(')', out);
}

static void legend(FILE *out, const mg_target_list *t, const mg_group_list *g,
		   char **labels, const mg_price_table *prices)
{
	mg_feature_set common;
	mg_fset_clear(&common);
	for (size_t j = 0; j < g->count; j++) {
		const mg_feature_set *f = &t->items[g->items[j].members[0]].features;
		if (j == 0)
			common = *f;
		else
			mg_fset_intersect(&common, f);
	}
	fputs("<h2>Groups</h2>\n<p>Features every group has: ", out);
	esc_set(out, &common);
	fputs("</p>\n<table class=\"legend\">\n<tr><th>group</th><th>members</th>"
	      "<th>features beyond those</th><th>unknown</th>", out);
	if (prices)
		fputs("<th>lowest spot price (USD/h)</th>", out);
	fputs("</tr>\n", out);
	for (size_t j = 0; j < g->count; j++) {
		const mg_profile *p = &t->items[g->items[j].members[0]];
		mg_feature_set extra = p->features;
		mg_fset_subtract(&extra, &common);
		fprintf(out, "<tr><th>G%zu</th><td class=\"members\"><b>", j + 1);
		esc(out, labels[j]);
		fputs("</b><br>", out);
		for (size_t k = 0; k < g->items[j].count; k++) {
			if (k)
				fputc(' ', out);
			esc(out, t->items[g->items[j].members[k]].name);
		}
		fputs("</td><td>", out);
		esc_set(out, &extra);
		fputs("</td><td>", out);
		esc_set(out, &p->unknown);
		fputs("</td>", out);
		if (prices) {
			fputs("<td>", out);
			group_price(out, t, &g->items[j], prices);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

int mg_report_html(FILE *out, const char *title, const mg_workload *w, size_t nw,
		   const mg_target_list *targets, const mg_price_table *prices, mg_error *err)
{
	mg_group_list g;
	int rc = 0;

	if (mg_group_targets(targets, NULL, &g, err) != 0)
		return -1;
	char **labels = calloc(g.count ? g.count : 1, sizeof(*labels));
	if (labels == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < g.count; j++)
		if ((labels[j] = mg_group_label(targets, &g.items[j], LABEL_MAX)) == NULL) {
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			goto out;
		}
	header(out, title, nw, &g, targets, labels);
	for (size_t i = 0; i < nw; i++) {
		fputs("<tr><th>", out);
		esc(out, w[i].name);
		fputs("</th>", out);
		for (size_t j = 0; j < g.count; j++) {
			mg_verdict v;
			mg_verdict_workload(w[i].required, &targets->items[g.items[j].members[0]], &v);
			cell(out, &w[i], j, labels[j], &v);
		}
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
	legend(out, targets, &g, labels, prices);
	fputs("</body>\n</html>\n", out);
out:
	for (size_t j = 0; labels && j < g.count; j++)
		free(labels[j]);
	free(labels);
	mg_group_list_free(&g);
	return rc;
}
