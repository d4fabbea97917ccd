/*
 * verdict.h - may a process with these requirements move to that target?
 *
 * Three answers, never more optimistic than the data allows:
 *   compatible    every required feature is present on the target;
 *   incompatible  some required feature is absent (listed in `missing`);
 *   unknown       nothing is known to be missing, but the target cannot
 *                 decide some required feature (listed in `unknown`).
 *
 * Policies:
 *   workload    the process' own requirements (a scan) against the target;
 *   criu        CRIU's `cpuinfo check` rules (criu_policy.h), which need
 *               raw CPUID on both sides;
 *   criu-like   CRIU's instruction-level rule over feature lists: every
 *               feature of the source inside CRIU's ins mask must be on
 *               the target.  Works with minimal profiles (the gain
 *               benchmark's baseline).
 */
#ifndef MG_VERDICT_VERDICT_H
#define MG_VERDICT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "features/features.h"
#include "features/profile.h"
#include "util/error.h"

typedef enum mg_verdict_kind {
	MG_VERDICT_COMPATIBLE,
	MG_VERDICT_INCOMPATIBLE,
	MG_VERDICT_UNKNOWN
} mg_verdict_kind;

#define MG_VERDICT_REASONS_MAX 8

typedef struct mg_verdict {
	mg_verdict_kind kind;
	mg_feature_set missing;    /* required and absent on the target */
	mg_feature_set unknown;    /* required and undecidable for the target */
	/* Rule-level explanations ("xsave_size 832 != 1088"), for policies
	 * whose failures are not features. */
	char reasons[MG_VERDICT_REASONS_MAX][160];
	size_t nreasons;
} mg_verdict;

/* "compatible", "incompatible", "unknown". */
const char *mg_verdict_kind_name(mg_verdict_kind k);

/* Append a formatted reason (silently dropped past MG_VERDICT_REASONS_MAX). */
void mg_verdict_add_reason(mg_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reset to "compatible, nothing missing". */
void mg_verdict_init(mg_verdict *v);

/*
 * Workload policy: missing = required ∩ absent(target),
 * unknown = required ∩ target->unknown.  Absent means neither in
 * target->features nor in target->unknown.
 */
/*
 * The workload policy for a scan's answer: as mg_verdict_workload on
 * r->required, except that a missing feature of r->conditional (needed
 * only if the source had it, which its profile cannot tell) makes the
 * verdict unknown, not incompatible.
 */
struct mg_scan_result;
void mg_verdict_scan(const struct mg_scan_result *r, const mg_profile *target, mg_verdict *out);

void mg_verdict_workload(const mg_feature_set *required, const mg_profile *target,
			 mg_verdict *out);

/*
 * CRIU-like host policy over feature lists: the required set is the
 * source's usable features that lie in CRIU's instruction mask
 * (mg_criu_ins_features()); a source feature the source profile cannot
 * decide is treated as required (it may be there).
 */
void mg_verdict_criu_like(const mg_profile *source, const mg_profile *target,
			  mg_verdict *out);

/* --- target lists --------------------------------------------------------------- */

typedef struct mg_target_list {
	mg_profile *items;
	size_t count, capacity;
} mg_target_list;

/* Move *p into the list (p is left empty); -1 on allocation failure. */
int mg_target_list_take(mg_target_list *l, mg_profile *p, mg_error *err);

void mg_target_list_free(mg_target_list *l);

/*
 * Read one profile file as check takes it: a CRIU cpuinfo.img (by its
 * magic; named after the path) or a JSON profile.  A malformed or missing
 * JSON profile is MG_ERR_USAGE (bad input to check); an unreadable
 * cpuinfo.img keeps MG_ERR_IO.  Errors name the file.
 */
int mg_profile_load_file(const char *path, mg_profile *p, mg_error *err);

/*
 * Add the profiles of a file (as mg_profile_load_file), or of every *.json
 * file in a directory (sorted by name, not recursive).
 */
int mg_targets_load_path(const char *path, mg_target_list *out, mg_error *err);

/*
 * Add a built-in catalog:
 *   x86-64-v1 .. x86-64-v4   one psABI level each (other features absent)
 *   x86-64-levels            all four
 *   host                     this machine
 *   libvirt                  every x86 model of /usr/share/libvirt/cpu_map
 *   libvirt:DIR              the same from another cpu_map directory
 *   nfd:FILE                 nodes of a `kubectl get nodes -o json` dump
 *   NAME                     a catalog file found by mg_catalog_find()
 *                            (aws-us-west-2, alias aws, is installed)
 *   PATH                     a catalog file (a "/" in it, or *.json)
 * Unknown names and malformed catalogs are MG_ERR_USAGE.
 */
int mg_catalog_load(const char *name, mg_target_list *out, mg_error *err);

/* One line per catalog, for --help. */
const char *mg_catalog_help(void);

#endif
