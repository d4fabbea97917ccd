/*
 * live_capture.c - what must be read while the threads are stopped:
 * registers (with fs_base), the XSAVE area, a copy of each stack, and
 * glibc's pointer guard.
 */
#include "process/live_priv.h"

#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

/* 64-bit user code segment selector on Linux (__USER_CS). */
#define USER64_CS 0x33

/* Size of the XSAVE area for every feature the CPU supports.  Computed
 * once: under a hypervisor CPUID traps, and this runs per thread inside
 * the pause. */
static size_t xsave_size(void)
{
	static size_t size;
	if (size == 0) {
		unsigned a, b, c, d;
		size = 4096;
		if (__get_cpuid_max(0, NULL) >= 0xd) {
			__cpuid_count(0xd, 0, a, b, c, d);
			if (c >= 576 && c <= (1u << 20))
				size = c;
		}
	}
	return size;
}

static void capture_xstate(pid_t tid, mg_thread *th)
{
	size_t size = xsave_size();
	uint8_t *buf = calloc(1, size);
	if (buf == NULL)
		return;
	struct iovec iov = { buf, size };
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) != 0 ||
	    iov.iov_len < 520) {
		free(buf);   /* no XSAVE on this CPU: has_xstate stays false */
		return;
	}
	th->xsave = buf;
	th->xsave_len = iov.iov_len;
	memcpy(&th->xstate_bv, buf + 512, sizeof(th->xstate_bv));
	th->has_xstate = true;
}

int live_capture_threads(live_session *s, mg_image *img, mg_error *err)
{
	size_t usable = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].state == LT_STOPPED && !s->threads[i].exiting)
			usable++;
	if (usable == 0)
		return mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan", (int)s->pid);
	img->threads = calloc(usable, sizeof(*img->threads));
	if (img->threads == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");

	for (size_t i = 0; i < s->nthreads; i++) {
		live_thread *t = &s->threads[i];
		if (t->state != LT_STOPPED || t->exiting)
			continue;
		mg_thread *th = &img->threads[img->nthreads];
		th->tid = t->tid;
		if (ptrace(PTRACE_GETREGS, t->tid, NULL, &th->regs) != 0) {
			if (errno == ESRCH)
				continue;   /* killed meanwhile; checked again after detach */
			return mg_fail(err, MG_ERR_INTERNAL, "pid %d: PTRACE_GETREGS(%d): %s",
				       (int)s->pid, (int)t->tid, strerror(errno));
		}
		img->nthreads++;
		if (th->regs.cs != USER64_CS)
			return mg_fail(err, MG_ERR_UNSUPPORTED,
				       "pid %d: thread %d runs 32-bit code (cs=%#llx); only x86-64 is supported",
				       (int)s->pid, (int)t->tid, (unsigned long long)th->regs.cs);
		capture_xstate(t->tid, th);
		mg_image_copy_stack(img, th);
	}
	if (img->nthreads == 0)
		return mg_fail(err, MG_ERR_VANISHED, "pid %d exited during the scan", (int)s->pid);
	mg_image_find_pointer_guard(img);
	return 0;
}
