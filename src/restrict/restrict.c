/*
 * restrict.c - a restriction plan: the targets' common features, the
 * switch planners in turn, and the plan applied to argv and environ.
 */
#include "restrict/restrict.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void mg_restrict_common(const mg_target_list *targets, mg_feature_set *out)
{
	mg_fset_clear(out);
	if (targets->count == 0)
		return;
	*out = targets->items[0].features;
	mg_fset_add_long_mode_implied(out);
	for (size_t i = 0; i < targets->count; i++) {
		/* As check reads a target: what long mode implies is there
		 * even where a list derived from partial data omits it. */
		mg_feature_set has = targets->items[i].features;
		mg_fset_add_long_mode_implied(&has);
		mg_fset_intersect(out, &has);
		mg_fset_subtract(out, &targets->items[i].unknown);
	}
}

static int oom(mg_error *err)
{
	return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
}

static int grow(void **arr, size_t n, size_t size, mg_error *err)
{
	void *a = realloc(*arr, (n + 1) * size);
	if (a == NULL)
		return oom(err);
	*arr = a;
	return 0;
}

int mg_restrict_add_env(mg_restriction *r, const char *name, const char *value,
			const char *dispatcher, mg_error *err)
{
	if (grow((void **)&r->env, r->nenv, sizeof(*r->env), err) != 0)
		return -1;
	mg_restrict_env *e = &r->env[r->nenv];
	e->name = strdup(name);
	e->value = strdup(value);
	e->dispatcher = dispatcher;
	if (e->name == NULL || e->value == NULL ||
	    asprintf(&e->entry, "%s=%s", name, value) < 0) {
		free(e->name);
		free(e->value);
		return oom(err);
	}
	r->nenv++;
	return 0;
}

int mg_restrict_add_cannot(mg_restriction *r, mg_error *err, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return oom(err);
	if (grow((void **)&r->cannot, r->ncannot, sizeof(*r->cannot), err) != 0) {
		free(line);
		return -1;
	}
	r->cannot[r->ncannot++] = line;
	return 0;
}

int mg_restrict_add_arg(mg_restriction *r, const char *arg, mg_error *err)
{
	if (grow((void **)&r->args, r->nargs, sizeof(*r->args), err) != 0)
		return -1;
	if ((r->args[r->nargs] = strdup(arg)) == NULL)
		return oom(err);
	r->nargs++;
	return 0;
}

int mg_restrict_add_file(mg_restriction *r, const char *path, const char *text,
			 const char *dispatcher, mg_error *err)
{
	if (grow((void **)&r->files, r->nfiles, sizeof(*r->files), err) != 0)
		return -1;
	mg_restrict_file *f = &r->files[r->nfiles];
	f->path = strdup(path);
	f->text = strdup(text);
	f->dispatcher = dispatcher;
	f->applied = false;
	if (f->path == NULL || f->text == NULL) {
		free(f->path);
		free(f->text);
		return oom(err);
	}
	r->nfiles++;
	return 0;
}

const char *mg_restrict_getenv(char *const envp[], const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

bool mg_restrict_removed(const mg_restriction *r, const char *f)
{
	return mg_fset_has(&r->removed, mg_feature_by_name(f));
}

/*
 * A target list may hold a feature without the one whose state it needs
 * (avx2 without avx, in a hand-written profile); the dispatchers test
 * each bit on its own (glibc's -AVX leaves AVX2 active), so a removed
 * state owner removes its users: AVX the YMM users, AVX-512F the opmask
 * users, XSAVE every feature with extended state and the XSAVE variants.
 */
static void close_over_state(mg_feature_set *removed)
{
	uint64_t gone = 0;
	if (mg_fset_has(removed, mg_feature_by_name("xsave"))) {
		gone |= ~(uint64_t)(MG_XCR0_X87 | MG_XCR0_SSE);
		mg_fset_add(removed, mg_feature_by_name("xsavec"));
		mg_fset_add(removed, mg_feature_by_name("xsaveopt"));
		mg_fset_add(removed, mg_feature_by_name("xsaves"));
	}
	if (mg_fset_has(removed, mg_feature_by_name("avx")))
		gone |= MG_XCR0_YMM;
	if (mg_fset_has(removed, mg_feature_by_name("avx512f")))
		gone |= MG_XCR0_OPMASK;
	for (size_t id = 0; gone && id < mg_feature_count(); id++)
		if (mg_feature_get((mg_feature_id)id)->xcr0_needed & gone)
			mg_fset_add(removed, (mg_feature_id)id);
}

int mg_restrict_plan(const mg_restrict_input *in, mg_restriction *out, mg_error *err)
{
	static int (*const planners[])(const mg_restrict_input *, mg_restriction *,
				       mg_error *) = {
		mg_restrict_glibc, mg_restrict_openssl, mg_restrict_libgcrypt,
		mg_restrict_numpy, mg_restrict_openblas, mg_restrict_hotspot,
		mg_restrict_v8, mg_restrict_no_switch,
	};
	memset(out, 0, sizeof(*out));
	out->host = *in->host;
	out->allowed = *in->allowed;
	mg_fset_intersect(&out->allowed, in->host);
	out->removed = *in->host;
	mg_fset_subtract(&out->removed, &out->allowed);
	close_over_state(&out->removed);
	mg_fset_intersect(&out->removed, in->host);
	out->allowed = *in->host;
	mg_fset_subtract(&out->allowed, &out->removed);
	if (mg_fset_is_empty(&out->removed))
		return 0;
	for (size_t i = 0; i < sizeof(planners) / sizeof(planners[0]); i++)
		if (planners[i](in, out, err) != 0)
			return -1;
	return 0;
}

void mg_restriction_free(mg_restriction *r)
{
	for (size_t i = 0; i < r->nenv; i++) {
		free(r->env[i].name);
		free(r->env[i].value);
		free(r->env[i].entry);
	}
	for (size_t i = 0; i < r->nargs; i++)
		free(r->args[i]);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].text);
	}
	for (size_t i = 0; i < r->ncannot; i++)
		free(r->cannot[i]);
	free(r->env);
	free(r->args);
	free(r->files);
	free(r->cannot);
	memset(r, 0, sizeof(*r));
}

/* --- applying it ------------------------------------------------------------------ */

static bool names_var(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char **mg_restrict_environ(const mg_restriction *r, char *const envp[], mg_error *err)
{
	size_t n = 0, k = 0;
	while (envp && envp[n])
		n++;
	char **env = calloc(n + r->nenv + 1, sizeof(*env));
	if (env == NULL) {
		oom(err);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < r->nenv && !replaced; j++)
			replaced = names_var(envp[i], r->env[j].name);
		if (!replaced)
			env[k++] = envp[i];
	}
	for (size_t j = 0; j < r->nenv; j++)
		env[k++] = r->env[j].entry;
	env[k] = NULL;
	return env;
}

char **mg_restrict_argv(const mg_restriction *r, char *const argv[], mg_error *err)
{
	size_t n = 0;
	while (argv[n])
		n++;
	char **out = calloc(n + r->nargs + 1, sizeof(*out));
	if (out == NULL) {
		oom(err);
		return NULL;
	}
	size_t k = 0;
	if (n > 0)
		out[k++] = argv[0];
	for (size_t i = 0; i < r->nargs; i++)
		out[k++] = r->args[i];
	for (size_t i = 1; i < n; i++)
		out[k++] = argv[i];
	out[k] = NULL;
	return out;
}
