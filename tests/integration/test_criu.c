/*
 * test_criu.c - CRIU 4.x dumps end to end: mg_criu_open, `migratable scan
 * --criu-dir` against a live scan of the same process, `migratable check
 * --criu-dir` and the CRIU policy over cpuinfo.img.
 *
 * The group setup dumps wl_criu_basic with tests/criu/dump-workload.sh
 * (CRIU 4.1 inside a Debian trixie root, see docs/criu.md), scanning it
 * live just before the dump, and restores it.  The live-vs-dump tests
 * dump one more workload each, the memfd tests wl_memfd (without and with
 * an executable memfd mapping).  Every test that needs CRIU skips when the
 * root cannot be built here (no network, not root) or `criu check` fails
 * on this kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "analysis/scan.h"
#include "cpuinfo.pb-c.h"
#include "features/features.h"
#include "process/criu_image.h"
#include "process/image.h"
#include "support/markers.h"
#include "support/testutil.h"
#include "verdict/criu_policy.h"

static struct {
	bool ready;
	char skip_reason[512];
	tu_skip_class skip_class;
	char tmp[64];               /* mkdtemp directory, removed at the end */
	char out[128];              /* dump-workload OUTDIR */
	char img[160];              /* OUTDIR/img */
	char root[512];
	char live_json[160];        /* OUTDIR/live.json: scan just before the dump */
	char *result, *wl_out, *maps_before;
	long nspid;
	uint64_t heap, handler, guard;
	size_t heap_len;
} S;

static const char *kv(const char *text, const char *key, char *buf, size_t cap)
{
	size_t klen = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, klen) == 0 && l[klen] == '=') {
			const char *v = l + klen + 1;
			size_t n = strcspn(v, " \n");
			if (n >= cap)
				n = cap - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

static uint64_t kv_u64(const char *text, const char *key)
{
	char buf[64];
	if (kv(text, key, buf, sizeof(buf)) == NULL)
		return 0;
	return strtoull(buf, NULL, 0);
}

static int run_sh(const char *cmd)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv, &o, &e);
	free(o);
	free(e);
	return rc;
}

static int group_setup(void **state)
{
	(void)state;
	char *argv_root[] = { "tests/criu/build-root.sh", NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv_root, &o, &e);
	if (rc != 0) {
		/* The script's last stderr line says why. */
		const char *why = "";
		if (e != NULL) {
			size_t n = strlen(e);
			while (n > 0 && e[n - 1] == '\n')
				e[--n] = '\0';
			why = strrchr(e, '\n') ? strrchr(e, '\n') + 1 : e;
		}
		snprintf(S.skip_reason, sizeof(S.skip_reason), "CRIU root unavailable (build-root.sh status %d): %.300s",
			 rc, why);
		S.skip_class = strstr(why, "needs root") ? TU_SKIP_NO_PRIVILEGE : TU_SKIP_HOST;
		free(o);
		free(e);
		return 0;
	}
	char *nl = o ? strrchr(o, '\n') : NULL;
	if (nl && nl[1] == '\0')
		*nl = '\0';
	nl = o ? strrchr(o, '\n') : NULL;
	snprintf(S.root, sizeof(S.root), "%s", nl ? nl + 1 : (o ? o : ""));
	free(o);
	free(e);

	char *argv_check[] = { "tests/criu/in-root.sh", S.root, "criu", "check", NULL };
	o = e = NULL;
	rc = tu_run(argv_check, &o, &e);
	free(o);
	if (rc != 0) {
		snprintf(S.skip_reason, sizeof(S.skip_reason), "criu check fails on this kernel: %.300s", e ? e : "");
		S.skip_class = TU_SKIP_HOST;
		free(e);
		return 0;
	}
	free(e);

	snprintf(S.tmp, sizeof(S.tmp), "/tmp/mg-criu-test.XXXXXX");
	if (mkdtemp(S.tmp) == NULL)
		return -1;
	snprintf(S.out, sizeof(S.out), "%s/dump", S.tmp);
	snprintf(S.img, sizeof(S.img), "%s/img", S.out);
	snprintf(S.live_json, sizeof(S.live_json), "%s/live.json", S.tmp);
	char before[512];
	snprintf(before, sizeof(before), "'%s' scan {pid} --json --output '%s'",
		 tu_migratable_bin(), S.live_json);
	char *argv_dump[] = { "tests/criu/dump-workload.sh", "--root", S.root,
			      "--before-dump", before,
			      (char *)tu_workload_path("wl_criu_basic"), S.out, NULL };
	rc = tu_run(argv_dump, &S.result, &e);
	if (rc != 0) {
		fprintf(stderr, "dump-workload.sh failed (%d): %s\n", rc, e ? e : "");
		free(e);
		return -1;      /* criu check passed: a failing dump is a real failure */
	}
	free(e);
	char path[256];
	snprintf(path, sizeof(path), "%s/run/wl.out", S.out);
	S.wl_out = tu_read_file(path, NULL);
	snprintf(path, sizeof(path), "%s/maps.before", S.out);
	S.maps_before = tu_read_file(path, NULL);
	if (S.wl_out == NULL || S.maps_before == NULL)
		return -1;
	S.nspid = (long)kv_u64(S.result, "nspid");
	S.heap = kv_u64(S.wl_out, "heap");
	S.heap_len = (size_t)kv_u64(strstr(S.wl_out, "len=") ? strstr(S.wl_out, "len=") : "", "len");
	S.handler = kv_u64(S.wl_out, "handler");
	S.guard = kv_u64(S.wl_out, "guard");
	S.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (S.tmp[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", S.tmp);
		run_sh(cmd);
	}
	free(S.result);
	free(S.wl_out);
	free(S.maps_before);
	return 0;
}

#define NEED_DUMP() do { if (!S.ready) tu_skip(S.skip_class, "%s", S.skip_reason); } while (0)

static mg_image *open_ok(const char *dir, const char *root)
{
	mg_error err = { 0 };
	mg_image *img = NULL;
	if (mg_criu_open(dir, root, &img, &err) != 0)
		fail_msg("mg_criu_open(%s): %s", dir, err.msg);
	return img;
}

static uint8_t wl_pattern(size_t i)
{
	return (uint8_t)((i * 7 + 13) ^ (i >> 8));
}

static void test_tree_and_threads(void **state)
{
	(void)state;
	NEED_DUMP();
	mg_image *img = open_ok(S.img, S.root);
	assert_int_equal(img->pid, S.nspid);
	assert_int_equal(img->nthreads, 2);
	assert_int_equal(img->threads[0].tid, img->pid);
	for (size_t i = 0; i < img->nthreads; i++) {
		const mg_mapping *m = mg_image_find_mapping(img, img->threads[i].regs.rip);
		assert_non_null(m);
		assert_true(m->prot & MG_PROT_EXEC);
		assert_non_null(img->threads[i].stack);
		assert_true(img->threads[i].stack_start <= img->threads[i].regs.rsp);
		assert_true(img->threads[i].has_xstate);
		assert_true(img->threads[i].xstate_bv & 2);    /* SSE state is always live */
	}
	assert_non_null(img->exe);
	assert_non_null(strstr(img->exe, "wl_criu_basic"));
	const mg_mapping *entry = mg_image_find_mapping(img, img->at_entry);
	assert_non_null(entry);
	assert_string_equal(entry->path, img->exe);
	const mg_mapping *vdso = mg_image_find_mapping(img, img->at_sysinfo_ehdr);
	assert_non_null(vdso);
	assert_int_equal(vdso->kind, MG_MAP_VDSO);
	assert_string_equal(img->source + 5, S.img);
	mg_image_free(img);
}

typedef struct pmap {
	uint64_t start, end, inode;
	unsigned prot, dev_major, dev_minor;
	char path[256];
} pmap;

/* /proc/PID/maps as captured before the dump, with [vvar] and
 * [vvar_vclock] merged: CRIU records them as one VVAR VMA. */
static size_t parse_maps(const char *text, pmap *out, size_t cap)
{
	size_t n = 0;
	for (const char *l = text; l && *l && n < cap; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		pmap m = { 0 };
		char perms[8] = "", path[256] = "";
		if (sscanf(l, "%" SCNx64 "-%" SCNx64 " %7s %*s %x:%x %" SCNu64 " %255[^\n]", &m.start, &m.end,
			   perms, &m.dev_major, &m.dev_minor, &m.inode, path) < 6)
			continue;
		m.prot = (perms[0] == 'r' ? MG_PROT_READ : 0) | (perms[1] == 'w' ? MG_PROT_WRITE : 0) |
			 (perms[2] == 'x' ? MG_PROT_EXEC : 0);
		snprintf(m.path, sizeof(m.path), "%s", path);
		if (n > 0 && strcmp(m.path, "[vvar_vclock]") == 0 && strcmp(out[n - 1].path, "[vvar]") == 0 &&
		    out[n - 1].end == m.start) {
			out[n - 1].end = m.end;
			continue;
		}
		out[n++] = m;
	}
	return n;
}

static void test_mappings_match_proc_maps(void **state)
{
	(void)state;
	NEED_DUMP();
	mg_image *img = open_ok(S.img, S.root);
	static pmap pm[512];
	size_t n = parse_maps(S.maps_before, pm, 512);
	assert_true(n > 10);
	assert_int_equal(img->nmaps, n);
	for (size_t i = 0; i < n; i++) {
		const mg_mapping *m = &img->maps[i];
		assert_int_equal(m->start, pm[i].start);
		assert_int_equal(m->end, pm[i].end);
		assert_int_equal(m->prot, pm[i].prot);
		if (pm[i].path[0] == '/') {
			assert_int_equal(m->kind, MG_MAP_FILE);
			assert_string_equal(m->path, pm[i].path);
			/* CRIU does not record them: the reader takes them from
			 * the file under the root, the very file the process
			 * mapped (the root is its /). */
			assert_int_equal(m->inode, pm[i].inode);
			assert_int_equal(m->dev_major, pm[i].dev_major);
			assert_int_equal(m->dev_minor, pm[i].dev_minor);
		} else if (pm[i].path[0] == '[') {
			assert_non_null(m->path);
			assert_string_equal(m->path, pm[i].path);
		} else {
			assert_int_equal(m->kind, MG_MAP_ANON);
		}
	}
	mg_image_free(img);
}

static void test_memory_and_signals(void **state)
{
	(void)state;
	NEED_DUMP();
	assert_true(S.heap != 0 && S.heap_len == 65536);
	mg_image *img = open_ok(S.img, S.root);
	uint8_t *buf = malloc(S.heap_len);
	assert_non_null(buf);
	assert_int_equal(mg_image_read(img, S.heap, buf, S.heap_len), (ssize_t)S.heap_len);
	for (size_t i = 0; i < S.heap_len; i++)
		if (buf[i] != wl_pattern(i))
			fail_msg("heap byte %zu: 0x%02x, want 0x%02x", i, buf[i], wl_pattern(i));
	free(buf);

	/* Code not dumped by CRIU comes from the file under the root: the
	 * ELF magic at the executable's first mapping. */
	char elf[4];
	assert_int_equal(mg_image_read(img, img->maps[0].start, elf, 4), 4);
	assert_memory_equal(elf, "\177ELF", 4);

	assert_true(img->sigactions_known);
	bool found = false;
	for (size_t i = 0; i < img->nsigactions; i++)
		if (img->sigactions[i].signo == 10) {
			assert_int_equal(img->sigactions[i].handler, S.handler);
			found = true;
		}
	assert_true(found);

	assert_true(img->pointer_guard_known);
	assert_int_equal(img->pointer_guard, S.guard);
	mg_image_free(img);
}

static void test_restored_process_ran(void **state)
{
	(void)state;
	NEED_DUMP();
	char buf[16];
	assert_non_null(kv(S.result, "restored", buf, sizeof(buf)));
	assert_string_equal(buf, "yes");
	assert_true(kv_u64(S.result, "progress_after") > kv_u64(S.result, "progress_before"));
}

static void test_every_image_parses(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *files[] = { "inventory.img", "pstree.img", "files.img", "cpuinfo.img" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", S.img, files[i]);
		uint8_t *data;
		size_t len;
		mg_error err = { 0 };
		assert_int_equal(mg_criu_read_file(path, &data, &len, &err), 0);
		int n = mg_criu_parse_image_mem(path, data, len, &err);
		if (n <= 0)
			fail_msg("%s: %s", path, err.msg);
		free(data);
	}
}

static void test_cpuinfo_read(void **state)
{
	(void)state;
	NEED_DUMP();
	char path[256];
	snprintf(path, sizeof(path), "%s/cpuinfo.img", S.img);
	mg_criu_cpuinfo ci;
	mg_error err = { 0 };
	if (mg_criu_cpuinfo_read(path, &ci, &err) != 0)
		fail_msg("%s", err.msg);
	/* Compare with this host's /proc/cpuinfo (the dump ran here). */
	char *cpuinfo = tu_read_file("/proc/cpuinfo", NULL);
	assert_non_null(cpuinfo);
	char want[64];
	const char *fam = strstr(cpuinfo, "cpu family");
	assert_non_null(fam);
	assert_int_equal(ci.family, strtoul(strchr(fam, ':') + 1, NULL, 10));
	snprintf(want, sizeof(want), "%s", ci.vendor == 1 ? "GenuineIntel" : ci.vendor == 2 ? "AuthenticAMD" : "?");
	assert_non_null(strstr(cpuinfo, want));
	assert_true(ci.ncaps >= 12);
	assert_true(ci.caps[0] & (1u << 26));          /* SSE2: every x86-64 */
	/* CRIU's mask is the XSAVE features it handles, not XCR0 verbatim (it
	 * may lack SSE, bit 1); x87 (bit 0) is always there. */
	assert_true(ci.has_xfeatures && (ci.xfeatures_mask & 1));
	assert_true(ci.xsave_size >= 576 && ci.xsave_size <= ci.xsave_size_max);
	uint32_t leaf, sub;
	mg_cpuid_reg reg;
	assert_true(mg_criu_cap_word_location(9, &leaf, &sub, &reg));
	assert_true(leaf == 7 && sub == 0 && reg == MG_EBX);
	assert_false(mg_criu_cap_word_location(3, &leaf, &sub, &reg));
	/* AVX2 in the capability words agrees with the host flags. */
	bool avx2 = strstr(cpuinfo, " avx2") != NULL;
	assert_int_equal(avx2, (ci.caps[9] >> 5) & 1);
	free(cpuinfo);
	mg_criu_cpuinfo_free(&ci);
}

/* --- corrupt dumps --------------------------------------------------------- */

static void copy_dump(const char *to)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, S.img, to);
	assert_int_equal(run_sh(cmd), 0);
}

static void expect_io_error(const char *dir, const char *root, const char *needle)
{
	mg_error err = { 0 };
	mg_image *img = NULL;
	int rc = mg_criu_open(dir, root, &img, &err);
	if (rc == 0) {
		mg_image_free(img);
		fail_msg("mg_criu_open(%s) succeeded; expected an error naming %s", dir, needle);
	}
	assert_null(img);
	assert_int_equal(err.code, MG_ERR_IO);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("error \"%s\" does not name %s", err.msg, needle);
	assert_null(strchr(err.msg, '\n'));
}

static void test_truncated_core(void **state)
{
	(void)state;
	NEED_DUMP();
	char dir[256], core[320], name[64];
	snprintf(dir, sizeof(dir), "%s/trunc", S.tmp);
	copy_dump(dir);
	snprintf(name, sizeof(name), "core-%ld.img", S.nspid);
	snprintf(core, sizeof(core), "%s/%s", dir, name);
	struct stat st;
	assert_int_equal(stat(core, &st), 0);
	assert_int_equal(truncate(core, st.st_size / 2), 0);
	expect_io_error(dir, S.root, name);
	assert_int_equal(truncate(core, 6), 0);        /* inside the magic */
	expect_io_error(dir, S.root, name);
}

static void test_bad_magic(void **state)
{
	(void)state;
	NEED_DUMP();
	char dir[256], path[320];
	snprintf(dir, sizeof(dir), "%s/magic", S.tmp);
	copy_dump(dir);
	snprintf(path, sizeof(path), "%s/pstree.img", dir);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xde\xad\xbe\xef", 4, 0), 4);
	close(fd);
	expect_io_error(dir, S.root, "pstree.img");
}

static void test_missing_pages(void **state)
{
	(void)state;
	NEED_DUMP();
	char dir[256], path[320];
	snprintf(dir, sizeof(dir), "%s/nopages", S.tmp);
	copy_dump(dir);
	snprintf(path, sizeof(path), "%s/pages-1.img", dir);
	assert_int_equal(unlink(path), 0);
	expect_io_error(dir, S.root, "pages-1.img");
}

/* A root holding copies of the mapped files; `mutate` then alters libc. */
static void make_root_copy(const char *root2, const char *exe)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "set -e; rm -rf '%s'; for f in '%s' /usr/lib/x86_64-linux-gnu/libc.so.6 "
		 "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do "
		 "mkdir -p \"%s$(dirname $f)\"; cp \"%s$f\" \"%s$f\"; done",
		 root2, exe, root2, S.root, root2);
	assert_int_equal(run_sh(cmd), 0);
}

static void test_changed_library(void **state)
{
	(void)state;
	NEED_DUMP();
	mg_image *img = open_ok(S.img, S.root);
	char exe[256];
	snprintf(exe, sizeof(exe), "%s", img->exe);
	mg_image_free(img);

	char root2[256], libc[320], cmd[800];
	snprintf(root2, sizeof(root2), "%s/root2", S.tmp);
	make_root_copy(root2, exe);
	/* Identical copies: the dump opens against this root. */
	img = open_ok(S.img, root2);
	mg_image_free(img);

	/* A libc of another size. */
	snprintf(libc, sizeof(libc), "%s/usr/lib/x86_64-linux-gnu/libc.so.6", root2);
	snprintf(cmd, sizeof(cmd), "printf 'x' >> '%s'", libc);
	assert_int_equal(run_sh(cmd), 0);
	expect_io_error(S.img, root2, "libc.so.6");

	/* Same size, another build-id: flip one byte of the GNU build-id note. */
	make_root_copy(root2, exe);
	size_t len;
	uint8_t *data;
	mg_error rerr = { 0 };
	assert_int_equal(mg_criu_read_file(libc, &data, &len, &rerr), 0);   /* binary-safe */
	static const char note[] = "\x04\0\0\0\x14\0\0\0\x03\0\0\0GNU";
	uint8_t *hit = memmem(data, len, note, sizeof(note));
	assert_non_null(hit);
	off_t at = (off_t)(hit - data) + (off_t)sizeof(note);
	free(data);
	int fd = open(libc, O_RDWR);
	assert_true(fd >= 0);
	unsigned char b;
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0xff;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
	expect_io_error(S.img, root2, "libc.so.6");

	/* The library is missing altogether. */
	assert_int_equal(unlink(libc), 0);
	expect_io_error(S.img, root2, "libc.so.6");
}

static void test_not_a_dump(void **state)
{
	(void)state;
	mg_error err = { 0 };
	mg_image *img = NULL;
	assert_int_equal(mg_criu_open("/nonexistent-criu-dir", "/", &img, &err), -1);
	assert_int_equal(err.code, MG_ERR_IO);
	assert_non_null(strstr(err.msg, "/nonexistent-criu-dir"));
	mg_error_clear(&err);
	/* A directory without images. */
	assert_int_equal(mg_criu_open("tests", "/", &img, &err), -1);
	assert_int_equal(err.code, MG_ERR_IO);
	assert_non_null(strstr(err.msg, "inventory.img"));
}

static void test_framing_in_memory(void **state)
{
	(void)state;
	mg_error err = { 0 };
	/* pstree image: common magic, PSTREE magic, one message {pid=5, ppid=0,
	 * pgid=5, sid=5, threads=[5]}. */
	uint8_t img[] = { 0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50,
			  10, 0, 0, 0, 0x08, 5, 0x10, 0, 0x18, 5, 0x20, 5, 0x28, 5 };
	assert_int_equal(mg_criu_parse_image_mem("t.img", img, sizeof(img), &err), 1);
	/* Length announcing more than is there. */
	img[8] = 11;
	assert_int_equal(mg_criu_parse_image_mem("t.img", img, sizeof(img), &err), -1);
	assert_int_equal(err.code, MG_ERR_IO);
	assert_non_null(strstr(err.msg, "truncated"));
	/* A message missing a required field (sid). */
	mg_error_clear(&err);
	uint8_t bad[] = { 0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50,
			  6, 0, 0, 0, 0x08, 5, 0x10, 0, 0x18, 5 };
	assert_int_equal(mg_criu_parse_image_mem("t.img", bad, sizeof(bad), &err), -1);
	assert_non_null(strstr(err.msg, "malformed"));
	/* Huge length. */
	mg_error_clear(&err);
	uint8_t huge[] = { 0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50, 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(mg_criu_parse_image_mem("t.img", huge, sizeof(huge), &err), -1);
	assert_non_null(strstr(err.msg, "limit"));
}

/* --- the CLI ---------------------------------------------------------------- */

static json_object *parse_json(const char *text)
{
	json_object *j = json_tokener_parse(text ? text : "");
	if (j == NULL)
		fail_msg("not JSON: %.300s", text ? text : "(null)");
	return j;
}

/* Feature names of a JSON array into a set. */
static void names_to_set(json_object *arr, const char *what, mg_feature_set *out);

/*
 * What the code and state present in a scan need: its required features
 * without those only code generators add (a JIT's code not generated
 * yet, bounded by the source CPU, which differs between a live scan
 * (this host) and a dump (its cpuinfo.img)).
 */
static void present_set(json_object *scan, const char *what, mg_feature_set *out)
{
	mg_feature_set generated;
	names_to_set(tu_json_get(scan, "required_features"), what, out);
	names_to_set(tu_json_get(scan, "generated_features"), what, &generated);
	mg_fset_subtract(out, &generated);
}

static void names_to_set(json_object *arr, const char *what, mg_feature_set *out)
{
	mg_fset_clear(out);
	if (!json_object_is_type(arr, json_type_array))
		fail_msg("%s: not an array", what);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(arr, i));
		mg_feature_id id = mg_feature_by_name(n);
		if (id == MG_FEATURE_NONE)
			fail_msg("%s: unknown feature %s", what, n);
		mg_fset_add(out, id);
	}
}

static double stat_of(json_object *root, const char *key)
{
	json_object *st, *v;
	if (!json_object_object_get_ex(root, "stats", &st) || !json_object_object_get_ex(st, key, &v))
		return -1;
	return json_object_get_double(v);
}

/* Save `migratable host --json` once (the targets of the check tests). */
static const char *host_json(void)
{
	static char path[128];
	if (path[0])
		return path;
	snprintf(path, sizeof(path), "%s/host.json", S.tmp);
	assert_int_equal(tu_migratable(NULL, NULL, "host", "--json", "--output", path, NULL), 0);
	return path;
}

/*
 * `catalog build` over a fleet directory holding the dump's real
 * cpuinfo.img (where `criu cpuinfo dump -D fleet/NAME` leaves it, named
 * NAME) and a `host --json` profile: the catalog gives the verdicts of the
 * files themselves.
 */
static void test_catalog_build_cpuinfo(void **state)
{
	(void)state;
	NEED_DUMP();
	char fleet[200], cmd[1024], cat[256], img[256];
	snprintf(fleet, sizeof(fleet), "%s/fleet", S.tmp);
	snprintf(img, sizeof(img), "%s/dumped-host/cpuinfo.img", fleet);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/dumped-host && cp %s/cpuinfo.img %s && cp %s %s/",
		 fleet, S.img, img, host_json(), fleet);
	assert_int_equal(run_sh(cmd), 0);
	snprintf(cat, sizeof(cat), "%s/fleet-catalog.json", S.tmp);
	char *out = NULL, *err = NULL;
	int rc = tu_migratable(&out, &err, "catalog", "build", fleet, "-o", cat, NULL);
	if (rc != 0)
		fail_msg("catalog build: %d: %s", rc, err);
	assert_non_null(strstr(out, "2 targets"));
	free(out);
	free(err);

	const char *req = "tests/data/verdict/req-avx2-popcnt.json";
	char *a = NULL, *b = NULL;
	rc = tu_migratable(&a, NULL, "check", "--requirements", req, "--catalog", cat, "--json", NULL);
	assert_true(rc == 0 || rc == 1);
	rc = tu_migratable(&b, NULL, "check", "--requirements", req, "--target", img, "--target",
			   host_json(), "--json", NULL);
	assert_true(rc == 0 || rc == 1);
	json_object *ja = json_tokener_parse(a), *jb = json_tokener_parse(b);
	assert_non_null(ja);
	assert_non_null(jb);
	json_object *ta = tu_json_get(ja, "targets"), *tb = tu_json_get(jb, "targets");
	assert_int_equal(json_object_array_length(ta), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *t = json_object_array_get_idx(tb, i), *match = NULL;
		const char *name = json_object_get_string(tu_json_get(t, "name"));
		if (strcmp(name, img) == 0)
			name = "dumped-host";         /* the catalog names it after its directory */
		for (size_t k = 0; k < 2; k++) {
			json_object *u = json_object_array_get_idx(ta, k);
			if (strcmp(json_object_get_string(tu_json_get(u, "name")), name) == 0)
				match = u;
		}
		if (match == NULL)
			fail_msg("catalog lacks %s", name);
		assert_string_equal(json_object_get_string(tu_json_get(match, "verdict")),
				    json_object_get_string(tu_json_get(t, "verdict")));
		assert_string_equal(json_object_to_json_string(tu_json_get(match, "unknown")),
				    json_object_to_json_string(tu_json_get(t, "unknown")));
		assert_string_equal(json_object_to_json_string(tu_json_get(match, "missing")),
				    json_object_to_json_string(tu_json_get(t, "missing")));
	}
	json_object_put(ja);
	json_object_put(jb);
	free(a);
	free(b);
}

/* --- live scan vs scan of the dump --------------------------------------------- */

/*
 * The dump's requirements must be the live scan's, exactly: the same
 * process, scanned live a few milliseconds before CRIU froze it.
 */
static void compare_live_dump(const char *label, const char *live_path, const char *dump_path,
			      double dump_cmd_ms)
{
	json_object *live = tu_load_json(live_path), *dump = tu_load_json(dump_path);
	mg_feature_set a, b;
	present_set(live, live_path, &a);
	present_set(dump, dump_path, &b);
	printf("%s: live %zu features, %.0f functions, %.1f ms; dump %zu features, %.0f functions, "
	       "%.1f ms (command %.0f ms)\n", label, mg_fset_count(&a), stat_of(live, "functions_reachable"),
	       stat_of(live, "wall_ms"), mg_fset_count(&b), stat_of(dump, "functions_reachable"),
	       stat_of(dump, "wall_ms"), dump_cmd_ms);
	if (!mg_fset_equal(&a, &b)) {
		mg_feature_set only_live = a, only_dump = b;
		mg_fset_subtract(&only_live, &b);
		mg_fset_subtract(&only_dump, &a);
		char *x = mg_fset_to_string(&only_live), *y = mg_fset_to_string(&only_dump);
		fail_msg("%s: required_features differ: live only [%s], dump only [%s]", label,
			 x ? x : "?", y ? y : "?");
	}
	json_object_put(live);
	json_object_put(dump);
}

static void scan_dump(const char *img, const char *out_json, double *ms)
{
	char *err = NULL;
	double t0 = tu_now_ms();
	int rc = tu_migratable(NULL, &err, "scan", "--criu-dir", img, "--root", S.root, "--json",
		     "--output", out_json, NULL);
	*ms = tu_now_ms() - t0;
	if (rc != 0)
		fail_msg("scan --criu-dir %s: exit %d: %s", img, rc, err ? err : "");
	free(err);
}

typedef struct wl_spec {
	const char *label;
	char bin[512];
	char lib[2][512];    /* copied next to the binary ($ORIGIN), "" if none */
	char env[600];       /* NAME=VALUE for the workload, "" if none */
	const char *args[6]; /* arguments for the workload, up to a NULL */
} wl_spec;

/* Dump w into S.tmp/LABEL after a live scan (LABEL/live.json) and restore
 * it; skips when the workload does not run inside the root. */
static char *dump_live(const wl_spec *w, char *outdir, size_t cap)
{
	char before[1200];
	snprintf(outdir, cap, "%s/%s", S.tmp, w->label);
	snprintf(before, sizeof(before), "'%s' scan {pid} --json --output '%s/live.json'",
		 tu_migratable_bin(), outdir);
	char *argv[24];
	int n = 0;
	argv[n++] = "tests/criu/dump-workload.sh";
	argv[n++] = "--root";
	argv[n++] = S.root;
	argv[n++] = "--before-dump";
	argv[n++] = before;
	for (int i = 0; i < 2; i++)
		if (w->lib[i][0]) {
			argv[n++] = "--lib";
			argv[n++] = (char *)w->lib[i];
		}
	if (w->env[0]) {
		argv[n++] = "--env";
		argv[n++] = (char *)w->env;
	}
	argv[n++] = (char *)w->bin;
	argv[n++] = outdir;
	if (w->args[0] != NULL)
		argv[n++] = "--";
	for (int i = 0; i < 6 && w->args[i] != NULL; i++)
		argv[n++] = (char *)w->args[i];
	argv[n] = NULL;
	char *result = NULL, *e = NULL;
	int rc = tu_run(argv, &result, &e);
	if (rc != 0) {
		fail_msg("dump-workload.sh %s: exit %d: %s", w->label, rc, e ? e : "");
	}
	free(e);
	return result;
}

static void live_vs_dump(const wl_spec *w, char *outdir, size_t cap)
{
	char img[600], live[600], dump[600], buf[32];
	char *result = dump_live(w, outdir, cap);
	snprintf(img, sizeof(img), "%s/img", outdir);
	snprintf(live, sizeof(live), "%s/live.json", outdir);
	snprintf(dump, sizeof(dump), "%s/dump.json", outdir);
	double ms;
	scan_dump(img, dump, &ms);
	compare_live_dump(w->label, live, dump, ms);
	assert_non_null(kv(result, "restored", buf, sizeof(buf)));
	assert_string_equal(buf, "yes");
	printf("%s: criu dump %s ms, ", w->label, kv(result, "dump_ms", buf, sizeof(buf)));
	printf("restore %s ms; the restored process runs\n", kv(result, "restore_ms", buf, sizeof(buf)));
	free(result);
}

static void test_live_vs_dump_criu_basic(void **state)
{
	(void)state;
	NEED_DUMP();
	char dump[256];
	double ms;
	snprintf(dump, sizeof(dump), "%s/dump.json", S.tmp);
	scan_dump(S.img, dump, &ms);
	compare_live_dump("wl_criu_basic", S.live_json, dump, ms);
}

static void test_live_vs_dump_demo(void **state)
{
	(void)state;
	NEED_DUMP();
	wl_spec w = { .label = "wl_demo" };
	char out[256];
	snprintf(w.bin, sizeof(w.bin), "%s", tu_workload_path("wl_demo"));
	live_vs_dump(&w, out, sizeof(out));
}

static void expect_dump_explain(const char *img, const char *feature, const char *n1,
				const char *n2)
{
	char *out = NULL;
	assert_int_equal(tu_migratable(&out, NULL, "scan", "--criu-dir", img, "--root", S.root,
			     "--explain", feature, NULL), 0);
	if (!strstr(out, n1) || !strstr(out, n2))
		fail_msg("dump --explain %s lacks '%s' / '%s':\n%s", feature, n1, n2, out);
	free(out);
}

/* How --explain shows each kind of wl_scan_targets reached, by marker. */
static void expect_kind_explained(const char *img, enum tu_mark_kind k, const char *f)
{
	char fn[96];
	switch (k) {
	case TU_MARK_HEAP:
		snprintf(fn, sizeof(fn), "heap_%s", f);
		expect_dump_explain(img, f, fn, "[heap]");
		break;
	case TU_MARK_SIGNAL:
		snprintf(fn, sizeof(fn), "sig_%s", f);
		expect_dump_explain(img, f, fn, "handler of signal 10");
		break;
	case TU_MARK_PLT:
		expect_dump_explain(img, f, "wlplt_mark", "lazy PLT binding");
		break;
	case TU_MARK_JIT:
		expect_dump_explain(img, f, "jit@", "anonymous executable memory");
		break;
	default:
		break;
	}
}

/* One process of the marker plan, dumped: every kind it is marked with
 * is seen in the dump as in the live scan. */
static void dump_scan_targets(const tu_marked *m, size_t index)
{
	char label[64], args[TU_ARGV_BUF], env[TU_ENV_BUF], *argv[8];
	snprintf(label, sizeof(label), "wl_scan_targets-%zu", index);
	wl_spec w = { .label = label };
	tu_scan_targets_argv(m, argv, args, env);
	snprintf(w.bin, sizeof(w.bin), "%s", argv[0]);
	for (int i = 1; argv[i] && i < 6; i++)
		w.args[i - 1] = argv[i];
	/* The chosen libraries, copied beside the binary, where its $ORIGIN
	 * run path and its own fallback find them. */
	snprintf(w.lib[0], sizeof(w.lib[0]), "%s", tu_mark_lib(TU_MARK_PLT, m->feature[TU_MARK_PLT]));
	snprintf(w.lib[1], sizeof(w.lib[1]), "%s", tu_mark_lib(TU_MARK_VCALL, m->feature[TU_MARK_VCALL]));
	char out[256], img[300], dump[300];
	live_vs_dump(&w, out, sizeof(out));

	snprintf(img, sizeof(img), "%s/img", out);
	snprintf(dump, sizeof(dump), "%s/dump.json", out);
	json_object *root = tu_load_json(dump);
	mg_feature_set req;
	names_to_set(tu_json_get(root, "required_features"), dump, &req);
	json_object_put(root);
	for (int k = 0; k < TU_MARK_KINDS; k++) {
		const char *f = m->feature[k];
		if (f == NULL)
			continue;
		if (k == TU_MARK_UNREF) {
			assert_false(mg_fset_has(&req, tu_feature(f)));
			continue;
		}
		if (!mg_fset_has(&req, tu_feature(f)))
			fail_msg("the dump's reachable scan misses %s (%s)", f, tu_mark_kind_name(k));
		expect_kind_explained(img, (enum tu_mark_kind)k, f);
	}
}

/* Every way code is reached is seen in the dump too (wl_scan_targets:
 * heap, thread, signal handler in core-*.img, vtable, lazy PLT slot, JIT
 * code in anonymous pages of pages-*.img), with this CPU's markers. */
static void test_live_vs_dump_scan_targets(void **state)
{
	(void)state;
	NEED_DUMP();
	tu_mark_plan plan;
	tu_plan_scan_targets(&plan);
	for (size_t p = 0; p < plan.nprocs; p++)
		dump_scan_targets(&plan.procs[p], p);
}

static void corpus_case(const char *name)
{
	const char *dir = tu_corpus_dir();
	if (dir == NULL)
		fail_msg("the corpus is not built (make test-bins builds it)");
	wl_spec w = { .label = name };
	char out[256];
	snprintf(w.bin, sizeof(w.bin), "%s/%s", dir, name);
	if (strncmp(name, "corpus_c_", 9) == 0) {
		/* The plugin it dlopen()s lives next to it in the root. */
		snprintf(w.lib[0], sizeof(w.lib[0]), "%s/corpus_plugin.so", dir);
		snprintf(w.env, sizeof(w.env), "PLUGIN={dir}/corpus_plugin.so");
	}
	live_vs_dump(&w, out, sizeof(out));
}

static void test_live_vs_dump_corpus_c_lazy(void **state)
{
	(void)state;
	NEED_DUMP();
	corpus_case("corpus_c_lazy");
}

static void test_live_vs_dump_corpus_c_now(void **state)
{
	(void)state;
	NEED_DUMP();
	corpus_case("corpus_c_now");
}

static void test_live_vs_dump_corpus_cxx(void **state)
{
	(void)state;
	NEED_DUMP();
	corpus_case("corpus_cxx");
}

/* --- memfd mappings ------------------------------------------------------------ */

/* The first warning of a scan's JSON that holds needle, or NULL. */
static const char *find_warning(json_object *scan, const char *needle)
{
	json_object *ws = tu_json_get(scan, "warnings");
	for (size_t i = 0; i < json_object_array_length(ws); i++) {
		const char *w = json_object_get_string(json_object_array_get_idx(ws, i));
		if (w != NULL && strstr(w, needle) != NULL)
			return w;
	}
	return NULL;
}

/* reached_via of the evidence for feature in a scan's JSON, or NULL. */
static const char *reached_via(json_object *scan, const char *feature, uint64_t *addr)
{
	json_object *ev = tu_json_get(scan, "evidence");
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		if (strcmp(json_object_get_string(tu_json_get(e, "feature")), feature) != 0)
			continue;
		*addr = strtoull(json_object_get_string(tu_json_get(e, "address")), NULL, 0);
		return json_object_get_string(tu_json_get(e, "reached_via"));
	}
	return NULL;
}

/* The memfd mapping of the dump holding addr: kept (kind OTHER). */
static const mg_mapping *memfd_mapping(mg_image *img, uint64_t addr, unsigned prot,
				       bool shared)
{
	const mg_mapping *m = mg_image_find_mapping(img, addr);
	if (m == NULL)
		fail_msg("no mapping at 0x%" PRIx64 " in the dump", addr);
	assert_int_equal(m->kind, MG_MAP_OTHER);
	assert_int_equal(m->shared, shared);
	assert_int_equal(m->prot, prot);
	return m;
}

/* Scan the dump into LABEL/NAME.json; its required features in *set. */
static json_object *scan_dump_set(const char *out, const char *img_dir, const char *name,
				  mg_feature_set *set, double *ms)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s.json", out, name);
	scan_dump(img_dir, path, ms);               /* exit 0, else it fails */
	json_object *j = tu_load_json(path);
	present_set(j, path, set);
	return j;
}

/* Fail unless a equals b (feature sets of two scans). */
static void expect_same_features(const char *label, const mg_feature_set *a,
				 const mg_feature_set *b)
{
	mg_feature_set x = *a, y = *b;
	mg_fset_subtract(&x, b);
	mg_fset_subtract(&y, a);
	if (!mg_fset_is_empty(&x) || !mg_fset_is_empty(&y)) {
		char *xs = mg_fset_to_string(&x), *ys = mg_fset_to_string(&y);
		fail_msg("%s: live only [%s], dump only [%s]", label, xs ? xs : "?", ys ? ys : "?");
	}
}

/* Remove the dump's pagemap-shmem images: the memfd's pages are gone. */
static void drop_shmem_pages(const char *img_dir)
{
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/pagemap-shmem-*.img", img_dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * The scan `gone` of a dump whose shmem images were deleted: it warns
 * (needle names the unreadable data) and widens: every function at least
 * as reachable as in the full dump, and with unreadable code (code != 0)
 * every feature of the source CPU.
 */
static void expect_widened(const char *label, const char *img_dir, json_object *gone,
			   double dump_functions, const mg_feature_set *lf,
			   const mg_feature_set *gf, const char *needle_data, uint64_t code)
{
	char needle[96];
	snprintf(needle, sizeof(needle), "%s", needle_data);
	const char *warned = find_warning(gone, needle);
	if (warned == NULL || strstr(warned, "every function is treated as reachable") == NULL)
		fail_msg("%s: no widening warning \"%s...\": %s", label, needle,
			 json_object_to_json_string(tu_json_get(gone, "warnings")));
	assert_true(mg_fset_is_subset(lf, gf));
	assert_true(stat_of(gone, "functions_reachable") >= dump_functions);
	if (code != 0) {
		snprintf(needle, sizeof(needle), "code at 0x%" PRIx64 "-0x%" PRIx64 " unreadable", code,
			 code + 4096);
		if (find_warning(gone, needle) == NULL)
			fail_msg("%s: no warning \"%s\": %s", label, needle,
				 json_object_to_json_string(tu_json_get(gone, "warnings")));
		char ci_path[700];
		mg_profile src;
		mg_error err = { 0 };
		snprintf(ci_path, sizeof(ci_path), "%s/cpuinfo.img", img_dir);
		if (mg_criu_cpuinfo_load(ci_path, &src, &err) != 0)
			fail_msg("%s", err.msg);
		mg_fset_remove(&src.features, mg_feature_by_name("shstk"));   /* no shadow stack */
		assert_true(mg_fset_is_subset(&src.features, gf));
		mg_profile_free(&src);
	}
}

/* wl_memfd's markers on this CPU: the pointed function's and the code's,
 * free in the unmarked workload (chosen once). */
static const char *memfd_marks[2];

static void choose_memfd_marks(void)
{
	if (memfd_marks[0] != NULL)
		return;
	/* Without the code page, which widens to what a code generator could
	 * write (analysis/jit.c). */
	char *plain[] = { (char *)tu_workload_path("wl_memfd"), "data", NULL };
	mg_feature_set base;
	tu_baseline_features(plain, NULL, NULL, &base);
	size_t n = tu_pick_markers(&base, memfd_marks, 2);
	if (n == 0)
		fail_msg("no marker this CPU runs is free in wl_memfd");
	if (n == 1)
		memfd_marks[1] = memfd_marks[0];
}

/*
 * wl_memfd keeps the only pointer to its marker function memfd_F in a
 * memfd it maps MAP_SHARED (and, with "exec", code: the marker
 * instruction of G, in a second, executable mapping of it).  CRIU 4.1
 * keeps a memfd's pages in pagemap-shmem-<shmid>.img (files.img memfd
 * entry -> memfd.img -> shmid), indexed by offset in the memfd.  The
 * reader follows that chain, so the scan of the dump must equal the live
 * scan just before it, both reaching memfd_F through the memfd (it was
 * refused once, then widened, before the chain was read).
 * Without those images the dump must still never shrink: unreadable data
 * makes every function reachable, unreadable code every feature of the
 * source CPU, each with a warning naming the range.
 */
static void memfd_case(const char *label, const char *arg)
{
	bool exec = arg != NULL && strcmp(arg, "exec") == 0;
	bool ro = arg != NULL && strcmp(arg, "ro") == 0;
	bool priv = arg != NULL && strcmp(arg, "private") == 0;
	char mark[64], codemark[64];
	choose_memfd_marks();
	snprintf(mark, sizeof(mark), "mark=%s", memfd_marks[0]);
	snprintf(codemark, sizeof(codemark), "code=%s", memfd_marks[1]);
	wl_spec w = { .label = label, .args = { arg ? arg : "data", mark, codemark } };
	char out[256], path[600], img_dir[600], live_path[600], buf[32], needle[96];
	char codehex[80] = "";
	snprintf(w.bin, sizeof(w.bin), "%s", tu_workload_path("wl_memfd"));
	char *result = dump_live(&w, out, sizeof(out));
	assert_non_null(kv(result, "restored", buf, sizeof(buf)));
	assert_string_equal(buf, "yes");
	snprintf(path, sizeof(path), "%s/run/wl.out", out);
	char *wl_out = tu_read_file(path, NULL);
	assert_non_null(wl_out);
	uint64_t data = kv_u64(wl_out, "data"), code = kv_u64(wl_out, "code");
	uint64_t target = kv_u64(wl_out, "target");
	assert_true(data != 0 && target != 0);
	assert_int_equal(code != 0, exec);
	if (exec)
		assert_non_null(kv(wl_out, "codebytes", codehex, sizeof(codehex)));
	free(wl_out);

	/* The reader reads the memfd: its first word is memfd_F's address. */
	snprintf(img_dir, sizeof(img_dir), "%s/img", out);
	mg_image *img = open_ok(img_dir, S.root);
	const mg_mapping *dm = memfd_mapping(img, data, ro ? MG_PROT_READ
							      : MG_PROT_READ | MG_PROT_WRITE, !priv);
	uint64_t word = 0;
	assert_int_equal(mg_image_read(img, data, &word, sizeof(word)), (ssize_t)sizeof(word));
	assert_int_equal(word, target);
	uint8_t page[4096];
	assert_int_equal(mg_image_read(img, dm->start, page, sizeof(page)), (ssize_t)sizeof(page));
	if (exec) {
		/* ... and its code page holds what the workload wrote there. */
		memfd_mapping(img, code, MG_PROT_READ | MG_PROT_EXEC, true);
		size_t len = strlen(codehex) / 2;
		assert_true(len > 0);
		assert_int_equal(mg_image_read(img, code, page, len), (ssize_t)len);
		for (size_t i = 0; i < len; i++) {
			unsigned byte;
			assert_int_equal(sscanf(codehex + 2 * i, "%2x", &byte), 1);
			assert_int_equal(page[i], byte);
		}
	}
	mg_image_free(img);

	double ms, ms_gone;
	snprintf(live_path, sizeof(live_path), "%s/live.json", out);
	json_object *live = tu_load_json(live_path);
	mg_feature_set lf, df, gf;
	present_set(live, live_path, &lf);
	json_object *dump = scan_dump_set(out, img_dir, "dump", &df, &ms);

	/* Live and dump: the same features, memfd_F reached through the
	 * memfd in both, G's instruction seen in its executable mapping. */
	expect_same_features(label, &lf, &df);
	json_object *scans[2] = { live, dump };
	for (int i = 0; i < 2; i++) {
		uint64_t at;
		const char *via;
		snprintf(needle, sizeof(needle), " at 0x%" PRIx64 ") -> memfd_%s", data,
			 memfd_marks[0]);
		if ((via = reached_via(scans[i], memfd_marks[0], &at)) == NULL || !strstr(via, needle))
			fail_msg("%s: the %s scan does not reach memfd_%s%s: %s", label,
				 i ? "dump" : "live", memfd_marks[0], needle, via ? via : "not required");
		if (exec && memfd_marks[1] != memfd_marks[0] &&
		    (reached_via(scans[i], memfd_marks[1], &at) == NULL || at != code))
			fail_msg("%s: the %s scan does not see %s's instruction at 0x%" PRIx64, label,
				 i ? "dump" : "live", memfd_marks[1], code);
	}
	if (find_warning(dump, "unreadable") != NULL)
		fail_msg("%s: %s", label, find_warning(dump, "unreadable"));

	/* Without the memfd's pages: widened, and said; except for a private
	 * mapping, whose written page is the task's own (pagemap-<pid>.img). */
	drop_shmem_pages(img_dir);
	json_object *gone = scan_dump_set(out, img_dir, "dump-without-shmem", &gf, &ms_gone);
	snprintf(needle, sizeof(needle), "memory at 0x%" PRIx64 "-", data);
	if (priv) {
		expect_same_features(label, &lf, &gf);
		if (find_warning(gone, needle) != NULL)
			fail_msg("%s: %s", label, find_warning(gone, needle));
	} else {
		expect_widened(label, img_dir, gone, stat_of(dump, "functions_reachable"), &lf, &gf,
			       needle, exec ? code : 0);
	}
	printf("%s: live %zu features, dump %zu (%.0f functions), without the shmem pages %zu "
	       "(%.0f functions); criu dump %s ms, ", label, mg_fset_count(&lf),
	       mg_fset_count(&df), stat_of(dump, "functions_reachable"), mg_fset_count(&gf),
	       stat_of(gone, "functions_reachable"), kv(result, "dump_ms", buf, sizeof(buf)));
	printf("restore %s ms, scan of the dump %.0f ms\n", kv(result, "restore_ms", buf, sizeof(buf)),
	       ms);
	json_object_put(live);
	json_object_put(dump);
	json_object_put(gone);
	free(result);
}

static void test_memfd_data(void **state)
{
	(void)state;
	NEED_DUMP();
	memfd_case("wl_memfd", NULL);
}

static void test_memfd_exec(void **state)
{
	(void)state;
	NEED_DUMP();
	memfd_case("wl_memfd_exec", "exec");
}

/* A read-only memfd page is still the process's data, not a file's: the
 * live scan must read it (it skipped it as a data file once). */
static void test_memfd_readonly(void **state)
{
	(void)state;
	NEED_DUMP();
	memfd_case("wl_memfd_ro", "ro");
}

/* A MAP_PRIVATE memfd mapping: the page the process wrote is its own copy,
 * in the task's pagemap, not in the memfd's shmem image (a reader that
 * looked only there lost the marker function silently). */
static void test_memfd_private(void **state)
{
	(void)state;
	NEED_DUMP();
	memfd_case("wl_memfd_private", "private");
}

/*
 * A shared writable two-page mapping of a 100-byte file: the file ends
 * inside the first page, the second lies past it.  The kernel shows
 * zeroes after the end and SIGBUS beyond that page; the dump has no copy
 * of the pages (they are the file's).  Neither the live scan (whose read
 * of the second page fails) nor the dump's reader may call that memory
 * "unreadable", which widens to every function.
 */
static void test_file_ends_mid_page(void **state)
{
	(void)state;
	NEED_DUMP();
	char dir[300], data[400], out[256], live_path[600], img_dir[600], buf[32];
	snprintf(dir, sizeof(dir), "%s/eof-lib", S.tmp);
	assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	snprintf(data, sizeof(data), "%s/data.bin", dir);
	FILE *f = fopen(data, "w");
	assert_non_null(f);
	for (int i = 0; i < 100; i++)
		assert_int_not_equal(fputc('x', f), EOF);
	assert_int_equal(fclose(f), 0);

	wl_spec w = { .label = "wl_memfd_eof", .args = { "eof" } };
	snprintf(w.bin, sizeof(w.bin), "%s", tu_workload_path("wl_memfd"));
	snprintf(w.lib[0], sizeof(w.lib[0]), "%s", data);
	char *result = dump_live(&w, out, sizeof(out));
	snprintf(live_path, sizeof(live_path), "%s/live.json", out);
	snprintf(img_dir, sizeof(img_dir), "%s/img", out);
	json_object *live = tu_load_json(live_path);
	mg_feature_set lf, df;
	double ms;
	present_set(live, live_path, &lf);
	json_object *dump = scan_dump_set(out, img_dir, "dump", &df, &ms);
	if (find_warning(dump, "unreadable") != NULL)
		fail_msg("wl_memfd_eof: dump: %s", find_warning(dump, "unreadable"));
	if (find_warning(live, "unreadable") != NULL)
		fail_msg("wl_memfd_eof: live: %s", find_warning(live, "unreadable"));
	expect_same_features("wl_memfd_eof", &lf, &df);
	assert_true(stat_of(dump, "functions_reachable") == stat_of(live, "functions_reachable"));
	printf("wl_memfd_eof: live and dump %zu features, %.0f functions; criu dump %s ms\n",
	       mg_fset_count(&df), stat_of(dump, "functions_reachable"),
	       kv(result, "dump_ms", buf, sizeof(buf)));
	json_object_put(live);
	json_object_put(dump);
	free(result);
}

/* Shared anonymous memory ("/dev/zero (deleted)", a shmem file): CRIU 4.1
 * records its VMA as a memfd's (status MEMFD, a files.img MEMFD entry), so
 * it is read through the same chain. */
static void test_shared_anonymous(void **state)
{
	(void)state;
	NEED_DUMP();
	memfd_case("wl_memfd_anon", "anon");
}

/*
 * A dump of a process tree (what a container's dump is): wl_criu_tree's
 * child alone reaches its marker (a feature this CPU has), its parent is the dump's root task, and a
 * zombie sibling has no memory.  The dump must need the marker (restoring
 * runs the child too), the parent alone must not, and the zombie is
 * skipped with a warning.  (Once only the root task was analysed.)
 */
static void test_dump_of_a_tree(void **state)
{
	(void)state;
	NEED_DUMP();
	char arg[64];
	char *plain[] = { (char *)tu_workload_path("wl_criu_tree"), NULL };
	const char *mark = tu_spare_marker(plain, "--tree");
	snprintf(arg, sizeof(arg), "mark=%s", mark);
	wl_spec w = { .label = "wl_criu_tree", .args = { arg } };
	snprintf(w.bin, sizeof(w.bin), "%s", plain[0]);
	char out[256], live_path[600], img_dir[600], buf[32];
	char *result = dump_live(&w, out, sizeof(out));
	snprintf(live_path, sizeof(live_path), "%s/live.json", out);
	snprintf(img_dir, sizeof(img_dir), "%s/img", out);

	mg_feature_set live, dump, root, child;
	json_object *lj = tu_load_json(live_path);       /* the parent, live */
	present_set(lj, live_path, &live);
	assert_false(mg_fset_has(&live, tu_feature(mark)));
	double ms;
	json_object *dj = scan_dump_set(out, img_dir, "dump", &dump, &ms);
	if (!mg_fset_has(&dump, tu_feature(mark)))
		fail_msg("the dump's child needs %s; the dump's answer lacks it", mark);
	json_object *procs = tu_json_get(dj, "processes");
	assert_int_equal(json_object_array_length(procs), 2);       /* the zombie is not one */
	json_object *p0 = json_object_array_get_idx(procs, 0), *p1 = json_object_array_get_idx(procs, 1);
	assert_int_equal(json_object_get_int64(tu_json_get(p0, "pid")), kv_u64(result, "nspid"));
	names_to_set(tu_json_get(p0, "required_features"), "processes[0]", &root);
	names_to_set(tu_json_get(p1, "required_features"), "processes[1]", &child);
	assert_false(mg_fset_has(&root, tu_feature(mark)));
	assert_true(mg_fset_has(&child, tu_feature(mark)));
	expect_same_features("wl_criu_tree root task", &live, &root);
	if (find_warning(dj, "1 zombie") == NULL)
		fail_msg("no warning about the zombie: %s", json_object_to_json_string(tu_json_get(dj, "warnings")));

	/* check --criu-dir answers for the whole tree, too. */
	char nosha[700];
	snprintf(nosha, sizeof(nosha), "%s/nosha.json", out);
	FILE *f = fopen(nosha, "w");
	assert_non_null(f);
	fprintf(f, "{\"name\": \"host without %s\", \"features\": [", mark);
	bool first = true;
	mg_feature_set hf = dump;
	mg_fset_remove(&hf, tu_feature(mark));
	for (mg_feature_id id = mg_fset_next(&hf, -1); id >= 0; id = mg_fset_next(&hf, id)) {
		fprintf(f, "%s\"%s\"", first ? "" : ", ", mg_feature_get(id)->name);
		first = false;
	}
	fprintf(f, "]}\n");
	assert_int_equal(fclose(f), 0);
	char *cout = NULL;
	int rc = tu_migratable(&cout, NULL, "check", "--criu-dir", img_dir, "--root", S.root,
			       "--target", nosha, NULL);
	assert_int_equal(rc, 1);
	char missing[64];
	snprintf(missing, sizeof(missing), "missing: %s", mark);
	if (strstr(cout, missing) == NULL)
		fail_msg("check --criu-dir does not say '%s':\n%s", missing, cout);
	free(cout);
	printf("wl_criu_tree: 2 processes and a zombie; dump %zu features (root %zu, child %zu), "
	       "scan %.0f ms; criu dump %s ms\n", mg_fset_count(&dump), mg_fset_count(&root),
	       mg_fset_count(&child), ms, kv(result, "dump_ms", buf, sizeof(buf)));
	json_object_put(lj);
	json_object_put(dj);
	free(result);
}

/* --- check --criu-dir ------------------------------------------------------------ */

static void test_check_criu_dir(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *host = host_json();
	char *out = NULL, *err = NULL;

	/* The dump's own CPU (this host) takes it. */
	int rc = tu_migratable(&out, &err, "check", "--criu-dir", S.img, "--root", S.root, "--target", host, NULL);
	if (rc != 0)
		fail_msg("check --criu-dir: exit %d\n%s%s", rc, out, err);
	assert_non_null(strstr(out, "source: criu:"));
	assert_non_null(strstr(out, "1 targets: 1 compatible, 0 incompatible, 0 unknown"));
	free(out);
	free(err);

	/* A target lacking one required feature the psABI baseline does not
	 * imply: incompatible, that feature missing. */
	char dump[256], target[256];
	double ms;
	snprintf(dump, sizeof(dump), "%s/check-req.json", S.tmp);
	scan_dump(S.img, dump, &ms);
	json_object *req = tu_load_json(dump);
	mg_feature_set rs, v1;
	names_to_set(tu_json_get(req, "required_features"), dump, &rs);
	json_object_put(req);
	assert_true(mg_x86_64_level_features(1, &v1));
	mg_feature_set extra = rs;
	mg_fset_subtract(&extra, &v1);
	mg_feature_id drop = mg_fset_next(&extra, -1);
	if (drop < 0) {
		printf("skip part: every requirement is x86-64-v1 on this CPU\n");
		return;
	}
	const char *dropped = mg_feature_get(drop)->name;
	mg_fset_remove(&rs, drop);
	char *names = mg_fset_to_string(&rs);
	assert_non_null(names);
	snprintf(target, sizeof(target), "%s/target-minus.json", S.tmp);
	FILE *f = fopen(target, "w");
	assert_non_null(f);
	fprintf(f, "{\"name\": \"minus\", \"features\": [");
	for (char *p = names, *c; p && *p; p = c ? c + 1 : NULL) {
		c = strchr(p, ',');
		fprintf(f, "%s\"%.*s\"", p == names ? "" : ", ", c ? (int)(c - p) : (int)strlen(p), p);
	}
	fprintf(f, "]}\n");
	assert_int_equal(fclose(f), 0);
	free(names);

	rc = tu_migratable(&out, NULL, "check", "--criu-dir", S.img, "--root", S.root, "--target", target,
		 "--target", host, "--json", NULL);
	assert_int_equal(rc, 1);
	json_object *j = parse_json(out);
	json_object *ts = tu_json_get(j, "targets");
	assert_int_equal(json_object_array_length(ts), 2);
	json_object *t0 = json_object_array_get_idx(ts, 0), *t1 = json_object_array_get_idx(ts, 1);
	assert_string_equal(json_object_get_string(tu_json_get(t0, "name")), "minus");
	assert_string_equal(json_object_get_string(tu_json_get(t0, "verdict")), "incompatible");
	mg_feature_set missing;
	names_to_set(tu_json_get(t0, "missing"), "missing", &missing);
	if (!mg_fset_has(&missing, drop))
		fail_msg("%s is not reported missing:\n%s", dropped, out);
	assert_string_equal(json_object_get_string(tu_json_get(t1, "verdict")), "compatible");
	assert_int_equal(json_object_get_int(tu_json_get(tu_json_get(j, "summary"), "incompatible")), 1);
	/* The dump's cpuinfo.img is the source by default. */
	assert_non_null(strstr(json_object_get_string(tu_json_get(j, "source")), "criu:"));
	json_object_put(j);
	free(out);

	/* Table form of the same. */
	rc = tu_migratable(&out, NULL, "check", "--criu-dir", S.img, "--root", S.root, "--target", target, NULL);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "incompatible"));
	assert_non_null(strstr(out, dropped));
	free(out);

	/* --root only goes with --criu-dir. */
	assert_int_equal(tu_migratable(NULL, NULL, "check", "--requirements", dump, "--root", S.root, NULL), 2);
}

/* Verdict and reasons of `check --policy criu` (exit status in *rc). */
static json_object *check_criu(const char *source, const char *target, int *rc)
{
	char *out = NULL, *err = NULL;
	*rc = tu_migratable(&out, &err, "check", "--policy", "criu", "--source", source, "--target", target,
		  "--json", NULL);
	if (*rc != 0 && *rc != 1)
		fail_msg("check --policy criu --source %s --target %s: exit %d: %s", source, target,
			 *rc, err ? err : "");
	json_object *j = parse_json(out);
	free(out);
	free(err);
	return j;
}

static json_object *first_target(json_object *j)
{
	return json_object_array_get_idx(tu_json_get(j, "targets"), 0);
}

/* Set or clear bits of one register of a leaf in a JSON profile's cpuid. */
static void edit_cpuid(json_object *prof, uint32_t leaf, uint32_t sub, const char *reg,
		       uint32_t clear, uint32_t add)
{
	json_object *arr = tu_json_get(prof, "cpuid");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (strtoul(json_object_get_string(tu_json_get(e, "leaf")), NULL, 0) != leaf ||
		    (uint32_t)json_object_get_int(tu_json_get(e, "subleaf")) != sub)
			continue;
		uint32_t v = (uint32_t)strtoul(json_object_get_string(tu_json_get(e, reg)), NULL, 0);
		char hex[16];
		snprintf(hex, sizeof(hex), "0x%x", (v & ~clear) + add);
		json_object_object_add(e, reg, json_object_new_string(hex));
		return;
	}
	fail_msg("no CPUID leaf 0x%x.%u in the host profile", leaf, sub);
}

static bool has_reason(json_object *t, const char *needle)
{
	json_object *rs;
	if (!json_object_object_get_ex(t, "reasons", &rs))
		return false;
	for (size_t i = 0; i < json_object_array_length(rs); i++)
		if (strstr(json_object_get_string(json_object_array_get_idx(rs, i)), needle))
			return true;
	return false;
}

static void test_policy_criu_cpuinfo(void **state)
{
	(void)state;
	NEED_DUMP();
	char ci_path[256], edited[256];
	snprintf(ci_path, sizeof(ci_path), "%s/cpuinfo.img", S.img);
	const char *host = host_json();

	/* Our compel_cpuid() emulation over this host's CPUID gives exactly
	 * the words, mask and sizes CRIU recorded here. */
	mg_profile hp, ip;
	mg_compel_cpuinfo a, b;
	mg_error err = { 0 };
	assert_int_equal(mg_host_profile(&hp, "host", &err), 0);
	assert_int_equal(mg_compel_cpuinfo_from_profile(&hp, &a, &err), 0);
	if (mg_criu_cpuinfo_load(ci_path, &ip, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(ip.criu_cpuinfo && ip.criu_caps_ver == 2 && ip.ncriu_caps == MG_CRIU_NCAPINTS);
	assert_int_equal(mg_compel_cpuinfo_from_image(&ip, NULL, &b, &err), 0);
	for (unsigned w = 0; w < MG_CRIU_NCAPINTS; w++)
		if (a.cap[w] != b.cap[w])
			fail_msg("capability word %u: emulated 0x%08x, CRIU 0x%08x", w, a.cap[w], b.cap[w]);
	assert_int_equal(a.xfeatures_mask, b.xfeatures_mask);
	assert_int_equal(a.xsave_size, b.xsave_size);
	assert_int_equal(a.xsave_size_max, b.xsave_size_max);
	assert_int_equal(a.family, b.family);
	assert_int_equal(a.model, b.model);
	mg_profile_free(&hp);

	/* The image against this host: compatible (under all rules). */
	int rc;
	json_object *j = check_criu(ci_path, host, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(json_object_get_string(tu_json_get(first_target(j), "verdict")), "compatible");
	assert_string_equal(json_object_get_string(tu_json_get(j, "source")), ci_path);
	json_object_put(j);
	char *out = NULL;
	assert_int_equal(tu_migratable(&out, NULL, "check", "--policy", "criu", "--cpu-cap", "all", "--source",
			     ci_path, "--target", host, NULL), 0);
	free(out);
	/* The image as a target (`criu cpuinfo dump` on a destination). */
	j = check_criu(host, ci_path, &rc);
	assert_int_equal(rc, 0);
	json_object_put(j);

	/* A destination without one instruction-set bit the image has. */
	unsigned word = 0, bit = 0;
	mg_feature_id lost = MG_FEATURE_NONE;
	uint32_t leaf = 0, sub = 0;
	mg_cpuid_reg reg = MG_EAX;
	for (unsigned w = 0; w < ip.ncriu_caps && lost == MG_FEATURE_NONE; w++) {
		uint32_t bits = ip.criu_caps[w] & mg_criu_ins_mask(w);
		if (!mg_criu_cap_word_location(w, &leaf, &sub, &reg))
			continue;
		for (unsigned k = 0; k < 32 && lost == MG_FEATURE_NONE; k++)
			if ((bits >> k) & 1 && w != 0 && w != 4) {   /* keep FPU/XSAVE words intact */
				lost = mg_feature_by_location(leaf, sub, reg, k);
				word = w;
				bit = k;
			}
	}
	assert_true(lost != MG_FEATURE_NONE);
	static const char *const regname[] = { "eax", "ebx", "ecx", "edx" };
	json_object *prof = tu_load_json(host);
	edit_cpuid(prof, leaf, sub, regname[reg], 1u << bit, 0);
	json_object_object_add(prof, "name", json_object_new_string("edited"));
	snprintf(edited, sizeof(edited), "%s/host-edited.json", S.tmp);
	assert_int_equal(json_object_to_file(edited, prof), 0);
	j = check_criu(ci_path, edited, &rc);
	assert_int_equal(rc, 1);
	json_object *t = first_target(j);
	assert_string_equal(json_object_get_string(tu_json_get(t, "verdict")), "incompatible");
	mg_feature_set missing;
	names_to_set(tu_json_get(t, "missing"), "missing", &missing);
	if (!mg_fset_has(&missing, lost))
		fail_msg("word %u bit %u (%s) cleared, not reported missing: %s", word, bit,
			 mg_feature_get(lost)->name, json_object_to_json_string(t));
	json_object_put(j);

	/* Another XSAVE area size: CRIU's fpu rule refuses it. */
	if (ip.xsave_size != 0) {
		json_object_put(prof);
		prof = tu_load_json(host);
		edit_cpuid(prof, 0xd, 0, "ebx", 0, 64);
		assert_int_equal(json_object_to_file(edited, prof), 0);
		j = check_criu(ci_path, edited, &rc);
		assert_int_equal(rc, 1);
		t = first_target(j);
		assert_string_equal(json_object_get_string(tu_json_get(t, "verdict")), "incompatible");
		if (!has_reason(t, "xsave_size differs"))
			fail_msg("no xsave_size reason: %s", json_object_to_json_string(t));
		json_object_put(j);
		/* ... which the ins rule alone does not look at. */
		assert_int_equal(tu_migratable(&out, NULL, "check", "--policy", "criu", "--cpu-cap", "none,ins",
				     "--source", ci_path, "--target", edited, NULL), 0);
		free(out);
	}
	json_object_put(prof);
	mg_profile_free(&ip);
}

/* Write a cpuinfo.img holding one x86 entry. */
static void write_cpuinfo(const char *path, const CpuinfoX86Entry *x)
{
	CpuinfoEntry e = CPUINFO_ENTRY__INIT;
	CpuinfoX86Entry *px = (CpuinfoX86Entry *)x;
	e.n_x86_entry = 1;
	e.x86_entry = &px;
	size_t len = cpuinfo_entry__get_packed_size(&e);
	uint8_t *buf = malloc(12 + len);
	assert_non_null(buf);
	uint32_t head[3] = { MG_CRIU_IMG_COMMON_MAGIC, MG_CRIU_CPUINFO_MAGIC, (uint32_t)len };
	memcpy(buf, head, sizeof(head));           /* little-endian host */
	cpuinfo_entry__pack(&e, buf + 12);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, 12 + len, f), 12 + len);
	assert_int_equal(fclose(f), 0);
	free(buf);
}

/* An entry for an edited copy of this host's cpuinfo.img (write_cpuinfo). */
typedef struct ci_variant {
	const char *name;
	CpuinfoX86Entry x;
	uint32_t caps[MG_CRIU_CAP_WORDS_MAX];
} ci_variant;

static void variant_from(ci_variant *v, const char *name, const mg_criu_cpuinfo *ci)
{
	CpuinfoX86Entry init = CPUINFO_X86_ENTRY__INIT;
	v->name = name;
	v->x = init;
	memcpy(v->caps, ci->caps, sizeof(v->caps));
	v->x.vendor_id = (uint32_t)ci->vendor;
	v->x.cpu_family = ci->family;
	v->x.model = ci->model;
	v->x.stepping = ci->stepping;
	v->x.capability_ver = ci->capability_ver;
	v->x.n_capability = ci->ncaps;
	v->x.capability = v->caps;
	v->x.model_id = ci->model_id;
	v->x.has_xfeatures_mask = ci->has_xfeatures;
	v->x.xfeatures_mask = ci->xfeatures_mask;
	v->x.has_xsave_size = ci->has_xsave_size;
	v->x.xsave_size = ci->xsave_size;
	v->x.has_xsave_size_max = ci->has_xsave_size_max;
	v->x.xsave_size_max = ci->xsave_size_max;
}

/* A version-1 image (12 words, no XSAVE fields): CRIU completes it from
 * the CPU it restores on; a word count that does not match the version
 * makes CRIU refuse the image. */
static void test_policy_criu_old_images(void **state)
{
	(void)state;
	NEED_DUMP();
	char ci_path[256], v1[256], bad[256];
	snprintf(ci_path, sizeof(ci_path), "%s/cpuinfo.img", S.img);
	snprintf(v1, sizeof(v1), "%s/cpuinfo-v1.img", S.tmp);
	snprintf(bad, sizeof(bad), "%s/cpuinfo-bad.img", S.tmp);
	mg_criu_cpuinfo ci;
	mg_error err = { 0 };
	assert_int_equal(mg_criu_cpuinfo_read(ci_path, &ci, &err), 0);

	static ci_variant v;
	variant_from(&v, "version-1", &ci);
	v.x.capability_ver = 1;
	v.x.n_capability = 12;
	v.x.has_xfeatures_mask = v.x.has_xsave_size = v.x.has_xsave_size_max = false;
	write_cpuinfo(v1, &v.x);
	v.x.capability_ver = 2;          /* 12 words, version 2 wants 19 */
	write_cpuinfo(bad, &v.x);

	mg_profile p, hp;
	mg_compel_cpuinfo rt, out;
	assert_int_equal(mg_criu_cpuinfo_load(v1, &p, &err), 0);
	assert_int_equal(p.criu_caps_ver, 1);
	assert_int_equal(p.ncriu_caps, 12);
	assert_false(p.criu_has_xfeatures || p.criu_has_xsave_size || p.criu_has_xsave_size_max);
	/* No xfeatures_mask: whether the OS enabled AVX state is unknown,
	 * so avx is unknown (never absent); SSE state is always enabled. */
	assert_false(mg_fset_has(&p.features, mg_feature_by_name("avx")));
	assert_true(mg_fset_has(&p.unknown, mg_feature_by_name("avx")));
	assert_true(mg_fset_has(&p.features, mg_feature_by_name("sse2")));
	/* Without the destination CPU an old image cannot be completed. */
	assert_int_equal(mg_compel_cpuinfo_from_image(&p, NULL, &out, &err), -1);
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_int_equal(mg_host_profile(&hp, "host", &err), 0);
	assert_int_equal(mg_compel_cpuinfo_from_profile(&hp, &rt, &err), 0);
	rt.cap[18] ^= 0x5a5a0000u;       /* whatever the destination has */
	rt.xsave_size_max += 8;
	assert_int_equal(mg_compel_cpuinfo_from_image(&p, &rt, &out, &err), 0);
	for (unsigned w = 0; w < 12; w++)
		assert_int_equal(out.cap[w], ci.caps[w]);
	for (unsigned w = 12; w < MG_CRIU_NCAPINTS; w++)
		assert_int_equal(out.cap[w], rt.cap[w]);
	assert_int_equal(out.xfeatures_mask, rt.xfeatures_mask);
	assert_int_equal(out.xsave_size_max, rt.xsave_size_max);
	mg_profile_free(&p);
	mg_profile_free(&hp);
	mg_criu_cpuinfo_free(&ci);

	const char *host = host_json();
	int rc;
	json_object *j = check_criu(v1, host, &rc);
	assert_int_equal(rc, 0);
	json_object_put(j);
	/* As a target, an old image lacks what would decide: unknown. */
	j = check_criu(host, v1, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(json_object_get_string(tu_json_get(first_target(j), "verdict")), "unknown");
	json_object_put(j);
	j = check_criu(bad, host, &rc);
	assert_int_equal(rc, 1);
	json_object *t = first_target(j);
	assert_string_equal(json_object_get_string(tu_json_get(t, "verdict")), "incompatible");
	if (!has_reason(t, "capability words"))
		fail_msg("no reason naming the word count: %s", json_object_to_json_string(t));
	json_object_put(j);
}

/* --- our CRIU policy against CRIU's own `cpuinfo check` ------------------------- */

/* A bit (word *w, bit *b) of the image, outside word 0 (FPU & co., for
 * the fpu rule), that is set or clear (set), inside CRIU's ins mask or
 * outside it (inside); false if there is none. */
static bool find_bit(const mg_criu_cpuinfo *ci, bool inside, bool set, unsigned *w, unsigned *b)
{
	for (unsigned word = 1; word < ci->ncaps; word++)
		for (unsigned bit = 0; bit < 32; bit++) {
			bool in = (mg_criu_ins_mask(word) >> bit) & 1;
			bool is_set = (ci->caps[word] >> bit) & 1;
			if (in == inside && is_set == set) {
				*w = word;
				*b = bit;
				return true;
			}
		}
	return false;
}

/*
 * Edited images of this host, each checked by CRIU 4.1 itself (`criu
 * cpuinfo check -D DIR --cpu-cap=CAPS`, restoring here) and by `migratable
 * check --policy criu --cpu-cap CAPS --source IMG --catalog host`: the two
 * must agree on every image and every rule set.  An image is the source,
 * this host the destination, so an image with a bit this host lacks
 * plays a richer source.
 */
static void test_policy_criu_matches_criu(void **state)
{
	(void)state;
	NEED_DUMP();
	char ci_path[256], dir[256], path[512];
	snprintf(ci_path, sizeof(ci_path), "%s/cpuinfo.img", S.img);
	mg_criu_cpuinfo ci;
	mg_error err = { 0 };
	assert_int_equal(mg_criu_cpuinfo_read(ci_path, &ci, &err), 0);
	assert_true(ci.has_xfeatures && ci.has_xsave_size && ci.has_xsave_size_max);

	enum { NV = 14 };
	static ci_variant v[NV];
	unsigned w = 0, b = 0, n = 0;
	variant_from(&v[n++], "same", &ci);
	assert_true(find_bit(&ci, true, false, &w, &b));
	variant_from(&v[n], "extra-ins-bit", &ci);
	v[n++].caps[w] |= 1u << b;
	assert_true(find_bit(&ci, false, false, &w, &b));
	variant_from(&v[n], "extra-bit-outside-mask", &ci);
	v[n++].caps[w] |= 1u << b;
	assert_true(find_bit(&ci, true, true, &w, &b));
	variant_from(&v[n], "fewer-ins-bits", &ci);
	v[n++].caps[w] &= ~(1u << b);
	variant_from(&v[n], "xsave-size", &ci);
	v[n++].x.xsave_size += 64;
	variant_from(&v[n], "xsave-size-max", &ci);
	v[n++].x.xsave_size_max += 64;
	variant_from(&v[n], "xfeature-extra", &ci);
	for (unsigned k = 2; k < 20; k++)             /* a user component we lack */
		if (!((ci.xfeatures_mask >> k) & 1) && k != 8 && k != 10 && k < 19) {
			v[n].x.xfeatures_mask |= 1ull << k;
			break;
		}
	assert_true(v[n++].x.xfeatures_mask != ci.xfeatures_mask);
	variant_from(&v[n], "xfeature-fewer", &ci);
	v[n++].x.xfeatures_mask &= ~(1ull << 2);       /* no AVX state */
	variant_from(&v[n], "other-model", &ci);
	v[n++].x.model ^= 1;
	variant_from(&v[n], "no-fpu", &ci);
	v[n++].caps[0] &= ~1u;                         /* CPUID.1:EDX.FPU */
	variant_from(&v[n], "other-vendor", &ci);
	v[n++].x.vendor_id = ci.vendor == 1 ? 2 : 1;
	variant_from(&v[n], "unknown-vendor", &ci);
	v[n++].x.vendor_id = 0;
	variant_from(&v[n], "version-1", &ci);         /* 12 words, no XSAVE fields */
	v[n].x.capability_ver = 1;
	v[n].x.n_capability = 12;
	v[n].x.has_xfeatures_mask = v[n].x.has_xsave_size = v[n].x.has_xsave_size_max = false;
	n++;
	variant_from(&v[n], "word-count", &ci);        /* version 2 wants 19 words */
	v[n++].x.n_capability = 12;
	assert_int_equal(n, NV);

	snprintf(dir, sizeof(dir), "%s/ci-variants", S.tmp);
	assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		snprintf(path, sizeof(path), "%s/%s/cpuinfo.img", dir, v[i].name);
		write_cpuinfo(path, &v[i].x);
	}

	/* CRIU's verdicts, all in one namespace: "NAME CAPS STATUS" lines. */
	/* CRIU reads each as added to its default fpu,ins.  Not "none":
	 * restore then checks nothing, `cpuinfo check` everything. */
	static const char *const caps[] = { "fpu", "ins", "cpu", "fpu,ins", "all", "^fpu",
					    "none,ins", "none,fpu", "none,cpu", "^ins" };
	char bind[300];
	snprintf(bind, sizeof(bind), "%s:/imgs", dir);
	char *argv[] = { "tests/criu/in-root.sh", "--bind", bind, S.root, "sh", "-c",
		"for d in /imgs/*/; do for c in fpu ins cpu fpu,ins all ^fpu none,ins none,fpu none,cpu ^ins; do "
		"criu cpuinfo check -D \"$d\" --cpu-cap=\"$c\" >/dev/null 2>&1; "
		"echo \"$(basename \"$d\") $c $?\"; done; done", NULL };
	char *out = NULL, *e = NULL;
	assert_int_equal(tu_run(argv, &out, &e), 0);
	free(e);

	int disagree = 0, rejected = 0, total = 0;
	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/cpuinfo.img", dir, v[i].name);
		printf("  %-24s", v[i].name);
		for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
			char want[96];
			snprintf(want, sizeof(want), "%s %s ", v[i].name, caps[c]);
			const char *line = strstr(out, want);
			assert_non_null(line);
			bool criu_ok = atoi(line + strlen(want)) == 0;
			int rc = tu_migratable(NULL, NULL, "check", "--policy", "criu", "--cpu-cap", caps[c],
					       "--source", path, "--catalog", "host", NULL);
			assert_true(rc == 0 || rc == 1);
			bool ours_ok = rc == 0;
			printf(" %s:%s%s", caps[c], criu_ok ? "ok" : "no", criu_ok == ours_ok ? "" : "(differs)");
			disagree += criu_ok != ours_ok;
			rejected += !criu_ok;
			total++;
		}
		printf("\n");
	}
	printf("CRIU 4.1 and check --policy criu agree on %d of %d verdicts (%d rejections)\n",
	       total - disagree, total, rejected);
	free(out);
	mg_criu_cpuinfo_free(&ci);
	assert_int_equal(disagree, 0);
	assert_true(rejected > 0);
}

/* Corrupt images through the CLI: exit 7 (MG_ERR_IO), one line naming the file. */
static void expect_cli_io(const char *needle, ...)
{
	char *argv[TU_ARGV_MAX], *out = NULL, *e = NULL;
	va_list ap;
	va_start(ap, needle);
	tu_migratable_argv(argv, NULL, ap);
	va_end(ap);
	int rc = tu_run(argv, &out, &e);
	if (rc != MG_ERR_IO || e == NULL || strstr(e, needle) == NULL)
		fail_msg("%s %s: exit %d (want %d), stderr \"%s\" should name %s", argv[1], argv[2], rc,
			 MG_ERR_IO, e ? e : "", needle);
	/* One line (warnings aside). */
	const char *last = strstr(e, "migratable: ");
	while (last && strstr(last + 1, "migratable: "))
		last = strstr(last + 1, "migratable: ");
	assert_non_null(last);
	assert_ptr_equal(strchr(last, '\n'), last + strlen(last) - 1);
	free(out);
	free(e);
}

static void test_cli_corrupt_images(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *host = host_json();
	char dir[256], core[320], name[64], ci[320];
	snprintf(dir, sizeof(dir), "%s/cli-trunc", S.tmp);
	copy_dump(dir);
	snprintf(name, sizeof(name), "core-%ld.img", S.nspid);
	snprintf(core, sizeof(core), "%s/%s", dir, name);
	struct stat st;
	assert_int_equal(stat(core, &st), 0);
	assert_int_equal(truncate(core, st.st_size / 2), 0);
	expect_cli_io(name, "check", "--criu-dir", dir, "--root", S.root, "--target", host, NULL);
	expect_cli_io(name, "scan", "--criu-dir", dir, "--root", S.root, NULL);

	/* A truncated cpuinfo.img: the default source, or given as --source. */
	snprintf(dir, sizeof(dir), "%s/cli-cpuinfo", S.tmp);
	copy_dump(dir);
	snprintf(ci, sizeof(ci), "%s/cpuinfo.img", dir);
	assert_int_equal(stat(ci, &st), 0);
	assert_int_equal(truncate(ci, st.st_size - 5), 0);
	expect_cli_io("cpuinfo.img", "check", "--criu-dir", dir, "--root", S.root, "--target", host, NULL);
	expect_cli_io("cpuinfo.img", "check", "--policy", "criu", "--source", ci, "--target", host, NULL);
	expect_cli_io("cpuinfo.img", "check", "--policy", "criu", "--source", host, "--target", ci, NULL);
}

/* A library that changed since the dump: check and scan refuse (exit 7). */
static void test_cli_changed_library(void **state)
{
	(void)state;
	NEED_DUMP();
	mg_image *img = open_ok(S.img, S.root);
	char exe[256], root2[256], cmd[800];
	snprintf(exe, sizeof(exe), "%s", img->exe);
	mg_image_free(img);
	snprintf(root2, sizeof(root2), "%s/cli-root", S.tmp);
	make_root_copy(root2, exe);
	const char *host = host_json();
	assert_int_equal(tu_migratable(NULL, NULL, "check", "--criu-dir", S.img, "--root", root2,
			     "--target", host, NULL), 0);
	snprintf(cmd, sizeof(cmd), "printf 'x' >> '%s/usr/lib/x86_64-linux-gnu/libc.so.6'", root2);
	assert_int_equal(run_sh(cmd), 0);
	expect_cli_io("libc.so.6", "check", "--criu-dir", S.img, "--root", root2, "--target", host, NULL);
	expect_cli_io("libc.so.6", "scan", "--criu-dir", S.img, "--root", root2, NULL);
	/* Without --root the dump's files are looked up on this host, where
	 * the workload's copy does not exist. */
	expect_cli_io("not found", "check", "--criu-dir", S.img, "--target", host, NULL);
}

/* Scanning a dump elsewhere: without cpuinfo.img every feature counts as
 * usable on the source (a warning says so), so the answer can only grow
 * compared with the dump's own CPU. */
static void test_scan_dump_without_cpuinfo(void **state)
{
	(void)state;
	NEED_DUMP();
	char dir[256], path[300];
	snprintf(dir, sizeof(dir), "%s/no-cpuinfo", S.tmp);
	copy_dump(dir);
	snprintf(path, sizeof(path), "%s/cpuinfo.img", dir);
	unlink(path);
	char *with = NULL, *without = NULL, *err = NULL;
	assert_int_equal(tu_migratable(&with, NULL, "scan", "--criu-dir", S.img, "--root", S.root,
			     "--json", NULL), 0);
	assert_int_equal(tu_migratable(&without, &err, "scan", "--criu-dir", dir, "--root", S.root,
			     "--json", NULL), 0);
	assert_non_null(strstr(err, "no cpuinfo.img"));
	mg_scan_result *a = NULL, *b = NULL;
	mg_error e = { 0 };
	assert_int_equal(mg_scan_result_from_json(with, strlen(with), "with", &a, &e), 0);
	assert_int_equal(mg_scan_result_from_json(without, strlen(without), "without", &b, &e), 0);
	assert_true(mg_fset_is_subset(&a->required, &b->required));
	mg_scan_result_free(a);
	mg_scan_result_free(b);
	free(with);
	free(without);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing_in_memory),
		cmocka_unit_test(test_not_a_dump),
		cmocka_unit_test(test_tree_and_threads),
		cmocka_unit_test(test_mappings_match_proc_maps),
		cmocka_unit_test(test_memory_and_signals),
		cmocka_unit_test(test_restored_process_ran),
		cmocka_unit_test(test_every_image_parses),
		cmocka_unit_test(test_cpuinfo_read),
		cmocka_unit_test(test_truncated_core),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_missing_pages),
		cmocka_unit_test(test_changed_library),
		cmocka_unit_test(test_live_vs_dump_criu_basic),
		cmocka_unit_test(test_live_vs_dump_demo),
		cmocka_unit_test(test_live_vs_dump_scan_targets),
		cmocka_unit_test(test_live_vs_dump_corpus_c_lazy),
		cmocka_unit_test(test_live_vs_dump_corpus_c_now),
		cmocka_unit_test(test_live_vs_dump_corpus_cxx),
		cmocka_unit_test(test_memfd_data),
		cmocka_unit_test(test_memfd_exec),
		cmocka_unit_test(test_memfd_readonly),
		cmocka_unit_test(test_shared_anonymous),
		cmocka_unit_test(test_memfd_private),
		cmocka_unit_test(test_file_ends_mid_page),
		cmocka_unit_test(test_dump_of_a_tree),
		cmocka_unit_test(test_check_criu_dir),
		cmocka_unit_test(test_catalog_build_cpuinfo),
		cmocka_unit_test(test_policy_criu_cpuinfo),
		cmocka_unit_test(test_policy_criu_old_images),
		cmocka_unit_test(test_policy_criu_matches_criu),
		cmocka_unit_test(test_cli_corrupt_images),
		cmocka_unit_test(test_cli_changed_library),
		cmocka_unit_test(test_scan_dump_without_cpuinfo),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
