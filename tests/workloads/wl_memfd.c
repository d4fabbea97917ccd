/*
 * wl_memfd - code pointers and code held in a memfd, for the CRIU tests.
 *
 *   wl_memfd [data | exec | ro | anon | private | eof | file] [mark=F] [code=G]
 *
 * Creates a memfd (memfd_create) of two pages and maps its first page
 * MAP_SHARED, readable and writable; the first word there is the address
 * of memfd_F, the marker function of feature F (wl_mark.h; "none" unless
 * given), which no instruction and no other memory of the process refers
 * to: a scan finds memfd_F only by reading the memfd.  With "exec", the
 * second page holds code (the marker instruction of G, then ret),
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
 * either: memfd_F's address is written to ./ptrs.bin (a regular file the
 * process creates and keeps), which is then mapped read-only, MAP_PRIVATE.
 * The function and the code are each called once (the test chooses
 * markers this CPU has).  CRIU
 * dumps a memfd's contents in images of their own (memfd.img,
 * pagemap-shmem-*.img), not in the process's pagemap.
 *
 * Prints (one per line, then "ready"):
 *   pid=N              its PID as it sees it
 *   data=0xADDR len=N  the data mapping of the memfd
 *   target=0xADDR      memfd_F, the word at data
 *   code=0xADDR len=N  the code mapping (with "exec" only)
 *   codebytes=HEX      the code written there (with "exec" only)
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

#include "wl_mark.h"
#include "wl_util.h"

#define PAGE_LEN 4096

static void *volatile data_map;
static void *volatile code_map;
static void *volatile eof_map;

/* memfd_<name>: reached only through the word in the memfd. */
WL_MARK_DEFINE(memfd)
WL_MARK_DEFINE_BYTES()

static void (*target_fn)(int);      /* memfd_F, cleared after set-up */
static unsigned char code_bytes[32];
static size_t code_len;

static int setup_anon(void)
{
	void **data = mmap(NULL, PAGE_LEN, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED)
		return -1;
	data[0] = (void *)target_fn;
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
	void *page[PAGE_LEN / sizeof(void *)] = { (void *)target_fn };
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
	data[0] = (void *)target_fn;
	data_map = data;
	if (ro && mprotect(data, PAGE_LEN, PROT_READ) != 0)
		return -1;
	if (exec) {
		if (pwrite(fd, code_bytes, code_len, PAGE_LEN) != (ssize_t)code_len)
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
	if (data_map != NULL)
		(*(void (**)(int))data_map)(0);
	if (code_map != NULL)
		((void (*)(void))code_map)();
}

static void (*volatile call_hook)(void) = call_once;

/* Overwrite the dead stack below us, where setup's frames were. */
__attribute__((noinline)) static void scrub_stack(void)
{
	volatile char junk[8192];
	explicit_bzero((void *)junk, sizeof(junk));
}

/* mark=F and code=G after the mode; their function and bytes.  Runs
 * before setup, and like it only once. */
static int choose_markers(int argc, char **argv)
{
	static const char *const kinds[] = { "mark", "code" };
	const char *names[2] = { "none", "none" };
	size_t len;
	if (argc > 2 && wl_mark_args(argc - 1, argv + 1, kinds, names, 2) != 0)
		return -1;
	const unsigned char *bytes = wl_mark_bytes(names[1], &len);
	target_fn = memfd_lookup(names[0]);
	if (target_fn == NULL || bytes == NULL || len + 1 > sizeof(code_bytes))
		return -1;
	memcpy(code_bytes, bytes, len);
	code_bytes[len] = 0xc3;     /* ret */
	code_len = len + 1;
	return 0;
}

static int (*volatile choose_hook)(int, char **) = choose_markers;

int main(int argc, char **argv)
{
	if (choose_hook(argc, argv) != 0) {
		fprintf(stderr, "usage: wl_memfd [MODE] [mark=FEATURE] [code=FEATURE]\n");
		return 2;
	}
	choose_hook = NULL;
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
	target_fn = NULL;
	call_hook();
	call_hook = NULL;
	scrub_stack();

	int fd = open("counter", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	printf("pid=%d\n", (int)getpid());
	printf("data=%p len=%d\n", eof ? eof_map : data_map, PAGE_LEN);
	printf("target=%p\n", data_map ? *(void *volatile *)data_map : NULL);
	if (code_map != NULL) {
		printf("code=%p len=%d\ncodebytes=", code_map, PAGE_LEN);
		for (size_t i = 0; i < code_len; i++)
			printf("%02x", code_bytes[i]);
		printf("\n");
	}
	printf("ready\n");
	fflush(stdout);
	scrub_stack();

	return wl_count_forever(fd);
}
