// wl_vcall.h - the interface of the C++ class that wl_scan_targets calls
// virtually; mark/wlvcall.cc implements it once per marker feature.
#ifndef WL_VCALL_H
#define WL_VCALL_H

struct WlWorker {
	virtual void run() = 0;
	virtual ~WlWorker() {}
};

#endif
