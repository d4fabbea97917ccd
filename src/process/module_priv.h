/*
 * module_priv.h - internals shared by module.c, module_relocs.c and
 * module_funcs.c.  Not part of the library API.
 */
#ifndef MG_PROCESS_MODULE_PRIV_H
#define MG_PROCESS_MODULE_PRIV_H

#include <gelf.h>
#include <glib.h>

#include "process/module.h"

/* One exported definition from .dynsym (see mg_module_export_vaddr). */
typedef struct mod_export {
	const char *name;          /* in mod_priv.names */
	uint64_t vaddr;
	bool is_ifunc;
	bool hidden_version;       /* non-default symbol version (name@VER) */
} mod_export;

/* A data symbol the analysis reads in processes (module_syms.c). */
typedef struct mod_state_sym {
	const char *name;          /* in mod_priv.names */
	uint64_t vaddr, size;
} mod_state_sym;

/* A member of a state symbol's type whose offset DWARF gives. */
typedef struct mod_state_member {
	const char *symbol, *type, *member;
} mod_state_member;

/* A member offset found ("type.member" in mod_priv.names). */
typedef struct mod_member_off {
	const char *name;
	uint64_t offset;
} mod_member_off;

/* The module as allocated: the public view first, then what only the
 * implementation needs.  mg_module_free() recovers it from the public one. */
typedef struct mod_priv {
	mg_module pub;
	GStringChunk *names;       /* every name the module hands out */
	GArray *exports;           /* mod_export */
	GHashTable *export_index;  /* name -> index into exports + 1 */
	GArray *state_syms;        /* mod_state_sym */
	GArray *members;           /* mod_member_off */
	GArray *objects;           /* mg_data_object, until published */
	GHashTable *object_exports; /* name -> exported object's vaddr + 1 */
} mod_priv;

static inline mod_priv *mod_priv_of(const mg_module *m)
{
	return (mod_priv *)m;      /* pub is the first member */
}

/* State of one load, passed between the parsing stages. */
typedef struct mod_ctx {
	Elf *elf;
	const char *path;
	mod_priv *mp;
	const unsigned char *raw;  /* the whole file (elf_rawfile) */
	size_t raw_size;
	size_t shnum;
	size_t shstrndx;

	/* Sections the stages need; 0 when absent. */
	size_t symtab_idx, dynsym_idx, versym_idx, eh_frame_idx;
	size_t plt_idx[3];         /* .plt, .plt.sec, .plt.got */
	size_t rela_plt_idx;

	/* Slot offsets of .rela.plt entries in file order: lazy PLT stubs
	 * push an index into this table. */
	GArray *rela_plt_slots;    /* uint64_t */
} mod_ctx;

/* Section header `idx`, bounds already validated at load; false if gone. */
bool mod_shdr(mod_ctx *c, size_t idx, GElf_Shdr *out);

/* Section name, "" if it has none; NULL on a corrupt name. */
const char *mod_section_name(mod_ctx *c, const GElf_Shdr *sh);

/*
 * Validated data of a symbol table section: entry size and the string
 * table link are checked.  Returns the data and sets *count, or NULL after
 * mg_fail.
 */
Elf_Data *mod_symtab_data(mod_ctx *c, size_t idx, size_t *count, mg_error *err);

/* Name of symbol `sym` of table section `idx` (NULL for none); fails via
 * *bad on a string-table index the file does not back. */
const char *mod_symbol_name(mod_ctx *c, size_t idx, const GElf_Sym *sym, bool *bad);

/* Copy a name into the module's string chunk (deduplicated). */
const char *mod_intern(mod_ctx *c, const char *s);

/* Is this a data symbol the analysis reads (module_syms.c)? */
bool mod_is_state_symbol(const char *name);

/* Remember one (once per name). */
void mod_add_state_symbol(mod_ctx *c, const char *name, uint64_t vaddr, uint64_t size);

size_t mod_state_member_count(void);
const mod_state_member *mod_state_member_get(size_t i);
void mod_add_state_member(mod_ctx *c, const char *type, const char *member, uint64_t off);

/*
 * The separate debug file of c's module (by build-id, module_debug.c) as
 * a second context sharing c's module: 0 and *dbg set (close with
 * mod_close_debug), or -1 when there is none that matches.
 */
int mod_open_debug(const mod_ctx *c, mod_ctx *dbg, int *fd);
void mod_close_debug(mod_ctx *dbg, int *fd);

/* Member offsets (mod_state_member) from dbg's DWARF into c's module. */
void mod_load_debug_members(mod_ctx *c, mod_ctx *dbg);

/* module_data.c: remember a section that is split into objects (if it is
 * one), a data object symbol, and publish the objects (sorted, merged). */
void mod_note_data_section(mod_ctx *c, const char *name, const GElf_Shdr *sh);
void mod_add_data_object(mod_ctx *c, const char *name, uint64_t vaddr, uint64_t size,
			 bool exported);
void mod_publish_data_objects(mod_ctx *c);

/* Parse .rela.dyn/.rela.plt/RELR into pub.relocs (sorted). */
int mod_load_relocs(mod_ctx *c, mg_error *err);

/* Build pub.funcs from symbols, .eh_frame FDEs, PLT entries and gaps;
 * also fills the export table. Needs segments, PLT ranges and relocs. */
int mod_load_functions(mod_ctx *c, mg_error *err);

#endif
