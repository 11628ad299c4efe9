/* logset allocation (normal context only; see logset.c for the signal-side operations). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "core.h"

struct cpuprof__logset *cpuprof__logset_new(uint32_t nrings, uint32_t max_depth,
					    size_t ring_words)
{
	if (nrings < 1 || nrings > CPUPROF__MAX_RINGS) {
		return NULL;
	}
	struct cpuprof__logset *ls = calloc(1, sizeof(*ls));
	if (!ls) {
		return NULL;
	}
	ls->nrings = nrings;
	ls->max_depth = max_depth;
	for (uint32_t i = 0; i < nrings; i++) {
		struct cpuprof__ring *r = &ls->rings[i];
		/* One tag per record; records are at least 2 + hdr + 1 words. */
		r->buf = cpuprof__profbuf_new(CPUPROF__HDR_WORDS, ring_words, ring_words / 8,
					      &ls->note);
		r->scratch = calloc((size_t)max_depth + 4, sizeof(uint64_t));
		if (!r->buf || !r->scratch) {
			cpuprof__logset_free(ls);
			return NULL;
		}
	}
	return ls;
}

void cpuprof__logset_free(struct cpuprof__logset *ls)
{
	if (!ls) {
		return;
	}
	for (uint32_t i = 0; i < ls->nrings; i++) {
		cpuprof__profbuf_free(ls->rings[i].buf);
		free(ls->rings[i].scratch);
	}
	free(ls);
}

size_t cpuprof__logset_memory(const struct cpuprof__logset *ls)
{
	size_t m = sizeof(*ls);
	for (uint32_t i = 0; i < ls->nrings; i++) {
		m += cpuprof__profbuf_memory(ls->rings[i].buf);
		m += ((size_t)ls->max_depth + 4) * sizeof(uint64_t);
	}
	return m;
}
