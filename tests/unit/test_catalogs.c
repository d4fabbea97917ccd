/*
 * test_catalogs.c - built-in catalogs: x86-64 levels, libvirt's cpu_map
 * (the installed one when present, and small hand-written maps), NFD
 * nodes from a recorded `kubectl get nodes -o json`, node affinity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "support/testutil.h"
#include "verdict/catalog.h"
#include "verdict/verdict.h"

#define D "tests/data/verdict/"

#define F(name) tu_feature(name)

static const mg_profile *find(const mg_target_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	fail_msg("target %s not found", name);
	return NULL;
}

static void test_levels(void **state)
{
	(void)state;
	mg_target_list l = { 0 };
	mg_error err = { 0 };

	assert_int_equal(mg_catalog_load("x86-64-levels", &l, &err), 0);
	assert_int_equal(l.count, 4);
	const mg_profile *v3 = find(&l, "x86-64-v3"), *v4 = find(&l, "x86-64-v4");
	assert_true(mg_fset_has(&v3->features, F("avx2")));
	assert_false(mg_fset_has(&v3->features, F("avx512f")));
	assert_true(mg_fset_is_empty(&v3->unknown));   /* outside the level: absent */
	assert_true(mg_fset_has(&v4->features, F("avx512f")));
	mg_target_list_free(&l);

	assert_int_equal(mg_catalog_load("x86-64-v2", &l, &err), 0);
	assert_int_equal(l.count, 1);
	mg_target_list_free(&l);

	assert_int_equal(mg_catalog_load("x86-64-v5", &l, &err), -1);
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_non_null(strstr(err.msg, "x86-64-v5"));
}

static void test_libvirt_installed(void **state)
{
	(void)state;
	struct stat st;
	mg_target_list l = { 0 };
	mg_error err = { 0 };

	if (stat(MG_LIBVIRT_CPU_MAP "/index.xml", &st) != 0)
		tu_skip(TU_SKIP_HOST, "no libvirt CPU map (package libvirt0)");
	assert_int_equal(mg_catalog_load("libvirt", &l, &err), 0);
	assert_true(l.count > 20);
	const mg_profile *skx = find(&l, "Skylake-Server"), *hsw = find(&l, "Haswell");
	assert_true(mg_fset_has(&skx->features, F("avx512f")));
	assert_false(mg_fset_has(&hsw->features, F("avx512f")));
	assert_true(mg_fset_has(&hsw->features, F("avx2")));
	/* libvirt spells these pclmuldq, sse4.1, sse4.2, lahf_lm */
	assert_true(mg_fset_has(&hsw->features, F("pclmulqdq")));
	assert_true(mg_fset_has(&hsw->features, F("sse4_1")));
	assert_true(mg_fset_has(&hsw->features, F("sse4_2")));
	assert_true(mg_fset_has(&hsw->features, F("lahf_lm")));
	assert_string_equal(hsw->vendor, "GenuineIntel");
	mg_target_list_free(&l);
}

static void test_libvirt_map(void **state)
{
	(void)state;
	mg_target_list l = { 0 };
	mg_error err = { 0 };

	assert_int_equal(mg_catalog_load("libvirt:" D "libvirt-map", &l, &err), 0);
	assert_int_equal(l.count, 2);     /* the ppc64 model is not a target */
	const mg_profile *base = find(&l, "Base"), *der = find(&l, "Derived");
	assert_true(mg_fset_has(&base->features, F("pclmulqdq")));
	assert_true(mg_fset_has(&base->features, F("sse4_1")));
	assert_true(mg_fset_has(&base->features, F("osxsave")));   /* from xsave */
	assert_false(mg_fset_has(&base->features, F("avx512f")));
	/* inherited from Base, own additions, and removed='yes' */
	assert_true(mg_fset_has(&der->features, F("avx2")));
	assert_true(mg_fset_has(&der->features, F("avx512f")));
	assert_true(mg_fset_has(&der->features, F("avx512_vnni")));
	assert_false(mg_fset_has(&der->features, F("pclmulqdq")));
	assert_string_equal(der->vendor, "GenuineIntel");
	mg_target_list_free(&l);
}

static void expect_catalog_error(const char *name, const char *needle)
{
	mg_target_list l = { 0 };
	mg_error err = { 0 };
	assert_int_equal(mg_catalog_load(name, &l, &err), -1);
	assert_int_equal(err.code, MG_ERR_USAGE);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_null(strchr(err.msg, '\n'));
	mg_target_list_free(&l);
}

/* A CPU map of `n` models inheriting in one chain (written to a temp dir). */
static void write_chain_map(char *dir, int n)
{
	char path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/index.xml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	/* Each model inherits from the next one, so resolving the first in
	 * file order recurses through all of them. */
	fprintf(f, "<cpus><arch name='x86'>\n"
		"<feature name='sse2'><cpuid eax_in='0x01' edx='0x04000000'/></feature>\n");
	for (int i = 0; i < n - 1; i++)
		fprintf(f, "<model name='m%d'><model name='m%d'/></model>\n", i, i + 1);
	fprintf(f, "<model name='m%d'><feature name='sse2'/></model>\n</arch></cpus>\n", n - 1);
	assert_int_equal(fclose(f), 0);
}

static void test_deep_model_chain(void **state)
{
	(void)state;
	char ok_dir[] = "/tmp/mg-lvchain-XXXXXX", deep_dir[] = "/tmp/mg-lvchain-XXXXXX";
	char name[64], cmd[128];
	write_chain_map(ok_dir, 50);            /* deeper than libvirt's own */
	write_chain_map(deep_dir, 100000);      /* would overflow the stack */
	mg_target_list l = { 0 };
	mg_error err = { 0 };
	snprintf(name, sizeof(name), "libvirt:%s", ok_dir);
	assert_int_equal(mg_catalog_load(name, &l, &err), 0);
	assert_int_equal(l.count, 50);
	mg_target_list_free(&l);
	snprintf(name, sizeof(name), "libvirt:%s", deep_dir);
	expect_catalog_error(name, "more than 64 models");
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", ok_dir, deep_dir);
	assert_int_equal(system(cmd), 0);
}

static void test_bad_catalogs(void **state)
{
	(void)state;
	expect_catalog_error("libvirt:" D "libvirt-bad", "index.xml:5");
	expect_catalog_error("libvirt:" D "libvirt-undef", "no-such-feature");
	expect_catalog_error("libvirt:/nonexistent/cpu_map", "no CPU map directory");
	expect_catalog_error("ec2", "unknown catalog");
	expect_catalog_error("nfd:/nonexistent.json", "/nonexistent.json");
}

static void test_nfd_nodes(void **state)
{
	(void)state;
	mg_target_list l = { 0 };
	mg_error err = { 0 };

	assert_int_equal(mg_catalog_load("nfd:" D "kubectl-nodes.json", &l, &err), 0);
	assert_int_equal(l.count, 3);
	const mg_profile *a = &l.items[0], *b = &l.items[1], *c = &l.items[2];

	/* node A: new NFD with x86-64 level labels up to v4 */
	assert_true(mg_fset_has(&a->features, F("avx512f")));
	assert_true(mg_fset_has(&a->features, F("popcnt")));    /* hidden, implied by V2 */
	assert_true(mg_fset_has(&a->features, F("bmi2")));      /* hidden, implied by V3 */
	assert_true(mg_fset_has(&a->unknown, F("rdrand")));     /* hidden, in no level */
	assert_false(mg_fset_has(&a->features, F("amx_tile"))); /* named by NFD, unlabelled */
	assert_false(mg_fset_has(&a->unknown, F("amx_tile")));
	assert_true(mg_fset_has(&a->features, F("lm")));        /* no NFD label, implied by V1 */
	assert_true(mg_fset_has(&a->features, F("syscall")));   /* long mode implies it */

	/* node B: NFD without level labels: hidden flags are unknown */
	assert_true(mg_fset_has(&b->features, F("avx2")));
	assert_true(mg_fset_has(&b->unknown, F("popcnt")));
	assert_true(mg_fset_has(&b->features, F("sse2")));      /* hidden, but v1: amd64 */
	assert_true(mg_fset_has(&b->features, F("lm")));
	assert_false(mg_fset_has(&b->features, F("avx512f")));
	assert_false(mg_fset_has(&b->unknown, F("avx512f")));

	/* node C: no NFD labels at all, but kubelet says amd64: v1 only */
	mg_feature_set v1;
	assert_true(mg_x86_64_level_features(1, &v1));
	assert_true(mg_fset_is_subset(&v1, &c->features));
	assert_false(mg_fset_has(&c->features, F("popcnt")));
	assert_true(mg_fset_has(&c->unknown, F("popcnt")));
	assert_true(mg_fset_has(&c->unknown, F("avx2")));

	/* what every x86-64 process needs (lm, sse2) is known on all three */
	mg_feature_set req;
	mg_verdict v;
	mg_fset_clear(&req);
	mg_fset_add(&req, F("lm"));
	mg_fset_add(&req, F("sse2"));
	for (size_t i = 0; i < l.count; i++) {
		mg_verdict_workload(&req, &l.items[i], &v);
		assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);
	}
	mg_fset_add(&req, F("avx2"));
	mg_fset_add(&req, F("popcnt"));
	mg_verdict_workload(&req, a, &v);
	assert_int_equal(v.kind, MG_VERDICT_COMPATIBLE);
	mg_verdict_workload(&req, b, &v);
	assert_int_equal(v.kind, MG_VERDICT_UNKNOWN);
	assert_true(mg_fset_has(&v.unknown, F("popcnt")));
	mg_fset_add(&req, F("avx512f"));
	mg_verdict_workload(&req, b, &v);
	assert_int_equal(v.kind, MG_VERDICT_INCOMPATIBLE);
	mg_verdict_workload(&req, c, &v);
	assert_int_equal(v.kind, MG_VERDICT_UNKNOWN);
	mg_target_list_free(&l);
}

/* kubelet's arch label alone decides v1: arm64 has nothing, no label says nothing */
static void test_nfd_arch(void **state)
{
	(void)state;
	static const char nodes[] =
		"{\"items\": ["
		"{\"metadata\": {\"name\": \"arm\", \"labels\": {\"kubernetes.io/arch\": \"arm64\","
		" \"feature.node.kubernetes.io/cpu-cpuid.ASIMD\": \"true\"}}},"
		"{\"metadata\": {\"name\": \"noarch\", \"labels\": {"
		" \"feature.node.kubernetes.io/cpu-cpuid.AVX2\": \"true\"}}},"
		"{\"metadata\": {\"name\": \"badarch\", \"labels\": {\"kubernetes.io/arch\": 1}}}]}";
	mg_target_list l = { 0 };
	mg_error err = { 0 };
	assert_int_equal(mg_nfd_from_json(nodes, strlen(nodes), "nodes.json", &l, &err), 0);
	assert_int_equal(l.count, 3);
	for (size_t i = 0; i < 3; i += 2) {     /* arm, badarch: no x86 feature at all */
		assert_true(mg_fset_is_empty(&l.items[i].features));
		assert_true(mg_fset_is_empty(&l.items[i].unknown));
	}
	const mg_profile *n = &l.items[1];
	assert_true(mg_fset_has(&n->features, F("avx2")));
	assert_true(mg_fset_has(&n->unknown, F("sse2")));     /* hidden, and no arch label */
	assert_true(mg_fset_has(&n->unknown, F("lm")));
	mg_target_list_free(&l);
}

static void test_nfd_malformed(void **state)
{
	(void)state;
	static const struct { const char *text, *needle; } bad[] = {
		{ "{\"items\": 3}", "not an array" },
		{ "{\"items\": []}", "no nodes" },
		{ "{\"items\": [{\"metadata\": {}}]}", "metadata.name" },
		{ "{\"items\": [{\"spec\": {}}]}", "metadata" },
		{ "{\"items\": [{\"metadata\": {\"name\": \"n\", \"labels\": []}}]}", "labels" },
		{ "[1,2]", "kubectl" },
		{ "{\"items\": [", "JSON" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mg_target_list l = { 0 };
		mg_error err = { 0 };
		assert_int_equal(mg_nfd_from_json(bad[i].text, strlen(bad[i].text), "nodes.json",
						  &l, &err), -1);
		assert_int_equal(err.code, MG_ERR_USAGE);
		if (strstr(err.msg, bad[i].needle) == NULL || strstr(err.msg, "nodes.json") == NULL)
			fail_msg("message \"%s\" lacks \"%s\"", err.msg, bad[i].needle);
		mg_target_list_free(&l);
	}
}

static void test_affinity(void **state)
{
	(void)state;
	mg_feature_set req;
	mg_error err = { 0 };
	char *warn = NULL;

	mg_fset_clear(&req);
	mg_fset_add(&req, F("avx2"));
	mg_fset_add(&req, F("bmi2"));     /* hidden: needs X86_64_V3 */
	mg_fset_add(&req, F("sse2"));     /* hidden, v1: every amd64 node */
	char *y = mg_nfd_affinity_yaml(&req, &warn, &err);
	assert_non_null(y);
	assert_null(warn);
	assert_non_null(strstr(y, "requiredDuringSchedulingIgnoredDuringExecution"));
	assert_non_null(strstr(y, "key: feature.node.kubernetes.io/cpu-cpuid.AVX2\n"
				  "          operator: In\n          values: [\"true\"]"));
	assert_non_null(strstr(y, "cpu-cpuid.X86_64_V3"));
	assert_null(strstr(y, "cpu-cpuid.BMI2"));
	assert_null(strstr(y, "cpu-cpuid.SSE2"));
	assert_non_null(strstr(y, "kubernetes.io/arch"));
	free(y);

	/* hidden and in no level: its own label, with a warning */
	mg_fset_add(&req, F("rdrand"));
	y = mg_nfd_affinity_yaml(&req, &warn, &err);
	assert_non_null(y);
	assert_non_null(strstr(y, "cpu-cpuid.RDRAND"));
	assert_non_null(warn);
	assert_non_null(strstr(warn, "attributeBlacklist"));
	free(y);
	free(warn);

	/* lm has no NFD label, but x86-64-v1 (every amd64 node) implies it */
	mg_fset_remove(&req, F("rdrand"));
	mg_fset_add(&req, F("lm"));
	y = mg_nfd_affinity_yaml(&req, &warn, &err);
	assert_non_null(y);
	assert_non_null(strstr(y, "kubernetes.io/arch"));
	free(y);
	free(warn);

	/* a feature with no NFD label and in no level cannot be expressed */
	mg_feature_id nolabel = MG_FEATURE_NONE;
	mg_feature_set v4;
	assert_true(mg_x86_64_level_features(4, &v4));
	for (size_t i = 0; i < mg_feature_count(); i++)
		if (mg_feature_get((mg_feature_id)i)->nfd == NULL &&
		    !mg_fset_has(&v4, (mg_feature_id)i)) {
			nolabel = (mg_feature_id)i;
			break;
		}
	if (nolabel < 0)
		fail_msg("every feature outside x86-64-v4 has an NFD label: pick another case");
	mg_fset_add(&req, nolabel);
	y = mg_nfd_affinity_yaml(&req, &warn, &err);
	assert_null(y);
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_non_null(strstr(err.msg, mg_feature_get(nolabel)->name));
}

/* Would the Kubernetes scheduler place a pod with this affinity block on a
 * node with these labels?  Every "- key: K" line of the block is an
 * `In` expression: kubernetes.io/arch needs "amd64", the others "true". */
static bool affinity_admits(const char *yaml, json_object *labels)
{
	for (const char *p = strstr(yaml, "- key: "); p; p = strstr(p + 1, "- key: ")) {
		char key[160];
		size_t n = strcspn(p + 7, "\n");
		assert_true(n < sizeof(key));
		memcpy(key, p + 7, n);
		key[n] = '\0';
		const char *want = strcmp(key, "kubernetes.io/arch") == 0 ? "amd64" : "true";
		json_object *v;
		if (!json_object_object_get_ex(labels, key, &v) ||
		    strcmp(json_object_get_string(v), want) != 0)
			return false;
	}
	return true;
}

/*
 * The affinity block and the NFD targets read the same labels, so they
 * must agree exactly: a node the block admits is compatible (admitting an
 * incompatible one would send the process where it crashes; an unknown
 * one, where nobody knows), and a node judged compatible is admitted (the
 * block would be needlessly strict).
 */
static void test_affinity_agrees_with_nodes(void **state)
{
	(void)state;
	static const char *const reqs[][8] = {
		{ "lm", "sse2", NULL },
		{ "lm", "sse2", "avx2", "bmi2", "xsavec", "movbe", NULL },
		{ "lm", "avx512f", "avx512bw", "avx512vl", "xsavec", NULL },
		{ "lm", "popcnt", "sse4_2", NULL },
		{ "sha_ni", "avx512f", NULL },
		{ "rdrand", "avx2", NULL },
		{ "amx_tile", NULL },
	};
	size_t len;
	char *text = tu_read_file(D "kubectl-nodes.json", &len);
	assert_non_null(text);
	json_object *root = json_tokener_parse(text);
	assert_non_null(root);
	json_object *items = tu_json_get(root, "items");
	mg_target_list l = { 0 };
	mg_error err = { 0 };
	assert_int_equal(mg_nfd_from_json(text, len, "nodes.json", &l, &err), 0);
	assert_int_equal(l.count, json_object_array_length(items));
	int admitted = 0, compatible = 0;
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		mg_feature_set req;
		mg_fset_clear(&req);
		for (size_t i = 0; reqs[r][i]; i++)
			mg_fset_add(&req, F(reqs[r][i]));
		char *warn = NULL;
		char *y = mg_nfd_affinity_yaml(&req, &warn, &err);
		assert_non_null(y);
		for (size_t n = 0; n < l.count; n++) {
			json_object *labels = tu_json_get(tu_json_get(json_object_array_get_idx(items, n),
								      "metadata"), "labels");
			mg_verdict v;
			mg_verdict_workload(&req, &l.items[n], &v);
			bool admits = affinity_admits(y, labels);
			if (admits && v.kind != MG_VERDICT_COMPATIBLE)
				fail_msg("requirement %zu: the affinity admits %s, which is %s", r,
					 l.items[n].name, v.kind == MG_VERDICT_UNKNOWN ? "unknown"
										  : "incompatible");
			if (v.kind == MG_VERDICT_COMPATIBLE && !admits)
				fail_msg("requirement %zu: %s is compatible but the affinity refuses it",
					 r, l.items[n].name);
			admitted += admits;
			compatible += v.kind == MG_VERDICT_COMPATIBLE;
		}
		free(y);
		free(warn);
	}
	printf("%d node placements admitted, %d compatible\n", admitted, compatible);
	assert_true(compatible > 0 && admitted == compatible);
	mg_target_list_free(&l);
	json_object_put(root);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_libvirt_installed),
		cmocka_unit_test(test_libvirt_map),
		cmocka_unit_test(test_bad_catalogs),
		cmocka_unit_test(test_deep_model_chain),
		cmocka_unit_test(test_nfd_nodes),
		cmocka_unit_test(test_nfd_arch),
		cmocka_unit_test(test_nfd_malformed),
		cmocka_unit_test(test_affinity),
		cmocka_unit_test(test_affinity_agrees_with_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
