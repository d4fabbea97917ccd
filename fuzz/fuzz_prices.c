/*
 * fuzz_prices.c - libFuzzer target for `aws ec2 describe-spot-price-history`
 * JSON (mg_prices_parse) and its ISO-8601 timestamps (mg_iso8601_ms).
 *
 * Any byte string must either give a price table (one finite,
 * non-negative price per instance type, sorted, each found by
 * mg_prices_find) or fail with MG_ERR_USAGE and a one-line message.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verdict/prices.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_price_table t;
	mg_error err = { 0 };

	/* the same bytes as a timestamp */
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t ms;
	(void)mg_iso8601_ms(s, &ms);
	free(s);

	if (mg_prices_parse((const char *)data, size, "fuzz.json", &t, &err) != 0) {
		if ((err.code != MG_ERR_USAGE && err.code != MG_ERR_INTERNAL) ||
		    strchr(err.msg, '\n') != NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < t.count; i++) {
		const mg_spot_price *p = &t.items[i];
		if (!isfinite(p->price) || p->price < 0 || mg_prices_find(&t, p->instance_type) != p ||
		    (i > 0 && strcmp(t.items[i - 1].instance_type, p->instance_type) >= 0))
			abort();
	}
	if (t.count + t.ignored > t.records)
		abort();
	mg_price_table_free(&t);
	return 0;
}
