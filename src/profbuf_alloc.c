/*
 * profbuf_alloc: creation and destruction of profile buffers (see profbuf_impl.h for the
 * layout). Kept out of profbuf.c because it allocates: it is called by the controlling
 * thread before the writers start and after they stopped, never in signal context.
 */
#include "profbuf_impl.h"

#include <stdlib.h>
#include <string.h>

/* The smallest power of two >= n (n < 2^28), and 1 for n == 0. */
static uint32_t pow2_ceil(size_t n)
{
	uint32_t i = 1;
	while (i < n) {
		i <<= 1;
	}
	return i;
}

struct cpuprof__profbuf *cpuprof__profbuf_new(int hdrsize, size_t bufwords, size_t tags,
                                              struct cpuprof__note *wake)
{
	if (hdrsize < 1 || hdrsize > CPUPROF__PROFBUF_MAX_HDR) {
		return NULL;
	}
	/* Room for one overflow record at least. */
	if (bufwords < (size_t)(2 + hdrsize + 1)) {
		bufwords = (size_t)(2 + hdrsize + 1);
	}
	/* Checked before rounding, as Go does: a ring of 2^28 is still fine for the 30-bit
	 * counts (distances stay below 2^29). */
	if (bufwords >= CPUPROF__PROFBUF_MAX_LEN || tags >= CPUPROF__PROFBUF_MAX_LEN) {
		return NULL;
	}
	uint32_t data_len = pow2_ceil(bufwords);
	uint32_t tags_len = pow2_ceil(tags);

	/* One block: the struct (a multiple of 64 bytes, from its _Alignas), the data ring,
	 * then the tag ring. aligned_alloc wants a size that is a multiple of the alignment. */
	size_t bytes = sizeof(struct cpuprof__profbuf) + (size_t)data_len * sizeof(uint64_t) +
	               (size_t)tags_len * sizeof(const void *);
	bytes = (bytes + 63) & ~(size_t)63;
	struct cpuprof__profbuf *b = aligned_alloc(64, bytes);
	if (b == NULL) {
		return NULL;
	}
	/* Zeroes the rings (every tag slot starts NULL) and the counters. */
	memset(b, 0, bytes);
	if (!atomic_is_lock_free(&b->w) || !atomic_is_lock_free(&b->r)) {
		free(b); /* would take a lock in the signal handler */
		return NULL;
	}
	b->hdrsize = (uint32_t)hdrsize;
	b->data_len = data_len;
	b->tags_len = tags_len;
	b->data = (uint64_t *)(b + 1);
	b->tags = (const void **)(b->data + data_len);
	b->wake = wake != NULL ? wake : &b->own_note;
	b->alloc_bytes = bytes;
	atomic_init(&b->w, 0);
	atomic_init(&b->r, 0);
	atomic_init(&b->overflow, 0);
	atomic_init(&b->overflow_time, 0);
	atomic_init(&b->eof, 0);
	atomic_init(&b->own_note.word, 0);
	return b;
}

void cpuprof__profbuf_free(struct cpuprof__profbuf *b)
{
	free(b);
}
