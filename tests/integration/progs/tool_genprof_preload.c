/*
 * tool_genprof: writes pprof profiles (uncompressed profile.proto, to stdout) for the
 * tests of the cpuprof tool, with a protobuf writer of its own so that the tool's reader
 * is checked against an independent encoder (and against go tool pprof).
 *
 *   tool_genprof stacks [OPTIONS] < folded.txt   a profile with these stacks
 *   tool_genprof big N [DEPTH] [OPTIONS]         N distinct pseudo-random stacks
 *   tool_genprof corrupt KIND                    a small invalid profile (kinds below)
 *
 * Stack lines are folded stacks, root first: "main;hot;leaf 12". A frame "a^b" is one
 * location with two lines, b inlined into a. In names, \n, \\, \; \^ and \xHH are
 * escapes. Options: --unpacked (repeated fields unpacked), --sparse-ids (ids that are
 * not 1..N), --default-type=NAME, --types=samples/count,cpu/nanoseconds (the default),
 * --total (print "total N", the sum of the line numbers, on stderr).
 * The value of a "count" type is the line's number, any other type number * period.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERIOD 10000000

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		while (b->n + n > b->cap) {
			b->cap = b->cap ? b->cap * 2 : 256;
		}
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			fprintf(stderr, "genprof: out of memory\n");
			exit(1);
		}
	}
	if (n) {
		memcpy(b->p + b->n, d, n);
	}
	b->n += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t c[10];
	size_t n = 0;

	do {
		c[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v) {
			c[n] |= 0x80;
		}
		n++;
	} while (v);
	put(b, c, n);
}

static void put_key(struct buf *b, unsigned field, unsigned wire)
{
	put_varint(b, (uint64_t)field << 3 | wire);
}

static void put_uint(struct buf *b, unsigned field, uint64_t v)
{
	put_key(b, field, 0);
	put_varint(b, v);
}

static void put_bytes(struct buf *b, unsigned field, const void *d, size_t n)
{
	put_key(b, field, 2);
	put_varint(b, n);
	put(b, d, n);
}

/* Appends message m as field `field` of b and empties m. */
static void put_msg(struct buf *b, unsigned field, struct buf *m)
{
	put_bytes(b, field, m->p, m->n);
	m->n = 0;
}

static int unpacked;

static void put_repeated(struct buf *b, unsigned field, const uint64_t *v, size_t n)
{
	if (unpacked) {
		for (size_t i = 0; i < n; i++) {
			put_uint(b, field, v[i]);
		}
		return;
	}
	struct buf tmp = {0};
	for (size_t i = 0; i < n; i++) {
		put_varint(&tmp, v[i]);
	}
	put_bytes(b, field, tmp.p, tmp.n);
	free(tmp.p);
}

/* ---- the profile model ------------------------------------------------------------- */

#define MAXLINES 8

struct loc {
	uint32_t nlines;
	uint32_t func[MAXLINES]; /* innermost first, function indices */
};

struct sample {
	uint32_t *locs; /* location indices, leaf first */
	uint32_t nlocs;
	int64_t count;
};

static struct {
	char **strs;
	size_t nstrs, capstrs;
	uint32_t *func_name; /* string index per function */
	size_t nfuncs, capfuncs;
	struct loc *locs;
	size_t nlocs, caplocs;
	struct sample *samples;
	size_t nsamples, capsamples;
	uint32_t types[8][2];
	size_t ntypes;
	uint32_t default_type;
	int sparse;
} P;

static void *grow(void *p, size_t *cap, size_t n, size_t esz)
{
	if (n < *cap) {
		return p;
	}
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(p, *cap * esz);
	if (!p) {
		fprintf(stderr, "genprof: out of memory\n");
		exit(1);
	}
	return p;
}

/* Strings: a hash table over the list, so the big mode stays fast. */
static uint32_t *str_slots;
static size_t str_mask;

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++) {
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	}
	return (size_t)h;
}

static uint32_t intern(const char *s)
{
	if (2 * (P.nstrs + 1) > str_mask + 1) {
		size_t cap = str_slots ? (str_mask + 1) * 2 : 1024;
		uint32_t *ns = calloc(cap, sizeof *ns);
		for (size_t i = 0; i < P.nstrs; i++) {
			size_t h = hash_str(P.strs[i]) & (cap - 1);
			while (ns[h]) {
				h = (h + 1) & (cap - 1);
			}
			ns[h] = (uint32_t)i + 1;
		}
		free(str_slots);
		str_slots = ns;
		str_mask = cap - 1;
	}
	size_t h = hash_str(s) & str_mask;
	for (; str_slots[h]; h = (h + 1) & str_mask) {
		if (strcmp(P.strs[str_slots[h] - 1], s) == 0) {
			return str_slots[h] - 1;
		}
	}
	P.strs = grow(P.strs, &P.capstrs, P.nstrs, sizeof *P.strs);
	P.strs[P.nstrs] = strdup(s);
	str_slots[h] = (uint32_t)P.nstrs + 1;
	return (uint32_t)P.nstrs++;
}

/* One function per distinct name; returns its index. */
static uint32_t func_of(const char *name)
{
	uint32_t s = intern(name);

	for (size_t i = 0; i < P.nfuncs; i++) {
		if (P.func_name[i] == s) {
			return (uint32_t)i;
		}
	}
	P.func_name = grow(P.func_name, &P.capfuncs, P.nfuncs, sizeof *P.func_name);
	P.func_name[P.nfuncs] = s;
	return (uint32_t)P.nfuncs++;
}

static uint32_t loc_of(const struct loc *l)
{
	for (size_t i = 0; i < P.nlocs; i++) {
		if (P.locs[i].nlines == l->nlines &&
		    memcmp(P.locs[i].func, l->func, l->nlines * sizeof l->func[0]) == 0) {
			return (uint32_t)i;
		}
	}
	P.locs = grow(P.locs, &P.caplocs, P.nlocs, sizeof *P.locs);
	P.locs[P.nlocs] = *l;
	return (uint32_t)P.nlocs++;
}

static void add_sample(const uint32_t *locs, uint32_t n, int64_t count)
{
	P.samples = grow(P.samples, &P.capsamples, P.nsamples, sizeof *P.samples);
	struct sample *s = &P.samples[P.nsamples++];
	s->locs = malloc((n ? n : 1) * sizeof *locs);
	memcpy(s->locs, locs, n * sizeof *locs);
	s->nlocs = n;
	s->count = count;
}

static uint64_t id_of(size_t index)
{
	return P.sparse ? 1000 + 7 * (uint64_t)index : (uint64_t)index + 1;
}

static void set_types(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;

	P.ntypes = 0;
	for (char *t = strtok_r(copy, ",", &save); t && P.ntypes < 8;
	     t = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(t, '/');
		if (!slash) {
			fprintf(stderr, "genprof: bad type '%s' (want type/unit)\n", t);
			exit(2);
		}
		*slash = '\0';
		P.types[P.ntypes][0] = intern(t);
		P.types[P.ntypes][1] = intern(slash + 1);
		P.ntypes++;
	}
	free(copy);
}

/* Encodes the model. `tweak` lets the corrupt mode break one thing. */
static void encode(struct buf *out, const char *tweak)
{
	struct buf m = {0}, sub = {0};
	uint64_t *tmp = NULL;
	size_t captmp = 0;
	int t = tweak != NULL;

	for (size_t i = 0; i < P.ntypes; i++) {
		put_uint(&m, 1, P.types[i][0]);
		put_uint(&m, 2, P.types[i][1]);
		put_msg(out, 1, &m);
	}
	for (size_t i = 0; i < P.nsamples; i++) {
		const struct sample *s = &P.samples[i];
		size_t need = s->nlocs > P.ntypes ? s->nlocs : P.ntypes;
		tmp = grow(tmp, &captmp, need, sizeof *tmp);
		for (uint32_t j = 0; j < s->nlocs; j++) {
			tmp[j] = id_of(s->locs[j]);
		}
		if (t && strcmp(tweak, "loc-missing") == 0 && i == 0) {
			tmp[0] = 999999;
		}
		put_repeated(&m, 1, tmp, s->nlocs);
		for (size_t k = 0; k < P.ntypes; k++) {
			int is_count = strcmp(P.strs[P.types[k][1]], "count") == 0;
			tmp[k] = (uint64_t)(is_count ? s->count : s->count * PERIOD);
		}
		size_t nv = P.ntypes;
		if (t && strcmp(tweak, "values-mismatch") == 0 && i == 0) {
			nv = 1;
		}
		put_repeated(&m, 2, tmp, nv);
		put_msg(out, 2, &m);
	}
	/* One mapping: the "binary". */
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 0x400000);
	put_uint(&m, 3, 0x500000);
	put_uint(&m, 4, 0);
	put_uint(&m, 5, intern("/usr/bin/genprof"));
	put_uint(&m, 7, 1);
	put_msg(out, 3, &m);
	for (size_t i = 0; i < P.nlocs; i++) {
		const struct loc *l = &P.locs[i];
		uint64_t id = id_of(i);
		if (t && strcmp(tweak, "zero-id") == 0 && i == 0) {
			id = 0;
		}
		put_uint(&m, 1, id);
		put_uint(&m, 2, 1);
		put_uint(&m, 3, 0x401000 + 16 * (uint64_t)i);
		for (uint32_t j = 0; j < l->nlines; j++) {
			uint64_t fid = id_of(l->func[j]);
			if (t && strcmp(tweak, "func-missing") == 0 && i == 0) {
				fid = 777777;
			}
			put_uint(&sub, 1, fid);
			put_uint(&sub, 2, 10 + j);
			put_msg(&m, 4, &sub);
		}
		put_msg(out, 4, &m);
	}
	uint32_t file = intern("gen.c");
	for (size_t i = 0; i < P.nfuncs; i++) {
		uint64_t id = id_of(i);
		if (t && strcmp(tweak, "dup-id") == 0 && i == 1) {
			id = id_of(0);
		}
		put_uint(&m, 1, id);
		put_uint(&m, 2, t && strcmp(tweak, "str-range") == 0 ? 99999 : P.func_name[i]);
		put_uint(&m, 3, P.func_name[i]);
		put_uint(&m, 4, file);
		put_msg(out, 5, &m);
	}
	put_uint(out, 9, 1700000000000000000u);
	if (t && strcmp(tweak, "concat") == 0) {
		put_uint(out, 9, 1700000000000000001u);
	}
	put_uint(out, 10, 2000000000);
	uint32_t cpu = intern("cpu"), ns = intern("nanoseconds");
	put_uint(&m, 1, cpu);
	put_uint(&m, 2, ns);
	put_msg(out, 11, &m);
	put_uint(out, 12, PERIOD);
	if (P.default_type) {
		put_uint(out, 14, P.default_type);
	}
	/* The string table last, as Go writes it. */
	for (size_t i = 0; i < P.nstrs; i++) {
		const char *s = P.strs[i];
		if (t && strcmp(tweak, "str0") == 0 && i == 0) {
			s = "not empty";
		}
		put_bytes(out, 6, s, strlen(s));
	}
	free(m.p);
	free(sub.p);
	free(tmp);
}

/* ---- stacks from folded text ------------------------------------------------------- */

/* Unescapes one name in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r != '\\' || !r[1]) {
			*w++ = *r;
			continue;
		}
		r++;
		if (*r == 'n') {
			*w++ = '\n';
		} else if (*r == 'x' && r[1] && r[2]) {
			char hex[3] = {r[1], r[2], 0};
			*w++ = (char)strtol(hex, NULL, 16);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Splits s at unescaped `sep`; returns the number of parts (pointers into s). */
static size_t split(char *s, char sep, char **parts, size_t max)
{
	size_t n = 0;

	parts[n++] = s;
	for (char *c = s; *c && n < max; c++) {
		if (*c == '\\' && c[1]) {
			c++;
		} else if (*c == sep) {
			*c = '\0';
			parts[n++] = c + 1;
		}
	}
	return n;
}

static void read_stacks(FILE *in)
{
	char line[65536];
	char *frames[1024], *parts[MAXLINES];
	uint32_t locs[1024];

	while (fgets(line, sizeof line, in)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *sp = strrchr(line, ' ');
		if (!line[0] || line[0] == '#' || !sp) {
			continue;
		}
		*sp = '\0';
		int64_t count = strtoll(sp + 1, NULL, 10);
		size_t nf = line[0] ? split(line, ';', frames, 1024) : 0;
		/* Root first in the text, leaf first in the profile. */
		for (size_t i = 0; i < nf; i++) {
			size_t np = split(frames[i], '^', parts, MAXLINES);
			struct loc l = {0};
			l.nlines = (uint32_t)np;
			for (size_t k = 0; k < np; k++) {
				unescape(parts[k]);
				l.func[np - 1 - k] = func_of(parts[k]);
			}
			locs[nf - 1 - i] = loc_of(&l);
		}
		add_sample(locs, (uint32_t)nf, count);
	}
}

/* ---- many stacks ------------------------------------------------------------------- */

static uint64_t rng = 88172645463325252u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void make_big(size_t nstacks, size_t maxdepth)
{
	const size_t nf = 3000;
	char name[64];
	uint32_t *loc_by_func = malloc(nf * sizeof *loc_by_func);
	uint32_t *stack = malloc((maxdepth + 2) * sizeof *stack);

	/* One location per function, plus one in ten with an inlined callee. */
	for (size_t f = 0; f < nf; f++) {
		snprintf(name, sizeof name, "pkg%zu.function_%zu", f % 37, f);
		struct loc l = {1, {func_of(name)}};
		P.locs = grow(P.locs, &P.caplocs, P.nlocs, sizeof *P.locs);
		P.locs[P.nlocs] = l;
		if (f % 10 == 0) {
			snprintf(name, sizeof name, "pkg%zu.inlined_%zu", f % 37, f);
			P.locs[P.nlocs].nlines = 2;
			P.locs[P.nlocs].func[1] = P.locs[P.nlocs].func[0];
			P.locs[P.nlocs].func[0] = func_of(name);
		}
		loc_by_func[f] = (uint32_t)P.nlocs++;
	}
	/* Stacks share a few roots and prefixes, like real programs. */
	for (size_t i = 0; i < nstacks; i++) {
		size_t depth = 4 + next_rand() % (maxdepth - 3);
		stack[depth - 1] = loc_by_func[next_rand() % 4];      /* root */
		stack[depth - 2] = loc_by_func[4 + next_rand() % 40]; /* mid */
		for (size_t d = depth - 2; d-- > 0;) {
			stack[d] = loc_by_func[44 + next_rand() % (nf - 44)];
		}
		add_sample(stack, (uint32_t)depth, 1 + (int64_t)(next_rand() % 100));
	}
	free(loc_by_func);
	free(stack);
}

/* ---- corrupt profiles -------------------------------------------------------------- */

static void make_small(void)
{
	static const char *const stacks[] = {"main", "hot", "leaf"};
	uint32_t locs[3];

	for (size_t i = 0; i < 3; i++) {
		struct loc l = {1, {func_of(stacks[i])}};
		locs[2 - i] = loc_of(&l);
	}
	add_sample(locs, 3, 5);
	add_sample(locs + 1, 2, 3);
}

/* Frees the model (sanitizer builds check that helpers do not leak either). */
static void free_all(void)
{
	for (size_t i = 0; i < P.nstrs; i++) {
		free(P.strs[i]);
	}
	for (size_t i = 0; i < P.nsamples; i++) {
		free(P.samples[i].locs);
	}
	free(P.strs);
	free(P.func_name);
	free(P.locs);
	free(P.samples);
	free(str_slots);
}

int main(int argc, char **argv)
{
	struct buf out = {0};
	const char *mode = argc > 1 ? argv[1] : "", *tweak = NULL;
	size_t nstacks = 0, depth = 24;
	int pos = 0, total = 0;

	intern("");
	set_types("samples/count,cpu/nanoseconds");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--unpacked") == 0) {
			unpacked = 1;
		} else if (strcmp(argv[i], "--total") == 0) {
			total = 1;
		} else if (strcmp(argv[i], "--sparse-ids") == 0) {
			P.sparse = 1;
		} else if (strncmp(argv[i], "--types=", 8) == 0) {
			set_types(argv[i] + 8);
		} else if (strncmp(argv[i], "--default-type=", 15) == 0) {
			P.default_type = intern(argv[i] + 15);
		} else if (pos == 0) {
			pos++;
			nstacks = strtoul(argv[i], NULL, 10);
			tweak = argv[i];
		} else if (pos == 1) {
			pos++;
			depth = strtoul(argv[i], NULL, 10);
		}
	}
	if (strcmp(mode, "stacks") == 0) {
		read_stacks(stdin);
		encode(&out, NULL);
	} else if (strcmp(mode, "big") == 0 && nstacks > 0 && depth >= 5) {
		make_big(nstacks, depth);
		encode(&out, NULL);
	} else if (strcmp(mode, "corrupt") == 0 && tweak) {
		static const uint8_t bad_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
		static const uint8_t wire3[] = {0x13, 0x00};
		static const uint8_t overrun[] = {0x12, 0x7f, 0x08, 0x01};
		make_small();
		if (strcmp(tweak, "no-types") == 0) {
			P.ntypes = 0;
		}
		encode(&out, tweak);
		if (strcmp(tweak, "bad-varint") == 0) {
			put(&out, bad_varint, sizeof bad_varint);
		} else if (strcmp(tweak, "wire-type") == 0) {
			put(&out, wire3, sizeof wire3);
		} else if (strcmp(tweak, "len-overrun") == 0) {
			put(&out, overrun, sizeof overrun);
		}
	} else {
		fprintf(stderr, "usage: tool_genprof stacks|big N [DEPTH]|corrupt KIND [options]\n"
		                "corrupt kinds: bad-varint wire-type len-overrun str-range str0 "
		                "loc-missing func-missing values-mismatch zero-id dup-id no-types "
		                "concat\n");
		free_all();
		return 2;
	}
	if (total) {
		int64_t sum = 0;
		for (size_t i = 0; i < P.nsamples; i++) {
			sum += P.samples[i].count;
		}
		fprintf(stderr, "total %lld\n", (long long)sum);
	}
	fwrite(out.p, 1, out.n, stdout);
	free(out.p);
	free_all();
	return fflush(stdout) == 0 ? 0 : 1;
}
