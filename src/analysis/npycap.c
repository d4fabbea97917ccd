/*
 * npycap.c - numpy's own record of the CPU features it may use.
 *
 * numpy (1.24, Debian 12) fills a byte array, npy__cpu_have[], at import:
 * npy_cpu_init, called from PyInit__multiarray_umath, asks CPUID, then
 * clears what NPY_DISABLE_CPU_FEATURES names.  Most of numpy's dispatch
 * happens then too (ufunc loops chosen once, their pointers in memory,
 * which the scan follows), but some asks at every call:
 *
 *   mov $NPY_CPU_FEATURE_AVX512_SKX,%edi; call npy_cpu_have;
 *   test %eax,%eax; jne <x86-simd-sort's AVX-512 quicksort>
 *
 * npy_cpu_have (static, in a stripped module) is a bounds check and a
 * load: `lea -1(%rdi),%edx; xor %eax,%eax; cmp $N,%edx; ja 1f; movslq
 * %edi,%rdi; lea npy__cpu_have(%rip),%rax; movzbl (%rax,%rdi,1),%eax;
 * 1: ret`.  Found by that shape, the array it reads becomes a second
 * region of dispatch state the fold of captest.c knows (it walks the
 * short callee for its answer, as it does OpenSSL's predicates), so the
 * test decides its jump.
 *
 * Why the array does not change: only numpy's CPU-feature code writes it,
 * at import, from CPUID of the CPU it runs on.  It is read only once it
 * was filled (a byte of it set: x86-64's baseline features always are)
 * and no thread is stopped inside a function of the module that refers
 * to it other than npy_cpu_have (one could be filling it).  Were numpy
 * ever to fill it again after a migration, it would ask the CPU it then
 * runs on, whose features are fine to use.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

/* npy_cpu_have's bytes; 0x100 marks the variable ones (N, the jump, the
 * array's displacement). */
static const uint16_t have_shape[] = {
	0x8d, 0x57, 0xff,                               /* lea -0x1(%rdi),%edx */
	0x31, 0xc0,                                     /* xor %eax,%eax */
	0x81, 0xfa, 0x100, 0x100, 0x100, 0x100,         /* cmp $N,%edx */
	0x77, 0x0e,                                     /* ja ret */
	0x48, 0x63, 0xff,                               /* movslq %edi,%rdi */
	0x48, 0x8d, 0x05, 0x100, 0x100, 0x100, 0x100,   /* lea npy__cpu_have(%rip),%rax */
	0x0f, 0xb6, 0x04, 0x38,                         /* movzbl (%rax,%rdi,1),%eax */
	0xc3,                                           /* ret */
};
#define SHAPE_LEN (sizeof(have_shape) / sizeof(have_shape[0]))
#define LIMIT_AT 7          /* offset of N */
#define DISP_AT 19          /* offset of the lea's displacement */
#define DISP_END 23         /* ... and of the instruction after it */

static bool is_numpy_core(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, "_multiarray_umath.", 18) == 0;
}

static bool shape_matches(const uint8_t *b)
{
	for (size_t i = 0; i < SHAPE_LEN; i++)
		if (have_shape[i] < 0x100 && b[i] != have_shape[i])
			return false;
	return true;
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* npy_cpu_have's unit in module mi, the array's address and length. */
static uint32_t find_reader(mg_scan_ctx *cx, uint32_t mi, uint64_t *arr, uint32_t *len)
{
	for (uint32_t u = 0; u < cx->map->nunits; u++) {
		const mg_unit *unit = &cx->map->units[u];
		if (unit->module != mi || unit->kind != MG_UNIT_FUNCTION ||
		    unit->end - unit->start < SHAPE_LEN || unit->end - unit->start > SHAPE_LEN + 16)
			continue;
		const uint8_t *b = mg_unit_bytes(cx, u);
		if (b == NULL || !shape_matches(b))
			continue;
		uint32_t limit = le32(b + LIMIT_AT);
		*arr = unit->start + DISP_END + (uint64_t)(int64_t)(int32_t)le32(b + DISP_AT);
		*len = limit + 2;   /* ids 1 .. limit + 1 */
		return *len <= MG_NPY_HAVE_MAX ? u : MG_NO_UNIT;
	}
	return MG_NO_UNIT;
}

/* Does unit u of the module take an address in [arr, arr + len)? */
static bool refers_to(mg_scan_ctx *cx, uint32_t u, uint64_t arr, uint32_t len)
{
	const mg_unit *unit = &cx->map->units[u];
	const uint8_t *b = mg_unit_bytes(cx, u);
	size_t n = 0;
	mg_flow_insn *v = b ? mg_flow_decode(cx, b, (size_t)(unit->end - unit->start), &n) : NULL;
	bool refers = v == NULL;   /* not known: as if it did */
	for (size_t i = 0; v && i < n && !refers; i++)
		for (unsigned k = 0; k < v[i].in.operand_count_visible; k++) {
			uint64_t at;
			if (mg_insn_rip_target(&v[i], &v[i].op[k], unit->start, &at) && at >= arr &&
			    at < arr + len)
				refers = true;
		}
	free(v);
	return refers;
}

/* Is some thread stopped (pc or return address) in a function of the
 * module, other than the reader, that refers to the array? */
static bool being_written(mg_scan_ctx *cx, uint32_t mi, uint32_t reader, uint64_t arr,
			  uint32_t len)
{
	for (size_t t = 0; t < cx->img->nthreads; t++) {
		uint64_t w;
		for (size_t pos = 0; mg_thread_next_code_word(cx, &cx->img->threads[t], &pos, &w);) {
			uint32_t u = mg_codemap_find(cx->map, w);
			if (u != MG_NO_UNIT && u != reader && cx->map->units[u].module == mi &&
			    refers_to(cx, u, arr, len))
				return true;
		}
	}
	return false;
}

void mg_npycap_init(mg_scan_ctx *cx)
{
	mg_capvec *c = &cx->capvec;
	for (uint32_t mi = 0; mi < cx->map->nmodules && !c->npy_known; mi++) {
		const mg_loaded_module *lm = &cx->map->modules[mi];
		uint64_t arr;
		uint32_t len;
		if (!is_numpy_core(lm->name))
			continue;
		uint32_t reader = find_reader(cx, mi, &arr, &len);
		if (reader == MG_NO_UNIT)
			continue;
		uint8_t have[MG_NPY_HAVE_MAX] = { 0 };
		bool set = false;
		if (mg_image_read(cx->img, arr, have, len) != (ssize_t)len)
			continue;
		for (uint32_t i = 0; i < len; i++)
			set |= have[i] != 0;
		if (!set || being_written(cx, mi, reader, arr, len)) {
			mg_scan_fact(cx, "numpy (%s): npy__cpu_have may still be being filled: its "
				     "tests are not folded", lm->name);
			continue;
		}
		unsigned on = 0;
		for (uint32_t i = 0; i < len; i++)
			on += have[i] != 0;
		memcpy(c->npy_have, have, len);
		c->npy_module = mi;
		c->npy_addr = arr;
		c->npy_len = len;
		c->npy_known = true;
		mg_captest_enable(c);
		mg_scan_fact(cx, "numpy (%s): npy__cpu_have (%u entries, %u set) filled at import: "
			     "jumps its npy_cpu_have tests decide against are not taken", lm->name,
			     len, on);
	}
}
