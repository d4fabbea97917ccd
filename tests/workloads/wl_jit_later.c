/*
 * wl_jit_later - a small JIT that emits its marker only after the scan.
 *
 *   wl_jit_later [mark=F]
 *
 * At start it maps one anonymous page read/write, writes `ret` there and
 * makes it executable, as a JIT does for its first stub; the marker
 * instruction of F (wl_mark.h) exists nowhere in the process then.  On
 * SIGUSR1 it makes the page writable again, writes the marker followed
 * by `ret` and runs it, and writes "ran" on stdout: the code a scan taken
 * before that signal could not see.  Prints "ready" once set up.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl_mark.h"
#include "wl_util.h"

WL_MARK_DEFINE_BYTES()

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

/* Write code into the page (W^X: writable, then executable again). */
static int emit(unsigned char *page, const unsigned char *code, size_t len)
{
	if (mprotect(page, 4096, PROT_READ | PROT_WRITE) != 0)
		return -1;
	memcpy(page, code, len);
	page[len] = 0xc3;       /* ret */
	return mprotect(page, 4096, PROT_READ | PROT_EXEC);
}

int main(int argc, char **argv)
{
	static const char *const kinds[] = { "mark" };
	const char *mark = "none";
	size_t len;
	if (wl_mark_args(argc, argv, kinds, &mark, 1) != 0)
		return 2;
	/* The bytes are copied now, so that the lookup's references to every
	 * marker are gone before the scan (as a JIT's encoder tables would
	 * not hold machine code of other features). */
	unsigned char code[32];
	const unsigned char *bytes = wl_mark_bytes(mark, &len);
	if (bytes == NULL || len >= sizeof(code)) {
		fprintf(stderr, "wl_jit_later: unknown marker %s\n", mark);
		return 2;
	}
	memcpy(code, bytes, len);
	unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || emit(page, code, 0) != 0)
		return 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		((void (*)(void))page)();
		if (go == 1) {
			if (emit(page, code, len) != 0)
				return 1;
			((void (*)(void))page)();
			printf("ran\n");
			fflush(stdout);
			go = 2;
		}
		wl_sleep_ms(5);
	}
}
