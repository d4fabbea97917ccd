/*
 * catalog.c - mg_catalog_load(): the built-in catalogs by name.
 */
#include "verdict/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/profile.h"
#include "verdict/catalog_files.h"

const char *mg_catalog_help(void)
{
	return "  x86-64-v1 .. x86-64-v4  one x86-64 psABI level (features outside it absent)\n"
	       "  x86-64-levels           the four levels\n"
	       "  host                    this machine\n"
	       "  libvirt[:DIR]           every x86 CPU model of libvirt's cpu_map\n"
	       "                          (default " MG_LIBVIRT_CPU_MAP ")\n"
	       "  nfd:FILE                Kubernetes nodes from `kubectl get nodes -o json`\n"
	       "  aws-us-west-2 (aws)     383 AWS EC2 instance types (installed catalog file)\n"
	       "  NAME | FILE.json        a catalog file (`migratable catalog list`, `catalog build`)\n";
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

static int file_catalog(const char *path, mg_target_list *out, mg_error *err)
{
	mg_catalog_meta meta;
	if (mg_catalog_read(path, &meta, out, err) != 0)
		return -1;
	mg_catalog_meta_free(&meta);
	return 0;
}

/* The names of the catalog files there are, for the error message. */
static void file_catalog_names(char *buf, size_t size)
{
	mg_catalog_meta *m;
	size_t n, used = 0;
	mg_error ignored = { 0 };
	buf[0] = '\0';
	if (mg_catalog_list_files(&m, &n, &ignored) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, size - used, ", %s", m[i].name);
		if (w > 0 && (size_t)w < size - used)
			used += (size_t)w;
		mg_catalog_meta_free(&m[i]);
	}
	free(m);
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
	if (mg_catalog_is_path(name))
		return file_catalog(name, out, err);

	char *path = NULL, files[256];
	int found = mg_catalog_find(name, &path, err);
	if (found < 0)
		return -1;
	if (found > 0) {
		int rc = file_catalog(path, out, err);
		free(path);
		return rc;
	}
	file_catalog_names(files, sizeof(files));
	return mg_fail(err, MG_ERR_USAGE,
		       "unknown catalog \"%s\" (expected x86-64-v1..v4, x86-64-levels, host, "
		       "libvirt[:DIR], nfd:FILE%s or a catalog file; profile files go to --target)",
		       name, files[0] ? files : "");
}
