/*
 * wl_tables - function-pointer tables in a library's data, reachable or not.
 *
 *   wl_tables LIBRARY main|ctor
 *
 * LIBRARY (built by test_precision with markers chosen at run time) keeps
 * seven static tables of one marked function each and exports wlt_tick,
 * which the main loop calls every 10 ms (its calls through the tables
 * never run: `never` stays 0):
 *
 *   used      wlt_tick takes its address
 *   heap      only the library's constructor takes its address, and stores
 *             it in a malloc'ed block that wlt_tick reads
 *   biased    wlt_tick addresses it as table - 8 (a biased base)
 *   ctor      only the constructor takes its address
 *   unused    nothing takes its address
 *   loaded    a pointer variable in data holds its address; wlt_tick loads it
 *   after     nothing takes its address; it follows `loaded` in .data
 *
 * With "main" the library is loaded in main and the process runs main's
 * loop; with "ctor" it is loaded from the executable's own constructor,
 * which then stays there: main never starts, so the constructors may not
 * all have run (initializer arrays stay roots).  Prints "ready" once set up.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "wl_util.h"

static void (*tick)(void);

static int load(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "wl_tables: %s\n", dlerror());
		return -1;
	}
	tick = (void (*)(void))dlsym(h, "wlt_tick");
	return tick ? 0 : -1;
}

static void run(void)
{
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		tick();
		wl_sleep_ms(10);
	}
}

__attribute__((constructor)) static void early(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[2], "ctor") == 0) {
		if (load(argv[1]) != 0)
			_exit(1);
		run();      /* never returns: main never starts */
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "main") != 0 && strcmp(argv[2], "ctor") != 0)) {
		fprintf(stderr, "usage: wl_tables LIBRARY main|ctor\n");
		return 2;
	}
	if (load(argv[1]) != 0)
		return 1;
	run();
	return 0;
}
