/*
 * clock: what makes SIGPROF arrive. Per thread, either a perf_event cpu-clock sampling
 * event (true high rates; signal delivered to its thread through F_SETOWN_EX/F_SETSIG) or
 * a POSIX timer on the thread's CPU-time clock (SIGEV_THREAD_ID; fires on the scheduler
 * tick, so the handler weights by 1 + si_overrun). The process-wide ITIMER_PROF covers
 * threads that have neither yet. Every arm carries the run's cookie; every disarm deletes.
 * Called under the threads lock, in normal context only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

_Atomic uint64_t cpuprof__timer_errors;
_Atomic uint64_t cpuprof__threads_armed;

static struct itimerval saved_itimer;

/* The CPU-time clock of any thread of this process (the kernel's MAKE_THREAD_CPUCLOCK). */
static clockid_t thread_cpu_clock(int32_t tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 4 /* per-thread */ | 2 /* sched */);
}

static uint64_t random_below(uint64_t n)
{
	static _Atomic uint64_t state;
	uint64_t s = atomic_load_explicit(&state, memory_order_relaxed);
	if (s == 0) {
		/* Seed once; a racing seeder loses the CAS and uses the winner's seed. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t seed = ((uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull) ^ (uint64_t)getpid() ^
				((uint64_t)ts.tv_sec << 32) ^ 1;
		atomic_compare_exchange_strong_explicit(&state, &s, seed, memory_order_relaxed,
							memory_order_relaxed);
	}
	/* splitmix64 over a shared Weyl sequence: every call gets its own value. */
	s = atomic_fetch_add_explicit(&state, 0x9E3779B97F4A7C15ull, memory_order_relaxed) +
	    0x9E3779B97F4A7C15ull;
	s = (s ^ (s >> 30)) * 0xBF58476D1CE4E5B9ull;
	s = (s ^ (s >> 27)) * 0x94D049BB133111EBull;
	s ^= s >> 31;
	return n ? s % n : 0;
}

static long perf_open(struct perf_event_attr *attr, int32_t tid)
{
	return syscall(SYS_perf_event_open, attr, (pid_t)tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void perf_attr(struct perf_event_attr *a, uint64_t period, int exclude_kernel)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_TASK_CLOCK;
	a->sample_period = period;
	a->disabled = 1;
	a->exclude_kernel = (unsigned)exclude_kernel;
	a->exclude_hv = 1;
}

static int perf_exclude_kernel = -1; /* decided by the probe */

int cpuprof__clock_user_only(void)
{
	return perf_exclude_kernel > 0;
}

cpuprof_engine cpuprof__clock_pick_engine(cpuprof_engine want)
{
	if (want == CPUPROF_ENGINE_TIMER) {
		return CPUPROF_ENGINE_TIMER;
	}
	struct perf_event_attr a;
	/* User-mode samples only, by choice: a sample taken while the thread is in the
	 * kernel would leave SIGPROF pending across a syscall, and nanosleep, poll, epoll
	 * and timed futex waits then fail with EINTR even under SA_RESTART. Interrupting
	 * user mode only, the signal is delivered on the way back from the timer interrupt,
	 * never inside a syscall. The price: kernel time is not sampled (said in the
	 * profile's comments). */
	for (int ek = 1; ek >= 0; ek--) {
		perf_attr(&a, 10000000, ek);
		long fd = perf_open(&a, 0);
		if (fd >= 0) {
			close((int)fd);
			perf_exclude_kernel = ek;
			return CPUPROF_ENGINE_PERF;
		}
	}
	return want == CPUPROF_ENGINE_PERF ? (cpuprof_engine)-1 : CPUPROF_ENGINE_TIMER;
}

static int arm_perf(struct cpuprof__thread *t, uint32_t run, int32_t tid, uint64_t cookie)
{
	uint64_t period = (uint64_t)cpuprof__g.period_ns;
	struct perf_event_attr a;
	/* Random first expiry: a thread that runs for a fraction f of a period gets a sample
	 * with probability f. The handler sets the full period at the first signal. */
	uint64_t first = 1 + random_below(period);
	perf_attr(&a, first, perf_exclude_kernel > 0);
	t->next_due_ns = t->arm_cpu_ns + (int64_t)first;
	long fd = perf_open(&a, tid);
	if (fd < 0) {
		return -1;
	}
	if (fd >= CPUPROF__MAX_FDS) {
		close((int)fd);
		return -1;
	}
	struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = tid};
	int fl = fcntl((int)fd, F_GETFL);
	if (fcntl((int)fd, F_SETOWN_EX, &owner) != 0 || fcntl((int)fd, F_SETSIG, SIGPROF) != 0 ||
	    fl < 0 || fcntl((int)fd, F_SETFL, fl | O_ASYNC) != 0) {
		close((int)fd);
		return -1;
	}
	atomic_store_explicit(&t->perf_first, 1, memory_order_relaxed);
	/* Release pairs with the handler's acquire load of the fd's cookie. */
	atomic_store_explicit(&cpuprof__fd_cookie[fd], cookie, memory_order_release);
	t->perf_fd = (int)fd;
	atomic_store_explicit(&t->armed_run, run, memory_order_release);
	if (ioctl((int)fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		atomic_store_explicit(&t->armed_run, 0, memory_order_relaxed);
		atomic_store_explicit(&cpuprof__fd_cookie[fd], 0, memory_order_relaxed);
		close((int)fd);
		t->perf_fd = -1;
		return -1;
	}
	return 0;
}

static int arm_timer(struct cpuprof__thread *t, uint32_t run, int32_t tid, uint64_t cookie)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)cookie;
	sev._sigev_un._tid = tid;
	clockid_t clk = tid == cpuprof__gettid() ? CLOCK_THREAD_CPUTIME_ID : thread_cpu_clock(tid);
	timer_t id;
	if (timer_create(clk, &sev, &id) != 0) {
		return -1;
	}
	uint64_t period = (uint64_t)cpuprof__g.period_ns;
	uint64_t first = 1 + random_below(period); /* see arm_perf: random first expiry */
	struct itimerspec its;
	its.it_interval.tv_sec = (time_t)(period / 1000000000u);
	its.it_interval.tv_nsec = (long)(period % 1000000000u);
	its.it_value.tv_sec = (time_t)(first / 1000000000u);
	its.it_value.tv_nsec = (long)(first % 1000000000u);
	t->timer = id;
	t->has_timer = 1;
	/* Armed before the timer can fire, so the ITIMER_PROF filter is right at once. */
	atomic_store_explicit(&t->armed_run, run, memory_order_release);
	if (timer_settime(id, 0, &its, NULL) != 0) {
		atomic_store_explicit(&t->armed_run, 0, memory_order_relaxed);
		timer_delete(id);
		t->has_timer = 0;
		return -1;
	}
	return 0;
}

int cpuprof__clock_arm(struct cpuprof__thread *t, uint32_t run)
{
	cpuprof__clock_disarm(t);
	int32_t tid = atomic_load_explicit(&t->tid, memory_order_relaxed);
	uint32_t gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
	clockid_t clk = tid == cpuprof__gettid() ? CLOCK_THREAD_CPUTIME_ID : thread_cpu_clock(tid);
	struct timespec cpu;
	t->arm_cpu_ns =
		clock_gettime(clk, &cpu) == 0 ? (int64_t)cpu.tv_sec * 1000000000 + cpu.tv_nsec : 0;
	atomic_store_explicit(&t->weight_sum, 0, memory_order_relaxed);
	uint64_t cookie = cpuprof__cookie(run, gen, (uint32_t)(t - cpuprof__threads));
	int rc;
	if (cpuprof__g.engine == CPUPROF_ENGINE_PERF) {
		rc = arm_perf(t, run, tid, cookie);
		if (rc != 0) {
			rc = arm_timer(t, run, tid, cookie); /* this thread falls back */
		}
	} else {
		rc = arm_timer(t, run, tid, cookie);
	}
	if (rc != 0) {
		/* A thread that exited in the meantime gives ESRCH/EINVAL: not an error of
		 * ours, and the next rescan frees the slot. Anything else is counted. */
		if (errno != ESRCH && errno != EINVAL) {
			atomic_fetch_add_explicit(&cpuprof__timer_errors, 1, memory_order_relaxed);
		}
		return -1;
	}
	atomic_fetch_add_explicit(&cpuprof__threads_armed, 1, memory_order_relaxed);
	return 0;
}

void cpuprof__clock_disarm(struct cpuprof__thread *t)
{
	atomic_store_explicit(&t->armed_run, 0, memory_order_relaxed);
	if (t->has_timer) {
		timer_delete(t->timer);
		t->has_timer = 0;
	}
	if (t->perf_fd >= 0) {
		atomic_store_explicit(&cpuprof__fd_cookie[t->perf_fd], 0, memory_order_relaxed);
		close(t->perf_fd);
		t->perf_fd = -1;
	}
}

int cpuprof__itimer_start(int hz)
{
	struct itimerval it;
	long usec = 1000000L / hz;
	if (usec < 1) {
		usec = 1;
	}
	it.it_interval.tv_sec = usec / 1000000L;
	it.it_interval.tv_usec = usec % 1000000L;
	it.it_value = it.it_interval;
	atomic_store(&cpuprof__g.itimer_on, 1);
	if (setitimer(ITIMER_PROF, &it, &saved_itimer) != 0) {
		atomic_store(&cpuprof__g.itimer_on, 0);
		return -1;
	}
	return 0;
}

void cpuprof__itimer_stop(void)
{
	if (atomic_exchange(&cpuprof__g.itimer_on, 0)) {
		setitimer(ITIMER_PROF, &saved_itimer, NULL);
	}
}
