/*
 * groups.h - targets that are the same for a verdict, as one.
 *
 * A cloud catalog lists hundreds of instance types but only a few dozen
 * feature sets (every size of c6a is one CPU).  Targets whose features and
 * unknown sets are identical get identical verdicts under the workload
 * policy, so tables print one row per group and catalogs store one
 * feature list per group.  Names stay compact: "c6a.* m6a.* (22 types)"
 * when whole families (the part of a name before its first '.') share a
 * set, "c5.{large,xlarge}" for part of one.
 */
#ifndef MG_VERDICT_GROUPS_H
#define MG_VERDICT_GROUPS_H

#include <stddef.h>

#include "util/error.h"
#include "verdict/verdict.h"

typedef struct mg_group {
	size_t *members;     /* indexes into the target list, ascending */
	size_t count;
} mg_group;

typedef struct mg_group_list {
	mg_group *items;     /* in the order of their first member */
	size_t count;
} mg_group_list;

/*
 * Group the targets of l with identical features and unknown sets; when
 * verdicts is not NULL (one per target), also with identical verdicts
 * (kind, missing, unknown, reasons), since the CRIU policy reads more of
 * a profile than its features.  0, or -1 when out of memory.
 */
int mg_group_targets(const mg_target_list *l, const mg_verdict *verdicts,
		     mg_group_list *out, mg_error *err);

void mg_group_list_free(mg_group_list *g);

/*
 * A compact name for group g of l, at most max_len bytes (max_len >= 24):
 * its member's name when it has one; else whole families as "fam.*",
 * parts of one as "fam.{a,b}", other names as they are, in order of
 * first member, then "+N more" when they do not fit, and " (K types)".
 * Newly allocated; NULL when out of memory.
 */
char *mg_group_label(const mg_target_list *l, const mg_group *g, size_t max_len);

#endif
