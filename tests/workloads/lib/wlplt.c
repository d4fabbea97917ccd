/* libwlplt.so: a library function wl_scan_targets calls through a PLT
 * slot that is still lazily bound when the scan runs.  This copy, beside
 * the workload, is marked with nothing; mark/build.sh builds one per
 * marker feature (WL_MARK_INSN, tests/workloads/wl_mark.h) into
 * mark/NAME/, which a test puts first on LD_LIBRARY_PATH. */
#ifndef WL_MARK_INSN
#define WL_MARK_INSN "nop"
#endif

void wlplt_mark(void);

void wlplt_mark(void)
{
	__asm__ volatile(WL_MARK_INSN);
}
