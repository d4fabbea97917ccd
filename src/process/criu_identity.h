/*
 * criu_identity.h - the identity of a CRIU image directory: a hash that
 * changes whenever the dump does (criu_identity.c says what it covers).
 */
#ifndef MG_PROCESS_CRIU_IDENTITY_H
#define MG_PROCESS_CRIU_IDENTITY_H

#include <stddef.h>

#include "util/error.h"

/* "sha256:" and 64 hex digits, NUL included. */
#define MG_CRIU_IDENTITY_LEN (7 + 64 + 1)
#define MG_CRIU_IDENTITY_IMAGES_MAX (1u << 20)

/*
 * Identity of the *.img files of the directory open at dirfd: SHA-256
 * over each image's name and size (sorted by name) and the bytes of
 * every image but pages-*.img.  *nimages (if not NULL) is how many.
 * MG_ERR_IO when the directory holds no image or one cannot be read.
 */
int mg_criu_dir_identity(int dirfd, char out[MG_CRIU_IDENTITY_LEN], size_t *nimages,
			 mg_error *err);

#endif
