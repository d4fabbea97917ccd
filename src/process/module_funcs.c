/*
 * module_funcs.c - the function ranges of a module.
 *
 * Every executable byte of the module must belong to exactly one range,
 * so the analysis always finds a unit for a code address.  Sources, from
 * the most to the least trusted (a later layer only fills what the earlier
 * ones left uncovered):
 *   1. STT_FUNC / STT_GNU_IFUNC symbols with a size (.symtab + .dynsym);
 *   2. PLT entries (.plt, .plt.sec, .plt.got), named "<sym>@plt";
 *   3. zero-size function symbols, extended to the next known start;
 *   4. .eh_frame FDE ranges (what survives `strip --strip-all`);
 *   5. gaps: whatever executable bytes remain.
 */
#include "process/module_priv.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A function range under construction. */
typedef struct fcand {
	uint64_t start, end;
	const char *name;
	int rank;
	mg_func_origin origin;
	bool ifunc, exported;
} fcand;

/* One function symbol as read from a table. */
typedef struct rsym {
	uint64_t value, size;
	const char *name;
	int rank;
	bool ifunc, exported;
} rsym;

typedef struct funcs_ctx {
	mod_ctx *c;
	GArray *regions;    /* mg_range: executable PT_LOADs, sorted */
	GArray *xsections;  /* mg_range: SHF_EXECINSTR sections */
} funcs_ctx;

/* ---- executable regions ------------------------------------------------ */

static const mg_range *region_of(funcs_ctx *f, uint64_t v)
{
	for (guint i = 0; i < f->regions->len; i++) {
		const mg_range *r = &g_array_index(f->regions, mg_range, i);
		if (v >= r->start && v < r->end)
			return r;
	}
	return NULL;
}

static void collect_regions(funcs_ctx *f)
{
	const mg_module *m = &f->c->mp->pub;

	for (size_t i = 0; i < m->nsegments; i++) {
		const mg_segment *s = &m->segments[i];
		mg_range r = { s->vaddr, s->vaddr + s->memsz };

		if ((s->flags & PF_X) && r.end > r.start)
			g_array_append_val(f->regions, r);
	}
	for (size_t i = 1; i < f->c->shnum; i++) {
		GElf_Shdr sh;

		if (mod_shdr(f->c, i, &sh) && (sh.sh_flags & SHF_EXECINSTR) &&
		    (sh.sh_flags & SHF_ALLOC) && sh.sh_size > 0) {
			mg_range r = { sh.sh_addr, sh.sh_addr + sh.sh_size };
			g_array_append_val(f->xsections, r);
		}
	}
}

/* ---- symbols ----------------------------------------------------------- */

/* Which of several names for one address to show: exported, then global,
 * weak, local; a non-default symbol version ranks below the default. */
static int symbol_rank(const GElf_Sym *s, bool exported, bool hidden_version)
{
	if (exported)
		return hidden_version ? 4 : 5;
	switch (GELF_ST_BIND(s->st_info)) {
	case STB_GLOBAL: return 3;
	case STB_WEAK:   return 2;
	default:         return 1;
	}
}

static void add_export(mod_ctx *c, const char *name, uint64_t vaddr, bool ifunc, bool hidden)
{
	mod_priv *mp = c->mp;
	gpointer v = g_hash_table_lookup(mp->export_index, name);
	mod_export e = { name, vaddr, ifunc, hidden };

	if (v != NULL) {
		mod_export *old = &g_array_index(mp->exports, mod_export, GPOINTER_TO_SIZE(v) - 1);
		if (old->hidden_version && !hidden)
			*old = e;   /* name@@VER beats name@VER */
		return;
	}
	g_array_append_val(mp->exports, e);
	g_hash_table_insert(mp->export_index, (gpointer)name, GSIZE_TO_POINTER(mp->exports->len));
}

/* The .gnu.version table of dynamic symbol table `symidx` into *out
 * (NULL if there is none). */
static int versym_for(mod_ctx *c, size_t symidx, size_t nsyms, Elf_Data **out,
		      mg_error *err)
{
	GElf_Shdr sh;
	Elf_Data *d;

	*out = NULL;
	if (c->versym_idx == 0 || !mod_shdr(c, c->versym_idx, &sh) || sh.sh_link != symidx)
		return 0;
	d = elf_getdata(elf_getscn(c->elf, c->versym_idx), NULL);
	if (d == NULL || sh.sh_size / 2 < nsyms || d->d_size < nsyms * 2)
		return mg_fail(err, MG_ERR_IO, "%s: .gnu.version does not match .dynsym", c->path);
	*out = d;
	return 0;
}

static int collect_symbols(funcs_ctx *f, size_t idx, bool dynamic, GArray *out, mg_error *err)
{
	mod_ctx *c = f->c;
	Elf_Data *d, *vd = NULL;
	size_t n;

	d = mod_symtab_data(c, idx, &n, err);
	if (d == NULL)
		return -1;
	if (dynamic && versym_for(c, idx, n, &vd, err) < 0)
		return -1;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		GElf_Versym ver = 0;
		const char *name;
		unsigned type, bind, vis;
		bool bad, exported, hidden;

		if (gelf_getsym(d, (int)i, &s) == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: symbol %zu of section %zu unreadable",
				       c->path, i, idx);
		type = GELF_ST_TYPE(s.st_info);
		bind = GELF_ST_BIND(s.st_info);
		vis = GELF_ST_VISIBILITY(s.st_other);
		if (s.st_shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT))
			continue;
		name = mod_symbol_name(c, idx, &s, &bad);
		if (bad)
			return mg_fail(err, MG_ERR_IO, "%s: symbol %zu of section %zu has a corrupt name",
				       c->path, i, idx);
		if (type == STT_OBJECT) {
			if (mod_is_state_symbol(name))
				mod_add_state_symbol(c, name, s.st_value, s.st_size);
			mod_add_data_object(c, name, s.st_value, s.st_size,
					    dynamic && name != NULL &&
					    (bind == STB_GLOBAL || bind == STB_WEAK) &&
					    (vis == STV_DEFAULT || vis == STV_PROTECTED));
			continue;
		}
		if (vd != NULL && gelf_getversym(vd, (int)i, &ver) == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: version of symbol %zu unreadable",
				       c->path, i);
		hidden = (ver & 0x8000) != 0;
		exported = dynamic && name != NULL && (bind == STB_GLOBAL || bind == STB_WEAK) &&
			   (vis == STV_DEFAULT || vis == STV_PROTECTED);
		if (name != NULL)
			name = mod_intern(c, name);
		if (exported)
			add_export(c, name, s.st_value, type == STT_GNU_IFUNC, hidden);
		if (region_of(f, s.st_value) == NULL)
			continue;   /* not code we can map (bogus or in data) */
		rsym r = {
			.value = s.st_value, .size = s.st_size, .name = name,
			.rank = symbol_rank(&s, exported, hidden),
			.ifunc = type == STT_GNU_IFUNC, .exported = exported,
		};
		g_array_append_val(out, r);
	}
	return 0;
}

/* A stripped module's .symtab from its separate debug file, when there
 * is one (module_debug.c); a bad one only costs its symbols. */
static void collect_debug_symbols(funcs_ctx *f, GArray *syms)
{
	mod_ctx dbg;
	int fd;
	if (mod_open_debug(f->c, &dbg, &fd) != 0)
		return;
	funcs_ctx fdbg = *f;
	fdbg.c = &dbg;
	mg_error ignored = { 0 };
	guint before = syms->len;
	if (collect_symbols(&fdbg, dbg.symtab_idx, false, syms, &ignored) == 0)
		f->c->mp->pub.debug_symbols = true;
	else
		g_array_set_size(syms, before);
	mod_load_debug_members(f->c, &dbg);
	mod_close_debug(&dbg, &fd);
}

static int leading_underscores(const char *s)
{
	int n = 0;
	while (s[n] == '_')
		n++;
	return n;
}

static int cmp_rsym(const void *a, const void *b)
{
	const rsym *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	if (x->rank != y->rank)
		return y->rank - x->rank;
	if ((x->name == NULL) != (y->name == NULL))
		return x->name == NULL ? 1 : -1;
	if (x->name == NULL)
		return 0;
	if (leading_underscores(x->name) != leading_underscores(y->name))
		return leading_underscores(x->name) - leading_underscores(y->name);
	if (strlen(x->name) != strlen(y->name))
		return strlen(x->name) < strlen(y->name) ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_fcand(const void *a, const void *b)
{
	const fcand *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;   /* the widest first */
	return 0;
}

/*
 * Group symbols by address (aliases), pick the best name, and split into
 * sized ranges (resolved for overlaps) and zero-size entry points.
 */
static void group_symbols(funcs_ctx *f, GArray *syms, GArray *sized, GArray *zero)
{
	g_array_sort(syms, cmp_rsym);
	for (guint i = 0; i < syms->len;) {
		const rsym *best = &g_array_index(syms, rsym, i);
		const mg_range *reg = region_of(f, best->value);
		fcand fc = { .start = best->value, .name = best->name, .rank = best->rank,
			     .origin = MG_FUNC_SYMTAB };
		uint64_t size = 0;
		guint j = i;

		for (; j < syms->len && g_array_index(syms, rsym, j).value == best->value; j++) {
			const rsym *r = &g_array_index(syms, rsym, j);
			size = MAX(size, r->size);
			fc.ifunc |= r->ifunc;
			fc.exported |= r->exported;
		}
		i = j;
		if (size == 0) {
			g_array_append_val(zero, fc);
			continue;
		}
		fc.end = (size > reg->end - fc.start) ? reg->end : fc.start + size;
		g_array_append_val(sized, fc);
	}
}

/* Sized symbols win over everything; among themselves the earlier (and,
 * at one address, the wider) range wins: a nested symbol is an alias entry
 * point and only lends its exported flag to the enclosing range. */
static GArray *resolve_sized(GArray *sized)
{
	GArray *acc = g_array_new(FALSE, FALSE, sizeof(fcand));

	g_array_sort(sized, cmp_fcand);
	for (guint i = 0; i < sized->len; i++) {
		fcand fc = g_array_index(sized, fcand, i);
		fcand *last = acc->len ? &g_array_index(acc, fcand, acc->len - 1) : NULL;

		if (last != NULL && fc.start < last->end) {
			if (fc.end <= last->end) {
				last->exported |= fc.exported;
				continue;
			}
			fc.start = last->end;   /* partial overlap: keep the tail */
			fc.exported = fc.ifunc = false;
		}
		g_array_append_val(acc, fc);
	}
	return acc;
}

/* ---- layering ---------------------------------------------------------- */

/* First range of sorted `acc` ending after v. */
static guint first_after(GArray *acc, uint64_t v)
{
	guint lo = 0, hi = acc->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (g_array_index(acc, fcand, mid).end <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Add the parts of `layer` that neither `acc` nor an earlier candidate of
 * the layer covers; returns the new sorted, non-overlapping list (frees acc).
 */
static GArray *add_layer(GArray *acc, GArray *layer)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(fcand));
	uint64_t layer_end = 0;

	g_array_sort(layer, cmp_fcand);
	for (guint i = 0; i < layer->len; i++) {
		const fcand *fc = &g_array_index(layer, fcand, i);
		uint64_t s = MAX(fc->start, layer_end), e = fc->end;
		guint j = first_after(acc, s);

		while (s < e) {
			const fcand *a = j < acc->len ? &g_array_index(acc, fcand, j) : NULL;

			if (a != NULL && a->start <= s) {
				s = a->end;
				j++;
				continue;
			}
			fcand piece = *fc;
			piece.start = s;
			piece.end = (a != NULL && a->start < e) ? a->start : e;
			if (s != fc->start)
				piece.exported = piece.ifunc = false;
			g_array_append_val(out, piece);
			s = piece.end;
		}
		layer_end = MAX(layer_end, e);
	}
	g_array_append_vals(out, acc->data, acc->len);
	g_array_sort(out, cmp_fcand);
	g_array_free(acc, TRUE);
	return out;
}

/* ---- zero-size symbols ------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void add_starts(GArray *bounds, GArray *cands)
{
	for (guint i = 0; i < cands->len; i++)
		g_array_append_val(bounds, g_array_index(cands, fcand, i).start);
}

/* A symbol without a size runs to the next known start or section end. */
static void extend_zero(funcs_ctx *f, GArray *zero, GArray *sized, GArray *plt, GArray *fdes)
{
	GArray *b = g_array_new(FALSE, FALSE, sizeof(uint64_t));

	add_starts(b, zero);
	add_starts(b, sized);
	add_starts(b, plt);
	add_starts(b, fdes);
	for (guint i = 0; i < f->xsections->len; i++) {
		const mg_range *r = &g_array_index(f->xsections, mg_range, i);
		g_array_append_val(b, r->start);
		g_array_append_val(b, r->end);
	}
	g_array_sort(b, cmp_u64);
	for (guint i = 0; i < zero->len; i++) {
		fcand *fc = &g_array_index(zero, fcand, i);
		const mg_range *reg = region_of(f, fc->start);
		guint lo = 0, hi = b->len;

		while (lo < hi) {   /* first boundary > start */
			guint mid = lo + (hi - lo) / 2;
			if (g_array_index(b, uint64_t, mid) <= fc->start)
				lo = mid + 1;
			else
				hi = mid;
		}
		fc->end = reg->end;
		if (lo < b->len && g_array_index(b, uint64_t, lo) < reg->end)
			fc->end = g_array_index(b, uint64_t, lo);
	}
	g_array_free(b, TRUE);
}

/* ---- .eh_frame FDEs ---------------------------------------------------- */

typedef struct cie_info {
	uint64_t off;
	int fde_enc;        /* DW_EH_PE_* of FDE addresses, -1 if unusable */
} cie_info;

static bool read_uleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end) {
		uint8_t b = *(*p)++;
		if (shift < 64)
			*v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Decode one encoded pointer (no indirection); `field_vaddr` is where it
 * lives, for pc-relative values.  `apply` false reads just the number. */
static bool read_encoded(const uint8_t **p, const uint8_t *end, int enc,
			 uint64_t field_vaddr, bool apply, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (enc == DW_EH_PE_omit || (enc & DW_EH_PE_indirect))
		return false;
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr: case DW_EH_PE_udata8: case DW_EH_PE_sdata8: n = 8; break;
	case DW_EH_PE_udata4: case DW_EH_PE_sdata4: n = 4; break;
	case DW_EH_PE_udata2: case DW_EH_PE_sdata2: n = 2; break;
	case DW_EH_PE_uleb128:
		if (!read_uleb(p, end, &v))
			return false;
		n = 0;
		break;
	case DW_EH_PE_sleb128: {
		const uint8_t *q = *p;
		if (!read_uleb(p, end, &v))
			return false;
		size_t len = (size_t)(*p - q);
		if (len * 7 < 64 && (q[len - 1] & 0x40))
			v |= ~(uint64_t)0 << (len * 7);
		n = 0;
		break;
	}
	default:
		return false;
	}
	if (n > 0) {
		if ((size_t)(end - *p) < n)
			return false;
		if (n == 8) {
			memcpy(&v, *p, 8);
		} else if (n == 4) {
			uint32_t u;
			memcpy(&u, *p, 4);
			v = (enc & 0x08) ? (uint64_t)(int64_t)(int32_t)u : u;
		} else {
			uint16_t u;
			memcpy(&u, *p, 2);
			v = (enc & 0x08) ? (uint64_t)(int64_t)(int16_t)u : u;
		}
		*p += n;
	}
	if (!apply) {
		*out = v;
		return true;
	}
	switch (enc & 0x70) {
	case DW_EH_PE_absptr: break;
	case DW_EH_PE_pcrel: v += field_vaddr; break;
	default: return false;   /* datarel/textrel/funcrel: not used by x86-64 .eh_frame */
	}
	*out = v;
	return true;
}

/* FDE address encoding from a 'z' augmentation; -1 if not understood. */
static int cie_fde_encoding(const Dwarf_CIE *cie)
{
	const char *a = cie->augmentation;
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p ? p + cie->augmentation_data_size : NULL;

	if (a[0] == '\0')
		return DW_EH_PE_absptr;
	if (a[0] != 'z' || p == NULL)
		return -1;
	for (a++; *a; a++) {
		uint64_t dummy;
		int enc;

		switch (*a) {
		case 'R':
			return p < end ? *p : -1;
		case 'L':
			if (p >= end)
				return -1;
			p++;
			break;
		case 'P':
			if (p >= end)
				return -1;
			enc = *p++;
			if (!read_encoded(&p, end, enc & 0x0f, 0, false, &dummy))
				return -1;
			break;
		case 'S':
			break;
		default:
			return -1;
		}
	}
	return DW_EH_PE_absptr;
}

/*
 * libdw's dwarf_next_cfi trusts the augmentation bytes of a CIE without a
 * 'z' (sized) augmentation; only let it see entries we can bound: FDEs
 * and CIEs whose augmentation is empty or starts with 'z'.  Returns the
 * offset of the next entry, 0 to stop, or sets *skip for an entry to jump.
 */
static uint64_t precheck_entry(const Elf_Data *d, uint64_t off, bool *skip)
{
	const uint8_t *base = d->d_buf, *p, *end;
	uint32_t len32, id;

	*skip = false;
	if (d->d_size - off < 8)
		return 0;
	memcpy(&len32, base + off, 4);
	if (len32 == 0 || len32 == 0xffffffffu)     /* terminator / 64-bit: stop */
		return 0;
	if (len32 > d->d_size - off - 4)
		return 0;
	memcpy(&id, base + off + 4, 4);
	if (id == 0) {   /* CIE */
		p = base + off + 9;    /* after length, id, version */
		end = base + off + 4 + len32;
		if (p >= end)
			return 0;
		*skip = !(*p == '\0' || *p == 'z');
	}
	return off + 4 + len32;
}

/* FDE encoding of the CIE at `off` (cies are in offset order), or -1. */
static int cie_lookup(GArray *cies, uint64_t off)
{
	guint lo = 0, hi = cies->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const cie_info *ci = &g_array_index(cies, cie_info, mid);

		if (ci->off == off)
			return ci->fde_enc;
		if (ci->off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void collect_fdes(funcs_ctx *f, GArray *out)
{
	mod_ctx *c = f->c;
	GElf_Shdr sh;
	Elf_Data *d;
	const unsigned char *ident = (const unsigned char *)elf_getident(c->elf, NULL);
	GArray *cies = g_array_new(FALSE, FALSE, sizeof(cie_info));

	if (c->eh_frame_idx == 0 || ident == NULL || !mod_shdr(c, c->eh_frame_idx, &sh) ||
	    (d = elf_getdata(elf_getscn(c->elf, c->eh_frame_idx), NULL)) == NULL ||
	    d->d_buf == NULL)
		goto out;

	/* Two passes: CIEs first, since an FDE may precede its CIE. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t off = 0, next;

		while (off < d->d_size) {
			Dwarf_CFI_Entry e;
			Dwarf_Off dnext;
			bool skip;

			next = precheck_entry(d, off, &skip);
			if (next == 0)
				break;
			if (skip || dwarf_next_cfi(ident, d, true, off, &dnext, &e) != 0) {
				if (!skip)
					break;   /* corrupt: keep what we have; gaps cover the rest */
				if (pass == 0) {
					cie_info ci = { off, -1 };
					g_array_append_val(cies, ci);
				}
				off = next;
				continue;
			}
			if (dwarf_cfi_cie_p(&e)) {
				if (pass == 0) {
					cie_info ci = { off, cie_fde_encoding(&e.cie) };
					g_array_append_val(cies, ci);
				}
			} else if (pass == 1) {
				int enc = cie_lookup(cies, e.fde.CIE_pointer);
				const uint8_t *p = e.fde.start;
				uint64_t start, range;
				if (enc >= 0 &&
				    read_encoded(&p, e.fde.end, enc, sh.sh_addr +
						 (uint64_t)(p - (const uint8_t *)d->d_buf), true, &start) &&
				    read_encoded(&p, e.fde.end, enc & 0x0f, 0, false, &range) &&
				    range > 0) {
					const mg_range *reg = region_of(f, start);
					if (reg != NULL) {
						fcand fc = { .start = start, .origin = MG_FUNC_FDE };
						fc.end = range > reg->end - start ? reg->end : start + range;
						g_array_append_val(out, fc);
					}
				}
			}
			off = dnext;
		}
	}
out:
	g_array_free(cies, TRUE);
}

/* ---- PLT entries ------------------------------------------------------- */

/*
 * Recognise the few instruction patterns PLT entries are made of: the GOT
 * slot of `jmp *disp(%rip)` (maybe after endbr64 / bnd), or the .rela.plt
 * index a lazy stub pushes.
 */
static void decode_plt_entry(const uint8_t *p, size_t n, uint64_t addr,
			     bool *has_slot, uint64_t *slot, int64_t *push_idx)
{
	size_t i = 0;

	*has_slot = false;
	*push_idx = -1;
	if (n >= 4 && memcmp(p, "\xf3\x0f\x1e\xfa", 4) == 0)
		i = 4;
	while (i < n) {
		if (p[i] == 0xf2) {    /* bnd prefix */
			i++;
			continue;
		}
		if (p[i] == 0xff && n - i >= 6 && (p[i + 1] == 0x25 || p[i + 1] == 0x35)) {
			int32_t disp;
			memcpy(&disp, p + i + 2, 4);
			if (p[i + 1] == 0x25) {
				*has_slot = true;
				*slot = addr + i + 6 + (uint64_t)(int64_t)disp;
				return;
			}
			i += 6;        /* push GOT+8 (PLT0) */
			continue;
		}
		if (p[i] == 0x68 && n - i >= 5) {
			uint32_t imm;
			memcpy(&imm, p + i + 1, 4);
			*push_idx = imm;
			i += 5;
			continue;
		}
		return;                /* jmp rel32, nop padding, unknown */
	}
}

static const char *plt_name_for_slot(mod_ctx *c, uint64_t slot)
{
	const mg_reloc *r = mg_module_reloc_at(&c->mp->pub, slot);
	char buf[64];

	if (r == NULL)
		return NULL;
	if ((r->kind == MG_RELOC_JUMP_SLOT || r->kind == MG_RELOC_GLOB_DAT) && r->symbol) {
		char *s = g_strconcat(r->symbol, "@plt", NULL);
		const char *in = mod_intern(c, s);
		g_free(s);
		return in;
	}
	if (r->kind == MG_RELOC_IRELATIVE) {
		snprintf(buf, sizeof(buf), "*ABS*+%#jx@plt", (uintmax_t)r->addend);
		return mod_intern(c, buf);
	}
	return NULL;
}

static void collect_plt(funcs_ctx *f, GArray *out)
{
	mod_ctx *c = f->c;

	for (int k = 0; k < 3; k++) {
		GElf_Shdr sh;
		uint64_t es;

		if (c->plt_idx[k] == 0 || !mod_shdr(c, c->plt_idx[k], &sh) || sh.sh_size == 0)
			continue;
		es = (sh.sh_entsize == 8 || sh.sh_entsize == 16) ? sh.sh_entsize : 16;
		for (uint64_t off = 0; off < sh.sh_size; off += es) {
			uint64_t addr = sh.sh_addr + off, slot = 0, n = MIN(es, sh.sh_size - off);
			const mg_range *reg = region_of(f, addr);
			bool has_slot;
			int64_t push_idx;
			const char *name = NULL;
			/* Without a recognisable instruction: .plt entry i+1
			 * and .plt.sec entry i belong to the i-th .rela.plt
			 * entry. */
			int64_t idx = k == 0 ? (int64_t)(off / es) - 1 :
				      k == 1 ? (int64_t)(off / es) : -1;

			if (reg == NULL)
				continue;
			decode_plt_entry(c->raw + sh.sh_offset + off, n, addr,
					 &has_slot, &slot, &push_idx);
			if (has_slot)
				name = plt_name_for_slot(c, slot);
			else if (push_idx >= 0)
				idx = push_idx;
			if (!has_slot && idx >= 0 && (uint64_t)idx < c->rela_plt_slots->len)
				name = plt_name_for_slot(c, g_array_index(c->rela_plt_slots,
									  uint64_t, idx));
			fcand fc = { .start = addr, .end = MIN(addr + n, reg->end),
				     .name = name, .origin = MG_FUNC_PLT };
			g_array_append_val(out, fc);
		}
	}
}

/* ---- gaps and assembly ------------------------------------------------- */

static GArray *add_gaps(funcs_ctx *f, GArray *acc)
{
	GArray *gaps = g_array_new(FALSE, FALSE, sizeof(fcand));

	for (guint i = 0; i < f->regions->len; i++) {
		const mg_range *r = &g_array_index(f->regions, mg_range, i);
		fcand fc = { .start = r->start, .end = r->end, .origin = MG_FUNC_GAP };
		g_array_append_val(gaps, fc);
	}
	acc = add_layer(acc, gaps);
	g_array_free(gaps, TRUE);
	return acc;
}

static void publish(mg_module *m, GArray *acc)
{
	GArray *funcs = g_array_sized_new(FALSE, TRUE, sizeof(mg_function), acc->len);

	for (guint i = 0; i < acc->len; i++) {
		const fcand *fc = &g_array_index(acc, fcand, i);
		mg_function fn = {
			.start = fc->start, .end = fc->end, .name = fc->name,
			.origin = fc->origin, .is_ifunc_resolver = fc->ifunc,
			.exported = fc->exported,
		};
		if (fn.end > fn.start)
			g_array_append_val(funcs, fn);
	}
	m->nfuncs = funcs->len;
	m->funcs = (mg_function *)g_array_free(funcs, FALSE);

	/* An export can be an alias entry point inside another symbol's
	 * range (or a zero-size one swallowed by it): the enclosing range is
	 * then callable from outside too. */
	GArray *ex = mod_priv_of(m)->exports;
	for (guint i = 0; i < ex->len; i++) {
		mg_function *fn = (mg_function *)mg_module_function_at(
			m, g_array_index(ex, mod_export, i).vaddr);
		if (fn != NULL && fn->origin == MG_FUNC_SYMTAB)
			fn->exported = true;
	}
}

int mod_load_functions(mod_ctx *c, mg_error *err)
{
	funcs_ctx f = {
		.c = c,
		.regions = g_array_new(FALSE, FALSE, sizeof(mg_range)),
		.xsections = g_array_new(FALSE, FALSE, sizeof(mg_range)),
	};
	GArray *syms = g_array_new(FALSE, FALSE, sizeof(rsym));
	GArray *sized = g_array_new(FALSE, FALSE, sizeof(fcand));
	GArray *zero = g_array_new(FALSE, FALSE, sizeof(fcand));
	GArray *plt = g_array_new(FALSE, FALSE, sizeof(fcand));
	GArray *fdes = g_array_new(FALSE, FALSE, sizeof(fcand));
	GArray *acc = NULL;
	int rc = 0;

	collect_regions(&f);
	/* .dynsym first: with equal rank its entry is seen first. */
	if (c->dynsym_idx != 0)
		rc = collect_symbols(&f, c->dynsym_idx, true, syms, err);
	if (rc == 0 && c->symtab_idx != 0)
		rc = collect_symbols(&f, c->symtab_idx, false, syms, err);
	if (rc == 0 && c->symtab_idx == 0)
		collect_debug_symbols(&f, syms);
	if (rc == 0) {
		group_symbols(&f, syms, sized, zero);
		collect_plt(&f, plt);
		collect_fdes(&f, fdes);
		extend_zero(&f, zero, sized, plt, fdes);
		acc = resolve_sized(sized);
		acc = add_layer(acc, plt);
		acc = add_layer(acc, zero);
		acc = add_layer(acc, fdes);
		acc = add_gaps(&f, acc);
		publish(&c->mp->pub, acc);
		mod_publish_data_objects(c);
		g_array_free(acc, TRUE);
	}
	g_array_free(syms, TRUE);
	g_array_free(sized, TRUE);
	g_array_free(zero, TRUE);
	g_array_free(plt, TRUE);
	g_array_free(fdes, TRUE);
	g_array_free(f.regions, TRUE);
	g_array_free(f.xsections, TRUE);
	return rc;
}
