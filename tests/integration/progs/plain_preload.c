/*
 * plain: a program that knows nothing of cpuprof, for the LD_PRELOAD tests. It burns CPU
 * in hot_fn, then ends the way argv[1] says:
 *   return       return 7 from main
 *   exit2        exit(5) from a second thread
 *   sigint       kill itself with SIGINT (and wait to die)
 *   sigterm      kill itself with SIGTERM (and wait to die)
 *   toggle SIG   send itself SIG twice around the hot work, then return 0
 *   exec         exec itself with "child", wait for it, return 0
 *   fork         fork a child that burns and exits 3; the parent returns 0
 *   child        (the exec'd image) burn, return 4
 *   flushwait    burn, then _exit(0) after 2.5 s (for CPUPROF_FLUSH)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile double sink;

__attribute__((noinline)) void hot_fn(double sec)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	double end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + sec, x = 0;
	for (;;) {
		for (int i = 0; i < 200000; i++) {
			x += (double)i * 1e-9;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 >= end) {
			break;
		}
	}
	sink = x;
}

__attribute__((noinline)) void child_fn(double sec)
{
	hot_fn(sec);
	sink += 1;
}

static void *exiter(void *p)
{
	(void)p;
	hot_fn(0.3);
	exit(5);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "return";
	if (strcmp(mode, "return") == 0) {
		hot_fn(0.5);
		return 7;
	}
	if (strcmp(mode, "exit2") == 0) {
		pthread_t th;
		pthread_create(&th, NULL, exiter, NULL);
		pthread_join(th, NULL);
		return 1; /* not reached */
	}
	if (strcmp(mode, "sigint") == 0 || strcmp(mode, "sigterm") == 0) {
		hot_fn(0.5);
		kill(getpid(), mode[3] == 'i' ? SIGINT : SIGTERM);
		for (;;) {
			pause();
		}
	}
	if (strcmp(mode, "toggle") == 0 && argc > 2) {
		int sig = atoi(argv[2]);
		hot_fn(0.2); /* not profiled: profiling starts off */
		kill(getpid(), sig);
		hot_fn(0.5); /* profiled into the first numbered file */
		kill(getpid(), sig);
		/* The control thread writes the file; wait for it before going on. */
		for (int i = 0; i < 500 && argc > 3 && access(argv[3], F_OK) != 0; i++) {
			usleep(10000);
		}
		return 0;
	}
	if (strcmp(mode, "exec") == 0) {
		hot_fn(0.3);
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "child", (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		return WIFEXITED(st) && WEXITSTATUS(st) == 4 ? 0 : 1;
	}
	if (strcmp(mode, "child") == 0) {
		child_fn(0.3);
		return 4;
	}
	if (strcmp(mode, "fork") == 0) {
		hot_fn(0.3);
		pid_t pid = fork();
		if (pid == 0) {
			child_fn(0.3);
			exit(3);
		}
		int st;
		waitpid(pid, &st, 0);
		hot_fn(0.2);
		return WIFEXITED(st) && WEXITSTATUS(st) == 3 ? 0 : 1;
	}
	if (strcmp(mode, "flushwait") == 0) {
		hot_fn(1.5);
		_exit(0);
	}
	fprintf(stderr, "plain: unknown mode %s\n", mode);
	return 2;
}
