/*
 * w_stacks: how long cpuprof_stop() takes to write a profile with many distinct stacks.
 * Linked with libcpuprof (the API is the only way to time the stop by itself). A call
 * path of LEVELS frames is chosen by the bits of a counter: at each level stk_a or stk_b
 * calls the next one, so there are 2^LEVELS distinct stacks (16 levels: 65,536), cycled
 * through for SECONDS of CPU time at HZ. Reports the wall and CPU time of cpuprof_stop()
 * in ns; the harness counts the distinct stacks the written profile holds.
 *   w_stacks OUT HZ SECONDS [LEVELS]
 */
#define _GNU_SOURCE
#include "bench_common.h"
#include "cpuprof.h"

static int levels = 16;

__attribute__((noinline)) uint64_t stk_a(int l, uint64_t code);
__attribute__((noinline)) uint64_t stk_b(int l, uint64_t code);

__attribute__((noinline)) static uint64_t stk_leaf(uint64_t code)
{
	uint64_t x = code + 1;
	for (int i = 0; i < 2000; i++) {
		x = bench_mix(x);
	}
	bench_frame(); /* a frame pointer in the leaf: see bench_common.h */
	return x;
}

static uint64_t next_level(int l, uint64_t code)
{
	if (l >= levels) {
		return stk_leaf(code);
	}
	return (code >> l) & 1 ? stk_a(l + 1, code) : stk_b(l + 1, code);
}

uint64_t stk_a(int l, uint64_t code)
{
	uint64_t r = next_level(l, code);
	__asm__ volatile("" : "+r"(r));
	return r ^ 1;
}

uint64_t stk_b(int l, uint64_t code)
{
	uint64_t r = next_level(l, code);
	__asm__ volatile("" : "+r"(r));
	return r ^ 2;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: w_stacks OUT HZ SECONDS [LEVELS]\n");
		return 2;
	}
	int hz = atoi(argv[2]);
	double sec = atof(argv[3]);
	if (argc > 4) {
		levels = atoi(argv[4]);
	}
	cpuprof_options *o = cpuprof_options_new();
	cpuprof_options_set_hz(o, hz);
	cpuprof_options_set_max_depth(o, 64);
	int err = cpuprof_start_opts(argv[1], o);
	cpuprof_options_free(o);
	if (err) {
		fprintf(stderr, "w_stacks: cpuprof_start: %s\n", cpuprof_strerror(err));
		return 1;
	}
	struct bench_region reg;
	bench_begin(&reg);
	int64_t end = bench_ns(CLOCK_THREAD_CPUTIME_ID) + (int64_t)(sec * 1e9);
	uint64_t code = 0, x = 0;
	while (bench_ns(CLOCK_THREAD_CPUTIME_ID) < end) {
		for (int i = 0; i < 64; i++) {
			/* Bit-reversed order would spread better, but a plain counter already
			 * visits every path once per 2^levels steps. */
			x += next_level(0, code++);
		}
	}
	bench_sink = x;
	cpuprof_stats st;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	cpuprof_get_stats(&st);
	int64_t w0 = bench_ns(CLOCK_MONOTONIC), c0 = bench_ns(CLOCK_PROCESS_CPUTIME_ID);
	err = cpuprof_stop();
	int64_t w1 = bench_ns(CLOCK_MONOTONIC), c1 = bench_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (err) {
		fprintf(stderr, "w_stacks: cpuprof_stop: %s\n", cpuprof_strerror(err));
		return 1;
	}
	FILE *out = bench_out();
	fprintf(out, "paths_visited %llu\nsamples %llu\nsignals %llu\n", (unsigned long long)code,
	        (unsigned long long)st.samples, (unsigned long long)st.signals);
	fprintf(out, "stop_wall_ns %lld\nstop_cpu_ns %lld\nthreads 1\n", (long long)(w1 - w0),
	        (long long)(c1 - c0));
	bench_end(&reg);
	return 0;
}
