/*
 * lazy.c - ld.so's lazy-binding trampolines when nothing can bind lazily.
 *
 * _dl_runtime_resolve_{fxsave,xsave,xsavec} (and _dl_runtime_profile_*)
 * run only from a module's PLT through GOT[2], which ld.so fills only
 * when it sets the module up for lazy binding.  The code that fills it
 * (elf_machine_runtime_setup, inlined into _dl_relocate_object) takes
 * their addresses, and stays reachable through dlopen, so every process
 * that can dlopen "needs" the XSAVEC trampoline, even under LD_BIND_NOW.
 * But dlopen binds lazily only when _rtld_global_ro._dl_lazy is set, and
 * LD_BIND_NOW clears it at start-up (elf/rtld.c, process_envvars): then
 * no module will ever be set up for lazy binding, and the trampolines
 * can run only through a GOT[2] that already holds them (followed as
 * usual: the PLT0 stub reads it).  So, when the process's own
 * _rtld_global_ro._dl_lazy reads 0, the address-taking references to
 * them do not reach them.
 *
 * Needs ld.so's symbols and the offset of _dl_lazy, from its debug file
 * (Debian: libc6-dbg; process/module_debug.c); without them nothing
 * changes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

static bool is_trampoline(const char *name)
{
	return name != NULL && (strncmp(name, "_dl_runtime_resolve_", 20) == 0 ||
				strncmp(name, "_dl_runtime_profile_", 20) == 0);
}

/* _rtld_global_ro._dl_lazy of the ld.so instance lm; false if unknown. */
static bool read_dl_lazy(mg_scan_ctx *cx, const mg_loaded_module *lm, int32_t *lazy)
{
	uint64_t va, off;
	if (!mg_module_state_symbol(lm->module, "_rtld_global_ro", &va, NULL) ||
	    !mg_module_member_offset(lm->module, "rtld_global_ro", "_dl_lazy", &off))
		return false;
	return mg_image_read(cx->img, va + off + lm->bias, lazy, 4) == 4;
}

void mg_lazy_init(mg_scan_ctx *cx)
{
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		int32_t lazy;
		if (!read_dl_lazy(cx, lm, &lazy) || lazy != 0)
			continue;
		size_t n = mg_mark_units_named(cx, (uint32_t)i, is_trampoline, cx->no_code_ref);
		if (n)
			mg_scan_fact(cx, "%s: _rtld_global_ro._dl_lazy = 0 (LD_BIND_NOW): nothing "
				     "will be bound lazily, %zu lazy-binding trampolines run only "
				     "through a GOT[2] that holds them", lm->name, n);
	}
}
