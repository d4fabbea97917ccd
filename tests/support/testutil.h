/*
 * testutil.h - helpers shared by the test suites (linked into each).
 * Include after <cmocka.h>'s prerequisites (stdarg, stddef, setjmp).
 */
#ifndef MG_TESTS_TESTUTIL_H
#define MG_TESTS_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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
 * Start argv[0] (absolute path) with argv, stdout piped; wait up to
 * timeout_ms for a line containing "ready" on its stdout.  Returns the
 * pid, or -1.  The child gets its own process group; tu_stop kills it.
 */
pid_t tu_spawn_ready(char *const argv[], int timeout_ms);

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

#endif
