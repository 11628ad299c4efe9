/*
 * profile_read: reads any pprof profile (profile.proto, gzipped or not; ours, Go's or
 * pprof's) into memory with its own small protobuf decoder, checks it as pprof's
 * CheckValid does, and names every frame. Every subcommand of the tool uses it, and so
 * does tests/fuzz/fuzz_profile_read.c. Input is untrusted: every length, index and id is
 * checked, the uncompressed size is bounded (PROF_MAX_BYTES), and a failure is one line of
 * text. Single-threaded; not async-signal-safe.
 */
#ifndef CPUPROF_TOOL_PROFILE_READ_H
#define CPUPROF_TOOL_PROFILE_READ_H

#include <stddef.h>
#include <stdint.h>

/* The largest profile accepted, uncompressed (and the largest file read). */
#define PROF_MAX_BYTES ((size_t)1 << 30)

/* A Profile.sample_type / period_type entry: indices into prof.str. */
struct prof_value_type {
	uint32_t type, unit;
};

/* A sample: its locations are prof.sample_loc[loc_off .. loc_off + nloc), leaf first,
 * as indices into prof.locs; its values are prof.values[i * ntypes .. + ntypes). */
struct prof_sample {
	uint32_t loc_off, nloc;
	uint32_t nval; /* == ntypes once the profile has been checked */
};

/*
 * A location expands to nframe frames, prof.frames[frame_off .. + nframe), innermost
 * (leaf side) first: one per Line (line[0] is the innermost inlined callee, the last is
 * the physical function), or one synthetic frame for a location without lines, named
 * "[<mapping file basename>]" like pprof, or "0x<address>" when there is no mapping file.
 * nframe is always at least 1.
 */
struct prof_location {
	uint64_t id, mapping_id, address;
	uint32_t line_off, nline;   /* into prof.lines */
	uint32_t frame_off, nframe; /* into prof.frames */
	int32_t mapping;            /* index into prof.mappings, or -1 */
};

struct prof_line {
	uint64_t function; /* Function.id while decoding, then an index into prof.funcs */
	int64_t line;
};

struct prof_function {
	uint64_t id;
	uint32_t name, system_name, filename; /* indices into prof.str */
	int64_t start_line;
	uint32_t name_id; /* index into prof.names */
};

struct prof_mapping {
	uint64_t id;
	uint32_t filename, build_id; /* indices into prof.str */
};

struct prof {
	/* The string table, each a NUL-terminated copy (a string with a NUL byte in it
	 * reads as its prefix). str[0] is "". */
	const char **str;
	size_t nstr;

	struct prof_value_type *types;
	size_t ntypes;
	struct prof_sample *samples;
	size_t nsamples;
	int64_t *values;      /* nsamples * ntypes */
	uint32_t *sample_loc; /* all samples' location indices */

	struct prof_location *locs;
	size_t nlocs;
	struct prof_line *lines;
	size_t nlines;
	struct prof_function *funcs;
	size_t nfuncs;
	struct prof_mapping *mappings;
	size_t nmappings;

	struct prof_value_type period_type;
	int64_t period, time_nanos, duration_nanos;
	uint32_t default_sample_type; /* index into str; 0 if unset */

	/* Frame names: distinct display names (function name, else system name, else a
	 * synthetic name), and every location's frames as indices into names. */
	const char **names;
	size_t nnames;
	uint32_t *frames;
	size_t nframes;

	/* Owned memory behind the pointers above. */
	char *str_arena;
	char **owned_names;
	size_t nowned_names;
};

/*
 * Parses `len` bytes (gzip is detected by its magic, as pprof does) into *p. On failure
 * returns -1, leaves *p empty (prof_free is still safe) and writes one line saying what
 * is wrong into err. Returns 0 on success.
 */
int prof_parse(const uint8_t *data, size_t len, struct prof *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads the file at `path` ("-" reads stdin) and parses it. Errors as prof_parse(), with
 * "cannot open: <strerror>" and friends for I/O problems. */
int prof_load(const char *path, struct prof *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void prof_free(struct prof *p);

/*
 * Picks the value used for a report, as pprof's -sample_index does. spec NULL: the
 * default_sample_type if it names a sample type, else the last sample type. Otherwise
 * spec is a 0-based index ("1") or a sample type name ("cpu", "samples"). Returns 0 and
 * sets *idx, or -1 with a message in err.
 */
int prof_value_index(const struct prof *p, const char *spec, size_t *idx, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The value of sample i for sample type k. */
static inline int64_t prof_value(const struct prof *p, size_t i, size_t k)
{
	return p->values[i * p->ntypes + k];
}

#endif
