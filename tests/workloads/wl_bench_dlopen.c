/*
 * wl_bench_dlopen: a benchmark target whose mapped code size is chosen by the
 * caller, for the "scan cost vs code size" curve.
 *
 *   wl_bench_dlopen [LIBRARY...]
 *
 * dlopen()s every LIBRARY path (RTLD_NOW | RTLD_LOCAL). The benchmark passes
 * N differently named copies of one big library (libcrypto): the dynamic
 * linker tells objects apart by device and inode, so each copy is mapped
 * again and the process's code grows by the library's size each time.
 * Prints "ready" when every library is loaded; runs until killed.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL)) {
			fprintf(stderr, "wl_bench_dlopen: %s\n", dlerror());
			return 1;
		}
	}
	printf("ready pid=%d libraries=%d\n", (int)getpid(), argc - 1);
	fflush(stdout);
	for (;;)
		pause();
}
