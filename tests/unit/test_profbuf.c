/*
 * Unit tests for profbuf: first as a plain data structure with exact layouts (the vectors of
 * Go's runtime/profbuf_test.go), then the wake-up rules with a reader thread that is
 * provably asleep, then one writer and one reader running freely with exact accounting of
 * every sample. Threads synchronize on the buffer itself (the sleeping bit in w), never on
 * timing.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "profbuf.h"
#include "profbuf_impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define U64(...) ((const uint64_t[]){__VA_ARGS__})
#define PTRS(...) ((const void *const[]){__VA_ARGS__})

static char my_tags[100];

static void write_rec(struct cpuprof__profbuf *b, const void *tag, uint64_t now,
                      const uint64_t *hdr, size_t nhdr, const uint64_t *stk, size_t nstk)
{
	cpuprof__profbuf_write(b, tag, now, hdr, nhdr, stk, nstk, 1);
}

/* Writes with Go's argument shape: WRITE(b, tag, now, U64(hdr...), U64(stk...)). */
#define WRITE(b, tag, now, hdr, stk) write_rec(b, tag, now, hdr, N(hdr), stk, N(stk))

static void print_words(const char *what, const uint64_t *d, size_t n)
{
	fprintf(stderr, "  %s [", what);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "%s%" PRIu64, i ? " " : "", d[i]);
	}
	fprintf(stderr, "]\n");
}

static void print_tags(const char *what, const void *const *t, size_t n)
{
	fprintf(stderr, "  %s [", what);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "%s%p", i ? " " : "", t[i]);
	}
	fprintf(stderr, "]\n");
}

/* A non-blocking read must return exactly `want` and `wtags`, and not EOF. */
static void expect_read(int line, struct cpuprof__profbuf *b, const uint64_t *want, size_t nwant,
                        const void *const *wtags, size_t nwtags)
{
	const uint64_t *d;
	size_t nd, nt;
	const void *const *t;
	int rc = cpuprof__profbuf_read(b, CPUPROF__PROFBUF_NONBLOCKING, &d, &nd, &t, &nt);
	bool ok = rc == 0 && nd == nwant && nt == nwtags;
	for (size_t i = 0; ok && i < nwant; i++) {
		ok = d[i] == want[i];
	}
	for (size_t i = 0; ok && i < nwtags; i++) {
		ok = t[i] == wtags[i];
	}
	if (!ok) {
		fprintf(stderr, "%s:%d: unexpected profile read (rc %d)\n", __FILE__, line, rc);
		print_words("have data", d, nd);
		print_words("want data", want, nwant);
		print_tags("have tags", t, nt);
		print_tags("want tags", wtags, nwtags);
		check_failures++;
	}
}

#define EXPECT_READ(b, want, wtags) expect_read(__LINE__, b, want, N(want), wtags, N(wtags))
#define EXPECT_EMPTY(b) expect_read(__LINE__, b, NULL, 0, NULL, 0)

/* Both modes must report EOF with no data. */
static void expect_eof(int line, struct cpuprof__profbuf *b)
{
	static const enum cpuprof__profbuf_mode modes[] = {CPUPROF__PROFBUF_BLOCKING,
	                                                   CPUPROF__PROFBUF_NONBLOCKING};
	for (int m = 0; m < 2; m++) {
		const uint64_t *d;
		size_t nd, nt;
		const void *const *t;
		int rc = cpuprof__profbuf_read(b, modes[m], &d, &nd, &t, &nt);
		if (rc != 1 || nd != 0 || nt != 0 || d != NULL || t != NULL) {
			fprintf(stderr, "%s:%d: want EOF (mode %d), got rc %d, %zu words\n",
			        __FILE__, line, m, rc, nd);
			check_failures++;
		}
	}
}

#define EXPECT_EOF(b) expect_eof(__LINE__, b)

static struct cpuprof__profbuf *new_buf(int hdrsize, size_t words, size_t tags,
                                        struct cpuprof__note *wake)
{
	struct cpuprof__profbuf *b = cpuprof__profbuf_new(hdrsize, words, tags, wake);
	REQUIRE(b != NULL);
	return b;
}

static uint64_t w_word(struct cpuprof__profbuf *b)
{
	return atomic_load(&b->w);
}

/* ---- construction ---------------------------------------------------------------------- */

static void test_new_sizes(void)
{
	CHECK(cpuprof__profbuf_new(0, 16, 4, NULL) == NULL);
	CHECK(cpuprof__profbuf_new(9, 16, 4, NULL) == NULL);
	CHECK(cpuprof__profbuf_new(-1, 16, 4, NULL) == NULL);
	CHECK(cpuprof__profbuf_new(1, (size_t)1 << 28, 4, NULL) == NULL);
	CHECK(cpuprof__profbuf_new(1, 16, (size_t)1 << 28, NULL) == NULL);
	CHECK(cpuprof__profbuf_new(1, SIZE_MAX, 4, NULL) == NULL);

	struct cpuprof__profbuf *b = new_buf(2, 11, 5, NULL);
	CHECK_EQ(cpuprof__profbuf_words(b), 16);
	CHECK_EQ(b->tags_len, 8);
	CHECK(cpuprof__profbuf_memory(b) >= 16 * 8 + 8 * sizeof(void *) + sizeof(*b));
	CHECK(b->wake == &b->own_note);
	cpuprof__profbuf_free(b);

	/* Raised to one overflow record, 2 + hdrsize + 1 words, then rounded. */
	b = new_buf(1, 0, 0, NULL);
	CHECK_EQ(cpuprof__profbuf_words(b), 4);
	CHECK_EQ(b->tags_len, 1);
	cpuprof__profbuf_free(b);
	b = new_buf(8, 0, 0, NULL);
	CHECK_EQ(cpuprof__profbuf_words(b), 16);
	cpuprof__profbuf_free(b);

	struct cpuprof__note n = {0};
	b = new_buf(1, 64, 64, &n);
	CHECK(b->wake == &n);
	cpuprof__profbuf_free(b);
	cpuprof__profbuf_free(NULL);
}

/* ---- plain data structure: Go's TestProfBuf vectors --------------------------------------- */

static void test_basic_write_read(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 11, 1, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9));
	EXPECT_READ(b, U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[0]));
	EXPECT_EMPTY(b); /* gives back the data of the previous read */
	WRITE(b, &my_tags[2], 99, U64(101, 102), U64(201, 202, 203, 204));
	EXPECT_READ(b, U64(8, 99, 101, 102, 201, 202, 203, 204), PTRS(&my_tags[2]));
	cpuprof__profbuf_free(b);
}

/* The space of a read goes back to the writer only at the next read, and the consumed tag
 * slots are NULLed then. */
static void test_two_phase_release(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 16, 1, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4));
	EXPECT_READ(b, U64(5, 1, 2, 3, 4), PTRS(&my_tags[0]));
	CHECK(b->tags[0] == &my_tags[0]); /* still in use by the caller */
	/* The one tag slot is not free yet: this write is lost. */
	WRITE(b, &my_tags[1], 2, U64(2, 3), U64(4));
	CHECK_EQ((uint32_t)atomic_load(&b->overflow), 1);
	/* This read commits, finds the ring empty and synthesizes the overflow record. */
	EXPECT_READ(b, U64(5, 2, 0, 0, 1), PTRS(NULL));
	CHECK(b->tags[0] == NULL);
	cpuprof__profbuf_free(b);
}

static void test_read_many(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 50, 50, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9));
	WRITE(b, &my_tags[2], 99, U64(101, 102), U64(201, 202, 203, 204));
	WRITE(b, &my_tags[1], 500, U64(502, 504), U64(506));
	EXPECT_READ(b,
	            U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 99, 101, 102, 201, 202, 203, 204, 5, 500,
	                502, 504, 506),
	            PTRS(&my_tags[0], &my_tags[2], &my_tags[1]));
	EXPECT_EMPTY(b);
	cpuprof__profbuf_free(b);
}

/* Short headers are zero-padded; header words past hdrsize are ignored. NULL tags work. */
static void test_header_padding(void)
{
	struct cpuprof__profbuf *b = new_buf(3, 32, 4, NULL);
	WRITE(b, NULL, 7, U64(1), U64(9, 9));
	WRITE(b, &my_tags[4], 8, U64(1, 2, 3, 4, 5), U64(9));
	cpuprof__profbuf_write(b, NULL, 9, NULL, 0, NULL, 0, 1);
	EXPECT_READ(b, U64(7, 7, 1, 0, 0, 9, 9, 6, 8, 1, 2, 3, 9, 5, 9, 0, 0, 0),
	            PTRS(NULL, &my_tags[4], NULL));
	cpuprof__profbuf_free(b);
}

/* Overflow record emitted by the writer (Go: ReadAfterOverflow1). */
static void test_overflow_by_writer(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 16, 5, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9)); /* uses 10 */
	EXPECT_READ(b, U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[0]));
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5)); /* uses 6 */
	EXPECT_READ(b, U64(6, 1, 2, 3, 4, 5), PTRS(&my_tags[0]));
	/* Now 10 are free. No room for this one: */
	WRITE(b, &my_tags[2], 99, U64(101, 102), U64(201, 202, 203, 204, 205, 206, 207, 208, 209));
	for (int i = 0; i < 299; i++) {
		/* No room for the overflow record and this one. */
		WRITE(b, &my_tags[3], (uint64_t)(100 + i), U64(101, 102), U64(201, 202, 203, 204));
	}
	CHECK(w_word(b) & CPUPROF__PROFBUF_EXTRA);
	WRITE(b, &my_tags[1], 500, U64(502, 504), U64(506)); /* room for both */
	EXPECT_READ(b, U64(5, 99, 0, 0, 300, 5, 500, 502, 504, 506), PTRS(NULL, &my_tags[1]));
	EXPECT_EMPTY(b);
	cpuprof__profbuf_free(b);
}

/* Overflow record synthesized by the reader (Go: ReadAfterOverflow2). */
static void test_overflow_by_reader(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 16, 5, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9));
	WRITE(b, &my_tags[2], 99, U64(101, 102),
	      U64(201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213));
	for (int i = 0; i < 299; i++) {
		WRITE(b, &my_tags[3], 100, U64(101, 102), U64(201, 202, 203, 204));
	}
	EXPECT_READ(b, U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[0]));
	cpuprof__profbuf_write(b, &my_tags[1], 500, U64(502, 504), 2, NULL, 0, 1); /* lost */
	EXPECT_READ(b, U64(5, 99, 0, 0, 301), PTRS(NULL));
	WRITE(b, &my_tags[1], 500, U64(502, 505), U64(506)); /* written */
	EXPECT_READ(b, U64(5, 500, 502, 505, 506), PTRS(&my_tags[1]));
	cpuprof__profbuf_free(b);
}

/* Go: ReadAtEndAfterOverflow. */
static void test_overflow_at_end(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 12, 5, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9));
	WRITE(b, &my_tags[2], 99, U64(101, 102), U64(201, 202, 203, 204));
	for (int i = 0; i < 299; i++) {
		WRITE(b, &my_tags[3], 100, U64(101, 102), U64(201, 202, 203, 204));
	}
	EXPECT_READ(b, U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[0]));
	EXPECT_READ(b, U64(5, 99, 0, 0, 300), PTRS(NULL));
	WRITE(b, &my_tags[1], 500, U64(502, 504), U64(506));
	EXPECT_READ(b, U64(5, 500, 502, 504, 506), PTRS(&my_tags[1]));
	cpuprof__profbuf_free(b);
}

/* The pending count is in samples (`lost`), saturates at 2^32-1, and 0 counts as 1. */
static void test_overflow_weights(void)
{
	struct cpuprof__profbuf *b = new_buf(1, 8, 1, NULL);
	cpuprof__profbuf_write(b, NULL, 1, U64(1), 1, U64(1), 1, 1); /* fills the one tag */
	cpuprof__profbuf_write(b, NULL, 2, U64(1), 1, U64(1), 1, 7);
	cpuprof__profbuf_write(b, NULL, 3, U64(1), 1, U64(1), 1, 0);
	cpuprof__profbuf_write(b, NULL, 4, U64(1), 1, U64(1), 1, 5);
	EXPECT_READ(b, U64(4, 1, 1, 1), PTRS(NULL));
	EXPECT_READ(b, U64(4, 2, 0, 13), PTRS(NULL));
	EXPECT_EMPTY(b);

	cpuprof__profbuf_write(b, NULL, 1, U64(1), 1, U64(1), 1, 1);
	cpuprof__profbuf_write(b, NULL, 5, U64(1), 1, U64(1), 1, UINT64_C(0xfffffff0));
	cpuprof__profbuf_write(b, NULL, 6, U64(1), 1, U64(1), 1, 0x100); /* saturates */
	cpuprof__profbuf_write(b, NULL, 7, U64(1), 1, U64(1), 1, 1);     /* sticky */
	CHECK_EQ((uint32_t)atomic_load(&b->overflow), UINT32_MAX);
	cpuprof__profbuf_write(b, NULL, 8, U64(1), 1, U64(1), 1, UINT64_MAX);
	EXPECT_READ(b, U64(4, 1, 1, 1), PTRS(NULL));
	EXPECT_READ(b, U64(4, 5, 0, UINT32_MAX), PTRS(NULL));
	EXPECT_EMPTY(b);
	/* A fresh overflow starts from its own first loss. */
	cpuprof__profbuf_write(b, NULL, 9, U64(1), 1, U64(1), 1, 1);
	cpuprof__profbuf_write(b, NULL, 10, U64(1), 1, U64(1), 1, UINT64_MAX);
	EXPECT_READ(b, U64(4, 9, 1, 1), PTRS(NULL));
	EXPECT_READ(b, U64(4, 10, 0, UINT32_MAX), PTRS(NULL));
	cpuprof__profbuf_free(b);
}

static void wraparound(int line, size_t words, size_t tags)
{
	struct cpuprof__profbuf *b = new_buf(2, words, tags, NULL);
	for (int i = 0; i < 10; i++) {
		int before = check_failures;
		WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9));
		EXPECT_READ(b, U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[0]));
		EXPECT_EMPTY(b);
		if (check_failures != before) {
			fprintf(stderr, "  (wraparound from line %d, iteration %d)\n", line, i);
			break;
		}
	}
	cpuprof__profbuf_free(b);
}

static void test_wraparound(void)
{
	wraparound(__LINE__, 16, 1024); /* data */
	wraparound(__LINE__, 1024, 2);  /* tags */
	wraparound(__LINE__, 16, 2);    /* both */
}

/* The 32-bit data count and the 30-bit tag count wrap, in the middle of a ring. */
static void test_counter_wrap(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 16, 4, NULL);
	uint64_t start = (uint64_t)((UINT32_C(1) << 30) - 3) << 34 | (uint32_t)(0u - 20);
	atomic_store(&b->r, start);
	atomic_store(&b->w, start);
	b->rnext = start;
	for (int i = 0; i < 20; i++) {
		int before = check_failures;
		WRITE(b, &my_tags[i], (uint64_t)i, U64(2, 3), U64(4, 5, 6, 7, 8, 9));
		EXPECT_READ(b, U64(10, (uint64_t)i, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[i]));
		EXPECT_EMPTY(b);
		if (check_failures != before) {
			fprintf(stderr, "  (counter wrap, iteration %d)\n", i);
			break;
		}
	}
	/* And a full ring past the wrap. Each 10-word record above rewound, so the next one
	 * starts at index 10: this one rewinds too (6 words skipped), and only 2 stay free. */
	CHECK_EQ(atomic_load(&b->w) & 15, 10);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7));
	WRITE(b, &my_tags[1], 2, U64(2, 3), U64(4, 5, 6, 7)); /* lost */
	WRITE(b, &my_tags[2], 3, U64(2, 3), U64(4));          /* lost */
	EXPECT_READ(b, U64(8, 1, 2, 3, 4, 5, 6, 7), PTRS(&my_tags[0]));
	EXPECT_READ(b, U64(5, 2, 0, 0, 2), PTRS(NULL));
	EXPECT_EMPTY(b);
	cpuprof__profbuf_free(b);
}

/* ---- close and EOF -------------------------------------------------------------------- */

/* EOF comes only after all data and the pending overflow were returned. */
static void test_close_drains_then_eof(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 16, 1, NULL);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4));
	WRITE(b, &my_tags[0], 2, U64(2, 3), U64(4)); /* no tag slot: lost */
	cpuprof__profbuf_close(b);
	cpuprof__profbuf_close(b); /* a no-op */
	EXPECT_READ(b, U64(5, 1, 2, 3, 4), PTRS(&my_tags[0]));
	EXPECT_READ(b, U64(5, 2, 0, 0, 1), PTRS(NULL));
	EXPECT_EOF(b);
	EXPECT_EOF(b);
	cpuprof__profbuf_free(b);

	/* Blocking mode does not sleep on a closed, empty buffer. */
	b = new_buf(1, 16, 4, NULL);
	cpuprof__profbuf_close(b);
	EXPECT_EOF(b);
	cpuprof__profbuf_free(b);
}

/* ---- blocking reader ------------------------------------------------------------------ */

struct reader {
	struct cpuprof__profbuf *b;
	pthread_t thread;
	int rc;
	uint64_t data[64];
	size_t ndata;
	const void *tags[16];
	size_t ntags;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	const uint64_t *d;
	const void *const *t;
	r->rc =
	    cpuprof__profbuf_read(r->b, CPUPROF__PROFBUF_BLOCKING, &d, &r->ndata, &t, &r->ntags);
	for (size_t i = 0; i < r->ndata && i < N(r->data); i++) {
		r->data[i] = d[i];
	}
	for (size_t i = 0; i < r->ntags && i < N(r->tags); i++) {
		r->tags[i] = t[i];
	}
	return NULL;
}

/* Starts one blocking read and returns once the reader has marked itself sleeping in w
 * (it is then in, or about to enter, its futex wait; a wake cannot be lost either way). */
static void reader_start_blocked(struct reader *r, struct cpuprof__profbuf *b)
{
	r->b = b;
	r->rc = -2;
	REQUIRE(pthread_create(&r->thread, NULL, reader_main, r) == 0);
	while (!(w_word(b) & CPUPROF__PROFBUF_SLEEPING)) {
		sched_yield();
	}
}

static void reader_expect(int line, struct reader *r, int rc, const uint64_t *want, size_t nwant,
                          const void *const *wtags, size_t nwtags)
{
	REQUIRE(pthread_join(r->thread, NULL) == 0);
	bool ok = r->rc == rc && r->ndata == nwant && r->ntags == nwtags;
	for (size_t i = 0; ok && i < nwant; i++) {
		ok = r->data[i] == want[i];
	}
	for (size_t i = 0; ok && i < nwtags; i++) {
		ok = r->tags[i] == wtags[i];
	}
	if (!ok) {
		fprintf(stderr, "%s:%d: unexpected blocking read (rc %d, want %d)\n", __FILE__,
		        line, r->rc, rc);
		print_words("have data", r->data, r->ndata < N(r->data) ? r->ndata : N(r->data));
		print_words("want data", want, nwant);
		check_failures++;
	}
}

#define READER_EXPECT(r, want, wtags) reader_expect(__LINE__, r, 0, want, N(want), wtags, N(wtags))
#define READER_EXPECT_EOF(r) reader_expect(__LINE__, r, 1, NULL, 0, NULL, 0)

/* Go: BlockingWriteRead. */
static void test_blocking_write_read(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 11, 1, NULL);
	struct reader r;

	reader_start_blocked(&r, b);
	WRITE(b, &my_tags[0], 1, U64(2, 3), U64(4, 5, 6, 7, 8, 9)); /* 10 >= 16/2: wakes */
	READER_EXPECT(&r, U64(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), PTRS(&my_tags[0]));

	reader_start_blocked(&r, b);
	WRITE(b, &my_tags[2], 99, U64(101, 102), U64(201, 202, 203, 204)); /* 8 >= 8 */
	READER_EXPECT(&r, U64(8, 99, 101, 102, 201, 202, 203, 204), PTRS(&my_tags[2]));

	reader_start_blocked(&r, b);
	cpuprof__profbuf_close(b);
	READER_EXPECT_EOF(&r);

	r.b = b; /* closed: returns at once */
	reader_main(&r);
	CHECK_EQ(r.rc, 1);
	EXPECT_EOF(b);
	cpuprof__profbuf_free(b);
}

/* Go: TestProfBufWakeup. A blocked reader is not woken below half full: after such a write
 * the writer has put READER_SLEEPING back into w, which it does only when it chose not to
 * wake; the reader cannot have cleared it (it only sets it, and only on an empty ring). */
static void test_wakeup_at_half(void)
{
	struct cpuprof__profbuf *b = new_buf(2, 16, 2, NULL);
	struct reader r;

	reader_start_blocked(&r, b);
	WRITE(b, NULL, 1, U64(1, 2), U64(3, 4)); /* 6 words < 8 */
	CHECK(w_word(b) & CPUPROF__PROFBUF_SLEEPING);
	CHECK_EQ(atomic_load(&b->own_note.word), 0);
	CHECK_EQ(r.rc, -2);                      /* still inside read */
	WRITE(b, NULL, 2, U64(5, 6), U64(7, 8)); /* 12 >= 8: wakes */
	CHECK(!(w_word(b) & CPUPROF__PROFBUF_SLEEPING));
	READER_EXPECT(&r, U64(6, 1, 1, 2, 3, 4, 6, 2, 5, 6, 7, 8), PTRS(NULL, NULL));

	reader_start_blocked(&r, b);
	cpuprof__profbuf_close(b);
	READER_EXPECT_EOF(&r);
	cpuprof__profbuf_free(b);
}

/* Regression (Go b604148c4e): writes into a full ring wake a sleeping reader once, not once
 * per lost write. Checked on the note word with no reader thread: after the first wake we
 * clear the note, and the later losses must leave it clear. */
static void test_overflow_wakes_once(void)
{
	struct cpuprof__note n = {0};
	struct cpuprof__profbuf *b = new_buf(2, 16, 1, &n);
	EXPECT_EMPTY(b);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(b), 0);
	WRITE(b, &my_tags[0], 1, U64(1, 2), U64(3, 4)); /* 6 < 8: no wake */
	CHECK_EQ(atomic_load(&n.word), 0);
	CHECK(w_word(b) & CPUPROF__PROFBUF_SLEEPING);
	WRITE(b, &my_tags[1], 2, U64(1, 2), U64(3, 4)); /* no tag slot: overflow wakes */
	CHECK_EQ(atomic_load(&n.word), 1);
	CHECK_EQ(w_word(b) & (CPUPROF__PROFBUF_SLEEPING | CPUPROF__PROFBUF_EXTRA),
	         CPUPROF__PROFBUF_EXTRA);
	cpuprof__note_clear(&n);
	WRITE(b, &my_tags[1], 3, U64(1, 2), U64(3, 4)); /* lost again: no second wake */
	CHECK_EQ(atomic_load(&n.word), 0);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(b), 1);
	EXPECT_READ(b, U64(6, 1, 1, 2, 3, 4), PTRS(&my_tags[0]));
	EXPECT_READ(b, U64(5, 2, 0, 0, 2), PTRS(NULL));
	EXPECT_EMPTY(b);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(b), 0);
	CHECK_EQ(w_word(b) & (CPUPROF__PROFBUF_SLEEPING | CPUPROF__PROFBUF_EXTRA),
	         CPUPROF__PROFBUF_SLEEPING);
	cpuprof__profbuf_close(b);
	CHECK_EQ(atomic_load(&n.word), 1);
	cpuprof__note_clear(&n);
	cpuprof__profbuf_close(b); /* second close: no-op, no wake */
	CHECK_EQ(atomic_load(&n.word), 0);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(b), 1);
	EXPECT_EOF(b);
	cpuprof__profbuf_free(b);
}

/* prepare_sleep on two buffers sharing one note. */
static void test_prepare_sleep_shared_note(void)
{
	struct cpuprof__note n = {0};
	struct cpuprof__profbuf *a = new_buf(2, 16, 4, &n);
	struct cpuprof__profbuf *c = new_buf(2, 16, 4, &n);
	EXPECT_EMPTY(a);
	EXPECT_EMPTY(c);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(a), 0);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(c), 0);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(c), 0); /* idempotent */

	WRITE(a, &my_tags[0], 1, U64(1, 2), U64(3, 4)); /* below half: no wake */
	CHECK_EQ(atomic_load(&n.word), 0);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(a), 1); /* data */
	WRITE(a, &my_tags[1], 2, U64(1, 2), U64(3, 4)); /* half: wakes */
	CHECK_EQ(atomic_load(&n.word), 1);
	cpuprof__note_clear(&n);
	write_rec(a, &my_tags[2], 3, U64(1, 2), 2, NULL, 0); /* reader not marked: no wake */
	CHECK_EQ(atomic_load(&n.word), 0);
	EXPECT_READ(a, U64(6, 1, 1, 2, 3, 4, 6, 2, 1, 2, 3, 4, 4, 3, 1, 2),
	            PTRS(&my_tags[0], &my_tags[1], &my_tags[2]));
	EXPECT_EMPTY(a);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(a), 0);

	/* The other buffer, still marked, wakes the same note on its own. */
	WRITE(c, &my_tags[3], 4, U64(1, 2), U64(3, 4, 5, 6, 7, 8)); /* 10 >= 8 */
	CHECK_EQ(atomic_load(&n.word), 1);
	cpuprof__note_clear(&n);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(c), 1);
	EXPECT_READ(c, U64(10, 4, 1, 2, 3, 4, 5, 6, 7, 8), PTRS(&my_tags[3]));
	EXPECT_EMPTY(c);

	/* A pending overflow alone (the ring drained) says "do not sleep". */
	WRITE(c, NULL, 5, U64(1, 2), U64(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)); /* too big */
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(c), 1);
	EXPECT_READ(c, U64(5, 5, 0, 0, 1), PTRS(NULL));
	EXPECT_EMPTY(c);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(c), 0);

	/* Close wakes, and then prepare_sleep says EOF is pending. */
	cpuprof__profbuf_close(a);
	CHECK_EQ(atomic_load(&n.word), 1);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(a), 1);
	EXPECT_EOF(a);
	cpuprof__profbuf_close(c);
	EXPECT_EOF(c);
	cpuprof__profbuf_free(a);
	cpuprof__profbuf_free(c);
}

/* ---- corruption ------------------------------------------------------------------------ */

/* A consistency check that Go makes fatal returns -1, for good, and never aborts. */
static void test_corrupt(void)
{
	const uint64_t *d;
	size_t nd, nt;
	const void *const *t;

	/* "invalid size": a length word running past the data. */
	struct cpuprof__profbuf *b = new_buf(2, 16, 4, NULL);
	WRITE(b, NULL, 1, U64(2, 3), U64(4, 5));
	b->data[0] = 100;
	CHECK_EQ(cpuprof__profbuf_read(b, CPUPROF__PROFBUF_NONBLOCKING, &d, &nd, &t, &nt), -1);
	CHECK_EQ(nd, 0);
	CHECK_EQ(cpuprof__profbuf_read(b, CPUPROF__PROFBUF_BLOCKING, &d, &nd, &t, &nt), -1);
	CHECK_EQ(cpuprof__profbuf_prepare_sleep(b), 0);
	cpuprof__profbuf_free(b);

	/* A length shorter than a header. */
	b = new_buf(2, 16, 4, NULL);
	WRITE(b, NULL, 1, U64(2, 3), U64(4, 5));
	b->data[0] = 1;
	CHECK_EQ(cpuprof__profbuf_read(b, CPUPROF__PROFBUF_NONBLOCKING, &d, &nd, &t, &nt), -1);
	cpuprof__profbuf_free(b);

	/* "tag and data out of sync": data published without a tag. */
	b = new_buf(2, 16, 4, NULL);
	b->data[0] = 4;
	atomic_store(&b->w, 4);
	CHECK_EQ(cpuprof__profbuf_read(b, CPUPROF__PROFBUF_NONBLOCKING, &d, &nd, &t, &nt), -1);
	cpuprof__profbuf_free(b);

	/* A rewind marker with nothing behind it. */
	b = new_buf(2, 16, 4, NULL);
	b->data[0] = 0;
	atomic_store(&b->w, UINT64_C(1) << 34 | 3);
	CHECK_EQ(cpuprof__profbuf_read(b, CPUPROF__PROFBUF_NONBLOCKING, &d, &nd, &t, &nt), -1);
	cpuprof__profbuf_free(b);
}

/* ---- concurrent writer and reader ------------------------------------------------------ */

#define STRESS_HDR 2
#define STRESS_TIME 1000000
static char stress_tags[8];

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

/* Everything about record `seq` follows from seq, so the reader can check it alone. */
static size_t stress_nstk(uint64_t seq)
{
	uint64_t h = mix(seq);
	return h % 97 == 0 ? 80 : (size_t)(h % 24); /* 80 never fits a 64-word ring */
}

static uint64_t stress_weight(uint64_t seq)
{
	return 1 + seq % 3;
}

static const void *stress_tag(uint64_t seq)
{
	return seq % 5 == 0 ? NULL : &stress_tags[seq % 8];
}

struct stress {
	struct cpuprof__profbuf *b;
	uint64_t n; /* records to write */
	/* Reader side. */
	uint64_t next;        /* every seq below was read or lost, in order */
	uint8_t *read;        /* read[seq]: record seq was returned */
	uint64_t *lost_first; /* per overflow record, in order: seq of the first loss */
	uint64_t *lost_count; /* and its count */
	uint64_t records, overflows, read_weight, lost_weight;
	int errors;
};

static void stress_init(struct stress *s, struct cpuprof__profbuf *b, uint64_t n)
{
	*s = (struct stress){.b = b, .n = n};
	s->read = calloc(n, 1);
	s->lost_first = calloc(n, sizeof(uint64_t));
	s->lost_count = calloc(n, sizeof(uint64_t));
	REQUIRE(s->read && s->lost_first && s->lost_count);
}

/* Busy work between writes in every other phase of 4096 records, so that the reader keeps
 * up for a while (and sleeps, and is woken at half full) and then falls behind (overflow). */
static void stress_pace(uint64_t seq)
{
	if ((seq >> 12) & 1) {
		for (volatile int k = 0; k < 300; k++) {
		}
	}
}

static void *stress_writer(void *arg)
{
	struct stress *s = arg;
	uint64_t stk[80];
	for (uint64_t seq = 0; seq < s->n; seq++) {
		size_t nstk = stress_nstk(seq);
		for (size_t j = 0; j < nstk; j++) {
			stk[j] = mix(seq * 131 + j);
		}
		uint64_t hdr[STRESS_HDR] = {seq + 1, stress_weight(seq)}; /* never all zero */
		cpuprof__profbuf_write(s->b, stress_tag(seq), STRESS_TIME + seq, hdr, STRESS_HDR,
		                       stk, nstk, stress_weight(seq));
		stress_pace(seq);
	}
	cpuprof__profbuf_close(s->b);
	return NULL;
}

static void stress_fail(struct stress *s, const char *what, uint64_t seq)
{
	if (s->errors++ < 10) {
		fprintf(stderr, "stress: %s (seq %" PRIu64 ")\n", what, seq);
	}
}

/* Checks the records of one read: records intact, overflow records well formed, all in write
 * order (an overflow record sits where its first loss was). What an overflow record counts
 * is checked at the end. Regression: Go's reader may take the overflow ahead of records
 * committed while it looked (reader_take_overflow); this order check caught it here. */
static void stress_check(struct stress *s, const uint64_t *d, size_t nd, const void *const *t,
                         size_t nt)
{
	size_t i = 0, k = 0;
	while (i < nd) {
		uint64_t len = d[i];
		if (len < 2 + STRESS_HDR || len > nd - i || k >= nt) {
			stress_fail(s, "bad record length or too few tags", s->next);
			return;
		}
		const uint64_t *h = d + i + 2, *stk = h + STRESS_HDR;
		if (h[0] == 0) {
			/* Overflow: [5, time of first loss, 0, 0, count], NULL tag. */
			uint64_t first = d[i + 1] - STRESS_TIME;
			if (len != 2 + STRESS_HDR + 1 || h[1] != 0 || t[k] != NULL || stk[0] == 0 ||
			    d[i + 1] < STRESS_TIME || first < s->next || first >= s->n) {
				stress_fail(s, "bad overflow record", first);
			} else {
				s->lost_first[s->overflows] = first;
				s->lost_count[s->overflows] = stk[0];
				s->overflows++;
			}
			s->next = first + 1;
			s->lost_weight += stk[0];
		} else {
			uint64_t seq = h[0] - 1;
			size_t nstk = (size_t)len - 2 - STRESS_HDR;
			if (seq < s->next || seq >= s->n) {
				stress_fail(s, "record out of order", seq);
			} else if (d[i + 1] != STRESS_TIME + seq || h[1] != stress_weight(seq) ||
			           nstk != stress_nstk(seq) || t[k] != stress_tag(seq)) {
				stress_fail(s, "bad time, weight, size or tag", seq);
			} else {
				for (size_t j = 0; j < nstk; j++) {
					if (stk[j] != mix(seq * 131 + j)) {
						stress_fail(s, "bad stack word", seq);
						break;
					}
				}
				s->read[seq] = 1;
			}
			s->next = seq + 1;
			s->read_weight += h[1];
			s->records++;
		}
		i += (size_t)len;
		k++;
	}
	if (k != nt) {
		stress_fail(s, "more tags than records", k);
	}
}

/*
 * Exact accounting. Every sample was read or lost; the writes lost while one overflow was
 * pending are those from its first loss up to the next overflow's first loss, so each
 * overflow record must count exactly the weights of the unread seqs in that window, and
 * every seq before the first loss was read.
 */
static void stress_finish(struct stress *s, const char *name)
{
	uint64_t total = 0;
	for (uint64_t seq = 0; seq < s->n; seq++) {
		total += stress_weight(seq);
	}
	uint64_t end = s->overflows > 0 ? s->lost_first[0] : s->n;
	for (uint64_t seq = 0; seq < end; seq++) {
		if (!s->read[seq]) {
			stress_fail(s, "lost before the first overflow", seq);
			break;
		}
	}
	for (uint64_t o = 0; o < s->overflows; o++) {
		uint64_t first = s->lost_first[o];
		end = o + 1 < s->overflows ? s->lost_first[o + 1] : s->n;
		uint64_t want = 0;
		for (uint64_t seq = first; seq < end; seq++) {
			want += s->read[seq] ? 0 : stress_weight(seq);
		}
		if (s->read[first] || s->lost_count[o] != want) {
			stress_fail(s, "overflow record does not match its window", first);
		}
	}
	CHECK_EQ(s->errors, 0);
	CHECK_EQ(s->read_weight + s->lost_weight, total);
	CHECK(s->records > 0);
	fprintf(stderr,
	        "%s: %" PRIu64 " records read, %" PRIu64 " overflow records, %" PRIu64
	        " of %" PRIu64 " samples lost\n",
	        name, s->records, s->overflows, s->lost_weight, total);
	free(s->read);
	free(s->lost_first);
	free(s->lost_count);
}

/* One writer thread, one reader draining in blocking mode: every sample written is either
 * read, intact and in order, or counted in the right overflow record. */
static void stress_blocking(const char *name, size_t words, size_t tags, uint64_t n)
{
	struct stress s;
	stress_init(&s, new_buf(STRESS_HDR, words, tags, NULL), n);
	pthread_t w;
	REQUIRE(pthread_create(&w, NULL, stress_writer, &s) == 0);
	for (;;) {
		const uint64_t *d;
		size_t nd, nt;
		const void *const *t;
		int rc = cpuprof__profbuf_read(s.b, CPUPROF__PROFBUF_BLOCKING, &d, &nd, &t, &nt);
		if (rc == 1) {
			break;
		}
		REQUIRE(rc == 0);
		if (nd == 0) {
			stress_fail(&s, "blocking read returned nothing", 0);
		}
		stress_check(&s, d, nd, t, nt);
	}
	REQUIRE(pthread_join(w, NULL) == 0);
	stress_finish(&s, name);
	cpuprof__profbuf_free(s.b);
}

static void test_stress_blocking(void)
{
	stress_blocking("stress_blocking", 64, 8, 200000);
}

/* Go: TestProfBufDoubleWakeup (a 16-word ring, 1000 writes while a blocking reader runs),
 * with the same exact accounting. */
static void test_double_wakeup(void)
{
	stress_blocking("double_wakeup", 16, 2, 1000);
}

/* Two writers into two buffers, one reader sleeping once on their shared note through
 * prepare_sleep, as the drain thread does. */
static void test_stress_shared_note(void)
{
	struct cpuprof__note n = {0};
	struct stress s[2];
	stress_init(&s[0], new_buf(STRESS_HDR, 64, 8, &n), 100000);
	stress_init(&s[1], new_buf(STRESS_HDR, 256, 4, &n), 100000);
	pthread_t w[2];
	for (int k = 0; k < 2; k++) {
		REQUIRE(pthread_create(&w[k], NULL, stress_writer, &s[k]) == 0);
	}
	bool done[2] = {false, false};
	int open = 2;
	while (open > 0) {
		for (int k = 0; k < 2; k++) {
			while (!done[k]) {
				const uint64_t *d;
				size_t nd, nt;
				const void *const *t;
				int rc = cpuprof__profbuf_read(s[k].b, CPUPROF__PROFBUF_NONBLOCKING,
				                               &d, &nd, &t, &nt);
				if (rc == 1) {
					done[k] = true;
					open--;
					break;
				}
				REQUIRE(rc == 0);
				if (nd == 0) {
					break;
				}
				stress_check(&s[k], d, nd, t, nt);
			}
		}
		bool ready = false;
		for (int k = 0; k < 2; k++) {
			if (!done[k] && cpuprof__profbuf_prepare_sleep(s[k].b)) {
				ready = true;
			}
		}
		if (open > 0 && !ready) {
			cpuprof__note_sleep(&n, -1);
		}
	}
	for (int k = 0; k < 2; k++) {
		REQUIRE(pthread_join(w[k], NULL) == 0);
		stress_finish(&s[k], k == 0 ? "shared_note[0]" : "shared_note[1]");
		cpuprof__profbuf_free(s[k].b);
	}
}

int main(void)
{
	test_new_sizes();
	test_basic_write_read();
	test_two_phase_release();
	test_read_many();
	test_header_padding();
	test_overflow_by_writer();
	test_overflow_by_reader();
	test_overflow_at_end();
	test_overflow_weights();
	test_wraparound();
	test_counter_wrap();
	test_close_drains_then_eof();
	test_blocking_write_read();
	test_wakeup_at_half();
	test_overflow_wakes_once();
	test_prepare_sleep_shared_note();
	test_corrupt();
	test_double_wakeup();
	test_stress_blocking();
	test_stress_shared_note();
	return check_exit();
}
