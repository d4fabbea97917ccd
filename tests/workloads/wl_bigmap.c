/*
 * wl_bigmap: a code pointer that only a large anonymous mapping holds.
 *
 *   wl_bigmap [OFFSET]
 *
 * Maps 32 MiB of anonymous memory and, when OFFSET is given (hex: the
 * distance from main to hidden_target in this binary, which the test reads
 * with nm), stores main + OFFSET in the mapping's last page.  No
 * instruction refers to hidden_target and the value is scrubbed from the
 * stack and registers, so a scan can reach hidden_target only by reading
 * that word: the test tells whether the tail of a large region is scanned
 * (memscan.c reads large regions in a two-thread pipeline).  Prints
 * "ready" and sleeps until killed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAP_BYTES ((size_t)32 << 20)

int main(int argc, char **argv);

static volatile unsigned long sink;

/* Reached only through the word in the big mapping. */
__attribute__((used, noinline)) static void hidden_target(void)
{
	sink = sink * 31 + 7;
}

static void **big;

__attribute__((noinline)) static void store_pointer(unsigned long offset)
{
	uintptr_t p = (uintptr_t)main + offset;
	big[MAP_BYTES / sizeof(void *) - 3] = (void *)p;
}

/* Overwrite the stack below us, where store_pointer's frame was. */
__attribute__((noinline)) static void scrub_stack(void)
{
	volatile char junk[8192];
	explicit_bzero((void *)junk, sizeof(junk));
}

int main(int argc, char **argv)
{
	big = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED) {
		perror("wl_bigmap: mmap");
		return 1;
	}
	memset(big, 0, MAP_BYTES);     /* populate: every page is read back */
	if (argc > 1)
		store_pointer(strtoul(argv[1], NULL, 16));
	scrub_stack();
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		usleep(1000);
}
