/*
 * torture: everything a real program does, all at once, while the profiler samples at the
 * highest rate and another thread starts and stops it in a loop.
 *
 *   torture DIR SECONDS
 *
 * Threads: CPU burners that malloc and free hard; dlopen/dlclose in a loop; fork+exec of
 * /bin/true; create and join short threads; blocking calls that must not see EINTR (read
 * on a pipe, nanosleep, a futex wait without timeout); the controller that starts a file
 * profile DIR/cycle-<k>.pb.gz, lets it run, and stops it. For every cycle it prints
 *   cycle <k> <path> weight <w> signals <n>
 * (w: the weighted samples the handler accepted in that run, which the profile must hold
 * exactly, plus its kernel-time frame), and at the end the EINTR counts:
 *   eintr read <n> nanosleep <n> futex <n> (engine <perf|timer>)
 * A watchdog (alarm) kills the process if it hangs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpuprof.h"

static _Atomic int done;
static _Atomic long eintr_read, eintr_sleep, eintr_futex;
static int pipefd[2];
static _Atomic uint32_t futex_word;
static volatile double sink;

__attribute__((noinline)) static void churn_heap(unsigned *seed)
{
	void *keep[64] = {0};
	for (int i = 0; i < 2000; i++) {
		int k = rand_r(seed) % 64;
		free(keep[k]);
		keep[k] = malloc((size_t)(rand_r(seed) % 4096) + 16);
		if (keep[k]) {
			memset(keep[k], i, 16);
		}
	}
	for (int k = 0; k < 64; k++) {
		free(keep[k]);
	}
}

__attribute__((noinline)) static void burn(void)
{
	double x = 0;
	for (int i = 0; i < 100000; i++) {
		x += (double)i * 1e-9;
	}
	sink = x;
}

static void *burner(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	while (!atomic_load(&done)) {
		churn_heap(&seed);
		burn();
	}
	return NULL;
}

static void *dl_loop(void *arg)
{
	(void)arg;
	static const char *libs[] = {"libgcc_s.so.1", "libstdc++.so.6", "libm.so.6"};
	unsigned i = 0;
	while (!atomic_load(&done)) {
		void *h = dlopen(libs[i++ % 3], RTLD_NOW | RTLD_LOCAL);
		if (h) {
			dlclose(h);
		}
	}
	return NULL;
}

static void *fork_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (p > 0) {
			int st;
			while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
			}
		}
	}
	return NULL;
}

static void *short_thread(void *arg)
{
	(void)arg;
	burn();
	return NULL;
}

static void *thread_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_thread, NULL) == 0) {
			pthread_join(t, NULL);
		}
	}
	return NULL;
}

/* Blocking calls. EINTR here would mean the profiler leaked into the program's syscalls. */
static void *blocker(void *arg)
{
	(void)arg;
	char b;
	while (!atomic_load(&done)) {
		ssize_t r = read(pipefd[0], &b, 1);
		if (r < 0 && errno == EINTR) {
			atomic_fetch_add(&eintr_read, 1);
		}
		struct timespec ts = {0, 200000};
		if (nanosleep(&ts, NULL) != 0 && errno == EINTR) {
			atomic_fetch_add(&eintr_sleep, 1);
		}
		burn(); /* some CPU so this thread is sampled too */
		uint32_t v = atomic_load(&futex_word);
		if (v == 0) {
			long rc = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
			if (rc != 0 && errno == EINTR) {
				atomic_fetch_add(&eintr_futex, 1);
			}
		}
		atomic_store(&futex_word, 0);
	}
	return NULL;
}

static void *feeder(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		(void)!write(pipefd[1], "x", 1);
		struct timespec ts = {0, 500000};
		nanosleep(&ts, NULL);
		atomic_store(&futex_word, 1);
		syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
	(void)!write(pipefd[1], "x", 1);
	atomic_store(&futex_word, 1);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: torture DIR SECONDS\n");
		return 2;
	}
	const char *dir = argv[1];
	double seconds = atof(argv[2]);
	alarm((unsigned)(seconds * 4 + 60)); /* watchdog: SIGALRM kills a hung run */
	if (pipe(pipefd) != 0) {
		return 1;
	}
	pthread_t th[16];
	int n = 0;
	for (int i = 0; i < 6; i++) {
		pthread_create(&th[n++], NULL, burner, (void *)(uintptr_t)(i + 1));
	}
	pthread_create(&th[n++], NULL, dl_loop, NULL);
	pthread_create(&th[n++], NULL, fork_loop, NULL);
	pthread_create(&th[n++], NULL, thread_loop, NULL);
	pthread_create(&th[n++], NULL, blocker, NULL);
	pthread_create(&th[n++], NULL, feeder, NULL);

	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int cycle = 0;
	const char *engine = "?";
	for (;;) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/cycle-%d.pb.gz", dir, cycle);
		int err = cpuprof_start(path, CPUPROF_MAX_HZ);
		if (err) {
			fprintf(stderr, "torture: start: %s\n", cpuprof_strerror(err));
			return 1;
		}
		cpuprof_stats st = {.size = sizeof(st)};
		cpuprof_get_stats(&st);
		engine = st.engine == CPUPROF_ENGINE_PERF ? "perf" : "timer";
		struct timespec run = {0, 300000000 + (cycle % 5) * 100000000};
		nanosleep(&run, NULL);
		err = cpuprof_stop();
		if (err) {
			fprintf(stderr, "torture: stop: %s\n", cpuprof_strerror(err));
			return 1;
		}
		cpuprof_get_stats(&st);
		printf("cycle %d %s weight %llu signals %llu\n", cycle, path,
		       (unsigned long long)st.weight, (unsigned long long)st.signals);
		fflush(stdout);
		cycle++;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >=
		    seconds) {
			break;
		}
	}
	atomic_store(&done, 1);
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
	}
	printf("eintr read %ld nanosleep %ld futex %ld engine %s\n", atomic_load(&eintr_read),
	       atomic_load(&eintr_sleep), atomic_load(&eintr_futex), engine);
	return 0;
}
