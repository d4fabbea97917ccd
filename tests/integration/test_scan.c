/*
 * test_scan.c - `migratable scan` on real processes.
 *
 * wl_scan_targets reaches one distinct CPU feature through each kind of
 * root or edge (heap pointer, pthread, signal handler, C++ vtable, lazy
 * PLT slot, JIT code), each a marker this CPU has and the unmarked
 * workload does not need (support/markers.h); each must be found by the
 * reachable method, and a compiled-in but unreferenced function must be
 * found only by `full`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/markers.h"
#include "support/testutil.h"

static tu_mark_plan plan;
static pid_t procs[TU_MARK_KINDS];     /* one per process of the plan */
static pid_t target;                   /* the process with the heap kind */

/* Choose this CPU's markers (markers.h), start the marked processes. */
static int start_target(void **state)
{
	(void)state;
	tu_plan_scan_targets(&plan);
	for (size_t p = 0; p < plan.nprocs; p++) {
		char *argv[8], buf[TU_ARGV_BUF], env[TU_ENV_BUF];
		tu_scan_targets_argv(&plan.procs[p], argv, buf, env);
		procs[p] = tu_spawn_ready_in(argv, NULL, env[0] ? env : NULL, 5000);
		if (procs[p] <= 0)
			return -1;
	}
	for (int k = 0; k < TU_MARK_KINDS; k++)
		printf("marker %-6s %-16s (process %zu)\n", tu_mark_kind_name(k),
		       plan.procs[plan.proc_of[k]].feature[k], plan.proc_of[k]);
	target = procs[plan.proc_of[TU_MARK_HEAP]];
	return 0;
}

static int stop_target(void **state)
{
	(void)state;
	for (size_t p = 0; p < plan.nprocs; p++)
		tu_stop(procs[p]);
	return 0;
}

static void assert_target_healthy(pid_t pid)
{
	char st = tu_proc_state(pid);
	assert_true(st == 'R' || st == 'S');
	assert_int_equal(tu_tracer_pid(pid), 0);
}

/* Run `migratable scan <pid> <extra...>` (the extras up to the first
 * NULL); returns exit status, output in *out. */
static int scan(pid_t pid, const char *a1, const char *a2, const char *a3, char **out)
{
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	char *err = NULL;
	int rc = tu_migratable(out, &err, "scan", pidbuf, a1, a2, a3, NULL);
	if (rc != 0)
		fprintf(stderr, "scan exited %d: %s\n", rc, err ? err : "");
	free(err);
	return rc;
}

static bool has_feature(json_object *root, const char *name)
{
	json_object *req;
	if (!json_object_object_get_ex(root, "required_features", &req))
		return false;
	for (size_t i = 0; i < json_object_array_length(req); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(req, i)), name) == 0)
			return true;
	return false;
}

static json_object *scan_json(pid_t pid, const char *method)
{
	char *out = NULL;
	assert_int_equal(scan(pid, "--json", "--method", method, &out), 0);
	json_object *root = json_tokener_parse(out);
	free(out);
	assert_non_null(root);
	return root;
}

/* The feature kind k is marked with, and the process it runs in. */
static const char *mark_of(enum tu_mark_kind k, pid_t *pid)
{
	*pid = procs[plan.proc_of[k]];
	return plan.procs[plan.proc_of[k]].feature[k];
}

/*
 * Each kind's marker is found (the unmarked workload lacks it: the
 * baseline), and the unreferenced function's is not.
 */
static void test_reachable_finds_every_root_kind(void **state)
{
	(void)state;
	for (size_t p = 0; p < plan.nprocs; p++) {
		json_object *root = scan_json(procs[p], "reachable");
		for (int k = 0; k < TU_MARK_KINDS; k++) {
			const char *f = plan.procs[p].feature[k];
			if (f == NULL)
				continue;
			assert_false(mg_fset_has(&plan.baseline, tu_feature(f)));
			if (k == TU_MARK_UNREF && has_feature(root, f))
				fail_msg("reachable scan reports the unreferenced function's %s", f);
			if (k != TU_MARK_UNREF && !has_feature(root, f))
				fail_msg("reachable scan misses %s (%s)", f, tu_mark_kind_name(k));
		}
		json_object_put(root);
		assert_target_healthy(procs[p]);
	}
}

static void test_full_finds_unreferenced(void **state)
{
	(void)state;
	pid_t pid;
	const char *f = mark_of(TU_MARK_UNREF, &pid);
	json_object *root = scan_json(pid, "full");
	assert_true(has_feature(root, f));
	json_object_put(root);
	assert_target_healthy(pid);
}

/* --explain F names the marker's function (before + F + after) and how
 * it was reached. */
static void expect_explain(enum tu_mark_kind k, const char *before, const char *after,
			   const char *how)
{
	pid_t pid;
	const char *f = mark_of(k, &pid);
	char *out = NULL, fn[96];
	snprintf(fn, sizeof(fn), "%s%s%s", before, f, after);
	assert_int_equal(scan(pid, "--explain", f, NULL, &out), 0);
	if (!strstr(out, fn) || !strstr(out, how))
		fail_msg("--explain %s (%s) lacks '%s' / '%s':\n%s", f, tu_mark_kind_name(k),
			 fn, how, out);
	free(out);
	assert_target_healthy(pid);
}

static void test_explain_shows_how_reached(void **state)
{
	(void)state;
	expect_explain(TU_MARK_HEAP, "heap_", "", "[heap]");
	expect_explain(TU_MARK_THREAD, "thread_", "", " of thread ");
	expect_explain(TU_MARK_SIGNAL, "sig_", "", "handler of signal 10");
	expect_explain(TU_MARK_VCALL, "mark/", "/libwlvcall.so", "MarkWorker");
	expect_explain(TU_MARK_PLT, "mark/", "/libwlplt.so", "lazy PLT binding");
	expect_explain(TU_MARK_JIT, "", "", "anonymous executable memory");
}

/*
 * A CPU with few spare features gets a plan of more processes (each kind
 * still marked once, never twice in one process): with only two markers
 * to choose from, every kind is still found where the plan put it.
 */
static void test_plan_with_two_markers(void **state)
{
	(void)state;
	const char *spare[2];
	char pool[64];
	size_t n = tu_pick_markers(&plan.baseline, spare, 2);
	assert_int_equal(n, 2);
	snprintf(pool, sizeof(pool), "%s,%s", spare[0], spare[1]);
	assert_int_equal(setenv("TU_MARKER_POOL", pool, 1), 0);
	tu_mark_plan few;
	tu_plan_scan_targets(&few);
	assert_int_equal(unsetenv("TU_MARKER_POOL"), 0);
	assert_int_equal(few.nprocs, 4);      /* 6 kinds by 2, and the JIT */
	for (size_t p = 0; p < few.nprocs; p++) {
		char *argv[8], buf[TU_ARGV_BUF], env[TU_ENV_BUF];
		tu_scan_targets_argv(&few.procs[p], argv, buf, env);
		pid_t pid = tu_spawn_ready_in(argv, NULL, env[0] ? env : NULL, 5000);
		assert_true(pid > 0);
		json_object *root = scan_json(pid, "reachable");
		tu_stop(pid);
		for (int k = 0; k < TU_MARK_KINDS; k++) {
			const char *f = few.procs[p].feature[k];
			if (f != NULL && has_feature(root, f) != (k != TU_MARK_UNREF))
				fail_msg("process %zu, %s marked %s: %s", p, tu_mark_kind_name(k), f,
					 k == TU_MARK_UNREF ? "counted" : "missed");
		}
		json_object_put(root);
	}
}

static pid_t idle_pid;

static int stop_idle(void **state)
{
	(void)state;
	if (idle_pid > 0)
		tu_stop(idle_pid);
	idle_pid = 0;
	return 0;
}

/*
 * The pause is measured and reported.  Its goal (under 10 ms) lives in
 * bench/, not here: a loaded CI machine can delay the stopped threads'
 * scheduling by any amount.  What always holds is that the pause is
 * positive and shorter than the whole scan around it.
 */
static void test_pause_single_thread(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_idle"), NULL };
	idle_pid = tu_spawn_ready(argv, 5000);
	assert_true(idle_pid > 0);
	double t0 = tu_now_ms();
	json_object *root = scan_json(idle_pid, "reachable");
	double wall = tu_now_ms() - t0;
	double ms = json_object_get_double(tu_json_get(tu_json_get(root, "stats"), "pause_ms"));
	printf("pause for a single-threaded process: %.3f ms (scan wall time %.1f ms)\n", ms, wall);
	assert_true(ms > 0.0 && ms < wall);
	json_object_put(root);
	assert_target_healthy(idle_pid);
}

static void test_bad_pids(void **state)
{
	(void)state;
	char *err = NULL;
	assert_int_equal(tu_migratable(NULL, NULL, "scan", "12abc", NULL), 2);       /* not a PID */
	assert_int_equal(tu_migratable(NULL, &err, "scan", "4000000", NULL), 3);    /* no such process */
	assert_non_null(strstr(err, "4000000"));
	/* exactly one line */
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
	free(err);
	assert_int_equal(tu_migratable(NULL, NULL, "scan", "2", NULL), 5);          /* kthreadd */
}

static char *required_of(json_object *root)
{
	json_object *req;
	if (!json_object_object_get_ex(root, "required_features", &req))
		return NULL;
	return strdup(json_object_to_json_string(req));
}

/* Summaries cached by one scan give the next exactly the same answer,
 * and a damaged cache file is ignored, never trusted. */
static void test_summary_cache(void **state)
{
	(void)state;
	char dir[] = "/tmp/mg-cache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(setenv("MIGRATABLE_CACHE", "0", 1), 0);
	json_object *plain = scan_json(target, "reachable");
	assert_int_equal(unsetenv("MIGRATABLE_CACHE"), 0);
	assert_int_equal(setenv("MIGRATABLE_CACHE_DIR", dir, 1), 0);
	json_object *cold = scan_json(target, "reachable");
	json_object *warm = scan_json(target, "reachable");

	char *a = required_of(plain), *b = required_of(cold), *c = required_of(warm);
	assert_string_equal(a, b);
	assert_string_equal(a, c);
	json_object *sa, *sc, *va, *vc;
	assert_true(json_object_object_get_ex(plain, "stats", &sa));
	assert_true(json_object_object_get_ex(warm, "stats", &sc));
	const char *same[] = { "functions_reachable", "instructions_decoded", "bytes_decoded" };
	for (size_t i = 0; i < 3; i++) {
		assert_true(json_object_object_get_ex(sa, same[i], &va));
		assert_true(json_object_object_get_ex(sc, same[i], &vc));
		assert_int_equal(json_object_get_int64(va), json_object_get_int64(vc));
	}

	/* Damage every cache file: flip bytes in the middle, then truncate. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls %s/summaries-*/*.bin >/dev/null 2>&1", dir);
	assert_int_equal(system(cmd), 0);    /* the scans did write cache files */
	snprintf(cmd, sizeof(cmd),
		 "for f in %s/summaries-*/*.bin; do "
		 "  printf '\\377\\377\\377\\377\\377\\377\\377\\377' | "
		 "  dd of=$f bs=1 seek=4096 conv=notrunc status=none; "
		 "  truncate -s 100000 $f; done", dir);
	assert_int_equal(system(cmd), 0);
	json_object *damaged = scan_json(target, "reachable");
	char *d = required_of(damaged);
	assert_string_equal(a, d);

	assert_int_equal(unsetenv("MIGRATABLE_CACHE_DIR"), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(a); free(b); free(c); free(d);
	json_object_put(plain);
	json_object_put(cold);
	json_object_put(warm);
	json_object_put(damaged);
	assert_target_healthy(target);
}

/* The scan's answer without its "stats" (timings differ between runs). */
static char *answer_of(json_object *root)
{
	json_object_object_del(root, "stats");
	return strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
}

static pid_t bigmap_pids[2];     /* targets with and without the hidden pointer */

static int stop_bigmaps(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++)
		if (bigmap_pids[i] > 0)
			tu_stop(bigmap_pids[i]);
	memset(bigmap_pids, 0, sizeof(bigmap_pids));
	return 0;
}

/* hidden_target - main in a workload, as hex, read with nm. */
static void hidden_offset(const char *workload, char *buf, size_t len)
{
	char cmd[1024], line[512], type, name[256];
	unsigned long addr, main_at = 0, hidden_at = 0;
	snprintf(cmd, sizeof(cmd), "nm %s", tu_workload_path(workload));
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %255s", &addr, &type, name) == 3) {
			if (strcmp(name, "main") == 0)
				main_at = addr;
			else if (strcmp(name, "hidden_target") == 0)
				hidden_at = addr;
		}
	assert_int_equal(pclose(f), 0);
	assert_true(main_at != 0 && hidden_at != 0);
	snprintf(buf, len, "%lx", hidden_at - main_at);
}

static json_object *scan_with_threads(pid_t pid, const char *threads)
{
	assert_int_equal(setenv("MIGRATABLE_THREADS", threads, 1), 0);
	json_object *root = scan_json(pid, "reachable");
	assert_int_equal(unsetenv("MIGRATABLE_THREADS"), 0);
	return root;
}

static int64_t reachable_count(json_object *root)
{
	return json_object_get_int64(tu_json_get(tu_json_get(root, "stats"), "functions_reachable"));
}

/* Start workload with (bigmap_pids[0]) and without (bigmap_pids[1]) the
 * argument that makes it hide a pointer to hidden_target. */
static void start_with_and_without(const char *workload)
{
	char off[32];
	hidden_offset(workload, off, sizeof(off));
	char *with[] = { (char *)tu_workload_path(workload), off, NULL };
	bigmap_pids[0] = tu_spawn_ready(with, 10000);
	char *without[] = { (char *)tu_workload_path(workload), NULL };
	bigmap_pids[1] = tu_spawn_ready(without, 10000);
	assert_true(bigmap_pids[0] > 0 && bigmap_pids[1] > 0);
}

/* The hidden pointer reaches exactly one more function. */
static void expect_one_more_reachable(const char *workload, json_object *with,
				      json_object *without)
{
	printf("%s: %lld reachable functions with the pointer, %lld without\n", workload,
	       (long long)reachable_count(with), (long long)reachable_count(without));
	assert_int_equal(reachable_count(with), reachable_count(without) + 1);
}

/*
 * A code pointer held only in the last page of a 32 MiB anonymous
 * mapping: large regions are read and filtered on two threads
 * (memscan.c).  Both ways must reach the function it points to (one more
 * reachable function than the same program without the pointer) and give
 * exactly the same answer.
 */
static void test_large_region_scan(void **state)
{
	(void)state;
	start_with_and_without("wl_bigmap");
	json_object *one = scan_with_threads(bigmap_pids[0], "1");
	json_object *two = scan_with_threads(bigmap_pids[0], "2");
	json_object *none = scan_with_threads(bigmap_pids[1], "2");
	expect_one_more_reachable("wl_bigmap", two, none);
	char *a = answer_of(one), *b = answer_of(two);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_object_put(one);
	json_object_put(two);
	json_object_put(none);
	assert_target_healthy(bigmap_pids[0]);
}

/*
 * A thread running on a stack malloc'ed in the heap (a coroutine), with a
 * code pointer in a heap object below that stack: the heap is not a
 * thread stack, so nothing in it is dead, and the pointer must be found
 * (one more reachable function than without it).
 */
static void test_stack_in_heap(void **state)
{
	(void)state;
	start_with_and_without("wl_heapstack");
	json_object *a = scan_json(bigmap_pids[0], "reachable");
	json_object *b = scan_json(bigmap_pids[1], "reachable");
	expect_one_more_reachable("wl_heapstack", a, b);
	json_object_put(a);
	json_object_put(b);
	assert_target_healthy(bigmap_pids[0]);
}

/* Options that cannot apply are refused (exit 2), not ignored. */
static void test_inapplicable_options(void **state)
{
	(void)state;
	char *both[] = { (char *)tu_migratable_bin(), "scan", "--criu-dir", "/tmp", "--",
			 "/bin/true", NULL };
	char *root[] = { (char *)tu_migratable_bin(), "scan", "--root", "/", "1", NULL };
	char *wait[] = { (char *)tu_migratable_bin(), "scan", "--wait", "10", "1", NULL };
	char *const *cases[] = { both, root, wait };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, *err = NULL;
		assert_int_equal(tu_run(cases[i], &out, &err), 2);
		assert_non_null(strstr(err, "migratable: "));
		free(out);
		free(err);
	}
}

/* `scan -- COMMAND` stops COMMAND even when the tool is interrupted first. */
static void test_spawned_command_dies_with_tool(void **state)
{
	(void)state;
	pid_t tool = fork();
	assert_true(tool >= 0);
	if (tool == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(tu_migratable_bin(), "migratable", "scan", "--wait", "5000", "--",
		      "sleep", "77", (char *)NULL);
		_exit(127);
	}
	/* The command is the tool's only child once it has been started. */
	char path[64], line[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)tool, (int)tool);
	for (int i = 0; i < 200 && line[0] == '\0'; i++) {
		usleep(10000);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(line, sizeof(line), f) == NULL)
				line[0] = '\0';
			fclose(f);
		}
	}
	pid_t command = (pid_t)atoi(line);
	assert_true(command > 0);
	assert_int_equal(kill(tool, SIGTERM), 0);
	int status;
	assert_int_equal(waitpid(tool, &status, 0), tool);
	char st = 'R';
	for (int i = 0; i < 200 && st != 0 && st != 'Z'; i++) {
		usleep(10000);
		st = tu_proc_state(command);
	}
	if (st != 0 && st != 'Z') {
		kill(command, SIGKILL);
		fail_msg("sleep 77 (pid %d) outlived the interrupted tool", (int)command);
	}
}

/*
 * wl_memfd "file" keeps the only pointer to its marker function in
 * ./ptrs.bin, a file it wrote after it started and mapped read-only.
 * Such a mapping is not a data file the process merely reads (those are
 * assumed pointer-free): the scan must read it and find the marker.  Run
 * in a fresh directory, where the workload writes its files.
 */
static void test_file_written_after_start(void **state)
{
	(void)state;
	char dir[] = "/tmp/mg-wlfile-XXXXXX", arg[64];
	assert_non_null(mkdtemp(dir));
	char *plain[] = { (char *)tu_workload_path("wl_memfd"), "file", NULL };
	const char *f = tu_spare_marker(plain, NULL);
	snprintf(arg, sizeof(arg), "mark=%s", f);
	char *argv[] = { plain[0], "file", arg, NULL };
	pid_t pid = tu_spawn_ready_in(argv, dir, NULL, 5000);
	assert_true(pid > 0);
	json_object *root = scan_json(pid, "reachable");
	bool found = has_feature(root, f);
	json_object_put(root);
	assert_target_healthy(pid);
	tu_stop(pid);
	char path[128];
	snprintf(path, sizeof(path), "%s/ptrs.bin", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/counter", dir);
	unlink(path);
	rmdir(dir);
	if (!found)
		fail_msg("the pointer in a file the process wrote and mapped read-only was not "
			 "seen (marker %s)", f);
}

/*
 * wl_criu_tree: a parent, a child that alone reaches its marker, a zombie.
 * `scan PID` answers for the parent; `scan PID --tree` for the tree, as
 * `criu dump -t PID` would checkpoint it.
 */
static pid_t tree_pid;
static char tree_dir[32];

static void test_tree(void **state)
{
	(void)state;
	char arg[64];
	snprintf(tree_dir, sizeof(tree_dir), "/tmp/mg-wltree-XXXXXX");
	assert_non_null(mkdtemp(tree_dir));
	char *plain[] = { (char *)tu_workload_path("wl_criu_tree"), NULL };
	const char *f = tu_spare_marker(plain, "--tree");
	snprintf(arg, sizeof(arg), "mark=%s", f);
	char *argv[] = { plain[0], arg, NULL };
	pid_t pid = tree_pid = tu_spawn_ready_in(argv, tree_dir, NULL, 5000);
	assert_true(pid > 0);
	char pidbuf[16], *out = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);

	json_object *one = scan_json(pid, "reachable");
	assert_false(has_feature(one, f));
	assert_false(json_object_object_get_ex(one, "processes", NULL));
	json_object_put(one);
	assert_int_equal(tu_migratable(&out, NULL, "scan", pidbuf, "--tree", "--json", NULL), 0);
	json_object *tree = json_tokener_parse(out);
	free(out);
	assert_non_null(tree);
	assert_true(has_feature(tree, f));
	json_object *jprocs = tu_json_get(tree, "processes");
	assert_int_equal(json_object_array_length(jprocs), 2);     /* parent, child; not the zombie */
	assert_int_equal(json_object_get_int64(tu_json_get(json_object_array_get_idx(jprocs, 0), "pid")),
			 pid);
	const char *w = json_object_get_string(json_object_array_get_idx(tu_json_get(tree, "warnings"), 0));
	assert_non_null(w);
	assert_non_null(strstr(w, "1 descendant(s) skipped"));
	/* The evidence says which process needs it: the child. */
	long child = json_object_get_int64(tu_json_get(json_object_array_get_idx(jprocs, 1), "pid"));
	char want[32];
	snprintf(want, sizeof(want), "pid %ld: ", child);
	json_object *ev = tu_json_get(tree, "evidence");
	bool found = false;
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		if (strcmp(json_object_get_string(tu_json_get(e, "feature")), f) == 0)
			found = strncmp(json_object_get_string(tu_json_get(e, "reached_via")), want,
					strlen(want)) == 0;
	}
	assert_true(found);
	json_object_put(tree);

	char *err = NULL;
	assert_int_equal(tu_migratable(NULL, &err, "scan", "--tree", "--criu-dir", "/nonexistent", NULL), 2);
	free(err);
	assert_int_equal(tu_migratable(NULL, NULL, "scan", "--tree", "999999999", NULL), 3);
	assert_target_healthy(pid);
}

/* Teardown of test_tree, also when it failed. */
static int stop_tree(void **state)
{
	(void)state;
	if (tree_pid > 0)
		tu_stop(tree_pid);     /* the child dies with it (PR_SET_PDEATHSIG) */
	tree_pid = 0;
	char path[128];
	static const char *const files[] = { "counter", "counter-child" };
	for (size_t i = 0; i < 2 && tree_dir[0]; i++) {
		snprintf(path, sizeof(path), "%s/%s", tree_dir, files[i]);
		unlink(path);
	}
	if (tree_dir[0])
		rmdir(tree_dir);
	tree_dir[0] = '\0';
	return 0;
}

/*
 * In a child: start `migratable scan PID --method full`, send it sig after
 * delay_us, then wait for it and for everything it left behind.  A
 * SIGKILLed tool leaves its keeper (live_keeper.c) to finish the snapshot
 * and detach on its own; as a child subreaper this process inherits the
 * keeper and can wait for it, rather than guessing from TracerPid (which
 * reads 0 before a slow keeper has even attached).  Exits 1 if a SIGINTed
 * tool exited with a status other than 0 or 130.
 */
static void __attribute__((noreturn))
interrupt_one_scan(const char *pidbuf, int sig, long delay_us)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		_exit(2);
	pid_t tool = fork();
	if (tool < 0)
		_exit(2);
	if (tool == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(tu_migratable_bin(), "migratable", "scan", pidbuf, "--method", "full", (char *)NULL);
		_exit(127);
	}
	struct timespec ts = { 0, delay_us * 1000L };
	nanosleep(&ts, NULL);
	kill(tool, sig);
	int status;
	if (waitpid(tool, &status, 0) != tool)
		_exit(2);
	bool bad = sig == SIGINT && WIFEXITED(status) &&
		   WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 130;
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;       /* the keeper, if the tool had started one */
	_exit(bad ? 1 : 0);
}

/* Kill or interrupt the tool mid-scan: the target must keep running untraced. */
static void interrupt_scans(int sig)
{
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
	int worst = 0;
	for (int i = 0; i < 12; i++) {
		pid_t runner = fork();
		assert_true(runner >= 0);
		if (runner == 0)
			interrupt_one_scan(pidbuf, sig, i * 1500 + 200);
		/* The keeper needs milliseconds on an idle machine; a loaded
		 * CI machine can delay it far more.  What must hold is that it
		 * finishes on its own: wait with a generous deadline. */
		double t0 = tu_now_ms();
		int status = 0;
		pid_t r;
		while ((r = waitpid(runner, &status, WNOHANG)) == 0 && tu_now_ms() - t0 < 10000)
			usleep(1000);
		if (r == 0) {
			kill(runner, SIGKILL);
			waitpid(runner, NULL, 0);
			fail_msg("round %d: the interrupted tool or its keeper still runs after 10 s", i);
		}
		assert_int_equal(r, runner);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		int waited = (int)(tu_now_ms() - t0);
		if (waited > worst)
			worst = waited;
		assert_target_healthy(target);
	}
	printf("slowest round (start, signal, tool and keeper gone): %d ms\n", worst);
	/* Still alive and handling signals normally. */
	assert_int_equal(kill(target, SIGUSR1), 0);
	usleep(20000);
	assert_target_healthy(target);
}

static void test_sigkill_mid_scan(void **state)
{
	(void)state;
	interrupt_scans(SIGKILL);
}

static void test_sigint_mid_scan(void **state)
{
	(void)state;
	interrupt_scans(SIGINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reachable_finds_every_root_kind),
		cmocka_unit_test(test_full_finds_unreferenced),
		cmocka_unit_test(test_explain_shows_how_reached),
		cmocka_unit_test(test_plan_with_two_markers),
		cmocka_unit_test(test_summary_cache),
		cmocka_unit_test_teardown(test_pause_single_thread, stop_idle),
		cmocka_unit_test(test_bad_pids),
		cmocka_unit_test(test_inapplicable_options),
		cmocka_unit_test(test_spawned_command_dies_with_tool),
		cmocka_unit_test_teardown(test_large_region_scan, stop_bigmaps),
		cmocka_unit_test_teardown(test_stack_in_heap, stop_bigmaps),
		cmocka_unit_test(test_file_written_after_start),
		cmocka_unit_test_teardown(test_tree, stop_tree),
		cmocka_unit_test(test_sigkill_mid_scan),
		cmocka_unit_test(test_sigint_mid_scan),
	};
	return cmocka_run_group_tests_name("scan", tests, start_target, stop_target);
}
