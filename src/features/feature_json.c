/* feature_json.c - see feature_json.h. */
#include "features/feature_json.h"

#include "util/json.h"

json_object *mg_fset_to_json(const mg_feature_set *s)
{
	const char *names[MG_FEATURE_SET_BITS];
	size_t n = mg_fset_names(s, names);
	json_object *arr = json_object_new_array();
	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (mg_json_append(arr, json_object_new_string(names[i]))) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}
