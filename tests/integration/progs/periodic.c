/*
 * periodic: the program behind test_periodic.sh. Runs cpuprof_periodic_start(DIR, SECONDS,
 * KEEP, 100) while burning CPU in periodic_burn() for RUNTIME seconds, then stops, and
 * prints the run's length two ways, for the windows' durations to fall between them:
 *   inner <ns>   from the return of periodic_start to the call of periodic_stop
 *   outer <ns>   from the call of periodic_start to the return of periodic_stop
 * Usage: periodic DIR SECONDS KEEP RUNTIME
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpuprof.h"

static volatile double sink;
static volatile int burn_iters = 200000; /* volatile: the burn cannot be hoisted */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

__attribute__((noinline)) static double periodic_burn(void)
{
	double x = 1;
	int n = burn_iters;
	for (int i = 1; i < n; i++) {
		x += 1.0 / (double)i;
	}
	return x;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: periodic DIR SECONDS KEEP RUNTIME\n");
		return 2;
	}
	double run_ns = atof(argv[4]) * 1e9;
	double t0 = now_ns();
	int err = cpuprof_periodic_start(argv[1], atoi(argv[2]), atoi(argv[3]), 100);
	double t1 = now_ns();
	if (err) {
		fprintf(stderr, "periodic: start: %s\n", cpuprof_strerror(err));
		return 1;
	}
	while (now_ns() - t1 < run_ns) {
		sink = periodic_burn();
	}
	double t2 = now_ns();
	err = cpuprof_periodic_stop();
	double t3 = now_ns();
	if (err) {
		fprintf(stderr, "periodic: stop: %s\n", cpuprof_strerror(err));
		return 1;
	}
	printf("inner %.0f\nouter %.0f\n", t2 - t1, t3 - t0);
	return 0;
}
