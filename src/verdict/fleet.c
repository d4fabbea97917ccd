/*
 * fleet.c - the profiles a fleet's machines left in a directory tree, for
 * `migratable catalog build` (catalog_files.h).
 *
 * Operators gather `migratable host --json` output (or `criu cpuinfo dump`
 * images, one directory per machine) with whatever they use to reach their
 * machines; this walks what they gathered.
 */
#include "verdict/catalog_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 8

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static bool is_cpuinfo_img(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	return strcmp(base, "cpuinfo.img") == 0;
}

/* "fleet/host-a/cpuinfo.img" -> "host-a"; "cpuinfo.img" -> "cpuinfo". */
static char *dir_name_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup("cpuinfo");
	const char *end = slash;
	while (end > path && end[-1] == '/')
		end--;
	const char *start = end;
	while (start > path && start[-1] != '/')
		start--;
	if (end == start || (end - start == 1 && *start == '.'))
		return strdup("cpuinfo");
	return strndup(start, (size_t)(end - start));
}

static int add_file(const char *path, mg_target_list *out, mg_error *err)
{
	mg_profile p;
	if (mg_profile_load_file(path, &p, err) != 0)
		return -1;
	if (is_cpuinfo_img(path)) {
		free(p.name);
		if ((p.name = dir_name_of(path)) == NULL) {
			mg_profile_free(&p);
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		}
	}
	if (mg_target_list_take(out, &p, err) != 0) {
		mg_profile_free(&p);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir worth a look, sorted, as malloc'd paths. */
static int entries(const char *dir, char ***names, size_t *n, mg_error *err)
{
	DIR *d = opendir(dir);
	size_t cap = 0;
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return mg_fail(err, MG_ERR_USAGE, "%s: cannot open directory: %s", dir, strerror(errno));
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			char **a = realloc(*names, cap * sizeof(*a));
			if (a == NULL)
				goto oom;
			*names = a;
		}
		if (asprintf(&(*names)[*n], "%s/%s", dir, de->d_name) < 0)
			goto oom;
		(*n)++;
	}
	int e = errno;
	closedir(d);
	if (e != 0)
		return mg_fail(err, MG_ERR_IO, "%s: %s", dir, strerror(e));
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
oom:
	closedir(d);
	return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
}

static int walk(const char *dir, int depth, mg_target_list *out, mg_error *err)
{
	char **names;
	size_t n;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return mg_fail(err, MG_ERR_USAGE, "%s: more than %d directory levels deep",
			       dir, MAX_DEPTH);
	if (entries(dir, &names, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct stat st;
		if (stat(names[i], &st) != 0)
			continue;       /* a dangling link is no profile */
		if (S_ISDIR(st.st_mode))
			rc = walk(names[i], depth + 1, out, err);
		else if (S_ISREG(st.st_mode) && (ends_with(names[i], ".json") || is_cpuinfo_img(names[i])))
			rc = add_file(names[i], out, err);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int mg_targets_collect(const char *path, mg_target_list *out, mg_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return mg_fail(err, MG_ERR_USAGE, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return walk(path, 0, out, err);
	return add_file(path, out, err);
}
