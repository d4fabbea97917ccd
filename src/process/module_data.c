/*
 * module_data.c - the data objects of a module.
 *
 * A module's writable and relocated data holds the function pointers that
 * make its code reachable: method tables, dispatch tables, vtables.  The
 * analysis counts a table only when something that can run can address it
 * (analysis/data.c), which needs the table's bounds: the sized STT_OBJECT
 * symbols of .symtab, .dynsym and the separate debug file.
 *
 * Only the sections the compiler fills with C objects are split into
 * objects: .data.rel.ro, .data and .bss.  Everything else the dynamic
 * linker or the runtime walks by section bounds (.init_array, .fini_array,
 * .dynamic, .tdata, glibc's __libc_subfreeres and __libc_IO_vtables, any
 * section reached through __start_/__stop_ symbols) stays whole.  Objects
 * that overlap (aliases, a symbol inside another) are merged into one.
 */
#include "process/module_priv.h"

#include <stdlib.h>
#include <string.h>

/* The sections split into objects, in mg_module.data_sections order. */
static const char *const split_sections[MG_DATA_SECTIONS] = {
	".data.rel.ro", ".data", ".bss",
};

void mod_note_data_section(mod_ctx *c, const char *name, const GElf_Shdr *sh)
{
	if (!(sh->sh_flags & SHF_ALLOC) || !(sh->sh_flags & SHF_WRITE) ||
	    (sh->sh_flags & (SHF_EXECINSTR | SHF_TLS)) || sh->sh_size == 0)
		return;
	for (int k = 0; k < MG_DATA_SECTIONS; k++)
		if (strcmp(name, split_sections[k]) == 0 &&
		    c->mp->pub.data_sections[k].end == 0) {
			c->mp->pub.data_sections[k].start = sh->sh_addr;
			c->mp->pub.data_sections[k].end = sh->sh_addr + sh->sh_size;
		}
}

static bool in_split_section(const mg_module *m, uint64_t start, uint64_t end)
{
	for (int k = 0; k < MG_DATA_SECTIONS; k++)
		if (start >= m->data_sections[k].start && end <= m->data_sections[k].end &&
		    end > start)
			return true;
	return false;
}

void mod_add_data_object(mod_ctx *c, const char *name, uint64_t vaddr, uint64_t size,
			 bool exported)
{
	mod_priv *mp = c->mp;
	if (size == 0 || vaddr + size < vaddr)
		return;
	mg_data_object o = {
		.start = vaddr, .end = vaddr + size,
		.name = name ? mod_intern(c, name) : NULL, .exported = exported,
	};
	g_array_append_val(mp->objects, o);
	if (exported && o.name != NULL && !g_hash_table_contains(mp->object_exports, o.name))
		g_hash_table_insert(mp->object_exports, (gpointer)o.name,
				    GSIZE_TO_POINTER(vaddr + 1));
}

static int cmp_object(const void *a, const void *b)
{
	const mg_data_object *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;     /* the larger first */
	return (int)y->exported - (int)x->exported;
}

void mod_publish_data_objects(mod_ctx *c)
{
	mod_priv *mp = c->mp;
	mg_module *m = &mp->pub;
	GArray *objs = mp->objects;

	g_array_sort(objs, cmp_object);
	GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(mg_data_object), objs->len);
	for (guint i = 0; i < objs->len; i++) {
		const mg_data_object *o = &g_array_index(objs, mg_data_object, i);
		if (!in_split_section(m, o->start, o->end))
			continue;
		mg_data_object *last = out->len ? &g_array_index(out, mg_data_object, out->len - 1)
						: NULL;
		if (last != NULL && o->start < last->end) {
			/* An alias or an object inside another: one object. */
			if (o->end > last->end)
				last->end = o->end;
			if (o->exported && !last->exported) {
				last->exported = true;
				last->name = o->name;
			}
			continue;
		}
		g_array_append_val(out, *o);
	}
	m->nobjects = out->len;
	m->objects = (mg_data_object *)g_array_free(out, FALSE);
}

bool mg_module_export_object(const mg_module *m, const char *name, uint64_t *vaddr)
{
	const mod_priv *mp = mod_priv_of(m);
	gpointer v = name && mp->object_exports ? g_hash_table_lookup(mp->object_exports, name)
						 : NULL;
	if (v == NULL)
		return false;
	*vaddr = GPOINTER_TO_SIZE(v) - 1;
	return true;
}

const mg_data_object *mg_module_object_at(const mg_module *m, uint64_t vaddr)
{
	size_t lo = 0, hi = m->nobjects;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vaddr < m->objects[mid].start)
			hi = mid;
		else if (vaddr >= m->objects[mid].end)
			lo = mid + 1;
		else
			return &m->objects[mid];
	}
	return NULL;
}
