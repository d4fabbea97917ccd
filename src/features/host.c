/*
 * host.c - this machine's profile: CPUID, XCR0, AMX permission, kernel.
 *
 * CPUID is read leaf by leaf strictly within each range's maximum: Intel
 * answers a leaf above the maximum basic leaf with that leaf's data, so
 * asking for leaf 0x1E on a CPU whose maximum is 0xD "finds" AMX.  Subleaves
 * are enumerated the way the SDM/APM define them for each leaf.
 */
#include "features/profile.h"
#include "util/file.h"

#include <cpuid.h>
#include <errno.h>
#include <sys/auxv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

/* arch_prctl codes (asm/prctl.h; not in every libc's headers). */
#define MG_ARCH_GET_XCOMP_SUPP 0x1021
#define MG_ARCH_GET_XCOMP_PERM 0x1022
#define MG_ARCH_REQ_XCOMP_PERM 0x1023
#define MG_XFEATURE_XTILEDATA  18

/* Bound on any subleaf walk, against a hypervisor that never says "end". */
#define MAX_SUBLEAVES 64

struct regs {
	uint32_t a, b, c, d;
};

static struct regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct regs r;
	__cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
	return r;
}

static int record(mg_cpuid_dump *d, uint32_t leaf, uint32_t subleaf,
		  struct regs *out, mg_error *err)
{
	struct regs r = cpuid(leaf, subleaf);
	if (out)
		*out = r;
	return mg_cpuid_dump_add(d, leaf, subleaf, r.a, r.b, r.c, r.d, err);
}

/* Subleaves 0..last, last bounded. */
static int record_upto(mg_cpuid_dump *d, uint32_t leaf, uint32_t last,
		       mg_error *err)
{
	if (last >= MAX_SUBLEAVES)
		last = MAX_SUBLEAVES - 1;
	for (uint32_t s = 0; s <= last; s++)
		if (record(d, leaf, s, NULL, err) < 0)
			return -1;
	return 0;
}

/* Subleaf 0, then following ones while `more` says the subleaf is valid. */
static int record_while(mg_cpuid_dump *d, uint32_t leaf, uint32_t first_checked,
			bool (*more)(const struct regs *), mg_error *err)
{
	struct regs r;
	for (uint32_t s = 0; s < MAX_SUBLEAVES; s++) {
		r = cpuid(leaf, s);
		if (s >= first_checked && !more(&r))
			break;
		if (mg_cpuid_dump_add(d, leaf, s, r.a, r.b, r.c, r.d, err) < 0)
			return -1;
	}
	return 0;
}

/* Leaf 4 / 0x8000001D: cache type EAX[4:0], 0 = no more caches. */
static bool cache_valid(const struct regs *r)
{
	return (r->a & 0x1F) != 0;
}

/* Leaves 0xB / 0x1F / 0x80000026: level type ECX[15:8], 0 = invalid. */
static bool topology_valid(const struct regs *r)
{
	return ((r->c >> 8) & 0xFF) != 0;
}

/* Leaf 0x12 subleaf >= 2: EPC section type EAX[3:0], 0 = invalid. */
static bool sgx_epc_valid(const struct regs *r)
{
	return (r->a & 0xF) != 0;
}

/* Leaf 0xD: 0, 1, and every state component the CPU supports. */
static int record_xsave_leaf(mg_cpuid_dump *d, mg_error *err)
{
	struct regs s0, s1;
	uint64_t mask;

	if (record(d, 0xD, 0, &s0, err) < 0 || record(d, 0xD, 1, &s1, err) < 0)
		return -1;
	/* XCR0-supported components (EDX:EAX of 0) and XSS ones (EDX:ECX of 1). */
	mask = ((uint64_t)s0.d << 32 | s0.a) | ((uint64_t)s1.d << 32 | s1.c);
	for (unsigned i = 2; i < 63; i++)
		if ((mask >> i) & 1 && record(d, 0xD, i, NULL, err) < 0)
			return -1;
	return 0;
}

static int record_basic_leaf(mg_cpuid_dump *d, uint32_t leaf, mg_error *err)
{
	struct regs r0;

	switch (leaf) {
	case 0x4:
		return record_while(d, leaf, 0, cache_valid, err);
	case 0xB:
	case 0x1F:
		return record_while(d, leaf, 0, topology_valid, err);
	case 0xD:
		return record_xsave_leaf(d, err);
	case 0xF:
	case 0x1E:
		return record_upto(d, leaf, 1, err);
	case 0x10:
		return record_upto(d, leaf, 3, err);
	case 0x12:
		return record_while(d, leaf, 2, sgx_epc_valid, err);
	default:
		if (!mg_cpuid_leaf_counts_subleaves(leaf))
			return record(d, leaf, 0, NULL, err);
		/* Subleaf 0 EAX is the highest valid subleaf. */
		if (record(d, leaf, 0, &r0, err) < 0)
			return -1;
		for (uint32_t s = 1; s <= r0.a && s < MAX_SUBLEAVES; s++)
			if (record(d, leaf, s, NULL, err) < 0)
				return -1;
		return 0;
	}
}

static int record_extended_leaf(mg_cpuid_dump *d, uint32_t leaf, mg_error *err)
{
	switch (leaf) {
	case 0x8000001D:
		return record_while(d, leaf, 0, cache_valid, err);
	case 0x80000020:
		return record_upto(d, leaf, 3, err);
	case 0x80000026:
		return record_while(d, leaf, 0, topology_valid, err);
	default:
		return record(d, leaf, 0, NULL, err);
	}
}

/* Record leaves base..max of one range; max read from `base` itself. */
static int record_range(mg_cpuid_dump *d, uint32_t base, bool basic,
			mg_error *err)
{
	struct regs top = cpuid(base, 0);
	uint32_t max = top.a;

	if (max < base || max - base > 0xFF)
		return 0;   /* the range does not exist on this CPU */
	for (uint32_t leaf = base; leaf <= max; leaf++) {
		int rc = basic ? record_basic_leaf(d, leaf, err)
			       : record_extended_leaf(d, leaf, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int mg_host_cpuid(mg_cpuid_dump *d, mg_error *err)
{
	struct regs v;

	if (__get_cpuid_max(0, NULL) == 0)
		return mg_fail(err, MG_ERR_UNSUPPORTED, "this CPU has no CPUID leaf 1");
	if (record_range(d, 0, true, err) < 0 ||
	    record_range(d, 0x80000000u, false, err) < 0)
		return -1;
	/* Centaur leaves exist only on VIA/Centaur and Zhaoxin parts; Intel
	 * would answer 0xC0000000 with basic-leaf data. */
	v = cpuid(0, 0);
	if ((v.b == 0x746e6543 && v.d == 0x48727561 && v.c == 0x736c7561) ||  /* CentaurHauls */
	    (v.b == 0x68532020 && v.d == 0x68676e61 && v.c == 0x20206961))    /* "  Shanghai  " */
		return record_range(d, 0xC0000000u, false, err);
	return 0;
}

/* XCR0 through XGETBV; only legal when CPUID.1:ECX.OSXSAVE[27] is set. */
static bool read_xcr0(const mg_cpuid_dump *d, uint64_t *xcr0)
{
	const mg_cpuid_leaf *l1 = mg_cpuid_dump_find(d, 1, 0);
	uint32_t lo, hi;

	if (l1 == NULL || !((l1->ecx >> 27) & 1))
		return false;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	*xcr0 = (uint64_t)hi << 32 | lo;
	return true;
}

static bool amx_permitted(void)
{
	unsigned long mask = 0;

	if (syscall(SYS_arch_prctl, MG_ARCH_GET_XCOMP_PERM, &mask) != 0)
		return false;   /* ENOSYS/EINVAL: kernel without dynamic XSTATE */
	if ((mask >> MG_XFEATURE_XTILEDATA) & 1)
		return true;
	mask = 0;
	if (syscall(SYS_arch_prctl, MG_ARCH_GET_XCOMP_SUPP, &mask) != 0 ||
	    !((mask >> MG_XFEATURE_XTILEDATA) & 1))
		return false;
	/* Supported but not yet requested by this process: a process on this
	 * host may use AMX if the kernel grants the request. */
	return syscall(SYS_arch_prctl, MG_ARCH_REQ_XCOMP_PERM,
		       (unsigned long)MG_XFEATURE_XTILEDATA) == 0;
}

/* AT_HWCAP2 bits (asm/hwcap2.h). */
#define MG_HWCAP2_RING3MWAIT (1ul << 0)
#define MG_HWCAP2_FSGSBASE   (1ul << 1)

/* Does the first "flags" line of /proc/cpuinfo hold the word `flag`? */
static bool cpuinfo_has_flag(const char *text, const char *flag)
{
	const char *line = strstr(text, "\nflags");
	if (line == NULL || (line = strchr(line, ':')) == NULL)
		return false;
	size_t end = strcspn(line, "\n"), n = strlen(flag);
	for (const char *p = line + 1; p + n <= line + end; p++)
		if (p[-1] == ' ' && strncmp(p, flag, n) == 0 && (p[n] == ' ' || p[n] == '\n' ||
								 p + n == line + end))
			return true;
	return false;
}

/*
 * What the kernel enables beyond XCR0 (profile.h, MG_OS_*): AT_HWCAP2
 * for FSGSBASE and ring-3 MWAIT; for user shadow stacks, the user_shstk
 * flag Linux prints only when it supports them, the kernel's one public
 * statement of it (enabling a shadow stack to find out would change the
 * process).  An unreadable /proc/cpuinfo leaves that gate unknown.
 */
static void read_os_gates(mg_profile *p)
{
	unsigned long hwcap2 = getauxval(AT_HWCAP2);
	mg_error ignored = { 0 };
	size_t len;
	char *text = mg_read_file("/proc/cpuinfo", 16u << 20, MG_ERR_IO, &len, &ignored);

	p->os_known = MG_OS_FSGSBASE | MG_OS_RING3MWAIT;
	p->os_enabled = 0;
	if (hwcap2 & MG_HWCAP2_FSGSBASE)
		p->os_enabled |= MG_OS_FSGSBASE;
	if (hwcap2 & MG_HWCAP2_RING3MWAIT)
		p->os_enabled |= MG_OS_RING3MWAIT;
	if (text != NULL) {
		p->os_known |= MG_OS_USER_SHSTK;
		if (cpuinfo_has_flag(text, "user_shstk"))
			p->os_enabled |= MG_OS_USER_SHSTK;
	}
	free(text);
}

static int set_str(char **dst, const char *src, mg_error *err)
{
	free(*dst);
	*dst = strdup(src);
	if (*dst == NULL)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	return 0;
}

int mg_host_profile(mg_profile *out, const char *name, mg_error *err)
{
	struct utsname u;
	bool have_uname = uname(&u) == 0;

	mg_profile_init(out);
	if (mg_host_cpuid(&out->cpuid, err) < 0)
		goto fail;
	out->has_cpuid = true;
	out->has_xcr0 = read_xcr0(&out->cpuid, &out->xcr0);
	out->amx_permitted = amx_permitted();
	if (set_str(&out->name, name ? name : have_uname ? u.nodename : "host", err) < 0 ||
	    set_str(&out->origin, "host", err) < 0)
		goto fail;
	if (have_uname && set_str(&out->kernel, u.release, err) < 0)
		goto fail;
	if (mg_profile_fill_identity(out, err) < 0)
		goto fail;
	mg_derive_features(&out->cpuid, out->has_xcr0, out->xcr0, &out->features);
	read_os_gates(out);
	mg_derive_os_gates(out->os_known, out->os_enabled, &out->features, &out->unknown);
	return 0;
fail:
	mg_profile_free(out);
	return -1;
}
