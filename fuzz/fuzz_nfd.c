/*
 * fuzz_nfd.c - libFuzzer target for `kubectl get nodes -o json` input
 * (mg_nfd_from_json) and, on success, the node-affinity block for the
 * features any node has.
 *
 * Any byte string must either give targets or fail with MG_ERR_USAGE and a
 * one-line message; never crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verdict/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_target_list l = { 0 };
	mg_error err = { 0 };

	if (mg_nfd_from_json((const char *)data, size, "fuzz.json", &l, &err) != 0) {
		if ((err.code != MG_ERR_USAGE && err.code != MG_ERR_INTERNAL) ||
		    strchr(err.msg, '\n') != NULL)
			abort();
		mg_target_list_free(&l);
		return 0;
	}
	mg_feature_set any;
	mg_fset_clear(&any);
	for (size_t i = 0; i < l.count; i++) {
		if (l.items[i].name == NULL)
			abort();
		mg_fset_union(&any, &l.items[i].features);
	}
	char *warn = NULL;
	char *yaml = mg_nfd_affinity_yaml(&any, &warn, &err);
	free(yaml);
	free(warn);
	mg_target_list_free(&l);
	return 0;
}
