/*
 * cmd_host.c - `migratable host`: this machine's usable CPU features.
 *
 * The human summary says what a target must offer to receive processes
 * from here; --json prints the full profile (with the raw CPUID, so a
 * newer migratable can re-derive features from it) for use as a target.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "features/features.h"
#include "features/profile.h"
#include "util/error.h"
#include "util/file.h"
#include "verdict/catalog.h"

static void host_usage(FILE *out)
{
	fprintf(out,
		"usage: migratable host [--json | --format text|json|nfd-features] [--name NAME]\n"
		"                       [--output FILE]\n"
		"\n"
		"Describe this machine's usable CPU features: CPUID bits whose\n"
		"register state the kernel enabled (XCR0).\n"
		"\n"
		"  --json         print the full profile as JSON (migratable/profile-v1)\n"
		"  --format F     text (default), json, or nfd-features: a Node Feature\n"
		"                 Discovery feature file for /etc/kubernetes/node-feature-\n"
		"                 discovery/features.d/ (labels for check --format nfd-affinity)\n"
		"  --name NAME    profile name (default: the host name)\n"
		"  --output FILE  also save the JSON profile (or the nfd-features file) to FILE\n"
		"  -h, --help     this text\n");
}

/* Feature names of one family, sorted (mg_fset_to_string sorts). */
static int print_family(FILE *out, const mg_feature_set *all, mg_family fam)
{
	mg_feature_set sub;
	char *names;

	mg_fset_clear(&sub);
	for (mg_feature_id id = mg_fset_next(all, -1); id >= 0; id = mg_fset_next(all, id)) {
		const mg_feature_info *f = mg_feature_get(id);
		if (f != NULL && f->family == fam)
			mg_fset_add(&sub, id);
	}
	if (mg_fset_is_empty(&sub))
		return 0;
	names = mg_fset_to_string(&sub);
	if (names == NULL)
		return -1;
	fprintf(out, "  %-9s %s\n", mg_family_name(fam), names);
	free(names);
	return 0;
}

/* AMX tile data needs the CPU (CPUID.(7,0):EDX[24]) and the kernel's
 * per-process permission: say which one is missing. */
static const char *amx_state(const mg_profile *p)
{
	const mg_cpuid_leaf *l = p->has_cpuid ? mg_cpuid_dump_find(&p->cpuid, 7, 0) : NULL;
	if (l == NULL || !((l->edx >> 24) & 1))
		return "not on this CPU";
	return p->amx_permitted ? "permitted" : "not permitted by the kernel";
}

static int print_summary(FILE *out, const mg_profile *p)
{
	fprintf(out, "host:      %s\n", p->name);
	fprintf(out, "cpu:       %s (%s)\n", p->brand ? p->brand : "unknown brand",
		p->vendor ? p->vendor : "unknown vendor");
	fprintf(out, "family:    0x%x  model: 0x%x  stepping: %d\n",
		(unsigned)p->family, (unsigned)p->model, p->stepping);
	fprintf(out, "level:     x86-64-v%d\n", mg_x86_64_level_of(&p->features));
	fprintf(out, "features:  %zu usable\n", mg_fset_count(&p->features));
	if (p->has_xcr0)
		fprintf(out, "xcr0:      0x%" PRIx64 "\n", p->xcr0);
	else
		fprintf(out, "xcr0:      not readable (OSXSAVE clear)\n");
	fprintf(out, "xsave:     %u bytes\n", p->xsave_size);
	fprintf(out, "amx:       %s\n", amx_state(p));
	fprintf(out, "kernel:    %s\n", p->kernel ? p->kernel : "unknown");
	fprintf(out, "enables:  ");
	for (uint32_t gate = 1; gate & MG_OS_ALL; gate <<= 1)
		fprintf(out, " %s %s", mg_os_gate_name(gate),
			!(p->os_known & gate) ? "unknown" : (p->os_enabled & gate) ? "yes" : "no");
	fprintf(out, "\n");
	fprintf(out, "\n");
	for (int fam = 0; fam < MG_FAM_COUNT; fam++)
		if (print_family(out, &p->features, (mg_family)fam) < 0)
			return -1;
	return 0;
}

/* Write-then-rename: a reader never sees half a profile. */
static int save_json(const char *path, const char *json, mg_error *err)
{
	char *tmp;
	FILE *f = mg_atomic_open(path, &tmp, err);
	if (f == NULL)
		return -1;
	fputs(json, f);       /* a failed write sets the stream's error: checked below */
	return mg_atomic_close(f, tmp, path, true, err);
}

int cmd_host(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",   no_argument,       NULL, 'j' },
		{ "format", required_argument, NULL, 'f' },
		{ "name",   required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, nfd = false;
	const char *name = NULL, *output = NULL;
	mg_error err = { 0 };
	mg_profile p;
	char *text = NULL;
	int c, rc = MG_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jf:n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; nfd = false; break;
		case 'f':
			json = strcmp(optarg, "json") == 0;
			nfd = strcmp(optarg, "nfd-features") == 0;
			if (!json && !nfd && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "migratable host: unknown format '%s' (text, json, "
					"nfd-features)\n", optarg);
				return MG_ERR_USAGE;
			}
			break;
		case 'n': name = optarg; break;
		case 'o': output = optarg; break;
		case 'h': host_usage(stdout); return MG_OK;
		default:  host_usage(stderr); return MG_ERR_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "migratable host: unexpected argument '%s'\n", argv[optind]);
		host_usage(stderr);
		return MG_ERR_USAGE;
	}
	if (name != NULL && name[0] == '\0') {
		fprintf(stderr, "migratable host: --name must not be empty\n");
		return MG_ERR_USAGE;
	}
	if (mg_host_profile(&p, name, &err) < 0)
		return cli_report(&err);
	if (nfd)
		text = mg_nfd_feature_file(&p, &err);
	else if (json || output)
		text = mg_profile_to_json(&p, &err);
	if (nfd || json || output) {
		if (text == NULL) {
			rc = cli_report(&err);
			goto out;
		}
	}
	if (output && save_json(output, text, &err) < 0) {
		rc = cli_report(&err);
		goto out;
	}
	if (json || nfd)
		fputs(text, stdout);
	else if (print_summary(stdout, &p) < 0) {
		fprintf(stderr, "migratable: out of memory\n");
		rc = MG_ERR_INTERNAL;
		goto out;
	}
out:
	free(text);
	mg_profile_free(&p);
	return rc;
}
