/*
 * scan_dump.c - every process of a CRIU dump, one answer.
 *
 * `criu dump -t PID` checkpoints PID and all its descendants, and a
 * container's dump is its whole process tree; `criu restore` brings all
 * of them back on the destination.  So the features a dump needs are the
 * union over its processes.  Each process is its own image (its own
 * memory, threads, signal handlers and code map) and is scanned alone;
 * the results are then merged.  Zombies have no memory and run nothing.
 */
#include "analysis/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prefix each warning of r with "pid N: " (the merged result mixes them). */
static int prefix_warnings(mg_scan_result *r, pid_t pid, mg_error *err)
{
	for (size_t i = 0; i < r->nwarnings; i++) {
		char *w;
		if (asprintf(&w, "pid %d: %s", (int)pid, r->warnings[i]) < 0)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		free(r->warnings[i]);
		r->warnings[i] = w;
	}
	return 0;
}

/* Append from's array of n items of `size` bytes to into's; from's items
 * then belong to into (from keeps none). */
static int move_items(void **into, size_t *ninto, void **from, size_t *nfrom, size_t size,
		      mg_error *err)
{
	if (*nfrom == 0)
		return 0;
	void *grown = realloc(*into, (*ninto + *nfrom) * size);
	if (grown == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	memcpy((char *)grown + *ninto * size, *from, *nfrom * size);
	*into = grown;
	*ninto += *nfrom;
	free(*from);
	*from = NULL;
	*nfrom = 0;
	return 0;
}

static void add_stats(mg_scan_stats *a, const mg_scan_stats *b)
{
	if (b->pause_ms > a->pause_ms)
		a->pause_ms = b->pause_ms;
	a->wall_ms += b->wall_ms;
	a->threads += b->threads;
	a->functions_reachable += b->functions_reachable;
	a->functions_total += b->functions_total;
	a->bytes_decoded += b->bytes_decoded;
	a->instructions_decoded += b->instructions_decoded;
	a->modules += b->modules;
	a->codemap_ms += b->codemap_ms;
	a->roots_ms += b->roots_ms;
	a->decode_ms += b->decode_ms;
}

/* Fold `from` (freed) into `into`: the union of what both need. */
static int absorb(mg_scan_result *into, mg_scan_result *from, mg_error *err)
{
	mg_fset_union(&into->required, &from->required);
	mg_fset_union(&into->seen, &from->seen);
	for (size_t f = 0; f < MG_FEATURE_SET_BITS; f++)
		into->feature_sites[f] += from->feature_sites[f];
	into->unknown_isa_sites += from->unknown_isa_sites;
	into->dlsym_widened += from->dlsym_widened;
	add_stats(&into->stats, &from->stats);
	int rc = move_items((void **)&into->evidence, &into->nevidence, (void **)&from->evidence,
			    &from->nevidence, sizeof(*from->evidence), err);
	if (rc == 0)
		rc = move_items((void **)&into->warnings, &into->nwarnings,
				(void **)&from->warnings, &from->nwarnings,
				sizeof(*from->warnings), err);
	mg_scan_result_free(from);
	return rc;
}

static void summarise(mg_process_summary *s, const mg_scan_result *r, pid_t pid)
{
	s->pid = pid;
	s->required = r->required;
	s->functions_reachable = r->stats.functions_reachable;
	s->functions_total = r->stats.functions_total;
}

static int scan_task(const char *dir, const char *root, const mg_criu_task *t,
		     const mg_scan_options *opt, bool prefix, mg_scan_result **r, mg_error *err)
{
	mg_image *img = NULL;
	if (mg_criu_open_task(dir, root, t->pid, &img, err) != 0)
		return -1;
	int rc = mg_scan_image(img, opt, r, err);
	mg_image_free(img);
	if (rc == 0 && prefix && prefix_warnings(*r, t->pid, err) != 0) {
		mg_scan_result_free(*r);
		*r = NULL;
		rc = -1;
	}
	return rc;
}

int mg_scan_criu_dump(const char *dir, const char *root, const mg_scan_options *opt,
		      mg_scan_result **out, mg_error *err)
{
	mg_criu_task *tasks;
	size_t n, live = 0;
	*out = NULL;
	if (mg_criu_list_tasks(dir, &tasks, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		live += tasks[i].has_memory;
	mg_scan_result *all = NULL;
	mg_process_summary *procs = calloc(live ? live : 1, sizeof(*procs));
	size_t nprocs = 0;
	int rc = procs ? 0 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (rc == 0 && live == 0)
		rc = mg_fail(err, MG_ERR_UNSUPPORTED, "criu:%s: every process of the dump is a "
			     "zombie: nothing to scan", dir);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!tasks[i].has_memory)
			continue;
		mg_scan_result *r;
		rc = scan_task(dir, root, &tasks[i], opt, live > 1, &r, err);
		if (rc != 0)
			break;
		summarise(&procs[nprocs++], r, tasks[i].pid);
		if (all == NULL)
			all = r;
		else
			rc = absorb(all, r, err);
	}
	if (rc == 0 && live > 1) {
		free(all->unit_reachable);      /* one image's code map: meaningless now */
		all->unit_reachable = NULL;
		all->nunits = 0;
	}
	if (rc == 0 && live < n) {
		char *w;
		if (asprintf(&w, "criu:%s: %zu zombie process(es) skipped: they run no code", dir,
			     n - live) < 0)
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		else {
			char **grown = realloc(all->warnings, (all->nwarnings + 1) * sizeof(*grown));
			if (grown == NULL) {
				free(w);
				rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			} else {
				all->warnings = grown;
				all->warnings[all->nwarnings++] = w;
			}
		}
	}
	free(tasks);
	if (rc != 0) {
		free(procs);
		mg_scan_result_free(all);
		return -1;
	}
	all->processes = procs;
	all->nprocesses = nprocs;
	*out = all;
	return 0;
}
