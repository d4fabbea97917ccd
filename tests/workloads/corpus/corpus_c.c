/*
 * corpus_c.c - every way C code reaches a function indirectly, each
 * reaching a function with a distinct CPU extension, so a miss of the
 * scan shows up both as a unit and as a feature.  The extensions are ones
 * glibc's own code does not need (so a missed root cannot hide behind
 * glibc's requirements) and that most x86-64 CPUs have (so the check has
 * teeth on most test machines, and the gain table of docs/gain.md
 * measures the mechanisms, not a rare marker).
 *
 *   heap function pointer -> popcnt      data table pointer  -> lzcnt
 *   qsort comparator      -> andn (bmi1) pthread_create      -> pdep (bmi2)
 *   atexit handler        -> movbe       SIGUSR1 handler     -> adcx (adx)
 *   __thread pointer      -> rdrand      tail call           -> aesenc
 *   after longjmp         -> pclmulqdq   dlsym'd plugin      -> rdseed
 *   JIT code              -> vcvtph2ps (f16c)
 *   lazy/now PLT          -> libm functions first called after the scan
 *   fork child            -> its copy of the code (the oracle cleans it)
 *
 * Each instruction runs only where the CPU has it (as real dispatch
 * does), so the corpus runs anywhere; the units execute regardless.
 *
 * Prints "ready" once set up, then idles.  SIGUSR1 starts the activity
 * (the driver sends it inside the observation window); SIGUSR2 makes it
 * exit through exit() so atexit handlers run.
 *
 * Build: cc -O1 -g -fno-inline corpus_c.c -o X -ldl -lpthread -lm
 *        [-Wl,-z,lazy | -Wl,-z,now]; PLUGIN=path of corpus_plugin.so
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

typedef uint64_t (*fn_t)(uint64_t);

static volatile sig_atomic_t active, quit;
static volatile uint64_t sink;

__attribute__((noinline)) static uint64_t f_heap(uint64_t x)
{
	uint64_t r = x;
	if (__builtin_cpu_supports("popcnt"))
		__asm__ volatile("popcnt %1, %0" : "=r"(r) : "r"(x));
	return r;
}

__attribute__((noinline)) static uint64_t f_data(uint64_t x)
{
	uint64_t r = x;
	if (__builtin_cpu_supports("lzcnt"))
		__asm__ volatile("lzcnt %1, %0" : "=r"(r) : "r"(x | 1));
	return r;
}

static const fn_t data_table[] = { f_data };

__attribute__((noinline)) static int cmp_bmi1(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b, r = 0;
	if (__builtin_cpu_supports("bmi"))
		__asm__ volatile("andn %2, %1, %0" : "=r"(r) : "r"(x), "r"(y));
	sink += r;
	return x < y ? -1 : x > y;
}

__attribute__((noinline)) static void *thread_bmi2(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg, r = x;
	if (__builtin_cpu_supports("bmi2"))
		__asm__ volatile("pdep %2, %1, %0" : "=r"(r) : "r"(x), "r"(~x));
	sink += r;
	return NULL;
}

__attribute__((noinline)) static void at_exit_movbe(void)
{
	uint64_t x = sink, r = x;
	if (__builtin_cpu_supports("movbe"))
		__asm__ volatile("movbe %1, %0" : "=r"(r) : "m"(x));
	sink = r;
}

__attribute__((noinline)) static void on_usr1_adx(int sig)
{
	uint64_t r = (uint64_t)sig;
	if (__builtin_cpu_supports("adx"))
		__asm__ volatile("adcx %1, %0" : "+r"(r) : "r"((uint64_t)7));
	sink += r;
	active = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	quit = 1;
}

__attribute__((noinline)) static uint64_t f_tls(uint64_t x)
{
	uint64_t r = 0;
	if (__builtin_cpu_supports("rdrnd"))
		__asm__ volatile("rdrand %0" : "=r"(r) :: "cc");
	sink += r & 1;
	return x + 1;
}

static __thread fn_t tls_fn;

__attribute__((noinline)) static uint64_t f_tail_target(uint64_t x)
{
	if (__builtin_cpu_supports("aes"))
		__asm__ volatile("aesenc %%xmm1, %%xmm0" ::: "xmm0", "xmm1");
	return x * 3;
}

/* -O1 with a plain `return g(x)` through a pointer becomes `jmp *%rax`. */
__attribute__((noinline, optimize("O2", "omit-frame-pointer")))
static uint64_t f_tail(fn_t g, uint64_t x)
{
	return g(x + 1);
}

__attribute__((noinline)) static uint64_t after_longjmp(uint64_t x)
{
	if (__builtin_cpu_supports("pclmul"))
		__asm__ volatile("pclmulqdq $0, %%xmm1, %%xmm0" ::: "xmm0", "xmm1");
	return x ^ 5;
}

static jmp_buf jb;

__attribute__((noinline)) static void jumper(void)
{
	longjmp(jb, 1);
}

static fn_t heap_slot_fn(fn_t *slot)
{
	return *slot;
}

int main(void)
{
	fn_t *heap_slot = malloc(sizeof(*heap_slot));
	if (heap_slot == NULL)
		return 1;
	*heap_slot = f_heap;
	tls_fn = f_tls;

	const char *plugin_path = getenv("PLUGIN");
	void *plugin = dlopen(plugin_path ? plugin_path : "corpus_plugin.so", RTLD_NOW);
	fn_t plugin_fn = plugin ? (fn_t)dlsym(plugin, "plugin_rdseed") : NULL;
	if (plugin_fn == NULL) {
		fprintf(stderr, "corpus_c: plugin: %s\n", dlerror());
		return 1;
	}

	/* JIT: vcvtph2ps xmm0, xmm1; mov eax, edi; ret */
	static const uint8_t jit_code[] = { 0xc4, 0xe2, 0x79, 0x13, 0xc1, 0x89, 0xf8, 0xc3 };
	uint8_t *jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (jit == MAP_FAILED)
		return 1;
	memcpy(jit, jit_code, sizeof(jit_code));
	if (!__builtin_cpu_supports("f16c"))
		memset(jit, 0x90, 5);   /* nop it out: the host cannot run it */
	if (mprotect(jit, 4096, PROT_READ | PROT_EXEC) != 0)
		return 1;
	fn_t jit_fn = (fn_t)(void *)jit;

	atexit(at_exit_movbe);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1_adx;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);

	printf("ready\n");
	fflush(stdout);

	while (!quit) {
		if (!active) {
			usleep(10000);
			continue;
		}
		uint64_t v[16];
		for (int i = 0; i < 16; i++)
			v[i] = (uint64_t)(i * 7919 % 16);
		qsort(v, 16, sizeof(v[0]), cmp_bmi1);
		sink += heap_slot_fn(heap_slot)(v[3]);
		sink += data_table[sink & 0](v[4]);
		sink += tls_fn(v[5]);
		sink += f_tail(f_tail_target, v[6]);
		if (setjmp(jb) == 0)
			jumper();
		else
			sink += after_longjmp(v[7]);
		sink += plugin_fn(v[8]);
		sink += jit_fn(v[9]);
		/* libm functions never called before the scan: lazy PLT slots */
		sink += (uint64_t)(cbrt((double)v[10]) + erf(0.5) + lgamma(3.5));
		pthread_t t;
		if (pthread_create(&t, NULL, thread_bmi2, (void *)(uintptr_t)v[11]) == 0)
			pthread_join(t, NULL);
		pid_t child = fork();
		if (child == 0)
			_exit((int)(f_heap(sink) & 1));
		if (child > 0)
			waitpid(child, NULL, 0);
		usleep(20000);
	}
	printf("bye %llu\n", (unsigned long long)sink);
	return 0;   /* exit(): runs at_exit_movbe */
}
