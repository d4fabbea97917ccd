/*
 * test_criu_archive.c - container checkpoint archives (`scan --checkpoint`,
 * `check --checkpoint`), built in podman's documented layout from a real
 * CRIU 4.x dump of wl_criu_basic (tests/criu/dump-workload.sh):
 *
 *   checkpoint/ (the images)  config.dump  spec.dump  rootfs-diff.tar  deleted.files
 *
 * The archive's answer must equal the image directory's; the rootfs diff
 * must be laid over --root (a root holding every mapped file but the
 * workload, which only the diff has); a changed, missing or deleted file
 * and a corrupt or truncated archive are exit 7 with one line naming it.
 * Skips when the CRIU root cannot be built here or criu check fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "process/criu_files.h"
#include "support/testutil.h"

static struct {
	bool ready;
	char skip_reason[512];
	char tmp[64];
	char root[512];            /* the trixie root the dump was made in */
	char img[160];             /* the dump's image directory */
	char layout[160];          /* the archive's members, before tar */
	char small_root[160];      /* every mapped file but the workload */
	char workload[512];        /* its path inside the dump */
	char *dir_required;        /* required_features of the directory scan */
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
		fprintf(stderr, "sh: %s: status %d: %s\n", cmd, rc, e ? e : "");
	free(o);
	free(e);
	return rc;
}

/* "required_features" of a `scan --json` output, as a string. */
static char *required_of(const char *json_text)
{
	json_object *o = json_tokener_parse(json_text);
	if (o == NULL)
		fail_msg("scan --json printed no JSON: %.300s", json_text);
	char *s = strdup(json_object_to_json_string(tu_json_get(o, "required_features")));
	json_object_put(o);
	return s;
}

static int build_root_and_dump(void)
{
	char *argv_root[] = { "tests/criu/build-root.sh", NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv_root, &o, &e);
	if (rc != 0) {
		snprintf(S.skip_reason, sizeof(S.skip_reason), "CRIU root unavailable (build-root.sh status %d)", rc);
		free(o);
		free(e);
		return 1;
	}
	char *last = o;
	for (char *p = o; p && *p; p++)
		if (*p == '\n' && p[1] != '\0')
			last = p + 1;
	snprintf(S.root, sizeof(S.root), "%.*s", (int)strcspn(last, "\n"), last);
	free(o);
	free(e);
	char *argv_check[] = { "tests/criu/in-root.sh", S.root, "criu", "check", NULL };
	if (tu_run(argv_check, NULL, NULL) != 0) {
		snprintf(S.skip_reason, sizeof(S.skip_reason), "criu check fails on this kernel");
		return 1;
	}
	snprintf(S.tmp, sizeof(S.tmp), "/tmp/mg-archive-test.XXXXXX");
	if (mkdtemp(S.tmp) == NULL)
		return -1;
	char out[128];
	snprintf(out, sizeof(out), "%s/dump", S.tmp);
	snprintf(S.img, sizeof(S.img), "%s/img", out);
	char *argv_dump[] = { "tests/criu/dump-workload.sh", "--root", S.root, "--no-restore",
			      (char *)tu_workload_path("wl_criu_basic"), out, NULL };
	o = e = NULL;
	rc = tu_run(argv_dump, &o, &e);
	if (rc != 0) {
		fprintf(stderr, "dump-workload.sh failed (%d): %s\n", rc, e ? e : "");
		free(o);
		free(e);
		return -1;
	}
	const char *w = o ? strstr(o, "workload=") : NULL;
	if (w == NULL)
		return -1;
	w += strlen("workload=");
	snprintf(S.workload, sizeof(S.workload), "%.*s", (int)strcspn(w, "\n"), w);
	free(o);
	free(e);
	return 0;
}

/*
 * The archive layout in S.layout (checkpoint/ with the images, the two
 * JSON dumps, an empty deleted.files) and a small root with every file
 * the workload mapped except the workload itself, which goes into
 * rootfs-diff.tar: the container "added" it, as podman's diff would.
 */
static int build_layout(void)
{
	snprintf(S.layout, sizeof(S.layout), "%s/layout", S.tmp);
	snprintf(S.small_root, sizeof(S.small_root), "%s/small-root", S.tmp);
	if (sh("mkdir -p '%s/checkpoint' '%s' '%s/diff' && cp '%s'/*.img '%s/checkpoint/' && "
	       "echo '{\"id\":\"wl\",\"rootfsImageName\":\"test\"}' >'%s/config.dump' && "
	       "echo '{\"ociVersion\":\"1.0.2\"}' >'%s/spec.dump' && echo '[]' >'%s/deleted.files'",
	       S.layout, S.small_root, S.tmp, S.img, S.layout, S.layout, S.layout, S.layout) != 0)
		return -1;
	/* Mapped files: the absolute paths of maps.before. */
	if (sh("cd '%s' && awk '$6 ~ /^\\// { print substr($6, 2) }' '%s/dump/maps.before' | sort -u | "
	       "grep -vxF '%s' | xargs cp --parents -t '%s'", S.root, S.tmp, S.workload + 1,
	       S.small_root) != 0)
		return -1;
	return sh("cd '%s' && cp --parents '%s' '%s/diff/' && tar -C '%s/diff' -cf '%s/rootfs-diff.tar' .",
		  S.root, S.workload + 1, S.tmp, S.tmp, S.layout);
}

static int group_setup(void **state)
{
	(void)state;
	int rc = build_root_and_dump();
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (build_layout() != 0)
		return -1;
	char *out = NULL;
	rc = tu_migratable(&out, NULL, "scan", "--criu-dir", S.img, "--root", S.root, "--json", NULL);
	if (rc != 0)
		return -1;
	S.dir_required = required_of(out);
	free(out);
	S.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (S.tmp[0])
		sh("rm -rf '%s'", S.tmp);
	free(S.dir_required);
	return 0;
}

#define NEED_DUMP() do { if (!S.ready) { fprintf(stderr, "skip: %s\n", S.skip_reason); skip(); } } while (0)

/* tar the layout (minus `exclude`, a member name or "") into FILE with
 * tar's option `compress` ("" for none). */
static const char *make_archive(const char *file, const char *compress, const char *exclude)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", S.tmp, file);
	assert_int_equal(sh("cd '%s' && tar %s --exclude='./%s' -cf '%s' .", S.layout, compress,
			    exclude, path), 0);
	return path;
}

static void expect_exit7(const char *archive, const char *root, const char *needle)
{
	char *out = NULL, *err = NULL;
	int rc = tu_migratable(&out, &err, "scan", "--checkpoint", archive, "--root", root, NULL);
	if (rc != 7 || err == NULL || strstr(err, needle) == NULL)
		fail_msg("scan --checkpoint %s: status %d, stderr \"%s\"; expected 7 naming %s",
			 archive, rc, err ? err : "", needle);
	/* One line. */
	assert_non_null(strchr(err, '\n'));
	assert_string_equal(strchr(err, '\n'), "\n");
	free(out);
	free(err);
}

static void test_archive_equals_directory(void **state)
{
	(void)state;
	NEED_DUMP();
	static const struct { const char *file, *tar_opt; } kinds[] = {
		{ "plain.tar", "" }, { "gzip.tar.gz", "-z" }, { "zstd.tar.zst", "--zstd" },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *a = make_archive(kinds[i].file, kinds[i].tar_opt, "");
		char *out = NULL;
		double t0 = tu_now_ms();
		int rc = tu_migratable(&out, NULL, "scan", "--checkpoint", a, "--root", S.small_root,
				       "--json", NULL);
		double ms = tu_now_ms() - t0;
		assert_int_equal(rc, 0);
		char *req = required_of(out);
		if (strcmp(req, S.dir_required) != 0)
			fail_msg("%s: %s, the directory: %s", kinds[i].file, req, S.dir_required);
		printf("%s: same %s as the image directory, %.0f ms\n", kinds[i].file, req, ms);
		free(req);
		free(out);
	}
}

static void test_check_archive_on_this_host(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *a = make_archive("check.tar", "", "");
	char *out = NULL;
	int rc = tu_migratable(&out, NULL, "check", "--checkpoint", a, "--root", S.small_root,
			       "--catalog", "host", NULL);
	if (rc != 0)
		fail_msg("check --checkpoint --catalog host: status %d\n%s", rc, out ? out : "");
	free(out);
}

/* The workload is only in the diff: without it, it is missing. */
static void test_diff_is_laid_over_root(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *a = make_archive("nodiff.tar", "", "rootfs-diff.tar");
	expect_exit7(a, S.small_root, S.workload);
}

static void test_changed_file_in_diff(void **state)
{
	(void)state;
	NEED_DUMP();
	/* The container "changed" the workload after the dump. */
	char changed[256];
	snprintf(changed, sizeof(changed), "%s/changed", S.tmp);
	assert_int_equal(sh("rm -rf '%s' && cp -a '%s' '%s' && mkdir '%s/d' && cd '%s' && "
			    "cp --parents '%s' '%s/d/' && cd '%s' && printf x >>'d%s' && "
			    "tar -C d -cf rootfs-diff.tar . && rm -rf d && tar -cf ../changed.tar .",
			    changed, S.layout, changed, changed, S.root, S.workload + 1, changed,
			    changed, S.workload), 0);
	char archive[256];
	snprintf(archive, sizeof(archive), "%s/changed.tar", S.tmp);
	expect_exit7(archive, S.small_root, "changed since the dump");
}

static void test_deleted_file(void **state)
{
	(void)state;
	NEED_DUMP();
	/* The full root has the workload, but the container deleted it. */
	char del[256];
	snprintf(del, sizeof(del), "%s/del", S.tmp);
	assert_int_equal(sh("rm -rf '%s' && cp -a '%s' '%s' && cd '%s' && rm rootfs-diff.tar && "
			    "printf '[\"%s\"]' >deleted.files && tar -cf ../deleted.tar .",
			    del, S.layout, del, del, S.workload), 0);
	char archive[256];
	snprintf(archive, sizeof(archive), "%s/deleted.tar", S.tmp);
	expect_exit7(archive, S.root, S.workload);
	/* Without deleted.files the same archive reads the root's copy. */
	assert_int_equal(sh("cd '%s' && echo '[]' >deleted.files && tar -cf ../kept.tar .", del), 0);
	snprintf(archive, sizeof(archive), "%s/kept.tar", S.tmp);
	assert_int_equal(tu_migratable(NULL, NULL, "scan", "--checkpoint", archive, "--root",
				       S.root, NULL), 0);
}

static void test_corrupt_archives(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *a = make_archive("whole.tar", "", "");
	char path[256];
	/* Truncated in the middle of the images. */
	snprintf(path, sizeof(path), "%s/truncated.tar", S.tmp);
	assert_int_equal(sh("head -c 20000 '%s' >'%s'", a, path), 0);
	expect_exit7(path, S.small_root, "truncated.tar");
	/* Not an archive at all. */
	snprintf(path, sizeof(path), "%s/garbage.tar", S.tmp);
	assert_int_equal(sh("head -c 3000 /dev/urandom >'%s'", path), 0);
	expect_exit7(path, S.small_root, "garbage.tar");
	/* An archive without checkpoint/. */
	snprintf(path, sizeof(path), "%s/nockpt.tar", S.tmp);
	assert_int_equal(sh("cd '%s' && tar -cf '%s' config.dump spec.dump", S.layout, path), 0);
	expect_exit7(path, S.small_root, "inventory.img");
	/* A corrupt image inside a well-formed archive. */
	snprintf(path, sizeof(path), "%s/badimg", S.tmp);
	assert_int_equal(sh("rm -rf '%s' && cp -a '%s' '%s' && cd '%s' && "
			    "printf 'garbage!' | dd of=checkpoint/pstree.img bs=1 seek=0 conv=notrunc 2>/dev/null && "
			    "tar -cf ../badimg.tar .", path, S.layout, path, path), 0);
	snprintf(path, sizeof(path), "%s/badimg.tar", S.tmp);
	expect_exit7(path, S.small_root, "pstree.img");
	/* A missing archive. */
	expect_exit7("/nonexistent/ckpt.tar", S.small_root, "/nonexistent/ckpt.tar");
}

/* The library API: images come out as descriptors, a second open too. */
static void test_files_api(void **state)
{
	(void)state;
	NEED_DUMP();
	const char *a = make_archive("api.tar.gz", "-z", "");
	mg_criu_files *f = NULL;
	mg_error err = { 0 };
	if (mg_criu_files_open_archive(a, S.small_root, &f, &err) != 0)
		fail_msg("open_archive: %s", err.msg);
	assert_true(mg_criu_files_has(f, "inventory.img"));
	assert_false(mg_criu_files_has(f, "no-such.img"));
	assert_false(mg_criu_files_has(f, "../config.dump"));
	uint8_t *d1 = NULL, *d2 = NULL;
	size_t l1, l2;
	assert_int_equal(mg_criu_files_read(f, "pstree.img", &d1, &l1, &err), 0);
	assert_int_equal(mg_criu_files_read(f, "pstree.img", &d2, &l2, &err), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	char path[256];
	snprintf(path, sizeof(path), "%s/pstree.img", S.img);
	size_t l3;
	char *d3 = tu_read_file(path, &l3);
	assert_int_equal(l3, l1);
	assert_memory_equal(d3, d1, l1);
	free(d1);
	free(d2);
	free(d3);
	/* The workload from the diff, the same bytes as in the root. */
	int fd = mg_criu_files_open_mapped(f, S.workload);
	assert_true(fd >= 0);
	close(fd);
	mg_criu_files_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_archive_equals_directory),
		cmocka_unit_test(test_check_archive_on_this_host),
		cmocka_unit_test(test_diff_is_laid_over_root),
		cmocka_unit_test(test_changed_file_in_diff),
		cmocka_unit_test(test_deleted_file),
		cmocka_unit_test(test_corrupt_archives),
		cmocka_unit_test(test_files_api),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
