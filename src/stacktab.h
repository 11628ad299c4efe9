/*
 * stacktab: the reader thread's aggregation table, keyed by (stack, label set, thread id),
 * with a weighted sample count per key, kept in insertion order so profiles are stable.
 * Only the reader thread (or one builder holding it) touches a table; no locking inside.
 */
#ifndef CPUPROF_STACKTAB_H
#define CPUPROF_STACKTAB_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

/*
 * One aggregated key. pcs is leaf first, as the handler recorded it: pcs[0] is the exact
 * interrupted PC, pcs[i > 0] are return addresses; any word below CPUPROF__FRAME_LIMIT is
 * a synthetic frame (frames.h). tid is the kernel thread id (0 when unknown).
 */
struct cpuprof__stackent {
	const uint64_t *pcs;
	uint32_t npcs;
	int32_t tid;
	const struct cpuprof__labelset *labels;
	int64_t count; /* weighted samples */
};

struct cpuprof__stacktab;

struct cpuprof__stacktab *cpuprof__stacktab_new(void);
void cpuprof__stacktab_free(struct cpuprof__stacktab *t);
/* Drops every entry, keeping the allocated memory for reuse. */
void cpuprof__stacktab_reset(struct cpuprof__stacktab *t);

/* Adds `count` to the key (pcs[0..n), labels, tid), creating it if new. Returns 0 or
 * CPUPROF_ENOMEM. */
int cpuprof__stacktab_add(struct cpuprof__stacktab *t, const uint64_t *pcs, size_t n,
			  const struct cpuprof__labelset *labels, int32_t tid, int64_t count);

/* Adds every entry of `src` into `dst`. */
int cpuprof__stacktab_merge(struct cpuprof__stacktab *dst, const struct cpuprof__stacktab *src);

size_t cpuprof__stacktab_len(const struct cpuprof__stacktab *t);
/* Entry i in insertion order, 0 <= i < len. */
const struct cpuprof__stackent *cpuprof__stacktab_entry(const struct cpuprof__stacktab *t,
							size_t i);
/* Sum of all counts. */
int64_t cpuprof__stacktab_total(const struct cpuprof__stacktab *t);
/* Bytes held by the table. */
size_t cpuprof__stacktab_memory(const struct cpuprof__stacktab *t);

#endif
