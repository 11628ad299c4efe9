/*
 * The ring pool under concurrent writers, with exact accounting: every sample written is
 * either read back (intact), counted in an overflow record, or counted as lost because the
 * side buffer was full: read + overflowed + lost == written. Few rings and tiny buffers
 * force every path (ring held, side buffer, overflow) to be taken.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core.h"

#define WRITERS 4
#define PER_WRITER 200000

static struct cpuprof__logset *ls;
static _Atomic uint64_t lost, via_side, via_ring;
static _Atomic int writers_done;

static void *writer(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	uint64_t stk[8];
	for (uint64_t seq = 0; seq < PER_WRITER; seq++) {
		size_t n = 1 + (size_t)(seq % 6);
		for (size_t i = 0; i < n; i++) {
			stk[i] = 0x10000 + id * 0x1000000 + seq * 8 + i; /* checkable content */
		}
		struct cpuprof__ring *r = cpuprof__ring_claim(ls, (uint32_t)id);
		if (r) {
			cpuprof__side_drain(ls, r);
			uint64_t hdr[CPUPROF__HDR_WORDS] = {1, id};
			cpuprof__profbuf_write(r->buf, NULL, seq, hdr, CPUPROF__HDR_WORDS, stk, n, 1);
			atomic_fetch_add(&via_ring, 1);
			cpuprof__ring_release(r);
		} else if (cpuprof__side_push(ls, NULL, seq, (int32_t)id, 1, stk, n) == 0) {
			atomic_fetch_add(&via_side, 1);
		} else {
			atomic_fetch_add(&lost, 1);
		}
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

static uint64_t got, overflowed, bad;

static void consume(const uint64_t *d, size_t nd, size_t nt)
{
	size_t i = 0, k = 0;
	while (i < nd) {
		uint64_t len = d[i];
		REQUIRE(len >= 2 + CPUPROF__HDR_WORDS && i + len <= nd);
		const uint64_t *hdr = &d[i + 2], *stk = &d[i + 2 + CPUPROF__HDR_WORDS];
		size_t n = (size_t)len - 2 - CPUPROF__HDR_WORDS;
		if (hdr[0] == 0 && n == 1) {
			overflowed += stk[0];
		} else {
			uint64_t id = hdr[1], seq = d[i + 1];
			for (size_t j = 0; j < n; j++) {
				if (stk[j] != 0x10000 + id * 0x1000000 + seq * 8 + j) {
					bad++;
				}
			}
			got += hdr[0];
		}
		i += len;
		k++;
	}
	CHECK_EQ(k, nt);
}

static void drain_all(void)
{
	for (uint32_t r = 0; r < ls->nrings; r++) {
		for (;;) {
			const uint64_t *d;
			const void *const *t;
			size_t nd = 0, nt = 0;
			int rc = cpuprof__profbuf_read(ls->rings[r].buf, CPUPROF__PROFBUF_NONBLOCKING,
						       &d, &nd, &t, &nt);
			consume(d, nd, nt);
			if (rc != 0 || nd == 0) {
				break;
			}
		}
	}
}

int main(void)
{
	/* 2 rings of 256 words for 4 writers: rings are often held and often full. */
	ls = cpuprof__logset_new(2, 64, 256);
	REQUIRE(ls != NULL);
	pthread_t th[WRITERS];
	for (uintptr_t i = 0; i < WRITERS; i++) {
		REQUIRE(pthread_create(&th[i], NULL, writer, (void *)i) == 0);
	}
	while (atomic_load(&writers_done) < WRITERS) {
		drain_all();
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
	}
	/* What the writers left in the side buffer goes into a ring, as at stop. */
	struct cpuprof__ring *r = cpuprof__ring_claim(ls, 0);
	REQUIRE(r != NULL);
	cpuprof__side_drain(ls, r);
	cpuprof__ring_release(r);
	for (uint32_t i = 0; i < ls->nrings; i++) {
		cpuprof__profbuf_close(ls->rings[i].buf);
	}
	drain_all();
	drain_all();

	uint64_t written = (uint64_t)WRITERS * PER_WRITER;
	fprintf(stderr, "written %llu: read %llu, overflowed %llu, side-full lost %llu "
			"(ring %llu, side %llu)\n",
		(unsigned long long)written, (unsigned long long)got,
		(unsigned long long)overflowed, (unsigned long long)atomic_load(&lost),
		(unsigned long long)atomic_load(&via_ring), (unsigned long long)atomic_load(&via_side));
	CHECK_EQ(got + overflowed + atomic_load(&lost), written);
	CHECK_EQ(bad, 0);
	CHECK_EQ(atomic_load(&ls->side_ready), 0);
	CHECK(got > 0);
	cpuprof__logset_free(ls);
	return check_exit();
}
