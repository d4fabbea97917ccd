/*
 * fuzz_profile.c - libFuzzer entry for the profile reader.
 *
 * Any byte string must either parse into a profile that serialises and
 * parses back to the same features, or fail with MG_ERR_PROFILE and a
 * one-line message; never crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_profile p, back;
	mg_error err = { 0 };
	char *json;

	if (mg_profile_from_json((const char *)data, size, "fuzz.json", &p, &err) != 0) {
		if (err.code != MG_ERR_PROFILE && err.code != MG_ERR_INTERNAL)
			abort();
		if (strchr(err.msg, '\n') != NULL)
			abort();
		return 0;
	}
	json = mg_profile_to_json(&p, &err);
	if (json == NULL)
		abort();
	if (mg_profile_from_json(json, strlen(json), "fuzz-again.json", &back, &err) != 0)
		abort();
	/* Re-reading our own output must not change what a profile offers. */
	if (!mg_fset_equal(&p.features, &back.features))
		abort();
	mg_profile_free(&back);
	free(json);
	mg_profile_free(&p);
	return 0;
}
