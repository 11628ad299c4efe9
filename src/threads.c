/*
 * threads: the table of the process's threads, how threads get into it and leave it.
 *
 * Threads enter the table three ways: the pthread_create wrapper below registers each new
 * thread from inside it (stack bounds from pthread_getattr_np, timer armed at once if a
 * run is active, deleted by a TLS destructor at exit); the start of a run and the reader's
 * periodic rescan of /proc/self/task add threads made any other way (raw clone, runtimes
 * that bypass pthread_create); and a rescan frees the slots of threads that are gone,
 * deleting their timers. Bounds of a thread that did not register itself are found from
 * /proc/self/maps using an SP its first sample published. All of this runs in normal
 * context under one mutex; the handler only reads slots with atomic loads.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core.h"
#include "frames.h"

struct cpuprof__thread *cpuprof__threads;
_Atomic uint64_t *cpuprof__fd_cookie;
_Thread_local struct cpuprof__thread *cpuprof__tls_slot __attribute__((tls_model("initial-exec")));

static pthread_mutex_t threads_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
/* Slots [0, high_water) have ever been used. Written under the lock; the handler reads
 * it (acquire, pairing with the release store after a new slot is set up). */
_Atomic uint32_t cpuprof__threads_high;
#define high_water cpuprof__threads_high

int32_t cpuprof__gettid(void)
{
	return (int32_t)syscall(SYS_gettid);
}

void cpuprof__threads_lock(void)
{
	pthread_mutex_lock(&threads_mu);
}

void cpuprof__threads_unlock(void)
{
	pthread_mutex_unlock(&threads_mu);
}

static void thread_exit_hook(void *arg);

/* fork: the child has one thread and no timers (POSIX timers and perf events with
 * inherit=0 are not inherited). Hold the lock across fork so the table is consistent,
 * then in the child forget every slot but the forking thread's. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&threads_mu);
}
static void atfork_parent(void)
{
	pthread_mutex_unlock(&threads_mu);
}
static void atfork_child(void)
{
	struct cpuprof__thread *self = cpuprof__tls_slot;
	for (uint32_t i = 0; i < high_water; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		atomic_store(&t->armed_run, 0);
		t->has_timer = 0;
		if (t->perf_fd >= 0) {
			/* The child's copy of the parent's event fd: closing it lets the event
			 * die when the parent closes its own (else it keeps signalling the
			 * parent's thread). */
			atomic_store_explicit(&cpuprof__fd_cookie[t->perf_fd], 0,
					      memory_order_relaxed);
			close(t->perf_fd);
			t->perf_fd = -1;
		}
		if (t != self && atomic_load(&t->state) != CPUPROF__SLOT_FREE) {
			atomic_fetch_add(&t->gen, 1);
			atomic_store(&t->state, CPUPROF__SLOT_FREE);
		}
	}
	if (self) {
		atomic_store(&self->tid, cpuprof__gettid());
	}
	pthread_mutex_init(&threads_mu, NULL);
}

static void init_once(void)
{
	/* mmap, not malloc: zeroed, never freed, and outside the heap a buggy program may
	 * corrupt. */
	size_t sz = CPUPROF__MAX_THREADS * sizeof(struct cpuprof__thread);
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *q = mmap(NULL, CPUPROF__MAX_FDS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED) {
		return;
	}
	for (uint32_t i = 0; i < CPUPROF__MAX_THREADS; i++) {
		((struct cpuprof__thread *)p)[i].perf_fd = -1;
	}
	cpuprof__fd_cookie = q;
	cpuprof__threads = p;
	pthread_key_create(&exit_key, thread_exit_hook);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void cpuprof__threads_init(void)
{
	pthread_once(&threads_once, init_once);
}

struct cpuprof__thread *cpuprof__thread_get(int32_t tid)
{
	struct cpuprof__thread *free_slot = NULL;
	if (!cpuprof__threads) {
		return NULL;
	}
	for (uint32_t i = 0; i < high_water; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		if (atomic_load_explicit(&t->state, memory_order_relaxed) == CPUPROF__SLOT_FREE) {
			if (!free_slot) {
				free_slot = t;
			}
		} else if (atomic_load_explicit(&t->tid, memory_order_relaxed) == tid) {
			return t;
		}
	}
	if (!free_slot) {
		if (high_water == CPUPROF__MAX_THREADS) {
			return NULL;
		}
		free_slot = &cpuprof__threads[high_water];
	}
	struct cpuprof__thread *t = free_slot;
	atomic_store_explicit(&t->tid, tid, memory_order_relaxed);
	atomic_store_explicit(&t->stack_hi, 0, memory_order_relaxed);
	atomic_store_explicit(&t->stack_lo, 0, memory_order_relaxed);
	atomic_store_explicit(&t->seen_sp, 0, memory_order_relaxed);
	atomic_store_explicit(&t->in_handler, 0, memory_order_relaxed);
	atomic_store_explicit(&t->armed_run, 0, memory_order_relaxed);
	t->has_timer = 0;
	t->perf_fd = -1;
	t->registered_by_self = 0;
	/* Release: a handler that finds the slot by cookie or tid sees the fields above. */
	atomic_store_explicit(&t->state, CPUPROF__SLOT_LIVE, memory_order_release);
	if (t == &cpuprof__threads[high_water]) {
		atomic_store_explicit(&high_water, high_water + 1, memory_order_release);
	}
	return t;
}

void cpuprof__thread_free(struct cpuprof__thread *t)
{
	cpuprof__clock_disarm(t);
	/* The generation bump makes any signal still pending for the old occupant stale. */
	atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
	atomic_store_explicit(&t->stack_hi, 0, memory_order_relaxed);
	atomic_store_explicit(&t->state, CPUPROF__SLOT_FREE, memory_order_release);
}

static void set_bounds(struct cpuprof__thread *t, uintptr_t lo, uintptr_t hi)
{
	/* hi last, with release: the handler loads hi first (acquire), then lo. */
	atomic_store_explicit(&t->stack_hi, 0, memory_order_relaxed);
	atomic_store_explicit(&t->stack_lo, lo, memory_order_relaxed);
	atomic_store_explicit(&t->stack_hi, hi, memory_order_release);
}

struct cpuprof__thread *cpuprof__thread_register_self(void)
{
	cpuprof__threads_init();
	if (!cpuprof__threads) {
		return NULL;
	}
	uintptr_t lo = 0, hi = 0;
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		void *addr;
		size_t size;
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			lo = (uintptr_t)addr;
			hi = lo + size;
		}
		pthread_attr_destroy(&attr);
	}
	int32_t tid = cpuprof__gettid();
	cpuprof__threads_lock();
	struct cpuprof__thread *t = cpuprof__thread_get(tid);
	if (t) {
		if (hi) {
			set_bounds(t, lo, hi);
		}
		t->registered_by_self = 1;
		cpuprof__tls_slot = t;
		uint32_t run = atomic_load(&cpuprof__g.run);
		if (run && atomic_load(&t->armed_run) != run) {
			(void)cpuprof__clock_arm(t, run);
		}
	}
	cpuprof__threads_unlock();
	if (t) {
		/* The destructor runs at pthread_exit and at return from the start routine. */
		pthread_setspecific(exit_key, t);
	}
	return t;
}

void cpuprof__account_exit(struct cpuprof__thread *t)
{
	/* Only the timer engine needs this: CPU timers are checked on the scheduler tick,
	 * so a thread that exits between ticks takes its last expirations with it (a
	 * 0.5 ms thread is reached by a 250 Hz tick one time in eight). perf events fire
	 * on their own hrtimer and are not affected. */
	if (cpuprof__g.engine != CPUPROF_ENGINE_TIMER || !t->has_timer) {
		return;
	}
	/* The inflight/run protocol of the handler: the logset cannot be freed under us. */
	atomic_fetch_add(&cpuprof__g.inflight, 1);
	uint32_t run = atomic_load(&cpuprof__g.run);
	struct cpuprof__logset *ls = atomic_load(&cpuprof__g.log);
	if (run && ls && atomic_load(&t->armed_run) == run) {
		struct timespec ts;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		int64_t cpu = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - t->arm_cpu_ns;
		int64_t period = cpuprof__g.period_ns;
		int64_t missing = cpu - (int64_t)atomic_load(&t->weight_sum) * period;
		if (missing > 0) {
			/* Whole periods, plus one more with the probability of the remainder,
			 * so the expected value is exact. */
			uint64_t n = (uint64_t)(missing / period);
			if ((ts.tv_nsec * 2654435761u) % (uint64_t)period < (uint64_t)(missing % period)) {
				n++;
			}
			struct cpuprof__ring *r = n ? cpuprof__ring_claim(ls, 0) : NULL;
			if (r) {
				uint64_t stk[2] = {CPUPROF__FRAME_UNSAMPLED_EXIT, t->start_fn + 1};
				uint64_t hdr[CPUPROF__HDR_WORDS] = {n, (uint64_t)(uint32_t)atomic_load(
									   &t->tid)};
				cpuprof__profbuf_write(r->buf, NULL, (uint64_t)ts.tv_nsec, hdr,
						       CPUPROF__HDR_WORDS, stk, t->start_fn ? 2 : 1, n);
				atomic_fetch_add(&cpuprof__g.weight, n);
				cpuprof__ring_release(r);
			}
		}
	}
	atomic_fetch_sub(&cpuprof__g.inflight, 1);
}

static void thread_exit_hook(void *arg)
{
	struct cpuprof__thread *t = arg;
	int32_t tid = cpuprof__gettid();
	/* Under the lock, so neither a rescan nor a stop changes the slot meanwhile (the
	 * exit accounting only claims a ring: it never blocks on a handler). */
	cpuprof__threads_lock();
	if (cpuprof__tls_slot == t && atomic_load(&t->state) == CPUPROF__SLOT_LIVE &&
	    atomic_load(&t->tid) == tid) {
		cpuprof__account_exit(t);
		cpuprof__thread_free(t);
	}
	cpuprof__tls_slot = NULL;
	cpuprof__threads_unlock();
}

/* ---- pthread_create interposition ---- */

struct start_arg {
	void *(*fn)(void *);
	void *arg;
};

static void *start_trampoline(void *p)
{
	struct start_arg a = *(struct start_arg *)p;
	free(p);
	struct cpuprof__thread *t = cpuprof__thread_register_self();
	if (t) {
		t->start_fn = (uintptr_t)a.fn;
	}
	return a.fn(a.arg);
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				 void *);

/*
 * Exported so that a program linked with (or preloaded with) libcpuprof creates its
 * threads through us; the real pthread_create is the next definition in lookup order.
 */
CPUPROF_API int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			       void *(*fn)(void *), void *arg)
{
	static _Atomic(pthread_create_fn) real;
	pthread_create_fn f = atomic_load_explicit(&real, memory_order_acquire);
	if (!f) {
		f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
		if (!f) {
			return EAGAIN;
		}
		atomic_store_explicit(&real, f, memory_order_release);
	}
	struct start_arg *a = malloc(sizeof(*a));
	if (!a) {
		return f(thread, attr, fn, arg);
	}
	a->fn = fn;
	a->arg = arg;
	int rc = f(thread, attr, start_trampoline, a);
	if (rc != 0) {
		free(a);
	}
	return rc;
}

/* ---- rescan and bounds ---- */

/* Finds the writable mapping of /proc/self/maps that contains each seen SP. */
void cpuprof__threads_resolve_bounds(void)
{
	int pending = 0;
	for (uint32_t i = 0; i < high_water; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		if (atomic_load(&t->state) == CPUPROF__SLOT_LIVE && atomic_load(&t->seen_sp) &&
		    atomic_load(&t->stack_hi) == 0) {
			pending = 1;
		}
	}
	if (!pending) {
		return;
	}
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f) {
		return;
	}
	struct range {
		uintptr_t lo, hi;
	} *ranges = NULL;
	size_t n = 0, cap = 0;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		char perms[8];
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &lo, &hi, perms) != 3) {
			continue;
		}
		if (perms[0] != 'r' || perms[1] != 'w') {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			struct range *nr = realloc(ranges, cap * sizeof(*nr));
			if (!nr) {
				break;
			}
			ranges = nr;
		}
		ranges[n].lo = lo;
		ranges[n].hi = hi;
		n++;
	}
	fclose(f);
	cpuprof__threads_lock();
	for (uint32_t i = 0; i < high_water; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		uintptr_t sp = atomic_load(&t->seen_sp);
		if (atomic_load(&t->state) != CPUPROF__SLOT_LIVE || !sp ||
		    atomic_load(&t->stack_hi) != 0) {
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			if (sp >= ranges[k].lo && sp < ranges[k].hi) {
				set_bounds(t, ranges[k].lo, ranges[k].hi);
				break;
			}
		}
	}
	cpuprof__threads_unlock();
	free(ranges);
}

void cpuprof__threads_rescan(void)
{
	cpuprof__threads_init();
	if (!cpuprof__threads) {
		return;
	}
	DIR *d = opendir("/proc/self/task");
	if (!d) {
		return;
	}
	int32_t tids[4096];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < sizeof(tids) / sizeof(tids[0])) {
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9') {
			tids[n++] = (int32_t)atoi(de->d_name);
		}
	}
	closedir(d);
	cpuprof__threads_lock();
	/* Loaded under the lock: sampler_stop stores run = 0 before it takes the lock to
	 * disarm everything, so a rescan never arms a timer for a run that has stopped. */
	uint32_t run = atomic_load(&cpuprof__g.run);
	/* Threads that are gone: free their slots (and timers). A thread missing from the
	 * listing may simply be newer than it, so only a thread the kernel no longer knows
	 * is freed; and a thread that registered itself is freed by its own exit hook. */
	pid_t pid = getpid();
	for (uint32_t i = 0; i < high_water; i++) {
		struct cpuprof__thread *t = &cpuprof__threads[i];
		if (atomic_load(&t->state) != CPUPROF__SLOT_LIVE || t->registered_by_self) {
			continue;
		}
		int32_t tid = atomic_load(&t->tid);
		int listed = 0;
		for (size_t k = 0; k < n && !listed; k++) {
			listed = tids[k] == tid;
		}
		if (!listed && syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH) {
			cpuprof__thread_free(t);
		}
	}
	/* New threads, and known ones not yet armed for this run. */
	for (size_t k = 0; k < n; k++) {
		struct cpuprof__thread *t = cpuprof__thread_get(tids[k]);
		if (t && run && atomic_load(&t->armed_run) != run) {
			(void)cpuprof__clock_arm(t, run);
		}
	}
	cpuprof__threads_unlock();
}
