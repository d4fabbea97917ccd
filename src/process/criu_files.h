/*
 * criu_files.h - where the files of a CRIU checkpoint come from.
 *
 * The image reader (criu_image.c) needs two kinds of files: the images
 * (inventory.img, core-<tid>.img, pages-<id>.img, ...) and the files the
 * dumped processes mapped (libraries, executables), as the restored
 * processes will see them.  A checkpoint is either an image directory
 * (`criu dump -D DIR`, files resolved under a root directory) or a
 * container checkpoint archive (`podman container checkpoint --export`:
 * images under checkpoint/, mapped files from a root directory with the
 * archive's rootfs-diff.tar laid over it; criu_archive.c).  Both are an
 * mg_criu_files: every file is handed out as a read-only descriptor, so
 * one parser serves both.
 */
#ifndef MG_PROCESS_CRIU_FILES_H
#define MG_PROCESS_CRIU_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/profile.h"
#include "util/error.h"

typedef struct mg_criu_files mg_criu_files;

typedef struct mg_criu_files_ops {
	/* A descriptor for image `name` (a plain file name, no '/'), or -1
	 * with errno set (ENOENT when the checkpoint has no such image). */
	int (*open_image)(mg_criu_files *f, const char *name);
	/* A descriptor for `path` (absolute, as the dumped process saw it),
	 * or -1 with errno set. */
	int (*open_mapped)(mg_criu_files *f, const char *path);
	/* Release the source's own state (not the common fields). */
	void (*destroy)(mg_criu_files *f);
} mg_criu_files_ops;

struct mg_criu_files {
	const mg_criu_files_ops *ops;
	void *priv;
	char *name;          /* for messages: the directory, or the archive file */
	char *root;          /* for messages: where mapped files come from */
	int root_fd;         /* the root directory */
	bool root_is_host;   /* the root is this machine's "/" */
};

/*
 * An image directory; mapped files are resolved under `root` (NULL or ""
 * is "/").  MG_ERR_IO when dir is not a directory or root cannot be
 * opened.  Free with mg_criu_files_free().
 */
int mg_criu_files_open_dir(const char *dir, const char *root, mg_criu_files **out,
			   mg_error *err);

/* The same over an open directory descriptor (dup'ed: the caller keeps
 * dirfd), e.g. the one CRIU hands its plugins; `name` is for messages. */
int mg_criu_files_open_dirfd(int dirfd, const char *name, const char *root,
			     mg_criu_files **out, mg_error *err);

void mg_criu_files_free(mg_criu_files *f);

/* Read image `name` whole (at most MG_CRIU_FILE_MAX bytes; free *data).
 * MG_ERR_IO naming "<source>/<name>" when it is missing or unreadable. */
int mg_criu_files_read(mg_criu_files *f, const char *name, uint8_t **data, size_t *len,
		       mg_error *err);

/* A read-only descriptor for image `name` (for the pages files, which
 * are read in place); MG_ERR_IO when missing. */
int mg_criu_files_open_image(mg_criu_files *f, const char *name, mg_error *err);

/* Does the checkpoint hold image `name`? */
bool mg_criu_files_has(mg_criu_files *f, const char *name);

/* A read-only descriptor for a mapped file, or -1 with errno set. */
int mg_criu_files_open_mapped(mg_criu_files *f, const char *path);

/*
 * Open `path` (absolute, as the dumped process saw it) under the
 * source's root directory with openat2(RESOLVE_IN_ROOT), so absolute
 * symlinks stay inside the root; -1 with errno set.  For sources that
 * lay something over the root (criu_archive.c).
 */
int mg_criu_files_open_under_root(const mg_criu_files *f, const char *path);

/* Set up the common fields (name, root, root_fd); for the sources. */
int mg_criu_files_init(mg_criu_files *f, const mg_criu_files_ops *ops, const char *name,
		       const char *root, mg_error *err);

/*
 * The source CPU of the checkpoint, from its cpuinfo.img (`criu dump
 * --cpu-cap`, `criu cpuinfo dump`): *present false (and *out untouched)
 * when it has none; else *out as mg_criu_cpuinfo_load() reads it.
 */
int mg_criu_files_cpuinfo(mg_criu_files *f, mg_profile *out, bool *present, mg_error *err);

/*
 * The source CPU of the checkpoint as a scan bounds its answer with:
 * *usable what the source may have used (its features and what its
 * cpuinfo.img cannot decide), *undecided the part of that the profile
 * cannot decide (every feature without a cpuinfo.img: *present false).
 */
int mg_criu_files_source(mg_criu_files *f, mg_feature_set *usable, mg_feature_set *undecided,
			 bool *present, mg_error *err);

/* At most this many bytes of a checkpoint archive are held in memory
 * (the images, rootfs-diff.tar and the changed files read from it). */
#define MG_CRIU_ARCHIVE_TOTAL_MAX ((uint64_t)16 << 30)

/*
 * A container checkpoint archive (`podman container checkpoint --export`,
 * CRI-O's and the kubelet's: a tar, optionally compressed, with the CRIU
 * images under checkpoint/; criu_archive.c).  Read once, without
 * unpacking to disk; mapped files come from rootfs-diff.tar, else from
 * under `root` unless deleted.files names them.  MG_ERR_IO when the
 * file is no such archive, is corrupt or truncated.
 */
int mg_criu_files_open_archive(const char *path, const char *root, mg_criu_files **out,
			       mg_error *err);

/* The same from memory (`name` for messages), holding at most total_max
 * bytes (0: MG_CRIU_ARCHIVE_TOTAL_MAX); for the fuzz target. */
int mg_criu_files_open_archive_mem(const void *data, size_t len, const char *name,
				   const char *root, uint64_t total_max, mg_criu_files **out,
				   mg_error *err);

/* Read an open descriptor whole, at most `max` bytes (`name` for
 * messages): MG_ERR_IO when it is longer or unreadable. */
int mg_criu_read_fd(int fd, const char *name, size_t max, uint8_t **data, size_t *len,
		    mg_error *err);

#endif
