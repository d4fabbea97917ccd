/*
 * test_openssl.c - OpenSSL's capability vector (OPENSSL_ia32cap_P)
 * decides libcrypto's jumps to its SHA-NI, ADX, AVX2 and AVX-512 code:
 * masked by OPENSSL_ia32cap, that code is not counted; unmasked on a CPU
 * that has the features, it is.  Each case has that twin.
 *
 *   within a function:  sha1/sha256_block_data_order and SHA-NI;
 *   across functions:   bn_mul_mont's %r11d tested by bn_mul4x_mont, and
 *                       x25519's call of x25519_fe64_eligible (ADX);
 *   a thread inside:    a thread stopped in bn_mul4x_mont's loop, past
 *                       the test its caller's register decides (ADX);
 *   short tests:        ossl_rsaz_avx512ifma_eligible (no FDE) and
 *                       poly1305_init's shifted word (AVX512IFMA).
 * And the int3 oracle sees openssl enter no function the scan left out.
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
#include <unistd.h>

#include "support/testutil.h"

/* The scan's "OPENSSL_ia32cap_P = w0:w1:w2:w3" fact, parsed; false if
 * absent. */
static bool capvec_fact(json_object *scan, unsigned w[4])
{
	json_object *facts = tu_json_get(scan, "dispatch_state");
	for (size_t i = 0; facts && i < json_object_array_length(facts); i++) {
		const char *f = strstr(json_object_get_string(json_object_array_get_idx(facts, i)),
				       "OPENSSL_ia32cap_P = ");
		if (f && sscanf(f, "OPENSSL_ia32cap_P = %x:%x:%x:%x", &w[0], &w[1], &w[2], &w[3]) == 4)
			return true;
	}
	return false;
}

/*
 * Scan pid, whose executable's name holds exe_name, once libcrypto has
 * filled its capability vector (its words into w); stops it.
 */
static json_object *scan_once_filled(pid_t pid, const char *exe_name, unsigned w[4])
{
	json_object *scan = NULL;
	for (int tries = 0; tries < 50; tries++) {
		usleep(100 * 1000);
		char exe[256] = "";
		char link[64];
		snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);
		if (n <= 0 || strstr(exe, exe_name) == NULL)
			continue;
		scan = tu_scan_pid(pid, NULL);
		if (capvec_fact(scan, w))
			break;
		json_object_put(scan);     /* not initialised yet */
		scan = NULL;
	}
	tu_stop(pid);
	if (scan == NULL)
		fail_msg("%s: no OPENSSL_ia32cap_P fact in 5 s of scans", exe_name);
	return scan;
}

/*
 * Scan `openssl speed rsa2048` started with env_extra (or NULL), once
 * libcrypto has filled its capability vector.  Its digest methods are
 * reached through the heap; it does not hash while scanned (a thread
 * hashing holds pointers into the constant tables perlasm keeps in .text,
 * whose decoding as code from there depends on the moment).
 */
static json_object *scan_openssl_speed(const char *env_extra, unsigned w[4])
{
	char *argv[] = { "/bin/sh", "-c", "echo ready; exec openssl speed -seconds 60 rsa2048 "
			 ">/dev/null 2>&1", NULL };
	pid_t pid = tu_spawn_ready_in(argv, NULL, env_extra, 5000);
	assert_true(pid > 0);
	return scan_once_filled(pid, "openssl", w);
}

/*
 * OpenSSL's capability vector decides its own jumps: with SHA masked by
 * OPENSSL_ia32cap, sha1/sha256_block_data_order never jump to their
 * SHA-NI versions, so sha_ni is not required (without the fold it is);
 * where the CPU has SHA-NI and nothing masks it, it is (what folded
 * depends on the process's state, not on the code alone).
 */
static void test_openssl_capabilities(void **state)
{
	(void)state;
	unsigned w[4];
	json_object *masked = scan_openssl_speed("OPENSSL_ia32cap=~0x0:~0x20000000", w);
	printf("OPENSSL_ia32cap=~0x0:~0x20000000: vector %08x:%08x:%08x:%08x, sha_ni %s\n",
	       w[0], w[1], w[2], w[3], tu_scan_requires(masked, "sha_ni") ? "required" : "not required");
	assert_int_equal(w[2] & 0x20000000u, 0);
	assert_false(tu_scan_requires(masked, "sha_ni"));
	json_object_put(masked);
	json_object *plain = scan_openssl_speed(NULL, w);
	bool sha = tu_cpu_has("sha_ni");
	printf("unmasked on a CPU %s SHA-NI: vector word 2 %08x, sha_ni %s\n", sha ? "with" : "without",
	       w[2], tu_scan_requires(plain, "sha_ni") ? "required" : "not required");
	assert_int_equal(!!(w[2] & 0x20000000u), sha);
	assert_int_equal(tu_scan_requires(plain, "sha_ni"), sha);
	json_object_put(plain);
}

/*
 * Mask word-2 bits `bits` with OPENSSL_ia32cap: feature f is then not
 * required; unmasked, it is exactly where the CPU has `needs` (a
 * comma-separated list of flags).
 */
static void masked_and_plain(unsigned bits, const char *f, const char *needs)
{
	unsigned w[4];
	char env[64], list[128];
	snprintf(env, sizeof(env), "OPENSSL_ia32cap=~0x0:~0x%x", bits);
	json_object *masked = scan_openssl_speed(env, w);
	printf("%s: vector word 2 %08x, %s %s\n", env, w[2], f,
	       tu_scan_requires(masked, f) ? "required" : "not required");
	assert_int_equal(w[2] & bits, 0);
	assert_false(tu_scan_requires(masked, f));
	json_object_put(masked);
	bool has = true;
	snprintf(list, sizeof(list), "%s", needs);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		has &= tu_cpu_has(tok);
	json_object *plain = scan_openssl_speed(NULL, w);
	printf("unmasked on a CPU %s %s: %s %s\n", has ? "with" : "without", needs, f,
	       tu_scan_requires(plain, f) ? "required" : "not required");
	assert_int_equal(tu_scan_requires(plain, f), has);
	json_object_put(plain);
}

/*
 * Decisions that need registers across functions: bn_mul_mont loads the
 * vector into %r11d and jumps into bn_mul4x_mont's test of it, and
 * x25519 calls x25519_fe64_eligible for its answer.  With ADX and BMI2
 * masked, no ADX code is reached; unmasked on a CPU with both, it is.
 */
static void test_openssl_across_functions(void **state)
{
	(void)state;
	masked_and_plain(0x80100, "adx", "adx,bmi2");
}

/*
 * A thread stopped inside bn_mul4x_mont's loop enters it past its start
 * with nothing known, before the scan reaches bn_mul_mont, whose %r11d
 * decides bn_mul4x_mont's test.  The function is decoded from its
 * entries: none reaches bn_mulx4x_mont while the vector masks ADX and
 * BMI2 (decoded whole at the first entry, it kept that jump for good).
 * Scanned at three moments each.
 */
static void test_openssl_thread_inside(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_montmul"), NULL };
	bool has = tu_cpu_has("adx") && tu_cpu_has("bmi2");
	for (int masked = 1; masked >= 0; masked--) {
		for (int moment = 0; moment < 3; moment++) {
			unsigned w[4];
			pid_t pid = tu_spawn_ready_in(argv, NULL, masked ?
						      "OPENSSL_ia32cap=~0x0:~0x80100" : NULL, 5000);
			assert_true(pid > 0);
			json_object *scan = scan_once_filled(pid, "wl_montmul", w);
			bool adx = tu_scan_requires(scan, "adx");
			printf("wl_montmul%s on a CPU %s adx,bmi2: vector word 2 %08x, adx %s\n",
			       masked ? " with ADX and BMI2 masked" : "", has ? "with" : "without",
			       w[2], adx ? "required" : "not required");
			if (masked) {
				assert_int_equal(w[2] & 0x80100u, 0);
				assert_false(adx);
			} else {
				assert_int_equal(adx, has);
			}
			json_object_put(scan);
		}
	}
}

/*
 * Tests in short functions the fold walks for their answer, one of them
 * without an FDE (ossl_rsaz_avx512ifma_eligible, in a gap: its caller
 * BN_mod_exp_mont_consttime_x2 tests what it returns), and one that
 * shifts the vector's third word down before testing it (poly1305_init:
 * `mov OPENSSL_ia32cap_P+4,%r9; ... shr $32,%r9; and; cmp; je`).  With
 * AVX512IFMA masked neither reaches IFMA code; unmasked on a CPU with
 * AVX512F, DQ, VL and IFMA, both do.
 */
static void test_openssl_short_tests(void **state)
{
	(void)state;
	masked_and_plain(0x200000, "avx512ifma", "avx512ifma,avx512f,avx512dq,avx512vl");
}

/*
 * The int3 oracle agrees with the scan on `openssl speed rsa2048` (SHA
 * masked, as test_openssl_capabilities runs it): no function it sees
 * entered is one the scan left unreached.  Its threads sit in
 * BN_mod_exp_mont_consttime and the functions it calls, so these are
 * reached first at return addresses (folded from there, captest.c); the
 * entry at their start that a caller's decoding finds later must still
 * count, although the function is queued already.
 */
static void test_openssl_oracle_agrees(void **state)
{
	(void)state;
	char *argv[] = { "/bin/sh", "-c", "echo ready; exec openssl speed -seconds 60 rsa2048 "
			 ">/dev/null 2>&1", NULL };
	pid_t pid = tu_spawn_ready_in(argv, NULL, "OPENSSL_ia32cap=~0x0:~0x20000000", 5000);
	assert_true(pid > 0);
	unsigned w[4];
	json_object *scan = NULL;
	for (int tries = 0; tries < 50 && scan == NULL; tries++) {
		usleep(100 * 1000);
		scan = tu_scan_pid(pid, NULL);
		if (!capvec_fact(scan, w)) {
			json_object_put(scan);     /* not exec'd or not initialised yet */
			scan = NULL;
		}
	}
	if (scan == NULL) {
		tu_stop(pid);
		fail_msg("openssl speed: no OPENSSL_ia32cap_P fact in 5 s of scans");
	}
	json_object_put(scan);
	char pidbuf[16], *out = NULL;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	int rc = tu_migratable(&out, NULL, "observe", pidbuf, "--check", "--json", "--seconds", "2",
			       NULL);
	tu_stop(pid);
	json_object *obs = out ? json_tokener_parse(out) : NULL;
	free(out);
	if (obs == NULL)
		fail_msg("observe --check exited %d without JSON", rc);
	json_object *sound = tu_json_get(obs, "soundness");
	size_t units = json_object_array_length(tu_json_get(sound, "unit_misses"));
	size_t features = json_object_array_length(tu_json_get(sound, "feature_misses"));
	printf("observe --check of openssl speed: %zu unit misses, %zu feature misses (exit %d)\n",
	       units, features, rc);
	for (size_t i = 0; i < units; i++)
		printf("  %s\n", json_object_to_json_string(
			json_object_array_get_idx(tu_json_get(sound, "unit_misses"), i)));
	assert_int_equal(units, 0);
	assert_int_equal(features, 0);
	assert_int_equal(rc, 0);
	json_object_put(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_capabilities),
		cmocka_unit_test(test_openssl_across_functions),
		cmocka_unit_test(test_openssl_thread_inside),
		cmocka_unit_test(test_openssl_short_tests),
		cmocka_unit_test(test_openssl_oracle_agrees),
	};
	return cmocka_run_group_tests_name("openssl", tests, NULL, NULL);
}
