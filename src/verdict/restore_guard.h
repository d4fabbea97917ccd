/*
 * restore_guard.h - may this checkpoint be restored on this CPU?
 *
 * What the CRIU plugin (src/criu-plugin/) decides before `criu restore`
 * creates any task, and what `migratable scan --criu-dir DIR --save`
 * prepares for it: the requirements of every process of the dump,
 * compared with the CPU the restore runs on.  The requirements are read
 * from a file saved in the image directory when it still describes these
 * images (their identity, process/criu_identity.h), else the dump is
 * scanned.  docs/criu.md documents the file and the plugin.
 */
#ifndef MG_VERDICT_RESTORE_GUARD_H
#define MG_VERDICT_RESTORE_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/scan.h"
#include "features/profile.h"
#include "process/criu_files.h"
#include "util/error.h"
#include "verdict/verdict.h"

/* The saved requirements, in the image directory: a `scan --json`
 * object (so also a `check --requirements` file) with a "restore_guard"
 * member {"image_identity", "images", "written_by"}. */
#define MG_GUARD_FILE "migratable-requirements.json"
#define MG_GUARD_FILE_MAX (64u << 20)

/*
 * Scan every process of the checkpoint as `scan --criu-dir` does: the
 * source CPU is the dump's cpuinfo.img (features it cannot record count
 * as usable), or, when source_usable is not NULL, those features; without
 * either, every feature counts as usable (which only widens the answer).
 * *source_known says whether a source CPU bounded the scan.
 */
int mg_guard_scan(mg_criu_files *src, const mg_profile *source, bool no_cache,
		  mg_scan_result **out, bool *source_known, mg_error *err);

/*
 * Save r as MG_GUARD_FILE in the image directory open at dirfd (written
 * to a temporary name, then renamed), with the identity of the images
 * now there; `written_by` says who ("migratable scan --save", "CRIU
 * plugin at dump"); `name` names the directory in messages.
 */
int mg_guard_save(int dirfd, const char *name, const mg_scan_result *r,
		  const char *written_by, mg_error *err);

/* What mg_guard_load() found. */
typedef enum mg_guard_saved {
	MG_GUARD_NONE,        /* no saved requirements */
	MG_GUARD_FRESH,       /* saved for exactly these images: *out set */
	MG_GUARD_STALE,       /* saved for other images (a new dump, a copy over it) */
	MG_GUARD_BAD          /* unreadable or malformed: *why says what */
} mg_guard_saved;

/*
 * Read MG_GUARD_FILE from the image directory at dirfd and tell whether
 * it is fresh: its recorded image identity equals the identity of the
 * images there now.  *out is set (free with mg_scan_result_free) only for
 * MG_GUARD_FRESH; *why (cap bytes) says why another answer.  Returns -1
 * only when the images themselves cannot be read (MG_ERR_IO).
 */
int mg_guard_load(int dirfd, const char *name, mg_scan_result **out, mg_guard_saved *state,
		  char *why, size_t cap, mg_error *err);

/*
 * One line for a required feature the target lacks: its name, its
 * number of sites and one example instruction from the evidence
 * ("avx512f (93 sites), e.g. libc.so.6 fde@0x16a380+0x20: vpcmpb ...").
 */
void mg_guard_feature_line(const mg_scan_result *r, mg_feature_id f, char *buf, size_t cap);

#endif
