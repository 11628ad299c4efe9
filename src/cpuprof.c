/*
 * cpuprof: the public entry points and the sampler's start/stop state machine.
 *
 * A "sampler" run (handler installed, every thread armed, reader running) lasts while at
 * least one session is open: the file profile of cpuprof_start, an HTTP request, a
 * periodic window. The first session starts the sampler at its rate; the rate cannot
 * change until the last session ends and the sampler stops. All of this is serialized by
 * api_mu; nothing here runs in signal context.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "frames.h"
#include "pprof.h"
#include "reader.h"
#include "sampler.h"

struct cpuprof__global cpuprof__g;

struct cpuprof_options {
	int hz;
	int hz_set;
	int max_depth;
	int thread_labels;
	cpuprof_engine engine;
	cpuprof_sigprof_policy sigprof_policy;
};

static pthread_mutex_t api_mu = PTHREAD_MUTEX_INITIALIZER;
static int default_hz = CPUPROF_DEFAULT_HZ;
static int sampler_sessions; /* open sessions; the sampler runs while > 0 */
static uint32_t run_counter;
static int thread_labels = 1;
static int64_t run_start_cpu_ns;
static int64_t run_start_mono_ns;
static uint64_t last_run_samples; /* ring samples of the last run, kept after stop */

/* The file profile of cpuprof_start. */
static struct cpuprof__session *file_sess;
static char *file_path;

static int clamp_hz(int hz)
{
	if (hz <= 0) {
		return 0;
	}
	return hz > CPUPROF_MAX_HZ ? CPUPROF_MAX_HZ : hz;
}

/* ---- options ---- */

static void options_defaults(cpuprof_options *o)
{
	o->hz = CPUPROF_DEFAULT_HZ;
	o->hz_set = 0;
	o->max_depth = CPUPROF_DEFAULT_MAX_DEPTH;
	o->thread_labels = 1;
	o->engine = CPUPROF_ENGINE_AUTO;
	o->sigprof_policy = CPUPROF_SIGPROF_CHAIN;
}

CPUPROF_API cpuprof_options *cpuprof_options_new(void)
{
	cpuprof_options *o = malloc(sizeof(*o));
	if (o) {
		options_defaults(o);
	}
	return o;
}

CPUPROF_API void cpuprof_options_free(cpuprof_options *o)
{
	free(o);
}

CPUPROF_API int cpuprof_options_set_hz(cpuprof_options *o, int hz)
{
	if (!o) {
		return CPUPROF_EINVAL;
	}
	o->hz = clamp_hz(hz);
	o->hz_set = 1;
	return o->hz;
}

CPUPROF_API int cpuprof_options_set_max_depth(cpuprof_options *o, int depth)
{
	if (!o || depth < 1 || depth > CPUPROF_MAX_MAX_DEPTH) {
		return CPUPROF_EINVAL;
	}
	o->max_depth = depth;
	return 0;
}

CPUPROF_API int cpuprof_options_set_thread_labels(cpuprof_options *o, int on)
{
	if (!o) {
		return CPUPROF_EINVAL;
	}
	o->thread_labels = on != 0;
	return 0;
}

CPUPROF_API int cpuprof_options_set_engine(cpuprof_options *o, cpuprof_engine e)
{
	if (!o || (e != CPUPROF_ENGINE_AUTO && e != CPUPROF_ENGINE_TIMER &&
		   e != CPUPROF_ENGINE_PERF)) {
		return CPUPROF_EINVAL;
	}
	o->engine = e;
	return 0;
}

CPUPROF_API int cpuprof_options_set_sigprof_policy(cpuprof_options *o, cpuprof_sigprof_policy p)
{
	if (!o || (p != CPUPROF_SIGPROF_CHAIN && p != CPUPROF_SIGPROF_REFUSE)) {
		return CPUPROF_EINVAL;
	}
	o->sigprof_policy = p;
	return 0;
}

/* ---- the sampler ---- */

int cpuprof__sampler_running(void)
{
	return atomic_load(&cpuprof__g.run) != 0;
}

static int install_handler(cpuprof_sigprof_policy policy)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = cpuprof__sigprof_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGPROF, NULL, &old) != 0) {
		return CPUPROF_ESIGNAL;
	}
	int theirs = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != NULL
						 : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
	if (theirs && policy == CPUPROF_SIGPROF_REFUSE) {
		return CPUPROF_ESIGCONFLICT;
	}
	/* Our own handler is never "the previous one" (a fork child that inherited it would
	 * forward to itself forever). */
	if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == cpuprof__sigprof_handler) {
		memset(&old, 0, sizeof(old));
		old.sa_handler = SIG_DFL;
	}
	/* A previous SIG_DFL is forwarded to as SIG_IGN while we run: a SIGPROF that is not
	 * ours must not kill the process. At stop it is restored through SIG_IGN. */
	cpuprof__g.prev_was_default = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
	if (cpuprof__g.prev_was_default) {
		old.sa_handler = SIG_IGN;
	}
	cpuprof__g.prev_action = old;
	if (sigaction(SIGPROF, &sa, NULL) != 0) {
		return CPUPROF_ESIGNAL;
	}
	cpuprof__g.handler_installed = 1;
	return 0;
}

static void restore_handler(void)
{
	if (cpuprof__g.handler_installed) {
		/* Every timer is deleted and every perf event closed (close waits for the
		 * event's pending signal work), so no new SIGPROF of ours can be generated.
		 * Setting SIG_IGN discards any still pending on any thread; only then is a
		 * previous SIG_DFL put back, which would otherwise kill the process. */
		sigaction(SIGPROF, &cpuprof__g.prev_action, NULL);
		if (cpuprof__g.prev_was_default) {
			signal(SIGPROF, SIG_DFL);
		}
		cpuprof__g.handler_installed = 0;
	}
}

static void disarm_all(void)
{
	cpuprof__threads_lock();
	for (uint32_t i = 0; i < CPUPROF__MAX_THREADS; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		if (t->has_timer || t->perf_fd >= 0 || atomic_load(&t->armed_run)) {
			cpuprof__clock_disarm(t);
		}
	}
	cpuprof__threads_unlock();
}

static uint32_t ring_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	long r = n < 2 ? 4 : 2 * n;
	if (r < 4) {
		r = 4;
	}
	return (uint32_t)(r > CPUPROF__MAX_RINGS ? CPUPROF__MAX_RINGS : r);
}

/* Starts the sampler. api_mu held. */
static int sampler_start(const cpuprof_options *o)
{
	cpuprof__threads_init();
	if (!cpuprof__threads) {
		return CPUPROF_ENOMEM;
	}
	cpuprof_engine engine = cpuprof__clock_pick_engine(o->engine);
	if ((int)engine < 0) {
		return CPUPROF_ENOTSUP;
	}
	struct cpuprof__logset *ls = cpuprof__logset_new(ring_count(), (uint32_t)o->max_depth,
							  (size_t)1 << 16);
	if (!ls) {
		return CPUPROF_ENOMEM;
	}
	cpuprof__g.hz = o->hz;
	cpuprof__g.period_ns = 1000000000LL / o->hz;
	cpuprof__g.max_depth = o->max_depth;
	cpuprof__g.engine = engine;
	thread_labels = o->thread_labels;
	atomic_store(&cpuprof__g.signals, 0);
	atomic_store(&cpuprof__g.weight, 0);
	atomic_store(&cpuprof__g.stale, 0);
	atomic_store(&cpuprof__g.foreign, 0);
	atomic_store(&cpuprof__g.itimer_skip, 0);
	for (int i = 0; i < CPUPROF__LOSS_COUNT; i++) {
		atomic_store(&cpuprof__g.lost[i], 0);
	}
	atomic_store(&cpuprof__timer_errors, 0);
	atomic_store(&cpuprof__threads_armed, 0);
	int err = install_handler(o->sigprof_policy);
	if (err) {
		cpuprof__logset_free(ls);
		return err;
	}
	atomic_store_explicit(&cpuprof__g.log, ls, memory_order_release);
	err = cpuprof__reader_start(ls);
	if (err) {
		atomic_store(&cpuprof__g.log, NULL);
		restore_handler();
		cpuprof__logset_free(ls);
		return err;
	}
	/* Run ids skip 0 (off) in the 16 bits the cookie carries. */
	if ((++run_counter & 0xffff) == 0) {
		++run_counter;
	}
	run_start_cpu_ns = cpuprof__now_ns(CLOCK_PROCESS_CPUTIME_ID);
	run_start_mono_ns = cpuprof__now_ns(CLOCK_MONOTONIC);
	/* seq_cst: see the handler's inflight/run protocol. */
	atomic_store(&cpuprof__g.run, run_counter);
	cpuprof__thread_register_self();
	cpuprof__threads_rescan(); /* arms every thread alive now */
	/* The process-wide ITIMER_PROF covers threads that have no timer of their own yet;
	 * with perf events every thread gets its event from the pthread_create wrapper or
	 * the rescan, and the tick-driven ITIMER_PROF would only add signals that can land
	 * inside syscalls (EINTR), so it is used with the timer engine only. */
	if (engine == CPUPROF_ENGINE_TIMER) {
		(void)cpuprof__itimer_start(o->hz);
	}
	return 0;
}

/* Stops the sampler; every record is drained into the open sessions. api_mu held. */
static void sampler_stop(void)
{
	struct cpuprof__logset *ls = atomic_load(&cpuprof__g.log);
	cpuprof__itimer_stop();
	atomic_store(&cpuprof__g.run, 0); /* seq_cst, then wait for handlers in flight */
	disarm_all();
	while (atomic_load(&cpuprof__g.inflight) != 0) {
		sched_yield();
	}
	/* No handler runs now: move what waits in the side buffer into a ring. */
	struct cpuprof__ring *r = cpuprof__ring_claim(ls, 0);
	if (r) {
		cpuprof__side_drain(ls, r);
		cpuprof__ring_release(r);
	}
	for (uint32_t i = 0; i < ls->nrings; i++) {
		cpuprof__profbuf_close(ls->rings[i].buf);
	}
	cpuprof__reader_join();
	last_run_samples = 0;
	for (uint32_t i = 0; i < ls->nrings; i++) {
		last_run_samples += atomic_load(&ls->rings[i].samples);
	}
	restore_handler();
	atomic_store(&cpuprof__g.log, NULL);
	cpuprof__logset_free(ls);
}

/* Opens a session, starting the sampler if it is the first. api_mu held. The session is
 * attached before the first timer is armed, so it sees every record of the run. */
static int session_open(const cpuprof_options *o, struct cpuprof__session **out)
{
	struct cpuprof__session *s = cpuprof__session_attach();
	if (!s) {
		return CPUPROF_ENOMEM;
	}
	if (sampler_sessions == 0) {
		int err = sampler_start(o);
		if (err) {
			cpuprof__session_detach(s);
			cpuprof__session_free(s);
			return err;
		}
		/* sampler_start zeroed the counters after this session was attached. */
		s->signals_base = 0;
		memset(s->lost_base, 0, sizeof(s->lost_base));
	}
	sampler_sessions++;
	s->run = (struct cpuprof__run_info){
		.hz = cpuprof__g.hz,
		.period_ns = cpuprof__g.period_ns,
		.engine = cpuprof__g.engine,
		.user_only = cpuprof__clock_user_only(),
		.thread_labels = thread_labels,
	};
	*out = s;
	return 0;
}

/* Closes a session, stopping the sampler if it was the last. api_mu held. */
static void session_close(struct cpuprof__session *s)
{
	if (--sampler_sessions == 0) {
		sampler_stop();
		cpuprof__sessions_end_all();
		cpuprof__session_finish(s);
	} else {
		cpuprof__session_detach(s);
	}
}

int cpuprof__session_open_hz(int hz, struct cpuprof__session **out)
{
	pthread_mutex_lock(&api_mu);
	int err;
	if (sampler_sessions > 0) {
		err = session_open(NULL, out);
	} else {
		cpuprof_options o;
		options_defaults(&o);
		o.hz = hz > 0 ? clamp_hz(hz) : (default_hz > 0 ? default_hz : CPUPROF_DEFAULT_HZ);
		err = session_open(&o, out);
	}
	pthread_mutex_unlock(&api_mu);
	return err;
}

void cpuprof__session_close(struct cpuprof__session *s)
{
	pthread_mutex_lock(&api_mu);
	session_close(s);
	pthread_mutex_unlock(&api_mu);
}

int cpuprof__session_rotate_hz(struct cpuprof__session *s, struct cpuprof__session **next)
{
	pthread_mutex_lock(&api_mu);
	struct cpuprof__session *n = cpuprof__session_rotate(s);
	pthread_mutex_unlock(&api_mu);
	if (!n) {
		return CPUPROF_ENOMEM;
	}
	*next = n;
	return 0;
}

int cpuprof__session_build(struct cpuprof__session *s, struct cpuprof__stacktab *tab,
			   int64_t end_mono_ns, uint8_t **out, size_t *outlen)
{
	if (!tab) {
		tab = s->tab;
	}
	char c1[300], c2[200];
	const struct cpuprof__run_info *r = &s->run;
	const char *engine = r->engine == CPUPROF_ENGINE_PERF ? "perf_event cpu-clock" : "CPU timers";
	/* The window's own counts: fixed at its end, or so far for a flush. */
	int ended = s->signals_end != 0 || s->end_cpu_ns != 0;
	int64_t cpu = (ended ? s->end_cpu_ns : cpuprof__now_ns(CLOCK_PROCESS_CPUTIME_ID)) -
		      s->start_cpu_ns;
	uint64_t sig = (ended ? s->signals_end : atomic_load(&cpuprof__g.signals)) - s->signals_base;
	double eff = cpu > 0 ? (double)sig * 1e9 / (double)cpu : 0;
	snprintf(c1, sizeof(c1), "cpuprof %s: engine=%s hz=%d%s", CPUPROF_VERSION_STRING, engine,
		 r->hz,
		 r->engine == CPUPROF_ENGINE_PERF && r->user_only
			 ? " (signals interrupt user mode; each sample is weighted by its "
			   "thread's CPU time since the last, kernel time included)"
			 : "");
	snprintf(c2, sizeof(c2),
		 "effective rate: %.1f signals per CPU-second (samples are weighted by "
		 "1+overrun to %d Hz)",
		 eff, r->hz);
	const char *comments[] = {c1, c2};
	struct cpuprof__pprof_meta m = {
		.time_nanos = s->start_wall_ns,
		.duration_nanos = end_mono_ns - s->start_mono_ns,
		.period = r->period_ns,
		.thread_labels = r->thread_labels,
		.comments = comments,
		.ncomments = 2,
		.thread_name = cpuprof__thread_name,
		.thread_name_ctx = NULL,
	};
	return cpuprof__pprof_build(tab, &m, out, outlen);
}

/* ---- public API ---- */

CPUPROF_API int cpuprof_start(const char *path, int hz)
{
	cpuprof_options o;
	options_defaults(&o);
	o.hz = clamp_hz(hz);
	o.hz_set = 1;
	return cpuprof_start_opts(path, &o);
}

CPUPROF_API int cpuprof_start_opts(const char *path, const cpuprof_options *opts)
{
	cpuprof_options o;
	if (opts) {
		o = *opts;
	} else {
		options_defaults(&o);
	}
	if (!path || !path[0]) {
		return CPUPROF_EPATH;
	}
	pthread_mutex_lock(&api_mu);
	int err = 0;
	if (!o.hz_set) {
		o.hz = default_hz;
	}
	if (file_sess) {
		err = CPUPROF_ERUNNING;
		goto out;
	}
	if (o.hz <= 0) {
		err = CPUPROF_EOFF;
		goto out;
	}
	if (sampler_sessions > 0 && o.hz != cpuprof__g.hz) {
		/* Another profile (HTTP, periodic) runs at another rate: it cannot change. */
		err = CPUPROF_ERUNNING;
		goto out;
	}
	if (cpuprof__check_path_writable(path) != 0) {
		err = CPUPROF_EIO;
		goto out;
	}
	char *p = strdup(path);
	if (!p) {
		err = CPUPROF_ENOMEM;
		goto out;
	}
	err = session_open(&o, &file_sess);
	if (err) {
		free(p);
		goto out;
	}
	file_path = p;
out:
	pthread_mutex_unlock(&api_mu);
	return err;
}

static int write_session(struct cpuprof__session *s, struct cpuprof__stacktab *tab,
			 const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = cpuprof__session_build(s, tab, cpuprof__now_ns(CLOCK_MONOTONIC), &buf, &len);
	if (!err) {
		err = cpuprof__write_file_atomic(path, buf, len);
	}
	free(buf);
	return err;
}

CPUPROF_API int cpuprof_stop(void)
{
	pthread_mutex_lock(&api_mu);
	if (!file_sess) {
		pthread_mutex_unlock(&api_mu);
		return CPUPROF_ENOTRUNNING;
	}
	struct cpuprof__session *s = file_sess;
	char *path = file_path;
	int64_t end = cpuprof__now_ns(CLOCK_MONOTONIC);
	file_sess = NULL;
	file_path = NULL;
	session_close(s);
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = cpuprof__session_build(s, NULL, end, &buf, &len);
	if (!err) {
		err = cpuprof__write_file_atomic(path, buf, len);
	}
	free(buf);
	cpuprof__session_free(s);
	free(path);
	pthread_mutex_unlock(&api_mu);
	return err;
}

CPUPROF_API int cpuprof_flush(void)
{
	pthread_mutex_lock(&api_mu);
	int err = CPUPROF_ENOTRUNNING;
	if (file_sess) {
		struct cpuprof__stacktab *t = cpuprof__session_snapshot(file_sess);
		/* Out-of-band losses so far belong in the snapshot too (without consuming
		 * them from the session). */
		err = t ? write_session(file_sess, t, file_path) : CPUPROF_ENOMEM;
		cpuprof__stacktab_free(t);
	}
	pthread_mutex_unlock(&api_mu);
	return err;
}

CPUPROF_API int cpuprof_running(void)
{
	return atomic_load(&cpuprof__g.run) != 0;
}

CPUPROF_API int cpuprof_set_rate(int hz)
{
	pthread_mutex_lock(&api_mu);
	int r;
	if (sampler_sessions > 0) {
		r = CPUPROF_ERUNNING;
	} else {
		default_hz = clamp_hz(hz);
		r = default_hz;
	}
	pthread_mutex_unlock(&api_mu);
	return r;
}

CPUPROF_API int cpuprof_get_rate(void)
{
	pthread_mutex_lock(&api_mu);
	int r = sampler_sessions > 0 ? cpuprof__g.hz : default_hz;
	pthread_mutex_unlock(&api_mu);
	return r;
}

CPUPROF_API int cpuprof_get_stats(cpuprof_stats *st)
{
	if (!st || st->size < sizeof(cpuprof_stats)) {
		return CPUPROF_EINVAL;
	}
	pthread_mutex_lock(&api_mu);
	memset((char *)st + sizeof(st->size), 0, sizeof(*st) - sizeof(st->size));
	st->running = sampler_sessions > 0;
	st->hz = st->running ? cpuprof__g.hz : default_hz;
	st->engine = st->running ? cpuprof__g.engine : CPUPROF_ENGINE_AUTO;
	st->signals = atomic_load(&cpuprof__g.signals);
	uint64_t lost = 0;
	for (int i = 0; i < CPUPROF__LOSS_COUNT; i++) {
		lost += atomic_load(&cpuprof__g.lost[i]);
	}
	struct cpuprof__logset *ls = atomic_load(&cpuprof__g.log);
	uint64_t samples = ls ? 0 : last_run_samples;
	for (uint32_t i = 0; ls && i < ls->nrings; i++) {
		samples += atomic_load(&ls->rings[i].samples);
	}
	st->weight = atomic_load(&cpuprof__g.weight);
	st->samples = samples;
	st->lost = lost;
	st->threads = atomic_load(&cpuprof__threads_armed);
	st->timer_errors = atomic_load(&cpuprof__timer_errors);
	if (st->running) {
		int64_t cpu = cpuprof__now_ns(CLOCK_PROCESS_CPUTIME_ID) - run_start_cpu_ns;
		st->effective_hz = cpu > 0 ? (double)st->signals * 1e9 / (double)cpu : 0;
	}
	pthread_mutex_unlock(&api_mu);
	return 0;
}

/* fork without exec: the child has one thread, no timers and no reader. It forgets the
 * parent's profiles (never writing the parent's file) and starts with profiling off. */
static void atfork_child(void)
{
	/* The child inherited our handler: give SIGPROF back its previous action, so a
	 * later start in the child records the program's handler, not ours. */
	restore_handler();
	pthread_mutex_init(&api_mu, NULL);
	atomic_store(&cpuprof__g.run, 0);
	atomic_store(&cpuprof__g.log, NULL);
	atomic_store(&cpuprof__g.inflight, 0);
	atomic_store(&cpuprof__g.itimer_on, 0);
	file_sess = NULL;
	file_path = NULL;
	sampler_sessions = 0;
	cpuprof__sessions_forget();
}

__attribute__((constructor)) static void cpuprof_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
