/*
 * json.h - small helpers for building JSON output with json-c.
 *
 * json-c's constructors return NULL only when out of memory, and
 * json_object_object_add() fails only then too; these helpers fold both
 * into one -1 so that writers can chain them with ||.
 */
#ifndef MG_UTIL_JSON_H
#define MG_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/error.h"

/*
 * Add val under key in obj, taking ownership of val.  Returns -1 when val
 * is NULL (a constructor ran out of memory) or the add fails (val is then
 * released); 0 otherwise.
 */
int mg_json_add(json_object *obj, const char *key, json_object *val);

/* Append val to the array arr, with mg_json_add()'s ownership and result. */
int mg_json_append(json_object *arr, json_object *val);

/* A "0x..." string of v (addresses, CPUID registers); NULL when out of memory. */
json_object *mg_json_hex(uint64_t v);

/*
 * Parse untrusted JSON text: RFC 8259 only (json-c's strict mode: no
 * comments, single quotes or trailing commas), at most max bytes and
 * depth levels, no NUL byte, nothing but whitespace after the value.
 * Errors use `code` and start with origin (the file name).  On success
 * *out holds the value (json_object_put it); 0 or -1.
 */
int mg_json_parse(const char *text, size_t len, size_t max, int depth,
		  const char *origin, int code, json_object **out, mg_error *err);

#endif
