/*
 * live.c - mg_live_open(): a process image from a running process.
 *
 * The sequence, and where each step lives:
 *
 *   1. validate through /proc without touching the process (here):
 *      exists, not a kernel thread, not a zombie, an x86-64 ELF;
 *   2. stop every thread (live_attach.c); the pause starts here;
 *   3. while stopped: maps (live_maps.c), registers, XSAVE, stacks,
 *      pointer guard (live_capture.c), signal handlers (live_inject.c);
 *   4. detach every thread; the pause ends here;
 *   5. check the process survived the scan, and hand over an image whose
 *      other memory is read on demand (live_mem.c).
 */
#include "process/live_priv.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/PID/maps larger than this is refused (about a million mappings). */
#define MAPS_TEXT_MAX ((size_t)256 << 20)

/* A failed /proc/PID/<what> access as an error.  Once the process was
 * seen (seen = true), its disappearance means it exited during the scan. */
static int proc_errno_fail(mg_error *err, pid_t pid, const char *what, int e, bool seen)
{
	if ((e == ENOENT || e == ESRCH) && seen)
		return mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan", (int)pid);
	if (e == ENOENT || e == ESRCH)
		return mg_fail(err, MG_ERR_NO_PROCESS, "no such process: %d", (int)pid);
	if (e == EACCES || e == EPERM)
		return mg_fail(err, MG_ERR_PERMISSION, "cannot read /proc/%d/%s: %s; %s",
			       (int)pid, what, strerror(e), procfs_permission_hint());
	return mg_fail(err, MG_ERR_IO, "cannot read /proc/%d/%s: %s", (int)pid, what,
		       strerror(e));
}

/* Whether /proc/PID/maps is empty: a process without an address space. */
static bool maps_empty(pid_t pid)
{
	char path[64], *text;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (procfs_read(path, 4096, &text, &len) != 0)
		return false;
	free(text);
	return len == 0;
}

/* The executable must be a 64-bit x86 ELF (not i386, not x32). */
static int check_elf(pid_t pid, mg_error *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		/* Not a kernel thread (checked before) and no address
		 * space: it is exiting and has released its memory. */
		if (e == ENOENT && maps_empty(pid))
			return mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan",
				       (int)pid);
		return proc_errno_fail(err, pid, "exe", e, true);
	}
	unsigned char h[20];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	int e = errno;
	close(fd);
	if (n < 0)
		return proc_errno_fail(err, pid, "exe", e, true);
	if (n < (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "pid %d: its executable is not an ELF file", (int)pid);
	unsigned machine = h[EI_DATA] == ELFDATA2MSB ? (unsigned)(h[18] << 8 | h[19])
						     : (unsigned)(h[18] | h[19] << 8);
	if (h[EI_CLASS] == ELFCLASS32 && machine == EM_386)
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "pid %d is a 32-bit (i386) process; only x86-64 is supported",
			       (int)pid);
	if (h[EI_CLASS] == ELFCLASS32 && machine == EM_X86_64)
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "pid %d is an x32 process (32-bit pointers); only x86-64 is supported",
			       (int)pid);
	if (h[EI_CLASS] != ELFCLASS64 || h[EI_DATA] != ELFDATA2LSB || machine != EM_X86_64)
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "pid %d runs a non-x86-64 executable (ELF class %u, machine %u); only x86-64 is supported",
			       (int)pid, h[EI_CLASS], machine);
	return 0;
}

static int check_target(pid_t pid, mg_error *err)
{
	procfs_stat st;
	if (procfs_read_stat(pid, 0, &st) != 0)
		return proc_errno_fail(err, pid, "stat", errno, false);
	if (st.flags & PROCFS_PF_KTHREAD)
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "pid %d is a kernel thread; it has no user-space code to analyse",
			       (int)pid);
	if (st.state == 'Z' || st.state == 'X') {
		uint64_t threads = 0;
		if (procfs_status_field(pid, 0, "Threads:", 10, &threads) == 0 && threads > 1)
			return mg_fail(err, MG_ERR_UNSUPPORTED,
				       "pid %d: its main thread has exited while %llu threads still run; not supported",
				       (int)pid, (unsigned long long)threads - 1);
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "pid %d is a zombie (it has exited and awaits its parent)", (int)pid);
	}
	return check_elf(pid, err);
}

static int read_maps(live_session *s, mg_image *img, mg_error *err)
{
	char path[64], *text;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->pid);
	if (procfs_read(path, MAPS_TEXT_MAX, &text, &len) != 0)
		return proc_errno_fail(err, s->pid, "maps", errno, true);
	mg_error perr;
	mg_error_clear(&perr);
	int rc = mg_maps_parse(text, len, &img->maps, &img->nmaps, &perr);
	free(text);
	if (rc != 0)
		return mg_fail(err, perr.code, "/proc/%d/%s", (int)s->pid, perr.msg);
	if (img->nmaps == 0)
		return mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan", (int)s->pid);
	return 0;
}

static int read_signal_handlers(live_session *s, mg_image *img,
				const mg_live_options *opt, mg_error *err)
{
	uint64_t caught = 0;
	if (procfs_status_field(s->pid, 0, "SigCgt:", 16, &caught) != 0) {
		mg_image_warn(img, "cannot read SigCgt of pid %d: %s; signal handlers unknown",
			      (int)s->pid, strerror(errno));
		img->sigactions_known = false;
		return 0;
	}
	if (!opt->read_sigactions) {
		img->sigactions_known = caught == 0;
		if (caught)
			mg_image_warn(img, "signal handlers not read (disabled); %d caught signals unknown",
				      __builtin_popcountll(caught));
		return 0;
	}
	return live_read_sigactions(s, img, caught, err);
}

/* Everything that needs the threads stopped. */
static int snapshot(live_session *s, mg_image *img, const mg_live_options *opt,
		    mg_error *err)
{
	if (read_maps(s, img, err) != 0 || live_capture_threads(s, img, err) != 0)
		return -1;
	return read_signal_handlers(s, img, opt, err);
}

int live_snapshot_here(pid_t pid, mg_image *img, const mg_live_options *opt,
		       mg_error *err)
{
	live_session s;
	live_session_init(&s, pid);
	int rc = live_attach_all(&s, err);
	if (rc == 0)
		rc = snapshot(&s, img, opt, err);
	live_detach_all(&s);
	if (s.stopping)
		img->pause_ms = live_ms_between(&s.t_first_stop, &s.t_last_resumed);
	live_session_release(&s);
	return rc;
}

static bool still_running(pid_t pid)
{
	procfs_stat st;
	return procfs_read_stat(pid, 0, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

/* Fields that do not need the process stopped. */
static int describe(mg_image *img, pid_t pid, mg_error *err)
{
	char path[64], target[PATH_MAX];
	img->pid = pid;
	if (asprintf(&img->source, "pid %d", (int)pid) < 0) {
		img->source = NULL;
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return proc_errno_fail(err, pid, "exe", errno, true);
	target[n] = '\0';
	img->exe = strdup(target);
	if (img->exe == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (procfs_read_auxv(pid, &img->at_entry, &img->at_sysinfo_ehdr) != 0)
		return proc_errno_fail(err, pid, "auxv", errno, true);
	img->shadow_stack = procfs_shadow_stack(pid);
	return live_mem_attach_ops(img, err);
}

int mg_live_open(pid_t pid, const mg_live_options *opt, mg_image **out,
		 mg_error *err)
{
	static const mg_live_options defaults = { .read_sigactions = true, .isolate = true };

	if (out == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "mg_live_open: no output image");
	*out = NULL;
	if (pid <= 0)
		return mg_fail(err, MG_ERR_NO_PROCESS, "no such process: %d", (int)pid);
	if (opt == NULL)
		opt = &defaults;
	if (check_target(pid, err) != 0)
		return -1;

	mg_image *img = calloc(1, sizeof(*img));
	if (img == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (describe(img, pid, err) != 0) {
		mg_image_free(img);
		return -1;
	}

	int rc = opt->isolate ? live_snapshot_isolated(pid, img, opt, err)
			      : live_snapshot_here(pid, img, opt, err);

	if (rc == 0)
		live_mark_changed_files(img);
	if (rc == 0 && !still_running(pid))
		rc = mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan", (int)pid);
	if (rc != 0) {
		mg_image_free(img);
		return -1;
	}
	*out = img;
	return 0;
}
