/* libwlplt.so: a library function the scan workload calls through a PLT
 * slot that is still lazily bound when the scan runs. */
void wlplt_vaes(void);

void wlplt_vaes(void)
{
	/* VAES (VEX.256): needs vaes + avx. */
	__asm__ volatile("vaesenc %%ymm2, %%ymm1, %%ymm0" ::: "xmm0", "xmm1", "xmm2");
}
