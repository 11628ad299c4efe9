/*
 * The demo: a small program that profiles itself with the cpuprof API. It spends its CPU
 * time about 50/30/20 in three functions (one of them through an inlined helper), then
 * writes the profile and prints where it went.
 *
 *   cpuprof-demo [out.pb.gz] [seconds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpuprof.h"

static volatile double sink;

static double now_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Inlined into parse_records: the profile shows it as an inline frame. */
static inline __attribute__((always_inline)) double checksum_step(double x, int i)
{
	return x * 1.0000001 + (double)(i & 7);
}

__attribute__((noinline)) static void parse_records(double seconds)
{
	double end = now_cpu() + seconds, x = 0;
	while (now_cpu() < end) {
		for (int i = 0; i < 20000; i++) {
			x = checksum_step(x, i);
		}
	}
	sink = x;
}

__attribute__((noinline)) static void compress_blocks(double seconds)
{
	double end = now_cpu() + seconds, x = 1;
	while (now_cpu() < end) {
		for (int i = 1; i < 20000; i++) {
			x += 1.0 / (double)i;
		}
	}
	sink = x;
}

__attribute__((noinline)) static void render_page(double seconds)
{
	double end = now_cpu() + seconds;
	unsigned h = 2166136261u;
	while (now_cpu() < end) {
		for (int i = 0; i < 20000; i++) {
			h = (h ^ (unsigned)i) * 16777619u;
		}
	}
	sink = h;
}

int main(int argc, char **argv)
{
	const char *out = argc > 1 ? argv[1] : "cpuprof-demo.pb.gz";
	double seconds = argc > 2 ? atof(argv[2]) : 2.0;
	int err = cpuprof_start(out, 250);
	if (err) {
		fprintf(stderr, "cpuprof-demo: cannot start profiling to %s: %s\n", out,
			cpuprof_strerror(err));
		return 1;
	}
	for (int round = 0; round < 10; round++) {
		parse_records(seconds * 0.05);
		compress_blocks(seconds * 0.03);
		render_page(seconds * 0.02);
	}
	err = cpuprof_stop();
	if (err) {
		fprintf(stderr, "cpuprof-demo: cannot write %s: %s\n", out, cpuprof_strerror(err));
		return 1;
	}
	printf("profile written to %s\n", out);
	return 0;
}
