/*
 * module.c - ELF module model: loading, headers, notes, sections and the
 * lookup functions.  Relocations are in module_relocs.c, function ranges
 * in module_funcs.c.
 *
 * The file is untrusted input: every header, offset and size is checked
 * against the file size before use, so a truncated or hand-crafted ELF
 * gives MG_ERR_IO, never a crash.
 */
#include "process/module_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NT_GNU_PROPERTY_TYPE_0
#define NT_GNU_PROPERTY_TYPE_0 5
#endif
#define MOD_GNU_PROPERTY_X86_ISA_1_NEEDED 0xc0008002u

static const char *const plt_names[3] = { ".plt", ".plt.sec", ".plt.got" };

bool mod_shdr(mod_ctx *c, size_t idx, GElf_Shdr *out)
{
	Elf_Scn *scn = elf_getscn(c->elf, idx);
	return scn != NULL && gelf_getshdr(scn, out) != NULL;
}

const char *mod_section_name(mod_ctx *c, const GElf_Shdr *sh)
{
	if (sh->sh_name == 0)
		return "";
	return elf_strptr(c->elf, c->shstrndx, sh->sh_name);
}

const char *mod_intern(mod_ctx *c, const char *s)
{
	return g_string_chunk_insert_const(c->mp->names, s);
}

Elf_Data *mod_symtab_data(mod_ctx *c, size_t idx, size_t *count, mg_error *err)
{
	GElf_Shdr sh, link;
	Elf_Data *data;

	if (!mod_shdr(c, idx, &sh)) {
		mg_fail(err, MG_ERR_IO, "%s: unreadable symbol table section %zu",
			c->path, idx);
		return NULL;
	}
	if (sh.sh_entsize != sizeof(Elf64_Sym)) {
		mg_fail(err, MG_ERR_IO, "%s: symbol table section %zu has entry size %ju",
			c->path, idx, (uintmax_t)sh.sh_entsize);
		return NULL;
	}
	if (sh.sh_link == 0 || sh.sh_link >= c->shnum || !mod_shdr(c, sh.sh_link, &link) ||
	    link.sh_type != SHT_STRTAB) {
		mg_fail(err, MG_ERR_IO, "%s: symbol table section %zu links to bad string table %u",
			c->path, idx, sh.sh_link);
		return NULL;
	}
	data = elf_getdata(elf_getscn(c->elf, idx), NULL);
	if (data == NULL || data->d_size < sh.sh_size) {
		mg_fail(err, MG_ERR_IO, "%s: unreadable symbol table section %zu: %s",
			c->path, idx, elf_errmsg(-1));
		return NULL;
	}
	*count = sh.sh_size / sizeof(Elf64_Sym);
	return data;
}

const char *mod_symbol_name(mod_ctx *c, size_t idx, const GElf_Sym *sym, bool *bad)
{
	GElf_Shdr sh;
	const char *s;

	*bad = false;
	if (sym->st_name == 0)
		return NULL;
	if (!mod_shdr(c, idx, &sh)) {
		*bad = true;
		return NULL;
	}
	s = elf_strptr(c->elf, sh.sh_link, sym->st_name);
	if (s == NULL)
		*bad = true;
	return (s != NULL && *s != '\0') ? s : NULL;
}

/* First 16 bytes: tell "not ELF" / "32-bit" / "other" apart before libelf. */
static int check_ident(int fd, const char *path, uint64_t size, mg_error *err)
{
	unsigned char ident[EI_NIDENT];
	ssize_t n;

	if (size == 0)
		return mg_fail(err, MG_ERR_IO, "%s: empty file, not an ELF object", path);
	n = pread(fd, ident, sizeof(ident), 0);
	if (n < 0)
		return mg_fail(err, MG_ERR_IO, "%s: read failed: %s", path, strerror(errno));
	if ((size_t)n < 4 || memcmp(ident, ELFMAG, SELFMAG) != 0)
		return mg_fail(err, MG_ERR_IO, "%s: not an ELF file (bad magic)", path);
	if ((size_t)n < sizeof(ident))
		return mg_fail(err, MG_ERR_IO, "%s: truncated ELF identification", path);
	if (ident[EI_CLASS] == ELFCLASS32)
		return mg_fail(err, MG_ERR_UNSUPPORTED, "%s: 32-bit ELF objects are not supported", path);
	if (ident[EI_CLASS] != ELFCLASS64)
		return mg_fail(err, MG_ERR_IO, "%s: invalid ELF class %u", path, ident[EI_CLASS]);
	if (ident[EI_DATA] != ELFDATA2LSB)
		return mg_fail(err, MG_ERR_UNSUPPORTED, "%s: big-endian ELF objects are not supported",
			       path);
	return 0;
}

static bool span_in_file(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int load_header(mod_ctx *c, mg_error *err)
{
	mg_module *m = &c->mp->pub;
	GElf_Ehdr eh;

	if (gelf_getehdr(c->elf, &eh) == NULL)
		return mg_fail(err, MG_ERR_IO, "%s: unreadable ELF header: %s",
			       c->path, elf_errmsg(-1));
	/* Structural sanity before judging the machine, so that garbage after
	 * an ELF magic reads as corrupt rather than as a foreign CPU. */
	if (eh.e_version != EV_CURRENT || eh.e_ehsize != sizeof(Elf64_Ehdr) ||
	    (eh.e_phnum != 0 && eh.e_phentsize != sizeof(Elf64_Phdr)) ||
	    (eh.e_shnum != 0 && eh.e_shentsize != sizeof(Elf64_Shdr)))
		return mg_fail(err, MG_ERR_IO, "%s: corrupt ELF header (version %u, sizes %u/%u/%u)",
			       c->path, eh.e_version, eh.e_ehsize, eh.e_phentsize, eh.e_shentsize);
	/* libelf quietly reports zero sections when the table lies beyond
	 * the end of the file: a truncated object must not pass for a
	 * section-less one. */
	if (eh.e_shoff != 0 &&
	    !span_in_file(eh.e_shoff, (uint64_t)MAX(eh.e_shnum, 1) * sizeof(Elf64_Shdr),
			  c->mp->pub.file_size))
		return mg_fail(err, MG_ERR_IO,
			       "%s: section header table (offset %#jx, %u entries) lies beyond "
			       "the end of the file (size %#jx): truncated?",
			       c->path, (uintmax_t)eh.e_shoff, eh.e_shnum,
			       (uintmax_t)c->mp->pub.file_size);
	if (eh.e_phoff != 0 &&
	    !span_in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr),
			  c->mp->pub.file_size))
		return mg_fail(err, MG_ERR_IO,
			       "%s: program header table lies beyond the end of the file", c->path);
	if (eh.e_machine != EM_X86_64)
		return mg_fail(err, MG_ERR_UNSUPPORTED, "%s: ELF machine %u is not x86-64",
			       c->path, eh.e_machine);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return mg_fail(err, MG_ERR_UNSUPPORTED,
			       "%s: ELF type %u is neither an executable nor a shared object",
			       c->path, eh.e_type);
	m->is_dyn = eh.e_type == ET_DYN;
	m->is_exec = eh.e_type == ET_EXEC;
	m->entry = eh.e_entry;
	return 0;
}

static int cmp_segment(const void *a, const void *b)
{
	const mg_segment *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int load_segments(mod_ctx *c, mg_error *err)
{
	mg_module *m = &c->mp->pub;
	size_t phnum, n = 0;

	if (elf_getphdrnum(c->elf, &phnum) != 0)
		return mg_fail(err, MG_ERR_IO, "%s: unreadable program headers: %s",
			       c->path, elf_errmsg(-1));
	m->segments = calloc(phnum ? phnum : 1, sizeof(*m->segments));
	if (m->segments == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "%s: out of memory", c->path);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(c->elf, (int)i, &ph) == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: program header %zu unreadable: %s",
				       c->path, i, elf_errmsg(-1));
		if (ph.p_type == PT_INTERP)
			m->is_exec = true;
		if (ph.p_type == PT_GNU_RELRO) {
			if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
				return mg_fail(err, MG_ERR_IO, "%s: PT_GNU_RELRO wraps around",
					       c->path);
			m->relro.start = ph.p_vaddr;
			m->relro.end = ph.p_vaddr + ph.p_memsz;
		}
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE &&
		    ph.p_type != PT_DYNAMIC && ph.p_type != PT_INTERP)
			continue;
		if (!span_in_file(ph.p_offset, ph.p_filesz, m->file_size))
			return mg_fail(err, MG_ERR_IO,
				       "%s: program header %zu (type %#x) extends beyond the end of "
				       "the file (offset %#jx + %#jx > size %#jx): truncated?",
				       c->path, i, ph.p_type, (uintmax_t)ph.p_offset,
				       (uintmax_t)ph.p_filesz, (uintmax_t)m->file_size);
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			return mg_fail(err, MG_ERR_IO, "%s: PT_LOAD %zu has inconsistent sizes",
				       c->path, i);
		m->segments[n++] = (mg_segment){
			.vaddr = ph.p_vaddr, .memsz = ph.p_memsz, .filesz = ph.p_filesz,
			.offset = ph.p_offset, .flags = ph.p_flags,
		};
	}
	m->nsegments = n;
	qsort(m->segments, n, sizeof(*m->segments), cmp_segment);
	for (size_t i = 1; i < n; i++)
		if (m->segments[i].vaddr < m->segments[i - 1].vaddr + m->segments[i - 1].memsz)
			return mg_fail(err, MG_ERR_IO, "%s: PT_LOAD segments overlap at %#jx",
				       c->path, (uintmax_t)m->segments[i].vaddr);
	return 0;
}

static void note_build_id(mg_module *m, const unsigned char *desc, size_t len)
{
	/* 20 bytes (SHA-1) is the usual size and all the field holds; a longer
	 * ID keeps its first 20 bytes, still unique enough to match files. */
	if (len > 20)
		len = 20;
	for (size_t i = 0; i < len; i++)
		snprintf(m->build_id + 2 * i, 3, "%02x", desc[i]);
}

/* .note.gnu.property: an array of {type, datasz, data, pad to 8}. */
static void note_properties(mg_module *m, const unsigned char *desc, size_t len)
{
	size_t off = 0;

	while (len - off >= 8) {
		uint32_t type, datasz;

		memcpy(&type, desc + off, 4);
		memcpy(&datasz, desc + off + 4, 4);
		off += 8;
		if (datasz > len - off)
			return;
		if (type == MOD_GNU_PROPERTY_X86_ISA_1_NEEDED && datasz >= 4) {
			uint32_t v;
			memcpy(&v, desc + off, 4);
			m->isa_needed |= v;
		}
		off += ((uint64_t)datasz + 7) & ~(uint64_t)7;
		if (off > len)
			return;
	}
}

static void scan_notes(mg_module *m, Elf_Data *data)
{
	GElf_Nhdr nh;
	size_t off = 0, name_off, desc_off, next;

	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const char *name = (const char *)data->d_buf + name_off;
		const unsigned char *desc = (const unsigned char *)data->d_buf + desc_off;
		bool gnu = nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0;

		if (gnu && nh.n_type == NT_GNU_BUILD_ID && m->build_id[0] == '\0')
			note_build_id(m, desc, nh.n_descsz);
		if (gnu && nh.n_type == NT_GNU_PROPERTY_TYPE_0)
			note_properties(m, desc, nh.n_descsz);
		off = next;
	}
}

static int load_notes(mod_ctx *c)
{
	mg_module *m = &c->mp->pub;
	size_t phnum;

	/* Notes through program headers: present even without sections.
	 * Segment bounds were checked in load_segments. */
	if (elf_getphdrnum(c->elf, &phnum) != 0)
		return 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (gelf_getphdr(c->elf, (int)i, &ph) == NULL || ph.p_type != PT_NOTE)
			continue;
		d = elf_getdata_rawchunk(c->elf, (int64_t)ph.p_offset, ph.p_filesz,
					 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		if (d != NULL)
			scan_notes(m, d);
	}
	/* And through sections, for objects whose notes no PT_NOTE covers
	 * (idempotent: the first build-id wins, ISA bits are OR-ed). */
	for (size_t i = 1; i < c->shnum; i++) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!mod_shdr(c, i, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(elf_getscn(c->elf, i), NULL);
		if (d != NULL)
			scan_notes(m, d);
	}
	return 0;
}

/* Check every section header against the file and note the ones we use. */
static int scan_sections(mod_ctx *c, mg_error *err)
{
	mg_module *m = &c->mp->pub;
	mg_range gotplt = { 0, 0 }, got = { 0, 0 };

	if (elf_getshdrnum(c->elf, &c->shnum) != 0)
		return mg_fail(err, MG_ERR_IO, "%s: unreadable section header count: %s",
			       c->path, elf_errmsg(-1));
	if (c->shnum == 0)
		return 0;
	if (elf_getshdrstrndx(c->elf, &c->shstrndx) != 0 || c->shstrndx >= c->shnum)
		return mg_fail(err, MG_ERR_IO, "%s: bad section name table index: %s",
			       c->path, elf_errmsg(-1));
	for (size_t i = 1; i < c->shnum; i++) {
		GElf_Shdr sh;
		const char *name;

		if (!mod_shdr(c, i, &sh))
			return mg_fail(err, MG_ERR_IO,
				       "%s: section header %zu unreadable (table beyond end of file?): %s",
				       c->path, i, elf_errmsg(-1));
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
		    !span_in_file(sh.sh_offset, sh.sh_size, m->file_size))
			return mg_fail(err, MG_ERR_IO,
				       "%s: section %zu extends beyond the end of the file "
				       "(offset %#jx + %#jx > size %#jx): truncated?",
				       c->path, i, (uintmax_t)sh.sh_offset,
				       (uintmax_t)sh.sh_size, (uintmax_t)m->file_size);
		if (sh.sh_addr + sh.sh_size < sh.sh_addr)
			return mg_fail(err, MG_ERR_IO, "%s: section %zu wraps around the address space",
				       c->path, i);
		if (sh.sh_link >= c->shnum)
			return mg_fail(err, MG_ERR_IO, "%s: section %zu links to nonexistent section %u",
				       c->path, i, sh.sh_link);
		name = mod_section_name(c, &sh);
		if (name == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: section %zu has a corrupt name",
				       c->path, i);

		mg_range r = { sh.sh_addr, sh.sh_addr + sh.sh_size };
		switch (sh.sh_type) {
		case SHT_SYMTAB:
			if (c->symtab_idx == 0)
				c->symtab_idx = i;
			m->has_symtab = true;
			break;
		case SHT_DYNSYM:
			if (c->dynsym_idx == 0)
				c->dynsym_idx = i;
			break;
		case SHT_GNU_versym:
			if (c->versym_idx == 0)
				c->versym_idx = i;
			break;
		case SHT_INIT_ARRAY:
			m->init_array = r;
			break;
		case SHT_FINI_ARRAY:
			m->fini_array = r;
			break;
		case SHT_PREINIT_ARRAY:
			m->preinit_array = r;
			break;
		default:
			break;
		}
		mod_note_data_section(c, name, &sh);
		if (strcmp(name, ".eh_frame") == 0 && sh.sh_type == SHT_PROGBITS) {
			c->eh_frame_idx = i;
			m->has_eh_frame = true;
		}
		for (int k = 0; k < 3; k++)
			if (strcmp(name, plt_names[k]) == 0 && sh.sh_type == SHT_PROGBITS &&
			    (sh.sh_flags & SHF_EXECINSTR) && c->plt_idx[k] == 0) {
				c->plt_idx[k] = i;
				m->plt[k] = r;
			}
		if (strcmp(name, ".rela.plt") == 0 && sh.sh_type == SHT_RELA)
			c->rela_plt_idx = i;
		if (strcmp(name, ".got") == 0)
			got = r;
		if (strcmp(name, ".got.plt") == 0)
			gotplt = r;
	}
	if (got.end > got.start && gotplt.end > gotplt.start) {
		m->got.start = MIN(got.start, gotplt.start);
		m->got.end = MAX(got.end, gotplt.end);
	} else {
		m->got = got.end > got.start ? got : gotplt;
	}
	return 0;
}

static int load_dynamic(mod_ctx *c, mg_error *err)
{
	mg_module *m = &c->mp->pub;

	for (size_t i = 1; i < c->shnum; i++) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!mod_shdr(c, i, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		if (sh.sh_entsize != sizeof(Elf64_Dyn))
			return mg_fail(err, MG_ERR_IO, "%s: .dynamic has entry size %ju",
				       c->path, (uintmax_t)sh.sh_entsize);
		d = elf_getdata(elf_getscn(c->elf, i), NULL);
		if (d == NULL)
			return mg_fail(err, MG_ERR_IO, "%s: unreadable .dynamic: %s",
				       c->path, elf_errmsg(-1));
		for (size_t k = 0; k < d->d_size / sizeof(Elf64_Dyn); k++) {
			GElf_Dyn dyn;

			if (gelf_getdyn(d, (int)k, &dyn) == NULL || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag == DT_INIT)
				m->dt_init = dyn.d_un.d_ptr;
			else if (dyn.d_tag == DT_FINI)
				m->dt_fini = dyn.d_un.d_ptr;
		}
		break;
	}
	return 0;
}

static mod_priv *mod_priv_new(const char *path, uint64_t size)
{
	mod_priv *mp = calloc(1, sizeof(*mp));

	if (mp == NULL)
		return NULL;
	mp->pub.path = strdup(path);
	mp->pub.file_size = size;
	mp->names = g_string_chunk_new(16384);
	mp->exports = g_array_new(FALSE, FALSE, sizeof(mod_export));
	mp->export_index = g_hash_table_new(g_str_hash, g_str_equal);
	mp->state_syms = g_array_new(FALSE, FALSE, sizeof(mod_state_sym));
	mp->members = g_array_new(FALSE, FALSE, sizeof(mod_member_off));
	mp->objects = g_array_new(FALSE, FALSE, sizeof(mg_data_object));
	mp->object_exports = g_hash_table_new(g_str_hash, g_str_equal);
	if (mp->pub.path == NULL) {
		mg_module_free(&mp->pub);
		return NULL;
	}
	return mp;
}

static int parse(mod_ctx *c, mg_error *err)
{
	if (load_header(c, err) < 0 || load_segments(c, err) < 0 ||
	    scan_sections(c, err) < 0 || load_notes(c) < 0 ||
	    load_dynamic(c, err) < 0 || mod_load_relocs(c, err) < 0 ||
	    mod_load_functions(c, err) < 0)
		return -1;
	return 0;
}

int mg_module_load(int fd, const char *path, mg_module **out, mg_error *err)
{
	struct stat st;
	mod_ctx c = { .path = path };
	int rc;

	*out = NULL;
	if (fstat(fd, &st) != 0)
		return mg_fail(err, MG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return mg_fail(err, MG_ERR_IO, "%s: not a regular file", path);
	if (check_ident(fd, path, (uint64_t)st.st_size, err) < 0)
		return -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return mg_fail(err, MG_ERR_INTERNAL, "libelf initialisation failed: %s",
			       elf_errmsg(-1));
	c.elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (c.elf == NULL)
		return mg_fail(err, MG_ERR_IO, "%s: not a readable ELF file: %s",
			       path, elf_errmsg(-1));
	if (elf_kind(c.elf) != ELF_K_ELF) {
		elf_end(c.elf);
		return mg_fail(err, MG_ERR_IO, "%s: not an ELF object", path);
	}
	c.raw = (const unsigned char *)elf_rawfile(c.elf, &c.raw_size);
	c.mp = mod_priv_new(path, (uint64_t)st.st_size);
	c.rela_plt_slots = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	if (c.mp == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "%s: out of memory", path);
	} else if (c.raw == NULL || c.raw_size != (size_t)st.st_size) {
		rc = mg_fail(err, MG_ERR_IO, "%s: cannot map the file: %s", path, elf_errmsg(-1));
	} else {
		rc = parse(&c, err);
	}
	g_array_free(c.rela_plt_slots, TRUE);
	elf_end(c.elf);
	if (rc < 0) {
		if (c.mp)
			mg_module_free(&c.mp->pub);
		return -1;
	}
	*out = &c.mp->pub;
	return 0;
}

void mg_module_free(mg_module *m)
{
	mod_priv *mp;

	if (m == NULL)
		return;
	mp = mod_priv_of(m);
	free(m->path);
	free(m->segments);
	g_free(m->funcs);   /* from g_array_free */
	g_free(m->relocs);
	if (mp->export_index)
		g_hash_table_destroy(mp->export_index);
	if (mp->exports)
		g_array_free(mp->exports, TRUE);
	if (mp->state_syms)
		g_array_free(mp->state_syms, TRUE);
	if (mp->members)
		g_array_free(mp->members, TRUE);
	if (mp->objects)
		g_array_free(mp->objects, TRUE);
	if (mp->object_exports)
		g_hash_table_destroy(mp->object_exports);
	g_free(m->objects);
	if (mp->names)
		g_string_chunk_free(mp->names);
	free(mp);
}

const mg_function *mg_module_function_at(const mg_module *m, uint64_t vaddr)
{
	size_t lo = 0, hi = m->nfuncs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const mg_function *f = &m->funcs[mid];

		if (vaddr < f->start)
			hi = mid;
		else if (vaddr >= f->end)
			lo = mid + 1;
		else
			return f;
	}
	return NULL;
}

const mg_reloc *mg_module_reloc_at(const mg_module *m, uint64_t offset)
{
	size_t lo = 0, hi = m->nrelocs;

	/* Lower bound: the first of several relocations at one slot. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->relocs[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->nrelocs && m->relocs[lo].offset == offset)
		return &m->relocs[lo];
	return NULL;
}

static const mod_export *find_export(const mg_module *m, const char *name)
{
	mod_priv *mp = mod_priv_of(m);
	gpointer v;

	if (name == NULL)
		return NULL;
	v = g_hash_table_lookup(mp->export_index, name);
	if (v == NULL)
		return NULL;
	return &g_array_index(mp->exports, mod_export, GPOINTER_TO_SIZE(v) - 1);
}

const mg_function *mg_module_lookup_export(const mg_module *m, const char *name)
{
	const mod_export *e = find_export(m, name);

	return e ? mg_module_function_at(m, e->vaddr) : NULL;
}

bool mg_module_export_vaddr(const mg_module *m, const char *name,
			    uint64_t *vaddr, bool *is_ifunc)
{
	const mod_export *e = find_export(m, name);

	if (e == NULL)
		return false;
	if (vaddr)
		*vaddr = e->vaddr;
	if (is_ifunc)
		*is_ifunc = e->is_ifunc;
	return true;
}

bool mg_module_in_plt(const mg_module *m, uint64_t vaddr)
{
	for (int k = 0; k < 3; k++)
		if (vaddr >= m->plt[k].start && vaddr < m->plt[k].end)
			return true;
	return false;
}

int64_t mg_module_vaddr_to_offset(const mg_module *m, uint64_t vaddr)
{
	for (size_t i = 0; i < m->nsegments; i++) {
		const mg_segment *s = &m->segments[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz)
			return (int64_t)(s->offset + (vaddr - s->vaddr));
	}
	return -1;
}
