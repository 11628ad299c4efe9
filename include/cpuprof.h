/*
 * cpuprof: a sampling CPU profiler for native Linux programs.
 *
 * A per-thread CPU-time timer interrupts each running thread with SIGPROF; the handler
 * records the thread's stack into a lock-free log; a reader thread aggregates the log; at
 * stop the profile is symbolized and written as a gzipped pprof file (profile.proto).
 * Every signal that could not become a normal sample is counted and shows up in the
 * profile as a sample on a named "[cpuprof] ..." frame.
 *
 * This is the only public header. All functions return 0 (or a non-negative value) on
 * success and a negative CPUPROF_E* code on failure; cpuprof_strerror() names the code.
 * Unless a comment says otherwise, functions are thread-safe and not async-signal-safe.
 */
#ifndef CPUPROF_H
#define CPUPROF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CPUPROF_API __attribute__((visibility("default")))
#else
#define CPUPROF_API
#endif

#define CPUPROF_VERSION_MAJOR 0
#define CPUPROF_VERSION_MINOR 1
#define CPUPROF_VERSION_PATCH 0
#define CPUPROF_VERSION_STRING "0.1.0"

/* Rates are in Hz. A rate above CPUPROF_MAX_HZ is clamped to it; 0 or below means "off". */
#define CPUPROF_DEFAULT_HZ 100
#define CPUPROF_MAX_HZ 1000000

/* Stack depth: frames kept per sample (leaf end first); deeper stacks are truncated and
 * marked with a "[cpuprof] truncated stack" frame at the root end. */
#define CPUPROF_DEFAULT_MAX_DEPTH 64
#define CPUPROF_MAX_MAX_DEPTH 1024

/* The error table: one line per code, used for both the enum and cpuprof_strerror(). */
#define CPUPROF_ERRNO_MAP(XX)                                                                    \
	XX(EINVAL, -1, "invalid argument")                                                       \
	XX(ERUNNING, -2, "a profile is already running")                                         \
	XX(ENOTRUNNING, -3, "no profile is running")                                             \
	XX(EOFF, -4, "the rate is 0 or below: profiling is off")                                 \
	XX(ENOMEM, -5, "out of memory")                                                          \
	XX(EIO, -6, "cannot write the profile file")                                             \
	XX(ESIGNAL, -7, "cannot install the SIGPROF handler")                                    \
	XX(ETIMER, -8, "cannot create a CPU timer")                                              \
	XX(ETHREAD, -9, "cannot start the reader thread")                                        \
	XX(ESIGCONFLICT, -10, "the program has its own SIGPROF handler")                         \
	XX(ELIMIT, -11, "a label limit was exceeded")                                            \
	XX(EHTTP, -12, "cannot start the HTTP server")                                           \
	XX(ENOTSUP, -13, "not supported in this build or on this system")                        \
	XX(EPATH, -14, "invalid output path")

typedef enum {
#define CPUPROF_ERRNO_ENUM(name, value, text) CPUPROF_##name = (value),
	CPUPROF_ERRNO_MAP(CPUPROF_ERRNO_ENUM)
#undef CPUPROF_ERRNO_ENUM
} cpuprof_errno;

/* Returns a static, human-readable text for a CPUPROF_E* code (or "success" for 0, and
 * "unknown error" otherwise). Async-signal-safe. Thread-safe. */
CPUPROF_API const char *cpuprof_strerror(int err);

/* Returns CPUPROF_VERSION_STRING of the library actually loaded. Async-signal-safe. */
CPUPROF_API const char *cpuprof_version(void);

/* ---- Options ------------------------------------------------------------------------ */

/* The sampling engine: per-thread perf_event cpu-clock events where the kernel allows them
 * (true high rates), otherwise per-thread POSIX CPU timers weighted by 1 + si_overrun. */
typedef enum {
	CPUPROF_ENGINE_AUTO = 0,  /* perf_event if allowed, else timers */
	CPUPROF_ENGINE_TIMER = 1, /* per-thread timer_create(CLOCK thread CPU time) */
	CPUPROF_ENGINE_PERF = 2,  /* per-thread perf_event_open(cpu-clock); fails if denied */
} cpuprof_engine;

/* What to do when SIGPROF already has a handler (not SIG_DFL/SIG_IGN) at start. */
typedef enum {
	CPUPROF_SIGPROF_CHAIN = 0,  /* install ours; SIGPROFs that are not ours go to theirs */
	CPUPROF_SIGPROF_REFUSE = 1, /* start fails with CPUPROF_ESIGCONFLICT */
} cpuprof_sigprof_policy;

/* An opaque, copyable set of options; adding an option never changes the ABI. */
typedef struct cpuprof_options cpuprof_options;

/* Allocates options with the defaults: CPUPROF_DEFAULT_HZ, depth 64, thread labels on,
 * engine AUTO, SIGPROF policy CHAIN. Returns NULL when out of memory. */
CPUPROF_API cpuprof_options *cpuprof_options_new(void);
CPUPROF_API void cpuprof_options_free(cpuprof_options *opts);
/* Rate in Hz: clamped to CPUPROF_MAX_HZ; 0 or below is stored as 0 ("off"). */
CPUPROF_API int cpuprof_options_set_hz(cpuprof_options *opts, int hz);
/* 1 .. CPUPROF_MAX_MAX_DEPTH, else CPUPROF_EINVAL. */
CPUPROF_API int cpuprof_options_set_max_depth(cpuprof_options *opts, int depth);
/* Nonzero: every sample carries "thread_id" and "thread_name" labels (the default). */
CPUPROF_API int cpuprof_options_set_thread_labels(cpuprof_options *opts, int on);
CPUPROF_API int cpuprof_options_set_engine(cpuprof_options *opts, cpuprof_engine engine);
CPUPROF_API int cpuprof_options_set_sigprof_policy(cpuprof_options *opts,
						   cpuprof_sigprof_policy policy);

/* ---- Profiling to a file ------------------------------------------------------------ */

/*
 * Starts profiling the whole process at `hz` and writes a gzipped pprof file to `path` at
 * cpuprof_stop(). The path is checked at start: an unwritable path fails here with
 * CPUPROF_EIO and nothing is left running.
 *   hz > CPUPROF_MAX_HZ is clamped; hz <= 0 returns CPUPROF_EOFF (profiling is off).
 *   Returns CPUPROF_ERUNNING if a file profile is already running.
 * Not async-signal-safe. Thread-safe.
 */
CPUPROF_API int cpuprof_start(const char *path, int hz);
/* The same with options; opts may be NULL for the defaults. */
CPUPROF_API int cpuprof_start_opts(const char *path, const cpuprof_options *opts);

/*
 * Stops the file profile: disarms every timer, drains every record, writes the profile to
 * a temporary file and renames it over the path, so nobody ever reads half a profile.
 * Returns only when the file is written (or CPUPROF_EIO if it could not be).
 * Returns CPUPROF_ENOTRUNNING if no file profile runs.
 * Not async-signal-safe. Thread-safe.
 */
CPUPROF_API int cpuprof_stop(void);

/* Writes the profile collected so far to the file profile's path (atomically) and goes on
 * profiling; the next flush or the stop writes everything since the start. */
CPUPROF_API int cpuprof_flush(void);

/* 1 while any profile (file, HTTP, periodic) runs, else 0. Async-signal-safe. */
CPUPROF_API int cpuprof_running(void);

/*
 * The rate of the sampler. The rate cannot change while a profile runs: setting it then
 * returns CPUPROF_ERUNNING and changes nothing. While stopped it sets the rate that
 * cpuprof_start_opts() uses when its options leave the rate at its default.
 * Returns the clamped rate actually stored (0 means off).
 */
CPUPROF_API int cpuprof_set_rate(int hz);
/* The rate the running sampler uses, or the stored rate when stopped. */
CPUPROF_API int cpuprof_get_rate(void);

/* ---- Statistics --------------------------------------------------------------------- */

typedef struct cpuprof_stats {
	size_t size;             /* set by the caller to sizeof(cpuprof_stats) */
	int running;             /* 1 while the sampler runs */
	int hz;                  /* rate asked for */
	cpuprof_engine engine;   /* engine in use: TIMER or PERF (AUTO when stopped) */
	double effective_hz;     /* signals per CPU-second actually delivered, per thread */
	uint64_t signals;        /* profiling signals that reached our handler this run */
	uint64_t samples;        /* weighted samples recorded as normal stacks */
	uint64_t lost;           /* weighted samples counted as losses (synthetic frames) */
	uint64_t threads;        /* threads that got a timer this run */
	uint64_t timer_errors;   /* threads for which no timer could be created */
	uint64_t weight;         /* weighted samples those signals stand for (1 + overrun each) */
} cpuprof_stats;

/* While a profile runs the counters cover the current run; after the last profile stops
 * they keep the totals of that run until the next one starts. */

/* Fills *st (st->size must be set). Thread-safe. Not async-signal-safe. */
CPUPROF_API int cpuprof_get_stats(cpuprof_stats *st);

/* ---- Labels ------------------------------------------------------------------------- */

#define CPUPROF_MAX_LABELS 16    /* key/value pairs per set */
#define CPUPROF_MAX_LABEL_LEN 128 /* bytes per key or value, NUL excluded */

/*
 * Replaces the calling thread's label set with `n` key/value pairs (keys[i] = values[i]).
 * Later samples of this thread carry these labels. n == 0 clears the set. Keys are sorted
 * and a repeated key keeps its last value; equal sets share one interned object.
 * Returns CPUPROF_ELIMIT beyond CPUPROF_MAX_LABELS pairs or CPUPROF_MAX_LABEL_LEN bytes,
 * CPUPROF_EINVAL for a NULL or empty key. Not async-signal-safe. Thread-safe.
 */
CPUPROF_API int cpuprof_labels_set(const char *const *keys, const char *const *values, size_t n);

/* Adds (or replaces) one label on top of the current set and remembers the old set; pop
 * restores it. Pushes nest up to CPUPROF_MAX_LABELS deep per thread. */
CPUPROF_API int cpuprof_labels_push(const char *key, const char *value);
CPUPROF_API int cpuprof_labels_pop(void);

/* ---- HTTP endpoint ------------------------------------------------------------------ */

/*
 * Serves GET /debug/pprof/profile?seconds=N (as Go's net/http/pprof; see docs/HTTP.md)
 * on an embedded HTTP server with its own threads, which never receive the host's signals.
 * `addr` is a numeric IPv4 or IPv6 address, or NULL for 127.0.0.1; `port` 0 picks a free
 * port. Every request profiles its own window, so requests may overlap each other and a
 * file profile. They use the running rate, or when nothing runs the request's `hz`
 * parameter, else `hz` here (0 means CPUPROF_DEFAULT_HZ).
 * Returns the bound port (> 0), CPUPROF_EINVAL for a bad address, port or hz,
 * CPUPROF_ERUNNING if a server runs, or CPUPROF_EHTTP if the server cannot start (e.g.
 * the port is taken). Not async-signal-safe. Thread-safe.
 */
CPUPROF_API int cpuprof_http_start(const char *addr, int port, int hz);
/* Stops accepting, answers the requests still waiting out their window with 503, and
 * returns when every server thread is gone. CPUPROF_ENOTRUNNING if no server runs.
 * Not async-signal-safe. Thread-safe; must not be called from a profile request. */
CPUPROF_API int cpuprof_http_stop(void);
/* Longest `seconds` a request may ask for (default 300; longer gets 400). A missing
 * `seconds` means 30, or this maximum if it is smaller. CPUPROF_EINVAL below 1. May be
 * called at any time. Thread-safe. */
CPUPROF_API int cpuprof_http_set_max_seconds(int max_seconds);

/* ---- Periodic profiles -------------------------------------------------------------- */

/*
 * Writes a profile of each `seconds`-long window into `dir` as cpuprof-<pid>-<n>.pb.gz
 * (atomically; n counts up within the process), keeping the newest `keep` files of the
 * run (0 keeps all). The windows are back to back: every sample is in exactly one file.
 * Runs at `hz` (0: CPUPROF_DEFAULT_HZ) unless another profile already runs, whose rate it
 * then shares. Returns CPUPROF_EINVAL for seconds < 1, keep < 0, hz < 0 or no dir,
 * CPUPROF_EIO if dir is not a writable directory, CPUPROF_ERUNNING if periodic profiles
 * already run. Not async-signal-safe. Thread-safe.
 */
CPUPROF_API int cpuprof_periodic_start(const char *dir, int seconds, int keep, int hz);
/* Ends the current (partial) window, writes it, and stops. Returns 0, the first error any
 * window's write met during the run (e.g. CPUPROF_EIO), or CPUPROF_ENOTRUNNING.
 * Not async-signal-safe. Thread-safe. */
CPUPROF_API int cpuprof_periodic_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* CPUPROF_H */
