/*
 * bench_common: what every benchmark workload shares. Clocks in nanoseconds, a sink the
 * optimizer cannot see through, and the report: "key value" lines on stdout (or appended
 * to the file named by $BENCH_REPORT), ending with the process's own CPU and wall time for
 * the measured region, its memory, and the CLOCK_REALTIME instant main returns, so the
 * harness can tell how long the profiler took to write its file after the work was done.
 * Header-only; the workloads are not linked with cpuprof (profilers attach from outside).
 */
#ifndef CPUPROF_BENCH_COMMON_H
#define CPUPROF_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint64_t bench_sink;

static inline int64_t bench_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The report stream: $BENCH_REPORT (appended) or stdout. */
static inline FILE *bench_out(void)
{
	static FILE *f;
	if (!f) {
		const char *p = getenv("BENCH_REPORT");
		f = p && *p ? fopen(p, "a") : NULL;
		if (!f) {
			f = stdout;
		}
	}
	return f;
}

/* VmRSS and VmHWM of this process in kB, from /proc/self/status (0 if unreadable). */
static inline void bench_rss(long *rss_kb, long *hwm_kb, long *vsz_kb)
{
	*rss_kb = *hwm_kb = *vsz_kb = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		return;
	}
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			*rss_kb = atol(line + 6);
		} else if (strncmp(line, "VmHWM:", 6) == 0) {
			*hwm_kb = atol(line + 6);
		} else if (strncmp(line, "VmSize:", 7) == 0) {
			*vsz_kb = atol(line + 7);
		}
	}
	fclose(f);
}

/* The region being measured: start it after argument parsing, end it after the work. */
struct bench_region {
	int64_t cpu0, wall0;
};

static inline void bench_begin(struct bench_region *r)
{
	r->cpu0 = bench_ns(CLOCK_PROCESS_CPUTIME_ID);
	r->wall0 = bench_ns(CLOCK_MONOTONIC);
}

/* Prints region_cpu_ns, region_wall_ns, rss/hwm/vsz, then end_rt_ns last of all. Call it
 * as the last thing before returning from main. */
static inline void bench_end(const struct bench_region *r)
{
	int64_t cpu = bench_ns(CLOCK_PROCESS_CPUTIME_ID) - r->cpu0;
	int64_t wall = bench_ns(CLOCK_MONOTONIC) - r->wall0;
	long rss, hwm, vsz;
	bench_rss(&rss, &hwm, &vsz);
	FILE *o = bench_out();
	fprintf(o, "region_cpu_ns %lld\nregion_wall_ns %lld\n", (long long)cpu, (long long)wall);
	fprintf(o, "rss_kb %ld\nhwm_kb %ld\nvsz_kb %ld\n", rss, hwm, vsz);
	fflush(o);
	fprintf(o, "end_rt_ns %lld\n", (long long)bench_ns(CLOCK_REALTIME));
	fflush(o);
}

/* A call that cannot be optimized away. A function that calls it is not a leaf, so it
 * sets up a frame pointer: GCC 12 at -O2 gives a leaf without a stack frame no frame
 * pointer even with -mno-omit-leaf-frame-pointer, and then every frame-pointer unwinder
 * (ours, gperftools', perf's) skips that leaf's caller. The deep-stack workloads want
 * every frame present, so their leaves call this once. */
__attribute__((noinline, unused)) static void bench_frame(void)
{
	__asm__ volatile("");
}

/* One step of a deterministic integer mix (xorshift64*): the unit of "fixed work". */
static inline uint64_t bench_mix(uint64_t x)
{
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 0x2545F4914F6CDD1Dull;
}

#endif /* CPUPROF_BENCH_COMMON_H */
