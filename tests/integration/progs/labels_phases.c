/*
 * labels_phases: burns thread CPU time in two labelled phases, parse_phase() under
 * phase=parse (set with cpuprof_labels_set) and render_phase() under phase=render (pushed
 * and popped on top of a request label), 70/30, profiled to OUT. Prints the ground truth
 * measured with CLOCK_THREAD_CPUTIME_ID:  truth <phase> <seconds>
 * Usage: labels_phases OUT HZ SECONDS
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpuprof.h"

static volatile double sink;

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static double parse_phase(double sec)
{
	double end = thread_cpu() + sec, x = 1;
	while (thread_cpu() < end) {
		for (int i = 1; i < 100000; i++) {
			x += 1.0 / (double)i;
		}
	}
	return x;
}

__attribute__((noinline)) static double render_phase(double sec)
{
	double end = thread_cpu() + sec;
	unsigned h = 2166136261u;
	while (thread_cpu() < end) {
		for (int i = 0; i < 100000; i++) {
			h = (h ^ (unsigned)i) * 16777619u;
		}
	}
	return h;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: labels_phases OUT HZ SECONDS\n");
		return 2;
	}
	double total = atof(argv[3]);
	int err = cpuprof_start(argv[1], atoi(argv[2]));
	if (err) {
		fprintf(stderr, "labels_phases: start: %s\n", cpuprof_strerror(err));
		return 1;
	}
	double parse = 0, render = 0;
	const char *keys[] = {"phase", "request"};
	const char *values[] = {"parse", "r1"};
	for (int round = 0; round < 20; round++) {
		if (cpuprof_labels_set(keys, values, 2) != 0) {
			return 1;
		}
		double c0 = thread_cpu();
		sink = parse_phase(total * 0.7 / 20);
		double c1 = thread_cpu();
		/* render: back to just the request label, then push the phase on top. */
		if (cpuprof_labels_set(keys + 1, values + 1, 1) != 0 ||
		    cpuprof_labels_push("phase", "render") != 0) {
			return 1;
		}
		double c2 = thread_cpu();
		sink = render_phase(total * 0.3 / 20);
		double c3 = thread_cpu();
		if (cpuprof_labels_pop() != 0) {
			return 1;
		}
		parse += c1 - c0;
		render += c3 - c2;
	}
	cpuprof_labels_set(NULL, NULL, 0);
	err = cpuprof_stop();
	if (err) {
		fprintf(stderr, "labels_phases: stop: %s\n", cpuprof_strerror(err));
		return 1;
	}
	printf("truth parse %.6f\ntruth render %.6f\n", parse, render);
	return 0;
}
