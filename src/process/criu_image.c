/*
 * criu_image.c - a CRIU 4.x image directory as an mg_image.
 *
 * What is read (docs/criu.md has the full mapping):
 *   inventory.img       sanity (image version)
 *   pstree.img          the root task's PID and thread IDs
 *   core-<tid>.img      registers (incl. fs_base), XSAVE components,
 *                       signal actions (task_core_entry.sigactions)
 *   mm-<pid>.img        VMAs, saved auxv, exe_file_id
 *   files.img           names, sizes, build-ids of mapped files
 *   pagemap-<pid>.img   which pages were dumped, into pages-<id>.img
 * Memory reads are served from the dumped pages; a page CRIU did not dump
 * comes from the mapped file (resolved under `root`) for file mappings
 * and is zero for private anonymous ones.  Pages CRIU left in a parent
 * image or to lazy-pages, and shared anonymous memory, are not readable
 * (reads stop short there, and the image carries a warning).
 */
#include "process/criu_image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glib.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "process/criu_files.h"

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "memfd.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"

#define PAGE 4096u
#define CRIU_FD_TYPE_REG 1
#define CRIU_FD_TYPE_MEMFD 18
#define CRIU_MARCH_X86_64 1
#define CRIU_REGS_COMPAT 2

typedef struct criu_pm {
	uint64_t start, end;        /* [start, end) */
	uint32_t flags;             /* MG_CRIU_PE_* */
	uint64_t pages_off;         /* offset in pages-<id>.img when PRESENT */
} criu_pm;

/* One pagemap image and the pages file it names: a task's private memory,
 * or one shared memory object (memfd, shared anonymous mapping). */
typedef struct page_store {
	criu_pm *pm;                /* sorted, non-overlapping */
	size_t npm;
	int pages_fd;
	bool partial;               /* some entries in a parent image or lazy */
} page_store;

typedef struct criu_file {
	char *name;
	bool has_size;
	uint64_t size;
	uint32_t *build_id;
	size_t n_build_id;
	bool checked;               /* found under the root and verified */
	dev_t dev;                  /* of the file under the root, once checked */
	ino_t ino;
} criu_file;

typedef struct criu_priv {
	mg_criu_files *src;         /* images and mapped files */
	bool own_src;               /* freed with the image */
	const char *dir, *root;     /* src's names, for messages */
	page_store mem;             /* the task's private pages */
	uint32_t *vma_status;       /* parallel to img->maps */
	uint64_t *vma_shmid;        /* parallel: shared memory object, 0 if none */
	GHashTable *memfd_inodes;   /* memfd file id -> inode_id (files.img) */
	GHashTable *shmem;          /* shmid -> page_store* (NULL: not in the dump) */
	GHashTable *files;          /* file id -> criu_file* */
	GHashTable *open_files;     /* path -> fd + 1 (file-backed reads) */
} criu_priv;

/* --- small helpers ------------------------------------------------------------ */

static char *join(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Open `path` (absolute, as the dumped process saw it) as the restored
 * process will see it: under the root, for a checkpoint archive with its
 * rootfs diff laid over it (criu_files.h). */
static int open_under_root(const criu_priv *p, const char *path)
{
	return mg_criu_files_open_mapped(p->src, path);
}

static void criu_file_free(gpointer data)
{
	criu_file *f = data;
	if (f == NULL)
		return;
	free(f->name);
	free(f->build_id);
	free(f);
}

static void close_fd_value(gpointer data)
{
	int fd = GPOINTER_TO_INT(data) - 1;
	if (fd >= 0)
		close(fd);
}

static void page_store_clear(page_store *s)
{
	if (s->pages_fd >= 0)
		close(s->pages_fd);
	free(s->pm);
	memset(s, 0, sizeof(*s));
	s->pages_fd = -1;
}

static void page_store_free(gpointer data)
{
	page_store *s = data;
	if (s != NULL)
		page_store_clear(s);
	free(s);
}

static void criu_destroy(mg_image *img)
{
	criu_priv *p = img->priv;
	if (p == NULL)
		return;
	if (p->files)
		g_hash_table_destroy(p->files);
	if (p->open_files)
		g_hash_table_destroy(p->open_files);
	if (p->memfd_inodes)
		g_hash_table_destroy(p->memfd_inodes);
	if (p->shmem)
		g_hash_table_destroy(p->shmem);
	page_store_clear(&p->mem);
	if (p->own_src)
		mg_criu_files_free(p->src);
	free(p->vma_status);
	free(p->vma_shmid);
	free(p);
	img->priv = NULL;
}

/* --- memory ------------------------------------------------------------------- */

/*
 * The pagemap entry holding addr, or NULL; *next is then where the first
 * entry above addr starts (UINT64_MAX if none), so a caller knows how far
 * the pages without an entry go.
 */
static const criu_pm *find_pm(const page_store *s, uint64_t addr, uint64_t *next)
{
	size_t lo = 0, hi = s->npm;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < s->pm[mid].start)
			hi = mid;
		else if (addr >= s->pm[mid].end)
			lo = mid + 1;
		else
			return &s->pm[mid];
	}
	*next = lo < s->npm ? s->pm[lo].start : UINT64_MAX;
	return NULL;
}

static int mapping_fd(mg_image *img, const mg_mapping *m)
{
	criu_priv *p = img->priv;
	gpointer v = g_hash_table_lookup(p->open_files, m->path);
	if (v != NULL)
		return GPOINTER_TO_INT(v) - 1;
	int fd = open_under_root(p, m->path);
	if (fd < 0)
		return -1;
	char *key = strdup(m->path);
	if (key == NULL) {
		close(fd);
		return -1;
	}
	g_hash_table_insert(p->open_files, key, GINT_TO_POINTER(fd + 1));
	return fd;
}

/* Read up to len bytes at off; fewer only at end of file (*eof set, if
 * eof is not NULL) or on an error. */
static size_t pread_upto(int fd, void *buf, size_t len, uint64_t off, bool *eof)
{
	size_t got = 0;
	if (eof != NULL)
		*eof = false;
	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && eof != NULL)
			*eof = true;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return pread_upto(fd, buf, len, off, NULL) == len ? 0 : -1;
}

/*
 * Read from position pos of a page store as many of want bytes as one run
 * holds: the rest of a pagemap entry, or (*hole set) the distance to the
 * next entry, which the caller fills.  -1 when the entry's pages are not
 * in this dump (a parent image, lazy pages).
 */
static ssize_t read_store(const page_store *s, uint64_t pos, void *buf, size_t want,
			  bool *hole)
{
	uint64_t next = UINT64_MAX;    /* set by find_pm when it finds no entry */
	const criu_pm *pm = find_pm(s, pos, &next);
	uint64_t run_end = pm != NULL ? pm->end : next;
	size_t len = run_end - pos < want ? (size_t)(run_end - pos) : want;
	*hole = pm == NULL;
	if (pm == NULL)
		return (ssize_t)len;
	if (!(pm->flags & MG_CRIU_PE_PRESENT) || (pm->flags & MG_CRIU_PE_PARENT))
		return -1;      /* in a parent image or lazy: not here */
	if (pread_full(s->pages_fd, buf, len, pm->pages_off + (pos - pm->start)) < 0)
		return -1;
	return (ssize_t)len;
}

/*
 * A shared memory object (memfd, shared anonymous memory) is dumped once,
 * in pagemap-shmem-<shmid>.img, indexed by offset in the object; pages it
 * does not list were never written and read as zeroes, as after a restore.
 */
static ssize_t read_shared(mg_image *img, const mg_mapping *m, uint64_t addr,
			   void *buf, size_t want)
{
	criu_priv *p = img->priv;
	uint64_t shmid = p->vma_shmid[m - img->maps];
	const page_store *s = shmid != 0
		? g_hash_table_lookup(p->shmem, GSIZE_TO_POINTER((gsize)shmid)) : NULL;
	if (s == NULL)
		return -1;      /* its pages are not in this dump */
	bool hole;
	ssize_t n = read_store(s, m->file_offset + (addr - m->start), buf, want, &hole);
	if (n > 0 && hole)
		memset(buf, 0, (size_t)n);
	return n;
}

/*
 * Read from addr in mapping m as many of want bytes as one source holds:
 * the rest of a pagemap entry (pages-*.img), or the pages up to the next
 * entry (the mapped file, or zeroes for anonymous memory never touched).
 * Returns the bytes read, or -1 when that source is not in the dump.
 * One pread per run, not per page: a 2 GiB heap is a few dozen entries.
 */
static ssize_t read_run(mg_image *img, const mg_mapping *m, uint64_t addr,
			void *buf, size_t want)
{
	criu_priv *p = img->priv;
	uint32_t st = p->vma_status[m - img->maps];
	/* The task's pagemap first, for every kind: it also holds the pages
	 * a process wrote in a MAP_PRIVATE mapping of a memfd or file. */
	bool hole;
	ssize_t n = read_store(&p->mem, addr, buf, want, &hole);
	if (n <= 0 || !hole)
		return n;
	want = (size_t)n;       /* pages without an entry, up to the next */
	if (st & (MG_CRIU_VMA_ANON_SHARED | MG_CRIU_VMA_AREA_MEMFD))
		return read_shared(img, m, addr, buf, want);
	if (st & (MG_CRIU_VMA_AREA_VDSO | MG_CRIU_VMA_AREA_VVAR | MG_CRIU_VMA_AREA_VSYSCALL))
		return -1;
	if (st & (MG_CRIU_VMA_AREA_SYSVIPC | MG_CRIU_VMA_AREA_SOCKET | MG_CRIU_VMA_AREA_AIORING))
		return -1;      /* contents live in other images we do not read */
	if (m->kind == MG_MAP_FILE) {
		if (m->path == NULL)
			return -1;
		int fd = mapping_fd(img, m);
		if (fd < 0)
			return -1;
		bool eof;
		size_t got = pread_upto(fd, buf, want, m->file_offset + (addr - m->start), &eof);
		if (!eof)
			return got > 0 ? (ssize_t)got : -1;
		/* Past the end of the file (its size was checked against
		 * files.img): the kernel zero-fills the rest of the last page,
		 * and any access beyond it raises SIGBUS, so nothing can be
		 * stored there: zeroes, not unreadable memory. */
		memset((uint8_t *)buf + got, 0, want - got);
		return (ssize_t)want;
	}
	memset(buf, 0, want);   /* private anonymous pages never touched */
	return (ssize_t)want;
}

static ssize_t criu_read(mg_image *img, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		uint64_t a = addr + done;
		const mg_mapping *m = mg_image_find_mapping(img, a);
		if (m == NULL)
			break;
		size_t want = len - done;
		if (want > m->end - a)
			want = (size_t)(m->end - a);
		ssize_t n = read_run(img, m, a, (uint8_t *)buf + done, want);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done > 0 ? (ssize_t)done : -1;
}

static int criu_open_mapping(mg_image *img, const mg_mapping *m, mg_error *err)
{
	criu_priv *p = img->priv;
	if (m->path == NULL || m->kind != MG_MAP_FILE)
		return mg_fail(err, MG_ERR_IO, "criu:%s: mapping 0x%" PRIx64 " is not file-backed",
			       p->dir, m->start);
	int fd = open_under_root(p, m->path);
	if (fd < 0)
		return mg_fail(err, MG_ERR_IO, "criu:%s: %s under root %s: %s",
			       p->dir, m->path, p->root, strerror(errno));
	return fd;
}

static const mg_image_ops criu_ops = {
	.read = criu_read,
	.open_mapping = criu_open_mapping,
	.destroy = criu_destroy,
};

/* --- image files -------------------------------------------------------------- */

/*
 * Load one image and unpack its messages: first with `first`, the rest
 * with `rest`; at most `max` messages.  On success *msgs (free with
 * free_msgs) holds *n messages.
 */
static int load_messages(const criu_priv *p, const char *file, uint32_t magic,
			 const ProtobufCMessageDescriptor *first,
			 const ProtobufCMessageDescriptor *rest, size_t max,
			 ProtobufCMessage ***msgs, size_t *n, mg_error *err)
{
	*msgs = NULL;
	*n = 0;
	char *path = join(p->dir, file);
	if (path == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	uint8_t *data;
	size_t len, off;
	if (mg_criu_files_read(p->src, file, &data, &len, err) < 0 ||
	    mg_criu_check_magic(path, data, len, magic, &off, err) < 0) {
		free(path);
		free(data);
		return -1;
	}
	GPtrArray *arr = g_ptr_array_new();
	int rc = 0;
	for (;;) {
		const uint8_t *msg;
		size_t mlen;
		int r = mg_criu_next_message(path, data, len, &off, &msg, &mlen, err);
		if (r <= 0) {
			rc = r;
			break;
		}
		if (arr->len >= max) {
			rc = mg_fail(err, MG_ERR_IO, "%s: more than %zu messages", path, max);
			break;
		}
		ProtobufCMessage *m = mg_criu_unpack(path, arr->len == 0 ? first : rest,
						     msg, mlen, err);
		if (m == NULL) {
			rc = -1;
			break;
		}
		g_ptr_array_add(arr, m);
	}
	if (rc == 0 && arr->len == 0)
		rc = mg_fail(err, MG_ERR_IO, "%s: no entries", path);
	free(data);
	free(path);
	if (rc < 0) {
		for (guint i = 0; i < arr->len; i++)
			protobuf_c_message_free_unpacked(arr->pdata[i], NULL);
		g_ptr_array_free(arr, TRUE);
		return -1;
	}
	*n = arr->len;
	*msgs = (ProtobufCMessage **)g_ptr_array_free(arr, FALSE);
	return 0;
}

static void free_msgs(ProtobufCMessage **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(msgs[i], NULL);
	g_free(msgs);
}

/* Load an image that holds exactly one message. */
static ProtobufCMessage *load_one(const criu_priv *p, const char *file, uint32_t magic,
				  const ProtobufCMessageDescriptor *d, mg_error *err)
{
	ProtobufCMessage **msgs;
	size_t n;
	if (load_messages(p, file, magic, d, d, 1, &msgs, &n, err) < 0)
		return NULL;
	ProtobufCMessage *m = msgs[0];
	g_free(msgs);
	return m;
}

/* --- files.img ---------------------------------------------------------------- */

static int load_files(criu_priv *p, mg_error *err)
{
	ProtobufCMessage **msgs;
	size_t n;
	if (load_messages(p, "files.img", MG_CRIU_FILES_MAGIC, &file_entry__descriptor,
			  &file_entry__descriptor, 1u << 22, &msgs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		FileEntry *fe = (FileEntry *)msgs[i];
		if (fe->type == CRIU_FD_TYPE_MEMFD && fe->memfd != NULL) {
			/* inode + 1: an inode id 0 must not read as "absent" */
			g_hash_table_replace(p->memfd_inodes, GUINT_TO_POINTER(fe->id),
					     GSIZE_TO_POINTER((gsize)fe->memfd->inode_id + 1));
			continue;
		}
		if (fe->type != CRIU_FD_TYPE_REG || fe->reg == NULL)
			continue;
		criu_file *f = calloc(1, sizeof(*f));
		if (f == NULL || (f->name = strdup(fe->reg->name)) == NULL) {
			criu_file_free(f);
			free_msgs(msgs, n);
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		}
		f->has_size = fe->reg->has_size;
		f->size = fe->reg->size;
		if (fe->reg->n_build_id > 0 && fe->reg->n_build_id <= 64) {
			f->build_id = malloc(fe->reg->n_build_id * sizeof(uint32_t));
			if (f->build_id == NULL) {
				criu_file_free(f);
				free_msgs(msgs, n);
				return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
			}
			memcpy(f->build_id, fe->reg->build_id, fe->reg->n_build_id * sizeof(uint32_t));
			f->n_build_id = fe->reg->n_build_id;
		}
		g_hash_table_replace(p->files, GUINT_TO_POINTER(fe->id), f);
	}
	free_msgs(msgs, n);
	return 0;
}

/*
 * GNU build-id of an ELF file, or 0 bytes when it has none or is not ELF.
 * CRIU stores it as uint32 words copied from the note bytes (little-endian).
 */
static size_t elf_build_id(int fd, uint8_t *out, size_t cap)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return 0;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (e == NULL)
		return 0;
	size_t found = 0, phnum = 0;
	if (elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &phnum) == 0) {
		for (size_t i = 0; i < phnum && found == 0; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) == NULL || ph.p_type != PT_NOTE)
				continue;
			/* 8-byte aligned note segments use the 8-byte note layout
			 * (as module.c's load_notes reads them). */
			Elf_Data *d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz,
							   ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
			if (d == NULL)
				continue;
			size_t off = 0, name_off, desc_off;
			GElf_Nhdr nh;
			while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
				if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
				    memcmp((char *)d->d_buf + name_off, "GNU", 4) == 0) {
					found = nh.n_descsz < cap ? nh.n_descsz : cap;
					memcpy(out, (char *)d->d_buf + desc_off, found);
					break;
				}
			}
		}
	}
	elf_end(e);
	return found;
}

/* A mapped file under the root must be the one that was dumped.  Records
 * its device and inode: CRIU does not keep them, and the analysis tells
 * the mappings of one file from another's by them. */
static int check_mapped_file(criu_priv *p, criu_file *f, mg_error *err)
{
	int fd = open_under_root(p, f->name);
	if (fd < 0)
		return mg_fail(err, MG_ERR_IO, "criu:%s: mapped file %s (files.img) not found under root %s: %s",
			       p->dir, f->name, p->root, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = mg_fail(err, MG_ERR_IO, "criu:%s: mapped file %s under root %s is not a regular file",
			     p->dir, f->name, p->root);
	} else if (f->has_size && (uint64_t)st.st_size != f->size) {
		rc = mg_fail(err, MG_ERR_IO,
			     "criu:%s: mapped file %s under root %s has %lld bytes, files.img recorded %" PRIu64
			     ": it changed since the dump", p->dir, f->name, p->root,
			     (long long)st.st_size, f->size);
	} else if (f->n_build_id > 0) {
		uint8_t want[256], have[256];
		size_t wlen = f->n_build_id * 4;
		for (size_t i = 0; i < f->n_build_id; i++) {
			want[4 * i] = (uint8_t)f->build_id[i];
			want[4 * i + 1] = (uint8_t)(f->build_id[i] >> 8);
			want[4 * i + 2] = (uint8_t)(f->build_id[i] >> 16);
			want[4 * i + 3] = (uint8_t)(f->build_id[i] >> 24);
		}
		size_t hlen = elf_build_id(fd, have, sizeof(have));
		if (hlen < wlen || hlen >= wlen + 4 || memcmp(want, have, wlen) != 0)
			rc = mg_fail(err, MG_ERR_IO,
				     "criu:%s: mapped file %s under root %s has another build-id than files.img recorded: it changed since the dump",
				     p->dir, f->name, p->root);
	}
	if (rc == 0) {
		f->checked = true;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	close(fd);
	return rc;
}

/* --- mm ----------------------------------------------------------------------- */

static mg_map_kind kind_of(uint32_t status)
{
	if (status & MG_CRIU_VMA_AREA_HEAP)
		return MG_MAP_HEAP;
	if (status & MG_CRIU_VMA_AREA_STACK)
		return MG_MAP_STACK;
	if (status & MG_CRIU_VMA_AREA_VDSO)
		return MG_MAP_VDSO;
	if (status & MG_CRIU_VMA_AREA_VVAR)
		return MG_MAP_VVAR;
	if (status & MG_CRIU_VMA_AREA_VSYSCALL)
		return MG_MAP_VSYSCALL;
	if (status & (MG_CRIU_VMA_AREA_SYSVIPC | MG_CRIU_VMA_AREA_SOCKET |
		      MG_CRIU_VMA_AREA_AIORING | MG_CRIU_VMA_AREA_MEMFD))
		return MG_MAP_OTHER;
	if (status & (MG_CRIU_VMA_FILE_PRIVATE | MG_CRIU_VMA_FILE_SHARED))
		return MG_MAP_FILE;
	return MG_MAP_ANON;
}

static const char *special_name(mg_map_kind k)
{
	switch (k) {
	case MG_MAP_HEAP: return "[heap]";
	case MG_MAP_STACK: return "[stack]";
	case MG_MAP_VDSO: return "[vdso]";
	case MG_MAP_VVAR: return "[vvar]";
	case MG_MAP_VSYSCALL: return "[vsyscall]";
	default: return NULL;
	}
}

static int load_mm(mg_image *img, criu_priv *p, const char *mmfile, mg_error *err)
{
	char *name = join(p->dir, mmfile);
	MmEntry *mm = (MmEntry *)load_one(p, mmfile, MG_CRIU_MM_MAGIC, &mm_entry__descriptor, err);
	if (mm == NULL) {
		free(name);
		return -1;
	}
	int rc = 0;
	if (mm->n_vmas == 0 || mm->n_vmas > MG_CRIU_VMAS_MAX) {
		rc = mg_fail(err, MG_ERR_IO, "%s: %zu VMAs", name, mm->n_vmas);
		goto out;
	}
	img->maps = calloc(mm->n_vmas, sizeof(*img->maps));
	p->vma_status = calloc(mm->n_vmas, sizeof(*p->vma_status));
	p->vma_shmid = calloc(mm->n_vmas, sizeof(*p->vma_shmid));
	if (img->maps == NULL || p->vma_status == NULL || p->vma_shmid == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < mm->n_vmas && rc == 0; i++) {
		const VmaEntry *v = mm->vmas[i];
		if (v->start >= v->end || (v->start | v->end | v->pgoff) % PAGE != 0 ||
		    v->pgoff + (v->end - v->start) < v->pgoff ||
		    (i > 0 && v->start < mm->vmas[i - 1]->end)) {
			rc = mg_fail(err, MG_ERR_IO, "%s: VMA %zu [0x%" PRIx64 ", 0x%" PRIx64 ") (offset 0x%" PRIx64 ") is malformed or out of order",
				     name, i, v->start, v->end, v->pgoff);
			break;
		}
		mg_mapping *m = &img->maps[img->nmaps];
		m->start = v->start;
		m->end = v->end;
		m->file_offset = v->pgoff;
		m->prot = (v->prot & 1 ? MG_PROT_READ : 0) | (v->prot & 2 ? MG_PROT_WRITE : 0) |
			  (v->prot & 4 ? MG_PROT_EXEC : 0);
		m->shared = (v->flags & 0x01) != 0;      /* MAP_SHARED */
		m->kind = kind_of(v->status);
		/* CRIU 4 does not flag the main stack (VMA_AREA_STACK); the kernel
		 * names [stack] the VMA holding mm->start_stack, so do we. */
		if (m->kind == MG_MAP_ANON && mm->mm_start_stack >= v->start &&
		    mm->mm_start_stack < v->end)
			m->kind = MG_MAP_STACK;
		p->vma_status[img->nmaps] = v->status;
		if (v->status & (MG_CRIU_VMA_ANON_SHARED | MG_CRIU_VMA_AREA_MEMFD))
			p->vma_shmid[img->nmaps] = v->shmid;    /* memfd: resolved later */
		/* CRIU 4.x dumps a CET shadow stack as a VMA flagged SHSTK
		 * (criu/arch/x86/shstk.c): without one, the process has none. */
		if (v->status & MG_CRIU_VMA_AREA_SHSTK)
			img->shadow_stack = 1;
		const char *path = special_name(m->kind);
		/* By kind, not by the FILE_* bits: CRIU also sets those on memfd
		 * mappings, whose shmid names a MEMFD entry, not a file. */
		if (m->kind == MG_MAP_FILE) {
			criu_file *f = v->shmid <= UINT32_MAX
				? g_hash_table_lookup(p->files, GUINT_TO_POINTER((guint)v->shmid)) : NULL;
			if (f == NULL) {
				rc = mg_fail(err, MG_ERR_IO, "%s: VMA 0x%" PRIx64 " maps file id %" PRIu64 ", absent from files.img",
					     name, v->start, v->shmid);
				break;
			}
			path = f->name;
			if (!f->checked && (rc = check_mapped_file(p, f, err)) < 0)
				break;
			m->dev_major = major(f->dev);
			m->dev_minor = minor(f->dev);
			m->inode = f->ino;
		}
		if (path != NULL && (m->path = strdup(path)) == NULL)
			rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		img->nmaps++;
	}
	if (rc < 0)
		goto out;
	mg_auxv_parse(mm->mm_saved_auxv, mm->n_mm_saved_auxv * sizeof(*mm->mm_saved_auxv),
		      &img->at_entry, &img->at_sysinfo_ehdr);
	const criu_file *exe = g_hash_table_lookup(p->files, GUINT_TO_POINTER(mm->exe_file_id));
	if (exe != NULL && (img->exe = strdup(exe->name)) == NULL)
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
out:
	protobuf_c_message_free_unpacked(&mm->base, NULL);
	free(name);
	return rc;
}

/* --- pagemap ------------------------------------------------------------------ */

static int cmp_pm(const void *a, const void *b)
{
	const criu_pm *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Load pagemap image `file` and open the pages file its head names. */
static int load_page_store(criu_priv *p, const char *file, page_store *s, mg_error *err)
{
	char *name = join(p->dir, file);
	ProtobufCMessage **msgs;
	size_t n;
	if (name == NULL || load_messages(p, file, MG_CRIU_PAGEMAP_MAGIC, &pagemap_head__descriptor,
					  &pagemap_entry__descriptor, MG_CRIU_PAGEMAP_MAX + 1,
					  &msgs, &n, err) < 0) {
		free(name);
		return -1;
	}
	int rc = 0;
	uint64_t off = 0;
	char pages[64];
	snprintf(pages, sizeof(pages), "pages-%u.img", ((PagemapHead *)msgs[0])->pages_id);
	char *pages_path = join(p->dir, pages);
	s->pm = calloc(n, sizeof(*s->pm));
	if (s->pm == NULL || pages_path == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		const PagemapEntry *e = (PagemapEntry *)msgs[i];
		uint32_t flags = e->has_flags ? e->flags
			: (e->has_in_parent && e->in_parent ? MG_CRIU_PE_PARENT : MG_CRIU_PE_PRESENT);
		uint64_t bytes = (uint64_t)e->nr_pages * PAGE;
		if (e->vaddr % PAGE != 0 || e->nr_pages == 0 || e->vaddr + bytes < e->vaddr) {
			rc = mg_fail(err, MG_ERR_IO, "%s: entry %zu (0x%" PRIx64 ", %u pages) is malformed",
				     name, i, e->vaddr, e->nr_pages);
			goto out;
		}
		criu_pm *pm = &s->pm[s->npm++];
		pm->start = e->vaddr;
		pm->end = e->vaddr + bytes;
		pm->flags = flags;
		if ((flags & MG_CRIU_PE_PRESENT) && !(flags & MG_CRIU_PE_PARENT)) {
			pm->pages_off = off;
			off += bytes;
		} else {
			s->partial = true;
		}
	}
	qsort(s->pm, s->npm, sizeof(*s->pm), cmp_pm);
	for (size_t i = 1; i < s->npm; i++)
		if (s->pm[i].start < s->pm[i - 1].end) {
			rc = mg_fail(err, MG_ERR_IO, "%s: overlapping entries at 0x%" PRIx64, name, s->pm[i].start);
			goto out;
		}
	s->pages_fd = mg_criu_files_open_image(p->src, pages, NULL);
	if (s->pages_fd < 0) {
		rc = mg_fail(err, MG_ERR_IO, "%s: %s (named by %s)", pages_path, strerror(errno), name);
		goto out;
	}
	struct stat st;
	if (fstat(s->pages_fd, &st) != 0 || (uint64_t)st.st_size < off) {
		rc = mg_fail(err, MG_ERR_IO, "%s: truncated: %s needs %" PRIu64 " bytes of pages, the file has %lld",
			     pages_path, name, off, (long long)st.st_size);
		goto out;
	}
out:
	free(pages_path);
	free(name);
	free_msgs(msgs, n);
	return rc;
}

static int load_pagemap(mg_image *img, criu_priv *p, pid_t pid, mg_error *err)
{
	char file[64];
	snprintf(file, sizeof(file), "pagemap-%d.img", (int)pid);
	if (load_page_store(p, file, &p->mem, err) < 0)
		return -1;
	if (p->mem.partial)
		mg_image_warn(img, "criu:%s: some pages are in a parent image or left to lazy-pages; reads of them fail",
			      p->dir);
	return 0;
}

/*
 * The pages of every shared memory object a VMA maps.  A missing or
 * unusable pagemap-shmem image is not fatal: the object's reads fail and
 * the scan widens (with a warning naming the range).
 */
static int load_shared_memory(mg_image *img, criu_priv *p, mg_error *err)
{
	for (size_t i = 0; i < img->nmaps; i++) {
		uint64_t shmid = p->vma_shmid[i];
		gpointer key = GSIZE_TO_POINTER((gsize)shmid);
		if (shmid == 0 || g_hash_table_contains(p->shmem, key))
			continue;
		char file[64];
		snprintf(file, sizeof(file), "pagemap-shmem-%" PRIu64 ".img", shmid);
		page_store *s = calloc(1, sizeof(*s));
		if (s == NULL)
			return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		s->pages_fd = -1;
		mg_error why = { 0 };
		if (load_page_store(p, file, s, &why) < 0) {
			mg_image_warn(img, "criu:%s: shared memory at 0x%" PRIx64 ": %s", p->dir,
				      img->maps[i].start, why.msg);
			page_store_free(s);
			s = NULL;
		}
		g_hash_table_insert(p->shmem, key, s);
	}
	return 0;
}

/* memfd.img: inode_id -> shmid, to resolve the memfd VMAs' shmids. */
static int load_memfd_inodes(criu_priv *p, GHashTable *shmid_of, mg_error *err)
{
	if (!mg_criu_files_has(p->src, "memfd.img"))
		return 0;       /* no memfd in the dump */
	ProtobufCMessage **msgs;
	size_t n;
	if (load_messages(p, "memfd.img", MG_CRIU_MEMFD_INODE_MAGIC, &memfd_inode_entry__descriptor,
			  &memfd_inode_entry__descriptor, 1u << 20, &msgs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const MemfdInodeEntry *e = (MemfdInodeEntry *)msgs[i];
		if (e->shmid != 0 && e->inode_id <= G_MAXSIZE)
			g_hash_table_replace(shmid_of, GSIZE_TO_POINTER((gsize)e->inode_id),
					     GSIZE_TO_POINTER((gsize)e->shmid));
	}
	free_msgs(msgs, n);
	return 0;
}

/*
 * A memfd VMA's shmid (set by load_mm) is a files.img id: turn it into the
 * memfd's shmem id (files.img memfd entry -> memfd.img inode), or 0 when
 * the dump does not say.  Shared anonymous VMAs already carry theirs.
 */
static int resolve_memfd_shmids(mg_image *img, criu_priv *p, mg_error *err)
{
	GHashTable *shmid_of = g_hash_table_new(g_direct_hash, g_direct_equal);
	int rc = load_memfd_inodes(p, shmid_of, err);
	for (size_t i = 0; i < img->nmaps && rc == 0; i++) {
		if (!(p->vma_status[i] & MG_CRIU_VMA_AREA_MEMFD))
			continue;
		uint64_t id = p->vma_shmid[i];
		gsize inode1 = id <= UINT32_MAX
			? GPOINTER_TO_SIZE(g_hash_table_lookup(p->memfd_inodes, GSIZE_TO_POINTER((gsize)id)))
			: 0;
		p->vma_shmid[i] = inode1 == 0 ? 0
			: GPOINTER_TO_SIZE(g_hash_table_lookup(shmid_of, GSIZE_TO_POINTER(inode1 - 1)));
	}
	g_hash_table_destroy(shmid_of);
	return rc;
}

/* --- threads ------------------------------------------------------------------ */

/* Rebuild a standard-format (non-compacted) XSAVE area from CRIU's
 * per-component arrays, so the analysis can scan register contents. */
static void copy_words(uint8_t *area, size_t at, size_t cap, const void *src,
		       size_t n, size_t elem)
{
	size_t bytes = n * elem;
	if (bytes > cap)
		bytes = cap;
	if (bytes > 0)
		memcpy(area + at, src, bytes);
}

static int build_xsave(mg_thread *t, const UserX86FpregsEntry *fp)
{
	enum { LEN = 2696 };
	uint8_t *a = calloc(1, LEN);
	if (a == NULL)
		return -1;
	uint16_t w16;
	w16 = (uint16_t)fp->cwd; memcpy(a + 0, &w16, 2);
	w16 = (uint16_t)fp->swd; memcpy(a + 2, &w16, 2);
	a[4] = (uint8_t)fp->twd;
	w16 = (uint16_t)fp->fop; memcpy(a + 6, &w16, 2);
	memcpy(a + 8, &fp->rip, 8);
	memcpy(a + 16, &fp->rdp, 8);
	memcpy(a + 24, &fp->mxcsr, 4);
	memcpy(a + 28, &fp->mxcsr_mask, 4);
	copy_words(a, 32, 128, fp->st_space, fp->n_st_space, 4);
	copy_words(a, 160, 256, fp->xmm_space, fp->n_xmm_space, 4);
	size_t len = 512;
	const UserX86XsaveEntry *x = fp->xsave;
	if (x != NULL) {
		memcpy(a + 512, &x->xstate_bv, 8);
		copy_words(a, 576, 256, x->ymmh_space, x->n_ymmh_space, 4);
		copy_words(a, 960, 64, x->bndreg_state, x->n_bndreg_state, 8);
		copy_words(a, 1024, 64, x->bndcsr_state, x->n_bndcsr_state, 8);
		copy_words(a, 1088, 64, x->opmask_reg, x->n_opmask_reg, 8);
		copy_words(a, 1152, 512, x->zmm_upper, x->n_zmm_upper, 8);
		copy_words(a, 1664, 1024, x->hi16_zmm, x->n_hi16_zmm, 8);
		copy_words(a, 2688, 8, x->pkru, x->n_pkru, 4);
		len = LEN;
		t->has_xstate = true;
		t->xstate_bv = x->xstate_bv;
	}
	t->xsave = a;
	t->xsave_len = len;
	return 0;
}

static void set_regs(struct user_regs_struct *r, const UserX86RegsEntry *g)
{
	r->r15 = g->r15; r->r14 = g->r14; r->r13 = g->r13; r->r12 = g->r12;
	r->rbp = g->bp; r->rbx = g->bx; r->r11 = g->r11; r->r10 = g->r10;
	r->r9 = g->r9; r->r8 = g->r8; r->rax = g->ax; r->rcx = g->cx;
	r->rdx = g->dx; r->rsi = g->si; r->rdi = g->di; r->orig_rax = g->orig_ax;
	r->rip = g->ip; r->cs = g->cs; r->eflags = g->flags; r->rsp = g->sp;
	r->ss = g->ss; r->fs_base = g->fs_base; r->gs_base = g->gs_base;
	r->ds = g->ds; r->es = g->es; r->fs = g->fs; r->gs = g->gs;
}

/* sa_entry i describes signal i+1, skipping SIGKILL and SIGSTOP. */
static int signo_of_index(size_t i)
{
	int sig = (int)i + 1;
	if (sig >= 9)
		sig++;
	if (sig >= 19)
		sig++;
	return sig;
}

static void load_sigactions(mg_image *img, const TaskCoreEntry *tc)
{
	if (tc->n_sigactions == 0) {
		mg_image_warn(img, "criu:%s: no signal actions in the core image (older CRIU keeps them in sigacts-*.img, not read): handlers unknown",
			      ((criu_priv *)img->priv)->dir);
		return;
	}
	for (size_t i = 0; i < tc->n_sigactions && i < 62; i++) {
		const SaEntry *sa = tc->sigactions[i];
		if (sa->sigaction <= 1)
			continue;       /* SIG_DFL, SIG_IGN */
		mg_sigaction *out = &img->sigactions[img->nsigactions++];
		out->signo = signo_of_index(i);
		out->handler = sa->sigaction;
		out->flags = sa->flags;
		out->restorer = sa->restorer;
	}
	img->sigactions_known = true;
}

static int load_thread(mg_image *img, criu_priv *p, pid_t tid, bool main_thread,
		       mg_thread *t, mg_error *err)
{
	char file[64];
	snprintf(file, sizeof(file), "core-%d.img", (int)tid);
	char *name = join(p->dir, file);
	CoreEntry *core = name ? (CoreEntry *)load_one(p, file, MG_CRIU_CORE_MAGIC,
						       &core_entry__descriptor, err) : NULL;
	int rc = 0;
	if (core == NULL) {
		rc = name ? -1 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (core->mtype != CRIU_MARCH_X86_64 || core->thread_info == NULL) {
		rc = mg_fail(err, MG_ERR_UNSUPPORTED, "%s: not an x86-64 task (architecture %u)",
			     name, core->mtype);
		goto out;
	}
	const ThreadInfoX86 *ti = core->thread_info;
	if (ti->gpregs->has_mode && ti->gpregs->mode == CRIU_REGS_COMPAT) {
		rc = mg_fail(err, MG_ERR_UNSUPPORTED, "%s: 32-bit (compat) task", name);
		goto out;
	}
	t->tid = tid;
	set_regs(&t->regs, ti->gpregs);
	if (build_xsave(t, ti->fpregs) < 0) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (main_thread) {
		if (core->tc == NULL) {
			rc = mg_fail(err, MG_ERR_IO, "%s: main thread without task_core_entry", name);
			goto out;
		}
		load_sigactions(img, core->tc);
	}
out:
	if (core)
		protobuf_c_message_free_unpacked(&core->base, NULL);
	free(name);
	return rc;
}

/* --- entry point -------------------------------------------------------------- */

/* pstree.img of a dump whose inventory says image version 2 (CRIU 4.x). */
static int load_pstree(const criu_priv *p, ProtobufCMessage ***msgs, size_t *n, mg_error *err)
{
	InventoryEntry *inv = (InventoryEntry *)load_one(p, "inventory.img", MG_CRIU_INVENTORY_MAGIC,
							 &inventory_entry__descriptor, err);
	if (inv == NULL)
		return -1;
	uint32_t version = inv->img_version;
	protobuf_c_message_free_unpacked(&inv->base, NULL);
	if (version != 2)
		return mg_fail(err, MG_ERR_IO, "criu:%s: inventory.img: image version %u, this reader knows 2",
			       p->dir, version);
	if (load_messages(p, "pstree.img", MG_CRIU_PSTREE_MAGIC, &pstree_entry__descriptor,
			  &pstree_entry__descriptor, MG_CRIU_TASKS_MAX, msgs, n, err) < 0)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		const PstreeEntry *e = (PstreeEntry *)(*msgs)[i];
		if (e->pid == 0 || e->pid > INT32_MAX || e->ppid > INT32_MAX || e->n_threads == 0 ||
		    e->n_threads > MG_CRIU_THREADS_MAX) {
			int rc = mg_fail(err, MG_ERR_IO, "criu:%s: pstree.img: task %u with %zu threads",
					 p->dir, e->pid, e->n_threads);
			free_msgs(*msgs, *n);
			*msgs = NULL;
			return rc;
		}
	}
	return 0;
}

/* compel's task states (compel/include/uapi/task-state.h), as core.img
 * records them: only a live or stopped task has memory and registers. */
#define CRIU_TASK_ALIVE   1
#define CRIU_TASK_DEAD    2
#define CRIU_TASK_STOPPED 3
#define CRIU_TASK_ZOMBIE  6

static int task_has_memory(const criu_priv *p, uint32_t pid, bool *has, mg_error *err)
{
	char file[64];
	snprintf(file, sizeof(file), "core-%u.img", pid);
	CoreEntry *core = (CoreEntry *)load_one(p, file, MG_CRIU_CORE_MAGIC, &core_entry__descriptor,
						err);
	if (core == NULL)
		return -1;
	int rc = 0;
	uint32_t state = core->tc ? core->tc->task_state : 0;
	if (state == CRIU_TASK_ALIVE || state == CRIU_TASK_STOPPED)
		*has = true;
	else if (state == CRIU_TASK_DEAD || state == CRIU_TASK_ZOMBIE)
		*has = false;
	else
		rc = mg_fail(err, MG_ERR_IO, "criu:%s: %s: task state %u", p->dir, file, state);
	protobuf_c_message_free_unpacked(&core->base, NULL);
	return rc;
}

int mg_criu_list_tasks(const char *dir, mg_task **tasks, size_t *n, mg_error *err)
{
	mg_criu_files *src;
	if (mg_criu_files_open_dir(dir, "/", &src, err) != 0)
		return -1;
	int rc = mg_criu_list_tasks_files(src, tasks, n, err);
	mg_criu_files_free(src);
	return rc;
}

int mg_criu_list_tasks_files(mg_criu_files *src, mg_task **tasks, size_t *n, mg_error *err)
{
	const criu_priv p = { .src = src, .dir = src->name, .root = src->root };
	ProtobufCMessage **msgs;
	size_t nmsgs;
	*tasks = NULL;
	*n = 0;
	if (load_pstree(&p, &msgs, &nmsgs, err) < 0)
		return -1;
	mg_task *t = calloc(nmsgs, sizeof(*t));
	int rc = t ? 0 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < nmsgs && rc == 0; i++) {
		const PstreeEntry *e = (PstreeEntry *)msgs[i];
		t[i].pid = (pid_t)e->pid;
		t[i].ppid = (pid_t)e->ppid;
		rc = task_has_memory(&p, e->pid, &t[i].has_memory, err);
	}
	free_msgs(msgs, nmsgs);
	if (rc < 0) {
		free(t);
		return -1;
	}
	*tasks = t;
	*n = nmsgs;
	return 0;
}

/* The task `want` of pstree.img (0: the root task) and its threads. */
static int load_tree(mg_image *img, criu_priv *p, pid_t want, bool warn_others, mg_error *err)
{
	ProtobufCMessage **msgs;
	size_t n;
	if (load_pstree(p, &msgs, &n, err) < 0)
		return -1;
	const PstreeEntry *root = NULL;
	for (size_t i = 0; i < n && root == NULL; i++)
		if (want == 0 || ((PstreeEntry *)msgs[i])->pid == (uint32_t)want)
			root = (PstreeEntry *)msgs[i];
	int rc = 0;
	bool has_memory = false;
	if (root == NULL) {
		rc = mg_fail(err, MG_ERR_NO_PROCESS, "criu:%s: the dump has no task %d", p->dir, (int)want);
		goto out;
	}
	if (task_has_memory(p, root->pid, &has_memory, err) < 0) {
		rc = -1;
		goto out;
	}
	if (!has_memory) {
		rc = mg_fail(err, MG_ERR_UNSUPPORTED, "criu:%s: task %u is a zombie: it has no code "
			     "left to run", p->dir, root->pid);
		goto out;
	}
	if (warn_others && n > 1)
		mg_image_warn(img, "criu:%s: the dump holds %zu processes; only the root task %u is analysed",
			      p->dir, n, root->pid);
	img->pid = (pid_t)root->pid;
	img->threads = calloc(root->n_threads, sizeof(*img->threads));
	if (img->threads == NULL) {
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* The thread-group leader first, as the live source does. */
	size_t leader = root->n_threads;
	for (size_t i = 0; i < root->n_threads; i++)
		if (root->threads[i] == root->pid)
			leader = i;
	if (leader == root->n_threads) {
		rc = mg_fail(err, MG_ERR_IO, "criu:%s: pstree.img: task %u is not among its own threads",
			     p->dir, root->pid);
		goto out;
	}
	for (size_t k = 0; k < root->n_threads; k++) {
		size_t i = k == 0 ? leader : (k <= leader ? k - 1 : k);
		uint32_t tid = root->threads[i];
		if (tid == 0 || tid > INT32_MAX) {
			rc = mg_fail(err, MG_ERR_IO, "criu:%s: pstree.img: bad thread id %u", p->dir, tid);
			goto out;
		}
		rc = load_thread(img, p, (pid_t)tid, k == 0, &img->threads[k], err);
		if (rc < 0)
			goto out;
		img->nthreads++;
	}
out:
	free_msgs(msgs, n);
	return rc;
}

/* Open task pid (0: the root task) of the checkpoint src; the image
 * frees src when own_src, also on failure. */
static int open_task(mg_criu_files *src, bool own_src, pid_t pid, bool warn_others,
		     mg_image **out, mg_error *err)
{
	*out = NULL;
	mg_image *img = calloc(1, sizeof(*img));
	criu_priv *p = calloc(1, sizeof(*p));
	if (img == NULL || p == NULL) {
		free(img);
		free(p);
		if (own_src)
			mg_criu_files_free(src);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	img->ops = &criu_ops;
	img->priv = p;
	p->mem.pages_fd = -1;
	p->src = src;
	p->own_src = own_src;
	p->dir = src->name;
	p->root = src->root;
	p->files = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, criu_file_free);
	p->open_files = g_hash_table_new_full(g_str_hash, g_str_equal, free, close_fd_value);
	p->memfd_inodes = g_hash_table_new(g_direct_hash, g_direct_equal);
	p->shmem = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, page_store_free);
	if (asprintf(&img->source, "criu:%s", src->name) < 0) {
		img->source = NULL;
		mg_image_free(img);
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	}
	char mmfile[64];
	if (load_tree(img, p, pid, warn_others, err) < 0 || load_files(p, err) < 0)
		goto fail;
	snprintf(mmfile, sizeof(mmfile), "mm-%d.img", (int)img->pid);
	if (load_mm(img, p, mmfile, err) < 0 || load_pagemap(img, p, img->pid, err) < 0 ||
	    resolve_memfd_shmids(img, p, err) < 0 || load_shared_memory(img, p, err) < 0)
		goto fail;
	for (size_t i = 0; i < img->nthreads; i++)
		mg_image_copy_stack(img, &img->threads[i]);
	mg_image_find_pointer_guard(img);
	*out = img;
	return 0;
fail:
	mg_image_free(img);
	return -1;
}

static int open_dir_task(const char *dir, const char *root, pid_t pid, bool warn_others,
			 mg_image **out, mg_error *err)
{
	mg_criu_files *src;
	*out = NULL;
	if (mg_criu_files_open_dir(dir, root, &src, err) != 0)
		return -1;
	return open_task(src, true, pid, warn_others, out, err);
}

int mg_criu_open_task_files(mg_criu_files *src, pid_t pid, mg_image **out, mg_error *err)
{
	return open_task(src, false, pid, false, out, err);
}

int mg_criu_open_task(const char *dir, const char *root, pid_t pid, mg_image **out,
		      mg_error *err)
{
	return open_dir_task(dir, root, pid, false, out, err);
}

int mg_criu_open(const char *dir, const char *root, mg_image **out, mg_error *err)
{
	return open_dir_task(dir, root, 0, true, out, err);
}
