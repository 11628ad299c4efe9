/*
 * common: what the subcommands of the cpuprof tool share. main.c dispatches to one cmd_*
 * function per subcommand (report.c, folded.c, flamegraph.c, record.c). report, folded
 * and flamegraph share one command line (tool_run) and differ in their writer, which
 * record.c also calls to convert; failures are one line through tool_error(). Values are
 * formatted as go tool pprof does. The tool is single-threaded; nothing here runs in
 * signal context.
 */
#ifndef CPUPROF_TOOL_COMMON_H
#define CPUPROF_TOOL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile_read.h"

/* Exit statuses: 1 for a bad file or a failed operation, 2 for a usage error. */
#define TOOL_EXIT_FAIL 1
#define TOOL_EXIT_USAGE 2

/* ---- subcommands ------------------------------------------------------------------- */

int cmd_report(int argc, char **argv);
int cmd_folded(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_record(int argc, char **argv);

/*
 * A writer: writes its output for profile p (read from `path`, named in error lines) to
 * out and returns 0, or -1 after printing one error line. The options behind `opts` are
 * the writer's own (NULL gives its defaults).
 */
typedef int (*tool_writer)(FILE *out, const struct prof *p, const char *path, const void *opts);

/* report: opts is a struct report_opts. `value` picks the sample type as --sample-index
 * does; NULL means pprof's default (default_sample_type, else the last type). */
struct report_opts {
	long long nodecount; /* rows shown; 0: all */
	int by_cum;          /* sort by cum instead of flat */
	const char *value;
};
int report_write(FILE *out, const struct prof *p, const char *path, const struct report_opts *o);
int report_writer(FILE *out, const struct prof *p, const char *path, const void *opts);

/* folded: opts points to the --value text (a const char *; NULL: the sample count). */
int folded_write(FILE *out, const struct prof *p, const char *path, const char *value);
int folded_writer(FILE *out, const struct prof *p, const char *path, const void *opts);

/* flamegraph: opts is a struct flamegraph_opts; value as folded's. */
struct flamegraph_opts {
	const char *value;
	const char *title; /* NULL: "Flame Graph" */
};
int flamegraph_write(FILE *out, const struct prof *p, const char *path,
                     const struct flamegraph_opts *o);
int flamegraph_writer(FILE *out, const struct prof *p, const char *path, const void *opts);

/* Runs writer w on the file `outpath` (NULL or "-": stdout), checks that every byte was
 * written and removes a half-written file. Returns 0 or TOOL_EXIT_FAIL (printed). */
int tool_write_output(const char *outpath, tool_writer w, const struct prof *p, const char *path,
                      const void *opts);

/*
 * The command line of report, folded and flamegraph: `cpuprof NAME [OPTIONS] PROFILE`.
 * tool_run() handles -h/--help, the one PROFILE, unknown options and the errors, calls
 * `opt` with opt_ctx for every other argument that starts with '-' (it returns 1 if it
 * took argv[*i], advancing *i past a value, 0 if it is not its option, -1 after a usage
 * error), then loads the profile and runs `write` with write_opts into *outpath (stdout
 * if outpath or *outpath is NULL). Returns the exit status.
 */
struct tool_cmd {
	const char *name;     /* "report" */
	const char *usage;    /* the --help text */
	const char *synopsis; /* "[-n N] [--cum] PROFILE", for the missing-profile error */
	int (*opt)(int argc, char **argv, int *i, void *opt_ctx);
	tool_writer write;
	const char *const *outpath; /* where the output goes (an option may set it) */
};
int tool_run(int argc, char **argv, const struct tool_cmd *cmd, void *opt_ctx,
             const void *write_opts);

/* ---- errors and options ------------------------------------------------------------- */

/* Prints "cpuprof: <message>\n" to stderr as one line (control characters in it are
 * replaced, so a hostile file name or profile string cannot split it). */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Option parsing for argv[*i]. opt_value() matches `name` given as "--name=value",
 * "--name value", "-n value" or "-nvalue" (for one-letter names) and returns 1 with
 * *value set (advancing *i past a separate value), 0 if argv[*i] is not this option, and
 * -1 after printing a usage error when the value is missing. opt_flag() matches exactly.
 */
int opt_value(int argc, char **argv, int *i, const char *name, const char **value);
int opt_flag(char **argv, int i, const char *name);

/* Parses a decimal integer in [min, max] for option `name`; prints a usage error and
 * returns -1 if it is not one. */
int opt_int(const char *name, const char *text, long long min, long long max, long long *out);

/* ---- profiles ---------------------------------------------------------------------- */

/* Loads `path` (a pprof file, gzipped or not; "-" is stdin) or prints the one error line
 * "cpuprof: <path>: <what is wrong>" and returns -1. */
int tool_load(const char *path, struct prof *p);

/* Returns the index of the sample type that counts samples (unit "count", type "samples"
 * preferred), or -1 if there is none. */
long tool_count_index(const struct prof *p);

/* Reads --value of folded and flamegraph: NULL, "samples" or "count" give the sample
 * count (*prefer_count = 1, *spec = NULL); "ns" or "default" pprof's default; anything
 * else is a --sample-index spec. */
void folded_value_spec(const char *value, const char **spec, int *prefer_count);

/* Picks the sample type: `spec` as prof_value_index() reads it; without one, the count
 * type if prefer_count and the profile has one, else pprof's default. Prints the error
 * and returns -1 on failure. */
int tool_pick_value(const struct prof *p, const char *path, const char *spec, int prefer_count,
                    size_t *idx);

/* ---- numbers ----------------------------------------------------------------------- */

/*
 * Formats `v` in `unit` into buf as go tool pprof does: nanoseconds (and the other time
 * units) scaled to ns/us/ms/s, bytes to B/kB/MB/GB/TB, anything else as a plain number.
 * Two decimals, ".00" trimmed: "1.50s", "10ms", "0". Returns buf.
 */
char *fmt_value(char *buf, size_t len, int64_t v, const char *unit);

/* The same, in the scale that fits `ref` (pprof prints a whole report in the scale of its
 * total: "0.83s", not "830ms", next to "1.24s"). */
char *fmt_value_ref(char *buf, size_t len, int64_t v, int64_t ref, const char *unit);

/* "12.34%", "100%" (within 0.05 of it) or "0%" when total is 0, like pprof. Returns buf. */
char *fmt_percent(char *buf, size_t len, int64_t v, int64_t total);

/* Addition that wraps instead of overflowing (hostile values must not be UB). */
static inline int64_t wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* |v| as unsigned, defined for INT64_MIN too. */
static inline uint64_t abs_u64(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

#endif
