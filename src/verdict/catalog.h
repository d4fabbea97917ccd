/*
 * catalog.h - built-in target catalogs that are not profile files:
 * libvirt's CPU models and Kubernetes nodes labelled by NFD.  The
 * dispatcher is mg_catalog_load() in verdict.h.
 */
#ifndef MG_VERDICT_CATALOG_H
#define MG_VERDICT_CATALOG_H

#include <stddef.h>

#include "features/features.h"
#include "features/profile.h"
#include "util/error.h"
#include "verdict/verdict.h"

#define MG_LIBVIRT_CPU_MAP "/usr/share/libvirt/cpu_map"

/*
 * Every x86 CPU model listed by DIR/index.xml.  Features map to ours by
 * their CPUID location in x86_features.xml (exact; names differ between
 * libvirt and Linux).  A feature not in a model is absent; a model's
 * <model name='X'/> inherits X's features.
 */
int mg_libvirt_load(const char *dir, mg_target_list *out, mg_error *err);

/* --- Node Feature Discovery --------------------------------------------------- */

#define MG_NFD_PREFIX "feature.node.kubernetes.io/"
#define MG_NFD_CPUID_PREFIX "feature.node.kubernetes.io/cpu-cpuid."

/* True if NFD's default cpuid attributeBlacklist hides this flag. */
bool mg_nfd_hidden(const char *nfd_name);

/*
 * One target per node of `kubectl get nodes -o json` text.  A flag with a
 * cpu-cpuid label is present; a flag NFD hides by default is unknown
 * unless the node's cpu-cpuid.X86_64_V<n> label implies it; any other
 * flag NFD names but the node lacks is absent; flags NFD does not name,
 * and every flag of a node without NFD cpu labels, are unknown.
 */
int mg_nfd_from_json(const char *text, size_t len, const char *origin,
		     mg_target_list *out, mg_error *err);

int mg_nfd_load(const char *path, mg_target_list *out, mg_error *err);

/*
 * A Kubernetes `affinity.nodeAffinity` YAML block requiring `required`
 * (newly allocated).  Flags hidden by NFD's defaults use the lowest
 * x86-64 level label that implies them (x86-64-v1 flags: the
 * kubernetes.io/arch=amd64 label); a hidden flag no level implies is
 * still required by its own label, with a note in *warnings (newly
 * allocated, one line each; NULL if none).  A required feature NFD has
 * no label for fails (MG_ERR_USAGE).
 */
char *mg_nfd_affinity_yaml(const mg_feature_set *required, char **warnings,
			   mg_error *err);

/*
 * A Node Feature Discovery local feature file (NFD's features.d format:
 * one `<namespace>/<name>=<value>` per line, `#` comments) labelling a
 * node with the usable features of profile p as NFD's cpu source names
 * them, feature.node.kubernetes.io/cpu-cpuid.<NAME>=true, flags NFD's
 * default configuration hides included, and its x86-64 level labels
 * cpu-cpuid.X86_64_V1..V<level>: the labels mg_nfd_affinity_yaml() asks
 * for.  Features NFD has no name for are left out.  Newly allocated.
 */
char *mg_nfd_feature_file(const mg_profile *p, mg_error *err);

#endif
