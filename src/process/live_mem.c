/*
 * live_mem.c - reading a live process's memory and its mapped files
 * (the image's ops once the snapshot is taken).
 *
 * process_vm_readv is the fast path (one syscall per request, no file
 * offset games).  It refuses pages the process itself cannot read (e.g.
 * execute-only code); /proc/PID/mem reads those, as it uses FOLL_FORCE.
 */
#include "process/live_priv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct live_priv {
	pid_t pid;
	int mem_fd;
} live_priv;

static int open_mem(pid_t pid, int *mem_fd, int flags)
{
	if (*mem_fd >= 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	*mem_fd = open(path, flags | O_CLOEXEC);
	return *mem_fd >= 0 ? 0 : -1;
}

ssize_t live_mem_read(pid_t pid, int *mem_fd, uint64_t addr, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (addr + len < addr)
		return -1;
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	size_t got = n > 0 ? (size_t)n : 0;
	if (got == len)
		return (ssize_t)got;

	/* Fall back for the rest.  pread on /proc/PID/mem returns a short
	 * count at the first unreadable page. */
	if (open_mem(pid, mem_fd, O_RDONLY) != 0)
		return got > 0 ? (ssize_t)got : -1;
	while (got < len) {
		ssize_t r = pread(*mem_fd, (char *)buf + got, len - got, (off_t)(addr + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got > 0 ? (ssize_t)got : -1;
}

int live_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	if (process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	/* The read path's fd is read-only: open one for writing. */
	int fd = -1;
	if (open_mem(pid, &fd, O_RDWR) != 0)
		return -1;
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done, (off_t)(addr + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	return done == len ? 0 : -1;
}

static int live_open_mapping(mg_image *img, const mg_mapping *m, mg_error *err);

/*
 * Where the pages of file mapping m that hold file bytes end (the file's
 * size rounded up to a page); m->end when unknown.  The kernel refuses
 * reads beyond (the process itself would get SIGBUS there).
 */
static uint64_t file_bytes_end(mg_image *img, const mg_mapping *m)
{
	mg_error err = { 0 };
	int fd = m->kind == MG_MAP_FILE ? live_open_mapping(img, m, &err) : -1;
	if (fd < 0)
		return m->end;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0;
	if (close(fd) != 0 || !ok)
		return m->end;
	uint64_t size = ((uint64_t)st.st_size + 0xfff) & ~(uint64_t)0xfff;
	if (size <= m->file_offset)
		return m->start;
	return size - m->file_offset < m->end - m->start ? m->start + (size - m->file_offset)
							  : m->end;
}

/*
 * Pages of a file mapping wholly past the end of the file (a database
 * mapped with room to grow) hold nothing and can hold nothing: they read
 * as zeroes, as they do from a CRIU dump, rather than failing (which the
 * analysis must treat as unknown memory).  Only checked when a read
 * stops short, so ordinary reads cost nothing more.
 */
static ssize_t live_read(mg_image *img, uint64_t addr, void *buf, size_t len)
{
	live_priv *p = img->priv;
	ssize_t n = live_mem_read(p->pid, &p->mem_fd, addr, buf, len);
	size_t got = n > 0 ? (size_t)n : 0;
	if (got < len) {
		const mg_mapping *m = mg_image_find_mapping(img, addr + got);
		if (m != NULL && addr + got >= file_bytes_end(img, m)) {
			size_t zeros = len - got < m->end - (addr + got)
				? len - got : (size_t)(m->end - (addr + got));
			memset((uint8_t *)buf + got, 0, zeros);
			got += zeros;
		}
	}
	return got > 0 ? (ssize_t)got : -1;
}

/* Check that fd is the file the mapping shows (same inode), when we can
 * tell: containers and overlayfs may report another device. */
static int check_identity(mg_image *img, const mg_mapping *m, int fd, mg_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return mg_fail(err, MG_ERR_IO, "%s: fstat: %s", m->path, strerror(errno));
	if (major(st.st_dev) == m->dev_major && minor(st.st_dev) == m->dev_minor &&
	    (uint64_t)st.st_ino != m->inode)
		return mg_fail(err, MG_ERR_IO,
			       "pid %d: %s was replaced on disk since it was mapped (inode %llu, mapped %llu)",
			       (int)img->pid, m->path, (unsigned long long)st.st_ino,
			       (unsigned long long)m->inode);
	return 0;
}

static int live_open_mapping(mg_image *img, const mg_mapping *m, mg_error *err)
{
	live_priv *p = img->priv;
	char path[4096 + 64];

	if (m->kind != MG_MAP_FILE || m->path == NULL)
		return mg_fail(err, MG_ERR_IO, "pid %d: mapping %#llx-%#llx has no file",
			       (int)p->pid, (unsigned long long)m->start,
			       (unsigned long long)m->end);
	/* map_files reaches the very inode that is mapped, even if deleted
	 * or inside another mount namespace (needs CAP_SYS_ADMIN or
	 * CAP_CHECKPOINT_RESTORE). */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)p->pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int map_files_errno = errno;

	if (m->deleted)
		return mg_fail(err, MG_ERR_IO,
			       "pid %d: mapped file %s was deleted and %s is not readable: %s",
			       (int)p->pid, m->path, path, strerror(map_files_errno));
	/* The process's root: right for chroots and containers. */
	if ((size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", (int)p->pid, m->path) >=
	    sizeof(path))
		return mg_fail(err, MG_ERR_IO, "pid %d: mapped file path too long: %.200s...",
			       (int)p->pid, m->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mg_fail(err, errno == EACCES || errno == EPERM ? MG_ERR_PERMISSION : MG_ERR_IO,
			       "pid %d: cannot open mapped file %s: %s", (int)p->pid, m->path,
			       strerror(errno));
	if (check_identity(img, m, fd, err) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Files changed less than this before the process started count as
 * changed after: clock ticks, timestamp granularity and clock skew
 * between the ctime and boot-time clocks are all far below it. */
#define START_SLACK_NS (2 * 1000000000LL)

static long long ns_of(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Was the file behind m changed after start_ns (CLOCK_REALTIME)?  True
 * when it cannot be told. */
static bool file_changed_after(mg_image *img, const mg_mapping *m, long long start_ns)
{
	mg_error err = { 0 };
	int fd = live_open_mapping(img, m, &err);
	if (fd < 0)
		return true;
	struct stat st;
	bool old = fstat(fd, &st) == 0 && ns_of(&st.st_ctim) < start_ns - START_SLACK_NS;
	return close(fd) != 0 || !old;
}

/* When pid started, in CLOCK_REALTIME nanoseconds (/proc/PID/stat counts
 * clock ticks after boot; ctime is wall-clock time). */
static bool process_start_ns(pid_t pid, long long *out)
{
	procfs_stat ps;
	struct timespec boot, real;
	long tck = sysconf(_SC_CLK_TCK);
	if (tck <= 0 || procfs_read_stat(pid, 0, &ps) != 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) != 0 || clock_gettime(CLOCK_REALTIME, &real) != 0)
		return false;
	unsigned long long t = ps.start_ticks, hz = (unsigned long long)tck;
	if (t / hz > (unsigned long long)ns_of(&boot) / 1000000000ULL + 1)
		return false;   /* after now: not a start time we can use */
	*out = ns_of(&real) - ns_of(&boot) + (long long)(t / hz) * 1000000000LL +
	       (long long)(t % hz) * (1000000000LL / (long long)hz);
	return true;
}

void live_mark_changed_files(mg_image *img)
{
	long long start_ns = 0;
	bool known = process_start_ns(img->pid, &start_ns);
	const mg_mapping *prev = NULL;
	for (size_t i = 0; i < img->nmaps; i++) {
		mg_mapping *m = &img->maps[i];
		if (m->kind != MG_MAP_FILE || m->path == NULL || m->deleted ||
		    (m->prot & (MG_PROT_WRITE | MG_PROT_EXEC)))
			continue;   /* only read-only data is ever judged by its file */
		if (prev != NULL && prev->inode == m->inode && prev->dev_major == m->dev_major &&
		    prev->dev_minor == m->dev_minor) {
			m->changed_since_start = prev->changed_since_start;
			continue;   /* another part of the same file */
		}
		m->changed_since_start = !known || file_changed_after(img, m, start_ns);
		prev = m;
	}
}

static void live_destroy(mg_image *img)
{
	live_priv *p = img->priv;
	if (p == NULL)
		return;
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	free(p);
	img->priv = NULL;
}

static const mg_image_ops live_ops = {
	.read = live_read,
	.open_mapping = live_open_mapping,
	.destroy = live_destroy,
};

int live_mem_attach_ops(mg_image *img, mg_error *err)
{
	live_priv *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	p->pid = img->pid;
	p->mem_fd = -1;
	img->priv = p;
	img->ops = &live_ops;
	return 0;
}
