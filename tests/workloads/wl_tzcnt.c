/*
 * wl_tzcnt.c - three tzcnts, all reachable from main (test_tzcnt):
 *   lowest_bit          GCC's __builtin_ctzl, built for the baseline: the
 *                       `rep bsf` bytes of TZCNT, flags unread;
 *   lowest_bit_or_zero  hand-written: tzcnt, then setc reads its CF (is
 *                       the source zero?), which BSF would not set;
 *   shifted_lowest_bit  built with target("bmi,bmi2"): shlx and tzcnt,
 *                       called only where the CPU has BMI2.
 * Prints "ready", then calls them every 10 ms (with the argument "ctz",
 * only lowest_bit: test_tzcnt_assume's oracle run).
 */
#include <stdio.h>
#include <string.h>

#include "wl_util.h"

static volatile unsigned long sink;

static int lowest_bit(unsigned long x)
{
	return __builtin_ctzl(x);
}

static long lowest_bit_or_zero(unsigned long x)
{
	unsigned long r;
	unsigned char zero;
	__asm__("tzcnt %2, %0\n\tsetc %1" : "=r"(r), "=q"(zero) : "r"(x) : "cc");
	return zero ? -1 : (long)r;
}

__attribute__((target("bmi,bmi2"))) static unsigned long shifted_lowest_bit(unsigned long x,
									  unsigned s)
{
	return (x << s) + (unsigned long)__builtin_ctzl(x);
}

int main(int argc, char **argv)
{
	int only_ctz = argc > 1 && strcmp(argv[1], "ctz") == 0;
	int bmi2 = !only_ctz && __builtin_cpu_supports("bmi2");
	printf("ready\n");
	fflush(stdout);
	for (unsigned long x = 1;; x = x * 3 + 1) {
		sink = (unsigned long)lowest_bit(x | 1);
		if (!only_ctz)
			sink += (unsigned long)lowest_bit_or_zero(x);
		if (bmi2)
			sink += shifted_lowest_bit(x | 2, 3);
		wl_sleep_ms(10);
	}
}
