/*
 * dlsym.c - which functions dlsym can still return.
 *
 * dlsym(handle, name) returns any exported symbol of any loaded module
 * for a name computed at run time, so once it is reachable the sound
 * answer used to be "every export".  Most calls name the symbol with a
 * constant string, though: `dlsym(h, "gconv_init")`.  This file finds
 * every way the lookup functions (dlsym, dlvsym, __libc_dlsym,
 * __libc_dlvsym) are reached and, at each call site, the name argument:
 *
 *   - a call (direct, through the PLT, or `call *slot(%rip)`) whose name
 *     register (rsi, for all four) holds the address of a NUL-terminated
 *     string in read-only memory, by a constant propagation over the
 *     calling function (straight-line: every branch target inside the
 *     function forgets what is known, every call clobbers the
 *     caller-saved registers): that name's exports, in every module, are
 *     reachable (an IFUNC through its resolver);
 *   - a name the calling function was itself given, in a library that
 *     calls dlsym from a method table on behalf of an API function of its
 *     own (OpenSSL's DSO layer: DSO_bind_func and DSO_global_lookup call
 *     the dlfcn method, which passes their name on): the names passed to
 *     those API functions, whose callers are analysed the same way;
 *   - anything else (a name computed at run time, a lookup function whose
 *     address is taken or stored, a thread stopped inside one): every
 *     export is, as before, and a warning names the site.
 *
 * New code reached by the names can hold more call sites: the scan
 * drains and analyses again until nothing changes (mg_dlsym_resolve).
 * Call sites and ways in are collected as the worklist reaches the
 * lookup functions and their PLT stubs (mg_dlsym_note, from
 * mg_reach_unit, which sees every edge into them: decode.c always
 * reports edges to watched units).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

static const char *const lookup_names[] = { "dlsym", "dlvsym", "__libc_dlsym", "__libc_dlvsym" };
#define NLOOKUP (sizeof(lookup_names) / sizeof(lookup_names[0]))

#define RDI_INDEX (ZYDIS_REGISTER_RDI - ZYDIS_REGISTER_RAX)
#define RSI_INDEX (ZYDIS_REGISTER_RSI - ZYDIS_REGISTER_RAX)

/*
 * API functions of libraries whose dlsym calls sit in a method table and
 * pass on the name the API function was given (crypto/dso/dso_lib.c and
 * dso_dlfcn.c: dlfcn_bindfunc and dlfcn_globallookup are static, stored
 * only in the DSO_METHOD table, and called only through DSO_bind_func and
 * DSO_global_lookup; DSO_METHOD is opaque outside libcrypto).  `marker`
 * is an export that identifies the library.  The API functions are
 * watched like lookups, with their own name register.
 */
typedef struct lookup_api {
	const char *library, *marker, *function;
	int name_reg;
} lookup_api;

static const lookup_api lookup_apis[] = {
	{ "OpenSSL", "DSO_METHOD_openssl", "DSO_bind_func", RSI_INDEX },
	{ "OpenSSL", "DSO_METHOD_openssl", "DSO_global_lookup", RDI_INDEX },
};
#define NAPIS (sizeof(lookup_apis) / sizeof(lookup_apis[0]))

/*
 * Lookups of a modelled library whose name is loaded from its own state,
 * which the same function fills only with these constants: OpenSSL's
 * dynamic engine (crypto/engine/eng_dyn.c) binds ctx->DYNAMIC_F1 and
 * DYNAMIC_F2, set in dynamic_set_data_ctx (inlined into its caller) to
 * "v_check" and "bind_engine" and changed by no control command.  The
 * model applies to a calling function that takes the address of every
 * one of the names itself.
 */
typedef struct stored_names {
	const char *library, *marker;
	const char *names[2];
} stored_names;

static const stored_names stored_name_models[] = {
	{ "OpenSSL", "DSO_METHOD_openssl", { "v_check", "bind_engine" } },
};
#define NSTORED (sizeof(stored_name_models) / sizeof(stored_name_models[0]))

/*
 * Lookups whose name a function formats from a fixed pattern: CPython's
 * _PyImport_FindSharedFuncptr (Python/dynload_shlib.c) formats
 * "%.20s_%.200s" from the hook prefix its only caller passes (importdl.c:
 * "PyInit" for an ASCII module name, "PyInitU" otherwise) and the module's
 * short name: the name starts with "PyInit_" or "PyInitU_", and every
 * export with such a name counts.  The model applies to a calling
 * function that takes the address of the format itself (the function has
 * no symbol in Debian's python3.11).
 */
typedef struct name_pattern {
	const char *library, *marker, *format;
	const char *prefixes[2];
} name_pattern;

static const name_pattern pattern_models[] = {
	{ "CPython", "Py_Initialize", "%.20s_%.200s", { "PyInit_", "PyInitU_" } },
};
#define NPATTERNS (sizeof(pattern_models) / sizeof(pattern_models[0]))

/* A GOT slot of a watched function and the register of its name. */
typedef struct lookup_slot {
	uint64_t addr;
	int name_reg;
} lookup_slot;

static bool is_lookup_name(const char *name)
{
	for (size_t i = 0; name && i < NLOOKUP; i++)
		if (strcmp(name, lookup_names[i]) == 0)
			return true;
	return false;
}

/* The name register of a watched function's name (-1: not watched). */
static int api_name_reg(const char *name)
{
	if (is_lookup_name(name))
		return RSI_INDEX;
	for (size_t i = 0; name && i < NAPIS; i++)
		if (strcmp(name, lookup_apis[i].function) == 0)
			return lookup_apis[i].name_reg;
	return -1;
}

/* "<function>@plt" of a watched function: its name register, else -1. */
static int plt_name_reg(const char *name)
{
	const char *at = name ? strstr(name, "@plt") : NULL;
	if (at == NULL || at[4] != '\0')
		return -1;
	char base[128];
	if ((size_t)(at - name) >= sizeof(base))
		return -1;
	memcpy(base, name, (size_t)(at - name));
	base[at - name] = '\0';
	return api_name_reg(base);
}

static int cmp_slot(const void *a, const void *b)
{
	uint64_t x = ((const lookup_slot *)a)->addr, y = ((const lookup_slot *)b)->addr;
	return x < y ? -1 : x > y;
}

static void watch_unit(mg_scan_ctx *cx, uint32_t u, int name_reg)
{
	if (u == MG_NO_UNIT)
		return;
	cx->dlsym.watch[u] = 1;
	cx->dlsym.name_reg[u] = (uint8_t)name_reg;
}

/* Does lm export `marker` (it is that library)? */
static bool is_library(const mg_loaded_module *lm, const char *marker)
{
	return mg_module_export_vaddr(lm->module, marker, NULL, NULL);
}

/* Watched units (the lookup functions, the API functions of the modelled
 * libraries, their PLT stubs) and GOT slots. */
static void watch_module(mg_scan_ctx *cx, const mg_loaded_module *lm, GArray *slots)
{
	for (size_t k = 0; k < NLOOKUP; k++) {
		const mg_function *f = mg_module_lookup_export(lm->module, lookup_names[k]);
		watch_unit(cx, f ? mg_codemap_find(cx->map, f->start + lm->bias) : MG_NO_UNIT,
			   RSI_INDEX);
	}
	for (size_t k = 0; k < NAPIS; k++) {
		const mg_function *f = mg_module_lookup_export(lm->module, lookup_apis[k].function);
		if (f == NULL || !is_library(lm, lookup_apis[k].marker))
			continue;
		watch_unit(cx, mg_codemap_find(cx->map, f->start + lm->bias),
			   lookup_apis[k].name_reg);
	}
	for (size_t r = 0; r < lm->module->nrelocs; r++) {
		const mg_reloc *rel = &lm->module->relocs[r];
		int reg = api_name_reg(rel->symbol);
		if ((rel->kind == MG_RELOC_JUMP_SLOT || rel->kind == MG_RELOC_GLOB_DAT) && reg >= 0) {
			lookup_slot sl = { rel->offset + lm->bias, reg };
			g_array_append_val(slots, sl);
		}
	}
}

int mg_dlsym_init(mg_scan_ctx *cx)
{
	mg_dlsym_state *d = &cx->dlsym;
	d->watch = calloc(cx->map->nunits ? cx->map->nunits : 1, 1);
	d->name_reg = calloc(cx->map->nunits ? cx->map->nunits : 1, 1);
	d->callers = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	d->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	d->prefixes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (d->watch == NULL || d->name_reg == NULL)
		return -1;
	GArray *slots = g_array_new(FALSE, FALSE, sizeof(lookup_slot));
	for (size_t i = 0; i < cx->map->nmodules; i++)
		watch_module(cx, &cx->map->modules[i], slots);
	for (size_t u = 0; u < cx->map->nunits; u++) {
		const mg_unit *unit = &cx->map->units[u];
		int reg = unit->func && unit->func->origin == MG_FUNC_PLT
			  ? plt_name_reg(unit->func->name) : -1;
		if (reg >= 0)
			watch_unit(cx, (uint32_t)u, reg);
	}
	g_array_sort(slots, cmp_slot);
	d->nslots = slots->len;
	d->slots = (lookup_slot *)g_array_free(slots, FALSE);
	return 0;
}

void mg_dlsym_free(mg_scan_ctx *cx)
{
	mg_dlsym_state *d = &cx->dlsym;
	free(d->watch);
	free(d->name_reg);
	g_free(d->slots);
	if (d->callers)
		g_array_free(d->callers, TRUE);
	if (d->names)
		g_hash_table_destroy(d->names);
	if (d->prefixes)
		g_hash_table_destroy(d->prefixes);
	free(d->why_unknown);
	memset(d, 0, sizeof(*d));
}

/* The name register of the watched function whose GOT slot is at addr,
 * or -1. */
static int slot_name_reg(const mg_scan_ctx *cx, uint64_t addr)
{
	const mg_dlsym_state *d = &cx->dlsym;
	lookup_slot key = { addr, 0 };
	const lookup_slot *sl = d->nslots ? bsearch(&key, d->slots, d->nslots, sizeof(*sl),
						    cmp_slot) : NULL;
	return sl ? sl->name_reg : -1;
}

bool mg_dlsym_is_slot(const mg_scan_ctx *cx, uint64_t addr)
{
	return slot_name_reg(cx, addr) >= 0;
}

/* A reason the result must widen; the first three are kept for the
 * warning, all are counted. */
static void unknown_because(mg_scan_ctx *cx, const char *where, const char *why)
{
	mg_dlsym_state *d = &cx->dlsym;
	d->unbounded = true;
	if (d->nunknown++ >= 3)
		return;
	char *more;
	if (asprintf(&more, "%s%s%s: %s", d->why_unknown ? d->why_unknown : "",
		     d->why_unknown ? "; " : "", where, why) < 0)
		return;
	free(d->why_unknown);
	d->why_unknown = more;
}

/* A lookup whose name comes from the modelled library's API (once per
 * site, as a fact). */
static void note_forwarded(mg_scan_ctx *cx, const char *where, const char *model)
{
	mg_scan_fact(cx, "dlsym at %s: the name its caller gave, through %s's method table "
		     "(bounded by the names passed to its API functions)", where, model);
}

static void unit_label(const mg_scan_ctx *cx, uint32_t unit, char *buf, size_t len)
{
	char name[256];
	mg_unit_name(cx->map, unit, name, sizeof(name));
	const mg_unit *u = &cx->map->units[unit];
	const char *mod = u->module != MG_NO_MODULE ? cx->map->modules[u->module].name : "?";
	const char *base = strrchr(mod, '/');
	snprintf(buf, len, "%s %s", base ? base + 1 : mod, name);
}

static void add_caller(mg_scan_ctx *cx, uint32_t unit)
{
	GArray *c = cx->dlsym.callers;
	for (guint i = 0; i < c->len; i++)
		if (g_array_index(c, uint32_t, i) == unit)
			return;
	g_array_append_val(c, unit);
}

void mg_dlsym_note(mg_scan_ctx *cx, uint32_t unit, mg_reason why, uint32_t parent)
{
	char where[700];
	if (cx->opt->method == MG_METHOD_FULL || (why == MG_WHY_DLSYM && cx->dlsym.unbounded))
		return;     /* the widening itself reaching the lookups' exports */
	switch (why) {
	case MG_WHY_DIRECT:
	case MG_WHY_SLOT:
		/* A call, a jump or a GOT read in the parent: its code says which. */
		if (parent != MG_NO_UNIT && !cx->dlsym.watch[parent]) {
			add_caller(cx, parent);
			return;
		}
		if (parent != MG_NO_UNIT)
			return;     /* a PLT stub jumping to its target */
		break;
	case MG_WHY_LAZY:
		if (parent != MG_NO_UNIT && cx->dlsym.watch[parent])
			return;     /* the stub's own lazy binding */
		break;
	default:
		break;
	}
	unit_label(cx, unit, where, sizeof(where));
	if (parent != MG_NO_UNIT) {
		char from[300];
		unit_label(cx, parent, from, sizeof(from));
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " (%s from %s)",
			 mg_reason_name(why), from);
	} else {
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " (%s)",
			 mg_reason_name(why));
	}
	unknown_because(cx, where, "the lookup is reached other than by a call");
}

/* --- the name argument at each call ---------------------------------------- */

/* Does this call or jump go to a watched function (directly, through its
 * PLT stub, or through its GOT slot)?  Returns the register holding its
 * name, or -1.  *loads is set when the instruction only reads the
 * function's address (the address escapes). */
static int targets_lookup(mg_scan_ctx *cx, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *op, uint64_t next_ip, bool *loads)
{
	*loads = false;
	for (unsigned i = 0; i < in->operand_count_visible; i++) {
		uint64_t target;
		if (op[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op[i].imm.is_relative)
			target = next_ip + (uint64_t)op[i].imm.value.s;
		else if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY && op[i].mem.base == ZYDIS_REGISTER_RIP &&
			 op[i].mem.index == ZYDIS_REGISTER_NONE) {
			target = next_ip + (uint64_t)op[i].mem.disp.value;
			int reg = slot_name_reg(cx, target);
			if (reg >= 0) {
				bool branch = in->mnemonic == ZYDIS_MNEMONIC_CALL ||
					      in->mnemonic == ZYDIS_MNEMONIC_JMP;
				*loads = !branch;
				return reg;
			}
			if (in->mnemonic == ZYDIS_MNEMONIC_LEA) {
				uint32_t u = mg_codemap_find(cx->map, target);
				if (u != MG_NO_UNIT && cx->dlsym.watch[u]) {
					*loads = true;
					return cx->dlsym.name_reg[u];
				}
			}
			continue;
		} else {
			continue;
		}
		uint32_t u = mg_codemap_find(cx->map, target);
		if (u != MG_NO_UNIT && cx->dlsym.watch[u] && in->mnemonic != ZYDIS_MNEMONIC_LEA)
			return cx->dlsym.name_reg[u];
	}
	return -1;
}

/*
 * A lookup in `unit` whose name is the caller's argument `param`: fine
 * when unit belongs to a modelled library (lookup_apis), whose method
 * table calls pass on the names its API functions were given (watched,
 * their callers analysed).  Returns the library's name, or NULL.
 */
static const char *forwarding_model(const mg_scan_ctx *cx, uint32_t unit)
{
	uint32_t mi = cx->map->units[unit].module;
	if (mi == MG_NO_MODULE)
		return NULL;
	for (size_t k = 0; k < NAPIS; k++)
		if (is_library(&cx->map->modules[mi], lookup_apis[k].marker))
			return lookup_apis[k].library;
	return NULL;
}

/* A NUL-terminated string at addr in read-only memory, or NULL. */
static char *constant_string(mg_scan_ctx *cx, uint64_t addr)
{
	const mg_mapping *m = mg_image_find_mapping(cx->img, addr);
	char buf[512];
	if (m == NULL || (m->prot & MG_PROT_WRITE) || !(m->prot & MG_PROT_READ))
		return NULL;
	size_t avail = m->end - addr < sizeof(buf) ? (size_t)(m->end - addr) : sizeof(buf);
	ssize_t got = mg_image_read(cx->img, addr, buf, avail);
	if (got <= 0 || memchr(buf, '\0', (size_t)got) == NULL)
		return NULL;
	return strdup(buf);
}

/* Does the function (decoded in v) take the address of the string `name`? */
static bool takes_string(mg_scan_ctx *cx, const mg_flow_insn *v, size_t n,
			 uint64_t base, const char *name)
{
	for (size_t k = 0; k + 1 < n; k++) {
		if (v[k].in.mnemonic != ZYDIS_MNEMONIC_LEA || v[k].op[1].mem.base != ZYDIS_REGISTER_RIP)
			continue;
		uint64_t at = base + v[k].off + v[k].in.length + (uint64_t)v[k].op[1].mem.disp.value;
		char *s = constant_string(cx, at);
		bool same = s != NULL && strcmp(s, name) == 0;
		free(s);
		if (same)
			return true;
	}
	return false;
}

/* Add a model's two names (or prefixes) to a set of strings it owns. */
static void add_both(GHashTable *set, const char *const two[2])
{
	for (size_t i = 0; i < 2; i++)
		if (!g_hash_table_contains(set, two[i]))
			g_hash_table_add(set, g_strdup(two[i]));
}

/* A lookup whose name the function loaded from memory: the names of a
 * stored-names model that applies (added), or false. */
static bool stored_model(mg_scan_ctx *cx, uint32_t unit, const mg_flow_insn *v, size_t n,
			 const char *where)
{
	const mg_unit *u = &cx->map->units[unit];
	if (u->module == MG_NO_MODULE)
		return false;
	for (size_t k = 0; k < NSTORED; k++) {
		const stored_names *m = &stored_name_models[k];
		if (!is_library(&cx->map->modules[u->module], m->marker))
			continue;
		bool all = true;
		for (size_t i = 0; i < 2 && all; i++)
			all = takes_string(cx, v, n, u->start, m->names[i]);
		if (!all)
			continue;
		add_both(cx->dlsym.names, m->names);
		mg_scan_fact(cx, "dlsym at %s: a name from %s's state, which this function sets "
			     "only to \"%s\" or \"%s\"", where, m->library, m->names[0], m->names[1]);
		return true;
	}
	return false;
}

/* A lookup whose name the function formats: the prefixes of a pattern
 * model that applies (added), or false. */
static bool pattern_model(mg_scan_ctx *cx, uint32_t unit, const mg_flow_insn *v, size_t n,
			  const char *where)
{
	const mg_unit *u = &cx->map->units[unit];
	if (u->module == MG_NO_MODULE)
		return false;
	for (size_t k = 0; k < NPATTERNS; k++) {
		const name_pattern *m = &pattern_models[k];
		if (!is_library(&cx->map->modules[u->module], m->marker) ||
		    !takes_string(cx, v, n, u->start, m->format))
			continue;
		add_both(cx->dlsym.prefixes, m->prefixes);
		mg_scan_fact(cx, "dlsym at %s: %s's module init lookup, a name \"%s...\" or "
			     "\"%s...\" (every such export counts)", where, m->library,
			     m->prefixes[0], m->prefixes[1]);
		return true;
	}
	return false;
}

/* Analyse one calling unit: each lookup call's name, or the reason it is
 * unknown. */
static void analyse_caller(mg_scan_ctx *cx, uint32_t unit)
{
	const mg_unit *u = &cx->map->units[unit];
	const uint8_t *b = mg_unit_bytes(cx, unit);
	char where[300];
	size_t n;
	if (b == NULL)
		return;       /* unreadable: the scan already widened */
	mg_flow_insn *v = mg_flow_decode(cx, b, (size_t)(u->end - u->start), &n);
	mg_reg_state *st = v ? mg_flow_states(cx, v, n, u->start) : NULL;
	if (st == NULL) {
		unit_label(cx, unit, where, sizeof(where));
		unknown_because(cx, where, "out of memory analysing the call");
		free(v);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		uint64_t next_ip = u->start + v[k].off + v[k].in.length;
		bool loads;
		int reg = targets_lookup(cx, &v[k].in, v[k].op, next_ip, &loads);
		if (reg < 0)
			continue;
		unit_label(cx, unit, where, sizeof(where));
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "+0x%x", v[k].off);
		char *name = NULL;
		const char *model;
		if (loads)
			unknown_because(cx, where, "takes the lookup function's address");
		else if (st[k].param[reg] && !st[k].known[reg] &&
			 (model = forwarding_model(cx, unit)) != NULL)
			note_forwarded(cx, where, model);
		else if (!st[k].known[reg] && !st[k].param[reg] &&
			 (stored_model(cx, unit, v, n, where) || pattern_model(cx, unit, v, n, where)))
			;
		else if (!st[k].known[reg] ||
			 (name = constant_string(cx, st[k].value[reg])) == NULL)
			unknown_because(cx, where, "a name computed at run time");
		else if (!g_hash_table_contains(cx->dlsym.names, name))
			g_hash_table_add(cx->dlsym.names, name), name = NULL;
		free(name);
	}
	free(st);
	free(v);
}

/* Reach the exports of one name in every module. */
static size_t reach_name(mg_scan_ctx *cx, const char *name)
{
	size_t added = 0;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		uint64_t resolver;
		uint64_t at = mg_ifunc_export_target(cx, lm, name, &resolver);
		uint32_t u = at ? mg_codemap_find(cx->map, at) : MG_NO_UNIT;
		if (u == MG_NO_UNIT)
			continue;
		if (resolver)      /* dlsym runs the resolver */
			mg_reach_address(cx, resolver, MG_WHY_DLSYM, MG_NO_UNIT, 0);
		if (!cx->state[u].queued)
			added++;
		mg_reach_unit(cx, u, MG_WHY_DLSYM, MG_NO_UNIT, 0);
	}
	/* dlsym returns data objects as well */
	size_t before = cx->data.nreached;
	mg_data_reach_export(cx, name);
	return added + (cx->data.nreached - before);
}

/* Reach every export whose name starts with `prefix`, in every module. */
static size_t reach_prefix(mg_scan_ctx *cx, const char *prefix)
{
	size_t added = 0, len = strlen(prefix);
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_module *m = cx->map->modules[i].module;
		for (size_t f = 0; f < m->nfuncs; f++)
			if (m->funcs[f].exported && m->funcs[f].name &&
			    strncmp(m->funcs[f].name, prefix, len) == 0)
				added += reach_name(cx, m->funcs[f].name);
	}
	return added;
}

bool mg_dlsym_resolve(mg_scan_ctx *cx)
{
	mg_dlsym_state *d = &cx->dlsym;
	bool more = false;
	while (d->analysed < d->callers->len)
		analyse_caller(cx, g_array_index(d->callers, uint32_t, d->analysed++));
	GHashTableIter pi;
	gpointer pk;
	g_hash_table_iter_init(&pi, d->prefixes);
	while (g_hash_table_iter_next(&pi, &pk, NULL)) {
		size_t n = reach_prefix(cx, pk);
		d->bounded_added += n;
		more |= n > 0;
	}
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, d->names);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		size_t n = reach_name(cx, key);
		d->bounded_added += n;
		more |= n > 0;
	}
	return more;
}
