/*
 * wl_guard_jit - a process that keeps code it never runs, for the CRIU
 * restore guard tests.
 *
 *   wl_guard_jit HEX     HEX: the bytes of one instruction (e.g. "0f79ca")
 *
 * Copies the instruction (and a ret) into an anonymous executable mapping
 * and keeps the only pointer to it on the heap, as a JIT keeps a compiled
 * function: a scan must count it as reachable, so the instruction's
 * feature is required whenever the source CPU could run it.  The test
 * picks an instruction this CPU cannot run; it is never executed.  Prints
 * "jit=0xADDR" and "ready", then bumps ./counter every 20 ms.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl_util.h"

struct jit_holder {
	void (*fn)(void);
	size_t len;
};

static struct jit_holder *volatile holder;

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int main(int argc, char **argv)
{
	uint8_t code[32];
	size_t n = 0;
	if (argc != 2 || strlen(argv[1]) % 2 != 0 || strlen(argv[1]) / 2 >= sizeof(code)) {
		fprintf(stderr, "usage: wl_guard_jit HEX\n");
		return 2;
	}
	for (const char *h = argv[1]; *h; h += 2) {
		int hi = hex_nibble(h[0]), lo = hex_nibble(h[1]);
		if (hi < 0 || lo < 0)
			return 2;
		code[n++] = (uint8_t)(hi << 4 | lo);
	}
	code[n++] = 0xc3;       /* ret */
	uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 1;
	memcpy(page, code, n);
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0)
		return 1;
	struct jit_holder *h = malloc(sizeof(*h));
	if (h == NULL)
		return 1;
	h->fn = (void (*)(void))(uintptr_t)page;
	h->len = n;
	holder = h;
	page = NULL;
	printf("jit=%p\nready\n", (void *)h->fn);
	fflush(stdout);
	int fd = open("counter", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	return wl_count_forever(fd);
}
