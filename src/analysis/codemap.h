/*
 * codemap.h - every piece of executable code in a process image, cut into
 * units (functions) with runtime addresses, and the lookup from any
 * address to its unit.
 *
 * A unit is what reachability marks and what decoding sweeps: a function
 * from a symbol or an .eh_frame FDE, one PLT entry, a gap between known
 * functions, or a whole anonymous executable mapping (JIT code).
 */
#ifndef MG_ANALYSIS_CODEMAP_H
#define MG_ANALYSIS_CODEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "process/image.h"
#include "process/module.h"
#include "util/error.h"

#define MG_NO_MODULE UINT32_MAX
#define MG_NO_UNIT   UINT32_MAX

typedef enum mg_unit_kind {
	MG_UNIT_FUNCTION,      /* symbol, FDE, PLT entry or gap of an ELF module */
	MG_UNIT_JIT,           /* a whole anonymous executable mapping */
	MG_UNIT_OPAQUE,        /* a file mapping we could not parse as ELF: whole mapping */
	MG_UNIT_VDSO           /* supplied by the destination kernel: never counted */
} mg_unit_kind;

/* One mapped instance of an ELF file. */
typedef struct mg_loaded_module {
	mg_module *module;         /* parsed ELF (shared by instances of one file) */
	char *name;                /* path as mapped */
	uint64_t bias;             /* runtime = link-time + bias */
	uint64_t lo, hi;           /* runtime span of all its mappings */
} mg_loaded_module;

typedef struct mg_unit {
	uint64_t start, end;       /* runtime [start, end) */
	uint32_t module;           /* index into codemap.modules or MG_NO_MODULE */
	mg_unit_kind kind;
	const mg_function *func;   /* NULL for JIT/opaque/vdso */
} mg_unit;

typedef struct mg_codemap {
	mg_loaded_module *modules;
	size_t nmodules;
	mg_unit *units;            /* sorted by start, non-overlapping */
	size_t nunits;
	uint64_t lo, hi;           /* span of all units */
	/* Merged [start, end) spans of executable mappings, sorted: a small
	 * array searched before the (much larger) unit array, so that the
	 * millions of heap words that are not code are rejected cheaply. */
	uint64_t *span_start, *span_end;
	size_t nspans;
	/* One bit per 2 MiB of the 47-bit user address space: set where any
	 * code lies.  8 MiB of virtual memory, of which only the pages for
	 * code regions are ever touched; a heap word is rejected with one
	 * shift and one load. */
	uint8_t *region_bits;
	mg_module **parsed;        /* distinct parsed ELF files (owned) */
	size_t nparsed;
} mg_codemap;

/*
 * Build the code map of an image: parse the ELF file behind every
 * executable file mapping (once per file), cut each executable mapping
 * into units.  Files that cannot be parsed become opaque units (with a
 * warning on the image): the analysis then treats them as wholly
 * reachable, which widens the result rather than losing code.
 */
int mg_codemap_build(mg_image *img, mg_codemap *map, mg_error *err);

#define MG_USER_SPACE_BITS 47
#define MG_REGION_SHIFT    21

/*
 * Is addr in a 2 MiB region that holds any code?  The first, cheapest
 * filter of mg_codemap_find(), inline so that the memory scan can reject
 * the hundreds of millions of heap words of a large process without a
 * call per word.
 */
static inline bool mg_codemap_in_code_region(const mg_codemap *map, uint64_t addr)
{
	if (addr >= (1ull << MG_USER_SPACE_BITS))
		return false;
	uint64_t r = addr >> MG_REGION_SHIFT;
	return (map->region_bits[r >> 3] >> (r & 7)) & 1;
}

/* Unit containing a runtime address, MG_NO_UNIT if none. */
uint32_t mg_codemap_find(const mg_codemap *map, uint64_t addr);

/* Loaded module containing a runtime address (any of its mappings). */
uint32_t mg_codemap_module_at(const mg_codemap *map, uint64_t addr);

/* Human name of a unit: "memcpy", "puts@plt", "fde@0x1234", "jit@0x7f..". */
void mg_unit_name(const mg_codemap *map, uint32_t unit, char *buf, size_t len);

void mg_codemap_free(mg_codemap *map);

#endif
