/*
 * stacktab: the (stack, label set, thread id) -> count table (see stacktab.h). The reader
 * thread adds every drained record here, up to tens of thousands a second, and the profile
 * builder walks the entries in insertion order. One owner at a time; no locking.
 */
#include "stacktab.h"

#include <stdlib.h>
#include <string.h>

#include "cpuprof.h"

/*
 * Layout.
 *  - ents[0..len): the entries in insertion order; ents[i].pcs points into a word chunk.
 *    The array grows by doubling, so an entry pointer is valid only until the next add.
 *  - hashes[i]: the full 64-bit hash of entry i, kept apart from ents so that a probe
 *    compares hashes without touching the (larger) entries.
 *  - slots[0..nslots): open addressing with linear probing; a slot holds entry index + 1
 *    (0 = empty). nslots is a power of two and at least twice len, so probes stay short
 *    and a free slot always exists. There is no delete, so no tombstones.
 *  - chunks: stack words, appended and never moved, so ents[i].pcs stays valid while the
 *    table lives. A chunk holds CHUNK_WORDS words, or one stack if that is longer. Reset
 *    empties every chunk and keeps them for reuse.
 */
#define CHUNK_WORDS 8192

struct chunk {
	struct chunk *next;
	size_t cap;  /* words */
	size_t used; /* words */
	uint64_t w[];
};

struct cpuprof__stacktab {
	struct cpuprof__stackent *ents;
	uint64_t *hashes;
	size_t len;
	size_t cap;

	uint32_t *slots;
	size_t nslots; /* power of two, or 0 before the first add */

	struct chunk *chunks; /* first chunk (list head) */
	struct chunk *cur;    /* chunk being filled; earlier ones are full */

	int64_t total;
};

struct cpuprof__stacktab *cpuprof__stacktab_new(void)
{
	return calloc(1, sizeof(struct cpuprof__stacktab));
}

void cpuprof__stacktab_free(struct cpuprof__stacktab *t)
{
	if (!t) {
		return;
	}
	struct chunk *c = t->chunks;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	free(t->ents);
	free(t->hashes);
	free(t->slots);
	free(t);
}

void cpuprof__stacktab_reset(struct cpuprof__stacktab *t)
{
	for (struct chunk *c = t->chunks; c; c = c->next) {
		c->used = 0;
	}
	t->cur = t->chunks;
	if (t->slots) {
		memset(t->slots, 0, t->nslots * sizeof(t->slots[0]));
	}
	t->len = 0;
	t->total = 0;
}

/* A multiply-xorshift mix over the words; good enough to spread frame addresses, which
 * share their high bits, over the low bits the table indexes by. */
static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	return h;
}

static uint64_t hash_key(const uint64_t *pcs, size_t n, const struct cpuprof__labelset *labels,
                         int32_t tid)
{
	uint64_t h = 0x243f6a8885a308d3ULL ^ n;
	for (size_t i = 0; i < n; i++) {
		h = mix(h, pcs[i]);
	}
	h = mix(h, (uint64_t)(uintptr_t)labels);
	h = mix(h, (uint64_t)(uint32_t)tid);
	h ^= h >> 32;
	return h;
}

static int grow_slots(struct cpuprof__stacktab *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *s = calloc(n, sizeof(*s));
	if (!s) {
		return CPUPROF_ENOMEM;
	}
	size_t mask = n - 1;
	for (size_t i = 0; i < t->len; i++) {
		size_t j = (size_t)t->hashes[i] & mask;
		while (s[j] != 0) {
			j = (j + 1) & mask;
		}
		s[j] = (uint32_t)(i + 1);
	}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

static int grow_ents(struct cpuprof__stacktab *t)
{
	size_t n = t->cap ? t->cap * 2 : 512;
	if (n > UINT32_MAX - 1) {
		return CPUPROF_ENOMEM;
	}
	struct cpuprof__stackent *e = realloc(t->ents, n * sizeof(*e));
	if (!e) {
		return CPUPROF_ENOMEM;
	}
	t->ents = e;
	uint64_t *h = realloc(t->hashes, n * sizeof(*h));
	if (!h) {
		return CPUPROF_ENOMEM;
	}
	t->hashes = h;
	t->cap = n;
	return 0;
}

/* Copies n words into chunk storage; returns where they went, or NULL when out of memory. */
static uint64_t *store_words(struct cpuprof__stacktab *t, const uint64_t *pcs, size_t n)
{
	struct chunk *c = t->cur;
	/* Move on to a later chunk (kept from before a reset) that has room, if any. */
	while (c && c->cap - c->used < n && c->next) {
		c = c->next;
	}
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_WORDS ? n : CHUNK_WORDS;
		struct chunk *nc = malloc(sizeof(*nc) + cap * sizeof(uint64_t));
		if (!nc) {
			return NULL;
		}
		nc->cap = cap;
		nc->used = 0;
		nc->next = NULL;
		if (c) {
			/* Insert after c, keeping any later (empty) chunks for later. */
			nc->next = c->next;
			c->next = nc;
		} else {
			t->chunks = nc;
		}
		c = nc;
	}
	t->cur = c;
	uint64_t *dst = c->w + c->used;
	if (n) {
		memcpy(dst, pcs, n * sizeof(uint64_t));
	}
	c->used += n;
	return dst;
}

int cpuprof__stacktab_add(struct cpuprof__stacktab *t, const uint64_t *pcs, size_t n,
                          const struct cpuprof__labelset *labels, int32_t tid, int64_t count)
{
	if (n > UINT32_MAX) {
		return CPUPROF_EINVAL;
	}
	uint64_t h = hash_key(pcs, n, labels, tid);
	if (t->nslots) {
		size_t mask = t->nslots - 1;
		for (size_t j = (size_t)h & mask; t->slots[j] != 0; j = (j + 1) & mask) {
			size_t i = t->slots[j] - 1;
			struct cpuprof__stackent *e = &t->ents[i];
			if (t->hashes[i] == h && e->npcs == n && e->labels == labels &&
			    e->tid == tid &&
			    (n == 0 || memcmp(e->pcs, pcs, n * sizeof(*pcs)) == 0)) {
				e->count += count;
				t->total += count;
				return 0;
			}
		}
	}
	/* New key. Keep the load factor at or below one half. */
	if ((t->len + 1) * 2 > t->nslots) {
		int err = grow_slots(t);
		if (err) {
			return err;
		}
	}
	if (t->len == t->cap) {
		int err = grow_ents(t);
		if (err) {
			return err;
		}
	}
	uint64_t *words = store_words(t, pcs, n);
	if (!words) {
		return CPUPROF_ENOMEM;
	}
	size_t i = t->len++;
	t->ents[i] = (struct cpuprof__stackent){
	    .pcs = words,
	    .npcs = (uint32_t)n,
	    .tid = tid,
	    .labels = labels,
	    .count = count,
	};
	t->hashes[i] = h;
	size_t mask = t->nslots - 1;
	size_t j = (size_t)h & mask;
	while (t->slots[j] != 0) {
		j = (j + 1) & mask;
	}
	t->slots[j] = (uint32_t)(i + 1);
	t->total += count;
	return 0;
}

int cpuprof__stacktab_merge(struct cpuprof__stacktab *dst, const struct cpuprof__stacktab *src)
{
	/* src == dst would walk entries while adding to them; every key exists already, so
	 * no entry is appended and the loop bound stays right (each count doubles). */
	size_t n = src->len;
	for (size_t i = 0; i < n; i++) {
		const struct cpuprof__stackent *e = &src->ents[i];
		int err = cpuprof__stacktab_add(dst, e->pcs, e->npcs, e->labels, e->tid, e->count);
		if (err) {
			return err;
		}
	}
	return 0;
}

size_t cpuprof__stacktab_len(const struct cpuprof__stacktab *t)
{
	return t->len;
}

const struct cpuprof__stackent *cpuprof__stacktab_entry(const struct cpuprof__stacktab *t, size_t i)
{
	return i < t->len ? &t->ents[i] : NULL;
}

int64_t cpuprof__stacktab_total(const struct cpuprof__stacktab *t)
{
	return t->total;
}

size_t cpuprof__stacktab_memory(const struct cpuprof__stacktab *t)
{
	size_t m = sizeof(*t);
	m += t->cap * (sizeof(t->ents[0]) + sizeof(t->hashes[0]));
	m += t->nslots * sizeof(t->slots[0]);
	for (const struct chunk *c = t->chunks; c; c = c->next) {
		m += sizeof(*c) + c->cap * sizeof(uint64_t);
	}
	return m;
}
