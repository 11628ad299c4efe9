/*
 * pprof: the profile builder (see pprof.h). It walks a stacktab in insertion order and
 * streams profile.proto through zlib as Go's runtime/pprof does for CPU profiles: header,
 * then each Sample preceded by the Locations and Functions it introduces, then Mappings
 * (from /proc/self/maps, main executable first) and the string table. Symbolization is
 * in-process (symbolize.c), once per distinct address. Runs on the reader or controlling
 * thread, never in signal context; also the atomic file writer used by every file sink.
 */
#define _GNU_SOURCE
#include "pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cpuprof.h"
#include "frames.h"
#include "maps.h"
#include "pb.h"
#include "symbolize.h"

/* profile.proto field numbers (perftools.profiles). */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,

	VALUETYPE_TYPE = 1,
	VALUETYPE_UNIT = 2,

	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,

	LABEL_KEY = 1,
	LABEL_STR = 2,

	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,

	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,

	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,

	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5,
};

/* Encoded bytes are handed to zlib once this many are buffered (between messages). */
#define FLUSH_BYTES (64u * 1024)
#define ARENA_CHUNK (64u * 1024)

/* ---- Small tables ------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* u64 -> nonzero u32, open addressing; val 0 marks an empty slot. */
struct u64map {
	uint64_t *keys;
	uint32_t *vals;
	size_t n;
	size_t cap; /* power of two */
};

static int u64map_grow(struct u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	uint64_t *keys = malloc(cap * sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return CPUPROF_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->vals[i]) {
			size_t j = (size_t)mix64(m->keys[i]) & (cap - 1);
			while (vals[j]) {
				j = (j + 1) & (cap - 1);
			}
			keys[j] = m->keys[i];
			vals[j] = m->vals[i];
		}
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

static uint32_t u64map_get(const struct u64map *m, uint64_t key)
{
	if (!m->cap) {
		return 0;
	}
	for (size_t j = (size_t)mix64(key) & (m->cap - 1); m->vals[j]; j = (j + 1) & (m->cap - 1)) {
		if (m->keys[j] == key) {
			return m->vals[j];
		}
	}
	return 0;
}

/* Inserts a key known to be absent. */
static int u64map_put(struct u64map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap && u64map_grow(m) != 0) {
		return CPUPROF_ENOMEM;
	}
	size_t j = (size_t)mix64(key) & (m->cap - 1);
	while (m->vals[j]) {
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = key;
	m->vals[j] = val;
	m->n++;
	return 0;
}

static void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
}

/* ---- The builder -------------------------------------------------------------------- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char data[];
};

struct func {
	int64_t name;
	int64_t file;
	int64_t start_line;
	uint64_t hash;
};

/* Per mapping: how many Locations fell in it, and the AND of their symbolization flags. */
struct mapstate {
	uint32_t nlocs;
	unsigned flags;
};

struct builder {
	const struct cpuprof__pprof_meta *meta;
	struct cpuprof__pb pb;
	z_stream z;
	int zinit;
	uint8_t *out;
	size_t outlen, outcap;

	/* The string table: strs[i] (NUL-terminated, in the arena) is index i. */
	const char **strs;
	size_t *strlens;
	uint64_t *strhash;
	size_t nstrs, capstrs;
	uint32_t *strslots; /* index + 1, open addressing */
	size_t nstrslots;
	struct arena_chunk *arena;

	struct func *funcs; /* funcs[id - 1] */
	size_t nfuncs, capfuncs;
	uint32_t *funcslots; /* id, open addressing */
	size_t nfuncslots;

	struct u64map locs;                       /* adjusted address -> Location id */
	uint32_t synth_loc[CPUPROF__FRAME_LIMIT]; /* synthetic frame code -> Location id */
	uint32_t nlocs;

	struct u64map tids; /* tid -> string index of its name + 1 (1: no name) */

	struct cpuprof__maps maps;
	struct mapstate *mstate; /* one per maps.v[i] */
	int fake_mapping;        /* maps unreadable: one empty mapping holds every address */
	struct cpuprof__symbolizer *sym;
	int sym_tried;

	uint64_t *locids; /* scratch: one sample's location ids */
	size_t caplocids;
	int64_t *kv; /* scratch: one sample's label (key, value) string indices */
	size_t capkv;
};

static int sink(struct builder *b, const uint8_t *data, size_t len, int flush)
{
	b->z.next_in = (Bytef *)(uintptr_t)data;
	b->z.avail_in = (uInt)len;
	for (;;) {
		if (b->outcap - b->outlen < 16384) {
			size_t cap = b->outcap ? b->outcap * 2 : 65536;
			uint8_t *o = realloc(b->out, cap);
			if (!o) {
				return CPUPROF_ENOMEM;
			}
			b->out = o;
			b->outcap = cap;
		}
		b->z.next_out = b->out + b->outlen;
		b->z.avail_out = (uInt)(b->outcap - b->outlen);
		int r = deflate(&b->z, flush);
		b->outlen = b->outcap - b->z.avail_out;
		if (r == Z_STREAM_END) {
			return 0;
		}
		if (r != Z_OK && r != Z_BUF_ERROR) {
			return CPUPROF_ENOMEM;
		}
		if (flush == Z_NO_FLUSH && b->z.avail_in == 0) {
			return 0;
		}
	}
}

/* Hands the encoded bytes to zlib when enough have piled up; only between messages. */
static int maybe_flush(struct builder *b)
{
	if (b->pb.len < FLUSH_BYTES || b->pb.nest != 0) {
		return 0;
	}
	int err = cpuprof__pb_error(&b->pb);
	if (err) {
		return err;
	}
	/* zlib takes uInt lengths; FLUSH_BYTES-sized pieces are far below that, but a
	 * single message could be larger, so feed in bounded pieces. */
	size_t off = 0;
	while (off < b->pb.len) {
		size_t n = b->pb.len - off;
		if (n > (1u << 30)) {
			n = 1u << 30;
		}
		err = sink(b, b->pb.buf + off, n, Z_NO_FLUSH);
		if (err) {
			return err;
		}
		off += n;
	}
	cpuprof__pb_reset(&b->pb);
	return 0;
}

static uint64_t str_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h ^ n);
}

static char *arena_copy(struct builder *b, const char *s, size_t n)
{
	struct arena_chunk *c = b->arena;
	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c) {
			return NULL;
		}
		c->cap = cap;
		c->used = 0;
		c->next = b->arena;
		b->arena = c;
	}
	char *d = c->data + c->used;
	memcpy(d, s, n);
	d[n] = '\0';
	c->used += n + 1;
	return d;
}

/* Rebuilds an open-addressing index of `count` entries at twice its size (or 1024 slots):
 * slot values are entry index + 1, and entry i's hash is the uint64_t at
 * hashes + i * stride bytes. */
static int index_grow(uint32_t **slots, size_t *nslots, size_t count, const void *hashes,
                      size_t stride)
{
	size_t n = *nslots ? *nslots * 2 : 1024;
	uint32_t *sl = calloc(n, sizeof(*sl));
	if (!sl) {
		return CPUPROF_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		uint64_t h;
		memcpy(&h, (const char *)hashes + i * stride, sizeof(h));
		size_t j = (size_t)h & (n - 1);
		while (sl[j]) {
			j = (j + 1) & (n - 1);
		}
		sl[j] = (uint32_t)(i + 1);
	}
	free(*slots);
	*slots = sl;
	*nslots = n;
	return 0;
}

/* Puts val into the first free slot for hash h (the index has a free slot). */
static void index_put(uint32_t *slots, size_t nslots, uint64_t h, uint32_t val)
{
	size_t j = (size_t)h & (nslots - 1);
	while (slots[j]) {
		j = (j + 1) & (nslots - 1);
	}
	slots[j] = val;
}

/* The string-table index of s[0..n), adding it if new; -1 when out of memory. */
static int64_t str_n(struct builder *b, const char *s, size_t n)
{
	uint64_t h = str_hash(s, n);
	if (b->nstrslots) {
		size_t mask = b->nstrslots - 1;
		for (size_t j = (size_t)h & mask; b->strslots[j]; j = (j + 1) & mask) {
			size_t i = b->strslots[j] - 1;
			if (b->strhash[i] == h && b->strlens[i] == n &&
			    memcmp(b->strs[i], s, n) == 0) {
				return (int64_t)i;
			}
		}
	}
	if ((b->nstrs + 1) * 2 > b->nstrslots &&
	    index_grow(&b->strslots, &b->nstrslots, b->nstrs, b->strhash, sizeof(uint64_t)) != 0) {
		return -1;
	}
	if (b->nstrs == b->capstrs) {
		size_t cap = b->capstrs ? b->capstrs * 2 : 1024;
		const char **ns = realloc(b->strs, cap * sizeof(*ns));
		if (!ns) {
			return -1;
		}
		b->strs = ns;
		size_t *nl = realloc(b->strlens, cap * sizeof(*nl));
		if (!nl) {
			return -1;
		}
		b->strlens = nl;
		uint64_t *nh = realloc(b->strhash, cap * sizeof(*nh));
		if (!nh) {
			return -1;
		}
		b->strhash = nh;
		b->capstrs = cap;
	}
	char *copy = arena_copy(b, s, n);
	if (!copy) {
		return -1;
	}
	size_t i = b->nstrs++;
	b->strs[i] = copy;
	b->strlens[i] = n;
	b->strhash[i] = h;
	index_put(b->strslots, b->nstrslots, h, (uint32_t)(i + 1));
	return (int64_t)i;
}

/* NULL interns as "" (index 0). */
static int64_t str(struct builder *b, const char *s)
{
	return s ? str_n(b, s, strlen(s)) : 0;
}

/* The Function id for (name, file, start_line), emitting the Function message if new.
 * Returns 0 when out of memory. */
static uint64_t func_id(struct builder *b, int64_t name, int64_t file, int64_t start_line)
{
	uint64_t h = mix64(((uint64_t)name << 32) ^ (uint64_t)file ^ mix64((uint64_t)start_line));
	if (b->nfuncslots) {
		size_t mask = b->nfuncslots - 1;
		for (size_t j = (size_t)h & mask; b->funcslots[j]; j = (j + 1) & mask) {
			const struct func *f = &b->funcs[b->funcslots[j] - 1];
			if (f->hash == h && f->name == name && f->file == file &&
			    f->start_line == start_line) {
				return b->funcslots[j];
			}
		}
	}
	if ((b->nfuncs + 1) * 2 > b->nfuncslots &&
	    index_grow(&b->funcslots, &b->nfuncslots, b->nfuncs,
	               b->nfuncs ? &b->funcs[0].hash : NULL, sizeof(struct func)) != 0) {
		return 0;
	}
	if (b->nfuncs == b->capfuncs) {
		size_t cap = b->capfuncs ? b->capfuncs * 2 : 256;
		struct func *nf = realloc(b->funcs, cap * sizeof(*nf));
		if (!nf) {
			return 0;
		}
		b->funcs = nf;
		b->capfuncs = cap;
	}
	uint64_t id = ++b->nfuncs;
	b->funcs[id - 1] = (struct func){name, file, start_line, h};
	index_put(b->funcslots, b->nfuncslots, h, (uint32_t)id);

	/* name == system_name: pprof then demangles the name itself. */
	size_t start = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_uint64(&b->pb, FUNCTION_ID, id);
	cpuprof__pb_int64_opt(&b->pb, FUNCTION_NAME, name);
	cpuprof__pb_int64_opt(&b->pb, FUNCTION_SYSTEM_NAME, name);
	cpuprof__pb_int64_opt(&b->pb, FUNCTION_FILENAME, file);
	cpuprof__pb_int64_opt(&b->pb, FUNCTION_START_LINE, start_line);
	cpuprof__pb_end(&b->pb, PROFILE_FUNCTION, start);
	return id;
}

/* The Location for a synthetic frame: no mapping, the code as its address, one Line. */
static int synth_location(struct builder *b, uint64_t code, uint64_t *id)
{
	if (b->synth_loc[code]) {
		*id = b->synth_loc[code];
		return 0;
	}
	const char *name = cpuprof__frame_name(code);
	char buf[64];
	if (!name) {
		snprintf(buf, sizeof(buf), "[cpuprof] unknown frame %u", (unsigned)code);
		name = buf;
	}
	int64_t ni = str(b, name);
	if (ni < 0) {
		return CPUPROF_ENOMEM;
	}
	uint64_t fid = func_id(b, ni, 0, 0);
	if (!fid) {
		return CPUPROF_ENOMEM;
	}
	*id = b->synth_loc[code] = ++b->nlocs;
	size_t start = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_uint64(&b->pb, LOCATION_ID, *id);
	cpuprof__pb_uint64(&b->pb, LOCATION_ADDRESS, code);
	size_t ls = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_uint64(&b->pb, LINE_FUNCTION_ID, fid);
	cpuprof__pb_end(&b->pb, LOCATION_LINE, ls);
	cpuprof__pb_end(&b->pb, PROFILE_LOCATION, start);
	return maybe_flush(b);
}

/* The Location for a code address (already adjusted: callers are return address - 1). */
static int addr_location(struct builder *b, uint64_t addr, uint64_t *id)
{
	uint32_t got = u64map_get(&b->locs, addr);
	if (got) {
		*id = got;
		return 0;
	}
	long mi = -1;
	if (b->fake_mapping) {
		mi = 0;
	} else {
		mi = cpuprof__maps_find(&b->maps, addr);
	}
	struct cpuprof__symresult sr = {NULL, 0, 0};
	if (mi >= 0) {
		/* The symbolizer is made only for profiles that have code addresses. */
		if (!b->sym && !b->sym_tried) {
			b->sym_tried = 1;
			b->sym = cpuprof__symbolizer_new();
		}
		if (b->sym && cpuprof__symbolize(b->sym, addr, &sr) != 0) {
			return CPUPROF_ENOMEM;
		}
	}

	/* An address in a real mapping that no symbol covers (a PLT stub, padding): name it
	 * "[file+0xoffset]", as pprof shows unsymbolized frames, and count that name as a
	 * function. Otherwise one such sample would clear has_functions for the whole
	 * mapping, and pprof would re-symbolize it with a reader (Go 1.19's) that has no
	 * inline frames, discarding ours. */
	struct cpuprof__symframe unknown;
	char unknown_name[96];
	if (sr.nframes == 0 && mi >= 0 && !b->fake_mapping) {
		const struct cpuprof__mapping *mp = &b->maps.v[mi];
		const char *base = mp->path ? strrchr(mp->path, '/') : NULL;
		base = base ? base + 1 : (mp->path ? mp->path : "?");
		snprintf(unknown_name, sizeof(unknown_name), "[%.60s+0x%llx]", base,
			 (unsigned long long)(addr - mp->start + mp->offset));
		memset(&unknown, 0, sizeof(unknown));
		unknown.function = unknown_name;
		sr.frames = &unknown;
		sr.nframes = 1;
		sr.flags = CPUPROF__SYM_FUNCTION;
	}

	/* Functions first (they are messages of their own, written before the Location). */
	uint64_t fids[64];
	int64_t lines[64];
	uint32_t nl = sr.nframes < 64 ? sr.nframes : 64;
	for (uint32_t i = 0; i < nl; i++) {
		const struct cpuprof__symframe *f = &sr.frames[i];
		int64_t ni = str(b, f->function ? f->function : "??");
		int64_t fi = str(b, f->file);
		if (ni < 0 || fi < 0) {
			return CPUPROF_ENOMEM;
		}
		fids[i] = func_id(b, ni, fi, f->start_line);
		if (!fids[i]) {
			return CPUPROF_ENOMEM;
		}
		lines[i] = f->line;
	}
	if (mi >= 0) {
		struct mapstate *ms = &b->mstate[mi];
		ms->nlocs++;
		ms->flags &= sr.flags;
	}

	*id = ++b->nlocs;
	if (u64map_put(&b->locs, addr, (uint32_t)*id) != 0) {
		return CPUPROF_ENOMEM;
	}
	size_t start = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_uint64(&b->pb, LOCATION_ID, *id);
	cpuprof__pb_uint64_opt(&b->pb, LOCATION_MAPPING_ID, mi >= 0 ? (uint64_t)mi + 1 : 0);
	cpuprof__pb_uint64(&b->pb, LOCATION_ADDRESS, addr);
	for (uint32_t i = 0; i < nl; i++) {
		size_t ls = cpuprof__pb_begin(&b->pb);
		cpuprof__pb_uint64(&b->pb, LINE_FUNCTION_ID, fids[i]);
		cpuprof__pb_int64_opt(&b->pb, LINE_LINE, lines[i]);
		cpuprof__pb_end(&b->pb, LOCATION_LINE, ls);
	}
	cpuprof__pb_end(&b->pb, PROFILE_LOCATION, start);
	return maybe_flush(b);
}

static void label(struct builder *b, int64_t key, int64_t val)
{
	size_t ls = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_int64_opt(&b->pb, LABEL_KEY, key);
	cpuprof__pb_int64_opt(&b->pb, LABEL_STR, val);
	cpuprof__pb_end(&b->pb, SAMPLE_LABEL, ls);
}

static int has_key(const struct cpuprof__labelset *ls, const char *key)
{
	for (uint32_t i = 0; ls && i < ls->n; i++) {
		if (ls->kv[i].key && strcmp(ls->kv[i].key, key) == 0) {
			return 1;
		}
	}
	return 0;
}

static int sample(struct builder *b, const struct cpuprof__stackent *e)
{
	const struct cpuprof__pprof_meta *m = b->meta;
	if (e->count == 0) {
		return 0; /* pprof drops all-zero samples anyway */
	}
	if (e->npcs > b->caplocids) {
		uint64_t *n = realloc(b->locids, e->npcs * sizeof(*n));
		if (!n) {
			return CPUPROF_ENOMEM;
		}
		b->locids = n;
		b->caplocids = e->npcs;
	}
	for (uint32_t i = 0; i < e->npcs; i++) {
		uint64_t pc = e->pcs[i];
		int err;
		if (cpuprof__frame_is_synthetic(pc)) {
			err = synth_location(b, pc, &b->locids[i]);
		} else {
			/* pcs[0] is the interrupted PC itself; the others are return
			 * addresses, and the call instruction is the byte before. */
			err = addr_location(b, i == 0 || pc == 0 ? pc : pc - 1, &b->locids[i]);
		}
		if (err) {
			return err;
		}
	}

	/* Intern every label string before the Sample message opens. */
	const struct cpuprof__labelset *ls = e->labels;
	size_t want = 2 * ((size_t)(ls ? ls->n : 0) + 2);
	if (want > b->capkv) {
		int64_t *n = realloc(b->kv, want * sizeof(*n));
		if (!n) {
			return CPUPROF_ENOMEM;
		}
		b->kv = n;
		b->capkv = want;
	}
	int64_t *kv = b->kv;
	size_t nkv = 0;
	for (uint32_t i = 0; ls && i < ls->n; i++) {
		int64_t k = str(b, ls->kv[i].key), v = str(b, ls->kv[i].value);
		if (k < 0 || v < 0) {
			return CPUPROF_ENOMEM;
		}
		kv[nkv++] = k;
		kv[nkv++] = v;
	}
	if (m->thread_labels && e->tid != 0) {
		char tidbuf[16];
		if (!has_key(ls, "thread_id")) {
			snprintf(tidbuf, sizeof(tidbuf), "%d", (int)e->tid);
			int64_t k = str(b, "thread_id"), v = str(b, tidbuf);
			if (k < 0 || v < 0) {
				return CPUPROF_ENOMEM;
			}
			kv[nkv++] = k;
			kv[nkv++] = v;
		}
		if (m->thread_name && !has_key(ls, "thread_name")) {
			/* Asked once per thread: the callback may read /proc. */
			uint32_t got = u64map_get(&b->tids, (uint64_t)(uint32_t)e->tid);
			if (!got) {
				const char *name = m->thread_name(m->thread_name_ctx, e->tid);
				int64_t v = name ? str(b, name) : 0;
				if (v < 0 || u64map_put(&b->tids, (uint64_t)(uint32_t)e->tid,
				                        (uint32_t)v + 1) != 0) {
					return CPUPROF_ENOMEM;
				}
				got = (uint32_t)v + 1;
			}
			if (got > 1) {
				int64_t k = str(b, "thread_name");
				if (k < 0) {
					return CPUPROF_ENOMEM;
				}
				kv[nkv++] = k;
				kv[nkv++] = (int64_t)got - 1;
			}
		}
	}

	int64_t vals[2];
	vals[0] = e->count;
	if (__builtin_mul_overflow(e->count, m->period, &vals[1])) {
		vals[1] = e->count > 0 ? INT64_MAX : INT64_MIN;
	}
	size_t start = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_uint64s(&b->pb, SAMPLE_LOCATION_ID, b->locids, e->npcs);
	cpuprof__pb_int64s(&b->pb, SAMPLE_VALUE, vals, 2);
	for (size_t i = 0; i < nkv; i += 2) {
		label(b, kv[i], kv[i + 1]);
	}
	cpuprof__pb_end(&b->pb, PROFILE_SAMPLE, start);
	return maybe_flush(b);
}

static void value_type(struct builder *b, uint32_t field, int64_t type, int64_t unit)
{
	size_t start = cpuprof__pb_begin(&b->pb);
	cpuprof__pb_int64_opt(&b->pb, VALUETYPE_TYPE, type);
	cpuprof__pb_int64_opt(&b->pb, VALUETYPE_UNIT, unit);
	cpuprof__pb_end(&b->pb, field, start);
}

static int header(struct builder *b)
{
	const struct cpuprof__pprof_meta *m = b->meta;
	/* The first strings, in Go's order: "", samples, count, cpu, nanoseconds. */
	int64_t empty = str(b, "");
	int64_t samples = str(b, "samples"), count = str(b, "count");
	int64_t cpu = str(b, "cpu"), ns = str(b, "nanoseconds");
	if (empty != 0 || samples < 0 || count < 0 || cpu < 0 || ns < 0) {
		return CPUPROF_ENOMEM;
	}
	/* time_nanos once: a second nonzero one reads as concatenated profiles. */
	cpuprof__pb_int64_opt(&b->pb, PROFILE_TIME_NANOS, m->time_nanos);
	value_type(b, PROFILE_SAMPLE_TYPE, samples, count);
	value_type(b, PROFILE_SAMPLE_TYPE, cpu, ns);
	cpuprof__pb_int64_opt(&b->pb, PROFILE_DURATION_NANOS, m->duration_nanos);
	value_type(b, PROFILE_PERIOD_TYPE, cpu, ns);
	cpuprof__pb_int64_opt(&b->pb, PROFILE_PERIOD, m->period);
	if (m->ncomments) {
		int64_t *c = malloc(m->ncomments * sizeof(*c));
		if (!c) {
			return CPUPROF_ENOMEM;
		}
		size_t n = 0;
		for (size_t i = 0; i < m->ncomments; i++) {
			if (!m->comments[i]) {
				continue;
			}
			int64_t s = str(b, m->comments[i]);
			if (s < 0) {
				free(c);
				return CPUPROF_ENOMEM;
			}
			c[n++] = s;
		}
		cpuprof__pb_int64s(&b->pb, PROFILE_COMMENT, c, n);
		free(c);
	}
	return 0;
}

static int mappings(struct builder *b)
{
	if (b->fake_mapping) {
		/* As Go does when maps are unreadable: one empty mapping, so pprof does not
		 * try to symbolize addresses against files it cannot know. */
		const struct mapstate *ms = &b->mstate[0];
		size_t start = cpuprof__pb_begin(&b->pb);
		cpuprof__pb_uint64(&b->pb, MAPPING_ID, 1);
		cpuprof__pb_bool_opt(&b->pb, MAPPING_HAS_FUNCTIONS,
		                     ms->nlocs && (ms->flags & CPUPROF__SYM_FUNCTION));
		cpuprof__pb_end(&b->pb, PROFILE_MAPPING, start);
		return maybe_flush(b);
	}
	for (size_t i = 0; i < b->maps.n; i++) {
		const struct cpuprof__mapping *mp = &b->maps.v[i];
		const struct mapstate *ms = &b->mstate[i];
		int64_t file = str(b, mp->path), bid = str(b, mp->build_id);
		if (file < 0 || bid < 0) {
			return CPUPROF_ENOMEM;
		}
		/* A flag claims something for every Location in the mapping; with no
		 * Locations there is nothing to claim (and Go leaves it false too). */
		unsigned fl = ms->nlocs ? ms->flags : 0;
		size_t start = cpuprof__pb_begin(&b->pb);
		cpuprof__pb_uint64(&b->pb, MAPPING_ID, i + 1);
		cpuprof__pb_uint64_opt(&b->pb, MAPPING_MEMORY_START, mp->start);
		cpuprof__pb_uint64_opt(&b->pb, MAPPING_MEMORY_LIMIT, mp->limit);
		cpuprof__pb_uint64_opt(&b->pb, MAPPING_FILE_OFFSET, mp->offset);
		cpuprof__pb_int64_opt(&b->pb, MAPPING_FILENAME, file);
		cpuprof__pb_int64_opt(&b->pb, MAPPING_BUILD_ID, bid);
		cpuprof__pb_bool_opt(&b->pb, MAPPING_HAS_FUNCTIONS, fl & CPUPROF__SYM_FUNCTION);
		cpuprof__pb_bool_opt(&b->pb, MAPPING_HAS_FILENAMES, fl & CPUPROF__SYM_FILE);
		cpuprof__pb_bool_opt(&b->pb, MAPPING_HAS_LINE_NUMBERS, fl & CPUPROF__SYM_LINE);
		cpuprof__pb_bool_opt(&b->pb, MAPPING_HAS_INLINE_FRAMES, fl & CPUPROF__SYM_INLINE);
		cpuprof__pb_end(&b->pb, PROFILE_MAPPING, start);
		int err = maybe_flush(b);
		if (err) {
			return err;
		}
	}
	return 0;
}

static int string_table(struct builder *b)
{
	for (size_t i = 0; i < b->nstrs; i++) {
		cpuprof__pb_bytes(&b->pb, PROFILE_STRING_TABLE, b->strs[i], b->strlens[i]);
		int err = maybe_flush(b);
		if (err) {
			return err;
		}
	}
	return 0;
}

static void builder_free(struct builder *b)
{
	cpuprof__pb_free(&b->pb);
	if (b->zinit) {
		deflateEnd(&b->z);
	}
	free(b->out);
	free(b->strs);
	free(b->strlens);
	free(b->strhash);
	free(b->strslots);
	while (b->arena) {
		struct arena_chunk *n = b->arena->next;
		free(b->arena);
		b->arena = n;
	}
	free(b->funcs);
	free(b->funcslots);
	u64map_free(&b->locs);
	u64map_free(&b->tids);
	cpuprof__maps_free(&b->maps);
	free(b->mstate);
	cpuprof__symbolizer_free(b->sym);
	free(b->locids);
	free(b->kv);
}

int cpuprof__pprof_build(const struct cpuprof__stacktab *t, const struct cpuprof__pprof_meta *m,
                         uint8_t **out, size_t *outlen)
{
	struct builder b;
	int err;
	if (!t || !m || !out || !outlen) {
		return CPUPROF_EINVAL;
	}
	memset(&b, 0, sizeof(b));
	b.meta = m;
	cpuprof__pb_init(&b.pb);
	/* windowBits 15 + 16: a gzip stream, as profile.proto files on disk must be. Level 1
	 * (Go's gzip.BestSpeed): the builder runs while the program does. */
	if (deflateInit2(&b.z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		err = CPUPROF_ENOMEM;
		goto out;
	}
	b.zinit = 1;

	/* Mappings as of now: the addresses in the table were executed by this process,
	 * and modules unloaded since are simply not found (their addresses stay raw). */
	err = cpuprof__maps_read_self(&b.maps);
	if (err == CPUPROF_ENOMEM) {
		goto out;
	}
	b.fake_mapping = b.maps.n == 0;
	size_t nms = b.fake_mapping ? 1 : b.maps.n;
	b.mstate = malloc(nms * sizeof(*b.mstate));
	if (!b.mstate) {
		err = CPUPROF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nms; i++) {
		b.mstate[i].nlocs = 0;
		b.mstate[i].flags = ~0u;
	}

	err = header(&b);
	if (err) {
		goto out;
	}
	size_t n = cpuprof__stacktab_len(t);
	for (size_t i = 0; i < n; i++) {
		err = sample(&b, cpuprof__stacktab_entry(t, i));
		if (err) {
			goto out;
		}
	}
	err = mappings(&b);
	if (err) {
		goto out;
	}
	err = string_table(&b);
	if (err) {
		goto out;
	}
	err = cpuprof__pb_error(&b.pb);
	if (err) {
		goto out;
	}
	err = sink(&b, b.pb.buf, b.pb.len, Z_FINISH);
	if (err) {
		goto out;
	}
	*out = b.out;
	*outlen = b.outlen;
	b.out = NULL;
out:
	builder_free(&b);
	return err;
}

/* ---- Files -------------------------------------------------------------------------- */

static atomic_uint temp_counter;

/* A fresh temporary name in the directory of path: "<dir>/.cpuprof-<pid>-<n>.tmp".
 * Independent of the base name's length, so it never exceeds NAME_MAX when path does not. */
static char *temp_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t cap = dirlen + 64;
	char *t = malloc(cap);
	if (!t) {
		return NULL;
	}
	memcpy(t, path, dirlen);
	unsigned n = atomic_fetch_add_explicit(&temp_counter, 1, memory_order_relaxed);
	snprintf(t + dirlen, cap - dirlen, ".cpuprof-%ld-%u.tmp", (long)getpid(), n);
	return t;
}

/* Creates a new temporary file next to path; returns the fd (and *tmp) or -1. */
static int create_temp(const char *path, char **tmp)
{
	for (int tries = 0; tries < 100; tries++) {
		char *t = temp_path(path);
		if (!t) {
			return -1;
		}
		/* 0666 and the umask: the profile gets the mode any new file would get. */
		int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
		if (fd >= 0) {
			*tmp = t;
			return fd;
		}
		free(t);
		if (errno != EEXIST) {
			return -1;
		}
	}
	return -1;
}

static int path_ok(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return n > 0 && path[n - 1] != '/';
}

static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	if (!slash) {
		dir = strdup(".");
	} else if (slash == path) {
		dir = strdup("/");
	} else {
		dir = strndup(path, (size_t)(slash - path));
	}
	if (!dir) {
		return;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		/* Makes the rename durable; a file system that cannot sync a directory
		 * still has the file, so errors here do not fail the write. */
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

int cpuprof__write_file_atomic(const char *path, const uint8_t *data, size_t len)
{
	if (!path_ok(path) || (!data && len)) {
		return CPUPROF_EIO;
	}
	char *tmp = NULL;
	int fd = create_temp(path, &tmp);
	if (fd < 0) {
		return CPUPROF_EIO;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t r = write(fd, data + done, len - done);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			goto fail;
		}
		done += (size_t)r;
	}
	if (fsync(fd) != 0) {
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		goto fail;
	}
	sync_dir(path);
	free(tmp);
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
	}
	unlink(tmp);
	free(tmp);
	return CPUPROF_EIO;
}

int cpuprof__check_path_writable(const char *path)
{
	if (!path_ok(path)) {
		return CPUPROF_EIO;
	}
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		return CPUPROF_EIO; /* the rename at the end would fail */
	}
	char *tmp = NULL;
	int fd = create_temp(path, &tmp);
	if (fd < 0) {
		return CPUPROF_EIO;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return 0;
}
