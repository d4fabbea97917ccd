/*
 * fuzz_catalog.c - libFuzzer target for catalog files (mg_catalog_parse)
 * and, on success, what is done with one: written back and read again
 * (mg_catalog_to_json must give the same targets), grouped and named
 * (mg_group_targets, mg_group_label).
 *
 * Any byte string must either give a catalog or fail with MG_ERR_USAGE and
 * a one-line message; never crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verdict/catalog_files.h"
#include "verdict/groups.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const mg_catalog_meta *m, const mg_target_list *l)
{
	mg_error err = { 0 };
	char *text = mg_catalog_to_json(m, l, &err);
	if (text == NULL)
		abort();           /* what was read is always writable */
	mg_catalog_meta back;
	mg_target_list l2 = { 0 };
	if (mg_catalog_parse(text, strlen(text), "again", &back, &l2, &err) != 0 || l2.count != l->count)
		abort();
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].name, l2.items[i].name) != 0 ||
		    !mg_fset_equal(&l->items[i].features, &l2.items[i].features) ||
		    !mg_fset_equal(&l->items[i].unknown, &l2.items[i].unknown))
			abort();
	mg_catalog_meta_free(&back);
	mg_target_list_free(&l2);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_catalog_meta m;
	mg_target_list l = { 0 };
	mg_error err = { 0 };

	if (mg_catalog_parse((const char *)data, size, "fuzz.json", &m, &l, &err) != 0) {
		if ((err.code != MG_ERR_USAGE && err.code != MG_ERR_INTERNAL) ||
		    strchr(err.msg, '\n') != NULL || l.count != 0)
			abort();
		return 0;
	}
	if (m.ntargets != l.count || l.count == 0)
		abort();
	round_trip(&m, &l);
	mg_group_list g;
	if (mg_group_targets(&l, NULL, &g, &err) != 0 || g.count == 0 || g.count > m.ngroups)
		abort();
	for (size_t j = 0; j < g.count; j++) {
		char *label = mg_group_label(&l, &g.items[j], 40);
		if (label == NULL || (g.items[j].count > 1 && strlen(label) > 40))
			abort();
		free(label);
	}
	mg_group_list_free(&g);
	mg_target_list_free(&l);
	mg_catalog_meta_free(&m);
	return 0;
}
