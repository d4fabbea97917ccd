/* corpus_plugin.c - a shared object corpus_c opens with dlopen and calls
 * through dlsym: gf2p8affineqb (gfni). */
#include <stdint.h>

uint64_t plugin_gfni(uint64_t x);

uint64_t plugin_gfni(uint64_t x)
{
	if (__builtin_cpu_supports("gfni"))
		__asm__ volatile("gf2p8affineqb $0, %%xmm1, %%xmm0" ::: "xmm0", "xmm1");
	return x + 11;
}
