/*
 * main.c - `migratable <command> ...`: dispatch to src/cli/cmd_*.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/scan.h"
#include "cli/commands.h"
#include "util/error.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "host",  cmd_host,  "describe this machine's usable CPU features (a profile)" },
	{ "scan",  cmd_scan,  "find the CPU features a live process or CRIU dump can still need" },
	{ "check", cmd_check, "decide to which targets a process can migrate" },
	{ "catalog", cmd_catalog, "list, show and build target catalogs (aws, libvirt, your fleet)" },
	{ "run",   cmd_run,   "start a program so that it stays migratable to the targets" },
	{ "observe", cmd_observe, NULL },   /* hidden test oracle: intrusive */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: migratable <command> [options]\n"
		"\n"
		"To which hosts can this running process move without crashing\n"
		"on a missing CPU instruction?\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'migratable <command> --help' describes each command.\n");
}

int cli_report(const struct mg_error *err)
{
	fprintf(stderr, "migratable: %s\n",
		err->msg[0] ? err->msg : mg_exit_code_name(err->code));
	return err->code == MG_OK ? MG_ERR_INTERNAL : err->code;
}

int cli_parse_assume(const char *list, unsigned *bits)
{
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : -1;
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned bit = mg_assumption_by_name(tok);
		if (bit == 0) {
			fprintf(stderr, "migratable: --assume: unknown assumption '%s' (", tok);
			for (unsigned b = 1, n = 0; mg_assumption_name(b) != NULL; b <<= 1, n++)
				fprintf(stderr, "%s%s", n ? ", " : "", mg_assumption_name(b));
			fprintf(stderr, ")\n");
			rc = -1;
		}
		*bits |= bit;
	}
	free(copy);
	return rc;
}

int cli_usage_error(const char *cmd, const char *msg, const char *arg)
{
	fprintf(stderr, "migratable %s: %s%s%s\n", cmd, msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr, "try 'migratable %s --help'\n", cmd);
	return MG_ERR_USAGE;
}

int cli_push(const char ***arr, size_t *n, const char *v)
{
	const char **a = realloc(*arr, (*n + 1) * sizeof(*a));
	if (a == NULL)
		return -1;
	a[(*n)++] = v;
	*arr = a;
	return 0;
}

int cli_parse_pid(const char *s, pid_t *pid)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x3fffffff)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/*
 * Output that never reached its reader (a full disk, a closed pipe) must
 * not look like success: every command's stdout is checked once, here.
 * A failure the command already reported keeps its own code.
 */
static int finish_output(int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	fprintf(stderr, "migratable: writing output: %s\n", strerror(errno));
	return rc == MG_OK || rc == MG_INCOMPATIBLE ? MG_ERR_IO : rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return MG_ERR_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return MG_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		return finish_output(commands[i].run(argc - 1, argv + 1));
	}
	fprintf(stderr, "migratable: unknown command '%s' (try 'migratable --help')\n",
		argv[1]);
	return MG_ERR_USAGE;
}
