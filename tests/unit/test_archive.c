/*
 * test_archive.c - the checkpoint archive source (criu_archive.c,
 * criu_archive_diff.c) on archives written here with libarchive: member
 * names, hard links, the rootfs diff laid over a root, deleted.files,
 * the in-memory limit, malformed metadata.  (test_criu_archive reads
 * archives of real CRIU dumps.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "process/criu_files.h"

/* An archive in memory, built member by member. */
typedef struct tarbuf {
	struct archive *a;
	char data[1 << 20];
	size_t used;
} tarbuf;

static void tar_begin(tarbuf *t)
{
	t->a = archive_write_new();
	assert_non_null(t->a);
	assert_int_equal(archive_write_set_format_pax_restricted(t->a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(t->a, t->data, sizeof(t->data), &t->used),
			 ARCHIVE_OK);
}

/* A member: a regular file with `text`, or (type AE_IFLNK / hard link
 * when `link` is set) a link to `link`, or a directory. */
static const char inventory[] = "\x16\x31\x31\x58\x02\x00\x00\x00\x08\x02";

static void tar_add(tarbuf *t, const char *name, unsigned type, const char *text,
		    const char *hardlink)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	/* The inventory image has NUL bytes: not a C string. */
	size_t len = text == inventory ? sizeof(inventory) - 1 : text ? strlen(text) : 0;
	if (hardlink)
		archive_entry_set_hardlink(e, hardlink);
	else if (type == AE_IFLNK)
		archive_entry_set_symlink(e, text);
	archive_entry_set_size(e, type == AE_IFREG && !hardlink ? (la_int64_t)len : 0);
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	if (type == AE_IFREG && !hardlink && len)
		assert_int_equal(archive_write_data(t->a, text, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void tar_end(tarbuf *t)
{
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
}

static mg_criu_files *open_ok(tarbuf *t, const char *root)
{
	mg_criu_files *f = NULL;
	mg_error err = { 0 };
	if (mg_criu_files_open_archive_mem(t->data, t->used, "t.tar", root, 0, &f, &err) != 0)
		fail_msg("open: %s", err.msg);
	return f;
}

static void expect_error(tarbuf *t, uint64_t limit, const char *needle)
{
	mg_criu_files *f = NULL;
	mg_error err = { 0 };
	assert_int_equal(mg_criu_files_open_archive_mem(t->data, t->used, "t.tar", "/", limit, &f,
							&err), -1);
	assert_null(f);
	assert_int_equal(err.code, MG_ERR_IO);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static char *read_fd_text(int fd)
{
	static char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void test_images_and_hard_links(void **state)
{
	(void)state;
	static tarbuf t;
	tar_begin(&t);
	tar_add(&t, "./checkpoint", AE_IFDIR, NULL, NULL);
	tar_add(&t, "./checkpoint/inventory.img", AE_IFREG, inventory, NULL);
	tar_add(&t, "checkpoint/pstree.img", AE_IFREG, NULL, "checkpoint/inventory.img");
	tar_add(&t, "config.dump", AE_IFREG, "{}", NULL);
	tar_end(&t);
	mg_criu_files *f = open_ok(&t, "/");
	assert_true(mg_criu_files_has(f, "inventory.img"));
	assert_true(mg_criu_files_has(f, "pstree.img"));
	assert_false(mg_criu_files_has(f, "config.dump"));
	uint8_t *a, *b;
	size_t la, lb;
	mg_error err = { 0 };
	assert_int_equal(mg_criu_files_read(f, "inventory.img", &a, &la, &err), 0);
	assert_int_equal(mg_criu_files_read(f, "pstree.img", &b, &lb, &err), 0);
	assert_int_equal(la, sizeof(inventory) - 1);
	assert_int_equal(lb, la);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	/* Every open is its own read-only descriptor. */
	int fd = mg_criu_files_open_image(f, "inventory.img", &err);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), -1);
	close(fd);
	mg_criu_files_free(f);
}

static void test_bad_members(void **state)
{
	(void)state;
	static tarbuf t;
	tar_begin(&t);
	tar_add(&t, "checkpoint/../../etc/passwd", AE_IFREG, "x", NULL);
	tar_end(&t);
	expect_error(&t, 0, "leaves the archive");

	tar_begin(&t);
	tar_add(&t, "config.dump", AE_IFREG, "{}", NULL);
	tar_end(&t);
	expect_error(&t, 0, "no checkpoint/inventory.img");

	tar_begin(&t);
	tar_add(&t, "checkpoint/inventory.img", AE_IFREG, inventory, NULL);
	tar_add(&t, "deleted.files", AE_IFREG, "{\"not\": \"an array\"}", NULL);
	tar_end(&t);
	expect_error(&t, 0, "deleted.files");

	tar_begin(&t);
	tar_add(&t, "checkpoint/inventory.img", AE_IFREG, inventory, NULL);
	tar_add(&t, "checkpoint/pages-1.img", AE_IFREG, "0123456789abcdef0123456789", NULL);
	tar_end(&t);
	expect_error(&t, 20, "more than the 20 bytes");

	/* Cut short inside a member. */
	tar_begin(&t);
	tar_add(&t, "checkpoint/inventory.img", AE_IFREG, inventory, NULL);
	tar_add(&t, "checkpoint/pages-1.img", AE_IFREG,
		"................................................................", NULL);
	tar_end(&t);
	t.used = 512 * 3 + 10;
	expect_error(&t, 0, "t.tar");
}

/* rootfs-diff.tar over a root: changed and added files come from the
 * diff, deleted ones are gone, the rest is the root's. */
static void test_diff_over_root(void **state)
{
	(void)state;
	char root[] = "/tmp/mg-archive-root.XXXXXX";
	assert_non_null(mkdtemp(root));
	char path[256];
	snprintf(path, sizeof(path), "%s/etc", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/opt", root);
	assert_int_equal(mkdir(path, 0755), 0);
	const char *files[] = { "etc/motd", "etc/kept", "opt/gone" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, files[i]);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fprintf(fp, "root's %s", files[i]);
		fclose(fp);
	}
	static tarbuf diff, t;
	tar_begin(&diff);
	tar_add(&diff, "etc/motd", AE_IFREG, "the container's motd", NULL);
	tar_add(&diff, "etc/added", AE_IFREG, "added", NULL);
	tar_add(&diff, "etc/alias", AE_IFREG, NULL, "etc/added");
	tar_add(&diff, "etc/dir", AE_IFDIR, NULL, NULL);
	tar_add(&diff, "etc/sym", AE_IFLNK, "/etc/motd", NULL);
	tar_end(&diff);
	tar_begin(&t);
	tar_add(&t, "checkpoint/inventory.img", AE_IFREG, inventory, NULL);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "rootfs-diff.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (la_int64_t)diff.used);
	assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(t.a, diff.data, diff.used), (la_ssize_t)diff.used);
	archive_entry_free(e);
	tar_add(&t, "deleted.files", AE_IFREG, "[\"/opt\"]", NULL);
	tar_end(&t);

	mg_criu_files *f = open_ok(&t, root);
	assert_non_null(strstr(f->root, "rootfs-diff.tar"));
	assert_string_equal(read_fd_text(mg_criu_files_open_mapped(f, "/etc/motd")),
			    "the container's motd");
	assert_string_equal(read_fd_text(mg_criu_files_open_mapped(f, "/etc/added")), "added");
	assert_string_equal(read_fd_text(mg_criu_files_open_mapped(f, "/etc/alias")), "added");
	assert_string_equal(read_fd_text(mg_criu_files_open_mapped(f, "/etc/kept")),
			    "root's etc/kept");
	/* A second lookup uses the extracted copy. */
	assert_string_equal(read_fd_text(mg_criu_files_open_mapped(f, "/etc/motd")),
			    "the container's motd");
	errno = 0;
	assert_int_equal(mg_criu_files_open_mapped(f, "/opt/gone"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mg_criu_files_open_mapped(f, "/etc/dir"), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(mg_criu_files_open_mapped(f, "/etc/sym"), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(mg_criu_files_open_mapped(f, "/etc/../etc/kept"), -1);
	mg_criu_files_free(f);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_images_and_hard_links),
		cmocka_unit_test(test_bad_members),
		cmocka_unit_test(test_diff_over_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
