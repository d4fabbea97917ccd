/*
 * initdone.c - have all initializers of the loaded modules run?
 *
 * A module's constructors (.preinit_array, .init_array, DT_INIT) run once,
 * when it is loaded: ld.so's _dl_init calls them for the libraries, at
 * start-up and inside dlopen, and glibc's __libc_start_main calls the
 * executable's, before it calls main through __libc_start_call_main.
 * Once they have run, nothing calls them through those arrays again
 * (ld.so only walks the arrays of modules it loads later), so the arrays
 * are no longer roots: OpenBLAS's constructor, for one, takes the address
 * of every per-CPU kernel table to pick one, and the process keeps only
 * the table it picked (data.c).
 *
 * They have all run when
 *   - some thread is inside main: its live stack holds an address in
 *     glibc's __libc_start_call_main, which calls main after the
 *     executable's initializers (and after ld.so ran the libraries'); and
 *   - no thread is loading a module: no thread's pc or live stack holds
 *     an address in ld.so's functions that map, relocate or initialize
 *     modules (by name, from ld.so's symbols; any ld.so function without
 *     a name counts), so no dlopen is under way and no _dl_init is
 *     running constructors.
 * Every thread's stack must have been captured whole.  A stale word in a
 * live frame can only make the answer "not known", which keeps the arrays
 * as roots.  Needs glibc's symbol names (libc6-dbg's debug file, or an
 * unstripped libc); without them, or with another libc, nothing changes.
 */
#include <inttypes.h>
#include <string.h>

#include "analysis/engine.h"

/* The module that holds ld.so (it defines _rtld_global_ro). */
static uint32_t find_ldso(const mg_scan_ctx *cx)
{
	uint64_t va;
	for (size_t i = 0; i < cx->map->nmodules; i++)
		if (mg_module_state_symbol(cx->map->modules[i].module, "_rtld_global_ro", &va, NULL))
			return (uint32_t)i;
	return MG_NO_MODULE;
}

/* The unit of glibc's function `name`: in the libc (the module that
 * exports __libc_start_main) or a static executable; MG_NO_UNIT if no
 * such module names it. */
static uint32_t find_libc_unit(const mg_scan_ctx *cx, const char *name)
{
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		if (!mg_module_export_vaddr(lm->module, "__libc_start_main", NULL, NULL) &&
		    !(lm->module->is_exec && !lm->module->is_dyn))
			continue;
		for (size_t f = 0; f < lm->module->nfuncs; f++) {
			const mg_function *fn = &lm->module->funcs[f];
			if (fn->name != NULL && strcmp(fn->name, name) == 0)
				return mg_codemap_find(cx->map, fn->start + lm->bias);
		}
	}
	return MG_NO_UNIT;
}

/* What one thread shows: is it in main, is it in ld.so, was its stack
 * captured whole? */
typedef struct thread_view {
	bool in_main, in_ldso, complete;
	uint64_t ldso_word;        /* the first word found in ld.so's code */
} thread_view;

/*
 * ld.so's functions that map, relocate or initialize modules: dlopen runs
 * them all below dl_open_worker, start-up below _dl_start / _dl_init.
 * Lazy binding (_dl_fixup, _dl_lookup_symbol_x, ...) loads nothing.  A
 * word in an ld.so function without a name counts too.
 */
static bool loads_modules(const mg_unit *u)
{
	static const char *const loaders[] = {
		"_dl_open", "dl_open_worker", "dl_open_worker_begin", "_dl_init",
		"call_init", "_dl_start", "_dl_start_final", "_dl_sysdep_start",
		"dl_main", "_dl_catch_exception", "_dl_catch_error",
	};
	if (u->func == NULL || u->func->name == NULL || u->func->origin != MG_FUNC_SYMTAB)
		return true;
	for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if (strcmp(u->func->name, loaders[i]) == 0)
			return true;
	return false;
}

static void look_at(const mg_scan_ctx *cx, uint64_t v, uint32_t ldso, uint32_t main_caller,
		    thread_view *tv)
{
	uint32_t u = mg_codemap_find(cx->map, v);
	if (u == MG_NO_UNIT)
		return;
	if (u == main_caller)
		tv->in_main = true;
	if (cx->map->units[u].module == ldso && !tv->in_ldso &&
	    loads_modules(&cx->map->units[u])) {
		tv->in_ldso = true;
		tv->ldso_word = v;
	}
}

bool mg_thread_next_code_word(const mg_scan_ctx *cx, const mg_thread *th, size_t *pos,
			      uint64_t *value)
{
	if (*pos == 0) {
		*pos = 1 + ((8 - (th->stack_start & 7)) & 7);   /* then the aligned words */
		*value = th->regs.rip;
		return true;
	}
	for (size_t off = *pos - 1; th->stack != NULL && off + 8 <= th->stack_len; off += 8) {
		uint64_t v;
		memcpy(&v, th->stack + off, 8);
		if (v - cx->map->lo < cx->map->hi - cx->map->lo &&
		    mg_codemap_in_code_region(cx->map, v)) {
			*pos = off + 8 + 1;
			*value = v;
			return true;
		}
	}
	return false;
}

static thread_view view_thread(const mg_scan_ctx *cx, const mg_thread *th, uint32_t ldso,
			       uint32_t main_caller)
{
	thread_view tv = { false, false, false, 0 };
	if (th->stack != NULL) {
		const mg_mapping *m = mg_image_find_mapping(cx->img, th->regs.rsp);
		tv.complete = m != NULL && th->stack_start + th->stack_len >= m->end;
	}
	uint64_t v;
	for (size_t pos = 0; mg_thread_next_code_word(cx, th, &pos, &v);)
		look_at(cx, v, ldso, main_caller, &tv);
	return tv;
}

bool mg_initializers_done(mg_scan_ctx *cx)
{
	uint32_t ldso = find_ldso(cx);
	uint32_t main_caller = find_libc_unit(cx, "__libc_start_call_main");
	if (main_caller == MG_NO_UNIT) {
		mg_scan_fact(cx, "initializers: glibc's __libc_start_call_main is not named "
			     "(no libc symbols): .init_array entries stay roots");
		return false;
	}
	bool in_main = false;
	for (size_t t = 0; t < cx->img->nthreads; t++) {
		const mg_thread *th = &cx->img->threads[t];
		thread_view tv = view_thread(cx, th, ldso, main_caller);
		if (!tv.complete) {
			mg_scan_fact(cx, "initializers: thread %d's stack was not captured whole: "
				     ".init_array entries stay roots", th->tid);
			return false;
		}
		if (tv.in_ldso) {
			char fn[128];
			mg_unit_name(cx->map, mg_codemap_find(cx->map, tv.ldso_word), fn, sizeof(fn));
			mg_scan_fact(cx, "initializers: thread %d may be loading a module "
				     "(0x%" PRIx64 " in ld.so's %s on its stack): .init_array "
				     "entries stay roots", th->tid, tv.ldso_word, fn);
			return false;
		}
		in_main |= tv.in_main;
	}
	if (!in_main) {
		mg_scan_fact(cx, "initializers: no thread is in main yet: .init_array entries "
			     "stay roots");
		return false;
	}
	mg_scan_fact(cx, "initializers: main is running and no thread is loading a module: "
		     "every module's initializers have run; .init_array entries are not roots");
	return true;
}
