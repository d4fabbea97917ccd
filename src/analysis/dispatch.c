/*
 * dispatch.c - libraries that pick per-CPU code by running CPUID.
 *
 * Some libraries keep one table of kernels per CPU type and a dispatcher
 * that runs CPUID, takes the address of every table it could pick, and
 * stores the one it picked.  The tables it did not pick are not reachable
 * through it: if it ever runs again (after the library was shut down), it
 * runs CPUID on the CPU it then runs on, the destination of a migration,
 * and picks a table that CPU supports.  What the process can run is the
 * table it picked, read from its memory (data.c follows the stored
 * pointer like any other).  So the dispatcher's references to the tables
 * do not reach them; every other reference still does.
 *
 * Each model names the dispatcher, the prefix of its tables' symbols and
 * the variable that holds the pick, all exported (no debug file needed):
 *
 *   OpenBLAS (DYNAMIC_ARCH builds, driver/others/dynamic.c):
 *   gotoblas_dynamic_init() returns at once when `gotoblas` is set, and
 *   otherwise sets it from get_coretype() (CPUID and XGETBV: a table the
 *   CPU supports) or, with OPENBLAS_CORETYPE set, from force_coretype(),
 *   whose pick depends only on that variable, so it picked the same table
 *   at start-up.  gotoblas_dynamic_quit() clears it at exit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis/engine.h"

typedef struct cpu_dispatcher {
	const char *library;
	const char *function;      /* exported: detects the CPU, picks a table */
	const char *table_prefix;  /* exported objects it picks from */
	const char *state;         /* exported: the pointer to the pick */
} cpu_dispatcher;

static const cpu_dispatcher dispatchers[] = {
	{ "OpenBLAS", "gotoblas_dynamic_init", "gotoblas_", "gotoblas" },
};

#define NDISPATCHERS (sizeof(dispatchers) / sizeof(dispatchers[0]))

/* The name of the table `state` points to in lm, or NULL. */
static const char *picked_table(mg_scan_ctx *cx, const mg_loaded_module *lm,
				const char *state)
{
	uint64_t va, value;
	if (!mg_module_export_object(lm->module, state, &va) ||
	    !mg_read_u64(cx, va + lm->bias, &value))
		return NULL;
	uint32_t c = mg_data_find(cx, value);
	return c != MG_NO_UNIT ? cx->data.chunks[c].name : NULL;
}

static void add_model(mg_scan_ctx *cx, const mg_loaded_module *lm, const cpu_dispatcher *dp)
{
	uint64_t at;
	bool ifunc;
	if (!mg_module_export_vaddr(lm->module, dp->function, &at, &ifunc) || ifunc)
		return;
	uint32_t u = mg_codemap_find(cx->map, at + lm->bias);
	if (u == MG_NO_UNIT || cx->map->units[u].start != at + lm->bias)
		return;     /* not a unit of its own: the model does not apply */
	mg_dispatch_unit du = { u, dp->table_prefix };
	g_array_append_val(cx->data.dispatchers, du);
	const char *pick = picked_table(cx, lm, dp->state);
	mg_scan_fact(cx, "%s (%s): %s = %s; the other %s* tables are taken only by %s, "
		     "which picks by CPUID where it runs", dp->library, lm->name, dp->state,
		     pick ? pick : "(not a table)", dp->table_prefix, dp->function);
}

void mg_dispatch_init(mg_scan_ctx *cx)
{
	for (size_t i = 0; i < cx->map->nmodules; i++)
		for (size_t k = 0; k < NDISPATCHERS; k++)
			add_model(cx, &cx->map->modules[i], &dispatchers[k]);
}

bool mg_dispatch_skips(const mg_scan_ctx *cx, uint32_t parent, const mg_data_chunk *c)
{
	const GArray *ds = cx->data.dispatchers;
	if (ds == NULL || c->name == NULL)
		return false;
	for (guint i = 0; i < ds->len; i++) {
		const mg_dispatch_unit *du = &g_array_index(ds, mg_dispatch_unit, i);
		if (du->unit == parent && strncmp(c->name, du->table_prefix,
						  strlen(du->table_prefix)) == 0)
			return true;
	}
	return false;
}
