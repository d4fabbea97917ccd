/*
 * oracle.h - a dynamic oracle for the scan: which units of a process's
 * code map really execute during a time window, and which CPU features
 * their instructions need.
 *
 * INTRUSIVE.  The oracle writes an int3 (0xCC) on the first byte of every
 * unit of the code map (symbols, FDE ranges, PLT entries, gaps whose start
 * is an instruction boundary, anonymous executable mappings) through
 * /proc/PID/mem while every thread is stopped, then lets the process run.
 * Each breakpoint is one-shot: on its SIGTRAP the byte is restored, the
 * thread rewound and resumed, and the unit marked executed.  At the end of
 * the window (or on SIGINT/SIGTERM/SIGHUP to the oracle, or when the target
 * exits) every thread is stopped again, every remaining byte restored and
 * the process detached.
 *
 * SIGKILL of the oracle cannot be cleaned up: the remaining int3 bytes
 * stay in the target, which then dies of SIGTRAP on hitting one.  Hence
 * the short default window.
 *
 * What it measures is a lower bound of what executed: a unit entered
 * other than at its first byte (a jump into its middle, a return into a
 * frame that was live before the window) is not seen; a JIT mapping is
 * seen only if execution enters at the mapping's first byte.
 */
#ifndef MG_ANALYSIS_ORACLE_H
#define MG_ANALYSIS_ORACLE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "analysis/codemap.h"
#include "analysis/scan.h"
#include "features/features.h"
#include "process/image.h"
#include "util/error.h"

typedef enum mg_oracle_poke {
	MG_POKE_PAGE,      /* read-modify-write whole pages through /proc/PID/mem */
	MG_POKE_WORD       /* PTRACE_POKEDATA, one call per 8-byte word touched */
} mg_oracle_poke;

struct mg_oracle_stats;

typedef struct mg_oracle_options {
	double seconds;                      /* observation window (> 0) */
	mg_oracle_poke poke;
	/* Features usable here; NULL reads this host's profile. */
	const mg_feature_set *host_features;
	/* Set asynchronously (e.g. by a signal handler) to end the window
	 * early; may be NULL.  The oracle also installs its own SIGINT,
	 * SIGTERM and SIGHUP handlers for the window and restores the old
	 * ones afterwards. */
	volatile sig_atomic_t *stop;
	/* Called once every breakpoint is planted, just before the threads
	 * resume (a driver can start the workload's activity then); may be
	 * NULL. */
	void (*window_open)(void *arg, const struct mg_oracle_stats *stats);
	void *window_arg;
	/* Also count what executed code needs as a scan under --assume
	 * tzcnt-as-bsf does (assumed_required). */
	bool tzcnt_as_bsf;
} mg_oracle_options;

/* One executed unit, in the order first seen. */
typedef struct mg_oracle_hit {
	uint32_t unit;             /* index into the code map */
	pid_t tid;                 /* thread that entered it first */
	uint64_t return_address;   /* [rsp] at entry: the caller (or its caller
				    * after a tail call/PLT jump), 0 if unread */
	double t_ms;               /* since the window opened */
} mg_oracle_hit;

typedef struct mg_oracle_stats {
	size_t units;              /* units in the code map */
	size_t planted;            /* breakpoints written */
	size_t skipped_boundary;   /* gap units whose start is not an instruction start */
	size_t skipped_other;      /* vDSO, already 0xCC, unreadable */
	size_t pages_written;
	size_t write_calls;        /* pwrite or POKEDATA calls to plant */
	double plant_ms;           /* all threads stopped while planting */
	double restore_ms;
	double window_ms;
	size_t traps;              /* our SIGTRAPs handled (incl. races) */
	size_t foreign_signals;    /* signals re-injected unchanged */
	size_t threads;            /* threads traced, incl. new ones */
	size_t new_threads;
	size_t forks_cleaned;      /* fork children whose copy we restored */
	size_t left_planted;       /* bytes still 0xCC at restore time (restored) */
} mg_oracle_stats;

typedef struct mg_oracle_result {
	pid_t pid;
	uint8_t *executed;         /* per unit: 1 if entered during the window */
	size_t nunits;
	mg_oracle_hit *hits;
	size_t nhits;
	mg_feature_set seen;       /* features of executed code */
	mg_feature_set required;   /* per instruction, only those runnable here */
	mg_feature_set assumed_required;  /* the same under tzcnt-as-bsf (if asked) */
	size_t as_bsf_sites;       /* executed units' tzcnts it counts as bsf */
	size_t as_bsf_units;
	size_t unknown_isa_sites;
	bool target_exited;
	bool target_execed;
	bool interrupted;          /* ended by a signal to the oracle */
	mg_oracle_stats stats;
	char **warnings;
	size_t nwarnings;
} mg_oracle_result;

/*
 * Observe process `pid` for opt->seconds.  `map` is the code map of an
 * image of the same process (mg_codemap_build on mg_live_open's image);
 * `img` is that image (used to read unit bytes).  The process must not be
 * traced by anyone else.  The process is never left with a breakpoint or
 * stopped, except when the oracle itself is SIGKILLed.
 */
int mg_oracle_observe(pid_t pid, mg_image *img, const mg_codemap *map,
		      const mg_oracle_options *opt, mg_oracle_result **out,
		      mg_error *err);

void mg_oracle_result_free(mg_oracle_result *r);

/* A unit the process executed but the scan did not find reachable. */
typedef struct mg_oracle_miss {
	uint32_t unit;
	char *module;
	char *name;
	uint64_t address;
	char *why;                 /* best explanation we can derive */
} mg_oracle_miss;

typedef struct mg_soundness {
	mg_oracle_miss *misses;
	size_t nmisses;
	mg_feature_set feature_misses;  /* oracle required \ scan required */
	size_t executed;
	size_t executed_reachable;
} mg_soundness;

/*
 * Compare an oracle run with a scan of the same image (the scan must come
 * from mg_scan_image on that image, so unit indices agree).
 */
int mg_oracle_check(const mg_oracle_result *o, const mg_scan_result *scan,
		    const mg_codemap *map, mg_soundness *out, mg_error *err);

void mg_soundness_free(mg_soundness *s);

/* Module path of a unit ("[anon]" for JIT/opaque code); static storage
 * owned by the map or a literal. */
const char *mg_oracle_unit_module(const mg_codemap *map, uint32_t unit);

#endif
