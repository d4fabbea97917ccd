/*
 * verdict.c - verdicts per target (verdict.h) and target lists.
 */
#include "verdict/verdict.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/scan.h"
#include "process/criu_image.h"
#include "verdict/criu_policy.h"

const char *mg_verdict_kind_name(mg_verdict_kind k)
{
	switch (k) {
	case MG_VERDICT_COMPATIBLE:   return "compatible";
	case MG_VERDICT_INCOMPATIBLE: return "incompatible";
	case MG_VERDICT_UNKNOWN:      return "unknown";
	}
	return "?";
}

void mg_verdict_init(mg_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->kind = MG_VERDICT_COMPATIBLE;
	mg_fset_clear(&v->missing);
	mg_fset_clear(&v->unknown);
}

void mg_verdict_add_reason(mg_verdict *v, const char *fmt, ...)
{
	if (v->nreasons >= MG_VERDICT_REASONS_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->reasons[v->nreasons], sizeof(v->reasons[0]), fmt, ap);
	va_end(ap);
	v->nreasons++;
}

/* Decide from the two sets; incompatible wins over unknown. */
static void settle(mg_verdict *v)
{
	if (!mg_fset_is_empty(&v->missing))
		v->kind = MG_VERDICT_INCOMPATIBLE;
	else if (!mg_fset_is_empty(&v->unknown))
		v->kind = MG_VERDICT_UNKNOWN;
	else
		v->kind = MG_VERDICT_COMPATIBLE;
}

void mg_verdict_workload(const mg_feature_set *required, const mg_profile *target,
			 mg_verdict *out)
{
	/* Architectural facts of long mode (cx8, syscall, ...) that
	 * feature lists derived from partial data do not record. */
	mg_feature_set have = target->features;
	mg_fset_add_long_mode_implied(&have);

	mg_verdict_init(out);
	out->unknown = *required;
	mg_fset_intersect(&out->unknown, &target->unknown);
	out->missing = *required;
	mg_fset_subtract(&out->missing, &have);
	mg_fset_subtract(&out->missing, &target->unknown);
	/* A flag both listed present and unknown counts as present. */
	mg_fset_subtract(&out->unknown, &have);
	settle(out);
}

void mg_verdict_scan(const mg_scan_result *r, const mg_profile *target, mg_verdict *out)
{
	mg_verdict_workload(&r->required, target, out);
	mg_feature_set maybe = out->missing;
	mg_fset_intersect(&maybe, &r->conditional);
	if (mg_fset_is_empty(&maybe))
		return;
	mg_fset_subtract(&out->missing, &maybe);
	mg_fset_union(&out->unknown, &maybe);
	char *names = mg_fset_to_string(&maybe);
	mg_verdict_add_reason(out, "lacks %s, needed only if the source CPU had it (its profile "
			      "cannot tell)", names ? names : "?");
	free(names);
	out->kind = MG_VERDICT_COMPATIBLE;
	settle(out);
}

void mg_verdict_criu_like(const mg_profile *source, const mg_profile *target,
			  mg_verdict *out)
{
	mg_feature_set mask, required;

	mg_criu_ins_features(&mask);
	required = source->features;
	mg_fset_add_long_mode_implied(&required);
	mg_fset_union(&required, &source->unknown);
	mg_fset_intersect(&required, &mask);
	/* CRIU compares CPUID bits: a kernel gate (fsgsbase, shstk) that a
	 * target profile cannot decide does not change its rule.  A shallow
	 * copy, read only. */
	mg_profile cpuid_view = *target;
	mg_feature_set gated;
	mg_os_gated_features(&gated);
	mg_fset_intersect(&gated, &target->unknown);
	mg_fset_union(&cpuid_view.features, &gated);
	mg_fset_subtract(&cpuid_view.unknown, &gated);
	mg_verdict_workload(&required, &cpuid_view, out);
}

/* --- target lists ---------------------------------------------------------------- */

int mg_target_list_take(mg_target_list *l, mg_profile *p, mg_error *err)
{
	if (l->count == l->capacity) {
		size_t cap = l->capacity ? l->capacity * 2 : 16;
		mg_profile *n = realloc(l->items, cap * sizeof(*n));
		if (n == NULL)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		l->items = n;
		l->capacity = cap;
	}
	l->items[l->count++] = *p;
	mg_profile_init(p);
	return 0;
}

void mg_target_list_free(mg_target_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		mg_profile_free(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->capacity = 0;
}

int mg_profile_load_file(const char *path, mg_profile *p, mg_error *err)
{
	if (mg_criu_is_image_file(path)) {
		if (mg_criu_cpuinfo_load(path, p, err) != 0)
			return -1;
		/* "criu-cpuinfo" says less than the path. */
		free(p->name);
		if ((p->name = strdup(path)) == NULL) {
			mg_profile_free(p);
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		}
		return 0;
	}
	if (mg_profile_load(path, p, err) != 0) {
		err->code = MG_ERR_USAGE;    /* a bad profile is bad input to check */
		return -1;
	}
	return 0;
}

static int load_file(const char *path, mg_target_list *out, mg_error *err)
{
	mg_profile p;
	if (mg_profile_load_file(path, &p, err) != 0)
		return -1;
	if (mg_target_list_take(out, &p, err) != 0) {
		mg_profile_free(&p);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_json_name(const char *n)
{
	size_t len = strlen(n);
	return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".json") == 0;
}

static int load_dir(const char *path, mg_target_list *out, mg_error *err)
{
	DIR *dir = opendir(path);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;

	if (dir == NULL)
		return mg_fail(err, MG_ERR_USAGE, "%s: cannot open directory: %s", path,
			       strerror(errno));
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			/* NULL is also an error: a partly read directory must
			 * not pass for the whole catalog. */
			if (errno != 0)
				rc = mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
			break;
		}
		if (!is_json_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (nn == NULL) {
				rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
				goto out;
			}
			names = nn;
		}
		if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0) {
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			goto out;
		}
		n++;
	}
	if (rc != 0)
		goto out;
	if (n == 0) {
		rc = mg_fail(err, MG_ERR_USAGE, "%s: no *.json profiles in this directory", path);
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = load_file(names[i], out, err);
out:
	closedir(dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int mg_targets_load_path(const char *path, mg_target_list *out, mg_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return mg_fail(err, MG_ERR_USAGE, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return load_dir(path, out, err);
	return load_file(path, out, err);
}
