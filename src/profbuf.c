/*
 * profbuf: the writer (SIGPROF handler) and reader (drain thread) sides of the profile
 * buffer, a port of Go's runtime/profbuf.go. The specification is the comment on struct
 * cpuprof__profbuf in profbuf_impl.h. This file is in the signal-path object library:
 * it calls nothing but the note (a futex wake, and a futex wait on the reader side), and
 * its copy loops are kept from being turned into memcpy/memset calls.
 */
#include "profbuf_impl.h"

#include <stdbool.h>

#define SLEEPING CPUPROF__PROFBUF_SLEEPING
#define EXTRA CPUPROF__PROFBUF_EXTRA
#define TAG_MASK ((UINT32_C(1) << 30) - 1)

/* The one tag of an overflow record the reader synthesizes. */
static const void *const overflow_tag[1] = {NULL};

/*
 * Hides the loop counter from the optimizer, so that gcc and clang do not recognise a
 * copy or clear loop and replace it with a call to memcpy or memset, which the signal path
 * may not make. The loops are a few dozen words long.
 */
#define OPAQUE(x) __asm__("" : "+r"(x))

static void copy_words(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		OPAQUE(i);
		dst[i] = src[i];
	}
}

static void zero_words(uint64_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		OPAQUE(i);
		dst[i] = 0;
	}
}

static uint32_t data_count(uint64_t x)
{
	return (uint32_t)x;
}

static uint32_t tag_count(uint64_t x)
{
	return (uint32_t)(x >> 34);
}

/*
 * x - y for two data counts or two tag counts that are less than 2^29 apart: the
 * difference mod 2^32 sign-extended from bit 29 (tag counts wrap at 2^30).
 */
static int32_t count_sub(uint32_t x, uint32_t y)
{
	uint32_t d = (x - y) & TAG_MASK;
	if (d & (UINT32_C(1) << 29)) {
		return (int32_t)d - (int32_t)(UINT32_C(1) << 30);
	}
	return (int32_t)d;
}

/* x plus `data` words and `tags` tags, with both flag bits cleared. */
static uint64_t add_counts_clear_flags(uint64_t x, uint32_t data, uint32_t tags)
{
	uint64_t t = (uint64_t)((tag_count(x) + tags) & TAG_MASK);
	return t << 34 | (uint64_t)(uint32_t)(data_count(x) + data);
}

static bool has_overflow(struct cpuprof__profbuf *b)
{
	/* Acquire pairs with the release store / CAS in increment_overflow. */
	return (uint32_t)atomic_load_explicit(&b->overflow, memory_order_acquire) != 0;
}

/*
 * The writer's take of the pending overflow: returns its count (0 if none, when the reader
 * took it first) and stores the time of its first loss in *time.
 */
static uint32_t take_overflow(struct cpuprof__profbuf *b, uint64_t *time)
{
	/* Acquire pairs with the release store / CAS in increment_overflow, which makes the
	 * overflow_time stored before it visible to the relaxed load below. */
	uint64_t cur = atomic_load_explicit(&b->overflow, memory_order_acquire);
	for (;;) {
		if ((uint32_t)cur == 0) {
			*time = 0;
			return 0;
		}
		uint64_t t = atomic_load_explicit(&b->overflow_time, memory_order_relaxed);
		/* Zero the count and bump the generation. Release pairs with the acquire load
		 * in increment_overflow: our load of overflow_time happens before the writer
		 * may store the next one. Success means no transition since we loaded `cur`,
		 * so `t` belongs to it. */
		uint64_t next = ((cur >> 32) + 1) << 32;
		if (atomic_compare_exchange_weak_explicit(
		        &b->overflow, &cur, next, memory_order_acq_rel, memory_order_acquire)) {
			*time = t;
			return (uint32_t)cur;
		}
	}
}

/*
 * The reader's take, only if the ring is still drained (its read position `br` is the
 * write position): returns the count (0 if it took nothing) and the time of the first loss.
 *
 * Go's reader takes the overflow whenever the w it loaded earlier showed no data, so its
 * overflow record can overtake records (even the writer's own overflow record) committed
 * since. Here the taker looks at w again after loading `overflow`, and then swaps exactly
 * the value it loaded. The acquire load of `overflow` reads the writer's store S that made
 * it (increment_overflow), so the w loaded after it includes every commit before S; and
 * while S's value stands, the writer commits nothing (with an overflow pending it must
 * take it before it writes). If the CAS succeeds, all the writer committed was read.
 */
static uint32_t reader_take_overflow(struct cpuprof__profbuf *b, uint64_t br, uint64_t *time)
{
	/* Acquire pairs with the release store / CAS in increment_overflow. */
	uint64_t cur = atomic_load_explicit(&b->overflow, memory_order_acquire);
	if ((uint32_t)cur == 0) {
		return 0;
	}
	/* Acquire pairs with the release CAS in put_record, as in read. */
	uint64_t bw = atomic_load_explicit(&b->w, memory_order_acquire);
	if (data_count(bw) != data_count(br)) {
		return 0;
	}
	uint64_t t = atomic_load_explicit(&b->overflow_time, memory_order_relaxed);
	/* As in take_overflow, but no retry with a newer value: the caller looks again. */
	if (!atomic_compare_exchange_strong_explicit(&b->overflow, &cur, ((cur >> 32) + 1) << 32,
	                                             memory_order_acq_rel, memory_order_relaxed)) {
		return 0;
	}
	*time = t;
	return (uint32_t)cur;
}

/* Adds `lost` samples lost at `now` to the pending overflow. Writer only. */
static void increment_overflow(struct cpuprof__profbuf *b, uint64_t now, uint64_t lost)
{
	uint32_t add = lost > UINT32_MAX ? UINT32_MAX : (uint32_t)lost;
	if (add == 0) {
		add = 1; /* a dropped write is never invisible */
	}
	/* Acquire pairs with the release CAS of either taker (see take_overflow). */
	uint64_t cur = atomic_load_explicit(&b->overflow, memory_order_acquire);
	for (;;) {
		uint32_t count = (uint32_t)cur;
		if (count == 0) {
			/* Nobody else changes a zero count: only this writer makes it non-zero.
			 * Store the time first; the release store publishes it to take_overflow's
			 * acquire load. */
			atomic_store_explicit(&b->overflow_time, now, memory_order_relaxed);
			atomic_store_explicit(&b->overflow, (((cur >> 32) + 1) << 32) | add,
			                      memory_order_release);
			return;
		}
		if (count == UINT32_MAX) {
			return; /* sticky: saturated, never wraps */
		}
		uint32_t sum = count > UINT32_MAX - add ? UINT32_MAX : count + add;
		/* Races with a taker zeroing the count; release pairs with its acquire. */
		if (atomic_compare_exchange_weak_explicit(
		        &b->overflow, &cur, (cur & ~(uint64_t)UINT32_MAX) | sum,
		        memory_order_release, memory_order_acquire)) {
			return;
		}
	}
}

/* Whether a record with an nstk-word stack fits, contiguously, with one tag. */
static bool can_write_record(struct cpuprof__profbuf *b, size_t nstk)
{
	/* Acquire pairs with the release store of r in read: the reader is done with the
	 * slots it gave back. w's counts change only in this writer, so relaxed suffices. */
	uint64_t br = atomic_load_explicit(&b->r, memory_order_acquire);
	uint64_t bw = atomic_load_explicit(&b->w, memory_order_relaxed);

	if (count_sub(tag_count(br), tag_count(bw)) + (int64_t)b->tags_len < 1) {
		return false;
	}
	if (nstk > b->data_len) {
		return false;
	}
	int64_t free_words = count_sub(data_count(br), data_count(bw)) + (int64_t)b->data_len;
	int64_t want = 2 + (int64_t)b->hdrsize + (int64_t)nstk;
	int64_t i = data_count(bw) & (b->data_len - 1);
	if (i + want > (int64_t)b->data_len) {
		free_words -= (int64_t)b->data_len - i; /* the tail goes to a rewind */
	}
	return free_words >= want;
}

/* Whether two records with stacks of n1 and n2 words fit, each contiguous on its own. */
static bool can_write_two_records(struct cpuprof__profbuf *b, size_t n1, size_t n2)
{
	/* Orderings as in can_write_record. */
	uint64_t br = atomic_load_explicit(&b->r, memory_order_acquire);
	uint64_t bw = atomic_load_explicit(&b->w, memory_order_relaxed);

	if (count_sub(tag_count(br), tag_count(bw)) + (int64_t)b->tags_len < 2) {
		return false;
	}
	if (n1 > b->data_len || n2 > b->data_len) {
		return false;
	}
	int64_t len = b->data_len;
	int64_t free_words = count_sub(data_count(br), data_count(bw)) + len;
	int64_t i = data_count(bw) & (b->data_len - 1);

	int64_t want = 2 + (int64_t)b->hdrsize + (int64_t)n1;
	if (i + want > len) {
		free_words -= len - i;
		i = 0;
	}
	i += want;
	free_words -= want;

	want = 2 + (int64_t)b->hdrsize + (int64_t)n2;
	if (i + want > len) {
		free_words -= len - i;
	}
	return free_words >= want;
}

/* Sets WRITE_EXTRA after overflow or eof changed, and wakes a sleeping reader once. */
static void wakeup_extra(struct cpuprof__profbuf *b)
{
	uint64_t old = atomic_load_explicit(&b->w, memory_order_relaxed);
	/* acq_rel: release pairs with the reader's acquire load of w (it then sees the
	 * overflow or eof stored before this); the RMW orders us against the reader's CAS
	 * that set SLEEPING. Clearing SLEEPING means the next one of us does not wake again. */
	while (!atomic_compare_exchange_weak_explicit(&b->w, &old, (old | EXTRA) & ~SLEEPING,
	                                              memory_order_acq_rel, memory_order_relaxed)) {
	}
	if (old & SLEEPING) {
		cpuprof__note_wake(b->wake);
	}
}

/* Stores one record, whose room the caller checked, and commits it. Writer only. */
static void put_record(struct cpuprof__profbuf *b, const void *tag, uint64_t now,
                       const uint64_t *hdr, size_t nhdr, const uint64_t *stk, size_t nstk)
{
	uint64_t bw = atomic_load_explicit(&b->w, memory_order_relaxed);
	uint32_t len = 2 + b->hdrsize + (uint32_t)nstk;

	/* The slot is NULL: the reader NULLs every slot before giving it back. */
	b->tags[tag_count(bw) & (b->tags_len - 1)] = tag;

	uint32_t wd = data_count(bw) & (b->data_len - 1);
	uint32_t skip = 0;
	if (wd + len > b->data_len) {
		b->data[wd] = 0; /* rewind marker */
		skip = b->data_len - wd;
		wd = 0;
	}
	uint64_t *d = b->data + wd;
	d[0] = len;
	d[1] = now;
	if (nhdr > b->hdrsize) {
		nhdr = b->hdrsize;
	}
	copy_words(d + 2, hdr, nhdr);
	zero_words(d + 2 + nhdr, b->hdrsize - nhdr);
	copy_words(d + 2 + b->hdrsize, stk, nstk);

	uint64_t old = atomic_load_explicit(&b->w, memory_order_relaxed);
	uint32_t half = b->data_len / 2;
	for (;;) {
		uint64_t next = add_counts_clear_flags(old, skip + len, 1);
		/* Go 1.26: below half full, keep the reader asleep. Re-loading r makes an early
		 * wake less likely; the acquire is not needed for correctness. */
		int64_t unread =
		    count_sub(data_count(next),
		              data_count(atomic_load_explicit(&b->r, memory_order_relaxed)));
		if (unread < 0) {
			unread += b->data_len;
		}
		if (unread < half) {
			next |= old & SLEEPING;
		}
		/* Release pairs with the reader's acquire load of w: the words and the tag
		 * stored above are visible once it sees the new count. The CAS only races with
		 * the reader changing flags. */
		if (atomic_compare_exchange_weak_explicit(&b->w, &old, next, memory_order_acq_rel,
		                                          memory_order_relaxed)) {
			if (unread >= half && (old & SLEEPING)) {
				cpuprof__note_wake(b->wake); /* `next` has SLEEPING clear */
			}
			return;
		}
	}
}

void cpuprof__profbuf_write(struct cpuprof__profbuf *b, const void *tag, uint64_t now,
                            const uint64_t *hdr, size_t nhdr, const uint64_t *stk, size_t nstk,
                            uint64_t lost)
{
	if (b == NULL) {
		return;
	}
	bool pending = has_overflow(b);
	if (pending && can_write_two_records(b, 1, nstk)) {
		/* Room for the overflow record and this one. The reader may take the overflow
		 * first; then we just write ours. */
		uint64_t time;
		uint64_t count = take_overflow(b, &time);
		if (count != 0) {
			put_record(b, NULL, time, NULL, 0, &count, 1);
		}
	} else if (pending || !can_write_record(b, nstk)) {
		increment_overflow(b, now, lost);
		wakeup_extra(b);
		return;
	}
	put_record(b, tag, now, hdr, nhdr, stk, nstk);
}

void cpuprof__profbuf_close(struct cpuprof__profbuf *b)
{
	if (b == NULL) {
		return;
	}
	/* Release pairs with the reader's acquire load of eof; wakeup_extra's RMW on w then
	 * carries it to a reader that looks at w. */
	if (atomic_exchange_explicit(&b->eof, 1, memory_order_release) != 0) {
		return; /* already closed */
	}
	wakeup_extra(b);
}

/* Marks the reader as sleeping on `bw` (1) or reports that w moved (0). Reader only. */
static bool set_sleeping(struct cpuprof__profbuf *b, uint64_t bw)
{
	/* acq_rel on w: ordered against every writer commit and wakeup_extra, so either
	 * they see SLEEPING and wake us, or this fails and the reader looks again. */
	return atomic_compare_exchange_strong_explicit(&b->w, &bw, bw | SLEEPING,
	                                               memory_order_acq_rel, memory_order_relaxed);
}

static bool eof_set(struct cpuprof__profbuf *b)
{
	/* Acquire pairs with the release exchange in close. */
	return atomic_load_explicit(&b->eof, memory_order_acquire) != 0;
}

/* Gives the space of the previous read back to the writer. Reader only. */
static void commit_read(struct cpuprof__profbuf *b)
{
	uint64_t prev = atomic_load_explicit(&b->r, memory_order_relaxed);
	if (prev == b->rnext) {
		return;
	}
	/* NULL the consumed tags so that the writer always stores into a NULL slot. */
	int32_t ntag = count_sub(tag_count(b->rnext), tag_count(prev));
	uint32_t ti = tag_count(prev) & (b->tags_len - 1);
	for (int32_t i = 0; i < ntag; i++) {
		b->tags[ti] = NULL;
		ti = (ti + 1) & (b->tags_len - 1);
	}
	/* Release pairs with the writer's acquire load of r: our reads of the slots and the
	 * NULLs above happen before the writer reuses them. */
	atomic_store_explicit(&b->r, b->rnext, memory_order_release);
}

int cpuprof__profbuf_read(struct cpuprof__profbuf *b, enum cpuprof__profbuf_mode mode,
                          const uint64_t **data, size_t *ndata, const void *const **tags,
                          size_t *ntags)
{
	*data = NULL;
	*ndata = 0;
	*tags = NULL;
	*ntags = 0;
	if (b == NULL) {
		return 1;
	}
	if (b->corrupt) {
		return -1;
	}
	commit_read(b);
	uint64_t br = b->rnext;

	uint64_t bw;
	int32_t num;
	for (;;) {
		/* Acquire pairs with the release CAS in put_record (ring contents) and in
		 * wakeup_extra (overflow, eof). */
		bw = atomic_load_explicit(&b->w, memory_order_acquire);
		num = count_sub(data_count(bw), data_count(br));
		if (num != 0) {
			break;
		}
		if (has_overflow(b)) {
			uint64_t time;
			uint32_t count = reader_take_overflow(b, br, &time);
			if (count == 0) {
				continue; /* data came, or the writer took it: look again */
			}
			uint64_t *o = b->overflow_buf;
			o[0] = 2 + b->hdrsize + 1;
			o[1] = time;
			zero_words(o + 2, b->hdrsize);
			o[2 + b->hdrsize] = count;
			/* rnext is unchanged: nothing to commit for this record. */
			*data = o;
			*ndata = 2 + b->hdrsize + 1;
			*tags = overflow_tag;
			*ntags = 1;
			return 0;
		}
		if (eof_set(b)) {
			return 1;
		}
		if (bw & EXTRA) {
			/* Acknowledge and look again; a failed CAS means w changed, and we look
			 * again anyway. acq_rel as for every RMW on w. */
			atomic_compare_exchange_strong_explicit(
			    &b->w, &bw, bw & ~EXTRA, memory_order_acq_rel, memory_order_relaxed);
			continue;
		}
		if (mode == CPUPROF__PROFBUF_NONBLOCKING) {
			return 0;
		}
		if (!set_sleeping(b, bw)) {
			continue;
		}
		/* Committed to sleeping. Waking clears the note, so a wake that comes after
		 * this returns is kept for the next sleep. */
		cpuprof__note_sleep(b->wake, -1);
	}

	if (num < 0 || (uint32_t)num > b->data_len) {
		b->corrupt = 1;
		return -1;
	}
	uint32_t start = data_count(br) & (b->data_len - 1);
	uint32_t tail = b->data_len - start;
	const uint64_t *d = b->data + start;
	uint32_t seg, skip = 0;
	if (d[0] == 0) {
		/* Rewind marker: the rest of the tail is unused and the record behind it
		 * starts at index 0. The writer commits both at once, so the record is in. */
		if (tail >= (uint32_t)num) {
			b->corrupt = 1;
			return -1;
		}
		skip = tail;
		d = b->data;
		seg = (uint32_t)num - tail;
	} else {
		seg = tail < (uint32_t)num ? tail : (uint32_t)num;
	}

	int32_t ntag = count_sub(tag_count(bw), tag_count(br));
	if (ntag <= 0 || (uint32_t)ntag > b->tags_len) {
		b->corrupt = 1; /* Go: "tag and data out of sync" */
		return -1;
	}
	uint32_t tstart = tag_count(br) & (b->tags_len - 1);
	uint32_t tseg = b->tags_len - tstart;
	if (tseg > (uint32_t)ntag) {
		tseg = (uint32_t)ntag;
	}

	/* Whole records, until the data segment, a rewind marker or the tag segment ends. A
	 * wrapped region therefore takes two reads. */
	uint32_t di = 0, ti = 0;
	while (di < seg && d[di] != 0 && ti < tseg) {
		if (d[di] > seg - di || d[di] < 2 + b->hdrsize) {
			b->corrupt = 1; /* Go: "invalid size" */
			return -1;
		}
		di += (uint32_t)d[di];
		ti++;
	}

	b->rnext = add_counts_clear_flags(br, skip + di, ti);
	*data = d;
	*ndata = di;
	*tags = b->tags + tstart;
	*ntags = ti;
	return 0;
}

int cpuprof__profbuf_prepare_sleep(struct cpuprof__profbuf *b)
{
	if (b == NULL || b->corrupt) {
		return 0; /* nothing will ever come from it */
	}
	for (;;) {
		/* Orderings as in read. */
		uint64_t bw = atomic_load_explicit(&b->w, memory_order_acquire);
		if (count_sub(data_count(bw), data_count(b->rnext)) != 0 || has_overflow(b) ||
		    eof_set(b)) {
			return 1;
		}
		if (bw & EXTRA) {
			/* Nothing behind the flag any more (the data or overflow it announced
			 * was read): acknowledge it as read does, and look again. */
			atomic_compare_exchange_strong_explicit(
			    &b->w, &bw, bw & ~EXTRA, memory_order_acq_rel, memory_order_relaxed);
			continue;
		}
		if (set_sleeping(b, bw)) {
			return 0;
		}
	}
}

size_t cpuprof__profbuf_words(const struct cpuprof__profbuf *b)
{
	return b->data_len;
}

size_t cpuprof__profbuf_memory(const struct cpuprof__profbuf *b)
{
	return b->alloc_bytes;
}
