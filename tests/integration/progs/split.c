/*
 * split: burns thread CPU time in three functions in the ratio 50/30/20 under the cpuprof
 * API, and prints the ground truth it measured with CLOCK_THREAD_CPUTIME_ID:
 *   truth <function> <seconds>
 *   process_cpu <seconds of process CPU time while profiling>
 * Usage: split OUT HZ SECONDS [MAX_DEPTH]
 * One of the functions goes through an always-inlined helper (inline frame check).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpuprof.h"

static volatile double sink;

static double cpu_now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline __attribute__((always_inline)) double mix_step(double x, int i)
{
	return x * 1.0000001 + (double)(i & 7);
}

__attribute__((noinline)) double work_a(double sec)
{
	double end = cpu_now(CLOCK_THREAD_CPUTIME_ID) + sec, x = 0;
	while (cpu_now(CLOCK_THREAD_CPUTIME_ID) < end) {
		for (int i = 0; i < 200000; i++) {
			x = mix_step(x, i);
		}
	}
	return x;
}

__attribute__((noinline)) double work_b(double sec)
{
	double end = cpu_now(CLOCK_THREAD_CPUTIME_ID) + sec, x = 1;
	while (cpu_now(CLOCK_THREAD_CPUTIME_ID) < end) {
		for (int i = 1; i < 200000; i++) {
			x += 1.0 / (double)i;
		}
	}
	return x;
}

__attribute__((noinline)) double work_c(double sec)
{
	double end = cpu_now(CLOCK_THREAD_CPUTIME_ID) + sec;
	unsigned h = 2166136261u;
	while (cpu_now(CLOCK_THREAD_CPUTIME_ID) < end) {
		for (int i = 0; i < 200000; i++) {
			h = (h ^ (unsigned)i) * 16777619u;
		}
	}
	return h;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: split OUT HZ SECONDS [MAX_DEPTH]\n");
		return 2;
	}
	double total = atof(argv[3]);
	cpuprof_options *o = cpuprof_options_new();
	cpuprof_options_set_hz(o, atoi(argv[2]));
	if (argc > 4) {
		cpuprof_options_set_max_depth(o, atoi(argv[4]));
	}
	double p0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	int err = cpuprof_start_opts(argv[1], o);
	cpuprof_options_free(o);
	if (err) {
		fprintf(stderr, "split: start: %s\n", cpuprof_strerror(err));
		return 1;
	}
	double t[3] = {0, 0, 0};
	for (int round = 0; round < 20; round++) {
		double c0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
		sink = work_a(total * 0.5 / 20);
		double c1 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
		sink = work_b(total * 0.3 / 20);
		double c2 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
		sink = work_c(total * 0.2 / 20);
		double c3 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
		t[0] += c1 - c0;
		t[1] += c2 - c1;
		t[2] += c3 - c2;
	}
	double p1 = cpu_now(CLOCK_PROCESS_CPUTIME_ID); /* the window ends at stop */
	err = cpuprof_stop();
	if (err) {
		fprintf(stderr, "split: stop: %s\n", cpuprof_strerror(err));
		return 1;
	}
	printf("truth work_a %.6f\ntruth work_b %.6f\ntruth work_c %.6f\n", t[0], t[1], t[2]);
	printf("process_cpu %.6f\n", p1 - p0);
	return 0;
}
