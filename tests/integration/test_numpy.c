/*
 * test_numpy.c - numpy's own dispatch state (src/analysis/npycap.c) on a
 * real python3 with numpy 1.24: its sort asks npy_cpu_have() at every
 * call whether to run x86-simd-sort's AVX-512 quicksort, and the scan
 * reads the npy__cpu_have[] that answers.  numpy imports ctypes, whose
 * dlsym makes every export count (numpy's and OpenBLAS's AVX-512 kernels
 * among them), so the scans take --assume no-dlsym to see the rest.
 * Marker: avx512f, which counts only where this CPU has it; on a CPU
 * without AVX-512 the restricted assertion holds trivially, and the
 * output says which CPU it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

#define SCRIPT "import numpy, time\nnumpy.sort(numpy.arange(1000.0))\n" \
	       "print('ready', flush=True)\ntime.sleep(60)\n"

/* Scan python3+numpy, started under `run --catalog x86-64-v3` or not. */
static json_object *scan_numpy(bool restricted)
{
	const char *bin = getenv("MIGRATABLE_BIN");
	char *plain[] = { "/usr/bin/python3", "-c", SCRIPT, NULL };
	char *run[] = { (char *)(bin ? bin : "build/migratable"), "run", "--quiet", "--catalog",
			"x86-64-v3", "--", "/usr/bin/python3", "-c", SCRIPT, NULL };
	pid_t pid = tu_spawn_ready(restricted ? run : plain, 20000);
	assert_true(pid > 0);
	char pidbuf[16], *out = NULL, *err = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&out, &err, "scan", pidbuf, "--json", "--assume", "no-dlsym", NULL);
	tu_stop(pid);
	if (rc != 0)
		fail_msg("scan exited %d: %s", rc, err ? err : "");
	json_object *root = json_tokener_parse(out);
	free(out);
	free(err);
	assert_non_null(root);
	return root;
}

/* numpy picks its AVX-512 kernels where the CPU has AVX512_SKX. */
static bool cpu_skx(void)
{
	return tu_cpu_has("avx512f") && tu_cpu_has("avx512cd") && tu_cpu_has("avx512bw") &&
	       tu_cpu_has("avx512dq") && tu_cpu_has("avx512vl");
}

static void test_numpy_dispatch(void **state)
{
	(void)state;
	json_object *plain = scan_numpy(false);
	json_object *restricted = scan_numpy(true);
	printf("CPU %s AVX512_SKX: avx512f %s unrestricted, %s under run --catalog x86-64-v3\n",
	       cpu_skx() ? "with" : "without", tu_scan_requires(plain, "avx512f") ? "required" : "not required",
	       tu_scan_requires(restricted, "avx512f") ? "required" : "not required");
	assert_true(tu_json_lists(plain, "dispatch_state", "npy__cpu_have"));
	assert_true(tu_json_lists(restricted, "dispatch_state", "npy__cpu_have"));
	assert_int_equal(tu_scan_requires(plain, "avx512f"), cpu_skx());
	assert_false(tu_scan_requires(restricted, "avx512f"));
	json_object_put(plain);
	json_object_put(restricted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numpy_dispatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
