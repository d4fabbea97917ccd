/*
 * testutil.h - helpers shared by the test suites (linked into each).
 * Include after <cmocka.h>'s prerequisites (stdarg, stddef, setjmp).
 */
#ifndef MG_TESTS_TESTUTIL_H
#define MG_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "features/features.h"

/* ../shared/data beside the repository (tests run from the repo root),
 * or $MIGRATABLE_SHARED; NULL when absent (tests then skip). */
const char *tu_shared_data(void);

/* Path of a built workload ($MIGRATABLE_WORKLOADS/name, default
 * build/workloads/name); static buffer. */
const char *tu_workload_path(const char *name);

/* Path of the migratable binary ($MIGRATABLE_BIN, default build/migratable). */
const char *tu_migratable_bin(void);

/*
 * The soundness corpus (tests/workloads/corpus/build.sh), built once per
 * build directory by make (`make workloads`, a prerequisite of `make
 * check`) into $MIGRATABLE_WORKLOADS/corpus, which holds a file named
 * TU_CORPUS_STAMP once the build is complete.  Returns that directory
 * (static buffer), or NULL after printing why when it is not built.
 * Tests only read it, so concurrent test binaries never race on it.
 */
#define TU_CORPUS_STAMP ".stamp"
const char *tu_corpus_dir(void);

/* Most arguments tu_migratable_argv() stores, the final NULL included. */
#define TU_ARGV_MAX 32

/*
 * argv = { tu_migratable_bin(), first, the arguments in ap up to their
 * NULL, NULL }; without first when it is NULL.  Fails the running test
 * when they do not fit in TU_ARGV_MAX.
 */
void tu_migratable_argv(char *argv[TU_ARGV_MAX], const char *first, va_list ap);

/*
 * Run migratable with the NULL-terminated arguments after err, as
 * tu_run() does: its stdout and stderr into *out and *err (caller frees;
 * either pointer may be NULL: not kept); returns tu_run()'s status.
 *   rc = tu_migratable(&out, NULL, "scan", pidbuf, "--json", NULL);
 */
int tu_migratable(char **out, char **err, ...);

/* The same with the arguments { first (unless NULL), ap... }, for
 * variadic wrappers such as `check ARGS...`. */
int tu_migratable_v(char **out, char **err, const char *first, va_list ap);

/* Milliseconds on CLOCK_MONOTONIC (for durations and deadlines). */
double tu_now_ms(void);

/* Parse a JSON file; fails the running test when it cannot
 * (json_object_put() the result). */
json_object *tu_load_json(const char *path);

/* Member key of the JSON object o; fails the running test when it has
 * none.  Borrowed from o (no reference taken). */
json_object *tu_json_get(json_object *o, const char *key);

/* Does the array o[key] hold a string containing needle?  (Fails the
 * test if there is no key.) */
bool tu_json_lists(json_object *o, const char *key, const char *needle);

/*
 * Start `/usr/bin/python3 -c script` (which prints "ready" when it is),
 * directly or, with catalog, under `migratable run --quiet --catalog
 * CATALOG --`; scan it with --json and up to four more arguments (extra,
 * NULL-terminated; NULL: none), stop it, and return the scan (failing
 * the test if it fails).
 */
json_object *tu_scan_python(const char *script, const char *catalog, const char *const *extra);

/* `scan PID --json` with up to four more arguments (extra, NULL-terminated;
 * NULL: none): its JSON, or fail the test.  The process is left running. */
json_object *tu_scan_pid(pid_t pid, const char *const *extra);

/* Does a scan's JSON name feature f among its required_features? */
bool tu_scan_requires(json_object *scan, const char *f);

/*
 * Start argv[0] (absolute path) with argv, stdout piped; wait up to
 * timeout_ms for a line containing "ready" on its stdout.  Returns the
 * pid, or -1.  The child gets its own process group; tu_stop kills it.
 */
pid_t tu_spawn_ready(char *const argv[], int timeout_ms);

/* The same, started in directory dir (unless NULL) with env_extra
 * ("NAME=VALUE", unless NULL) added to its environment. */
pid_t tu_spawn_ready_in(char *const argv[], const char *dir, const char *env_extra,
			int timeout_ms);

/* Kill (SIGKILL) and reap a child started by tu_spawn_ready. */
void tu_stop(pid_t pid);

/* State letter from /proc/PID/stat ('R', 'S', 't', 'T', 'Z', ...), or 0. */
char tu_proc_state(pid_t pid);

/* TracerPid from /proc/PID/status; -1 on error. */
int tu_tracer_pid(pid_t pid);

/*
 * Run a command (argv[0] resolved through PATH), capture stdout (and
 * stderr if err_out) into newly allocated strings; returns the exit
 * status, 128+signal if killed, -1 if it could not run.
 */
int tu_run(char *const argv[], char **out, char **err_out);

/* Read a whole file (binary-safe: *len is its size) into a malloc'd
 * buffer with a NUL appended; NULL on error. */
char *tu_read_file(const char *path, size_t *len);

/* Does /proc/cpuinfo list this flag (first CPU)? */
bool tu_cpu_has(const char *flag);

/* Create an empty file from a mkstemp() template (modified in place);
 * fails the running test when it cannot. */
void tu_temp_file(char *tmpl);

/* The feature of that /proc/cpuinfo name; fails the running test when
 * the feature table does not know it. */
mg_feature_id tu_feature(const char *name);

/*
 * Why a test may skip: only for a reason outside the project's control,
 * which it names, never for the CPU model (choose markers instead:
 * support/markers.h).  tests/run-tests.sh lists every skip with its
 * reason; under CI=true it fails unless the class is one a CI machine may
 * lack (TU_SKIP_NO_SHARED, TU_SKIP_NO_PRIVILEGE).
 */
typedef enum tu_skip_class {
	TU_SKIP_NO_SHARED,     /* ../shared (reference data) is absent */
	TU_SKIP_NO_PRIVILEGE,  /* not root, no ptrace or namespace permission */
	TU_SKIP_HOST           /* this machine lacks a kernel feature, tool or
	                        * package that CI installs or has */
} tu_skip_class;

/* Print the "tu-skip: CLASS: reason" line run-tests.sh reads. */
void tu_skip_note(tu_skip_class why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define tu_skip(why, ...) do { tu_skip_note(why, __VA_ARGS__); skip(); } while (0)

#endif
