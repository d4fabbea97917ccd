/*
 * nfd_features.c - `migratable host --format nfd-features`: a Node
 * Feature Discovery local feature file for this node (catalog.h).
 *
 * NFD's local source (kubernetes-sigs/node-feature-discovery,
 * source/local/local.go; docs/usage/customization-guide.md, "Local
 * feature source") reads every regular, non-hidden file of
 * /etc/kubernetes/node-feature-discovery/features.d/ (at most 64 KiB),
 * trims each line, skips empty ones and `#` comments (`# +expiry-time=`,
 * `# +no-label` and `# +no-feature` are directives), and turns
 * `<key>[=<value>]` into a node label, value "true" by default.  Keys
 * should carry their namespace: unprefixed ones are prefixed with
 * feature.node.kubernetes.io/ today, but the DisableAutoPrefix feature
 * gate will stop that.  The local source may set labels of the built-in
 * namespace ("overriding built-in labels"), which is what lets a node
 * carry cpu-cpuid.POPCNT and the like, hidden by the cpu source.
 */
#include "verdict/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* A comment value on one line, without control characters. */
static void comment_text(GString *s, const char *text)
{
	for (; text && *text; text++)
		g_string_append_c(s, (unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *mg_nfd_feature_file(const mg_profile *p, mg_error *err)
{
	GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
	GString *s = g_string_new(
		"# Node Feature Discovery feature file written by `migratable host --format nfd-features`.\n"
		"# Install as /etc/kubernetes/node-feature-discovery/features.d/migratable on this node:\n"
		"# NFD's local source then labels the node with the CPU features migratable finds\n"
		"# usable here (CPUID bits whose register state the kernel enabled), also those\n"
		"# NFD's cpu source hides by default, as `migratable check --format nfd-affinity`\n"
		"# asks for them.  Rewrite it when the CPU, the kernel or the hypervisor changes.\n");
	g_string_append(s, "# host: ");
	comment_text(s, p->name ? p->name : "?");
	g_string_append(s, "; cpu: ");
	comment_text(s, p->brand ? p->brand : "unknown");
	g_string_append_c(s, '\n');

	for (mg_feature_id id = mg_fset_next(&p->features, -1); id >= 0;
	     id = mg_fset_next(&p->features, id)) {
		const mg_feature_info *fi = mg_feature_get(id);
		if (fi && fi->nfd)
			g_ptr_array_add(keys, g_strdup_printf(MG_NFD_CPUID_PREFIX "%s", fi->nfd));
	}
	/* NFD's level labels are cumulative: a v3 node has V1, V2 and V3. */
	for (int l = 1; l <= mg_x86_64_level_of(&p->features); l++)
		g_ptr_array_add(keys, g_strdup_printf(MG_NFD_CPUID_PREFIX "X86_64_V%d", l));
	g_ptr_array_sort(keys, cmp_str);
	for (guint i = 0; i < keys->len; i++) {
		const char *k = g_ptr_array_index(keys, i);
		if (i == 0 || strcmp(k, g_ptr_array_index(keys, i - 1)) != 0)
			g_string_append_printf(s, "%s=true\n", k);
	}
	g_ptr_array_free(keys, TRUE);
	char *text = strdup(s->str);
	g_string_free(s, TRUE);
	if (text == NULL)
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	return text;
}
