/*
 * contracts.c - glibc's documented contracts, taken as kept when the user
 * says so (--assume glibc-contracts).
 *
 * Once dlsym can be given a name computed at run time (python's ctypes,
 * sqlite3's .load), every export counts (scan.c).  Two of glibc's are
 * reached no other way in the corpus, and what they do is bounded by a
 * contract the caller must keep, which the scan cannot see kept:
 *
 *   pkey_get, pkey_set (RDPKRU/WRPKRU): "Calling the pkey_set function
 *     with a protection key which was not allocated by pkey_alloc results
 *     in undefined behavior.  This means that calling this function on
 *     systems which do not support memory protection keys is undefined"
 *     (glibc 2.36 manual, "Memory Protection"; the same for pkey_get).
 *     pkey_alloc fails where the CPU lacks PKU, so after a migration to
 *     such a CPU a caller keeping the contract runs them only with a key
 *     allocated before it.
 *
 *   __libc_ifunc_impl_list (GLIBC_PRIVATE, for glibc's own tests): fills
 *     an array with every variant of a string function and whether it is
 *     usable on this process's cpu_features; its callers run the usable
 *     ones only.  Its address-taking references to the others (AVX-512
 *     variants, when GLIBC_TUNABLES masked them) then lead nowhere.
 *
 * So, under the assumption, the dlsym widening skips pkey_get and
 * pkey_set unless the process shows it uses protection keys (a mapping
 * with a ProtectionKey, or a thread whose PKRU is not the kernel's
 * default), and __libc_ifunc_impl_list's references to variants are not
 * followed (what its usable entries need is what glibc's own dispatch,
 * which the scan follows, may pick).  Unsound if a caller breaks the
 * contract: hence an assumption, shown in the result.
 */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "util/file.h"

#define PKRU_DEFAULT 0x55555554u   /* the kernel's init_pkru_value: keys 1..15 access-disabled */
#define XSTATE_PKRU 9              /* XSAVE component of PKRU */
#define SMAPS_MAX (64u << 20)

static bool is_pkey_access(const char *name)
{
	return name != NULL && (strcmp(name, "pkey_get") == 0 || strcmp(name, "pkey_set") == 0);
}

static bool is_impl_list(const char *name)
{
	return name != NULL && strcmp(name, "__libc_ifunc_impl_list") == 0;
}

static bool is_libc(const char *path)
{
	const char *base = path ? strrchr(path, '/') : NULL;
	base = base ? base + 1 : path;
	return base != NULL && strncmp(base, "libc.so.6", 9) == 0;
}

/* Mappings of a live process tagged with a protection key other than 0
 * (/proc/PID/smaps "ProtectionKey:"); -1 if smaps cannot be read. */
static long tagged_mappings(pid_t pid)
{
	char path[64];
	size_t len = 0;
	mg_error err;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	char *text = mg_read_file(path, SMAPS_MAX, MG_ERR_IO, &len, &err);
	if (text == NULL)
		return -1;
	long n = 0;
	for (const char *p = text; (p = strstr(p, "ProtectionKey:")) != NULL; p++) {
		long key = strtol(p + 14, NULL, 10);
		n += key != 0;
	}
	free(text);
	return n;
}

/* A thread of a live process whose PKRU is not the kernel's default
 * (someone changed access rights: pkey_alloc with rights, or pkey_set);
 * its PKRU in *pkru.  The ptrace XSAVE area is in this CPU's standard
 * layout, whose PKRU offset CPUID leaf 0xd gives. */
static bool thread_changed_pkru(const mg_image *img, uint32_t *pkru)
{
	unsigned eax, ebx, ecx, edx;
	if (!__get_cpuid_count(0xd, XSTATE_PKRU, &eax, &ebx, &ecx, &edx) || eax < 4)
		return false;
	for (size_t i = 0; i < img->nthreads; i++) {
		const mg_thread *t = &img->threads[i];
		if (!t->has_xstate || !(t->xstate_bv & (1u << XSTATE_PKRU)) || t->xsave == NULL ||
		    (size_t)ebx + 4 > t->xsave_len)
			continue;
		memcpy(pkru, t->xsave + ebx, 4);
		if (*pkru != PKRU_DEFAULT)
			return true;
	}
	return false;
}

/* Does the process show it uses protection keys?  *known: it could be told. */
static bool uses_pkeys(mg_scan_ctx *cx, bool *known)
{
	const mg_image *img = cx->img;
	*known = img->source != NULL && strncmp(img->source, "pid ", 4) == 0;
	if (!*known)
		return false;      /* a dump: neither smaps nor this CPU's layout */
	long tagged = tagged_mappings(img->pid);
	uint32_t pkru = 0;
	if (tagged < 0) {
		*known = false;
		return false;
	}
	if (tagged > 0) {
		mg_scan_fact(cx, "glibc-contracts: %ld mapping(s) tagged with a protection key: "
			     "pkey_get/pkey_set count", tagged);
		return true;
	}
	if (thread_changed_pkru(img, &pkru)) {
		mg_scan_fact(cx, "glibc-contracts: a thread's PKRU is %08x, not the default %08x: "
			     "pkey_get/pkey_set count", pkru, PKRU_DEFAULT);
		return true;
	}
	return false;
}

void mg_contracts_init(mg_scan_ctx *cx)
{
	if (!(cx->opt->assumptions & MG_ASSUME_GLIBC_CONTRACTS))
		return;
	bool known, keys = uses_pkeys(cx, &known);
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		if (!is_libc(cx->map->modules[i].name))
			continue;
		size_t lists = mg_mark_units_named(cx, (uint32_t)i, is_impl_list, cx->refs_unfollowed);
		size_t pkeys = keys ? 0 : mg_mark_units_named(cx, (uint32_t)i, is_pkey_access,
							      cx->not_by_name);
		if (lists + pkeys == 0)
			continue;
		mg_image_warn(cx->img, "--assume glibc-contracts: %s%s%s", lists ?
			      "__libc_ifunc_impl_list hands out only the variants it marks usable" : "",
			      lists && pkeys ? "; " : "",
			      pkeys ? (known ? "pkey_get/pkey_set run only on a key pkey_alloc gave "
				       "(no mapping has a protection key, PKRU is the default)"
				       : "pkey_get/pkey_set run only on a key pkey_alloc gave "
				       "(not checked: a dump has no smaps, or smaps was unreadable)")
			      : "");
	}
}
