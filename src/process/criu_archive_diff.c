/*
 * criu_archive_diff.c - the files a container changed, from its checkpoint
 * archive: rootfs-diff.tar (added or modified files, laid over the root)
 * and deleted.files (removed ones).  The diff is indexed on the first
 * lookup (one pass over its headers) and each file a process mapped is
 * extracted once, into a sealed memfd.
 */
#include "process/criu_archive_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive_entry.h>

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
	s->diff = g_hash_table_new_full(g_str_hash, g_str_equal, free, mg_archive_diff_entry_free);
	struct archive_entry *e;
	int r, rc = 0;
	for (size_t i = 0; (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF; i++) {
		diff_entry *d = r >= ARCHIVE_WARN && i < MEMBERS_MAX ? calloc(1, sizeof(*d)) : NULL;
		char *path = d ? mg_archive_normalise(archive_entry_pathname(e) ? archive_entry_pathname(e) : "") : NULL;
		const char *link = archive_entry_hardlink(e);
		if (path == NULL || (link && (d->hardlink = mg_archive_normalise(link)) == NULL)) {
			free(path);
			mg_archive_diff_entry_free(d);
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
		d->fd = mg_archive_entry_to_memfd(s, a, "rootfs-diff.tar", "a changed file", &err);
	close_diff(a, map, len);
	return d->fd;
}

/*
 * The diff's version of rel: 1 and *fd when the diff has it, 0 when it
 * does not, -1 (errno set) when it has something there that is not a
 * regular file, or cannot be read.
 */
int mg_archive_diff_lookup(archive_src *s, const char *rel, int *fd)
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
bool mg_archive_deleted(const archive_src *s, const char *rel)
{
	for (size_t i = 0; i < s->ndeleted; i++) {
		size_t n = strlen(s->deleted[i]);
		if (strncmp(rel, s->deleted[i], n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
			return true;
	}
	return false;
}

