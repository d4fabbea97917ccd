/*
 * fuzz_module.c - libFuzzer target for the ELF module model: any byte
 * string must load or fail with an error, never crash or leak.
 *
 * Build: make fuzz, then
 *   build-fuzz/fuzz/fuzz_module -max_total_time=60 corpus/ seeds/
 * with seeds such as small real ELF executables and shared objects.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "process/module.h"

/* Exercise the lookups over what was loaded, as the analysis would. */
static void walk(const mg_module *m)
{
	for (size_t i = 0; i < m->nfuncs; i++) {
		const mg_function *f = &m->funcs[i];

		if (f->start >= f->end || (i > 0 && m->funcs[i - 1].end > f->start) ||
		    mg_module_function_at(m, f->start) != f)
			abort();   /* broken invariant: report as a crash */
		if (f->name != NULL && f->exported)
			(void)mg_module_lookup_export(m, f->name);
		(void)mg_module_in_plt(m, f->start);
		(void)mg_module_vaddr_to_offset(m, f->start);
	}
	for (size_t i = 0; i < m->nrelocs; i++) {
		if (mg_module_reloc_at(m, m->relocs[i].offset) == NULL)
			abort();
		if (m->relocs[i].symbol != NULL)
			(void)mg_module_lookup_export(m, m->relocs[i].symbol);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	mg_module *m = NULL;
	mg_error err = { 0 };

	if (fd < 0) {
		fd = memfd_create("fuzz_module", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (mg_module_load(fd, "fuzz-input", &m, &err) == 0) {
		walk(m);
		mg_module_free(m);
	} else if (err.code == 0 || strstr(err.msg, "fuzz-input") == NULL) {
		abort();   /* every failure must say what and name the file */
	}
	return 0;
}
