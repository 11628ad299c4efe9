/* A minimal protobuf varint reader for tests that decode what the encoder wrote. */
#ifndef CPUPROF_TEST_VARINT_H
#define CPUPROF_TEST_VARINT_H

#include <stdint.h>

/* Reads one varint at *p (advancing it); 0, or -1 if truncated or longer than 10 bytes. */
static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*p >= end) {
			return -1;
		}
		uint8_t c = *(*p)++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

#endif
