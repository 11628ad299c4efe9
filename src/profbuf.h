/*
 * profbuf: the lock-free log between the SIGPROF handler (writer) and the reader thread.
 * A C11-atomics port of the Go runtime's profBuf (runtime/profbuf.go); profbuf_impl.h
 * carries the full specification on the type. profbuf.c (write and read sides) is signal
 * path code; profbuf_alloc.c (new, free) allocates and is not. One buffer has exactly one
 * writer at a time and exactly one reader; the signal path gets a writer's exclusivity from
 * the ring pool (logset.c), which hands each handler a ring that no other handler holds.
 */
#ifndef CPUPROF_PROFBUF_H
#define CPUPROF_PROFBUF_H

#include <stddef.h>
#include <stdint.h>

#include "note.h"

struct cpuprof__profbuf;

enum cpuprof__profbuf_mode {
	CPUPROF__PROFBUF_BLOCKING = 0,
	CPUPROF__PROFBUF_NONBLOCKING = 1,
};

/*
 * Allocates a buffer whose records have `hdrsize` header words (1..8). `bufwords` and
 * `tags` are raised to the minimum and rounded up to powers of two (both < 2^28).
 * `wake` is the note the writer wakes the reader with; NULL gives the buffer its own.
 * Several buffers may share one note (the reader sleeps once for all of them).
 * Returns NULL when out of memory or a size is too large. Not async-signal-safe.
 */
struct cpuprof__profbuf *cpuprof__profbuf_new(int hdrsize, size_t bufwords, size_t tags,
					      struct cpuprof__note *wake);
/* Frees `b` (NULL is fine). Only after its writer and reader stopped. Not async-signal-safe. */
void cpuprof__profbuf_free(struct cpuprof__profbuf *b);

/*
 * Appends the record [len, now, hdr[0..nhdr) zero-padded to hdrsize, stk[0..nstk)] with one
 * tag. When it does not fit, the write is counted as `lost` lost samples in the pending
 * overflow (Go counts 1 per write; cpuprof passes the sample's weight so that lost CPU time
 * stays exact), and the next write that fits both emits the overflow record first.
 * The pending count saturates at 2^32-1; a `lost` of 0 counts as 1, so no dropped write
 * goes unrecorded. Header words past hdrsize are ignored (Go: a fatal misuse).
 * The caller must be the only writer of `b` for the duration of the call.
 * Async-signal-safe: no locks, no allocation, no libc calls except a futex wake.
 */
void cpuprof__profbuf_write(struct cpuprof__profbuf *b, const void *tag, uint64_t now,
			    const uint64_t *hdr, size_t nhdr, const uint64_t *stk, size_t nstk,
			    uint64_t lost);

/*
 * Returns the next whole records as a view into the ring: *data / *ndata words and
 * *tags / *ntags tags (one per record). The view is valid until the next read on `b`,
 * which gives the space back to the writer. Returns 1 at EOF (closed, drained and no
 * overflow pending), else 0; in non-blocking mode *ndata may be 0. Blocking mode sleeps on
 * the buffer's note until data reaches half the ring, an overflow, or close.
 * Returns -1 if the buffer is corrupt (a consistency check that Go makes fatal failed:
 * tag and data out of sync, or an invalid record size); the caller counts it and stops
 * reading that buffer: every later read returns -1 too. NULL reads as EOF.
 * An overflow record is [2+hdrsize+1, time of first loss, 0 x hdrsize, count] with a NULL
 * tag; records, overflow records included, come in write order. Only the reader may call
 * this. Not async-signal-safe.
 */
int cpuprof__profbuf_read(struct cpuprof__profbuf *b, enum cpuprof__profbuf_mode mode,
			  const uint64_t **data, size_t *ndata, const void *const **tags,
			  size_t *ntags);

/*
 * For a reader that sleeps on one note shared by several buffers: marks the reader as
 * sleeping in `b` if `b` has nothing to read (no data, no pending overflow, not closed), with
 * the same CAS on the write index as a blocking read, so no wake-up is lost. An extra flag
 * with nothing behind it is acknowledged, as read does. Returns 0 if the mark was set (the
 * reader may sleep on the note after marking every buffer; the writer wakes it when data
 * reaches half the ring, on overflow, or at close), or 1 if there is something to read (do
 * not sleep). A corrupt buffer returns 0: nothing more will come from it.
 * Only the reader may call this, and only after a read that returned no data.
 * Not async-signal-safe.
 */
int cpuprof__profbuf_prepare_sleep(struct cpuprof__profbuf *b);

/* Marks the end of writing and wakes the reader; later reads drain, then report EOF.
 * A second close is a no-op. Called by the controlling thread after all writers stopped.
 * Async-signal-safe. */
void cpuprof__profbuf_close(struct cpuprof__profbuf *b);

/* The data ring's length in words, and the bytes allocated for the buffer (struct and both
 * rings), for statistics. Async-signal-safe. */
size_t cpuprof__profbuf_words(const struct cpuprof__profbuf *b);
size_t cpuprof__profbuf_memory(const struct cpuprof__profbuf *b);

#endif
