/*
 * tool_burn: a program that knows nothing of cpuprof, for `cpuprof record` tests. It
 * burns CPU time (not wall time) in tool_burn_hot (80%) and tool_burn_cold (20%), then
 * exits with the given status.
 *   tool_burn_preload [SECONDS [STATUS]]   default: 1 second of CPU, exit status 3
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

volatile uint64_t tool_burn_sink;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Inlined, so that the hot loop runs in the named functions (no tail call hides them). */
static inline __attribute__((always_inline)) void burn(double secs, uint64_t mul)
{
	double end = cpu_now() + secs;
	uint64_t x = tool_burn_sink;

	while (cpu_now() < end) {
		for (int i = 0; i < 100000; i++) {
			x = x * mul + 1442695040888963407u;
		}
	}
	tool_burn_sink = x;
}

__attribute__((noinline)) void tool_burn_hot(double secs)
{
	burn(secs, 6364136223846793005u);
}

__attribute__((noinline)) void tool_burn_cold(double secs)
{
	burn(secs, 2862933555777941757u);
}

int main(int argc, char **argv)
{
	double total = argc > 1 ? atof(argv[1]) : 1.0;
	int status = argc > 2 ? atoi(argv[2]) : 3;

	for (int round = 0; round < 10; round++) {
		tool_burn_hot(total * 0.08);
		tool_burn_cold(total * 0.02);
	}
	return status;
}
