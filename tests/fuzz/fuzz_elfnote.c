/*
 * fuzz_elfnote: the ELF note and build-ID readers on arbitrary bytes. The first byte picks
 * the note area's alignment and byte order; the rest is read both as a note area and as a
 * whole ELF image. Nothing may be read outside the input, and a found ID fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpuprof.h"
#include "maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	size_t align = (data[0] & 1) ? 8 : 4;
	int be = (data[0] >> 1) & 1;
	size_t cap = (data[0] & 4) ? 20 : CPUPROF__BUILD_ID_MAX;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	uint8_t id[CPUPROF__BUILD_ID_MAX];

	int r = cpuprof__elfnote_build_id(p, n, align, be, id, cap);
	if (r != 0 && r != CPUPROF_EINVAL && (r < 0 || (size_t)r > cap)) {
		abort();
	}
	r = cpuprof__elf_build_id_mem(p, n, id, cap);
	if (r != 0 && r != CPUPROF_EINVAL && r != CPUPROF_ENOMEM && (r < 0 || (size_t)r > cap)) {
		abort();
	}
	if (r > 0) {
		char hex[2 * CPUPROF__BUILD_ID_MAX + 1];
		cpuprof__hex(id, (size_t)r, hex);
		if (strlen(hex) != 2 * (size_t)r) {
			abort();
		}
	}
	return 0;
}
