/*
 * module_relocs.c - dynamic relocations of a module: the SHT_RELA sections
 * the dynamic linker processes (.rela.dyn, .rela.plt) and packed RELR
 * relative relocations (.relr.dyn, SHT_RELR).
 */
#include "process/module_priv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#ifndef SHT_RELR
#define SHT_RELR 19
#endif

static bool reloc_kind_of(unsigned type, mg_reloc_kind *kind)
{
	switch (type) {
	case R_X86_64_JUMP_SLOT: *kind = MG_RELOC_JUMP_SLOT; return true;
	case R_X86_64_GLOB_DAT:  *kind = MG_RELOC_GLOB_DAT;  return true;
	case R_X86_64_IRELATIVE: *kind = MG_RELOC_IRELATIVE; return true;
	case R_X86_64_RELATIVE:  *kind = MG_RELOC_RELATIVE;  return true;
	case R_X86_64_64:        *kind = MG_RELOC_64;        return true;
	default:                 return false;  /* TLS, COPY, ...: no code address */
	}
}

static int load_rela(mod_ctx *c, size_t idx, const GElf_Shdr *sh, GArray *out,
		     mg_error *err)
{
	Elf_Data *d, *symd = NULL;
	size_t n, nsyms = 0;

	if (sh->sh_entsize != sizeof(Elf64_Rela))
		return mg_fail(err, MG_ERR_IO, "%s: relocation section %zu has entry size %ju",
			       c->path, idx, (uintmax_t)sh->sh_entsize);
	if (sh->sh_link != 0) {
		GElf_Shdr lsh;

		if (!mod_shdr(c, sh->sh_link, &lsh) ||
		    (lsh.sh_type != SHT_DYNSYM && lsh.sh_type != SHT_SYMTAB))
			return mg_fail(err, MG_ERR_IO,
				       "%s: relocation section %zu links to section %u, not a symbol table",
				       c->path, idx, sh->sh_link);
		symd = mod_symtab_data(c, sh->sh_link, &nsyms, err);
		if (symd == NULL)
			return -1;
	}
	d = elf_getdata(elf_getscn(c->elf, idx), NULL);
	if (d == NULL || d->d_size < sh->sh_size)
		return mg_fail(err, MG_ERR_IO, "%s: unreadable relocation section %zu: %s",
			       c->path, idx, elf_errmsg(-1));
	n = sh->sh_size / sizeof(Elf64_Rela);
	for (size_t i = 0; i < n; i++) {
		GElf_Rela ra;
		GElf_Sym sym;
		mg_reloc r = { 0 };
		size_t symi;

		if (gelf_getrela(d, (int)i, &ra) == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: relocation %zu of section %zu unreadable",
				       c->path, i, idx);
		if (idx == c->rela_plt_idx) {
			uint64_t slot = ra.r_offset;
			g_array_append_val(c->rela_plt_slots, slot);
		}
		if (!reloc_kind_of(GELF_R_TYPE(ra.r_info), &r.kind))
			continue;
		r.offset = ra.r_offset;
		r.addend = ra.r_addend;
		symi = GELF_R_SYM(ra.r_info);
		if (symi != 0 && r.kind != MG_RELOC_RELATIVE && r.kind != MG_RELOC_IRELATIVE) {
			bool bad;
			const char *name;

			if (symd == NULL || symi >= nsyms || gelf_getsym(symd, (int)symi, &sym) == NULL)
				return mg_fail(err, MG_ERR_IO,
					       "%s: relocation %zu of section %zu names bad symbol %zu",
					       c->path, i, idx, symi);
			name = mod_symbol_name(c, sh->sh_link, &sym, &bad);
			if (bad)
				return mg_fail(err, MG_ERR_IO,
					       "%s: symbol %zu has a corrupt name", c->path, symi);
			r.symbol = name ? mod_intern(c, name) : NULL;
		}
		g_array_append_val(out, r);
	}
	return 0;
}

/* The link-time value stored in the file at vaddr (RELR addends are
 * implicit); 0 with *ok false when the file does not back it. */
static uint64_t read_word(mod_ctx *c, uint64_t vaddr, bool *ok)
{
	int64_t off = mg_module_vaddr_to_offset(&c->mp->pub, vaddr);
	uint64_t v = 0;

	*ok = off >= 0 && (uint64_t)off <= c->raw_size && c->raw_size - (uint64_t)off >= 8 &&
	      mg_module_vaddr_to_offset(&c->mp->pub, vaddr + 7) == off + 7;
	if (*ok)
		memcpy(&v, c->raw + off, 8);
	return v;
}

/* RELR keeps the addend in place, so the target must be file-backed:
 * a word that is not is corrupt (and would let a crafted section emit 63
 * relocations per 8 bytes of nothing). */
static int add_relr(mod_ctx *c, GArray *out, uint64_t where, size_t idx, mg_error *err)
{
	bool ok;
	mg_reloc r = { .offset = where, .kind = MG_RELOC_RELATIVE };

	r.addend = (int64_t)read_word(c, where, &ok);
	if (!ok)
		return mg_fail(err, MG_ERR_IO, "%s: RELR section %zu relocates 0x%" PRIx64
			       ", which no file byte backs", c->path, idx, where);
	g_array_append_val(out, r);
	return 0;
}

/*
 * RELR: an even word is an address to relocate (then the next word); an
 * odd word is a bitmap over the following 63 words from the current base.
 */
static int load_relr(mod_ctx *c, size_t idx, const GElf_Shdr *sh, GArray *out,
		     mg_error *err)
{
	Elf_Data *d = elf_getdata(elf_getscn(c->elf, idx), NULL);
	uint64_t base = 0;
	bool have_base = false;

	if (sh->sh_entsize != 8 && sh->sh_entsize != 0)
		return mg_fail(err, MG_ERR_IO, "%s: RELR section %zu has entry size %ju",
			       c->path, idx, (uintmax_t)sh->sh_entsize);
	if (d == NULL || d->d_size < sh->sh_size)
		return mg_fail(err, MG_ERR_IO, "%s: unreadable RELR section %zu: %s",
			       c->path, idx, elf_errmsg(-1));
	for (size_t i = 0; i + 8 <= sh->sh_size; i += 8) {
		uint64_t w;

		memcpy(&w, (const char *)d->d_buf + i, 8);
		if ((w & 1) == 0) {
			if (have_base && w < base)
				return mg_fail(err, MG_ERR_IO, "%s: RELR section %zu is not sorted",
					       c->path, idx);
			if (add_relr(c, out, w, idx, err) < 0)
				return -1;
			base = w + 8;
			have_base = true;
			continue;
		}
		if (!have_base)
			return mg_fail(err, MG_ERR_IO, "%s: RELR section %zu starts with a bitmap",
				       c->path, idx);
		for (unsigned bit = 1; bit < 64; bit++)
			if ((w & (1ull << bit)) &&
			    add_relr(c, out, base + (bit - 1) * 8, idx, err) < 0)
				return -1;
		base += 63 * 8;
	}
	return 0;
}

static int cmp_reloc(const void *a, const void *b)
{
	const mg_reloc *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

int mod_load_relocs(mod_ctx *c, mg_error *err)
{
	mg_module *m = &c->mp->pub;
	GArray *out = g_array_new(FALSE, FALSE, sizeof(mg_reloc));
	int rc = 0;

	for (size_t i = 1; i < c->shnum && rc == 0; i++) {
		GElf_Shdr sh;

		if (!mod_shdr(c, i, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;  /* non-allocated RELA: static (--emit-relocs) */
		if (sh.sh_type == SHT_RELA)
			rc = load_rela(c, i, &sh, out, err);
		else if (sh.sh_type == SHT_RELR)
			rc = load_relr(c, i, &sh, out, err);
	}
	if (rc < 0) {
		g_array_free(out, TRUE);
		return -1;
	}
	qsort(out->data, out->len, sizeof(mg_reloc), cmp_reloc);
	m->nrelocs = out->len;
	m->relocs = (mg_reloc *)g_array_free(out, FALSE);
	return 0;
}
