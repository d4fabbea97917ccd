/*
 * module_debug.c - a stripped module's symbols from its separate debug
 * file.
 *
 * Distributions strip shared libraries and ship the symbol tables (and
 * DWARF) in packages of their own (Debian's libc6-dbg, *-dbgsym) under
 * /usr/lib/debug/.build-id/NN/REST.debug, named by the module's GNU
 * build-id.  When a module has no .symtab and such a file exists with the
 * same build-id, its .symtab names the module's functions (better units,
 * better evidence) and its data symbols (the state the analysis reads,
 * module_syms.c), and its DWARF gives the member offsets the analysis
 * needs inside that state (module_syms.c: state_members).  A missing,
 * unreadable or mismatched debug file is ignored: the module stays as its
 * own file describes it.  MIGRATABLE_DEBUG_DIR replaces /usr/lib/debug
 * with a list of directories separated by colons, searched in order (as
 * gdb's debug-file-directory; empty: use none).
 */
#include "process/module_priv.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *debug_dir(void)
{
	const char *d = getenv("MIGRATABLE_DEBUG_DIR");
	return d != NULL ? d : "/usr/lib/debug";
}

/* The build-id of an open ELF, as hex; "" if it has none. */
static void elf_build_id(Elf *elf, char out[41])
{
	out[0] = '\0';
	size_t shnum;
	if (elf_getshdrnum(elf, &shnum) != 0)
		return;
	for (size_t i = 1; i < shnum; i++) {
		Elf_Scn *scn = elf_getscn(elf, i);
		GElf_Shdr sh;
		if (scn == NULL || gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		while (d != NULL && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((char *)d->d_buf + name_off, "GNU", 4) != 0)
				continue;
			size_t len = nh.n_descsz > 20 ? 20 : nh.n_descsz;
			for (size_t k = 0; k < len; k++)
				snprintf(out + 2 * k, 3, "%02x",
					 ((unsigned char *)d->d_buf)[desc_off + k]);
			return;
		}
	}
}

/* The debug file of c under the debug directory dir (dirlen bytes long). */
static int open_debug_in(const mod_ctx *c, const char *dir, size_t dirlen, mod_ctx *dbg,
			 int *fd)
{
	const char *id = c->mp->pub.build_id;
	char path[4200];
	memset(dbg, 0, sizeof(*dbg));
	*fd = -1;
	if (dirlen == 0 || dirlen > 4000)
		return -1;
	snprintf(path, sizeof(path), "%.*s/.build-id/%.2s/%s.debug", (int)dirlen, dir, id, id + 2);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return -1;
	dbg->elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	char got[41];
	if (dbg->elf == NULL || elf_kind(dbg->elf) != ELF_K_ELF)
		goto fail;
	elf_build_id(dbg->elf, got);
	if (strcmp(got, id) != 0 || elf_getshdrnum(dbg->elf, &dbg->shnum) != 0 ||
	    elf_getshdrstrndx(dbg->elf, &dbg->shstrndx) != 0 || dbg->shstrndx >= dbg->shnum)
		goto fail;
	dbg->raw = (const unsigned char *)elf_rawfile(dbg->elf, &dbg->raw_size);
	dbg->path = c->path;
	dbg->mp = c->mp;
	for (size_t i = 1; i < dbg->shnum && dbg->raw != NULL; i++) {
		GElf_Shdr sh;
		if (mod_shdr(dbg, i, &sh) && sh.sh_type == SHT_SYMTAB) {
			dbg->symtab_idx = i;
			break;
		}
	}
	if (dbg->symtab_idx == 0)
		goto fail;
	return 0;
fail:
	mod_close_debug(dbg, fd);
	return -1;
}

int mod_open_debug(const mod_ctx *c, mod_ctx *dbg, int *fd)
{
	memset(dbg, 0, sizeof(*dbg));
	*fd = -1;
	if (strlen(c->mp->pub.build_id) < 4)
		return -1;
	for (const char *dir = debug_dir(); *dir != '\0';) {
		size_t len = strcspn(dir, ":");
		if (open_debug_in(c, dir, len, dbg, fd) == 0)
			return 0;
		dir += len;
		dir += *dir == ':';
	}
	return -1;
}

void mod_close_debug(mod_ctx *dbg, int *fd)
{
	if (dbg->elf)
		elf_end(dbg->elf);
	dbg->elf = NULL;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Offset of `member` in the first definition of struct `name` among the
 * DWARF compile units; false if none says. */
static bool member_offset(Dwarf *dw, const char *name, const char *member, uint64_t *off)
{
	Dwarf_Off cu = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, cu, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cudie, die;
		if (dwarf_offdie(dw, cu + hsize, &cudie) != NULL && dwarf_child(&cudie, &die) == 0) {
			do {
				const char *n = dwarf_diename(&die);
				Dwarf_Die m;
				if (dwarf_tag(&die) != DW_TAG_structure_type || n == NULL ||
				    strcmp(n, name) != 0 || dwarf_child(&die, &m) != 0)
					continue;
				do {
					const char *mn = dwarf_diename(&m);
					Dwarf_Attribute a;
					Dwarf_Word w;
					if (dwarf_tag(&m) == DW_TAG_member && mn && strcmp(mn, member) == 0 &&
					    dwarf_attr(&m, DW_AT_data_member_location, &a) != NULL &&
					    dwarf_formudata(&a, &w) == 0) {
						*off = w;
						return true;
					}
				} while (dwarf_siblingof(&m, &m) == 0);
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		cu = next;
	}
	return false;
}

void mod_load_debug_members(mod_ctx *c, mod_ctx *dbg)
{
	Dwarf *dw = NULL;
	for (size_t i = 0; i < mod_state_member_count(); i++) {
		const mod_state_member *sm = mod_state_member_get(i);
		uint64_t va, off;
		if (!mg_module_state_symbol(&c->mp->pub, sm->symbol, &va, NULL))
			continue;
		if (dw == NULL && (dw = dwarf_begin_elf(dbg->elf, DWARF_C_READ, NULL)) == NULL)
			return;
		if (member_offset(dw, sm->type, sm->member, &off))
			mod_add_state_member(c, sm->type, sm->member, off);
	}
	if (dw)
		dwarf_end(dw);
}
