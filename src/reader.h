/*
 * reader: the background thread that drains every ring of the running sampler and folds
 * the records into the tables of the open sessions (a file profile, an HTTP request, a
 * periodic window). A session sees exactly the records drained while it was attached.
 * Runs in normal context; the sessions list is guarded by the reader's mutex.
 */
#ifndef CPUPROF_READER_H
#define CPUPROF_READER_H

#include <stdint.h>

#include "core.h"
#include "stacktab.h"

/* What the sampler ran with while a session was open: copied into the session so that its
 * profile is built with its own rate even if the sampler restarts before the build. */
struct cpuprof__run_info {
	int hz;
	int64_t period_ns;
	cpuprof_engine engine;
	int user_only;     /* perf events sample user mode only */
	int thread_labels; /* samples carry thread_id / thread_name */
};

struct cpuprof__session {
	struct cpuprof__session *next;
	struct cpuprof__run_info run;
	struct cpuprof__stacktab *tab;
	int64_t start_wall_ns;
	int64_t start_mono_ns;
	int64_t start_cpu_ns;           /* process CPU time at attach */
	uint64_t signals_base;          /* cpuprof__g.signals at attach */
	uint64_t signals_end;           /* ... and at the end of the window (0: still open) */
	int64_t end_cpu_ns;             /* process CPU time at the end of the window */
	uint64_t lost_base[CPUPROF__LOSS_COUNT];
	/* Set by the reader when it has drained for the last time for this session. */
	int ended;
	int end_requested; /* 1: asked; 2: the reader's current pass started after the ask */
	struct cpuprof__session *successor; /* attached when this one is detached (rotate) */
};

/* Starts the reader for logset `ls`. Returns 0 or CPUPROF_ETHREAD. */
int cpuprof__reader_start(struct cpuprof__logset *ls);
/* After every ring is closed: waits for the reader to drain them to EOF and exit. */
void cpuprof__reader_join(void);

/* Creates a session and attaches it: records drained from now on are added to it. */
struct cpuprof__session *cpuprof__session_attach(void);
/* Detaches a session after one more full drain (the sampler keeps running), then adds
 * the losses counted outside the rings during its window to its table. */
void cpuprof__session_detach(struct cpuprof__session *s);
/* Ends `s` and attaches a new session at the same drain boundary, so that every record
 * lands in exactly one of the two windows. Returns the new session or NULL. */
struct cpuprof__session *cpuprof__session_rotate(struct cpuprof__session *s);
/* Adds the out-of-band losses of the window to the table (called by detach, and by the
 * sampler stop for sessions ended by EOF). */
void cpuprof__session_finish(struct cpuprof__session *s);
/* A copy of the session's table so far (for flushes), built under the reader's lock. */
struct cpuprof__stacktab *cpuprof__session_snapshot(struct cpuprof__session *s);
void cpuprof__session_free(struct cpuprof__session *s);
/* Detaches every session at sampler stop (after the reader reached EOF). */
void cpuprof__sessions_end_all(void);

/* In a fork child: forget the parent's sessions and reader (they do not exist here). */
void cpuprof__sessions_forget(void);

/* Name of a thread seen by the reader ("" if unknown). Thread-safe. */
const char *cpuprof__thread_name(void *ctx, int32_t tid);

int64_t cpuprof__now_ns(clockid_t clk);

#endif
