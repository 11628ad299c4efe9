/*
 * test_stacktab: aggregation by (stack, label set pointer, tid), insertion order, merge,
 * reset and reuse, and 100k distinct entries checked against their expected counts.
 */
#include "stacktab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpuprof.h"

/* Two label sets with equal content but distinct identity: the table keys by pointer. */
static struct cpuprof__labelset *ls_a, *ls_b;

static struct cpuprof__labelset *make_set(void)
{
	struct cpuprof__labelset *s = malloc(sizeof(*s) + sizeof(struct cpuprof__label));
	REQUIRE(s);
	s->hash = 1;
	s->n = 1;
	s->kv[0].key = "k";
	s->kv[0].value = "v";
	return s;
}

static void test_basic(void)
{
	struct cpuprof__stacktab *t = cpuprof__stacktab_new();
	REQUIRE(t);
	CHECK_EQ(cpuprof__stacktab_len(t), 0);
	CHECK_EQ(cpuprof__stacktab_total(t), 0);
	CHECK(cpuprof__stacktab_entry(t, 0) == NULL);

	const uint64_t s1[] = {0x401000, 0x402000, 0x403000};
	const uint64_t s2[] = {0x401000, 0x402000}; /* a prefix of s1: a different key */
	const uint64_t s3[] = {0x402000, 0x401000, 0x403000};
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, NULL, 1, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s2, 2, NULL, 1, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, NULL, 1, 2), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s3, 3, NULL, 1, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, ls_a, 1, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, ls_b, 1, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, ls_a, 1, 4), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, NULL, 2, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, s1, 3, NULL, -5, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(t, NULL, 0, NULL, 1, 3), 0); /* empty stack */
	CHECK_EQ(cpuprof__stacktab_add(t, s2, 0, NULL, 1, 1), 0);   /* the same empty key */

	CHECK_EQ(cpuprof__stacktab_len(t), 8);
	CHECK_EQ(cpuprof__stacktab_total(t), 17);
	struct {
		const uint64_t *pcs;
		uint32_t n;
		const struct cpuprof__labelset *ls;
		int32_t tid;
		int64_t count;
	} want[] = {
	    {s1, 3, NULL, 1, 3}, {s2, 2, NULL, 1, 1}, {s3, 3, NULL, 1, 1},  {s1, 3, ls_a, 1, 5},
	    {s1, 3, ls_b, 1, 1}, {s1, 3, NULL, 2, 1}, {s1, 3, NULL, -5, 1}, {NULL, 0, NULL, 1, 4},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct cpuprof__stackent *e = cpuprof__stacktab_entry(t, i);
		REQUIRE(e);
		CHECK_EQ(e->npcs, want[i].n);
		CHECK(e->labels == want[i].ls);
		CHECK_EQ(e->tid, want[i].tid);
		CHECK_EQ(e->count, want[i].count);
		if (want[i].n) {
			CHECK(memcmp(e->pcs, want[i].pcs, want[i].n * sizeof(uint64_t)) == 0);
			/* The table copies the words. */
			CHECK(e->pcs != want[i].pcs);
		}
	}
	CHECK(cpuprof__stacktab_entry(t, 8) == NULL);
	CHECK(cpuprof__stacktab_memory(t) > 0);
	cpuprof__stacktab_free(t);
	cpuprof__stacktab_free(NULL);
}

static void test_merge_reset(void)
{
	struct cpuprof__stacktab *a = cpuprof__stacktab_new(), *b = cpuprof__stacktab_new();
	REQUIRE(a && b);
	const uint64_t x[] = {1, 0x1000}, y[] = {0x2000}, z[] = {0x3000, 0x3001};
	CHECK_EQ(cpuprof__stacktab_add(a, x, 2, NULL, 7, 2), 0);
	CHECK_EQ(cpuprof__stacktab_add(a, y, 1, NULL, 7, 1), 0);
	CHECK_EQ(cpuprof__stacktab_add(b, z, 2, NULL, 7, 10), 0);
	CHECK_EQ(cpuprof__stacktab_add(b, y, 1, NULL, 7, 5), 0);
	CHECK_EQ(cpuprof__stacktab_merge(a, b), 0);
	CHECK_EQ(cpuprof__stacktab_len(a), 3);
	CHECK_EQ(cpuprof__stacktab_total(a), 18);
	CHECK_EQ(cpuprof__stacktab_entry(a, 0)->count, 2);
	CHECK_EQ(cpuprof__stacktab_entry(a, 1)->count, 6);
	CHECK_EQ(cpuprof__stacktab_entry(a, 2)->count, 10);
	CHECK_EQ(cpuprof__stacktab_entry(a, 2)->pcs[1], 0x3001);
	/* src is unchanged. */
	CHECK_EQ(cpuprof__stacktab_len(b), 2);
	CHECK_EQ(cpuprof__stacktab_total(b), 15);

	/* Merging a table into itself doubles every count. */
	CHECK_EQ(cpuprof__stacktab_merge(b, b), 0);
	CHECK_EQ(cpuprof__stacktab_len(b), 2);
	CHECK_EQ(cpuprof__stacktab_total(b), 30);
	CHECK_EQ(cpuprof__stacktab_entry(b, 0)->count, 20);

	/* Reset keeps memory and forgets keys. */
	size_t mem = cpuprof__stacktab_memory(a);
	cpuprof__stacktab_reset(a);
	CHECK_EQ(cpuprof__stacktab_len(a), 0);
	CHECK_EQ(cpuprof__stacktab_total(a), 0);
	CHECK_EQ(cpuprof__stacktab_memory(a), mem);
	CHECK_EQ(cpuprof__stacktab_add(a, y, 1, NULL, 7, 1), 0);
	CHECK_EQ(cpuprof__stacktab_len(a), 1);
	CHECK_EQ(cpuprof__stacktab_entry(a, 0)->count, 1);
	CHECK_EQ(cpuprof__stacktab_memory(a), mem);
	cpuprof__stacktab_free(a);
	cpuprof__stacktab_free(b);
}

/* A long stack (longer than a word chunk) and stacks around chunk boundaries. */
static void test_long_stacks(void)
{
	struct cpuprof__stacktab *t = cpuprof__stacktab_new();
	REQUIRE(t);
	enum { LONG = 20000 };
	uint64_t *pcs = malloc(LONG * sizeof(uint64_t));
	REQUIRE(pcs);
	for (size_t i = 0; i < LONG; i++) {
		pcs[i] = 0x400000 + i * 3;
	}
	for (size_t n = 1000; n <= LONG; n += 1000) {
		CHECK_EQ(cpuprof__stacktab_add(t, pcs, n, NULL, 0, 1), 0);
	}
	for (size_t n = 1000; n <= LONG; n += 1000) {
		CHECK_EQ(cpuprof__stacktab_add(t, pcs, n, NULL, 0, 1), 0);
	}
	CHECK_EQ(cpuprof__stacktab_len(t), 20);
	for (size_t i = 0; i < 20; i++) {
		const struct cpuprof__stackent *e = cpuprof__stacktab_entry(t, i);
		CHECK_EQ(e->npcs, (i + 1) * 1000);
		CHECK_EQ(e->count, 2);
		CHECK(memcmp(e->pcs, pcs, e->npcs * sizeof(uint64_t)) == 0);
	}
	/* Reuse after reset still stores correctly. */
	cpuprof__stacktab_reset(t);
	for (size_t n = LONG; n >= 1000; n -= 1000) {
		CHECK_EQ(cpuprof__stacktab_add(t, pcs + (LONG - n), n, NULL, 0, 1), 0);
	}
	for (size_t i = 0; i < 20; i++) {
		const struct cpuprof__stackent *e = cpuprof__stacktab_entry(t, i);
		size_t n = LONG - i * 1000;
		CHECK_EQ(e->npcs, n);
		CHECK(memcmp(e->pcs, pcs + (LONG - n), n * sizeof(uint64_t)) == 0);
	}
	free(pcs);
	cpuprof__stacktab_free(t);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 100k distinct keys (random depth 1..32, addresses sharing their high bits as real code
 * does), each added a key-dependent number of times in shuffled order. */
static void test_many(void)
{
	enum { N = 100000, MAXD = 32 };
	struct cpuprof__stacktab *t = cpuprof__stacktab_new();
	REQUIRE(t);
	uint64_t(*stk)[MAXD] = malloc(N * sizeof(*stk));
	uint8_t *depth = malloc(N);
	uint32_t *order = malloc(3 * N * sizeof(uint32_t));
	REQUIRE(stk && depth && order);
	for (size_t i = 0; i < N; i++) {
		depth[i] = (uint8_t)(1 + next_rand() % MAXD);
		for (size_t d = 0; d < MAXD; d++) {
			stk[i][d] = 0x555555554000ULL + (next_rand() & 0xffff);
		}
		stk[i][0] = 0x555555554000ULL + i; /* makes every key distinct */
	}
	/* Key i is added (i % 3) + 1 times, in an interleaved order. */
	size_t no = 0;
	for (uint32_t i = 0; i < N; i++) {
		order[no++] = i;
	}
	for (uint32_t i = 0; i < N; i++) {
		if (i % 3 >= 1) {
			order[no++] = i;
		}
		if (i % 3 == 2) {
			order[no++] = i;
		}
	}
	int fails = 0;
	for (size_t k = 0; k < no; k++) {
		uint32_t i = order[k];
		if (cpuprof__stacktab_add(t, stk[i], depth[i], i % 2 ? ls_a : NULL,
		                          (int32_t)(i % 5), 1) != 0) {
			fails++;
		}
	}
	CHECK_EQ(fails, 0);
	CHECK_EQ(cpuprof__stacktab_len(t), N);
	CHECK_EQ(cpuprof__stacktab_total(t), (int64_t)no);
	int bad = 0;
	for (size_t i = 0; i < N; i++) {
		const struct cpuprof__stackent *e = cpuprof__stacktab_entry(t, i);
		/* Insertion order: the first pass added keys 0..N-1 in order. */
		if (e->npcs != depth[i] || e->count != (int64_t)(i % 3) + 1 ||
		    e->tid != (int32_t)(i % 5) || e->labels != (i % 2 ? ls_a : NULL) ||
		    memcmp(e->pcs, stk[i], depth[i] * sizeof(uint64_t)) != 0) {
			bad++;
		}
	}
	CHECK_EQ(bad, 0);
	free(stk);
	free(depth);
	free(order);
	cpuprof__stacktab_free(t);
}

int main(void)
{
	ls_a = make_set();
	ls_b = make_set();
	test_basic();
	test_merge_reset();
	test_long_stacks();
	test_many();
	free(ls_a);
	free(ls_b);
	return check_exit();
}
