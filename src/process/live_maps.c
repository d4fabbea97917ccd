/*
 * live_maps.c - a strict parser for the text of /proc/PID/maps.
 *
 * The text comes from the kernel, but it is still untrusted input here:
 * it is also what the fuzzer (fuzz/fuzz_maps.c) feeds, and a malformed
 * line must give an error naming the line, never a guess.  One line:
 *
 *   start-end perms offset major:minor inode [spaces path]
 *
 * with hexadecimal start, end, offset, major and minor, decimal inode,
 * perms four characters [r-][w-][x-][ps].  The path runs to the end of
 * the line and may contain spaces; the kernel appends " (deleted)" to
 * the path of an unlinked file.
 */
#include "process/image.h"

#include <stdlib.h>
#include <string.h>

static const char deleted_suffix[] = " (deleted)";

/* A cursor over one line: [p, end). */
struct cursor {
	const char *p, *end;
};

/* Parse up to max_digits digits in base 16 or 10; at least one. */
static int parse_number(struct cursor *c, int base, int max_digits, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	while (c->p < c->end) {
		char ch = *c->p;
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			break;
		if (++digits > max_digits)
			return -1;
		if (base == 10 && v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * (uint64_t)base + d;
		c->p++;
	}
	if (digits == 0)
		return -1;
	*out = v;
	return 0;
}

static int expect_char(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return -1;
	c->p++;
	return 0;
}

static int parse_perms(struct cursor *c, mg_mapping *m)
{
	if (c->end - c->p < 4)
		return -1;
	const char *s = c->p;
	if ((s[0] != 'r' && s[0] != '-') || (s[1] != 'w' && s[1] != '-') ||
	    (s[2] != 'x' && s[2] != '-') || (s[3] != 'p' && s[3] != 's'))
		return -1;
	m->prot = (s[0] == 'r' ? MG_PROT_READ : 0) |
		  (s[1] == 'w' ? MG_PROT_WRITE : 0) |
		  (s[2] == 'x' ? MG_PROT_EXEC : 0);
	m->shared = s[3] == 's';
	c->p += 4;
	return 0;
}

static mg_map_kind bracket_kind(const char *name)
{
	static const struct {
		const char *name;
		mg_map_kind kind;
	} known[] = {
		{ "[heap]", MG_MAP_HEAP },
		{ "[stack]", MG_MAP_STACK },
		{ "[vdso]", MG_MAP_VDSO },
		{ "[vvar]", MG_MAP_VVAR },
		{ "[vvar_vclock]", MG_MAP_VVAR },
		{ "[vsyscall]", MG_MAP_VSYSCALL },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0)
			return known[i].kind;
	/* Kernels before 4.5 named thread stacks "[stack:TID]". */
	if (strncmp(name, "[stack:", 7) == 0)
		return MG_MAP_STACK;
	return MG_MAP_OTHER;
}

/*
 * Fill m->path, m->deleted and m->kind from the rest of the line (after
 * the inode).  Returns -1 on allocation failure or a malformed tail.
 */
static int parse_path(struct cursor *c, mg_mapping *m, bool *oom)
{
	if (c->p == c->end) {
		m->kind = MG_MAP_ANON;
		return 0;
	}
	if (*c->p != ' ')
		return -1;
	while (c->p < c->end && *c->p == ' ')
		c->p++;
	size_t len = (size_t)(c->end - c->p);
	if (len == 0) {
		m->kind = MG_MAP_ANON;
		return 0;
	}
	if (memchr(c->p, '\0', len) != NULL)
		return -1;

	const size_t suffix_len = sizeof(deleted_suffix) - 1;
	if (c->p[0] == '/' && len > suffix_len &&
	    memcmp(c->p + len - suffix_len, deleted_suffix, suffix_len) == 0) {
		m->deleted = true;
		len -= suffix_len;
	}
	m->path = strndup(c->p, len);
	if (m->path == NULL) {
		*oom = true;
		return -1;
	}
	if (m->path[0] == '[' && m->path[len - 1] == ']')
		m->kind = bracket_kind(m->path);
	else if (m->path[0] == '/')
		m->kind = MG_MAP_FILE;
	else
		m->kind = MG_MAP_OTHER;   /* e.g. "anon_inode:..." */
	return 0;
}

/* Parse one line (without its newline) into m. */
static int parse_line(const char *line, size_t len, mg_mapping *m, bool *oom)
{
	struct cursor c = { line, line + len };
	uint64_t major, minor;

	memset(m, 0, sizeof(*m));
	if (parse_number(&c, 16, 16, &m->start) || expect_char(&c, '-') ||
	    parse_number(&c, 16, 16, &m->end) || expect_char(&c, ' ') ||
	    parse_perms(&c, m) || expect_char(&c, ' ') ||
	    parse_number(&c, 16, 16, &m->file_offset) || expect_char(&c, ' ') ||
	    parse_number(&c, 16, 8, &major) || expect_char(&c, ':') ||
	    parse_number(&c, 16, 8, &minor) || expect_char(&c, ' ') ||
	    parse_number(&c, 10, 20, &m->inode))
		return -1;
	if (m->start >= m->end)
		return -1;
	m->dev_major = (unsigned)major;
	m->dev_minor = (unsigned)minor;
	return parse_path(&c, m, oom);
}

void mg_maps_free(mg_mapping *maps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(maps[i].path);
	free(maps);
}

int mg_maps_parse(const char *text, size_t len, mg_mapping **out, size_t *nout,
		  mg_error *err)
{
	mg_mapping *maps = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	const char *p = text, *end = text + len;

	*out = NULL;
	*nout = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = (size_t)((nl ? nl : end) - p);
		lineno++;
		if (line_len > MG_MAPS_LINE_MAX) {
			mg_fail(err, MG_ERR_IO, "maps line %zu: longer than %d bytes",
				lineno, MG_MAPS_LINE_MAX);
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			mg_mapping *grown = realloc(maps, ncap * sizeof(*grown));
			if (grown == NULL) {
				mg_fail(err, MG_ERR_INTERNAL, "out of memory parsing maps");
				goto fail;
			}
			maps = grown;
			cap = ncap;
		}
		bool oom = false;
		if (parse_line(p, line_len, &maps[n], &oom) != 0) {
			if (oom)
				mg_fail(err, MG_ERR_INTERNAL, "out of memory parsing maps");
			else
				mg_fail(err, MG_ERR_IO, "maps line %zu: malformed: \"%.*s\"",
					lineno, (int)(line_len > 120 ? 120 : line_len), p);
			goto fail;
		}
		n++;
		if (n > 1 && maps[n - 1].start < maps[n - 2].end) {
			mg_fail(err, MG_ERR_IO,
				"maps line %zu: range %#llx-%#llx overlaps or precedes the previous one",
				lineno, (unsigned long long)maps[n - 1].start,
				(unsigned long long)maps[n - 1].end);
			goto fail;
		}
		p = nl ? nl + 1 : end;
	}
	*out = maps;
	*nout = n;
	return 0;
fail:
	mg_maps_free(maps, n);
	return -1;
}
