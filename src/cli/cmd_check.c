/*
 * cmd_check.c - `migratable check`: verdicts per target.
 *
 *   migratable check (<PID> [--tree] | --requirements FILE... | --criu-dir DIR [--root DIR]
 *                     | --checkpoint FILE [--root DIR])
 *                    [--target FILE|DIR]... [--catalog NAME]... [--prices FILE]
 *                    [--source PROFILE] [--policy workload|criu|criu-like]
 *                    [--cpu-cap fpu,ins,cpu,all] [--method reachable|full]
 *                    [--format table|json|nfd-affinity|html] [--json] [--explain]
 *
 * The output itself (grouped table, JSON, HTML matrix) is src/verdict/report*.c.
 *
 * Exit status: 0 every target compatible, 1 some target incompatible or
 * unknown, 2 bad input, other codes from util/error.h for scan failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "analysis/scan.h"
#include "cli/commands.h"
#include "features/feature_json.h"
#include "features/profile.h"
#include "process/criu_files.h"
#include "process/criu_image.h"
#include "process/image.h"
#include "util/error.h"
#include "util/json.h"
#include "verdict/catalog.h"
#include "verdict/criu_policy.h"
#include "verdict/prices.h"
#include "verdict/report.h"
#include "verdict/verdict.h"

enum policy { POLICY_WORKLOAD, POLICY_CRIU, POLICY_CRIU_LIKE };
enum format { FMT_TABLE, FMT_JSON, FMT_NFD, FMT_HTML };

struct check_opts {
	const char *pid_arg;
	const char **reqs;            /* --requirements, several only for html */
	size_t nreqs;
	const char *prices;
	const char *criu_dir;
	const char *checkpoint;       /* a container checkpoint archive */
	const char *root;
	const char *source_path;
	const char **targets;
	size_t ntargets;
	const char **catalogs;
	size_t ncatalogs;
	enum policy policy;
	unsigned caps;
	enum format format;
	mg_scan_method method;
	unsigned assumptions;          /* --assume: MG_ASSUME_* for the scan */
	bool explain;
	bool tree;
};

struct check_run {
	struct check_opts o;
	mg_scan_result *req;          /* requirements (workload policy, nfd): reqs[0] or a scan */
	mg_scan_result **reqs;        /* one per --requirements */
	mg_price_table prices;
	bool have_prices;
	mg_profile source;
	bool have_source;
	bool source_is_host;          /* no --source and no cpuinfo.img: this machine */
	mg_criu_files *ckpt;          /* --criu-dir or --checkpoint, once opened */
	mg_target_list targets;
	mg_verdict *verdicts;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: migratable check (<PID> [--tree] | --requirements FILE... | --criu-dir DIR [--root DIR]\n"
		"                         | --checkpoint FILE [--root DIR])\n"
		"                        [--target FILE|DIR]... [--catalog NAME]... [--prices FILE]\n"
		"                        [--source PROFILE] [--policy workload|criu|criu-like]\n"
		"                        [--cpu-cap fpu,ins,cpu,all] [--method reachable|full]\n"
		"                        [--format table|json|nfd-affinity|html] [--json] [--explain]\n"
		"\n"
		"Decide, per target, whether the process can be migrated there:\n"
		"compatible, incompatible (with the missing features) or unknown.\n"
		"\n"
		"  <PID>                 scan this live process first\n"
		"  --tree                with <PID>: it and all its descendants (criu dump -t PID)\n"
		"  --requirements FILE   a saved `migratable scan --json` (repeat it for --format html:\n"
		"                        one row per file)\n"
		"  --criu-dir DIR        scan a CRIU checkpoint directory (every process) first; its cpuinfo.img\n"
		"                        (criu dump --cpu-cap) is then the default --source\n"
		"  --checkpoint FILE     a container checkpoint archive (podman container checkpoint\n"
		"                        --export, CRI-O, kubelet): its checkpoint/ images, like --criu-dir\n"
		"  --root DIR            resolve the checkpoint's mapped files under DIR (default /);\n"
		"                        with --checkpoint, the archive's rootfs-diff.tar is laid over it\n"
		"  --target FILE|DIR     profile file (JSON or a CRIU cpuinfo.img), or directory\n"
		"                        of *.json profiles\n"
		"  --catalog NAME        built-in catalog (default: x86-64-levels):\n%s"
		"  --source PROFILE      the source host, JSON or a CRIU cpuinfo.img (default:\n"
		"                        the dump's cpuinfo.img, else this machine)\n"
		"  --policy P            workload (default): the process' own requirements;\n"
		"                        criu: CRIU's cpuinfo check (needs raw CPUID or\n"
		"                        cpuinfo.img words);\n"
		"                        criu-like: CRIU's instruction mask over feature lists\n"
		"  --cpu-cap LIST        CRIU rules to check, read as CRIU reads its --cpu-cap:\n"
		"                        added to the default fpu,ins; ^NAME removes, none clears\n"
		"  --prices FILE         spot prices (`aws ec2 describe-spot-price-history` JSON):\n"
		"                        the table is sorted by price, the cheapest compatible\n"
		"                        target named, JSON targets get \"price\" and \"zone\"\n"
		"  --format F            table (default; one row per group of identical targets),\n"
		"                        json (one entry per target), nfd-affinity (Kubernetes),\n"
		"                        or html (a self-contained compatibility matrix page)\n"
		"  --explain             show the instructions that need each missing feature\n"
		"  --assume NAME[,NAME]  UNSOUND shortcuts for the scan (see migratable scan --help)\n"
		"\n"
		"Exit status: 0 all compatible, 1 some target incompatible or unknown,\n"
		"2 bad input, 7 unreadable or corrupt file (CRIU image, changed library).\n", mg_catalog_help());
}

static int usage_error(const char *msg, const char *arg)
{
	return cli_usage_error("check", msg, arg);
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, struct check_opts *o)
{
	static const struct option longopts[] = {
		{ "requirements", required_argument, NULL, 'r' },
		{ "prices",       required_argument, NULL, 'P' },
		{ "criu-dir",     required_argument, NULL, 'd' },
		{ "checkpoint",   required_argument, NULL, 'k' },
		{ "root",         required_argument, NULL, 'R' },
		{ "target",       required_argument, NULL, 't' },
		{ "catalog",      required_argument, NULL, 'c' },
		{ "source",       required_argument, NULL, 's' },
		{ "policy",       required_argument, NULL, 'p' },
		{ "cpu-cap",      required_argument, NULL, 'C' },
		{ "format",       required_argument, NULL, 'f' },
		{ "method",       required_argument, NULL, 'm' },
		{ "assume",       required_argument, NULL, 'A' },
		{ "json",         no_argument,       NULL, 'j' },
		{ "explain",      no_argument,       NULL, 'e' },
		{ "tree",         no_argument,       NULL, 'T' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	mg_error err = { 0 };
	int c;

	o->caps = MG_CRIU_CAP_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P': o->prices = optarg; break;
		case 'r':
			if (cli_push(&o->reqs, &o->nreqs, optarg))
				return MG_ERR_INTERNAL;
			break;
		case 'd': o->criu_dir = optarg; break;
		case 'k': o->checkpoint = optarg; break;
		case 'R': o->root = optarg; break;
		case 's': o->source_path = optarg; break;
		case 'j': o->format = FMT_JSON; break;
		case 'e': o->explain = true; break;
		case 'T': o->tree = true; break;
		case 'h': usage(stdout); return MG_OK;
		case 't':
			if (cli_push(&o->targets, &o->ntargets, optarg))
				return MG_ERR_INTERNAL;
			break;
		case 'c':
			if (cli_push(&o->catalogs, &o->ncatalogs, optarg))
				return MG_ERR_INTERNAL;
			break;
		case 'p':
			if (strcmp(optarg, "workload") == 0) o->policy = POLICY_WORKLOAD;
			else if (strcmp(optarg, "criu") == 0) o->policy = POLICY_CRIU;
			else if (strcmp(optarg, "criu-like") == 0) o->policy = POLICY_CRIU_LIKE;
			else return usage_error("unknown policy (workload, criu, criu-like)", optarg);
			break;
		case 'C':
			if (mg_criu_parse_caps(optarg, &o->caps, &err) != 0)
				return usage_error(err.msg, NULL);
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0) o->format = FMT_TABLE;
			else if (strcmp(optarg, "json") == 0) o->format = FMT_JSON;
			else if (strcmp(optarg, "nfd-affinity") == 0) o->format = FMT_NFD;
			else if (strcmp(optarg, "html") == 0) o->format = FMT_HTML;
			else return usage_error("unknown format (table, json, nfd-affinity, html)", optarg);
			break;
		case 'A':
			if (cli_parse_assume(optarg, &o->assumptions) != 0)
				return MG_ERR_USAGE;
			break;
		case 'm':
			if (strcmp(optarg, "reachable") == 0) o->method = MG_METHOD_REACHABLE;
			else if (strcmp(optarg, "full") == 0) o->method = MG_METHOD_FULL;
			else return usage_error("unknown method (reachable, full)", optarg);
			break;
		default:
			return usage_error("unknown or incomplete option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->pid_arg = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);

	int inputs = !!o->pid_arg + !!o->nreqs + !!o->criu_dir + !!o->checkpoint;
	if (inputs > 1)
		return usage_error("give one of <PID>, --requirements, --criu-dir or --checkpoint", NULL);
	if (o->nreqs > 1 && o->format != FMT_HTML)
		return usage_error("several --requirements go with --format html (one row each)", NULL);
	if (o->format == FMT_HTML && o->policy != POLICY_WORKLOAD)
		return usage_error("--format html shows the workload policy", NULL);
	if (o->prices && o->format == FMT_NFD)
		return usage_error("--prices has no place in an nfd-affinity block", NULL);
	if (o->root && !o->criu_dir && !o->checkpoint)
		return usage_error("--root goes with --criu-dir or --checkpoint", NULL);
	if (o->tree && !o->pid_arg)
		return usage_error("--tree goes with a PID (--criu-dir always checks every process)",
				   NULL);
	bool needs_req = o->policy == POLICY_WORKLOAD || o->format == FMT_NFD ||
			 o->format == FMT_HTML;
	if (inputs == 0 && needs_req)
		return usage_error("what to check? give <PID>, --requirements FILE, --criu-dir DIR "
				   "or --checkpoint FILE", NULL);
	return -1;
}

/* --- inputs ---------------------------------------------------------------------- */

/* The checkpoint (--criu-dir or --checkpoint), opened once. */
static int open_checkpoint(struct check_run *r, mg_error *err)
{
	if (r->ckpt != NULL)
		return 0;
	if (r->o.checkpoint)
		return mg_criu_files_open_archive(r->o.checkpoint, r->o.root, &r->ckpt, err);
	return mg_criu_files_open_dir(r->o.criu_dir, r->o.root, &r->ckpt, err);
}

/*
 * The CPU the process ran on: --source, else the dump's cpuinfo.img
 * (written by `criu dump --cpu-cap` or `criu cpuinfo dump -D DIR`), else
 * this machine.  For a dump without cpuinfo.img that is a guess, and a
 * wrong one can hide code the process selected on its real source CPU.
 */
static int load_source(struct check_run *r, mg_error *err)
{
	mg_profile_init(&r->source);
	r->have_source = true;
	if (r->o.source_path)
		return mg_profile_load_file(r->o.source_path, &r->source, err);
	if (r->o.criu_dir || r->o.checkpoint) {
		bool present;
		if (open_checkpoint(r, err) != 0 ||
		    mg_criu_files_cpuinfo(r->ckpt, &r->source, &present, err) != 0)
			return -1;
		if (present)
			return 0;
		fprintf(stderr, "migratable: warning: %s has no cpuinfo.img (dump with --cpu-cap, "
			"or run `criu cpuinfo dump -D DIR` on the source): every feature counts "
			"as usable on the source; the CRIU policies take this host as the "
			"source\n", r->ckpt->name);
	}
	r->source_is_host = true;
	return mg_host_profile(&r->source, "this host", err);
}

/* The scan options for the source; *usable and *undecided must outlive
 * them. */
static mg_scan_options scan_options(const struct check_run *r, mg_feature_set *usable,
				    mg_feature_set *undecided)
{
	/* The scan keeps the instructions the source CPU can run.  A feature
	 * the source profile cannot decide (a cpuinfo.img does not record
	 * CPUID.(7,1), ...) may have been selected there: count it usable,
	 * which can only widen the requirements. */
	*undecided = r->source.unknown;
	mg_fset_subtract(undecided, &r->source.features);
	*usable = r->source.features;
	mg_fset_union(usable, undecided);
	/* A dump without cpuinfo.img may be checked on the destination:
	 * this machine says nothing about the source, so (as scan does)
	 * count every feature usable, which only widens the answer. */
	if ((r->o.criu_dir || r->o.checkpoint) && r->source_is_host)
		for (size_t f = 0; f < mg_feature_count(); f++) {
			mg_fset_add(usable, (mg_feature_id)f);
			mg_fset_add(undecided, (mg_feature_id)f);
		}
	return (mg_scan_options){
		.method = r->o.method,
		.assumptions = r->o.assumptions,
		.explain = MG_FEATURE_NONE,
		.host_features = usable,    /* the source profile is already read */
		.host_undecided = undecided,
	};
}

static int scan_image(struct check_run *r, mg_image *img, mg_error *err)
{
	mg_feature_set usable, undecided;
	mg_scan_options so = scan_options(r, &usable, &undecided);
	int rc = mg_scan_image(img, &so, &r->req, err);
	mg_image_free(img);
	return rc;
}

/* Every process of the dump: criu restore runs them all. */
static int scan_dump(struct check_run *r, mg_error *err)
{
	mg_feature_set usable, undecided;
	mg_scan_options so = scan_options(r, &usable, &undecided);
	if (open_checkpoint(r, err) != 0)
		return -1;
	return mg_scan_criu_files(r->ckpt, r->ckpt->name, &so, &r->req, err);
}

static int load_requirements(struct check_run *r, mg_error *err)
{
	mg_image *img = NULL;

	if (r->o.nreqs) {
		if ((r->reqs = calloc(r->o.nreqs, sizeof(*r->reqs))) == NULL)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		for (size_t i = 0; i < r->o.nreqs; i++)
			if (mg_scan_result_load(r->o.reqs[i], &r->reqs[i], err) != 0)
				return -1;
		r->req = r->reqs[0];
		return 0;
	}
	if (r->o.pid_arg == NULL && r->o.criu_dir == NULL && r->o.checkpoint == NULL)
		return 0;
	if (r->o.pid_arg) {
		pid_t pid;
		if (cli_parse_pid(r->o.pid_arg, &pid) != 0)
			return mg_fail(err, MG_ERR_USAGE, "'%s' is not a PID", r->o.pid_arg);
		mg_live_options lo = { .read_sigactions = true, .isolate = true };
		mg_live_install_signal_guard();
		if (r->o.tree) {
			mg_feature_set usable, undecided;
			mg_scan_options so = scan_options(r, &usable, &undecided);
			return mg_scan_live_tree(pid, &lo, &so, &r->req, err);
		}
		if (mg_live_open(pid, &lo, &img, err) != 0)
			return -1;
	} else {
		return scan_dump(r, err);
	}
	return scan_image(r, img, err);
}

/* A PID given to a CRIU policy is not scanned, but must name a process. */
static int check_pid_exists(const char *arg, mg_error *err)
{
	pid_t pid;
	char path[32];
	if (cli_parse_pid(arg, &pid) != 0)
		return mg_fail(err, MG_ERR_USAGE, "'%s' is not a PID", arg);
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (access(path, F_OK) != 0)
		return mg_fail(err, MG_ERR_NO_PROCESS, "no such process: %d", (int)pid);
	return 0;
}

static int load_targets(struct check_run *r, mg_error *err)
{
	for (size_t i = 0; i < r->o.ntargets; i++) {
		/* A file or directory of profiles; a cpuinfo.img from
		 * `criu cpuinfo dump` run on a destination describes it. */
		if (mg_targets_load_path(r->o.targets[i], &r->targets, err) != 0)
			return -1;
	}
	for (size_t i = 0; i < r->o.ncatalogs; i++)
		if (mg_catalog_load(r->o.catalogs[i], &r->targets, err) != 0)
			return -1;
	if (r->o.ntargets == 0 && r->o.ncatalogs == 0 &&
	    mg_catalog_load("x86-64-levels", &r->targets, err) != 0)
		return -1;
	/* A newer catalog may name features this build does not know: they
	 * are ignored (the target looks less capable, never more), but say so. */
	for (size_t i = 0; i < r->targets.count; i++) {
		const mg_profile *t = &r->targets.items[i];
		if (t->ignored_names)
			fprintf(stderr, "migratable: warning: %s: %zu feature name(s) unknown to "
				"this build ignored (first: %s)\n", t->name, t->ignored_names,
				t->first_ignored ? t->first_ignored : "?");
	}
	return 0;
}

/* --- verdicts -------------------------------------------------------------------- */

static void decide(struct check_run *r)
{
	for (size_t i = 0; i < r->targets.count; i++) {
		const mg_profile *t = &r->targets.items[i];
		mg_verdict *v = &r->verdicts[i];
		switch (r->o.policy) {
		case POLICY_WORKLOAD:
			mg_verdict_scan(r->req, t, v);
			break;
		case POLICY_CRIU:
			mg_verdict_criu(&r->source, t, r->o.caps, v);
			break;
		case POLICY_CRIU_LIKE:
			mg_verdict_criu_like(&r->source, t, v);
			break;
		}
	}
}

static const char *policy_name(const struct check_run *r)
{
	switch (r->o.policy) {
	case POLICY_WORKLOAD:  return "workload";
	case POLICY_CRIU:      return "criu";
	case POLICY_CRIU_LIKE: return "criu-like";
	}
	return "?";
}

static const char *source_name(const struct check_run *r)
{
	if (r->o.policy == POLICY_WORKLOAD && r->req)
		return r->req->source ? r->req->source
				      : (r->o.nreqs ? r->o.reqs[0] : "?");
	return r->source.name ? r->source.name : "this host";
}

/* --- output ---------------------------------------------------------------------- */

static mg_report report_of(const struct check_run *r)
{
	return (mg_report){
		.source = source_name(r), .policy = policy_name(r), .targets = &r->targets,
		.verdicts = r->verdicts, .prices = r->have_prices ? &r->prices : NULL,
		.req = r->req, .explain = r->o.explain,
	};
}

static int print_json(const struct check_run *r, mg_error *err)
{
	mg_report rep = report_of(r);
	json_object *root = mg_report_json(&rep, err);
	if (root == NULL)
		return -1;
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = s ? (puts(s) < 0 ? -1 : 0) : -1;
	json_object_put(root);
	return rc == 0 ? 0 : mg_fail(err, MG_ERR_INTERNAL, "cannot write JSON output");
}

/* A workload's name in the matrix: its file's name without ".json". */
static char *workload_name(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return strndup(base, n);
}

/* --format html: every --requirements file (and a scanned PID or dump) is a row. */
static int print_html(struct check_run *r, mg_error *err)
{
	size_t n = r->o.nreqs + (r->req && r->o.nreqs == 0);
	mg_workload *w = calloc(n ? n : 1, sizeof(*w));
	char **names = calloc(n ? n : 1, sizeof(*names));
	int rc = 0;

	if (w == NULL || names == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const mg_scan_result *req = r->o.nreqs ? r->reqs[i] : r->req;
		names[i] = r->o.nreqs ? workload_name(r->o.reqs[i]) : strdup(source_name(r));
		if (names[i] == NULL) {
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			goto out;
		}
		w[i] = (mg_workload){ .name = names[i], .required = &req->required };
	}
	rc = mg_report_html(stdout, "migratable: compatibility matrix", w, n, &r->targets,
			    r->have_prices ? &r->prices : NULL, err);
out:
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(w);
	return rc;
}

static int print_affinity(const struct check_run *r, mg_error *err)
{
	char *warnings = NULL;
	char *yaml = mg_nfd_affinity_yaml(&r->req->required, &warnings, err);
	if (yaml == NULL)
		return -1;
	fputs(yaml, stdout);
	if (warnings) {
		char *line = warnings, *nl;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			fprintf(stderr, "migratable: warning: %s\n", line);
			line = nl + 1;
		}
	}
	free(warnings);
	free(yaml);
	return 0;
}

/* --- main ------------------------------------------------------------------------ */

static void print_warnings(const mg_scan_result *req)
{
	for (size_t i = 0; req && i < req->nwarnings; i++)
		fprintf(stderr, "migratable: warning: %s\n", req->warnings[i]);
}

static int run(struct check_run *r, mg_error *err)
{
	size_t counts[3];

	/* The source is needed by the CRIU policies, and by a scan (its
	 * features bound the requirements), nfd-affinity output included. */
	if ((r->o.policy != POLICY_WORKLOAD && r->o.format != FMT_NFD) || r->o.pid_arg ||
	    r->o.criu_dir || r->o.checkpoint || r->o.source_path) {
		if (load_source(r, err) != 0)
			return -1;
	}
	/* The CRIU policies compare hosts: scanning a process or dump is
	 * needed only to explain a verdict by its instructions. */
	if (r->o.policy == POLICY_WORKLOAD || r->o.format == FMT_NFD || r->o.explain) {
		if (load_requirements(r, err) != 0)
			return -1;
	} else if (r->o.pid_arg && check_pid_exists(r->o.pid_arg, err) != 0) {
		return -1;
	}
	if (r->reqs)     /* NULL when a CRIU policy had no need to read them */
		for (size_t i = 0; i < r->o.nreqs; i++)
			print_warnings(r->reqs[i]);
	else
		print_warnings(r->req);
	if (r->o.format == FMT_NFD)
		return print_affinity(r, err) == 0 ? MG_OK : -1;

	if (load_targets(r, err) != 0)
		return -1;
	if (r->o.prices) {
		if (mg_prices_load(r->o.prices, &r->prices, err) != 0)
			return -1;
		r->have_prices = true;
	}
	if (r->o.format == FMT_HTML)     /* a page, not a verdict: 0 once written */
		return print_html(r, err) == 0 ? MG_OK : -1;
	r->verdicts = calloc(r->targets.count ? r->targets.count : 1, sizeof(*r->verdicts));
	if (r->verdicts == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	decide(r);
	mg_report rep = report_of(r);
	mg_report_counts(&rep, counts);
	if (r->o.format == FMT_JSON) {
		if (print_json(r, err) != 0)
			return -1;
	} else if (mg_report_table(stdout, &rep, err) != 0) {
		return -1;
	}
	return counts[0] == r->targets.count ? MG_OK : MG_INCOMPATIBLE;
}

int cmd_check(int argc, char **argv)
{
	struct check_run r;
	mg_error err = { 0 };
	int rc;

	memset(&r, 0, sizeof(r));
	rc = parse_args(argc, argv, &r.o);
	if (rc < 0) {
		rc = run(&r, &err);
		if (rc < 0)
			rc = cli_report(&err);
	}
	free(r.verdicts);
	mg_target_list_free(&r.targets);
	if (r.have_source)
		mg_profile_free(&r.source);
	mg_criu_files_free(r.ckpt);
	if (r.reqs) {
		for (size_t i = 0; i < r.o.nreqs; i++)
			mg_scan_result_free(r.reqs[i]);
		free(r.reqs);
	} else {
		mg_scan_result_free(r.req);
	}
	if (r.have_prices)
		mg_price_table_free(&r.prices);
	free(r.o.reqs);
	free(r.o.targets);
	free(r.o.catalogs);
	return rc;
}
