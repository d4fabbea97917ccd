/*
 * criu_archive_priv.h - what the two halves of the checkpoint archive
 * source share: criu_archive.c (the archive and its images) and
 * criu_archive_diff.c (rootfs-diff.tar and deleted.files).
 */
#ifndef MG_PROCESS_CRIU_ARCHIVE_PRIV_H
#define MG_PROCESS_CRIU_ARCHIVE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <archive.h>
#include <glib.h>

#include "util/error.h"

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
	GHashTable *images;    /* image name -> image_member* */
	int diff_fd;           /* rootfs-diff.tar (memfd), -1 if none */
	GHashTable *diff;      /* normalised path -> diff_entry*, NULL until indexed */
	int diff_errno;        /* the index could not be built: its errno */
	char **deleted;        /* normalised paths from deleted.files */
	size_t ndeleted;
	uint64_t total, total_max;
} archive_src;

/* A member name as a relative path: no "./" or "/" in front, no trailing
 * "/"; NULL when it has a ".." component (it would leave the archive). */
char *mg_archive_normalise(const char *name);

/* The data of the current entry of `a` into a new sealed memfd, counted
 * against s->total_max; -1 with MG_ERR_IO naming `what` of `file`. */
int mg_archive_entry_to_memfd(archive_src *s, struct archive *a, const char *file,
			      const char *what, mg_error *err);

void mg_archive_diff_entry_free(gpointer v);

/*
 * The diff's version of rel: 1 and *fd when rootfs-diff.tar has it, 0
 * when it does not, -1 (errno set) when it has something there that is
 * not a regular file, or cannot be read.
 */
int mg_archive_diff_lookup(archive_src *s, const char *rel, int *fd);

/* Did the container delete rel, or a directory above it (deleted.files)? */
bool mg_archive_deleted(const archive_src *s, const char *rel);

#endif
