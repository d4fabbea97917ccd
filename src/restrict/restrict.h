/*
 * restrict.h - the reverse of check: start a program so that the code its
 * run-time dispatchers select stays within the features every named
 * target has.
 *
 * check asks "where can this process go?"; restrict answers "how must I
 * start it so that it can go to all of these?".  The process's own
 * dispatch decides at start-up (glibc's IFUNCs, OpenSSL's capability
 * vector, numpy's and OpenBLAS's kernels, ld.so's trampoline, JIT
 * engines' CPU view), and most dispatchers have a documented switch that
 * narrows what they pick.  A plan (mg_restrict_plan) is the list of those
 * switches for one command: environment variables, arguments inserted
 * after argv[0] (V8 reads its CPU flags only there), and files that must
 * read differently for the command (libgcrypt's hwf.deny, made visible
 * through a private mount namespace, restrict_ns.c).  What no switch
 * covers is listed too (`cannot`), so the user knows what the plan does
 * not promise.  docs/run.md documents each switch with the library
 * versions it was tested on.
 *
 * The proof that a plan worked is not here: it is `migratable check PID`
 * of the started process (the scan), and the int3 oracle in the tests.
 */
#ifndef MG_RESTRICT_RESTRICT_H
#define MG_RESTRICT_RESTRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "features/features.h"
#include "util/error.h"
#include "verdict/verdict.h"

/* One environment variable of a plan: its final value (an existing value
 * of the variable is already merged in). */
typedef struct mg_restrict_env {
	char *name;
	char *value;
	char *entry;               /* "NAME=value", what the environment holds */
	const char *dispatcher;    /* "glibc 2.36: string functions, ..." (static) */
} mg_restrict_env;

/* A file the command must see with other contents (private mount namespace). */
typedef struct mg_restrict_file {
	char *path;                /* e.g. /etc/gcrypt/hwf.deny */
	char *text;                /* what it must contain (existing lines kept) */
	const char *dispatcher;
	bool applied;              /* set by mg_restrict_enter_namespace() */
} mg_restrict_file;

typedef struct mg_restriction {
	mg_feature_set host;       /* usable on this machine */
	mg_feature_set allowed;    /* on every target (and usable here) */
	mg_feature_set removed;    /* host minus allowed: what the switches turn off */
	mg_restrict_env *env;
	size_t nenv;
	char **args;               /* inserted after argv[0] (V8's flags for node) */
	size_t nargs;
	const char *args_dispatcher;
	mg_restrict_file *files;
	size_t nfiles;
	char **cannot;             /* one line each: what stays unrestricted, and why */
	size_t ncannot;
} mg_restriction;

/* What a plan is made for. */
typedef struct mg_restrict_input {
	const mg_feature_set *host;     /* this machine's usable features */
	const char *host_vendor;        /* "GenuineIntel", "AuthenticAMD" or NULL */
	const mg_feature_set *allowed;  /* mg_restrict_common() of the targets */
	char *const *argv;              /* COMMAND ARGS..., NULL-terminated */
	char *const *envp;              /* the environment COMMAND would get */
	bool lazy_binding;              /* true: do not set LD_BIND_NOW=1 */
} mg_restrict_input;

/*
 * The features every target has: in each target's `features`, never in
 * its `unknown` (a feature a target cannot decide is treated as absent:
 * restricting it can only cost speed).  An empty list gives the empty set.
 */
void mg_restrict_common(const mg_target_list *targets, mg_feature_set *out);

/*
 * Plan the switches for in->argv: every dispatcher's switch that keeps
 * it within host ∩ allowed, merged with what in->envp already sets.
 * *out is initialised here (mg_restriction_free it, also on failure).
 * Fails only on allocation failure (MG_ERR_INTERNAL).
 */
int mg_restrict_plan(const mg_restrict_input *in, mg_restriction *out, mg_error *err);

void mg_restriction_free(mg_restriction *r);

/*
 * The environment for COMMAND: envp with each plan variable set (replaced
 * where envp has it).  A newly allocated NULL-terminated array whose
 * strings are envp's or the plan's (free() the array only, while both
 * live); NULL on allocation failure.
 */
char **mg_restrict_environ(const mg_restriction *r, char *const envp[], mg_error *err);

/* argv with the plan's arguments inserted after argv[0]: newly allocated
 * array of borrowed strings (free() the array only); NULL on failure. */
char **mg_restrict_argv(const mg_restriction *r, char *const argv[], mg_error *err);

/*
 * Make every plan file read as planned for this process and what it
 * executes: a private mount namespace (unshare(CLONE_NEWNS); with user
 * namespaces when not root) in which each path shows its planned text
 * (a bind-mounted file, or an overlay on the nearest existing directory
 * when the path does not exist).  Nothing outside this process changes.
 * On success each file's `applied` is set; on failure (no privilege, no
 * user namespaces, no overlayfs) the error says why, the files stay
 * unapplied and the caller reports them as not restricted.
 */
int mg_restrict_enter_namespace(mg_restriction *r, mg_error *err);

/*
 * Print the plan: with `shell` true as lines a POSIX shell can eval
 * (`export NAME='value'`, everything else as `#` comments; --dry-run),
 * else as a short report (what run prints on stderr before exec).
 * Returns -1 (MG_ERR_IO) when the stream fails.
 */
int mg_restriction_print(FILE *out, const mg_restriction *r, size_t ntargets, bool shell,
			 mg_error *err);

/* --- switches (one file per family, restrict_*.c) --------------------------------- */

/* Shared by the switch modules: add to the plan (-1 on allocation failure). */
int mg_restrict_add_env(mg_restriction *r, const char *name, const char *value,
			const char *dispatcher, mg_error *err);
int mg_restrict_add_cannot(mg_restriction *r, mg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int mg_restrict_add_arg(mg_restriction *r, const char *arg, mg_error *err);
int mg_restrict_add_file(mg_restriction *r, const char *path, const char *text,
			 const char *dispatcher, mg_error *err);

/* Value of NAME in envp, or NULL. */
const char *mg_restrict_getenv(char *const envp[], const char *name);

/* Is f (a /proc/cpuinfo name) removed by the plan? */
bool mg_restrict_removed(const mg_restriction *r, const char *f);

/* Each family's planner: read r->host/allowed/removed, add to r. */
int mg_restrict_glibc(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
int mg_restrict_openssl(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
int mg_restrict_libgcrypt(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
int mg_restrict_numpy(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
int mg_restrict_openblas(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
int mg_restrict_hotspot(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
int mg_restrict_v8(const mg_restrict_input *in, mg_restriction *r, mg_error *err);
/* Dispatchers of Debian 12 programs that have no switch. */
int mg_restrict_no_switch(const mg_restrict_input *in, mg_restriction *r, mg_error *err);

#endif
