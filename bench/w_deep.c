/*
 * w_deep: a fixed amount of work (ITERS steps of bench_mix) done at the bottom of a
 * recursion DEPTH frames deep: deep_rec calls itself DEPTH-1 times, then deep_leaf does
 * the work. The profile of a full stack shows DEPTH workload frames (deep_rec x DEPTH-1,
 * deep_leaf) above main. Used for the deepest stack each profiler keeps and, with fixed
 * work, for the cost of one sample at a given depth.
 *   w_deep DEPTH ITERS
 */
#define _GNU_SOURCE
#include "bench_common.h"

__attribute__((noinline)) uint64_t deep_leaf(uint64_t iters)
{
	uint64_t x = 88172645463325252ull;
	for (uint64_t i = 0; i < iters; i++) {
		x = bench_mix(x);
	}
	bench_frame(); /* a frame pointer in the leaf: see bench_common.h */
	return x;
}

__attribute__((noinline)) uint64_t deep_rec(int d, uint64_t iters)
{
	uint64_t r = d <= 1 ? deep_leaf(iters) : deep_rec(d - 1, iters);
	/* Opaque to the optimizer: no tail call, no recursion turned into a loop. */
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: w_deep DEPTH ITERS\n");
		return 2;
	}
	int depth = atoi(argv[1]);
	uint64_t iters = strtoull(argv[2], NULL, 10);
	struct bench_region reg;
	bench_begin(&reg);
	bench_sink = depth <= 1 ? deep_leaf(iters) : deep_rec(depth - 1, iters);
	fprintf(bench_out(), "depth %d\nthreads 1\n", depth);
	bench_end(&reg);
	return 0;
}
