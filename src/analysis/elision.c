/*
 * elision.c - glibc's lock elision when the process has it off.
 *
 * On a CPU with RTM, glibc's pthread_mutex_lock can elide a lock with a
 * hardware transaction: __lll_lock_elision, __lll_trylock_elision,
 * __lll_clocklock_elision and __lll_unlock_elision run XBEGIN/XEND.  They
 * are called directly from the mutex functions, so every threaded program
 * "needs" RTM, which most of the cloud hides.  But glibc takes that path
 * only for a mutex whose kind carries PTHREAD_MUTEX_ELISION_NP, which
 * only FORCE_ELISION sets, and only while __pthread_force_elision is set
 * (sysdeps/unix/sysv/linux/x86/force-elision.h, nptl/pthread_mutex_lock.c;
 * the mutex attribute functions refuse the elision kinds).  The variable
 * is written once, at start-up (elision_init, from the glibc.elision.enable
 * tunable: off by default).  So when start-up is over (initdone.c) and
 * the process's own __pthread_force_elision reads 0, no mutex can ever be
 * elided: the elision functions are reached only by a thread already in
 * one (a root), not by the calls to them.
 *
 * Needs libc's symbols (libc6-dbg's debug file names the functions and
 * the variable); without them nothing changes.
 */
#include <inttypes.h>
#include <string.h>

#include "analysis/engine.h"

static bool is_elision_function(const char *name)
{
	static const char *const names[] = {
		"__lll_lock_elision", "__lll_trylock_elision", "__lll_clocklock_elision",
		"__lll_timedlock_elision", "__lll_unlock_elision",
	};
	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

void mg_elision_init(mg_scan_ctx *cx)
{
	if (cx->opt->method == MG_METHOD_FULL || !cx->data.initializers_done)
		return;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		uint64_t va;
		int32_t force;
		if (!mg_module_state_symbol(lm->module, "__pthread_force_elision", &va, NULL) ||
		    mg_image_read(cx->img, va + lm->bias, &force, 4) != 4 || force != 0)
			continue;
		size_t n = mg_mark_units_named(cx, (uint32_t)i, is_elision_function, cx->no_call);
		if (n)
			mg_scan_fact(cx, "%s: __pthread_force_elision = 0 (lock elision off) after "
				     "start-up: no mutex can be elided, the %zu elision functions "
				     "(XBEGIN) are not reached by the calls to them", lm->name, n);
	}
}
