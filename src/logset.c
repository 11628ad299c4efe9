/*
 * logset: the pool of profbuf rings the handlers write into, and the side buffer.
 *
 * Handlers on different threads run at the same time, and a profbuf has one writer. A
 * handler therefore claims a whole ring with one atomic exchange, starting at a ring
 * chosen by its thread slot; if that ring is held it tries the next, and so on: no handler
 * ever waits for another. If every ring is held (more handlers in flight than rings), the
 * sample goes to the side buffer, a fixed array of entries claimed by CAS, which the next
 * handler holding a ring (or the controlling thread at stop) moves into a ring. When the
 * side buffer is full too, the sample is counted as lost. All of this is async-signal-safe
 * except cpuprof__logset_new / _free, which live in logset_alloc.c.
 */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "core.h"
#include "frames.h"

struct cpuprof__ring *cpuprof__ring_claim(struct cpuprof__logset *ls, uint32_t hint)
{
	for (uint32_t i = 0; i < ls->nrings; i++) {
		struct cpuprof__ring *r = &ls->rings[(hint + i) % ls->nrings];
		/* Acquire pairs with the release in cpuprof__ring_release: the previous
		 * writer's stores to the ring's private fields are visible to us. */
		if (atomic_load_explicit(&r->busy, memory_order_relaxed) == 0 &&
		    atomic_exchange_explicit(&r->busy, 1, memory_order_acquire) == 0) {
			return r;
		}
	}
	return NULL;
}

void cpuprof__ring_release(struct cpuprof__ring *r)
{
	atomic_store_explicit(&r->busy, 0, memory_order_release);
}

int cpuprof__side_push(struct cpuprof__logset *ls, const void *tag, uint64_t now, int32_t tid,
		       uint64_t weight, const uint64_t *pcs, size_t n)
{
	for (uint32_t i = 0; i < CPUPROF__SIDE_ENTRIES; i++) {
		struct cpuprof__side_entry *e = &ls->side[i];
		uint32_t expect = 0;
		if (!atomic_compare_exchange_strong_explicit(&e->state, &expect, 1,
							     memory_order_acquire,
							     memory_order_relaxed)) {
			continue;
		}
		size_t k = n < CPUPROF__SIDE_DEPTH ? n : CPUPROF__SIDE_DEPTH;
		for (size_t j = 0; j < k; j++) {
			e->pcs[j] = pcs[j];
		}
		if (n > CPUPROF__SIDE_DEPTH) {
			e->pcs[k++] = CPUPROF__FRAME_TRUNCATED;
		}
		e->n = (uint32_t)k;
		e->tag = tag;
		e->now = now;
		e->tid = tid;
		e->weight = weight;
		/* Release pairs with the acquire CAS 2 -> 3 in cpuprof__side_drain. */
		atomic_store_explicit(&e->state, 2, memory_order_release);
		atomic_fetch_add_explicit(&ls->side_ready, 1, memory_order_release);
		return 0;
	}
	return -1;
}

void cpuprof__side_drain(struct cpuprof__logset *ls, struct cpuprof__ring *r)
{
	if (atomic_load_explicit(&ls->side_ready, memory_order_acquire) == 0) {
		return;
	}
	for (uint32_t i = 0; i < CPUPROF__SIDE_ENTRIES; i++) {
		struct cpuprof__side_entry *e = &ls->side[i];
		uint32_t expect = 2;
		if (!atomic_compare_exchange_strong_explicit(&e->state, &expect, 3,
							     memory_order_acquire,
							     memory_order_relaxed)) {
			continue;
		}
		uint64_t hdr[CPUPROF__HDR_WORDS] = {e->weight, (uint64_t)(uint32_t)e->tid};
		cpuprof__profbuf_write(r->buf, e->tag, e->now, hdr, CPUPROF__HDR_WORDS, e->pcs,
				       e->n, e->weight);
		atomic_fetch_add_explicit(&r->samples, e->weight, memory_order_relaxed);
		atomic_fetch_sub_explicit(&ls->side_ready, 1, memory_order_relaxed);
		/* Release pairs with the acquire CAS 0 -> 1 in cpuprof__side_push. */
		atomic_store_explicit(&e->state, 0, memory_order_release);
	}
}
