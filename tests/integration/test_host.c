/*
 * test_host.c - `migratable host` end to end, checked against the kernel's
 * own view of this CPU in /proc/cpuinfo.
 *
 * Linux prints a flag when CPUID has the bit and the kernel did not clear
 * it (a feature whose XSAVE state the kernel does not enable is cleared,
 * like our XCR0 rule).  Features the table marks linux_hides have no flag
 * (osxsave, AVX10 version fields, bits without a Linux name) and are
 * skipped; every other disagreement fails the test and is listed.
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
#include <sys/auxv.h>
#include <unistd.h>

#include "features/features.h"
#include "features/profile.h"
#include "support/testutil.h"

/* The first "flags" line of /proc/cpuinfo, as a set plus the raw line. */
static char *cpuinfo_flags(void)
{
	char *text = tu_read_file("/proc/cpuinfo", NULL);
	char *line, *end, *flags;

	if (text == NULL)
		return NULL;
	line = strstr(text, "\nflags");
	if (line == NULL || (line = strchr(line, ':')) == NULL) {
		free(text);
		return NULL;
	}
	end = strchr(line, '\n');
	if (end)
		*end = '\0';
	/* Pad with spaces so " name " finds whole words only. */
	if (asprintf(&flags, "%s ", line + 1) < 0)
		flags = NULL;
	free(text);
	return flags;
}

static bool has_flag(const char *flags, const char *name)
{
	char word[96];
	snprintf(word, sizeof(word), " %s ", name);
	return strstr(flags, word) != NULL;
}

/*
 * Disagreements with a documented cause in kernel policy rather than in
 * CPUID; NULL when none applies (then the disagreement fails the test).
 * Each is narrow: the feature, the direction, and the condition.
 */
static const char *kernel_policy(const mg_profile *p, const char *name, bool ours)
{
	/* Linux clears RDSEED on Zen 5 (family 0x1A) because of AMD-SB-7055
	 * (16/32-bit RDSEED may return 0 with CF=1) unless microcode fixes
	 * it; the instruction still executes, so a process using it does not
	 * crash here. */
	if (ours && strcmp(name, "rdseed") == 0 && p->vendor &&
	    strcmp(p->vendor, "AuthenticAMD") == 0 && p->family == 0x1A)
		return "Zen 5 RDSEED erratum: kernel hides the flag, CPU executes it";
	/* MONITOR/MWAIT raise #UD at CPL 3 unless the kernel enabled ring-3
	 * MWAIT (AT_HWCAP2; Xeon Phi only): Linux prints the CPU's bit, a
	 * process cannot use it. */
	if (!ours && strcmp(name, "monitor") == 0 && (p->os_known & MG_OS_RING3MWAIT) &&
	    !(p->os_enabled & MG_OS_RING3MWAIT))
		return "MONITOR/MWAIT need ring-3 MWAIT at CPL 3, which the kernel does not enable";
	return NULL;
}

static void run_host_json(mg_profile *p, json_object **obj)
{
	char *out = NULL, *err_out = NULL;
	mg_error err = { 0 };
	int rc = tu_migratable(&out, &err_out, "host", "--json", NULL);

	if (rc != 0)
		fail_msg("migratable host --json exited %d: %s", rc, err_out ? err_out : "");
	assert_non_null(out);
	*obj = json_tokener_parse(out);
	if (*obj == NULL)
		fail_msg("migratable host --json printed invalid JSON");
	if (mg_profile_from_json(out, strlen(out), "host --json", p, &err) != 0)
		fail_msg("%s", err.msg);
	free(out);
	free(err_out);
}

static void test_host_json_valid(void **state)
{
	(void)state;
	mg_profile p;
	json_object *obj, *v;

	run_host_json(&p, &obj);
	assert_true(json_object_object_get_ex(obj, "schema", &v));
	assert_string_equal(json_object_get_string(v), MG_PROFILE_SCHEMA);
	assert_true(json_object_object_get_ex(obj, "features", &v));
	/* The printed list is exactly what re-derivation from "cpuid" gives,
	 * and it is sorted. */
	assert_int_equal(json_object_array_length(v), mg_fset_count(&p.features));
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(v, i));
		assert_true(mg_fset_has(&p.features, mg_feature_by_name(n)));
		if (i > 0)
			assert_true(strcmp(json_object_get_string(
				json_object_array_get_idx(v, i - 1)), n) < 0);
	}
	assert_true(json_object_object_get_ex(obj, "x86_64_level", &v));
	assert_int_equal(json_object_get_int(v), mg_x86_64_level_of(&p.features));
	assert_true(mg_x86_64_level_of(&p.features) >= 1);
	print_message("host: %s, %zu usable features, x86-64-v%d, xcr0 0x%llx\n",
		      p.brand ? p.brand : "?", mg_fset_count(&p.features),
		      mg_x86_64_level_of(&p.features), (unsigned long long)p.xcr0);
	json_object_put(obj);
	mg_profile_free(&p);
}

static void test_host_matches_cpuinfo(void **state)
{
	(void)state;
	mg_profile p;
	json_object *obj;
	char *flags = cpuinfo_flags();
	char report[4096] = "";
	size_t off = 0, compared = 0, hidden = 0, mismatches = 0;

	if (flags == NULL)
		tu_skip(TU_SKIP_HOST, "/proc/cpuinfo has no flags line");
	run_host_json(&p, &obj);
	for (size_t id = 0; id < mg_feature_count(); id++) {
		const mg_feature_info *f = mg_feature_get((mg_feature_id)id);
		bool ours = mg_fset_has(&p.features, (mg_feature_id)id);
		bool linux_has = has_flag(flags, f->name);

		if (f->linux_hides) {
			hidden++;
			if (ours)
				print_message("  hidden from /proc/cpuinfo, usable per CPUID: %s\n",
					      f->name);
			continue;
		}
		compared++;
		if (ours == linux_has)
			continue;
		const char *why = kernel_policy(&p, f->name, ours);
		if (why != NULL) {
			print_message("  %s: in CPUID, not in /proc/cpuinfo: %s\n",
				      f->name, why);
			continue;
		}
		mismatches++;
		off += (size_t)snprintf(report + off, off < sizeof(report) ? sizeof(report) - off : 0,
					" %s(%s)", f->name, ours ? "cpuid only" : "linux only");
		if (off >= sizeof(report))
			off = sizeof(report) - 1;
	}
	print_message("compared %zu features with /proc/cpuinfo, %zu hidden by Linux\n",
		      compared, hidden);
	if (mismatches)
		fail_msg("%zu disagreements with /proc/cpuinfo:%s", mismatches, report);
	json_object_put(obj);
	mg_profile_free(&p);
	free(flags);
}

/*
 * The kernel gates (profile.h, MG_OS_*) as the kernel states them: user
 * shadow stacks by /proc/cpuinfo's user_shstk, FSGSBASE and ring-3 MWAIT
 * by AT_HWCAP2; a gated feature is usable exactly when CPUID has it and
 * the kernel enables it.
 */
static void test_host_os_gates(void **state)
{
	(void)state;
	mg_profile p;
	json_object *obj;
	char *flags = cpuinfo_flags();
	unsigned long hwcap2 = getauxval(AT_HWCAP2);
	static const struct {
		uint32_t gate;
		const char *feature;
		unsigned cpuid_leaf, cpuid_sub, reg, bit;
	} gates[] = {
		{ MG_OS_USER_SHSTK, "shstk", 7, 0, MG_ECX, 7 },
		{ MG_OS_FSGSBASE, "fsgsbase", 7, 0, MG_EBX, 0 },
		{ MG_OS_RING3MWAIT, "monitor", 1, 0, MG_ECX, 3 },
	};

	assert_non_null(flags);
	run_host_json(&p, &obj);
	assert_int_equal(p.os_known, MG_OS_ALL);
	assert_int_equal((p.os_enabled & MG_OS_USER_SHSTK) != 0, has_flag(flags, "user_shstk"));
	assert_int_equal((p.os_enabled & MG_OS_FSGSBASE) != 0, (hwcap2 & 2) != 0);
	assert_int_equal((p.os_enabled & MG_OS_RING3MWAIT) != 0, (hwcap2 & 1) != 0);
	for (size_t i = 0; i < sizeof(gates) / sizeof(gates[0]); i++) {
		const mg_cpuid_leaf *l = mg_cpuid_dump_find(&p.cpuid, gates[i].cpuid_leaf,
							    gates[i].cpuid_sub);
		uint32_t r = l == NULL ? 0 : gates[i].reg == MG_EBX ? l->ebx : l->ecx;
		bool cpu = (r >> gates[i].bit) & 1;
		bool usable = mg_fset_has(&p.features, mg_feature_by_name(gates[i].feature));
		print_message("  %-9s cpuid %d, kernel enables %d, usable %d\n", gates[i].feature,
			      cpu, (p.os_enabled & gates[i].gate) != 0, usable);
		assert_int_equal(usable, cpu && (p.os_enabled & gates[i].gate));
	}
	json_object_put(obj);
	mg_profile_free(&p);
	free(flags);
}

static void test_host_usage(void **state)
{
	(void)state;
	char *out = NULL;

	assert_int_equal(tu_migratable(&out, NULL, "host", "--help", NULL), 0);
	assert_non_null(strstr(out, "usage: migratable host"));
	free(out);
	assert_int_equal(tu_migratable(NULL, NULL, "host", "--frob", NULL), MG_ERR_USAGE);
	assert_int_equal(tu_migratable(&out, NULL, "host", "--name", "box1", NULL), 0);
	assert_non_null(strstr(out, "host:      box1"));
	assert_non_null(strstr(out, "level:     x86-64-v"));
	assert_non_null(strstr(out, "usable"));
	free(out);
}

/* --output writes a profile that loads back with the same features. */
static void test_host_output_file(void **state)
{
	(void)state;
	char path[] = "/tmp/mg-host-out-XXXXXX";
	tu_temp_file(path);
	assert_int_equal(tu_migratable(NULL, NULL, "host", "--output", path, NULL), 0);
	mg_profile saved, host;
	mg_error err = { 0 };
	if (mg_profile_load(path, &saved, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(mg_host_profile(&host, NULL, &err), 0);
	assert_true(mg_fset_equal(&saved.features, &host.features));
	mg_profile_free(&saved);
	mg_profile_free(&host);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_json_valid),
		cmocka_unit_test(test_host_matches_cpuinfo),
		cmocka_unit_test(test_host_os_gates),
		cmocka_unit_test(test_host_usage),
		cmocka_unit_test(test_host_output_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
