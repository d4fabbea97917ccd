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

#define CHECKPOINT_DIR "checkpoint/"
#define DELETED_FILES_MAX (16u << 20)
#define MEMBERS_MAX (1u << 20)
#define HARDLINK_HOPS 8

/* One entry of rootfs-diff.tar. */
typedef struct diff_entry {
	size_t ordinal;        /* position in the tar */
	unsigned type;         /* AE_IFREG, AE_IFLNK, ... */
	char *hardlink;        /* target path, or NULL */
	int fd;                /* extracted contents, -1 until needed */
} diff_entry;

typedef struct archive_src {
	GHashTable *images;    /* image name -> fd + 1 (sealed memfd) */
	int diff_fd;           /* rootfs-diff.tar (memfd), -1 if none */
	GHashTable *diff;      /* normalised path -> diff_entry*, NULL until indexed */
	int diff_errno;        /* the index could not be built: its errno */
	char **deleted;        /* normalised paths from deleted.files */
	size_t ndeleted;
	uint64_t total, total_max;
} archive_src;

/* A member name as a relative path: no "./" or "/" in front; NULL when
 * it has a ".." component (it would name a file outside the archive). */
static char *normalise(const char *name)
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

static void close_fd_value(gpointer v)
{
	int fd = GPOINTER_TO_INT(v) - 1;
	if (fd >= 0)
		close(fd);
}

static void diff_entry_free(gpointer v)
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
static int entry_to_memfd(archive_src *s, struct archive *a, const char *file,
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
			? normalise(json_object_get_string(p)) : NULL;
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

/* Keep the current entry (an image, or rootfs-diff.tar) in memory. */
static int keep_member(archive_src *s, struct archive *a, struct archive_entry *e,
		       const char *file, const char *name, mg_error *err)
{
	bool image = strncmp(name, CHECKPOINT_DIR, strlen(CHECKPOINT_DIR)) == 0;
	const char *link = archive_entry_hardlink(e);
	int fd;
	if (link != NULL) {
		/* A hard link has no data of its own: share the target's. */
		char *target = normalise(link);
		gpointer v = target && image &&
			strncmp(target, CHECKPOINT_DIR, strlen(CHECKPOINT_DIR)) == 0
			? g_hash_table_lookup(s->images, target + strlen(CHECKPOINT_DIR)) : NULL;
		free(target);
		if (v == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: %s is a hard link to %s, which is not an "
				       "image before it", file, name, link);
		fd = fcntl(GPOINTER_TO_INT(v) - 1, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return mg_fail(err, MG_ERR_INTERNAL, "dup: %s", strerror(errno));
	} else if ((fd = entry_to_memfd(s, a, file, name, err)) < 0) {
		return -1;
	}
	if (!image) {
		if (s->diff_fd >= 0)
			close(s->diff_fd);      /* a later member of the same name wins */
		s->diff_fd = fd;
		return 0;
	}
	char *key = strdup(name + strlen(CHECKPOINT_DIR));
	if (key == NULL) {
		close(fd);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	g_hash_table_replace(s->images, key, GINT_TO_POINTER(fd + 1));
	return 0;
}

/* Is `name` an image of checkpoint/ (a plain file name right under it)? */
static bool is_image_member(const char *name)
{
	size_t n = strlen(CHECKPOINT_DIR);
	return strncmp(name, CHECKPOINT_DIR, n) == 0 && name[n] != '\0' &&
	       strchr(name + n, '/') == NULL;
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
		char *name = normalise(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if (name == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: member %s leaves the archive (..)", file,
				       archive_entry_pathname(e));
		bool regular = archive_entry_filetype(e) == AE_IFREG;
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

/* --- rootfs-diff.tar ------------------------------------------------------------ */

/* A libarchive reader over the diff tar (mapped from its memfd). */
static struct archive *open_diff(const archive_src *s, void **map, size_t *len)
{
	struct stat st;
	*map = NULL;
	if (fstat(s->diff_fd, &st) != 0 || st.st_size == 0)
		return NULL;
	*len = (size_t)st.st_size;
	*map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, s->diff_fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return NULL;
	}
	struct archive *a = archive_read_new();
	if (a == NULL || archive_read_support_filter_all(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_memory(a, *map, *len) != ARCHIVE_OK) {
		if (a)
			archive_read_free(a);
		munmap(*map, *len);
		*map = NULL;
		return NULL;
	}
	return a;
}

static void close_diff(struct archive *a, void *map, size_t len)
{
	archive_read_free(a);
	munmap(map, len);
}

/* Index the diff: path -> entry (the last of a name wins, as on extraction). */
static int index_diff(archive_src *s)
{
	void *map;
	size_t len;
	struct archive *a = open_diff(s, &map, &len);
	if (a == NULL)
		return EIO;
	s->diff = g_hash_table_new_full(g_str_hash, g_str_equal, free, diff_entry_free);
	struct archive_entry *e;
	int r, rc = 0;
	for (size_t i = 0; (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF; i++) {
		diff_entry *d = r >= ARCHIVE_WARN && i < MEMBERS_MAX ? calloc(1, sizeof(*d)) : NULL;
		char *path = d ? normalise(archive_entry_pathname(e) ? archive_entry_pathname(e) : "") : NULL;
		const char *link = archive_entry_hardlink(e);
		if (path == NULL || (link && (d->hardlink = normalise(link)) == NULL)) {
			free(path);
			diff_entry_free(d);
			rc = EIO;
			break;
		}
		d->ordinal = i;
		d->type = archive_entry_filetype(e);
		d->fd = -1;
		g_hash_table_replace(s->diff, path, d);
	}
	close_diff(a, map, len);
	if (rc != 0) {
		g_hash_table_destroy(s->diff);
		s->diff = NULL;
	}
	return rc;
}

/* Extract entry d of the diff into a memfd (once). */
static int extract_diff(archive_src *s, diff_entry *d)
{
	void *map;
	size_t len;
	struct archive *a = open_diff(s, &map, &len);
	if (a == NULL)
		return -1;
	struct archive_entry *e;
	bool at = false;
	for (size_t i = 0; i <= d->ordinal; i++) {
		at = archive_read_next_header(a, &e) >= ARCHIVE_WARN;
		if (!at)
			break;
	}
	mg_error err = { 0 };
	if (at)
		d->fd = entry_to_memfd(s, a, "rootfs-diff.tar", "a changed file", &err);
	close_diff(a, map, len);
	return d->fd;
}

/*
 * The diff's version of rel: 1 and *fd when the diff has it, 0 when it
 * does not, -1 (errno set) when it has something there that is not a
 * regular file, or cannot be read.
 */
static int diff_lookup(archive_src *s, const char *rel, int *fd)
{
	if (s->diff_fd < 0)
		return 0;
	if (s->diff == NULL && s->diff_errno == 0)
		s->diff_errno = index_diff(s);
	if (s->diff == NULL) {
		errno = s->diff_errno;
		return -1;
	}
	diff_entry *d = g_hash_table_lookup(s->diff, rel);
	for (int hop = 0; d != NULL && d->hardlink != NULL && hop < HARDLINK_HOPS; hop++)
		d = g_hash_table_lookup(s->diff, d->hardlink);
	if (d == NULL)
		return 0;
	if (d->type != AE_IFREG || d->hardlink != NULL) {
		errno = d->type == AE_IFDIR ? EISDIR : ELOOP;
		return -1;
	}
	if (d->fd < 0 && extract_diff(s, d) < 0) {
		errno = EIO;
		return -1;
	}
	*fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 3);
	return *fd < 0 ? -1 : 1;
}

/* Did the container delete rel (or a directory above it)? */
static bool deleted(const archive_src *s, const char *rel)
{
	for (size_t i = 0; i < s->ndeleted; i++) {
		size_t n = strlen(s->deleted[i]);
		if (strncmp(rel, s->deleted[i], n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
			return true;
	}
	return false;
}

/* --- the source ----------------------------------------------------------------- */

static int archive_open_image(mg_criu_files *f, const char *name)
{
	archive_src *s = f->priv;
	gpointer v = g_hash_table_lookup(s->images, name);
	if (v == NULL) {
		errno = ENOENT;
		return -1;
	}
	return fcntl(GPOINTER_TO_INT(v) - 1, F_DUPFD_CLOEXEC, 3);
}

static int archive_open_mapped(mg_criu_files *f, const char *path)
{
	archive_src *s = f->priv;
	char *rel = normalise(path);
	if (rel == NULL) {
		errno = ENOENT;
		return -1;
	}
	int fd = -1;
	int r = diff_lookup(s, rel, &fd);
	bool gone = r == 0 && deleted(s, rel);
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
	s->images = g_hash_table_new_full(g_str_hash, g_str_equal, free, close_fd_value);
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
