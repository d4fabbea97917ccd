/*
 * wl_dlsym - dlsym with a constant name, or with one computed at run time.
 *
 *   wl_dlsym LIBRARY const|computed|switch
 *
 * dlopen()s LIBRARY (the test builds one exporting wldlsym_target and
 * wldlsym_other, each marked with a feature) and keeps, in its reachable
 * main loop, a call dlsym(handle, NAME) that never runs (the flag that
 * would run it is never set): with "const", NAME is the string constant
 * "wldlsym_target"; with "computed", a buffer filled at start-up; with
 * "switch", the constant again, in a function whose switch compiles to a
 * jump table (an indirect jump the analysis must resolve to keep the
 * name).  A scan must count wldlsym_other only with "computed".  Only the loop of the
 * chosen mode is reachable after set-up.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "wl_util.h"

static void *volatile handle;
static volatile int never;
static char name_buf[64];

static void loop_const(void)
{
	for (;;) {
		if (never)
			((void (*)(void))dlsym(handle, "wldlsym_target"))();
		wl_sleep_ms(10);
	}
}

static void loop_computed(void)
{
	for (;;) {
		if (never)
			((void (*)(void))dlsym(handle, name_buf))();
		wl_sleep_ms(10);
	}
}

static volatile int step;
static volatile long acc;

static void loop_switch(void)
{
	for (;;) {
		switch (step) {     /* dense cases: a jump table */
		case 0: acc += 3; break;
		case 1: acc ^= 5; break;
		case 2: acc -= 7; break;
		case 3: acc *= 11; break;
		case 4: acc += 13; break;
		case 5: acc ^= 17; break;
		case 6: acc -= 19; break;
		case 7: acc *= 23; break;
		default: break;
		}
		if (never)
			((void (*)(void))dlsym(handle, "wldlsym_target"))();
		wl_sleep_ms(10);
	}
}

static void (*volatile loop)(void);

/* Called once through a pointer that is then cleared. */
static int setup(int argc, char **argv)
{
	if (argc != 3)
		return -1;
	handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		fprintf(stderr, "wl_dlsym: %s\n", dlerror());
		return -1;
	}
	snprintf(name_buf, sizeof(name_buf), "wldlsym_%s", "target");
	loop = strcmp(argv[2], "const") == 0 ? loop_const :
	       strcmp(argv[2], "switch") == 0 ? loop_switch : loop_computed;
	return 0;
}

static int (*volatile setup_hook)(int, char **) = setup;

int main(int argc, char **argv)
{
	if (setup_hook(argc, argv) != 0)
		return 2;
	setup_hook = NULL;
	printf("ready\n");
	fflush(stdout);
	loop();
	return 0;
}
