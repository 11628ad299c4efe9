/*
 * maps: executable mappings from /proc/self/maps and GNU build IDs from ELF notes (see
 * maps.h). Used by the profile builder (pprof.c), never in signal context. The parsers
 * take buffers and check every offset, because their input (a maps file, an ELF file on
 * disk) is not ours and may be truncated or hostile.
 */
#define _GNU_SOURCE
#include "maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "cpuprof.h"

/* ---- /proc/<pid>/maps lines --------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Parses a hex number at *p (at least one digit, at most 64 bits); advances *p. */
static int parse_hex(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int ndig = 0;
	while (s < end && hexval(*s) >= 0) {
		if (v >> 60) {
			return -1; /* a 17th significant digit: wider than 64 bits */
		}
		v = (v << 4) | (uint64_t)hexval(*s);
		s++;
		ndig++;
	}
	if (ndig == 0) {
		return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

static int parse_dec(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int ndig = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return -1;
		}
		v = v * 10 + d;
		s++;
		ndig++;
	}
	if (ndig == 0) {
		return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c) {
		return -1;
	}
	(*p)++;
	return 0;
}

int cpuprof__maps_parse_line(const char *line, size_t len, struct cpuprof__mapline *out)
{
	const char *p = line, *end = line + len;
	uint64_t major, minor;
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;

	if (len > 0 && line[len - 1] == '\n') {
		end--;
	}
	memset(out, 0, sizeof(*out));
	if (parse_hex(&p, end, &out->start) || expect(&p, end, '-') ||
	    parse_hex(&p, end, &out->limit) || expect(&p, end, ' ')) {
		return CPUPROF_EINVAL;
	}
	if (out->start > out->limit) {
		return CPUPROF_EINVAL;
	}
	if (end - p < 5) {
		return CPUPROF_EINVAL;
	}
	static const char allowed[4][2] = {{'r', '-'}, {'w', '-'}, {'x', '-'}, {'p', 's'}};
	for (int i = 0; i < 4; i++) {
		if (p[i] != allowed[i][0] && p[i] != allowed[i][1]) {
			return CPUPROF_EINVAL;
		}
		out->perms[i] = p[i];
	}
	out->perms[4] = '\0';
	p += 4;
	if (expect(&p, end, ' ') || parse_hex(&p, end, &out->offset) || expect(&p, end, ' ') ||
	    parse_hex(&p, end, &major) || expect(&p, end, ':') || parse_hex(&p, end, &minor) ||
	    expect(&p, end, ' ') || parse_dec(&p, end, &out->inode)) {
		return CPUPROF_EINVAL;
	}
	if (p < end && *p != ' ') {
		return CPUPROF_EINVAL;
	}
	while (p < end && *p == ' ') {
		p++;
	}
	/* The rest of the line is the path; it may itself contain spaces. */
	out->path = p;
	out->pathlen = (size_t)(end - p);
	if (out->pathlen >= dlen && memcmp(end - dlen, deleted, dlen) == 0) {
		out->pathlen -= dlen;
		out->deleted = 1;
	}
	return 0;
}

int cpuprof__mapline_keep(const struct cpuprof__mapline *ml)
{
	if (ml->perms[2] != 'x') {
		return 0;
	}
	if (ml->inode == 0 && ml->pathlen == 0) {
		return 0;
	}
	return 1;
}

/* ---- The mapping set ---------------------------------------------------------------- */

void cpuprof__maps_free(struct cpuprof__maps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].build_id);
	}
	free(m->v);
	free(m->sorted);
	memset(m, 0, sizeof(*m));
}

/* Rebuilds m->sorted. Insertion sort: the maps file is sorted already, so this is linear
 * apart from the one entry moved to the front, and malformed input costs at worst n^2 for
 * the few hundred mappings a process has. */
static void build_sorted(struct cpuprof__maps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		uint32_t x = (uint32_t)i;
		size_t j = i;
		while (j > 0 && m->v[m->sorted[j - 1]].start > m->v[x].start) {
			m->sorted[j] = m->sorted[j - 1];
			j--;
		}
		m->sorted[j] = x;
	}
}

long cpuprof__maps_find(const struct cpuprof__maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;
	/* Find the last mapping with start <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[m->sorted[mid]].start <= addr) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo == 0) {
		return -1;
	}
	uint32_t i = m->sorted[lo - 1];
	return addr < m->v[i].limit ? (long)i : -1;
}

static char *strndup_or_null(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

int cpuprof__maps_parse(const char *text, size_t len, struct cpuprof__maps *out)
{
	memset(out, 0, sizeof(*out));
	size_t cap = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct cpuprof__mapline ml;
		if (cpuprof__maps_parse_line(p, (size_t)(le - p), &ml) == 0 &&
		    cpuprof__mapline_keep(&ml)) {
			if (out->n == cap) {
				size_t nc = cap ? cap * 2 : 32;
				struct cpuprof__mapping *nv = realloc(out->v, nc * sizeof(*nv));
				if (!nv) {
					goto oom;
				}
				out->v = nv;
				cap = nc;
			}
			struct cpuprof__mapping *mp = &out->v[out->n];
			memset(mp, 0, sizeof(*mp));
			mp->start = ml.start;
			mp->limit = ml.limit;
			mp->offset = ml.offset;
			mp->deleted = ml.deleted;
			mp->path = strndup_or_null(ml.path, ml.pathlen);
			mp->build_id = strndup_or_null("", 0);
			out->n++;
			if (!mp->path || !mp->build_id) {
				goto oom;
			}
		}
		p = le + 1;
	}
	out->sorted = malloc((out->n ? out->n : 1) * sizeof(uint32_t));
	if (!out->sorted) {
		goto oom;
	}
	build_sorted(out);
	return 0;
oom:
	cpuprof__maps_free(out);
	return CPUPROF_ENOMEM;
}

/* ---- ELF notes ---------------------------------------------------------------------- */

#define NT_GNU_BUILD_ID_ 3
#define PT_NOTE_ 4
#define SHT_NOTE_ 7
/* Note areas and header tables larger than these are not read (real ones are tiny). */
#define NOTE_AREA_MAX (1u << 20)
#define TABLE_MAX (1u << 20)

static uint32_t rd32(const uint8_t *p, int be)
{
	if (be) {
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	}
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t rd16(const uint8_t *p, int be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint64_t rd64(const uint8_t *p, int be)
{
	uint64_t a = rd32(p, be), b = rd32(p + 4, be);
	return be ? (a << 32 | b) : (b << 32 | a);
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int cpuprof__elfnote_build_id(const uint8_t *notes, size_t len, size_t align, int bigendian,
                              uint8_t *id, size_t cap)
{
	uint64_t a = align == 8 ? 8 : 4;
	uint64_t pos = 0;
	while (pos < len) {
		if (len - pos < 12) {
			return CPUPROF_EINVAL;
		}
		const uint8_t *h = notes + pos;
		uint64_t namesz = rd32(h, bigendian);
		uint64_t descsz = rd32(h + 4, bigendian);
		uint32_t type = rd32(h + 8, bigendian);
		uint64_t nameoff = pos + 12;
		uint64_t descoff = round_up(nameoff + namesz, a);
		if (nameoff + namesz > len || descoff > len || descsz > len - descoff) {
			return CPUPROF_EINVAL;
		}
		if (type == NT_GNU_BUILD_ID_ && namesz == 4 &&
		    memcmp(notes + nameoff, "GNU", 4) == 0 && descsz > 0 && descsz <= cap) {
			memcpy(id, notes + descoff, (size_t)descsz);
			return (int)descsz;
		}
		/* The last note needs no trailing padding. */
		pos = round_up(descoff + descsz, a);
	}
	return 0;
}

/* A reader of an ELF image: copies len bytes at off into buf; 0, or -1 when the range is
 * not in the image or cannot be read. */
typedef int (*elf_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/* Reads one note area and scans it. Returns as cpuprof__elfnote_build_id, or CPUPROF_EINVAL
 * when the area lies outside the image. */
static int scan_area(elf_read_fn rd, void *ctx, uint64_t off, uint64_t size, uint64_t align, int be,
                     uint8_t *id, size_t cap)
{
	if (size == 0) {
		return 0;
	}
	if (size > NOTE_AREA_MAX) {
		return 0;
	}
	uint8_t stackbuf[512];
	uint8_t *buf = size <= sizeof(stackbuf) ? stackbuf : malloc((size_t)size);
	if (!buf) {
		return CPUPROF_ENOMEM;
	}
	int r = rd(ctx, off, buf, (size_t)size);
	if (r == 0) {
		r = cpuprof__elfnote_build_id(buf, (size_t)size, (size_t)align, be, id, cap);
	} else {
		r = CPUPROF_EINVAL;
	}
	if (buf != stackbuf) {
		free(buf);
	}
	return r;
}

/* Reads a table of n entries of entsize bytes at off into a malloc'd buffer. */
static uint8_t *read_table(elf_read_fn rd, void *ctx, uint64_t off, uint64_t n, uint64_t entsize)
{
	if (n == 0 || n * entsize > TABLE_MAX) {
		return NULL;
	}
	uint8_t *t = malloc((size_t)(n * entsize));
	if (t && rd(ctx, off, t, (size_t)(n * entsize)) != 0) {
		free(t);
		t = NULL;
	}
	return t;
}

/* Where a program or section header keeps the fields scan_table reads (byte offsets in
 * an ELF32 and an ELF64 entry). */
struct note_table {
	uint32_t note_type; /* PT_NOTE or SHT_NOTE */
	uint8_t type_off;   /* the same in both classes */
	uint8_t off32, size32, align32;
	uint8_t off64, size64, align64;
};

static const struct note_table phdr_notes = {PT_NOTE_, 0, 4, 16, 28, 8, 32, 48};
static const struct note_table shdr_notes = {SHT_NOTE_, 4, 16, 20, 32, 24, 32, 48};

/* Scans the note areas listed in a header table of n entries. Returns the ID length,
 * CPUPROF_ENOMEM, or 0 (not found; *bad is set if the table or an area was malformed). */
static int scan_table(elf_read_fn rd, void *ctx, int is64, int be, uint64_t tabloff, uint32_t n,
                      uint32_t entsize, const struct note_table *lay, uint8_t *id, size_t cap,
                      int *bad)
{
	uint8_t *t = read_table(rd, ctx, tabloff, n, entsize);
	if (!t) {
		*bad |= n != 0;
		return 0;
	}
	int r = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = t + (size_t)i * entsize;
		if (rd32(e + lay->type_off, be) != lay->note_type) {
			continue;
		}
		uint64_t off = is64 ? rd64(e + lay->off64, be) : rd32(e + lay->off32, be);
		uint64_t size = is64 ? rd64(e + lay->size64, be) : rd32(e + lay->size32, be);
		uint64_t align = is64 ? rd64(e + lay->align64, be) : rd32(e + lay->align32, be);
		r = scan_area(rd, ctx, off, size, align, be, id, cap);
		if (r > 0 || r == CPUPROF_ENOMEM) {
			break;
		}
		*bad |= r < 0;
		r = 0;
	}
	free(t);
	return r;
}

static int elf_build_id(elf_read_fn rd, void *ctx, uint8_t *id, size_t cap)
{
	uint8_t eh[64];
	if (rd(ctx, 0, eh, 52) != 0) {
		return CPUPROF_EINVAL;
	}
	if (memcmp(eh, "\177ELF", 4) != 0) {
		return CPUPROF_EINVAL;
	}
	int is64 = eh[4] == 2;
	if (eh[4] != 1 && eh[4] != 2) {
		return CPUPROF_EINVAL;
	}
	if (eh[5] != 1 && eh[5] != 2) {
		return CPUPROF_EINVAL;
	}
	int be = eh[5] == 2;
	if (is64 && rd(ctx, 0, eh, 64) != 0) {
		return CPUPROF_EINVAL;
	}
	uint64_t phoff, shoff;
	uint32_t phentsize, phnum, shentsize, shnum;
	if (is64) {
		phoff = rd64(eh + 32, be);
		shoff = rd64(eh + 40, be);
		phentsize = rd16(eh + 54, be);
		phnum = rd16(eh + 56, be);
		shentsize = rd16(eh + 58, be);
		shnum = rd16(eh + 60, be);
	} else {
		phoff = rd32(eh + 28, be);
		shoff = rd32(eh + 32, be);
		phentsize = rd16(eh + 42, be);
		phnum = rd16(eh + 44, be);
		shentsize = rd16(eh + 46, be);
		shnum = rd16(eh + 48, be);
	}
	int bad = 0; /* a note area was malformed: say so if nothing else is found */
	int r = 0;

	/* Program headers: PT_NOTE segments, which are what a running image has. */
	uint32_t phsize = is64 ? 56 : 32;
	if (phoff != 0 && phnum != 0 && phnum != 0xffff && phentsize >= phsize) {
		r = scan_table(rd, ctx, is64, be, phoff, phnum, phentsize, &phdr_notes, id, cap,
		               &bad);
		if (r != 0) {
			return r;
		}
	}

	/* Section headers: SHT_NOTE sections (a file whose segments carry no notes). */
	uint32_t shsize = is64 ? 64 : 40;
	if (shoff != 0 && shentsize >= shsize) {
		if (shnum == 0) {
			/* More than 0xff00 sections: the count is in section 0's sh_size. */
			uint8_t s0[64];
			if (rd(ctx, shoff, s0, shsize) != 0) {
				return CPUPROF_EINVAL;
			}
			uint64_t n = is64 ? rd64(s0 + 32, be) : rd32(s0 + 20, be);
			shnum = n > 0xffffffu ? 0 : (uint32_t)n;
		}
		r = scan_table(rd, ctx, is64, be, shoff, shnum, shentsize, &shdr_notes, id, cap,
		               &bad);
		if (r != 0) {
			return r;
		}
	}
	return bad ? CPUPROF_EINVAL : 0;
}

struct mem_image {
	const uint8_t *p;
	size_t len;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct mem_image *m = ctx;
	if (off > m->len || len > m->len - off) {
		return -1;
	}
	memcpy(buf, m->p + off, len);
	return 0;
}

int cpuprof__elf_build_id_mem(const uint8_t *img, size_t len, uint8_t *id, size_t cap)
{
	struct mem_image m = {img, len};
	return elf_build_id(mem_read, &m, id, cap);
}

static int fd_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	int fd = *(const int *)ctx;
	size_t done = 0;
	if (off > (uint64_t)INT64_MAX - len) {
		return -1;
	}
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

int cpuprof__elf_build_id_file(const char *path, uint8_t *id, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		return CPUPROF_EIO;
	}
	int r = elf_build_id(fd_read, &fd, id, cap);
	close(fd);
	return r;
}

void cpuprof__hex(const uint8_t *bytes, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* ---- This process ------------------------------------------------------------------- */

/* Reads a whole /proc file (its size is not known in advance). */
static char *read_proc_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return NULL;
	}
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

/* Fills m->build_id from the file or, for [vdso], from this process's memory. */
static int read_build_id(struct cpuprof__mapping *m)
{
	uint8_t id[CPUPROF__BUILD_ID_MAX];
	int n = 0;
	if (strcmp(m->path, "[vdso]") == 0) {
		uint64_t ehdr = getauxval(AT_SYSINFO_EHDR);
		if (ehdr >= m->start && ehdr < m->limit) {
			n = cpuprof__elf_build_id_mem((const uint8_t *)(uintptr_t)ehdr,
			                              (size_t)(m->limit - ehdr), id, sizeof(id));
		}
	} else if (m->deleted) {
		/* The path may name a newer file now: read the mapped one, if we may. */
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/map_files/%llx-%llx",
		         (unsigned long long)m->start, (unsigned long long)m->limit);
		n = cpuprof__elf_build_id_file(p, id, sizeof(id));
	} else if (m->path[0] == '/') {
		n = cpuprof__elf_build_id_file(m->path, id, sizeof(id));
	}
	if (n <= 0) {
		return 0;
	}
	char *hex = malloc(2 * (size_t)n + 1);
	if (!hex) {
		return CPUPROF_ENOMEM;
	}
	cpuprof__hex(id, (size_t)n, hex);
	free(m->build_id);
	m->build_id = hex;
	return 0;
}

int cpuprof__maps_read_self(struct cpuprof__maps *out)
{
	memset(out, 0, sizeof(*out));
	size_t len;
	char *text = read_proc_file("/proc/self/maps", &len);
	if (!text) {
		return errno == ENOMEM ? CPUPROF_ENOMEM : CPUPROF_EIO;
	}
	int err = cpuprof__maps_parse(text, len, out);
	free(text);
	if (err) {
		return err;
	}

	/* The main executable first: the mapping that holds the program's entry point. */
	long main_i = cpuprof__maps_find(out, getauxval(AT_ENTRY));
	if (main_i > 0) {
		struct cpuprof__mapping mm = out->v[main_i];
		memmove(&out->v[1], &out->v[0], (size_t)main_i * sizeof(out->v[0]));
		out->v[0] = mm;
		build_sorted(out);
	}

	for (size_t i = 0; i < out->n; i++) {
		struct cpuprof__mapping *m = &out->v[i];
		/* Several mappings of one file (rare for executable ones) share its ID. */
		const struct cpuprof__mapping *same = NULL;
		for (size_t j = 0; j < i && !same; j++) {
			if (strcmp(out->v[j].path, m->path) == 0 && !m->deleted &&
			    !out->v[j].deleted) {
				same = &out->v[j];
			}
		}
		if (same) {
			char *dup = strdup(same->build_id);
			if (!dup) {
				cpuprof__maps_free(out);
				return CPUPROF_ENOMEM;
			}
			free(m->build_id);
			m->build_id = dup;
			continue;
		}
		if (read_build_id(m) != 0) {
			cpuprof__maps_free(out);
			return CPUPROF_ENOMEM;
		}
	}
	return 0;
}
