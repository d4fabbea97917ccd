/*
 * groups.c - targets with identical feature sets as one group (groups.h).
 */
#include "verdict/groups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* --- grouping --------------------------------------------------------------------- */

struct key {
	const mg_profile *p;
	const mg_verdict *v;    /* NULL: features only */
	size_t group;
};

static guint hash_set(const mg_feature_set *s, guint h)
{
	for (size_t i = 0; i < MG_FEATURE_SET_BITS / 64; i++)
		h = h * 31u + (guint)(s->bits[i] ^ (s->bits[i] >> 32));
	return h;
}

static guint key_hash(gconstpointer a)
{
	const struct key *k = a;
	guint h = hash_set(&k->p->unknown, hash_set(&k->p->features, 17u));
	if (k->v)
		h = hash_set(&k->v->missing, h * 7u + (guint)k->v->kind);
	return h;
}

static bool same_verdict(const mg_verdict *a, const mg_verdict *b)
{
	if (a->kind != b->kind || !mg_fset_equal(&a->missing, &b->missing) ||
	    !mg_fset_equal(&a->unknown, &b->unknown) || a->nreasons != b->nreasons)
		return false;
	for (size_t i = 0; i < a->nreasons; i++)
		if (strcmp(a->reasons[i], b->reasons[i]) != 0)
			return false;
	return true;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	const struct key *x = a, *y = b;
	return mg_fset_equal(&x->p->features, &y->p->features) &&
	       mg_fset_equal(&x->p->unknown, &y->p->unknown) &&
	       (x->v == NULL || same_verdict(x->v, y->v));
}

static int add_member(mg_group *g, size_t idx)
{
	/* Grow in powers of two: counts 1, 2, 4, ... reallocate. */
	if ((g->count & (g->count - 1)) == 0) {
		size_t cap = g->count ? g->count * 2 : 1;
		size_t *m = realloc(g->members, cap * sizeof(*m));
		if (m == NULL)
			return -1;
		g->members = m;
	}
	g->members[g->count++] = idx;
	return 0;
}

int mg_group_targets(const mg_target_list *l, const mg_verdict *verdicts,
		     mg_group_list *out, mg_error *err)
{
	struct key *keys = calloc(l->count ? l->count : 1, sizeof(*keys));
	GHashTable *seen = g_hash_table_new(key_hash, key_equal);
	int rc = 0;

	out->items = calloc(l->count ? l->count : 1, sizeof(*out->items));
	out->count = 0;
	if (keys == NULL || out->items == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < l->count; i++) {
		keys[i] = (struct key){ .p = &l->items[i], .v = verdicts ? &verdicts[i] : NULL,
					.group = out->count };
		struct key *first = g_hash_table_lookup(seen, &keys[i]);
		size_t g = first ? first->group : out->count++;
		if (first == NULL)
			g_hash_table_add(seen, &keys[i]);
		if (add_member(&out->items[g], i) != 0) {
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			goto done;
		}
	}
done:
	g_hash_table_destroy(seen);
	free(keys);
	if (rc != 0)
		mg_group_list_free(out);
	return rc;
}

void mg_group_list_free(mg_group_list *g)
{
	for (size_t i = 0; g->items && i < g->count; i++)
		free(g->items[i].members);
	free(g->items);
	g->items = NULL;
	g->count = 0;
}

/* --- names -------------------------------------------------------------------------- */

/* Length of the family part of a name ("c6a" of "c6a.large"); 0 if none. */
static size_t family_len(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot && dot != name && dot[1] ? (size_t)(dot - name) : 0;
}

static const char *name_of(const mg_target_list *l, size_t i)
{
	return l->items[i].name ? l->items[i].name : "?";
}

/* How many targets of the whole list are in each family. */
static GHashTable *family_sizes(const mg_target_list *l)
{
	GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (size_t i = 0; i < l->count; i++) {
		size_t n = family_len(name_of(l, i));
		if (n == 0)
			continue;
		char *fam = g_strndup(name_of(l, i), n);
		gpointer old = g_hash_table_lookup(t, fam);
		g_hash_table_replace(t, fam, GSIZE_TO_POINTER(GPOINTER_TO_SIZE(old) + 1));
	}
	return t;
}

/*
 * Instance sizes in the order clouds list them (nano .. large, xlarge,
 * 2xlarge, .., metal): "c5.{large,xlarge,2xlarge}" reads better than in
 * strcmp order.  Other names sort after, by strcmp.
 */
static long size_rank(const char *s)
{
	static const char *const words[] = { "nano", "micro", "small", "medium", "large", "xlarge" };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return (long)i;
	char *end;
	long n = strtol(s, &end, 10);
	if (end != s && n > 0 && n < 100000 && strcmp(end, "xlarge") == 0)
		return 5 + n;
	if (strncmp(s, "metal", 5) == 0)
		return 200000;
	return 300000;
}

static gint cmp_size(gconstpointer a, gconstpointer b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	long rx = size_rank(x), ry = size_rank(y);
	return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x, y);
}

/* One name of a label: long "c5.{large,xlarge}" and short "c5.{2 of 9}". */
struct token {
	char *full, *brief;
};

static void token_free(gpointer p)
{
	struct token *t = p;
	g_free(t->full);
	g_free(t->brief);
	g_free(t);
}

static struct token *token_new(char *full, char *brief)
{
	struct token *t = g_new(struct token, 1);
	t->full = full;
	t->brief = brief ? brief : g_strdup(full);
	return t;
}

/* The group's names as tokens: whole families, parts of families, names. */
static GPtrArray *label_tokens(const mg_target_list *l, const mg_group *g)
{
	GHashTable *sizes = family_sizes(l);
	GPtrArray *fams = g_ptr_array_new_with_free_func(g_free);       /* order */
	GHashTable *parts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
						  (GDestroyNotify)g_ptr_array_unref);
	GPtrArray *tokens = g_ptr_array_new_with_free_func(token_free);

	for (size_t k = 0; k < g->count; k++) {
		const char *name = name_of(l, g->members[k]);
		size_t n = family_len(name);
		char *fam = n ? g_strndup(name, n) : g_strdup(name);
		GPtrArray *p = g_hash_table_lookup(parts, fam);
		if (p == NULL) {
			p = g_ptr_array_new();
			g_ptr_array_add(fams, fam);
			g_hash_table_insert(parts, fam, p);
		} else {
			g_free(fam);
		}
		g_ptr_array_add(p, (gpointer)(n ? name + n + 1 : name));
	}
	for (guint i = 0; i < fams->len; i++) {
		const char *fam = g_ptr_array_index(fams, i);
		GPtrArray *p = g_hash_table_lookup(parts, fam);
		size_t total = GPOINTER_TO_SIZE(g_hash_table_lookup(sizes, fam));
		if (total == 0 || p->len == 1) {        /* a name without family, or one type */
			g_ptr_array_add(tokens, token_new(total ? g_strdup_printf("%s.%s", fam,
						(const char *)g_ptr_array_index(p, 0))
						      : g_strdup(fam), NULL));
		} else if (p->len == total) {
			g_ptr_array_add(tokens, token_new(g_strdup_printf("%s.*", fam), NULL));
		} else {
			GString *s = g_string_new(fam);
			g_ptr_array_sort(p, cmp_size);
			for (guint j = 0; j < p->len; j++)
				g_string_append_printf(s, "%s%s", j ? "," : ".{",
						       (const char *)g_ptr_array_index(p, j));
			g_string_append_c(s, '}');
			g_ptr_array_add(tokens, token_new(g_string_free(s, FALSE),
				g_strdup_printf("%s.{%u of %zu}", fam, p->len, total)));
		}
	}
	g_hash_table_destroy(parts);
	g_ptr_array_free(fams, TRUE);
	g_hash_table_destroy(sizes);
	return tokens;
}

static size_t more_len(size_t n)
{
	char buf[32];
	return n ? (size_t)snprintf(buf, sizeof(buf), " +%zu more", n) : 0;
}

char *mg_group_label(const mg_target_list *l, const mg_group *g, size_t max_len)
{
	if (g->count == 0)
		return strdup("(empty)");
	if (g->count == 1)
		return strdup(name_of(l, g->members[0]));
	if (max_len < 24)
		max_len = 24;

	GPtrArray *tokens = label_tokens(l, g);
	char count[40];
	snprintf(count, sizeof(count), " (%zu types)", g->count);
	size_t budget = max_len - strlen(count);
	GString *s = g_string_new(NULL);
	guint i;
	for (i = 0; i < tokens->len; i++) {
		const struct token *tok = g_ptr_array_index(tokens, i);
		size_t sep = s->len ? 1 : 0;
		size_t rest = more_len(tokens->len - i - 1);
		const char *fits = s->len + sep + strlen(tok->full) + rest <= budget ? tok->full
				 : s->len + sep + strlen(tok->brief) + rest <= budget ? tok->brief
				 : NULL;
		if (fits) {
			g_string_append_printf(s, "%s%s", sep ? " " : "", fits);
			continue;
		}
		if (i == 0) {     /* not even the first fits: cut it */
			size_t keep = budget > rest + 4 ? budget - rest - 3 : 1;
			size_t len = strlen(tok->brief);
			g_string_append_len(s, tok->brief, (gssize)(keep < len ? keep : len));
			g_string_append(s, "...");
			i++;
		}
		break;
	}
	if (i < tokens->len)
		g_string_append_printf(s, " +%u more", tokens->len - i);
	g_string_append(s, count);
	g_ptr_array_free(tokens, TRUE);
	char *label = strdup(s->str);
	g_string_free(s, TRUE);
	return label;
}
