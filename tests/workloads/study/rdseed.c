/* rdseed.c - the study's "rdseed" workload (and, as libstudy_rdseed.so,
 * the C part of "pyrdseed"): a random-number loop that asks CPUID once
 * which instruction to use: RDSEED when the CPU has it, else RDRAND,
 * else it gives up (the study's program did the same).
 */
#include <immintrin.h>

#include "study.h"

enum { USE_NONE, USE_RDRAND, USE_RDSEED };
static int method = USE_NONE;
static volatile unsigned long long sink;

__attribute__((target("rdseed"))) static unsigned long long seed64(void)
{
	unsigned long long v;
	while (!_rdseed64_step(&v))
		;
	return v;
}

__attribute__((target("rdrnd"))) static unsigned long long rand64(void)
{
	unsigned long long v;
	while (!_rdrand64_step(&v))
		;
	return v;
}

/* Choose the instruction from CPUID.(7,0):EBX[18] and CPUID.1:ECX[30].
 * Returns 2 for RDSEED, 1 for RDRAND, -1 when the CPU has neither. */
int study_rdseed_setup(void)
{
	if (study_cpu_has("rdseed", 7, 0, 1, 18))
		method = USE_RDSEED;
	else if (study_cpu_has("rdrand", 1, 0, 2, 30))
		method = USE_RDRAND;
	else {
		fprintf(stderr, "rdseed: neither RDSEED nor RDRAND on this CPU\n");
		return -1;
	}
	return method;
}

/* One random number, by the chosen instruction. */
int study_rdseed_step(void)
{
	sink = method == USE_RDSEED ? seed64() : rand64();
	return 0;
}

/* The last number study_rdseed_step() drew. */
unsigned long long study_rdseed_last(void)
{
	return sink;
}

#ifndef STUDY_LIB
static int rdseed_step(void)
{
	if (study_rdseed_step() != 0)
		return -1;
	printf("random number: %llu\n", study_rdseed_last());
	return 0;
}

int main(void)
{
	int m = study_rdseed_setup();
	if (m < 0)
		return 1;
	printf("rdseed: using %s\n", m == USE_RDSEED ? "RDSEED" : "RDRAND");
	return study_loop(rdseed_step, 20);
}
#endif
