/*
 * calltree: the samples of a profile merged into one tree of frames, root first, as
 * flame graphs and folded stacks need them. Frames are compared by name (prof.names),
 * so two addresses in one function share a node, and each Line of a Location is its own
 * frame. Built on the main thread by folded.c and flamegraph.c; not async-signal-safe.
 */
#ifndef CPUPROF_TOOL_CALLTREE_H
#define CPUPROF_TOOL_CALLTREE_H

#include <stddef.h>
#include <stdint.h>

#include "profile_read.h"

#define CT_NONE UINT32_MAX
#define CT_LINEAR_MAX 8

/*
 * A node is one call path from the root. Node 0 is the root ("all", name CT_NONE); a
 * child always has a higher index than its parent, so one backward pass sums totals.
 * Children form a list through `child` and `sibling`, in name order after
 * calltree_sort().
 */
struct ct_node {
	uint32_t name;    /* index into prof.names, CT_NONE for the root */
	uint32_t parent;  /* CT_NONE for the root */
	uint32_t child;   /* first child or CT_NONE */
	uint32_t sibling; /* next child of the parent or CT_NONE */
	uint32_t depth;   /* 0 for the root */
	uint32_t nkids;   /* over CT_LINEAR_MAX: the children are in the hash table */
	int64_t self;     /* sum of the samples whose leaf is this path */
	int64_t total;    /* self plus every child's total (wrapping on overflow) */
};

struct ct_slot {
	uint64_t key;  /* parent << 32 | name */
	uint32_t node; /* index + 1; 0 is empty */
};

struct calltree {
	struct ct_node *nodes;
	size_t n, cap;
	uint32_t max_depth;
	/* While building: a hash table from (parent, name) to node for the children of
	 * nodes with many of them (a few are found by walking the list). The key is kept in
	 * the slot so that a probe touches one cache line, not the node too. */
	struct ct_slot *slots;
	size_t mask, used;
};

/* Builds the tree of value `vidx` (samples whose value is 0 are left out, as pprof
 * does). Returns 0, or -1 with a message in err; calltree_free() is safe either way. */
int calltree_build(struct calltree *t, const struct prof *p, size_t vidx, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Orders the children of every node by name (byte order). */
int calltree_sort(struct calltree *t, const struct prof *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* What folded and flamegraph start from: the tree of the value that `value` (their
 * --value text, see folded_value_spec) picks, children sorted, *vidx set. Returns 0, or
 * -1 after printing the error (calltree_free() is safe either way). */
int calltree_for(struct calltree *t, const struct prof *p, const char *path, const char *value,
                 size_t *vidx) __attribute__((warn_unused_result));

/* The node after `cur` in pre-order (parents before children, siblings in list order),
 * not entering cur's children unless `descend`; CT_NONE after the last. Start at 0. */
uint32_t calltree_next(const struct calltree *t, uint32_t cur, int descend);

void calltree_free(struct calltree *t);

#endif
