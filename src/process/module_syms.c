/*
 * module_syms.c - data symbols whose values the analysis reads in a
 * process: the state of code generators (JIT engines) and of runtime
 * dispatchers, which says what code they can still run or emit.
 *
 * A module keeps the address of a data symbol only if its name is on the
 * list below: a big library (libjvm.so, node) has over 100 000 symbols,
 * and the analysis needs a handful.  Names are as they appear in the
 * symbol table (C++ names mangled).  Both .symtab and .dynsym are read.
 */
#include "process/module_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sorted (strcmp order): looked up with bsearch. */
static const char *const state_symbols[] = {
	"UseAES",                                        /* HotSpot flags (jit.c) */
	"UseAVX",
	"UseCLMUL",
	"UseCountLeadingZerosInstruction",
	"UseFMA",
	"UseRTMLocking",
	"UseSHA",
	"UseSSE",
	"_ZN10VM_Version15_features_namesE",             /* HotSpot feature names */
	"_ZN19Abstract_VM_Version9_featuresE",           /* HotSpot feature bits */
	"_ZN2v88internal11CpuFeatures10supported_E",     /* V8 feature bits */
	"_ZN2v88internal7Version6major_E",               /* V8 version */
	"_ZN2v88internal7Version6minor_E",
	"__pthread_force_elision",                       /* glibc's lock elision (elision.c) */
	"_rtld_global_ro",                               /* ld.so's read-only state (lazy.c) */
};

/*
 * Members of that state whose offsets come from a debug file's DWARF
 * (module_debug.c): the struct type and member, read when the module
 * holds `symbol`.
 */
static const mod_state_member state_members[] = {
	/* ld.so: LD_BIND_NOW clears it; dlopen binds lazily only when set. */
	{ "_rtld_global_ro", "rtld_global_ro", "_dl_lazy" },
};

size_t mod_state_member_count(void)
{
	return sizeof(state_members) / sizeof(state_members[0]);
}

const mod_state_member *mod_state_member_get(size_t i)
{
	return i < mod_state_member_count() ? &state_members[i] : NULL;
}

void mod_add_state_member(mod_ctx *c, const char *type, const char *member, uint64_t off)
{
	char name[256];
	snprintf(name, sizeof(name), "%s.%s", type, member);
	mod_member_off m = { mod_intern(c, name), off };
	g_array_append_val(c->mp->members, m);
}

bool mg_module_member_offset(const mg_module *m, const char *type, const char *member,
			     uint64_t *off)
{
	const mod_priv *mp = mod_priv_of(m);
	char name[256];
	snprintf(name, sizeof(name), "%s.%s", type, member);
	for (guint i = 0; mp->members && i < mp->members->len; i++) {
		const mod_member_off *x = &g_array_index(mp->members, mod_member_off, i);
		if (strcmp(x->name, name) == 0) {
			*off = x->offset;
			return true;
		}
	}
	return false;
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

bool mod_is_state_symbol(const char *name)
{
	return name != NULL &&
	       bsearch(name, state_symbols, sizeof(state_symbols) / sizeof(state_symbols[0]),
		       sizeof(state_symbols[0]), cmp_name) != NULL;
}

void mod_add_state_symbol(mod_ctx *c, const char *name, uint64_t vaddr, uint64_t size)
{
	mod_priv *mp = c->mp;
	mod_state_sym s = { mod_intern(c, name), vaddr, size };

	for (guint i = 0; i < mp->state_syms->len; i++)
		if (strcmp(g_array_index(mp->state_syms, mod_state_sym, i).name, name) == 0)
			return;     /* in .symtab and .dynsym: one is enough */
	g_array_append_val(mp->state_syms, s);
}

bool mg_module_state_symbol(const mg_module *m, const char *name, uint64_t *vaddr,
			    uint64_t *size)
{
	const mod_priv *mp = mod_priv_of(m);

	for (guint i = 0; mp->state_syms && i < mp->state_syms->len; i++) {
		const mod_state_sym *s = &g_array_index(mp->state_syms, mod_state_sym, i);
		if (strcmp(s->name, name) == 0) {
			*vaddr = s->vaddr;
			if (size)
				*size = s->size;
			return true;
		}
	}
	return false;
}
