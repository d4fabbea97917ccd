/*
 * test_lab_report.c - bench/lab/report.py, the migration lab's judge
 * (docs/lab.md), on a lab run directory laid out here by hand: every
 * class a (workload, model) pair can fall in, the exit status (1 exactly
 * when some pair is unsafe), and the fields read from each file.
 *
 * The lab itself (QEMU guests, minutes) is `make lab`, not a test; what
 * can be wrong cheaply is the bookkeeping that turns its files into the
 * unsafe / confirmed / unexercised counts, so that is what runs here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/testutil.h"

static char lab[64];

/* Write TEXT to lab/REL, creating the directories on the way. */
static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", lab, rel);
	for (char *p = path + strlen(lab) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void verdict(const char *model, const char *w, const char *v, const char *missing)
{
	char rel[128], json[512];
	snprintf(rel, sizeof(rel), "out/%s/%s.verdict.json", model, w);
	snprintf(json, sizeof(json),
		 "{\"targets\":[{\"name\":\"%s\",\"verdict\":\"%s\",\"missing\":[%s],\"unknown\":[]}]}",
		 model, v, missing);
	put(rel, json);
}

static void result(const char *model, const char *w, const char *text, const char *reaper)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "out/%s/%s.result", model, w);
	put(rel, text);
	snprintf(rel, sizeof(rel), "out/%s/%s.reaper", model, w);
	put(rel, reaper);
}

/*
 * Two models A and B, five workloads; the class each pair must get:
 *   w_ok    A ok (compatible, survived)      B UNSAFE (compatible, SIGILL)
 *   w_inc   A confirmed (SIGILL)             B unexercised (survived; another
 *                                              pid's SIGILL is not its own)
 *   w_seg   A died (SIGSEGV)                 B UNSAFE (restore failed on xsave)
 *   w_size  A not-restored (bad file size)   B unexercised (exited 0)
 *   w_none  A, B not-run (CRIU could not dump it)
 *   w_redis A confirmed (SIGSEGV after its     B unexercised (survived)
 *             crash handler reported SIGILL)
 */
static int setup(void **state)
{
	(void)state;
	snprintf(lab, sizeof(lab), "/tmp/mg-lab-report.XXXXXX");
	if (mkdtemp(lab) == NULL)
		return -1;
	put("source.env", "source=host\nhost_cpu=Test CPU\ndump_s=1.0\ntotal_s=9.0\n");
	const char *dumped[] = { "w_ok", "w_inc", "w_seg", "w_size", "w_redis" };
	for (size_t i = 0; i < 5; i++) {
		char rel[128];
		snprintf(rel, sizeof(rel), "dumps/%s/lab.env", dumped[i]);
		put(rel, "NSPID=26\nPORT=1234\n");
		snprintf(rel, sizeof(rel), "dumps/%s/libvirt.json", dumped[i]);
		put(rel, "{\"targets\":[{\"name\":\"A\",\"verdict\":\"incompatible\",\"missing\":[\"rtm\"]},"
			 "{\"name\":\"B\",\"verdict\":\"compatible\",\"missing\":[]}]}");
	}
	put("dumps/w_none/dump.err", "dump-workload: criu dump failed (see dump.log)\n");
	put("dumps/w_none/img/dump.log",
	    "(00.001) Error (criu/tun.c:85): tun: Unable to create tun\n"
	    "(00.020) Error (compel/src/lib/infect.c:713): Unable to connect a transport socket\n");
	for (int m = 0; m < 2; m++)
		put(m ? "out/B/guest.env" : "out/A/guest.env", "cpu=Emulated\nhost_wall_s=4.5\n");

	verdict("A", "w_ok", "compatible", "");
	result("A", "w_ok", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=yes\nwindow_s=8\n", "");
	verdict("B", "w_ok", "compatible", "");
	result("B", "w_ok", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=no\nwindow_s=8\n", "pid=26 signal=ILL\n");

	verdict("A", "w_inc", "incompatible", "\"adx\"");
	result("A", "w_inc", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=no\nwindow_s=8\n",
	       "pid=1003 exited=0\npid=26 signal=ILL\n");
	put("out/A/dmesg.txt", "[ 9.1] traps: w_inc[412] trap invalid opcode ip:55aa sp:7ffe error:0 in w_inc[2596,55aa000+2000]\n"
	    "[ 9.4] w_seg: w_seg: potentially unexpected fatal signal 11.\n"
	    "[ 9.4] CPU: 0 UID: 0 PID: 198 Comm: w_seg Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1\n"
	    "[ 9.4] RIP: 0033:0x7f5809ee6819\n"
	    "[ 9.4] Code: 00 3d e0 0f 00 00 0f 87 37 01 00 00 <c5> fd 74 0f c5 fd d7 c1 85 c0 74 5b\n");
	verdict("B", "w_inc", "incompatible", "\"adx\"");
	result("B", "w_inc", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=yes\nwindow_s=8\n", "pid=1004 signal=ILL\n");

	verdict("A", "w_seg", "incompatible", "\"avx2\"");
	result("A", "w_seg", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=no\nwindow_s=8\n", "pid=26 signal=SEGV\n");
	verdict("B", "w_seg", "compatible", "");
	result("B", "w_seg", "pid=26\nrestore_rc=1\nrestore_ms=300\n", "");
	put("out/B/w_seg.restore.log",
	    "(00.01) Error (criu/tun.c:85): tun: Unable to create tun\n"
	    "(00.20) Error (criu/arch/x86/crtools.c:400): x86: xsave: unsupported xfeatures 0xe0\n");

	verdict("A", "w_size", "compatible", "");
	result("A", "w_size", "pid=26\nrestore_rc=1\nrestore_ms=300\n", "");
	put("out/A/w_size.restore.log", "(00.20) Error (criu/files-reg.c:2100): File run/wl.out has bad size 70 (expect 6)\n");
	verdict("B", "w_size", "incompatible", "\"sha_ni\"");
	result("B", "w_size", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=no\nwindow_s=8\n", "pid=26 exited=0\n");

	verdict("A", "w_redis", "incompatible", "\"avx2\"");
	result("A", "w_redis", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=no\nwindow_s=8\n", "pid=26 signal=SEGV\n");
	put("out/A/w_redis.wl.out", "26:M 01 Dec 2026 22:00:00.000 # Redis 8.0.2 crashed by signal: 4, si_code: 2\n");
	verdict("B", "w_redis", "incompatible", "\"avx2\"");
	result("B", "w_redis", "pid=26\nrestore_rc=0\nrestore_ms=900\nalive=yes\nwindow_s=8\n", "");
	put("out/B/w_redis.wl.out", "26:M 01 Dec 2026 22:00:00.000 * Ready to accept connections tcp\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *argv[] = { "rm", "-rf", lab, NULL };
	return tu_run(argv, NULL, NULL) == 0 ? 0 : -1;
}

/* Run report.py over the lab for MODELS; its JSON in *doc, status returned. */
static int report(const char *models, json_object **doc, char **text)
{
	char jpath[128];
	snprintf(jpath, sizeof(jpath), "%s/report.json", lab);
	unlink(jpath);
	char *argv[] = { "python3", "bench/lab/report.py", lab, "--models", (char *)models,
			 "--workloads", "w_ok w_inc w_seg w_size w_none w_redis", "--json", jpath, NULL };
	char *err = NULL;
	int rc = tu_run(argv, text, &err);
	if (err != NULL && *err)
		fprintf(stderr, "report.py: %s\n", err);
	free(err);
	*doc = tu_load_json(jpath);
	assert_non_null(*doc);
	return rc;
}

static int count(json_object *doc, const char *cls)
{
	return json_object_get_int(tu_json_get(tu_json_get(doc, "counts"), cls));
}

static json_object *pair(json_object *doc, const char *w, const char *model)
{
	json_object *pairs = tu_json_get(doc, "pairs");
	for (size_t i = 0; i < json_object_array_length(pairs); i++) {
		json_object *p = json_object_array_get_idx(pairs, i);
		if (strcmp(json_object_get_string(tu_json_get(p, "workload")), w) == 0 &&
		    strcmp(json_object_get_string(tu_json_get(p, "model")), model) == 0)
			return p;
	}
	fail_msg("no pair %s/%s", w, model);
	return NULL;
}

static const char *field(json_object *doc, const char *w, const char *model, const char *key)
{
	return json_object_get_string(tu_json_get(pair(doc, w, model), key));
}

static void test_every_class(void **state)
{
	(void)state;
	json_object *doc;
	char *text = NULL;
	assert_int_equal(report("A B", &doc, &text), 1);          /* two unsafe pairs */
	assert_string_equal(field(doc, "w_ok", "A", "cls"), "ok");
	assert_string_equal(field(doc, "w_ok", "B", "cls"), "UNSAFE");
	assert_string_equal(field(doc, "w_inc", "A", "cls"), "confirmed");
	assert_string_equal(field(doc, "w_inc", "B", "cls"), "unexercised");
	assert_string_equal(field(doc, "w_seg", "A", "cls"), "died");
	assert_string_equal(field(doc, "w_seg", "B", "cls"), "UNSAFE");
	assert_string_equal(field(doc, "w_size", "A", "cls"), "not-restored");
	assert_string_equal(field(doc, "w_size", "B", "cls"), "unexercised");
	assert_string_equal(field(doc, "w_none", "A", "cls"), "not-run");
	assert_string_equal(field(doc, "w_redis", "A", "cls"), "confirmed");
	assert_string_equal(field(doc, "w_redis", "B", "cls"), "unexercised");
	assert_int_equal(count(doc, "UNSAFE"), 2);
	assert_int_equal(count(doc, "confirmed"), 2);
	assert_int_equal(count(doc, "unexercised"), 3);
	assert_int_equal(count(doc, "ok"), 1);
	assert_int_equal(count(doc, "died"), 1);
	assert_int_equal(count(doc, "not-restored"), 1);
	assert_int_equal(count(doc, "not-run"), 2);
	assert_non_null(strstr(text, "pairs 12: unsafe 2, confirmed 2, unexercised 3, ok 1, died 1, not-restored 1, not-run 2"));
	json_object_put(doc);
	free(text);
}

static void test_evidence_and_verdicts(void **state)
{
	(void)state;
	json_object *doc;
	char *text = NULL;
	assert_int_equal(report("A B", &doc, &text), 1);
	/* The trap line of the workload's own comm (no lab root: no objdump). */
	assert_non_null(strstr(field(doc, "w_inc", "A", "evidence"), "trap invalid opcode ip:55aa"));
	/* CRIU's own error, not the benign tun probe before it. */
	assert_non_null(strstr(field(doc, "w_seg", "B", "evidence"), "xsave: unsupported xfeatures"));
	assert_string_equal(field(doc, "w_seg", "B", "restore"), "failed (CPU)");
	assert_non_null(strstr(field(doc, "w_none", "A", "evidence"), "Unable to connect a transport socket"));
	assert_string_equal(field(doc, "w_ok", "B", "outcome"), "SIGILL");
	assert_string_equal(field(doc, "w_size", "B", "outcome"), "exit 0");
	/* print_fatal_signals' code bytes, decoded by objdump (binutils). */
	assert_string_equal(field(doc, "w_seg", "A", "evidence"),
			    "SIGSEGV raised at: vpcmpeqb ymm1,ymm0,YMMWORD PTR [rdi]");
	assert_string_equal(field(doc, "w_inc", "B", "outcome"), "survived 8 s");
	assert_string_equal(field(doc, "w_redis", "A", "outcome"), "SIGSEGV after a handled SIGILL");
	assert_non_null(strstr(field(doc, "w_redis", "A", "evidence"), "crashed by signal: 4"));
	/* libvirt calls B compatible for the five dumped workloads; w_ok and w_seg died of the CPU there. */
	json_object *lv = tu_json_get(doc, "libvirt");
	assert_int_equal(json_object_get_int(tu_json_get(lv, "compatible")), 5);
	assert_int_equal(json_object_get_int(tu_json_get(lv, "died_of_cpu")), 2);
	/* libvirt's model of the same name, beside the scored verdict. */
	assert_string_equal(field(doc, "w_ok", "A", "libvirt"), "incompatible");
	assert_string_equal(field(doc, "w_ok", "B", "libvirt"), "compatible");
	json_object *missing = tu_json_get(pair(doc, "w_inc", "A"), "missing");
	assert_int_equal(json_object_array_length(missing), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(missing, 0)), "adx");
	json_object_put(doc);
	free(text);
}

static void test_no_unsafe_pair_exits_0(void **state)
{
	(void)state;
	json_object *doc;
	char *text = NULL;
	assert_int_equal(report("A", &doc, &text), 0);
	assert_int_equal(count(doc, "UNSAFE"), 0);
	assert_int_equal(count(doc, "confirmed"), 2);
	assert_non_null(strstr(text, "| w_inc | A | incompatible | adx |"));
	json_object_put(doc);
	free(text);
}

static void test_not_a_lab_directory(void **state)
{
	(void)state;
	char *argv[] = { "python3", "bench/lab/report.py", "/nonexistent/lab", NULL };
	char *err = NULL;
	assert_int_equal(tu_run(argv, NULL, &err), 2);
	assert_non_null(err);
	assert_non_null(strstr(err, "not a directory"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_class),
		cmocka_unit_test(test_evidence_and_verdicts),
		cmocka_unit_test(test_no_unsafe_pair_exits_0),
		cmocka_unit_test(test_not_a_lab_directory),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
