/*
 * decode.c - sweep one unit with Zydis.
 *
 * Every instruction is classified (ISA set -> CPUID features, no
 * deduplication by mnemonic: an EVEX vpaddd zmm and a VEX vpaddd xmm are
 * different requirements).  Instructions that carry a code address are
 * edges:
 *   - relative call/jmp/jcc                               -> target
 *   - RIP-relative or absolute memory reference to code   -> that code
 *   - memory read of a slot holding a code address (GOT,
 *     vtable, data)                                       -> the live value
 *     ... and if that slot is a still-lazy PLT slot       -> the symbol,
 *         resolved by name in every loaded module
 *   - immediate operands equal to a code address          -> that code
 *   - the unit does not end in ret/jmp/call/ud2/hlt       -> next unit
 */
#include <inttypes.h>
#include <string.h>

#include "analysis/engine.h"
#include "features/isa_map.h"

static bool ends_flow(const ZydisDecodedInstruction *insn)
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
	/* A compiler emits a call as the last instruction of a function
	 * only when the callee does not return (abort, __stack_chk_fail);
	 * following it into the next function would chain unrelated code. */
	case ZYDIS_MNEMONIC_CALL:
		return true;
	default:
		return false;
	}
}

/* A still-lazy PLT slot points back into its own module's PLT: resolve
 * the symbol as the dynamic linker will, by name; every module that
 * exports it is taken (a superset of the one the linker picks). */
static void edge(mg_worker *w, uint64_t addr, mg_reason why, uint32_t parent)
{
	const mg_codemap *map = &w->cx->map;
	if (addr >= map->units[parent].start && addr < map->units[parent].end)
		return;    /* most branches stay inside the unit */
	uint32_t u = mg_codemap_find(map, addr);
	/* state[] only changes between levels: reading it here is race-free. */
	if (u == MG_NO_UNIT || w->cx->state[u].queued ||
	    map->units[u].kind == MG_UNIT_VDSO)
		return;
	mg_edge e = { u, parent, (uint8_t)why };
	g_array_append_val(w->edges, e);
}

/* Is addr code?  (Then a memory operand at addr is not a pointer slot.) */
static bool is_code(mg_worker *w, uint64_t addr, uint32_t parent)
{
	const mg_codemap *map = &w->cx->map;
	return (addr >= map->units[parent].start && addr < map->units[parent].end) ||
	       mg_codemap_find(map, addr) != MG_NO_UNIT;
}

static bool follow_lazy_slot(mg_worker *w, uint32_t unit, uint64_t slot,
			     uint64_t value)
{
	mg_scan_ctx *cx = w->cx;
	uint32_t mi = mg_codemap_module_at(&cx->map, slot);
	if (mi == MG_NO_MODULE)
		return false;
	const mg_loaded_module *lm = &cx->map.modules[mi];
	if (value < lm->lo || value >= lm->hi ||
	    !mg_module_in_plt(lm->module, value - lm->bias))
		return false;
	const mg_reloc *r = mg_module_reloc_at(lm->module, slot - lm->bias);
	if (r == NULL || r->symbol == NULL || r->kind != MG_RELOC_JUMP_SLOT)
		return false;
	bool found = false;
	for (size_t i = 0; i < cx->map.nmodules; i++) {
		const mg_loaded_module *o = &cx->map.modules[i];
		const mg_function *f = mg_module_lookup_export(o->module, r->symbol);
		if (f == NULL)
			continue;
		found = true;
		edge(w, f->start + o->bias, MG_WHY_LAZY, unit);
	}
	if (!found)
		g_ptr_array_add(w->unresolved, g_strdup(r->symbol));
	return true;
}

static void follow_memory_ref(mg_worker *w, uint32_t unit,
			      const ZydisDecodedInstruction *insn, uint64_t addr)
{
	/* A reference to code itself (lea of a function, or code read as data). */
	if (is_code(w, addr, unit)) {
		edge(w, addr, MG_WHY_CODE_REF, unit);
		return;
	}
	if (insn->mnemonic == ZYDIS_MNEMONIC_LEA)
		return;    /* address of data: not itself a code pointer */
	uint64_t value;
	if (!mg_read_u64(w->cx, addr, &value))
		return;
	if (follow_lazy_slot(w, unit, addr, value))
		return;
	edge(w, value, MG_WHY_SLOT, unit);
}

static void follow_operands(mg_worker *w, uint32_t unit, uint64_t ip,
			    const ZydisDecoderContext *dctx,
			    const ZydisDecodedInstruction *insn)
{
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeOperands(&w->cx->decoder, dctx, insn, ops,
						     insn->operand_count_visible)))
		return;
	for (unsigned i = 0; i < insn->operand_count_visible; i++) {
		const ZydisDecodedOperand *op = &ops[i];
		uint64_t target;
		if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative) {
			if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(insn, op, ip, &target)))
				edge(w, target, MG_WHY_DIRECT, unit);
		} else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
			   op->mem.index == ZYDIS_REGISTER_NONE &&
			   (op->mem.base == ZYDIS_REGISTER_RIP ||
			    op->mem.base == ZYDIS_REGISTER_NONE) &&
			   op->mem.segment != ZYDIS_REGISTER_FS &&
			   op->mem.segment != ZYDIS_REGISTER_GS) {
			if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(insn, op, ip, &target)))
				follow_memory_ref(w, unit, insn, target);
		}
	}
}

/* Cheap pre-filter: does the instruction have an operand worth decoding? */
static bool has_address_operand(const ZydisDecodedInstruction *insn)
{
	if (insn->attributes & ZYDIS_ATTRIB_IS_RELATIVE)
		return true;
	/* Absolute [disp32] memory form (fixed-address executables). */
	if ((insn->attributes & ZYDIS_ATTRIB_HAS_MODRM) && insn->raw.modrm.mod == 0 &&
	    insn->raw.modrm.rm == 4 && (insn->attributes & ZYDIS_ATTRIB_HAS_SIB) &&
	    insn->raw.sib.base == 5 && insn->raw.sib.index == 4)
		return true;
	/* moffs forms (mov rax, [imm64]) have a disp without ModRM. */
	return insn->raw.disp.size == 64;
}

static void follow_immediates(mg_worker *w, uint32_t unit,
			      const ZydisDecodedInstruction *insn)
{
	for (int i = 0; i < 2; i++) {
		if (insn->raw.imm[i].size < 32 || insn->raw.imm[i].is_relative)
			continue;
		uint64_t v = insn->raw.imm[i].value.u;
		if (insn->raw.imm[i].size == 32)
			v = (uint32_t)v;   /* mov r32, imm32 zero-extends */
		edge(w, v, MG_WHY_CODE_REF, unit);
	}
}

static void note_features(mg_worker *w, uint32_t unit, uint64_t ip,
			  const ZydisDecodedInstruction *insn, const uint8_t *bytes)
{
	mg_isa_requirement req;
	mg_instruction_requirement(insn, &req);
	if (req.kind == MG_ISA_BASELINE)
		return;
	if (req.kind == MG_ISA_UNKNOWN) {
		w->unknown_isa_sites++;
		mg_note_site(w, unit, ip, MG_FEATURE_NONE, insn, bytes);
		return;
	}
	mg_fset_union(&w->seen, &req.features);
	/* Code needing what this host lacks cannot have been selected by
	 * the process's own dispatch: it never runs here. */
	bool runs_here = mg_fset_is_subset(&req.features, &w->cx->host);
	for (mg_feature_id f = mg_fset_next(&req.features, -1); f >= 0;
	     f = mg_fset_next(&req.features, f)) {
		w->sites[f]++;
		if (runs_here) {
			mg_fset_add(&w->required, f);
			mg_note_site(w, unit, ip, f, insn, bytes);
		}
	}
}

void mg_decode_unit(mg_worker *w, uint32_t unit)
{
	mg_scan_ctx *cx = w->cx;
	const mg_unit *u = &cx->map.units[unit];
	if (u->kind == MG_UNIT_VDSO)
		return;    /* the destination kernel supplies its own */
	const uint8_t *bytes = mg_unit_code(cx, unit);
	if (bytes == NULL)
		return;
	size_t len = (size_t)(u->end - u->start);
	ZydisDecodedInstruction insn;
	ZydisDecoderContext dctx;
	bool last_ends_flow = false;

	for (size_t off = 0; off < len;) {
		uint64_t ip = u->start + off;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&cx->decoder, &dctx,
								bytes + off, len - off,
								&insn))) {
			off++;           /* data or padding: resynchronise */
			last_ends_flow = false;
			continue;
		}
		w->instructions++;
		note_features(w, unit, ip, &insn, bytes + off);
		if (has_address_operand(&insn))
			follow_operands(w, unit, ip, &dctx, &insn);
		if (insn.raw.imm[0].size >= 32)
			follow_immediates(w, unit, &insn);
		last_ends_flow = ends_flow(&insn);
		off += insn.length;
	}
	w->bytes += len;
	if (!last_ends_flow && unit + 1 < cx->map.nunits &&
	    cx->map.units[unit + 1].start == u->end)
		edge(w, u->end, MG_WHY_FALLTHROUGH, unit);
}
