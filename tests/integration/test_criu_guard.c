/*
 * test_criu_guard.c - the CRIU restore guard plugin (src/criu-plugin/)
 * inside the real criu 4.x of the test root (tests/criu/).
 *
 * The plugin and the host's Zydis (trixie's has another soname) are
 * copied into the root; `criu restore --lib` loads it.  A restore on
 * this host succeeds and the restored process runs; saved requirements
 * (scan --save) are used while fresh and ignored once stale; saved
 * requirements naming a feature this CPU lacks, or a source CPU
 * (cpuinfo.img) claiming a feature this CPU lacks that the process keeps
 * code for, make the restore fail before any task exists, one log line
 * per missing feature; MIGRATABLE_RESTORE_GUARD=off restores anyway,
 * loudly; a corrupt image fails through CRIU's error path, not a crash.
 * Every feature this CPU lacks is chosen at run time.
 *
 * Skips when the CRIU root cannot be built here, criu check fails on
 * this kernel, or the plugin was not built (no criu-plugin.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <Zydis/Zydis.h>
#include <json-c/json.h>

#include "cpuinfo.pb-c.h"
#include "features/isa_map.h"
#include "features/profile.h"
#include "process/criu_image.h"
#include "support/testutil.h"
#include "verdict/restore_guard.h"

static struct {
	bool ready;
	char skip_reason[512];
	char tmp[64];
	char root[512];
	char plugin_dir[128];      /* inside the root */
	char basic[160];           /* dump of wl_criu_basic, not restored by the dump */
	mg_profile host;
} S;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *argv[] = { "sh", "-c", cmd, NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv, &o, &e);
	if (rc != 0)
		fprintf(stderr, "sh: %s: status %d: %s%s\n", cmd, rc, o ? o : "", e ? e : "");
	free(o);
	free(e);
	return rc;
}

static const char *plugin_path(void)
{
	static char path[1024];
	const char *env = getenv("MIGRATABLE_GUARD_PLUGIN");
	if (env != NULL && *env)
		return env;
	char bin[1024];
	snprintf(bin, sizeof(bin), "%s", tu_migratable_bin());
	snprintf(path, sizeof(path), "%s/criu/migratable_guard.so", dirname(bin));
	return path;
}

/* Copy the plugin and the host's Zydis (found next to it through its
 * $ORIGIN runpath) into the root, content-addressed. */
static int install_plugin(const char *plugin)
{
	char *argv[] = { "sh", "-c",
		"set -e; p=$1; r=$2; z=$(ldd \"$p\" | awk '/libZy/ { print $3 }'); "
		"sum=$(cat \"$p\" $z | sha256sum | cut -c1-16); d=/opt/migratable/guard-$sum; "
		"if [ ! -f \"$r$d/migratable_guard.so\" ]; then t=$r$d.tmp.$$; mkdir -p \"$t\"; "
		"cp \"$p\" \"$t/\"; for f in $z; do cp -L \"$f\" \"$t/$(basename \"$f\")\"; done; "
		"mv -T \"$t\" \"$r$d\" 2>/dev/null || rm -rf \"$t\"; fi; echo \"$d\"",
		"sh", (char *)plugin, S.root, NULL };
	char *o = NULL;
	int rc = tu_run(argv, &o, NULL);
	if (rc == 0 && o != NULL)
		snprintf(S.plugin_dir, sizeof(S.plugin_dir), "%.*s", (int)strcspn(o, "\n"), o);
	free(o);
	return rc;
}

/* dump-workload.sh with the plugin given to its restore; its stdout. */
static int dump(const char *workload, const char *out, bool restore, const char *arg,
		char **result)
{
	char *argv[16];
	int n = 0;
	argv[n++] = "tests/criu/dump-workload.sh";
	argv[n++] = "--root";
	argv[n++] = S.root;
	if (restore) {
		argv[n++] = "--restore-arg";
		argv[n++] = "--lib";
		argv[n++] = "--restore-arg";
		argv[n++] = S.plugin_dir;
	} else {
		argv[n++] = "--no-restore";
	}
	argv[n++] = (char *)tu_workload_path(workload);
	argv[n++] = (char *)out;
	if (arg) {
		argv[n++] = "--";
		argv[n++] = (char *)arg;
	}
	argv[n] = NULL;
	char *e = NULL;
	int rc = tu_run(argv, result, &e);
	if (rc != 0)
		fprintf(stderr, "dump-workload.sh %s: status %d: %s\n", workload, rc, e ? e : "");
	free(e);
	/* The workload's counter file as dumped: CRIU refuses to restore a
	 * file whose size changed, and a restored copy keeps counting. */
	if (rc == 0 && !restore)
		rc = sh("cp '%s/run/counter' '%s/run/counter.at-dump'", out, out);
	return rc;
}

/* in-root.sh's stderr of the last restore(), for failure messages. */
static char last_stderr[2048];

/*
 * criu restore of OUT/img with the plugin, in a new namespace of the root
 * (OUT at /dump, where the process's files are), `env` (NULL or
 * "NAME=VALUE") set.  Returns criu's status; *log gets restore.log
 * (removed first, so that it is this restore's).
 */
static int restore(const char *out, const char *env, char **log)
{
	char bind[256], logpath[256];
	snprintf(bind, sizeof(bind), "%s:/dump", out);
	char *argv[] = { "tests/criu/in-root.sh", "--bind", bind, S.root, "env",
			 (char *)(env ? env : "MIGRATABLE_TEST=1"), "criu", "restore", "-D", "/dump/img",
			 "--shell-job", "-d", "-v4", "-o", "restore.log", "--lib", S.plugin_dir, NULL };
	snprintf(logpath, sizeof(logpath), "%s/img/restore.log", out);
	unlink(logpath);
	assert_int_equal(sh("cp '%s/run/counter.at-dump' '%s/run/counter'", out, out), 0);
	char *e = NULL;
	int rc = tu_run(argv, NULL, &e);
	snprintf(last_stderr, sizeof(last_stderr), "%s", e ? e : "");
	free(e);
	*log = tu_read_file(logpath, NULL);
	if (*log == NULL)
		fail_msg("criu restore (status %d) wrote no restore.log; stderr: %s", rc, last_stderr);
	return rc;
}

/* The lines of log that mention the plugin, for failure messages. */
static const char *plugin_lines(const char *log)
{
	static char buf[4096];
	size_t n = 0;
	buf[0] = '\0';
	for (const char *l = log; l && *l && n < sizeof(buf) - 1;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) + 1 : strlen(l);
		if ((memmem(l, len, "migratable", 10) || memmem(l, len, "Error", 5)) &&
		    n + len < sizeof(buf)) {
			memcpy(buf + n, l, len);
			n += len;
			buf[n] = '\0';
		}
		l += len;
	}
	if (n == 0 && log != NULL) {
		size_t len = strlen(log);
		snprintf(buf, sizeof(buf), "(no plugin or error line; log tail:)\n%s\nstderr: %s",
			 log + (len > 1500 ? len - 1500 : 0), last_stderr);
	}
	return buf;
}

static void expect_log(const char *log, const char *needle)
{
	if (strstr(log, needle) == NULL)
		fail_msg("restore.log lacks \"%s\":\n%s", needle, plugin_lines(log));
}

/*
 * The restore went on with a verdict of compatible, or unknown: a process
 * holding code it generated (wl_guard_jit) may generate more with any
 * feature of its source (analysis/jit.c), and a cpuinfo.img cannot say
 * whether the source had some (CPUID.(7,1), 0x24, ...).
 */
static void expect_goes_on(const char *log)
{
	if (strstr(log, "migratable: compatible") == NULL &&
	    strstr(log, "migratable: verdict unknown") == NULL)
		fail_msg("restore.log says neither compatible nor unknown:\n%s", plugin_lines(log));
}

static int group_setup(void **state)
{
	(void)state;
	char *argv_root[] = { "tests/criu/build-root.sh", NULL };
	char *o = NULL;
	int rc = tu_run(argv_root, &o, NULL);
	if (rc != 0) {
		snprintf(S.skip_reason, sizeof(S.skip_reason), "CRIU root unavailable (build-root.sh status %d)", rc);
		free(o);
		return 0;
	}
	char *last = o;
	for (char *p = o; p && *p; p++)
		if (*p == '\n' && p[1] != '\0')
			last = p + 1;
	snprintf(S.root, sizeof(S.root), "%.*s", (int)strcspn(last, "\n"), last);
	free(o);
	char *argv_check[] = { "tests/criu/in-root.sh", S.root, "criu", "check", NULL };
	if (tu_run(argv_check, NULL, NULL) != 0) {
		snprintf(S.skip_reason, sizeof(S.skip_reason), "criu check fails on this kernel");
		return 0;
	}
	const char *plugin = plugin_path();
	if (access(plugin, R_OK) != 0) {
		snprintf(S.skip_reason, sizeof(S.skip_reason), "the CRIU plugin %.300s was not built "
			 "(no criu-plugin.h: install libcriu-dev)", plugin);
		return 0;
	}
	mg_error err = { 0 };
	if (install_plugin(plugin) != 0 || mg_host_profile(&S.host, "this host", &err) != 0)
		return -1;
	snprintf(S.tmp, sizeof(S.tmp), "/tmp/mg-guard-test.XXXXXX");
	if (mkdtemp(S.tmp) == NULL)
		return -1;
	snprintf(S.basic, sizeof(S.basic), "%s/basic", S.tmp);
	S.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (S.tmp[0])
		sh("rm -rf '%s'", S.tmp);
	if (S.ready)
		mg_profile_free(&S.host);
	return 0;
}

#define NEED_CRIU() do { if (!S.ready) { fprintf(stderr, "skip: %s\n", S.skip_reason); skip(); } } while (0)

static bool host_lacks(mg_feature_id f)
{
	return !mg_fset_has(&S.host.features, f) && !mg_fset_has(&S.host.unknown, f);
}

/* --- tests ---------------------------------------------------------------------- */

/* The first test: dump wl_criu_basic and restore it with the plugin,
 * which scans the dump (nothing saved yet) and lets it go on. */
static void test_restore_on_this_host(void **state)
{
	(void)state;
	NEED_CRIU();
	char *result = NULL, out[160];
	snprintf(out, sizeof(out), "%s/restored", S.tmp);
	assert_int_equal(dump("wl_criu_basic", out, true, NULL, &result), 0);
	assert_non_null(strstr(result, "restored=yes"));
	free(result);
	char path[256];
	snprintf(path, sizeof(path), "%s/img/restore.log", out);
	char *log = tu_read_file(path, NULL);
	assert_non_null(log);
	expect_log(log, "Plugin \"migratable-guard\"");
	expect_log(log, "migratable: scanned the dump under root /");
	expect_log(log, "migratable: compatible: this CPU has all");
	printf("%s", plugin_lines(log));
	free(log);
}

static void save_requirements(const char *out)
{
	char img[256];
	snprintf(img, sizeof(img), "%s/img", out);
	assert_int_equal(tu_migratable(NULL, NULL, "scan", "--criu-dir", img, "--root", S.root,
				       "--save", "--no-cache", NULL), 0);
}

static void test_saved_requirements_are_used(void **state)
{
	(void)state;
	NEED_CRIU();
	char *result = NULL;
	assert_int_equal(dump("wl_criu_basic", S.basic, false, NULL, &result), 0);
	free(result);
	save_requirements(S.basic);
	char *log = NULL;
	int rc = restore(S.basic, NULL, &log);
	if (rc != 0)
		fail_msg("restore with fresh saved requirements: status %d\n%s", rc, plugin_lines(log));
	expect_log(log, "migratable: requirements from ");
	expect_log(log, "migratable: compatible");
	assert_null(strstr(log, "scanned the dump"));
	printf("%s", plugin_lines(log));
	free(log);
}

/* Saved requirements (fresh) edited to name a feature this CPU lacks:
 * refused; with the override, restored, with a warning. */
static void test_saved_missing_feature_refused(void **state)
{
	(void)state;
	NEED_CRIU();
	mg_feature_id lack = MG_FEATURE_NONE;
	for (size_t f = 0; f < mg_feature_count() && lack == MG_FEATURE_NONE; f++)
		if (host_lacks((mg_feature_id)f))
			lack = (mg_feature_id)f;
	if (lack == MG_FEATURE_NONE)
		fail_msg("this CPU has every feature of the table: cannot pick one it lacks");
	const char *name = mg_feature_get(lack)->name;
	save_requirements(S.basic);
	char path[256];
	snprintf(path, sizeof(path), "%s/img/%s", S.basic, MG_GUARD_FILE);
	json_object *o = tu_load_json(path);
	json_object_array_add(tu_json_get(o, "required_features"), json_object_new_string(name));
	assert_int_equal(json_object_to_file(path, o), 0);
	json_object_put(o);

	char *log = NULL;
	int rc = restore(S.basic, NULL, &log);
	if (rc == 0)
		fail_msg("restore succeeded although the requirements name %s, which this CPU lacks:\n%s",
			 name, plugin_lines(log));
	assert_true(rc < 128);      /* an error exit, not a crash */
	expect_log(log, "migratable: requirements from ");
	expect_log(log, "migratable: restore refused: this CPU");
	char line[128];
	snprintf(line, sizeof(line), "migratable:   missing %s (", name);
	expect_log(log, line);
	expect_log(log, "Failed in init(2) of \"migratable-guard\"");
	printf("refused for %s:\n%s", name, plugin_lines(log));
	free(log);

	rc = restore(S.basic, "MIGRATABLE_RESTORE_GUARD=off", &log);
	if (rc != 0)
		fail_msg("MIGRATABLE_RESTORE_GUARD=off: restore failed (%d):\n%s", rc, plugin_lines(log));
	expect_log(log, "MIGRATABLE_RESTORE_GUARD=off: the CPU check is SKIPPED");
	free(log);
}

/*
 * An instruction of a feature this CPU lacks, recorded in a cpuinfo.img
 * capability word: its bytes as hex, checked with our own decoder and
 * ISA map (so the table cannot silently lie).
 */
static const char *pick_instruction(mg_feature_id *feature)
{
	static const struct { const char *feature, *hex; } table[] = {
		{ "sse4a", "660f79ca" },              /* extrq xmm1, xmm2 (AMD) */
		{ "amx_tile", "c4e27849c0" },         /* tilerelease (Intel) */
		{ "avx512_fp16", "62f5744858c2" },    /* vaddph zmm0, zmm1, zmm2 */
		{ "avx512f", "62f17548fec2" },        /* vpaddd zmm0, zmm1, zmm2 */
		{ "avx512_vp2intersect", "62f2774868c2" },
		{ "fma4", "c4e37168c230" },           /* vfmaddps xmm0, xmm1, xmm2, xmm3 */
		{ "sha_ni", "0f38c9ca" },             /* sha1msg1 xmm1, xmm2 */
		{ "gfni", "660f3aceca00" },           /* gf2p8affineqb xmm1, xmm2, 0 */
		{ "avx2", "c5f5fec2" },               /* vpaddd ymm0, ymm1, ymm2 */
	};
	ZydisDecoder dec;
	assert_int_equal(ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
						       ZYDIS_STACK_WIDTH_64)), 1);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		mg_feature_id f = mg_feature_by_name(table[i].feature);
		if (f == MG_FEATURE_NONE || !host_lacks(f))
			continue;
		const mg_feature_info *fi = mg_feature_get(f);
		bool recorded = false;
		for (unsigned w = 0; w < 19; w++) {
			uint32_t leaf, sub;
			mg_cpuid_reg reg;
			if (mg_criu_cap_word_location(w, &leaf, &sub, &reg) && leaf == fi->leaf &&
			    sub == fi->subleaf && reg == fi->reg)
				recorded = true;
		}
		uint8_t bytes[16];
		size_t n = strlen(table[i].hex) / 2;
		for (size_t k = 0; k < n; k++)
			sscanf(table[i].hex + 2 * k, "%2hhx", &bytes[k]);
		ZydisDecodedInstruction insn;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		mg_isa_requirement req;
		if (!recorded || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, n, &insn, ops)) ||
		    insn.length != n)
			continue;
		mg_instruction_requirement(&insn, &req);
		if (req.kind == MG_ISA_FEATURES && mg_fset_has(&req.features, f)) {
			*feature = f;
			return table[i].hex;
		}
	}
	return NULL;
}

/* Rewrite DIR/cpuinfo.img with feature f's CPUID bit (and the XSAVE
 * state it needs) set: a source CPU that pretends to have it. */
static void pretend_source_has(const char *img_dir, mg_feature_id f)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/cpuinfo.img", img_dir);
	size_t len;
	uint8_t *data = (uint8_t *)tu_read_file(path, &len);
	assert_non_null(data);
	assert_true(len > 12);
	uint32_t mlen;
	memcpy(&mlen, data + 8, 4);
	assert_true(12 + (size_t)mlen <= len);
	CpuinfoEntry *ce = cpuinfo_entry__unpack(NULL, mlen, data + 12);
	assert_non_null(ce);
	assert_true(ce->n_x86_entry > 0);
	CpuinfoX86Entry *x = ce->x86_entry[0];
	const mg_feature_info *fi = mg_feature_get(f);
	for (unsigned w = 0; w < x->n_capability; w++) {
		uint32_t leaf, sub;
		mg_cpuid_reg reg;
		if (mg_criu_cap_word_location(w, &leaf, &sub, &reg) && leaf == fi->leaf &&
		    sub == fi->subleaf && reg == fi->reg)
			x->capability[w] |= 1u << fi->bit;
	}
	x->xfeatures_mask |= fi->xcr0_needed;
	size_t plen = cpuinfo_entry__get_packed_size(ce);
	uint8_t *out = malloc(12 + plen);
	assert_non_null(out);
	memcpy(out, data, 8);
	uint32_t pl = (uint32_t)plen;
	memcpy(out + 8, &pl, 4);
	cpuinfo_entry__pack(ce, out + 12);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(out, 1, 12 + plen, fp), 12 + plen);
	assert_int_equal(fclose(fp), 0);
	free(out);
	free(data);
	cpuinfo_entry__free_unpacked(ce, NULL);
}

/*
 * wl_guard_jit keeps (never runs) an instruction of a feature this CPU
 * lacks.  With the dump's own cpuinfo.img (this CPU, without it) the
 * feature is not required and the restore goes on (as generated code, the
 * rest of what the source may have had is only conditional: unknown, not
 * incompatible); with a cpuinfo.img
 * pretending the source had it, the process could have chosen that code
 * there, and the restore is refused naming it, with the instruction.
 */
static void test_source_cpu_pretending(void **state)
{
	(void)state;
	NEED_CRIU();
	mg_feature_id f = MG_FEATURE_NONE;
	const char *hex = pick_instruction(&f);
	if (hex == NULL)
		fail_msg("no instruction in the table for a feature this CPU lacks");
	const char *name = mg_feature_get(f)->name;
	char out[160], img[200];
	snprintf(out, sizeof(out), "%s/jit", S.tmp);
	snprintf(img, sizeof(img), "%s/img", out);
	char *result = NULL;
	assert_int_equal(dump("wl_guard_jit", out, false, hex, &result), 0);
	free(result);

	char *log = NULL;
	int rc = restore(out, NULL, &log);
	if (rc != 0)
		fail_msg("restore with the real source CPU (lacking %s) failed (%d):\n%s", name, rc,
			 plugin_lines(log));
	expect_goes_on(log);
	free(log);

	pretend_source_has(img, f);
	rc = restore(out, NULL, &log);
	if (rc == 0)
		fail_msg("restore succeeded although the source CPU claims %s, which this CPU lacks "
			 "and the process keeps code for:\n%s", name, plugin_lines(log));
	assert_true(rc < 128);
	char line[128];
	snprintf(line, sizeof(line), "migratable:   missing %s (1 site), e.g. ", name);
	expect_log(log, line);
	expect_log(log, "jit@");
	printf("source pretending %s (instruction %s):\n%s", name, hex, plugin_lines(log));
	free(log);
}

/* Requirements saved for other images (another dump's) are not used:
 * the plugin scans, and this dump restores. */
static void test_stale_requirements_ignored(void **state)
{
	(void)state;
	NEED_CRIU();
	char from[256], to[256], jit[160], jit_img[200];
	snprintf(from, sizeof(from), "%s/img/%s", S.basic, MG_GUARD_FILE);
	snprintf(jit, sizeof(jit), "%s/jit", S.tmp);
	snprintf(jit_img, sizeof(jit_img), "%s/img", jit);
	snprintf(to, sizeof(to), "%s/%s", jit_img, MG_GUARD_FILE);
	if (access(from, R_OK) != 0 || access(jit_img, R_OK) != 0)
		fail_msg("needs the dumps of the tests before (run in order)");
	/* The jit dump's cpuinfo.img may pretend (test before): its own again. */
	assert_int_equal(sh("cp '%s/img/cpuinfo.img' '%s/cpuinfo.img' && cp '%s' '%s'",
			    S.basic, jit_img, from, to), 0);
	char *log = NULL;
	int rc = restore(jit, NULL, &log);
	if (rc != 0)
		fail_msg("restore with stale requirements (naming a missing feature) failed (%d):\n%s",
			 rc, plugin_lines(log));
	expect_log(log, "was saved for other images");
	expect_log(log, "migratable: scanned the dump");
	expect_goes_on(log);
	free(log);
}

/* A corrupt image: the restore fails through CRIU's error path. */
static void test_corrupt_image(void **state)
{
	(void)state;
	NEED_CRIU();
	char bad[160];
	snprintf(bad, sizeof(bad), "%s/bad", S.tmp);
	assert_int_equal(sh("rm -rf '%s' && cp -a '%s' '%s' && rm -f '%s/img/%s' && "
			    "for f in '%s'/img/core-*.img; do head -c 40 \"$f\" >\"$f.t\" && mv \"$f.t\" \"$f\"; done",
			    bad, S.basic, bad, bad, MG_GUARD_FILE, bad), 0);
	char *log = NULL;
	int rc = restore(bad, NULL, &log);
	if (rc == 0 || rc >= 128)
		fail_msg("restore of truncated core images: status %d (want an error exit):\n%s", rc,
			 plugin_lines(log));
	expect_log(log, "migratable: cannot scan the checkpoint: ");
	expect_log(log, "core-");
	expect_log(log, "Failed in init(2) of \"migratable-guard\"");
	free(log);
}

/* The library side, in-process (also under the sanitizers): a saved
 * file round-trips, and one byte more in an image makes it stale. */
static void test_guard_file_freshness(void **state)
{
	(void)state;
	NEED_CRIU();
	char copy[160], img[200];
	snprintf(copy, sizeof(copy), "%s/fresh", S.tmp);
	snprintf(img, sizeof(img), "%s/img", copy);
	assert_int_equal(sh("rm -rf '%s' && cp -a '%s' '%s'", copy, S.basic, copy), 0);
	save_requirements(copy);
	int dirfd = open(img, O_RDONLY | O_DIRECTORY);
	assert_true(dirfd >= 0);
	mg_scan_result *r = NULL;
	mg_guard_saved st;
	char why[512];
	mg_error err = { 0 };
	assert_int_equal(mg_guard_load(dirfd, img, &r, &st, why, sizeof(why), &err), 0);
	assert_int_equal(st, MG_GUARD_FRESH);
	assert_non_null(r);
	assert_false(mg_fset_is_empty(&r->required));
	mg_scan_result_free(r);
	/* Same size, other bytes in a small image: stale. */
	assert_int_equal(sh("cd '%s' && f=$(ls core-*.img | head -n1) && "
			    "printf '\\377' | dd of=\"$f\" bs=1 seek=20 conv=notrunc 2>/dev/null", img), 0);
	assert_int_equal(mg_guard_load(dirfd, img, &r, &st, why, sizeof(why), &err), 0);
	assert_int_equal(st, MG_GUARD_STALE);
	assert_null(r);
	assert_non_null(strstr(why, "saved for other images"));
	close(dirfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_on_this_host),
		cmocka_unit_test(test_saved_requirements_are_used),
		cmocka_unit_test(test_saved_missing_feature_refused),
		cmocka_unit_test(test_source_cpu_pretending),
		cmocka_unit_test(test_stale_requirements_ignored),
		cmocka_unit_test(test_corrupt_image),
		cmocka_unit_test(test_guard_file_freshness),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
