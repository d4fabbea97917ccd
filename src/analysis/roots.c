/*
 * roots.c - where can execution resume from the current state?
 *
 * A function can run in the future only if a code address that leads to
 * it exists somewhere now, or can be computed by code that can run.  The
 * places a code address can be now are the roots:
 *
 *   - each thread's instruction pointer and general registers;
 *   - each thread's vector registers (a pointer copied through SSE);
 *   - each thread's live stack (return addresses, spilled pointers, the
 *     auxiliary vector), conservatively: every aligned word;
 *   - writable memory (data, bss, heap, anonymous maps, TLS) and the
 *     relocated read-only data of each module (PT_GNU_RELRO: .got,
 *     .data.rel.ro, .init/.fini_array, vtables), every aligned word, both
 *     as is and PTR_MANGLE-demangled (glibc's atexit list, jmp_bufs);
 *   - signal handlers, which only the kernel holds;
 *   - DT_FINI of each module, which the dynamic linker calls at exit;
 *   - anonymous executable memory (JIT code), taken whole.
 *
 * Code constants (lea, immediates, GOT reads) are followed as edges when
 * the code holding them is decoded (decode.c).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

/*
 * The GOT (.got, .got.plt) holds the addresses of every function a module
 * imports, bound or not, whether or not anything still calls them.  Its
 * slots are read only by code (PLT stubs, `call *f@GOTPCREL(%rip)`,
 * `mov f@GOTPCREL(%rip), %rax`), and the decoder follows those reads as
 * edges (decode.c), so the GOT is left out of the memory scan: scanning it
 * would make every imported function reachable.  (Large-code-model code,
 * which addresses the GOT through a register, would defeat this; GCC and
 * Clang never emit it by default.)  The data split into objects is left
 * out too: an object is scanned once something can address it (data.c).
 */
static void scan_range_outside_got(mg_scan_ctx *cx, uint64_t start, uint64_t end,
				   uint32_t detail)
{
	mg_data_scan_roots(cx, start, end, detail);
}

/*
 * A read-only mapping of a file that is not an ELF module holds data from
 * the file (a locale archive, a font, a database).  Code addresses only
 * make sense to this process instance (ASLR), so a file can hold them only
 * if the process wrote it: a memfd, a file in /dev/shm, one it deleted
 * after use, or (live images) one changed since the process started.
 * Those are scanned; other files are assumed pointer-free
 * (docs/analysis.md), which saves reading large databases from disk.
 */
bool mg_mapping_written_by_process(const mg_mapping *m)
{
	if (m->deleted || m->changed_since_start)
		return true;
	return m->path != NULL && (strncmp(m->path, "/memfd:", 7) == 0 ||
				   strncmp(m->path, "/dev/shm/", 9) == 0);
}

/* Is [start, end) of a read-only file mapping relocated data? */
static void scan_relro_part(mg_scan_ctx *cx, const mg_mapping *m, uint32_t mi_map)
{
	uint32_t mi = mg_codemap_module_at(cx->map, m->start);
	if (mi == MG_NO_MODULE) {
		if (mg_mapping_written_by_process(m))
			scan_range_outside_got(cx, m->start, m->end, mi_map);
		return;
	}
	const mg_loaded_module *lm = &cx->map->modules[mi];
	if (!lm->module->is_dyn) {
		/* Fixed-address executable: read-only tables hold absolute
		 * code addresses without any relocation. */
		scan_range_outside_got(cx, m->start, m->end, mi_map);
		return;
	}
	uint64_t rs = lm->module->relro.start + lm->bias;
	uint64_t re = lm->module->relro.end + lm->bias;
	if (re <= rs)
		return;
	uint64_t s = rs > m->start ? rs : m->start;
	uint64_t e = re < m->end ? re : m->end;
	if (s < e)
		scan_range_outside_got(cx, s, e, mi_map);
}

/*
 * Is m the stack mapping of thread th?  The main thread's is [stack];
 * glibc and musl put a thread's TCB (fs_base) at the top of the stack
 * mapping they allocate for it.  A stack pointer in any other mapping (a
 * coroutine stack malloc'ed in the heap, a sigaltstack) proves nothing
 * about the memory below it, which may hold live heap objects.
 */
static bool is_thread_stack(const mg_mapping *m, const mg_thread *th)
{
	uint64_t sp = th->regs.rsp, fs = th->regs.fs_base;
	if (sp < m->start || sp >= m->end)
		return false;
	return m->kind == MG_MAP_STACK || (fs >= m->start && fs < m->end);
}

/* Lowest stack copy start of the threads whose stack m is, or 0. */
static uint64_t stack_copy_floor(const mg_scan_ctx *cx, const mg_mapping *m,
				 bool *copy_complete)
{
	uint64_t floor = 0;
	*copy_complete = true;
	for (size_t t = 0; t < cx->img->nthreads; t++) {
		const mg_thread *th = &cx->img->threads[t];
		uint64_t sp = th->regs.rsp;
		if (!is_thread_stack(m, th))
			continue;
		if (th->stack == NULL || th->stack_start + th->stack_len < m->end)
			*copy_complete = false;
		uint64_t s = sp - MG_STACK_RED_ZONE < m->start ? m->start : sp - MG_STACK_RED_ZONE;
		if (floor == 0 || s < floor)
			floor = s;
	}
	return floor;
}

static void scan_mapping(mg_scan_ctx *cx, const mg_mapping *m, uint32_t index)
{
	if (!(m->prot & MG_PROT_READ) || (m->prot & MG_PROT_EXEC))
		return;
	if (m->kind == MG_MAP_VDSO || m->kind == MG_MAP_VVAR ||
	    m->kind == MG_MAP_VSYSCALL)
		return;
	if (!(m->prot & MG_PROT_WRITE) && m->kind == MG_MAP_FILE) {
		scan_relro_part(cx, m, index);
		return;
	}
	bool complete;
	uint64_t floor = stack_copy_floor(cx, m, &complete);
	if (floor == 0) {
		scan_range_outside_got(cx, m->start, m->end, index);
		return;
	}
	/* A thread stack: below the lowest stack pointer is dead; the live
	 * part was copied while the thread was stopped (scanned from the
	 * copy), unless the copy was truncated. */
	if (!complete)
		mg_scan_memory(cx, floor, m->end, index);
}

static void add_thread_roots(mg_scan_ctx *cx, const mg_thread *th)
{
	const struct user_regs_struct *r = &th->regs;
	uint32_t tid = (uint32_t)th->tid;

	if (!mg_reach_address(cx, r->rip, MG_WHY_THREAD_PC, MG_NO_UNIT, tid) &&
	    mg_image_find_mapping(cx->img, r->rip) == NULL)
		mg_image_warn(cx->img, "thread %d: pc 0x%llx is not in any mapping",
			      th->tid, (unsigned long long)r->rip);

	const unsigned long long gprs[] = {
		r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
	};
	static const ZydisRegister names[] = {
		ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RBX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX,
		ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_R8,
		ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R12,
		ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15,
	};
	/* A pointer into code the thread only reads data through (a table
	 * perlasm keeps in .text) is no jump target (datareg.c). */
	uint16_t into_code = 0;
	uint64_t by_index[16] = { 0 };
	for (size_t i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++) {
		by_index[mg_gpr_index(names[i])] = gprs[i];
		if (mg_codemap_find(cx->map, gprs[i]) != MG_NO_UNIT)
			into_code |= (uint16_t)(1u << mg_gpr_index(names[i]));
	}
	uint16_t data_only = mg_registers_only_addresses(cx, r->rip, into_code, by_index);
	for (size_t i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++) {
		mg_data_reach(cx, gprs[i], MG_WHY_REGISTER, MG_NO_UNIT, tid);
		if (data_only & (1u << mg_gpr_index(names[i]))) {
			mg_scan_fact(cx, "thread %d: %s = 0x%llx points into code, but the function "
				     "at its pc only reads data through it: not a jump target",
				     th->tid, ZydisRegisterGetString(names[i]), gprs[i]);
			continue;
		}
		mg_reach_address(cx, gprs[i], MG_WHY_REGISTER, MG_NO_UNIT, tid);
		/* Into a table kept in .text: a word of it may be a code
		 * pointer the thread loads and calls. */
		uint32_t g = mg_codemap_find(cx->map, gprs[i]);
		uint64_t at = 0, v;
		if (g == MG_NO_UNIT || !mg_unit_is_gap(cx->map, g) || mg_unit_bytes(cx, g) == NULL)
			continue;
		while (mg_unit_next_code_word(cx, g, &at, &v))
			mg_reach_address(cx, v, MG_WHY_REGISTER, MG_NO_UNIT, tid);
	}

	if (th->xsave && th->xsave_len)
		mg_scan_words(cx, th->xsave, th->xsave_len, 0, MG_WHY_XSTATE, tid);
	if (th->stack && th->stack_len)
		mg_scan_words(cx, th->stack, th->stack_len, th->stack_start,
			      MG_WHY_STACK, tid);
	else
		mg_image_warn(cx->img, "thread %d: stack not captured; its live "
			      "mapping is scanned instead", th->tid);
}

static void add_signal_roots(mg_scan_ctx *cx)
{
	for (size_t i = 0; i < cx->img->nsigactions; i++) {
		const mg_sigaction *sa = &cx->img->sigactions[i];
		mg_reach_address(cx, sa->handler, MG_WHY_SIGNAL, MG_NO_UNIT,
				 (uint32_t)sa->signo);
		if (sa->restorer)
			mg_reach_address(cx, sa->restorer, MG_WHY_SIGNAL, MG_NO_UNIT,
					 (uint32_t)sa->signo);
	}
}

static void add_module_roots(mg_scan_ctx *cx)
{
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		if (lm->module->dt_fini)
			mg_reach_address(cx, lm->module->dt_fini + lm->bias,
					 MG_WHY_FINI, MG_NO_UNIT, (uint32_t)i);
	}
}

/*
 * Generated code is decoded whole; a libffi closure arena (fixed stubs
 * between data, jit.c) is not code to sweep but memory holding the
 * pointers its stubs jump through.
 */
static void add_whole_units(mg_scan_ctx *cx)
{
	for (size_t u = 0; u < cx->map->nunits; u++) {
		const mg_unit *unit = &cx->map->units[u];
		if (unit->kind == MG_UNIT_JIT && mg_jit_trampoline_arena(cx, (uint32_t)u)) {
			const mg_mapping *m = mg_image_find_mapping(cx->img, unit->start);
			mg_scan_memory(cx, unit->start, unit->end,
				       m ? (uint32_t)(m - cx->img->maps) : MG_NO_UNIT);
		} else if (unit->kind == MG_UNIT_JIT) {
			mg_reach_unit(cx, (uint32_t)u, MG_WHY_JIT, MG_NO_UNIT, 0);
		} else if (unit->kind == MG_UNIT_OPAQUE) {
			mg_reach_unit(cx, (uint32_t)u, MG_WHY_OPAQUE, MG_NO_UNIT, 0);
		}
	}
}

int mg_add_roots(mg_scan_ctx *cx, mg_error *err)
{
	(void)err;
	if (cx->opt->method == MG_METHOD_FULL) {
		for (size_t u = 0; u < cx->map->nunits; u++)
			mg_reach_unit(cx, (uint32_t)u, MG_WHY_FULL, MG_NO_UNIT, 0);
		return 0;
	}
	/* First, so that generated code is explained by what makes it a
	 * root whatever else points into it (a register may, by chance). */
	add_whole_units(cx);
	for (size_t t = 0; t < cx->img->nthreads; t++)
		add_thread_roots(cx, &cx->img->threads[t]);
	add_module_roots(cx);
	if (cx->img->sigactions_known) {
		add_signal_roots(cx);
	} else {
		/* Without the handler addresses any function could be one. */
		mg_image_warn(cx->img, "signal handlers could not be read; every "
			      "function is treated as reachable");
		for (size_t u = 0; u < cx->map->nunits; u++)
			mg_reach_unit(cx, (uint32_t)u, MG_WHY_SIGNAL, MG_NO_UNIT, 0);
	}
	if (!cx->img->pointer_guard_known)
		mg_image_warn(cx->img, "pointer guard unknown: PTR_MANGLE'd code "
			      "pointers (atexit handlers, jmp_bufs) cannot be seen");
	for (size_t i = 0; i < cx->img->nmaps; i++)
		scan_mapping(cx, &cx->img->maps[i], (uint32_t)i);
	return 0;
}
