/* summarize.c - see summarize.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <Zydis/Zydis.h>

#include "support/summarize.h"

void tu_summarize(const uint8_t *bytes, size_t len, mg_unit_summary *s)
{
	ZydisDecoder d;
	assert_true(ZYAN_SUCCESS(ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64,
						  ZYDIS_STACK_WIDTH_64)));
	assert_true(mg_summarize_code(&d, bytes, len, s));
}
