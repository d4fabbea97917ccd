/*
 * summary_cache.c - see summary_cache.h.
 *
 * One file per executable mapping's content:
 * $DIR/summaries-<fingerprint>/<hash of the mapping's bytes>.bin, so a scan
 * reads only the files of the libraries its process maps.  A header, then
 * records
 *
 *   header  u32 magic, u32 version, u64 fingerprint
 *   record  u64 key, u64 len, u32 instructions, u32 unknown,
 *           u32 first_unknown, u32 ends_flow, u32 ngroups, u32 nrefs,
 *           ngroups x { u64 bits[4], u32 count (bit 31: a hint group, bit 30: tzcnts
 *                       whose flags go unread), u32 first },
 *           nrefs   x { i64 value, u64 kind },
 *           u64 checksum of the record's bytes above
 *
 * The fingerprint is a hash of the running executable: any rebuild (new
 * feature table, ISA map or decoder rules) starts a new file.  Records are
 * appended under flock(); the reader stops at the first record that does
 * not validate, checksum included, so a damaged file can cost time but
 * never change an answer.
 */
#include "analysis/summary_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC    0x3143444du            /* "MDC1" */
#define CACHE_VERSION  7u   /* 5: hint groups (MG_ISA_HINT); 6: cmp/test refs; 7: as_bsf */
#define HINT_BIT       0x80000000u
#define BSF_BIT        0x40000000u
#define CACHE_FILE_MAX ((size_t)512 << 20)
#define MAX_GROUPS     4096u
#define MAX_REFS       (1u << 20)
#define RECORD_HEAD    40u
#define GROUP_SIZE     40u
#define REF_SIZE       16u

/* The summaries of one mapping's code. */
typedef struct cache_file {
	uint8_t *data;             /* the file as read */
	size_t size;
	size_t valid_end;          /* end of its last sound record; 0: none */
	GHashTable *index;         /* mixed key -> record offset + 1 */
	GByteArray *pending;       /* records to append */
} cache_file;

struct mg_summary_cache {
	char *dir;
	uint64_t fingerprint;
	GHashTable *files;         /* mapping hash -> cache_file */
};

uint64_t mg_summary_key(const uint8_t *bytes, size_t len)
{
	/* 8 bytes at a time, multiply-xorshift mixing: fast, and the
	 * length is part of the key too. */
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, bytes + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; i < len; i++)
		h = (h ^ bytes[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	return h * 0xc4ceb9fe1a85ec53ull;
}

static uint64_t mix(uint64_t key, uint64_t len)
{
	return key ^ (len * 0x9e3779b97f4a7c15ull);
}

static uint64_t exe_fingerprint(void)
{
	gchar *exe = NULL;
	gsize n = 0;
	if (!g_file_get_contents("/proc/self/exe", &exe, &n, NULL))
		return 0;
	uint64_t fp = mg_summary_key((const uint8_t *)exe, n);
	g_free(exe);
	return fp;
}

static char *cache_dir(void)
{
	const char *dir = getenv("MIGRATABLE_CACHE_DIR");
	if (dir && *dir)
		return g_strdup(dir);
	const char *xdg = getenv("XDG_CACHE_HOME");
	if (xdg && *xdg)
		return g_build_filename(xdg, "migratable", NULL);
	const char *home = getenv("HOME");
	if (home && *home)
		return g_build_filename(home, ".cache", "migratable", NULL);
	return NULL;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Size of the record at off from its header, or 0 if it cannot be one. */
static size_t record_size(const cache_file *c, size_t off)
{
	if (c->size - off < RECORD_HEAD)
		return 0;
	const uint8_t *p = c->data + off;
	uint32_t ngroups = rd32(p + 32), nrefs = rd32(p + 36);
	if (ngroups > MAX_GROUPS || nrefs > MAX_REFS)
		return 0;
	size_t need = RECORD_HEAD + (size_t)ngroups * GROUP_SIZE + (size_t)nrefs * REF_SIZE + 8;
	return c->size - off < need ? 0 : need;
}

/* Size of the record at off if it validates completely (checksum, lengths,
 * feature bits, reference kinds), else 0.  Done when a record is used, so
 * opening a large cache reads only headers. */
static size_t check_record(const cache_file *c, size_t off)
{
	if (c->size - off < RECORD_HEAD)
		return 0;
	const uint8_t *p = c->data + off;
	uint64_t len = rd64(p + 8);
	uint32_t ngroups = rd32(p + 32), nrefs = rd32(p + 36);
	if (len == 0 || len > UINT32_MAX || ngroups > MAX_GROUPS || nrefs > MAX_REFS ||
	    rd32(p + 28) > 1)
		return 0;
	size_t body = RECORD_HEAD + (size_t)ngroups * GROUP_SIZE + (size_t)nrefs * REF_SIZE;
	size_t need = body + 8;
	if (c->size - off < need || rd64(p + body) != mg_summary_key(p, body))
		return 0;
	size_t nfeat = mg_feature_count();
	for (uint32_t g = 0; g < ngroups; g++) {
		const uint8_t *q = p + RECORD_HEAD + (size_t)g * GROUP_SIZE;
		for (size_t bit = nfeat; bit < MG_FEATURE_SET_BITS; bit++)
			if ((rd64(q + (bit / 64) * 8) >> (bit % 64)) & 1)
				return 0;       /* a feature this build does not have */
		if (rd32(q + 32) == 0 || rd32(q + 36) >= len)
			return 0;
	}
	const uint8_t *r = p + RECORD_HEAD + (size_t)ngroups * GROUP_SIZE;
	for (uint32_t i = 0; i < nrefs; i++)
		if (rd64(r + (size_t)i * REF_SIZE + 8) > MG_REF_CMP_REL)
			return 0;
	return need;
}

static void index_records(cache_file *c, uint64_t fingerprint)
{
	if (c->size < 16 || rd32(c->data) != CACHE_MAGIC ||
	    rd32(c->data + 4) != CACHE_VERSION || rd64(c->data + 8) != fingerprint)
		return;
	size_t off = 16;
	while (off < c->size) {
		size_t n = record_size(c, off);
		if (n == 0)
			break;          /* damaged tail: ignore the rest */
		uint64_t k = mix(rd64(c->data + off), rd64(c->data + off + 8));
		g_hash_table_insert(c->index, GSIZE_TO_POINTER(k), GSIZE_TO_POINTER(off + 1));
		off += n;
	}
	c->valid_end = off;
}

static void cache_file_free(gpointer p)
{
	cache_file *f = p;
	if (f == NULL)
		return;
	if (f->index)
		g_hash_table_destroy(f->index);
	if (f->pending)
		g_byte_array_free(f->pending, TRUE);
	free(f->data);
	g_free(f);
}

mg_summary_cache *mg_summary_cache_open(void)
{
	const char *off = getenv("MIGRATABLE_CACHE");
	if (off && strcmp(off, "0") == 0)
		return NULL;
	char *dir = cache_dir();
	if (dir == NULL)
		return NULL;
	/* Summaries are only valid for the build that wrote them (its ISA
	 * map): without a fingerprint of this binary, use no cache at all
	 * rather than one shared with every other unreadable build. */
	uint64_t fingerprint = exe_fingerprint();
	if (fingerprint == 0) {
		g_free(dir);
		return NULL;
	}
	mg_summary_cache *c = g_new0(mg_summary_cache, 1);
	c->fingerprint = fingerprint;
	char name[64];
	snprintf(name, sizeof(name), "summaries-%016" PRIx64, c->fingerprint);
	c->dir = g_build_filename(dir, name, NULL);
	g_free(dir);
	if (g_mkdir_with_parents(c->dir, 0700) != 0) {
		g_free(c->dir);
		g_free(c);
		return NULL;
	}
	c->files = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, cache_file_free);
	return c;
}

static char *file_path(const mg_summary_cache *c, uint64_t map_hash)
{
	char name[40];
	snprintf(name, sizeof(name), "%016" PRIx64 ".bin", map_hash);
	return g_build_filename(c->dir, name, NULL);
}

void mg_summary_cache_load(mg_summary_cache *c, uint64_t map_hash)
{
	if (c == NULL || g_hash_table_contains(c->files, &map_hash))
		return;
	cache_file *f = g_new0(cache_file, 1);
	f->index = g_hash_table_new(g_direct_hash, g_direct_equal);
	f->pending = g_byte_array_new();
	uint64_t *key = g_new(uint64_t, 1);
	*key = map_hash;
	g_hash_table_insert(c->files, key, f);

	char *path = file_path(c, map_hash);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	g_free(path);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size <= CACHE_FILE_MAX && st.st_size > 0 &&
	    flock(fd, LOCK_SH) == 0) {
		/* Read, not mmap: a file truncated under a mapping would
		 * raise SIGBUS, and a cache must never crash a scan. */
		f->data = malloc((size_t)st.st_size);
		ssize_t got = f->data ? pread(fd, f->data, (size_t)st.st_size, 0) : -1;
		f->size = got > 0 ? (size_t)got : 0;
		index_records(f, c->fingerprint);
	}
	if (fd >= 0)
		close(fd);
}

bool mg_summary_cache_get(const mg_summary_cache *cache, uint64_t map_hash,
			  uint64_t key, size_t len, mg_unit_summary *out)
{
	const cache_file *c = g_hash_table_lookup(cache->files, &map_hash);
	if (c == NULL)
		return false;
	gpointer v = g_hash_table_lookup(c->index, GSIZE_TO_POINTER(mix(key, len)));
	if (v == NULL)
		return false;
	size_t off = GPOINTER_TO_SIZE(v) - 1;
	const uint8_t *p = c->data + off;
	if (rd64(p) != key || rd64(p + 8) != len || check_record(c, off) == 0)
		return false;           /* another entry in the slot, or damaged */
	memset(out, 0, sizeof(*out));
	out->instructions = rd32(p + 16);
	out->unknown = rd32(p + 20);
	out->first_unknown = rd32(p + 24);
	out->ends_flow = rd32(p + 28) != 0;
	out->ngroups = rd32(p + 32);
	out->nrefs = rd32(p + 36);
	out->groups = calloc(out->ngroups ? out->ngroups : 1, sizeof(*out->groups));
	out->refs = calloc(out->nrefs ? out->nrefs : 1, sizeof(*out->refs));
	if (out->groups == NULL || out->refs == NULL) {
		mg_unit_summary_free(out);
		return false;
	}
	const uint8_t *q = p + RECORD_HEAD;
	for (uint32_t g = 0; g < out->ngroups; g++, q += GROUP_SIZE) {
		for (int k = 0; k < 4; k++)
			out->groups[g].features.bits[k] = rd64(q + 8 * k);
		out->groups[g].count = rd32(q + 32) & ~(HINT_BIT | BSF_BIT);
		out->groups[g].hint = (rd32(q + 32) & HINT_BIT) != 0;
		out->groups[g].as_bsf = (rd32(q + 32) & BSF_BIT) != 0;
		out->groups[g].first = rd32(q + 36);
	}
	for (uint32_t i = 0; i < out->nrefs; i++, q += REF_SIZE) {
		out->refs[i].value = (int64_t)rd64(q);
		out->refs[i].kind = (uint8_t)rd64(q + 8);
	}
	return true;
}

static void put32(GByteArray *b, uint32_t v) { g_byte_array_append(b, (guint8 *)&v, 4); }
static void put64(GByteArray *b, uint64_t v) { g_byte_array_append(b, (guint8 *)&v, 8); }

void mg_summary_cache_put(mg_summary_cache *cache, uint64_t map_hash, uint64_t key,
			  size_t len, const mg_unit_summary *s)
{
	cache_file *c = cache ? g_hash_table_lookup(cache->files, &map_hash) : NULL;
	if (c == NULL || len > UINT32_MAX || s->ngroups > MAX_GROUPS || s->nrefs > MAX_REFS ||
	    c->size + c->pending->len > CACHE_FILE_MAX)
		return;
	GByteArray *b = c->pending;
	size_t start = b->len;
	put64(b, key);
	put64(b, len);
	put32(b, s->instructions);
	put32(b, s->unknown);
	put32(b, s->first_unknown);
	put32(b, s->ends_flow);
	put32(b, s->ngroups);
	put32(b, s->nrefs);
	for (uint32_t g = 0; g < s->ngroups; g++) {
		for (int k = 0; k < 4; k++)
			put64(b, s->groups[g].features.bits[k]);
		put32(b, (s->groups[g].count & ~(HINT_BIT | BSF_BIT)) |
			  (s->groups[g].hint ? HINT_BIT : 0) | (s->groups[g].as_bsf ? BSF_BIT : 0));
		put32(b, s->groups[g].first);
	}
	for (uint32_t i = 0; i < s->nrefs; i++) {
		put64(b, (uint64_t)s->refs[i].value);
		put64(b, s->refs[i].kind);
	}
	put64(b, mg_summary_key(b->data + start, b->len - start));
}

static void append_pending(const mg_summary_cache *cache, uint64_t map_hash,
			   const cache_file *c)
{
	char *path = file_path(cache, map_hash);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	g_free(path);
	if (fd < 0)
		return;
	struct stat st;
	if (flock(fd, LOCK_EX) == 0 && fstat(fd, &st) == 0 &&
	    (size_t)st.st_size <= CACHE_FILE_MAX) {
		bool ok = true;
		/* Records appended after a damaged tail (a bad header, a short
		 * write) would never be found again: if the file is still what
		 * we read, cut it back to its sound part first. */
		if ((size_t)st.st_size == c->size && c->valid_end < c->size &&
		    ftruncate(fd, (off_t)c->valid_end) == 0)
			st.st_size = (off_t)c->valid_end;
		if (st.st_size == 0) {
			uint8_t head[16];
			uint32_t magic = CACHE_MAGIC, version = CACHE_VERSION;
			memcpy(head, &magic, 4);
			memcpy(head + 4, &version, 4);
			memcpy(head + 8, &cache->fingerprint, 8);
			ok = write(fd, head, sizeof(head)) == (ssize_t)sizeof(head);
		}
		/* One write per batch; a short one is cut off again, so that
		 * the next batch does not land after a damaged record. */
		if (ok && write(fd, c->pending->data, c->pending->len) !=
			  (ssize_t)c->pending->len &&
		    ftruncate(fd, st.st_size) != 0) {
			/* Left damaged: readers stop at the bad record. */
		}
	}
	close(fd);
}

void mg_summary_cache_close(mg_summary_cache *c)
{
	if (c == NULL)
		return;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, c->files);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const cache_file *f = v;
		if (f->pending->len)
			append_pending(c, *(uint64_t *)k, f);
	}
	g_hash_table_destroy(c->files);
	g_free(c->dir);
	g_free(c);
}

size_t mg_summary_cache_scan_bytes(const uint8_t *data, size_t len, uint64_t fingerprint)
{
	cache_file f = { 0 };
	f.data = (uint8_t *)data;   /* only read */
	f.size = len;
	f.index = g_hash_table_new(g_direct_hash, g_direct_equal);
	index_records(&f, fingerprint);
	size_t valid = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, f.index);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		size_t off = GPOINTER_TO_SIZE(v) - 1;
		if (check_record(&f, off) != 0)
			valid++;
	}
	g_hash_table_destroy(f.index);
	return valid;
}
