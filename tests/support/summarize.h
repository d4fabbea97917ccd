/*
 * summarize.h - unit tests' access to a code summary (decode.c's
 * mg_summarize_code, with the sweep's minimal decoder): the test fails
 * if the bytes cannot be summarised.
 */
#ifndef TU_SUMMARIZE_H
#define TU_SUMMARIZE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/engine.h"

/* The summary of bytes[0..len) into *s (free it: mg_unit_summary_free). */
void tu_summarize(const uint8_t *bytes, size_t len, mg_unit_summary *s);

#endif
