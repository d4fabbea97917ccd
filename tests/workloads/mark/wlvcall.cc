// libwlvcall.so: a class whose virtual run() executes one marker
// instruction (WL_MARK_INSN, given by build.sh), reached by
// wl_scan_targets only through the object's vtable.  One library per
// marker, loaded only for the marker a test chose: vtables sit in
// relocated read-only data, which a scan takes as roots, so the classes
// of the markers not chosen must not be in the process at all.
#include "../wl_vcall.h"

#ifndef WL_MARK_INSN
#define WL_MARK_INSN "nop"
#endif

namespace {
struct MarkWorker : WlWorker {
	void run() override
	{
		__asm__ volatile(WL_MARK_INSN);
	}
};
}

extern "C" WlWorker *wlvcall_new(void)
{
	return new MarkWorker;
}
