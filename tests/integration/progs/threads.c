/*
 * threads: many-threaded workloads for the sampling-accuracy tests. Each prints its ground
 * truth (CLOCK_THREAD_CPUTIME_ID per thread, CLOCK_PROCESS_CPUTIME_ID for the window).
 *
 *   threads shares OUT HZ SECONDS      8 named threads w0..w7 with unequal duty cycles
 *   threads late OUT HZ                threads made after start: pthread and raw clone
 *   threads churn OUT HZ N             N short threads created and joined while profiling
 *   threads restart OUT1 OUT2 HZ       stop, start again at once
 *   threads noperf OUT HZ              perf_event_open forbidden by a seccomp filter
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpuprof.h"

static volatile double sink;
static _Atomic int stop_flag;

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void burn_for(double sec)
{
	double end = now(CLOCK_THREAD_CPUTIME_ID) + sec, x = 0;
	while (now(CLOCK_THREAD_CPUTIME_ID) < end) {
		for (int i = 0; i < 20000; i++) {
			x += (double)i * 1e-9;
		}
	}
	sink = x;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "threads: %s: %s\n", what, cpuprof_strerror(err));
	exit(1);
}

/* TEST_ENGINE=timer|perf picks the engine (default: auto). */
static void start(const char *out, int hz)
{
	cpuprof_options *o = cpuprof_options_new();
	const char *e = getenv("TEST_ENGINE");
	cpuprof_options_set_hz(o, hz);
	if (e && strcmp(e, "timer") == 0) {
		cpuprof_options_set_engine(o, CPUPROF_ENGINE_TIMER);
	} else if (e && strcmp(e, "perf") == 0) {
		cpuprof_options_set_engine(o, CPUPROF_ENGINE_PERF);
	}
	int err = cpuprof_start_opts(out, o);
	cpuprof_options_free(o);
	if (err) {
		die("start", err);
	}
}

static void stop(void)
{
	int err = cpuprof_stop();
	if (err) {
		die("stop", err);
	}
}

/* ---- shares ---- */

struct worker {
	int id;
	double duty; /* busy fraction of each 10 ms period */
	double cpu;  /* measured thread CPU seconds */
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	char name[16];
	snprintf(name, sizeof(name), "w%d", w->id);
	pthread_setname_np(pthread_self(), name);
	double c0 = now(CLOCK_THREAD_CPUTIME_ID);
	while (!atomic_load(&stop_flag)) {
		double t0 = now(CLOCK_MONOTONIC);
		burn_for(0.010 * w->duty);
		double rest = 0.010 - (now(CLOCK_MONOTONIC) - t0);
		if (w->duty < 1.0 && rest > 0) {
			struct timespec ts = {0, (long)(rest * 1e9)};
			nanosleep(&ts, NULL);
		}
	}
	w->cpu = now(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

static int run_shares(const char *out, int hz, double seconds)
{
	static const double duty[8] = {1.0, 1.0, 0.6, 0.6, 0.3, 0.3, 0.1, 0.05};
	struct worker w[8];
	pthread_t th[8];
	double p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	start(out, hz);
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.id = i, .duty = duty[i]};
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
	}
	/* The window ends when stop disarms the timers; what stop then spends building the
	 * profile is after the window, so the truth is read first. */
	double p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	stop();
	for (int i = 0; i < 8; i++) {
		printf("truth w%d %.6f\n", i, w[i].cpu);
	}
	printf("process_cpu %.6f\n", p1 - p0);
	return 0;
}

/* ---- late: threads created after start, by pthread_create and by raw clone ---- */

__attribute__((noinline)) static void late_pthread_fn(void)
{
	burn_for(0.4);
}

static void *late_main(void *p)
{
	(void)p;
	late_pthread_fn();
	return NULL;
}

__attribute__((noinline)) static void late_clone_fn(void)
{
	/* No libc calls that touch TLS: this thread shares the creator's TLS. */
	struct timespec ts;
	double end;
	syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + 0.6;
	for (;;) {
		double x = 0;
		for (int i = 0; i < 20000; i++) {
			x += (double)i * 1e-9;
		}
		sink = x;
		syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
		if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 >= end) {
			break;
		}
	}
}

static int clone_main(void *arg)
{
	(void)arg;
	late_clone_fn();
	return 0;
}

static int run_late(const char *out, int hz)
{
	start(out, hz);
	pthread_t th;
	pthread_create(&th, NULL, late_main, NULL);
	size_t sz = 1 << 20;
	char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
			   -1, 0);
	/* A raw clone: no pthread_create, so only the rescan of /proc/self/task finds it. */
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
		    CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	static _Atomic pid_t ctid;
	pid_t ptid;
	atomic_store(&ctid, 1);
	int tid = clone(clone_main, stack + sz, flags, NULL, &ptid, NULL, &ctid);
	if (tid < 0) {
		perror("clone");
		return 1;
	}
	pthread_join(th, NULL);
	/* CLONE_CHILD_CLEARTID: the kernel zeroes ctid and futex-wakes when it exits. */
	while (atomic_load(&ctid) != 0) {
		syscall(SYS_futex, &ctid, 0 /* FUTEX_WAIT */, atomic_load(&ctid), NULL, NULL, 0);
	}
	stop();
	printf("clone_tid %d\n", tid);
	return 0;
}

/* ---- churn ---- */

static int count_timers(void)
{
	FILE *f = fopen("/proc/self/timers", "r");
	if (!f) {
		return -1;
	}
	char line[256];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		n += strncmp(line, "ID:", 3) == 0;
	}
	fclose(f);
	return n;
}

static int count_perf_fds(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd 2>/dev/null | grep -c perf_event", getpid());
	FILE *p = popen(cmd, "r");
	int n = 0;
	if (p) {
		if (fscanf(p, "%d", &n) != 1) {
			n = -1;
		}
		pclose(p);
	}
	return n;
}

static _Atomic long short_cpu_ns;

static void *short_main(void *p)
{
	(void)p;
	struct timespec ts;
	burn_for(0.0005);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	atomic_fetch_add(&short_cpu_ns, ts.tv_sec * 1000000000L + ts.tv_nsec);
	return NULL;
}

static int run_churn(const char *out, int hz, int n)
{
	int before = count_timers(), fds_before = count_perf_fds();
	double p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	start(out, hz);
	int during_max = 0;
	for (int i = 0; i < n; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, short_main, NULL) != 0) {
			fprintf(stderr, "pthread_create failed at %d\n", i);
			return 1;
		}
		pthread_join(th, NULL);
		if (i % 500 == 0) {
			int t = count_timers();
			during_max = t > during_max ? t : during_max;
		}
	}
	/* The window ends when stop disarms the timers; what stop then spends building the
	 * profile is after the window, so the truth is read first. */
	double p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	stop();
	printf("timers_before %d\ntimers_after %d\ntimers_during_max %d\n", before, count_timers(),
	       during_max);
	printf("perf_fds_before %d\nperf_fds_after %d\n", fds_before, count_perf_fds());
	printf("process_cpu %.6f\n", p1 - p0);
	printf("short_threads_cpu %.6f\n", (double)atomic_load(&short_cpu_ns) / 1e9);
	return 0;
}

/* ---- restart ---- */

static void *spinner(void *p)
{
	(void)p;
	while (!atomic_load(&stop_flag)) {
		burn_for(0.001);
	}
	return NULL;
}

static int run_restart(const char *out1, const char *out2, int hz)
{
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		pthread_create(&th[i], NULL, spinner, NULL);
	}
	start(out1, hz);
	burn_for(0.3);
	stop();
	double p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	start(out2, hz);
	burn_for(0.3);
	/* The window ends when stop disarms the timers; what stop then spends building the
	 * profile is after the window, so the truth is read first. */
	double p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	stop();
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
	}
	printf("process_cpu2 %.6f\n", p1 - p0);
	return 0;
}

/* ---- noperf: a seccomp filter makes perf_event_open fail with EACCES ---- */

static int forbid_perf_event_open(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_perf_event_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("seccomp");
		return -1;
	}
	return 0;
}

__attribute__((noinline)) static void noperf_fn(void)
{
	burn_for(0.5);
}

static int run_noperf(const char *out, int hz)
{
	if (forbid_perf_event_open() != 0) {
		return 1;
	}
	start(out, hz);
	noperf_fn();
	cpuprof_stats st = {.size = sizeof(st)};
	cpuprof_get_stats(&st);
	stop();
	printf("engine %s\n", st.engine == CPUPROF_ENGINE_PERF ? "perf" : "timer");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "shares") == 0) {
		return run_shares(argv[2], atoi(argv[3]), atof(argv[4]));
	}
	if (argc >= 4 && strcmp(argv[1], "late") == 0) {
		return run_late(argv[2], atoi(argv[3]));
	}
	if (argc >= 5 && strcmp(argv[1], "churn") == 0) {
		return run_churn(argv[2], atoi(argv[3]), atoi(argv[4]));
	}
	if (argc >= 5 && strcmp(argv[1], "restart") == 0) {
		return run_restart(argv[2], argv[3], atoi(argv[4]));
	}
	if (argc >= 4 && strcmp(argv[1], "noperf") == 0) {
		return run_noperf(argv[2], atoi(argv[3]));
	}
	fprintf(stderr, "usage: see the comment at the top of threads.c\n");
	return 2;
}
