/*
 * test_maps: the /proc/<pid>/maps line parser on real and malformed lines, the mapping set
 * of this process, and GNU build IDs: read from this test's own binary and compared with
 * the note found in memory through dl_iterate_phdr (and with readelf -n when present),
 * plus crafted ELF images and note areas, well-formed and not.
 */
#define _GNU_SOURCE
#include "maps.h"

#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "check.h"
#include "cpuprof.h"

static int parse(const char *line, struct cpuprof__mapline *ml)
{
	return cpuprof__maps_parse_line(line, strlen(line), ml);
}

static int path_is(const struct cpuprof__mapline *ml, const char *want)
{
	return ml->pathlen == strlen(want) && memcmp(ml->path, want, ml->pathlen) == 0;
}

static void test_lines(void)
{
	struct cpuprof__mapline ml;

	CHECK_EQ(parse("55a45f18a000-55a45f18f000 r-xp 00002000 fe:00 247134                     "
	               "/usr/bin/cat\n",
	               &ml),
	         0);
	CHECK_EQ(ml.start, 0x55a45f18a000ULL);
	CHECK_EQ(ml.limit, 0x55a45f18f000ULL);
	CHECK_EQ(ml.offset, 0x2000);
	CHECK_EQ(ml.inode, 247134);
	CHECK_STREQ(ml.perms, "r-xp");
	CHECK(path_is(&ml, "/usr/bin/cat"));
	CHECK_EQ(ml.deleted, 0);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 1);

	/* [vdso]: inode 0 but a name, kept. */
	CHECK_EQ(parse("7fc1688f6000-7fc1688f8000 r-xp 00000000 00:00 0                          "
	               "[vdso]",
	               &ml),
	         0);
	CHECK(path_is(&ml, "[vdso]"));
	CHECK_EQ(ml.inode, 0);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 1);

	/* [vsyscall]: the top of the address space, execute-only, kept. */
	CHECK_EQ(parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  "
	               "[vsyscall]\n",
	               &ml),
	         0);
	CHECK_EQ(ml.start, 0xffffffffff600000ULL);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 1);

	/* Anonymous executable memory (inode 0, no path): skipped, as Go skips it. */
	CHECK_EQ(parse("7f0000000000-7f0000200000 r-xp 00000000 00:00 0 \n", &ml), 0);
	CHECK_EQ(ml.pathlen, 0);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 0);
	CHECK_EQ(parse("7f0000000000-7f0000200000 r-xp 00000000 00:00 0", &ml), 0);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 0);

	/* Not executable: parsed, not kept. */
	CHECK_EQ(parse("7fc168700000-7fc168726000 r--p 00000000 fe:00 332835 /lib/libc.so.6", &ml),
	         0);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 0);
	CHECK_EQ(parse("7fc168700000-7fc168726000 rw-s 00000000 fe:00 332835 /dev/shm/x", &ml), 0);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 0);

	/* " (deleted)" is stripped; spaces inside the path stay. */
	CHECK_EQ(parse("400000-401000 r-xp 00001000 103:02 42 /tmp/my prog (v2) (deleted)\n", &ml),
	         0);
	CHECK(path_is(&ml, "/tmp/my prog (v2)"));
	CHECK_EQ(ml.deleted, 1);
	CHECK_EQ(ml.inode, 42);
	CHECK_EQ(cpuprof__mapline_keep(&ml), 1);
	/* Only a suffix counts. */
	CHECK_EQ(parse("400000-401000 r-xp 0 8:1 42 /tmp/ (deleted)x", &ml), 0);
	CHECK(path_is(&ml, "/tmp/ (deleted)x"));
	CHECK_EQ(ml.deleted, 0);
	/* A memfd mapping. */
	CHECK_EQ(
	    parse("7f0000000000-7f0000001000 r-xp 00000000 00:01 1025 /memfd:jit (deleted)", &ml),
	    0);
	CHECK(path_is(&ml, "/memfd:jit"));

	/* The largest values, and leading zeros beyond 16 digits. */
	CHECK_EQ(parse("ffffffffffffffff-ffffffffffffffff r-xp ffffffffffffffff ff:ff "
	               "18446744073709551615 /x",
	               &ml),
	         0);
	CHECK(ml.start == UINT64_MAX && ml.limit == UINT64_MAX && ml.offset == UINT64_MAX);
	CHECK(ml.inode == UINT64_MAX);
	CHECK_EQ(parse("000000000000000000001000-000000000000000000002000 r-xp 0 0:0 1 /x", &ml),
	         0);
	CHECK_EQ(ml.start, 0x1000);
	CHECK_EQ(parse("0-0 r-xp 0 0:0 1 /x", &ml), 0);

	/* Malformed lines. */
	static const char *const bad[] = {
	    "",
	    "\n",
	    "garbage",
	    "400000 r-xp 0 0:0 1 /x",                              /* no '-' */
	    "400000-",                                             /* truncated */
	    "400000-401000",                                       /* truncated */
	    "400000-401000 ",                                      /* no perms */
	    "400000-401000 r-x",                                   /* short perms */
	    "400000-401000 r-xp",                                  /* nothing after perms */
	    "400000-401000 rwxq 0 0:0 1 /x",                       /* bad share flag */
	    "400000-401000 x--p 0 0:0 1 /x",                       /* perms out of place */
	    "400000-401000 r-xpp 0 0:0 1 /x",                      /* five perms */
	    "401000-400000 r-xp 0 0:0 1 /x",                       /* start > limit */
	    "10000000000000000-10000000000000001 r-xp 0 0:0 1 /x", /* 65-bit numbers */
	    "400000-401000 r-xp 10000000000000000 0:0 1 /x",       /* 65-bit offset */
	    "400000-401000 r-xp 0 0:0 18446744073709551616 /x",    /* inode > 2^64-1 */
	    "400000-401000 r-xp 0 0:0 99999999999999999999999 /x",
	    "400000-401000 r-xp 0 00 1 /x",    /* dev without ':' */
	    "400000-401000 r-xp 0 0: 1 /x",    /* no minor */
	    "400000-401000 r-xp 0 :0 1 /x",    /* no major */
	    "400000-401000 r-xp 0 0:0",        /* no inode */
	    "400000-401000 r-xp 0 0:0 x /x",   /* inode not decimal */
	    "400000-401000 r-xp 0 0:0 12a /x", /* junk after the inode */
	    "400000-401000 r-xp 0 0:0 -1 /x",  /* negative inode */
	    "400000-401000  r-xp 0 0:0 1 /x",  /* two spaces */
	    "-401000 r-xp 0 0:0 1 /x",         /* no start */
	    "0x400000-401000 r-xp 0 0:0 1 /x", /* C prefix */
	    "40g000-401000 r-xp 0 0:0 1 /x",   /* not hex */
	    "400000-401000 r-xp zz 0:0 1 /x",  /* offset not hex */
	    "400000-401000\tr-xp 0 0:0 1 /x",  /* tab */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &ml);
		if (r != CPUPROF_EINVAL) {
			fprintf(stderr, "accepted malformed line %zu: \"%s\"\n", i, bad[i]);
		}
		CHECK_EQ(r, CPUPROF_EINVAL);
	}

	/* The parser stops at len and does not need a NUL. */
	char buf[64];
	memcpy(buf, "400000-401000 r-xp 0 0:0 1 /abcXXXXXXXX", 39);
	CHECK_EQ(cpuprof__maps_parse_line(buf, 31, &ml), 0);
	CHECK(path_is(&ml, "/abc"));
}

static void test_parse_text(void)
{
	const char text[] = "00400000-00401000 r--p 00000000 08:01 11 /bin/a\n"
	                    "00401000-00402000 r-xp 00001000 08:01 11 /bin/a\n"
	                    "this line is junk\n"
	                    "00500000-00600000 r-xp 00000000 00:00 0\n"
	                    "7f0000000000-7f0000010000 r-xp 00002000 08:01 12 /lib/b.so (deleted)\n"
	                    "\n"
	                    "7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0 [vdso]";
	struct cpuprof__maps m;
	REQUIRE(cpuprof__maps_parse(text, sizeof(text) - 1, &m) == 0);
	CHECK_EQ(m.n, 3);
	CHECK_STREQ(m.v[0].path, "/bin/a");
	CHECK_EQ(m.v[0].start, 0x401000);
	CHECK_EQ(m.v[0].offset, 0x1000);
	CHECK_STREQ(m.v[0].build_id, "");
	CHECK_STREQ(m.v[1].path, "/lib/b.so");
	CHECK_EQ(m.v[1].deleted, 1);
	CHECK_STREQ(m.v[2].path, "[vdso]");
	CHECK_EQ(cpuprof__maps_find(&m, 0x400fff), -1);
	CHECK_EQ(cpuprof__maps_find(&m, 0x401000), 0);
	CHECK_EQ(cpuprof__maps_find(&m, 0x401fff), 0);
	CHECK_EQ(cpuprof__maps_find(&m, 0x402000), -1);
	CHECK_EQ(cpuprof__maps_find(&m, 0x500000), -1); /* the skipped anonymous region */
	CHECK_EQ(cpuprof__maps_find(&m, 0x7f0000000123ULL), 1);
	CHECK_EQ(cpuprof__maps_find(&m, 0x7ffc00001fffULL), 2);
	CHECK_EQ(cpuprof__maps_find(&m, UINT64_MAX), -1);
	CHECK_EQ(cpuprof__maps_find(&m, 0), -1);
	cpuprof__maps_free(&m);

	REQUIRE(cpuprof__maps_parse("", 0, &m) == 0);
	CHECK_EQ(m.n, 0);
	CHECK_EQ(cpuprof__maps_find(&m, 0x1234), -1);
	cpuprof__maps_free(&m);
}

/* ---- Build IDs ---- */

/* The main program's build ID found in memory, independently of maps.c: PT_NOTE segments
 * of the first dl_iterate_phdr object, parsed here with plain 4-byte-aligned note walking. */
static char mem_bid[2 * CPUPROF__BUILD_ID_MAX + 1];

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE) {
			continue;
		}
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;
		size_t al = ph->p_align == 8 ? 8 : 4;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + al - 1) & ~(al - 1));
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				for (size_t k = 0; k < nh->n_descsz; k++) {
					sprintf(mem_bid + 2 * k, "%02x", desc[k]);
				}
				return 1;
			}
			p = desc + ((nh->n_descsz + al - 1) & ~(al - 1));
		}
	}
	return 1; /* only the first object: the main program */
}

static void test_self(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	REQUIRE(n > 0);
	exe[n] = '\0';

	dl_iterate_phdr(phdr_cb, NULL);
	REQUIRE(mem_bid[0] != '\0'); /* the toolchain links with --build-id */

	/* From the file. */
	uint8_t id[CPUPROF__BUILD_ID_MAX];
	int len = cpuprof__elf_build_id_file(exe, id, sizeof(id));
	CHECK(len > 0);
	char hex[2 * CPUPROF__BUILD_ID_MAX + 1] = "";
	if (len > 0) {
		cpuprof__hex(id, (size_t)len, hex);
	}
	CHECK_STREQ(hex, mem_bid);

	/* readelf -n, when binutils is installed. */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null", exe);
	FILE *f = popen(cmd, "r");
	if (f) {
		char line[512], got[600] = "";
		while (fgets(line, sizeof(line), f)) {
			const char *p = strstr(line, "Build ID: ");
			if (p) {
				sscanf(p + 10, "%512s", got);
			}
		}
		if (pclose(f) == 0 && got[0]) {
			CHECK_STREQ(got, mem_bid);
		} else {
			fprintf(stderr, "note: readelf not available, compared in memory only\n");
		}
	}

	/* A buffer with too little room for the ID: not found, not an error. */
	CHECK_EQ(cpuprof__elf_build_id_file(exe, id, 4), 0);
	/* Not ELF, empty, missing. */
	CHECK_EQ(cpuprof__elf_build_id_file("/proc/self/maps", id, sizeof(id)), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof__elf_build_id_file("/dev/null", id, sizeof(id)), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof__elf_build_id_file("/nonexistent/file", id, sizeof(id)), CPUPROF_EIO);

	/* The whole process. */
	struct cpuprof__maps m;
	REQUIRE(cpuprof__maps_read_self(&m) == 0);
	REQUIRE(m.n > 0);
	CHECK_STREQ(m.v[0].path, exe);
	CHECK_STREQ(m.v[0].build_id, mem_bid);
	long self = cpuprof__maps_find(&m, (uint64_t)(uintptr_t)&test_self);
	CHECK_EQ(self, 0);
	int saw_vdso = 0;
	for (size_t i = 0; i < m.n; i++) {
		CHECK(m.v[i].start < m.v[i].limit);
		CHECK(strstr(m.v[i].path, " (deleted)") == NULL);
		CHECK(m.v[i].path[0] != '\0');
		for (const char *p = m.v[i].build_id; *p; p++) {
			CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
		}
		if (strcmp(m.v[i].path, "[vdso]") == 0) {
			saw_vdso = 1;
			/* Compare with the image read directly. */
			uint64_t eh = getauxval(AT_SYSINFO_EHDR);
			CHECK(eh >= m.v[i].start && eh < m.v[i].limit);
			uint8_t vid[CPUPROF__BUILD_ID_MAX];
			int vl = cpuprof__elf_build_id_mem((const uint8_t *)(uintptr_t)eh,
			                                   (size_t)(m.v[i].limit - eh), vid,
			                                   sizeof(vid));
			CHECK(vl >= 0);
			char vhex[2 * CPUPROF__BUILD_ID_MAX + 1] = "";
			if (vl > 0) {
				cpuprof__hex(vid, (size_t)vl, vhex);
			}
			CHECK_STREQ(m.v[i].build_id, vhex);
		}
		if (strstr(m.v[i].path, "/libc.so")) {
			CHECK(m.v[i].build_id[0] != '\0');
		}
	}
	if (getauxval(AT_SYSINFO_EHDR)) {
		CHECK(saw_vdso);
	}
	cpuprof__maps_free(&m);
}

/* ---- Crafted note areas and ELF images ---- */

static size_t put32(uint8_t *p, uint32_t v, int be)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
	}
	return 4;
}

static size_t put16(uint8_t *p, uint16_t v, int be)
{
	p[be ? 0 : 1] = (uint8_t)(v >> 8);
	p[be ? 1 : 0] = (uint8_t)v;
	return 2;
}

static size_t put64(uint8_t *p, uint64_t v, int be)
{
	put32(p + (be ? 0 : 4), (uint32_t)(v >> 32), be);
	put32(p + (be ? 4 : 0), (uint32_t)v, be);
	return 8;
}

/* Appends a note at p; returns the bytes used (padded to align). */
static size_t put_note(uint8_t *p, const char *name, uint32_t namesz, uint32_t type,
                       const uint8_t *desc, uint32_t descsz, size_t align, int be)
{
	size_t o = 0;
	o += put32(p + o, namesz, be);
	o += put32(p + o, descsz, be);
	o += put32(p + o, type, be);
	memcpy(p + o, name, namesz);
	o += namesz;
	while (o % align) {
		p[o++] = 0;
	}
	memcpy(p + o, desc, descsz);
	o += descsz;
	while (o % align) {
		p[o++] = 0;
	}
	return o;
}

static const uint8_t ID20[20] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
                                 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff};

static void test_notes(void)
{
	uint8_t area[512], id[64];
	size_t n;

	/* ABI tag then build ID, little endian. */
	n = put_note(area, "GNU", 4, 1, (const uint8_t *)"\0\0\0\0\3\0\0\0\2\0\0\0\0\0\0\0", 16, 4,
	             0);
	n += put_note(area + n, "GNU", 4, 3, ID20, 20, 4, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 0, id, sizeof(id)), 20);
	CHECK(memcmp(id, ID20, 20) == 0);
	char hex[41];
	cpuprof__hex(id, 20, hex);
	CHECK_STREQ(hex, "deadbeef000102030405060708090a0b0c0d0eff");
	/* Read as big endian, the sizes are garbage: rejected, not overread. */
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 1, id, sizeof(id)), CPUPROF_EINVAL);

	/* Big endian, 8-byte alignment, odd descriptor size. */
	n = put_note(area, "GNU", 4, 5, ID20, 12, 8, 1); /* a gnu.property note first */
	n += put_note(area + n, "GNU", 4, 3, ID20, 7, 8, 1);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 8, 1, id, sizeof(id)), 7);
	CHECK(memcmp(id, ID20, 7) == 0);
	/* The last note without its trailing padding is fine. */
	CHECK_EQ(cpuprof__elfnote_build_id(area, n - 1, 8, 1, id, sizeof(id)), 7);

	/* Not there: other names and types, an empty descriptor, one too big for cap. */
	n = put_note(area, "GNU", 4, 1, ID20, 16, 4, 0);
	n += put_note(area + n, "GNX", 4, 3, ID20, 20, 4, 0);
	n += put_note(area + n, "GN", 3, 3, ID20, 20, 4, 0);
	n += put_note(area + n, "GNU", 4, 3, ID20, 0, 4, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 0, id, sizeof(id)), 0);
	n = put_note(area, "GNU", 4, 3, ID20, 20, 4, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 0, id, 19), 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, 0, 4, 0, id, sizeof(id)), 0);

	/* Malformed: truncated header, name or descriptor past the end, huge sizes. */
	n = put_note(area, "GNU", 4, 3, ID20, 20, 4, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, 8, 4, 0, id, sizeof(id)), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof__elfnote_build_id(area, 14, 4, 0, id, sizeof(id)), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n - 4, 4, 0, id, sizeof(id)), CPUPROF_EINVAL);
	put32(area, 0xffffffffu, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 0, id, sizeof(id)), CPUPROF_EINVAL);
	put32(area, 4, 0);
	put32(area + 4, 0xfffffff0u, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 0, id, sizeof(id)), CPUPROF_EINVAL);
	put32(area + 4, 20, 0);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n, 4, 0, id, sizeof(id)), 20);
	/* Trailing bytes too short for a header after a note that is not the build ID. */
	n = put_note(area, "GNU", 4, 1, ID20, 16, 4, 0);
	memset(area + n, 0, 4);
	CHECK_EQ(cpuprof__elfnote_build_id(area, n + 4, 4, 0, id, sizeof(id)), CPUPROF_EINVAL);
}

/*
 * Builds a minimal ELF image: header, one program header table with a PT_LOAD and a
 * PT_NOTE (or none), optionally a section header table with one SHT_NOTE, and the note.
 * Returns its size.
 */
static size_t make_elf(uint8_t *img, int is64, int be, int with_ph_note, int with_sh_note)
{
	size_t ehsize = is64 ? 64 : 52, phent = is64 ? 56 : 32, shent = is64 ? 64 : 40;
	size_t phoff = ehsize, nph = 2;
	size_t noteoff = phoff + nph * phent;
	memset(img, 0, 1024);
	size_t notelen = put_note(img + noteoff, "GNU", 4, 3, ID20, 20, 4, be);
	size_t shoff = (noteoff + notelen + 7) & ~(size_t)7;
	size_t nsh = with_sh_note ? 2 : 0;
	size_t total = shoff + nsh * shent;

	memcpy(img, "\177ELF", 4);
	img[4] = is64 ? 2 : 1;
	img[5] = be ? 2 : 1;
	img[6] = 1;
	put16(img + 16, 3, be); /* ET_DYN */
	if (is64) {
		put64(img + 32, phoff, be);
		put64(img + 40, nsh ? shoff : 0, be);
		put16(img + 52, (uint16_t)ehsize, be);
		put16(img + 54, (uint16_t)phent, be);
		put16(img + 56, (uint16_t)nph, be);
		put16(img + 58, (uint16_t)shent, be);
		put16(img + 60, (uint16_t)nsh, be);
	} else {
		put32(img + 28, (uint32_t)phoff, be);
		put32(img + 32, (uint32_t)(nsh ? shoff : 0), be);
		put16(img + 40, (uint16_t)ehsize, be);
		put16(img + 42, (uint16_t)phent, be);
		put16(img + 44, (uint16_t)nph, be);
		put16(img + 46, (uint16_t)shent, be);
		put16(img + 48, (uint16_t)nsh, be);
	}
	for (size_t i = 0; i < nph; i++) {
		uint8_t *p = img + phoff + i * phent;
		uint32_t type = i == 0 ? 1 : (with_ph_note ? 4 : 6); /* LOAD, NOTE or PHDR */
		put32(p, type, be);
		if (is64) {
			put64(p + 8, i == 0 ? 0 : noteoff, be);
			put64(p + 32, i == 0 ? total : notelen, be);
			put64(p + 48, 4, be);
		} else {
			put32(p + 4, (uint32_t)(i == 0 ? 0 : noteoff), be);
			put32(p + 16, (uint32_t)(i == 0 ? total : notelen), be);
			put32(p + 28, 4, be);
		}
	}
	if (with_sh_note) {
		uint8_t *s = img + shoff + shent; /* section 0 stays null */
		put32(s + 4, 7, be);              /* SHT_NOTE */
		if (is64) {
			put64(s + 24, noteoff, be);
			put64(s + 32, notelen, be);
			put64(s + 48, 4, be);
		} else {
			put32(s + 16, (uint32_t)noteoff, be);
			put32(s + 20, (uint32_t)notelen, be);
			put32(s + 32, 4, be);
		}
	}
	return total;
}

static void test_images(void)
{
	uint8_t img[1024], id[64];
	for (int is64 = 0; is64 <= 1; is64++) {
		for (int be = 0; be <= 1; be++) {
			size_t n = make_elf(img, is64, be, 1, 0);
			CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), 20);
			CHECK(memcmp(id, ID20, 20) == 0);
			/* From section headers only. */
			n = make_elf(img, is64, be, 0, 1);
			CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), 20);
			/* No notes at all. */
			n = make_elf(img, is64, be, 0, 0);
			CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), 0);
		}
	}

	/* Truncations of a valid 64-bit image: never a read past len. */
	size_t full = make_elf(img, 1, 0, 1, 1);
	for (size_t n = 0; n < full; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
		REQUIRE(copy);
		memcpy(copy, img, n);
		int r = cpuprof__elf_build_id_mem(copy, n, id, sizeof(id));
		CHECK(r == CPUPROF_EINVAL || r == 0 || r == 20);
		if (n < 52) {
			CHECK_EQ(r, CPUPROF_EINVAL);
		}
		free(copy);
	}

	/* Bad headers. */
	size_t n = make_elf(img, 1, 0, 1, 0);
	img[0] = 0x7e;
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	n = make_elf(img, 1, 0, 1, 0);
	img[4] = 3; /* bad class */
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	n = make_elf(img, 1, 0, 1, 0);
	img[5] = 0; /* bad data order */
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	/* Program header table beyond the image. */
	n = make_elf(img, 1, 0, 1, 0);
	put64(img + 32, 0xfffffffffffff000ULL, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	/* PT_NOTE pointing past the end, or with an overflowing size. */
	n = make_elf(img, 1, 0, 1, 0);
	put64(img + 64 + 56 + 8, 4096, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	n = make_elf(img, 1, 0, 1, 0);
	put64(img + 64 + 56 + 32, UINT64_MAX, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), 0); /* too big to read */
	n = make_elf(img, 1, 0, 1, 0);
	put64(img + 64 + 56 + 8, UINT64_MAX - 8, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	/* A corrupt note inside a well-placed PT_NOTE. */
	n = make_elf(img, 1, 0, 1, 0);
	put32(img + 64 + 2 * 56, 0x7fffffff, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	/* phentsize too small. */
	n = make_elf(img, 1, 0, 1, 0);
	put16(img + 54, 8, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), 0);
	/* Section count in section 0 (e_shnum == 0), pointing far beyond. */
	n = make_elf(img, 1, 0, 0, 1);
	put16(img + 60, 0, 0);
	size_t shoff = 0;
	for (int i = 0; i < 8; i++) {
		shoff |= (size_t)img[40 + i] << (8 * i);
	}
	put64(img + shoff + 32, 1000000, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), CPUPROF_EINVAL);
	put64(img + shoff + 32, 2, 0);
	CHECK_EQ(cpuprof__elf_build_id_mem(img, n, id, sizeof(id)), 20);
}

int main(void)
{
	test_lines();
	test_parse_text();
	test_self();
	test_notes();
	test_images();
	return check_exit();
}
