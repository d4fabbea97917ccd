/*
 * migratable_guard.c - a CRIU plugin that refuses a restore whose
 * processes need CPU features this machine lacks.
 *
 *   criu restore -D DIR --lib /usr/lib/criu ...     (or installed there)
 *
 * CRIU loads every *.so of its plugin directory and calls the plugin's
 * init(stage).  At CR_PLUGIN_STAGE__RESTORE that happens in
 * cr_restore_tasks() right after the inventory is read and before any
 * task is forked (criu/cr-restore.c, CRIU 2.0 to 4.2): the earliest point
 * where the image directory is open (criu_get_image_dir()) and where a
 * failing init still fails the whole restore cleanly ("Failed in init(2)
 * of ...").  No hook is registered: the decision needs none.
 *
 * The requirements come from DIR/migratable-requirements.json when its
 * recorded image identity matches (scan --save, or this plugin at dump
 * time), else from a scan of the dump under the restore's root.  They
 * are compared with this CPU: incompatible fails init, one log line per
 * missing feature with an example instruction; compatible and unknown
 * are logged and the restore goes on.  MIGRATABLE_RESTORE_GUARD=off
 * skips the check (logged as an error-level message, so it is seen).
 *
 * At CR_PLUGIN_STAGE__DUMP, exit(stage, 0) runs after the images are
 * complete and while the dumped tasks still exist: the plugin scans the
 * dump (the source CPU is this one; mapped files under /proc/PID/root of
 * the dumped tree's root task) and saves the requirements, so that the
 * restore pays milliseconds.
 *
 * Environment: MIGRATABLE_RESTORE_GUARD=off (no check, no save),
 * MIGRATABLE_RESTORE_ROOT=DIR (where the restored processes' files are;
 * default: criu's --root, else /), MIGRATABLE_DUMP_SAVE=off (no save at
 * dump time).  docs/criu.md has the details.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criu/criu-plugin.h>

#include "features/profile.h"
#include "process/criu_files.h"
#include "verdict/restore_guard.h"
#include "verdict/verdict.h"

#define PLUGIN_NAME "migratable-guard"

/* CRIU's log levels (criu/include/log.h; stable since CRIU 1.x). */
#define LOG_MSG   0
#define LOG_ERROR 1
#define LOG_WARN  2
#define LOG_INFO  3

/* CRIU's logger, exported by the criu binary.  criu-log.h, which would
 * declare it, includes a header libcriu-dev does not ship, so it is
 * declared here; weak, so that a criu without it leaves us stderr. */
extern void print_on_level(unsigned int loglevel, const char *format, ...)
	__attribute__((weak, format(printf, 2, 3)));

static void say(unsigned level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(unsigned level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (print_on_level != NULL)
		print_on_level(level, "migratable: %s\n", line);
	else
		fprintf(stderr, "migratable: %s\n", line);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool env_off(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 ||
			     strcmp(v, "no") == 0 || strcmp(v, "false") == 0);
}

/*
 * The value of option `lng` (e.g. "--root") or `shrt` ("-r") on criu's
 * command line, copied into buf; false when absent.  CRIU keeps its
 * options in its private `opts`; its command line is public.  (Through
 * RPC, `criu swrk`, options do not appear there: the environment must
 * say.)
 */
static bool criu_option(const char *lng, const char *shrt, char *buf, size_t cap)
{
	static char cmdline[1 << 16];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmdline[n] = '\0';
	bool found = false;
	size_t l = strlen(lng);
	for (const char *a = cmdline; a < cmdline + n; a += strlen(a) + 1) {
		const char *next = a + strlen(a) + 1;
		const char *v = NULL;
		if (strncmp(a, lng, l) == 0 && a[l] == '=')
			v = a + l + 1;
		else if ((strcmp(a, lng) == 0 || strcmp(a, shrt) == 0) && next < cmdline + n)
			v = next;
		if (v != NULL) {
			snprintf(buf, cap, "%s", v);
			found = true;    /* the last one wins, as with getopt */
		}
	}
	return found;
}

/* The image directory CRIU opened, as a path for messages. */
static void image_dir_name(int dirfd, char *buf, size_t cap)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	ssize_t n = readlink(link, buf, cap - 1);
	if (n <= 0)
		snprintf(buf, cap, "%s", link);
	else
		buf[n] = '\0';
}

/* --- restore --------------------------------------------------------------------- */

/* Saved requirements when fresh, else a scan; NULL on failure (logged). */
static mg_scan_result *restore_requirements(int dirfd, const char *dir)
{
	mg_error err = { 0 };
	mg_scan_result *req = NULL;
	mg_guard_saved state;
	char why[512];
	double t0 = now_ms();
	if (mg_guard_load(dirfd, dir, &req, &state, why, sizeof(why), &err) != 0) {
		say(LOG_ERROR, "%s", err.msg);
		return NULL;
	}
	if (state == MG_GUARD_FRESH) {
		say(LOG_INFO, "requirements from %s/%s (%.1f ms)", dir, MG_GUARD_FILE, now_ms() - t0);
		return req;
	}
	if (state != MG_GUARD_NONE)
		say(LOG_WARN, "not using %s: %s; scanning the dump", MG_GUARD_FILE, why);
	char root[4096] = "/";
	const char *env = getenv("MIGRATABLE_RESTORE_ROOT");
	if (env != NULL && *env)
		snprintf(root, sizeof(root), "%s", env);
	else
		criu_option("--root", "-r", root, sizeof(root));
	mg_criu_files *src = NULL;
	bool source_known = false;
	if (mg_criu_files_open_dirfd(dirfd, dir, root, &src, &err) != 0 ||
	    mg_guard_scan(src, NULL, true, &req, &source_known, &err) != 0) {
		say(LOG_ERROR, "cannot scan the checkpoint: %s", err.msg);
		mg_criu_files_free(src);
		return NULL;
	}
	mg_criu_files_free(src);
	say(LOG_INFO, "scanned the dump under root %s in %.0f ms%s", root, now_ms() - t0,
	    source_known ? "" : " (no cpuinfo.img: every feature counted as usable on the source)");
	return req;
}

/* Compare with this CPU and log; -1 when the restore must not go on. */
static int judge(const mg_scan_result *req)
{
	mg_profile host;
	mg_error err = { 0 };
	if (mg_host_profile(&host, "this host", &err) != 0) {
		say(LOG_WARN, "cannot read this CPU (%s): verdict unknown, restore goes on", err.msg);
		return 0;
	}
	mg_verdict v;
	mg_verdict_scan(req, &host, &v);
	int rc = 0;
	size_t nreq = mg_fset_count(&req->required);
	if (v.kind == MG_VERDICT_INCOMPATIBLE) {
		say(LOG_ERROR, "restore refused: this CPU (%s) lacks %zu of the %zu CPU features the "
		    "checkpoint's processes need (MIGRATABLE_RESTORE_GUARD=off restores anyway, and "
		    "they may die with SIGILL):", host.brand ? host.brand : "?",
		    mg_fset_count(&v.missing), nreq);
		for (mg_feature_id f = mg_fset_next(&v.missing, -1); f >= 0;
		     f = mg_fset_next(&v.missing, f)) {
			char line[768];
			mg_guard_feature_line(req, f, line, sizeof(line));
			say(LOG_ERROR, "  missing %s", line);
		}
		rc = -1;
	} else if (v.kind == MG_VERDICT_UNKNOWN) {
		char *names = mg_fset_to_string(&v.unknown);
		say(LOG_WARN, "verdict unknown: this CPU cannot say whether it has %s; restore goes on",
		    names ? names : "?");
		free(names);
	} else {
		say(LOG_INFO, "compatible: this CPU has all %zu CPU features the checkpoint needs", nreq);
	}
	mg_profile_free(&host);
	return rc;
}

static int guard_restore(void)
{
	if (env_off("MIGRATABLE_RESTORE_GUARD")) {
		say(LOG_ERROR, "WARNING: MIGRATABLE_RESTORE_GUARD=off: the CPU check is SKIPPED; "
		    "processes that need a missing instruction will die with SIGILL");
		return 0;
	}
	int dirfd = criu_get_image_dir();
	if (dirfd < 0) {
		say(LOG_ERROR, "CRIU gave no image directory");
		return -1;
	}
	char dir[4096];
	image_dir_name(dirfd, dir, sizeof(dir));
	mg_scan_result *req = restore_requirements(dirfd, dir);
	if (req == NULL) {
		say(LOG_ERROR, "restore refused: the checkpoint's requirements cannot be known "
		    "(MIGRATABLE_RESTORE_GUARD=off restores anyway)");
		return -1;
	}
	/* What widened the answer (unreadable memory, zombies, ...). */
	for (size_t i = 0; i < req->nwarnings && i < 5; i++)
		say(LOG_INFO, "scan warning: %s", req->warnings[i]);
	if (req->nwarnings > 5)
		say(LOG_INFO, "... and %zu more scan warnings", req->nwarnings - 5);
	int rc = judge(req);
	mg_scan_result_free(req);
	return rc;
}

/* --- dump ------------------------------------------------------------------------ */

/* Save the requirements of the dump just written (errors only logged:
 * the dump itself succeeded). */
static void save_at_dump(void)
{
	if (env_off("MIGRATABLE_RESTORE_GUARD") || env_off("MIGRATABLE_DUMP_SAVE"))
		return;
	int dirfd = criu_get_image_dir();
	if (dirfd < 0)
		return;
	char dir[4096], pid[32], root[64] = "/";
	image_dir_name(dirfd, dir, sizeof(dir));
	/* The dumped tree still exists here (frozen): its root task's files
	 * are those its processes mapped, also inside a container. */
	if (criu_option("--tree", "-t", pid, sizeof(pid)) && strspn(pid, "0123456789") == strlen(pid))
		snprintf(root, sizeof(root), "/proc/%s/root", pid);
	double t0 = now_ms();
	mg_error err = { 0 };
	mg_profile host;
	mg_criu_files *src = NULL;
	mg_scan_result *req = NULL;
	bool known;
	if (mg_host_profile(&host, "this host", &err) != 0) {
		say(LOG_WARN, "requirements not saved: %s", err.msg);
		return;
	}
	if (mg_criu_files_open_dirfd(dirfd, dir, root, &src, &err) != 0 ||
	    mg_guard_scan(src, &host, true, &req, &known, &err) != 0 ||
	    mg_guard_save(dirfd, dir, req, "CRIU plugin at dump", &err) != 0)
		say(LOG_WARN, "requirements not saved: %s", err.msg);
	else
		say(LOG_INFO, "requirements (%zu CPU features) saved in %s/%s in %.0f ms",
		    mg_fset_count(&req->required), dir, MG_GUARD_FILE, now_ms() - t0);
	mg_scan_result_free(req);
	mg_criu_files_free(src);
	mg_profile_free(&host);
}

/* --- the plugin ------------------------------------------------------------------ */

static int guard_init(int stage)
{
	return stage == CR_PLUGIN_STAGE__RESTORE ? guard_restore() : 0;
}

static void guard_exit(int stage, int ret)
{
	if (stage == CR_PLUGIN_STAGE__DUMP && ret == 0)
		save_at_dump();
}

/*
 * Not CR_PLUGIN_REGISTER: it sets max_hooks to this header's hook count
 * (12 in CRIU 4.1), which older CRIU versions refuse ("Corrupted
 * plugin") when theirs is smaller.  With no hook, 0 is right everywhere.
 */
cr_plugin_desc_t CR_PLUGIN_DESC = {
	.name = PLUGIN_NAME,
	.init = guard_init,
	.exit = guard_exit,
	.version = CRIU_PLUGIN_VERSION,
	.max_hooks = 0,
};
