/* study.h - shared pieces of the study-like workloads (bench/recall.sh).
 *
 * Each workload of tests/workloads/study/ does what one workload of the
 * LiveMigrate-Detector study did (real CRIU migrations between AWS
 * instance types, ../shared/data/lmd-aws-us-west-2): it sets itself up,
 * prints "ready" and then repeats one step forever.  The same source file
 * builds a program (study_NAME) and, with -DSTUDY_LIB, a shared library
 * (libstudy_NAME.so) that the Python workloads call through ctypes.
 *
 * Workloads that choose their code from CPUID (as the study's did) read
 * $STUDY_HIDE first: a comma- or space-separated list of Linux
 * /proc/cpuinfo flag names to treat as absent, so that bench/recall.sh can
 * make them dispatch as they would on a source CPU that lacks those
 * features (emulation only ever removes features).
 */
#ifndef STUDY_H
#define STUDY_H

#include <cpuid.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* True when FLAG is named in $STUDY_HIDE. */
static inline bool study_hidden(const char *flag)
{
	const char *list = getenv("STUDY_HIDE");
	size_t n = strlen(flag);
	if (list == NULL)
		return false;
	for (const char *p = list; *p; ) {
		size_t len = strcspn(p, ", ");
		if (len == n && strncmp(p, flag, n) == 0)
			return true;
		p += len;
		p += strspn(p, ", ");
	}
	return false;
}

/* Bit BIT of register REG (0 eax, 1 ebx, 2 ecx, 3 edx) of CPUID leaf
 * LEAF, subleaf SUB; false above the CPU's maximum leaf. */
static inline bool study_cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit)
{
	unsigned r[4];
	if (__get_cpuid_max(leaf & 0x80000000u, NULL) < leaf)
		return false;
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
	return (r[reg] >> bit) & 1;
}

/* The CPU has FLAG (CPUID bit as given) and $STUDY_HIDE does not hide it. */
static inline bool study_cpu_has(const char *flag, unsigned leaf, unsigned sub,
				 int reg, int bit)
{
	return study_cpuid_bit(leaf, sub, reg, bit) && !study_hidden(flag);
}

static inline void study_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Run STEP once, print "ready", then run it every PERIOD_MS forever.
 * Each step prints its result, as the study's programs did (stdio and
 * glibc's string functions run in the loop too).  A step that fails ends
 * the program with status 1 (its message is on stderr): a workload that
 * stops working must not look alive. */
static inline int study_loop(int (*step)(void), long period_ms)
{
	if (step() != 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		study_sleep_ms(period_ms);
		if (step() != 0)
			return 1;
		fflush(stdout);
	}
}

#endif
