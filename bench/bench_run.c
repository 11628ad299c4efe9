/*
 * bench_run: runs one command and reports what it cost as a whole, for the harness:
 *   bench_run REPORT -- COMMAND [ARGS...]
 * appends to REPORT "run_wall_ns", "run_cpu_ns" (user + system of the command and every
 * descendant it waited for, e.g. perf record and its workload), "run_maxrss_kb" (largest
 * such process) and "run_end_rt_ns" (CLOCK_REALTIME when the command was reaped), then
 * exits with the command's status. The command's stdout and stderr pass through.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: bench_run REPORT -- COMMAND [ARGS...]\n");
		return 2;
	}
	long long t0 = ns(CLOCK_MONOTONIC);
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench_run: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "bench_run: cannot run %s\n", argv[3]);
		_exit(127);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) < 0) {
		perror("bench_run: waitpid");
		return 2;
	}
	long long end_rt = ns(CLOCK_REALTIME);
	long long t1 = ns(CLOCK_MONOTONIC);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	long long cpu = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	                ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	FILE *f = fopen(argv[1], "a");
	if (!f) {
		perror("bench_run: report");
		return 2;
	}
	fprintf(f, "run_wall_ns %lld\nrun_cpu_ns %lld\nrun_maxrss_kb %ld\nrun_end_rt_ns %lld\n",
	        t1 - t0, cpu, ru.ru_maxrss, end_rt);
	fprintf(f, "run_status %d\n",
	        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
