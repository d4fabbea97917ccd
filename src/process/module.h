/*
 * module.h - one ELF object as the analysis needs it: function ranges,
 * PLT/GOT relocations, exported symbols, init/fini arrays.
 *
 * Addresses here are link-time virtual addresses (st_value, r_offset);
 * add the load bias of a mapped instance to get runtime addresses.
 * Parsed with elfutils (libelf for ELF, libdw for .eh_frame CFI).
 */
#ifndef MG_PROCESS_MODULE_H
#define MG_PROCESS_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum mg_func_origin {
	MG_FUNC_SYMTAB,    /* .symtab / .dynsym STT_FUNC or STT_GNU_IFUNC */
	MG_FUNC_FDE,       /* only an .eh_frame FDE covers it (stripped code) */
	MG_FUNC_PLT,       /* a PLT section (.plt, .plt.sec, .plt.got) as one unit each entry */
	MG_FUNC_GAP        /* executable bytes covered by nothing above */
} mg_func_origin;

typedef struct mg_function {
	uint64_t start, end;       /* [start, end), link-time addresses */
	const char *name;          /* owned by the module; NULL for FDE/gap ranges */
	mg_func_origin origin;
	bool is_ifunc_resolver;    /* symbol is STT_GNU_IFUNC: start is its resolver */
	bool exported;             /* in .dynsym with default/protected visibility */
} mg_function;

typedef enum mg_reloc_kind {
	MG_RELOC_JUMP_SLOT,        /* R_X86_64_JUMP_SLOT: PLT slot, maybe lazy */
	MG_RELOC_GLOB_DAT,         /* R_X86_64_GLOB_DAT */
	MG_RELOC_IRELATIVE,        /* R_X86_64_IRELATIVE: addend is the resolver */
	MG_RELOC_RELATIVE,         /* R_X86_64_RELATIVE: addend is a local address */
	MG_RELOC_64                /* R_X86_64_64 against a symbol */
} mg_reloc_kind;

typedef struct mg_reloc {
	uint64_t offset;           /* where: link-time address of the slot */
	mg_reloc_kind kind;
	const char *symbol;        /* owned by the module; NULL for RELATIVE/IRELATIVE */
	int64_t addend;
} mg_reloc;

typedef struct mg_segment {
	uint64_t vaddr, memsz, filesz, offset;
	unsigned flags;            /* PF_R/PF_W/PF_X */
} mg_segment;

typedef struct mg_range {
	uint64_t start, end;
} mg_range;

/* A sized STT_OBJECT symbol in a section split into objects
 * (module_data.c); overlapping symbols are merged into one. */
typedef struct mg_data_object {
	uint64_t start, end;       /* [start, end), link-time addresses */
	const char *name;          /* the exported name if any; NULL if unnamed */
	bool exported;             /* in .dynsym with default/protected visibility */
} mg_data_object;

/* .data.rel.ro, .data, .bss: the sections split into objects. */
#define MG_DATA_SECTIONS 3

typedef struct mg_module {
	char *path;
	uint64_t file_size;
	char build_id[41];         /* hex, "" if none */
	bool is_dyn;               /* ET_DYN (PIE or shared object): relocatable */
	bool is_exec;              /* ET_EXEC or PIE with an interpreter */
	uint64_t entry;            /* e_entry */

	mg_segment *segments;      /* PT_LOAD */
	size_t nsegments;
	mg_range relro;            /* PT_GNU_RELRO, {0,0} if none */

	mg_function *funcs;        /* sorted by start, non-overlapping */
	size_t nfuncs;

	mg_reloc *relocs;          /* sorted by offset */
	size_t nrelocs;

	mg_range plt[3];           /* .plt, .plt.sec, .plt.got ({0,0} if absent) */
	mg_range got;              /* .got + .got.plt span */
	mg_range init_array, fini_array;
	mg_range preinit_array;
	mg_range data_sections[MG_DATA_SECTIONS];  /* {0,0} where absent */
	mg_data_object *objects;   /* sorted, disjoint, inside data_sections */
	size_t nobjects;
	uint64_t dt_init, dt_fini; /* DT_INIT / DT_FINI, 0 if absent */

	/* GNU property note: x86 ISA level the object was built for
	 * (GNU_PROPERTY_X86_ISA_1_NEEDED bit mask, 0 if absent). */
	uint32_t isa_needed;

	bool has_symtab;           /* not stripped */
	bool debug_symbols;        /* stripped, symbols read from its debug file */
	bool has_eh_frame;
} mg_module;

/*
 * Parse an ELF file from an open descriptor (not closed).  `path` names it
 * in messages.  Fails with MG_ERR_IO for a corrupt or truncated file and
 * MG_ERR_UNSUPPORTED for a 32-bit or non-x86-64 one.
 */
int mg_module_load(int fd, const char *path, mg_module **out, mg_error *err);

void mg_module_free(mg_module *m);

/* Function containing a link-time address, or NULL. */
const mg_function *mg_module_function_at(const mg_module *m, uint64_t vaddr);

/* Relocation whose slot is at `offset`, or NULL. */
const mg_reloc *mg_module_reloc_at(const mg_module *m, uint64_t offset);

/*
 * Exported definition of `name` (a function or IFUNC), or NULL.
 * Used to resolve a still-lazy PLT slot as the dynamic linker would.
 */
const mg_function *mg_module_lookup_export(const mg_module *m, const char *name);

/*
 * Exact address of the exported definition `name` (its .dynsym value),
 * which can lie inside a larger function range when the export is an
 * alias entry point into another function's body; *is_ifunc (if not NULL)
 * tells that the address is an IFUNC resolver.  Among several versions of
 * one name the default one (name@@VER) wins.  False if not exported.
 */
bool mg_module_export_vaddr(const mg_module *m, const char *name,
			    uint64_t *vaddr, bool *is_ifunc);

/*
 * Link-time address (and size, if size is not NULL) of a data symbol
 * whose value the analysis reads in a process: only the names listed in
 * module_syms.c are kept.  False if the module has no such symbol.
 */
bool mg_module_state_symbol(const mg_module *m, const char *name, uint64_t *vaddr,
			    uint64_t *size);

/* Offset of `member` in the struct `type` of a state symbol, from the
 * module's debug file DWARF (module_syms.c lists which); false if not known. */
bool mg_module_member_offset(const mg_module *m, const char *type, const char *member,
			     uint64_t *off);

/* Link-time address of the exported data object `name`; false if the
 * module exports no such object. */
bool mg_module_export_object(const mg_module *m, const char *name, uint64_t *vaddr);

/* The data object containing a link-time address, or NULL. */
const mg_data_object *mg_module_object_at(const mg_module *m, uint64_t vaddr);

/* True if vaddr lies in one of the PLT sections. */
bool mg_module_in_plt(const mg_module *m, uint64_t vaddr);

/*
 * File offset of a link-time address inside a loaded segment; -1 if the
 * address is not backed by file bytes.
 */
int64_t mg_module_vaddr_to_offset(const mg_module *m, uint64_t vaddr);

#endif
