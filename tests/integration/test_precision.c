/*
 * test_precision.c - the scan counts what the process can still execute,
 * no more (issue 11), and no less: each case has a twin that must count.
 *
 *   dlsym: a call with a constant name reaches that export only; one with
 *          a name computed at run time reaches every export.
 *   ld.so: under LD_BIND_NOW (the process's _dl_lazy is 0) the lazy-binding
 *          trampolines (XSAVEC/XSAVE/FXSAVE) are not reachable; without it
 *          they are.
 *   data:  a table of function pointers in a library's data counts when
 *          reachable code takes its address (also as a biased base), or a
 *          pointer to it is in memory; not when nothing can address it, or
 *          only a constructor that ran did.  Twins: stopped inside a
 *          constructor (main not started), the constructor's table counts;
 *          with the library stripped (no object bounds), every table does.
 *   OpenBLAS: the kernels of the core table it picked count, the other
 *          cores' do not.
 *   glibc: with lock elision off (the default) its XBEGIN functions do not
 *          count; with glibc.elision.enable=1 on an RTM CPU they do.
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

/* Start workload with two arguments, scan it: are a and b counted? */
static void scan_two_markers(const char *workload, const char *arg1, const char *arg2,
			     const char *a, const char *b, bool *has_a, bool *has_b)
{
	char *argv[] = { (char *)tu_workload_path(workload), (char *)arg1, (char *)arg2, NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	json_object *scan = tu_scan_pid(pid, NULL);
	tu_stop(pid);
	*has_a = tu_scan_requires(scan, a);
	*has_b = tu_scan_requires(scan, b);
	json_object_put(scan);
}

/* Scan wl_dlsym over lib in `mode`: is each marker counted? */
static void scan_dlsym(const char *lib, const char *mode, const char *a, const char *b,
		       bool *has_a, bool *has_b)
{
	scan_two_markers("wl_dlsym", lib, mode, a, b, has_a, has_b);
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
	scan_dlsym(lib, "switch", m[0], m[1], &a, &b);
	printf("dlsym(h, \"wldlsym_target\") after a jump table: %s %s, %s %s\n", m[0],
	       a ? "counted" : "not counted", m[1], b ? "counted" : "not counted");
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
	char *argv[] = { "/usr/bin/python3", "-c", "import time; print('ready', flush=True); time.sleep(60)",
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

/* --- data objects ------------------------------------------------------------ */

enum { T_USED, T_HEAP, T_BIASED, T_CTOR, T_UNUSED, T_LOADED, T_AFTER, NTABLES };
static const char *const table_names[NTABLES] = { "used", "heap", "biased", "ctor", "unused",
						  "loaded", "after" };

/*
 * The library of wl_tables: one static table per case, each holding one
 * static function that runs marker m[case]; wlt_tick and the constructor
 * take the addresses wl_tables.c describes.
 */
static void build_tables_library(const char *path, const char *const m[NTABLES], bool strip)
{
	char src[256], cmd[1024];
	snprintf(src, sizeof(src), "%s.c", path);
	FILE *f = fopen(src, "w");
	assert_non_null(f);
	fprintf(f, "#include <stdlib.h>\ntypedef void (*fn)(void);\n");
	for (int i = 0; i < NTABLES; i++)
		fprintf(f, "__attribute__((used)) static void f_%s(void) { __asm__ volatile(\"%s\"); }\n"
			"extern fn table_%s[2] __attribute__((visibility(\"hidden\")));\n",
			table_names[i], tu_marker_insn(m[i]), table_names[i]);
	/* The tables in this order in .data, written out so the compiler
	 * cannot reorder them: a biased base (table_biased - 8) lands in pad,
	 * and reaches the objects up to 256 bytes after it (heap and used,
	 * counted anyway); unused and ctor lie before it.  wlt_tick loads
	 * loaded_root, a pointer to table_loaded: a stored pointer, which
	 * reaches its own object only, not `after`, 16 bytes on. */
	static const int order[] = { T_LOADED, T_AFTER, T_UNUSED, T_CTOR, -1, T_BIASED, T_HEAP,
				     T_USED };
	fprintf(f, "__asm__(\".data\\n.p2align 4\\n\"\n");
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		const char *t = order[k] < 0 ? NULL : table_names[order[k]];
		if (t == NULL)
			fprintf(f, "\"pad: .quad 1, 2\\n.type pad, @object\\n.size pad, 16\\n\"\n");
		else
			fprintf(f, "\"table_%s: .quad f_%s, 0\\n.type table_%s, @object\\n"
				".size table_%s, 16\\n\"\n", t, t, t, t);
	}
	fprintf(f, "\".text\\n\");\n");
	fprintf(f,
		"static volatile int never;\n"
		"static fn *volatile *heap_root;\n"
		"static fn *volatile loaded_root = table_loaded;\n"
		"__attribute__((constructor)) static void init(void) {\n"
		"	heap_root = malloc(sizeof(*heap_root));\n"
		"	*heap_root = table_heap;\n"
		"	if (never) table_ctor[0]();\n"
		"}\n"
		"void wlt_tick(void) {\n"
		"	fn *biased;\n"
		"	__asm__ volatile(\"lea table_biased-8(%%%%rip), %%0\" : \"=r\"(biased));\n"
		"	if (never) { table_used[0](); (*heap_root)[0](); biased[1](); loaded_root[0](); }\n"
		"}\n");
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "cc -O1 -fPIC -shared -o '%s' '%s'%s%s%s",
		 path, src, strip ? " && strip --strip-all '" : "", strip ? path : "", strip ? "'" : "");
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	unlink(src);
}

/* Scan wl_tables over lib in `mode`: which tables' markers count. */
static void scan_tables(const char *lib, const char *mode, const char *const m[NTABLES],
			bool counted[NTABLES])
{
	char *argv[] = { (char *)tu_workload_path("wl_tables"), (char *)lib, (char *)mode, NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	json_object *scan = tu_scan_pid(pid, NULL);
	tu_stop(pid);
	printf("wl_tables %s%s:", mode, strstr(lib, "stripped") ? " (stripped library)" :
	       strstr(lib, "split") ? " (stripped, with its debug file)" : "");
	for (int i = 0; i < NTABLES; i++) {
		counted[i] = tu_scan_requires(scan, m[i]);
		printf(" %s/%s %s", table_names[i], m[i], counted[i] ? "counted" : "not counted");
	}
	printf("\n");
	json_object_put(scan);
}

static void test_data_objects(void **state)
{
	(void)state;
	char dir[] = "/tmp/mg-tables-XXXXXX", lib[64], stripped[80];
	assert_non_null(mkdtemp(dir));
	snprintf(lib, sizeof(lib), "%s/libwltables.so", dir);
	snprintf(stripped, sizeof(stripped), "%s/libwltables-stripped.so", dir);
	const char *none[NTABLES] = { "none", "none", "none", "none", "none", "none", "none" };
	build_tables_library(lib, none, false);
	mg_feature_set base;
	char *plain[] = { (char *)tu_workload_path("wl_tables"), lib, "main", NULL };
	tu_baseline_features(plain, NULL, NULL, &base);
	/* `loaded` counts either way (its pointer is called): it needs no
	 * marker of its own, and a CPU with few features has few to spare. */
	const char *m[NTABLES];
	if (tu_pick_markers(&base, m, NTABLES - 1) != NTABLES - 1)
		fail_msg("fewer than %d markers this CPU runs are free in wl_tables", NTABLES - 1);
	m[T_AFTER] = m[T_LOADED];
	m[T_LOADED] = "none";
	build_tables_library(lib, m, false);
	build_tables_library(stripped, m, true);

	bool c[NTABLES];
	scan_tables(lib, "main", m, c);
	assert_true(c[T_USED]);
	assert_true(c[T_HEAP]);
	assert_true(c[T_BIASED]);
	assert_false(c[T_CTOR]);
	assert_false(c[T_UNUSED]);
	assert_false(c[T_AFTER]);      /* a stored pointer reaches its own object */

	scan_tables(lib, "ctor", m, c);
	assert_true(c[T_USED]);
	assert_true(c[T_CTOR]);        /* main has not started: the arrays are roots */
	assert_false(c[T_UNUSED]);

	scan_tables(stripped, "main", m, c);
	for (int i = 0; i < NTABLES; i++)
		assert_true(c[i] || i == T_LOADED);  /* no bounds: a section's unnamed data is one */

	/* Stripped, with its debug file where a *-dbgsym package puts it:
	 * the objects are back (libcrypto's tables need libssl3-dbgsym). */
	char split[80], cmd[1024];
	snprintf(split, sizeof(split), "%s/libwltables-split.so", dir);
	build_tables_library(split, m, false);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && id=$(readelf -n libwltables-split.so | sed -n 's/.*Build ID: //p') && "
		 "[ -n \"$id\" ] && mkdir -p debug/.build-id/${id%%${id#??}} && "
		 "objcopy --only-keep-debug libwltables-split.so debug/.build-id/${id%%${id#??}}/${id#??}.debug && "
		 "strip --strip-all libwltables-split.so", dir);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	char debug[96];
	snprintf(debug, sizeof(debug), "%s/debug:/usr/lib/debug", dir);  /* glibc's too */
	assert_int_equal(setenv("MIGRATABLE_DEBUG_DIR", debug, 1), 0);
	scan_tables(split, "main", m, c);
	assert_int_equal(unsetenv("MIGRATABLE_DEBUG_DIR"), 0);
	assert_true(c[T_USED]);
	assert_true(c[T_HEAP]);
	assert_true(c[T_BIASED]);
	assert_false(c[T_CTOR]);
	assert_false(c[T_UNUSED]);
	assert_false(c[T_AFTER]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

/* --- OpenBLAS ------------------------------------------------------------------ */

static const char *const openblas_cores[] = {
	"PRESCOTT", "CORE2", "PENRYN", "DUNNINGTON", "NEHALEM", "OPTERON", "OPTERON_SSE3",
	"BARCELONA", "BOBCAT", "ATOM", "NANO", "SANDYBRIDGE", "BULLDOZER", "PILEDRIVER",
	"STEAMROLLER", "EXCAVATOR", "HASWELL", "ZEN", "SKYLAKEX", "COOPERLAKE",
	"SAPPHIRERAPIDS", "KATMAI", "COPPERMINE", "NORTHWOOD", "BANIAS", "ATHLON",
};
#define NCORES (sizeof(openblas_cores) / sizeof(openblas_cores[0]))

/* The core table the scan read from `gotoblas` (its dispatch_state fact). */
static char *picked_core(json_object *scan)
{
	json_object *facts = tu_json_get(scan, "dispatch_state");
	for (size_t i = 0; facts && i < json_object_array_length(facts); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(facts, i));
		const char *at = strstr(f, "gotoblas = gotoblas_");
		if (at != NULL)
			return strndup(at + 20, strcspn(at + 20, ";"));
	}
	return NULL;
}

/* How many sites of --explain output lie in OpenBLAS kernels of `core`:
 * lines "  .../libopenblas...so  NAME_CORE+0x..  address  instruction". */
static size_t kernels_of(const char *explain, const char *core)
{
	size_t n = 0, len = strlen(core);
	char line[512];
	for (const char *l = explain; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t ll = nl ? (size_t)(nl - l) : strlen(l);
		snprintf(line, sizeof(line), "%.*s", (int)(ll < sizeof(line) - 1 ? ll : sizeof(line) - 1), l);
		l = nl ? nl + 1 : NULL;
		const char *lib = strstr(line, "libopenblas");
		const char *fn = lib ? strstr(lib, "  ") : NULL;
		if (fn == NULL)
			continue;
		fn += 2;
		size_t fl = strcspn(fn, "+ ");
		if (fl > len + 1 && fn[fl - len - 1] == '_' && strncmp(fn + fl - len, core, len) == 0)
			n++;
	}
	return n;
}

/* Start the dgemm study workload (env_extra may be NULL): the core table
 * the scan read, and whether only that core's kernels count. */
static void scan_openblas(const char *env_extra, const char *expect)
{
	char *argv[] = { (char *)tu_workload_path("study/study_dgemm"), NULL };
	if (access(argv[0], X_OK) != 0)
		tu_skip(TU_SKIP_HOST, "%s not built (needs libopenblas-pthread-dev: "
			"scripts/install-deps.sh)", argv[0]);
	pid_t pid = tu_spawn_ready_in(argv, NULL, env_extra, 10000);
	assert_true(pid > 0);
	json_object *scan = tu_scan_pid(pid, NULL);
	char pidbuf[16], *explain = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&explain, NULL, "scan", pidbuf, "--explain", "sse2", NULL);
	tu_stop(pid);
	assert_int_equal(rc, 0);
	char *core = picked_core(scan);
	if (core == NULL)
		fail_msg("no OpenBLAS dispatch fact in the scan");
	if (expect != NULL)
		assert_string_equal(core, expect);
	size_t own = kernels_of(explain, core), other = 0;
	for (size_t i = 0; i < NCORES; i++)
		if (strcmp(openblas_cores[i], core) != 0)
			other += kernels_of(explain, openblas_cores[i]);
	printf("OpenBLAS%s%s: gotoblas = gotoblas_%s; %zu sse2 sites in its kernels, "
	       "%zu in other cores'\n", env_extra ? " with " : "", env_extra ? env_extra : "",
	       core, own, other);
	assert_true(own > 0);
	assert_int_equal(other, 0);
	free(core);
	free(explain);
	json_object_put(scan);
}

static void test_openblas_tables(void **state)
{
	(void)state;
	scan_openblas(NULL, NULL);
	/* Any x86-64 runs Prescott's kernels (SSE3): the table read must
	 * follow the process's own choice. */
	if (tu_cpu_has("pni"))
		scan_openblas("OPENBLAS_CORETYPE=Prescott", "PRESCOTT");
}

/* --- glibc's start-up state ------------------------------------------------------ */

/* Does a scan of wl_gap with MARKER's entry `mode` count a and b? */
static void scan_gap(const char *marker, const char *mode, const char *a, const char *b,
		     bool *has_a, bool *has_b)
{
	scan_two_markers("wl_gap", marker, mode, a, b, has_a, has_b);
}

/*
 * A gap (code no symbol or FDE covers) counts from where it is entered:
 * wl_gap holds every marker in one gap, each behind a byte invalid in
 * 64-bit mode, and keeps one pointer into it.  A linear sweep would
 * count every marker (then none would be free to pick).
 */
static void test_gap_entries(void **state)
{
	(void)state;
	mg_feature_set base;
	char *plain[] = { (char *)tu_workload_path("wl_gap"), "none", "in", NULL };
	tu_baseline_features(plain, NULL, NULL, &base);
	const char *m[2];
	if (tu_pick_markers(&base, m, 2) != 2)
		fail_msg("fewer than two markers this CPU runs are free in wl_gap: "
			 "its gap was swept whole");
	bool a, b;
	scan_gap(m[0], "in", m[0], m[1], &a, &b);
	printf("pointer to %s's instruction: %s %s, %s %s\n", m[0], m[0],
	       a ? "counted" : "not counted", m[1], b ? "counted" : "not counted");
	assert_true(a);
	assert_false(b);
	scan_gap(m[0], "ud", m[0], m[1], &a, &b);
	printf("pointer to the invalid byte before it: %s %s\n", m[0], a ? "counted" : "not counted");
	assert_false(a);
	assert_false(b);
	scan_gap(m[1], "in", m[1], m[0], &a, &b);
	assert_true(a);
	assert_false(b);
}

/*
 * A thread register pointing into a table kept in .text is a root only
 * if the function the thread is in can call or jump through it:
 * wl_datareg spins reading through %r15 ("table"), or with a
 * `call *%r15` on its path ("jump").
 */
static void test_table_register(void **state)
{
	(void)state;
	mg_feature_set base;
	char *plain[] = { (char *)tu_workload_path("wl_datareg"), "none", "table", NULL };
	tu_baseline_features(plain, NULL, NULL, &base);
	const char *m[2];
	if (tu_pick_markers(&base, m, 2) != 2)
		fail_msg("fewer than two markers this CPU runs are free in wl_datareg");
	bool a, b;
	scan_two_markers("wl_datareg", m[0], "jump", m[0], m[1], &a, &b);
	printf("%%r15 -> %s's table entry, called on a path: %s %s\n", m[0], m[0],
	       a ? "counted" : "not counted");
	assert_true(a);
	assert_false(b);
	scan_two_markers("wl_datareg", m[0], "table", m[0], m[1], &a, &b);
	printf("%%r15 -> %s's table entry, only read through: %s %s\n", m[0], m[0],
	       a ? "counted" : "not counted");
	assert_false(a);
	assert_false(b);
}

/* Start workload MARKER, scan it: is marker m counted? */
static bool scan_one_marker(const char *workload, const char *marker, const char *m)
{
	char *argv[] = { (char *)tu_workload_path(workload), (char *)marker, NULL };
	pid_t pid = tu_spawn_ready(argv, 5000);
	assert_true(pid > 0);
	json_object *scan = tu_scan_pid(pid, NULL);
	tu_stop(pid);
	bool has = tu_scan_requires(scan, m);
	json_object_put(scan);
	return has;
}

/*
 * A lea of a table kept in .text, handed to a reader with an FDE (as
 * ecp_nistz256_points_mul hands its table to ecp_nistz256_gather_w7): an
 * entry into the table's gap only if some path can jump or call through
 * it.  wl_leadata's reader only loads through it, wl_leacall's calls it,
 * wl_leaword's loads a code pointer from the table and calls that (the
 * table's words are then followed as pointers).  A load from the table
 * (wl_loadtext: mont5's movdqa of its .Linc constants) hands over bytes,
 * not the address: no entry; unless a loaded word is a code pointer that
 * is called (wl_loadword).
 */
static void test_lea_table(void **state)
{
	(void)state;
	mg_feature_set base;
	char *plain[] = { (char *)tu_workload_path("wl_leadata"), "none", NULL };
	tu_baseline_features(plain, NULL, NULL, &base);
	const char *m[2];
	if (tu_pick_markers(&base, m, 2) != 2)
		fail_msg("fewer than two markers this CPU runs are free in wl_leadata");
	bool called = scan_one_marker("wl_leacall", m[0], m[0]);
	bool other = scan_one_marker("wl_leacall", m[0], m[1]);
	printf("lea of %s's entry, called by the reader: %s %s (%s, reachable too, %s)\n", m[0],
	       m[0], called ? "counted" : "not counted", m[1], other ? "counted" : "not counted");
	assert_true(called);
	assert_true(other);
	bool word = scan_one_marker("wl_leaword", m[0], m[0]);
	printf("lea of a word pointing to %s's entry, loaded and called: %s %s\n", m[0], m[0],
	       word ? "counted" : "not counted");
	assert_true(word);
	bool loaded = scan_one_marker("wl_leadata", m[0], m[0]);
	printf("lea of %s's entry, only loaded through: %s %s\n", m[0], m[0],
	       loaded ? "counted" : "not counted");
	assert_false(loaded);
	assert_false(scan_one_marker("wl_leadata", m[0], m[1]));
	bool bytes = scan_one_marker("wl_loadtext", m[0], m[0]);
	bool slot = scan_one_marker("wl_loadword", m[0], m[0]);
	printf("load of %s's entry bytes: %s %s; load of a word pointing to it, called: %s\n",
	       m[0], m[0], bytes ? "counted" : "not counted", slot ? "counted" : "not counted");
	assert_false(bytes);
	assert_true(slot);
}

/* dispatch_state of a scan of a python3 started with env_extra (or NULL). */
static json_object *scan_python(const char *env_extra)
{
	char *argv[] = { "/usr/bin/python3", "-c", "import threading, time; print('ready', flush=True); "
			 "threading.Thread(target=time.sleep, args=(60,)).start(); time.sleep(60)",
			 NULL };
	pid_t pid = tu_spawn_ready_in(argv, NULL, env_extra, 10000);
	assert_true(pid > 0);
	json_object *scan = tu_scan_pid(pid, NULL);
	tu_stop(pid);
	return scan;
}

static bool has_fact(json_object *scan, const char *needle)
{
	json_object *facts = tu_json_get(scan, "dispatch_state");
	for (size_t i = 0; facts && i < json_object_array_length(facts); i++)
		if (strstr(json_object_get_string(json_object_array_get_idx(facts, i)), needle))
			return true;
	return false;
}

/*
 * Lock elision: off by default, the elision functions (XBEGIN) are not
 * reached by pthread_mutex_lock's calls; glibc.elision.enable=1 turns it
 * on where the CPU has RTM (then they are, and rtm counts).  IFUNCs no
 * slot resolved are evaluated, after the evaluator agreed with every
 * resolved one.
 */
static void test_glibc_state(void **state)
{
	(void)state;
	json_object *off = scan_python(NULL);
	if (!has_fact(off, "IFUNC resolvers already resolved"))
		fail_msg("no IRELATIVE facts in the scan");
	if (!has_fact(off, "__pthread_force_elision") &&
	    !has_fact(off, "main is running"))
		tu_skip(TU_SKIP_HOST, "no libc symbols (scripts/install-deps.sh installs libc6-dbg)");
	assert_true(has_fact(off, "__pthread_force_elision = 0"));
	assert_false(has_fact(off, "but its slots hold"));
	printf("elision off: %s; IFUNC evaluation %s\n",
	       tu_scan_requires(off, "rtm") ? "rtm counted" : "rtm not counted",
	       has_fact(off, "were evaluated") ? "used" : "not needed");
	json_object *on = scan_python("GLIBC_TUNABLES=glibc.elision.enable=1");
	bool rtm = tu_cpu_has("rtm");
	printf("glibc.elision.enable=1 on a CPU %s RTM: elision %s\n", rtm ? "with" : "without",
	       has_fact(on, "__pthread_force_elision = 0") ? "off" : "on");
	assert_int_equal(has_fact(on, "__pthread_force_elision = 0"), !rtm);
	if (rtm)
		assert_true(tu_scan_requires(on, "rtm"));
	json_object_put(off);
	json_object_put(on);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlsym_constant_name),
		cmocka_unit_test(test_bind_now_trampolines),
		cmocka_unit_test(test_data_objects),
		cmocka_unit_test(test_openblas_tables),
		cmocka_unit_test(test_glibc_state),
		cmocka_unit_test(test_gap_entries),
		cmocka_unit_test(test_table_register),
		cmocka_unit_test(test_lea_table),
	};
	return cmocka_run_group_tests_name("precision", tests, NULL, NULL);
}
