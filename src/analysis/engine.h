/*
 * engine.h - internals shared by the analysis files (not a public API).
 *
 *   roots.c     where execution can resume: threads, stacks, memory, signals
 *   decode.c    sweep one unit with Zydis: features and outgoing edges
 *   evidence.c  remember where each feature is needed and how it was reached
 *   worklist.c  the worklist that ties them together (mg_reach_*)
 *   scan.c      one scan from code map to result (mg_scan_image), reads of
 *               target memory and code
 */
#ifndef MG_ANALYSIS_ENGINE_H
#define MG_ANALYSIS_ENGINE_H

#include <Zydis/Zydis.h>
#include <glib.h>

#include "analysis/codemap.h"
#include "analysis/scan.h"
#include "features/features.h"
#include "process/image.h"

/* How a unit became reachable: a root kind or an edge kind. */
typedef enum mg_reason {
	MG_WHY_NONE = 0,
	/* roots */
	MG_WHY_THREAD_PC,      /* a thread's instruction pointer */
	MG_WHY_REGISTER,       /* a value in a thread's general registers */
	MG_WHY_XSTATE,         /* a value in a thread's vector registers */
	MG_WHY_STACK,          /* a word on a thread's stack */
	MG_WHY_MEMORY,         /* a word in writable or relocated memory */
	MG_WHY_MANGLED,        /* a glibc PTR_MANGLE'd word (atexit, jmp_buf) */
	MG_WHY_SIGNAL,         /* a signal handler or restorer */
	MG_WHY_FINI,           /* DT_FINI of a module: runs at exit */
	MG_WHY_JIT,            /* anonymous executable memory: always scanned whole */
	MG_WHY_OPAQUE,         /* a file we could not parse: scanned whole */
	MG_WHY_FULL,           /* --method full */
	MG_WHY_DLSYM,          /* an exported function, and dlsym is reachable */
	MG_WHY_DATA,           /* a word in a reached data object (detail: its chunk) */
	/* edges */
	MG_WHY_DIRECT,         /* call/jmp/jcc with an immediate target */
	MG_WHY_CODE_REF,       /* RIP-relative lea/reference or immediate = code address */
	MG_WHY_SLOT,           /* function pointer read from a live GOT/data slot */
	MG_WHY_LAZY,           /* still-lazy PLT slot resolved by symbol name */
	MG_WHY_FALLTHROUGH,    /* execution can run off the end into the next unit */
	MG_WHY_COUNT
} mg_reason;

typedef struct mg_unit_state {
	uint32_t parent;       /* unit that led here, MG_NO_UNIT for roots */
	uint32_t detail;       /* tid for thread roots, mapping index for memory roots */
	uint8_t why;           /* mg_reason */
	uint8_t queued;
	uint8_t done;
} mg_unit_state;

/* Per executable mapping: its bytes, read once after the process resumed. */
typedef struct mg_code_cache {
	uint64_t start, end;
	uint8_t *bytes;        /* NULL until read, or unreadable (with a warning) */
	bool tried;
	uint64_t hash;         /* of bytes: names its summary cache file */
} mg_code_cache;

/* Instructions of a unit that share one requirement. */
typedef struct mg_req_group {
	mg_feature_set features;
	uint32_t count;            /* how many instructions */
	uint32_t first;            /* offset of the first, in the unit */
	bool hint;                 /* they run without `features` (MG_ISA_HINT): no requirement */
	bool as_bsf;               /* tzcnts whose CF and ZF go unread: bsf alike for a
				      non-zero source (tzcnt.c) */
} mg_req_group;

/* A code address an instruction carries.  *_REL values are relative to
 * the unit start (RIP-relative forms); the others are absolute. */
typedef enum mg_ref_kind {
	MG_REF_BRANCH,             /* call/jmp/jcc target (relative) */
	MG_REF_IMM,                /* 32/64-bit immediate */
	MG_REF_MEM_ABS,            /* memory operand: a possible pointer slot */
	MG_REF_MEM_REL,            /* = MG_REF_MEM_ABS + 1 */
	MG_REF_LEA_ABS,            /* lea: an address, not a load */
	MG_REF_LEA_REL,            /* = MG_REF_LEA_ABS + 1 */
	MG_REF_CMP_ABS,            /* cmp/test memory operand: read, compared, not kept */
	MG_REF_CMP_REL             /* = MG_REF_CMP_ABS + 1 */
} mg_ref_kind;

typedef struct mg_code_ref {
	int64_t value;
	uint8_t kind;              /* mg_ref_kind */
} mg_code_ref;

/*
 * What a unit's code needs and where it can lead, independent of the
 * process it is mapped in (decode.c): the same bytes give the same summary
 * at any address.  Applying it to a process (features on this host, edges
 * into its code map, pointer slots read from its memory) is separate.
 */
typedef struct mg_unit_summary {
	uint32_t instructions;
	uint32_t unknown;          /* instructions Zydis could not classify */
	uint32_t first_unknown;
	bool ends_flow;            /* last non-padding instruction is ret/jmp/call/ud2/hlt
	                              and no branch lands in the padding after it */
	uint32_t ngroups;
	mg_req_group *groups;
	uint32_t nrefs;
	mg_code_ref *refs;         /* sorted, unique */
} mg_unit_summary;

/* An edge found by a decoding worker, applied by the main thread. */
typedef struct mg_edge {
	uint64_t addr;             /* where it leads (a gap is entered there) */
	uint32_t unit;
	uint32_t parent;
	uint8_t why;
} mg_edge;

typedef struct mg_scan_ctx mg_scan_ctx;

/* A library's capability vector, filled once at start-up (captest.c). */
#define MG_NPY_HAVE_MAX 512    /* bytes of numpy's feature array followed */

typedef struct mg_capvec {
	bool known;
	uint32_t module;           /* the library's index in the code map */
	uint64_t addr;             /* runtime address of its four words */
	uint32_t word[4];
	uint64_t trigger;          /* OPENSSL_cpuid_setup's once-flag, and its value */
	uint32_t trigger_value;
	/* numpy's npy__cpu_have[] (npycap.c): a second region of dispatch
	 * state the fold knows, in another module */
	bool npy_known;
	uint32_t npy_module;
	uint64_t npy_addr;
	uint32_t npy_len;
	uint8_t npy_have[MG_NPY_HAVE_MAX];
	GHashTable *entries;       /* unit + 1 -> GArray of offsets entered past its start */
	GHashTable *folds;         /* unit + 1 -> mg_captest_fold_result * */
	GHashTable *unfolded;      /* unit + 1: entered where a decision may not hold */
	size_t decided;            /* conditional jumps decided */
	size_t pruned;             /* instructions no path reaches */
} mg_capvec;

/* Bitmaps of byte offsets (gap.c's instruction starts, a fold's live
 * and safe instructions). */
static inline bool mg_bit_test(const uint8_t *bits, size_t i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

static inline void mg_bit_set(uint8_t *bits, size_t i)
{
	bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Registers a fold knows (captest_fold.c), bit by bit: bits[r] says
 * which bits of register r are known, value[r] what they are (0 where
 * not known); bit r of known is set when any is (an and with the
 * vector's word knows the bits the word has clear, whatever the other
 * operand held). */
typedef struct mg_captest_regs {
	uint16_t known;
	uint64_t bits[16];
	uint64_t value[16];
} mg_captest_regs;

/* Keep in *into the bits both know alike (known, and equal); true if it
 * changed (captest.c). */
bool mg_captest_regs_meet(mg_captest_regs *into, const mg_captest_regs *from);

/* Where a unit was entered from outside, and what was known there. */
typedef struct mg_captest_entry {
	uint32_t off;
	mg_captest_regs regs;      /* known = 0: nothing */
} mg_captest_entry;

/* A jump or call of a folded function into another one, with the
 * registers known on every path there. */
typedef struct mg_captest_exit {
	uint64_t addr;
	mg_captest_regs regs;
} mg_captest_exit;

/* One function decided on the vector (captest_fold.c): what its live
 * instructions (those a path from its start reaches, when the vector
 * decides the jumps it can) need and lead to. */
typedef struct mg_captest_fold_result {
	mg_unit_summary summary;   /* of the live instructions only */
	uint8_t *live;             /* bit per byte offset: a live instruction starts there */
	uint8_t *safe;             /* bit per byte offset: entering there reaches no
	                              decided jump, so it changes nothing */
	uint32_t len;
	uint32_t decided, pruned;
	mg_captest_exit *exits;    /* those with some register known */
	size_t nexits;
} mg_captest_fold_result;

void mg_captest_fold_free(mg_captest_fold_result *f);

/* A fold a worker made, for the main thread to register. */
typedef struct mg_fold_found {
	uint32_t unit;
	mg_captest_fold_result *fold;
} mg_fold_found;

/* A data object of a module, or a piece of its unnamed data (data.c). */
typedef struct mg_data_chunk {
	uint64_t start, end;       /* runtime [start, end) */
	const char *name;          /* the object's symbol; NULL for unnamed data */
	uint32_t module;           /* index into the code map's modules */
	uint32_t parent;           /* code unit whose reference led here, or MG_NO_UNIT */
	uint32_t from;             /* detail of `why` (chunk, mapping, thread) */
	uint8_t why;               /* mg_reason it was reached for */
	uint8_t section;           /* index into the module's data_sections */
	uint8_t anon;              /* unnamed data: all of a section's is reached as one */
	uint8_t reached;
} mg_data_chunk;

/* A CPU dispatcher's unit and the prefix of the tables it picks from
 * (dispatch.c). */
typedef struct mg_dispatch_unit {
	uint32_t unit;
	const char *table_prefix;
} mg_dispatch_unit;

/* What data.c knows of the module data of one scan. */
typedef struct mg_data_state {
	mg_data_chunk *chunks;     /* sorted, disjoint */
	size_t nchunks, nobjects, nreached;
	uint32_t *mod_first, *mod_end;  /* per module: its chunks' index range */
	uint64_t lo, hi;           /* span of all chunks */
	uint8_t *region_bits;      /* one bit per 2 MiB region holding a chunk */
	mg_range *excluded;        /* never scanned as roots: sorted, merged */
	size_t nexcluded;
	GArray *queue;             /* uint32_t chunks reached, scanned from head on */
	guint head;
	uint64_t bytes;            /* bytes of reached chunks scanned */
	bool initializers_done;    /* .init_array entries are not roots (initdone.c) */
	GArray *dispatchers;       /* mg_dispatch_unit (dispatch.c) */
} mg_data_state;

/* Can addr lie in a data chunk?  The cheap filter of the memory scan. */
static inline bool mg_data_maybe(const mg_data_state *d, uint64_t addr)
{
	if (d->nchunks == 0 || addr - d->lo >= d->hi - d->lo ||
	    addr >= (1ull << MG_USER_SPACE_BITS))
		return false;
	uint64_t r = addr >> MG_REGION_SHIFT;
	return (d->region_bits[r >> 3] >> (r & 7)) & 1;
}

/* A reference to data found by a decoding worker (applied by the main thread). */
typedef struct mg_data_edge {
	uint64_t addr;
	uint32_t parent;
	bool stored;               /* read from memory, not computed: no biased base */
} mg_data_edge;

/* What dlsym.c knows of the lookups (dlsym and kin) of one scan. */
typedef struct mg_dlsym_state {
	uint8_t *watch;            /* per unit: a lookup function or its PLT stub */
	uint8_t *name_reg;         /* per watched unit: the register of its name argument */
	struct lookup_slot *slots; /* GOT slots of the watched functions, sorted */
	size_t nslots;
	GArray *callers;           /* uint32_t: units that call a lookup */
	guint analysed;            /* callers[0..analysed) done */
	GHashTable *names;         /* char *: constant names passed to them */
	GHashTable *prefixes;      /* char *: name prefixes of formatted names */
	bool unbounded;            /* some call's name is unknown: every export */
	char *why_unknown;         /* the first three such calls, for the warning */
	size_t nunknown;           /* how many there are */
	size_t bounded_added;      /* functions added for the constant names */
} mg_dlsym_state;

/*
 * What one decoding thread produces while sweeping its share of a level
 * of the worklist.  Workers only read the shared context (code map, unit
 * state, code bytes); everything they find goes here and is merged by the
 * main thread between levels, in a fixed order, so results do not depend
 * on thread timing.
 */
typedef struct mg_worker {
	mg_scan_ctx *cx;
	const uint32_t *units;     /* this worker's share of the level */
	size_t nunits;
	GArray *edges;             /* mg_edge */
	GArray *data_edges;        /* mg_data_edge */
	mg_feature_set required, seen;
	size_t sites[MG_FEATURE_SET_BITS];
	mg_feature_set hints;      /* hint instructions (MG_ISA_HINT) seen */
	size_t hint_sites[MG_FEATURE_SET_BITS];
	size_t unknown_isa_sites;
	uint64_t bytes, instructions;
	GPtrArray *evidence;       /* mg_evidence * candidates */
	bool example_kept[MG_FEATURE_SET_BITS + 1];
	GHashTable *explained;     /* addresses already kept for --explain */
	GPtrArray *unresolved;     /* char *: lazy symbols nobody defines */
	bool widened;              /* ran out of memory summarising: host features added */
	uint64_t unreadable_slot;  /* a GOT slot read failed (host features added); 0: none */
	GArray *fresh;             /* mg_fresh_summary: decoded here, for the cache */
	GArray *folds;             /* mg_fold_found (captest.c) */
	uint32_t gap_unit;         /* the gap being decoded from its entries, or MG_NO_UNIT */
	GArray *gap_local;         /* uint32_t: its own addresses it took (gap.c) */
	GArray *tzcnt_counted;     /* uint32_t pairs: unit, tzcnt sites counted as bsf */
} mg_worker;

/* A summary a worker computed, handed to the main thread for the cache. */
typedef struct mg_fresh_summary {
	uint64_t map_hash;
	uint64_t key;
	size_t len;
	mg_unit_summary summary;
} mg_fresh_summary;

struct mg_scan_ctx {
	mg_image *img;
	const mg_scan_options *opt;
	mg_scan_result *res;
	const mg_codemap *map;     /* opt->map, or own_map */
	mg_codemap own_map;        /* built by this scan unless the caller gave one */
	mg_feature_set host;
	mg_feature_set tzcnt_baseline;   /* x86-64-v2, under --assume tzcnt-as-bsf (tzcnt.c) */
	GHashTable *tzcnt_counted;       /* unit + 1 -> its tzcnt sites counted as bsf */

	ZydisDecoder decoder;       /* minimal mode: the sweep */
	ZydisDecoder full_decoder;  /* operands too: formatting evidence */
	ZydisFormatter formatter;

	mg_unit_state *state;      /* one per unit */
	GArray *queue;             /* uint32_t unit indices */

	mg_code_cache *code;       /* one per executable mapping, sorted */
	size_t ncode;

	GHashTable *slot_pages;    /* page address -> 4 KiB copy (or NULL: unreadable) */
	GHashTable *evidence_seen; /* "feature:address" recorded (for --explain) */
	bool example_kept[MG_FEATURE_SET_BITS + 1];  /* one example per feature; last: unknown */
	GPtrArray *evidence;       /* mg_evidence * */
	GHashTable *unresolved;    /* lazily bound symbols no module defines */
	GMutex slot_lock;          /* guards slot_pages (read by workers) */
	struct mg_summary_cache *cache;   /* summaries from earlier scans, or NULL */
	unsigned nthreads;         /* decoding threads */
	bool all_units_reached;    /* some memory was unreadable: every unit queued */
	GArray *arenas;            /* uint32_t: JIT units that are trampoline arenas (jit.c) */
	GHashTable *gaps;          /* unit + 1 -> mg_gap: gaps entered at addresses (gap.c) */
	mg_capvec capvec;          /* captest.c */
	mg_dlsym_state dlsym;      /* dlsym.c */
	mg_data_state data;        /* data.c */
	GHashTable *ifunc_resolved; /* resolver address -> what it returned (ifunc.c) */
	uint8_t *resolved_resolver; /* per unit: such a resolver (its address-taking
				       references lead nowhere: it returns one) */
	uint8_t *no_code_ref;      /* per unit: an address-taking reference does not
				      reach it (lazy.c) */
	uint8_t *no_call;          /* per unit: no edge from code reaches it, only a
				      root (elision.c) */
	uint8_t *refs_unfollowed;  /* per unit: its address-taking references lead
				      nowhere (contracts.c) */
	uint8_t *not_by_name;      /* per unit: dlsym given any name does not reach
				      it (contracts.c) */
};

/* --- worklist.c (reaching units) and scan.c (reading memory) ----------------- */

/* Mark the unit containing addr reachable (queue it) for reason `why`.
 * Addresses outside code are ignored; returns true if addr was code. */
bool mg_reach_address(mg_scan_ctx *cx, uint64_t addr, mg_reason why,
		      uint32_t parent, uint32_t detail);

/* Set flags[u] for each unit of `module` whose function name `named`
 * accepts (a per-unit flag array of the context); how many. */
size_t mg_mark_units_named(mg_scan_ctx *cx, uint32_t module, bool (*named)(const char *),
			   uint8_t *flags);

/* Mark a unit reachable by index. */
void mg_reach_unit(mg_scan_ctx *cx, uint32_t unit, mg_reason why,
		   uint32_t parent, uint32_t detail);

/* Decode a unit decoded already once more, at the next level (its
 * summary is then applied whole: captest.c). */
void mg_reach_again(mg_scan_ctx *cx, uint32_t unit);

/* Decode level after level, and scan the data objects the code reached,
 * until nothing new is reachable (from queue index *head on). */
void mg_worklist_drain(mg_scan_ctx *cx, guint *head);

/* Read 8 bytes of target memory through a page cache; false if unreadable. */
bool mg_read_u64(mg_scan_ctx *cx, uint64_t addr, uint64_t *out);

/* Bytes of a unit, reading its mapping on first use (main thread only);
 * NULL if unreadable (the result is then widened). */
const uint8_t *mg_unit_bytes(mg_scan_ctx *cx, uint32_t unit);

/* Bytes of a unit already read by mg_unit_bytes (safe in workers), and
 * the hash of its mapping's bytes in *map_hash. */
const uint8_t *mg_unit_code(const mg_scan_ctx *cx, uint32_t unit, uint64_t *map_hash);

/* --- decode.c: pieces gap.c reuses --------------------------------------------- */

/* Add one instruction (at offset off of a unit of len bytes) to a
 * summary: its requirement and the code references it carries, except
 * branches inside the unit.  *cap is the refs array's capacity. */
bool mg_summary_add_insn(mg_unit_summary *s, size_t *cap, const ZydisDecodedInstruction *insn,
			 size_t off, size_t len);

/* Sort and deduplicate a summary's references once it is complete. */
void mg_summary_finish(mg_unit_summary *s);

/* Count a summary's features and follow its references, for unit. */
void mg_apply_summary(mg_worker *w, uint32_t unit, const mg_unit_summary *s,
		      const uint8_t *bytes, size_t len);

/* Does execution never go on to the next instruction (ret, jmp, ud2,
 * hlt, iret, sysret)? */
bool mg_insn_never_falls_through(const ZydisDecodedInstruction *insn);

/* --explain: note insn (at offset off of unit's len bytes) as a site of
 * the explained feature if it needs it here. */
void mg_explain_insn(mg_worker *w, uint32_t unit, const ZydisDecodedInstruction *insn,
		     const uint8_t *bytes, size_t len, size_t off);

/* Queue an edge from parent to the code at addr (as the sweep does). */
void mg_edge_to(mg_worker *w, uint64_t addr, mg_reason why, uint32_t parent);

/* --- gap.c ------------------------------------------------------------------- */

typedef struct mg_gap mg_gap;

/* Is this unit a gap: code of a module no symbol or FDE covers? */
bool mg_unit_is_gap(const mg_codemap *map, uint32_t unit);

/* The next 8-byte word of a unit (from *at, an aligned address in it;
 * start at 0) that points into code: a code pointer a table kept in
 * .text (a gap) may hold.  Its value in *word; false at the unit's end,
 * or if its bytes were not read.  Safe in workers. */
bool mg_unit_next_code_word(const mg_scan_ctx *cx, uint32_t unit, uint64_t *at, uint64_t *word);

/* Set up and free the gaps' state (cx->gaps); -1 without memory. */
int mg_gap_init(mg_scan_ctx *cx);
void mg_gap_free(mg_scan_ctx *cx);

/* Main thread: the gap is entered at addr / reached with no address
 * (swept whole from then on). */
void mg_gap_enter(mg_scan_ctx *cx, uint32_t unit, uint64_t addr);
void mg_gap_whole(mg_scan_ctx *cx, uint32_t unit);

/* Main thread: does a gap already decoded need decoding again (new
 * entries, or now whole)? */
bool mg_gap_has_work(const mg_scan_ctx *cx, uint32_t unit);

/* Worker: decode a gap from its pending entries; false if it must be
 * swept whole instead (the caller does it). */
bool mg_gap_decode(mg_worker *w, uint32_t unit, const uint8_t *bytes);

/* Called for each instruction mg_gap_walk decodes; false stops the walk
 * (out of memory). */
typedef bool (*mg_gap_visit)(void *arg, const ZydisDecodedInstruction *insn, size_t off);

/*
 * Decode bytes[0, len) from each offset in todo (uint32_t, consumed) in
 * execution order: branches inside add offsets, a path ends at an
 * instruction that never falls through, at one invalid in 64-bit mode on
 * every CPU, or at an offset already in started_bits (a bit per byte,
 * set here).  *falls_off is set when a path runs past the end.  Returns
 * false on bytes that cannot be decoded for another reason (then the
 * code must be swept whole) or when visit fails.
 */
bool mg_gap_walk(const ZydisDecoder *decoder, const uint8_t *bytes, size_t len,
		 uint8_t *started_bits, GArray *todo, bool *falls_off,
		 mg_gap_visit visit, void *arg);

/* --- captest.c --------------------------------------------------------------- */

/* Find OpenSSL's capability vector (cx->capvec) in the process; main
 * thread, before the roots.  mg_captest_free releases it. */
void mg_captest_init(mg_scan_ctx *cx);
void mg_captest_free(mg_scan_ctx *cx);

/* Does the fold know dispatch state of this module (OpenSSL's vector in
 * libcrypto, numpy's feature array in _multiarray_umath)? */
bool mg_captest_module(const mg_capvec *c, uint32_t module);

/* The n bytes at addr of the dispatch state the fold knows (OpenSSL's
 * vector or its once-flag, numpy's array), as the process holds them;
 * NULL unless all n lie in one of them. */
const uint8_t *mg_capvec_bytes(const mg_capvec *c, uint64_t at, unsigned n);

/* Create the fold's tables, once some dispatch state is known. */
void mg_captest_enable(mg_capvec *c);

/* npycap.c: find numpy's npy__cpu_have[] and read it (main thread, from
 * mg_captest_init). */
void mg_npycap_init(mg_scan_ctx *cx);

/* The code of a short function of the capability vector's library that
 * starts at addr: a function unit of at most max bytes, or the bytes from
 * addr on inside a gap (a perlasm function without an FDE), at most max.
 * *len is how many; NULL if addr is neither. */
const uint8_t *mg_captest_callee_code(const mg_scan_ctx *cx, uint64_t addr, size_t max,
				      size_t *len);

/* Worker: could the vector's tests decide jumps of this unit (it is in
 * the library and refers to the vector, or was entered with registers
 * known or past its start)? */
bool mg_captest_applies(const mg_scan_ctx *cx, uint32_t unit, const mg_unit_summary *s);

/* Worker (captest_fold.c): decide the unit's conditional jumps on the
 * vector, by a forward dataflow over its own control flow from its
 * start; NULL if that decides nothing that matters, the unit's flow is
 * not fully known (an indirect jump, a branch into an instruction), or
 * out of memory. */
mg_captest_fold_result *mg_captest_fold(mg_scan_ctx *cx, uint32_t unit, const uint8_t *bytes);

/* Worker: does each new entry into the unit matter, even once it is
 * queued (a function of the vector's library, folded from its entries:
 * reached first at a return address, it must still learn that a caller
 * enters it at its start)? */
bool mg_captest_wants_entries(const mg_scan_ctx *cx, uint32_t unit);

/* Worker: was the unit entered at too many places to fold (it is then
 * decoded whole)? */
bool mg_captest_unfolded(const mg_scan_ctx *cx, uint32_t unit);

/* Worker: where the unit was entered, and with what known: its fold
 * starts from there (NULL, n = 0: from its start, nothing known). */
const mg_captest_entry *mg_captest_entries(const mg_scan_ctx *cx, uint32_t unit, size_t *n);

/* Main thread: a worker's fold is kept (it now owns f; NULL: the unit was
 * decoded whole) / the unit was entered at addr: an entry the fold did
 * not start from and cannot show harmless has the unit decoded again. */
void mg_captest_register(mg_scan_ctx *cx, uint32_t unit, mg_captest_fold_result *f);
void mg_captest_entered(mg_scan_ctx *cx, uint32_t unit, uint64_t addr, uint32_t parent);

/* Absolute address of x's RIP-relative memory operand op (x at base + x->off). */
struct mg_flow_insn;
bool mg_insn_rip_target(const struct mg_flow_insn *x, const ZydisDecodedOperand *op,
			uint64_t base, uint64_t *out);

/* --- datareg.c ---------------------------------------------------------------- */

/* Main thread: of the registers in `which` (bit = mg_gpr_index), those
 * that in a thread stopped at pc only ever serve as a data address (or
 * hold addresses derived from it), on every path of the function at pc
 * and its callees, until overwritten (so they are no jump target);
 * value[r] (by mg_gpr_index) is what register r holds. */
uint16_t mg_registers_only_addresses(mg_scan_ctx *cx, uint64_t pc, uint16_t which,
				     const uint64_t value[16]);

/* Worker: does function unit take addr (a lea of it) only to use it, or
 * addresses derived from it, as data on every path, its callees
 * included?  False if it does anything else with it, or also loads or
 * stores at addr directly. */
bool mg_lea_only_data(mg_scan_ctx *cx, uint32_t unit, uint64_t addr);

/* --- roots.c ----------------------------------------------------------------- */

/* Queue every root of the image; returns -1 on a fatal error. */
int mg_add_roots(mg_scan_ctx *cx, mg_error *err);

/* Could the process have written this file mapping's bytes (a memfd,
 * /dev/shm, a deleted file, one changed since the process started)? */
bool mg_mapping_written_by_process(const mg_mapping *m);

/* --- memscan.c --------------------------------------------------------------- */

/* Scan a buffer of target memory (at runtime address base) for words that
 * are code addresses, plain or PTR_MANGLE'd. */
void mg_scan_words(mg_scan_ctx *cx, const uint8_t *buf, size_t len,
		   uint64_t base, mg_reason why, uint32_t detail);

/* Read [start, end) of target memory and scan it as mg_scan_words does
 * (reason MG_WHY_MEMORY); unreadable memory widens, with a warning.
 * Large ranges are read and filtered on two threads (memscan.c). */
void mg_scan_memory(mg_scan_ctx *cx, uint64_t start, uint64_t end, uint32_t detail);

/* The same for memory found for another reason (MG_WHY_DATA: a data
 * chunk, detail its index). */
void mg_scan_memory_as(mg_scan_ctx *cx, uint64_t start, uint64_t end, mg_reason why,
		       uint32_t detail);

/* --- data.c: module data reached through references ------------------------- */

/* Cut the modules' data into objects; -1 on OOM. */
int mg_data_init(mg_scan_ctx *cx);
void mg_data_free(mg_scan_ctx *cx);

/* Scan [start, end) as roots, leaving out what is never a root (the GOT,
 * the data split into objects, initializer arrays that ran). */
void mg_data_scan_roots(mg_scan_ctx *cx, uint64_t start, uint64_t end, uint32_t detail);

/* Something can address addr: reach the data chunk(s) it can stand for.
 * parent is the code unit it came from (MG_NO_UNIT if none), from the
 * detail of why. */
void mg_data_reach(mg_scan_ctx *cx, uint64_t addr, mg_reason why, uint32_t parent,
		   uint32_t from);

/* Chunk holding addr, MG_NO_UNIT if none. */
uint32_t mg_data_find(const mg_scan_ctx *cx, uint64_t addr);

/* Scan the chunks reached since the last call; true if there were any. */
bool mg_data_drain(mg_scan_ctx *cx);

/* The code unit that led to a chunk (for reach paths), or MG_NO_UNIT. */
uint32_t mg_data_code_parent(const mg_scan_ctx *cx, uint32_t chunk);

/* dlsym can return the exported object `name` / every exported object
 * (returns how many were newly reached). */
void mg_data_reach_export(mg_scan_ctx *cx, const char *name);
size_t mg_data_reach_all_exports(mg_scan_ctx *cx);

/* "gotoblas_HASWELL (libopenblas.so.0)" */
void mg_data_describe(const mg_scan_ctx *cx, uint32_t chunk, char *buf, size_t len);

/* --- regflow.c: register constants over one function ------------------------ */

/* What is known of a general-purpose register: a constant, the value an
 * argument register had on entry to the function (param: its index + 1),
 * or nothing. */
typedef struct mg_reg_state {
	bool known[16];
	uint64_t value[16];
	uint8_t param[16];
} mg_reg_state;


/* One decoded instruction of a function (regflow.c). */
typedef struct mg_flow_insn {
	uint32_t off;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	int32_t target;            /* index of the in-unit branch target, or -1 */
	bool falls;                /* execution goes on to the next instruction */
	bool indirect;             /* an indirect jump (jump table, tail call) */
} mg_flow_insn;

/* The index in a general-purpose register file of r's largest enclosing
 * register (rax 0, rcx 1, ... r15 15), or -1 if r is no such register. */
int mg_gpr_index(ZydisRegister r);

/* The instruction of v (sorted by offset) that starts at off, or -1. */
long mg_flow_index_at(const mg_flow_insn *v, size_t n, uint64_t off);

/* Decode a function's bytes (fully: operands too); NULL on OOM.  Bytes
 * that do not decode are skipped one at a time (data in code). */
mg_flow_insn *mg_flow_decode(mg_scan_ctx *cx, const uint8_t *bytes, size_t len, size_t *n);

/* The register state before each of the n instructions of the function
 * at runtime address base; NULL on OOM.  Free with free(). */
mg_reg_state *mg_flow_states(mg_scan_ctx *cx, const mg_flow_insn *v, size_t n, uint64_t base);

/* --- dispatch.c: dispatchers that pick per-CPU tables by CPUID --------------- */

/* Find the modelled dispatchers among the modules (after mg_data_init). */
void mg_dispatch_init(mg_scan_ctx *cx);

/* Is chunk c one of the tables the dispatcher at unit `parent` picks
 * from (then that reference does not reach it)? */
bool mg_dispatch_skips(const mg_scan_ctx *cx, uint32_t parent, const mg_data_chunk *c);

/* --- initdone.c -------------------------------------------------------------- */

/* Have all loaded modules' initializers run (main is running, no thread
 * is in ld.so)?  Records why as a fact. */
bool mg_initializers_done(mg_scan_ctx *cx);

/* The words of a thread that may be code addresses: its pc, then each
 * aligned word of its captured stack that falls in code.  Start with
 * *pos = 0; false when there are no more. */
bool mg_thread_next_code_word(const mg_scan_ctx *cx, const mg_thread *th, size_t *pos,
			      uint64_t *value);

/* --- decode.c ---------------------------------------------------------------- */

/* Decode one unit: record its features and edges in the worker. */
void mg_decode_unit(mg_worker *w, uint32_t unit);

/* Summarise len bytes of code (one unit); false if memory ran out (the
 * summary then holds what was done).  Free with mg_unit_summary_free. */
bool mg_summarize_code(const ZydisDecoder *decoder, const uint8_t *bytes,
		       size_t len, mg_unit_summary *s);

void mg_unit_summary_free(mg_unit_summary *s);

/* --- dlsym.c: what dlsym can return ------------------------------------------ */

/* Find the lookup functions, their PLT stubs and GOT slots; -1 on OOM. */
int mg_dlsym_init(mg_scan_ctx *cx);
void mg_dlsym_free(mg_scan_ctx *cx);

/* Every reach of a watched unit (from mg_reach_unit): a caller to
 * analyse, or a way in that leaves the name unknown. */
void mg_dlsym_note(mg_scan_ctx *cx, uint32_t unit, mg_reason why, uint32_t parent);

/* Is addr a GOT slot of a lookup function? */
bool mg_dlsym_is_slot(const mg_scan_ctx *cx, uint64_t addr);

/* Analyse the callers found so far and reach the exports of the constant
 * names they pass; true if that queued anything new (drain again). */
bool mg_dlsym_resolve(mg_scan_ctx *cx);

/* --- ifunc.c: what an IFUNC resolves to --------------------------------------- */

/* Read the IRELATIVE slots; -1 on OOM. */
int mg_ifunc_init(mg_scan_ctx *cx);
void mg_ifunc_free(mg_scan_ctx *cx);

/* What the resolver at this runtime address returned in every slot it
 * filled, or 0 when that is not known (then follow the resolver). */
uint64_t mg_ifunc_target(const mg_scan_ctx *cx, uint64_t resolver);

/* What the IFUNC resolver at this runtime address returns, interpreted
 * on the process's read-only memory (ifunc_eval.c); 0 if the resolver
 * does anything outside the modelled subset. */
uint64_t mg_ifunc_evaluate(mg_scan_ctx *cx, uint64_t resolver);

/* The runtime address reaching export `name` of lm leads to: the export
 * itself, or for an IFUNC the variant it resolved to when known, with its
 * resolver (which runs too) in *resolver (0 otherwise); 0 if lm does not
 * export it. */
uint64_t mg_ifunc_export_target(const mg_scan_ctx *cx, const mg_loaded_module *lm,
				const char *name, uint64_t *resolver);

/* --- lazy.c: ld.so's lazy-binding trampolines ---------------------------------- */

/* Under LD_BIND_NOW (the process's _dl_lazy is 0), mark the trampolines
 * so that references taking their address do not reach them. */
void mg_lazy_init(mg_scan_ctx *cx);

/* --- elision.c: glibc's lock elision when it is off ---------------------------- */

/* When the process's __pthread_force_elision is 0 after start-up, mark
 * the elision functions as reached by roots only. */
void mg_elision_init(mg_scan_ctx *cx);

/* contracts.c: under --assume glibc-contracts, mark __libc_ifunc_impl_list
 * (refs_unfollowed) and, unless the process shows it uses protection
 * keys, pkey_get/pkey_set (not_by_name); warn what was assumed. */
void mg_contracts_init(mg_scan_ctx *cx);

/* --- oracle_features.c: what code the oracle saw executing needs ------------- */

typedef struct mg_exec_options {
	const mg_feature_set *host;    /* what can have executed here */
	bool tzcnt_as_bsf;             /* also count as under --assume tzcnt-as-bsf */
	mg_feature_set baseline;       /* x86-64-v2, for that */
} mg_exec_options;

typedef struct mg_exec_features {
	mg_feature_set seen;           /* of every instruction */
	mg_feature_set required;       /* of those this host runs */
	mg_feature_set assumed;        /* required, under tzcnt-as-bsf */
	size_t unknown_isa_sites;
	size_t as_bsf_sites;           /* tzcnts that assumed counts as bsf */
} mg_exec_features;

/* The features of unit `unit` of map, whose bytes are buf[0..len), as
 * the scan decodes it (a gap by its walk from the first byte). */
void mg_exec_unit_features(const ZydisDecoder *d, const mg_codemap *map, uint32_t unit,
			   const uint8_t *buf, size_t len, const mg_exec_options *opt,
			   mg_exec_features *out);

/* --- tzcnt.c: a tzcnt that runs as bsf ----------------------------------------- */

/* Worker (decode.c): is insn, at off in bytes, a tzcnt (legacy encoding)
 * whose CF and ZF no path reads before something writes both (a ret, a
 * call or a jump out of the bytes ends a path: the psABI passes no flags
 * there)?  Then it runs as bsf alike without BMI1, if its source is not
 * zero.  False when a path is not followed to its end (an indirect jump,
 * bytes that do not decode, past 64 instructions). */
bool mg_tzcnt_flags_unread(const uint8_t *bytes, size_t len, size_t off,
			   const ZydisDecodedInstruction *insn);

/* Under --assume tzcnt-as-bsf: the baseline (x86-64-v2) and the table of
 * what was counted as bsf. */
void mg_tzcnt_init(mg_scan_ctx *cx);

/* Worker: under the assumption, do the unit's as_bsf groups count as
 * bsf (nothing else in it is beyond the baseline)? */
bool mg_tzcnt_assumed(const mg_scan_ctx *cx, const mg_unit_summary *s);

/* Main thread: a worker's (unit, sites) pairs counted as bsf; after the
 * scan, the warning that says how many; free the table. */
void mg_tzcnt_merge(mg_scan_ctx *cx, const GArray *counted);
void mg_tzcnt_report(mg_scan_ctx *cx);
void mg_tzcnt_free(mg_scan_ctx *cx);

/* Record what the process's own state says (JSON "dispatch_state"). */
void mg_scan_fact(mg_scan_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- jit.c, jit_engines.c: code not generated yet ----------------------------- */

/* The features of `host` a user-mode code generator could use (what an
 * engine that is not modelled may emit). */
void mg_jit_generator_features(const mg_feature_set *host, mg_feature_set *out);

/* Is this JIT unit a libffi closure arena (fixed stubs: scan its words as
 * data, do not decode it)?  Remembered in cx->arenas when it is. */
bool mg_jit_trampoline_arena(mg_scan_ctx *cx, uint32_t unit);

/* After the worklist: add what the process's code generators may still
 * emit to the result (required, evidence, generators, warnings). */
void mg_jit_account(mg_scan_ctx *cx);

/* The engines among the loaded modules (jit_engines.c); returns how many
 * were found and accounted for.  `generator` is the widening set. */
size_t mg_jit_account_engines(mg_scan_ctx *cx, const mg_feature_set *generator);

/* Append a generator to the result; NULL if out of memory. */
mg_code_generator *mg_jit_add_generator(mg_scan_ctx *cx, const char *engine,
					const char *where, const char *model,
					const char *detail);

/* Require g->features (within the source's), with evidence. */
void mg_jit_require(mg_scan_ctx *cx, const mg_code_generator *g);

bool mg_jit_assumed_no_new_code(const mg_scan_ctx *cx);

/* --- evidence.c ---------------------------------------------------------------- */

/* Record (in the worker) that the instruction at `ip`, whose bytes start
 * at `bytes` (avail of them readable), needs `feature`. */
void mg_note_site(mg_worker *w, uint32_t unit, uint64_t ip,
		  mg_feature_id feature, const uint8_t *bytes, size_t avail);

/* Keep a worker's evidence candidates that are still wanted, in order. */
void mg_merge_evidence(mg_scan_ctx *cx, mg_worker *w);

void mg_evidence_free(mg_evidence *ev);

/* Record a feature required by live register state (xstate_bv). */
void mg_note_state(mg_scan_ctx *cx, mg_feature_id feature, pid_t tid,
		   const char *what);

/* Record a feature required by something other than an instruction
 * present now (an engine's future code, the process's state); kept like
 * an instruction site: one example per feature, all for --explain. */
void mg_note_requirement(mg_scan_ctx *cx, mg_feature_id feature, const char *module,
			 const char *function, const char *instruction, const char *reached_via);

/* "thread 1234 pc -> foo -> bar" for a unit; newly allocated. */
char *mg_reach_path(mg_scan_ctx *cx, uint32_t unit);

const char *mg_reason_name(mg_reason why);

#endif
