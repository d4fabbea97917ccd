/* feature_json.c - see feature_json.h. */
#include "features/feature_json.h"

#include "util/json.h"

json_object *mg_fset_to_json(const mg_feature_set *s)
{
	json_object *arr = json_object_new_array();
	if (arr == NULL)
		return NULL;
	for (mg_feature_id id = mg_fset_next(s, -1); id >= 0; id = mg_fset_next(s, id)) {
		if (mg_json_append(arr, json_object_new_string(mg_feature_get(id)->name))) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}
