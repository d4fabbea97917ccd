// wl_scan_targets: one process, one way code is reached per kind, each
// marked with a CPU feature the test chooses (tests/workloads/wl_mark.h),
// so a scan must find the feature of each kind through that kind alone:
//
//   heap=F    a function pointer held only in the heap      heap_F
//   thread=F  a pthread worker, its pointer on its stack    thread_F
//   signal=F  the SIGUSR1 handler (only the kernel has it)  sig_F
//   vcall=F   a C++ virtual call; the class comes from
//             mark/F/libwlvcall.so next to this binary
//             (or libwlvcall.so beside it, in a CRIU root)
//   jit=F     generated code in anonymous executable memory (none
//             without jit=: no such mapping then)
//   (lazy PLT) wlplt_mark, never called yet: the test picks its
//             feature by which libwlplt.so the loader finds
//             (LD_LIBRARY_PATH=mark/F or a copy beside the binary)
//   unref_*   one function per feature that nothing refers to: a
//             reachable scan must not count them, --method full must
//
// Kinds not given are marked "none" (a nop).  The pointers are created
// by set-up code that is itself unreachable afterwards (called once
// through a pointer that is then cleared), and only the chosen markers
// are referenced by anything the process keeps.
//
// LDLIBS: -lwlplt
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl_mark.h"
#include "wl_vcall.h"

extern "C" void wlplt_mark(void);

WL_MARK_DEFINE(heap)
WL_MARK_DEFINE(thread)
WL_MARK_DEFINE(sig)
WL_MARK_DEFINE(unref)
WL_MARK_DEFINE_BYTES()

enum { K_HEAP, K_THREAD, K_SIGNAL, K_VCALL, K_JIT, K_COUNT };
static const char *const kind_names[K_COUNT] = { "heap", "thread", "signal", "vcall", "jit" };

struct Holder {
	wl_mark_fn fn;
	WlWorker *obj;
	void (*jit)(void);
};

static Holder *volatile holder;
static volatile int call_lazy;         // never set: the PLT slot stays lazy

static void *thread_loop(void *arg)
{
	wl_mark_fn fn = (wl_mark_fn)arg;
	for (;;) {
		fn(0);
		usleep(2000);
	}
	return NULL;
}

// marker bytes; ret
static void (*make_jit(const char *name))(void)
{
	size_t len;
	const unsigned char *code = wl_mark_bytes(name, &len);
	if (code == NULL)
		return NULL;
	unsigned char *p = (unsigned char *)mmap(NULL, 4096, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, code, len);
	p[len] = 0xc3;
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		return NULL;
	return (void (*)(void))(void *)p;
}

// mark/NAME/libwlvcall.so next to this binary, else libwlvcall.so beside it.
static WlWorker *load_worker(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(path, sizeof(path), "%s/mark/%s/libwlvcall.so", exe, name);
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(path, sizeof(path), "%s/libwlvcall.so", exe);
		lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	}
	if (lib == NULL) {
		fprintf(stderr, "wl_scan_targets: %s\n", dlerror());
		return NULL;
	}
	WlWorker *(*make)(void) = (WlWorker * (*)(void)) dlsym(lib, "wlvcall_new");
	return make ? make() : NULL;
}

static const char *chosen[K_COUNT] = { "none", "none", "none", "none", NULL };

static int setup(void)
{
	Holder *h = new Holder;
	h->fn = heap_lookup(chosen[K_HEAP]);
	wl_mark_fn worker = thread_lookup(chosen[K_THREAD]);
	wl_mark_fn handler = sig_lookup(chosen[K_SIGNAL]);
	if (h->fn == NULL || worker == NULL || handler == NULL) {
		fprintf(stderr, "wl_scan_targets: unknown marker\n");
		return -1;
	}
	h->obj = load_worker(chosen[K_VCALL]);
	h->jit = chosen[K_JIT] ? make_jit(chosen[K_JIT]) : NULL;
	if (h->obj == NULL || (chosen[K_JIT] && h->jit == NULL))
		return -1;
	holder = h;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return -1;
	pthread_t t;
	return pthread_create(&t, NULL, thread_loop, (void *)worker) == 0 ? 0 : -1;
}

// Called once through this pointer, then cleared: afterwards nothing in
// the process refers to setup() or the lookups it calls.
static int (*volatile setup_hook)(void) = setup;

int main(int argc, char **argv)
{
	if (wl_mark_args(argc, argv, kind_names, chosen, K_COUNT) != 0) {
		fprintf(stderr, "usage: wl_scan_targets [heap|thread|signal|vcall|jit=FEATURE]...\n");
		return 2;
	}
	if (setup_hook() != 0)
		return 1;
	setup_hook = NULL;
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		holder->fn(0);
		holder->obj->run();
		if (holder->jit)
			holder->jit();
		if (call_lazy)
			wlplt_mark();
		usleep(2000);
	}
}
