/*
 * periodic: a profile of every `seconds`-long window, written into a directory.
 *
 * One writer thread holds one sampler session. At each deadline (start + k * seconds, so
 * windows do not drift) it rotates the session, which ends the window and opens the next
 * at the same drain boundary (no record in both, none in neither), then builds the ended
 * window and writes dir/cpuprof-<pid>-<n>.pb.gz atomically, deleting the file `keep`
 * windows older. cpuprof_periodic_stop ends and writes the current, partial window.
 * Normal context only; start and stop are serialized by ctl_mu (see below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpuprof.h"
#include "pprof.h"
#include "reader.h"
#include "sampler.h"
#include "service.h"

/* ctl_mu serializes start and stop (held across the join); per_mu guards `stop` and is
 * the writer thread's condition-variable mutex. */
static pthread_mutex_t ctl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t per_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	/* Under ctl_mu. The rest of the configuration is set by start before the thread
	 * exists and stable until it is joined. */
	int running;
	pthread_t thread;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled by stop */
	char dir[PATH_MAX];
	int seconds;
	int keep;
	long pid;
	uint64_t first; /* number of the first file of this run */
	/* Owned by the thread until it is joined. */
	struct cpuprof__session *sess;
	uint64_t next; /* number of the next file */
	int err;       /* first write error of the run */
	int stop;      /* under per_mu */
} per;
/* Files are numbered per process, across runs, so a second run never overwrites. */
static uint64_t file_counter = 1;

static int file_path(uint64_t n, char *out, size_t outsz)
{
	int r = snprintf(out, outsz, "%s/cpuprof-%ld-%llu.pb.gz", per.dir, per.pid,
	                 (unsigned long long)n);
	return r < 0 || (size_t)r >= outsz ? CPUPROF_EPATH : 0;
}

/* Builds the ended window `s` (ending at end_mono_ns), writes it and prunes. */
static void write_window(struct cpuprof__session *s, int64_t end_mono_ns)
{
	char path[PATH_MAX];
	uint64_t n = per.next++;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = file_path(n, path, sizeof(path));
	if (!err) {
		err = cpuprof__session_build(s, NULL, end_mono_ns, &buf, &len);
	}
	if (!err) {
		err = cpuprof__write_file_atomic(path, buf, len);
	}
	free(buf);
	if (err && !per.err) {
		per.err = err;
	}
	if (per.keep > 0 && n >= per.first + (uint64_t)per.keep &&
	    file_path(n - (uint64_t)per.keep, path, sizeof(path)) == 0) {
		(void)unlink(path);
	}
}

static struct timespec to_timespec(int64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
	                      .tv_nsec = (long)(ns % 1000000000)};
	return ts;
}

static void *periodic_main(void *arg)
{
	(void)arg;
	struct cpuprof__session *s = per.sess;
	int64_t period = (int64_t)per.seconds * 1000000000;
	int64_t deadline = s->start_mono_ns + period;
	pthread_mutex_lock(&per_mu);
	for (;;) {
		struct timespec ts = to_timespec(deadline);
		while (!per.stop && pthread_cond_timedwait(&per.cv, &per_mu, &ts) != ETIMEDOUT) {
		}
		if (per.stop) {
			break;
		}
		pthread_mutex_unlock(&per_mu);
		struct cpuprof__session *n = NULL;
		/* On failure (no memory) s stays attached: this window just runs longer. */
		if (cpuprof__session_rotate_hz(s, &n) == 0) {
			write_window(s, n->start_mono_ns);
			cpuprof__session_free(s);
			s = n;
		} else if (!per.err) {
			per.err = CPUPROF_ENOMEM;
		}
		int64_t now = cpuprof__now_ns(CLOCK_MONOTONIC);
		while (deadline <= now) {
			deadline += period; /* a slow write skips deadlines instead of bunching */
		}
		pthread_mutex_lock(&per_mu);
	}
	pthread_mutex_unlock(&per_mu);
	int64_t end = cpuprof__now_ns(CLOCK_MONOTONIC);
	cpuprof__session_close(s);
	write_window(s, end);
	cpuprof__session_free(s);
	per.sess = NULL;
	return NULL;
}

CPUPROF_API int cpuprof_periodic_start(const char *dir, int seconds, int keep, int hz)
{
	if (!dir || !dir[0] || seconds < 1 || keep < 0 || hz < 0) {
		return CPUPROF_EINVAL;
	}
	pthread_mutex_lock(&ctl_mu);
	int err = 0;
	if (per.running) {
		err = CPUPROF_ERUNNING;
		goto out;
	}
	if (strlen(dir) >= sizeof(per.dir)) {
		err = CPUPROF_EPATH;
		goto out;
	}
	snprintf(per.dir, sizeof(per.dir), "%s", dir);
	per.seconds = seconds;
	per.keep = keep;
	per.pid = (long)getpid();
	per.first = per.next = file_counter;
	per.err = 0;
	per.stop = 0;
	char path[PATH_MAX];
	struct stat st;
	if ((err = file_path(per.first, path, sizeof(path))) != 0) {
		goto out;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    cpuprof__check_path_writable(path) != 0) {
		err = CPUPROF_EIO;
		goto out;
	}
	cpuprof__cond_init_monotonic(&per.cv);
	err = cpuprof__session_open_hz(hz > CPUPROF_MAX_HZ ? CPUPROF_MAX_HZ : hz, &per.sess);
	if (err) {
		pthread_cond_destroy(&per.cv);
		goto out;
	}
	sigset_t mask, old;
	cpuprof__service_sigmask(&mask);
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	int rc = pthread_create(&per.thread, NULL, periodic_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		cpuprof__session_close(per.sess);
		cpuprof__session_free(per.sess);
		per.sess = NULL;
		pthread_cond_destroy(&per.cv);
		err = CPUPROF_ETHREAD;
		goto out;
	}
	pthread_setname_np(per.thread, "cpuprof-periodic");
	per.running = 1;
out:
	pthread_mutex_unlock(&ctl_mu);
	return err;
}

CPUPROF_API int cpuprof_periodic_stop(void)
{
	pthread_mutex_lock(&ctl_mu);
	if (!per.running) {
		pthread_mutex_unlock(&ctl_mu);
		return CPUPROF_ENOTRUNNING;
	}
	pthread_mutex_lock(&per_mu);
	per.stop = 1;
	pthread_cond_signal(&per.cv);
	pthread_mutex_unlock(&per_mu);
	pthread_join(per.thread, NULL);
	per.running = 0;
	file_counter = per.next;
	pthread_cond_destroy(&per.cv);
	int err = per.err;
	pthread_mutex_unlock(&ctl_mu);
	return err;
}

/* A fork child has no writer thread; it forgets the run (cpuprof.c forgets the session). */
static void atfork_child(void)
{
	pthread_mutex_init(&ctl_mu, NULL);
	pthread_mutex_init(&per_mu, NULL);
	per.running = 0;
	per.sess = NULL;
}

__attribute__((constructor)) static void periodic_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
