/*
 * test_summarize.c - what one unit's summary says about control flow:
 * whether execution can run off its end into the next unit.  Getting this
 * wrong in the sound direction chains every following PLT entry; in the
 * other direction it loses the next function.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analysis/engine.h"
#include "support/summarize.h"

static bool ends_flow(const uint8_t *bytes, size_t len)
{
	mg_unit_summary s;
	tu_summarize(bytes, len, &s);
	bool ends = s.ends_flow;
	mg_unit_summary_free(&s);
	return ends;
}

/* .plt.got entry: jmp *GOT(%rip); xchg %ax,%ax */
static void test_plt_got_entry_ends(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xff, 0x25, 0, 0, 0, 0, 0x66, 0x90 };
	assert_true(ends_flow(b, sizeof(b)));
}

/* .plt.sec entry: endbr64; bnd jmp *GOT(%rip); nopl 0(%rax,%rax) */
static void test_plt_sec_entry_ends(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25, 0, 0, 0, 0,
				     0x0f, 0x1f, 0x44, 0x00, 0x00 };
	assert_true(ends_flow(b, sizeof(b)));
}

/* ret followed by int3 filler */
static void test_int3_after_ret_ends(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xc3, 0xcc, 0xcc, 0xcc };
	assert_true(ends_flow(b, sizeof(b)));
}

/* jne over nothing, then padding: the not-taken path slides on. */
static void test_padding_after_conditional_falls_through(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x75, 0x00, 0x66, 0x90, 0x90 };
	assert_false(ends_flow(b, sizeof(b)));
}

/* Only padding (an alignment gap): whatever fell into it goes on. */
static void test_only_padding_falls_through(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x90, 0x0f, 0x1f, 0x00 };
	assert_false(ends_flow(b, sizeof(b)));
}

/* A jump in the middle does not end a unit that goes on with code. */
static void test_code_after_jump_falls_through(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xeb, 0x01, 0x90, 0x48, 0x89, 0xc7 };  /* jmp; nop; mov */
	assert_false(ends_flow(b, sizeof(b)));
}

/* jne to the nop after the final jmp: that nop runs into the next unit. */
static void test_branch_into_padding_falls_through(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x75, 0x05, 0xe9, 0x10, 0, 0, 0, 0x90 };
	assert_false(ends_flow(b, sizeof(b)));
}

/* je to an int3 after the final jmp: a trap, nothing goes on. */
static void test_branch_into_int3_padding_ends(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x74, 0x06, 0xff, 0x25, 0, 0, 0, 0, 0xcc };
	assert_true(ends_flow(b, sizeof(b)));
}

/* Undecodable bytes at the end: nothing is known, so it falls through. */
static void test_garbage_at_end_falls_through(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xc3, 0x0f };
	assert_false(ends_flow(b, sizeof(b)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plt_got_entry_ends),
		cmocka_unit_test(test_plt_sec_entry_ends),
		cmocka_unit_test(test_int3_after_ret_ends),
		cmocka_unit_test(test_padding_after_conditional_falls_through),
		cmocka_unit_test(test_only_padding_falls_through),
		cmocka_unit_test(test_code_after_jump_falls_through),
		cmocka_unit_test(test_garbage_at_end_falls_through),
		cmocka_unit_test(test_branch_into_padding_falls_through),
		cmocka_unit_test(test_branch_into_int3_padding_ends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
