/*
 * nfd.c - Kubernetes nodes labelled by Node Feature Discovery as targets,
 * and node affinity for a process' requirements.
 *
 * NFD (kubernetes-sigs/node-feature-discovery, source/cpu/cpu.go) labels
 * each CPUID flag found by klauspost/cpuid as
 *   feature.node.kubernetes.io/cpu-cpuid.<NAME>=true
 * except the flags of its default attributeBlacklist, which it hides
 * because (nearly) every x86-64 node has them.  A missing label for a
 * hidden flag therefore says nothing.  Since NFD PR #2490 it also labels
 * the x86-64 level cumulatively (cpu-cpuid.X86_64_V1 .. X86_64_V4), which
 * does imply the level's hidden flags.
 */
#include "verdict/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "features/profile.h"
#include "util/file.h"
#include "util/json.h"

/* kubectl output for thousands of nodes runs to tens of MiB. */
#define MAX_NODES_BYTES ((size_t)256 << 20)
#define MAX_JSON_DEPTH  32

/* newDefaultConfig() of source/cpu/cpu.go (AVX10 and TDX_GUEST joined
 * the list later; including them is the safe reading for older NFD). */
static const char *const nfd_denylist[] = {
	"AVX10", "BMI1", "BMI2", "CLMUL", "CMOV", "CX16", "ERMS", "F16C", "HTT",
	"LZCNT", "MMX", "MMXEXT", "NX", "POPCNT", "RDRAND", "RDSEED", "RDTSCP",
	"SGX", "SGXLC", "SSE", "SSE2", "SSE3", "SSE4", "SSE42", "SSSE3",
	"TDX_GUEST",
};

bool mg_nfd_hidden(const char *nfd_name)
{
	for (size_t i = 0; i < sizeof(nfd_denylist) / sizeof(nfd_denylist[0]); i++)
		if (strcmp(nfd_name, nfd_denylist[i]) == 0)
			return true;
	return false;
}

/* --- nodes as targets --------------------------------------------------------- */

/* Is labels[key] the string value? */
static bool label_is(json_object *labels, const char *key, const char *value)
{
	json_object *v;
	return labels && json_object_object_get_ex(labels, key, &v) &&
	       json_object_get_type(v) == json_type_string &&
	       strcmp(json_object_get_string(v), value) == 0;
}

static bool label_true(json_object *labels, const char *key)
{
	return label_is(labels, key, "true");
}

static int node_level(json_object *labels)
{
	int level = 0;
	for (int l = 1; l <= 4; l++) {
		char key[96];
		snprintf(key, sizeof(key), MG_NFD_CPUID_PREFIX "X86_64_V%d", l);
		if (label_true(labels, key))
			level = l;
	}
	return level;
}

static bool has_nfd_cpu_labels(json_object *labels)
{
	if (labels == NULL)
		return false;
	json_object_object_foreach(labels, key, val) {
		(void)val;
		if (strncmp(key, MG_NFD_PREFIX "cpu-", strlen(MG_NFD_PREFIX "cpu-")) == 0)
			return true;
	}
	return false;
}

/*
 * kubelet's kubernetes.io/arch label: an amd64 node runs a 64-bit x86
 * kernel, so it has x86-64-v1 and long mode (which NFD has no label for)
 * whether NFD runs there or not; the affinity block relies on the same
 * reading (`kubernetes.io/arch In [amd64]` stands for v1).
 */
static void arch_implied(json_object *labels, mg_feature_set *implied)
{
	int level = node_level(labels);
	if (level == 0 && label_is(labels, "kubernetes.io/arch", "amd64"))
		level = 1;
	mg_fset_clear(implied);
	if (level > 0) {
		mg_x86_64_level_features(level, implied);
		mg_fset_add_long_mode_implied(implied);
	}
}

static void node_features(json_object *labels, mg_profile *p)
{
	mg_fset_clear(&p->features);
	mg_fset_clear(&p->unknown);

	if (labels && json_object_object_get_ex(labels, "kubernetes.io/arch", NULL) &&
	    !label_is(labels, "kubernetes.io/arch", "amd64"))
		return;   /* not x86-64: no x86 feature at all */
	mg_feature_set implied;
	arch_implied(labels, &implied);
	bool nfd_runs = has_nfd_cpu_labels(labels);

	for (size_t i = 0; i < mg_feature_count(); i++) {
		const mg_feature_info *fi = mg_feature_get((mg_feature_id)i);
		char key[128];
		if (mg_fset_has(&implied, (mg_feature_id)i)) {
			mg_fset_add(&p->features, (mg_feature_id)i);
			continue;
		}
		if (!nfd_runs || fi->nfd == NULL) {
			mg_fset_add(&p->unknown, (mg_feature_id)i);
			continue;
		}
		snprintf(key, sizeof(key), MG_NFD_CPUID_PREFIX "%s", fi->nfd);
		if (label_true(labels, key))
			mg_fset_add(&p->features, (mg_feature_id)i);
		else if (mg_nfd_hidden(fi->nfd))
			mg_fset_add(&p->unknown, (mg_feature_id)i);
		/* else: NFD would label it; no label means absent */
	}
}

static int node_target(json_object *item, size_t idx, const char *origin,
		       mg_target_list *out, mg_error *err)
{
	json_object *meta, *name, *labels = NULL;

	if (json_object_get_type(item) != json_type_object ||
	    !json_object_object_get_ex(item, "metadata", &meta) ||
	    json_object_get_type(meta) != json_type_object)
		return mg_fail(err, MG_ERR_USAGE, "%s: node #%zu has no \"metadata\" object",
			       origin, idx);
	if (!json_object_object_get_ex(meta, "name", &name) ||
	    json_object_get_type(name) != json_type_string)
		return mg_fail(err, MG_ERR_USAGE, "%s: node #%zu has no metadata.name",
			       origin, idx);
	if (json_object_object_get_ex(meta, "labels", &labels) && labels &&
	    json_object_get_type(labels) != json_type_object)
		return mg_fail(err, MG_ERR_USAGE, "%s: node %s: metadata.labels is not an object",
			       origin, json_object_get_string(name));

	mg_profile p;
	mg_profile_init(&p);
	node_features(labels, &p);
	p.name = strdup(json_object_get_string(name));
	if (asprintf(&p.origin, "nfd:%s", origin) < 0)
		p.origin = NULL;
	if (p.name == NULL || p.origin == NULL || mg_target_list_take(out, &p, err) != 0) {
		mg_profile_free(&p);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

int mg_nfd_from_json(const char *text, size_t len, const char *origin,
		     mg_target_list *out, mg_error *err)
{
	json_object *root, *items;
	int rc = 0;

	if (mg_json_parse(text, len, MAX_NODES_BYTES, MAX_JSON_DEPTH, origin, MG_ERR_USAGE,
			  &root, err) < 0)
		return -1;
	if (json_object_get_type(root) != json_type_object) {
		json_object_put(root);
		return mg_fail(err, MG_ERR_USAGE,
			       "%s: expected the output of `kubectl get nodes -o json`", origin);
	}
	if (json_object_object_get_ex(root, "items", &items)) {
		if (json_object_get_type(items) != json_type_array) {
			rc = mg_fail(err, MG_ERR_USAGE, "%s: \"items\" is not an array", origin);
		} else if (json_object_array_length(items) == 0) {
			rc = mg_fail(err, MG_ERR_USAGE, "%s: no nodes in \"items\"", origin);
		} else {
			for (size_t i = 0; i < json_object_array_length(items) && rc == 0; i++)
				rc = node_target(json_object_array_get_idx(items, i), i, origin,
						 out, err);
		}
	} else {
		/* `kubectl get node NAME -o json`: one Node object */
		rc = node_target(root, 0, origin, out, err);
	}
	json_object_put(root);
	return rc;
}

int mg_nfd_load(const char *path, mg_target_list *out, mg_error *err)
{
	size_t len;
	char *text = mg_read_file(path, MAX_NODES_BYTES, MG_ERR_USAGE, &len, err);
	if (text == NULL)
		return -1;
	int rc = mg_nfd_from_json(text, len, path, out, err);
	free(text);
	return rc;
}

/* --- affinity ----------------------------------------------------------------------- */

/* Lowest x86-64 level whose feature list holds id; 0 if none. */
static int lowest_level(mg_feature_id id)
{
	for (int l = 1; l <= 4; l++) {
		mg_feature_set s;
		if (mg_x86_64_level_features(l, &s) && mg_fset_has(&s, id))
			return l;
	}
	return 0;
}

static gint cmp_key(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *mg_nfd_affinity_yaml(const mg_feature_set *required, char **warnings,
			   mg_error *err)
{
	GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
	GString *warn = g_string_new(NULL), *nolabel = g_string_new(NULL);
	int level = 0;
	char *yaml = NULL;

	*warnings = NULL;
	for (mg_feature_id id = mg_fset_next(required, -1); id >= 0;
	     id = mg_fset_next(required, id)) {
		const mg_feature_info *fi = mg_feature_get(id);
		/* A flag with no label of its own (lm, fpu) or one NFD hides is
		 * still expressible when an x86-64 level implies it. */
		if (fi->nfd == NULL || mg_nfd_hidden(fi->nfd)) {
			int l = lowest_level(id);
			if (l > 0) {
				if (l > level)
					level = l;
				continue;
			}
		}
		if (fi->nfd == NULL) {
			g_string_append_printf(nolabel, "%s%s", nolabel->len ? ", " : "", fi->name);
			continue;
		}
		if (mg_nfd_hidden(fi->nfd)) {
			g_string_append_printf(warn,
				"%s: NFD hides cpu-cpuid.%s by default; remove it from "
				"nfd-worker's cpu.cpuid.attributeBlacklist or no node will match\n",
				fi->name, fi->nfd);
		}
		g_ptr_array_add(keys, g_strdup_printf(MG_NFD_CPUID_PREFIX "%s", fi->nfd));
	}
	if (nolabel->len) {
		mg_fail(err, MG_ERR_USAGE,
			"cannot express as node affinity: NFD has no label for %s", nolabel->str);
		goto out;
	}
	if (level >= 2)
		g_ptr_array_add(keys, g_strdup_printf(MG_NFD_CPUID_PREFIX "X86_64_V%d", level));
	g_ptr_array_sort(keys, cmp_key);

	GString *y = g_string_new(
		"affinity:\n"
		"  nodeAffinity:\n"
		"    requiredDuringSchedulingIgnoredDuringExecution:\n"
		"      nodeSelectorTerms:\n"
		"      - matchExpressions:\n"
		"        - key: kubernetes.io/arch\n"
		"          operator: In\n"
		"          values: [\"amd64\"]\n");
	for (guint i = 0; i < keys->len; i++) {
		const char *k = g_ptr_array_index(keys, i);
		if (i > 0 && strcmp(k, g_ptr_array_index(keys, i - 1)) == 0)
			continue;
		g_string_append_printf(y,
			"        - key: %s\n"
			"          operator: In\n"
			"          values: [\"true\"]\n", k);
	}
	yaml = g_string_free(y, FALSE);
	if (warn->len)
		*warnings = g_strdup(warn->str);
out:
	g_string_free(warn, TRUE);
	g_string_free(nolabel, TRUE);
	g_ptr_array_free(keys, TRUE);
	return yaml;
}
