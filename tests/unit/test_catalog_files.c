/*
 * test_catalog_files.c - catalog files (format, errors, round trip, the
 * shipped aws-us-west-2 against the reference profiles), groups of
 * identical targets and their names, spot prices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "verdict/catalog_files.h"
#include "verdict/groups.h"
#include "verdict/prices.h"
#include "verdict/verdict.h"

#define D "tests/data/"
#define F(name) tu_feature(name)

static const mg_profile *find(const mg_target_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	fail_msg("target %s not found", name);
	return NULL;
}

static void test_read_small(void **state)
{
	(void)state;
	mg_catalog_meta m;
	mg_target_list l = { 0 };
	mg_error err = { 0 };
	assert_int_equal(mg_catalog_read(D "catalogs/small.json", &m, &l, &err), 0);
	assert_string_equal(m.name, "small");
	assert_int_equal(m.naliases, 1);
	assert_string_equal(m.aliases[0], "tiny");
	assert_string_equal(m.date, "2026-01");
	assert_int_equal(m.ntargets, 5);
	assert_int_equal(m.ngroups, 2);
	assert_int_equal(l.count, 5);
	/* sorted by name, whatever the group order */
	assert_string_equal(l.items[0].name, "a1.large");
	assert_string_equal(l.items[4].name, "z9.metal");
	const mg_profile *b = find(&l, "b1.xlarge"), *z = find(&l, "z9.metal");
	assert_true(mg_fset_has(&b->features, F("avx2")));
	assert_true(mg_fset_has(&b->unknown, F("avx512f")));
	assert_false(mg_fset_has(&b->features, F("avx512f")));
	assert_true(mg_fset_has(&z->features, F("avx512f")));
	assert_true(mg_fset_is_empty(&z->unknown));
	/* a name from a newer build: ignored and counted, as in profiles */
	assert_int_equal(z->ignored_names, 1);
	assert_string_equal(z->first_ignored, "avx42_future_extension");
	assert_int_equal(b->ignored_names, 0);
	assert_string_equal(b->origin, "catalog:small");
	mg_target_list_free(&l);
	mg_catalog_meta_free(&m);
}

/* Bad catalogs: MG_ERR_USAGE, one line naming the origin and the field. */
static void test_malformed(void **state)
{
	(void)state;
#define HEAD "{\"schema\": \"migratable/catalog-v1\", \"name\": \"x\", "
	static const struct { const char *text, *needle; } bad[] = {
		{ "{\"name\": \"x\", \"groups\": []}", "schema: missing" },
		{ "{\"schema\": \"migratable/catalog-v9\", \"name\": \"x\"}", "catalog-v9" },
		{ "{\"schema\": \"migratable/catalog-v1\", \"groups\": []}", "name: missing" },
		{ HEAD "\"groups\": []}", "groups: empty" },
		{ "{\"schema\": \"migratable/catalog-v1\", \"name\": \"a b\", \"groups\": []}", "not a catalog name" },
		{ HEAD "\"groups\": {}}", "groups: not an array" },
		{ HEAD "\"groups\": [{\"members\": [\"a\"]}]}", "groups[0].features: missing" },
		{ HEAD "\"groups\": [{\"features\": [1], \"members\": [\"a\"]}]}", "groups[0].features[0]: not a string" },
		{ HEAD "\"groups\": [{\"features\": [], \"members\": []}]}", "groups[0].members: empty" },
		{ HEAD "\"groups\": [{\"features\": [], \"members\": [\"a\"]}, {\"features\": [\"avx\"], "
		  "\"members\": [\"b\", \"a\"]}]}", "groups[1].members[1]: \"a\" is listed twice" },
		{ HEAD "\"groups\": [{\"features\": [], \"members\": [\"\"]}]}", "groups[0].members[0]: empty" },
		{ HEAD "\"groups\": [{\"features\": [], \"unknown\": \"avx\", \"members\": [\"a\"]}]}",
		  "groups[0].unknown: not an array" },
		{ HEAD "\"targets\": 3, \"groups\": [{\"features\": [], \"members\": [\"a\"]}]}",
		  "targets: not the number of members (1)" },
		{ HEAD "\"aliases\": [\"ok\", \"../x\"], \"groups\": []}", "aliases[1]" },
		{ HEAD "\"groups\": [", "truncated JSON" },
		{ "[]", "not a JSON object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mg_catalog_meta m;
		mg_target_list l = { 0 };
		mg_error err = { 0 };
		assert_int_equal(mg_catalog_parse(bad[i].text, strlen(bad[i].text), "cat.json", &m, &l,
						  &err), -1);
		assert_int_equal(err.code, MG_ERR_USAGE);
		if (strstr(err.msg, bad[i].needle) == NULL || strncmp(err.msg, "cat.json: ", 10) != 0)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].needle);
		assert_null(strchr(err.msg, '\n'));
		assert_int_equal(l.count, 0);
	}
}

/* Written and read back: the same targets, grouped, names sorted. */
static void test_round_trip(void **state)
{
	(void)state;
	mg_catalog_meta m, back;
	mg_target_list l = { 0 }, l2 = { 0 };
	mg_error err = { 0 };
	assert_int_equal(mg_catalog_read(D "catalogs/small.json", &m, &l, &err), 0);
	char *text = mg_catalog_to_json(&m, &l, &err);
	assert_non_null(text);
	assert_int_equal(mg_catalog_parse(text, strlen(text), "again", &back, &l2, &err), 0);
	assert_int_equal(back.ngroups, 2);
	assert_int_equal(l2.count, l.count);
	for (size_t i = 0; i < l.count; i++) {
		assert_string_equal(l.items[i].name, l2.items[i].name);
		assert_true(mg_fset_equal(&l.items[i].features, &l2.items[i].features));
		assert_true(mg_fset_equal(&l.items[i].unknown, &l2.items[i].unknown));
	}
	assert_string_equal(back.aliases[0], "tiny");
	assert_string_equal(back.provenance, m.provenance);
	free(text);

	/* two targets of one name cannot both be in a catalog */
	free(l.items[1].name);
	l.items[1].name = strdup(l.items[0].name);
	assert_null(mg_catalog_to_json(&m, &l, &err));
	assert_int_equal(err.code, MG_ERR_USAGE);
	assert_non_null(strstr(err.msg, "two targets are named"));
	mg_target_list_free(&l);
	mg_target_list_free(&l2);
	mg_catalog_meta_free(&m);
	mg_catalog_meta_free(&back);
}

/* A minimal profile target with these features. */
static void add_target(mg_target_list *l, const char *name, const char *const *features)
{
	mg_profile p;
	mg_error err = { 0 };
	mg_profile_init(&p);
	p.name = strdup(name);
	for (size_t i = 0; features[i]; i++)
		mg_fset_add(&p.features, F(features[i]));
	assert_int_equal(mg_target_list_take(l, &p, &err), 0);
}

static void test_groups_and_labels(void **state)
{
	(void)state;
	static const char *const amd[] = { "lm", "avx2", NULL }, *const intel[] = { "lm", "avx512f", NULL };
	static const char *const odd[] = { "lm", NULL };
	mg_target_list l = { 0 };
	mg_group_list g;
	mg_error err = { 0 };
	/* c6a and m6a wholly AMD; c5 split; "solo" has no family */
	const char *amd_names[] = { "c6a.large", "c6a.xlarge", "m6a.large", "m6a.2xlarge",
				    "c5.xlarge", "c5.large" };
	for (size_t i = 0; i < 6; i++)
		add_target(&l, amd_names[i], amd);
	add_target(&l, "c5.2xlarge", intel);
	add_target(&l, "c5.metal", intel);
	add_target(&l, "solo", odd);
	assert_int_equal(mg_group_targets(&l, NULL, &g, &err), 0);
	assert_int_equal(g.count, 3);
	assert_int_equal(g.items[0].count, 6);
	char *a = mg_group_label(&l, &g.items[0], 60);
	/* whole families as fam.*, part of one in size order */
	assert_string_equal(a, "c6a.* m6a.* c5.{large,xlarge} (6 types)");
	char *b = mg_group_label(&l, &g.items[1], 60);
	assert_string_equal(b, "c5.{2xlarge,metal} (2 types)");
	char *c = mg_group_label(&l, &g.items[2], 60);
	assert_string_equal(c, "solo");
	/* too long for the width: short forms, then "+N more", never wider */
	char *s = mg_group_label(&l, &g.items[0], 30);
	printf("label at 30: %s\n", s);
	assert_true(strlen(s) <= 30);
	assert_non_null(strstr(s, "(6 types)"));
	assert_non_null(strstr(s, "more"));
	free(a);
	free(b);
	free(c);
	free(s);
	mg_group_list_free(&g);

	/* with verdicts: the same features but another verdict is another row */
	mg_verdict *v = calloc(l.count, sizeof(*v));
	for (size_t i = 0; i < l.count; i++)
		mg_verdict_init(&v[i]);
	mg_verdict_add_reason(&v[1], "xsave_size differs");
	assert_int_equal(mg_group_targets(&l, v, &g, &err), 0);
	assert_int_equal(g.count, 4);
	mg_group_list_free(&g);
	free(v);
	mg_target_list_free(&l);
}

/* The shipped catalog, found as the binary finds it from build/. */
static void test_shipped_aws(void **state)
{
	(void)state;
	mg_target_list l = { 0 }, ref = { 0 };
	mg_group_list g;
	mg_error err = { 0 };
	char *path = NULL;
	mg_catalog_set_builtin_dir("catalogs");
	assert_int_equal(mg_catalog_find("aws", &path, &err), 1);
	assert_non_null(strstr(path, "catalogs/aws-us-west-2.json"));
	free(path);
	assert_int_equal(mg_catalog_load("aws", &l, &err), 0);
	assert_int_equal(l.count, 383);
	assert_int_equal(mg_group_targets(&l, NULL, &g, &err), 0);
	printf("aws-us-west-2: %zu targets in %zu groups\n", l.count, g.count);
	assert_true(g.count > 1 && g.count < 60);
	mg_group_list_free(&g);
	assert_int_equal(mg_catalog_find("no-such-catalog", &path, &err), 0);

	const char *shared = tu_shared_data();
	if (shared == NULL) {
		mg_target_list_free(&l);
		mg_catalog_set_builtin_dir(NULL);
		tu_skip(TU_SKIP_NO_SHARED, "no ../shared: the reference profiles are not here");
	}
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/catalogs/aws-us-west-2", shared);
	assert_int_equal(mg_targets_load_path(dir, &ref, &err), 0);
	assert_int_equal(ref.count, l.count);
	for (size_t i = 0; i < ref.count; i++) {
		const mg_profile *t = find(&l, ref.items[i].name);
		if (!mg_fset_equal(&t->features, &ref.items[i].features) ||
		    !mg_fset_equal(&t->unknown, &ref.items[i].unknown))
			fail_msg("%s differs from %s", t->name, ref.items[i].origin);
	}
	mg_target_list_free(&ref);
	mg_target_list_free(&l);
	mg_catalog_set_builtin_dir(NULL);
}

/* --- prices ------------------------------------------------------------------------ */

static void test_iso8601(void **state)
{
	(void)state;
	int64_t a, b, c;
	assert_int_equal(mg_iso8601_ms("1970-01-01T00:00:00Z", &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(mg_iso8601_ms("2024-05-01T12:00:00+00:00", &a), 0);
	assert_int_equal(a, 1714564800000LL);
	assert_int_equal(mg_iso8601_ms("2024-05-01T14:00:00.250+02:00", &b), 0);
	assert_int_equal(b, a + 250);
	assert_int_equal(mg_iso8601_ms("2024-02-29T00:00:00-0130", &c), 0);
	static const char *const bad[] = {
		"2024-05-01T12:00:00", "2024-05-01 12:00:00Z", "2023-02-29T00:00:00Z",
		"2024-13-01T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:00.Z",
		"2024-05-01T12:00:00Zjunk", "", "yesterday",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mg_iso8601_ms(bad[i], &a) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
}

static void test_prices_file(void **state)
{
	(void)state;
	mg_price_table t;
	mg_error err = { 0 };
	assert_int_equal(mg_prices_load(D "verdict/spot-prices.json", &t, &err), 0);
	assert_string_equal(t.product, "Linux/UNIX");
	assert_int_equal(t.records, 12);
	assert_int_equal(t.ignored, 1);              /* the SUSE price */
	/* the newest price of each zone (13:30+02:00 is older than 12:00Z),
	 * then the cheapest zone */
	const mg_spot_price *p = mg_prices_find(&t, "c5.large");
	assert_non_null(p);
	assert_string_equal(p->zone, "us-west-2c");
	assert_string_equal(p->price_text, "0.035000");
	/* "Linux/UNIX (Amazon VPC)" is Linux/UNIX too */
	p = mg_prices_find(&t, "m5.large");
	assert_string_equal(p->zone, "us-west-2a");
	assert_true(p->price == 0.037);
	p = mg_prices_find(&t, "t3.micro");
	assert_string_equal(p->price_text, "0.036500");
	assert_null(mg_prices_find(&t, "c6a.xlarge"));
	mg_price_table_free(&t);
}

static void test_prices_malformed(void **state)
{
	(void)state;
#define E(fields) "{\"SpotPriceHistory\": [{" fields "}]}"
#define OK_AZ "\"AvailabilityZone\": \"us-west-2a\", \"InstanceType\": \"c5.large\", "
#define OK_PD "\"ProductDescription\": \"Linux/UNIX\", "
	static const struct { const char *text, *needle; } bad[] = {
		{ "{}", "SpotPriceHistory: missing" },
		{ "{\"SpotPriceHistory\": {}}", "SpotPriceHistory: not an array" },
		{ "{\"SpotPriceHistory\": []}", "SpotPriceHistory: empty" },
		{ "{\"SpotPriceHistory\": [3]}", "SpotPriceHistory[0]: not an object" },
		{ E(OK_AZ OK_PD "\"SpotPrice\": 0.03, \"Timestamp\": \"2024-05-01T12:00:00Z\""),
		  "SpotPriceHistory[0].SpotPrice: not a string" },
		{ E(OK_AZ OK_PD "\"SpotPrice\": \"-0.03\", \"Timestamp\": \"2024-05-01T12:00:00Z\""),
		  "SpotPriceHistory[0].SpotPrice: \"-0.03\" is not a decimal" },
		{ E(OK_AZ OK_PD "\"SpotPrice\": \"1e3\", \"Timestamp\": \"2024-05-01T12:00:00Z\""),
		  "SpotPrice: \"1e3\"" },
		{ E(OK_AZ OK_PD "\"SpotPrice\": \"0.03\", \"Timestamp\": \"2024-05-01\""),
		  "SpotPriceHistory[0].Timestamp: \"2024-05-01\" is not an ISO-8601" },
		{ E(OK_AZ OK_PD "\"SpotPrice\": \"0.03\""), "SpotPriceHistory[0].Timestamp: missing" },
		{ E(OK_PD "\"SpotPrice\": \"0.03\", \"Timestamp\": \"2024-05-01T12:00:00Z\""),
		  "SpotPriceHistory[0].InstanceType: missing" },
		{ "{\"SpotPriceHistory\": [{" OK_AZ "\"ProductDescription\": \"Windows\", \"SpotPrice\": "
		  "\"0.03\", \"Timestamp\": \"2024-05-01T12:00:00Z\"}, {" OK_AZ "\"ProductDescription\": "
		  "\"SUSE Linux\", \"SpotPrice\": \"0.03\", \"Timestamp\": \"2024-05-01T12:00:00Z\"}]}",
		  "several products" },
		{ "{\"SpotPriceHistory\": [", "truncated JSON" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mg_price_table t;
		mg_error err = { 0 };
		assert_int_equal(mg_prices_parse(bad[i].text, strlen(bad[i].text), "spot.json", &t,
						 &err), -1);
		assert_int_equal(err.code, MG_ERR_USAGE);
		if (strstr(err.msg, bad[i].needle) == NULL || strncmp(err.msg, "spot.json: ", 11) != 0)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].needle);
		assert_null(strchr(err.msg, '\n'));
	}
	/* one product other than Linux/UNIX alone is fine */
	static const char windows[] = "{\"SpotPriceHistory\": [{" OK_AZ "\"ProductDescription\": "
		"\"Windows\", \"SpotPrice\": \"0.09\", \"Timestamp\": \"2024-05-01T12:00:00Z\"}]}";
	mg_price_table t;
	mg_error err = { 0 };
	assert_int_equal(mg_prices_parse(windows, strlen(windows), "w.json", &t, &err), 0);
	assert_string_equal(t.product, "Windows");
	assert_int_equal(t.count, 1);
	mg_price_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_small),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_groups_and_labels),
		cmocka_unit_test(test_shipped_aws),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_prices_file),
		cmocka_unit_test(test_prices_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
