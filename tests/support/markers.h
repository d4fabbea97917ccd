/*
 * markers.h - choosing marker features for workloads at test time, so
 * that every test runs on whatever x86-64 CPU the machine has today
 * (tests/workloads/wl_mark.h has the instructions).
 *
 * A marker proves that a scan followed one way to code only if the CPU
 * can run it and the workload does not need that feature anyway: so the
 * test first scans the same workload marked with nothing (its baseline)
 * and picks from the features this CPU has that the baseline lacks.
 */
#ifndef MG_TESTS_MARKERS_H
#define MG_TESTS_MARKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "features/features.h"

/*
 * Marker features (in wl_mark.h's order) that this CPU runs: listed in
 * /proc/cpuinfo and usable per migratable's own host profile, so a
 * mistake in either shows as a test failure, not a skip; minus those in
 * `exclude` (may be NULL); and, when TU_MARKER_POOL=a,b,... is set, only
 * those (a CPU with few spare features, on any machine).  Up to max names into out[] (static strings);
 * returns how many.
 */
size_t tu_pick_markers(const mg_feature_set *exclude, const char *out[], size_t max);

/*
 * Start argv in a temporary directory (tu_spawn_ready_in; env_extra
 * "NAME=VALUE" or NULL is added to its environment), scan it with the reachable method (and scan_opt,
 * e.g. "--tree", unless NULL) and stop it: the required features into
 * *out.  Fails the running test on any error.
 */
void tu_baseline_features(char *const argv[], const char *env_extra, const char *scan_opt,
			  mg_feature_set *out);

/* The first marker (tu_pick_markers) that `argv` marked with nothing
 * does not need: the baseline is scanned here (scan_opt as above). */
const char *tu_spare_marker(char *const argv[], const char *scan_opt);

/* Required features of a saved or printed scan (its "required_features"). */
void tu_required_set(json_object *scan, mg_feature_set *out);

/* The instruction of a marker (AT&T syntax, as basic asm). */
const char *tu_marker_insn(const char *name);

/* Compile a shared library at path exporting void funcs[i](void), each
 * running the marker of features[i] (the test picks them at run time). */
void tu_build_marked_library(const char *path, const char *const funcs[],
			     const char *const features[], size_t n);

/* --- wl_scan_targets --------------------------------------------------- */

/* The ways wl_scan_targets marks (its arguments, plus the lazy PLT slot,
 * chosen by which libwlplt.so it loads, and the unreferenced functions). */
enum tu_mark_kind {
	TU_MARK_HEAP, TU_MARK_THREAD, TU_MARK_SIGNAL, TU_MARK_VCALL, TU_MARK_PLT,
	TU_MARK_UNREF, TU_MARK_JIT, TU_MARK_KINDS
};

/* "heap", "thread", ... */
const char *tu_mark_kind_name(enum tu_mark_kind k);

/* One process to start: the feature of each kind it is marked with, or
 * NULL (marked with nothing). */
typedef struct tu_marked {
	const char *feature[TU_MARK_KINDS];
} tu_marked;

/*
 * Which processes to start so that every kind is marked once, with a
 * feature no other kind of its process uses.  Usually one process holds
 * every kind but the JIT (generated code, which may widen a scan, gets a
 * process of its own); a CPU with few spare features gets more.
 */
typedef struct tu_mark_plan {
	size_t nprocs;
	tu_marked procs[TU_MARK_KINDS];
	size_t proc_of[TU_MARK_KINDS];   /* index into procs */
	mg_feature_set baseline;         /* wl_scan_targets marked with nothing */
} tu_mark_plan;

/* Scan the unmarked workload and make a plan; fails the running test
 * when this CPU has no spare marker at all. */
void tu_plan_scan_targets(tu_mark_plan *plan);

/* argv for one process of the plan (into argv[], up to 8 entries, the
 * strings in buf) and the LD_LIBRARY_PATH=... that picks its libwlplt.so
 * (into env, or "" when unmarked). */
#define TU_ARGV_BUF 4608
#define TU_ENV_BUF  4224
void tu_scan_targets_argv(const tu_marked *m, char *argv[8], char buf[TU_ARGV_BUF],
			  char env[TU_ENV_BUF]);

/* The marker libraries of a kind (PLT or virtual call) for feature f:
 * build/workloads/mark/f/libwlplt.so or libwlvcall.so (static buffer). */
const char *tu_mark_lib(enum tu_mark_kind k, const char *f);

#endif
