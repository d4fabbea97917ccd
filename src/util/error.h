/*
 * error.h - one error type for the whole library.
 *
 * Every fallible library function takes an `mg_error *` as its last
 * argument, fills it on failure and returns -1 (or NULL).  The code is
 * also the process exit status the CLI uses, so a caller can tell a
 * missing PID from a malformed profile without parsing messages.
 */
#ifndef MG_UTIL_ERROR_H
#define MG_UTIL_ERROR_H

#include <stdarg.h>

/* Exit codes; each kind of failure has its own. */
enum mg_exit_code {
	MG_OK              = 0,
	MG_INCOMPATIBLE    = 1,  /* check: some target cannot take the process */
	MG_ERR_USAGE       = 2,  /* bad arguments or input; check reports all bad input so */
	MG_ERR_NO_PROCESS  = 3,  /* no such PID */
	MG_ERR_PERMISSION  = 4,  /* ptrace or /proc access refused */
	MG_ERR_UNSUPPORTED = 5,  /* kernel thread, zombie, 32-bit or non-x86 process */
	MG_ERR_VANISHED    = 6,  /* the process exited or exec'd during the scan */
	MG_ERR_IO          = 7,  /* unreadable or corrupt file (ELF, CRIU image, ...) */
	MG_ERR_PROFILE     = 8,  /* malformed CPU profile (as the library reports it) */
	MG_ERR_INTERNAL    = 9,  /* out of memory, unexpected library failure */
	MG_ERR_INTERRUPTED = 130 /* SIGINT/SIGTERM during a scan */
};

#define MG_ERROR_MSG_MAX 512

typedef struct mg_error {
	int code;                      /* enum mg_exit_code */
	char msg[MG_ERROR_MSG_MAX];    /* one line, no trailing newline */
} mg_error;

/*
 * Record an error (if err is not NULL) and return -1, so callers can write
 * `return mg_fail(err, MG_ERR_IO, "%s: truncated", path);`.
 * A second call on an already-set error keeps the first (innermost) one.
 */
int mg_fail(mg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset to "no error". */
void mg_error_clear(mg_error *err);

/* Human name of an exit code ("no such process", ...). */
const char *mg_exit_code_name(int code);

#endif
