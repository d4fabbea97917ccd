/* pku.c - the study's "pku" workload (and, as libstudy_pku.so, the C part
 * of "pypku"): protect a page against writes and lift the protection
 * again, in a loop.  Like the study's program it asks CPUID whether the
 * CPU offers protection keys (PKU, enabled by the OS: OSPKE) and then uses
 * pkey_alloc/pkey_mprotect/pkey_set; without them (or when the kernel
 * refuses a key) it falls back to mprotect, as a dispatcher would.  AWS
 * hides PKU on c6a/m6a/r6a (but .metal), so there the plain loop runs.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "study.h"

static bool use_pkeys;

/* Choose the protection method once, from CPUID and the kernel.
 * Returns 1 when protection keys are used, 0 for mprotect. */
int study_pku_setup(void)
{
	use_pkeys = study_cpu_has("pku", 7, 0, 2, 3) && study_cpu_has("ospke", 7, 0, 2, 4);
	if (use_pkeys) {
		int key = pkey_alloc(0, 0);
		if (key < 0)
			use_pkeys = false;   /* kernel without pkeys: the plain loop */
		else if (pkey_free(key) != 0)
			return -1;
	}
	return use_pkeys;
}

static int protect_with_pkey(char *page)
{
	int key = pkey_alloc(0, 0);
	if (key < 0 || pkey_mprotect(page, 4096, PROT_READ | PROT_WRITE, key) != 0 ||
	    pkey_set(key, PKEY_DISABLE_WRITE) != 0) {
		perror("pku: protect with a key");
		return -1;
	}
	volatile char seen = page[0];   /* reads are still allowed */
	(void)seen;
	if (pkey_set(key, 0) != 0 || pkey_mprotect(page, 4096, PROT_READ | PROT_WRITE, 0) != 0 ||
	    pkey_free(key) != 0) {
		perror("pku: lift the key");
		return -1;
	}
	return 0;
}

static int protect_with_mprotect(char *page)
{
	if (mprotect(page, 4096, PROT_READ) != 0) {
		perror("pku: mprotect");
		return -1;
	}
	volatile char seen = page[0];
	(void)seen;
	if (mprotect(page, 4096, PROT_READ | PROT_WRITE) != 0) {
		perror("pku: mprotect back");
		return -1;
	}
	return 0;
}

/* One round: a fresh page, written, protected, read, unprotected, written. */
int study_pku_step(void)
{
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("pku: mmap");
		return -1;
	}
	page[0] = 'A';
	int rc = use_pkeys ? protect_with_pkey(page) : protect_with_mprotect(page);
	if (rc == 0)
		page[0] = 'C';
	if (munmap(page, 4096) != 0)
		rc = -1;
	return rc;
}

#ifndef STUDY_LIB
static int pku_step(void)
{
	if (study_pku_step() != 0)
		return -1;
	printf("protection lifted, wrote C\n");
	return 0;
}

int main(void)
{
	int mode = study_pku_setup();
	if (mode < 0)
		return 1;
	printf("pku: %s\n", mode ? "protection keys" : "mprotect (no PKU)");
	return study_loop(pku_step, 20);
}
#endif
