/*
 * bench_labels: the cost of the label API, which hot request paths call around their work.
 * Prints "key value" lines (ns per operation, best of 5 rounds):
 *   push_pop_ns        cpuprof_labels_push + cpuprof_labels_pop of one label on an empty set
 *   push_pop_on4_ns    the same on top of a 4-label set (the push copies and re-sorts 5)
 *   set2_ns            cpuprof_labels_set of 2 pairs (an already interned set)
 *   push_pop_<T>t_ns   push + pop with T threads doing the same at once (intern mutex)
 * No profile runs: the handler only reads the thread's pointer, so its cost is not here.
 * Usage: bench_labels [ITERATIONS]   (default 2000000)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "cpuprof.h"

static long iters = 2000000;

static double push_pop(void)
{
	int64_t t0 = bench_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < iters; i++) {
		if (cpuprof_labels_push("phase", "render") != 0 || cpuprof_labels_pop() != 0) {
			abort();
		}
	}
	return (double)(bench_ns(CLOCK_MONOTONIC) - t0) / (double)iters;
}

static double set2(void)
{
	const char *k[] = {"phase", "request"}, *v[] = {"parse", "r1"};
	int64_t t0 = bench_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < iters; i++) {
		if (cpuprof_labels_set(k, v, 2) != 0) {
			abort();
		}
	}
	return (double)(bench_ns(CLOCK_MONOTONIC) - t0) / (double)iters;
}

static double best(double (*fn)(void))
{
	double b = 1e30;
	for (int r = 0; r < 5; r++) {
		double x = fn();
		b = x < b ? x : b;
	}
	return b;
}

static void *thread_main(void *arg)
{
	*(double *)arg = push_pop();
	return NULL;
}

static double threaded(int n)
{
	pthread_t th[16];
	double ns[16];
	for (int i = 0; i < n; i++) {
		pthread_create(&th[i], NULL, thread_main, &ns[i]);
	}
	double sum = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		sum += ns[i];
	}
	return sum / n;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		iters = atol(argv[1]);
	}
	struct bench_region r;
	bench_begin(&r);
	FILE *o = bench_out();
	fprintf(o, "push_pop_ns %.1f\n", best(push_pop));
	const char *k[] = {"a", "b", "c", "d"}, *v[] = {"1", "2", "3", "4"};
	cpuprof_labels_set(k, v, 4);
	fprintf(o, "push_pop_on4_ns %.1f\n", best(push_pop));
	cpuprof_labels_set(NULL, NULL, 0);
	fprintf(o, "set2_ns %.1f\n", best(set2));
	cpuprof_labels_set(NULL, NULL, 0);
	for (int t = 2; t <= 4; t *= 2) {
		fprintf(o, "push_pop_%dt_ns %.1f\n", t, threaded(t));
	}
	bench_end(&r);
	return 0;
}
