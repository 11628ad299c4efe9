/*
 * deep: burns CPU at the bottom of a recursion N frames deep, under the API.
 *   deep OUT HZ N MAX_DEPTH SECONDS
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpuprof.h"

static volatile double sink;

__attribute__((noinline)) static void deep_leaf(double sec)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	double end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + sec, x = 0;
	do {
		for (int i = 0; i < 100000; i++) {
			x += (double)i * 1e-9;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	} while ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 < end);
	sink = x;
}

__attribute__((noinline)) static int deep_recurse(int n, double sec)
{
	if (n <= 1) {
		deep_leaf(sec);
		return 0;
	}
	int r = deep_recurse(n - 1, sec);
	__asm__ volatile("" ::: "memory"); /* keeps the call from becoming a jump */
	return r + 1;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: deep OUT HZ N MAX_DEPTH SECONDS\n");
		return 2;
	}
	cpuprof_options *o = cpuprof_options_new();
	cpuprof_options_set_hz(o, atoi(argv[2]));
	if (cpuprof_options_set_max_depth(o, atoi(argv[4])) != 0) {
		fprintf(stderr, "deep: bad depth\n");
		return 2;
	}
	int err = cpuprof_start_opts(argv[1], o);
	cpuprof_options_free(o);
	if (err) {
		fprintf(stderr, "deep: %s\n", cpuprof_strerror(err));
		return 1;
	}
	deep_recurse(atoi(argv[3]), atof(argv[5]));
	return cpuprof_stop() == 0 ? 0 : 1;
}
