/*
 * calltree: merges samples into a prefix tree of frame names (see calltree.h). A child
 * is found by walking its parent's list while the parent has few children, else in a
 * hash table from (parent, name). Most nodes of a profile of many distinct stacks are in
 * unshared tails, whose parents are new and childless: they cost no lookup at all, where
 * a table probe per frame would be a cache miss per frame. Every walk is iterative: a
 * hostile profile may hold one stack of millions of frames.
 */
#include "calltree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static size_t ct_hash(uint64_t k)
{
	/* splitmix64's finalizer: every input bit reaches the low bits the mask keeps. */
	k ^= k >> 30;
	k *= UINT64_C(0xbf58476d1ce4e5b9);
	k ^= k >> 27;
	k *= UINT64_C(0x94d049bb133111eb);
	return (size_t)(k ^ (k >> 31));
}

static int ct_grow_table(struct calltree *t)
{
	size_t cap = t->slots ? (t->mask + 1) * 2 : 4096;
	struct ct_slot *slots = calloc(cap, sizeof *slots);

	if (!slots) {
		return -1;
	}
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		if (t->slots[i].node) {
			size_t h = ct_hash(t->slots[i].key) & (cap - 1);
			while (slots[h].node) {
				h = (h + 1) & (cap - 1);
			}
			slots[h] = t->slots[i];
		}
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

static uint32_t ct_new_node(struct calltree *t, uint32_t parent, uint32_t name)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		struct ct_node *nn;
		if (t->n >= CT_NONE - 1) {
			return CT_NONE;
		}
		nn = realloc(t->nodes, ncap * sizeof *nn);
		if (!nn) {
			return CT_NONE;
		}
		t->nodes = nn;
		t->cap = ncap;
	}
	uint32_t id = (uint32_t)t->n++;
	struct ct_node *nd = &t->nodes[id];
	nd->name = name;
	nd->parent = parent;
	nd->child = CT_NONE;
	nd->sibling = CT_NONE;
	nd->depth = 0;
	nd->nkids = 0;
	nd->self = 0;
	nd->total = 0;
	if (parent != CT_NONE) {
		struct ct_node *pn = &t->nodes[parent];
		nd->depth = pn->depth + 1;
		nd->sibling = pn->child;
		pn->child = id;
		pn->nkids++;
		if (nd->depth > t->max_depth) {
			t->max_depth = nd->depth;
		}
	}
	return id;
}

static int ct_insert(struct calltree *t, uint64_t key, uint32_t node)
{
	if (2 * (t->used + 1) > (t->slots ? t->mask + 1 : 0) && ct_grow_table(t) < 0) {
		return -1;
	}
	size_t h = ct_hash(key) & t->mask;
	while (t->slots[h].node) {
		h = (h + 1) & t->mask;
	}
	t->slots[h].key = key;
	t->slots[h].node = node + 1;
	t->used++;
	return 0;
}

static uint64_t ct_key(uint32_t parent, uint32_t name)
{
	return ((uint64_t)parent << 32) | name;
}

/* The child of `parent` named `name`, made if missing; CT_NONE when out of memory. */
static uint32_t ct_child(struct calltree *t, uint32_t parent, uint32_t name)
{
	uint64_t key = ct_key(parent, name);
	uint32_t id;

	if (t->nodes[parent].nkids <= CT_LINEAR_MAX) {
		for (uint32_t c = t->nodes[parent].child; c != CT_NONE; c = t->nodes[c].sibling) {
			if (t->nodes[c].name == name) {
				return c;
			}
		}
		id = ct_new_node(t, parent, name);
		if (id != CT_NONE && t->nodes[parent].nkids == CT_LINEAR_MAX + 1) {
			/* Too many to walk from now on: index them all. */
			for (uint32_t c = t->nodes[parent].child; c != CT_NONE;
			     c = t->nodes[c].sibling) {
				if (ct_insert(t, ct_key(parent, t->nodes[c].name), c) < 0) {
					return CT_NONE;
				}
			}
		}
		return id;
	}
	if (t->slots) {
		for (size_t h = ct_hash(key) & t->mask; t->slots[h].node; h = (h + 1) & t->mask) {
			if (t->slots[h].key == key) {
				return t->slots[h].node - 1;
			}
		}
	}
	id = ct_new_node(t, parent, name);
	if (id != CT_NONE && ct_insert(t, key, id) < 0) {
		return CT_NONE;
	}
	return id;
}

int calltree_build(struct calltree *t, const struct prof *p, size_t vidx, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (ct_new_node(t, CT_NONE, CT_NONE) == CT_NONE) {
		goto oom;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prof_sample *sm = &p->samples[i];
		int64_t v = prof_value(p, i, vidx);
		uint32_t cur = 0;

		if (v == 0) {
			continue;
		}
		/* Locations are leaf first and so are a location's frames: walk both
		 * backwards to go root first. */
		for (uint32_t j = sm->nloc; j-- > 0;) {
			const struct prof_location *loc = &p->locs[p->sample_loc[sm->loc_off + j]];
			for (uint32_t k = loc->nframe; k-- > 0;) {
				cur = ct_child(t, cur, p->frames[loc->frame_off + k]);
				if (cur == CT_NONE) {
					goto oom;
				}
			}
		}
		t->nodes[cur].self = wrap_add(t->nodes[cur].self, v);
	}
	for (size_t i = 0; i < t->n; i++) {
		t->nodes[i].total = t->nodes[i].self;
	}
	for (size_t i = t->n; i-- > 1;) {
		struct ct_node *pn = &t->nodes[t->nodes[i].parent];
		pn->total = wrap_add(pn->total, t->nodes[i].total);
	}
	free(t->slots);
	t->slots = NULL;
	return 0;
oom:
	snprintf(err, errlen, "out of memory building the call tree");
	return -1;
}

struct name_key {
	const char *s;
	uint32_t id;
};

static int cmp_name_key(const void *a, const void *b)
{
	return strcmp(((const struct name_key *)a)->s, ((const struct name_key *)b)->s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int calltree_sort(struct calltree *t, const struct prof *p, char *err, size_t errlen)
{
	struct name_key *keys = malloc((p->nnames ? p->nnames : 1) * sizeof *keys);
	uint32_t *rank = malloc((p->nnames ? p->nnames : 1) * sizeof *rank);
	uint64_t *kids = malloc(t->n * sizeof *kids);
	int rc = -1;

	if (!keys || !rank || !kids) {
		snprintf(err, errlen, "out of memory sorting the call tree");
		goto out;
	}
	for (size_t i = 0; i < p->nnames; i++) {
		keys[i].s = p->names[i];
		keys[i].id = (uint32_t)i;
	}
	qsort(keys, p->nnames, sizeof *keys, cmp_name_key);
	for (size_t i = 0; i < p->nnames; i++) {
		rank[keys[i].id] = (uint32_t)i;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t nk = 0;
		for (uint32_t c = t->nodes[i].child; c != CT_NONE; c = t->nodes[c].sibling) {
			kids[nk++] = ((uint64_t)rank[t->nodes[c].name] << 32) | c;
		}
		if (nk < 2) {
			continue;
		}
		qsort(kids, nk, sizeof *kids, cmp_u64);
		uint32_t next = CT_NONE;
		for (size_t k = nk; k-- > 0;) {
			uint32_t c = (uint32_t)kids[k];
			t->nodes[c].sibling = next;
			next = c;
		}
		t->nodes[i].child = next;
	}
	rc = 0;
out:
	free(keys);
	free(rank);
	free(kids);
	return rc;
}

int calltree_for(struct calltree *t, const struct prof *p, const char *path, const char *value,
                 size_t *vidx)
{
	const char *spec;
	char err[256];
	int prefer_count;

	memset(t, 0, sizeof *t);
	folded_value_spec(value, &spec, &prefer_count);
	if (tool_pick_value(p, path, spec, prefer_count, vidx) < 0) {
		return -1;
	}
	if (calltree_build(t, p, *vidx, err, sizeof err) < 0 ||
	    calltree_sort(t, p, err, sizeof err) < 0) {
		tool_error("%s: %s", path, err);
		return -1;
	}
	return 0;
}

uint32_t calltree_next(const struct calltree *t, uint32_t cur, int descend)
{
	if (descend && t->nodes[cur].child != CT_NONE) {
		return t->nodes[cur].child;
	}
	while (cur != 0) {
		if (t->nodes[cur].sibling != CT_NONE) {
			return t->nodes[cur].sibling;
		}
		cur = t->nodes[cur].parent;
	}
	return CT_NONE;
}

void calltree_free(struct calltree *t)
{
	free(t->nodes);
	free(t->slots);
	memset(t, 0, sizeof *t);
}
