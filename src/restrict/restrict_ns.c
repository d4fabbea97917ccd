/*
 * restrict_ns.c - files that must read differently for COMMAND alone
 * (libgcrypt's /etc/gcrypt/hwf.deny): a private mount namespace.
 *
 * The calling process leaves the system's mount namespace
 * (unshare(CLONE_NEWNS); when not root, together with a new user
 * namespace that maps the caller's uid and gid to themselves, so the
 * program still runs as the caller and gains nothing it did not have),
 * makes every mount private so nothing propagates back, and mounts a
 * tmpfs holding the planned text.  An existing file is covered by a bind
 * mount of the new one; a missing one (Debian has no /etc/gcrypt) by an
 * overlay on its nearest existing directory with the file in the upper
 * layer.  The tmpfs is then detached from the tree and its mount point
 * removed: the mounts that use it keep it alive, and nothing is left
 * behind in /tmp.  The rest of the system never sees any of it.
 */
#include "restrict/restrict.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_text(const char *path, const char *text, mg_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
		}
		done += (size_t)w;
	}
	return close(fd) == 0 ? 0 : mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
}

/* Write "map" to /proc/self/FILE (uid_map, gid_map, setgroups). */
static int proc_self_write(const char *file, const char *map, mg_error *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/%s", file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return mg_fail(err, MG_ERR_PERMISSION, "%s: %s", path, strerror(errno));
	ssize_t w = write(fd, map, strlen(map));
	int saved = errno;
	close(fd);
	if (w != (ssize_t)strlen(map))
		return mg_fail(err, MG_ERR_PERMISSION, "%s: %s", path, strerror(saved));
	return 0;
}

static int leave_mount_namespace(mg_error *err)
{
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS) != 0)
			return mg_fail(err, MG_ERR_PERMISSION, "unshare(CLONE_NEWNS): %s",
				       strerror(errno));
	} else {
		uid_t uid = geteuid();
		gid_t gid = getegid();
		char map[64];
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
			return mg_fail(err, MG_ERR_PERMISSION, "not root, and no user namespace "
				       "(unshare: %s)", strerror(errno));
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		if (proc_self_write("uid_map", map, err) != 0 ||
		    proc_self_write("setgroups", "deny\n", err) != 0)
			return -1;
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		if (proc_self_write("gid_map", map, err) != 0)
			return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return mg_fail(err, MG_ERR_PERMISSION, "making / private: %s", strerror(errno));
	return 0;
}

/* mkdir -p of dir's components under base (both absolute, no "..") */
static int make_dirs(const char *path, mg_error *err)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return mg_fail(err, MG_ERR_IO, "mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return mg_fail(err, MG_ERR_IO, "mkdir %s: %s", buf, strerror(errno));
	return 0;
}

/* The nearest existing directory above path (path itself excluded). */
static void existing_parent(const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s", path);
	struct stat st;
	for (;;) {
		char *slash = strrchr(out, '/');
		if (slash == NULL || slash == out) {
			snprintf(out, size, "/");
			return;
		}
		*slash = '\0';
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return;
	}
}

static int show_file(const char *scratch, int index, mg_restrict_file *f, mg_error *err)
{
	char src[4096];
	struct stat st;
	if (f->path[0] != '/' || strstr(f->path, "/.."))
		return mg_fail(err, MG_ERR_INTERNAL, "%s: not an absolute path", f->path);
	if (stat(f->path, &st) == 0) {
		snprintf(src, sizeof(src), "%s/file%d", scratch, index);
		if (write_text(src, f->text, err) != 0)
			return -1;
		if (mount(src, f->path, NULL, MS_BIND, NULL) != 0)
			return mg_fail(err, MG_ERR_PERMISSION, "bind mount on %s: %s", f->path,
				       strerror(errno));
		return 0;
	}
	char base[1024], upper[1024], work[1024], opts[4096];
	existing_parent(f->path, base, sizeof(base));
	snprintf(upper, sizeof(upper), "%s/upper%d", scratch, index);
	snprintf(work, sizeof(work), "%s/work%d", scratch, index);
	snprintf(src, sizeof(src), "%s%s", upper, f->path + strlen(base));
	char *dir = strrchr(src, '/');
	*dir = '\0';
	if (make_dirs(src, err) != 0 || make_dirs(work, err) != 0)
		return -1;
	*dir = '/';
	if (write_text(src, f->text, err) != 0)
		return -1;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", base, upper, work);
	if (mount("overlay", base, "overlay", 0, opts) != 0)
		return mg_fail(err, MG_ERR_PERMISSION, "overlay on %s: %s", base, strerror(errno));
	return 0;
}

int mg_restrict_enter_namespace(mg_restriction *r, mg_error *err)
{
	if (r->nfiles == 0)
		return 0;
	if (leave_mount_namespace(err) != 0)
		return -1;
	char scratch[] = "/tmp/migratable-run-XXXXXX";
	if (mkdtemp(scratch) == NULL)
		return mg_fail(err, MG_ERR_IO, "mkdtemp: %s", strerror(errno));
	int rc = 0;
	if (mount("tmpfs", scratch, "tmpfs", 0, "mode=0755") != 0)
		rc = mg_fail(err, MG_ERR_PERMISSION, "tmpfs on %s: %s", scratch, strerror(errno));
	for (size_t i = 0; rc == 0 && i < r->nfiles; i++)
		if ((rc = show_file(scratch, (int)i, &r->files[i], err)) == 0)
			r->files[i].applied = true;
	/* Only the mounts made from it hold the tmpfs now. */
	if (umount2(scratch, MNT_DETACH) == 0 && rmdir(scratch) != 0 && rc == 0)
		rc = mg_fail(err, MG_ERR_IO, "rmdir %s: %s", scratch, strerror(errno));
	return rc;
}
