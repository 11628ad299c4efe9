/*
 * w_fixed: a deterministic compute loop, ITERS steps of bench_mix per thread, in THREADS
 * threads (1: the main thread alone, no thread is created). The same work every run, so
 * CPU and wall time with and without a profiler compare directly.
 *   w_fixed THREADS ITERS
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench_common.h"

static uint64_t iters;

__attribute__((noinline)) void *fixed_work(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg + 88172645463325252ull;
	for (uint64_t i = 0; i < iters; i++) {
		x = bench_mix(x);
	}
	bench_sink = x;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: w_fixed THREADS ITERS\n");
		return 2;
	}
	int n = atoi(argv[1]);
	iters = strtoull(argv[2], NULL, 10);
	if (n < 1 || n > 256) {
		return 2;
	}
	struct bench_region reg;
	bench_begin(&reg);
	if (n == 1) {
		fixed_work(NULL);
	} else {
		pthread_t th[256];
		for (int i = 0; i < n; i++) {
			if (pthread_create(&th[i], NULL, fixed_work, (void *)(uintptr_t)i) != 0) {
				return 1;
			}
		}
		for (int i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
		}
	}
	fprintf(bench_out(), "threads %d\n", n);
	bench_end(&reg);
	return 0;
}
