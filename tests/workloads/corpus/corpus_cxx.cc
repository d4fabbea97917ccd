// corpus_cxx.cc - C++ virtual dispatch, std::function and std::sort with
// a lambda: the vtable targets need FMA and PCLMULQDQ, the std::function
// target RDRAND (extensions libstdc++ and glibc do not need here, see
// corpus_c.c).  SIGUSR1 starts the activity, SIGUSR2 ends it.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <unistd.h>
#include <vector>

static volatile std::sig_atomic_t active, quit;
static volatile uint64_t sink;

struct Shape {
	virtual ~Shape() {}
	virtual uint64_t area(uint64_t x) = 0;
};

struct Square : Shape {
	__attribute__((noinline)) uint64_t area(uint64_t x) override
	{
		if (__builtin_cpu_supports("fma"))
			__asm__ volatile("vfmadd231ps %%xmm1, %%xmm2, %%xmm0" ::: "xmm0", "xmm1", "xmm2");
		return x * x;
	}
};

struct Circle : Shape {
	__attribute__((noinline)) uint64_t area(uint64_t x) override
	{
		if (__builtin_cpu_supports("pclmul"))
			__asm__ volatile("pclmulqdq $0, %%xmm1, %%xmm0" ::: "xmm0", "xmm1");
		return 3 * x * x;
	}
};

__attribute__((noinline)) static uint64_t via_function(uint64_t x)
{
	uint64_t r = 0;
	if (__builtin_cpu_supports("rdrnd"))
		__asm__ volatile("rdrand %0" : "=r"(r) :: "cc");
	return x + 2 + (r & 1);
}

extern "C" void on_usr1(int) { active = 1; }
extern "C" void on_usr2(int) { quit = 1; }

int main()
{
	std::vector<std::unique_ptr<Shape>> shapes;
	shapes.emplace_back(new Square);
	shapes.emplace_back(new Circle);
	std::function<uint64_t(uint64_t)> fn = via_function;
	std::signal(SIGUSR1, on_usr1);
	std::signal(SIGUSR2, on_usr2);
	std::printf("ready\n");
	std::fflush(stdout);
	while (!quit) {
		if (!active) {
			usleep(10000);
			continue;
		}
		for (auto &s : shapes)
			sink += s->area(sink & 15);
		sink += fn(sink & 7);
		std::vector<int> v = { 5, 3, 9, 1 };
		std::sort(v.begin(), v.end(), [](int a, int b) { return a > b; });
		sink += v[0];
		usleep(20000);
	}
	std::printf("bye %llu\n", (unsigned long long)sink);
	return 0;
}
