/*
 * criu_identity.c - what a saved answer about an image directory is an
 * answer about.
 *
 * A requirements file saved in an image directory (verdict/restore_guard.h)
 * must not outlive the images it summarises: a new dump into the same
 * directory, or images copied over it, must make it stale.  The identity
 * is a SHA-256 over every image's name and size and, for every image but
 * the page data, its bytes.  The small images (core-*, mm-*, pagemap-*,
 * pstree, files, inventory, cpuinfo, ...: tens of kilobytes) change with
 * every dump (registers, the pagemap, the inventory's run id), so hashing
 * them costs about a millisecond; pages-*.img (up to gigabytes) count by
 * name and size only: their layout is fixed by the pagemap images, which
 * are hashed.  File times are not used: copying a directory (scp, podman's
 * archive export and import) changes them without changing the dump.
 */
#include "process/criu_identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "process/criu_files.h"
#include "process/criu_image.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.img names of the directory, sorted (readdir order is not stable
 * across copies). */
static int list_images(int dirfd, GPtrArray *names, mg_error *err)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return mg_fail(err, MG_ERR_IO, "image directory: %s", strerror(errno));
	}
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".img") == 0)
			g_ptr_array_add(names, g_strdup(de->d_name));
		if (names->len > MG_CRIU_IDENTITY_IMAGES_MAX) {
			closedir(d);
			return mg_fail(err, MG_ERR_IO, "image directory: more than %u images",
				       MG_CRIU_IDENTITY_IMAGES_MAX);
		}
	}
	closedir(d);
	qsort(names->pdata, names->len, sizeof(char *), cmp_names);
	return 0;
}

/* Hash one image: its name, size and (unless page data) its bytes. */
static int hash_image(GChecksum *sum, int dirfd, const char *name, mg_error *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return mg_fail(err, MG_ERR_IO, "%s: %s", name, fd < 0 ? strerror(e) : "not a regular file");
	}
	char head[64 + 32];
	snprintf(head, sizeof(head), "%s\n%lld\n", name, (long long)st.st_size);
	g_checksum_update(sum, (const guchar *)head, (gssize)strlen(head));
	int rc = 0;
	if (strncmp(name, "pages-", 6) != 0) {
		uint8_t *data;
		size_t len;
		rc = mg_criu_read_fd(fd, name, MG_CRIU_FILE_MAX, &data, &len, err);
		if (rc == 0)
			g_checksum_update(sum, data, (gssize)len);
		free(data);
	}
	close(fd);
	return rc;
}

int mg_criu_dir_identity(int dirfd, char out[MG_CRIU_IDENTITY_LEN], size_t *nimages,
			 mg_error *err)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	int rc = list_images(dirfd, names, err);
	for (guint i = 0; rc == 0 && i < names->len; i++)
		rc = hash_image(sum, dirfd, names->pdata[i], err);
	if (rc == 0 && names->len == 0)
		rc = mg_fail(err, MG_ERR_IO, "image directory: no images");
	if (rc == 0) {
		snprintf(out, MG_CRIU_IDENTITY_LEN, "sha256:%s", g_checksum_get_string(sum));
		if (nimages)
			*nimages = names->len;
	}
	g_checksum_free(sum);
	g_ptr_array_free(names, TRUE);
	return rc;
}
