/*
 * scan_tree.c - a tree of processes, one answer: every process of a CRIU
 * dump, or a live process and its descendants.
 *
 * `criu dump -t PID` checkpoints PID and all its descendants (a
 * container's dump is its whole tree) and `criu restore` brings all of
 * them back on the destination, so the features a tree needs are the
 * union over its processes.  Each process is its own image (its own
 * memory, threads, signal handlers and code map) and is scanned alone;
 * the results are merged here.  Zombies have no memory and run nothing.
 */
#include "analysis/scan.h"
#include "process/criu_files.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The merged answer being built, one process at a time. */
typedef struct merger {
	mg_scan_result *all;        /* the first result, the others folded in */
	mg_process_summary *procs;
	size_t nprocs, cap;
	bool prefix;                /* several processes: say whose each warning and site is */
} merger;

static int add_warning(mg_scan_result *r, mg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_warning(mg_scan_result *r, mg_error *err, const char *fmt, ...)
{
	char *w;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&w, fmt, ap);
	va_end(ap);
	char **grown = n < 0 ? NULL : realloc(r->warnings, (r->nwarnings + 1) * sizeof(*grown));
	if (grown == NULL) {
		if (n >= 0)
			free(w);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	r->warnings = grown;
	r->warnings[r->nwarnings++] = w;
	return 0;
}

/* Replace *s by "pid N: *s". */
static int prefix_pid(char **s, pid_t pid, mg_error *err)
{
	char *p;
	if (asprintf(&p, "pid %d: %s", (int)pid, *s ? *s : "") < 0)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	free(*s);
	*s = p;
	return 0;
}

/* Say whose each warning and each piece of evidence is (the merged
 * result mixes those of several processes). */
static int prefix_process(mg_scan_result *r, pid_t pid, mg_error *err)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		if (prefix_pid(&r->warnings[i], pid, err) != 0)
			return -1;
	for (size_t i = 0; i < r->nevidence; i++)
		if (prefix_pid(&r->evidence[i].reached_via, pid, err) != 0)
			return -1;
	for (size_t i = 0; i < r->ngenerators; i++)
		if (prefix_pid(&r->generators[i].where, pid, err) != 0)
			return -1;
	for (size_t i = 0; i < r->nfacts; i++)
		if (prefix_pid(&r->facts[i], pid, err) != 0)
			return -1;
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

/* Fold `from` into `into`: the union of what both need. */
static int absorb(mg_scan_result *into, mg_scan_result *from, mg_error *err)
{
	/* Generated only: what no process's present code needs. */
	mg_feature_set present = into->required, present_from = from->required;
	mg_fset_subtract(&present, &into->generated);
	mg_fset_subtract(&present_from, &from->generated);
	mg_fset_union(&present, &present_from);
	mg_fset_union(&into->generated, &from->generated);
	mg_fset_subtract(&into->generated, &present);
	/* Conditional only: what no process needs unconditionally. */
	mg_feature_set sure = into->required, sure_from = from->required;
	mg_fset_subtract(&sure, &into->conditional);
	mg_fset_subtract(&sure_from, &from->conditional);
	mg_fset_union(&sure, &sure_from);
	mg_fset_union(&into->conditional, &from->conditional);
	mg_fset_subtract(&into->conditional, &sure);
	mg_fset_union(&into->required, &from->required);
	mg_fset_union(&into->seen, &from->seen);
	for (size_t f = 0; f < MG_FEATURE_SET_BITS; f++) {
		into->feature_sites[f] += from->feature_sites[f];
		into->hint_sites[f] += from->hint_sites[f];
	}
	mg_fset_union(&into->hints, &from->hints);
	into->unknown_isa_sites += from->unknown_isa_sites;
	into->dlsym_widened += from->dlsym_widened;
	into->assumptions |= from->assumptions;
	if (move_items((void **)&into->facts, &into->nfacts, (void **)&from->facts,
		       &from->nfacts, sizeof(*from->facts), err) != 0)
		return -1;
	if (move_items((void **)&into->generators, &into->ngenerators,
		       (void **)&from->generators, &from->ngenerators,
		       sizeof(*from->generators), err) != 0)
		return -1;
	add_stats(&into->stats, &from->stats);
	if (move_items((void **)&into->evidence, &into->nevidence, (void **)&from->evidence,
		       &from->nevidence, sizeof(*from->evidence), err) != 0)
		return -1;
	return move_items((void **)&into->warnings, &into->nwarnings, (void **)&from->warnings,
			  &from->nwarnings, sizeof(*from->warnings), err);
}

/* Take r (freed, also on failure), the result of process pid. */
static int merger_add(merger *m, mg_scan_result *r, pid_t pid, mg_error *err)
{
	int rc = m->prefix ? prefix_process(r, pid, err) : 0;
	if (rc == 0 && m->nprocs == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		mg_process_summary *grown = realloc(m->procs, cap * sizeof(*grown));
		if (grown == NULL)
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		else {
			m->procs = grown;
			m->cap = cap;
		}
	}
	if (rc != 0) {
		mg_scan_result_free(r);
		return rc;
	}
	m->procs[m->nprocs++] = (mg_process_summary){
		.pid = pid, .required = r->required,
		.functions_reachable = r->stats.functions_reachable,
		.functions_total = r->stats.functions_total,
	};
	if (m->all == NULL) {
		m->all = r;
		return 0;
	}
	rc = absorb(m->all, r, err);
	mg_scan_result_free(r);
	return rc;
}

/* Hand over the merged result, or free everything when rc != 0. */
static int merger_finish(merger *m, int rc, mg_scan_result **out)
{
	if (rc == 0 && m->nprocs > 1) {
		free(m->all->unit_reachable);   /* one image's code map: meaningless now */
		m->all->unit_reachable = NULL;
		m->all->nunits = 0;
	}
	if (rc != 0) {
		mg_scan_result_free(m->all);
		free(m->procs);
		return -1;
	}
	m->all->processes = m->procs;
	m->all->nprocesses = m->nprocs;
	*out = m->all;
	return 0;
}

static size_t count_live(const mg_task *tasks, size_t n)
{
	size_t live = 0;
	for (size_t i = 0; i < n; i++)
		live += tasks[i].has_memory;
	return live;
}

/* --- a CRIU dump ------------------------------------------------------------ */

static int scan_dumped_task(struct mg_criu_files *src, pid_t pid, const mg_scan_options *opt,
			    mg_scan_result **r, mg_error *err)
{
	mg_image *img = NULL;
	if (mg_criu_open_task_files(src, pid, &img, err) != 0)
		return -1;
	int rc = mg_scan_image(img, opt, r, err);
	mg_image_free(img);
	return rc;
}

int mg_scan_criu_files(struct mg_criu_files *src, const char *name, const mg_scan_options *opt,
		       mg_scan_result **out, mg_error *err)
{
	mg_task *tasks;
	size_t n;
	*out = NULL;
	if (mg_criu_list_tasks_files(src, &tasks, &n, err) != 0)
		return -1;
	size_t live = count_live(tasks, n);
	merger m = { .prefix = live > 1 };
	int rc = live ? 0 : mg_fail(err, MG_ERR_UNSUPPORTED, "criu:%s: every process of the "
				    "dump is a zombie: nothing to scan", name);
	for (size_t i = 0; i < n && rc == 0; i++) {
		mg_scan_result *r;
		if (!tasks[i].has_memory)
			continue;
		rc = scan_dumped_task(src, tasks[i].pid, opt, &r, err);
		if (rc == 0)
			rc = merger_add(&m, r, tasks[i].pid, err);
	}
	if (rc == 0 && live < n)
		rc = add_warning(m.all, err, "criu:%s: %zu zombie process(es) skipped: they run no code",
				 name, n - live);
	free(tasks);
	return merger_finish(&m, rc, out);
}

int mg_scan_criu_dump(const char *dir, const char *root, const mg_scan_options *opt,
		      mg_scan_result **out, mg_error *err)
{
	struct mg_criu_files *src;
	*out = NULL;
	if (mg_criu_files_open_dir(dir, root, &src, err) != 0)
		return -1;
	int rc = mg_scan_criu_files(src, dir, opt, out, err);
	mg_criu_files_free(src);
	return rc;
}

/* --- a live process tree ---------------------------------------------------- */

/* Scan process t of a live tree into *r; *r stays NULL (and 0 is
 * returned) for a descendant that exited since the listing. */
static int scan_live_task(const mg_task *t, bool root, const mg_live_options *lopt,
			  const mg_scan_options *opt, mg_scan_result **r, mg_error *err)
{
	mg_image *img = NULL;
	mg_error e = { 0 };
	*r = NULL;
	if (mg_live_open(t->pid, lopt, &img, &e) != 0) {
		if (!root && mg_live_has_exited(t->pid))
			return 0;       /* nothing left to migrate */
		if (err)
			*err = e;
		return -1;
	}
	int rc = mg_scan_image(img, opt, r, err);
	mg_image_free(img);
	return rc;
}

int mg_scan_live_tree(pid_t pid, const mg_live_options *lopt, const mg_scan_options *opt,
		      mg_scan_result **out, mg_error *err)
{
	mg_task *tasks;
	size_t n, skipped = 0;
	*out = NULL;
	if (mg_live_list_tree(pid, &tasks, &n, err) != 0)
		return -1;
	merger m = { .prefix = n > 1 };
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		mg_scan_result *r = NULL;
		/* The root is the process the user named: its errors are the
		 * scan's, as without --tree.  A descendant may end meanwhile. */
		if (i > 0 && !tasks[i].has_memory) {
			skipped++;
			continue;
		}
		rc = scan_live_task(&tasks[i], i == 0, lopt, opt, &r, err);
		if (rc == 0 && r == NULL)
			skipped++;
		else if (rc == 0)
			rc = merger_add(&m, r, tasks[i].pid, err);
	}
	if (rc == 0 && skipped)
		rc = add_warning(m.all, err, "pid %d: %zu descendant(s) skipped: zombies, or exited "
				 "during the scan", (int)pid, skipped);
	free(tasks);
	return merger_finish(&m, rc, out);
}
