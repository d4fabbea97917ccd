/*
 * prices.c - spot prices from `aws ec2 describe-spot-price-history`
 * output (prices.h).
 */
#include "verdict/prices.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "util/file.h"
#include "util/json.h"

/* A region's 90-day history for every type runs to a few hundred MiB. */
#define MAX_PRICES_BYTES ((size_t)512 << 20)
#define MAX_JSON_DEPTH   8
#define MAX_FIELD        128

/* --- ISO-8601 ---------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

int mg_iso8601_ms(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return -1;
	const char *p = s + 19;
	if (*p == '.') {      /* fraction: milliseconds kept, more digits allowed */
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				frac = frac * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!digits(p + 1, 2, &oh))
			return -1;
		p += 3;
		if (*p == ':')
			p++;
		if (!digits(p, 2, &om))
			return -1;
		p += 2;
	} else {
		return -1;    /* no zone: local time of somewhere unknown */
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*ms = t * 1000 + frac;
	return 0;
}

/* --- reading ---------------------------------------------------------------------------- */

struct record {
	const char *type, *zone, *product, *price_text;
	double price;
	int64_t when_ms;
};

struct reader {
	const char *origin;
	mg_error *err;
};

static int bad(struct reader *r, size_t i, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(struct reader *r, size_t i, const char *field, const char *fmt, ...)
{
	char what[MG_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mg_fail(r->err, MG_ERR_USAGE, "%s: SpotPriceHistory[%zu].%s: %s", r->origin, i,
		       field, what);
}

static int get_field(struct reader *r, json_object *e, size_t i, const char *field,
		     const char **out)
{
	json_object *v;
	if (!json_object_object_get_ex(e, field, &v) || v == NULL)
		return bad(r, i, field, "missing");
	if (!json_object_is_type(v, json_type_string))
		return bad(r, i, field, "not a string");
	const char *s = json_object_get_string(v);
	int len = json_object_get_string_len(v);
	if (len <= 0 || len > MAX_FIELD)
		return bad(r, i, field, "empty or longer than %d bytes", MAX_FIELD);
	for (int k = 0; k < len; k++)
		if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
			return bad(r, i, field, "contains a control character");
	*out = s;
	return 0;
}

/* "0.031500": digits, optionally a point and digits; nothing else. */
static bool decimal(const char *s, double *out)
{
	size_t i = 0, intd = 0, fracd = 0;
	while (s[i] >= '0' && s[i] <= '9')
		i++, intd++;
	if (s[i] == '.')
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			fracd++;
	if (s[i] != '\0' || intd == 0 || intd > 9 || (s[intd] == '.' && fracd == 0) || fracd > 12)
		return false;
	*out = strtod(s, NULL);
	return isfinite(*out);
}

static int read_record(struct reader *r, json_object *e, size_t i, struct record *rec)
{
	const char *ts;
	if (!json_object_is_type(e, json_type_object))
		return mg_fail(r->err, MG_ERR_USAGE, "%s: SpotPriceHistory[%zu]: not an object",
			       r->origin, i);
	if (get_field(r, e, i, "InstanceType", &rec->type) ||
	    get_field(r, e, i, "AvailabilityZone", &rec->zone) ||
	    get_field(r, e, i, "ProductDescription", &rec->product) ||
	    get_field(r, e, i, "SpotPrice", &rec->price_text) ||
	    get_field(r, e, i, "Timestamp", &ts))
		return -1;
	if (!decimal(rec->price_text, &rec->price))
		return bad(r, i, "SpotPrice", "\"%s\" is not a decimal string (e.g. \"0.031500\")",
			   rec->price_text);
	if (mg_iso8601_ms(ts, &rec->when_ms) != 0)
		return bad(r, i, "Timestamp", "\"%s\" is not an ISO-8601 time with a zone", ts);
	return 0;
}

static bool is_linux(const char *product)
{
	return strcmp(product, "Linux/UNIX") == 0 || strcmp(product, "Linux/UNIX (Amazon VPC)") == 0;
}

/* The product whose prices count; NULL (error set) when the file mixes
 * several and none is Linux/UNIX. */
static const char *choose_product(struct reader *r, const struct record *recs, size_t n)
{
	const char *other = NULL;
	for (size_t i = 0; i < n; i++) {
		if (is_linux(recs[i].product))
			return "Linux/UNIX";
		if (other == NULL)
			other = recs[i].product;
		else if (strcmp(other, recs[i].product) != 0) {
			mg_fail(r->err, MG_ERR_USAGE, "%s: SpotPriceHistory: prices of several products "
				"(\"%s\", \"%s\") and none is Linux/UNIX: ask for one with "
				"--product-descriptions", r->origin, other, recs[i].product);
			return NULL;
		}
	}
	return other;
}

static bool product_matches(const char *chosen, const char *product)
{
	return strcmp(chosen, "Linux/UNIX") == 0 ? is_linux(product) : strcmp(chosen, product) == 0;
}

/* Newer wins; at the same time the lower price (a history repeats itself). */
static bool replaces(const struct record *a, const struct record *old)
{
	return a->when_ms > old->when_ms || (a->when_ms == old->when_ms && a->price < old->price);
}

/* Cheaper wins; at the same price the zone that sorts first. */
static bool cheaper(const struct record *a, const struct record *b)
{
	return a->price < b->price || (a->price == b->price && strcmp(a->zone, b->zone) < 0);
}

static int cmp_price_type(const void *a, const void *b)
{
	return strcmp(((const mg_spot_price *)a)->instance_type,
		      ((const mg_spot_price *)b)->instance_type);
}

/* Reduce to one price per type: newest per zone, then the cheapest zone. */
static int reduce(const struct record *recs, size_t n, const char *product, mg_price_table *out,
		  mg_error *err)
{
	GHashTable *newest = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTable *best = g_hash_table_new(g_str_hash, g_str_equal);
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (!product_matches(product, recs[i].product)) {
			out->ignored++;
			continue;
		}
		char *key = g_strdup_printf("%s\n%s", recs[i].type, recs[i].zone);
		const struct record *old = g_hash_table_lookup(newest, key);
		if (old == NULL || replaces(&recs[i], old))
			g_hash_table_replace(newest, key, (gpointer)&recs[i]);
		else
			g_free(key);
	}
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, newest);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct record *rec = v, *cur = g_hash_table_lookup(best, rec->type);
		if (cur == NULL || cheaper(rec, cur))
			g_hash_table_insert(best, (gpointer)rec->type, (gpointer)rec);
	}
	out->items = calloc(g_hash_table_size(best) + 1, sizeof(*out->items));
	if (out->items == NULL)
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	g_hash_table_iter_init(&it, best);
	while (rc == 0 && g_hash_table_iter_next(&it, &k, &v)) {
		const struct record *rec = v;
		mg_spot_price *p = &out->items[out->count++];
		p->instance_type = strdup(rec->type);
		p->zone = strdup(rec->zone);
		p->price_text = strdup(rec->price_text);
		p->price = rec->price;
		p->when_ms = rec->when_ms;
		if (!p->instance_type || !p->zone || !p->price_text)
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	if (rc == 0 && out->count)
		qsort(out->items, out->count, sizeof(*out->items), cmp_price_type);
	g_hash_table_destroy(best);
	g_hash_table_destroy(newest);
	return rc;
}

int mg_prices_parse(const char *text, size_t len, const char *origin,
		    mg_price_table *out, mg_error *err)
{
	struct reader r = { .origin = origin ? origin : "prices", .err = err };
	json_object *root, *hist;
	struct record *recs = NULL;
	size_t n = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (mg_json_parse(text, len, MAX_PRICES_BYTES, MAX_JSON_DEPTH, r.origin, MG_ERR_USAGE,
			  &root, err) != 0)
		return -1;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "SpotPriceHistory", &hist) || hist == NULL) {
		mg_fail(err, MG_ERR_USAGE, "%s: SpotPriceHistory: missing (expected the output of "
			"`aws ec2 describe-spot-price-history`)", r.origin);
		goto out;
	}
	if (!json_object_is_type(hist, json_type_array)) {
		mg_fail(err, MG_ERR_USAGE, "%s: SpotPriceHistory: not an array", r.origin);
		goto out;
	}
	n = json_object_array_length(hist);
	if (n == 0) {
		mg_fail(err, MG_ERR_USAGE, "%s: SpotPriceHistory: empty (no prices)", r.origin);
		goto out;
	}
	if ((recs = calloc(n, sizeof(*recs))) == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (read_record(&r, json_object_array_get_idx(hist, i), i, &recs[i]) != 0)
			goto out;
	const char *product = choose_product(&r, recs, n);
	if (product == NULL)
		goto out;
	out->records = n;
	if ((out->product = strdup(product)) == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	rc = reduce(recs, n, product, out, err);
out:
	free(recs);        /* its strings are root's */
	json_object_put(root);
	if (rc != 0)
		mg_price_table_free(out);
	return rc;
}

int mg_prices_load(const char *path, mg_price_table *out, mg_error *err)
{
	size_t len;
	memset(out, 0, sizeof(*out));
	char *text = mg_read_file(path, MAX_PRICES_BYTES, MG_ERR_USAGE, &len, err);
	if (text == NULL)
		return -1;
	int rc = mg_prices_parse(text, len, path, out, err);
	free(text);
	return rc;
}

const mg_spot_price *mg_prices_find(const mg_price_table *t, const char *instance_type)
{
	mg_spot_price key = { .instance_type = (char *)instance_type };
	if (t == NULL || t->count == 0 || instance_type == NULL)
		return NULL;
	return bsearch(&key, t->items, t->count, sizeof(*t->items), cmp_price_type);
}

void mg_price_table_free(mg_price_table *t)
{
	for (size_t i = 0; t->items && i < t->count; i++) {
		free(t->items[i].instance_type);
		free(t->items[i].zone);
		free(t->items[i].price_text);
	}
	free(t->items);
	free(t->product);
	memset(t, 0, sizeof(*t));
}
