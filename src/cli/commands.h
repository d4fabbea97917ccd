/*
 * commands.h - the subcommands, one file each (src/cli/cmd_*.c).
 * Each returns the process exit status (enum mg_exit_code).
 */
#ifndef MG_CLI_COMMANDS_H
#define MG_CLI_COMMANDS_H

#include <sys/types.h>

int cmd_host(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
/* Hidden, intrusive test oracle (int3 on every function). */
int cmd_observe(int argc, char **argv);

/* Print "migratable: <msg>" on stderr for a failed library call and
 * return its exit code. */
struct mg_error;
int cli_report(const struct mg_error *err);

/* Parse a PID argument (1 .. 0x3fffffff, the kernel's limit); 0 or -1. */
int cli_parse_pid(const char *s, pid_t *pid);

#endif
