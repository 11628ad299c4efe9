/*
 * w_split: one thread spends its CPU time in four leaf functions with different
 * instruction mixes, in the shares 40/30/20/10, interleaved in 40 rounds. The truth is
 * measured, not assumed: CLOCK_THREAD_CPUTIME_ID around every call, summed per function
 * and reported as "truth <function> <ns>" (plus region CPU, wall and memory, see
 * bench_common.h). The functions do their work in their own bodies (no callees but the
 * vDSO clock read every few tens of microseconds), so "self" (leaf) attribution is exact.
 *   w_split SECONDS
 */
#define _GNU_SOURCE
#include "bench_common.h"

/* Iterations between clock reads, each about 200 us of work: reading a thread CPU clock
 * is a system call, and kernel time outside the four functions' loops should stay small. */
#define CHUNK_HASH 65000
#define CHUNK_FLOAT 40000
#define CHUNK_DIVIDE 15000
#define CHUNK_MEMORY 1500

/* A random cyclic permutation of 64-byte lines for split_memory: 2 MiB, past the L2
 * cache, and cheap to build (the build runs outside any truth and must stay small). */
#define CHASE_LINES (1u << 15)
#define LINE_WORDS 8
static uint64_t *chase;

__attribute__((noinline)) void split_hash(int64_t ns)
{
	int64_t end = bench_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	uint64_t x = 88172645463325252ull;
	do {
		for (int i = 0; i < CHUNK_HASH; i++) {
			x = bench_mix(x);
		}
	} while (bench_ns(CLOCK_THREAD_CPUTIME_ID) < end);
	bench_sink = x;
}

__attribute__((noinline)) void split_float(int64_t ns)
{
	int64_t end = bench_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	double x = 1.0;
	do {
		for (int i = 1; i <= CHUNK_FLOAT; i++) {
			x = x * 0.9999999 + 1.0 / (double)i;
		}
	} while (bench_ns(CLOCK_THREAD_CPUTIME_ID) < end);
	bench_sink = (uint64_t)x;
}

__attribute__((noinline)) void split_divide(int64_t ns)
{
	int64_t end = bench_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	uint64_t x = 0x123456789abcdefull, d = 7;
	do {
		for (int i = 0; i < CHUNK_DIVIDE; i++) {
			x = x / d + 0x9E3779B97F4A7C15ull;
			d = (d & 1023) + 3;
		}
	} while (bench_ns(CLOCK_THREAD_CPUTIME_ID) < end);
	bench_sink = x;
}

__attribute__((noinline)) void split_memory(int64_t ns)
{
	int64_t end = bench_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	uint64_t p = 0;
	do {
		for (int i = 0; i < CHUNK_MEMORY; i++) {
			p = chase[p];
		}
	} while (bench_ns(CLOCK_THREAD_CPUTIME_ID) < end);
	bench_sink = p;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: w_split SECONDS\n");
		return 2;
	}
	double sec = atof(argv[1]);
	chase = calloc((size_t)CHASE_LINES * LINE_WORDS, sizeof(*chase));
	if (!chase) {
		return 1;
	}
	/* A random visiting order (Fisher-Yates), linked into one cycle of every line. */
	uint32_t *perm = malloc(CHASE_LINES * sizeof(*perm));
	if (!perm) {
		return 1;
	}
	for (uint32_t i = 0; i < CHASE_LINES; i++) {
		perm[i] = i;
	}
	uint64_t r = 1;
	for (uint32_t i = CHASE_LINES - 1; i > 0; i--) {
		r = bench_mix(r + i);
		uint32_t j = (uint32_t)(r % (i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (uint32_t i = 0; i < CHASE_LINES; i++) {
		chase[(uint64_t)perm[i] * LINE_WORDS] =
		    (uint64_t)perm[(i + 1) % CHASE_LINES] * LINE_WORDS;
	}
	free(perm);
	static const char *names[4] = {"split_hash", "split_float", "split_divide", "split_memory"};
	static void (*const fns[4])(int64_t) = {split_hash, split_float, split_divide,
	                                        split_memory};
	static const double share[4] = {0.40, 0.30, 0.20, 0.10};
	const int rounds = 40;
	int64_t truth[4] = {0, 0, 0, 0};
	struct bench_region reg;
	bench_begin(&reg);
	int64_t t0 = bench_ns(CLOCK_THREAD_CPUTIME_ID);
	for (int k = 0; k < rounds; k++) {
		for (int f = 0; f < 4; f++) {
			int64_t a = bench_ns(CLOCK_THREAD_CPUTIME_ID);
			fns[f]((int64_t)(sec * 1e9 * share[f] / rounds));
			truth[f] += bench_ns(CLOCK_THREAD_CPUTIME_ID) - a;
		}
	}
	int64_t t1 = bench_ns(CLOCK_THREAD_CPUTIME_ID);
	FILE *o = bench_out();
	for (int f = 0; f < 4; f++) {
		fprintf(o, "truth %s %lld\n", names[f], (long long)truth[f]);
	}
	fprintf(o, "truth_total_ns %lld\nthreads 1\n", (long long)(t1 - t0));
	bench_end(&reg);
	return 0;
}
