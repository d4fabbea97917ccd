/*
 * cmd_scan.c - `migratable scan`: the CPU features a process can still need.
 *
 *   migratable scan <PID> [--tree] [--method reachable|full] [--json] [--explain FEATURE]
 *   migratable scan --criu-dir DIR [--root DIR] [...]   (every process of the dump)
 *   migratable scan --checkpoint FILE [--root DIR] [...]  (a container checkpoint archive)
 *   migratable scan [options] -- COMMAND [ARGS...]   (start it, scan, stop it)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/scan.h"
#include "cli/commands.h"
#include "features/profile.h"
#include "process/criu_files.h"
#include "process/criu_image.h"
#include "process/image.h"
#include "util/file.h"
#include "verdict/restore_guard.h"

struct scan_args {
	pid_t pid;
	const char *criu_dir;
	const char *checkpoint;
	const char *root;
	const char *output;
	bool json;
	bool tree;
	bool save;
	int wait_ms;
	bool wait_given;
	char **spawn_argv;
	mg_scan_options opt;
};

static void scan_usage(FILE *out)
{
	fprintf(out,
		"usage: migratable scan <PID> [--tree] [options]\n"
		"       migratable scan --criu-dir DIR [--root DIR] [--save] [options]\n"
		"       migratable scan --checkpoint FILE [--root DIR] [options]\n"
		"       migratable scan [options] -- COMMAND [ARGS...]\n"
		"\n"
		"Find the CPU features the process can still need: the features of the\n"
		"code it can still execute (reachable from its threads, stacks, memory,\n"
		"signal handlers and lazy bindings) that this host offers.\n"
		"\n"
		"options:\n"
		"  --method reachable|full  reachable code (default) or every executable byte\n"
		"  --json                   print the result as JSON\n"
		"  --explain FEATURE        list every site needing FEATURE and how it is reached\n"
		"  --output FILE            write the result to FILE instead of stdout\n"
		"  --tree                   the process and all its descendants (what criu dump -t\n"
		"                           PID checkpoints): the union of what they need\n"
		"  --criu-dir DIR           analyse a CRIU checkpoint (every process of it) instead\n"
		"                           of a live process\n"
		"  --checkpoint FILE        analyse a container checkpoint archive (podman container\n"
		"                           checkpoint --export, CRI-O, kubelet) without unpacking it\n"
		"  --root DIR               resolve the checkpoint's mapped files under DIR (default /);\n"
		"                           with --checkpoint, its rootfs-diff.tar is laid over DIR\n"
		"  --save                   with --criu-dir: also save the requirements in DIR/%s,\n"
		"                           which the CRIU plugin reads at restore (docs/criu.md)\n"
		"  --wait MS                with COMMAND: let it run MS milliseconds first (default 300)\n"
		"  --no-cache               decode everything; do not use or update the summaries\n"
		"                           of earlier scans (~/.cache/migratable, keyed by code bytes)\n"
		CLI_ASSUME_HELP
		"  --assume-no-dlsym        the same as --assume no-dlsym\n"
		"\n"
		"Exit status: 0 ok, 2 bad arguments, 3 no such process, 4 permission denied,\n"
		"5 unsupported process, 6 process vanished, 7 unreadable file, 9 internal error.\n",
		MG_GUARD_FILE);
}

static int parse_args(int argc, char **argv, struct scan_args *a)
{
	static const struct option longopts[] = {
		{ "method",   required_argument, NULL, 'm' },
		{ "json",     no_argument,       NULL, 'j' },
		{ "explain",  required_argument, NULL, 'e' },
		{ "assume-no-dlsym", no_argument, NULL, 'D' },
		{ "assume",   required_argument, NULL, 'A' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "output",   required_argument, NULL, 'o' },
		{ "criu-dir", required_argument, NULL, 'c' },
		{ "checkpoint", required_argument, NULL, 'k' },
		{ "root",     required_argument, NULL, 'r' },
		{ "wait",     required_argument, NULL, 'w' },
		{ "tree",     no_argument,       NULL, 't' },
		{ "save",     no_argument,       NULL, 'S' },
		{ "help",     no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof(*a));
	a->opt.method = MG_METHOD_REACHABLE;
	a->opt.explain = MG_FEATURE_NONE;
	a->wait_ms = 300;
	/* `-- COMMAND ARGS`: options are only those before the `--`. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (i + 1 < argc)
				a->spawn_argv = argv + i + 1;
			argc = i;
			break;
		}
	}
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "reachable") == 0)
				a->opt.method = MG_METHOD_REACHABLE;
			else if (strcmp(optarg, "full") == 0)
				a->opt.method = MG_METHOD_FULL;
			else
				return fprintf(stderr, "migratable: --method must be 'reachable' or 'full'\n"), -1;
			break;
		case 'j': a->json = true; break;
		case 't': a->tree = true; break;
		case 'S': a->save = true; break;
		case 'D': a->opt.assumptions |= MG_ASSUME_NO_DLSYM; break;
		case 'A':
			if (cli_parse_assume(optarg, &a->opt.assumptions) != 0)
				return -1;
			break;
		case 'N': a->opt.no_cache = true; break;
		case 'o': a->output = optarg; break;
		case 'c': a->criu_dir = optarg; break;
		case 'k': a->checkpoint = optarg; break;
		case 'r': a->root = optarg; break;
		case 'w': {
			char *end;
			errno = 0;
			long ms = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || ms < 0 || ms > 600000)
				return fprintf(stderr, "migratable: --wait takes 0..600000 ms\n"), -1;
			a->wait_ms = (int)ms;
			a->wait_given = true;
			break;
		}
		case 'e':
			a->opt.explain = mg_feature_by_name(optarg);
			if (a->opt.explain == MG_FEATURE_NONE)
				return fprintf(stderr, "migratable: unknown feature '%s'\n", optarg), -1;
			break;
		case 'h':
			scan_usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "migratable: try 'migratable scan --help'\n");
			return -1;
		}
	}
	int rest = argc - optind;
	/* Options that cannot apply are errors, not silently ignored. */
	if (a->criu_dir && a->checkpoint)
		return fprintf(stderr, "migratable: give --criu-dir DIR or --checkpoint FILE, not both\n"), -1;
	const char *ckpt_opt = a->checkpoint ? "--checkpoint" : "--criu-dir";
	bool ckpt = a->criu_dir || a->checkpoint;
	if (a->checkpoint && a->spawn_argv)
		return fprintf(stderr, "migratable: give --checkpoint FILE or -- COMMAND, not both\n"), -1;
	if (a->criu_dir && a->spawn_argv)
		return fprintf(stderr, "migratable: give --criu-dir DIR or -- COMMAND, not both\n"), -1;
	if (a->root && !ckpt)
		return fprintf(stderr, "migratable: --root applies only with --criu-dir or --checkpoint\n"), -1;
	if (a->save && !a->criu_dir)
		return fprintf(stderr, "migratable: --save applies only with --criu-dir (it writes "
			       "into the image directory)\n"), -1;
	if (a->save && a->opt.assumptions)
		return fprintf(stderr, "migratable: --save refuses --assume: a restore "
			       "must not rely on an unsound answer\n"), -1;
	if (a->wait_given && !a->spawn_argv)
		return fprintf(stderr, "migratable: --wait applies only with -- COMMAND\n"), -1;
	if (a->tree && ckpt)
		return fprintf(stderr, "migratable: --tree is for live processes; %s "
			       "always scans every process of the dump\n", ckpt_opt), -1;
	if (ckpt) {
		if (rest != 0)
			return fprintf(stderr, "migratable: %s takes no PID\n", ckpt_opt), -1;
		return 0;
	}
	if (a->spawn_argv) {
		if (rest != 0)
			return fprintf(stderr, "migratable: give a PID or -- COMMAND, not both\n"), -1;
		return 0;
	}
	if (rest != 1 || cli_parse_pid(argv[optind], &a->pid) != 0) {
		fprintf(stderr, "migratable: scan needs one PID (a positive number), "
			"--criu-dir DIR, or -- COMMAND\n");
		return -1;
	}
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pid_t spawn(char **argv, int wait_ms, mg_error *err)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		mg_fail(err, MG_ERR_INTERNAL, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* COMMAND is ours to stop: it dies with us even when we are
		 * killed or interrupted before we can stop it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "migratable: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	int status;
	if (waitpid(pid, &status, WNOHANG) == pid) {
		mg_fail(err, MG_ERR_VANISHED, "%s exited before it could be scanned", argv[0]);
		return -1;
	}
	return pid;
}

static void print_feature_line(FILE *out, const mg_scan_result *r, mg_feature_id f)
{
	const mg_feature_info *fi = mg_feature_get(f);
	fprintf(out, "    %-18s %7zu %s", fi->name, r->feature_sites[f],
		r->feature_sites[f] == 1 ? "site " : "sites");
	for (size_t i = 0; i < r->nevidence; i++) {
		const mg_evidence *ev = &r->evidence[i];
		if (ev->feature != f)
			continue;
		const char *base = strrchr(ev->module, '/');
		if (ev->address == 0)      /* no instruction: a generator or live state */
			fprintf(out, "  e.g. %s", ev->function);
		else
			fprintf(out, "  e.g. %s %s+0x%" PRIx64 ": %s", base ? base + 1 : ev->module,
				ev->function, ev->offset, ev->instruction);
		break;
	}
	fputc('\n', out);
}

static void print_processes(FILE *out, const mg_scan_result *r)
{
	if (r->nprocesses < 2)
		return;
	fprintf(out, "%zu processes:\n", r->nprocesses);
	for (size_t i = 0; i < r->nprocesses; i++) {
		const mg_process_summary *p = &r->processes[i];
		char *names = mg_fset_to_string(&p->required);
		fprintf(out, "  pid %-7d %zu of %zu functions reachable, %zu features%s%s\n",
			(int)p->pid, p->functions_reachable, p->functions_total,
			mg_fset_count(&p->required), names ? ": " : "", names ? names : "");
		free(names);
	}
}

/* Features whose instructions run harmlessly without them: not required. */
static void print_hints(FILE *out, const mg_scan_result *r)
{
	if (mg_fset_is_empty(&r->hints))
		return;
	fprintf(out, "not required (these instructions run without their bit):");
	for (mg_feature_id f = mg_fset_next(&r->hints, -1); f >= 0; f = mg_fset_next(&r->hints, f))
		fprintf(out, " %s (%zu)", mg_feature_get(f)->name, r->hint_sites[f]);
	fputc('\n', out);
}

/* One line per code generator (JIT engine, trampolines, written code). */
static void print_generators(FILE *out, const mg_scan_result *r)
{
	for (size_t i = 0; i < r->ngenerators; i++) {
		const mg_code_generator *g = &r->generators[i];
		fprintf(out, "code generator: %s (%s): %s, %zu feature(s) it may still emit",
			g->engine, g->where, g->model, mg_fset_count(&g->features));
		if (g->detail[0])
			fprintf(out, "; %s", g->detail);
		fputc('\n', out);
	}
}

static void print_human(FILE *out, const mg_scan_result *r)
{
	print_processes(out, r);
	fprintf(out, "%s: method %s, %zu thread(s), paused %.2f ms, %zu of %zu functions "
		"reachable, %.1f MB decoded, %.0f ms (ELF %.0f, roots %.0f, decode %.0f)\n",
		r->source, mg_scan_method_name(r->method), r->stats.threads,
		r->stats.pause_ms, r->stats.functions_reachable, r->stats.functions_total,
		r->stats.bytes_decoded / 1e6, r->stats.wall_ms, r->stats.codemap_ms,
		r->stats.roots_ms, r->stats.decode_ms);
	mg_feature_set lvl;
	int level = 0;
	for (int l = 1; l <= 4; l++)
		if (mg_x86_64_level_features(l, &lvl) &&
		    mg_fset_is_subset(&r->required, &lvl))
			{ level = l; break; }
	fprintf(out, "required CPU features: %zu", mg_fset_count(&r->required));
	if (level)
		fprintf(out, " (fits x86-64-v%d)", level);
	fputc('\n', out);
	for (int fam = 0; fam < MG_FAM_COUNT; fam++) {
		bool header = false;
		for (mg_feature_id f = mg_fset_next(&r->required, -1); f >= 0;
		     f = mg_fset_next(&r->required, f)) {
			if ((int)mg_feature_get(f)->family != fam)
				continue;
			if (!header)
				fprintf(out, "  %s:\n", mg_family_name((mg_family)fam));
			header = true;
			print_feature_line(out, r, f);
		}
	}
	if (r->dlsym_widened)
		fprintf(out, "dlsym is reachable: %zu exported functions counted as possible "
			"dlsym results (--assume no-dlsym to skip, unsound)\n", r->dlsym_widened);
	for (size_t i = 0; i < r->nfacts; i++)
		fprintf(out, "state: %s\n", r->facts[i]);
	print_generators(out, r);
	print_hints(out, r);
	for (unsigned bit = 1; bit & MG_ASSUME_ALL; bit <<= 1)
		if (r->assumptions & bit)
			fprintf(out, "ASSUMED (unsound, --assume %s)\n", mg_assumption_name(bit));
	if (r->unknown_isa_sites)
		fprintf(out, "unclassified instructions: %zu (see --json evidence)\n",
			r->unknown_isa_sites);
	for (size_t i = 0; i < r->nwarnings; i++)
		fprintf(out, "warning: %s\n", r->warnings[i]);
}

static void print_explain(FILE *out, const mg_scan_result *r, mg_feature_id f)
{
	const mg_feature_info *fi = mg_feature_get(f);
	size_t n = 0;
	fprintf(out, "%s: %s\n", fi->name, fi->description);
	for (size_t i = 0; i < r->nevidence; i++) {
		const mg_evidence *ev = &r->evidence[i];
		if (ev->feature != f)
			continue;
		fprintf(out, "  %s  %s+0x%" PRIx64 "  0x%" PRIx64 "  %s\n      reached: %s\n",
			ev->module, ev->function, ev->offset, ev->address,
			ev->instruction, ev->reached_via);
		n++;
	}
	if (n == 0)
		fprintf(out, "  not required: no reachable instruction needs it%s\n",
			mg_fset_has(&r->seen, f) ? " on this host" : "");
}

static int emit(const struct scan_args *a, const mg_scan_result *r)
{
	FILE *out = stdout;
	char *tmp = NULL;
	mg_error err = { 0 };
	/* --output FILE: write-then-rename, so a failure leaves FILE as it was. */
	if (a->output && (out = mg_atomic_open(a->output, &tmp, &err)) == NULL)
		return cli_report(&err);
	int rc = MG_OK;
	if (a->json) {
		char *json = mg_scan_result_to_json(r, &err);
		if (json == NULL)
			rc = cli_report(&err);
		else
			fprintf(out, "%s\n", json);
		free(json);
	} else if (a->opt.explain != MG_FEATURE_NONE) {
		print_explain(out, r, a->opt.explain);
	} else {
		print_human(out, r);
	}
	if (out != stdout && mg_atomic_close(out, tmp, a->output, rc == MG_OK, &err) != 0)
		rc = cli_report(&err);
	return rc;
}

/*
 * A checkpoint may be scanned on another machine (the destination, before
 * `criu restore`): intersecting with this machine's features would drop
 * exactly the code the destination cannot run.  Use the source CPU from the
 * dump's cpuinfo.img (features it cannot record count as usable), else
 * count every feature as usable, which only widens the answer.
 */
static int criu_source_features(mg_criu_files *src, mg_feature_set *usable,
				mg_feature_set *undecided, mg_error *err)
{
	bool present;
	if (mg_criu_files_source(src, usable, undecided, &present, err) != 0)
		return -1;
	if (!present)
		fprintf(stderr, "migratable: warning: %s has no cpuinfo.img (criu dump --cpu-cap, "
			"or criu cpuinfo dump): every feature counts as usable on the source\n",
			src->name);
	return 0;
}

/* Every process of the checkpoint (criu restore runs them all). */
static int scan_checkpoint(struct scan_args *a, mg_scan_result **res, mg_error *err)
{
	mg_criu_files *src;
	mg_feature_set source_usable, source_undecided;
	int rc = a->checkpoint ? mg_criu_files_open_archive(a->checkpoint, a->root, &src, err)
			       : mg_criu_files_open_dir(a->criu_dir, a->root, &src, err);
	if (rc != 0)
		return -1;
	rc = criu_source_features(src, &source_usable, &source_undecided, err);
	a->opt.host_features = &source_usable;
	a->opt.host_undecided = &source_undecided;
	if (rc == 0)
		rc = mg_scan_criu_files(src, src->name, &a->opt, res, err);
	a->opt.host_features = NULL;
	a->opt.host_undecided = NULL;
	if (rc == 0 && a->save) {
		int dirfd = open(a->criu_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = dirfd < 0 ? mg_fail(err, MG_ERR_IO, "%s: %s", a->criu_dir, strerror(errno))
			       : mg_guard_save(dirfd, a->criu_dir, *res, "migratable scan --save", err);
		if (dirfd >= 0)
			close(dirfd);
		if (rc == 0)
			fprintf(stderr, "migratable: requirements saved in %s/%s (the CRIU plugin "
				"uses them while the images stay the same)\n", a->criu_dir, MG_GUARD_FILE);
	}
	mg_criu_files_free(src);
	return rc;
}

int cmd_scan(int argc, char **argv)
{
	struct scan_args a;
	if (parse_args(argc, argv, &a) != 0)
		return MG_ERR_USAGE;   /* parse_args printed the one-line reason */
	double t0 = now_ms();
	mg_error err = { 0 };
	mg_image *img = NULL;
	pid_t spawned = -1;

	mg_live_install_signal_guard();
	if (a.spawn_argv) {
		spawned = spawn(a.spawn_argv, a.wait_ms, &err);
		if (spawned < 0)
			return cli_report(&err);
		a.pid = spawned;
	}
	int rc;
	mg_scan_result *res = NULL;
	const mg_live_options live_opt = { .read_sigactions = true, .isolate = true };
	if (a.criu_dir || a.checkpoint) {
		rc = scan_checkpoint(&a, &res, &err);
	} else if (a.tree) {
		rc = mg_scan_live_tree(a.pid, &live_opt, &a.opt, &res, &err);
	} else {
		rc = mg_live_open(a.pid, &live_opt, &img, &err);
		if (rc == 0)
			rc = mg_scan_image(img, &a.opt, &res, &err);
		mg_image_free(img);
	}
	if (spawned > 0) {
		kill(spawned, SIGKILL);
		waitpid(spawned, NULL, 0);
	}
	if (rc != 0)
		return cli_report(&err);
	res->stats.wall_ms = now_ms() - t0;   /* whole command, snapshot included */
	rc = emit(&a, res);
	mg_scan_result_free(res);
	return rc;
}
