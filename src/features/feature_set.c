/* feature_set.c - operations on mg_feature_set (see features.h). */
#include "features/features.h"

#include <stdlib.h>
#include <string.h>

#define WORDS (MG_FEATURE_SET_BITS / 64)

void mg_fset_union(mg_feature_set *dst, const mg_feature_set *src)
{
	for (size_t i = 0; i < WORDS; i++)
		dst->bits[i] |= src->bits[i];
}

void mg_fset_intersect(mg_feature_set *dst, const mg_feature_set *src)
{
	for (size_t i = 0; i < WORDS; i++)
		dst->bits[i] &= src->bits[i];
}

void mg_fset_subtract(mg_feature_set *dst, const mg_feature_set *src)
{
	for (size_t i = 0; i < WORDS; i++)
		dst->bits[i] &= ~src->bits[i];
}

bool mg_fset_is_empty(const mg_feature_set *s)
{
	for (size_t i = 0; i < WORDS; i++)
		if (s->bits[i])
			return false;
	return true;
}

bool mg_fset_is_subset(const mg_feature_set *sub, const mg_feature_set *super)
{
	for (size_t i = 0; i < WORDS; i++)
		if (sub->bits[i] & ~super->bits[i])
			return false;
	return true;
}

bool mg_fset_equal(const mg_feature_set *a, const mg_feature_set *b)
{
	for (size_t i = 0; i < WORDS; i++)
		if (a->bits[i] != b->bits[i])
			return false;
	return true;
}

size_t mg_fset_count(const mg_feature_set *s)
{
	size_t n = 0;

	for (size_t i = 0; i < WORDS; i++)
		n += (size_t)__builtin_popcountll(s->bits[i]);
	return n;
}

mg_feature_id mg_fset_next(const mg_feature_set *s, mg_feature_id after)
{
	int start;

	if (after >= MG_FEATURE_SET_BITS - 1)
		return MG_FEATURE_NONE;
	start = after < 0 ? 0 : after + 1;

	for (int w = start / 64; w < WORDS; w++) {
		uint64_t word = s->bits[w];

		if (w == start / 64)
			word &= ~0ull << (start % 64);
		if (word)
			return w * 64 + __builtin_ctzll(word);
	}
	return MG_FEATURE_NONE;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t mg_fset_names(const mg_feature_set *s, const char *names[MG_FEATURE_SET_BITS])
{
	size_t n = 0;

	/* Ids beyond the table (a corrupted set) have no name: skip them
	 * rather than print garbage. */
	for (mg_feature_id id = mg_fset_next(s, -1); id >= 0; id = mg_fset_next(s, id)) {
		const mg_feature_info *f = mg_feature_get(id);

		if (f != NULL && n < MG_FEATURE_SET_BITS)
			names[n++] = f->name;
	}
	qsort(names, n, sizeof(names[0]), cmp_name);
	return n;
}

char *mg_fset_to_string(const mg_feature_set *s)
{
	const char *names[MG_FEATURE_SET_BITS];
	size_t n = mg_fset_names(s, names), len = 1;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	char *out = malloc(len), *p = out;
	if (out == NULL)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (i > 0)
			*p++ = ',';
		memcpy(p, names[i], l);
		p += l;
		*p = '\0';
	}
	return out;
}
