/*
 * catalog.c - mg_catalog_load(): the built-in catalogs by name.
 */
#include "verdict/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/profile.h"

const char *mg_catalog_help(void)
{
	return "  x86-64-v1 .. x86-64-v4  one x86-64 psABI level (features outside it absent)\n"
	       "  x86-64-levels           the four levels\n"
	       "  host                    this machine\n"
	       "  libvirt[:DIR]           every x86 CPU model of libvirt's cpu_map\n"
	       "                          (default " MG_LIBVIRT_CPU_MAP ")\n"
	       "  nfd:FILE                Kubernetes nodes from `kubectl get nodes -o json`\n";
}

static int level_target(int level, mg_target_list *out, mg_error *err)
{
	mg_profile p;
	mg_profile_init(&p);
	if (!mg_x86_64_level_features(level, &p.features))
		return mg_fail(err, MG_ERR_INTERNAL, "no feature list for x86-64-v%d", level);
	mg_fset_clear(&p.unknown);
	if (asprintf(&p.name, "x86-64-v%d", level) < 0) {
		p.name = NULL;
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	p.origin = strdup(p.name);
	if (p.origin == NULL || mg_target_list_take(out, &p, err) != 0) {
		mg_profile_free(&p);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static int host_target(mg_target_list *out, mg_error *err)
{
	mg_profile p;
	mg_profile_init(&p);
	if (mg_host_profile(&p, "host", err) != 0) {
		mg_profile_free(&p);
		return -1;
	}
	if (mg_target_list_take(out, &p, err) != 0) {
		mg_profile_free(&p);
		return -1;
	}
	return 0;
}

int mg_catalog_load(const char *name, mg_target_list *out, mg_error *err)
{
	if (strncmp(name, "x86-64-v", 8) == 0 && name[8] >= '1' && name[8] <= '4' &&
	    name[9] == '\0')
		return level_target(name[8] - '0', out, err);
	if (strcmp(name, "x86-64-levels") == 0) {
		for (int l = 1; l <= 4; l++)
			if (level_target(l, out, err) != 0)
				return -1;
		return 0;
	}
	if (strcmp(name, "host") == 0)
		return host_target(out, err);
	if (strcmp(name, "libvirt") == 0)
		return mg_libvirt_load(MG_LIBVIRT_CPU_MAP, out, err);
	if (strncmp(name, "libvirt:", 8) == 0 && name[8])
		return mg_libvirt_load(name + 8, out, err);
	if (strncmp(name, "nfd:", 4) == 0 && name[4])
		return mg_nfd_load(name + 4, out, err);
	return mg_fail(err, MG_ERR_USAGE,
		       "unknown catalog \"%s\" (expected x86-64-v1..v4, x86-64-levels, host, "
		       "libvirt[:DIR] or nfd:FILE; profile files go to --target)", name);
}
