/*
 * maps: the process's executable mappings, from /proc/self/maps, with the GNU build ID of
 * each mapped file, for the Mapping messages of a profile (as Go's runtime/pprof reads
 * them). The line parser and the ELF note readers are pure functions on buffers so they can
 * be fuzzed and tested on malformed input. Called by the profile builder on the reader or
 * controlling thread. Nothing here is async-signal-safe; everything is thread-safe (no
 * shared state).
 */
#ifndef CPUPROF_MAPS_H
#define CPUPROF_MAPS_H

#include <stddef.h>
#include <stdint.h>

/* Longest build ID we keep, in bytes (Go's limit too; real ones are 20). */
#define CPUPROF__BUILD_ID_MAX 256

/* One parsed line of /proc/<pid>/maps. path points into the parsed text, is not
 * NUL-terminated, and has any " (deleted)" suffix removed (deleted = 1 then). */
struct cpuprof__mapline {
	uint64_t start;
	uint64_t limit; /* exclusive */
	uint64_t offset;
	uint64_t inode;
	char perms[5]; /* e.g. "r-xp", NUL-terminated */
	int deleted;
	const char *path;
	size_t pathlen;
};

/*
 * Parses one maps line, "start-limit perms offset major:minor inode [path]", with or
 * without its '\n'. Numbers are hex except the decimal inode; a number wider than 64 bits,
 * start > limit, a malformed field or trailing junk after the inode without a space is
 * rejected. Returns 0 or CPUPROF_EINVAL. Pure (no I/O, no allocation).
 */
int cpuprof__maps_parse_line(const char *line, size_t len, struct cpuprof__mapline *out);

/* 1 if a profile keeps this mapping: executable, and not an anonymous (inode 0, empty
 * path) region such as huge-page text fragments. [vdso] is kept. Pure. */
int cpuprof__mapline_keep(const struct cpuprof__mapline *ml);

/* A kept mapping. path and build_id are NUL-terminated and owned by the maps set;
 * build_id is lowercase hex, "" when unknown. */
struct cpuprof__mapping {
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	char *path;
	char *build_id;
	int deleted; /* the file was " (deleted)": its build ID is not read from path */
};

/* The kept mappings. v[0] is the main executable when cpuprof__maps_read_self found it;
 * otherwise the order is that of the maps file. `sorted` indexes v by start address. */
struct cpuprof__maps {
	struct cpuprof__mapping *v;
	size_t n;
	uint32_t *sorted;
};

/* Parses a whole maps text: malformed lines are skipped, kept lines are copied, build
 * IDs are left "". Returns 0 or CPUPROF_ENOMEM (then *out is empty). Pure apart from
 * allocation. */
int cpuprof__maps_parse(const char *text, size_t len, struct cpuprof__maps *out);

/* Reads /proc/self/maps, moves the main executable's mapping to the front, and reads
 * each file's build ID ([vdso] from memory through getauxval(AT_SYSINFO_EHDR)).
 * Returns 0, CPUPROF_EIO (maps unreadable; *out is empty) or CPUPROF_ENOMEM. */
int cpuprof__maps_read_self(struct cpuprof__maps *out);

void cpuprof__maps_free(struct cpuprof__maps *m);

/* The index in m->v of the mapping holding addr, or -1. O(log n). */
long cpuprof__maps_find(const struct cpuprof__maps *m, uint64_t addr);

/*
 * Scans an ELF note area (the contents of one PT_NOTE segment or SHT_NOTE section) for the
 * NT_GNU_BUILD_ID note with name "GNU". `align` is the area's alignment (4, or 8 for
 * notes in 8-aligned segments; other values mean 4); `bigendian` the ELF data order.
 * Copies the descriptor to id (room for `cap` bytes). Returns its length (> 0), 0 when
 * there is no such note (or it is empty or longer than cap), or CPUPROF_EINVAL when a
 * note header or its name or descriptor runs past the end of the area. Pure.
 */
int cpuprof__elfnote_build_id(const uint8_t *notes, size_t len, size_t align, int bigendian,
                              uint8_t *id, size_t cap);

/*
 * The GNU build ID of an ELF image held in memory (a whole file, or a mapped image whose
 * file offsets are offsets from its start, as the vDSO is): PT_NOTE segments first, then
 * SHT_NOTE sections. 32/64-bit and either byte order. Every offset is checked against len.
 * Returns the ID length (> 0), 0 if the image has none, or CPUPROF_EINVAL when it is not a
 * well-formed ELF image. Pure.
 */
int cpuprof__elf_build_id_mem(const uint8_t *img, size_t len, uint8_t *id, size_t cap);

/* The same for a file on disk, read with pread (headers and note areas only). Returns the
 * length, 0, CPUPROF_EINVAL or CPUPROF_EIO (cannot open or read). */
int cpuprof__elf_build_id_file(const char *path, uint8_t *id, size_t cap);

/* Writes n bytes as lowercase hex to hex (room for 2n+1) and NUL-terminates it. */
void cpuprof__hex(const uint8_t *bytes, size_t n, char *hex);

#endif
