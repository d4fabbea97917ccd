/*
 * file.h - reading whole input files (profiles, requirements, kubectl
 * output), bounded.
 */
#ifndef MG_UTIL_FILE_H
#define MG_UTIL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/error.h"

/*
 * Read a regular file into a NUL-terminated malloc'd buffer of *len bytes.
 * At most max + 1 bytes are read, so a caller sees a file over its limit
 * as *len > max without reading all of it.  A missing, unreadable file or
 * a directory fails with `code` (the caller's idea of bad input), out of
 * memory with MG_ERR_INTERNAL; messages name the file.  NULL on failure.
 */
char *mg_read_file(const char *path, size_t max, int code, size_t *len, mg_error *err);

/*
 * Write-then-rename, so that a reader never sees half a file: open
 * PATH.tmp.PID for writing (*tmp receives its malloc'd name), write to the
 * stream, then mg_atomic_close().  NULL (error set, MG_ERR_IO) on failure.
 */
FILE *mg_atomic_open(const char *path, char **tmp, mg_error *err);

/*
 * Close f; when keep, rename tmp over path, otherwise (or on any write
 * error) remove tmp and leave path as it was.  Frees tmp.  0 or -1.
 */
int mg_atomic_close(FILE *f, char *tmp, const char *path, bool keep, mg_error *err);

#endif
