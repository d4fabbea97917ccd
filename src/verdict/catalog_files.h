/*
 * catalog_files.h - catalogs kept as files: the ones installed with the
 * binary (aws-us-west-2, alias aws) and the ones `migratable catalog
 * build` makes from a fleet's profiles.
 *
 * A catalog file groups its targets by feature set, so a catalog of
 * hundreds of instance types stores a few dozen feature lists:
 *
 *   {"schema": "migratable/catalog-v1", "name": "aws-us-west-2",
 *    "aliases": ["aws"], "description": "...", "provenance": "...",
 *    "date": "2023-07",
 *    "groups": [{"features": [...], "unknown": [...], "members": [...]}]}
 *
 * As in a minimal profile, a flag in neither list of a group is absent on
 * its members; "unknown" lists what the data cannot decide.  docs/catalogs.md
 * documents the format and where catalogs are looked for.
 */
#ifndef MG_VERDICT_CATALOG_FILES_H
#define MG_VERDICT_CATALOG_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "verdict/verdict.h"

#define MG_CATALOG_SCHEMA "migratable/catalog-v1"
#define MG_CATALOG_MAX_ALIASES 16

/* What a catalog file says about itself. */
typedef struct mg_catalog_meta {
	char *name;
	char *aliases[MG_CATALOG_MAX_ALIASES];
	size_t naliases;
	char *description;     /* NULL when the file has none */
	char *provenance;      /* where the data comes from */
	char *date;            /* when it was collected (free form, e.g. "2023-07") */
	char *path;            /* the file it was read from; NULL when not read */
	size_t ntargets, ngroups;
} mg_catalog_meta;

void mg_catalog_meta_free(mg_catalog_meta *m);

/*
 * Parse catalog text; the targets (one per member, sorted by name, origin
 * "catalog:NAME") are appended to out.  The reader is strict: wrong types,
 * an empty or repeated member name, a missing list are MG_ERR_USAGE errors
 * naming `origin` and the field ("aws.json: groups[3].members[0]: ...").
 * Feature names this build does not know are ignored and counted in each
 * member's ignored_names, as for profiles.  On failure out is unchanged.
 */
int mg_catalog_parse(const char *text, size_t len, const char *origin,
		     mg_catalog_meta *meta, mg_target_list *out, mg_error *err);

/* Read a catalog file (mg_catalog_parse; meta->path set). */
int mg_catalog_read(const char *path, mg_catalog_meta *meta, mg_target_list *out,
		    mg_error *err);

/*
 * Serialise targets as a catalog with meta's name, aliases, description,
 * provenance and date: targets with identical features and unknown sets
 * share a group; groups in order of their first member, members and
 * feature names sorted.  Two targets of one name fail (MG_ERR_USAGE).
 * Newly allocated text ending in a newline, or NULL.
 */
char *mg_catalog_to_json(const mg_catalog_meta *meta, const mg_target_list *targets,
			 mg_error *err);

/* --- collecting a fleet --------------------------------------------------------- */

/*
 * Add the profiles under `path` for `catalog build`: a file, or every
 * *.json profile (full `host --json` or minimal) and every CRIU
 * cpuinfo.img in the directory and its subdirectories (sorted, hidden
 * entries skipped, at most 8 levels deep).  A cpuinfo.img is named after
 * the directory holding it (fleet/host-a/cpuinfo.img is "host-a"); a JSON
 * profile keeps its "name".  Errors name the file (MG_ERR_USAGE for a bad
 * profile, MG_ERR_IO for an unreadable cpuinfo.img, as for check).
 */
int mg_targets_collect(const char *path, mg_target_list *out, mg_error *err);

/* --- where catalogs are ------------------------------------------------------- */

/*
 * The directory of the catalogs installed with the binary, found from the
 * executable's own location (/proc/self/exe): BIN/../share/migratable/catalogs
 * (an installed copy, PREFIX/bin/migratable) or BIN/../catalogs (the source
 * tree, run as build/migratable).  NULL when neither exists.
 */
const char *mg_catalog_builtin_dir(void);

/* Use `dir` instead of the directory found next to the executable (tests,
 * and programs linking the library); NULL goes back to finding it. */
void mg_catalog_set_builtin_dir(const char *dir);

/*
 * The user's own catalogs: $XDG_DATA_HOME/migratable/catalogs, else
 * $HOME/.local/share/migratable/catalogs (`catalog build -o NAME` writes
 * there).  Static buffer; NULL without HOME.
 */
const char *mg_catalog_user_dir(void);

/*
 * Find the file of catalog `name` (its file name NAME.json, its "name" or
 * one of its "aliases") in the built-in directory, then the user's.
 * Returns 1 and *path (malloc'd) when found, 0 when no catalog has that
 * name, -1 when a catalog file there is malformed (an error to report:
 * a broken catalog must not silently fall through to another).
 */
int mg_catalog_find(const char *name, char **path, mg_error *err);

/*
 * Every catalog file of the built-in and the user directory, metadata
 * only (targets counted, not kept): *out is a malloc'd array of *n
 * (mg_catalog_meta_free each, then free the array).
 */
int mg_catalog_list_files(mg_catalog_meta **out, size_t *n, mg_error *err);

/* Does `name` look like a path rather than a catalog name? ("/" in it, or
 * ending in ".json") */
bool mg_catalog_is_path(const char *name);

#endif
