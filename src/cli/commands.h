/*
 * commands.h - the subcommands, one file each (src/cli/cmd_*.c).
 * Each returns the process exit status (enum mg_exit_code).
 */
#ifndef MG_CLI_COMMANDS_H
#define MG_CLI_COMMANDS_H

#include <stddef.h>
#include <sys/types.h>

int cmd_host(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* Hidden, intrusive test oracle (int3 on every function). */
int cmd_observe(int argc, char **argv);

/* Print "migratable: <msg>" on stderr for a failed library call and
 * return its exit code. */
struct mg_error;
int cli_report(const struct mg_error *err);

/* Add the MG_ASSUME_* bits of a comma-separated list of assumption names
 * ("no-dlsym,no-new-code") to *bits; -1 (after a message) on a name that
 * is none. */
int cli_parse_assume(const char *list, unsigned *bits);

/* The text of --help for --assume (both scan and check take it). */
#define CLI_ASSUME_HELP \
	"  --assume NAME[,NAME]     UNSOUND shortcuts, named in the output (docs/analysis.md):\n" \
	"                             no-dlsym     dlsym returns nothing not otherwise reachable\n" \
	"                             no-new-code  code generators (JIT engines) emit nothing\n" \
	"                                          beyond the code there now\n" \
	"                             glibc-contracts  callers keep glibc's contracts: pkey_get/\n" \
	"                                          pkey_set only on keys pkey_alloc gave, only the\n" \
	"                                          entries __libc_ifunc_impl_list marks usable\n" \
	"                             tzcnt-as-bsf  a tzcnt whose flags go unread, in a function\n" \
	"                                          built for the baseline, is never given 0 (it\n" \
	"                                          is GCC's rep bsf): it needs no BMI1\n"

/* "migratable CMD: MSG[: ARG]" and the --help hint on stderr; returns
 * MG_ERR_USAGE. */
int cli_usage_error(const char *cmd, const char *msg, const char *arg);

/* Append v to the array *arr of *n strings (not copied); -1 on OOM. */
int cli_push(const char ***arr, size_t *n, const char *v);

/* Parse a PID argument (1 .. 0x3fffffff, the kernel's limit); 0 or -1. */
int cli_parse_pid(const char *s, pid_t *pid);

#endif
