/*
 * report: `cpuprof report`, the top functions by flat or cumulative value, laid out like
 * `go tool pprof -top`. Flat is the value of the samples whose leaf frame is the function;
 * cum counts each sample once per function on its stack, so recursion is not counted
 * twice. Inlined frames are functions of their own. Percentages are of the sum of |value|,
 * as in pprof.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

struct row {
	const char *name;
	int64_t flat, cum;
};

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a > b ? -1 : a < b;
}

static int cmp_flat(const void *a, const void *b)
{
	const struct row *l = a, *r = b;
	int c = cmp_u64_desc(abs_u64(l->flat), abs_u64(r->flat));

	if (c == 0) {
		c = strcmp(l->name, r->name);
	}
	return c ? c : cmp_u64_desc(abs_u64(l->cum), abs_u64(r->cum));
}

static int cmp_cum(const void *a, const void *b)
{
	const struct row *l = a, *r = b;
	int c = cmp_u64_desc(abs_u64(l->cum), abs_u64(r->cum));

	if (c == 0) {
		c = strcmp(l->name, r->name);
	}
	return c ? c : cmp_u64_desc(abs_u64(l->flat), abs_u64(r->flat));
}

/* Writes a name with control characters replaced, so a hostile name cannot move the
 * terminal's cursor or split a line. */
static void put_name(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		putc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
	putc('\n', out);
}

static void put_header(FILE *out, const struct prof *p, size_t vidx, int64_t total)
{
	const char *unit = p->str[p->types[vidx].unit];
	char a[64], b[64];

	if (p->nmappings > 0 && *p->str[p->mappings[0].filename]) {
		const char *file = p->str[p->mappings[0].filename];
		const char *slash = strrchr(file, '/');
		fprintf(out, "File: ");
		put_name(out, slash && slash[1] ? slash + 1 : file);
	}
	fprintf(out, "Type: ");
	put_name(out, p->str[p->types[vidx].type]);
	if (p->time_nanos > 0) {
		time_t secs = (time_t)(p->time_nanos / 1000000000);
		struct tm tm;
		char when[64];
		if (localtime_r(&secs, &tm) &&
		    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm)) {
			fprintf(out, "Time: %s\n", when);
		}
	}
	if (p->duration_nanos > 0) {
		fprintf(out, "Duration: %s, ",
		        fmt_value(a, sizeof a, p->duration_nanos, "nanoseconds"));
	}
	fprintf(out, "Total samples = %s", fmt_value(a, sizeof a, total, unit));
	if (p->duration_nanos > 0 && strcmp(unit, "nanoseconds") == 0) {
		fprintf(out, " (%s)", fmt_percent(b, sizeof b, total, p->duration_nanos));
	}
	fputc('\n', out);
}

int report_write(FILE *out, const struct prof *p, const char *path, const struct report_opts *o)
{
	int64_t *flat = NULL, *cum = NULL;
	uint32_t *stamp = NULL;
	struct row *rows = NULL;
	size_t vidx, nrows = 0;
	uint64_t total_abs = 0;
	int rc = -1;

	if (tool_pick_value(p, path, o->value, 0, &vidx) < 0) {
		return -1;
	}
	size_t nn = p->nnames ? p->nnames : 1;
	flat = calloc(nn, sizeof *flat);
	cum = calloc(nn, sizeof *cum);
	stamp = calloc(nn, sizeof *stamp);
	rows = malloc(nn * sizeof *rows);
	if (!flat || !cum || !stamp || !rows) {
		tool_error("%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prof_sample *sm = &p->samples[i];
		int64_t v = prof_value(p, i, vidx);

		total_abs += abs_u64(v);
		if (v == 0 || sm->nloc == 0) {
			continue;
		}
		const struct prof_location *leaf = &p->locs[p->sample_loc[sm->loc_off]];
		uint32_t leaf_name = p->frames[leaf->frame_off];
		flat[leaf_name] = wrap_add(flat[leaf_name], v);
		/* stamp[name] == i + 1: already counted in this sample (recursion). */
		for (uint32_t j = 0; j < sm->nloc; j++) {
			const struct prof_location *loc = &p->locs[p->sample_loc[sm->loc_off + j]];
			for (uint32_t k = 0; k < loc->nframe; k++) {
				uint32_t name = p->frames[loc->frame_off + k];
				if (stamp[name] != (uint32_t)(i + 1)) {
					stamp[name] = (uint32_t)(i + 1);
					cum[name] = wrap_add(cum[name], v);
				}
			}
		}
	}
	for (size_t i = 0; i < p->nnames; i++) {
		if (flat[i] || cum[i]) {
			rows[nrows].name = p->names[i];
			rows[nrows].flat = flat[i];
			rows[nrows].cum = cum[i];
			nrows++;
		}
	}
	qsort(rows, nrows, sizeof *rows, o->by_cum ? cmp_cum : cmp_flat);
	size_t shown =
	    o->nodecount > 0 && (size_t)o->nodecount < nrows ? (size_t)o->nodecount : nrows;
	int64_t total = (int64_t)total_abs, shown_flat = 0;
	for (size_t i = 0; i < shown; i++) {
		shown_flat = wrap_add(shown_flat, rows[i].flat);
	}

	const char *unit = p->str[p->types[vidx].unit];
	char a[64], b[64], c[64], d[64], e[64];
	put_header(out, p, vidx, total);
	fprintf(out, "Showing nodes accounting for %s, %s of %s total\n",
	        fmt_value_ref(a, sizeof a, shown_flat, total, unit),
	        fmt_percent(b, sizeof b, shown_flat, total), fmt_value(c, sizeof c, total, unit));
	if (shown < nrows) {
		fprintf(out, "Showing top %zu nodes out of %zu\n", shown, nrows);
	}
	fprintf(out, "%10s %7s %7s %10s %7s\n", "flat", "flat%", "sum%", "cum", "cum%");
	int64_t sum = 0;
	for (size_t i = 0; i < shown; i++) {
		sum = wrap_add(sum, rows[i].flat);
		fprintf(out, "%10s %7s %7s %10s %7s  ",
		        fmt_value_ref(a, sizeof a, rows[i].flat, total, unit),
		        fmt_percent(b, sizeof b, rows[i].flat, total),
		        fmt_percent(c, sizeof c, sum, total),
		        fmt_value_ref(d, sizeof d, rows[i].cum, total, unit),
		        fmt_percent(e, sizeof e, rows[i].cum, total));
		put_name(out, rows[i].name);
	}
	rc = 0;
out:
	free(flat);
	free(cum);
	free(stamp);
	free(rows);
	return rc;
}

int report_writer(FILE *out, const struct prof *p, const char *path, const void *opts)
{
	return report_write(out, p, path, opts);
}

static const char report_usage[] =
    "usage: cpuprof report [-n N] [--cum] [--sample-index=K] PROFILE\n"
    "  -n N              show the top N functions (default 20; 0 shows all)\n"
    "  --cum             sort by cumulative value instead of flat\n"
    "  --sample-index=K  the value to show: a sample type name (samples, cpu) or its\n"
    "                    0-based index; default: default_sample_type, else the last type\n";

static int report_opt(int argc, char **argv, int *i, void *opts)
{
	struct report_opts *o = opts;
	const char *v;
	int r;

	if (opt_flag(argv, *i, "--cum")) {
		o->by_cum = 1;
		return 1;
	}
	if ((r = opt_value(argc, argv, i, "-n", &v)) != 0 ||
	    (r = opt_value(argc, argv, i, "--nodecount", &v)) != 0) {
		return r < 0 || opt_int("-n", v, 0, 1LL << 40, &o->nodecount) < 0 ? -1 : 1;
	}
	if ((r = opt_value(argc, argv, i, "--sample-index", &v)) != 0) {
		o->value = v;
		return r;
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct tool_cmd cmd = {
	    "report",   report_usage,  "[-n N] [--cum] [--sample-index=K] PROFILE",
	    report_opt, report_writer, NULL};
	struct report_opts o = {20, 0, NULL};

	return tool_run(argc, argv, &cmd, &o, &o);
}
