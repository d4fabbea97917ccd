/*
 * file.h - reading whole input files (profiles, requirements, kubectl
 * output), bounded.
 */
#ifndef MG_UTIL_FILE_H
#define MG_UTIL_FILE_H

#include <stddef.h>

#include "util/error.h"

/*
 * Read a regular file into a NUL-terminated malloc'd buffer of *len bytes.
 * At most max + 1 bytes are read, so a caller sees a file over its limit
 * as *len > max without reading all of it.  A missing, unreadable file or
 * a directory fails with `code` (the caller's idea of bad input), out of
 * memory with MG_ERR_INTERNAL; messages name the file.  NULL on failure.
 */
char *mg_read_file(const char *path, size_t max, int code, size_t *len, mg_error *err);

#endif
