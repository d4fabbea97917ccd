/* json.c - see json.h. */
#include "util/json.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int mg_json_add(json_object *obj, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

int mg_json_append(json_object *arr, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_array_add(arr, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

json_object *mg_json_hex(uint64_t v)
{
	char buf[24];     /* "0x" + 16 digits + NUL */
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

/* Is text[0, end) a whole JSON value?  Strict mode reports data after the
 * value as an unexpected character; this tells that case apart. */
static bool ends_before(const char *text, size_t end, int depth)
{
	json_tokener *tok = json_tokener_new_ex(depth);
	if (tok == NULL)
		return false;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *obj = json_tokener_parse_ex(tok, text, (int)end);
	bool whole = json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(obj);
	json_tokener_free(tok);
	return whole;
}

int mg_json_parse(const char *text, size_t len, size_t max, int depth,
		  const char *origin, int code, json_object **out, mg_error *err)
{
	*out = NULL;
	if (len == 0)
		return mg_fail(err, code, "%s: is empty (no JSON value)", origin);
	if (len > max)
		return mg_fail(err, code, "%s: is larger than %zu bytes", origin, max);
	if (len > INT32_MAX)      /* json_tokener_parse_ex takes an int */
		return mg_fail(err, code, "%s: is larger than %d bytes", origin, INT32_MAX);
	if (memchr(text, '\0', len) != NULL)
		return mg_fail(err, code, "%s: contains a NUL byte (not a JSON text)", origin);
	json_tokener *tok = json_tokener_new_ex(depth);
	if (tok == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "%s: out of memory", origin);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	size_t end = json_tokener_get_parse_end(tok);
	enum json_tokener_error e = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (obj == NULL) {
		if (e == json_tokener_success)     /* the text is `null` */
			return mg_fail(err, code, "%s: the JSON value is null", origin);
		if (e == json_tokener_continue)
			return mg_fail(err, code, "%s: truncated JSON (unexpected end of input)",
				       origin);
		return mg_fail(err, code, "%s: invalid JSON at byte %zu: %s", origin, end,
			       ends_before(text, end, depth) ? "trailing data after the JSON value"
							     : json_tokener_error_desc(e));
	}
	while (end < len && (text[end] == ' ' || text[end] == '\t' ||
			     text[end] == '\n' || text[end] == '\r'))
		end++;
	if (end < len) {
		json_object_put(obj);
		return mg_fail(err, code, "%s: unexpected data after the JSON value at byte %zu",
			       origin, end);
	}
	*out = obj;
	return 0;
}
