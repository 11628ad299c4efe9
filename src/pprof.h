/*
 * pprof: turns an aggregated stacktab into a gzipped profile.proto, as the Go runtime
 * writes CPU profiles, symbolized in-process (maps.c, symbolize.c) and encoded by pb.c.
 * Runs on the reader thread or the controlling thread, never in signal context.
 */
#ifndef CPUPROF_PPROF_H
#define CPUPROF_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "stacktab.h"

struct cpuprof__pprof_meta {
	int64_t time_nanos;     /* wall clock at the start of the window, ns since the epoch */
	int64_t duration_nanos; /* length of the window */
	int64_t period;         /* ns of CPU per sample: 1e9 / hz */
	int thread_labels;      /* nonzero: add "thread_id" and "thread_name" string labels */
	/* Free-form comments (Profile.comment), e.g. "cpuprof engine=perf hz=1000". */
	const char *const *comments;
	size_t ncomments;
	/* Name of a thread for the "thread_name" label, or NULL if unknown. */
	const char *(*thread_name)(void *ctx, int32_t tid);
	void *thread_name_ctx;
};

/*
 * Encodes `t` as a gzipped profile.proto into a malloc'd buffer (*out, *outlen; the caller
 * frees it). Symbolizes every address against the current process's mappings.
 * Returns 0 or a negative CPUPROF_E* code.
 */
int cpuprof__pprof_build(const struct cpuprof__stacktab *t, const struct cpuprof__pprof_meta *m,
			 uint8_t **out, size_t *outlen);

/* Writes `len` bytes to `path` through a temporary file in the same directory and a
 * rename, so a reader never sees half a profile. Returns 0 or CPUPROF_EIO. */
int cpuprof__write_file_atomic(const char *path, const uint8_t *data, size_t len);

/* Checks that a file can be created at `path` (its directory is writable), without
 * leaving a file behind. Returns 0 or CPUPROF_EIO. */
int cpuprof__check_path_writable(const char *path);

#endif
