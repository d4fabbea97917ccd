/*
 * decode.c - sweep one unit with Zydis.
 *
 * Every instruction is classified (ISA set -> CPUID features, no
 * deduplication by mnemonic: an EVEX vpaddd zmm and a VEX vpaddd xmm are
 * different requirements).  Instructions that carry a code address are
 * edges:
 * The sweep first summarises a unit independently of the process
 * (mg_summarize_code: requirement groups and code references read from the
 * raw encoding), then applies the summary to the process:
 *   - relative call/jmp/jcc                               -> target
 *   - RIP-relative or absolute memory reference to code   -> that code
 *   - memory read of a slot holding a code address (GOT,
 *     vtable, data)                                       -> the live value
 *     ... and if that slot is a still-lazy PLT slot       -> the symbol,
 *         resolved by name in every loaded module
 *   - immediate operands equal to a code address          -> that code
 *   - the unit does not end in ret/jmp/call/ud2/hlt       -> next unit
 *     (padding after it aside, unless a branch lands in that padding)
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "analysis/summary_cache.h"
#include "features/isa_map.h"

bool mg_insn_never_falls_through(const ZydisDecodedInstruction *insn)
{
	switch (insn->mnemonic) {
	case ZYDIS_MNEMONIC_RET:
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRETQ:
	case ZYDIS_MNEMONIC_SYSRET:
		return true;
	default:
		return false;
	}
}

/* A compiler emits a call as the last instruction of a function only
 * when the callee does not return (abort, __stack_chk_fail); following it
 * into the next function would chain unrelated code. */
static bool ends_flow(const ZydisDecodedInstruction *insn)
{
	return insn->mnemonic == ZYDIS_MNEMONIC_CALL || mg_insn_never_falls_through(insn);
}

/*
 * Alignment padding after a unit's last jump (the `nopw`/`xchg %ax,%ax`
 * that ends every .plt.sec and .plt.got entry, or the int3s some linkers
 * fill with) runs only if something falls into it, so it keeps whatever
 * the instruction before it decided: after a jmp nothing falls through;
 * after a conditional branch or plain code, execution still slides over
 * the padding into the next unit.
 */
static bool is_padding(const ZydisDecodedInstruction *insn)
{
	return insn->mnemonic == ZYDIS_MNEMONIC_NOP ||
	       insn->mnemonic == ZYDIS_MNEMONIC_INT3;
}

/* Queue an edge from unit parent to the unit holding addr (for the main
 * thread to apply between levels); in-unit targets and non-code are
 * ignored. */
static void edge(mg_worker *w, uint64_t addr, mg_reason why, uint32_t parent)
{
	const mg_codemap *map = w->cx->map;
	if (addr >= map->units[parent].start && addr < map->units[parent].end) {
		/* Most branches stay inside the unit; a gap being decoded
		 * from its entries takes such an address as one more (gap.c). */
		if (parent == w->gap_unit) {
			uint32_t off = (uint32_t)(addr - map->units[parent].start);
			g_array_append_val(w->gap_local, off);
		}
		return;
	}
	uint32_t u = mg_codemap_find(map, addr);
	/* state[] only changes between levels: reading it here is race-free.
	 * Every edge into a dlsym-like lookup counts, not only the first
	 * (dlsym.c analyses each caller), every entry into a gap, and every
	 * entry into a function folded from its entries (captest.c). */
	if (u == MG_NO_UNIT || map->units[u].kind == MG_UNIT_VDSO ||
	    (w->cx->state[u].queued && !(w->cx->dlsym.watch && w->cx->dlsym.watch[u]) &&
	     !mg_unit_is_gap(map, u) && !mg_captest_wants_entries(w->cx, u)))
		return;
	if (why == MG_WHY_CODE_REF && w->cx->no_code_ref && w->cx->no_code_ref[u])
		return;    /* an address taken for a purpose that cannot come (lazy.c) */
	if (w->cx->no_call && w->cx->no_call[u])
		return;    /* code that leads there cannot take that path (elision.c) */
	if (why == MG_WHY_CODE_REF && w->cx->resolved_resolver && w->cx->resolved_resolver[parent])
		return;    /* a variant this resolver did not choose (ifunc.c) */
	if (why == MG_WHY_CODE_REF && parent != MG_NO_UNIT && w->cx->refs_unfollowed &&
	    w->cx->refs_unfollowed[parent])
		return;    /* handed out unusable, under an assumed contract (contracts.c) */
	mg_edge e = { addr, u, parent, (uint8_t)why };
	g_array_append_val(w->edges, e);
}

void mg_edge_to(mg_worker *w, uint64_t addr, mg_reason why, uint32_t parent)
{
	edge(w, addr, why, parent);
}

/* Is addr code?  (Then a memory operand at addr is not a pointer slot.) */
static bool is_code(mg_worker *w, uint64_t addr, uint32_t parent)
{
	const mg_codemap *map = w->cx->map;
	return (addr >= map->units[parent].start && addr < map->units[parent].end) ||
	       mg_codemap_find(map, addr) != MG_NO_UNIT;
}

/* A still-lazy PLT slot points back into its own module's PLT: resolve
 * the symbol as the dynamic linker will, by name; every module that
 * exports it is taken (a superset of the one the linker picks). */
static bool follow_lazy_slot(mg_worker *w, uint32_t unit, uint64_t slot,
			     uint64_t value)
{
	mg_scan_ctx *cx = w->cx;
	/* A lazy slot holds PLT code; most values read here are data, and a
	 * bitmap load rejects them before the linear module search. */
	if (!mg_codemap_in_code_region(cx->map, value))
		return false;
	uint32_t mi = mg_codemap_module_at(cx->map, slot);
	if (mi == MG_NO_MODULE)
		return false;
	const mg_loaded_module *lm = &cx->map->modules[mi];
	if (value < lm->lo || value >= lm->hi ||
	    !mg_module_in_plt(lm->module, value - lm->bias))
		return false;
	const mg_reloc *r = mg_module_reloc_at(lm->module, slot - lm->bias);
	if (r == NULL || r->symbol == NULL || r->kind != MG_RELOC_JUMP_SLOT)
		return false;
	bool found = false;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		uint64_t resolver;
		uint64_t at = mg_ifunc_export_target(cx, &cx->map->modules[i], r->symbol, &resolver);
		if (at == 0)
			continue;
		found = true;
		edge(w, at, MG_WHY_LAZY, unit);
		if (resolver)
			edge(w, resolver, MG_WHY_LAZY, unit);   /* binding runs it */
	}
	if (!found)
		g_ptr_array_add(w->unresolved, g_strdup(r->symbol));
	return true;
}

/* Is addr inside the GOT of the module mapped there? */
static bool in_got(const mg_scan_ctx *cx, uint64_t addr)
{
	uint32_t mi = mg_codemap_module_at(cx->map, addr);
	if (mi == MG_NO_MODULE)
		return false;
	const mg_loaded_module *lm = &cx->map->modules[mi];
	return addr >= lm->module->got.start + lm->bias && addr < lm->module->got.end + lm->bias;
}

/* The code at `unit` addresses module data at addr (data.c). */
/* An address of data the code holds: one it computes (a lea, an
 * immediate), or (stored) a pointer it reads from memory, which points
 * into its object as any stored pointer does (data.c). */
static void data_edge(mg_worker *w, uint64_t addr, uint32_t unit, bool stored)
{
	if (!mg_data_maybe(&w->cx->data, addr))
		return;
	mg_data_edge e = { addr, unit, stored };
	g_array_append_val(w->data_edges, e);
}

/* How far past a memory operand's address its bytes can reach: the
 * widest load (a ZMM register, 64 bytes); the operand size itself is not
 * decoded in the sweep's minimal mode. */
#define LOAD_SPAN 64u

/*
 * A load or store at addr (not a GOT slot) hands the code the words it
 * reads, not the object's address: follow those words (code pointers as
 * pointer slots, data pointers to their objects), not the object.  The
 * words are those of the object holding addr, at most LOAD_SPAN bytes.
 * A word that points to itself (crtstuff's __dso_handle) gives nothing new.
 */
static void follow_loaded_words(mg_worker *w, uint32_t unit, uint64_t addr)
{
	uint64_t end = addr + LOAD_SPAN;
	uint64_t page_end = (addr | 4095) + 1;
	uint32_t chunk = mg_data_find(w->cx, addr);
	if (end > page_end)
		end = page_end;      /* a wide load does not cross into another page's object */
	if (chunk != MG_NO_UNIT && end > w->cx->data.chunks[chunk].end)
		end = w->cx->data.chunks[chunk].end;   /* nor out of its object */
	for (uint64_t at = addr & ~(uint64_t)7; at < end; at += 8) {
		uint64_t value;
		if (!mg_read_u64(w->cx, at, &value))
			return;
		edge(w, value, MG_WHY_SLOT, unit);
		if (value != at)
			data_edge(w, value, unit, true);
	}
}

/* Does function unit take addr, in a gap (perlasm's tables in .text),
 * only to use it as data?  Then it is no entry into the gap (datareg.c). */
static bool lea_of_table(mg_worker *w, uint32_t unit, uint64_t addr)
{
	const mg_codemap *map = w->cx->map;
	return map->units[unit].kind == MG_UNIT_FUNCTION && !mg_unit_is_gap(map, unit) &&
	       mg_lea_only_data(w->cx, unit, addr);
}

/* A lea of a table in a gap that may be used other than as data: a word
 * of it may be a code pointer the function loads and calls (a table of
 * them in .text), so every word that points into code is a pointer slot. */
static void follow_table_words(mg_worker *w, uint32_t unit, uint32_t gap)
{
	uint64_t at = 0, v;
	while (mg_unit_next_code_word(w->cx, gap, &at, &v))
		edge(w, v, MG_WHY_SLOT, unit);
}

static void follow_memory_ref(mg_worker *w, uint32_t unit, bool is_lea,
			      uint64_t addr)
{
	/* A reference to code itself.  Only its address (a lea) can be
	 * entered; a load hands the code the bytes there, not the address
	 * (perlasm's constants in .text: mont5's .Linc, read by movdqa), so
	 * those bytes are followed as any loaded words are. */
	if (is_code(w, addr, unit)) {
		if (!is_lea) {
			follow_loaded_words(w, unit, addr);
			return;
		}
		uint32_t to = mg_codemap_find(w->cx->map, addr);
		bool gap = to != MG_NO_UNIT && to != unit && mg_unit_is_gap(w->cx->map, to);
		if (gap && lea_of_table(w, unit, addr))
			return;
		edge(w, addr, MG_WHY_CODE_REF, unit);
		if (gap)
			follow_table_words(w, unit, to);
		return;
	}
	if (is_lea) {
		/* The address of data: its object can be reached. */
		data_edge(w, addr, unit, false);
		return;
	}
	if (!in_got(w->cx, addr)) {
		follow_loaded_words(w, unit, addr);
		return;
	}
	uint64_t value;
	if (!mg_read_u64(w->cx, addr, &value)) {
		/* Most failed reads are stray data refs into unmapped space.  A
		 * GOT slot we cannot read (a CRIU page in a parent image) names
		 * an unknown import: anything this host has may be needed. */
		if (in_got(w->cx, addr)) {
			mg_fset_union(&w->required, &w->cx->host);
			if (w->unreadable_slot == 0)
				w->unreadable_slot = addr;
		}
		return;
	}
	if (follow_lazy_slot(w, unit, addr, value))
		return;
	edge(w, value, MG_WHY_SLOT, unit);
	/* A GOT slot naming data (GLOB_DAT) hands over its address, as a lea
	 * does (a dispatcher taking every table through the GOT: dispatch.c). */
	data_edge(w, value, unit, false);
}

/* --- what a unit's code says, independent of the process ------------------- */

static bool add_ref(mg_unit_summary *s, size_t *cap, uint8_t kind, int64_t value)
{
	if (s->nrefs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		mg_code_ref *r = realloc(s->refs, ncap * sizeof(*r));
		if (r == NULL)
			return false;
		s->refs = r;
		*cap = ncap;
	}
	s->refs[s->nrefs++] = (mg_code_ref){ value, kind };
	return true;
}

/* An FS/GS segment override makes an absolute address thread-relative. */
static bool has_fs_gs_prefix(const ZydisDecodedInstruction *insn)
{
	for (unsigned i = 0; i < insn->raw.prefix_count && i < ZYDIS_MAX_INSTRUCTION_LENGTH; i++)
		if (insn->raw.prefixes[i].value == 0x64 || insn->raw.prefixes[i].value == 0x65)
			return true;
	return false;
}

/*
 * Code addresses an instruction carries, from its raw encoding (the
 * decoder runs in Zydis' minimal mode; decoding operands would double the
 * cost of the sweep):
 *   - a relative immediate (call/jmp/jcc/loop/xbegin)   -> branch target
 *   - ModRM mod=00 rm=101: RIP-relative memory          -> next ip + disp32
 *   - ModRM mod=00 rm=100, SIB base=101 index=100       -> absolute disp32
 *     (with REX.X the index is r12; treating it as absolute only adds a
 *     candidate address, which is harmless)
 *   - moffs forms (mov rax, [imm64])                    -> disp64
 *   - 32/64-bit immediates (fixed-address code)         -> candidate address
 * Relative ones are recorded relative to the unit start, so a summary
 * holds for the same code mapped anywhere.
 */
/* Refs of one instruction; *inner_end is raised past any branch target
 * inside the unit (those are not recorded as refs). */
static bool collect_refs(mg_unit_summary *s, size_t *cap, uint64_t off, size_t len,
			 const ZydisDecodedInstruction *insn, uint64_t *inner_end)
{
	int64_t next = (int64_t)(off + insn->length);
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		if (insn->raw.imm[i].size && insn->raw.imm[i].is_relative) {
			/* Most branches (jcc, loops) stay inside the unit, which
			 * is decoded whole anyway: recording them would only cost
			 * sorting them away again. */
			int64_t target = next + insn->raw.imm[i].value.s;
			if (target < 0 || (uint64_t)target >= len)
				ok &= add_ref(s, cap, MG_REF_BRANCH, target);
			else if ((uint64_t)target + 1 > *inner_end)
				*inner_end = (uint64_t)target + 1;
		} else if (insn->raw.imm[i].size >= 32)
			/* mov r32, imm32 zero-extends: code addresses are positive */
			ok &= add_ref(s, cap, MG_REF_IMM, insn->raw.imm[i].size == 32
				      ? (int64_t)(uint32_t)insn->raw.imm[i].value.u
				      : (int64_t)insn->raw.imm[i].value.u);
	}
	/* cmp/test read their memory operand only to set flags: the value
	 * never reaches a register, so it leads nowhere. */
	uint8_t mem = insn->mnemonic == ZYDIS_MNEMONIC_LEA ? MG_REF_LEA_ABS :
		      insn->mnemonic == ZYDIS_MNEMONIC_CMP ||
		      insn->mnemonic == ZYDIS_MNEMONIC_TEST ? MG_REF_CMP_ABS : MG_REF_MEM_ABS;
	if (insn->raw.modrm.offset != 0) {
		if (insn->raw.modrm.mod != 0)
			return ok;
		if (insn->raw.modrm.rm == 5)
			return ok && add_ref(s, cap, mem + 1, next + insn->raw.disp.value);
		if (insn->raw.modrm.rm == 4 && insn->raw.sib.offset != 0 &&
		    insn->raw.sib.base == 5 && insn->raw.sib.index == 4 &&
		    !has_fs_gs_prefix(insn))
			return ok && add_ref(s, cap, mem, insn->raw.disp.value);
	} else if (insn->raw.disp.size == 64 && !has_fs_gs_prefix(insn)) {
		return ok && add_ref(s, cap, mem, insn->raw.disp.value);
	}
	return ok;
}

static bool add_requirement(mg_unit_summary *s, const mg_feature_set *f, uint64_t off,
			    bool hint, bool as_bsf)
{
	for (uint32_t i = 0; i < s->ngroups; i++) {
		if (s->groups[i].hint == hint && s->groups[i].as_bsf == as_bsf &&
		    mg_fset_equal(&s->groups[i].features, f)) {
			s->groups[i].count++;
			return true;
		}
	}
	mg_req_group *g = realloc(s->groups, (s->ngroups + 1) * sizeof(*g));
	if (g == NULL)
		return false;
	s->groups = g;
	s->groups[s->ngroups++] = (mg_req_group){ *f, 1, (uint32_t)off, hint, as_bsf };
	return true;
}

static int cmp_ref(const void *a, const void *b)
{
	const mg_code_ref *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

/* Insertion sort: most units hold a handful of references, where qsort's
 * set-up and indirect comparisons cost more than the sorting. */
static void sort_few_refs(mg_code_ref *r, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		mg_code_ref x = r[i];
		uint32_t j = i;
		while (j > 0 && cmp_ref(&x, &r[j - 1]) < 0) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

/* Many references repeat (calls to one function): keep each once. */
static void unique_refs(mg_unit_summary *s)
{
	if (s->nrefs < 2)
		return;
	if (s->nrefs <= 24)
		sort_few_refs(s->refs, s->nrefs);
	else
		qsort(s->refs, s->nrefs, sizeof(*s->refs), cmp_ref);
	uint32_t n = 1;
	for (uint32_t i = 1; i < s->nrefs; i++)
		if (cmp_ref(&s->refs[i], &s->refs[n - 1]) != 0)
			s->refs[n++] = s->refs[i];
	s->nrefs = n;
}

/* Are bytes [from, len) all int3 (a trap: execution does not go on)? */
static bool all_int3(const uint8_t *bytes, size_t from, size_t len)
{
	for (size_t i = from; i < len; i++)
		if (bytes[i] != 0xcc)
			return false;
	return true;
}

/* One instruction's requirement and code references, at offset off
 * (as_bsf: a tzcnt whose flags go unread, tzcnt.c). */
static bool add_insn(mg_unit_summary *s, size_t *cap, const ZydisDecodedInstruction *insn,
		     uint64_t off, size_t len, uint64_t *inner_end, bool as_bsf)
{
	mg_isa_requirement req;
	mg_instruction_requirement(insn, &req);
	if (req.kind == MG_ISA_FEATURES || req.kind == MG_ISA_HINT) {
		if (!add_requirement(s, &req.features, off, req.kind == MG_ISA_HINT,
				     as_bsf && req.kind == MG_ISA_FEATURES))
			return false;
	} else if (req.kind == MG_ISA_UNKNOWN) {
		if (s->unknown++ == 0)
			s->first_unknown = (uint32_t)off;
	}
	return collect_refs(s, cap, off, len, insn, inner_end);
}

bool mg_summary_add_insn(mg_unit_summary *s, size_t *cap, const ZydisDecodedInstruction *insn,
			 size_t off, size_t len)
{
	uint64_t inner_end = 0;     /* in-unit branches: the gap walk follows them */
	return add_insn(s, cap, insn, off, len, &inner_end, false);
}

void mg_summary_finish(mg_unit_summary *s)
{
	unique_refs(s);
}

bool mg_summarize_code(const ZydisDecoder *decoder, const uint8_t *bytes,
		       size_t len, mg_unit_summary *s)
{
	ZydisDecodedInstruction insn;
	size_t cap = 0;
	bool ok = true;
	uint64_t real_end = 0;      /* end of the last instruction that is not padding */
	uint64_t inner_end = 0;     /* past the furthest branch target inside the unit */

	memset(s, 0, sizeof(*s));
	for (size_t off = 0; off < len && ok;) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(decoder, NULL, bytes + off,
								len - off, &insn))) {
			off++;           /* data or padding: resynchronise */
			s->ends_flow = false;
			continue;
		}
		s->instructions++;
		ok = add_insn(s, &cap, &insn, off, len, &inner_end,
			      mg_tzcnt_flags_unread(bytes, len, off, &insn));
		if (!is_padding(&insn)) {
			s->ends_flow = ends_flow(&insn);
			real_end = off + insn.length;
		}
		off += insn.length;
	}
	/* A branch into the padding after the final jump (rare, but legal)
	 * runs over it into the next unit, unless it only meets int3s. */
	if (s->ends_flow && inner_end > real_end && !all_int3(bytes, inner_end - 1, len))
		s->ends_flow = false;
	unique_refs(s);
	return ok;
}

void mg_unit_summary_free(mg_unit_summary *s)
{
	free(s->groups);
	free(s->refs);
	memset(s, 0, sizeof(*s));
}

/* --- what it means for this process ---------------------------------------- */

static void apply_features(mg_worker *w, uint32_t unit, const mg_unit_summary *s,
			   const uint8_t *bytes, size_t len)
{
	const mg_unit *u = &w->cx->map->units[unit];
	bool bsf = mg_tzcnt_assumed(w->cx, s);
	uint32_t counted = 0;
	for (uint32_t i = 0; i < s->ngroups; i++) {
		const mg_req_group *g = &s->groups[i];
		if (g->as_bsf && bsf) {     /* --assume tzcnt-as-bsf */
			counted += g->count;
			continue;
		}
		if (g->hint) {      /* harmless without the bit: reported, not required */
			mg_fset_union(&w->hints, &g->features);
			for (mg_feature_id f = mg_fset_next(&g->features, -1); f >= 0;
			     f = mg_fset_next(&g->features, f))
				w->hint_sites[f] += g->count;
			continue;
		}
		mg_fset_union(&w->seen, &g->features);
		/* Code needing what this host lacks cannot have been selected by
		 * the process's own dispatch: it never runs here. */
		bool runs_here = mg_fset_is_subset(&g->features, &w->cx->host);
		for (mg_feature_id f = mg_fset_next(&g->features, -1); f >= 0;
		     f = mg_fset_next(&g->features, f)) {
			w->sites[f] += g->count;
			if (runs_here && g->first < len) {
				mg_fset_add(&w->required, f);
				mg_note_site(w, unit, u->start + g->first, f,
					     bytes + g->first, len - g->first);
			}
		}
	}
	if (counted > 0) {
		uint32_t pair[2] = { unit, counted };
		g_array_append_vals(w->tzcnt_counted, pair, 2);
	}
	if (s->unknown) {
		w->unknown_isa_sites += s->unknown;
		if (s->first_unknown < len)
			mg_note_site(w, unit, u->start + s->first_unknown, MG_FEATURE_NONE,
				     bytes + s->first_unknown, len - s->first_unknown);
	}
}

static void apply_refs(mg_worker *w, uint32_t unit, const mg_unit_summary *s)
{
	uint64_t base = w->cx->map->units[unit].start;
	for (uint32_t i = 0; i < s->nrefs; i++) {
		const mg_code_ref *r = &s->refs[i];
		uint64_t rel = base + (uint64_t)r->value, abs = (uint64_t)r->value;
		switch ((mg_ref_kind)r->kind) {
		case MG_REF_BRANCH:  edge(w, rel, MG_WHY_DIRECT, unit); break;
		case MG_REF_IMM:
			edge(w, abs, MG_WHY_CODE_REF, unit);
			data_edge(w, abs, unit, false);   /* fixed-address code: mov $table, %edi */
			break;
		case MG_REF_MEM_ABS: follow_memory_ref(w, unit, false, abs); break;
		case MG_REF_MEM_REL: follow_memory_ref(w, unit, false, rel); break;
		case MG_REF_LEA_ABS: follow_memory_ref(w, unit, true, abs); break;
		case MG_REF_LEA_REL: follow_memory_ref(w, unit, true, rel); break;
		case MG_REF_CMP_ABS:
		case MG_REF_CMP_REL: break;
		}
	}
}

/*
 * --explain FEATURE wants every site, which a summary does not keep:
 * sweep the unit again, only if it has the feature at all.
 */
static void explain_sites(mg_worker *w, uint32_t unit, const mg_unit_summary *s,
			  const uint8_t *bytes, size_t len, const uint8_t *live)
{
	mg_scan_ctx *cx = w->cx;
	mg_feature_id want = cx->opt->explain;
	bool has = false, bsf = mg_tzcnt_assumed(cx, s), bsf_groups = false;
	for (uint32_t i = 0; i < s->ngroups; i++) {
		const mg_req_group *g = &s->groups[i];
		bsf_groups |= g->as_bsf;
		has |= !g->hint && !(g->as_bsf && bsf) && mg_fset_has(&g->features, want) &&
		       mg_fset_is_subset(&g->features, &cx->host);
	}
	if (!has)
		return;
	bsf &= bsf_groups;         /* (a fold's summary has none) */
	ZydisDecodedInstruction insn;
	for (size_t off = 0; off < len;) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&cx->decoder, NULL, bytes + off,
								len - off, &insn))) {
			off++;
			continue;
		}
		if ((live == NULL || mg_bit_test(live, off)) &&
		    !(bsf && mg_tzcnt_flags_unread(bytes, len, off, &insn)))
			mg_explain_insn(w, unit, &insn, bytes, len, off);
		off += insn.length;
	}
}

void mg_explain_insn(mg_worker *w, uint32_t unit, const ZydisDecodedInstruction *insn,
		     const uint8_t *bytes, size_t len, size_t off)
{
	mg_scan_ctx *cx = w->cx;
	mg_feature_id want = cx->opt->explain;
	mg_isa_requirement req;
	mg_instruction_requirement(insn, &req);
	if (req.kind == MG_ISA_FEATURES && mg_fset_has(&req.features, want) &&
	    mg_fset_is_subset(&req.features, &cx->host))
		mg_note_site(w, unit, cx->map->units[unit].start + off, want, bytes + off,
			     len - off);
}

void mg_apply_summary(mg_worker *w, uint32_t unit, const mg_unit_summary *s,
		      const uint8_t *bytes, size_t len)
{
	apply_features(w, unit, s, bytes, len);
	apply_refs(w, unit, s);
}

void mg_decode_unit(mg_worker *w, uint32_t unit)
{
	mg_scan_ctx *cx = w->cx;
	const mg_unit *u = &cx->map->units[unit];
	if (u->kind == MG_UNIT_VDSO)
		return;    /* the destination kernel supplies its own */
	uint64_t map_hash = 0;
	const uint8_t *bytes = mg_unit_code(cx, unit, &map_hash);
	if (bytes == NULL)
		return;
	if (mg_unit_is_gap(cx->map, unit) && mg_gap_decode(w, unit, bytes))
		return;    /* decoded from its entries (gap.c) */
	size_t len = (size_t)(u->end - u->start);
	mg_unit_summary s;
	/* ELF code is the same in every process that maps the file: its
	 * summary may come from an earlier scan (keyed by the bytes). */
	bool cacheable = cx->cache != NULL && u->kind == MG_UNIT_FUNCTION;
	uint64_t key = cacheable ? mg_summary_key(bytes, len) : 0;
	bool fresh = !(cacheable && mg_summary_cache_get(cx->cache, map_hash, key, len, &s));
	if (fresh && !mg_summarize_code(&cx->decoder, bytes, len, &s)) {
		/* Out of memory mid-unit: what it could need is unknown. */
		mg_fset_union(&w->required, &cx->host);
		w->widened = true;
		cacheable = false;
	}
	/* OpenSSL's capability tests may leave part of it unreachable. */
	bool folds = mg_captest_applies(cx, unit, &s) && !mg_captest_unfolded(cx, unit);
	mg_captest_fold_result *fold = folds ? mg_captest_fold(cx, unit, bytes) : NULL;
	const mg_unit_summary *live = fold ? &fold->summary : &s;
	apply_features(w, unit, live, bytes, len);
	apply_refs(w, unit, live);
	if (cx->opt->explain != MG_FEATURE_NONE)
		explain_sites(w, unit, live, bytes, len, fold ? fold->live : NULL);
	if (folds) {
		mg_fold_found ff = { unit, fold };
		g_array_append_val(w->folds, ff);     /* the main thread keeps it (or drops an old one) */
	}
	w->instructions += s.instructions;
	w->bytes += len;
	if (!s.ends_flow && unit + 1 < cx->map->nunits &&
	    cx->map->units[unit + 1].start == u->end)
		edge(w, u->end, MG_WHY_FALLTHROUGH, unit);
	if (fresh && cacheable) {
		mg_fresh_summary f = { map_hash, key, len, s };
		g_array_append_val(w->fresh, f);      /* the main thread saves it */
	} else {
		mg_unit_summary_free(&s);
	}
}
