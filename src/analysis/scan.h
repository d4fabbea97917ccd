/*
 * scan.h - from a process image to the CPU features it can still need.
 *
 *   image --(roots)--> reachable functions --(Zydis)--> instructions
 *         --(isa_map)--> features, with evidence for each
 *
 * Soundness first: whatever the analysis cannot resolve widens the result
 * and is recorded in `warnings`; it never silently shrinks it.
 */
#ifndef MG_ANALYSIS_SCAN_H
#define MG_ANALYSIS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/features.h"
#include "process/image.h"
#include "util/error.h"

typedef enum mg_scan_method {
	MG_METHOD_REACHABLE,   /* code the process can still execute (default) */
	MG_METHOD_FULL         /* every executable byte of every mapping */
} mg_scan_method;

/*
 * Unsound shortcuts a user may choose (--assume NAME), off by default;
 * the result names each one taken.
 */
#define MG_ASSUME_NO_DLSYM     (1u << 0)   /* "no-dlsym": dlsym returns nothing beyond
					      the code that is otherwise reachable */
#define MG_ASSUME_NO_NEW_CODE  (1u << 1)   /* "no-new-code": code generators emit
					      nothing beyond the code there now */
#define MG_ASSUME_GLIBC_CONTRACTS (1u << 2)   /* "glibc-contracts": callers keep glibc's
					      contracts: pkey_get/pkey_set only on allocated
					      keys, __libc_ifunc_impl_list's usable entries
					      only (contracts.c) */
#define MG_ASSUME_TZCNT_AS_BSF (1u << 3)   /* "tzcnt-as-bsf": a tzcnt whose flags go
					      unread, in a function built for the baseline,
					      is never given 0, so it runs as bsf alike
					      without BMI1 (tzcnt.c) */
#define MG_ASSUME_ALL          (MG_ASSUME_NO_DLSYM | MG_ASSUME_NO_NEW_CODE | \
				MG_ASSUME_GLIBC_CONTRACTS | MG_ASSUME_TZCNT_AS_BSF)

/* "no-dlsym", ... for one MG_ASSUME_* bit; NULL otherwise. */
const char *mg_assumption_name(unsigned bit);

/* The MG_ASSUME_* bit of a name; 0 if unknown. */
unsigned mg_assumption_by_name(const char *name);

typedef struct mg_scan_options {
	mg_scan_method method;
	/* Keep every site of this feature in `evidence` (for --explain);
	 * MG_FEATURE_NONE keeps one example per feature. */
	mg_feature_id explain;
	/* Features usable on the source host; required features are
	 * intersected with it.  NULL: read this host's profile. */
	const mg_feature_set *host_features;
	/* The part of host_features the source profile cannot decide (a
	 * cpuinfo.img does not record CPUID.(7,1), ...), or NULL: none.
	 * Required features in it are required only if the source had them
	 * (mg_scan_result.conditional). */
	const mg_feature_set *host_undecided;
	/* MG_ASSUME_* shortcuts the user chose (0: none, the sound default). */
	unsigned assumptions;
	/* Do not use or update the on-disk unit summaries (summary_cache.h). */
	bool no_cache;
	/* The code map of this same image, built by the caller (who frees it
	 * after the call), so several scans and the oracle share one map and
	 * one unit numbering; NULL: the scan builds its own.  With a shared
	 * map, the map's warnings (on the image) go to the first scan's
	 * result, and stats.codemap_ms covers only reading the code. */
	const struct mg_codemap *map;
} mg_scan_options;

/* One instruction that needs a feature, and how it was reached. */
typedef struct mg_evidence {
	mg_feature_id feature;
	char *module;          /* path, or "[anon:0x7f..]" for JIT code */
	char *function;        /* symbol, or "fde@0x..." / "jit@0x..." */
	uint64_t address;      /* runtime address */
	uint64_t offset;       /* offset inside the function */
	char *instruction;     /* Intel syntax */
	char *reached_via;     /* "thread 1234 pc", "stack of 1234 <- ...", "heap pointer", ... */
} mg_evidence;

/* The "feature" of evidence for an instruction Zydis could not classify. */
#define MG_EVIDENCE_UNCLASSIFIED "unclassified"

/* Free the strings of an evidence entry (not the entry itself). */
void mg_evidence_clear(mg_evidence *ev);

typedef struct mg_scan_stats {
	double pause_ms;
	double wall_ms;
	size_t threads;
	size_t functions_reachable;
	size_t functions_total;
	uint64_t bytes_decoded;
	uint64_t instructions_decoded;
	size_t modules;
	double codemap_ms;     /* parsing ELF files, cutting units */
	double roots_ms;       /* registers, stacks, memory words */
	double decode_ms;      /* worklist: reading code, decoding, edges */
} mg_scan_stats;

/*
 * A code generator of the process (analysis/jit.c): a JIT engine, a
 * trampoline table, or executable memory the process wrote, and the
 * features it may still emit (within the source's).
 */
typedef struct mg_code_generator {
	char *engine;          /* "HotSpot", "V8", "libffi closures", "unknown", ... */
	char *where;           /* its module, or the mapping */
	char *model;           /* "hotspot", "v8", "widened", "trampoline",
				  "assumed: no new code" */
	char *detail;          /* what was read ("UseAVX=2, ..."), or why widened */
	mg_feature_set features;
} mg_code_generator;

/* Free the strings of a generator (not the struct). */
void mg_code_generator_clear(mg_code_generator *g);

/* One process of a multi-process scan (a CRIU dump of a process tree). */
typedef struct mg_process_summary {
	pid_t pid;
	mg_feature_set required;
	size_t functions_reachable;
	size_t functions_total;
} mg_process_summary;

typedef struct mg_scan_result {
	pid_t pid;
	char *source;                  /* "pid 1234" or "criu:DIR" */
	mg_scan_method method;
	mg_feature_set required;       /* the answer */
	mg_feature_set conditional;    /* the part of it needed only if the source CPU had
					  it (its profile cannot tell: host_undecided); a
					  target without it gets "unknown", not "incompatible" */
	mg_feature_set generated;      /* the part of it only code generators add (code
					  not generated yet): required minus what the
					  code and state present now need */
	mg_feature_set seen;           /* features of scanned code before ∩ host */
	size_t feature_sites[MG_FEATURE_SET_BITS];  /* instruction count per feature */
	/* Instructions of these features that run harmlessly without them (a
	 * hint NOP; PREFETCHW on any x86-64): counted per feature, never
	 * required (docs/isa-map.md). */
	mg_feature_set hints;
	size_t hint_sites[MG_FEATURE_SET_BITS];
	mg_evidence *evidence;
	size_t nevidence;
	size_t unknown_isa_sites;      /* instructions Zydis could not classify */
	size_t dlsym_widened;          /* exported functions added because dlsym is reachable */
	unsigned assumptions;          /* MG_ASSUME_* the scan was told to make */
	mg_code_generator *generators; /* code generators found (analysis/jit.c) */
	size_t ngenerators;
	mg_scan_stats stats;
	char **warnings;
	size_t nwarnings;
	/* What the process's own state said and the scan relied on (ld.so's
	 * _dl_lazy, dispatch decisions): JSON "dispatch_state". */
	char **facts;
	size_t nfacts;
	/* Per unit of the image's code map (mg_codemap_build order): 1 if the
	 * scan decoded it.  Filled by mg_scan_image only (NULL after
	 * mg_scan_result_load); the oracle compares executed units with it. */
	uint8_t *unit_reachable;
	size_t nunits;
	/* Set by the multi-process scans only (mg_scan_criu_dump,
	 * mg_scan_live_tree): each
	 * process scanned, root first; `required` etc. are their union. */
	mg_process_summary *processes;
	size_t nprocesses;
} mg_scan_result;

/* Analyse an image.  The image must stay alive for the call only. */
int mg_scan_image(mg_image *img, const mg_scan_options *opt,
		  mg_scan_result **out, mg_error *err);

/*
 * Scan every process of a CRIU dump that still has code to run (zombies
 * are skipped, with a warning) and answer for all of them: the required
 * features are the union, evidence and warnings are gathered (warnings
 * prefixed with the process), per-process figures go to `processes`.
 * A dump of a container holds its whole tree; restoring it runs every
 * process on the destination.  `root` resolves mapped files.
 */
int mg_scan_criu_dump(const char *dir, const char *root, const mg_scan_options *opt,
		      mg_scan_result **out, mg_error *err);

/* The same over any checkpoint source (process/criu_files.h: an image
 * directory or a container checkpoint archive); `name` names it in
 * messages. */
struct mg_criu_files;
int mg_scan_criu_files(struct mg_criu_files *src, const char *name, const mg_scan_options *opt,
		       mg_scan_result **out, mg_error *err);

/*
 * The same for a live process and its descendants (mg_live_list_tree),
 * each snapshot taken with lopt: what `criu dump -t pid` would dump.
 * Errors of pid itself are returned as for a single scan; descendants
 * that are zombies or exit during the scan are skipped, with a warning.
 */
int mg_scan_live_tree(pid_t pid, const mg_live_options *lopt, const mg_scan_options *opt,
		      mg_scan_result **out, mg_error *err);

/* Serialise as the documented `scan --json` object (newly allocated). */
char *mg_scan_result_to_json(const mg_scan_result *r, mg_error *err);

/*
 * Read a saved `scan --json` file back (for `check --requirements`).
 * Types are checked; an unknown feature name is an MG_ERR_USAGE error
 * naming the file and the feature (dropping it would be unsound).
 * Only "required_features" is mandatory, so a hand-written
 * {"required_features": ["avx2"]} is a valid requirements file.
 */
int mg_scan_result_load(const char *path, mg_scan_result **out, mg_error *err);

/* The same from memory; `origin` names the text in error messages. */
int mg_scan_result_from_json(const char *text, size_t len, const char *origin,
			     mg_scan_result **out, mg_error *err);

void mg_scan_result_free(mg_scan_result *r);

const char *mg_scan_method_name(mg_scan_method m);

#endif
