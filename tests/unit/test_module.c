/*
 * test_module.c - the ELF module model against real files: the system
 * libc, programs compiled here with gcc (normal, lazy, now, IBT PLT,
 * stripped), and corrupted copies.  Oracles are binutils (nm, readelf,
 * objdump) and libelf, never values typed into the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process/module.h"
#include "support/testutil.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static char tmpdir[64];

enum variant { V_NORMAL, V_LAZY, V_NOW, V_IBT, V_STRIPPED, V_SHARED, V_COUNT };
static const char *const variant_name[V_COUNT] = {
	"normal", "lazy", "now", "ibt", "stripped", "shared.so"
};
static char variant_path[V_COUNT][128];
static bool variants_built;

static const char workload_src[] =
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"static char big[1 << 16];\n"
	"__attribute__((noinline)) int foo(int x)\n"
	"{\n"
	"\tbig[x & 0xffff] = (char)x;\n"
	"\treturn x * 3 + big[(x + 1) & 0xffff];\n"
	"}\n"
	"__attribute__((noinline)) static int bar(const char *s) { return (int)strlen(s); }\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tputs(\"hello\");\n"
	"\tprintf(\"%d %d\\n\", foo(argc), bar(argv[0]));\n"
	"\treturn 0;\n"
	"}\n";

static const char shared_src[] =
	"int exported_fn(int x) { return x + 1; }\n"
	"int alias_fn(int) __attribute__((alias(\"exported_fn\")));\n"
	"__attribute__((visibility(\"hidden\"), used)) int hidden_fn(int x) { return x * 2; }\n"
	"__attribute__((visibility(\"protected\"))) int protected_fn(int x) { return x - 1; }\n"
	"static int impl(int x) { return x + 7; }\n"
	"static void *resolve_ifn(void) { return (void *)impl; }\n"
	"int ifn(int) __attribute__((ifunc(\"resolve_ifn\")));\n";

/* ---- helpers ----------------------------------------------------------- */

static mg_module *load_path(const char *path, mg_error *err)
{
	mg_module *m = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	memset(err, 0, sizeof(*err));
	if (mg_module_load(fd, path, &m, err) < 0)
		m = NULL;
	close(fd);
	return m;
}

static int run(char *const argv[], char **out)
{
	char *err = NULL;
	int rc = tu_run(argv, out, &err);
	if (rc != 0)
		print_error("%s failed (%d): %s\n", argv[0], rc, err ? err : "");
	free(err);
	return rc;
}

static bool write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f != NULL && fwrite(buf, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = false;
	return ok;
}

/*
 * The core invariant: ranges sorted, disjoint, inside executable PT_LOAD
 * segments, and together covering every byte of them.
 */
static void check_coverage(const mg_module *m)
{
	uint64_t covered = 0, xbytes = 0;

	for (size_t i = 0; i < m->nsegments; i++)
		if (m->segments[i].flags & PF_X)
			xbytes += m->segments[i].memsz;
	for (size_t i = 0; i < m->nfuncs; i++) {
		const mg_function *f = &m->funcs[i];
		bool inside = false;

		assert_true(f->start < f->end);
		if (i > 0)
			assert_true(m->funcs[i - 1].end <= f->start);
		for (size_t k = 0; k < m->nsegments; k++) {
			const mg_segment *s = &m->segments[k];
			if ((s->flags & PF_X) && f->start >= s->vaddr && f->end <= s->vaddr + s->memsz)
				inside = true;
		}
		if (!inside)
			print_error("range %#" PRIx64 "-%#" PRIx64 " outside X segments\n",
				    f->start, f->end);
		assert_true(inside);
		assert_ptr_equal(mg_module_function_at(m, f->start), f);
		assert_ptr_equal(mg_module_function_at(m, f->end - 1), f);
		covered += f->end - f->start;
	}
	/* Disjoint and inside, so equal totals mean full coverage. */
	assert_int_equal(covered, xbytes);
}

static void check_relocs_sorted(const mg_module *m)
{
	for (size_t i = 0; i < m->nrelocs; i++) {
		if (i > 0)
			assert_true(m->relocs[i - 1].offset <= m->relocs[i].offset);
		const mg_reloc *r = mg_module_reloc_at(m, m->relocs[i].offset);
		assert_non_null(r);
		assert_int_equal(r->offset, m->relocs[i].offset);
	}
}

/* Number of relocations of `type` readelf lists for the file. */
static int readelf_count(const char *path, const char *type)
{
	char *out = NULL;
	char *argv[] = { "readelf", "-rW", (char *)path, NULL };
	int n = 0;

	assert_int_equal(run(argv, &out), 0);
	for (char *p = out; (p = strstr(p, type)) != NULL; p += strlen(type))
		if (p[strlen(type)] == ' ')
			n++;
	free(out);
	return n;
}

static int count_kind(const mg_module *m, mg_reloc_kind k)
{
	int n = 0;
	for (size_t i = 0; i < m->nrelocs; i++)
		n += m->relocs[i].kind == k;
	return n;
}

static const mg_function *find_named(const mg_module *m, const char *name)
{
	for (size_t i = 0; i < m->nfuncs; i++)
		if (m->funcs[i].name && strcmp(m->funcs[i].name, name) == 0)
			return &m->funcs[i];
	return NULL;
}

/* "ADDR SIZE T name" from nm -S. */
static bool nm_symbol(const char *path, const char *name, uint64_t *addr, uint64_t *size)
{
	char *out = NULL, *line, *save = NULL;
	char *argv[] = { "nm", "-S", (char *)path, NULL };
	bool found = false;

	assert_int_equal(run(argv, &out), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char a[32], s[32], t[4], n[256];
		if (sscanf(line, "%31s %31s %3s %255s", a, s, t, n) == 4 && strcmp(n, name) == 0) {
			*addr = strtoull(a, NULL, 16);
			*size = strtoull(s, NULL, 16);
			found = true;
		}
	}
	free(out);
	return found;
}

/* Address objdump -d gives the label "<name>:" (e.g. puts@plt). */
static bool objdump_label(const char *path, const char *label, uint64_t *addr)
{
	char *out = NULL, pat[128];
	char *argv[] = { "objdump", "-d", "--no-show-raw-insn", (char *)path, NULL };
	bool found = false;

	snprintf(pat, sizeof(pat), " <%s>:\n", label);
	assert_int_equal(run(argv, &out), 0);
	char *p = strstr(out, pat);
	if (p != NULL) {
		char *q = p;
		while (q > out && q[-1] != '\n')
			q--;
		*addr = strtoull(q, NULL, 16);
		found = true;
	}
	free(out);
	return found;
}

/*
 * Every "<name@plt>:" label objdump prints must start a PLT range of that
 * name (.plt, .plt.sec and .plt.got entries alike).  Returns the count.
 */
static int check_plt_labels(const mg_module *m, const char *path)
{
	char *out = NULL, *line, *save = NULL;
	char *argv[] = { "objdump", "-d", "--no-show-raw-insn", (char *)path, NULL };
	int n = 0;

	assert_int_equal(run(argv, &out), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char label[256];
		unsigned long long addr;

		size_t ll;

		/* "<puts@plt-0x10>" is objdump's name for PLT0: not an entry */
		if (sscanf(line, "%llx <%255[^>]>:", &addr, label) != 2 ||
		    (ll = strlen(label)) < 4 || strcmp(label + ll - 4, "@plt") != 0)
			continue;
		const mg_function *f = mg_module_function_at(m, addr);
		assert_non_null(f);
		if (f->name == NULL || strcmp(f->name, label) != 0)
			print_error("%s: %#llx: objdump says %s, module says %s\n", path, addr,
				    label, f->name ? f->name : "(none)");
		assert_int_equal(f->origin, MG_FUNC_PLT);
		assert_int_equal(f->start, addr);
		assert_non_null(f->name);
		assert_string_equal(f->name, label);
		n++;
	}
	free(out);
	return n;
}

/* Section `name` via libelf: address, file bytes. */
static bool elf_section(const char *path, const char *name, uint64_t *addr,
			unsigned char **bytes, size_t *len, bool *nobits)
{
	int fd = open(path, O_RDONLY);
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	while (!found && (scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		assert_non_null(gelf_getshdr(scn, &sh));
		const char *n = elf_strptr(e, shstrndx, sh.sh_name);
		if (n == NULL || strcmp(n, name) != 0)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		*addr = sh.sh_addr;
		*nobits = sh.sh_type == SHT_NOBITS;
		*len = sh.sh_size;
		*bytes = NULL;
		if (!*nobits && d != NULL) {
			*bytes = malloc(d->d_size);
			memcpy(*bytes, d->d_buf, d->d_size);
		}
		found = true;
	}
	elf_end(e);
	close(fd);
	return found;
}

/* ---- fixture: compile the workload variants once ------------------------ */

static int build_variants(void **state)
{
	(void)state;
	char src[96], *out = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mg-test-module-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 0;
	snprintf(src, sizeof(src), "%s/w.c", tmpdir);
	if (!write_file(src, workload_src, sizeof(workload_src) - 1))
		return 0;
	for (int v = 0; v < V_COUNT; v++)
		snprintf(variant_path[v], sizeof(variant_path[v]), "%s/w_%s", tmpdir,
			 variant_name[v]);

	char *cc[][12] = {
		[V_NORMAL] = { "gcc", "-O1", "-g", "-o", variant_path[V_NORMAL], src, NULL },
		[V_LAZY] = { "gcc", "-O1", "-g", "-Wl,-z,lazy", "-o", variant_path[V_LAZY], src, NULL },
		[V_NOW] = { "gcc", "-O1", "-g", "-Wl,-z,now", "-o", variant_path[V_NOW], src, NULL },
		[V_IBT] = { "gcc", "-O1", "-g", "-fcf-protection=full", "-Wl,-z,ibtplt",
			    "-o", variant_path[V_IBT], src, NULL },
	};
	for (int v = 0; v < V_STRIPPED; v++)	/* the executables */
		if (run(cc[v], &out) != 0)
			return 0;
		else
			free(out);
	char *strip[] = { "strip", "--strip-all", "-o", variant_path[V_STRIPPED],
			  variant_path[V_NORMAL], NULL };
	if (run(strip, &out) != 0)
		return 0;
	free(out);
	char so_src[96];
	snprintf(so_src, sizeof(so_src), "%s/so.c", tmpdir);
	if (!write_file(so_src, shared_src, sizeof(shared_src) - 1))
		return 0;
	char *so[] = { "gcc", "-O1", "-g", "-shared", "-fPIC", "-o", variant_path[V_SHARED],
		       so_src, NULL };
	if (run(so, &out) != 0)
		return 0;
	free(out);
	variants_built = true;
	return 0;
}

static int remove_variants(void **state)
{
	(void)state;
	char path[160];

	if (tmpdir[0] == '\0')
		return 0;
	for (int v = 0; v < V_COUNT; v++)
		unlink(variant_path[v]);
	const char *extra[] = { "w.c", "so.c", "empty", "random", "trunc4k", "trunchalf", "badshoff",
				"elf32", "arm64", "badlink", "prefix", "text" };
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, extra[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return 0;
}

static void need_variants(void)
{
	if (!variants_built)
		tu_skip(TU_SKIP_HOST, "the ELF variants could not be built (objcopy/strip)");
}

/* ---- libc --------------------------------------------------------------- */

static void test_libc(void **state)
{
	(void)state;
	mg_error err;
	struct stat st;

	if (stat(LIBC, &st) != 0)
		tu_skip(TU_SKIP_HOST, "no %s", LIBC);
	double t0 = tu_now_ms();
	mg_module *m = load_path(LIBC, &err);
	double t1 = tu_now_ms();
	if (m == NULL)
		print_error("%s\n", err.msg);
	assert_non_null(m);

	printf("libc: %.2f ms, %zu functions, %zu relocations, has_symtab=%d, isa_needed=%#x\n",
	       t1 - t0, m->nfuncs, m->nrelocs, m->has_symtab, m->isa_needed);
	assert_int_equal(m->file_size, (uint64_t)st.st_size);
	assert_true(m->is_dyn);
	assert_true(m->has_eh_frame);
	assert_true(m->relro.end > m->relro.start);
	assert_true(m->got.end > m->got.start);
	assert_true(m->plt[0].end > m->plt[0].start);
	assert_true(mg_module_in_plt(m, m->plt[0].start));
	assert_false(mg_module_in_plt(m, m->entry));

	/* build-id as readelf prints it */
	char *out = NULL;
	char *argv[] = { "readelf", "-n", LIBC, NULL };
	assert_int_equal(run(argv, &out), 0);
	char *bid = strstr(out, "Build ID: ");
	assert_non_null(bid);
	assert_int_equal(strlen(m->build_id), 40);
	assert_memory_equal(m->build_id, bid + 10, 40);
	/* ISA level as readelf names it */
	if (strstr(out, "x86 ISA needed: x86-64-baseline") != NULL)
		assert_true(m->isa_needed & 1);
	if (strstr(out, "x86-64-v2") != NULL)
		assert_true(m->isa_needed & 2);
	if (strstr(out, "x86 ISA needed") == NULL)
		assert_int_equal(m->isa_needed, 0);
	free(out);

	/* memcpy@@GLIBC_2.14 is an IFUNC; printf a plain export */
	const mg_function *f = mg_module_lookup_export(m, "memcpy");
	uint64_t va;
	bool ifunc;
	assert_non_null(f);
	assert_true(mg_module_export_vaddr(m, "memcpy", &va, &ifunc));
	assert_true(ifunc);
	assert_int_equal(f->start, va);
	assert_true(f->is_ifunc_resolver);
	assert_true(f->exported);
	f = mg_module_lookup_export(m, "printf");
	assert_non_null(f);
	assert_true(f->exported);
	assert_false(f->is_ifunc_resolver);
	assert_true(mg_module_export_vaddr(m, "printf", &va, &ifunc));
	assert_int_equal(f->start, va);
	assert_false(ifunc);
	assert_null(mg_module_lookup_export(m, "no_such_function_here"));
	assert_null(mg_module_lookup_export(m, "puts@plt"));

	/* relocation counts equal readelf's */
	assert_true(count_kind(m, MG_RELOC_JUMP_SLOT) > 0);
	assert_true(count_kind(m, MG_RELOC_IRELATIVE) > 0);
	assert_int_equal(count_kind(m, MG_RELOC_JUMP_SLOT), readelf_count(LIBC, "R_X86_64_JUMP_SLOT"));
	assert_int_equal(count_kind(m, MG_RELOC_GLOB_DAT), readelf_count(LIBC, "R_X86_64_GLOB_DAT"));
	assert_int_equal(count_kind(m, MG_RELOC_IRELATIVE), readelf_count(LIBC, "R_X86_64_IRELATIVE"));
	for (size_t i = 0; i < m->nrelocs; i++) {
		const mg_reloc *r = &m->relocs[i];
		if (r->kind == MG_RELOC_JUMP_SLOT || r->kind == MG_RELOC_GLOB_DAT)
			assert_non_null(r->symbol);
		if (r->kind == MG_RELOC_IRELATIVE) {   /* addend: a resolver in the code */
			const mg_function *rf = mg_module_function_at(m, (uint64_t)r->addend);
			assert_non_null(rf);
		}
	}
	check_relocs_sorted(m);
	check_coverage(m);
	/* PLT names (JUMP_SLOT symbols and "*ABS*+0x...@plt" IRELATIVE
	 * entries) exactly as objdump derives them */
	assert_true(check_plt_labels(m, LIBC) > 10);

	/* Without .symtab, FDEs must cover the local functions: count
	 * code bytes left to gaps, which should be padding only. */
	uint64_t gap = 0, total = 0;
	for (size_t i = 0; i < m->nfuncs; i++) {
		total += m->funcs[i].end - m->funcs[i].start;
		if (m->funcs[i].origin == MG_FUNC_GAP)
			gap += m->funcs[i].end - m->funcs[i].start;
	}
	printf("libc: %.2f%% of executable bytes in gaps\n", 100.0 * gap / total);
	assert_true(gap * 20 < total);
	mg_module_free(m);
}

/* Load times and counts of a few big system objects, for the report. */
static void test_load_times(void **state)
{
	(void)state;
	const char *paths[] = {
		LIBC, "/lib64/ld-linux-x86-64.so.2", "/usr/bin/python3",
		"/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
		"/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
	};
	int loaded = 0;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct stat st;
		mg_error err;

		if (stat(paths[i], &st) != 0)
			continue;
		double t0 = tu_now_ms();
		mg_module *m = load_path(paths[i], &err);
		double t1 = tu_now_ms();
		if (m == NULL)
			print_error("%s\n", err.msg);
		assert_non_null(m);
		size_t by[4] = { 0 };
		for (size_t k = 0; k < m->nfuncs; k++)
			by[m->funcs[k].origin]++;
		printf("%s: %.2f ms, %zu functions (symbol %zu, FDE %zu, PLT %zu, gap %zu), "
		       "%zu relocations\n", paths[i], t1 - t0, m->nfuncs, by[MG_FUNC_SYMTAB],
		       by[MG_FUNC_FDE], by[MG_FUNC_PLT], by[MG_FUNC_GAP], m->nrelocs);
		check_coverage(m);
		check_relocs_sorted(m);
		mg_module_free(m);
		loaded++;
	}
	assert_true(loaded > 0);
}

/* ---- compiled workloads -------------------------------------------------- */

static void check_variant(enum variant v)
{
	const char *path = variant_path[v];
	mg_error err;
	mg_module *m = load_path(path, &err);
	uint64_t addr = 0, size = 0, plt = 0;

	if (m == NULL)
		print_error("%s\n", err.msg);
	assert_non_null(m);
	check_coverage(m);
	check_relocs_sorted(m);
	assert_true(m->is_dyn);     /* Debian gcc builds PIE */
	assert_true(m->is_exec);
	assert_int_equal(strlen(m->build_id), 40);
	assert_non_null(mg_module_function_at(m, m->entry));
	assert_true(m->init_array.end > m->init_array.start);

	/* foo at the address and size nm reports (stripped: the normal build's) */
	assert_true(nm_symbol(variant_path[v == V_STRIPPED ? V_NORMAL : v], "foo", &addr, &size));
	const mg_function *f = mg_module_function_at(m, addr);
	assert_non_null(f);
	assert_int_equal(f->start, addr);
	assert_int_equal(f->end, addr + size);
	if (v == V_STRIPPED) {
		assert_false(m->has_symtab);
		assert_int_equal(f->origin, MG_FUNC_FDE);
		assert_null(f->name);
	} else {
		assert_true(m->has_symtab);
		assert_int_equal(f->origin, MG_FUNC_SYMTAB);
		assert_string_equal(f->name, "foo");
		assert_ptr_equal(find_named(m, "foo"), f);
		assert_false(f->exported);   /* executables export nothing by default */
		/* the static one comes from .symtab only */
		assert_true(nm_symbol(path, "bar", &addr, &size));
		f = mg_module_function_at(m, addr);
		assert_non_null(f);
		assert_string_equal(f->name, "bar");
		assert_int_equal(f->end, addr + size);
	}

	/* every PLT label objdump knows, including .plt.got's __cxa_finalize */
	assert_true(check_plt_labels(m, path) >= 2);

	/* a zero-size symbol (crti's _init) runs to its section's end */
	if (v != V_STRIPPED && nm_symbol(path, "_init", &addr, &size) && size == 0) {
		unsigned char *b = NULL;
		size_t l;
		bool nb;
		uint64_t sa;
		assert_true(elf_section(path, ".init", &sa, &b, &l, &nb));
		free(b);
		f = mg_module_function_at(m, addr);
		assert_non_null(f);
		assert_string_equal(f->name, "_init");
		assert_int_equal(f->start, sa);
		assert_int_equal(f->end, sa + l);
	}

	/* puts@plt where objdump puts the label (.plt or .plt.sec) */
	assert_true(objdump_label(variant_path[v], "puts@plt", &plt));
	f = mg_module_function_at(m, plt);
	assert_non_null(f);
	assert_int_equal(f->origin, MG_FUNC_PLT);
	assert_int_equal(f->start, plt);
	assert_string_equal(f->name, "puts@plt");
	assert_true(mg_module_in_plt(m, plt));
	assert_int_equal(count_kind(m, MG_RELOC_JUMP_SLOT), readelf_count(path, "R_X86_64_JUMP_SLOT"));
	assert_int_equal(count_kind(m, MG_RELOC_RELATIVE), readelf_count(path, "R_X86_64_RELATIVE"));
	if (v == V_IBT)
		assert_true(m->plt[1].end > m->plt[1].start);

	/* vaddr_to_offset: .text bytes via pread equal libelf's section data;
	 * .bss is not in the file */
	unsigned char *bytes = NULL;
	size_t len;
	bool nobits;
	assert_true(elf_section(path, ".text", &addr, &bytes, &len, &nobits));
	int64_t off = mg_module_vaddr_to_offset(m, addr);
	assert_true(off > 0);
	assert_int_equal(mg_module_vaddr_to_offset(m, addr + len - 1), off + (int64_t)len - 1);
	unsigned char *buf = malloc(len);
	int fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
	assert_memory_equal(buf, bytes, len);
	free(buf);
	free(bytes);
	assert_true(elf_section(path, ".bss", &addr, &bytes, &len, &nobits));
	assert_true(nobits && len >= 65536);
	assert_int_equal(mg_module_vaddr_to_offset(m, addr + len / 2), -1);
	assert_int_equal(mg_module_vaddr_to_offset(m, 0xffffffff00000000ull), -1);
	mg_module_free(m);
}

static void test_workload_normal(void **s) { (void)s; need_variants(); check_variant(V_NORMAL); }
static void test_workload_lazy(void **s) { (void)s; need_variants(); check_variant(V_LAZY); }
static void test_workload_now(void **s) { (void)s; need_variants(); check_variant(V_NOW); }
static void test_workload_ibt(void **s) { (void)s; need_variants(); check_variant(V_IBT); }
static void test_workload_stripped(void **s) { (void)s; need_variants(); check_variant(V_STRIPPED); }

/* Export rules: visibility, aliases, IFUNC. */
static void test_shared_exports(void **state)
{
	(void)state;
	const char *path = variant_path[V_SHARED];
	mg_error err;
	uint64_t addr = 0, size = 0, va = 0;
	bool ifunc = false;

	need_variants();
	mg_module *m = load_path(path, &err);
	assert_non_null(m);
	check_coverage(m);
	assert_true(m->is_dyn);
	assert_false(m->is_exec);

	assert_true(nm_symbol(path, "exported_fn", &addr, &size));
	const mg_function *f = mg_module_lookup_export(m, "exported_fn");
	assert_non_null(f);
	assert_int_equal(f->start, addr);
	assert_int_equal(f->end, addr + size);
	assert_true(f->exported);
	assert_ptr_equal(mg_module_lookup_export(m, "alias_fn"), f);   /* one range */
	assert_true(strcmp(f->name, "alias_fn") == 0 || strcmp(f->name, "exported_fn") == 0);

	assert_true(nm_symbol(path, "hidden_fn", &addr, &size));
	assert_null(mg_module_lookup_export(m, "hidden_fn"));
	f = mg_module_function_at(m, addr);
	assert_non_null(f);
	assert_string_equal(f->name, "hidden_fn");
	assert_false(f->exported);

	f = mg_module_lookup_export(m, "protected_fn");
	assert_non_null(f);
	assert_true(f->exported);

	/* the IFUNC symbol's value is its resolver */
	assert_true(nm_symbol(path, "resolve_ifn", &addr, &size));
	assert_true(mg_module_export_vaddr(m, "ifn", &va, &ifunc));
	assert_true(ifunc);
	assert_int_equal(va, addr);
	f = mg_module_lookup_export(m, "ifn");
	assert_non_null(f);
	assert_true(f->is_ifunc_resolver);
	assert_int_equal(f->start, addr);
	assert_false(mg_module_export_vaddr(m, "impl", NULL, NULL));
	mg_module_free(m);
}

/* ---- corrupt and unsupported input -------------------------------------- */

static char *tmp_path(const char *name)
{
	static char p[160];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static void expect_failure(const char *name, const void *buf, size_t len, int code)
{
	mg_error err;
	char *path = tmp_path(name);

	assert_true(write_file(path, buf, len));
	mg_module *m = load_path(path, &err);
	if (m != NULL)
		print_error("%s loaded but should not\n", name);
	assert_null(m);
	if (err.code != code)
		print_error("%s: got code %d (%s)\n", name, err.code, err.msg);
	assert_int_equal(err.code, code);
	assert_non_null(strstr(err.msg, path));     /* names the file */
	assert_null(strchr(err.msg, '\n'));
}

static void test_corrupt(void **state)
{
	(void)state;
	size_t len;
	unsigned char *libc;

	need_variants();
	libc = (unsigned char *)tu_read_file(LIBC, &len);
	assert_true(len > 1000000);
	assert_non_null(libc);

	expect_failure("empty", "", 0, MG_ERR_IO);
	expect_failure("text", "#!/bin/sh\necho hi\n", 18, MG_ERR_IO);

	unsigned char rnd[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		rnd[i] = (unsigned char)x;
	}
	expect_failure("random", rnd, sizeof(rnd), MG_ERR_IO);
	memcpy(rnd, ELFMAG "\x02\x01\x01", 7);         /* ELF magic, random rest */
	expect_failure("random", rnd, sizeof(rnd), MG_ERR_IO);

	expect_failure("trunc4k", libc, 4096, MG_ERR_IO);
	expect_failure("trunchalf", libc, len / 2, MG_ERR_IO);

	unsigned char *copy = malloc(len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)copy;
	memcpy(copy, libc, len);
	eh->e_shoff = len + 4096;                        /* section headers past EOF */
	expect_failure("badshoff", copy, len, MG_ERR_IO);
	eh->e_shoff = len - 10;
	expect_failure("badshoff", copy, len, MG_ERR_IO);

	memcpy(copy, libc, len);
	eh->e_machine = EM_AARCH64;
	expect_failure("arm64", copy, len, MG_ERR_UNSUPPORTED);

	/* .dynsym pointing at a nonexistent string table */
	memcpy(copy, libc, len);
	Elf64_Shdr *sh = (Elf64_Shdr *)(copy + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_DYNSYM)
			sh[i].sh_link = eh->e_shnum + 5;
	expect_failure("badlink", copy, len, MG_ERR_IO);
	memcpy(copy, libc, len);
	for (int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_DYNSYM)
			sh[i].sh_entsize = 7;
	expect_failure("badlink", copy, len, MG_ERR_IO);
	free(copy);

	/* 32-bit: a 64-bit header with the class byte changed */
	unsigned char hdr[64];
	memcpy(hdr, libc, sizeof(hdr));
	hdr[EI_CLASS] = ELFCLASS32;
	expect_failure("elf32", hdr, sizeof(hdr), MG_ERR_UNSUPPORTED);
	free(libc);
}

/* Every prefix of a real executable fails cleanly (section headers last). */
static void test_truncation_sweep(void **state)
{
	(void)state;
	size_t len;

	need_variants();
	unsigned char *w = (unsigned char *)tu_read_file(variant_path[V_NORMAL], &len);
	assert_true(len > 4096);
	assert_non_null(w);
	for (size_t cut = 0; cut < len; cut += 1 + len / 97) {
		mg_error err;
		char *path = tmp_path("prefix");
		assert_true(write_file(path, w, cut));
		mg_module *m = load_path(path, &err);
		assert_null(m);
		assert_int_equal(err.code, MG_ERR_IO);
	}
	free(w);
}

/* Offset of the first section of this type in an ELF image, or 0. */
static size_t section_offset(const unsigned char *elf, uint32_t type, size_t *size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(elf + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == type) {
			*size = sh[i].sh_size;
			return sh[i].sh_offset;
		}
	return 0;
}

/*
 * Packed relative relocations (ld -z pack-relative-relocs): each one is
 * read with its in-place addend; a RELR word that relocates bytes no
 * file byte backs, or an address below the previous one, is corrupt.
 */
static void test_relr(void **state)
{
	(void)state;
	char src[160], so[160], *out = NULL, *errs = NULL;
	mg_error err;

	need_variants();
	snprintf(src, sizeof(src), "%s/relr.c", tmpdir);
	snprintf(so, sizeof(so), "%s/relr.so", tmpdir);
	const char *code = "static int x = 1;\nint *p = &x;\nint *q[4] = { &x, &x, &x, &x };\n";
	assert_true(write_file(src, code, strlen(code)));
	char *argv[] = { "gcc", "-shared", "-fPIC", "-Wl,-z,pack-relative-relocs",
			 "-o", so, src, NULL };
	int rc = tu_run(argv, &out, &errs);
	free(out);
	free(errs);
	unlink(src);
	if (rc != 0)
		tu_skip(TU_SKIP_HOST, "a linker without -z pack-relative-relocs");
	mg_module *m = load_path(so, &err);
	assert_non_null(m);
	size_t relative = 0;
	for (size_t i = 0; i < m->nrelocs; i++)
		relative += m->relocs[i].kind == MG_RELOC_RELATIVE;
	assert_true(relative >= 5);                  /* p and q[0..3] at least */
	mg_module_free(m);

	size_t len, relr_size = 0;
	unsigned char *elf = (unsigned char *)tu_read_file(so, &len);
	unlink(so);
	assert_non_null(elf);
	size_t relr = section_offset(elf, SHT_RELR, &relr_size);
	assert_true(relr != 0 && relr_size >= 8 && relr + relr_size <= len);
	uint64_t first;
	memcpy(&first, elf + relr, 8);
	assert_int_equal(first & 1, 0);              /* starts with an address */

	uint64_t beyond = 0x7ffffffff000ull;         /* no file byte there */
	memcpy(elf + relr, &beyond, 8);
	expect_failure("relr-beyond", elf, len, MG_ERR_IO);
	memcpy(elf + relr, &first, 8);
	if (relr_size >= 16) {
		uint64_t second;
		memcpy(&second, elf + relr + 8, 8);
		if ((second & 1) == 0) {                  /* two addresses: swap them */
			memcpy(elf + relr, &second, 8);
			memcpy(elf + relr + 8, &first, 8);
			expect_failure("relr-unsorted", elf, len, MG_ERR_IO);
		}
	}
	free(elf);
}

/* A real 32-bit object when the assembler can make one. */
static void test_real_elf32(void **state)
{
	(void)state;
	char src[160], obj[160], *out = NULL, *errs = NULL;
	mg_error err;

	need_variants();
	snprintf(src, sizeof(src), "%s/t32.s", tmpdir);
	snprintf(obj, sizeof(obj), "%s/t32.o", tmpdir);
	assert_true(write_file(src, "\t.text\n\tret\n", 12));
	char *argv[] = { "as", "--32", "-o", obj, src, NULL };
	int rc = tu_run(argv, &out, &errs);
	free(out);
	free(errs);
	unlink(src);
	if (rc != 0)
		tu_skip(TU_SKIP_HOST, "no 32-bit assembler (as --32)");
	mg_module *m = load_path(obj, &err);
	unlink(obj);
	assert_null(m);
	assert_int_equal(err.code, MG_ERR_UNSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_load_times),
		cmocka_unit_test(test_workload_normal),
		cmocka_unit_test(test_workload_lazy),
		cmocka_unit_test(test_workload_now),
		cmocka_unit_test(test_workload_ibt),
		cmocka_unit_test(test_workload_stripped),
		cmocka_unit_test(test_shared_exports),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_real_elf32),
		cmocka_unit_test(test_relr),
	};
	return cmocka_run_group_tests_name("module", tests, build_variants, remove_variants);
}
