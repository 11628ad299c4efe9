/*
 * core: the state shared by the signal path (signal.c, unwind.c, logset.c), the thread
 * registry and clocks (threads.c, clock.c), the reader (reader.c) and the public entry
 * points (cpuprof.c). Everything here is either immutable while a run is active, or an
 * atomic whose ordering partner is named where it is used.
 *
 * Lifetimes: the thread table is allocated once and never freed (a stale signal may name
 * any slot at any time). A logset (the rings) lives for one run of the sampler: it is
 * published before the run id and freed only after the run id is cleared and no handler
 * is in flight (see cpuprof__sampler_stop).
 */
#ifndef CPUPROF_CORE_H
#define CPUPROF_CORE_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cpuprof.h"
#include "note.h"
#include "profbuf.h"

#define CPUPROF__MAX_RINGS 16
#define CPUPROF__SIDE_ENTRIES 32
#define CPUPROF__SIDE_DEPTH 16
#define CPUPROF__HDR_WORDS 2 /* record header: [weight, tid] */

/* Thread table capacity; slot indexes and generations travel in 16 bits of sigev_value. */
#define CPUPROF__MAX_THREADS 8192

/*
 * The cookie carried by every timer's sigev_value (and by perf-event fds through
 * cpuprof__fd_slot): magic:16 | run:16 | gen:16 | slot:16. The handler accepts a signal
 * only if the magic matches, the run is the current run and the slot's generation is the
 * one the timer was armed with, so a stale timer never adds a sample to a later run and
 * another library's SIGPROF timer is passed on to the handler installed before ours.
 */
#define CPUPROF__COOKIE_MAGIC 0xC9F0u
static inline uint64_t cpuprof__cookie(uint32_t run, uint32_t gen, uint32_t slot)
{
	return ((uint64_t)CPUPROF__COOKIE_MAGIC << 48) | ((uint64_t)(run & 0xffff) << 32) |
	       ((uint64_t)(gen & 0xffff) << 16) | (slot & 0xffff);
}

enum cpuprof__slot_state {
	CPUPROF__SLOT_FREE = 0,
	CPUPROF__SLOT_LIVE = 1, /* a known thread; armed when armed_run == current run */
};

/*
 * One thread of the process. Written under cpuprof__threads_lock by normal code; read by
 * handlers with atomic loads only. A slot is reused only after its generation is bumped,
 * which makes every signal armed for the old occupant stale.
 */
struct cpuprof__thread {
	_Atomic uint32_t state;      /* cpuprof__slot_state */
	_Atomic uint32_t gen;        /* bumped on free; in the cookie */
	_Atomic int32_t tid;         /* kernel thread id */
	_Atomic uint32_t armed_run;  /* run id whose timer/event targets this thread, or 0 */
	_Atomic uintptr_t stack_lo;  /* stack bounds, 0/0 while unknown (release: writer */
	_Atomic uintptr_t stack_hi;  /*   stores lo then hi; handler loads hi then lo) */
	_Atomic uintptr_t seen_sp;   /* handler: an SP seen while bounds were unknown */
	_Atomic uint32_t in_handler; /* handler re-entry guard */
	_Atomic uint32_t perf_first; /* perf engine: first signal not yet seen */
	_Atomic uint64_t weight_sum; /* handler: weighted samples taken on this thread */
	int64_t arm_cpu_ns;          /* the thread's CPU time when its clock was armed */
	/* perf engine, written only by this thread's handler (and by arm, before the event is
	 * enabled): the thread CPU time at which the next expiration is due. */
	int64_t next_due_ns;
	uintptr_t start_fn;          /* pthread start routine, when created through us */
	/* Owned by normal code under the lock. */
	int has_timer;
	timer_t timer;
	int perf_fd;
	int registered_by_self; /* created through pthread_create: exit hook deletes it */
};

/* A ring of the pool: claimed by one handler at a time, drained by the reader. */
struct cpuprof__ring {
	_Atomic uint32_t busy; /* 1 while a handler writes; acquire on claim, release on drop */
	struct cpuprof__profbuf *buf;
	uint64_t *scratch;          /* unwind output, max_depth + 4 words, owned by the claimer */
	_Atomic uint64_t samples;   /* weighted samples written as normal stacks */
};

/* The side buffer: fixed entries for signals that could not claim a ring. */
struct cpuprof__side_entry {
	_Atomic uint32_t state; /* 0 free, 1 being written, 2 ready, 3 being drained */
	uint32_t n;
	uint64_t weight;
	int32_t tid;
	const void *tag;
	uint64_t now;
	uint64_t pcs[CPUPROF__SIDE_DEPTH + 1];
};

struct cpuprof__logset {
	uint32_t nrings;
	uint32_t max_depth;
	struct cpuprof__note note; /* the reader sleeps here for all rings */
	struct cpuprof__ring rings[CPUPROF__MAX_RINGS];
	_Atomic uint32_t side_ready;
	struct cpuprof__side_entry side[CPUPROF__SIDE_ENTRIES];
};

/* Loss reasons counted outside the rings (the ring's own overflow travels in-band). */
enum cpuprof__loss {
	CPUPROF__LOSS_REENTERED,
	CPUPROF__LOSS_SIDE_FULL,
	CPUPROF__LOSS_COUNT
};

/* Process-wide profiler state. */
struct cpuprof__global {
	/* Published for the handler. run: acquire in the handler pairs with the release
	 * store in sampler_start (after log and settings are set). seq_cst between `run`
	 * and `inflight` makes stop's quiescence check sound (see sampler_stop). */
	_Atomic uint32_t run;
	_Atomic uint32_t inflight;
	struct cpuprof__logset *_Atomic log;
	_Atomic int itimer_on; /* the process-wide ITIMER_PROF fallback is armed */

	/* Counters (relaxed; read by stats and at profile build). */
	_Atomic uint64_t signals;     /* accepted profiling signals (deliveries) */
	_Atomic uint64_t weight;      /* sum of their weights */
	_Atomic uint64_t stale;       /* our cookie, another run: dropped */
	_Atomic uint64_t foreign;     /* not ours: passed on */
	_Atomic uint64_t itimer_skip; /* ITIMER_PROF on a thread that has its own timer */
	_Atomic uint64_t lost[CPUPROF__LOSS_COUNT];

	/* Immutable while a run is active. */
	int hz;
	int64_t period_ns;
	int max_depth;
	cpuprof_engine engine;
	struct sigaction prev_action; /* the SIGPROF action before ours (SIG_DFL as SIG_IGN) */
	int prev_was_default;         /* ... which was SIG_DFL */
	int handler_installed;
};

extern struct cpuprof__global cpuprof__g;
extern struct cpuprof__thread *cpuprof__threads; /* CPUPROF__MAX_THREADS slots, never freed */
extern _Atomic uint32_t cpuprof__threads_high;   /* slots [0, high) have been used */
/* perf engine: fd -> cookie (0: not ours). */
#define CPUPROF__MAX_FDS 65536
extern _Atomic uint64_t *cpuprof__fd_cookie;

/* The calling thread's slot, if it registered itself (pthread_create wrapper, starter). */
extern _Thread_local struct cpuprof__thread *cpuprof__tls_slot;

/* ---- signal.c (signal context) ---- */
void cpuprof__sigprof_handler(int sig, siginfo_t *si, void *uc);

/* The live slot of `tid`, or NULL. Lock-free (signal.c); the handler's fallback path uses
 * it for threads that did not register themselves. */
struct cpuprof__thread *cpuprof__thread_find(int32_t tid);

/* ---- unwind.c (signal context) ---- */
/* Walks frame pointers from (pc, fp, sp) within [lo, hi). Writes pc then return
 * addresses into out[0..max), returns the count; *more = 1 if frames remained. */
size_t cpuprof__unwind_fp(uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t lo, uintptr_t hi,
			  uint64_t *out, size_t max, int *more);

/* ---- logset.c (signal context, except alloc/free) ---- */
struct cpuprof__ring *cpuprof__ring_claim(struct cpuprof__logset *ls, uint32_t hint);
void cpuprof__ring_release(struct cpuprof__ring *r);
/* Puts a sample into the side buffer; returns 0, or -1 if it is full. */
int cpuprof__side_push(struct cpuprof__logset *ls, const void *tag, uint64_t now, int32_t tid,
		       uint64_t weight, const uint64_t *pcs, size_t n);
/* Moves ready side entries into ring r (held by the caller). */
void cpuprof__side_drain(struct cpuprof__logset *ls, struct cpuprof__ring *r);
struct cpuprof__logset *cpuprof__logset_new(uint32_t nrings, uint32_t max_depth,
					    size_t ring_words);
void cpuprof__logset_free(struct cpuprof__logset *ls);
size_t cpuprof__logset_memory(const struct cpuprof__logset *ls);

/* ---- threads.c ---- */
/* At exit of a registered thread: books the CPU time its tick-driven timer never reached
 * (timer engine) as samples on a synthetic frame under its start routine. */
void cpuprof__account_exit(struct cpuprof__thread *t);
void cpuprof__threads_init(void); /* idempotent; allocates the table */
void cpuprof__threads_lock(void);
void cpuprof__threads_unlock(void);
/* Under the lock: the slot of tid, or a new one (bounds unknown); NULL when full. */
struct cpuprof__thread *cpuprof__thread_get(int32_t tid);
/* Under the lock: frees a slot (its timer must already be disarmed). */
void cpuprof__thread_free(struct cpuprof__thread *t);
/* Rescans /proc/self/task: adds new threads (armed if a run is active), disarms and frees
 * slots of threads that are gone, resolves bounds for threads whose SP was seen. */
void cpuprof__threads_rescan(void);
/* Resolves stack bounds for slots whose handler published an SP. */
void cpuprof__threads_resolve_bounds(void);
/* Registers the calling thread (bounds from pthread_getattr_np). */
struct cpuprof__thread *cpuprof__thread_register_self(void);
int32_t cpuprof__gettid(void);

/* ---- clock.c ---- */
/* Under the threads lock: arms / disarms the thread's timer or perf event for the run. */
int cpuprof__clock_arm(struct cpuprof__thread *t, uint32_t run);
void cpuprof__clock_disarm(struct cpuprof__thread *t);
/* Chooses the engine for `want` (AUTO probes perf_event_open). */
cpuprof_engine cpuprof__clock_pick_engine(cpuprof_engine want);
/* 1 if perf events sample user mode only (see clock.c). */
int cpuprof__clock_user_only(void);
int cpuprof__itimer_start(int hz);
void cpuprof__itimer_stop(void);
extern _Atomic uint64_t cpuprof__timer_errors;
extern _Atomic uint64_t cpuprof__threads_armed;

/* ---- sampler (cpuprof.c) ---- */
int cpuprof__sampler_running(void);

#endif
