/*
 * report.h - what `check` prints: a table that fits a screen (one row per
 * group of identical targets), JSON (one entry per target), with spot
 * prices when given; and the HTML compatibility matrix of several
 * workloads (report_html.c).
 */
#ifndef MG_VERDICT_REPORT_H
#define MG_VERDICT_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "analysis/scan.h"
#include "util/error.h"
#include "verdict/prices.h"
#include "verdict/verdict.h"

typedef struct mg_report {
	const char *source;              /* what was checked ("pid 4242", a file) */
	const char *policy;              /* "workload", "criu", "criu-like" */
	const mg_target_list *targets;
	const mg_verdict *verdicts;      /* one per target */
	const mg_price_table *prices;    /* NULL: no prices */
	const mg_scan_result *req;       /* evidence for explain; may be NULL */
	bool explain;
} mg_report;

/* counts[kind] = how many targets got that verdict. */
void mg_report_counts(const mg_report *r, size_t counts[3]);

/*
 * The cheapest compatible target with a price: its index, or -1 when no
 * compatible target has one.  Ties go to the name that sorts first.
 */
long mg_report_cheapest(const mg_report *r);

/*
 * The table: one row per group of targets with identical feature sets and
 * verdicts (groups.h), its verdict and missing/unknown features; with
 * prices a column of the group's lowest price and the rows sorted by it
 * (groups without a price last), and the cheapest compatible target named
 * under the summary.  --explain adds the instructions behind each missing
 * feature.
 */
int mg_report_table(FILE *out, const mg_report *r, mg_error *err);

/*
 * The JSON document of docs/check.md: {"source", "policy", "targets":
 * [{"name", "verdict", "missing", "unknown"[, "reasons"][, "price", "zone"]}],
 * "summary": {"compatible", "incompatible", "unknown"[, "cheapest_compatible"]}
 * [, "evidence"]}, one entry per target in list order.  NULL when out of memory.
 */
json_object *mg_report_json(const mg_report *r, mg_error *err);

/* One workload (a row of the HTML matrix). */
typedef struct mg_workload {
	const char *name;
	const mg_feature_set *required;
} mg_workload;

/*
 * A self-contained HTML page (inline style, no script, nothing fetched):
 * the compatibility matrix of the workloads against groups of targets with
 * identical feature sets.  One <td class="cell VERDICT"> per workload and
 * group, its title listing what is missing or unknown; a legend lists
 * each group's members and features.
 */
int mg_report_html(FILE *out, const char *title, const mg_workload *w, size_t nw,
		   const mg_target_list *targets, const mg_price_table *prices, mg_error *err);

#endif
