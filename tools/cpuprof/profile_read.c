/*
 * profile_read: the tool's pprof reader. The pipeline: read the file (bounded), gunzip it
 * if it starts with the gzip magic (bounded by PROF_MAX_BYTES and by the trailer's size),
 * decode profile.proto in one pass into growable arrays, then check it as pprof's
 * CheckValid does (string indices, ids nonzero and unique, every reference resolves,
 * value counts) and turn ids into indices, and last name every frame. Nothing here
 * trusts the input: each error is one line of text and every path frees what it took.
 */
#define _POSIX_C_SOURCE 200809L

#include "profile_read.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- errors ------------------------------------------------------------------------- */

/* Decoding state: where byte offsets count from, and where the message goes. */
struct rd {
	const uint8_t *base;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int rd_fail(struct rd *d, const uint8_t *at,
                                                         const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(d->err, d->errlen, fmt, ap);
	va_end(ap);
	if (at && d->base && n >= 0 && (size_t)n < d->errlen) {
		snprintf(d->err + n, d->errlen - (size_t)n, " (at byte %zu)",
		         (size_t)(at - d->base));
	}
	return -1;
}

/* ---- growable arrays ---------------------------------------------------------------- */

struct vec {
	void *p;
	size_t n, cap;
};

/* Appends one zeroed element of esz bytes; NULL (with the error set) when out of memory
 * or when the count would not fit the uint32 offsets the profile uses. */
static void *vec_push(struct rd *d, struct vec *v, size_t esz)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 16;
		void *np;

		if (v->n >= UINT32_MAX - 1 || ncap > SIZE_MAX / esz) {
			rd_fail(d, NULL, "too many entries");
			return NULL;
		}
		np = realloc(v->p, ncap * esz);
		if (!np) {
			rd_fail(d, NULL, "out of memory");
			return NULL;
		}
		v->p = np;
		v->cap = ncap;
	}
	void *slot = (char *)v->p + v->n * esz;
	memset(slot, 0, esz);
	v->n++;
	return slot;
}

/* ---- protobuf wire format ------------------------------------------------------------ */

struct pbuf {
	const uint8_t *p, *end;
};

struct field {
	uint64_t num;
	unsigned wire;
	uint64_t u;        /* wire types 0, 1, 5 */
	struct pbuf sub;   /* wire type 2 */
	const uint8_t *at; /* the key's first byte */
};

/* Like Go's decodeVarint: at most 10 bytes, excess high bits of the 10th dropped. */
static int rd_varint(struct rd *d, struct pbuf *b, uint64_t *out, const char *msg)
{
	const uint8_t *start = b->p;
	uint64_t v = 0;

	for (unsigned i = 0; i < 10; i++) {
		if (b->p >= b->end) {
			return rd_fail(d, start, "truncated varint in %s", msg);
		}
		uint8_t c = *b->p++;
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return rd_fail(d, start, "bad varint (longer than 10 bytes) in %s", msg);
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

/* Reads the next field of a message. Returns 1 with *f set, 0 at the end, -1 on error. */
static int rd_field(struct rd *d, struct pbuf *b, struct field *f, const char *msg)
{
	uint64_t key, len;

	if (b->p >= b->end) {
		return 0;
	}
	f->at = b->p;
	if (rd_varint(d, b, &key, msg) < 0) {
		return -1;
	}
	f->num = key >> 3;
	f->wire = (unsigned)(key & 7);
	switch (f->wire) {
	case 0:
		return rd_varint(d, b, &f->u, msg) < 0 ? -1 : 1;
	case 1:
	case 5: {
		unsigned n = f->wire == 1 ? 8 : 4;
		if ((size_t)(b->end - b->p) < n) {
			return rd_fail(d, f->at, "truncated fixed%u field %" PRIu64 " in %s", n * 8,
			               f->num, msg);
		}
		f->u = load_le(b->p, n);
		b->p += n;
		return 1;
	}
	case 2:
		if (rd_varint(d, b, &len, msg) < 0) {
			return -1;
		}
		if (len > (uint64_t)(b->end - b->p)) {
			return rd_fail(d, f->at,
			               "field %" PRIu64 " of %s is %" PRIu64
			               " bytes long but only %zu bytes are left (truncated?)",
			               f->num, msg, len, (size_t)(b->end - b->p));
		}
		f->sub.p = b->p;
		f->sub.end = b->p + len;
		b->p += len;
		return 1;
	default:
		return rd_fail(d, f->at, "unknown wire type %u in %s", f->wire, msg);
	}
}

/* A field of a scalar type must come as a varint (pprof: "type mismatch"). */
static int want_varint(struct rd *d, const struct field *f, const char *what)
{
	if (f->wire != 0) {
		return rd_fail(d, f->at, "%s has wire type %u, want 0 (varint)", what, f->wire);
	}
	return 0;
}

static int want_bytes(struct rd *d, const struct field *f, const char *what)
{
	if (f->wire != 2) {
		return rd_fail(d, f->at, "%s has wire type %u, want 2 (length-delimited)", what,
		               f->wire);
	}
	return 0;
}

/* A repeated integer field, packed or not: appends every value (as uint64) to v. */
static int add_varints(struct rd *d, const struct field *f, struct vec *v, const char *what)
{
	uint64_t *slot;

	if (f->wire == 0) {
		slot = vec_push(d, v, sizeof *slot);
		if (!slot) {
			return -1;
		}
		*slot = f->u;
		return 0;
	}
	if (f->wire != 2) {
		return rd_fail(d, f->at, "%s has wire type %u, want 0 or 2", what, f->wire);
	}
	struct pbuf b = f->sub;
	while (b.p < b.end) {
		uint64_t x;
		if (rd_varint(d, &b, &x, what) < 0) {
			return -1;
		}
		slot = vec_push(d, v, sizeof *slot);
		if (!slot) {
			return -1;
		}
		*slot = x;
	}
	return 0;
}

/* A string-table index. Anything at or above UINT32_MAX (negative numbers included) is
 * out of range whatever the table holds; the rest is checked once the table is known. */
static int rd_stridx(struct rd *d, const struct field *f, uint32_t *out, const char *what)
{
	if (want_varint(d, f, what) < 0) {
		return -1;
	}
	if (f->u >= UINT32_MAX) {
		return rd_fail(d, f->at, "%s: string index %" PRId64 " is out of range", what,
		               (int64_t)f->u);
	}
	*out = (uint32_t)f->u;
	return 0;
}

static int rd_int(struct rd *d, const struct field *f, int64_t *out, const char *what)
{
	if (want_varint(d, f, what) < 0) {
		return -1;
	}
	*out = (int64_t)f->u;
	return 0;
}

static int rd_uint(struct rd *d, const struct field *f, uint64_t *out, const char *what)
{
	if (want_varint(d, f, what) < 0) {
		return -1;
	}
	*out = f->u;
	return 0;
}

/* ---- decoding profile.proto -------------------------------------------------------- */

struct strref {
	const uint8_t *p;
	uint32_t len;
};

/* Everything the one decoding pass collects, before it is checked. */
struct dec {
	struct vec types;   /* struct prof_value_type */
	struct vec samples; /* struct prof_sample */
	struct vec sloc;    /* uint64_t location ids, then (in place) indices */
	struct vec values;  /* int64_t (stored as uint64_t) */
	struct vec locs;    /* struct prof_location */
	struct vec lines;   /* struct prof_line */
	struct vec funcs;   /* struct prof_function */
	struct vec maps;    /* struct prof_mapping */
	struct vec strs;    /* struct strref */
	struct prof_value_type period_type;
	int64_t period, time_nanos, duration_nanos;
	uint32_t default_sample_type;
	/* String indices that are only checked, not kept (labels, comments, drop_frames,
	 * keep_frames, doc_url): the largest one seen and where. */
	uint32_t max_other_str;
	const char *max_other_what;
	const uint8_t *max_other_at;
};

static void note_other_str(struct dec *s, uint32_t idx, const char *what, const uint8_t *at)
{
	if (idx > s->max_other_str) {
		s->max_other_str = idx;
		s->max_other_what = what;
		s->max_other_at = at;
	}
}

static int dec_value_type(struct rd *d, struct pbuf b, struct prof_value_type *vt)
{
	struct field f;
	int r;

	while ((r = rd_field(d, &b, &f, "ValueType")) > 0) {
		if (f.num == 1 && rd_stridx(d, &f, &vt->type, "ValueType.type") < 0) {
			return -1;
		}
		if (f.num == 2 && rd_stridx(d, &f, &vt->unit, "ValueType.unit") < 0) {
			return -1;
		}
	}
	return r;
}

static int dec_label(struct rd *d, struct pbuf b, struct dec *s)
{
	static const char *const what[] = {NULL, "Label.key", "Label.str", NULL, "Label.num_unit"};
	struct field f;
	uint32_t idx;
	int r;

	while ((r = rd_field(d, &b, &f, "Label")) > 0) {
		if (f.num == 1 || f.num == 2 || f.num == 4) {
			if (rd_stridx(d, &f, &idx, what[f.num]) < 0) {
				return -1;
			}
			note_other_str(s, idx, what[f.num], f.at);
		} else if (f.num == 3 && want_varint(d, &f, "Label.num") < 0) {
			return -1;
		}
	}
	return r;
}

static int dec_sample(struct rd *d, struct pbuf b, struct dec *s)
{
	struct prof_sample *sm = vec_push(d, &s->samples, sizeof *sm);
	size_t val0 = s->values.n;
	struct field f;
	int r;

	if (!sm) {
		return -1;
	}
	sm->loc_off = (uint32_t)s->sloc.n;
	while ((r = rd_field(d, &b, &f, "Sample")) > 0) {
		switch (f.num) {
		case 1:
			r = add_varints(d, &f, &s->sloc, "Sample.location_id");
			break;
		case 2:
			r = add_varints(d, &f, &s->values, "Sample.value");
			break;
		case 3:
			r = want_bytes(d, &f, "Sample.label");
			if (r == 0) {
				r = dec_label(d, f.sub, s);
			}
			break;
		default:
			r = 0;
		}
		if (r < 0) {
			return -1;
		}
	}
	/* sm stays valid: only other vectors grew above. */
	sm->nloc = (uint32_t)(s->sloc.n - sm->loc_off);
	sm->nval = (uint32_t)(s->values.n - val0);
	return r;
}

static int dec_line(struct rd *d, struct pbuf b, struct prof_line *ln)
{
	struct field f;
	int r = 0;

	while (r == 0 && (r = rd_field(d, &b, &f, "Line")) > 0) {
		if (f.num == 1) {
			r = rd_uint(d, &f, &ln->function, "Line.function_id");
		} else if (f.num == 2) {
			r = rd_int(d, &f, &ln->line, "Line.line");
		} else {
			r = 0;
		}
	}
	return r;
}

static int dec_location(struct rd *d, struct pbuf b, struct dec *s)
{
	struct prof_location *loc = vec_push(d, &s->locs, sizeof *loc);
	struct field f;
	int r = 0;

	if (!loc) {
		return -1;
	}
	loc->line_off = (uint32_t)s->lines.n;
	while (r == 0 && (r = rd_field(d, &b, &f, "Location")) > 0) {
		switch (f.num) {
		case 1:
			r = rd_uint(d, &f, &loc->id, "Location.id");
			break;
		case 2:
			r = rd_uint(d, &f, &loc->mapping_id, "Location.mapping_id");
			break;
		case 3:
			r = rd_uint(d, &f, &loc->address, "Location.address");
			break;
		case 4: {
			r = want_bytes(d, &f, "Location.line");
			if (r == 0) {
				struct prof_line *ln = vec_push(d, &s->lines, sizeof *ln);
				r = ln ? dec_line(d, f.sub, ln) : -1;
			}
			break;
		}
		case 5:
			r = want_varint(d, &f, "Location.is_folded");
			break;
		default:
			r = 0;
		}
	}
	loc->nline = (uint32_t)(s->lines.n - loc->line_off);
	return r;
}

static int dec_function(struct rd *d, struct pbuf b, struct dec *s)
{
	struct prof_function *fn = vec_push(d, &s->funcs, sizeof *fn);
	struct field f;
	int r = 0;

	if (!fn) {
		return -1;
	}
	while (r == 0 && (r = rd_field(d, &b, &f, "Function")) > 0) {
		switch (f.num) {
		case 1:
			r = rd_uint(d, &f, &fn->id, "Function.id");
			break;
		case 2:
			r = rd_stridx(d, &f, &fn->name, "Function.name");
			break;
		case 3:
			r = rd_stridx(d, &f, &fn->system_name, "Function.system_name");
			break;
		case 4:
			r = rd_stridx(d, &f, &fn->filename, "Function.filename");
			break;
		case 5:
			r = rd_int(d, &f, &fn->start_line, "Function.start_line");
			break;
		default:
			r = 0;
		}
	}
	return r;
}

static int dec_mapping(struct rd *d, struct pbuf b, struct dec *s)
{
	struct prof_mapping *m = vec_push(d, &s->maps, sizeof *m);
	struct field f;
	int r = 0;

	if (!m) {
		return -1;
	}
	while (r == 0 && (r = rd_field(d, &b, &f, "Mapping")) > 0) {
		switch (f.num) {
		case 1:
			r = rd_uint(d, &f, &m->id, "Mapping.id");
			break;
		case 5:
			r = rd_stridx(d, &f, &m->filename, "Mapping.filename");
			break;
		case 6:
			r = rd_stridx(d, &f, &m->build_id, "Mapping.build_id");
			break;
		case 2:
		case 3:
		case 4:
		case 7:
		case 8:
		case 9:
		case 10:
			r = want_varint(d, &f, "a Mapping field");
			break;
		default:
			r = 0;
		}
	}
	return r;
}

static int dec_profile_field(struct rd *d, const struct field *f, struct dec *s)
{
	uint32_t idx;

	switch (f->num) {
	case 1: {
		if (want_bytes(d, f, "Profile.sample_type") < 0) {
			return -1;
		}
		struct prof_value_type *vt = vec_push(d, &s->types, sizeof *vt);
		return vt ? dec_value_type(d, f->sub, vt) : -1;
	}
	case 2:
		return want_bytes(d, f, "Profile.sample") < 0 ? -1 : dec_sample(d, f->sub, s);
	case 3:
		return want_bytes(d, f, "Profile.mapping") < 0 ? -1 : dec_mapping(d, f->sub, s);
	case 4:
		return want_bytes(d, f, "Profile.location") < 0 ? -1 : dec_location(d, f->sub, s);
	case 5:
		return want_bytes(d, f, "Profile.function") < 0 ? -1 : dec_function(d, f->sub, s);
	case 6: {
		if (want_bytes(d, f, "Profile.string_table") < 0) {
			return -1;
		}
		struct strref *sr = vec_push(d, &s->strs, sizeof *sr);
		if (!sr) {
			return -1;
		}
		sr->p = f->sub.p;
		sr->len = (uint32_t)(f->sub.end - f->sub.p);
		return 0;
	}
	case 7:
	case 8:
	case 13:
	case 15:
		if (rd_stridx(d, f, &idx, "Profile string field") < 0) {
			return -1;
		}
		note_other_str(s, idx, f->num == 13 ? "Profile.comment" : "Profile.drop_frames",
		               f->at);
		return 0;
	case 9:
		/* pprof: errConcatProfile, "concatenated profiles detected". */
		if (s->time_nanos != 0) {
			return rd_fail(d, f->at,
			               "time_nanos appears twice: concatenated profiles?");
		}
		return rd_int(d, f, &s->time_nanos, "Profile.time_nanos");
	case 10:
		return rd_int(d, f, &s->duration_nanos, "Profile.duration_nanos");
	case 11:
		return want_bytes(d, f, "Profile.period_type") < 0
		           ? -1
		           : dec_value_type(d, f->sub, &s->period_type);
	case 12:
		return rd_int(d, f, &s->period, "Profile.period");
	case 14:
		return rd_stridx(d, f, &s->default_sample_type, "Profile.default_sample_type");
	default:
		return 0;
	}
}

static int dec_profile(struct rd *d, const uint8_t *data, size_t len, struct dec *s)
{
	struct pbuf b = {data, data + len};
	struct field f;
	int r;

	while ((r = rd_field(d, &b, &f, "Profile")) > 0) {
		if (dec_profile_field(d, &f, s) < 0) {
			return -1;
		}
	}
	return r;
}

static void dec_free(struct dec *s)
{
	free(s->types.p);
	free(s->samples.p);
	free(s->sloc.p);
	free(s->values.p);
	free(s->locs.p);
	free(s->lines.p);
	free(s->funcs.p);
	free(s->maps.p);
	free(s->strs.p);
}

/* ---- id lookup ---------------------------------------------------------------------- */

/* Maps the ids of a table (each element starts with its uint64_t id) to indices. Dense
 * ids (id == index + 1, what Go and cpuprof write) need no table. */
struct idmap {
	const char *base;
	size_t stride, n;
	int dense;
	uint32_t *slots; /* index + 1; 0 is empty */
	size_t mask;
};

static uint64_t id_at(const struct idmap *m, size_t i)
{
	uint64_t id;

	memcpy(&id, m->base + i * m->stride, sizeof id);
	return id;
}

static size_t id_hash(uint64_t id)
{
	return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17);
}

static int idmap_build(struct rd *d, struct idmap *m, const void *base, size_t n, size_t stride,
                       const char *what)
{
	m->base = base;
	m->stride = stride;
	m->n = n;
	m->dense = 1;
	m->slots = NULL;
	for (size_t i = 0; i < n; i++) {
		uint64_t id = id_at(m, i);
		if (id == 0) {
			return rd_fail(d, NULL, "found a %s with the reserved id 0", what);
		}
		if (id != i + 1) {
			m->dense = 0;
		}
	}
	if (m->dense) {
		return 0;
	}
	size_t cap = 16;
	while (cap < 2 * n) {
		cap *= 2;
	}
	m->slots = calloc(cap, sizeof *m->slots);
	if (!m->slots) {
		return rd_fail(d, NULL, "out of memory");
	}
	m->mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t id = id_at(m, i);
		size_t h = id_hash(id) & m->mask;
		while (m->slots[h]) {
			if (id_at(m, m->slots[h] - 1) == id) {
				return rd_fail(d, NULL, "multiple %ss with id %" PRIu64, what, id);
			}
			h = (h + 1) & m->mask;
		}
		m->slots[h] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Returns the index of `id`, or -1. */
static long idmap_find(const struct idmap *m, uint64_t id)
{
	if (m->dense) {
		return id >= 1 && id <= m->n ? (long)(id - 1) : -1;
	}
	for (size_t h = id_hash(id) & m->mask; m->slots[h]; h = (h + 1) & m->mask) {
		if (id_at(m, m->slots[h] - 1) == id) {
			return (long)m->slots[h] - 1;
		}
	}
	return -1;
}

/* ---- frame names -------------------------------------------------------------------- */

struct names {
	struct vec list;  /* const char * */
	struct vec owned; /* char *, the synthetic names */
	uint32_t *slots;  /* name id + 1; 0 is empty */
	size_t mask;
};

static size_t str_hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++) {
		h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
	}
	return (size_t)(h ^ (h >> 29));
}

static int names_grow(struct rd *d, struct names *t)
{
	size_t cap = t->slots ? (t->mask + 1) * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof *slots);
	const char **list = t->list.p;

	if (!slots) {
		return rd_fail(d, NULL, "out of memory");
	}
	for (size_t i = 0; i < t->list.n; i++) {
		size_t h = str_hash(list[i]) & (cap - 1);
		while (slots[h]) {
			h = (h + 1) & (cap - 1);
		}
		slots[h] = (uint32_t)(i + 1);
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

/* Finds or adds the name s. If it is new and `copy` is set, a copy is made and owned. */
static int names_intern(struct rd *d, struct names *t, const char *s, int copy, uint32_t *id)
{
	if (!t->slots || 2 * (t->list.n + 1) > t->mask + 1) {
		if (names_grow(d, t) < 0) {
			return -1;
		}
	}
	const char **list = t->list.p;
	size_t h = str_hash(s) & t->mask;
	for (; t->slots[h]; h = (h + 1) & t->mask) {
		if (strcmp(list[t->slots[h] - 1], s) == 0) {
			*id = t->slots[h] - 1;
			return 0;
		}
	}
	if (copy) {
		char **own = vec_push(d, &t->owned, sizeof *own);
		if (!own) {
			return -1;
		}
		*own = strdup(s);
		if (!*own) {
			t->owned.n--;
			return rd_fail(d, NULL, "out of memory");
		}
		s = *own;
	}
	const char **slot = vec_push(d, &t->list, sizeof *slot);
	if (!slot) {
		return -1;
	}
	*slot = s;
	*id = (uint32_t)(t->list.n - 1);
	t->slots[h] = *id + 1;
	return 0;
}

/* The name of a location without lines: "[basename of the mapping file]", else its
 * address. */
static int synthetic_name(struct rd *d, struct names *t, const struct prof *p,
                          const struct prof_location *loc, uint32_t *id)
{
	char buf[4096];
	const char *file = loc->mapping >= 0 ? p->str[p->mappings[loc->mapping].filename] : "";

	if (*file) {
		const char *slash = strrchr(file, '/');
		const char *base = slash && slash[1] ? slash + 1 : file;
		snprintf(buf, sizeof buf, "[%s]", base);
	} else {
		snprintf(buf, sizeof buf, "0x%" PRIx64, loc->address);
	}
	return names_intern(d, t, buf, 1, id);
}

static int name_frames(struct rd *d, struct prof *p)
{
	struct names t = {0};
	int rc = -1;

	for (size_t i = 0; i < p->nfuncs; i++) {
		struct prof_function *fn = &p->funcs[i];
		const char *name = p->str[fn->name];
		if (!*name) {
			name = p->str[fn->system_name];
		}
		if (*name) {
			if (names_intern(d, &t, name, 0, &fn->name_id) < 0) {
				goto out;
			}
		} else {
			char buf[64];
			snprintf(buf, sizeof buf, "[function %" PRIu64 "]", fn->id);
			if (names_intern(d, &t, buf, 1, &fn->name_id) < 0) {
				goto out;
			}
		}
	}
	size_t nframes = 0;
	for (size_t i = 0; i < p->nlocs; i++) {
		nframes += p->locs[i].nline ? p->locs[i].nline : 1;
	}
	if (nframes >= UINT32_MAX) {
		rd_fail(d, NULL, "too many frames");
		goto out;
	}
	p->frames = malloc((nframes ? nframes : 1) * sizeof *p->frames);
	if (!p->frames) {
		rd_fail(d, NULL, "out of memory");
		goto out;
	}
	p->nframes = nframes;
	size_t k = 0;
	for (size_t i = 0; i < p->nlocs; i++) {
		struct prof_location *loc = &p->locs[i];
		loc->frame_off = (uint32_t)k;
		if (loc->nline == 0) {
			if (synthetic_name(d, &t, p, loc, &p->frames[k++]) < 0) {
				goto out;
			}
			loc->nframe = 1;
			continue;
		}
		for (uint32_t j = 0; j < loc->nline; j++) {
			const struct prof_line *ln = &p->lines[loc->line_off + j];
			p->frames[k++] = p->funcs[ln->function].name_id;
		}
		loc->nframe = loc->nline;
	}
	rc = 0;
out:
	/* The list and the owned names move into the profile even on failure, so that
	 * prof_free releases them. */
	p->names = t.list.p;
	p->nnames = t.list.n;
	p->owned_names = t.owned.p;
	p->nowned_names = t.owned.n;
	free(t.slots);
	return rc;
}

/* ---- checking and resolving ----------------------------------------------------------- */

/* `what` names the field; `id` (when not NO_ID) the Function or Mapping it is in. */
#define NO_ID UINT64_MAX

static int check_str(struct rd *d, const struct prof *p, uint32_t idx, const char *what,
                     uint64_t id)
{
	char where[48] = "";

	if (idx < p->nstr) {
		return 0;
	}
	if (id != NO_ID) {
		snprintf(where, sizeof where, " (id %" PRIu64 ")", id);
	}
	return rd_fail(d, NULL,
	               "%s%s is string index %" PRIu32 ", but the string table has %zu entries",
	               what, where, idx, p->nstr);
}

/* Copies the string table into one NUL-terminated arena. */
static int build_strings(struct rd *d, struct dec *s, struct prof *p)
{
	const struct strref *sr = s->strs.p;
	size_t total = 0;

	if (s->strs.n == 0) {
		return rd_fail(d, NULL, "the string table is empty (string_table[0] must be \"\")");
	}
	if (sr[0].len != 0) {
		return rd_fail(d, NULL, "string_table[0] must be \"\" (it has %" PRIu32 " bytes)",
		               sr[0].len);
	}
	for (size_t i = 0; i < s->strs.n; i++) {
		total += (size_t)sr[i].len + 1;
	}
	p->str_arena = malloc(total);
	p->str = malloc(s->strs.n * sizeof *p->str);
	if (!p->str_arena || !p->str) {
		return rd_fail(d, NULL, "out of memory");
	}
	char *w = p->str_arena;
	for (size_t i = 0; i < s->strs.n; i++) {
		memcpy(w, sr[i].p, sr[i].len);
		w[sr[i].len] = '\0';
		p->str[i] = w;
		w += sr[i].len + 1;
	}
	p->nstr = s->strs.n;
	return 0;
}

/* Moves the decoded arrays into p, then checks and resolves them. */
static int finish(struct rd *d, struct dec *s, struct prof *p)
{
	struct idmap fmap = {0}, lmap = {0}, mmap = {0};
	int rc = -1;

	if (build_strings(d, s, p) < 0) {
		return -1;
	}
	p->types = s->types.p, p->ntypes = s->types.n, s->types.p = NULL;
	p->samples = s->samples.p, p->nsamples = s->samples.n, s->samples.p = NULL;
	p->values = s->values.p, s->values.p = NULL;
	p->locs = s->locs.p, p->nlocs = s->locs.n, s->locs.p = NULL;
	p->lines = s->lines.p, p->nlines = s->lines.n, s->lines.p = NULL;
	p->funcs = s->funcs.p, p->nfuncs = s->funcs.n, s->funcs.p = NULL;
	p->mappings = s->maps.p, p->nmappings = s->maps.n, s->maps.p = NULL;
	p->period_type = s->period_type;
	p->period = s->period;
	p->time_nanos = s->time_nanos;
	p->duration_nanos = s->duration_nanos;
	p->default_sample_type = s->default_sample_type;

	/* String indices. */
	if (s->max_other_str >= p->nstr) {
		rd_fail(d, s->max_other_at,
		        "%s is string index %" PRIu32 ", but the string table has %zu entries",
		        s->max_other_what, s->max_other_str, p->nstr);
		goto out;
	}
	for (size_t i = 0; i < p->ntypes; i++) {
		if (check_str(d, p, p->types[i].type, "sample_type.type", NO_ID) < 0 ||
		    check_str(d, p, p->types[i].unit, "sample_type.unit", NO_ID) < 0) {
			goto out;
		}
	}
	if (check_str(d, p, p->period_type.type, "period_type.type", NO_ID) < 0 ||
	    check_str(d, p, p->period_type.unit, "period_type.unit", NO_ID) < 0 ||
	    check_str(d, p, p->default_sample_type, "default_sample_type", NO_ID) < 0) {
		goto out;
	}
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct prof_function *fn = &p->funcs[i];
		if (check_str(d, p, fn->name, "Function.name", fn->id) < 0 ||
		    check_str(d, p, fn->system_name, "Function.system_name", fn->id) < 0 ||
		    check_str(d, p, fn->filename, "Function.filename", fn->id) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct prof_mapping *m = &p->mappings[i];
		if (check_str(d, p, m->filename, "Mapping.filename", m->id) < 0 ||
		    check_str(d, p, m->build_id, "Mapping.build_id", m->id) < 0) {
			goto out;
		}
	}

	/* Samples and their values. */
	if (p->nsamples > 0 && p->ntypes == 0) {
		rd_fail(d, NULL, "the profile has samples but no sample types");
		goto out;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		if (p->samples[i].nval != p->ntypes) {
			rd_fail(d, NULL,
			        "sample %zu has %" PRIu32 " values but there are %zu sample types",
			        i, p->samples[i].nval, p->ntypes);
			goto out;
		}
	}

	/* Ids: nonzero and unique, as pprof's CheckValid wants. */
	if (idmap_build(d, &mmap, p->mappings, p->nmappings, sizeof *p->mappings, "mapping") < 0 ||
	    idmap_build(d, &fmap, p->funcs, p->nfuncs, sizeof *p->funcs, "function") < 0 ||
	    idmap_build(d, &lmap, p->locs, p->nlocs, sizeof *p->locs, "location") < 0) {
		goto out;
	}
	for (size_t i = 0; i < p->nlocs; i++) {
		struct prof_location *loc = &p->locs[i];
		/* An unknown mapping id is "no mapping", as in pprof. */
		long m = loc->mapping_id ? idmap_find(&mmap, loc->mapping_id) : -1;
		loc->mapping = (int32_t)m;
		for (uint32_t j = 0; j < loc->nline; j++) {
			struct prof_line *ln = &p->lines[loc->line_off + j];
			long fi = idmap_find(&fmap, ln->function);
			if (fi < 0) {
				rd_fail(d, NULL,
				        "location id %" PRIu64
				        " has a line with function id %" PRIu64
				        ", which does not exist",
				        loc->id, ln->function);
				goto out;
			}
			ln->function = (uint64_t)fi;
		}
	}
	/* Location ids become indices, in place, then shrink to uint32_t. */
	uint64_t *ids = s->sloc.p;
	p->sample_loc = malloc((s->sloc.n ? s->sloc.n : 1) * sizeof *p->sample_loc);
	if (!p->sample_loc) {
		rd_fail(d, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prof_sample *sm = &p->samples[i];
		for (uint32_t j = 0; j < sm->nloc; j++) {
			uint64_t id = ids[sm->loc_off + j];
			long li = idmap_find(&lmap, id);
			if (li < 0) {
				rd_fail(d, NULL,
				        "sample %zu refers to location id %" PRIu64
				        ", which does not exist",
				        i, id);
				goto out;
			}
			p->sample_loc[sm->loc_off + j] = (uint32_t)li;
		}
	}
	if (name_frames(d, p) < 0) {
		goto out;
	}
	rc = 0;
out:
	free(fmap.slots);
	free(lmap.slots);
	free(mmap.slots);
	return rc;
}

/* ---- gzip -------------------------------------------------------------------------- */

/* Past this much output at a ratio no profile has, inflate_all() first counts the
 * rest (a gzip bomb then costs time, not PROF_MAX_BYTES of memory). Real profiles
 * compress 3 to 10 times. */
#define GZ_SUSPECT_BYTES ((size_t)64 << 20)
#define GZ_SUSPECT_RATIO 200

/*
 * Inflates every gzip member of `in`. With out == NULL it only counts, through a small
 * scratch buffer: that is how a file whose trailer claims more than the limit is told
 * apart from a truncated or corrupt one (whose last four bytes are just data), and how a
 * bomb is refused, without allocating the limit first. Output beyond PROF_MAX_BYTES is
 * refused either way.
 */
static int inflate_all(struct rd *d, const uint8_t *in, size_t inlen, size_t cap, uint8_t **out,
                       size_t *outlen)
{
	const size_t limit = PROF_MAX_BYTES;
	uint8_t scratch[65536];
	uint8_t *buf = NULL;
	size_t len = 0, counted = 0;
	int rc = -1, ret, checked = 0;
	z_stream zs;

	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		return rd_fail(d, NULL, "cannot start zlib");
	}
	if (out) {
		buf = malloc(cap);
		if (!buf) {
			rd_fail(d, NULL, "out of memory");
			goto out;
		}
	} else {
		buf = scratch;
		cap = sizeof scratch;
	}
	zs.next_in = (Bytef *)(uintptr_t)in; /* zlib does not write through next_in */
	zs.avail_in = (uInt)inlen;
	for (;;) {
		if (counted + len > limit) {
			rd_fail(d, NULL, "the data is over the 1 GiB limit uncompressed");
			goto out;
		}
		if (len == cap && !out) {
			counted += len;
			len = 0;
		} else if (out && !checked && len >= GZ_SUSPECT_BYTES &&
		           len / GZ_SUSPECT_RATIO > (size_t)(zs.next_in - in)) {
			checked = 1;
			if (inflate_all(d, in, inlen, 0, NULL, NULL) < 0) {
				goto out;
			}
		}
		if (len == cap && out) {
			size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rd_fail(d, NULL, "out of memory");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		/* At most 16 MiB a call, so the checks above run often enough. */
		size_t room = cap - len > ((size_t)16 << 20) ? (size_t)16 << 20 : cap - len;
		zs.next_out = buf + len;
		zs.avail_out = (uInt)room;
		ret = inflate(&zs, Z_NO_FLUSH);
		len += room - zs.avail_out;
		if (ret == Z_STREAM_END) {
			if (zs.avail_in == 0) {
				break;
			}
			/* Another gzip member follows (Go reads these too); anything else is
			 * garbage, as for Go's gzip reader. */
			if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
				if (inflateReset(&zs) != Z_OK) {
					rd_fail(d, NULL, "cannot reset zlib");
					goto out;
				}
				continue;
			}
			rd_fail(d, NULL, "%u bytes of garbage after the gzip data", zs.avail_in);
			goto out;
		}
		if (ret == Z_OK || (ret == Z_BUF_ERROR && zs.avail_out == 0)) {
			continue;
		}
		if (ret == Z_BUF_ERROR) {
			rd_fail(d, NULL, "truncated gzip data (the file ends inside the stream)");
		} else if (ret == Z_MEM_ERROR) {
			rd_fail(d, NULL, "out of memory");
		} else {
			rd_fail(d, NULL, "bad gzip data: %s",
			        zs.msg ? zs.msg : "unknown zlib error");
		}
		goto out;
	}
	if (counted + len > limit) {
		rd_fail(d, NULL, "the data is over the 1 GiB limit uncompressed");
		goto out;
	}
	if (out) {
		*out = buf;
		*outlen = len;
		buf = NULL;
	}
	rc = 0;
out:
	inflateEnd(&zs);
	if (out) {
		free(buf);
	}
	return rc;
}

static int gunzip(struct rd *d, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	size_t cap = 0;

	if (inlen > PROF_MAX_BYTES) {
		return rd_fail(d, NULL, "the file is over the 1 GiB limit");
	}
	/* The trailer's ISIZE is the last member's size mod 2^32, a hint for the buffer.
	 * Over the limit it is either true (refuse) or the file is damaged (say how): a
	 * counting pass tells which, in constant memory. */
	if (inlen >= 18) {
		uint64_t isize = load_le(in + inlen - 4, 4);
		if (isize > PROF_MAX_BYTES) {
			if (inflate_all(d, in, inlen, 0, NULL, NULL) < 0) {
				return -1;
			}
			return rd_fail(d, NULL, "the gzip trailer's size does not match the data");
		}
		cap = (size_t)isize;
	}
	/* Deflate expands at most ~1032:1, so a lying trailer cannot make us allocate more
	 * than that up front. */
	if (cap > inlen * 1032 + 4096) {
		cap = inlen * 1032 + 4096;
	}
	if (cap < 4096) {
		cap = 4096;
	}
	return inflate_all(d, in, inlen, cap + 1, out, outlen);
}

/* ---- entry points ------------------------------------------------------------------- */

/* Puts `prefix` before the message in err, unless it is about memory, not the file. */
static void prefix_error(char *err, size_t errlen, const char *prefix)
{
	char tmp[512];

	if (!errlen || strncmp(err, "out of memory", 13) == 0) {
		return;
	}
	snprintf(tmp, sizeof tmp, "%s", err);
	snprintf(err, errlen, "%s%s", prefix, tmp);
}

int prof_parse(const uint8_t *data, size_t len, struct prof *p, char *err, size_t errlen)
{
	struct rd d = {NULL, err, errlen};
	struct dec s;
	uint8_t *plain = NULL;
	int rc = -1;

	memset(p, 0, sizeof *p);
	memset(&s, 0, sizeof s);
	if (errlen) {
		err[0] = '\0';
	}
	if (len == 0) {
		return rd_fail(&d, NULL, "empty file");
	}
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		size_t plen = 0;
		if (gunzip(&d, data, len, &plain, &plen) < 0) {
			return -1;
		}
		data = plain;
		len = plen;
		if (len == 0) {
			rd_fail(&d, NULL, "empty profile inside the gzip data");
			goto out;
		}
	} else if (len > PROF_MAX_BYTES) {
		return rd_fail(&d, NULL, "the file is over the 1 GiB limit");
	}
	d.base = data;
	if (dec_profile(&d, data, len, &s) < 0) {
		prefix_error(err, errlen, "not a valid pprof profile: ");
		goto out;
	}
	d.base = NULL;
	if (finish(&d, &s, p) < 0) {
		prefix_error(err, errlen, "invalid profile: ");
		goto out;
	}
	rc = 0;
out:
	dec_free(&s);
	free(plain);
	if (rc < 0) {
		prof_free(p);
	}
	return rc;
}

int prof_load(const char *path, struct prof *p, char *err, size_t errlen)
{
	struct rd d = {NULL, err, errlen};
	int use_stdin = strcmp(path, "-") == 0;
	int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t len = 0, cap;
	struct stat st;
	int rc = -1;

	memset(p, 0, sizeof *p);
	if (fd < 0) {
		return rd_fail(&d, NULL, "cannot open: %s", strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		rd_fail(&d, NULL, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rd_fail(&d, NULL, "is a directory");
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > PROF_MAX_BYTES) {
		rd_fail(&d, NULL, "the file is %jd bytes, over the 1 GiB limit",
		        (intmax_t)st.st_size);
		goto out;
	}
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	buf = malloc(cap);
	if (!buf) {
		rd_fail(&d, NULL, "out of memory");
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap > PROF_MAX_BYTES) {
				rd_fail(&d, NULL, "the file is over the 1 GiB limit");
				goto out;
			}
			size_t ncap = cap * 2 > PROF_MAX_BYTES + 1 ? PROF_MAX_BYTES + 1 : cap * 2;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rd_fail(&d, NULL, "out of memory");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			rd_fail(&d, NULL, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	rc = prof_parse(buf, len, p, err, errlen);
out:
	free(buf);
	if (!use_stdin) {
		close(fd);
	}
	return rc;
}

void prof_free(struct prof *p)
{
	for (size_t i = 0; i < p->nowned_names; i++) {
		free(p->owned_names[i]);
	}
	free(p->owned_names);
	free((void *)p->names);
	free(p->frames);
	free((void *)p->str);
	free(p->str_arena);
	free(p->types);
	free(p->samples);
	free(p->values);
	free(p->sample_loc);
	free(p->locs);
	free(p->lines);
	free(p->funcs);
	free(p->mappings);
	memset(p, 0, sizeof *p);
}

static void list_types(const struct prof *p, char *buf, size_t len)
{
	size_t w = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->ntypes && w < len; i++) {
		int n = snprintf(buf + w, len - w, "%s%zu=%s/%s", i ? ", " : "", i,
		                 p->str[p->types[i].type], p->str[p->types[i].unit]);
		if (n < 0) {
			break;
		}
		w += (size_t)n;
	}
}

int prof_value_index(const struct prof *p, const char *spec, size_t *idx, char *err, size_t errlen)
{
	char types[512];

	if (p->ntypes == 0) {
		snprintf(err, errlen, "the profile has no sample types");
		return -1;
	}
	if (!spec) {
		*idx = p->ntypes - 1;
		if (p->default_sample_type != 0) {
			const char *want = p->str[p->default_sample_type];
			for (size_t i = 0; i < p->ntypes; i++) {
				if (strcmp(p->str[p->types[i].type], want) == 0) {
					*idx = i;
					break;
				}
			}
		}
		return 0;
	}
	for (size_t i = 0; i < p->ntypes; i++) {
		if (strcmp(p->str[p->types[i].type], spec) == 0) {
			*idx = i;
			return 0;
		}
	}
	if (*spec && strspn(spec, "0123456789") == strlen(spec) && strlen(spec) < 10) {
		unsigned long k = strtoul(spec, NULL, 10);
		if (k < p->ntypes) {
			*idx = k;
			return 0;
		}
	}
	list_types(p, types, sizeof types);
	snprintf(err, errlen, "no sample type '%.100s' (the profile has %s)", spec, types);
	return -1;
}
