/*
 * test_pprof: builds a profile from stacks of real addresses in this binary (a leaf PC,
 * return addresses captured by a noinline call chain, a return address inside an inlined
 * function), synthetic frames, unsymbolizable addresses, label sets and thread labels;
 * checks it with a small decoder written here (ids, strings, address rule, inline lines,
 * has_* flags, labels), then with real parsers: protoc --decode against Debian's
 * profile.proto, and go tool pprof -raw / -top. Also the atomic file writer and the
 * writability check.
 */
#define _GNU_SOURCE
#include "pprof.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "varint.h"
#include "cpuprof.h"
#include "frames.h"
#include "maps.h"

#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

/* ---- Code whose addresses go into the stacks ---- */

static volatile uint64_t sink;
static volatile int outer_call_line, inlined_call_line;

static NOINLINE void pprof_test_leaf(void)
{
	for (int i = 0; i < 8; i++) {
		sink = sink * 3 + (uint64_t)i;
	}
}

static NOINLINE uint64_t capture_ra(void)
{
	uint64_t ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
	sink = ra;
	return ra;
}

/* Returns the return address into itself (from capture_ra) and stores its own. */
static NOINLINE uint64_t pprof_test_mid(uint64_t *own_ra)
{
	uint64_t r = capture_ra();
	sink = r; /* keeps the call out of tail position */
	*own_ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
	return r;
}

static NOINLINE void pprof_test_top(uint64_t ras[2])
{
	uint64_t mid_ra;
	ras[0] = pprof_test_mid(&mid_ra);
	ras[1] = mid_ra;
	sink = ras[0] ^ ras[1];
}

/* Not the same body as capture_ra, or identical code folding makes them one function. */
static NOINLINE uint64_t grab_ra(void)
{
	uint64_t ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
	sink = ra ^ 0x5a5a;
	return ra;
}

/* Always inlined: the return address of grab_ra lies in its inlined copy. */
static inline __attribute__((always_inline)) uint64_t pprof_test_inlined(void)
{
	uint64_t r = (inlined_call_line = __LINE__, grab_ra()); /* one line: the call's */
	sink = r + 1;
	return r;
}

static NOINLINE uint64_t pprof_test_outer(void)
{
	uint64_t r = (outer_call_line = __LINE__, pprof_test_inlined());
	sink = r + 2;
	return r;
}

/* ---- A minimal profile.proto decoder ---- */

struct fld {
	uint32_t num;
	uint32_t wt;
	uint64_t v;       /* varint value */
	const uint8_t *p; /* bytes of a length-delimited field */
	size_t n;
};

/* 1: a field was read; 0: end; -1: malformed. */
static int next_field(const uint8_t **p, const uint8_t *end, struct fld *f)
{
	if (*p >= end) {
		return 0;
	}
	uint64_t key;
	if (get_varint(p, end, &key) != 0) {
		return -1;
	}
	f->num = (uint32_t)(key >> 3);
	f->wt = (uint32_t)(key & 7);
	if (f->wt == 0) {
		return get_varint(p, end, &f->v) == 0 ? 1 : -1;
	}
	if (f->wt == 2) {
		uint64_t n;
		if (get_varint(p, end, &n) != 0 || n > (uint64_t)(end - *p)) {
			return -1;
		}
		f->p = *p;
		f->n = (size_t)n;
		*p += n;
		return 1;
	}
	return -1;
}

/* Appends the values of a repeated scalar field, packed or not. */
static int get_repeated(const struct fld *f, uint64_t *out, size_t *n, size_t cap)
{
	if (f->wt == 0) {
		if (*n < cap) {
			out[(*n)++] = f->v;
		}
		return 0;
	}
	const uint8_t *p = f->p, *end = f->p + f->n;
	while (p < end) {
		uint64_t v;
		if (get_varint(&p, end, &v) != 0) {
			return -1;
		}
		if (*n < cap) {
			out[(*n)++] = v;
		}
	}
	return 0;
}

#define MAXN 256

struct dline {
	uint64_t function_id;
	int64_t line;
};
struct dloc {
	uint64_t id, mapping_id, address;
	struct dline lines[16];
	size_t nlines;
};
struct dfunc {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
};
struct dmap {
	uint64_t id, start, limit, offset;
	int64_t filename, build_id;
	int has_functions, has_filenames, has_line_numbers, has_inline_frames;
};
struct dlabel {
	int64_t key, str;
};
struct dsample {
	uint64_t locs[64];
	size_t nlocs;
	uint64_t vals[4];
	size_t nvals;
	struct dlabel labels[16];
	size_t nlabels;
};
struct dvt {
	int64_t type, unit;
};
struct dprof {
	struct dvt sample_type[4];
	size_t nsample_type;
	struct dvt period_type;
	int64_t time_nanos, duration_nanos, period;
	int ntime_nanos;
	uint64_t comments[8];
	size_t ncomments;
	struct dsample samples[MAXN];
	size_t nsamples;
	struct dloc locs[MAXN];
	size_t nlocs;
	struct dfunc funcs[MAXN];
	size_t nfuncs;
	struct dmap maps[MAXN];
	size_t nmaps;
	char *strs[4 * MAXN];
	size_t nstrs;
};

static int decode_vt(const struct fld *f, struct dvt *vt)
{
	const uint8_t *p = f->p, *end = f->p + f->n;
	struct fld g;
	int r;
	memset(vt, 0, sizeof(*vt));
	while ((r = next_field(&p, end, &g)) == 1) {
		if (g.num == 1) {
			vt->type = (int64_t)g.v;
		} else if (g.num == 2) {
			vt->unit = (int64_t)g.v;
		}
	}
	return r;
}

static int decode(const uint8_t *buf, size_t len, struct dprof *d)
{
	memset(d, 0, sizeof(*d));
	const uint8_t *p = buf, *end = buf + len;
	struct fld f, g;
	int r;
	while ((r = next_field(&p, end, &f)) == 1) {
		const uint8_t *q = f.p, *qe = f.p + f.n;
		switch (f.num) {
		case 1:
			if (d->nsample_type < 4 &&
			    decode_vt(&f, &d->sample_type[d->nsample_type++]))
				return -1;
			break;
		case 2: {
			REQUIRE(d->nsamples < MAXN);
			struct dsample *s = &d->samples[d->nsamples++];
			while ((r = next_field(&q, qe, &g)) == 1) {
				if (g.num == 1 && get_repeated(&g, s->locs, &s->nlocs, 64))
					return -1;
				if (g.num == 2 && get_repeated(&g, s->vals, &s->nvals, 4))
					return -1;
				if (g.num == 3 && s->nlabels < 16) {
					const uint8_t *lp = g.p, *le = g.p + g.n;
					struct fld h;
					struct dlabel *l = &s->labels[s->nlabels++];
					while ((r = next_field(&lp, le, &h)) == 1) {
						if (h.num == 1)
							l->key = (int64_t)h.v;
						if (h.num == 2)
							l->str = (int64_t)h.v;
					}
					if (r < 0)
						return -1;
				}
			}
			break;
		}
		case 3: {
			REQUIRE(d->nmaps < MAXN);
			struct dmap *m = &d->maps[d->nmaps++];
			while ((r = next_field(&q, qe, &g)) == 1) {
				switch (g.num) {
				case 1:
					m->id = g.v;
					break;
				case 2:
					m->start = g.v;
					break;
				case 3:
					m->limit = g.v;
					break;
				case 4:
					m->offset = g.v;
					break;
				case 5:
					m->filename = (int64_t)g.v;
					break;
				case 6:
					m->build_id = (int64_t)g.v;
					break;
				case 7:
					m->has_functions = (int)g.v;
					break;
				case 8:
					m->has_filenames = (int)g.v;
					break;
				case 9:
					m->has_line_numbers = (int)g.v;
					break;
				case 10:
					m->has_inline_frames = (int)g.v;
					break;
				}
			}
			break;
		}
		case 4: {
			REQUIRE(d->nlocs < MAXN);
			struct dloc *l = &d->locs[d->nlocs++];
			while ((r = next_field(&q, qe, &g)) == 1) {
				if (g.num == 1)
					l->id = g.v;
				if (g.num == 2)
					l->mapping_id = g.v;
				if (g.num == 3)
					l->address = g.v;
				if (g.num == 4 && l->nlines < 16) {
					const uint8_t *lp = g.p, *le = g.p + g.n;
					struct fld h;
					struct dline *ln = &l->lines[l->nlines++];
					while ((r = next_field(&lp, le, &h)) == 1) {
						if (h.num == 1)
							ln->function_id = h.v;
						if (h.num == 2)
							ln->line = (int64_t)h.v;
					}
					if (r < 0)
						return -1;
				}
			}
			break;
		}
		case 5: {
			REQUIRE(d->nfuncs < MAXN);
			struct dfunc *fn = &d->funcs[d->nfuncs++];
			while ((r = next_field(&q, qe, &g)) == 1) {
				if (g.num == 1)
					fn->id = g.v;
				if (g.num == 2)
					fn->name = (int64_t)g.v;
				if (g.num == 3)
					fn->system_name = (int64_t)g.v;
				if (g.num == 4)
					fn->filename = (int64_t)g.v;
				if (g.num == 5)
					fn->start_line = (int64_t)g.v;
			}
			break;
		}
		case 6:
			REQUIRE(d->nstrs < 4 * MAXN);
			d->strs[d->nstrs] = strndup((const char *)f.p, f.n);
			REQUIRE(d->strs[d->nstrs]);
			d->nstrs++;
			break;
		case 9:
			d->time_nanos = (int64_t)f.v;
			d->ntime_nanos++;
			break;
		case 10:
			d->duration_nanos = (int64_t)f.v;
			break;
		case 11:
			if (decode_vt(&f, &d->period_type))
				return -1;
			break;
		case 12:
			d->period = (int64_t)f.v;
			break;
		case 13:
			if (get_repeated(&f, d->comments, &d->ncomments, 8))
				return -1;
			break;
		default:
			fprintf(stderr, "unexpected field %u\n", f.num);
			return -1;
		}
		if (r < 0) {
			return -1;
		}
	}
	return r;
}

static void dprof_free(struct dprof *d)
{
	for (size_t i = 0; i < d->nstrs; i++) {
		free(d->strs[i]);
	}
}

static const char *S(const struct dprof *d, int64_t i)
{
	if (i < 0 || (size_t)i >= d->nstrs) {
		return "<out of range>";
	}
	return d->strs[i];
}

static const struct dloc *loc_by_id(const struct dprof *d, uint64_t id)
{
	return id >= 1 && id <= d->nlocs ? &d->locs[id - 1] : NULL;
}

static const struct dfunc *func_by_id(const struct dprof *d, uint64_t id)
{
	return id >= 1 && id <= d->nfuncs ? &d->funcs[id - 1] : NULL;
}

static const char *line_func(const struct dprof *d, const struct dloc *l, size_t i)
{
	if (!l || i >= l->nlines) {
		return "<no line>";
	}
	const struct dfunc *f = func_by_id(d, l->lines[i].function_id);
	return f ? S(d, f->name) : "<no function>";
}

static const char *label_of(const struct dprof *d, const struct dsample *s, const char *key)
{
	for (size_t i = 0; i < s->nlabels; i++) {
		if (strcmp(S(d, s->labels[i].key), key) == 0) {
			return S(d, s->labels[i].str);
		}
	}
	return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- Helpers ---- */

static uint8_t *gunzip(const uint8_t *in, size_t inlen, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
	size_t cap = 1 << 20;
	uint8_t *out = malloc(cap);
	REQUIRE(out);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)inlen;
	int r;
	do {
		if (z.total_out == cap) {
			cap *= 2;
			out = realloc(out, cap);
			REQUIRE(out);
		}
		z.next_out = out + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		r = inflate(&z, Z_NO_FLUSH);
	} while (r == Z_OK);
	CHECK_EQ(r, Z_STREAM_END);
	CHECK_EQ(z.avail_in, 0); /* one gzip member, nothing after it */
	*outlen = z.total_out;
	inflateEnd(&z);
	return out;
}

static char *run(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	REQUIRE(f);
	size_t cap = 65536, n = 0;
	char *out = malloc(cap);
	REQUIRE(out);
	size_t r;
	while ((r = fread(out + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 2) {
			cap *= 2;
			out = realloc(out, cap);
			REQUIRE(out);
		}
	}
	out[n] = '\0';
	*status = pclose(f);
	return out;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	REQUIRE(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			n++;
		}
	}
	closedir(d);
	return n;
}

static const char *thread_name(void *ctx, int32_t tid)
{
	CHECK(ctx == (void *)&sink);
	return tid == 4242 ? "worker-1" : NULL;
}

static struct cpuprof__labelset *make_labels(void)
{
	struct cpuprof__labelset *s = malloc(sizeof(*s) + 2 * sizeof(struct cpuprof__label));
	REQUIRE(s);
	s->hash = 7;
	s->n = 2;
	s->kv[0].key = "phase";
	s->kv[0].value = "parse";
	s->kv[1].key = "user";
	s->kv[1].value = "bob";
	return s;
}

static char tmpdir[64];

/* ---- The profile test ---- */

static void test_profile(void)
{
	uint64_t ras[2];
	pprof_test_top(ras);
	uint64_t inl_ra = pprof_test_outer();
	uint64_t leaf = (uint64_t)(uintptr_t)&pprof_test_leaf + 4;
	uint64_t grab = (uint64_t)(uintptr_t)&grab_ra + 4;

	/* An executable mapping that libdwfl has no module for, if this machine has one. */
	struct cpuprof__maps maps;
	REQUIRE(cpuprof__maps_read_self(&maps) == 0);
	uint64_t vsys = 0;
	for (size_t i = 0; i < maps.n; i++) {
		if (strcmp(maps.v[i].path, "[vsyscall]") == 0) {
			vsys = maps.v[i].start + 0x10;
		}
	}
	char exe[4096];
	ssize_t en = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	REQUIRE(en > 0);
	exe[en] = '\0';

	struct cpuprof__labelset *ls = make_labels();
	struct cpuprof__stacktab *t = cpuprof__stacktab_new();
	REQUIRE(t);
	const uint64_t stk_a[] = {leaf, ras[0], ras[1]};
	const uint64_t stk_b[] = {CPUPROF__FRAME_LOST_OVERFLOW};
	const uint64_t stk_c[] = {grab, inl_ra, CPUPROF__FRAME_TRUNCATED};
	/* 0x10001 as a caller becomes 0x10000: no mapping holds it. */
	const uint64_t stk_d[] = {vsys ? vsys : 0x20000, 0x10001};
	REQUIRE(cpuprof__stacktab_add(t, stk_a, 3, ls, 4242, 3) == 0);
	REQUIRE(cpuprof__stacktab_add(t, stk_b, 1, NULL, 4243, 2) == 0);
	REQUIRE(cpuprof__stacktab_add(t, stk_c, 3, NULL, 4242, 5) == 0);
	REQUIRE(cpuprof__stacktab_add(t, stk_a, 3, NULL, 0, 1) == 0);
	REQUIRE(cpuprof__stacktab_add(t, stk_d, 2, NULL, 0, 1) == 0);
	REQUIRE(cpuprof__stacktab_add(t, stk_a, 1, NULL, 0, 0) == 0); /* zero: not written */
	const uint64_t stk_e[] = {40}; /* below the frame limit, but no frame has that code */
	REQUIRE(cpuprof__stacktab_add(t, stk_e, 1, NULL, 0, 1) == 0);

	static const char *const comments[] = {"cpuprof test", "hz=100"};
	struct cpuprof__pprof_meta meta = {
	    .time_nanos = 1700000000123456789LL,
	    .duration_nanos = 2000000000,
	    .period = 10000000,
	    .thread_labels = 1,
	    .comments = comments,
	    .ncomments = 2,
	    .thread_name = thread_name,
	    .thread_name_ctx = (void *)&sink,
	};
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	REQUIRE(cpuprof__pprof_build(t, &meta, &gz, &gzlen) == 0);
	REQUIRE(gz && gzlen > 18);
	CHECK_EQ(gz[0], 0x1f);
	CHECK_EQ(gz[1], 0x8b);

	size_t rawlen;
	uint8_t *raw = gunzip(gz, gzlen, &rawlen);
	static struct dprof d;
	REQUIRE(decode(raw, rawlen, &d) == 0);

	/* Header. */
	REQUIRE(d.nstrs > 0);
	CHECK_STREQ(d.strs[0], "");
	for (size_t i = 0; i < d.nstrs; i++) {
		for (size_t j = i + 1; j < d.nstrs; j++) {
			if (strcmp(d.strs[i], d.strs[j]) == 0) {
				fprintf(stderr, "duplicate string \"%s\"\n", d.strs[i]);
				check_failures++;
			}
		}
	}
	CHECK_EQ(d.nsample_type, 2);
	CHECK_STREQ(S(&d, d.sample_type[0].type), "samples");
	CHECK_STREQ(S(&d, d.sample_type[0].unit), "count");
	CHECK_STREQ(S(&d, d.sample_type[1].type), "cpu");
	CHECK_STREQ(S(&d, d.sample_type[1].unit), "nanoseconds");
	CHECK_STREQ(S(&d, d.period_type.type), "cpu");
	CHECK_STREQ(S(&d, d.period_type.unit), "nanoseconds");
	CHECK_EQ(d.period, 10000000);
	CHECK_EQ(d.time_nanos, 1700000000123456789LL);
	CHECK_EQ(d.ntime_nanos, 1);
	CHECK_EQ(d.duration_nanos, 2000000000);
	CHECK_EQ(d.ncomments, 2);
	CHECK_STREQ(S(&d, (int64_t)d.comments[0]), "cpuprof test");
	CHECK_STREQ(S(&d, (int64_t)d.comments[1]), "hz=100");

	/* Dense ids, every reference resolves. */
	for (size_t i = 0; i < d.nlocs; i++) {
		CHECK_EQ(d.locs[i].id, i + 1);
		CHECK(d.locs[i].mapping_id <= d.nmaps);
		for (size_t k = 0; k < d.locs[i].nlines; k++) {
			CHECK(func_by_id(&d, d.locs[i].lines[k].function_id) != NULL);
		}
	}
	for (size_t i = 0; i < d.nfuncs; i++) {
		CHECK_EQ(d.funcs[i].id, i + 1);
		CHECK_EQ(d.funcs[i].name, d.funcs[i].system_name);
	}
	for (size_t i = 0; i < d.nmaps; i++) {
		CHECK_EQ(d.maps[i].id, i + 1);
	}
	for (size_t i = 0; i < d.nsamples; i++) {
		CHECK_EQ(d.samples[i].nvals, 2);
		CHECK_EQ(d.samples[i].vals[1], d.samples[i].vals[0] * 10000000);
		for (size_t k = 0; k < d.samples[i].nlocs; k++) {
			CHECK(loc_by_id(&d, d.samples[i].locs[k]) != NULL);
		}
	}

	/* Mappings: the main executable first, with its build ID. */
	REQUIRE(d.nmaps == maps.n);
	CHECK_STREQ(S(&d, d.maps[0].filename), exe);
	CHECK_STREQ(S(&d, d.maps[0].build_id), maps.v[0].build_id);
	CHECK(S(&d, d.maps[0].build_id)[0] != '\0');
	CHECK_EQ(d.maps[0].start, maps.v[0].start);
	CHECK_EQ(d.maps[0].limit, maps.v[0].limit);
	CHECK_EQ(d.maps[0].offset, maps.v[0].offset);
	for (size_t i = 1; i < d.nmaps; i++) {
		CHECK_STREQ(S(&d, d.maps[i].filename), maps.v[i].path);
		CHECK_STREQ(S(&d, d.maps[i].build_id), maps.v[i].build_id);
	}

	/* Samples in insertion order; the zero-count entry is dropped. */
	REQUIRE(d.nsamples == 6);
	const struct dsample *sa = &d.samples[0], *sb = &d.samples[1], *sc = &d.samples[2];
	const struct dsample *sa2 = &d.samples[3], *sd = &d.samples[4];
	CHECK_EQ(sa->vals[0], 3);
	CHECK_EQ(sb->vals[0], 2);
	CHECK_EQ(sc->vals[0], 5);
	CHECK_EQ(sa2->vals[0], 1);

	/* Address rule: the leaf exact, callers minus one; one Location per address. */
	REQUIRE(sa->nlocs == 3);
	const struct dloc *l0 = loc_by_id(&d, sa->locs[0]), *l1 = loc_by_id(&d, sa->locs[1]),
	                  *l2 = loc_by_id(&d, sa->locs[2]);
	REQUIRE(l0 && l1 && l2);
	CHECK_EQ(l0->address, leaf);
	CHECK_EQ(l1->address, ras[0] - 1);
	CHECK_EQ(l2->address, ras[1] - 1);
	CHECK_EQ(l0->mapping_id, 1);
	CHECK_EQ(l1->mapping_id, 1);
	CHECK_STREQ(line_func(&d, l0, 0), "pprof_test_leaf");
	CHECK_STREQ(line_func(&d, l1, 0), "pprof_test_mid");
	CHECK_STREQ(line_func(&d, l2, 0), "pprof_test_top");
	CHECK_EQ(sa2->nlocs, 3);
	CHECK_EQ(sa2->locs[0], sa->locs[0]);
	CHECK_EQ(sa2->locs[2], sa->locs[2]);

	/* Labels: the set's labels, then the thread's. */
	CHECK_STREQ(label_of(&d, sa, "phase"), "parse");
	CHECK_STREQ(label_of(&d, sa, "user"), "bob");
	CHECK_STREQ(label_of(&d, sa, "thread_id"), "4242");
	CHECK_STREQ(label_of(&d, sa, "thread_name"), "worker-1");
	CHECK_EQ(sa->nlabels, 4);
	CHECK_STREQ(label_of(&d, sb, "thread_id"), "4243");
	CHECK(label_of(&d, sb, "thread_name") == NULL); /* the callback had no name */
	CHECK_EQ(sb->nlabels, 1);
	CHECK_EQ(sa2->nlabels, 0); /* tid 0: unknown, no thread labels */

	/* Synthetic frames: no mapping, one line to a Function named after the frame. */
	REQUIRE(sb->nlocs == 1);
	const struct dloc *ls0 = loc_by_id(&d, sb->locs[0]);
	REQUIRE(ls0);
	CHECK_EQ(ls0->mapping_id, 0);
	CHECK_EQ(ls0->nlines, 1);
	CHECK_STREQ(line_func(&d, ls0, 0), "[cpuprof] lost: buffer overflow");
	REQUIRE(sc->nlocs == 3);
	const struct dloc *lt = loc_by_id(&d, sc->locs[2]);
	CHECK_STREQ(line_func(&d, lt, 0), "[cpuprof] truncated stack");
	CHECK(lt && lt->mapping_id == 0);
	REQUIRE(d.samples[5].nlocs == 1);
	CHECK_STREQ(line_func(&d, loc_by_id(&d, d.samples[5].locs[0]), 0),
	            "[cpuprof] unknown frame 40");

	/* Inline frames: the inlined function first, the physical one last. */
	const struct dloc *lg = loc_by_id(&d, sc->locs[0]), *li = loc_by_id(&d, sc->locs[1]);
	REQUIRE(lg && li);
	CHECK_EQ(lg->address, grab);
	CHECK_STREQ(line_func(&d, lg, 0), "grab_ra");
	CHECK_EQ(li->address, inl_ra - 1);
	int have_dwarf = 0;
	const struct dfunc *leaf_fn = l0->nlines ? func_by_id(&d, l0->lines[0].function_id) : NULL;
	if (leaf_fn && ends_with(S(&d, leaf_fn->filename), "test_pprof.c")) {
		have_dwarf = 1;
	}
	if (!have_dwarf) {
		fprintf(stderr, "note: no DWARF in the test binary: inline checks skipped\n");
	} else {
		CHECK_EQ(li->nlines, 2);
		CHECK_STREQ(line_func(&d, li, 0), "pprof_test_inlined");
		CHECK_STREQ(line_func(&d, li, 1), "pprof_test_outer");
		if (li->nlines == 2) {
			const struct dfunc *fi = func_by_id(&d, li->lines[0].function_id);
			const struct dfunc *fo = func_by_id(&d, li->lines[1].function_id);
			CHECK(fi && ends_with(S(&d, fi->filename), "tests/unit/test_pprof.c"));
			CHECK(fo && ends_with(S(&d, fo->filename), "tests/unit/test_pprof.c"));
			CHECK_EQ(li->lines[0].line, inlined_call_line);
			CHECK_EQ(li->lines[1].line, outer_call_line);
			CHECK(fi && fi->start_line > 0 && fi->start_line < inlined_call_line);
			CHECK(fo && fo->start_line > 0 && fo->start_line < outer_call_line);
		}
		CHECK(l0->lines[0].line > 0);
		CHECK(leaf_fn->start_line > 0);
		/* Every Location in the executable is fully symbolized with DWARF. */
		CHECK_EQ(d.maps[0].has_functions, 1);
		CHECK_EQ(d.maps[0].has_filenames, 1);
		CHECK_EQ(d.maps[0].has_line_numbers, 1);
		CHECK_EQ(d.maps[0].has_inline_frames, 1);
	}

	/* Unsymbolizable addresses: a Location with mapping and address and no line, and
	 * then its mapping does not claim has_functions. */
	REQUIRE(sd->nlocs == 2);
	const struct dloc *lnomap = loc_by_id(&d, sd->locs[1]);
	REQUIRE(lnomap);
	CHECK_EQ(lnomap->address, 0x10000);
	CHECK_EQ(lnomap->mapping_id, 0);
	CHECK_EQ(lnomap->nlines, 0);
	if (vsys) {
		const struct dloc *lv = loc_by_id(&d, sd->locs[0]);
		REQUIRE(lv);
		CHECK_EQ(lv->address, vsys);
		CHECK(lv->mapping_id > 0);
		if (lv->mapping_id > 0 && lv->mapping_id <= d.nmaps) {
			const struct dmap *vm = &d.maps[lv->mapping_id - 1];
			CHECK_STREQ(S(&d, vm->filename), "[vsyscall]");
			/* No symbol covers it: it is still named ("[vsyscall+0x...]"), so the
			 * mapping keeps has_functions and pprof does not re-symbolize it. */
			CHECK_EQ(lv->nlines, 1);
			CHECK_EQ(vm->has_functions, 1);
		}
	} else {
		fprintf(stderr, "note: no [vsyscall] mapping: that check skipped\n");
	}
	/* Mappings without Locations claim nothing. */
	for (size_t i = 0; i < d.nmaps; i++) {
		int used = 0;
		for (size_t k = 0; k < d.nlocs; k++) {
			used |= d.locs[k].mapping_id == i + 1;
		}
		if (!used) {
			CHECK_EQ(d.maps[i].has_functions + d.maps[i].has_filenames +
			             d.maps[i].has_line_numbers + d.maps[i].has_inline_frames,
			         0);
		}
	}

	/* ---- The file and the real parsers ---- */
	char path[128];
	snprintf(path, sizeof(path), "%s/prof.pb.gz", tmpdir);
	CHECK_EQ(cpuprof__write_file_atomic(path, gz, gzlen), 0);
	CHECK_EQ(count_entries(tmpdir), 1); /* no temporary left */
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	uint8_t *back = malloc(gzlen + 1);
	REQUIRE(back);
	CHECK_EQ(fread(back, 1, gzlen + 1, f), gzlen);
	CHECK(memcmp(back, gz, gzlen) == 0);
	fclose(f);
	free(back);

	const char *proto_dir = getenv("PROFILE_PROTO_DIR");
	if (!proto_dir || !*proto_dir) {
		proto_dir = "/usr/share/gocode/src/github.com/google/pprof/proto";
	}
	char cmd[1024];
	int st;
	snprintf(cmd, sizeof(cmd),
	         "zcat '%s' | protoc --decode=perftools.profiles.Profile -I'%s' profile.proto",
	         path, proto_dir);
	char *text = run(cmd, &st);
	CHECK_EQ(st, 0);
	/* The first string_table entry is "", and ids run 1..N in each table. */
	const char *st0 = strstr(text, "string_table:");
	CHECK(st0 && strncmp(st0, "string_table: \"\"\n", 17) == 0);
	static const char *const tables[] = {
	    "location {\n  id: ", "function {\n  id: ", "mapping {\n  id: "};
	for (int k = 0; k < 3; k++) {
		unsigned long next = 1;
		for (const char *p = strstr(text, tables[k]); p; p = strstr(p + 1, tables[k])) {
			unsigned long id = strtoul(p + strlen(tables[k]), NULL, 10);
			CHECK_EQ(id, next);
			next++;
		}
		CHECK(next > 1);
	}
	CHECK(strstr(text, "\"[cpuprof] lost: buffer overflow\"") != NULL);
	CHECK(strstr(text, "\"pprof_test_leaf\"") != NULL);
	free(text);

	char home[128];
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	snprintf(cmd, sizeof(cmd), "go tool pprof -raw '%s' 2>&1", path);
	text = run(cmd, &st);
	CHECK_EQ(st, 0);
	CHECK(strstr(text, "pprof_test_mid") != NULL);
	CHECK(strstr(text, "[cpuprof] lost: buffer overflow") != NULL);
	CHECK(strstr(text, "worker-1") != NULL);
	CHECK(strstr(text, "PeriodType: cpu nanoseconds") != NULL);
	CHECK(strstr(text, "cpuprof test") != NULL);
	if (st != 0 || check_failures) {
		fprintf(stderr, "---- go tool pprof -raw ----\n%s\n", text);
	}
	free(text);

	snprintf(cmd, sizeof(cmd), "go tool pprof -top '%s' 2>&1", path);
	text = run(cmd, &st);
	CHECK_EQ(st, 0);
	static const char *const names[] = {
	    "pprof_test_leaf",
	    "pprof_test_mid",
	    "pprof_test_top",
	    "grab_ra",
	    "[cpuprof] lost: buffer overflow",
	    "[cpuprof] truncated stack",
	};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (!strstr(text, names[k])) {
			fprintf(stderr, "go tool pprof -top lacks %s\n", names[k]);
			check_failures++;
		}
	}
	if (have_dwarf) {
		CHECK(strstr(text, "pprof_test_inlined (inline)") != NULL);
		CHECK(strstr(text, "pprof_test_outer") != NULL);
	}
	CHECK(strstr(text, "Total samples = 130ms") != NULL);
	if (st != 0 || check_failures) {
		fprintf(stderr, "---- go tool pprof -top ----\n%s\n", text);
	}
	free(text);
	unlink(path);

	dprof_free(&d);
	free(raw);
	free(gz);
	free(ls);
	cpuprof__stacktab_free(t);
	cpuprof__maps_free(&maps);
}

/* An empty table still makes a valid profile; bad arguments are refused. */
static void test_empty(void)
{
	struct cpuprof__stacktab *t = cpuprof__stacktab_new();
	REQUIRE(t);
	struct cpuprof__pprof_meta meta = {.period = 1000000};
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	REQUIRE(cpuprof__pprof_build(t, &meta, &gz, &gzlen) == 0);
	size_t rawlen;
	uint8_t *raw = gunzip(gz, gzlen, &rawlen);
	static struct dprof d;
	CHECK_EQ(decode(raw, rawlen, &d), 0);
	CHECK_EQ(d.nsamples, 0);
	CHECK_EQ(d.nlocs, 0);
	CHECK_EQ(d.ntime_nanos, 0);
	CHECK(d.nmaps > 0);
	CHECK(d.nstrs > 0 && strcmp(d.strs[0], "") == 0);
	CHECK_EQ(d.period, 1000000);
	dprof_free(&d);
	free(raw);
	free(gz);
	CHECK_EQ(cpuprof__pprof_build(NULL, &meta, &gz, &gzlen), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof__pprof_build(t, NULL, &gz, &gzlen), CPUPROF_EINVAL);
	cpuprof__stacktab_free(t);
}

static void test_files(void)
{
	char path[128], sub[128];
	snprintf(path, sizeof(path), "%s/out.pb.gz", tmpdir);
	int before = count_entries(tmpdir);

	CHECK_EQ(cpuprof__check_path_writable(path), 0);
	CHECK_EQ(count_entries(tmpdir), before); /* nothing left behind */
	CHECK(access(path, F_OK) != 0);

	/* Unwritable: a directory that does not exist, under /proc, the directory itself. */
	CHECK_EQ(cpuprof__check_path_writable("/proc/nonexistent/x.pb.gz"), CPUPROF_EIO);
	snprintf(sub, sizeof(sub), "%s/missing/x.pb.gz", tmpdir);
	CHECK_EQ(cpuprof__check_path_writable(sub), CPUPROF_EIO);
	CHECK_EQ(cpuprof__check_path_writable(tmpdir), CPUPROF_EIO);
	snprintf(sub, sizeof(sub), "%s/", tmpdir);
	CHECK_EQ(cpuprof__check_path_writable(sub), CPUPROF_EIO);
	CHECK_EQ(cpuprof__check_path_writable(""), CPUPROF_EIO);
	CHECK_EQ(cpuprof__check_path_writable(NULL), CPUPROF_EIO);
	CHECK_EQ(cpuprof__write_file_atomic("/proc/nonexistent/x.pb.gz", (const uint8_t *)"x", 1),
	         CPUPROF_EIO);
	snprintf(sub, sizeof(sub), "%s/missing/x.pb.gz", tmpdir);
	CHECK_EQ(cpuprof__write_file_atomic(sub, (const uint8_t *)"x", 1), CPUPROF_EIO);
	/* Onto a directory: the rename fails and the temporary is removed. */
	snprintf(sub, sizeof(sub), "%s/adir", tmpdir);
	REQUIRE(mkdir(sub, 0755) == 0);
	CHECK_EQ(cpuprof__write_file_atomic(sub, (const uint8_t *)"x", 1), CPUPROF_EIO);
	CHECK_EQ(count_entries(tmpdir), before + 1);
	rmdir(sub);

	/* Write, then replace: the content is the new one, and no temporary remains. */
	CHECK_EQ(cpuprof__write_file_atomic(path, (const uint8_t *)"first", 5), 0);
	CHECK_EQ(cpuprof__write_file_atomic(path, (const uint8_t *)"second!", 7), 0);
	CHECK_EQ(count_entries(tmpdir), before + 1);
	char buf[16] = "";
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	CHECK_EQ(fread(buf, 1, sizeof(buf), f), 7);
	fclose(f);
	CHECK(memcmp(buf, "second!", 7) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == 7);
	/* An empty file is fine too. */
	CHECK_EQ(cpuprof__write_file_atomic(path, NULL, 0), 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 0);
	unlink(path);

	/* A relative path (the current directory). */
	char cwd[4096];
	REQUIRE(getcwd(cwd, sizeof(cwd)));
	REQUIRE(chdir(tmpdir) == 0);
	CHECK_EQ(cpuprof__check_path_writable("rel.pb.gz"), 0);
	CHECK_EQ(cpuprof__write_file_atomic("rel.pb.gz", (const uint8_t *)"r", 1), 0);
	CHECK(access("rel.pb.gz", F_OK) == 0);
	unlink("rel.pb.gz");
	REQUIRE(chdir(cwd) == 0);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_pprof.XXXXXX");
	REQUIRE(mkdtemp(tmpdir));
	test_files();
	test_empty();
	test_profile();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "note: could not remove %s\n", tmpdir);
	}
	return check_exit();
}
