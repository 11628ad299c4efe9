/*
 * folded: `cpuprof folded`, one line per distinct stack, root first, frames joined by
 * ';', then one space and the value: "main;run;hot 123", as FlameGraph's flamegraph.pl,
 * speedscope and Pyroscope read it. The value is the sample count by default (what those
 * tools expect); --value=ns (or --sample-index) picks another. In names ';' becomes ':'
 * and control characters (newlines included) become '?'. Stacks whose value is not
 * positive are left out, since the consumers want an integer of at least 1.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "calltree.h"
#include "common.h"

void folded_value_spec(const char *value, const char **spec, int *prefer_count)
{
	*spec = NULL;
	*prefer_count = 1;
	if (!value || strcmp(value, "samples") == 0 || strcmp(value, "count") == 0) {
		return;
	}
	*prefer_count = 0;
	if (strcmp(value, "ns") != 0 && strcmp(value, "default") != 0) {
		*spec = value;
	}
}

/* The names as folded text wants them: ';' as ':', control characters as '?'. */
static char **clean_names(const struct prof *p, size_t **lens)
{
	char **clean = calloc(p->nnames ? p->nnames : 1, sizeof *clean);

	*lens = malloc((p->nnames ? p->nnames : 1) * sizeof **lens);
	if (!clean || !*lens) {
		free(clean);
		free(*lens);
		*lens = NULL;
		return NULL;
	}
	for (size_t i = 0; i < p->nnames; i++) {
		size_t n = strlen(p->names[i]);
		clean[i] = malloc(n + 1);
		if (!clean[i]) {
			for (size_t j = 0; j < i; j++) {
				free(clean[j]);
			}
			free(clean);
			free(*lens);
			*lens = NULL;
			return NULL;
		}
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)p->names[i][k];
			clean[i][k] = c == ';' ? ':' : c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
		clean[i][n] = '\0';
		(*lens)[i] = n;
	}
	return clean;
}

int folded_write(FILE *out, const struct prof *p, const char *path, const char *value)
{
	struct calltree t;
	char *buf = NULL, **clean = NULL;
	size_t *off = NULL, *lens = NULL, cap = 4096, vidx;
	int rc = -1;

	if (calltree_for(&t, p, path, value, &vidx) < 0) {
		goto out;
	}
	buf = malloc(cap);
	off = malloc(((size_t)t.max_depth + 1) * sizeof *off);
	clean = clean_names(p, &lens);
	if (!buf || !off || !clean) {
		tool_error("%s: out of memory", path);
		goto out;
	}
	/* buf holds the path to the current node; off[d] is its length at depth d. */
	off[0] = 0;
	for (uint32_t n = calltree_next(&t, 0, 1); n != CT_NONE; n = calltree_next(&t, n, 1)) {
		const struct ct_node *nd = &t.nodes[n];
		size_t len = off[nd->depth - 1], nlen = lens[nd->name];

		if (len + nlen + 32 > cap) {
			while (len + nlen + 32 > cap) {
				cap *= 2;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				tool_error("%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		if (nd->depth > 1) {
			buf[len++] = ';';
		}
		memcpy(buf + len, clean[nd->name], nlen);
		len += nlen;
		off[nd->depth] = len;
		if (nd->self > 0) {
			/* The line is built after the path (room for 32 bytes was made above). */
			int k = snprintf(buf + len, 32, " %" PRId64 "\n", nd->self);
			fwrite(buf, 1, len + (size_t)k, out);
		}
	}
	rc = 0;
out:
	for (size_t i = 0; clean && i < p->nnames; i++) {
		free(clean[i]);
	}
	free(clean);
	free(lens);
	free(buf);
	free(off);
	calltree_free(&t);
	return rc;
}

/* opts points to the --value text (a const char *, NULL for the default). */
int folded_writer(FILE *out, const struct prof *p, const char *path, const void *opts)
{
	return folded_write(out, p, path, opts ? *(const char *const *)opts : NULL);
}

static const char folded_usage[] =
    "usage: cpuprof folded [--value=samples|ns] [--sample-index=K] PROFILE\n"
    "  Prints one line per distinct stack, root first: \"main;run;hot 123\".\n"
    "  --value=samples   the sample count (the default, what flamegraph.pl and speedscope\n"
    "                    expect; the profile's default value if it counts no samples)\n"
    "  --value=ns        the profile's default value (default_sample_type, else the last\n"
    "                    sample type: CPU nanoseconds in a CPU profile)\n"
    "  --sample-index=K  any sample type, by name or 0-based index\n";

static int folded_opt(int argc, char **argv, int *i, void *opts)
{
	const char **value = opts;
	int r;

	if ((r = opt_value(argc, argv, i, "--value", value)) != 0 ||
	    (r = opt_value(argc, argv, i, "--sample-index", value)) != 0) {
		return r;
	}
	return 0;
}

int cmd_folded(int argc, char **argv)
{
	static const struct tool_cmd cmd = {
	    "folded",   folded_usage,  "[--value=samples|ns] PROFILE",
	    folded_opt, folded_writer, NULL};
	const char *value = NULL;

	return tool_run(argc, argv, &cmd, &value, &value);
}
