/* error.c - see error.h. */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static __attribute__((format(printf, 3, 0)))
void set_error(mg_error *err, int code, const char *fmt, va_list ap)
{
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		strcpy(err->msg, "error message could not be formatted");
	/* Keep messages on one line: the CLI prints exactly one line. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	err->code = code;
}

int mg_fail(mg_error *err, int code, const char *fmt, ...)
{
	if (err == NULL || err->code != MG_OK)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	set_error(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

void mg_error_clear(mg_error *err)
{
	err->code = MG_OK;
	err->msg[0] = '\0';
}

const char *mg_exit_code_name(int code)
{
	switch (code) {
	case MG_OK:              return "ok";
	case MG_INCOMPATIBLE:    return "incompatible target";
	case MG_ERR_USAGE:       return "bad input";
	case MG_ERR_NO_PROCESS:  return "no such process";
	case MG_ERR_PERMISSION:  return "permission denied";
	case MG_ERR_UNSUPPORTED: return "unsupported process";
	case MG_ERR_VANISHED:    return "process vanished";
	case MG_ERR_IO:          return "unreadable or corrupt file";
	case MG_ERR_PROFILE:     return "malformed profile";
	case MG_ERR_INTERNAL:    return "internal error";
	case MG_ERR_INTERRUPTED: return "interrupted";
	default:                 return "unknown error";
	}
}
