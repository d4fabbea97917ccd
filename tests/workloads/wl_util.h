/*
 * wl_util.h - the few helpers the test workloads share.  Header-only:
 * each workload is a single program built from one file.
 */
#ifndef WL_UTIL_H
#define WL_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Sleep ms milliseconds, through signals. */
static inline void wl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Rewrite the file open on fd with a decimal count bumped every 20 ms,
 * forever: a test reads it to see that a process (or its restored copy)
 * still runs.  Returns 1 only if a write fails.
 */
static inline int wl_count_forever(int fd)
{
	for (unsigned long n = 0;; n++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "%lu\n", n);
		if (pwrite(fd, buf, (size_t)len, 0) != len)
			return 1;
		wl_sleep_ms(20);
	}
}

#endif
