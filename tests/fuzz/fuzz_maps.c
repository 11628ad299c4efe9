/*
 * fuzz_maps: the /proc/<pid>/maps parser. The input is parsed as one line and as a whole
 * maps text; the results must stay inside the input and agree with a linear search.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct cpuprof__mapline ml;
	if (cpuprof__maps_parse_line(text, size, &ml) == 0) {
		if (ml.start > ml.limit || ml.path < text || ml.path + ml.pathlen > text + size ||
		    ml.perms[4] != '\0') {
			abort();
		}
		(void)cpuprof__mapline_keep(&ml);
	}

	struct cpuprof__maps m;
	if (cpuprof__maps_parse(text, size, &m) != 0) {
		return 0;
	}
	/* Sorted and disjoint, as a real maps file is: then every held address is found. */
	int disjoint = 1;
	for (size_t i = 1; i < m.n; i++) {
		disjoint &= m.v[i - 1].limit <= m.v[i].start;
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct cpuprof__mapping *mp = &m.v[i];
		if (mp->start > mp->limit || strlen(mp->path) > size || mp->build_id[0] != '\0') {
			abort();
		}
		const uint64_t probes[] = {mp->start, mp->limit - (mp->limit > mp->start),
		                           mp->limit};
		for (size_t k = 0; k < 3; k++) {
			long got = cpuprof__maps_find(&m, probes[k]);
			int any = 0;
			for (size_t j = 0; j < m.n; j++) {
				any |= probes[k] >= m.v[j].start && probes[k] < m.v[j].limit;
			}
			if (got >= 0 &&
			    (probes[k] < m.v[got].start || probes[k] >= m.v[got].limit)) {
				abort();
			}
			if (disjoint && any && got < 0) {
				abort();
			}
		}
	}
	cpuprof__maps_free(&m);
	return 0;
}
