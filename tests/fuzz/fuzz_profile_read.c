/*
 * fuzz_profile_read: the cpuprof tool's pprof reader (tools/cpuprof/profile_read.c) and
 * everything that consumes what it returns: report, folded and flame graph output. A
 * rejected input must come with a one-line message; an accepted one must have every
 * index in range, and the writers must produce well-formed output from it (folded lines
 * "stack N"; a flame graph of valid UTF-8 without control characters). The tool's
 * sources are compiled into this file, since the target links only cpuprof_static.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream, localtime_r */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_read.c"
#include "calltree.c"
#include "common.c"
#include "report.c"
#include "folded.c"
#include "flamegraph.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_indices(const struct prof *p)
{
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prof_sample *sm = &p->samples[i];
		if (sm->nval != p->ntypes) {
			abort();
		}
		for (uint32_t j = 0; j < sm->nloc; j++) {
			if (p->sample_loc[sm->loc_off + j] >= p->nlocs) {
				abort();
			}
		}
	}
	for (size_t i = 0; i < p->nlocs; i++) {
		const struct prof_location *loc = &p->locs[i];
		if (loc->nframe == 0 || (size_t)loc->frame_off + loc->nframe > p->nframes ||
		    (size_t)loc->line_off + loc->nline > p->nlines ||
		    (loc->mapping >= 0 && (size_t)loc->mapping >= p->nmappings)) {
			abort();
		}
		for (uint32_t k = 0; k < loc->nframe; k++) {
			if (p->frames[loc->frame_off + k] >= p->nnames) {
				abort();
			}
		}
	}
	for (size_t i = 0; i < p->nlines; i++) {
		if (p->lines[i].function >= p->nfuncs) {
			abort();
		}
	}
	if (p->nstr == 0 || p->str[0][0] != '\0') {
		abort();
	}
}

/* Runs a writer into memory and returns what it wrote (caller frees), or NULL. */
static char *capture(tool_writer w, const struct prof *p, const void *opts, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f) {
		return NULL;
	}
	int rc = w(f, p, "fuzz", opts);
	fclose(f);
	if (rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void check_folded(const char *s, size_t len)
{
	const char *end = s + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *sp = NULL;
		if (!nl) {
			abort(); /* every line ends with a newline */
		}
		for (const char *c = s; c < nl; c++) {
			if (*c == ' ') {
				sp = c;
			}
			if ((unsigned char)*c < 0x20) {
				abort();
			}
		}
		if (!sp || sp + 1 == nl || strspn(sp + 1, "0123456789") != (size_t)(nl - sp - 1)) {
			abort();
		}
		s = nl + 1;
	}
}

static void check_svg(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t cp;

	if (len == 0 || s[len - 1] != '\n') {
		abort();
	}
	while (p < end) {
		size_t n = next_cp(p, &cp);
		if ((cp == 0xfffd && n == 1) || cp == 0xfffe || cp == 0xffff) {
			abort(); /* an invalid byte or a non-character got through */
		}
		if (cp < 0x20 && cp != '\n') {
			abort();
		}
		p += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prof p;
	char err[512];
	size_t len;
	char *out;

	if (prof_parse(data, size, &p, err, sizeof err) != 0) {
		if (!err[0] || strchr(err, '\n')) {
			abort();
		}
		return 0;
	}
	check_indices(&p);
	if (p.ntypes > 0) {
		struct report_opts ro = {0, 0, NULL};
		struct flamegraph_opts fo = {NULL, NULL};

		out = capture(report_writer, &p, &ro, &len);
		free(out);
		ro.by_cum = 1;
		ro.nodecount = 3;
		out = capture(report_writer, &p, &ro, &len);
		free(out);
		out = capture(folded_writer, &p, NULL, &len);
		if (out) {
			check_folded(out, len);
		}
		free(out);
		out = capture(flamegraph_writer, &p, &fo, &len);
		if (out) {
			check_svg(out, len);
		}
		free(out);
	}
	prof_free(&p);
	return 0;
}
