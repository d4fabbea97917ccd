/*
 * procfs.c - bounded reads and small parsers for /proc/PID files.
 *
 * Every parser here treats the file as untrusted text: sizes are capped,
 * numbers are range-checked, a malformed file is an error (EINVAL), not
 * a guess.
 */
#include "process/live_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procfs_read(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = max + 1 < 4096 ? max + 1 : 4096, used = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		if (used + 1 >= cap) {
			if (cap >= max + 1) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *grown = realloc(buf, ncap);
			if (grown == NULL) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			buf = grown;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + used, cap - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

static void task_path(char *buf, size_t size, pid_t pid, pid_t tid, const char *file)
{
	if (tid > 0)
		snprintf(buf, size, "/proc/%d/task/%d/%s", (int)pid, (int)tid, file);
	else
		snprintf(buf, size, "/proc/%d/%s", (int)pid, file);
}

int procfs_read_stat(pid_t pid, pid_t tid, procfs_stat *st)
{
	char path[96], *text;
	task_path(path, sizeof(path), pid, tid, "stat");
	if (procfs_read(path, 8192, &text, NULL) != 0)
		return -1;
	/* The command name (field 2) may contain spaces and ')': the fields
	 * we want follow the last ')'. */
	char *p = strrchr(text, ')');
	char state;
	unsigned long flags;
	unsigned long long start;
	int ppid, pgrp, session, tty, tpgid;
	/* Fields 3-9, then 10-21 skipped (fault counts, times, priority,
	 * nice, threads, itrealvalue), then 22: starttime. */
	if (p == NULL ||
	    sscanf(p + 1, " %c %d %d %d %d %d %lu %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
		   &state, &ppid, &pgrp, &session, &tty, &tpgid, &flags, &start) != 8) {
		free(text);
		errno = EINVAL;
		return -1;
	}
	free(text);
	st->state = state;
	st->flags = flags;
	st->start_ticks = start;
	return 0;
}

int procfs_status_field(pid_t pid, pid_t tid, const char *key, int base,
			uint64_t *out)
{
	char path[96], *text;
	task_path(path, sizeof(path), pid, tid, "status");
	if (procfs_read(path, 65536, &text, NULL) != 0)
		return -1;
	size_t klen = strlen(key);
	int rc = -1;
	errno = ENOENT;
	for (char *line = text; line && *line; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, key, klen) == 0) {
			char *end;
			const char *v = line + klen;
			while (*v == ' ' || *v == '\t')
				v++;
			errno = 0;
			unsigned long long val = strtoull(v, &end, base);
			if (end == v || errno != 0 || (*end != '\0' && *end != ' ' && *end != '\t')) {
				errno = EINVAL;
			} else {
				*out = val;
				rc = 0;
			}
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	int saved = errno;
	free(text);
	errno = saved;
	return rc;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	size_t cap = 16, used = 0;
	pid_t *list = malloc(cap * sizeof(*list));
	if (list == NULL) {
		closedir(d);
		errno = ENOMEM;
		return -1;
	}
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || v <= 0 || v > INT32_MAX)
			continue;   /* "." and ".." */
		if (used == cap) {
			pid_t *grown = realloc(list, cap * 2 * sizeof(*grown));
			if (grown == NULL) {
				free(list);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			list = grown;
			cap *= 2;
		}
		list[used++] = (pid_t)v;
	}
	int saved = errno;
	closedir(d);
	if (saved != 0) {
		free(list);
		errno = saved;
		return -1;
	}
	qsort(list, used, sizeof(*list), cmp_pid);
	*tids = list;
	*n = used;
	return 0;
}

int procfs_parse_pids(const char *text, size_t len, pid_t *out, size_t max, size_t *n)
{
	size_t used = 0, i = 0;
	while (i < len) {
		if (text[i] == ' ' || text[i] == '\n') {
			i++;
			continue;
		}
		uint64_t v = 0;
		size_t start = i;
		while (i < len && text[i] >= '0' && text[i] <= '9' && v <= INT32_MAX)
			v = v * 10 + (uint64_t)(text[i++] - '0');
		if (i == start || v == 0 || v > INT32_MAX ||
		    (i < len && text[i] != ' ' && text[i] != '\n') || used == max) {
			errno = EINVAL;
			return -1;
		}
		out[used++] = (pid_t)v;
	}
	*n = used;
	return 0;
}

int procfs_children(pid_t pid, pid_t tid, pid_t *out, size_t max, size_t *n)
{
	char path[96], *text;
	size_t len;
	task_path(path, sizeof(path), pid, tid, "children");
	/* 11 bytes per PID at most: max PIDs fit in this bound. */
	if (procfs_read(path, max * 11 + 16, &text, &len) != 0)
		return -1;
	int rc = procfs_parse_pids(text, len, out, max, n);
	free(text);
	return rc;
}

int procfs_read_auxv(pid_t pid, uint64_t *at_entry, uint64_t *at_sysinfo_ehdr)
{
	char path[64], *buf;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	if (procfs_read(path, 65536, &buf, &len) != 0)
		return -1;
	mg_auxv_parse(buf, len, at_entry, at_sysinfo_ehdr);
	free(buf);
	return 0;
}

const char *procfs_permission_hint(void)
{
	char *text = NULL;
	int scope = -1;
	if (procfs_read("/proc/sys/kernel/yama/ptrace_scope", 64, &text, NULL) == 0) {
		scope = atoi(text);
		free(text);
	}
	switch (scope) {
	case 1:
		return "kernel.yama.ptrace_scope=1 only lets a parent process attach: "
		       "run as root (CAP_SYS_PTRACE) or set the sysctl to 0";
	case 2:
		return "kernel.yama.ptrace_scope=2 requires CAP_SYS_PTRACE: run as root";
	case 3:
		return "kernel.yama.ptrace_scope=3 disables ptrace on this system";
	default:
		return "run as the process owner or as root (CAP_SYS_PTRACE)";
	}
}

/*
 * The value of the first line of text[0, len) that starts with key, as
 * [*val, *val + *vlen) (the newline excluded); false if no line does.
 * Bounded by len: the text need not be NUL-terminated.
 */
static bool find_line(const char *text, size_t len, const char *key,
		      const char **val, size_t *vlen)
{
	size_t klen = strlen(key);
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) >= klen && memcmp(p, key, klen) == 0) {
			*val = p + klen;
			*vlen = (size_t)(eol - p) - klen;
			return true;
		}
		p = eol + (nl != NULL);
	}
	return false;
}

/* Whether the space/tab separated list s[0, n) has word as a whole token. */
static bool has_token(const char *s, size_t n, const char *word)
{
	size_t wlen = strlen(word), i = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		if (i - start == wlen && memcmp(s + start, word, wlen) == 0)
			return true;
	}
	return false;
}

int procfs_parse_shadow_stack(const char *text, size_t len)
{
	const char *val;
	size_t vlen;
	/* Kernels with user shadow stack support (6.6+, X86_USER_SHADOW_STACK)
	 * list the enabled features on this line; without it no thread can
	 * have a shadow stack.  The colon is part of the key so that
	 * "x86_Thread_features_locked:" (features the process may no longer
	 * change, enabled or not) is never read instead. */
	if (text == NULL || !find_line(text, len, "x86_Thread_features:", &val, &vlen))
		return 0;
	return has_token(val, vlen, "shstk");
}

int procfs_shadow_stack(pid_t pid)
{
	char path[96], *text;
	size_t len;
	task_path(path, sizeof(path), pid, 0, "status");
	if (procfs_read(path, 65536, &text, &len) != 0)
		return -1;
	int on = procfs_parse_shadow_stack(text, len);
	free(text);
	return on;
}
