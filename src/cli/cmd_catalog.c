/*
 * cmd_catalog.c - `migratable catalog`: the target catalogs there are.
 *
 *   migratable catalog list [--json]
 *   migratable catalog show NAME [--json]
 *   migratable catalog groups NAME [--json]
 *   migratable catalog build PATH... -o NAME|FILE [--name N] [--alias A]...
 *                    [--description TEXT] [--provenance TEXT] [--date DATE]
 *
 * The catalogs themselves are src/verdict/catalog*.c; docs/catalogs.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/commands.h"
#include "features/feature_json.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json.h"
#include "verdict/catalog.h"
#include "verdict/catalog_files.h"
#include "verdict/groups.h"
#include "verdict/verdict.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: migratable catalog list [--json]\n"
		"       migratable catalog show NAME [--json]\n"
		"       migratable catalog groups NAME [--json]\n"
		"       migratable catalog build PATH... -o NAME|FILE.json [--name NAME] [--alias A]...\n"
		"                                [--description TEXT] [--provenance TEXT] [--date DATE]\n"
		"\n"
		"  list     the catalogs `check --catalog` takes: built in, installed, your own\n"
		"  show     a catalog's origin and its targets (--json: as a catalog file)\n"
		"  groups   its distinct feature sets and the targets that share each\n"
		"  build    a catalog from `migratable host --json` profiles and CRIU\n"
		"           cpuinfo.img files (fleet/HOST/cpuinfo.img is named HOST) found\n"
		"           under PATH...; -o NAME writes %s/NAME.json,\n"
		"           -o FILE.json (or a path) that file; --date defaults to today\n"
		"\n"
		"Exit status: 0 ok, 2 bad arguments or input, 7 unreadable file.\n",
		mg_catalog_user_dir() ? mg_catalog_user_dir() : "$XDG_DATA_HOME/migratable/catalogs");
}

static int usage_error(const char *msg, const char *arg)
{
	return cli_usage_error("catalog", msg, arg);
}

static int print_json(json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	int rc = s && puts(s) >= 0 ? MG_OK : MG_ERR_INTERNAL;
	json_object_put(o);
	if (rc != MG_OK)
		fprintf(stderr, "migratable: out of memory writing JSON\n");
	return rc;
}

/* --- list ------------------------------------------------------------------------- */

struct builtin {
	const char *name, *what;
	bool count;      /* load it to count its targets */
};

static const struct builtin builtins[] = {
	{ "x86-64-levels", "the four x86-64 psABI levels (x86-64-v1 .. x86-64-v4 one each)", true },
	{ "host", "this machine", true },
	{ "libvirt", "libvirt's x86 CPU models (" MG_LIBVIRT_CPU_MAP "; libvirt:DIR another)", true },
	{ "nfd:FILE", "Kubernetes nodes of `kubectl get nodes -o json` (NFD labels)", false },
};

static json_object *list_entry(const char *name, long targets, long groups, const char *kind,
			       const mg_catalog_meta *m, const char *what)
{
	json_object *o = json_object_new_object(), *a = NULL;
	if (o == NULL || mg_json_add(o, "name", json_object_new_string(name)) ||
	    mg_json_add(o, "kind", json_object_new_string(kind)) ||
	    mg_json_add(o, "aliases", a = json_object_new_array()) ||
	    (targets >= 0 && mg_json_add(o, "targets", json_object_new_int64(targets))) ||
	    (groups >= 0 && mg_json_add(o, "groups", json_object_new_int64(groups))) ||
	    (what && mg_json_add(o, "description", json_object_new_string(what))))
		goto fail;
	for (size_t i = 0; m && i < m->naliases; i++)
		if (mg_json_append(a, json_object_new_string(m->aliases[i])))
			goto fail;
	if (m && ((m->path && mg_json_add(o, "path", json_object_new_string(m->path))) ||
		  (m->provenance && mg_json_add(o, "provenance", json_object_new_string(m->provenance))) ||
		  (m->date && mg_json_add(o, "date", json_object_new_string(m->date)))))
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/* Targets and groups of a built-in catalog; -1 each when it cannot load here. */
static void count_builtin(const struct builtin *b, long *targets, long *groups)
{
	mg_target_list l = { 0 };
	mg_group_list g = { 0 };
	mg_error err = { 0 };
	*targets = *groups = -1;
	if (b->count && mg_catalog_load(b->name, &l, &err) == 0 &&
	    mg_group_targets(&l, NULL, &g, &err) == 0) {
		*targets = (long)l.count;
		*groups = (long)g.count;
	}
	mg_group_list_free(&g);
	mg_target_list_free(&l);
}

static int cmd_list(bool json)
{
	mg_catalog_meta *files;
	size_t n;
	mg_error err = { 0 };
	json_object *arr = json ? json_object_new_array() : NULL;

	if (mg_catalog_list_files(&files, &n, &err) != 0) {
		json_object_put(arr);
		return cli_report(&err);
	}
	if (!json)
		printf("%-24s %7s %6s  %s\n", "NAME", "TARGETS", "GROUPS", "WHAT");
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		long t, g;
		count_builtin(&builtins[i], &t, &g);
		if (json) {
			mg_json_append(arr, list_entry(builtins[i].name, t, g, "built-in", NULL,
						       builtins[i].what));
			continue;
		}
		char ts[24] = "-", gs[24] = "-";
		if (t >= 0) {
			snprintf(ts, sizeof(ts), "%ld", t);
			snprintf(gs, sizeof(gs), "%ld", g);
		}
		printf("%-24s %7s %6s  %s%s\n", builtins[i].name, ts, gs, builtins[i].what,
		       builtins[i].count && t < 0 ? " [not available here]" : "");
	}
	for (size_t i = 0; i < n; i++) {
		const mg_catalog_meta *m = &files[i];
		if (json) {
			mg_json_append(arr, list_entry(m->name, (long)m->ntargets, (long)m->ngroups, "file",
						       m, m->description));
		} else {
			char name[96];
			snprintf(name, sizeof(name), "%s%s%s%s", m->name, m->naliases ? " (" : "",
				 m->naliases ? m->aliases[0] : "", m->naliases ? ")" : "");
			printf("%-24s %7zu %6zu  %s%s%s\n", name, m->ntargets, m->ngroups,
			       m->description ? m->description : "", m->date ? "; " : "",
			       m->date ? m->date : "");
			printf("%-24s %7s %6s  %s\n", "", "", "", m->path);
		}
		mg_catalog_meta_free(&files[i]);
	}
	free(files);
	return json ? print_json(arr) : MG_OK;
}

/* --- show, groups ----------------------------------------------------------------- */

/* Load any catalog check takes; its file's metadata when it is one. */
static int load_named(const char *name, mg_target_list *l, mg_catalog_meta *meta, mg_error *err)
{
	char *path = NULL;
	memset(meta, 0, sizeof(*meta));
	int found = mg_catalog_is_path(name) ? 1 : mg_catalog_find(name, &path, err);
	if (found < 0)
		return -1;
	if (found > 0) {
		int rc = mg_catalog_read(path ? path : name, meta, l, err);
		free(path);
		return rc;
	}
	if (mg_catalog_load(name, l, err) != 0)
		return -1;
	meta->name = strdup(name);
	meta->ntargets = l->count;
	return meta->name ? 0 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
}

static void print_meta(const mg_catalog_meta *m, size_t ngroups)
{
	printf("catalog:     %s", m->name);
	for (size_t i = 0; i < m->naliases; i++)
		printf("%s%s", i ? ", " : " (alias ", m->aliases[i]);
	printf("%s\n", m->naliases ? ")" : "");
	if (m->path)
		printf("file:        %s\n", m->path);
	if (m->description)
		printf("description: %s\n", m->description);
	if (m->provenance)
		printf("provenance:  %s\n", m->provenance);
	if (m->date)
		printf("date:        %s\n", m->date);
	printf("targets:     %zu in %zu groups of identical feature sets\n", m->ntargets, ngroups);
}

/* The x86-64 level, counting what long mode implies (as verdicts do):
 * lists derived from partial data omit cx8 and syscall. */
static int level_of(const mg_profile *p)
{
	mg_feature_set f = p->features;
	mg_fset_add_long_mode_implied(&f);
	return mg_x86_64_level_of(&f);
}

/* One number per target: its group's, G1 first. */
static size_t *group_of(const mg_group_list *g, size_t ntargets)
{
	size_t *of = calloc(ntargets ? ntargets : 1, sizeof(*of));
	for (size_t j = 0; of && j < g->count; j++)
		for (size_t k = 0; k < g->items[j].count; k++)
			of[g->items[j].members[k]] = j + 1;
	return of;
}

static int show_table(const mg_catalog_meta *m, const mg_target_list *l, const mg_group_list *g)
{
	size_t *of = group_of(g, l->count);
	int width = 6;
	if (of == NULL)
		return MG_ERR_INTERNAL;
	for (size_t i = 0; i < l->count; i++)
		if ((int)strlen(l->items[i].name) > width)
			width = (int)strlen(l->items[i].name);
	print_meta(m, g->count);
	printf("\n%-*s  %-5s  %8s  %7s  %s\n", width, "TARGET", "LEVEL", "FEATURES", "UNKNOWN", "GROUP");
	for (size_t i = 0; i < l->count; i++)
		printf("%-*s  v%-4d  %8zu  %7zu  G%zu\n", width, l->items[i].name,
		       level_of(&l->items[i]), mg_fset_count(&l->items[i].features),
		       mg_fset_count(&l->items[i].unknown), of[i]);
	free(of);
	return MG_OK;
}

static int cmd_show(const char *name, bool json)
{
	mg_target_list l = { 0 };
	mg_group_list g = { 0 };
	mg_catalog_meta m;
	mg_error err = { 0 };
	int rc;

	if (load_named(name, &l, &m, &err) != 0 || mg_group_targets(&l, NULL, &g, &err) != 0) {
		rc = cli_report(&err);
	} else if (json) {
		/* As a catalog file: `catalog show libvirt --json` is one too. */
		char *text = mg_catalog_to_json(&m, &l, &err);
		rc = text ? (fputs(text, stdout) < 0 ? MG_ERR_IO : MG_OK) : cli_report(&err);
		free(text);
	} else {
		rc = show_table(&m, &l, &g);
	}
	mg_group_list_free(&g);
	mg_target_list_free(&l);
	mg_catalog_meta_free(&m);
	return rc;
}

/* Names, wrapped at 100 columns under a 4-space indent. */
static void print_members(const mg_target_list *l, const mg_group *g)
{
	size_t col = 0;
	for (size_t k = 0; k < g->count; k++) {
		const char *n = l->items[g->members[k]].name;
		if (col == 0 || col + 1 + strlen(n) > 100) {
			printf("%s    %s", col ? "\n" : "", n);
			col = 4 + strlen(n);
		} else {
			printf(" %s", n);
			col += 1 + strlen(n);
		}
	}
	printf("\n");
}

static void print_fset(const char *label, const mg_feature_set *s)
{
	char *names = mg_fset_to_string(s);
	printf("    %s: %s\n", label, names && names[0] ? names : "(none)");
	free(names);
}

static json_object *groups_json(const mg_catalog_meta *m, const mg_target_list *l,
				const mg_group_list *g)
{
	json_object *root = json_object_new_object(), *arr = NULL;
	if (root == NULL || mg_json_add(root, "name", json_object_new_string(m->name)) ||
	    mg_json_add(root, "targets", json_object_new_int64((int64_t)l->count)) ||
	    mg_json_add(root, "groups", arr = json_object_new_array()))
		goto fail;
	for (size_t j = 0; j < g->count; j++) {
		const mg_profile *p = &l->items[g->items[j].members[0]];
		json_object *o = json_object_new_object(), *mem = NULL;
		char id[32];
		char *label = mg_group_label(l, &g->items[j], 60);
		snprintf(id, sizeof(id), "G%zu", j + 1);
		int bad = mg_json_append(arr, o) || label == NULL ||
			  mg_json_add(o, "group", json_object_new_string(id)) ||
			  mg_json_add(o, "label", json_object_new_string(label)) ||
			  mg_json_add(o, "x86_64_level", json_object_new_int(level_of(p))) ||
			  mg_json_add(o, "features", mg_fset_to_json(&p->features)) ||
			  mg_json_add(o, "unknown", mg_fset_to_json(&p->unknown)) ||
			  mg_json_add(o, "members", mem = json_object_new_array());
		free(label);
		if (bad)
			goto fail;
		for (size_t k = 0; k < g->items[j].count; k++)
			if (mg_json_append(mem, json_object_new_string(l->items[g->items[j].members[k]].name)))
				goto fail;
	}
	return root;
fail:
	json_object_put(root);
	return NULL;
}

static int cmd_groups(const char *name, bool json)
{
	mg_target_list l = { 0 };
	mg_group_list g = { 0 };
	mg_catalog_meta m;
	mg_error err = { 0 };
	int rc = MG_OK;

	if (load_named(name, &l, &m, &err) != 0 || mg_group_targets(&l, NULL, &g, &err) != 0) {
		rc = cli_report(&err);
		goto out;
	}
	if (json) {
		rc = print_json(groups_json(&m, &l, &g));
		goto out;
	}
	if (g.count == 0)
		goto out;
	mg_feature_set common = l.items[g.items[0].members[0]].features;
	for (size_t j = 1; j < g.count; j++)
		mg_fset_intersect(&common, &l.items[g.items[j].members[0]].features);
	printf("%s: %zu targets in %zu groups of identical features and unknown lists\n",
	       m.name, l.count, g.count);
	print_fset("every group has", &common);
	for (size_t j = 0; j < g.count; j++) {
		const mg_profile *p = &l.items[g.items[j].members[0]];
		mg_feature_set extra = p->features;
		mg_fset_subtract(&extra, &common);
		printf("\nG%zu: %zu target%s, x86-64-v%d, %zu features\n", j + 1, g.items[j].count,
		       g.items[j].count == 1 ? "" : "s", level_of(p),
		       mg_fset_count(&p->features));
		print_members(&l, &g.items[j]);
		print_fset("features beyond every group's", &extra);
		if (!mg_fset_is_empty(&p->unknown))
			print_fset("unknown", &p->unknown);
	}
out:
	mg_group_list_free(&g);
	mg_target_list_free(&l);
	mg_catalog_meta_free(&m);
	return rc;
}

/* --- build ------------------------------------------------------------------------ */

struct build_opts {
	const char *output, *name, *description, *provenance, *date;
	const char *aliases[MG_CATALOG_MAX_ALIASES];
	size_t naliases;
};

/* mkdir -p */
static int make_dirs(const char *dir, mg_error *err)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return mg_fail(err, MG_ERR_USAGE, "%s: path too long", dir);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return mg_fail(err, MG_ERR_IO, "%s: %s", buf, strerror(errno));
		if (c == '\0')
			return 0;
		*p = c;
	}
}

/* Where -o writes, and the catalog's default name. */
static int output_path(const struct build_opts *b, char **path, char **name, mg_error *err)
{
	if (mg_catalog_is_path(b->output)) {
		const char *base = strrchr(b->output, '/') ? strrchr(b->output, '/') + 1 : b->output;
		size_t n = strlen(base);
		*path = strdup(b->output);
		*name = strndup(base, n > 5 && strcmp(base + n - 5, ".json") == 0 ? n - 5 : n);
	} else {
		const char *dir = mg_catalog_user_dir();
		if (dir == NULL)
			return mg_fail(err, MG_ERR_USAGE, "-o %s: no HOME or XDG_DATA_HOME to put "
				       "it under; give a FILE.json", b->output);
		if (make_dirs(dir, err) != 0)
			return -1;
		if (asprintf(path, "%s/%s.json", dir, b->output) < 0)
			*path = NULL;
		*name = strdup(b->output);
	}
	return *path && *name ? 0 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
}

static int write_catalog(const char *path, const char *text, mg_error *err)
{
	char *tmp;
	FILE *f = mg_atomic_open(path, &tmp, err);
	if (f == NULL)
		return -1;
	fputs(text, f);      /* a failed write sets the stream's error: checked there */
	return mg_atomic_close(f, tmp, path, true, err);
}

static int build(const struct build_opts *b, char **inputs, int ninputs, mg_error *err)
{
	mg_target_list l = { 0 };
	mg_catalog_meta meta = { 0 }, check;
	mg_target_list back = { 0 };
	char *path = NULL, *text = NULL, today[16];
	int rc = -1;

	for (int i = 0; i < ninputs; i++)
		if (mg_targets_collect(inputs[i], &l, err) != 0)
			goto out;
	if (l.count == 0) {
		mg_fail(err, MG_ERR_USAGE, "no profiles (*.json, cpuinfo.img) under %s", inputs[0]);
		goto out;
	}
	for (size_t i = 0; i < l.count; i++)
		if (l.items[i].ignored_names)
			fprintf(stderr, "migratable: warning: %s: %zu feature name(s) unknown to this "
				"build ignored (first: %s)\n", l.items[i].origin ? l.items[i].origin : "?",
				l.items[i].ignored_names, l.items[i].first_ignored ? l.items[i].first_ignored : "?");
	if (output_path(b, &path, &meta.name, err) != 0)
		goto out;
	if (b->name) {
		free(meta.name);
		meta.name = strdup(b->name);
	}
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL || strftime(today, sizeof(today), "%Y-%m-%d", &tm) == 0)
		snprintf(today, sizeof(today), "unknown");
	meta.date = strdup(b->date ? b->date : today);
	meta.description = b->description ? strdup(b->description) : NULL;
	if (b->provenance)
		meta.provenance = strdup(b->provenance);
	else if (asprintf(&meta.provenance, "`migratable catalog build` from %zu profiles", l.count) < 0)
		meta.provenance = NULL;
	for (size_t i = 0; i < b->naliases; i++)
		meta.aliases[meta.naliases++] = strdup(b->aliases[i]);
	if ((text = mg_catalog_to_json(&meta, &l, err)) == NULL)
		goto out;
	/* Read it back: what we write must be what check reads (names, limits). */
	if (mg_catalog_parse(text, strlen(text), path, &check, &back, err) != 0)
		goto out;
	if (write_catalog(path, text, err) == 0) {
		printf("wrote %s: catalog %s, %zu targets in %zu groups\n", path, check.name,
		       check.ntargets, check.ngroups);
		rc = 0;
	}
	mg_catalog_meta_free(&check);
out:
	mg_target_list_free(&back);
	mg_target_list_free(&l);
	mg_catalog_meta_free(&meta);
	free(path);
	free(text);
	return rc;
}

static int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "alias", required_argument, NULL, 'a' },
		{ "description", required_argument, NULL, 'd' },
		{ "provenance", required_argument, NULL, 'p' },
		{ "date", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct build_opts b = { 0 };
	mg_error err = { 0 };
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': b.output = optarg; break;
		case 'n': b.name = optarg; break;
		case 'd': b.description = optarg; break;
		case 'p': b.provenance = optarg; break;
		case 'D': b.date = optarg; break;
		case 'a':
			if (b.naliases == MG_CATALOG_MAX_ALIASES)
				return usage_error("too many --alias", optarg);
			b.aliases[b.naliases++] = optarg;
			break;
		case 'h': usage(stdout); return MG_OK;
		default: return usage_error("unknown or incomplete option", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("build what? give directories or files of profiles", NULL);
	if (b.output == NULL || b.output[0] == '\0')
		return usage_error("give -o NAME or -o FILE.json", NULL);
	return build(&b, argv + optind, argc - optind, &err) == 0 ? MG_OK : cli_report(&err);
}

int cmd_catalog(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("give list, show NAME, groups NAME or build", NULL);
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		usage(stdout);
		return MG_OK;
	}
	if (strcmp(sub, "build") == 0)
		return cmd_build(argc - 1, argv + 1);

	bool json = false;
	const char *name = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage_error("unknown option", argv[i]);
		else if (name == NULL)
			name = argv[i];
		else
			return usage_error("unexpected argument", argv[i]);
	}
	if (strcmp(sub, "list") == 0)
		return name ? usage_error("list takes no name", name) : cmd_list(json);
	if (strcmp(sub, "show") != 0 && strcmp(sub, "groups") != 0)
		return usage_error("unknown subcommand (list, show, groups, build)", sub);
	if (name == NULL)
		return usage_error("which catalog? (`migratable catalog list`)", NULL);
	return strcmp(sub, "show") == 0 ? cmd_show(name, json) : cmd_groups(name, json);
}
