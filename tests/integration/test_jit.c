/*
 * test_jit.c - code a process has not generated yet (analysis/jit.c).
 *
 *   - wl_jit_later emits its marker only after the scan: the scan must
 *     count it anyway (a generator no engine model covers widens), and
 *     `check` must not call a target without it compatible; with
 *     --assume no-new-code it is not counted and the output says so.
 *   - python3 ctypes callbacks live in a libffi closure arena: fixed
 *     trampolines, which must not widen.
 *   - HotSpot (java) and V8 (node): the engine's own CPU view bounds what
 *     it can emit; it agrees with what the engine itself prints, and its
 *     flags (-XX:UseAVX=2, -XX:-UseSHA, --no-enable-avx2) narrow it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features/profile.h"
#include "support/markers.h"
#include "support/testutil.h"

static json_object *scan_pid(pid_t pid, const char *extra)
{
	char pidbuf[16], *out = NULL, *err = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&out, &err, "scan", pidbuf, "--json", extra, NULL);
	if (rc != 0)
		fail_msg("scan %d exited %d: %s", (int)pid, rc, err ? err : "");
	json_object *root = json_tokener_parse(out);
	free(out);
	free(err);
	assert_non_null(root);
	return root;
}

static bool in_list(json_object *arr, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), name) == 0)
			return true;
	return false;
}

static bool requires(json_object *scan, const char *f)
{
	return in_list(tu_json_get(scan, "required_features"), f);
}

/* The first code generator of this engine, or NULL. */
static json_object *generator(json_object *scan, const char *engine)
{
	json_object *gens = tu_json_get(scan, "code_generators");
	for (size_t i = 0; i < json_object_array_length(gens); i++) {
		json_object *g = json_object_array_get_idx(gens, i);
		if (strcmp(json_object_get_string(tu_json_get(g, "engine")), engine) == 0)
			return g;
	}
	return NULL;
}

static const char *gen_str(json_object *g, const char *key)
{
	return json_object_get_string(tu_json_get(g, key));
}

static bool host_has(const char *f)
{
	const char *one[1];
	mg_feature_set none;
	mg_fset_clear(&none);
	char pool[64];
	snprintf(pool, sizeof(pool), "%s", f);
	setenv("TU_MARKER_POOL", pool, 1);
	bool yes = tu_pick_markers(&none, one, 1) == 1;
	unsetenv("TU_MARKER_POOL");
	return yes;
}

/* --- a generator no model covers ----------------------------------------- */

static void test_code_emitted_after_the_scan(void **state)
{
	(void)state;
	char *plain[] = { (char *)tu_workload_path("wl_jit_later"), NULL };
	char arg[64], pidbuf[16];
	mg_feature_set base;
	tu_baseline_features(plain, NULL, "--assume=no-new-code", &base);
	const char *spare[1];
	if (tu_pick_markers(&base, spare, 1) == 0)
		fail_msg("no marker this CPU runs is free in wl_jit_later");
	const char *f = spare[0];
	snprintf(arg, sizeof(arg), "mark=%s", f);
	char *argv[] = { plain[0], arg, NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);

	/* Before the marker exists: counted, as code the process may write. */
	json_object *sound = scan_pid(pid, NULL);
	if (!requires(sound, f))
		fail_msg("the scan does not count %s, which the JIT emits later", f);
	assert_true(in_list(tu_json_get(sound, "generated_features"), f));
	json_object *g = generator(sound, "unknown");
	assert_non_null(g);
	assert_string_equal(gen_str(g, "model"), "widened");
	assert_non_null(strstr(gen_str(g, "where"), "[anon:0x"));
	json_object *w = tu_json_get(sound, "warnings");
	bool warned = false;
	for (size_t i = 0; i < json_object_array_length(w); i++)
		warned |= strstr(json_object_get_string(json_object_array_get_idx(w, i)),
				 "code generator: [anon:0x") != NULL;
	assert_true(warned);
	json_object_put(sound);

	/* check against this host without the marker: not compatible. */
	char target[] = "/tmp/mg-jit-target-XXXXXX", *out = NULL;
	tu_temp_file(target);
	FILE *t = fopen(target, "w");
	assert_non_null(t);
	fprintf(t, "{\"name\": \"host without %s\", \"features\": [", f);
	mg_profile host;
	mg_error err = { 0 };
	assert_int_equal(mg_host_profile(&host, "h", &err), 0);
	mg_fset_remove(&host.features, tu_feature(f));
	bool first = true;
	for (mg_feature_id id = mg_fset_next(&host.features, -1); id >= 0;
	     id = mg_fset_next(&host.features, id), first = false)
		fprintf(t, "%s\"%s\"", first ? "" : ", ", mg_feature_get(id)->name);
	fprintf(t, "]}\n");
	assert_int_equal(fclose(t), 0);
	mg_profile_free(&host);
	assert_int_equal(tu_migratable(&out, NULL, "check", pidbuf, "--target", target, NULL), 1);
	free(out);

	/* The named unsound shortcut: not counted, and said. */
	json_object *assumed = scan_pid(pid, "--assume=no-new-code");
	assert_false(requires(assumed, f));
	assert_true(in_list(tu_json_get(assumed, "assumptions"), "no-new-code"));
	g = generator(assumed, "unknown");
	assert_non_null(g);
	assert_string_equal(gen_str(g, "model"), "assumed: no new code");
	json_object_put(assumed);
	assert_int_equal(tu_migratable(&out, NULL, "scan", pidbuf, "--assume", "no-new-code", NULL), 0);
	assert_non_null(strstr(out, "ASSUMED (unsound, --assume no-new-code)"));
	free(out);
	assert_int_equal(tu_migratable(NULL, NULL, "scan", pidbuf, "--assume", "no-such", NULL), 2);

	/* ... and the JIT then really runs it (the CPU has it). */
	assert_int_equal(kill(pid, SIGUSR1), 0);
	usleep(100000);
	char st = tu_proc_state(pid);
	assert_true(st == 'S' || st == 'R');
	tu_stop(pid);
	unlink(target);
}

/* --- trampolines, not generators ----------------------------------------- */

static void test_libffi_closures_do_not_widen(void **state)
{
	(void)state;
	char *argv[] = { "/usr/bin/python3", "-c",
		"import ctypes, time\n"
		"CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)\n"
		"cbs = [CB(lambda x: x + 1) for i in range(3)]\n"
		"assert cbs[0](1) == 2\n"
		"print('ready', flush=True)\n"
		"time.sleep(60)\n", NULL };
	pid_t pid = tu_spawn_ready(argv, 10000);
	assert_true(pid > 0);
	json_object *scan = scan_pid(pid, NULL);
	tu_stop(pid);
	json_object *g = generator(scan, "libffi closures");
	if (g == NULL)
		fail_msg("no libffi closure arena found: %s",
			 json_object_to_json_string(tu_json_get(scan, "code_generators")));
	assert_string_equal(gen_str(g, "model"), "trampoline");
	assert_null(generator(scan, "unknown"));
	assert_int_equal(json_object_array_length(tu_json_get(scan, "generated_features")), 0);
	json_object_put(scan);
}

/* --- HotSpot ---------------------------------------------------------------- */

static char classdir[] = "/tmp/mg-jit-java-XXXXXX";

static int build_java(void **state)
{
	(void)state;
	if (mkdtemp(classdir) == NULL)
		return -1;
	return 0;
}

static int clean_java(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", classdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Ready.class compiled into classdir (javac, from default-jdk-headless). */
static void need_ready_class(void)
{
	char cls[128];
	snprintf(cls, sizeof(cls), "%s/Ready.class", classdir);
	if (access(cls, R_OK) == 0)
		return;
	char *argv[] = { "javac", "-d", classdir, "tests/workloads/java/Ready.java", NULL };
	char *err = NULL;
	int rc = tu_run(argv, NULL, &err);
	if (rc == 127 || rc == -1)
		tu_skip(TU_SKIP_HOST, "no javac (scripts/install-deps.sh installs default-jdk-headless)");
	if (rc != 0)
		fail_msg("javac: %s", err ? err : "");
	free(err);
}

static pid_t start_java(const char *opt1, const char *opt2)
{
	need_ready_class();
	char *argv[8];
	int n = 0;
	argv[n++] = "java";
	if (opt1)
		argv[n++] = (char *)opt1;
	if (opt2)
		argv[n++] = (char *)opt2;
	argv[n++] = "-cp";
	argv[n++] = classdir;
	argv[n++] = "Ready";
	argv[n] = NULL;
	pid_t pid = tu_spawn_ready(argv, 20000);
	assert_true(pid > 0);
	return pid;
}

/* HotSpot's own list of its CPU features (-Xlog:os+cpu), one per name. */
static size_t hotspot_printed_features(char names[][40], size_t max)
{
	char *argv[] = { "java", "-Xlog:os+cpu=info", "-version", NULL };
	char *out = NULL;
	assert_int_equal(tu_run(argv, &out, NULL), 0);
	char *cpu = strstr(out, "microcode 0x");
	assert_non_null(cpu);
	char *end = strchr(cpu, '\n');
	if (end)
		*end = '\0';
	size_t n = 0;
	for (char *p = strchr(cpu, ','); p && n < max; p = strchr(p + 1, ',')) {
		sscanf(p + 1, " %39[^,]", names[n]);
		n++;
	}
	free(out);
	return n;
}

static void test_hotspot_bound(void **state)
{
	(void)state;
	pid_t pid = start_java(NULL, NULL);
	json_object *scan = scan_pid(pid, NULL);
	tu_stop(pid);
	json_object *g = generator(scan, "HotSpot");
	if (g == NULL)
		fail_msg("no HotSpot generator: %s",
			 json_object_to_json_string(tu_json_get(scan, "code_generators")));
	assert_string_equal(gen_str(g, "model"), "hotspot");
	/* The bits we read are the ones HotSpot prints. */
	uint64_t bits = 0;
	const char *at = strstr(gen_str(g, "detail"), "_features 0x");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "_features 0x%" SCNx64, &bits), 1);
	char names[64][40];
	size_t n = hotspot_printed_features(names, 64);
	printf("HotSpot prints %zu features, _features has %d bits; %s\n", n,
	       __builtin_popcountll(bits), gen_str(g, "detail"));
	assert_int_equal(n, (size_t)__builtin_popcountll(bits));
	json_object *feats = tu_json_get(g, "features");
	static const char *const same[][2] = {
		{ "avx2", "avx2" }, { "avx512f", "avx512f" }, { "sha", "sha_ni" },
		{ "adx", "adx" }, { "aes", "aes" }, { "bmi2", "bmi2" }, { "avx", "avx" },
	};
	for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
		bool printed = false;
		for (size_t i = 0; i < n; i++)
			printed |= strcmp(names[i], same[k][0]) == 0;
		if (printed != in_list(feats, same[k][1]))
			fail_msg("HotSpot %s %s, our bound %s %s", printed ? "prints" : "lacks",
				 same[k][0], in_list(feats, same[k][1]) ? "has" : "lacks", same[k][1]);
	}
	json_object_put(scan);
}

/* -XX:UseAVX=2 and -XX:-UseSHA narrow what HotSpot may still emit. */
static void test_hotspot_flags_narrow(void **state)
{
	(void)state;
	pid_t pid = start_java("-XX:UseAVX=2", "-XX:-UseSHA");
	json_object *scan = scan_pid(pid, NULL);
	tu_stop(pid);
	json_object *g = generator(scan, "HotSpot");
	assert_non_null(g);
	json_object *feats = tu_json_get(g, "features");
	const char *detail = gen_str(g, "detail");
	printf("-XX:UseAVX=2 -XX:-UseSHA: %zu features; %s\n", json_object_array_length(feats), detail);
	assert_non_null(strstr(detail, "UseAVX=2"));
	assert_non_null(strstr(detail, "-XX:-UseSHA"));
	for (size_t i = 0; i < json_object_array_length(feats); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(feats, i));
		if (strncmp(f, "avx512", 6) == 0 || strcmp(f, "sha_ni") == 0)
			fail_msg("HotSpot with -XX:UseAVX=2 -XX:-UseSHA may emit %s?", f);
	}
	assert_int_equal(in_list(feats, "avx2"), host_has("avx2"));
	json_object_put(scan);
}

/* --- V8 --------------------------------------------------------------------- */

static pid_t start_node(const char *opt)
{
	char *argv[6];
	int n = 0;
	argv[n++] = "node";
	if (opt)
		argv[n++] = (char *)opt;
	argv[n++] = "-e";
	argv[n++] = "let s = 0; console.log('ready');"
		    "setInterval(() => { for (let i = 0; i < 1e5; i++) s += i * 31; }, 10);";
	argv[n] = NULL;
	pid_t pid = tu_spawn_ready(argv, 20000);
	if (pid <= 0)
		tu_skip(TU_SKIP_HOST, "no node (scripts/install-deps.sh installs nodejs)");
	return pid;
}

static void test_v8_bound(void **state)
{
	(void)state;
	pid_t pid = start_node(NULL);
	json_object *scan = scan_pid(pid, NULL);
	tu_stop(pid);
	json_object *g = generator(scan, "V8");
	if (g == NULL)
		fail_msg("no V8 generator: %s",
			 json_object_to_json_string(tu_json_get(scan, "code_generators")));
	assert_string_equal(gen_str(g, "model"), "v8");
	json_object *feats = tu_json_get(g, "features");
	printf("V8: %zu features; %s\n", json_object_array_length(feats), gen_str(g, "detail"));
	/* V8's x64 assembler has no EVEX encoder. */
	for (size_t i = 0; i < json_object_array_length(feats); i++)
		assert_null(strstr(json_object_get_string(json_object_array_get_idx(feats, i)),
				   "avx512"));
	assert_int_equal(in_list(feats, "avx2"), host_has("avx2"));
	assert_null(generator(scan, "unknown"));   /* its code space is V8's */
	bool known_bits = strstr(gen_str(g, "detail"), "supported_") != NULL;
	json_object_put(scan);
	if (!known_bits || !host_has("avx2"))
		return;
	/* With its bits known, V8's own switch narrows the bound. */
	pid = start_node("--no-enable-avx2");
	scan = scan_pid(pid, NULL);
	tu_stop(pid);
	g = generator(scan, "V8");
	assert_non_null(g);
	assert_false(in_list(tu_json_get(g, "features"), "avx2"));
	assert_true(in_list(tu_json_get(g, "features"), "avx"));
	json_object_put(scan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_emitted_after_the_scan),
		cmocka_unit_test(test_libffi_closures_do_not_widen),
		cmocka_unit_test(test_hotspot_bound),
		cmocka_unit_test(test_hotspot_flags_narrow),
		cmocka_unit_test(test_v8_bound),
	};
	return cmocka_run_group_tests_name("jit", tests, build_java, clean_java);
}
