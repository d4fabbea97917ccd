/* image.c - the parts of a process image common to every source. */
#include "process/image.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ssize_t mg_image_read(mg_image *img, uint64_t addr, void *buf, size_t len)
{
	if (img == NULL || img->ops == NULL || img->ops->read == NULL || len == 0)
		return -1;
	if (addr + len < addr)          /* wraps around the address space */
		return -1;
	return img->ops->read(img, addr, buf, len);
}

const mg_mapping *mg_image_find_mapping(const mg_image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const mg_mapping *m = &img->maps[mid];
		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

void mg_image_warn(mg_image *img, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	char **grown = realloc(img->warnings, (img->nwarnings + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(msg);
		return;
	}
	img->warnings = grown;
	img->warnings[img->nwarnings++] = msg;
}

void mg_image_free(mg_image *img)
{
	if (img == NULL)
		return;
	if (img->ops && img->ops->destroy)
		img->ops->destroy(img);
	for (size_t i = 0; i < img->nmaps; i++)
		free(img->maps[i].path);
	free(img->maps);
	for (size_t i = 0; i < img->nthreads; i++) {
		free(img->threads[i].stack);
		free(img->threads[i].xsave);
	}
	free(img->threads);
	for (size_t i = 0; i < img->nwarnings; i++)
		free(img->warnings[i]);
	free(img->warnings);
	free(img->source);
	free(img->exe);
	free(img);
}

bool mg_mapping_is_libc(const mg_mapping *m)
{
	if (m->kind != MG_MAP_FILE || m->path == NULL)
		return false;
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	return strncmp(base, "libc.so.6", 9) == 0 || strncmp(base, "libc-2.", 7) == 0;
}

static bool glibc_mapped(const mg_image *img)
{
	for (size_t i = 0; i < img->nmaps; i++)
		if (mg_mapping_is_libc(&img->maps[i]))
			return true;
	return false;
}

/* glibc tcbhead_t offsets (sysdeps/x86_64/nptl/tls.h). */
#define TCB_SELF_OFF 0x10
#define TCB_POINTER_GUARD_OFF 0x30

void mg_image_find_pointer_guard(mg_image *img)
{
	for (size_t i = 0; i < img->nthreads; i++) {
		uint64_t fs = img->threads[i].regs.fs_base;
		uint64_t tcb[TCB_POINTER_GUARD_OFF / 8 + 1];
		if (fs == 0 ||
		    mg_image_read(img, fs, tcb, sizeof(tcb)) != (ssize_t)sizeof(tcb) ||
		    tcb[0] != fs || tcb[TCB_SELF_OFF / 8] != fs)
			continue;
		if (!glibc_mapped(img))
			break;
		img->pointer_guard = tcb[TCB_POINTER_GUARD_OFF / 8];
		img->pointer_guard_known = true;
		return;
	}
	mg_image_warn(img, "glibc pointer guard unknown (no glibc TCB found): "
		      "mangled pointers are not followed");
}

void mg_image_copy_stack(mg_image *img, mg_thread *th)
{
	uint64_t rsp = th->regs.rsp;
	const mg_mapping *m = mg_image_find_mapping(img, rsp);
	if (m == NULL && rsp > 0)
		m = mg_image_find_mapping(img, rsp - 1);   /* empty stack: rsp == end */
	if (m == NULL) {
		mg_image_warn(img, "thread %d: stack pointer %#llx is in no mapping; stack not captured",
			      (int)th->tid, (unsigned long long)rsp);
		return;
	}
	uint64_t start = rsp - m->start >= MG_STACK_RED_ZONE ? rsp - MG_STACK_RED_ZONE : m->start;
	size_t len = (size_t)(m->end - start);
	if (len > MG_STACK_COPY_MAX) {
		mg_image_warn(img, "thread %d: stack copy truncated to %zu MiB of %zu MiB",
			      (int)th->tid, MG_STACK_COPY_MAX >> 20, len >> 20);
		len = MG_STACK_COPY_MAX;
	}
	uint8_t *buf = malloc(len);
	if (buf == NULL) {
		mg_image_warn(img, "thread %d: out of memory copying %zu bytes of stack",
			      (int)th->tid, len);
		return;
	}
	ssize_t n = mg_image_read(img, start, buf, len);
	if (n <= 0) {
		mg_image_warn(img, "thread %d: stack at %#llx unreadable; not captured",
			      (int)th->tid, (unsigned long long)start);
		free(buf);
		return;
	}
	if ((size_t)n < len)
		mg_image_warn(img, "thread %d: only %zd of %zu stack bytes readable",
			      (int)th->tid, n, len);
	th->stack_start = start;
	th->stack = buf;
	th->stack_len = (size_t)n;
}

void mg_auxv_parse(const void *auxv, size_t len, uint64_t *at_entry,
		   uint64_t *at_sysinfo_ehdr)
{
	const unsigned char *p = auxv;
	*at_entry = 0;
	*at_sysinfo_ehdr = 0;
	/* Bytes read with memcpy: the live source has a char buffer, and
	 * this makes no alignment or aliasing assumption about either. */
	for (size_t off = 0; off + 16 <= len; off += 16) {
		uint64_t type, val;
		memcpy(&type, p + off, 8);
		memcpy(&val, p + off + 8, 8);
		if (type == AT_NULL)
			break;
		if (type == AT_ENTRY)
			*at_entry = val;
		else if (type == AT_SYSINFO_EHDR)
			*at_sysinfo_ehdr = val;
	}
}
