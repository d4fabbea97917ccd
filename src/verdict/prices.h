/*
 * prices.h - spot prices per instance type, from the JSON that
 * `aws ec2 describe-spot-price-history` prints.
 *
 * The AWS CLI documents that output (awscli/examples/ec2/
 * describe-spot-price-history.rst; API reference: DescribeSpotPriceHistory,
 * type SpotPrice) as
 *
 *   {"SpotPriceHistory": [
 *     {"AvailabilityZone": "us-west-2a", "InstanceType": "c6a.large",
 *      "ProductDescription": "Linux/UNIX", "SpotPrice": "0.031500",
 *      "Timestamp": "2024-05-01T12:00:00+00:00"}, ...],
 *    "NextToken": "..."}
 *
 * SpotPrice is a decimal string (USD per instance-hour); Timestamp is
 * ISO-8601 (CLI v1 prints "2014-01-06T07:10:55.000Z", v2 "...+00:00").
 * A history holds many prices per type and zone: the newest one of each
 * zone counts, and a type's price is its cheapest zone's.  Prices of one
 * product are compared: Linux/UNIX (with or without "(Amazon VPC)") when
 * the file has any, else the file's only product.
 */
#ifndef MG_VERDICT_PRICES_H
#define MG_VERDICT_PRICES_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct mg_spot_price {
	char *instance_type;
	char *zone;
	char *price_text;     /* as printed, "0.031500" */
	double price;         /* USD per hour */
	int64_t when_ms;      /* Timestamp, milliseconds since the epoch (UTC) */
} mg_spot_price;

typedef struct mg_price_table {
	mg_spot_price *items; /* one per instance type, sorted by type */
	size_t count;
	char *product;        /* the ProductDescription compared */
	size_t records;       /* SpotPriceHistory entries read */
	size_t ignored;       /* entries of another product, not used */
} mg_price_table;

/*
 * Parse describe-spot-price-history JSON.  Every entry must have the five
 * fields above with the right types; a malformed file fails with
 * MG_ERR_USAGE and one line naming `origin` and the field
 * ("spot.json: SpotPriceHistory[3].SpotPrice: not a decimal string").
 */
int mg_prices_parse(const char *text, size_t len, const char *origin,
		    mg_price_table *out, mg_error *err);

int mg_prices_load(const char *path, mg_price_table *out, mg_error *err);

/* The price of an instance type; NULL when the file has none. */
const mg_spot_price *mg_prices_find(const mg_price_table *t, const char *instance_type);

void mg_price_table_free(mg_price_table *t);

/*
 * ISO-8601 date and time with a zone ("2024-05-01T12:00:00Z",
 * "...12:00:00.123+02:00") to milliseconds since the epoch; 0 or -1 when
 * the text is not one.
 */
int mg_iso8601_ms(const char *s, int64_t *ms);

#endif
