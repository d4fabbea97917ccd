/*
 * fuzz_maps.c - libFuzzer target for the /proc/PID/maps parser.
 *
 * Any input must give either a clean error or mappings that keep the
 * parser's promises: non-empty, ascending, non-overlapping ranges and
 * NUL-free paths that never end in " (deleted)" for deleted files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "process/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_mapping *maps = NULL;
	size_t n = 0;
	mg_error err;
	mg_error_clear(&err);
	if (mg_maps_parse((const char *)data, size, &maps, &n, &err) != 0) {
		if (maps != NULL || n != 0 || err.code == MG_OK || strchr(err.msg, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const mg_mapping *m = &maps[i];
		if (m->start >= m->end || (i > 0 && m->start < maps[i - 1].end))
			abort();
		if (m->path && (m->path[0] == '\0' || strlen(m->path) > MG_MAPS_LINE_MAX))
			abort();
		if (m->deleted && (m->path == NULL || m->kind != MG_MAP_FILE))
			abort();
		if ((m->path == NULL) != (m->kind == MG_MAP_ANON))
			abort();
	}
	mg_maps_free(maps, n);
	return 0;
}
