/* testutil.c - see testutil.h. */
#include "support/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tu_shared_data(void)
{
	static char path[4096];
	const char *env = getenv("MIGRATABLE_SHARED");
	struct stat st;

	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		snprintf(path, sizeof(path), "../shared/data");
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return path;
}

const char *tu_workload_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("MIGRATABLE_WORKLOADS");
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "build/workloads", name);
	return path;
}

const char *tu_migratable_bin(void)
{
	const char *bin = getenv("MIGRATABLE_BIN");
	return bin && *bin ? bin : "build/migratable";
}

const char *tu_corpus_dir(void)
{
	static char dir[4096];
	char stamp[4096 + 16];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", tu_workload_path("corpus"));
	snprintf(stamp, sizeof(stamp), "%s/%s", dir, TU_CORPUS_STAMP);
	if (stat(stamp, &st) != 0) {
		fprintf(stderr, "the corpus is not built (%s: %s); "
			"`make BUILD=DIR workloads` builds it\n", stamp, strerror(errno));
		return NULL;
	}
	return dir;
}

void tu_migratable_argv(char *argv[TU_ARGV_MAX], const char *first, va_list ap)
{
	size_t n = 0;
	const char *a;
	argv[n++] = (char *)tu_migratable_bin();
	if (first != NULL)
		argv[n++] = (char *)first;
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n == TU_ARGV_MAX - 1)
			fail_msg("more than %d arguments for migratable", TU_ARGV_MAX - 2);
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
}

int tu_migratable_v(char **out, char **err, const char *first, va_list ap)
{
	char *argv[TU_ARGV_MAX];
	tu_migratable_argv(argv, first, ap);
	return tu_run(argv, out, err);
}

int tu_migratable(char **out, char **err, ...)
{
	va_list ap;
	va_start(ap, err);
	int rc = tu_migratable_v(out, err, NULL, ap);
	va_end(ap);
	return rc;
}

double tu_now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fail_msg("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

json_object *tu_load_json(const char *path)
{
	json_object *j = json_object_from_file(path);
	if (j == NULL)
		fail_msg("%s: not JSON (%s)", path, json_util_get_last_err());
	return j;
}

json_object *tu_json_get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("JSON has no \"%s\"", key);
	return v;
}

bool tu_json_lists(json_object *o, const char *key, const char *needle)
{
	json_object *a = tu_json_get(o, key);
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strstr(json_object_get_string(json_object_array_get_idx(a, i)), needle))
			return true;
	return false;
}

/* scan PID --json EXTRA...: its exit status; *out and *err as
 * tu_migratable gives them. */
static int scan_json(pid_t pid, const char *const *extra, char **out, char **err)
{
	const char *e[5] = { NULL };
	for (size_t i = 0; extra && i < 4 && extra[i]; i++)
		e[i] = extra[i];
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	return tu_migratable(out, err, "scan", pidbuf, "--json", e[0], e[1], e[2], e[3], NULL);
}

/* The scan's JSON (rc 0), or fail the test. */
static json_object *scan_result(const char *what, int rc, char *out, char *err)
{
	if (rc != 0)
		fail_msg("scan of %s exited %d: %s", what, rc, err ? err : "");
	json_object *root = json_tokener_parse(out);
	free(out);
	free(err);
	assert_non_null(root);
	return root;
}

json_object *tu_scan_pid(pid_t pid, const char *const *extra)
{
	char *out = NULL, *err = NULL;
	int rc = scan_json(pid, extra, &out, &err);
	return scan_result("the process", rc, out, err);
}

json_object *tu_scan_python(const char *script, const char *catalog, const char *const *extra)
{
	const char *bin = getenv("MIGRATABLE_BIN");
	char *plain[] = { "/usr/bin/python3", "-c", (char *)script, NULL };
	char *run[] = { (char *)(bin ? bin : "build/migratable"), "run", "--quiet", "--catalog",
			(char *)catalog, "--", "/usr/bin/python3", "-c", (char *)script, NULL };
	pid_t pid = tu_spawn_ready(catalog ? run : plain, 20000);
	assert_true(pid > 0);
	char *out = NULL, *err = NULL;
	int rc = scan_json(pid, extra, &out, &err);
	tu_stop(pid);
	return scan_result("python3", rc, out, err);
}

bool tu_scan_requires(json_object *scan, const char *f)
{
	json_object *a = tu_json_get(scan, "required_features");
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), f) == 0)
			return true;
	return false;
}

pid_t tu_spawn_ready(char *const argv[], int timeout_ms)
{
	return tu_spawn_ready_in(argv, NULL, NULL, timeout_ms);
}

pid_t tu_spawn_ready_in(char *const argv[], const char *dir, const char *env_extra,
			int timeout_ms)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		if ((dir && chdir(dir) != 0) || (env_extra && putenv((char *)env_extra) != 0))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	char buf[4096];
	size_t used = 0;
	double deadline = tu_now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(deadline - tu_now_ms());
		if (left <= 0)
			break;
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		int r = poll(&p, 1, left);
		if (r <= 0)
			continue;
		ssize_t n = read(fds[0], buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, "ready")) {
			/* fds[0] stays open (one fd per workload) so that a
			 * workload printing more never gets SIGPIPE. */
			return pid;
		}
		if (used >= sizeof(buf) - 1)
			used = 0;
	}
	close(fds[0]);
	tu_stop(pid);
	return -1;
}

void tu_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

char tu_proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

int tu_tracer_pid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int tracer = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	fclose(f);
	return tracer;
}

static char *drain_len(int fd, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (out_len)
		*out_len = len;
	return buf;
}

static char *drain(int fd)
{
	return drain_len(fd, NULL);
}

int tu_run(char *const argv[], char **out, char **err_out)
{
	char tmpl_out[] = "/tmp/mg-test-out-XXXXXX";
	char tmpl_err[] = "/tmp/mg-test-err-XXXXXX";
	int fo = mkstemp(tmpl_out), fe = mkstemp(tmpl_err);
	if (fo < 0 || fe < 0)
		return -1;
	unlink(tmpl_out);
	unlink(tmpl_err);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fo, STDOUT_FILENO);
		dup2(fe, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	lseek(fo, 0, SEEK_SET);
	lseek(fe, 0, SEEK_SET);
	if (out)
		*out = drain(fo);
	if (err_out)
		*err_out = drain(fe);
	close(fo);
	close(fe);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

char *tu_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	char *buf = drain_len(fd, len);
	close(fd);
	return buf;
}

bool tu_cpu_has(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *tok = strtok(strchr(line, ':') + 1, " \t\n"); tok;
		     tok = strtok(NULL, " \t\n"))
			if (strcmp(tok, flag) == 0)
				found = true;
		break;
	}
	free(line);
	fclose(f);
	return found;
}

mg_feature_id tu_feature(const char *name)
{
	mg_feature_id id = mg_feature_by_name(name);
	if (id < 0)
		fail_msg("feature %s not in the table", name);
	return id;
}

void tu_temp_file(char *tmpl)
{
	int fd = mkstemp(tmpl);
	if (fd < 0)
		fail_msg("mkstemp %s: %s", tmpl, strerror(errno));
	close(fd);
}

void tu_skip_note(tu_skip_class why, const char *fmt, ...)
{
	static const char *const names[] = { "no-shared", "no-privilege", "host" };
	va_list ap;
	printf("tu-skip: %s: ", names[why]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
