/* corpus_plugin.c - a shared object corpus_c opens with dlopen and calls
 * through dlsym: rdseed. */
#include <stdint.h>

uint64_t plugin_rdseed(uint64_t x);

uint64_t plugin_rdseed(uint64_t x)
{
	uint64_t r = 0;
	if (__builtin_cpu_supports("rdseed"))
		__asm__ volatile("rdseed %0" : "=r"(r) :: "cc");
	return x + 11 + (r & 1);
}
