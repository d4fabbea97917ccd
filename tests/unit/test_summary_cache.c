/*
 * test_summary_cache.c - the on-disk cache of unit summaries: records come
 * back as saved, and a damaged file heals instead of growing useless.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/engine.h"
#include "analysis/summary_cache.h"

#define MAP 0x1234abcdULL       /* the mapping's hash: names the file */
#define LEN 64

static mg_summary_cache *open_cache(void)
{
	mg_summary_cache *c = mg_summary_cache_open();
	assert_non_null(c);
	mg_summary_cache_load(c, MAP);
	return c;
}

static void put(mg_summary_cache *c, uint64_t key)
{
	mg_unit_summary s = { .instructions = (uint32_t)key, .ends_flow = true };
	mg_summary_cache_put(c, MAP, key, LEN, &s);
}

static bool has(const mg_summary_cache *c, uint64_t key)
{
	mg_unit_summary s;
	if (!mg_summary_cache_get(c, MAP, key, LEN, &s))
		return false;
	bool same = s.instructions == (uint32_t)key;
	mg_unit_summary_free(&s);
	return same;
}

/* The one cache file under dir. */
static void cache_file(const char *dir, char *path, size_t size)
{
	char pattern[256];
	glob_t g;
	snprintf(pattern, sizeof(pattern), "%s/summaries-*/*", dir);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	snprintf(path, size, "%s", g.gl_pathv[0]);
	globfree(&g);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_damaged_tail_heals(void **state)
{
	(void)state;
	char dir[] = "/tmp/mg-cache-test-XXXXXX", path[512], cmd[600];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(setenv("MIGRATABLE_CACHE_DIR", dir, 1), 0);

	mg_summary_cache *c = open_cache();
	put(c, 1);
	put(c, 2);
	mg_summary_cache_close(c);
	c = open_cache();
	assert_true(has(c, 1) && has(c, 2));
	mg_summary_cache_close(c);

	/* A short write: the last record loses its last bytes. */
	cache_file(dir, path, sizeof(path));
	assert_int_equal(truncate(path, file_size(path) - 3), 0);
	c = open_cache();
	assert_true(has(c, 1));
	assert_false(has(c, 2));
	put(c, 3);
	mg_summary_cache_close(c);

	/* Record 3 is found: it was not appended after the damaged one. */
	c = open_cache();
	assert_true(has(c, 1));
	assert_true(has(c, 3));
	mg_summary_cache_close(c);

	/* A bad header: the file starts again rather than keep growing. */
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fputs("XXXX", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	off_t before = file_size(path);
	c = open_cache();
	assert_false(has(c, 1));
	put(c, 4);
	mg_summary_cache_close(c);
	c = open_cache();
	assert_true(has(c, 4));
	mg_summary_cache_close(c);
	assert_true(file_size(path) < before);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(unsetenv("MIGRATABLE_CACHE_DIR"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_damaged_tail_heals),
	};
	return cmocka_run_group_tests_name("summary_cache", tests, NULL, NULL);
}
