/*
 * cmd_observe.c - `migratable observe`: a hidden, INTRUSIVE test oracle.
 *
 *   migratable observe <PID> [--seconds S] [--json] [--check] [--poke page|word]
 *
 * Writes an int3 on the first byte of every unit of the process's code map
 * and records, for S seconds, which units execute and which CPU features
 * their code needs.  With --check it first scans the same snapshot
 * (methods reachable and full) and reports every executed unit the
 * reachable scan missed: a soundness bug of the analysis.
 *
 * Never use it on a process you care about: if the oracle is SIGKILLed,
 * the remaining int3 bytes stay in the target, which then dies of SIGTRAP.
 * SIGINT, SIGTERM, SIGHUP, the end of the window and the target's exit
 * all restore every byte and detach.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/codemap.h"
#include "analysis/oracle.h"
#include "analysis/scan.h"
#include "cli/commands.h"
#include "features/feature_json.h"
#include "features/profile.h"
#include "process/image.h"
#include "util/json.h"

struct observe_args {
	pid_t pid;
	double seconds;
	bool json;
	bool check;
	bool tzcnt_as_bsf;
	mg_oracle_poke poke;
};

static void observe_usage(FILE *out)
{
	fprintf(out,
		"usage: migratable observe <PID> [--seconds S] [--json] [--check] [--poke page|word]\n"
		"                          [--assume tzcnt-as-bsf]\n"
		"\n"
		"TEST ORACLE, INTRUSIVE: writes an int3 breakpoint on the first byte of every\n"
		"function of the process and records which ones execute for S seconds\n"
		"(default 2), with the CPU features of their code.  Every byte is restored\n"
		"at the end, on SIGINT/SIGTERM/SIGHUP and when the process exits; if this\n"
		"command is SIGKILLed the process will die of SIGTRAP.\n"
		"\n"
		"options:\n"
		"  --seconds S       length of the observation window (default 2)\n"
		"  --json            print the result as JSON\n"
		"  --check           scan the same snapshot first (reachable and full) and\n"
		"                    report executed code the reachable scan missed (exit 1)\n"
		"  --poke page|word  plant through /proc/PID/mem by page (default) or with\n"
		"                    PTRACE_POKEDATA per word (for measurements)\n"
		"  --assume tzcnt-as-bsf  also count what executed code needs as a scan\n"
		"                    under that assumption does (assumed_features_required):\n"
		"                    what such a scan must cover\n");
}

static int parse_args(int argc, char **argv, struct observe_args *a)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'c' },
		{ "poke", required_argument, NULL, 'p' },
		{ "assume", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	memset(a, 0, sizeof(*a));
	a->seconds = 2.0;
	a->poke = MG_POKE_PAGE;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's':
			errno = 0;
			a->seconds = strtod(optarg, &end);
			if (errno || *end || !(a->seconds > 0) || a->seconds > 3600) {
				fprintf(stderr, "migratable observe: bad --seconds '%s' "
					"(want 0 < S <= 3600)\n", optarg);
				return -1;
			}
			break;
		case 'j': a->json = true; break;
		case 'c': a->check = true; break;
		case 'p':
			if (strcmp(optarg, "page") == 0)
				a->poke = MG_POKE_PAGE;
			else if (strcmp(optarg, "word") == 0)
				a->poke = MG_POKE_WORD;
			else {
				fprintf(stderr, "migratable observe: bad --poke '%s' "
					"(page or word)\n", optarg);
				return -1;
			}
			break;
		case 'A':
			/* The other assumptions decide what is reachable, not what
			 * code that ran needs: they mean nothing here. */
			if (strcmp(optarg, "tzcnt-as-bsf") != 0) {
				fprintf(stderr, "migratable observe: --assume '%s': only "
					"tzcnt-as-bsf changes what executed code needs\n", optarg);
				return -1;
			}
			a->tzcnt_as_bsf = true;
			break;
		case 'h':
			observe_usage(stdout);
			exit(MG_OK);
		default:
			observe_usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		observe_usage(stderr);
		return -1;
	}
	if (cli_parse_pid(argv[optind], &a->pid) != 0) {
		fprintf(stderr, "migratable observe: bad PID '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static json_object *count(size_t n)
{
	return json_object_new_int64((int64_t)n);
}

/* Release obj and return NULL: the end of a builder that ran out of memory. */
static json_object *drop(json_object *obj)
{
	json_object_put(obj);
	return NULL;
}

static json_object *stats_json(const mg_oracle_stats *s)
{
	json_object *j = json_object_new_object();
	if (j == NULL ||
	    mg_json_add(j, "units", count(s->units)) ||
	    mg_json_add(j, "planted", count(s->planted)) ||
	    mg_json_add(j, "skipped_boundary", count(s->skipped_boundary)) ||
	    mg_json_add(j, "skipped_other", count(s->skipped_other)) ||
	    mg_json_add(j, "pages_written", count(s->pages_written)) ||
	    mg_json_add(j, "write_calls", count(s->write_calls)) ||
	    mg_json_add(j, "plant_ms", json_object_new_double(s->plant_ms)) ||
	    mg_json_add(j, "restore_ms", json_object_new_double(s->restore_ms)) ||
	    mg_json_add(j, "window_ms", json_object_new_double(s->window_ms)) ||
	    mg_json_add(j, "traps", count(s->traps)) ||
	    mg_json_add(j, "foreign_signals", count(s->foreign_signals)) ||
	    mg_json_add(j, "threads", count(s->threads)) ||
	    mg_json_add(j, "new_threads", count(s->new_threads)) ||
	    mg_json_add(j, "forks_cleaned", count(s->forks_cleaned)) ||
	    mg_json_add(j, "left_planted", count(s->left_planted)))
		return drop(j);
	return j;
}

static json_object *scan_json(const mg_scan_result *r)
{
	json_object *j = json_object_new_object();
	if (j == NULL ||
	    mg_json_add(j, "required", mg_fset_to_json(&r->required)) ||
	    mg_json_add(j, "required_count", count(mg_fset_count(&r->required))) ||
	    mg_json_add(j, "units_reachable", count(r->stats.functions_reachable)) ||
	    mg_json_add(j, "units_total", count(r->stats.functions_total)))
		return drop(j);
	return j;
}

static json_object *hit_json(const mg_codemap *map, const mg_oracle_hit *h,
			     const mg_scan_result *reach)
{
	char name[256];
	mg_unit_name(map, h->unit, name, sizeof(name));
	json_object *e = json_object_new_object();
	if (e == NULL ||
	    mg_json_add(e, "module", json_object_new_string(mg_oracle_unit_module(map, h->unit))) ||
	    mg_json_add(e, "name", json_object_new_string(name)) ||
	    mg_json_add(e, "address", mg_json_hex(map->units[h->unit].start)) ||
	    mg_json_add(e, "tid", json_object_new_int(h->tid)) ||
	    mg_json_add(e, "return_address", mg_json_hex(h->return_address)) ||
	    (reach && mg_json_add(e, "reachable",
				  json_object_new_boolean(reach->unit_reachable[h->unit] != 0))))
		return drop(e);
	return e;
}

static json_object *miss_json(const mg_oracle_miss *m)
{
	json_object *e = json_object_new_object();
	if (e == NULL ||
	    mg_json_add(e, "module", json_object_new_string(m->module)) ||
	    mg_json_add(e, "name", json_object_new_string(m->name)) ||
	    mg_json_add(e, "address", mg_json_hex(m->address)) ||
	    mg_json_add(e, "why", json_object_new_string(m->why ? m->why : "?")))
		return drop(e);
	return e;
}

static json_object *soundness_json(const mg_soundness *snd)
{
	json_object *sd = json_object_new_object(), *ms = NULL;
	if (sd == NULL ||
	    mg_json_add(sd, "executed", count(snd->executed)) ||
	    mg_json_add(sd, "executed_reachable", count(snd->executed_reachable)) ||
	    mg_json_add(sd, "unit_misses", ms = json_object_new_array()) ||
	    mg_json_add(sd, "feature_misses", mg_fset_to_json(&snd->feature_misses)))
		return drop(sd);
	for (size_t i = 0; i < snd->nmisses; i++)
		if (mg_json_append(ms, miss_json(&snd->misses[i])))
			return drop(sd);
	return sd;
}

static json_object *result_json(const struct observe_args *a, const mg_codemap *map,
				 const mg_oracle_result *o, const mg_scan_result *reach,
				 const mg_scan_result *full, const mg_soundness *snd)
{
	json_object *j = json_object_new_object(), *ex = NULL, *w = NULL, *s = NULL;
	if (j == NULL ||
	    mg_json_add(j, "pid", json_object_new_int(a->pid)) ||
	    mg_json_add(j, "seconds", json_object_new_double(a->seconds)) ||
	    mg_json_add(j, "target_exited", json_object_new_boolean(o->target_exited)) ||
	    mg_json_add(j, "target_execed", json_object_new_boolean(o->target_execed)) ||
	    mg_json_add(j, "interrupted", json_object_new_boolean(o->interrupted)) ||
	    mg_json_add(j, "stats", stats_json(&o->stats)) ||
	    mg_json_add(j, "executed", ex = json_object_new_array()) ||
	    mg_json_add(j, "features_seen", mg_fset_to_json(&o->seen)) ||
	    mg_json_add(j, "features_required", mg_fset_to_json(&o->required)) ||
	    mg_json_add(j, "unknown_isa_sites", count(o->unknown_isa_sites)))
		return drop(j);
	for (size_t i = 0; i < o->nhits; i++)
		if (mg_json_append(ex, hit_json(map, &o->hits[i], reach)))
			return drop(j);
	if (reach && full && snd &&
	    (mg_json_add(j, "scan", s = json_object_new_object()) ||
	     mg_json_add(s, "reachable", scan_json(reach)) ||
	     mg_json_add(s, "full", scan_json(full)) ||
	     mg_json_add(j, "soundness", soundness_json(snd))))
		return drop(j);
	if (a->tzcnt_as_bsf &&
	    (mg_json_add(j, "assumed_features_required", mg_fset_to_json(&o->assumed_required)) ||
	     mg_json_add(j, "assumed_tzcnt_as_bsf_sites", count(o->as_bsf_sites)) ||
	     mg_json_add(j, "assumed_tzcnt_as_bsf_functions", count(o->as_bsf_units))))
		return drop(j);
	if (mg_json_add(j, "warnings", w = json_object_new_array()))
		return drop(j);
	for (size_t i = 0; i < o->nwarnings; i++)
		if (mg_json_append(w, json_object_new_string(o->warnings[i])))
			return drop(j);
	return j;
}

static void print_set(const char *label, const mg_feature_set *s)
{
	char *str = mg_fset_to_string(s);
	printf("%-26s %s\n", label, str && *str ? str : "(none)");
	free(str);
}

static void print_text(const struct observe_args *a, const mg_codemap *map,
		       const mg_oracle_result *o, const mg_scan_result *reach,
		       const mg_scan_result *full, const mg_soundness *snd)
{
	const mg_oracle_stats *s = &o->stats;
	printf("pid %d observed %.2f s%s%s\n", (int)a->pid, s->window_ms / 1e3,
	       o->target_exited ? " (target exited)" : "",
	       o->interrupted ? " (interrupted)" : "");
	printf("breakpoints: %zu planted of %zu units (%zu gaps not at an instruction "
	       "start, %zu other skipped) in %.1f ms, %zu pages, %zu writes; "
	       "restored in %.1f ms\n", s->planted, s->units, s->skipped_boundary,
	       s->skipped_other, s->plant_ms, s->pages_written, s->write_calls,
	       s->restore_ms);
	printf("executed units: %zu (%zu traps, %zu threads, %zu foreign signals)\n",
	       o->nhits, s->traps, s->threads, s->foreign_signals);
	for (size_t i = 0; i < o->nhits; i++) {
		char name[256];
		mg_unit_name(map, o->hits[i].unit, name, sizeof(name));
		printf("  0x%-14" PRIx64 " %-40s %s%s\n", map->units[o->hits[i].unit].start,
		       name, mg_oracle_unit_module(map, o->hits[i].unit),
		       reach && !reach->unit_reachable[o->hits[i].unit] ? "  MISSED BY SCAN" : "");
	}
	print_set("features seen:", &o->seen);
	print_set("features (runnable here):", &o->required);
	if (a->tzcnt_as_bsf) {
		printf("--assume tzcnt-as-bsf: %zu executed tzcnt site(s) in %zu function(s) "
		       "counted as bsf\n", o->as_bsf_sites, o->as_bsf_units);
		print_set("features (assumed):", &o->assumed_required);
	}
	if (reach && full && snd) {
		print_set("scan reachable requires:", &reach->required);
		print_set("scan full requires:", &full->required);
		printf("soundness: %zu of %zu executed units reachable, %zu misses\n",
		       snd->executed_reachable, snd->executed, snd->nmisses);
		for (size_t i = 0; i < snd->nmisses; i++)
			printf("  MISS %s 0x%" PRIx64 " in %s: %s\n", snd->misses[i].name,
			       snd->misses[i].address, snd->misses[i].module,
			       snd->misses[i].why ? snd->misses[i].why : "?");
		print_set("feature misses:", &snd->feature_misses);
	}
	for (size_t i = 0; i < o->nwarnings; i++)
		printf("warning: %s\n", o->warnings[i]);
}

/* Drivers wait for this line to start the workload's activity. */
static void announce_window(void *arg, const struct mg_oracle_stats *s)
{
	(void)arg;
	fprintf(stderr, "observe: window open (%zu breakpoints)\n", s->planted);
	fflush(stderr);
}

int cmd_observe(int argc, char **argv)
{
	struct observe_args a;
	if (parse_args(argc, argv, &a) != 0)
		return MG_ERR_USAGE;

	mg_error err = { 0 };
	mg_image *img = NULL;
	mg_scan_result *reach = NULL, *full = NULL;
	mg_oracle_result *o = NULL;
	mg_codemap map = { 0 };
	mg_soundness snd = { 0 };
	int rc = MG_OK;
	bool have_map = false;

	mg_profile host;
	mg_profile_init(&host);
	if (mg_host_profile(&host, "host", &err) != 0)
		goto fail;
	mg_live_install_signal_guard();
	mg_live_options lopt = { .read_sigactions = true };
	if (mg_live_open(a.pid, &lopt, &img, &err) != 0)
		goto fail;
	if (mg_codemap_build(img, &map, &err) != 0)
		goto fail;
	have_map = true;
	if (a.check) {
		/* Both scans and the oracle number units by this one map. */
		mg_scan_options so = { .method = MG_METHOD_REACHABLE, .explain = MG_FEATURE_NONE,
				       .host_features = &host.features, .map = &map };
		if (mg_scan_image(img, &so, &reach, &err) != 0)
			goto fail;
		so.method = MG_METHOD_FULL;
		if (mg_scan_image(img, &so, &full, &err) != 0)
			goto fail;
	}
	mg_oracle_options oo = { .seconds = a.seconds, .poke = a.poke,
				 .host_features = &host.features, .window_open = announce_window,
				 .tzcnt_as_bsf = a.tzcnt_as_bsf };
	if (mg_oracle_observe(a.pid, img, &map, &oo, &o, &err) != 0)
		goto fail;
	if (a.check && mg_oracle_check(o, reach, &map, &snd, &err) != 0)
		goto fail;

	if (a.json) {
		json_object *j = result_json(&a, &map, o, reach, full, a.check ? &snd : NULL);
		const char *text = j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
		if (text != NULL)
			fprintf(stdout, "%s\n", text);   /* write errors: main() checks stdout */
		json_object_put(j);
		if (text == NULL) {
			mg_fail(&err, MG_ERR_INTERNAL, "out of memory building the JSON result");
			goto fail;
		}
	} else {
		print_text(&a, &map, o, reach, full, a.check ? &snd : NULL);
	}
	if (a.check && (snd.nmisses || !mg_fset_is_empty(&snd.feature_misses)))
		rc = MG_INCOMPATIBLE;
	goto out;
fail:
	rc = cli_report(&err);
out:
	mg_soundness_free(&snd);
	mg_oracle_result_free(o);
	if (have_map)
		mg_codemap_free(&map);
	mg_scan_result_free(reach);
	mg_scan_result_free(full);
	if (img)
		mg_image_free(img);
	mg_profile_free(&host);
	return rc;
}
