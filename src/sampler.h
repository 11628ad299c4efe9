/*
 * sampler: sessions over the shared sampler, for the sinks other than cpuprof_start's file
 * (HTTP requests, periodic windows, the preload's toggles). Normal context only.
 */
#ifndef CPUPROF_SAMPLER_H
#define CPUPROF_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

/* Opens a session; starts the sampler at `hz` (0: the default rate) if none runs, else
 * joins it at its rate. Returns 0 or a negative CPUPROF_E* code. */
int cpuprof__session_open_hz(int hz, struct cpuprof__session **out);
/* Ends the session's window: every record written before the call is in its table. */
void cpuprof__session_close(struct cpuprof__session *s);
/* Ends the session's window and opens the next one at the same boundary (no record in
 * both, none in neither). Returns 0 and the new session in *next. */
int cpuprof__session_rotate_hz(struct cpuprof__session *s, struct cpuprof__session **next);
/* Encodes the session (or `tab`, a snapshot of it) as a gzipped pprof whose window ends at
 * end_mono_ns. */
int cpuprof__session_build(struct cpuprof__session *s, struct cpuprof__stacktab *tab,
			   int64_t end_mono_ns, uint8_t **out, size_t *outlen);

#endif
