/*
 * criu_archive.c - a container checkpoint archive as a CRIU file source.
 *
 * `podman container checkpoint --export FILE` (and CRI-O's / the
 * kubelet's checkpoint archives, the same layout) writes a tar,
 * optionally gzip- or zstd-compressed:
 *
 *   checkpoint/          the CRIU image directory (inventory.img, ...)
 *   config.dump          the container's configuration (JSON)
 *   spec.dump            its OCI runtime spec (JSON)
 *   rootfs-diff.tar      the files the container added or changed
 *   deleted.files        a JSON array of the paths it deleted
 *   network.status, stats-dump, dump.log, ...   (not read)
 *
 * The archive is read once, with libarchive, without unpacking anything
 * to disk: each image under checkpoint/ goes into a sealed memfd (a
 * file in memory), so the image reader gets descriptors exactly as from
 * a directory.  A mapped file is looked up in rootfs-diff.tar first
 * (indexed on the first lookup, each file extracted once, into a memfd),
 * then, unless deleted.files names it, under the root directory (the
 * container's image): the file system the restored container will see.
 */
#include "process/criu_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <glib.h>
#include <json-c/json.h>

#include "process/criu_archive_priv.h"

#define CHECKPOINT_DIR "checkpoint/"
#define DELETED_FILES_MAX (16u << 20)
/* Images up to this size stay in a malloc'd buffer and get a memfd only
 * while read: a dump has a core image per thread, and one descriptor
 * each could exceed the open-file limit.  The pages stay in memfds. */
#define SMALL_IMAGE_MAX (1u << 20)

/* One image of checkpoint/: its bytes, or a memfd holding them. */
typedef struct image_member {
	int fd;                /* -1 when in data */
	uint8_t *data;
	size_t len;
} image_member;

/* A member name as a relative path: no "./" or "/" in front; NULL when
 * it has a ".." component (it would name a file outside the archive). */
char *mg_archive_normalise(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	for (const char *c = name; *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : c + strlen(c))
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return NULL;
	char *s = strdup(name);
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static void image_member_free(gpointer v)
{
	image_member *m = v;
	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->data);
	free(m);
}

/* A new sealed memfd holding len bytes of data; -1 (errno) on failure. */
static int sealed_memfd(const uint8_t *data, size_t len)
{
	int fd = memfd_create("migratable-checkpoint", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		done += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void mg_archive_diff_entry_free(gpointer v)
{
	diff_entry *e = v;
	if (e == NULL)
		return;
	if (e->fd >= 0)
		close(e->fd);
	free(e->hardlink);
	free(e);
}

static void archive_destroy(mg_criu_files *f)
{
	archive_src *s = f->priv;
	if (s == NULL)
		return;
	if (s->images)
		g_hash_table_destroy(s->images);
	if (s->diff)
		g_hash_table_destroy(s->diff);
	if (s->diff_fd >= 0)
		close(s->diff_fd);
	for (size_t i = 0; i < s->ndeleted; i++)
		free(s->deleted[i]);
	free(s->deleted);
	free(s);
	f->priv = NULL;
}

/* --- reading members into memory ------------------------------------------------ */

/*
 * The data of the current entry of `a` into a new sealed memfd, counted
 * against s->total_max.  Returns the descriptor or -1 (MG_ERR_IO naming
 * `what` of archive `file`).
 */
int mg_archive_entry_to_memfd(archive_src *s, struct archive *a, const char *file,
			      const char *what, mg_error *err)
{
	int fd = memfd_create("migratable-checkpoint", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return mg_fail(err, MG_ERR_INTERNAL, "memfd_create: %s", strerror(errno));
	char buf[1 << 16];
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			mg_fail(err, MG_ERR_IO, "%s: %s: corrupt or truncated archive: %s", file, what,
				archive_error_string(a) ? archive_error_string(a) : "read error");
			goto fail;
		}
		if ((uint64_t)n > s->total_max - s->total) {
			mg_fail(err, MG_ERR_IO, "%s: %s: the archive holds more than the %llu bytes "
				"read into memory at most", file, what, (unsigned long long)s->total_max);
			goto fail;
		}
		s->total += (uint64_t)n;
		for (la_ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				mg_fail(err, MG_ERR_INTERNAL, "%s: %s: cannot hold it in memory: %s",
					file, what, strerror(errno));
				goto fail;
			}
			done += w;
		}
	}
	/* Read-only from now on: every reader gets a dup of this. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
		mg_fail(err, MG_ERR_INTERNAL, "%s: %s: cannot seal: %s", file, what, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* deleted.files: a JSON array of paths (podman's metadata.DeletedFilesFile). */
static int load_deleted(archive_src *s, struct archive *a, const char *file, mg_error *err)
{
	char *text = malloc(DELETED_FILES_MAX + 1);
	if (text == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	size_t len = 0;
	la_ssize_t n;
	while ((n = archive_read_data(a, text + len, DELETED_FILES_MAX + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > DELETED_FILES_MAX) {
			free(text);
			return mg_fail(err, MG_ERR_IO, "%s: deleted.files is larger than %u bytes",
				       file, DELETED_FILES_MAX);
		}
	}
	if (n < 0) {
		free(text);
		return mg_fail(err, MG_ERR_IO, "%s: deleted.files: corrupt or truncated archive: %s",
			       file, archive_error_string(a) ? archive_error_string(a) : "read error");
	}
	json_tokener *tok = json_tokener_new();
	json_object *arr = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	bool complete = tok && json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	free(text);
	int rc = 0;
	if (!complete || !json_object_is_type(arr, json_type_array)) {
		rc = mg_fail(err, MG_ERR_IO, "%s: deleted.files is not a JSON array of paths", file);
		goto out;
	}
	size_t count = json_object_array_length(arr);
	s->deleted = calloc(count ? count : 1, sizeof(*s->deleted));
	if (s->deleted == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		json_object *p = json_object_array_get_idx(arr, i);
		char *norm = json_object_is_type(p, json_type_string)
			? mg_archive_normalise(json_object_get_string(p)) : NULL;
		if (norm == NULL) {
			rc = mg_fail(err, MG_ERR_IO, "%s: deleted.files entry %zu is not a path", file, i);
			goto out;
		}
		s->deleted[s->ndeleted++] = norm;
	}
out:
	json_object_put(arr);
	return rc;
}

/* Is `name` an image of checkpoint/ (a plain file name right under it)? */
static bool is_image_member(const char *name)
{
	size_t n = strlen(CHECKPOINT_DIR);
	return strncmp(name, CHECKPOINT_DIR, n) == 0 && name[n] != '\0' &&
	       strchr(name + n, '/') == NULL;
}

/* A copy of image member m (a hard link's target). */
static image_member *copy_member(const image_member *m)
{
	image_member *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->len = m->len;
	if (m->fd >= 0 ? (c->fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 3)) < 0
		       : (c->data = malloc(m->len ? m->len : 1)) == NULL) {
		free(c);
		return NULL;
	}
	if (m->fd < 0)
		memcpy(c->data, m->data, m->len);
	return c;
}

/* The current entry, read into memory: a small image into a buffer,
 * anything else into a sealed memfd. */
static image_member *read_member(archive_src *s, struct archive *a, const char *file,
				 const char *name, mg_error *err)
{
	image_member *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	m->fd = mg_archive_entry_to_memfd(s, a, file, name, err);
	struct stat st;
	if (m->fd < 0 || fstat(m->fd, &st) != 0) {
		image_member_free(m);
		return NULL;
	}
	if ((uint64_t)st.st_size <= SMALL_IMAGE_MAX) {
		int rc = mg_criu_read_fd(m->fd, name, SMALL_IMAGE_MAX, &m->data, &m->len, err);
		close(m->fd);
		m->fd = -1;
		if (rc != 0) {
			image_member_free(m);
			return NULL;
		}
	}
	return m;
}

/* Keep the current entry (an image, or rootfs-diff.tar) in memory. */
static int keep_member(archive_src *s, struct archive *a, struct archive_entry *e,
		       const char *file, const char *name, mg_error *err)
{
	bool image = strncmp(name, CHECKPOINT_DIR, strlen(CHECKPOINT_DIR)) == 0;
	const char *link = archive_entry_hardlink(e);
	if (!image) {
		if (link != NULL)
			return mg_fail(err, MG_ERR_IO, "%s: %s is a hard link (to %s)", file, name, link);
		int fd = mg_archive_entry_to_memfd(s, a, file, name, err);
		if (fd < 0)
			return -1;
		if (s->diff_fd >= 0)
			close(s->diff_fd);      /* a later member of the same name wins */
		s->diff_fd = fd;
		return 0;
	}
	image_member *m;
	if (link != NULL) {
		/* A hard link has no data of its own: share the target's. */
		char *target = mg_archive_normalise(link);
		const image_member *t = target && is_image_member(target)
			? g_hash_table_lookup(s->images, target + strlen(CHECKPOINT_DIR)) : NULL;
		free(target);
		if (t == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: %s is a hard link to %s, which is not an "
				       "image before it", file, name, link);
		if ((m = copy_member(t)) == NULL)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	} else if ((m = read_member(s, a, file, name, err)) == NULL) {
		return -1;
	}
	char *key = strdup(name + strlen(CHECKPOINT_DIR));
	if (key == NULL) {
		image_member_free(m);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	g_hash_table_replace(s->images, key, m);
	return 0;
}

/* One pass over the archive: the images, rootfs-diff.tar, deleted.files. */
static int read_members(archive_src *s, struct archive *a, const char *file, mg_error *err)
{
	struct archive_entry *e;
	size_t members = 0;
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return mg_fail(err, MG_ERR_IO, "%s: not a readable checkpoint archive: %s",
				       file, archive_error_string(a) ? archive_error_string(a) : "?");
		if (++members > MEMBERS_MAX)
			return mg_fail(err, MG_ERR_IO, "%s: more than %u members", file, MEMBERS_MAX);
		char *name = mg_archive_normalise(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if (name == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: member %s leaves the archive (..)", file,
				       archive_entry_pathname(e));
		/* A hard link reads back without a file type of its own. */
		bool regular = archive_entry_filetype(e) == AE_IFREG || archive_entry_hardlink(e) != NULL;
		int rc = 0;
		if (regular && (is_image_member(name) || strcmp(name, "rootfs-diff.tar") == 0))
			rc = keep_member(s, a, e, file, name, err);
		else if (regular && strcmp(name, "deleted.files") == 0 && s->deleted == NULL)
			rc = load_deleted(s, a, file, err);
		free(name);
		if (rc != 0)
			return -1;
	}
}

/* --- the source ----------------------------------------------------------------- */

static int archive_open_image(mg_criu_files *f, const char *name)
{
	archive_src *s = f->priv;
	const image_member *m = g_hash_table_lookup(s->images, name);
	if (m == NULL) {
		errno = ENOENT;
		return -1;
	}
	return m->fd >= 0 ? fcntl(m->fd, F_DUPFD_CLOEXEC, 3) : sealed_memfd(m->data, m->len);
}

static int archive_open_mapped(mg_criu_files *f, const char *path)
{
	archive_src *s = f->priv;
	char *rel = mg_archive_normalise(path);
	if (rel == NULL) {
		errno = ENOENT;
		return -1;
	}
	int fd = -1;
	int r = mg_archive_diff_lookup(s, rel, &fd);
	bool gone = r == 0 && mg_archive_deleted(s, rel);
	free(rel);
	if (r != 0)
		return r > 0 ? fd : -1;
	if (gone) {
		errno = ENOENT;     /* deleted in the container (deleted.files) */
		return -1;
	}
	return mg_criu_files_open_under_root(f, path);
}

static const mg_criu_files_ops archive_ops = {
	.open_image = archive_open_image,
	.open_mapped = archive_open_mapped,
	.destroy = archive_destroy,
};

/* Read the archive `a` (opened by the caller, freed here) into a source. */
static int open_source(struct archive *a, const char *file, const char *root,
		       uint64_t total_max, mg_criu_files **out, mg_error *err)
{
	*out = NULL;
	mg_criu_files *f = calloc(1, sizeof(*f));
	archive_src *s = calloc(1, sizeof(*s));
	char *name = NULL;
	if (f == NULL || s == NULL || asprintf(&name, "%s:checkpoint", file) < 0) {
		free(f);
		free(s);
		archive_read_free(a);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	f->priv = s;
	s->diff_fd = -1;
	s->total_max = total_max ? total_max : MG_CRIU_ARCHIVE_TOTAL_MAX;
	s->images = g_hash_table_new_full(g_str_hash, g_str_equal, free, image_member_free);
	int rc = mg_criu_files_init(f, &archive_ops, name, root, err);
	free(name);
	if (rc == 0)
		rc = read_members(s, a, file, err);
	archive_read_free(a);
	if (rc == 0 && g_hash_table_lookup(s->images, "inventory.img") == NULL)
		rc = mg_fail(err, MG_ERR_IO, "%s: no checkpoint/inventory.img: not a container "
			     "checkpoint archive (podman container checkpoint --export)", file);
	/* Messages about mapped files say where they were looked for. */
	char *where = NULL;
	if (rc == 0 && s->diff_fd >= 0) {
		if (asprintf(&where, "%s (with %s's rootfs-diff.tar over it)", f->root, file) < 0)
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		else {
			free(f->root);
			f->root = where;
		}
	}
	if (rc != 0) {
		mg_criu_files_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

static struct archive *new_reader(void)
{
	struct archive *a = archive_read_new();
	if (a != NULL && (archive_read_support_filter_all(a) != ARCHIVE_OK ||
			  archive_read_support_format_tar(a) != ARCHIVE_OK)) {
		archive_read_free(a);
		a = NULL;
	}
	return a;
}

int mg_criu_files_open_archive(const char *path, const char *root, mg_criu_files **out,
			       mg_error *err)
{
	*out = NULL;
	struct stat st;
	if (stat(path, &st) != 0)
		return mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return mg_fail(err, MG_ERR_IO, "%s: not a checkpoint archive (not a regular file)", path);
	struct archive *a = new_reader();
	if (a == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "libarchive: cannot set up a reader");
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		int rc = mg_fail(err, MG_ERR_IO, "%s: not a readable checkpoint archive: %s", path,
				 archive_error_string(a) ? archive_error_string(a) : "?");
		archive_read_free(a);
		return rc;
	}
	return open_source(a, path, root, 0, out, err);
}

int mg_criu_files_open_archive_mem(const void *data, size_t len, const char *name,
				   const char *root, uint64_t total_max, mg_criu_files **out,
				   mg_error *err)
{
	*out = NULL;
	struct archive *a = new_reader();
	if (a == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "libarchive: cannot set up a reader");
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		int rc = mg_fail(err, MG_ERR_IO, "%s: not a readable checkpoint archive: %s", name,
				 archive_error_string(a) ? archive_error_string(a) : "?");
		archive_read_free(a);
		return rc;
	}
	return open_source(a, name, root, total_max, out, err);
}
