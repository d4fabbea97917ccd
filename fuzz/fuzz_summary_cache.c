/*
 * fuzz_summary_cache.c - libFuzzer entry for the summary cache reader.
 *
 * Cache files live in the user's cache directory and may be damaged or
 * written by an older build: any bytes must be indexed and validated
 * without crashing.  The fingerprint is taken from the input's header so
 * that the fuzzer reaches the record parser.
 */
#include <stdint.h>
#include <string.h>

#include "analysis/summary_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t fingerprint = 0;
	if (size >= 16)
		memcpy(&fingerprint, data + 8, 8);
	(void)mg_summary_cache_scan_bytes(data, size, fingerprint);
	return 0;
}
