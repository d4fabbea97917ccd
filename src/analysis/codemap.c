/*
 * codemap.c - cut a process image's executable memory into units.
 *
 * Each ELF file behind an executable mapping is parsed once (elfutils,
 * process/module.c); a mapping of it becomes the units of the module's
 * functions that fall inside the mapping.  Executable bytes no function
 * covers become gap units, so every code address has a unit.
 */
#include "analysis/codemap.h"

#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE_MASK_4K (~(uint64_t)0xfff)

typedef struct unit_vec {
	mg_unit *v;
	size_t n, cap;
} unit_vec;

static int push_unit(unit_vec *u, const mg_unit *unit, mg_error *err)
{
	if (unit->end <= unit->start)
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 1024;
		mg_unit *v = realloc(u->v, cap * sizeof(*v));
		if (v == NULL)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory (code map)");
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n++] = *unit;
	return 0;
}

/* Is there an instance of mod at this bias already? */
static bool known_bias(const mg_codemap *map, const mg_module *mod, uint64_t bias)
{
	for (size_t i = 0; i < map->nmodules; i++)
		if (map->modules[i].module == mod && map->modules[i].bias == bias)
			return true;
	return false;
}

/*
 * Link-time address that the first byte of mapping m corresponds to, or
 * false if no PT_LOAD segment of the module covers the mapping's offset.
 * Adjacent segments share the file page where one ends and the next
 * begins (node: the end of .rodata and the start of RELRO), so a mapping
 * of that page may belong to either: the one that puts it at a bias the
 * module is already mapped at wins.
 */
static bool mapping_link_address(const mg_codemap *map, const mg_module *mod,
				 const mg_mapping *m, uint64_t *vaddr)
{
	bool found = false;
	for (size_t i = 0; i < mod->nsegments; i++) {
		const mg_segment *s = &mod->segments[i];
		uint64_t off_page = s->offset & PAGE_MASK_4K;
		uint64_t off_end = s->offset + (s->filesz ? s->filesz : s->memsz);
		if (m->file_offset < off_page || m->file_offset >= off_end)
			continue;
		uint64_t v = (s->vaddr & PAGE_MASK_4K) + (m->file_offset - off_page);
		if (!found || known_bias(map, mod, m->start - v))
			*vaddr = v;
		found = true;
		if (known_bias(map, mod, m->start - v))
			break;
	}
	return found;
}

static uint32_t find_or_add_instance(mg_codemap *map, mg_module *mod,
				     const mg_mapping *m, uint64_t bias,
				     mg_error *err)
{
	for (size_t i = 0; i < map->nmodules; i++) {
		mg_loaded_module *lm = &map->modules[i];
		if (lm->module == mod && lm->bias == bias) {
			if (m->start < lm->lo)
				lm->lo = m->start;
			if (m->end > lm->hi)
				lm->hi = m->end;
			return (uint32_t)i;
		}
	}
	mg_loaded_module *grown = realloc(map->modules,
					  (map->nmodules + 1) * sizeof(*grown));
	if (grown == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory (modules)");
		return MG_NO_MODULE;
	}
	map->modules = grown;
	mg_loaded_module *lm = &map->modules[map->nmodules];
	lm->module = mod;
	lm->name = strdup(m->path ? m->path : "?");
	lm->bias = bias;
	lm->lo = m->start;
	lm->hi = m->end;
	if (lm->name == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory (modules)");
		return MG_NO_MODULE;
	}
	return (uint32_t)map->nmodules++;
}

static void inode_key(const mg_mapping *m, char *key, size_t len)
{
	snprintf(key, len, "%u:%u:%" PRIu64, m->dev_major, m->dev_minor, m->inode);
}

/* (device, inode) -> the first executable mapping of that file: a data
 * mapping (GOT, RELRO) belongs to the module its file's code is.  Built
 * once, so that processes with many mappings are not scanned per mapping. */
static GHashTable *index_exec_files(const mg_image *img)
{
	GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (size_t i = 0; i < img->nmaps; i++) {
		const mg_mapping *o = &img->maps[i];
		char key[64];
		if (!(o->prot & MG_PROT_EXEC) || o->kind != MG_MAP_FILE)
			continue;
		inode_key(o, key, sizeof(key));
		if (!g_hash_table_contains(h, key))
			g_hash_table_insert(h, g_strdup(key), (gpointer)o);
	}
	return h;
}

/* Parse the ELF behind mapping m, once per (device, inode).  NULL (and a
 * warning on the image) if it cannot be parsed. */
static mg_module *module_for_mapping(mg_image *img, mg_codemap *map,
				     GHashTable *cache, const mg_mapping *m)
{
	char key[96];
	snprintf(key, sizeof(key), "%u:%u:%" PRIu64 ":%s", m->dev_major,
		 m->dev_minor, m->inode, m->path ? m->path : "");
	gpointer hit;
	if (g_hash_table_lookup_extended(cache, key, NULL, &hit))
		return hit;

	mg_error perr = { 0 };
	mg_module *mod = NULL;
	int fd = img->ops->open_mapping ? img->ops->open_mapping(img, m, &perr) : -1;
	if (fd >= 0) {
		if (mg_module_load(fd, m->path ? m->path : "?", &mod, &perr) != 0)
			mod = NULL;
		close(fd);
	}
	if (mod == NULL) {
		mg_image_warn(img, "%s: not analysable (%s); its executable mappings "
			      "are treated as wholly reachable",
			      m->path ? m->path : "?",
			      perr.msg[0] ? perr.msg : "cannot open");
	} else {
		mg_module **grown = realloc(map->parsed,
					    (map->nparsed + 1) * sizeof(*grown));
		if (grown == NULL) {
			mg_module_free(mod);
			mod = NULL;
		} else {
			map->parsed = grown;
			map->parsed[map->nparsed++] = mod;
		}
	}
	g_hash_table_insert(cache, g_strdup(key), mod);
	return mod;
}

/* Units of one executable mapping of a parsed module. */
static int add_module_units(mg_codemap *map, unit_vec *units, uint32_t mi,
			    const mg_mapping *m, mg_error *err)
{
	const mg_loaded_module *lm = &map->modules[mi];
	const mg_module *mod = lm->module;
	uint64_t cursor = m->start;

	for (size_t i = 0; i < mod->nfuncs; i++) {
		const mg_function *f = &mod->funcs[i];
		uint64_t s = f->start + lm->bias, e = f->end + lm->bias;
		if (e <= m->start || s >= m->end)
			continue;
		if (s < m->start)
			s = m->start;
		if (e > m->end)
			e = m->end;
		if (s > cursor) {   /* bytes no function covers: a gap unit */
			mg_unit gap = { cursor, s, mi, MG_UNIT_FUNCTION, NULL };
			if (push_unit(units, &gap, err))
				return -1;
		}
		if (s < cursor)     /* overlapping ranges: never cover twice */
			s = cursor;
		mg_unit u = { s, e, mi, MG_UNIT_FUNCTION, f };
		if (push_unit(units, &u, err))
			return -1;
		if (e > cursor)
			cursor = e;
	}
	if (cursor < m->end) {
		mg_unit gap = { cursor, m->end, mi, MG_UNIT_FUNCTION, NULL };
		if (push_unit(units, &gap, err))
			return -1;
	}
	return 0;
}

static int add_mapping(mg_image *img, mg_codemap *map, GHashTable *cache,
		       GHashTable *exec_by_inode,
		       unit_vec *units, const mg_mapping *m, mg_error *err)
{
	mg_unit whole = { m->start, m->end, MG_NO_MODULE, MG_UNIT_JIT, NULL };

	switch (m->kind) {
	case MG_MAP_VDSO:
	case MG_MAP_VSYSCALL:
	case MG_MAP_VVAR:
		whole.kind = MG_UNIT_VDSO;
		return (m->prot & MG_PROT_EXEC) ? push_unit(units, &whole, err) : 0;
	case MG_MAP_FILE:
		break;
	default:
		return (m->prot & MG_PROT_EXEC) ? push_unit(units, &whole, err) : 0;
	}

	/* File mapping: parse the ELF if any mapping of it is executable, so
	 * data mappings (GOT, RELRO) are attributed to their module too. */
	mg_module *mod = NULL;
	if (m->prot & MG_PROT_EXEC) {
		mod = module_for_mapping(img, map, cache, m);
	} else {
		char key[64];
		inode_key(m, key, sizeof(key));
		const mg_mapping *o = g_hash_table_lookup(exec_by_inode, key);
		if (o != NULL)
			mod = module_for_mapping(img, map, cache, o);
		if (mod == NULL)
			return 0;
	}

	uint64_t link;
	if (mod == NULL || !mapping_link_address(map, mod, m, &link)) {
		if (!(m->prot & MG_PROT_EXEC))
			return 0;
		if (mod != NULL)
			mg_image_warn(img, "%s: mapping at 0x%" PRIx64 " matches no "
				      "ELF segment; treated as wholly reachable",
				      m->path ? m->path : "?", m->start);
		whole.kind = MG_UNIT_OPAQUE;
		return push_unit(units, &whole, err);
	}
	uint32_t mi = find_or_add_instance(map, mod, m, m->start - link, err);
	if (mi == MG_NO_MODULE)
		return -1;
	if (!(m->prot & MG_PROT_EXEC))
		return 0;
	return add_module_units(map, units, mi, m, err);
}

static int cmp_unit(const void *a, const void *b)
{
	const mg_unit *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}


static int build_region_bits(mg_codemap *map)
{
	map->region_bits = calloc((size_t)1 << (MG_USER_SPACE_BITS - MG_REGION_SHIFT - 3), 1);
	if (map->region_bits == NULL)
		return -1;
	for (size_t i = 0; i < map->nspans; i++) {
		if (map->span_end[i] > (1ull << MG_USER_SPACE_BITS))
			continue;   /* never true for user code; keep the array bounded */
		for (uint64_t r = map->span_start[i] >> MG_REGION_SHIFT;
		     r <= (map->span_end[i] - 1) >> MG_REGION_SHIFT; r++)
			map->region_bits[r >> 3] |= (uint8_t)(1u << (r & 7));
	}
	return 0;
}

/* Merge adjacent units into spans (units are sorted). */
static int build_spans(mg_codemap *map)
{
	size_t n = 0;
	for (size_t i = 0; i < map->nunits; i++)
		if (i == 0 || map->units[i].start != map->units[i - 1].end)
			n++;
	map->span_start = malloc((n ? n : 1) * sizeof(uint64_t));
	map->span_end = malloc((n ? n : 1) * sizeof(uint64_t));
	if (map->span_start == NULL || map->span_end == NULL)
		return -1;
	for (size_t i = 0; i < map->nunits; i++) {
		if (i == 0 || map->units[i].start != map->units[i - 1].end)
			map->span_start[map->nspans++] = map->units[i].start;
		map->span_end[map->nspans - 1] = map->units[i].end;
	}
	return 0;
}

int mg_codemap_build(mg_image *img, mg_codemap *map, mg_error *err)
{
	memset(map, 0, sizeof(*map));
	GHashTable *cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTable *exec_by_inode = index_exec_files(img);
	unit_vec units = { 0 };
	int rc = 0;

	for (size_t i = 0; i < img->nmaps && rc == 0; i++)
		rc = add_mapping(img, map, cache, exec_by_inode, &units, &img->maps[i], err);
	g_hash_table_destroy(cache);
	g_hash_table_destroy(exec_by_inode);
	if (rc != 0) {
		free(units.v);
		mg_codemap_free(map);
		return -1;
	}
	qsort(units.v, units.n, sizeof(*units.v), cmp_unit);
	map->units = units.v;
	map->nunits = units.n;
	if (units.n) {
		map->lo = units.v[0].start;
		map->hi = units.v[units.n - 1].end;
	}
	if (build_spans(map) != 0 || build_region_bits(map) != 0) {
		mg_codemap_free(map);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory (code spans)");
	}
	return 0;
}

static bool in_code_span(const mg_codemap *map, uint64_t addr)
{
	size_t lo = 0, hi = map->nspans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < map->span_start[mid])
			hi = mid;
		else if (addr >= map->span_end[mid])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint32_t mg_codemap_find(const mg_codemap *map, uint64_t addr)
{
	if (addr < map->lo || addr >= map->hi || !mg_codemap_in_code_region(map, addr) ||
	    !in_code_span(map, addr))
		return MG_NO_UNIT;
	size_t lo = 0, hi = map->nunits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const mg_unit *u = &map->units[mid];
		if (addr < u->start)
			hi = mid;
		else if (addr >= u->end)
			lo = mid + 1;
		else
			return (uint32_t)mid;
	}
	return MG_NO_UNIT;
}

uint32_t mg_codemap_module_at(const mg_codemap *map, uint64_t addr)
{
	for (size_t i = 0; i < map->nmodules; i++)
		if (addr >= map->modules[i].lo && addr < map->modules[i].hi)
			return (uint32_t)i;
	return MG_NO_MODULE;
}

void mg_unit_name(const mg_codemap *map, uint32_t ui, char *buf, size_t len)
{
	const mg_unit *u = &map->units[ui];
	switch (u->kind) {
	case MG_UNIT_JIT:
		snprintf(buf, len, "jit@0x%" PRIx64, u->start);
		return;
	case MG_UNIT_OPAQUE:
		snprintf(buf, len, "mapping@0x%" PRIx64, u->start);
		return;
	case MG_UNIT_VDSO:
		snprintf(buf, len, "vdso@0x%" PRIx64, u->start);
		return;
	case MG_UNIT_FUNCTION:
		break;
	}
	uint64_t link = u->start - map->modules[u->module].bias;
	if (u->func && u->func->name)
		snprintf(buf, len, "%s", u->func->name);
	else if (u->func && u->func->origin == MG_FUNC_FDE)
		snprintf(buf, len, "fde@0x%" PRIx64, link);
	else
		snprintf(buf, len, "gap@0x%" PRIx64, link);
}

void mg_codemap_free(mg_codemap *map)
{
	for (size_t i = 0; i < map->nmodules; i++)
		free(map->modules[i].name);
	free(map->modules);
	for (size_t i = 0; i < map->nparsed; i++)
		mg_module_free(map->parsed[i]);
	free(map->parsed);
	free(map->units);
	free(map->span_start);
	free(map->span_end);
	free(map->region_bits);
	memset(map, 0, sizeof(*map));
}
