/*
 * test_contracts.c - --assume glibc-contracts (src/analysis/contracts.c)
 * on real python3 processes: ctypes makes dlsym take any name, so every
 * export counts, glibc's pkey_get/pkey_set and __libc_ifunc_impl_list
 * among them.  Under the assumption pkey_get/pkey_set do not, unless the
 * process has used protection keys (a pkey_alloc that changed its PKRU),
 * and the list's unusable entries lead nowhere; the result says it
 * assumed.
 * Markers: pku and avx, which count only where this CPU has them (the
 * scan names features of its host); on a CPU without one the assertions
 * about it hold trivially, and the output says which CPU it was.
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

/* Scan python3 running `code` (then sleeping), started directly or under
 * `migratable run --catalog x86-64-v2` (restricted), with --assume NAME
 * or not. */
static json_object *scan_python_in(const char *code, bool restricted, const char *assume)
{
	char script[512];
	snprintf(script, sizeof(script), "import ctypes, time\n%s\nprint('ready', flush=True)\n"
		 "time.sleep(60)\n", code);
	const char *extra[] = { "--assume", assume, NULL };
	return tu_scan_python(script, restricted ? "x86-64-v2" : NULL, assume ? extra : NULL);
}

static json_object *scan_python(const char *code, const char *assume)
{
	return scan_python_in(code, false, assume);
}

static bool cpu_pku(void)
{
	return tu_cpu_has("pku") && tu_cpu_has("ospke");
}

/* ctypes loaded, no key used: pku counts only without the assumption. */
static void test_pkeys_unused(void **state)
{
	(void)state;
	const char *code = "libc = ctypes.CDLL(None)";
	json_object *sound = scan_python(code, NULL);
	json_object *assumed = scan_python(code, "glibc-contracts");
	printf("CPU %s PKU: pku %s by default, %s under --assume glibc-contracts\n",
	       cpu_pku() ? "with" : "without", tu_scan_requires(sound, "pku") ? "required" : "not required",
	       tu_scan_requires(assumed, "pku") ? "required" : "not required");
	assert_int_equal(tu_scan_requires(sound, "pku"), cpu_pku());
	assert_false(tu_scan_requires(assumed, "pku"));
	assert_true(tu_json_lists(assumed, "assumptions", "glibc-contracts"));
	assert_false(tu_json_lists(sound, "assumptions", "glibc-contracts"));
	assert_true(tu_json_lists(assumed, "warnings", "pkey_get/pkey_set run only on a key"));
	json_object_put(sound);
	json_object_put(assumed);
}

/*
 * A key allocated with access rights (pkey_alloc(0, 0) clears the key's
 * bits of PKRU, which the kernel starts at 0x55555554): the process uses
 * keys, so pkey_get/pkey_set count even under the assumption.  Where the
 * CPU lacks PKU pkey_alloc fails and nothing changes.
 */
static void test_pkeys_used(void **state)
{
	(void)state;
	char buf[256];
	snprintf(buf, sizeof(buf), "libc = ctypes.CDLL(None)\nkey = libc.pkey_alloc(0, 0)\n"
		 "assert (key > 0) == %s", cpu_pku() ? "True" : "False");
	json_object *assumed = scan_python(buf, "glibc-contracts");
	printf("CPU %s PKU, a key allocated: pku %s under --assume glibc-contracts\n",
	       cpu_pku() ? "with" : "without", tu_scan_requires(assumed, "pku") ? "required" : "not required");
	assert_int_equal(tu_scan_requires(assumed, "pku"), cpu_pku());
	if (cpu_pku())
		assert_true(tu_json_lists(assumed, "dispatch_state", "PKRU is"));
	json_object_put(assumed);
}

/*
 * Under `migratable run --catalog x86-64-v2` glibc's dispatch picks no
 * AVX variant, but __libc_ifunc_impl_list (exported, so reachable through
 * ctypes' dlsym) takes the address of every one: AVX counts, where the
 * CPU has it.  Under the assumption its unusable entries lead nowhere.
 */
static void test_impl_list(void **state)
{
	(void)state;
	const char *code = "libc = ctypes.CDLL(None)";
	json_object *sound = scan_python_in(code, true, NULL);
	json_object *assumed = scan_python_in(code, true, "glibc-contracts");
	bool avx = tu_cpu_has("avx");
	printf("CPU %s AVX, run --catalog x86-64-v2: avx %s by default, %s under the assumption\n",
	       avx ? "with" : "without", tu_scan_requires(sound, "avx") ? "required" : "not required",
	       tu_scan_requires(assumed, "avx") ? "required" : "not required");
	assert_int_equal(tu_scan_requires(sound, "avx"), avx);
	assert_false(tu_scan_requires(assumed, "avx"));
	assert_false(tu_scan_requires(assumed, "avx2"));
	assert_true(tu_json_lists(assumed, "warnings", "__libc_ifunc_impl_list hands out only"));
	json_object_put(sound);
	json_object_put(assumed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkeys_unused),
		cmocka_unit_test(test_pkeys_used),
		cmocka_unit_test(test_impl_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
