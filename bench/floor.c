/*
 * floor: the cheapest possible sampler, for the cost-per-sample floor. It installs an
 * empty SIGPROF handler (it only counts) and arms the main thread's clock the way a
 * profiler would: "perf" is a perf_event task-clock sampling event whose overflow sends
 * SIGPROF to this thread (F_SETOWN_EX/F_SETSIG), "timer" a POSIX timer on the thread's
 * CPU-time clock (SIGEV_THREAD_ID), "none" arms nothing. Then it does ITERS steps of the
 * same fixed work as w_deep at depth 1 and reports "signals <n>" with the region CPU, so
 * (CPU(mode) - CPU(none)) / signals is what delivering one signal costs by itself.
 *   floor none|perf|timer HZ ITERS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_common.h"

static volatile sig_atomic_t signals;

static void on_sigprof(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	signals++;
}

__attribute__((noinline)) uint64_t deep_leaf(uint64_t iters)
{
	uint64_t x = 88172645463325252ull;
	for (uint64_t i = 0; i < iters; i++) {
		x = bench_mix(x);
	}
	return x;
}

static int arm_perf(long period_ns)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = (uint64_t)period_ns;
	a.disabled = 1;
	a.exclude_hv = 1;
	int fd = -1;
	/* As cpuprof's engine probes: user mode only if allowed, else with the kernel. */
	for (int ek = 1; ek >= 0 && fd < 0; ek--) {
		a.exclude_kernel = (unsigned)ek;
		fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}
	if (fd < 0) {
		return -1;
	}
	struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid)};
	int fl = fcntl(fd, F_GETFL);
	if (fcntl(fd, F_SETOWN_EX, &owner) != 0 || fcntl(fd, F_SETSIG, SIGPROF) != 0 ||
	    fcntl(fd, F_SETFL, fl | O_ASYNC) != 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		return -1;
	}
	return 0;
}

static int arm_timer(long period_ns)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	timer_t id;
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &id) != 0) {
		return -1;
	}
	struct itimerspec its;
	its.it_interval.tv_sec = period_ns / 1000000000L;
	its.it_interval.tv_nsec = period_ns % 1000000000L;
	its.it_value = its.it_interval;
	return timer_settime(id, 0, &its, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: floor none|perf|timer HZ ITERS\n");
		return 2;
	}
	const char *mode = argv[1];
	long hz = atol(argv[2]);
	uint64_t iters = strtoull(argv[3], NULL, 10);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigprof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
	struct bench_region reg;
	bench_begin(&reg);
	int rc = 0;
	if (strcmp(mode, "perf") == 0) {
		rc = arm_perf(1000000000L / hz);
	} else if (strcmp(mode, "timer") == 0) {
		rc = arm_timer(1000000000L / hz);
	}
	if (rc != 0) {
		fprintf(stderr, "floor: cannot arm %s\n", mode);
		return 1;
	}
	bench_sink = deep_leaf(iters);
	fprintf(bench_out(), "signals %d\nthreads 1\n", (int)signals);
	bench_end(&reg);
	return 0;
}
