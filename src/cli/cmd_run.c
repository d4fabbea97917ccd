/*
 * cmd_run.c - `migratable run`: start COMMAND so that its dispatchers stay
 * within the features every named target has.
 *
 *   migratable run (--target FILE|DIR | --catalog NAME)... [--dry-run] [--quiet]
 *                  [--lazy-binding] [--no-namespace] -- COMMAND [ARGS...]
 *
 * The plan is src/restrict/; this file parses, prints it, and execs, so
 * that PID, signals and exit status are COMMAND's own.
 *
 * Exit status (before exec): 0 after --dry-run, 2 bad arguments or input,
 * 126 COMMAND cannot be executed, 127 COMMAND not found (as a shell).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "features/profile.h"
#include "restrict/restrict.h"
#include "util/error.h"
#include "verdict/verdict.h"

extern char **environ;

struct run_opts {
	const char **targets;
	size_t ntargets;
	const char **catalogs;
	size_t ncatalogs;
	bool dry_run, quiet, lazy_binding, no_namespace;
	char **command;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: migratable run (--target FILE|DIR | --catalog NAME)... [--dry-run] [--quiet]\n"
		"                      [--lazy-binding] [--no-namespace] -- COMMAND [ARGS...]\n"
		"\n"
		"Start COMMAND so that the code its libraries and JIT engines select at\n"
		"start-up uses only CPU features every target has: it can then be\n"
		"migrated to any of them.  Prints what it sets and what it cannot\n"
		"restrict (stderr), then execs COMMAND (same PID, signals, exit status).\n"
		"Check the result with `migratable check PID --target ...`.\n"
		"\n"
		"  --target FILE|DIR  profile file (JSON or CRIU cpuinfo.img) or directory of them\n"
		"  --catalog NAME     built-in catalog:\n%s"
		"  --dry-run          print the plan as shell lines (eval-able) and exit\n"
		"  --quiet            print nothing before exec\n"
		"  --lazy-binding     do not set LD_BIND_NOW=1 (ld.so then keeps its lazy\n"
		"                     trampoline, restricted, but the scan sees every variant\n"
		"                     a still-lazy IFUNC slot can resolve to)\n"
		"  --no-namespace     no private mount namespace: libgcrypt is not restricted\n"
		"\n"
		"Exit status: COMMAND's; before exec: 0 after --dry-run, 2 bad arguments,\n"
		"126 COMMAND not executable, 127 COMMAND not found.\n", mg_catalog_help());
}

static int usage_error(const char *msg, const char *arg)
{
	return cli_usage_error("run", msg, arg);
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "target",       required_argument, NULL, 't' },
		{ "catalog",      required_argument, NULL, 'c' },
		{ "dry-run",      no_argument,       NULL, 'n' },
		{ "quiet",        no_argument,       NULL, 'q' },
		{ "lazy-binding", no_argument,       NULL, 'L' },
		{ "no-namespace", no_argument,       NULL, 'N' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	optind = 1;
	opterr = 0;
	/* "+": stop at the first non-option, COMMAND's options are its own. */
	while ((c = getopt_long(argc, argv, "+hq", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_push(&o->targets, &o->ntargets, optarg))
				return MG_ERR_INTERNAL;
			break;
		case 'c':
			if (cli_push(&o->catalogs, &o->ncatalogs, optarg))
				return MG_ERR_INTERNAL;
			break;
		case 'n': o->dry_run = true; break;
		case 'q': o->quiet = true; break;
		case 'L': o->lazy_binding = true; break;
		case 'N': o->no_namespace = true; break;
		case 'h': usage(stdout); return MG_OK;
		default:
			return usage_error("unknown or incomplete option", argv[optind - 1]);
		}
	}
	if (o->ntargets + o->ncatalogs == 0)
		return usage_error("name the targets (--target FILE|DIR or --catalog NAME)", NULL);
	if (optind >= argc)
		return usage_error("no COMMAND (give it after --)", NULL);
	o->command = argv + optind;
	return -1;
}

static int load_targets(const struct run_opts *o, mg_target_list *t, mg_error *err)
{
	for (size_t i = 0; i < o->ntargets; i++)
		if (mg_targets_load_path(o->targets[i], t, err) != 0)
			return -1;
	for (size_t i = 0; i < o->ncatalogs; i++)
		if (mg_catalog_load(o->catalogs[i], t, err) != 0)
			return -1;
	if (t->count == 0)
		return mg_fail(err, MG_ERR_USAGE, "the targets name no profile");
	return 0;
}

/* Files no namespace could show are not restricted: say so, and why. */
static int files_not_applied(mg_restriction *r, const char *why, mg_error *err)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!r->files[i].applied &&
		    mg_restrict_add_cannot(r, err, "%s: %s not shown to COMMAND (%s)",
					   r->files[i].dispatcher, r->files[i].path, why) != 0)
			return -1;
	return 0;
}

static int run(const struct run_opts *o, mg_error *err)
{
	mg_target_list targets = { 0 };
	mg_profile host;
	mg_restriction plan;
	mg_feature_set common;
	int rc = -1;

	mg_profile_init(&host);
	memset(&plan, 0, sizeof(plan));
	if (load_targets(o, &targets, err) != 0 || mg_host_profile(&host, "host", err) != 0)
		goto out;
	mg_restrict_common(&targets, &common);
	mg_restrict_input in = {
		.host = &host.features, .host_vendor = host.vendor, .allowed = &common,
		.argv = o->command, .envp = environ, .lazy_binding = o->lazy_binding,
	};
	if (mg_restrict_plan(&in, &plan, err) != 0)
		goto out;
	if (o->dry_run) {
		rc = mg_restriction_print(stdout, &plan, targets.count, true, err) == 0 ? MG_OK : -1;
		goto out;
	}
	if (plan.nfiles) {
		mg_error ns = { 0 };
		const char *why = o->no_namespace ? "--no-namespace" : NULL;
		if (why == NULL && mg_restrict_enter_namespace(&plan, &ns) != 0)
			why = ns.msg;
		if (why && files_not_applied(&plan, why, err) != 0)
			goto out;
	}
	if (!o->quiet && mg_restriction_print(stderr, &plan, targets.count, false, err) != 0)
		goto out;
	char **argv = mg_restrict_argv(&plan, o->command, err);
	char **envp = argv ? mg_restrict_environ(&plan, environ, err) : NULL;
	if (envp) {
		fflush(NULL);
		execvpe(argv[0], argv, envp);
		int saved = errno;
		fprintf(stderr, "migratable run: %s: %s\n", argv[0], strerror(saved));
		rc = saved == ENOENT ? 127 : 126;
	}
	free(argv);
	free(envp);
out:
	mg_restriction_free(&plan);
	mg_profile_free(&host);
	mg_target_list_free(&targets);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	mg_error err = { 0 };
	memset(&o, 0, sizeof(o));
	int rc = parse_args(argc, argv, &o);
	if (rc < 0) {
		rc = run(&o, &err);
		if (rc < 0)
			rc = cli_report(&err);
	}
	free(o.targets);
	free(o.catalogs);
	return rc;
}
