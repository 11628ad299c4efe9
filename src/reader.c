/*
 * reader: drains the rings of the running sampler into the open sessions (see reader.h).
 *
 * The loop: read every ring without blocking and fold what it returns; every 100 ms
 * resolve stack bounds that handlers asked for and rescan /proc/self/task for threads
 * made without pthread_create (and threads that are gone); when every ring is empty, mark
 * the reader as sleeping in each (profbuf prepare_sleep) and sleep on the shared note, so
 * a writer that publishes past half a ring, overflows, or a close wakes it with no lost
 * wake-up. It exits once every ring reports EOF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frames.h"
#include "reader.h"
#include "service.h"

static pthread_mutex_t sess_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sess_cv = PTHREAD_COND_INITIALIZER;
static struct cpuprof__session *sessions;
static pthread_t reader_thread;
static int reader_running;

/* tid -> thread name, filled by the reader when it first sees a tid. */
#define NAME_BUCKETS 512
struct name_node {
	struct name_node *next;
	int32_t tid;
	char name[17];
};
static struct name_node *names[NAME_BUCKETS];
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;

int64_t cpuprof__now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void learn_name(int32_t tid)
{
	if (tid <= 0) {
		return;
	}
	unsigned b = (unsigned)tid % NAME_BUCKETS;
	pthread_mutex_lock(&names_mu);
	for (struct name_node *n = names[b]; n; n = n->next) {
		if (n->tid == tid) {
			pthread_mutex_unlock(&names_mu);
			return;
		}
	}
	pthread_mutex_unlock(&names_mu);
	struct name_node *n = calloc(1, sizeof(*n));
	if (!n) {
		return;
	}
	n->tid = tid;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(n->name, sizeof(n->name), f)) {
			n->name[strcspn(n->name, "\n")] = 0;
		}
		fclose(f);
	}
	pthread_mutex_lock(&names_mu);
	n->next = names[b];
	names[b] = n;
	pthread_mutex_unlock(&names_mu);
}

const char *cpuprof__thread_name(void *ctx, int32_t tid)
{
	(void)ctx;
	const char *r = NULL;
	pthread_mutex_lock(&names_mu);
	for (struct name_node *n = names[(unsigned)tid % NAME_BUCKETS]; n; n = n->next) {
		if (n->tid == tid) {
			r = n->name[0] ? n->name : NULL;
			break;
		}
	}
	pthread_mutex_unlock(&names_mu);
	return r;
}

/* Folds one batch of whole records into every attached session. Caller holds sess_mu. */
static void fold(const uint64_t *data, size_t ndata, const void *const *tags, size_t ntags)
{
	size_t i = 0, k = 0;
	while (i < ndata && k < ntags) {
		uint64_t len = data[i];
		if (len < 2 + CPUPROF__HDR_WORDS || i + len > ndata) {
			break; /* cannot happen with a sound profbuf; never read past the view */
		}
		const uint64_t *hdr = &data[i + 2];
		const uint64_t *stk = &data[i + 2 + CPUPROF__HDR_WORDS];
		size_t nstk = (size_t)(len - 2 - CPUPROF__HDR_WORDS);
		const struct cpuprof__labelset *labels = tags[k];
		int64_t count = (int64_t)hdr[0];
		int32_t tid = (int32_t)(uint32_t)hdr[1];
		uint64_t lost_frame = CPUPROF__FRAME_LOST_OVERFLOW;
		if (hdr[0] == 0 && nstk == 1) {
			/* An overflow record: stk[0] lost samples (weighted). */
			count = (int64_t)stk[0];
			stk = &lost_frame;
			tid = 0;
			labels = NULL;
		}
		learn_name(tid);
		for (struct cpuprof__session *s = sessions; s; s = s->next) {
			(void)cpuprof__stacktab_add(s->tab, stk, nstk, labels, tid, count);
		}
		i += len;
		k++;
	}
}

/* One non-blocking pass over every ring. Returns the number of rings at EOF, and sets
 * *got when any data was folded. */
static uint32_t drain(struct cpuprof__logset *ls, int *got)
{
	uint32_t eofs = 0;
	for (uint32_t r = 0; r < ls->nrings; r++) {
		for (;;) {
			const uint64_t *data;
			const void *const *tags;
			size_t nd = 0, nt = 0;
			int rc = cpuprof__profbuf_read(ls->rings[r].buf, CPUPROF__PROFBUF_NONBLOCKING,
						       &data, &nd, &tags, &nt);
			if (nd) {
				pthread_mutex_lock(&sess_mu);
				fold(data, nd, tags, nt);
				pthread_mutex_unlock(&sess_mu);
				*got = 1;
			}
			if (rc != 0) {
				eofs++; /* EOF, or a corrupt ring we stop reading */
				break;
			}
			if (nd == 0) {
				break;
			}
		}
	}
	return eofs;
}

static void session_link(struct cpuprof__session *s);

static void *reader_main(void *arg)
{
	struct cpuprof__logset *ls = arg;
	int64_t next_scan = 0;
	for (;;) {
		/* Sessions that asked to end before this pass (end_requested 1 -> 2) are
		 * detached after it: the pass drains everything written before they asked. */
		pthread_mutex_lock(&sess_mu);
		for (struct cpuprof__session *s = sessions; s; s = s->next) {
			if (s->end_requested == 1) {
				s->end_requested = 2;
			}
		}
		pthread_mutex_unlock(&sess_mu);

		int got = 0;
		uint32_t eofs = drain(ls, &got);

		pthread_mutex_lock(&sess_mu);
		int ended = 0;
		for (struct cpuprof__session **p = &sessions; *p;) {
			struct cpuprof__session *s = *p;
			if (s->end_requested == 2) {
				*p = s->next;
				s->next = NULL;
				s->ended = 1;
				ended = 1;
				if (s->successor) {
					session_link(s->successor);
				}
			} else {
				p = &s->next;
			}
		}
		if (ended) {
			pthread_cond_broadcast(&sess_cv);
		}
		pthread_mutex_unlock(&sess_mu);

		if (eofs == ls->nrings) {
			break;
		}
		int64_t now = cpuprof__now_ns(CLOCK_MONOTONIC);
		cpuprof__threads_resolve_bounds();
		if (now >= next_scan && atomic_load(&cpuprof__g.run) != 0) {
			cpuprof__threads_rescan();
			next_scan = now + 100000000;
		}
		if (got) {
			continue;
		}
		int busy = 0;
		for (uint32_t r = 0; r < ls->nrings && !busy; r++) {
			busy = cpuprof__profbuf_prepare_sleep(ls->rings[r].buf);
		}
		if (!busy) {
			/* Timed, so rescans and session ends are served even when idle. */
			cpuprof__note_sleep(&ls->note, 50000000);
		}
	}
	return NULL;
}

int cpuprof__reader_start(struct cpuprof__logset *ls)
{
	/* The reader blocks the host's signals (service.h): they are not for it. */
	sigset_t mask, old;
	cpuprof__service_sigmask(&mask);
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	int rc = pthread_create(&reader_thread, NULL, reader_main, ls);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		return CPUPROF_ETHREAD;
	}
	reader_running = 1;
	return 0;
}

void cpuprof__reader_join(void)
{
	if (reader_running) {
		pthread_join(reader_thread, NULL);
		reader_running = 0;
	}
}

static struct cpuprof__session *session_new(void)
{
	struct cpuprof__session *s = calloc(1, sizeof(*s));
	if (!s) {
		return NULL;
	}
	s->tab = cpuprof__stacktab_new();
	if (!s->tab) {
		free(s);
		return NULL;
	}
	return s;
}

/* Links s into the list and stamps the start of its window. sess_mu held. */
static void session_link(struct cpuprof__session *s)
{
	s->start_wall_ns = cpuprof__now_ns(CLOCK_REALTIME);
	s->start_mono_ns = cpuprof__now_ns(CLOCK_MONOTONIC);
	s->start_cpu_ns = cpuprof__now_ns(CLOCK_PROCESS_CPUTIME_ID);
	s->signals_base = atomic_load(&cpuprof__g.signals);
	for (int i = 0; i < CPUPROF__LOSS_COUNT; i++) {
		s->lost_base[i] = atomic_load(&cpuprof__g.lost[i]);
	}
	s->next = sessions;
	sessions = s;
}

struct cpuprof__session *cpuprof__session_attach(void)
{
	struct cpuprof__session *s = session_new();
	if (s) {
		pthread_mutex_lock(&sess_mu);
		session_link(s);
		pthread_mutex_unlock(&sess_mu);
	}
	return s;
}

void cpuprof__session_finish(struct cpuprof__session *s)
{
	static const uint64_t frame_of[CPUPROF__LOSS_COUNT] = {
		[CPUPROF__LOSS_REENTERED] = CPUPROF__FRAME_LOST_REENTERED,
		[CPUPROF__LOSS_SIDE_FULL] = CPUPROF__FRAME_LOST_SIDE_FULL,
	};
	s->signals_end = atomic_load(&cpuprof__g.signals);
	s->end_cpu_ns = cpuprof__now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < CPUPROF__LOSS_COUNT; i++) {
		uint64_t d = atomic_load(&cpuprof__g.lost[i]) - s->lost_base[i];
		s->lost_base[i] += d;
		if (d) {
			(void)cpuprof__stacktab_add(s->tab, &frame_of[i], 1, NULL, 0, (int64_t)d);
		}
	}
}

struct cpuprof__session *cpuprof__session_rotate(struct cpuprof__session *s)
{
	struct cpuprof__session *n = session_new();
	if (!n) {
		return NULL;
	}
	n->run = s->run;
	pthread_mutex_lock(&sess_mu);
	s->successor = n;
	if (!reader_running) {
		session_link(n);
	}
	pthread_mutex_unlock(&sess_mu);
	cpuprof__session_detach(s);
	return n;
}

void cpuprof__session_detach(struct cpuprof__session *s)
{
	pthread_mutex_lock(&sess_mu);
	if (reader_running) {
		s->end_requested = 1;
		pthread_mutex_unlock(&sess_mu);
		struct cpuprof__logset *ls = atomic_load(&cpuprof__g.log);
		if (ls) {
			cpuprof__note_wake(&ls->note);
		}
		pthread_mutex_lock(&sess_mu);
		while (!s->ended) {
			pthread_cond_wait(&sess_cv, &sess_mu);
		}
	} else {
		for (struct cpuprof__session **p = &sessions; *p; p = &(*p)->next) {
			if (*p == s) {
				*p = s->next;
				break;
			}
		}
		s->ended = 1;
	}
	pthread_mutex_unlock(&sess_mu);
	cpuprof__session_finish(s);
}

void cpuprof__sessions_end_all(void)
{
	pthread_mutex_lock(&sess_mu);
	while (sessions) {
		struct cpuprof__session *s = sessions;
		sessions = s->next;
		s->next = NULL;
		s->ended = 1;
	}
	pthread_cond_broadcast(&sess_cv);
	pthread_mutex_unlock(&sess_mu);
}

void cpuprof__sessions_forget(void)
{
	pthread_mutex_init(&sess_mu, NULL);
	pthread_cond_init(&sess_cv, NULL);
	pthread_mutex_init(&names_mu, NULL);
	sessions = NULL;
	reader_running = 0;
}

struct cpuprof__stacktab *cpuprof__session_snapshot(struct cpuprof__session *s)
{
	struct cpuprof__stacktab *t = cpuprof__stacktab_new();
	if (!t) {
		return NULL;
	}
	pthread_mutex_lock(&sess_mu);
	int rc = cpuprof__stacktab_merge(t, s->tab);
	pthread_mutex_unlock(&sess_mu);
	if (rc != 0) {
		cpuprof__stacktab_free(t);
		return NULL;
	}
	return t;
}

void cpuprof__session_free(struct cpuprof__session *s)
{
	if (s) {
		cpuprof__stacktab_free(s->tab);
		free(s);
	}
}
