/*
 * test_html.c - `check --format html` rendered by a real browser: headless
 * Chromium (Debian's chromium, scripts/install-deps.sh) loads the page,
 * the rendered DOM must hold one cell per workload and group of targets
 * with the verdict check gives, and a screenshot is kept under the build
 * directory for a person to look at.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "support/testutil.h"
#include "verdict/catalog_files.h"
#include "verdict/verdict.h"

#define D "tests/data/verdict/"

static const char *chromium(void)
{
	static const char *const paths[] = { "/usr/bin/chromium", "/usr/bin/chromium-browser" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Missing chromium is a reason to skip only where Debian cannot provide it. */
static void need_chromium(void)
{
	if (chromium())
		return;
	char *argv[] = { "apt-cache", "show", "chromium", NULL };
	char *o = NULL, *e = NULL;
	int rc = tu_run(argv, &o, &e);
	free(o);
	free(e);
	if (rc == 0)
		fail_msg("chromium is not installed but Debian has it: run scripts/install-deps.sh");
	tu_skip(TU_SKIP_HOST, "no chromium package in this machine's Debian archive");
}

/* headless, no network, no profile: what the test may run as root */
static int run_chromium(const char *what, const char *url, const char *udd, char **out)
{
	char *argv[] = { "timeout", "120", (char *)chromium(), "--headless", "--no-sandbox",
			 "--disable-gpu", "--disable-quic", "--no-first-run",
			 "--disable-background-networking", "--disable-component-update",
			 "--disable-sync", (char *)udd, "--window-size=1400,1000", (char *)what,
			 (char *)url, NULL };
	char *err = NULL;
	int rc = tu_run(argv, out, &err);
	if (rc != 0)
		printf("chromium %s: status %d: %s\n", what, rc, err ? err : "");
	free(err);
	return rc;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Distinct (features, unknown) pairs, counted here without groups.c. */
static size_t distinct_sets(const mg_target_list *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->count; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = mg_fset_equal(&l->items[i].features, &l->items[j].features) &&
			       mg_fset_equal(&l->items[i].unknown, &l->items[j].unknown);
		n += !seen;
	}
	return n;
}

static void test_matrix_in_chromium(void **state)
{
	(void)state;
	need_chromium();
	static const char *const reqs[] = { D "req-avx512.json", D "req-avx2-popcnt.json" };
	char dir[512], html[600], png[600], udd[700], url[2048], cwd[1024];
	snprintf(dir, sizeof(dir), "%s", tu_migratable_bin());
	*strrchr(dir, '/') = '\0';
	snprintf(html, sizeof(html), "%s/html", dir);
	if (mkdir(html, 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", html, strerror(errno));
	snprintf(png, sizeof(png), "%s/html/matrix.png", dir);
	snprintf(html, sizeof(html), "%s/html/matrix.html", dir);

	char *page = NULL, *err = NULL;
	assert_int_equal(tu_migratable(&page, &err, "check", "--requirements", reqs[0], "--requirements",
				       reqs[1], "--catalog", "aws", "--catalog", "x86-64-levels",
				       "--format", "html", NULL), 0);
	/* self-contained: nothing to fetch */
	assert_null(strstr(page, "http://"));
	assert_null(strstr(page, "https://"));
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "<link"));
	assert_null(strstr(page, "src="));
	FILE *f = fopen(html, "w");
	assert_non_null(f);
	assert_true(fputs(page, f) >= 0);
	assert_int_equal(fclose(f), 0);
	free(page);
	free(err);

	mg_target_list l = { 0 };
	mg_error e = { 0 };
	mg_catalog_set_builtin_dir("catalogs");
	assert_int_equal(mg_catalog_load("aws", &l, &e), 0);
	assert_int_equal(mg_catalog_load("x86-64-levels", &l, &e), 0);
	size_t groups = distinct_sets(&l);
	mg_target_list_free(&l);

	char tmpl[] = "/tmp/mg-chromium.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	snprintf(udd, sizeof(udd), "--user-data-dir=%s", tmpl);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(url, sizeof(url), "file://%s%s%s", html[0] == '/' ? "" : cwd, html[0] == '/' ? "" : "/",
		 html);
	char *dom = NULL;
	assert_int_equal(run_chromium("--dump-dom", url, udd, &dom), 0);
	size_t cells = count(dom, "<td class=\"cell ");
	printf("rendered: %zu cells for 2 workloads x %zu groups\n", cells, groups);
	assert_int_equal(cells, 2 * groups);
	/* each row has one cell per group, and the verdicts are check's */
	for (size_t r = 0; r < 2; r++) {
		const char *name = r == 0 ? "req-avx512" : "req-avx2-popcnt";
		char row[128];
		snprintf(row, sizeof(row), "<tr><th>%s</th>", name);
		const char *start = strstr(dom, row), *end = start ? strstr(start, "</tr>") : NULL;
		assert_non_null(end);
		char *copy = strndup(start, (size_t)(end - start));
		assert_int_equal(count(copy, "<td class=\"cell "), groups);
		free(copy);
	}
	assert_non_null(strstr(dom, "req-avx512 on x86-64-v3: incompatible; missing: avx512f"));
	assert_non_null(strstr(dom, "<td class=\"cell compatible\" data-group=\"G"));
	free(dom);

	char shot[1300];
	snprintf(shot, sizeof(shot), "--screenshot=%s", png);
	char *o = NULL;
	assert_int_equal(run_chromium(shot, url, udd, &o), 0);
	free(o);
	size_t len;
	char *img = tu_read_file(png, &len);
	assert_non_null(img);
	assert_true(len > 1000 && memcmp(img, "\x89PNG", 4) == 0);
	free(img);
	printf("screenshot of the matrix: %s\n", png);
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_in_chromium),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
