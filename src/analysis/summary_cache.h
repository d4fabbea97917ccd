/*
 * summary_cache.h - unit summaries kept on disk between scans.
 *
 * A unit summary depends only on the unit's bytes (decode.c), so the same
 * libc, libpython or libcrypto code need not be decoded again by the next
 * scan of any process.  Files are per executable mapping (named by a hash
 * of its bytes) and entries per unit (a hash of the unit's bytes and its
 * length), so patched or JIT code simply misses; every file
 * carries a fingerprint of the feature table and ISA map, so a build with
 * different tables ignores it.  A damaged file is ignored record by
 * record, never trusted: every length is bounded.
 */
#ifndef MG_ANALYSIS_SUMMARY_CACHE_H
#define MG_ANALYSIS_SUMMARY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/engine.h"

typedef struct mg_summary_cache mg_summary_cache;

/*
 * Open the cache: $MIGRATABLE_CACHE_DIR, else $XDG_CACHE_HOME/migratable,
 * else $HOME/.cache/migratable.  NULL when caching is off
 * (MIGRATABLE_CACHE=0) or the directory cannot be used: scans then decode
 * everything, which is always correct.
 */
mg_summary_cache *mg_summary_cache_open(void);

/* Key of a unit's code. */
uint64_t mg_summary_key(const uint8_t *bytes, size_t len);

/* Read the summaries saved for an executable mapping whose bytes hash to
 * map_hash (mg_summary_key of the whole mapping).  Main thread, before
 * any lookup in it; a no-op when already loaded. */
void mg_summary_cache_load(mg_summary_cache *c, uint64_t map_hash);

/* Copy the cached summary of a unit (key, len) of that mapping into *out;
 * false on a miss.  Safe from several threads while nothing is loaded. */
bool mg_summary_cache_get(const mg_summary_cache *c, uint64_t map_hash,
			  uint64_t key, size_t len, mg_unit_summary *out);

/* Queue a fresh summary for saving (main thread). */
void mg_summary_cache_put(mg_summary_cache *c, uint64_t map_hash, uint64_t key,
			  size_t len, const mg_unit_summary *s);

/* Append the queued summaries to their files (under an exclusive lock)
 * and free the cache.  Failures only cost the next scan time. */
void mg_summary_cache_close(mg_summary_cache *c);

/* Index a cache file's bytes as the reader does and count the records that
 * validate completely (for the fuzz target and tests). */
size_t mg_summary_cache_scan_bytes(const uint8_t *data, size_t len, uint64_t fingerprint);

#endif
