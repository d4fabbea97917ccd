/*
 * test_catalog_cli.c - the catalogs from the user's side: an installed
 * copy (make install into a temporary DESTDIR, run from another
 * directory) finds aws-us-west-2 and agrees with the reference profiles;
 * tables fit a screen; spot prices; `catalog build` round-trips the AWS
 * profiles and builds a fleet's catalog; `host --format nfd-features`
 * follows NFD's feature-file syntax and yields the labels that
 * `check --format nfd-affinity` asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "support/testutil.h"

#define D "tests/data/verdict/"

static struct {
	char tmp[64];
	char installed[1024];         /* the installed binary */
	char elsewhere[1024];         /* a cwd with nothing of ours */
	char repo[1024];
	char shared[PATH_MAX];        /* absolute ../shared/data (realpath), "" when absent */
} S;

static char *abspath(const char *rel)
{
	static char buf[4][2048];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", S.repo, rel);
	return buf[k];
}

/* Run argv (NULL-terminated after err) with cwd `dir`, through env -C. */
static int run_in(const char *dir, char **out, char **err, ...)
{
	char *argv[TU_ARGV_MAX + 3] = { "env", "-C", (char *)dir };
	va_list ap;
	size_t n = 3;
	va_start(ap, err);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		assert_true(n < TU_ARGV_MAX + 2);
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	return tu_run(argv, out, err);
}

static int group_setup(void **state)
{
	(void)state;
	char cmd[4096], build[1024];
	assert_non_null(getcwd(S.repo, sizeof(S.repo)));
	snprintf(S.tmp, sizeof(S.tmp), "/tmp/mg-catcli.XXXXXX");
	if (mkdtemp(S.tmp) == NULL)
		return -1;
	/* Catalogs a test builds by name go here, not into $HOME. */
	snprintf(cmd, sizeof(cmd), "%s/xdg", S.tmp);
	setenv("XDG_DATA_HOME", cmd, 1);
	snprintf(S.elsewhere, sizeof(S.elsewhere), "%s/elsewhere", S.tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", S.elsewhere);
	if (system(cmd) != 0)
		return -1;
	const char *shared = tu_shared_data();
	if (shared == NULL || realpath(shared, S.shared) == NULL)
		S.shared[0] = '\0';

	/* make install, as a user would, of the binary under test */
	snprintf(build, sizeof(build), "%s", tu_migratable_bin());
	char *slash = strrchr(build, '/');
	assert_non_null(slash);
	*slash = '\0';
	const char *rel = strncmp(build, S.repo, strlen(S.repo)) == 0 && build[strlen(S.repo)] == '/'
			  ? build + strlen(S.repo) + 1 : build;
	snprintf(cmd, sizeof(cmd), "BUILD=%s", rel);
	char dest[1200];
	snprintf(dest, sizeof(dest), "DESTDIR=%s/root", S.tmp);
	char *argv[] = { "env", "-u", "MAKEFLAGS", "-u", "MFLAGS", "-u", "MAKELEVEL", "make", "-s",
			 "--no-print-directory", cmd, "PREFIX=/opt/mg", dest, "install", NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv, &o, &e);
	if (rc != 0)
		fprintf(stderr, "make install failed (%d): %s%s\n", rc, o ? o : "", e ? e : "");
	free(o);
	free(e);
	snprintf(S.installed, sizeof(S.installed), "%s/root/opt/mg/bin/migratable", S.tmp);
	return rc == 0 && access(S.installed, X_OK) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", S.tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_installed_lists_catalogs(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL, want[2048];
	assert_int_equal(run_in(S.elsewhere, &out, &err, S.installed, "catalog", "list", NULL), 0);
	assert_non_null(strstr(out, "aws-us-west-2 (aws)"));
	snprintf(want, sizeof(want), "%s/root/opt/mg/share/migratable/catalogs/aws-us-west-2.json", S.tmp);
	if (strstr(out, want) == NULL)
		fail_msg("catalog list does not name %s:\n%s", want, out);
	free(out);
	free(err);
}

/* name -> "verdict|missing|unknown" for every target of a check --json. */
static json_object *verdicts_by_name(const char *json_text, size_t *n)
{
	json_object *root = json_tokener_parse(json_text), *map = json_object_new_object();
	assert_non_null(root);
	json_object *targets = tu_json_get(root, "targets");
	*n = json_object_array_length(targets);
	for (size_t i = 0; i < *n; i++) {
		json_object *t = json_object_array_get_idx(targets, i);
		char v[2048];
		snprintf(v, sizeof(v), "%s|%s|%s", json_object_get_string(tu_json_get(t, "verdict")),
			 json_object_to_json_string(tu_json_get(t, "missing")),
			 json_object_to_json_string(tu_json_get(t, "unknown")));
		json_object_object_add(map, json_object_get_string(tu_json_get(t, "name")),
				       json_object_new_string(v));
	}
	json_object_put(root);
	return map;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * The "done when": from an installed copy, in another directory,
 * --catalog aws gives the verdicts of --target ../shared/.../aws-us-west-2,
 * and its table is at most 80 lines.
 */
static void test_installed_aws_verdicts(void **state)
{
	(void)state;
	static const char *const reqs[] = { D "req-avx512.json", D "req-avx2-popcnt.json" };
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		char *out = NULL, *err = NULL, *ref = NULL;
		const char *req = abspath(reqs[r]);
		int rc = run_in(S.elsewhere, &out, &err, S.installed, "check", "--requirements", req,
				"--catalog", "aws", "--json", NULL);
		assert_int_equal(rc, 1);
		size_t n, nref;
		json_object *got = verdicts_by_name(out, &n);
		assert_int_equal(n, 383);
		free(out);
		free(err);

		rc = run_in(S.elsewhere, &out, &err, S.installed, "check", "--requirements", req,
			    "--catalog", "aws", NULL);
		assert_int_equal(rc, 1);
		size_t lines = count_lines(out);
		printf("%s: table of %zu lines for 383 targets\n", reqs[r], lines);
		assert_true(lines <= 80);
		assert_non_null(strstr(out, "383 targets: "));
		free(out);
		free(err);

		if (S.shared[0] == '\0') {
			json_object_put(got);
			continue;        /* no ../shared: nothing to compare with */
		}
		char dir[PATH_MAX + 32];
		snprintf(dir, sizeof(dir), "%s/catalogs/aws-us-west-2", S.shared);
		assert_int_equal(tu_migratable(&ref, NULL, "check", "--requirements", reqs[r],
					       "--target", dir, "--json", NULL), 1);
		json_object *want = verdicts_by_name(ref, &nref);
		assert_int_equal(nref, n);
		int differ = 0;
		json_object_object_foreach(want, name, v) {
			json_object *g;
			if (!json_object_object_get_ex(got, name, &g) ||
			    strcmp(json_object_get_string(g), json_object_get_string(v)) != 0) {
				printf("%s: %s vs %s\n", name, g ? json_object_get_string(g) : "(none)",
				       json_object_get_string(v));
				differ++;
			}
		}
		assert_int_equal(differ, 0);
		json_object_put(want);
		json_object_put(got);
		free(ref);
	}
	if (S.shared[0] == '\0')
		tu_skip(TU_SKIP_NO_SHARED, "the comparison with the reference profiles needs ../shared");
}

static void test_prices(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL;
	int rc = tu_migratable(&out, &err, "check", "--requirements", D "req-avx512.json",
			       "--catalog", abspath("catalogs/aws-us-west-2.json"),
			       "--prices", D "spot-prices.json", "--json", NULL);
	assert_int_equal(rc, 1);
	json_object *root = json_tokener_parse(out);
	assert_non_null(root);
	json_object *targets = tu_json_get(root, "targets");
	assert_int_equal(json_object_array_length(targets), 383);
	int priced = 0;
	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i), *p = tu_json_get(t, "price");
		const char *name = json_object_get_string(tu_json_get(t, "name"));
		if (p == NULL)
			continue;
		priced++;
		if (strcmp(name, "c5.large") == 0) {
			assert_true(json_object_get_double(p) == 0.035);
			assert_string_equal(json_object_get_string(tu_json_get(t, "zone")), "us-west-2c");
		}
	}
	assert_int_equal(priced, 6);     /* of the 7 types priced, m7i.large is not in the catalog */
	json_object *c = tu_json_get(tu_json_get(root, "summary"), "cheapest_compatible");
	assert_string_equal(json_object_get_string(tu_json_get(c, "name")), "c5.large");
	assert_string_equal(json_object_to_json_string(tu_json_get(c, "price")), "0.035000");
	assert_string_equal(json_object_get_string(tu_json_get(c, "zone")), "us-west-2c");
	json_object_put(root);
	free(out);
	free(err);

	/* the table: sorted by price, the cheapest compatible named */
	rc = tu_migratable(&out, &err, "check", "--requirements", D "req-avx512.json", "--catalog",
			   abspath("catalogs/aws-us-west-2.json"), "--prices", D "spot-prices.json", NULL);
	assert_int_equal(rc, 1);
	printf("%s", out);
	assert_non_null(strstr(out, "cheapest compatible: c5.large at 0.035000 USD/h in us-west-2c"));
	const char *order[] = { "0.029000 c6a.large", "0.031000 m5a.large", "0.035000 c5.large",
				"0.042000 c7a.large" };
	const char *prev = out;
	for (size_t i = 0; i < 4; i++) {
		const char *p = strstr(out, order[i]);
		if (p == NULL || p < prev)
			fail_msg("\"%s\" missing or out of price order", order[i]);
		prev = p;
	}
	assert_true(count_lines(out) <= 80);
	free(out);
	free(err);

	/* malformed: exit 2, one line naming the file and the field */
	rc = tu_migratable(&out, &err, "check", "--requirements", D "req-avx512.json", "--catalog",
			   "x86-64-levels", "--prices", D "bad/spot-bad-price.json", NULL);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(err, "spot-bad-price.json: SpotPriceHistory[1].SpotPrice: not a string"));
	/* the requirements' own "demo warning", then the error alone */
	assert_int_equal(count_lines(err), 2);
	assert_non_null(strstr(err, "warning: demo warning\n"));
	free(out);
	free(err);
}

/* The shipped catalog is what `catalog build` makes of the 383 profiles. */
static void test_build_round_trip(void **state)
{
	(void)state;
	if (S.shared[0] == '\0')
		tu_skip(TU_SKIP_NO_SHARED, "the 383 profiles are in ../shared");
	char out_path[1200];
	snprintf(out_path, sizeof(out_path), "%s/aws-again.json", S.tmp);
	char *argv[] = { "scripts/make-aws-catalog.sh", S.shared, (char *)tu_migratable_bin(),
			 out_path, NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv, &o, &e);
	if (rc != 0)
		fail_msg("make-aws-catalog.sh: %d: %s", rc, e);
	size_t a_len, b_len;
	char *a = tu_read_file(out_path, &a_len), *b = tu_read_file("catalogs/aws-us-west-2.json", &b_len);
	assert_non_null(a);
	assert_non_null(b);
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		fail_msg("catalogs/aws-us-west-2.json is not what catalog build makes of %s "
			 "(rerun scripts/make-aws-catalog.sh)", S.shared);
	free(a);
	free(b);
	free(o);
	free(e);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A fleet: two host --json profiles of this machine and a minimal one. */
static void test_build_fleet(void **state)
{
	(void)state;
	char dir[1200], a[1400], b[1400], cmd[4096];
	snprintf(dir, sizeof(dir), "%s/fleet", S.tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/rack2", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(a, sizeof(a), "%s/host-a.json", dir);
	snprintf(b, sizeof(b), "%s/rack2/host-b.json", dir);
	assert_int_equal(tu_migratable(NULL, NULL, "host", "--name", "host-a", "--output", a, NULL), 0);
	assert_int_equal(tu_migratable(NULL, NULL, "host", "--name", "host-b", "--output", b, NULL), 0);
	snprintf(cmd, sizeof(cmd), "cp " D "targets/b-noavx512.json %s/rack2/", dir);
	assert_int_equal(system(cmd), 0);

	char *out = NULL, *err = NULL;
	assert_int_equal(tu_migratable(&out, &err, "catalog", "build", dir, "-o", "myfleet", NULL), 0);
	assert_non_null(strstr(out, "catalog myfleet, 3 targets in 2 groups"));
	free(out);
	free(err);
	/* found by name, from the user's directory */
	assert_int_equal(tu_migratable(&out, &err, "catalog", "groups", "myfleet", "--json", NULL), 0);
	json_object *g = json_tokener_parse(out);
	assert_non_null(g);
	json_object *groups = tu_json_get(g, "groups");
	assert_int_equal(json_object_array_length(groups), 2);
	json_object *m0 = tu_json_get(json_object_array_get_idx(groups, 0), "members");
	assert_int_equal(json_object_array_length(m0), 2);      /* host-a and host-b */
	assert_string_equal(json_object_get_string(json_object_array_get_idx(m0, 0)), "host-a");
	json_object_put(g);
	free(out);
	free(err);

	/* the catalog gives the verdicts of the profiles it was built from */
	char *v1 = NULL, *v2 = NULL;
	assert_int_equal(tu_migratable(&v1, NULL, "check", "--requirements", D "req-avx2-popcnt.json",
				       "--catalog", "myfleet", "--json", NULL) >= 0, 1);
	assert_int_equal(tu_migratable(&v2, NULL, "check", "--requirements", D "req-avx2-popcnt.json",
				       "--target", a, "--target", b, "--target", D "targets/b-noavx512.json",
				       "--json", NULL) >= 0, 1);
	size_t n1, n2;
	json_object *j1 = verdicts_by_name(v1, &n1), *j2 = verdicts_by_name(v2, &n2);
	assert_int_equal(n1, 3);
	assert_int_equal(n2, 3);
	json_object_object_foreach(j2, name, v) {
		json_object *w;
		assert_true(json_object_object_get_ex(j1, name, &w));
		assert_string_equal(json_object_get_string(w), json_object_get_string(v));
	}
	json_object_put(j1);
	json_object_put(j2);
	free(v1);
	free(v2);

	/* two profiles of one name: refused, nothing written */
	snprintf(cmd, sizeof(cmd), "cp %s %s/rack2/again.json", a, dir);
	assert_int_equal(system(cmd), 0);
	char file[1200];
	snprintf(file, sizeof(file), "%s/dup.json", S.tmp);
	assert_int_equal(tu_migratable(&out, &err, "catalog", "build", dir, "-o", file, NULL), 2);
	assert_non_null(strstr(err, "two targets are named \"host-a\""));
	assert_int_equal(access(file, F_OK), -1);
	free(out);
	free(err);
}

static void test_cli_errors(void **state)
{
	(void)state;
	char *out = NULL, *err = NULL;
	assert_int_equal(tu_migratable(&out, &err, "check", "--requirements", D "req-avx512.json",
				       "--catalog", "gcp", NULL), 2);
	assert_non_null(strstr(err, "unknown catalog \"gcp\""));
	assert_non_null(strstr(err, "aws-us-west-2"));      /* says what there is */
	free(out);
	free(err);
	assert_int_equal(tu_migratable(&out, &err, "catalog", "show", "gcp", NULL), 2);
	free(out);
	free(err);
	assert_int_equal(tu_migratable(&out, &err, "catalog", "build", D "targets", NULL), 2);
	assert_non_null(strstr(err, "-o"));
	free(out);
	free(err);
	assert_int_equal(tu_migratable(&out, &err, "catalog", "show", "tests/data/catalogs/small.json", NULL), 0);
	assert_non_null(strstr(out, "a hand-written catalog"));
	assert_non_null(strstr(out, "z9.metal"));
	free(out);
	free(err);
	assert_int_equal(tu_migratable(&out, &err, "check", "--requirements", D "req-avx512.json",
				       "--requirements", D "req-avx2-popcnt.json", "--catalog", "aws", NULL), 2);
	assert_non_null(strstr(err, "--format html"));
	free(out);
	free(err);
}

/* --- NFD ------------------------------------------------------------------------------ */

static bool label_name_ok(const char *s, size_t n)
{
	/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 */
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && ((i == 0 || i == n - 1) || (c != '-' && c != '_' && c != '.')))
			return false;
	}
	return true;
}

/*
 * Read a feature file as NFD's local source does
 * (source/local/local.go, docs/usage/customization-guide.md): at most 64 KiB,
 * lines trimmed, empty ones and '#' comments skipped, "# +" lines are
 * directives (expiry-time=RFC3339, no-label, no-feature), the others
 * <namespace>/<name>[=<value>] with a value of "true" by default.  Also
 * checks each key and value against Kubernetes' label syntax.
 */
static json_object *nfd_labels(const char *text)
{
	json_object *labels = json_object_new_object();
	assert_true(strlen(text) <= 65536);
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t' || *line == '\r')
			line++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (line[0] == '#') {
			if (strncmp(line, "# +", 3) == 0)
				fail_msg("unexpected NFD directive: %s", line);
			continue;
		}
		char *eq = strchr(line, '='), *slash = strchr(line, '/');
		const char *value = eq ? eq + 1 : "true";
		if (eq)
			*eq = '\0';
		if (slash == NULL)
			fail_msg("label without namespace: %s", line);
		if (!label_name_ok(slash + 1, strlen(slash + 1)) || slash - line > 253 ||
		    (strlen(value) && !label_name_ok(value, strlen(value))))
			fail_msg("not a Kubernetes label: %s=%s", line, value);
		if (json_object_object_get_ex(labels, line, NULL))
			fail_msg("label %s twice", line);
		json_object_object_add(labels, line, json_object_new_string(value));
	}
	free(copy);
	return labels;
}

static void test_nfd_feature_file(void **state)
{
	(void)state;
	char *file = NULL, *prof = NULL;
	assert_int_equal(tu_migratable(&file, NULL, "host", "--format", "nfd-features", NULL), 0);
	assert_int_equal(tu_migratable(&prof, NULL, "host", "--json", NULL), 0);
	json_object *labels = nfd_labels(file);
	printf("feature file: %zu labels\n", (size_t)json_object_object_length(labels));
	assert_true(json_object_object_length(labels) > 10);
	/* a node running this file, as `kubectl get nodes -o json` shows it */
	json_object_object_add(labels, "kubernetes.io/arch", json_object_new_string("amd64"));
	json_object *node = json_object_new_object(), *meta = json_object_new_object();
	json_object *items = json_object_new_array(), *root = json_object_new_object();
	json_object_object_add(meta, "name", json_object_new_string("this-node"));
	json_object_object_add(meta, "labels", json_object_get(labels));
	json_object_object_add(node, "metadata", meta);
	json_object_array_add(items, node);
	json_object_object_add(root, "items", items);
	char nodes[1200], req[1200];
	snprintf(nodes, sizeof(nodes), "%s/nodes.json", S.tmp);
	write_text(nodes, json_object_to_json_string(root));

	/* requirements: every usable feature of this host the affinity can
	 * express (chosen at run time from this CPU) */
	json_object *p = json_tokener_parse(prof), *feats = tu_json_get(p, "features");
	json_object *reqs = json_object_new_object(), *list = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(feats); i++)
		json_object_array_add(list, json_object_get(json_object_array_get_idx(feats, i)));
	json_object_object_add(reqs, "required_features", list);
	snprintf(req, sizeof(req), "%s/host-req.json", S.tmp);
	write_text(req, json_object_to_json_string(reqs));
	char *aff = NULL, *aerr = NULL;
	int rc = tu_migratable(&aff, &aerr, "check", "--requirements", req, "--format", "nfd-affinity", NULL);
	if (rc == 2 && strstr(aerr, "NFD has no label for")) {
		/* drop what NFD cannot label and try again: the rest must agree */
		const char *names = strstr(aerr, "label for ") + 10;
		json_object *kept = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			const char *f = json_object_get_string(json_object_array_get_idx(list, i));
			char pat[80];
			snprintf(pat, sizeof(pat), "%s", f);
			const char *hit = strstr(names, pat);
			bool listed = hit && (hit == names || hit[-1] == ' ') &&
				      (hit[strlen(f)] == ',' || hit[strlen(f)] == '\n' || hit[strlen(f)] == '\0');
			if (!listed)
				json_object_array_add(kept, json_object_new_string(f));
		}
		json_object_object_add(reqs, "required_features", kept);
		write_text(req, json_object_to_json_string(reqs));
		free(aff);
		free(aerr);
		rc = tu_migratable(&aff, &aerr, "check", "--requirements", req, "--format", "nfd-affinity", NULL);
	}
	assert_int_equal(rc, 0);
	/* every expression of the block is satisfied by the file's labels */
	int keys = 0;
	for (const char *k = strstr(aff, "- key: "); k; k = strstr(k + 1, "- key: ")) {
		char key[160];
		size_t n = strcspn(k + 7, "\n");
		assert_true(n < sizeof(key));
		memcpy(key, k + 7, n);
		key[n] = '\0';
		json_object *v;
		const char *want = strcmp(key, "kubernetes.io/arch") == 0 ? "amd64" : "true";
		if (!json_object_object_get_ex(labels, key, &v) || strcmp(json_object_get_string(v), want))
			fail_msg("the affinity asks for %s, which the feature file does not set", key);
		keys++;
	}
	printf("affinity: %d expressions, all set by the feature file\n", keys);
	assert_true(keys > 3);
	/* and check judges the labelled node compatible */
	char *out = NULL;
	assert_int_equal(tu_migratable(&out, NULL, "check", "--requirements", req, "--catalog",
				       nodes, NULL) == 2, 1);    /* a nodes file is no catalog file */
	free(out);
	char nfd[1300];
	snprintf(nfd, sizeof(nfd), "nfd:%s", nodes);
	assert_int_equal(tu_migratable(&out, NULL, "check", "--requirements", req, "--catalog", nfd, NULL), 0);
	assert_non_null(strstr(out, "this-node"));
	free(out);

	/* a feature this CPU lacks (chosen at run time) is refused by both */
	const char *lacking[] = { "avx512f", "sse4a", "amx_tile", "avx2", "sha_ni", "xop", "fma4" };
	const char *absent = NULL;
	for (size_t i = 0; i < sizeof(lacking) / sizeof(lacking[0]) && !absent; i++)
		if (!strstr(prof, lacking[i]))
			absent = lacking[i];
	assert_non_null(absent);
	json_object_array_add(tu_json_get(reqs, "required_features"), json_object_new_string(absent));
	write_text(req, json_object_to_json_string(reqs));
	assert_int_equal(tu_migratable(&out, NULL, "check", "--requirements", req, "--catalog", nfd, NULL), 1);
	free(out);
	free(aff);
	free(aerr);
	assert_int_equal(tu_migratable(&aff, NULL, "check", "--requirements", req, "--format",
				       "nfd-affinity", NULL), 0);
	bool refused = false;
	for (const char *k = strstr(aff, "- key: "); k; k = strstr(k + 1, "- key: ")) {
		char key[160];
		size_t n = strcspn(k + 7, "\n");
		memcpy(key, k + 7, n);
		key[n] = '\0';
		refused |= !json_object_object_get_ex(labels, key, NULL);
	}
	assert_true(refused);
	free(aff);
	json_object_put(reqs);
	json_object_put(p);
	json_object_put(root);
	json_object_put(labels);
	free(file);
	free(prof);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_installed_lists_catalogs),
		cmocka_unit_test(test_installed_aws_verdicts),
		cmocka_unit_test(test_prices),
		cmocka_unit_test(test_build_round_trip),
		cmocka_unit_test(test_build_fleet),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_nfd_feature_file),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
