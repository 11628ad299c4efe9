/*
 * w_threadcreate: creates and joins COUNT short threads one after the other (each does a
 * few microseconds of work) and reports the mean wall time of one create+join, so the
 * cost a profiler adds to thread creation shows directly.
 *   w_threadcreate COUNT
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench_common.h"

__attribute__((noinline)) static void *short_thread(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg;
	for (int i = 0; i < 2000; i++) {
		x = bench_mix(x);
	}
	bench_sink = x;
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	struct bench_region reg;
	bench_begin(&reg);
	int64_t t0 = bench_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, short_thread, (void *)(uintptr_t)(i + 1)) != 0) {
			fprintf(stderr, "w_threadcreate: pthread_create failed at %d\n", i);
			return 1;
		}
		pthread_join(th, NULL);
	}
	int64_t t1 = bench_ns(CLOCK_MONOTONIC);
	fprintf(bench_out(), "threads %d\ncreate_join_ns %lld\n", n,
	        (long long)((t1 - t0) / (n > 0 ? n : 1)));
	bench_end(&reg);
	return 0;
}
