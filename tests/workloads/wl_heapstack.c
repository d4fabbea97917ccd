/*
 * wl_heapstack: the main thread runs on a stack malloc'ed in the heap
 * (ucontext, as coroutine libraries do), and a code pointer lies in a heap
 * object *below* that stack.
 *
 *   wl_heapstack [OFFSET]
 *
 * With OFFSET (hex: hidden_target - main in this binary, read with nm)
 * the object holds main + OFFSET; no instruction refers to hidden_target.
 * A scanner that treats every mapping holding a stack pointer as a thread
 * stack (dead below the stack pointer) never reads that object.  Prints
 * "ready" from the coroutine and sleeps there until killed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define CO_STACK (64 * 1024)     /* below the mmap threshold: in [heap] */

int main(int argc, char **argv);

static volatile unsigned long sink;
static ucontext_t main_ctx, co_ctx;
static void **object;

/* Reached only through the word in the heap object. */
__attribute__((used, noinline)) static void hidden_target(void)
{
	sink = sink * 31 + 7;
}

/* Returns 0 so that rax no longer holds the pointer: the lazy binding of
 * the next PLT call saves every register on the stack. */
__attribute__((noinline)) static int store_pointer(unsigned long offset)
{
	object[5] = (void *)((uintptr_t)main + offset);
	return 0;
}

static void coroutine(void)
{
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		usleep(1000);
}

/* Overwrite the stack below us, where store_pointer's frame was. */
__attribute__((noinline)) static void scrub_stack(void)
{
	volatile char junk[8192];
	explicit_bzero((void *)junk, sizeof(junk));
}

int main(int argc, char **argv)
{
	object = calloc(16, sizeof(void *));          /* first: lower address */
	char *stack = malloc(CO_STACK);
	if (object == NULL || stack == NULL || (uintptr_t)object > (uintptr_t)stack) {
		fprintf(stderr, "wl_heapstack: heap layout not as expected\n");
		return 1;
	}
	if (argc > 1 && store_pointer(strtoul(argv[1], NULL, 16)) != 0)
		return 1;
	scrub_stack();
	if (getcontext(&co_ctx) != 0)
		return 1;
	co_ctx.uc_stack.ss_sp = stack;
	co_ctx.uc_stack.ss_size = CO_STACK;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, coroutine, 0);
	return swapcontext(&main_ctx, &co_ctx) == 0 ? 0 : 1;
}
