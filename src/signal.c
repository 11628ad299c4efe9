/*
 * signal: the SIGPROF handler, the only code of ours that runs in signal context (with
 * unwind.c, logset.c, profbuf.c and note.c's wake). It decides whether a signal is ours
 * and for which run, walks the interrupted stack, and appends one record to a ring it
 * holds exclusively. It never allocates, never takes a lock, preserves errno, and turns
 * everything it cannot record into a counted loss. docs/SIGNAL-SAFETY.md lists all it
 * calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/perf_event.h>
#include <sys/ioctl.h>

#include "core.h"
#include "frames.h"
#include "labels.h"

#ifndef SI_TIMER
#define SI_TIMER (-2)
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO; async-signal-safe */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Passes a SIGPROF that is not ours to the handler installed before ours. A previous
 * SIG_DFL was recorded as SIG_IGN when we installed (see clock.c), so nothing here can
 * terminate the process by accident. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *p = &cpuprof__g.prev_action;
	if (p->sa_flags & SA_SIGINFO) {
		if (p->sa_sigaction) {
			p->sa_sigaction(sig, si, uc);
		}
	} else if (p->sa_handler != SIG_IGN && p->sa_handler != SIG_DFL) {
		p->sa_handler(sig);
	}
}

/* Decodes a cookie into the slot it names, or NULL if it is stale (another run, a freed
 * slot). *ours is set when the magic says it is one of our timers at all. */
static struct cpuprof__thread *cookie_slot(uint64_t v, uint32_t run, int *ours)
{
	*ours = (v >> 48) == CPUPROF__COOKIE_MAGIC;
	if (!*ours || run == 0 || ((v >> 32) & 0xffff) != (run & 0xffff)) {
		return NULL;
	}
	uint32_t idx = (uint32_t)(v & 0xffff);
	if (idx >= CPUPROF__MAX_THREADS) {
		return NULL;
	}
	struct cpuprof__thread *t = &cpuprof__threads[idx];
	if ((atomic_load_explicit(&t->gen, memory_order_acquire) & 0xffff) !=
	    ((v >> 16) & 0xffff)) {
		return NULL;
	}
	return t;
}

struct cpuprof__thread *cpuprof__thread_find(int32_t tid)
{
	uint32_t n = atomic_load_explicit(&cpuprof__threads_high, memory_order_acquire);
	for (uint32_t i = 0; cpuprof__threads && i < n; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		if (atomic_load_explicit(&t->state, memory_order_acquire) == CPUPROF__SLOT_LIVE &&
		    atomic_load_explicit(&t->tid, memory_order_relaxed) == tid) {
			return t;
		}
	}
	return NULL;
}

/* The side path: a short stack into the side buffer, which the next handler holding a
 * ring (or the stop) moves into a ring; `loss` names the count if it is full. */
static void side_record(struct cpuprof__logset *ls, const void *tag, uint64_t now, int32_t tid,
			uint64_t weight, uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t lo,
			uintptr_t hi, int walk, enum cpuprof__loss loss)
{
	uint64_t pcs[CPUPROF__SIDE_DEPTH + 1];
	int more = 0;
	size_t n = 1;
	if (walk) {
		n = cpuprof__unwind_fp(pc, fp, sp, lo, hi, pcs, CPUPROF__SIDE_DEPTH, &more);
	} else {
		pcs[0] = pc;
		pcs[n++] = CPUPROF__FRAME_NO_STACK_BOUNDS;
	}
	/* side_push marks a stack cut at CPUPROF__SIDE_DEPTH when told there is more. */
	if (cpuprof__side_push(ls, tag, now, tid, weight, pcs, n + (size_t)more) != 0) {
		atomic_fetch_add_explicit(&cpuprof__g.lost[loss], weight, memory_order_relaxed);
	}
}

/* Records one sample of `weight` for thread slot `t` (NULL: a thread we do not know). */
static void record(struct cpuprof__logset *ls, struct cpuprof__thread *t, uint64_t weight,
		   const ucontext_t *uc)
{
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	int32_t tid = t ? atomic_load_explicit(&t->tid, memory_order_relaxed)
			: (int32_t)syscall(SYS_gettid);
	const void *tag = cpuprof__labels_current();
	uint64_t now = now_ns();

	/* Stack bounds: hi is stored last by the resolver (release), so load it first. */
	uintptr_t hi = t ? atomic_load_explicit(&t->stack_hi, memory_order_acquire) : 0;
	uintptr_t lo = t ? atomic_load_explicit(&t->stack_lo, memory_order_relaxed) : 0;
	int walk = hi != 0 && sp >= lo && sp < hi;
	if (!walk && t) {
		/* Publish the SP once so the reader can find this thread's stack mapping. */
		uintptr_t zero = 0;
		if (atomic_compare_exchange_strong_explicit(&t->seen_sp, &zero, sp,
							     memory_order_release,
							     memory_order_relaxed)) {
			cpuprof__note_wake(&ls->note);
		}
	}

	uint32_t hint = t ? (uint32_t)(t - cpuprof__threads) : (uint32_t)(sp >> 16);
	struct cpuprof__ring *r = cpuprof__ring_claim(ls, hint);
	if (!r) {
		/* Every ring is held by another handler: the side path. */
		side_record(ls, tag, now, tid, weight, pc, fp, sp, lo, hi, walk,
			    CPUPROF__LOSS_SIDE_FULL);
		return;
	}

	uint64_t *stk = r->scratch;
	size_t max = ls->max_depth;
	size_t n;
	if (walk) {
		int more = 0;
		n = cpuprof__unwind_fp(pc, fp, sp, lo, hi, stk, max, &more);
		if (more) {
			stk[n++] = CPUPROF__FRAME_TRUNCATED; /* keep the leaf end, mark the cut */
		}
	} else {
		stk[0] = pc;
		stk[1] = CPUPROF__FRAME_NO_STACK_BOUNDS;
		n = 2;
	}
	if (pc == 0) {
		stk[0] = CPUPROF__FRAME_LOST_UNWIND;
		n = 1;
	}
	cpuprof__side_drain(ls, r);
	uint64_t hdr[CPUPROF__HDR_WORDS] = {weight, (uint64_t)(uint32_t)tid};
	cpuprof__profbuf_write(r->buf, tag, now, hdr, CPUPROF__HDR_WORDS, stk, n, weight);
	atomic_fetch_add_explicit(&r->samples, weight, memory_order_relaxed);
	cpuprof__ring_release(r);
}

void cpuprof__sigprof_handler(int sig, siginfo_t *si, void *ucv)
{
	int saved_errno = errno;
	/* seq_cst increment, then seq_cst load of run: pairs with sampler_stop's seq_cst
	 * store of run = 0 followed by its wait for inflight == 0. Either we see run == 0,
	 * or stop sees us in flight and waits, so the logset is never freed under us. */
	atomic_fetch_add(&cpuprof__g.inflight, 1);
	uint32_t run = atomic_load(&cpuprof__g.run);
	struct cpuprof__thread *t = NULL;
	uint64_t weight = 1;
	int ours = 0;

	switch (si->si_code) {
	case SI_TIMER:
	case SI_QUEUE: /* tests and benchmarks queue signals carrying a real cookie */
		t = cookie_slot((uint64_t)(uintptr_t)si->si_value.sival_ptr, run, &ours);
		if (t && si->si_code == SI_TIMER && si->si_overrun > 0) {
			/* CPU timers fire on the scheduler tick: expirations that were due
			 * since the last one are reported as overruns and weighted in. */
			weight += (uint64_t)si->si_overrun;
		}
		break;
	case POLL_IN:
	case POLL_HUP:
		if (si->si_fd >= 0 && si->si_fd < CPUPROF__MAX_FDS && cpuprof__fd_cookie) {
			uint64_t v = atomic_load_explicit(&cpuprof__fd_cookie[si->si_fd],
							  memory_order_acquire);
			t = cookie_slot(v, run, &ours);
			/* An fd number is reused once its event is closed: a signal still
			 * pending from the old event would name the new event's slot. The
			 * event signals its own thread, so the slot must be this thread's. */
			if (t && t != cpuprof__tls_slot &&
			    atomic_load_explicit(&t->tid, memory_order_relaxed) !=
				    (int32_t)syscall(SYS_gettid)) {
				t = NULL;
			}
			if (t && atomic_exchange_explicit(&t->perf_first, 0,
							  memory_order_relaxed)) {
				/* The first period was a random fraction of one; from now
				 * on, the full period (see clock.c). */
				uint64_t period = (uint64_t)cpuprof__g.period_ns;
				syscall(SYS_ioctl, si->si_fd, PERF_EVENT_IOC_PERIOD, &period);
			}
			if (t) {
				/* The kernel throttles perf events past its sample-rate limit and
				 * samples only user mode here, so a signal may stand for several
				 * expirations of the period, as a CPU timer's overrun does: count
				 * the expiry points (first at the random offset, then every period,
				 * in the thread's CPU time) that passed since the last signal. One
				 * syscall per sample reads the thread's CPU clock. A signal more
				 * than half a period early (clock skew) stands for none. */
				struct timespec ts;
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
				int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
				int64_t p = cpuprof__g.period_ns;
				int64_t late = now - t->next_due_ns;
				if (late < -p / 2) {
					weight = 0;
				} else {
					weight = late > 0 ? 1 + (uint64_t)(late / p) : 1;
					t->next_due_ns += (int64_t)weight * p;
				}
				if (weight == 0) {
					goto out;
				}
			}
		}
		break;
	case SI_KERNEL:
		/* The process-wide ITIMER_PROF fallback: only for threads without a timer
		 * of their own, so no CPU time is counted twice. */
		if (run != 0 && atomic_load_explicit(&cpuprof__g.itimer_on, memory_order_relaxed)) {
			ours = 1;
			/* The TLS link exists only for threads that registered themselves;
			 * others (found by a rescan) are looked up by tid. Raw-clone threads
			 * share their creator's TLS, so the tid decides. */
			int32_t tid = (int32_t)syscall(SYS_gettid);
			struct cpuprof__thread *self = cpuprof__tls_slot;
			if (!self || atomic_load_explicit(&self->tid, memory_order_relaxed) != tid) {
				self = cpuprof__thread_find(tid);
			}
			if (self && atomic_load_explicit(&self->armed_run, memory_order_relaxed) ==
					    run) {
				atomic_fetch_add_explicit(&cpuprof__g.itimer_skip, 1,
							  memory_order_relaxed);
				goto out;
			}
			t = self;
			goto accept;
		}
		break;
	default:
		break;
	}
	if (!t) {
		if (ours) {
			atomic_fetch_add_explicit(&cpuprof__g.stale, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&cpuprof__g.foreign, 1, memory_order_relaxed);
			atomic_fetch_sub(&cpuprof__g.inflight, 1);
			errno = saved_errno;
			forward(sig, si, ucv);
			return;
		}
		goto out;
	}

accept:;
	struct cpuprof__logset *ls = atomic_load_explicit(&cpuprof__g.log, memory_order_acquire);
	if (!ls) {
		goto out;
	}
	atomic_fetch_add_explicit(&cpuprof__g.signals, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cpuprof__g.weight, weight, memory_order_relaxed);
	if (t) {
		atomic_fetch_add_explicit(&t->weight_sum, weight, memory_order_relaxed);
	}
	if (t && atomic_exchange_explicit(&t->in_handler, 1, memory_order_acquire)) {
		/* Re-entered on this thread (a handler of ours below us on the stack): the
		 * ring path is not ours to use, the side buffer is. */
		const ucontext_t *uc = (const ucontext_t *)ucv;
		uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
		uintptr_t hi = atomic_load_explicit(&t->stack_hi, memory_order_acquire);
		uintptr_t lo = atomic_load_explicit(&t->stack_lo, memory_order_relaxed);
		side_record(ls, cpuprof__labels_current(), now_ns(),
			    atomic_load_explicit(&t->tid, memory_order_relaxed), weight,
			    (uintptr_t)uc->uc_mcontext.gregs[REG_RIP],
			    (uintptr_t)uc->uc_mcontext.gregs[REG_RBP], sp, lo, hi,
			    hi != 0 && sp >= lo && sp < hi, CPUPROF__LOSS_REENTERED);
		goto out;
	}
	record(ls, t, weight, (const ucontext_t *)ucv);
	if (t) {
		atomic_store_explicit(&t->in_handler, 0, memory_order_release);
	}
out:
	atomic_fetch_sub(&cpuprof__g.inflight, 1);
	errno = saved_errno;
}
