/*
 * test_precision.c - the scan counts what the process can still execute,
 * no more (issue 11), and no less: each case has a twin that must count.
 *
 *   dlsym: a call with a constant name reaches that export only; one with
 *          a name computed at run time reaches every export.
 *   ld.so: under LD_BIND_NOW (the process's _dl_lazy is 0) the lazy-binding
 *          trampolines (XSAVEC/XSAVE/FXSAVE) are not reachable; without it
 *          they are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/markers.h"
#include "support/testutil.h"

static json_object *scan_pid(pid_t pid)
{
	char pidbuf[16], *out = NULL, *err = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&out, &err, "scan", pidbuf, "--json", NULL);
	if (rc != 0)
		fail_msg("scan %d exited %d: %s", (int)pid, rc, err ? err : "");
	json_object *root = json_tokener_parse(out);
	free(out);
	free(err);
	assert_non_null(root);
	return root;
}

static bool requires(json_object *scan, const char *f)
{
	json_object *req = tu_json_get(scan, "required_features");
	for (size_t i = 0; i < json_object_array_length(req); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(req, i)), f) == 0)
			return true;
	return false;
}

/* Scan wl_dlsym over lib in `mode`: is each marker counted? */
static void scan_dlsym(const char *lib, const char *mode, const char *a, const char *b,
		       bool *has_a, bool *has_b)
{
	char *argv[] = { (char *)tu_workload_path("wl_dlsym"), (char *)lib, (char *)mode, NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	json_object *scan = scan_pid(pid);
	tu_stop(pid);
	*has_a = requires(scan, a);
	*has_b = requires(scan, b);
	json_object_put(scan);
}

static void test_dlsym_constant_name(void **state)
{
	(void)state;
	char dir[] = "/tmp/mg-dlsym-XXXXXX", lib[64];
	assert_non_null(mkdtemp(dir));
	snprintf(lib, sizeof(lib), "%s/libwldlsym.so", dir);
	/* The markers: free in wl_dlsym over a library of nops. */
	static const char *const funcs[] = { "wldlsym_target", "wldlsym_other" };
	const char *nops[] = { "none", "none" };
	tu_build_marked_library(lib, funcs, nops, 2);
	mg_feature_set base;
	char *plain[] = { (char *)tu_workload_path("wl_dlsym"), lib, "computed", NULL };
	tu_baseline_features(plain, NULL, NULL, &base);
	const char *m[2];
	if (tu_pick_markers(&base, m, 2) != 2)
		fail_msg("fewer than two markers this CPU runs are free in wl_dlsym");
	tu_build_marked_library(lib, funcs, m, 2);

	bool a, b;
	scan_dlsym(lib, "const", m[0], m[1], &a, &b);
	printf("dlsym(h, \"wldlsym_target\"): %s %s, %s %s\n", m[0], a ? "counted" : "not counted",
	       m[1], b ? "counted" : "not counted");
	assert_true(a);
	assert_false(b);
	scan_dlsym(lib, "computed", m[0], m[1], &a, &b);
	printf("dlsym(h, computed): %s %s, %s %s\n", m[0], a ? "counted" : "not counted",
	       m[1], b ? "counted" : "not counted");
	assert_true(a);
	assert_true(b);
	unlink(lib);
	rmdir(dir);
}

/* `scan PID --explain F` of a python3 started with env_extra (or NULL). */
static char *explain_python(const char *env_extra, const char *f)
{
	char *argv[] = { "python3", "-c", "import time; print('ready', flush=True); time.sleep(60)",
			 NULL };
	pid_t pid = tu_spawn_ready_in(argv, NULL, env_extra, 10000);
	char pidbuf[16], *out = NULL;
	assert_true(pid > 0);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&out, NULL, "scan", pidbuf, "--explain", f, NULL);
	tu_stop(pid);
	assert_int_equal(rc, 0);
	return out;
}

static void test_bind_now_trampolines(void **state)
{
	(void)state;
	/* The trampoline ld.so chose on this CPU, by the feature it needs. */
	const char *f = tu_cpu_has("xsavec") ? "xsavec" : tu_cpu_has("xsave") ? "xsave" : "fxsr";
	char *lazy = explain_python(NULL, f), *now = explain_python("LD_BIND_NOW=1", f);
	bool lazy_has = strstr(lazy, "_dl_runtime_resolve") != NULL;
	if (!lazy_has && strstr(lazy, "ld-linux-x86-64.so.2  fde@") != NULL)
		tu_skip(TU_SKIP_HOST, "no ld.so debug symbols (scripts/install-deps.sh installs "
			"libc6-dbg)");
	bool now_has = strstr(now, "_dl_runtime_resolve") != NULL;
	printf("--explain %s: lazy binding %s ld.so's trampoline, LD_BIND_NOW %s\n", f,
	       lazy_has ? "reaches" : "does not reach", now_has ? "reaches" : "does not reach");
	if (!lazy_has)
		fail_msg("without LD_BIND_NOW the trampoline must count:\n%s", lazy);
	if (now_has)
		fail_msg("under LD_BIND_NOW the trampoline cannot run:\n%s", now);
	free(lazy);
	free(now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlsym_constant_name),
		cmocka_unit_test(test_bind_now_trampolines),
	};
	return cmocka_run_group_tests_name("precision", tests, NULL, NULL);
}
