/*
 * feature_json.h - feature sets in JSON output.
 */
#ifndef MG_FEATURES_FEATURE_JSON_H
#define MG_FEATURES_FEATURE_JSON_H

#include <json-c/json.h>

#include "features/features.h"

/* A JSON array of the set's feature names, in table order; NULL when out
 * of memory.  (Profiles sort their lists by name instead: profile.c.) */
json_object *mg_fset_to_json(const mg_feature_set *s);

#endif
