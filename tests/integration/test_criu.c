/*
 * test_criu.c - mg_criu_open on real CRIU 4.x dumps.
 *
 * The group setup dumps wl_criu_basic with tests/criu/dump-workload.sh
 * (CRIU 4.1 inside a Debian trixie root, see docs/criu.md) and restores
 * it.  Every test skips when the root cannot be built here (no network,
 * not root) or `criu check` fails on this kernel.
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
#include <sys/stat.h>
#include <unistd.h>

#include "process/criu_image.h"
#include "process/image.h"
#include "support/testutil.h"

static struct {
	bool ready;
	char skip_reason[512];
	char tmp[64];               /* mkdtemp directory, removed at the end */
	char out[128];              /* dump-workload OUTDIR */
	char img[160];              /* OUTDIR/img */
	char root[512];
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
		free(e);
		return 0;
	}
	free(e);

	snprintf(S.tmp, sizeof(S.tmp), "/tmp/mg-criu-test.XXXXXX");
	if (mkdtemp(S.tmp) == NULL)
		return -1;
	snprintf(S.out, sizeof(S.out), "%s/dump", S.tmp);
	snprintf(S.img, sizeof(S.img), "%s/img", S.out);
	char *argv_dump[] = { "tests/criu/dump-workload.sh", "--root", S.root,
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

#define NEED_DUMP() do { if (!S.ready) { fprintf(stderr, "skip: %s\n", S.skip_reason); skip(); } } while (0)

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
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
