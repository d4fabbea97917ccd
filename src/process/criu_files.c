/*
 * criu_files.c - the files of a CRIU checkpoint: the common part, and
 * the image directory (`criu dump -D DIR`) as a source.
 */
#include "process/criu_files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "process/criu_image.h"

int mg_criu_read_fd(int fd, const char *name, size_t max, uint8_t **data, size_t *len,
		    mg_error *err)
{
	*data = NULL;
	*len = 0;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return mg_fail(err, MG_ERR_IO, "%s: not a regular file", name);
	if ((uint64_t)st.st_size > max)
		return mg_fail(err, MG_ERR_IO, "%s: %lld bytes, more than the %zu a CRIU image may have",
			       name, (long long)st.st_size, max);
	size_t cap = (size_t)st.st_size;
	uint8_t *buf = malloc(cap ? cap : 1);
	if (buf == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "%s: out of memory", name);
	size_t got = 0;
	while (got < cap) {
		ssize_t n = pread(fd, buf + got, cap - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return mg_fail(err, MG_ERR_IO, "%s: %s", name, strerror(e));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*data = buf;
	*len = got;
	return 0;
}

/* --- common ------------------------------------------------------------------ */

int mg_criu_files_init(mg_criu_files *f, const mg_criu_files_ops *ops, const char *name,
		       const char *root, mg_error *err)
{
	if (root == NULL || *root == '\0')
		root = "/";
	f->ops = ops;
	f->root_fd = -1;
	f->name = strdup(name);
	f->root = strdup(root);
	if (f->name == NULL || f->root == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	f->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0)
		return mg_fail(err, MG_ERR_IO, "criu:%s: root %s: %s", name, root, strerror(errno));
	struct stat rst, slash;
	f->root_is_host = fstat(f->root_fd, &rst) == 0 && stat("/", &slash) == 0 &&
			  rst.st_dev == slash.st_dev && rst.st_ino == slash.st_ino;
	return 0;
}

void mg_criu_files_free(mg_criu_files *f)
{
	if (f == NULL)
		return;
	if (f->ops && f->ops->destroy)
		f->ops->destroy(f);
	if (f->root_fd >= 0)
		close(f->root_fd);
	free(f->name);
	free(f->root);
	free(f);
}

int mg_criu_files_open_under_root(const mg_criu_files *f, const char *path)
{
	const char *rel = path;
	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		rel = ".";
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	int fd = (int)syscall(SYS_openat2, f->root_fd, rel, &how, sizeof(how));
	/* Without openat2 (old kernel, a seccomp filter), plain openat is the
	 * same thing only when the root is "/": under another root it would
	 * follow absolute symlinks out of it, so fail instead. */
	if (fd < 0 && (errno == ENOSYS || errno == EPERM) && f->root_is_host)
		fd = openat(f->root_fd, rel, O_RDONLY | O_CLOEXEC);
	return fd;
}

int mg_criu_files_open_mapped(mg_criu_files *f, const char *path)
{
	return f->ops->open_mapped(f, path);
}

/* Image names are plain file names: never a path out of the checkpoint. */
static bool valid_image_name(const char *name)
{
	return *name != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

int mg_criu_files_open_image(mg_criu_files *f, const char *name, mg_error *err)
{
	if (!valid_image_name(name))
		return mg_fail(err, MG_ERR_IO, "criu:%s: bad image name '%s'", f->name, name);
	int fd = f->ops->open_image(f, name);
	if (fd < 0)
		return mg_fail(err, MG_ERR_IO, "%s/%s: %s", f->name, name, strerror(errno));
	return fd;
}

bool mg_criu_files_has(mg_criu_files *f, const char *name)
{
	if (!valid_image_name(name))
		return false;
	int fd = f->ops->open_image(f, name);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int mg_criu_files_read(mg_criu_files *f, const char *name, uint8_t **data, size_t *len,
		       mg_error *err)
{
	*data = NULL;
	*len = 0;
	int fd = mg_criu_files_open_image(f, name, err);
	if (fd < 0)
		return -1;
	char *label = NULL;
	int rc = asprintf(&label, "%s/%s", f->name, name) < 0
		? mg_fail(err, MG_ERR_INTERNAL, "out of memory")
		: mg_criu_read_fd(fd, label, MG_CRIU_FILE_MAX, data, len, err);
	if (label == NULL)
		rc = -1;
	free(label);
	close(fd);
	return rc;
}

int mg_criu_files_source(mg_criu_files *f, mg_feature_set *usable, mg_feature_set *undecided,
			 bool *present, mg_error *err)
{
	mg_profile prof;
	mg_profile_init(&prof);
	mg_fset_clear(undecided);
	if (mg_criu_files_cpuinfo(f, &prof, present, err) != 0)
		return -1;
	if (*present) {
		*undecided = prof.unknown;
		mg_fset_subtract(undecided, &prof.features);
		*usable = prof.features;
		mg_profile_free(&prof);
	} else {
		for (size_t id = 0; id < mg_feature_count(); id++)
			mg_fset_add(undecided, (mg_feature_id)id);
		mg_fset_clear(usable);
	}
	mg_fset_union(usable, undecided);
	return 0;
}

int mg_criu_files_cpuinfo(mg_criu_files *f, mg_profile *out, bool *present, mg_error *err)
{
	*present = false;
	if (!mg_criu_files_has(f, "cpuinfo.img"))
		return 0;
	uint8_t *data;
	size_t len;
	char *origin = NULL;
	if (asprintf(&origin, "%s/cpuinfo.img", f->name) < 0)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	int rc = mg_criu_files_read(f, "cpuinfo.img", &data, &len, err);
	if (rc == 0) {
		rc = mg_criu_cpuinfo_load_mem(origin, data, len, out, err);
		free(data);
	}
	if (rc == 0) {
		/* Named by where it came from, as a --target/--source file is. */
		free(out->name);
		out->name = origin;
		origin = NULL;
	}
	free(origin);
	*present = rc == 0;
	return rc;
}

/* --- an image directory ------------------------------------------------------ */

static int dir_open_image(mg_criu_files *f, const char *name)
{
	int dirfd = (int)(intptr_t)f->priv;
	return openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static int dir_open_mapped(mg_criu_files *f, const char *path)
{
	return mg_criu_files_open_under_root(f, path);
}

static void dir_destroy(mg_criu_files *f)
{
	int dirfd = (int)(intptr_t)f->priv;
	if (dirfd >= 0)
		close(dirfd);
}

static const mg_criu_files_ops dir_ops = {
	.open_image = dir_open_image,
	.open_mapped = dir_open_mapped,
	.destroy = dir_destroy,
};

int mg_criu_files_open_dirfd(int dirfd, const char *name, const char *root,
			     mg_criu_files **out, mg_error *err)
{
	*out = NULL;
	mg_criu_files *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	f->priv = (void *)(intptr_t)-1;
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		int e = errno;
		free(f);
		return mg_fail(err, MG_ERR_IO, "criu:%s: %s", name, strerror(e));
	}
	f->priv = (void *)(intptr_t)fd;
	if (mg_criu_files_init(f, &dir_ops, name, root, err) != 0) {
		mg_criu_files_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

int mg_criu_files_open_dir(const char *dir, const char *root, mg_criu_files **out,
			   mg_error *err)
{
	*out = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mg_fail(err, MG_ERR_IO, "criu:%s: not a directory (%s)", dir, strerror(errno));
	int rc = mg_criu_files_open_dirfd(fd, dir, root, out, err);
	close(fd);
	return rc;
}
