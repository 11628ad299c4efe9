/*
 * profbuf_impl: the layout of struct cpuprof__profbuf, shared by profbuf.c (signal path and
 * reader) and profbuf_alloc.c (allocation, outside the signal path). The unit test includes
 * it too, to watch the flag bits and to scribble on the ring in negative tests. Nothing
 * else should: everyone else goes through profbuf.h.
 */
#ifndef CPUPROF_PROFBUF_IMPL_H
#define CPUPROF_PROFBUF_IMPL_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "note.h"
#include "profbuf.h"

#define CPUPROF__PROFBUF_SLEEPING (UINT64_C(1) << 32) /* in w: the reader sleeps, wake it */
#define CPUPROF__PROFBUF_EXTRA (UINT64_C(1) << 33)    /* in w: overflow or eof published */
#define CPUPROF__PROFBUF_MAX_HDR 8
#define CPUPROF__PROFBUF_MAX_LEN (UINT32_C(1) << 28) /* exclusive bound on both lengths */

/*
 * A cpuprof__profbuf is a lock-free log of profiling events, safe for one concurrent writer
 * (the SIGPROF handler, which may interrupt anything) and one concurrent reader (the drain
 * thread). It is Go's runtime profBuf (runtime/profbuf.go, go1.26) in C11 atomics.
 *
 * Records. Each event has a fixed header of hdrsize words (1..8), a variable list of words
 * (the stack) and exactly one tag pointer (a label set, or NULL). Header and stack live in
 * the ring `data`, the tag in the parallel ring `tags`, one slot per record. A record is
 *
 *	[len, time, hdr[0..hdrsize), stk[0..nstk)]	len = 2 + hdrsize + nstk >= 3
 *
 * and is always contiguous: when it would run past the end of `data`, the writer stores a
 * single 0 word (a rewind marker; no record has length 0) where it stands and starts the
 * record at index 0, counting the skipped tail as written. The reader skips it the same way.
 *
 * Indexes. r and w pack the total number of data words and tags ever consumed / written:
 *
 *	bits 63..34: tag count, wraps at 2^30	bit 33: EXTRA (Go: profWriteExtra; w only)
 *	bit 32: SLEEPING (profReaderSleeping; w only)	bits 31..0: data count, wraps at 2^32
 *
 * The ring slot of a count is count mod length. Both lengths are powers of two, so the wrap
 * of a counter is a wrap of its ring, and both are below 2^28, so the distance between two
 * counts (at most one ring length) fits in 30 signed bits: count_sub() takes the difference
 * mod 2^32 and sign-extends it from bit 29, which is right for either counter. Committing a
 * write adds its counts and clears both flags (add_counts_clear_flags) unless the writer
 * puts SLEEPING back on purpose (see Wakeups).
 *
 * Reading is two-phase: read() returns a view into the ring and remembers its end in
 * rnext; the space goes back to the writer only at the next read(), which first NULLs the
 * consumed tag slots and then stores r = rnext. So r <= rnext <= w, and the writer only
 * ever stores a tag into a NULL slot.
 *
 * Overflow. When a record does not fit, or an overflow is already pending, the write is
 * dropped and counted in `overflow` (bits 31..0: lost-sample count, saturating at 2^32-1;
 * bits 63..32: generation) with `overflow_time`, the time of the first lost write. Only
 * the writer creates or increases the count; either side may take it, with a CAS that
 * zeroes the count and bumps the generation. The generation also moves when the count goes
 * from 0 to non-zero, so a CAS by a taker that loaded (gen, count) fails if anything
 * happened in between (no ABA). overflow_time is written only while the count is 0, before
 * the store that makes it non-zero, so a successful take returns a matching (count, time).
 * A pending overflow becomes the record [2+hdrsize+1, overflow_time, 0 x hdrsize, count]
 * with a NULL tag: the writer emits it before its next record when both fit, and the reader
 * synthesizes it (in overflow_buf) when the ring is empty. The count is in samples: the
 * writer adds its `lost` argument (Go adds 1 per write). Unlike Go, the stream stays in
 * write order: the reader takes the overflow only if w, loaded again after `overflow`,
 * still shows the ring drained (reader_take_overflow in profbuf.c says why that suffices).
 *
 * Wakeups. A reader with nothing to read sets SLEEPING with a CAS on w (from
 * read() in blocking mode or from prepare_sleep()) and then sleeps on *wake. Every writer
 * commit is a CAS on the same word, so "empty, I sleep" and "I published" are ordered: the
 * writer sees the flag, or the reader's CAS fails and it looks again. Overflow and EOF are
 * published in other words, so the writer then also sets EXTRA in w (wakeup_extra) and
 * the same argument covers them; the reader clears EXTRA once it found nothing behind it.
 * Since go1.26 the writer wakes a sleeping reader only when the unread data reaches half
 * the ring (below that it carries SLEEPING over into the new w), on overflow and at close;
 * wakeup_extra clears SLEEPING as it wakes, so that writes into a full ring do not wake the
 * reader again and again (fatal in Go; our futex note would merely take extra syscalls).
 * Several buffers may share one note: the reader marks each with prepare_sleep and sleeps
 * once; a stale SLEEPING in one of them costs at most a spurious wake-up.
 *
 * Memory ordering; each atomic names its partner in profbuf.c:
 *	ring words and tags -> reader:	plain stores, then the release CAS on w / acquire load of w
 *	reader done with slots -> writer:	release store of r / acquire load of r
 *	overflow_time -> taker:	relaxed store, release store of overflow / acquire load of
 *				overflow, relaxed load of the time, acq_rel CAS
 *	commits -> reader's take:	release store of overflow / acquire load of overflow,
 *				then acquire load of w
 *	eof -> reader:	release store, then the RMW on w / acquire load of w, acquire load of eof
 *	SLEEPING, EXTRA:	RMWs on one word (total order)
 */
struct cpuprof__profbuf {
	/* Immutable after cpuprof__profbuf_new. */
	uint32_t hdrsize;           /* header words per record, 1..8 */
	uint32_t data_len;          /* words in data, a power of two < 2^28 */
	uint32_t tags_len;          /* slots in tags, a power of two < 2^28 */
	uint64_t *data;             /* the data ring (contents written as described above) */
	const void **tags;          /* the tag ring; a slot is NULL unless in [r, w) */
	struct cpuprof__note *wake; /* the note the reader sleeps on: own_note or shared */
	size_t alloc_bytes;         /* size of the one allocation holding all of this */

	/* Both sides; on one cache line with the writer's field, which it touches on each write. */
	_Alignas(64) _Atomic uint64_t w; /* counts: CAS by the writer; flags: CAS by both */
	_Atomic uint64_t overflow;       /* gen:32 | count:32; writer adds, either side takes */
	_Atomic uint32_t eof;            /* set once by close, loaded by the reader */
	struct cpuprof__note own_note;   /* woken by the writer, cleared by the reader */

	/* Writer: stored only while the overflow count is 0; loaded by either taker. */
	_Atomic uint64_t overflow_time;

	/* Reader: r is stored by the reader and loaded by the writer; the rest is private. */
	_Alignas(64) _Atomic uint64_t r;
	uint64_t rnext; /* end of what the previous read returned (flags always clear) */
	int corrupt;    /* a consistency check failed: read returns -1 from then on */
	uint64_t overflow_buf[2 + CPUPROF__PROFBUF_MAX_HDR + 1]; /* a synthesized overflow record */
};

/* The signal path must not fall back to libatomic's locks (Go's arm/mips problem). */
#if UINT64_MAX == ULONG_MAX
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "profbuf needs lock-free 64-bit atomics");
#else
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "profbuf needs lock-free 64-bit atomics");
#endif

#endif
