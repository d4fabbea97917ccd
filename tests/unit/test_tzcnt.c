/*
 * test_tzcnt.c - which tzcnts a summary marks as running as bsf alike
 * (src/analysis/tzcnt.c): those whose CF and ZF no path reads before
 * something writes both.  A tzcnt whose flags may be read keeps its plain
 * BMI1 group, whatever --assume says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analysis/engine.h"
#include "support/summarize.h"

/* Does the summary of bytes hold a group of tzcnts marked as_bsf?  (And
 * exactly one BMI1 group: the tzcnt is counted once either way.) */
static bool marked(const uint8_t *bytes, size_t len)
{
	mg_unit_summary s;
	tu_summarize(bytes, len, &s);
	bool as_bsf = false;
	unsigned bmi1_groups = 0;
	for (uint32_t i = 0; i < s.ngroups; i++) {
		if (mg_fset_has(&s.groups[i].features, mg_feature_by_name("bmi1")))
			bmi1_groups++;
		as_bsf |= s.groups[i].as_bsf;
	}
	mg_unit_summary_free(&s);
	assert_int_equal(bmi1_groups, 1);
	return as_bsf;
}

#define MARKED(...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; marked(b_, sizeof(b_)); })

/* GCC's __builtin_ctzl: xor %eax,%eax; tzcnt %rdi,%rax; ret */
static void test_compiled_ctz(void **state)
{
	(void)state;
	assert_true(MARKED(0x31, 0xc0, 0xf3, 0x48, 0x0f, 0xbc, 0xc7, 0xc3));
}

/* tzcnt; jc 1f; ret; 1: ret - CF read: a zero test (hand-written) */
static void test_carry_read(void **state)
{
	(void)state;
	assert_false(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0x72, 0x01, 0xc3, 0xc3));
}

/* tzcnt; add $1,%eax; jz; ret - add writes both before jz reads ZF */
static void test_flags_rewritten(void **state)
{
	(void)state;
	assert_true(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0x83, 0xc0, 0x01, 0x74, 0x00, 0xc3));
}

/* tzcnt; inc %eax (ZF only); jz 1f; ret; 1: adc $0,%eax - the branch's
 * other path reads tzcnt's CF */
static void test_carry_read_on_other_path(void **state)
{
	(void)state;
	assert_false(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0xff, 0xc0, 0x74, 0x01, 0xc3, 0x83, 0xd0,
			    0x00, 0xc3));
}

/* tzcnt; shl %cl,%eax; setc - a shift by %cl may be by 0 and keep CF;
 * by 2 it writes CF */
static void test_shift_count(void **state)
{
	(void)state;
	assert_false(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0xd3, 0xe0, 0x0f, 0x92, 0xc2, 0xc3));
	assert_true(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0xc1, 0xe0, 0x02, 0x0f, 0x92, 0xc2, 0xc3));
}

/* tzcnt; jmp *%rdx - a jump table's targets are not known here; a
 * direct jump out of the function is a tail call; a call passes no
 * flags */
static void test_control_flow_out(void **state)
{
	(void)state;
	assert_false(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0xff, 0xe2));
	assert_true(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0xeb, 0xaa));
	assert_true(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0xe8, 0xf7, 0xff, 0xff, 0xff, 0x72, 0x00,
			   0xc3));
}

/* tzcnt; js 1f; ret; 1: adc - js reads SF only, but its target reads CF */
static void test_sign_branch(void **state)
{
	(void)state;
	assert_false(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0x78, 0x01, 0xc3, 0x83, 0xd0, 0x00, 0xc3));
}

/* A tzcnt at the end of the bytes: its flags' fate is not known. */
static void test_runs_off_the_end(void **state)
{
	(void)state;
	assert_false(MARKED(0xf3, 0x0f, 0xbc, 0xc7, 0x89, 0xc2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compiled_ctz),
		cmocka_unit_test(test_carry_read),
		cmocka_unit_test(test_flags_rewritten),
		cmocka_unit_test(test_carry_read_on_other_path),
		cmocka_unit_test(test_shift_count),
		cmocka_unit_test(test_control_flow_out),
		cmocka_unit_test(test_sign_branch),
		cmocka_unit_test(test_runs_off_the_end),
	};
	return cmocka_run_group_tests_name("tzcnt", tests, NULL, NULL);
}
