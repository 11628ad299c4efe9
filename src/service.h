/*
 * service: what cpuprof's own service threads (the HTTP server's, the periodic writer)
 * share: the signal mask they are created under (so they inherit it), and monotonic
 * condition variables for their timed waits.
 * Needs POSIX signal types: include it from a file that defines _GNU_SOURCE.
 */
#ifndef CPUPROF_SERVICE_H
#define CPUPROF_SERVICE_H

#include <pthread.h>
#include <signal.h>
#include <time.h>

/*
 * Every signal blocked, so the host's signals never land on our threads, except SIGPROF
 * (their own CPU time is profiled like any thread's, and a timer signal aimed at them is
 * never left pending) and the synchronous fault signals (a crash in one of them reaches
 * the host's crash handler instead of killing the process silently).
 */
static inline void cpuprof__service_sigmask(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGPROF);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGILL);
}

/* A condition variable whose timed waits use CLOCK_MONOTONIC deadlines. */
static inline void cpuprof__cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

#endif
