/* markers.c - see markers.h. */
#include "support/markers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features/profile.h"
#include "support/testutil.h"
#include "../workloads/wl_mark.h"

#define WL_MARK_NAME(p, name, insn) #name,
static const char *const marker_names[] = { WL_MARKERS(WL_MARK_NAME, _) };
#define NMARKERS (sizeof(marker_names) / sizeof(marker_names[0]))
#define WL_MARK_INSN(p, name, insn) insn,
static const char *const marker_insns[] = { WL_MARKERS(WL_MARK_INSN, _) };

const char *tu_marker_insn(const char *name)
{
	for (size_t i = 0; i < NMARKERS; i++)
		if (strcmp(marker_names[i], name) == 0)
			return marker_insns[i];
	fail_msg("no marker %s in wl_mark.h", name);
	return NULL;
}

void tu_build_marked_library(const char *path, const char *const funcs[],
			     const char *const features[], size_t n)
{
	char src[4200], cmd[9000];
	snprintf(src, sizeof(src), "%s.c", path);
	FILE *f = fopen(src, "w");
	if (f == NULL)
		fail_msg("%s: %s", src, strerror(errno));
	for (size_t i = 0; i < n; i++)
		fprintf(f, "void %s(void);\nvoid %s(void) { __asm__ volatile(\"%s\"); }\n",
			funcs[i], funcs[i], tu_marker_insn(features[i]));
	if (fclose(f) != 0)
		fail_msg("%s: %s", src, strerror(errno));
	snprintf(cmd, sizeof(cmd), "cc -O1 -fPIC -shared -o '%s' '%s'", path, src);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	unlink(src);
}

/* TU_MARKER_POOL=a,b,...: pick only among these (to try the plans a CPU
 * with few spare features gets); unset: all. */
static bool in_pool(const char *name)
{
	const char *pool = getenv("TU_MARKER_POOL");
	size_t n = strlen(name);
	for (const char *p = pool; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0))
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return pool == NULL;
}

size_t tu_pick_markers(const mg_feature_set *exclude, const char *out[], size_t max)
{
	mg_profile host;
	mg_error err = { 0 };
	size_t n = 0;

	if (mg_host_profile(&host, "test", &err) != 0)
		fail_msg("host profile: %s", err.msg);
	for (size_t i = 0; i < NMARKERS && n < max; i++) {
		mg_feature_id f = mg_feature_by_name(marker_names[i]);
		if (strcmp(marker_names[i], "none") == 0)
			continue;
		if (f < 0)
			fail_msg("wl_mark.h: %s is no feature of the table", marker_names[i]);
		if (!tu_cpu_has(marker_names[i]) || !mg_fset_has(&host.features, f) ||
		    (exclude && mg_fset_has(exclude, f)) || !in_pool(marker_names[i]))
			continue;
		out[n++] = marker_names[i];
	}
	mg_profile_free(&host);
	return n;
}

void tu_required_set(json_object *scan, mg_feature_set *out)
{
	json_object *req = tu_json_get(scan, "required_features");
	mg_fset_clear(out);
	for (size_t i = 0; i < json_object_array_length(req); i++)
		mg_fset_add(out, tu_feature(json_object_get_string(json_object_array_get_idx(req, i))));
}

void tu_baseline_features(char *const argv[], const char *env_extra, const char *scan_opt,
			  mg_feature_set *out)
{
	/* In a directory of its own: workloads write files into their cwd. */
	char dir[] = "/tmp/mg-baseline-XXXXXX", cmd[64];
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	pid_t pid = tu_spawn_ready_in(argv, dir, env_extra, 10000);
	char pidbuf[16], *json = NULL, *err = NULL;

	if (pid <= 0)
		fail_msg("%s did not start", argv[0]);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&json, &err, "scan", pidbuf, "--json", scan_opt, NULL);
	tu_stop(pid);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	if (rc != 0)
		fail_msg("baseline scan of %s exited %d: %s", argv[0], rc, err ? err : "");
	json_object *root = json_tokener_parse(json);
	if (root == NULL)
		fail_msg("baseline scan of %s printed no JSON", argv[0]);
	tu_required_set(root, out);
	json_object_put(root);
	free(json);
	free(err);
}

const char *tu_spare_marker(char *const argv[], const char *scan_opt)
{
	mg_feature_set base;
	const char *spare[1];
	tu_baseline_features(argv, NULL, scan_opt, &base);
	if (tu_pick_markers(&base, spare, 1) == 0)
		fail_msg("no marker this CPU runs is free: %s already needs them all", argv[0]);
	return spare[0];
}

/* --- wl_scan_targets --------------------------------------------------- */

static const char *const kind_names[TU_MARK_KINDS] = {
	"heap", "thread", "signal", "vcall", "plt", "unref", "jit",
};

const char *tu_mark_kind_name(enum tu_mark_kind k)
{
	return k < TU_MARK_KINDS ? kind_names[k] : "?";
}

const char *tu_mark_lib(enum tu_mark_kind k, const char *f)
{
	static char path[4096];
	char rel[128];
	snprintf(rel, sizeof(rel), "mark/%s/%s", f ? f : "none",
		 k == TU_MARK_PLT ? "libwlplt.so" : "libwlvcall.so");
	snprintf(path, sizeof(path), "%s", tu_workload_path(rel));
	return path;
}

void tu_scan_targets_argv(const tu_marked *m, char *argv[8], char buf[TU_ARGV_BUF],
			  char env[TU_ENV_BUF])
{
	/* wl_scan_targets' own argument names, for the kinds it takes. */
	static const enum tu_mark_kind by_arg[] = {
		TU_MARK_HEAP, TU_MARK_THREAD, TU_MARK_SIGNAL, TU_MARK_VCALL, TU_MARK_JIT,
	};
	size_t n = 0;
	int used = snprintf(buf, TU_ARGV_BUF, "%s", tu_workload_path("wl_scan_targets")) + 1;

	assert_true(used > 1 && used < TU_ARGV_BUF);
	argv[n++] = buf;
	for (size_t i = 0; i < sizeof(by_arg) / sizeof(by_arg[0]); i++) {
		const char *f = m->feature[by_arg[i]];
		if (f == NULL)
			continue;
		int len = snprintf(buf + used, (size_t)(TU_ARGV_BUF - used), "%s=%s",
				   kind_names[by_arg[i]], f);
		assert_true(len > 0 && used + len < TU_ARGV_BUF);
		argv[n++] = buf + used;
		used += len + 1;
	}
	argv[n] = NULL;
	env[0] = '\0';
	if (m->feature[TU_MARK_PLT]) {
		int len = snprintf(env, TU_ENV_BUF, "LD_LIBRARY_PATH=%s",
				   tu_mark_lib(TU_MARK_PLT, m->feature[TU_MARK_PLT]));
		assert_true(len > 0 && len < TU_ENV_BUF);
		*strrchr(env, '/') = '\0';
	}
}

void tu_plan_scan_targets(tu_mark_plan *plan)
{
	const char *spare[TU_MARK_KINDS];
	tu_marked none = { { NULL } };
	char *argv[8], buf[TU_ARGV_BUF], env[TU_ENV_BUF];

	memset(plan, 0, sizeof(*plan));
	tu_scan_targets_argv(&none, argv, buf, env);
	tu_baseline_features(argv, NULL, NULL, &plan->baseline);
	size_t n = tu_pick_markers(&plan->baseline, spare, TU_MARK_KINDS);
	if (n == 0)
		fail_msg("no marker of wl_mark.h that this CPU runs is free: "
			 "the unmarked wl_scan_targets already needs them all");
	/* Every kind but the JIT, n per process with distinct features. */
	for (size_t k = 0; k < TU_MARK_JIT; k++) {
		size_t p = k / n;
		plan->procs[p].feature[k] = spare[k % n];
		plan->proc_of[k] = p;
		if (p + 1 > plan->nprocs)
			plan->nprocs = p + 1;
	}
	plan->procs[plan->nprocs].feature[TU_MARK_JIT] = spare[0];
	plan->proc_of[TU_MARK_JIT] = plan->nprocs++;
}
