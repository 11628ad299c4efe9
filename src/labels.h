/*
 * Label sets: immutable, interned key/value sets. A thread's current set is one pointer
 * that the SIGPROF handler copies into the sample's tag slot; because sets are interned by
 * content and never freed while the library is loaded, equal sets made separately are the
 * same pointer and a pointer in the log stays valid for as long as any profile needs it.
 */
#ifndef CPUPROF_LABELS_H
#define CPUPROF_LABELS_H

#include <stddef.h>
#include <stdint.h>

struct cpuprof__label {
	const char *key;
	const char *value;
};

/* Immutable after publication. kv is sorted by key, keys unique. */
struct cpuprof__labelset {
	uint64_t hash;
	uint32_t n;
	struct cpuprof__label kv[];
};

/* The calling thread's current set (initial-exec TLS, defined in labels.c). */
extern _Thread_local const struct cpuprof__labelset *cpuprof__tls_labels;

/* The calling thread's current set, or NULL. Async-signal-safe: one TLS load, no call.
 * A plain load is enough: the set is immutable and was published before this same thread
 * stored its pointer, and a handler runs on the thread that stored it. */
static inline const struct cpuprof__labelset *cpuprof__labels_current(void)
{
	return cpuprof__tls_labels;
}

#endif
