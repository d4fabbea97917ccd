/*
 * catalog_dirs.c - where catalog files are: next to the executable (the
 * ones installed with it), then the user's own (catalog_files.h).
 *
 * The installed directory is found from /proc/self/exe rather than from a
 * prefix compiled in, so a copy installed with DESTDIR, or moved, or run
 * from the source tree finds the catalogs that came with it.
 */
#include "verdict/catalog_files.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *builtin_override;

void mg_catalog_set_builtin_dir(const char *dir)
{
	builtin_override = dir;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *mg_catalog_builtin_dir(void)
{
	static char found[PATH_MAX];
	static bool looked;
	/* Installed (PREFIX/bin -> PREFIX/share/migratable), then the source
	 * tree (build/ -> catalogs/ beside it). */
	static const char *const rel[] = { "/../share/migratable/catalogs", "/../catalogs" };

	if (builtin_override)
		return builtin_override;
	if (looked)
		return found[0] ? found : NULL;
	looked = true;

	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char cand[PATH_MAX + 64];
		snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
		if (is_dir(cand) && realpath(cand, found) != NULL)
			return found;
	}
	found[0] = '\0';
	return NULL;
}

const char *mg_catalog_user_dir(void)
{
	static char dir[PATH_MAX];
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;

	/* The XDG spec: a relative XDG_DATA_HOME is to be ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/migratable/catalogs", xdg);
	else if (home && home[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/.local/share/migratable/catalogs", home);
	else
		return NULL;
	return n > 0 && (size_t)n < sizeof(dir) ? dir : NULL;
}

bool mg_catalog_is_path(const char *name)
{
	size_t n = strlen(name);
	return strchr(name, '/') != NULL || (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files of dir, sorted (paths malloc'd); a missing dir has none. */
static int json_files(const char *dir, char ***out, size_t *n, mg_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0
			: mg_fail(err, MG_ERR_USAGE, "%s: %s", dir, strerror(errno));
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			char **a = realloc(*out, cap * sizeof(*a));
			if (a == NULL)
				goto oom;
			*out = a;
		}
		if (asprintf(&(*out)[*n], "%s/%s", dir, de->d_name) < 0)
			goto oom;
		(*n)++;
	}
	int e = errno;
	closedir(d);
	if (e != 0)
		return mg_fail(err, MG_ERR_IO, "%s: %s", dir, strerror(e));
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return 0;
oom:
	closedir(d);
	return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
}

static void free_files(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

static bool meta_names(const mg_catalog_meta *m, const char *name)
{
	if (m->name && strcmp(m->name, name) == 0)
		return true;
	for (size_t i = 0; i < m->naliases; i++)
		if (strcmp(m->aliases[i], name) == 0)
			return true;
	return false;
}

/* 1 and *path when dir has catalog `name`; 0 when not; -1 on a bad file. */
static int find_in(const char *dir, const char *name, char **path, mg_error *err)
{
	char **files;
	size_t n;
	int rc = 0;

	if (asprintf(path, "%s/%s.json", dir, name) < 0)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (access(*path, F_OK) == 0)
		return 1;
	free(*path);
	*path = NULL;
	if (json_files(dir, &files, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		mg_catalog_meta m;
		mg_target_list l = { 0 };
		if (mg_catalog_read(files[i], &m, &l, err) != 0) {
			rc = -1;
			break;
		}
		if (meta_names(&m, name)) {
			*path = files[i];
			files[i] = NULL;
			rc = 1;
		}
		mg_catalog_meta_free(&m);
		mg_target_list_free(&l);
	}
	free_files(files, n);
	return rc;
}

int mg_catalog_find(const char *name, char **path, mg_error *err)
{
	const char *dirs[2] = { mg_catalog_builtin_dir(), mg_catalog_user_dir() };

	*path = NULL;
	if (name[0] == '\0' || mg_catalog_is_path(name))
		return 0;
	for (size_t i = 0; i < 2; i++) {
		if (dirs[i] == NULL || !is_dir(dirs[i]))
			continue;
		int rc = find_in(dirs[i], name, path, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int list_fail(mg_catalog_meta **out, size_t *count)
{
	for (size_t i = 0; i < *count; i++)
		mg_catalog_meta_free(&(*out)[i]);
	free(*out);
	*out = NULL;
	*count = 0;
	return -1;
}

int mg_catalog_list_files(mg_catalog_meta **out, size_t *count, mg_error *err)
{
	const char *dirs[2] = { mg_catalog_builtin_dir(), mg_catalog_user_dir() };

	*out = NULL;
	*count = 0;
	for (size_t d = 0; d < 2; d++) {
		char **files;
		size_t n;
		if (dirs[d] == NULL || (d == 1 && dirs[0] && strcmp(dirs[0], dirs[1]) == 0))
			continue;
		if (json_files(dirs[d], &files, &n, err) != 0)
			return list_fail(out, count);
		mg_catalog_meta *grown = n ? realloc(*out, (*count + n) * sizeof(**out)) : *out;
		if (n && grown == NULL) {
			free_files(files, n);
			mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			return list_fail(out, count);
		}
		*out = grown;
		for (size_t i = 0; i < n; i++) {
			mg_target_list l = { 0 };
			int rc = mg_catalog_read(files[i], &(*out)[*count], &l, err);
			mg_target_list_free(&l);
			if (rc != 0) {
				free_files(files, n);
				return list_fail(out, count);
			}
			(*count)++;
		}
		free_files(files, n);
	}
	return 0;
}
