/*
 * libvirt.c - libvirt's x86 CPU models as targets.
 *
 * libvirt's cpu_map directory: index.xml includes x86_features.xml (each
 * feature's CPUID leaf/subleaf/register mask) and one x86_<Model>.xml per
 * model (<feature name='..'/> list, optional <model name='Parent'/>
 * inheritance and <feature name='..' removed='yes'/>).  We map features
 * to ours by CPUID location, never by name: libvirt spells several
 * differently from Linux (pclmuldq, sse4.1, avx512-vnni, ...).
 */
#include "verdict/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "features/profile.h"

struct lv_model {
	char *name;
	char *parent;          /* <model name='..'/>, NULL if none */
	char *vendor;
	GPtrArray *added;      /* feature names (char *) */
	GPtrArray *removed;
	bool resolving, resolved;
	mg_feature_set features;
};

struct lv_map {
	const char *dir;
	GHashTable *features;  /* libvirt name -> mg_feature_set * */
	GHashTable *models;    /* name -> struct lv_model * */
	GPtrArray *order;      /* struct lv_model *, in index order */
	mg_error *err;
};

static char *prop(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (v == NULL)
		return NULL;
	char *s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static bool is(xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlDoc *read_xml(const char *path, mg_error *err)
{
	xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
				  XML_PARSE_NOWARNING);
	if (doc == NULL) {
		const xmlError *e = xmlGetLastError();
		char msg[200] = "not well-formed XML";
		if (e && e->message) {
			snprintf(msg, sizeof(msg), "%s", e->message);
			msg[strcspn(msg, "\n")] = '\0';
		}
		mg_fail(err, MG_ERR_USAGE, "%s:%d: %s", path, e ? e->line : 0, msg);
		return NULL;
	}
	if (xmlDocGetRootElement(doc) == NULL) {
		xmlFreeDoc(doc);
		mg_fail(err, MG_ERR_USAGE, "%s: empty XML document", path);
		return NULL;
	}
	return doc;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* <feature name='x'><cpuid eax_in='..' [ecx_in='..'] edx='mask'/></feature> */
static int parse_feature(struct lv_map *m, xmlNode *f, const char *file)
{
	char *name = prop(f, "name");
	if (name == NULL)
		return mg_fail(m->err, MG_ERR_USAGE, "%s:%d: <feature> without a name", file,
			       (int)xmlGetLineNo(f));
	mg_feature_set *set = g_new0(mg_feature_set, 1);
	mg_fset_clear(set);
	for (xmlNode *c = f->children; c; c = c->next) {
		if (!is(c, "cpuid"))
			continue;   /* <msr>, <alias>: not CPUID features */
		static const char *regs[] = { "eax", "ebx", "ecx", "edx" };
		char *leaf_s = prop(c, "eax_in"), *sub_s = prop(c, "ecx_in");
		uint32_t leaf = 0, sub = 0;
		int bad = leaf_s == NULL || parse_u32(leaf_s, &leaf) ||
			  (sub_s && parse_u32(sub_s, &sub));
		free(leaf_s);
		free(sub_s);
		for (int r = 0; r < 4 && !bad; r++) {
			char *mask_s = prop(c, regs[r]);
			uint32_t mask = 0;
			if (mask_s == NULL)
				continue;
			bad = parse_u32(mask_s, &mask);
			free(mask_s);
			for (unsigned b = 0; b < 32 && !bad; b++)
				if (mask & (1u << b))
					mg_fset_add(set, mg_feature_by_location(leaf, sub,
										(mg_cpuid_reg)r, b));
		}
		if (bad) {
			g_free(set);
			mg_fail(m->err, MG_ERR_USAGE, "%s:%d: feature '%s' has a malformed <cpuid>",
				file, (int)xmlGetLineNo(c), name);
			free(name);
			return -1;
		}
	}
	g_hash_table_replace(m->features, name, set);
	return 0;
}

static void free_model(gpointer p)
{
	struct lv_model *md = p;
	free(md->name);
	free(md->parent);
	free(md->vendor);
	g_ptr_array_free(md->added, TRUE);
	g_ptr_array_free(md->removed, TRUE);
	g_free(md);
}

static int parse_model(struct lv_map *m, xmlNode *n, const char *file)
{
	struct lv_model *md = g_new0(struct lv_model, 1);
	md->name = prop(n, "name");
	md->added = g_ptr_array_new_with_free_func(free);
	md->removed = g_ptr_array_new_with_free_func(free);
	if (md->name == NULL || md->name[0] == '\0') {
		free_model(md);
		return mg_fail(m->err, MG_ERR_USAGE, "%s:%d: <model> without a name", file,
			       (int)xmlGetLineNo(n));
	}
	for (xmlNode *c = n->children; c; c = c->next) {
		char *name = NULL;
		if (is(c, "model") || is(c, "feature") || is(c, "vendor")) {
			name = prop(c, "name");
			if (name == NULL) {
				mg_fail(m->err, MG_ERR_USAGE, "%s:%d: <%s> without a name in model '%s'",
					file, (int)xmlGetLineNo(c), (const char *)c->name, md->name);
				free_model(md);
				return -1;
			}
		}
		if (is(c, "model")) {
			free(md->parent);
			md->parent = name;
		} else if (is(c, "vendor")) {
			free(md->vendor);
			md->vendor = name;
		} else if (is(c, "feature")) {
			char *removed = prop(c, "removed");
			bool rm = removed && strcmp(removed, "yes") == 0;
			free(removed);
			g_ptr_array_add(rm ? md->removed : md->added, name);
		}
	}
	if (g_hash_table_contains(m->models, md->name)) {
		mg_fail(m->err, MG_ERR_USAGE, "%s: model '%s' defined twice", file, md->name);
		free_model(md);
		return -1;
	}
	g_hash_table_insert(m->models, md->name, md);
	g_ptr_array_add(m->order, md);
	return 0;
}

static int parse_children(struct lv_map *m, xmlNode *parent, const char *file, int depth);

static int parse_include(struct lv_map *m, xmlNode *inc, const char *file, int depth)
{
	char *fn = prop(inc, "filename");
	char path[4096];
	int rc;

	if (fn == NULL || fn[0] == '\0' || strchr(fn, '/') || depth > 2) {
		rc = mg_fail(m->err, MG_ERR_USAGE, "%s:%d: bad <include>", file,
			     (int)xmlGetLineNo(inc));
		free(fn);
		return rc;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", m->dir, fn) >= sizeof(path)) {
		free(fn);
		return mg_fail(m->err, MG_ERR_USAGE, "%s:%d: <include> path too long", file,
			       (int)xmlGetLineNo(inc));
	}
	free(fn);
	xmlDoc *doc = read_xml(path, m->err);
	if (doc == NULL)
		return -1;
	rc = parse_children(m, xmlDocGetRootElement(doc), path, depth + 1);
	xmlFreeDoc(doc);
	return rc;
}

static int parse_children(struct lv_map *m, xmlNode *parent, const char *file, int depth)
{
	for (xmlNode *c = parent->children; c; c = c->next) {
		int rc = 0;
		if (is(c, "include"))
			rc = parse_include(m, c, file, depth);
		else if (is(c, "feature"))
			rc = parse_feature(m, c, file);
		else if (is(c, "model"))
			rc = parse_model(m, c, file);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_named(struct lv_map *m, struct lv_model *md, const char *fname,
		     bool remove)
{
	mg_feature_set *set = g_hash_table_lookup(m->features, fname);
	if (set == NULL)
		return mg_fail(m->err, MG_ERR_USAGE,
			       "%s: model '%s' uses feature '%s' that x86_features.xml does not define",
			       m->dir, md->name, fname);
	if (remove)
		mg_fset_subtract(&md->features, set);
	else
		mg_fset_union(&md->features, set);
	return 0;
}

/* libvirt's own chains are a few models deep; a crafted map could chain
 * thousands and overflow the stack of this recursion. */
#define MAX_MODEL_DEPTH 64

static int resolve(struct lv_map *m, struct lv_model *md, int depth)
{
	if (md->resolved)
		return 0;
	if (md->resolving)
		return mg_fail(m->err, MG_ERR_USAGE, "%s: model '%s' inherits from itself",
			       m->dir, md->name);
	if (depth > MAX_MODEL_DEPTH)
		return mg_fail(m->err, MG_ERR_USAGE, "%s: model '%s' inherits through more "
			       "than %d models", m->dir, md->name, MAX_MODEL_DEPTH);
	md->resolving = true;
	mg_fset_clear(&md->features);
	if (md->parent) {
		struct lv_model *p = g_hash_table_lookup(m->models, md->parent);
		if (p == NULL)
			return mg_fail(m->err, MG_ERR_USAGE,
				       "%s: model '%s' inherits from unknown model '%s'",
				       m->dir, md->name, md->parent);
		if (resolve(m, p, depth + 1))
			return -1;
		md->features = p->features;
		if (md->vendor == NULL && p->vendor && (md->vendor = strdup(p->vendor)) == NULL)
			return mg_fail(m->err, MG_ERR_INTERNAL, "out of memory");
	}
	for (guint i = 0; i < md->added->len; i++)
		if (add_named(m, md, g_ptr_array_index(md->added, i), false))
			return -1;
	for (guint i = 0; i < md->removed->len; i++)
		if (add_named(m, md, g_ptr_array_index(md->removed, i), true))
			return -1;
	md->resolving = false;
	md->resolved = true;
	return 0;
}

static const char *vendor_string(const char *libvirt_vendor)
{
	if (libvirt_vendor == NULL)
		return NULL;
	if (strcmp(libvirt_vendor, "Intel") == 0)
		return "GenuineIntel";
	if (strcmp(libvirt_vendor, "AMD") == 0)
		return "AuthenticAMD";
	if (strcmp(libvirt_vendor, "Hygon") == 0)
		return "HygonGenuine";
	return libvirt_vendor;
}

static int emit(struct lv_map *m, struct lv_model *md, mg_target_list *out)
{
	mg_profile p;
	mg_profile_init(&p);
	p.features = md->features;
	mg_fset_clear(&p.unknown);
	/* OS-controlled bits: a guest kernel sets them when the CPU has the
	 * underlying feature, and libvirt models do not list them. */
	if (mg_fset_has(&p.features, mg_feature_by_name("xsave")))
		mg_fset_add(&p.features, mg_feature_by_name("osxsave"));
	if (mg_fset_has(&p.features, mg_feature_by_name("pku")))
		mg_fset_add(&p.features, mg_feature_by_name("ospke"));
	const char *v = vendor_string(md->vendor);
	p.name = strdup(md->name);
	p.vendor = v ? strdup(v) : NULL;
	if (asprintf(&p.origin, "libvirt:%s", m->dir) < 0)
		p.origin = NULL;
	if (p.name == NULL || p.origin == NULL || (v && p.vendor == NULL) ||
	    mg_target_list_take(out, &p, m->err) != 0) {
		mg_profile_free(&p);
		return mg_fail(m->err, MG_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

int mg_libvirt_load(const char *dir, mg_target_list *out, mg_error *err)
{
	char index[4096];
	struct stat st;
	int rc = -1;

	if ((size_t)snprintf(index, sizeof(index), "%s/index.xml", dir) >= sizeof(index))
		return mg_fail(err, MG_ERR_USAGE, "libvirt catalog: directory name too long");
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return mg_fail(err, MG_ERR_USAGE,
			       "libvirt catalog: no CPU map directory %s (install libvirt, "
			       "e.g. Debian's libvirt0, or use --catalog libvirt:DIR)", dir);
	if (stat(index, &st) != 0)
		return mg_fail(err, MG_ERR_USAGE, "libvirt catalog: %s is missing", index);

	struct lv_map m = {
		.dir = dir,
		.features = g_hash_table_new_full(g_str_hash, g_str_equal, free, g_free),
		.models = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free_model),
		.order = g_ptr_array_new(),
		.err = err,
	};
	xmlDoc *doc = read_xml(index, err);
	if (doc == NULL)
		goto out;
	xmlNode *root = xmlDocGetRootElement(doc);
	bool found = false;
	for (xmlNode *a = root->children; a; a = a->next) {
		if (!is(a, "arch"))
			continue;
		char *name = prop(a, "name");
		bool x86 = name && strcmp(name, "x86") == 0;
		free(name);
		if (!x86)
			continue;
		found = true;
		if (parse_children(&m, a, index, 0))
			goto out;
	}
	if (!found || m.order->len == 0) {
		mg_fail(err, MG_ERR_USAGE, "%s: no x86 CPU models", index);
		goto out;
	}
	for (guint i = 0; i < m.order->len; i++) {
		struct lv_model *md = g_ptr_array_index(m.order, i);
		if (resolve(&m, md, 0) || emit(&m, md, out))
			goto out;
	}
	rc = 0;
out:
	if (doc)
		xmlFreeDoc(doc);
	g_ptr_array_free(m.order, TRUE);
	g_hash_table_destroy(m.models);
	g_hash_table_destroy(m.features);
	return rc;
}
