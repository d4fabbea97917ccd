/* json.c - see json.h. */
#include "util/json.h"

#include <inttypes.h>
#include <stdio.h>

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
