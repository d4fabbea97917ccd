/* file.c - see file.h. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *fail_errno(const char *path, int code, int e, mg_error *err)
{
	mg_fail(err, code, "%s: %s", path, strerror(e));
	return NULL;
}

char *mg_read_file(const char *path, size_t max, int code, size_t *len, mg_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(path, code, errno, err);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return fail_errno(path, code, e, err);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		mg_fail(err, code, "%s: is a directory", path);
		return NULL;
	}
	size_t cap = 64 << 10, n = 0, limit = max + 1;
	char *buf = malloc(cap + 1);
	while (buf != NULL && n < limit) {
		if (n == cap) {
			cap = cap * 2 < limit ? cap * 2 : limit;
			char *grown = realloc(buf, cap + 1);
			if (grown == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return fail_errno(path, code, e, err);
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (buf == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "%s: out of memory", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

FILE *mg_atomic_open(const char *path, char **tmp, mg_error *err)
{
	if (asprintf(tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		*tmp = NULL;
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	FILE *f = fopen(*tmp, "w");
	if (f == NULL) {
		mg_fail(err, MG_ERR_IO, "%s: %s", *tmp, strerror(errno));
		free(*tmp);
		*tmp = NULL;
	}
	return f;
}

int mg_atomic_close(FILE *f, char *tmp, const char *path, bool keep, mg_error *err)
{
	int rc = 0;
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed)
		rc = mg_fail(err, MG_ERR_IO, "%s: %s", tmp, failed ? "write error" : strerror(errno));
	if (rc == 0 && keep && rename(tmp, path) != 0)
		rc = mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
	if (rc != 0 || !keep)
		unlink(tmp);
	free(tmp);
	return rc;
}
