/*
 * common: error lines, option parsing, loading and value formatting shared by the
 * subcommands (see common.h). Called from the main thread only.
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tool_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* One line, whatever a file name or a profile string held. */
	for (char *c = buf; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*c = '?';
		}
	}
	fprintf(stderr, "cpuprof: %s\n", buf);
}

int opt_flag(char **argv, int i, const char *name)
{
	return strcmp(argv[i], name) == 0;
}

int opt_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0) {
		return 0;
	}
	if (a[n] == '=' && name[1] == '-') {
		*value = a + n + 1;
		return 1;
	}
	if (a[n] != '\0') {
		/* "-n20" for one-letter options; "--name-other" is another option. */
		if (name[1] != '-' && n == 2) {
			*value = a + n;
			return 1;
		}
		return 0;
	}
	if (*i + 1 >= argc) {
		tool_error("option %s needs a value", name);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

int opt_int(const char *name, const char *text, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max) {
		tool_error("option %s wants a number from %lld to %lld, not '%s'", name, min, max,
		           text);
		return -1;
	}
	*out = v;
	return 0;
}

int tool_load(const char *path, struct prof *p)
{
	char err[512];

	if (prof_load(path, p, err, sizeof err) < 0) {
		tool_error("%s: %s", path, err);
		return -1;
	}
	return 0;
}

/* Prints x with two decimals and ".00" trimmed, then the suffix. */
static char *fmt_scaled(char *buf, size_t len, double x, const char *suffix)
{
	char num[64];
	size_t n;

	snprintf(num, sizeof num, "%.2f", x);
	n = strlen(num);
	if (n > 3 && strcmp(num + n - 3, ".00") == 0) {
		num[n - 3] = '\0';
	}
	snprintf(buf, len, "%s%s", num, suffix);
	return buf;
}

char *fmt_value(char *buf, size_t len, int64_t v, const char *unit)
{
	return fmt_value_ref(buf, len, v, v, unit);
}

char *fmt_value_ref(char *buf, size_t len, int64_t v, int64_t ref, const char *unit)
{
	static const struct {
		const char *unit;
		double ns;
	} time_units[] = {
	    {"nanoseconds", 1},
	    {"microseconds", 1e3},
	    {"milliseconds", 1e6},
	    {"seconds", 1e9},
	};
	double x = (double)v, xr = (double)ref;

	if (v == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	for (size_t i = 0; i < sizeof time_units / sizeof time_units[0]; i++) {
		if (strcmp(unit, time_units[i].unit) != 0) {
			continue;
		}
		double ns = x * time_units[i].ns, a = fabs(xr * time_units[i].ns);
		if (a >= 1e9) {
			return fmt_scaled(buf, len, ns / 1e9, "s");
		}
		if (a >= 1e6) {
			return fmt_scaled(buf, len, ns / 1e6, "ms");
		}
		if (a >= 1e3) {
			return fmt_scaled(buf, len, ns / 1e3, "us");
		}
		return fmt_scaled(buf, len, ns, "ns");
	}
	if (strcmp(unit, "bytes") == 0) {
		static const char *const sfx[] = {"B", "kB", "MB", "GB", "TB", "PB"};
		double a = fabs(xr);
		size_t k = 0;
		while (a >= 1024 && k + 1 < sizeof sfx / sizeof sfx[0]) {
			a /= 1024;
			x /= 1024;
			k++;
		}
		return fmt_scaled(buf, len, x, sfx[k]);
	}
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

char *fmt_percent(char *buf, size_t len, int64_t v, int64_t total)
{
	double r = total ? fabs((double)v / (double)total) * 100 : 0;

	if (r >= 99.95 && r <= 100.05) {
		snprintf(buf, len, "100%%");
	} else if (r == 0) {
		snprintf(buf, len, "0%%");
	} else {
		snprintf(buf, len, "%.2f%%", r);
	}
	return buf;
}

long tool_count_index(const struct prof *p)
{
	long found = -1;

	for (size_t i = 0; i < p->ntypes; i++) {
		if (strcmp(p->str[p->types[i].unit], "count") != 0) {
			continue;
		}
		if (strcmp(p->str[p->types[i].type], "samples") == 0) {
			return (long)i;
		}
		if (found < 0) {
			found = (long)i;
		}
	}
	return found;
}

int tool_pick_value(const struct prof *p, const char *path, const char *spec, int prefer_count,
                    size_t *idx)
{
	char err[600];

	if (!spec && prefer_count && tool_count_index(p) >= 0) {
		*idx = (size_t)tool_count_index(p);
		return 0;
	}
	if (prof_value_index(p, spec, idx, err, sizeof err) < 0) {
		tool_error("%s: %s", path, err);
		return -1;
	}
	return 0;
}

int tool_write_output(const char *outpath, tool_writer w, const struct prof *p, const char *path,
                      const void *opts)
{
	int to_stdout = !outpath || strcmp(outpath, "-") == 0;
	FILE *out = to_stdout ? stdout : fopen(outpath, "w");
	int rc, err = 0;

	if (!out) {
		tool_error("%s: cannot create: %s", outpath, strerror(errno));
		return TOOL_EXIT_FAIL;
	}
	rc = w(out, p, path, opts) < 0 ? TOOL_EXIT_FAIL : 0;
	if (fflush(out) != 0 || ferror(out)) {
		err = errno ? errno : EIO;
	}
	if (!to_stdout && fclose(out) != 0 && !err) {
		err = errno ? errno : EIO;
	}
	if (err && rc == 0) {
		tool_error("%s: cannot write: %s", to_stdout ? "standard output" : outpath,
		           strerror(err));
		rc = TOOL_EXIT_FAIL;
	}
	if (rc != 0 && !to_stdout) {
		remove(outpath);
	}
	return rc;
}

int tool_run(int argc, char **argv, const struct tool_cmd *cmd, void *opt_ctx,
             const void *write_opts)
{
	const char *path = NULL;
	struct prof p;
	int r, rc;

	for (int i = 1; i < argc; i++) {
		if (opt_flag(argv, i, "-h") || opt_flag(argv, i, "--help")) {
			fputs(cmd->usage, stdout);
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			r = cmd->opt(argc, argv, &i, opt_ctx);
			if (r < 0) {
				return TOOL_EXIT_USAGE;
			}
			if (r == 0) {
				tool_error("%s: unknown option '%s' (see cpuprof %s --help)",
				           cmd->name, argv[i], cmd->name);
				return TOOL_EXIT_USAGE;
			}
		} else if (path) {
			tool_error("%s: one profile at a time ('%s' and '%s')", cmd->name, path,
			           argv[i]);
			return TOOL_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		tool_error("%s: no profile given (usage: cpuprof %s %s)", cmd->name, cmd->name,
		           cmd->synopsis);
		return TOOL_EXIT_USAGE;
	}
	if (tool_load(path, &p) < 0) {
		return TOOL_EXIT_FAIL;
	}
	rc = tool_write_output(cmd->outpath ? *cmd->outpath : NULL, cmd->write, &p, path,
	                       write_opts);
	prof_free(&p);
	return rc;
}
