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

/* Scan python3+numpy, started under `run --catalog x86-64-v3` or not,
 * with every site of avx512f kept as evidence. */
static json_object *scan_numpy(bool restricted)
{
	static const char *const extra[] = { "--assume", "no-dlsym", "--explain", "avx512f", NULL };
	return tu_scan_python(SCRIPT, restricted ? "x86-64-v3" : NULL, extra);
}

/* Sites of feature f in numpy's _multiarray_umath. */
static size_t numpy_sites(json_object *scan, const char *f)
{
	json_object *ev = tu_json_get(scan, "evidence");
	size_t n = 0;
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		const char *feat = json_object_get_string(tu_json_get(e, "feature"));
		const char *mod = json_object_get_string(tu_json_get(e, "module"));
		n += strcmp(feat, f) == 0 && strstr(mod, "/_multiarray_umath.") != NULL;
	}
	return n;
}

/* numpy picks its AVX-512 kernels where the CPU has AVX512_SKX. */
static bool cpu_skx(void)
{
	return tu_cpu_has("avx512f") && tu_cpu_has("avx512cd") && tu_cpu_has("avx512bw") &&
	       tu_cpu_has("avx512dq") && tu_cpu_has("avx512vl");
}

/*
 * Unrestricted on a CPU with AVX512_SKX numpy runs AVX-512 code; under
 * `run --catalog x86-64-v3` none of numpy's own is reachable (its sort
 * asked npy_cpu_have, whose answer is now known).  Other modules' sites
 * are not asserted: an OpenBLAS kernel pointer is sometimes left in
 * memory (a stale word, which counts).
 */
static void test_numpy_dispatch(void **state)
{
	(void)state;
	json_object *plain = scan_numpy(false);
	json_object *restricted = scan_numpy(true);
	size_t mine = numpy_sites(restricted, "avx512f");
	printf("CPU %s AVX512_SKX: avx512f %s unrestricted; under run --catalog x86-64-v3 %s, "
	       "%zu site(s) in numpy's own code\n", cpu_skx() ? "with" : "without",
	       tu_scan_requires(plain, "avx512f") ? "required" : "not required",
	       tu_scan_requires(restricted, "avx512f") ? "required" : "not required", mine);
	assert_true(tu_json_lists(plain, "dispatch_state", "npy__cpu_have"));
	assert_true(tu_json_lists(restricted, "dispatch_state", "npy__cpu_have"));
	assert_int_equal(tu_scan_requires(plain, "avx512f"), cpu_skx());
	assert_int_equal(numpy_sites(plain, "avx512f") > 0, cpu_skx());
	assert_int_equal(mine, 0);
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
