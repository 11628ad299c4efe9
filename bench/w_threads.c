/*
 * w_threads: eight threads with unequal CPU shares, each in its own leaf function
 * worker_0 .. worker_7, so a profile attributes threads by function. In every 10 ms
 * period a thread spins until its thread CPU clock has advanced by duty x 10 ms, then
 * sleeps to the end of the period (absolute deadline). Duties: worker_0 60 %, worker_1-2
 * 30 %, worker_3-4 15 %, worker_5-7 5 % (1.65 cores in all, under the 2 of a small
 * machine). The truth is each thread's own CLOCK_THREAD_CPUTIME_ID at its end, reported
 * as "truth worker_<i> <ns>".
 *   w_threads WALL_SECONDS
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench_common.h"

#define NTHREADS 8
#define PERIOD_NS 10000000LL

static const int duty_pct[NTHREADS] = {60, 30, 30, 15, 15, 5, 5, 5};
static int64_t wall_ns;
static int64_t truth[NTHREADS];

/* The body is a macro, not an inline function: an inlined callee would be the leaf frame
 * in the profiles (as an inline frame) instead of worker_<i>. */
#define WORKER_BODY(i)                                                                             \
	int64_t cpu0 = bench_ns(CLOCK_THREAD_CPUTIME_ID);                                          \
	struct timespec next;                                                                      \
	clock_gettime(CLOCK_MONOTONIC, &next);                                                     \
	int64_t stop = bench_ns(CLOCK_MONOTONIC) + wall_ns;                                        \
	uint64_t x = (uint64_t)(i) + 1;                                                            \
	while (bench_ns(CLOCK_MONOTONIC) < stop) {                                                 \
		int64_t until = bench_ns(CLOCK_THREAD_CPUTIME_ID) + PERIOD_NS * duty_pct[i] / 100; \
		next.tv_nsec += PERIOD_NS;                                                         \
		if (next.tv_nsec >= 1000000000L) {                                                 \
			next.tv_nsec -= 1000000000L;                                               \
			next.tv_sec++;                                                             \
		}                                                                                  \
		int64_t deadline = (int64_t)next.tv_sec * 1000000000 + next.tv_nsec;               \
		do {                                                                               \
			for (int k = 0; k < 50000; k++) {                                          \
				x = bench_mix(x);                                                  \
			}                                                                          \
		} while (bench_ns(CLOCK_THREAD_CPUTIME_ID) < until &&                              \
		         bench_ns(CLOCK_MONOTONIC) < deadline);                                    \
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);                      \
	}                                                                                          \
	bench_sink = x;                                                                            \
	truth[i] = bench_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;                                       \
	return NULL;

#define WORKER(i)                                                                                  \
	__attribute__((noinline)) void *worker_##i(void *arg)                                      \
	{                                                                                          \
		(void)arg;                                                                         \
		WORKER_BODY(i)                                                                     \
	}

WORKER(0)
WORKER(1)
WORKER(2)
WORKER(3)
WORKER(4)
WORKER(5)
WORKER(6)
WORKER(7)

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: w_threads WALL_SECONDS\n");
		return 2;
	}
	wall_ns = (int64_t)(atof(argv[1]) * 1e9);
	void *(*const fns[NTHREADS])(void *) = {worker_0, worker_1, worker_2, worker_3,
	                                        worker_4, worker_5, worker_6, worker_7};
	struct bench_region reg;
	bench_begin(&reg);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		if (pthread_create(&th[i], NULL, fns[i], NULL) != 0) {
			fprintf(stderr, "w_threads: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
	}
	FILE *o = bench_out();
	int64_t sum = 0;
	for (int i = 0; i < NTHREADS; i++) {
		fprintf(o, "truth worker_%d %lld\n", i, (long long)truth[i]);
		sum += truth[i];
	}
	fprintf(o, "truth_total_ns %lld\nthreads %d\n", (long long)sum, NTHREADS);
	bench_end(&reg);
	return 0;
}
