/*
 * fuzz_requirements.c - libFuzzer target for requirement files
 * (mg_scan_result_from_json) and, on success, their serialisation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "analysis/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_scan_result *r = NULL;
	mg_error err = { 0 };

	if (mg_scan_result_from_json((const char *)data, size, "fuzz", &r, &err) == 0) {
		char *text = mg_scan_result_to_json(r, &err);
		free(text);
		mg_scan_result_free(r);
	}
	return 0;
}
