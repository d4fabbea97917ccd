/*
 * test_unreadable.c - a GOT slot the scan cannot read (a CRIU page left in
 * a parent image, say) names an unknown import: the scan must widen to
 * every feature of the host and say so, never drop the edge silently.
 *
 * A real process (wl_idle) is opened live; its image's read operation is
 * wrapped so that reads touching one module's GOT fail, as they would for
 * a missing page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis/codemap.h"
#include "analysis/scan.h"
#include "features/profile.h"
#include "process/image.h"
#include "support/testutil.h"

static pid_t target;                    /* stopped by the teardown, pass or fail */
static const mg_image_ops *real_ops;
static mg_image_ops failing_ops;
static uint64_t hole_start, hole_end;   /* reads touching this range fail */

static ssize_t read_with_hole(mg_image *img, uint64_t addr, void *buf, size_t len)
{
	if (addr < hole_end && addr + len > hole_start)
		return -1;
	return real_ops->read(img, addr, buf, len);
}

/* The GOT of the main executable, as mapped. */
static bool exe_got(const mg_codemap *map, const char *exe, uint64_t *start, uint64_t *end)
{
	for (size_t i = 0; i < map->nmodules; i++) {
		const mg_loaded_module *lm = &map->modules[i];
		if (strstr(lm->name, exe) == NULL || lm->module->got.end <= lm->module->got.start)
			continue;
		*start = lm->module->got.start + lm->bias;
		*end = lm->module->got.end + lm->bias;
		return true;
	}
	return false;
}

static bool has_warning(const mg_scan_result *r, const char *needle)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		if (strstr(r->warnings[i], needle) != NULL)
			return true;
	return false;
}

static void test_unreadable_got_slot_widens(void **state)
{
	(void)state;
	char *argv[] = { (char *)tu_workload_path("wl_idle"), NULL };
	pid_t pid = target = tu_spawn_ready(argv, 10000);
	assert_true(pid > 0);

	mg_error err = { 0 };
	mg_image *img = NULL;
	mg_live_options lopt = { .read_sigactions = true };
	if (mg_live_open(pid, &lopt, &img, &err) != 0)
		fail_msg("%s", err.msg);
	mg_codemap map = { 0 };
	if (mg_codemap_build(img, &map, &err) != 0)
		fail_msg("%s", err.msg);
	mg_profile host;
	mg_profile_init(&host);
	if (mg_host_profile(&host, "host", &err) != 0)
		fail_msg("%s", err.msg);
	mg_scan_options so = { .method = MG_METHOD_REACHABLE, .explain = MG_FEATURE_NONE,
			       .host_features = &host.features, .map = &map, .no_cache = true };

	/* As read: wl_idle needs much less than the host has. */
	mg_scan_result *whole = NULL;
	if (mg_scan_image(img, &so, &whole, &err) != 0)
		fail_msg("%s", err.msg);
	assert_false(has_warning(whole, "GOT slot"));

	assert_true(exe_got(&map, "wl_idle", &hole_start, &hole_end));
	real_ops = img->ops;
	failing_ops = *real_ops;
	failing_ops.read = read_with_hole;
	img->ops = &failing_ops;
	mg_scan_result *holed = NULL;
	if (mg_scan_image(img, &so, &holed, &err) != 0)
		fail_msg("%s", err.msg);
	img->ops = real_ops;

	if (!has_warning(holed, "GOT slot at 0x"))
		fail_msg("no warning about the unreadable GOT slot (GOT 0x%" PRIx64 "-0x%" PRIx64 ")",
			 hole_start, hole_end);
	mg_feature_set host_usable = host.features;
	mg_fset_remove(&host_usable, mg_feature_by_name("shstk"));
	assert_true(mg_fset_is_subset(&host_usable, &holed->required));
	printf("wl_idle: %zu features as read, %zu with its GOT unreadable (host: %zu)\n",
	       mg_fset_count(&whole->required), mg_fset_count(&holed->required),
	       mg_fset_count(&host.features));

	mg_scan_result_free(whole);
	mg_scan_result_free(holed);
	mg_profile_free(&host);
	mg_codemap_free(&map);
	mg_image_free(img);
}

/* After the scans (memory is read from the live process), and on failure. */
static int stop_target(void **state)
{
	(void)state;
	if (target > 0)
		tu_stop(target);
	target = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_unreadable_got_slot_widens, stop_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
