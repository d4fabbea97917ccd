/*
 * wl_memfd - code pointers and code held in a memfd, for the CRIU tests.
 *
 *   wl_memfd [exec | ro | anon | private | eof | file]
 *
 * Creates a memfd (memfd_create) of two pages and maps its first page
 * MAP_SHARED, readable and writable; the first word there is the address
 * of gfni_fn (gf2p8affineqb), which no instruction and no other memory
 * of the process refers to: a scan finds gfni_fn only by reading the
 * memfd.  With "exec", the second page holds code (sha1msg1; ret),
 * written with pwrite() and mapped MAP_SHARED, readable and executable.
 * With "ro", the data page is made read-only once written (a live scan
 * must still read it: it is not an ELF file's data).  With "anon", the
 * data page is shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS), which
 * CRIU dumps the same way as a memfd but names by its own shmid.  With
 * "private", the memfd page is mapped MAP_PRIVATE, so the word the process
 * writes lives in its own copy of the page (CRIU: the task's pagemap), not
 * in the memfd.  With "eof", there is no memfd: data.bin next to the
 * binary (the test copies a 100-byte file there) is mapped MAP_SHARED,
 * two pages, so the file ends inside the first page and the second lies
 * wholly past it (SIGBUS on access, as databases map room to grow);
 * data= is that mapping and target= is 0.  With "file", there is no memfd
 * either: gfni_fn's address is written to ./ptrs.bin (a regular file the
 * process creates and keeps), which is then mapped read-only, MAP_PRIVATE.
 * Each function is called once when the CPU has its extension.  CRIU
 * dumps a memfd's contents in images of their own (memfd.img,
 * pagemap-shmem-*.img), not in the process's pagemap.
 *
 * Prints (one per line, then "ready"):
 *   pid=N              its PID as it sees it
 *   data=0xADDR len=N  the data mapping of the memfd
 *   target=0xADDR      gfni_fn, the word at data
 *   code=0xADDR len=N  the code mapping (with "exec" only)
 * then rewrites ./counter (a decimal count, bumped every 20 ms) so a test
 * can see that a restored copy still runs.
 */
#define _GNU_SOURCE     /* memfd_create */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "wl_util.h"

#define PAGE_LEN 4096

static void *volatile data_map;
static void *volatile code_map;
static void *volatile eof_map;

/* Reached only through the word in the memfd. */
__attribute__((used, noinline)) static void gfni_fn(void)
{
	__asm__ volatile("gf2p8affineqb $0, %%xmm2, %%xmm1" ::: "xmm1", "xmm2");
}

/* sha1msg1 %xmm2, %xmm1; ret */
static const unsigned char sha_code[] = { 0x0f, 0x38, 0xc9, 0xca, 0xc3 };

static int setup_anon(void)
{
	void **data = mmap(NULL, PAGE_LEN, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED)
		return -1;
	data[0] = (void *)gfni_fn;
	data_map = data;
	return 0;
}

/* A shared writable page of data.bin, next to this binary. */
static int setup_eof(void)
{
	char exe[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/data.bin", exe);
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	void *m = mmap(NULL, 2 * PAGE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	eof_map = m;
	return close(fd);
}

/* A page of ./ptrs.bin holding gfni_fn's address, mapped read-only. */
static int setup_file(void)
{
	void *page[PAGE_LEN / sizeof(void *)] = { (void *)gfni_fn };
	int fd = open("ptrs.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
		return -1;
	void *m = mmap(NULL, PAGE_LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	data_map = m;
	return close(fd);
}

static int setup(int exec, int ro, int anon, int priv, int file)
{
	if (anon)
		return setup_anon();
	if (file)
		return setup_file();
	int fd = memfd_create("wl_memfd", 0);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, 2 * PAGE_LEN) != 0)
		return -1;
	void **data = mmap(NULL, PAGE_LEN, PROT_READ | PROT_WRITE,
			   priv ? MAP_PRIVATE : MAP_SHARED, fd, 0);
	if (data == MAP_FAILED)
		return -1;
	data[0] = (void *)gfni_fn;
	data_map = data;
	if (ro && mprotect(data, PAGE_LEN, PROT_READ) != 0)
		return -1;
	if (exec) {
		if (pwrite(fd, sha_code, sizeof(sha_code), PAGE_LEN) != (ssize_t)sizeof(sha_code))
			return -1;
		void *code = mmap(NULL, PAGE_LEN, PROT_READ | PROT_EXEC, MAP_SHARED, fd, PAGE_LEN);
		if (code == MAP_FAILED)
			return -1;
		code_map = code;
	}
	/* The mappings keep the memfd alive. */
	return close(fd);
}

/* Called once through these pointers, then cleared, so that afterwards
 * nothing in the process refers to setup() or to the calls below. */
static int (*volatile setup_hook)(int, int, int, int, int) = setup;

static void call_once(void)
{
	__builtin_cpu_init();
	if (data_map != NULL && __builtin_cpu_supports("gfni"))
		(*(void (**)(void))data_map)();
	if (code_map != NULL && __builtin_cpu_supports("sha"))
		((void (*)(void))code_map)();
}

static void (*volatile call_hook)(void) = call_once;

/* Overwrite the dead stack below us, where setup's frames were. */
__attribute__((noinline)) static void scrub_stack(void)
{
	volatile char junk[8192];
	explicit_bzero((void *)junk, sizeof(junk));
}

int main(int argc, char **argv)
{
	int exec = argc > 1 && strcmp(argv[1], "exec") == 0;
	int ro = argc > 1 && strcmp(argv[1], "ro") == 0;
	int anon = argc > 1 && strcmp(argv[1], "anon") == 0;
	int priv = argc > 1 && strcmp(argv[1], "private") == 0;
	int eof = argc > 1 && strcmp(argv[1], "eof") == 0;
	int file = argc > 1 && strcmp(argv[1], "file") == 0;
	if ((eof ? setup_eof() : setup_hook(exec, ro, anon, priv, file)) != 0) {
		perror("wl_memfd: setup");
		return 1;
	}
	setup_hook = NULL;
	call_hook();
	call_hook = NULL;
	scrub_stack();

	int fd = open("counter", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	printf("pid=%d\n", (int)getpid());
	printf("data=%p len=%d\n", eof ? eof_map : data_map, PAGE_LEN);
	printf("target=%p\n", data_map ? *(void *volatile *)data_map : NULL);
	if (code_map != NULL)
		printf("code=%p len=%d\n", code_map, PAGE_LEN);
	printf("ready\n");
	fflush(stdout);
	scrub_stack();

	return wl_count_forever(fd);
}
