/* Names of the synthetic frames (see frames.h). */
#include "frames.h"

#include <stddef.h>

const char *cpuprof__frame_name(uint64_t pc)
{
	switch (pc) {
#define CPUPROF__FRAME_CASE(name, value, text)                                                   \
	case (value):                                                                            \
		return text;
		CPUPROF__FRAME_MAP(CPUPROF__FRAME_CASE)
#undef CPUPROF__FRAME_CASE
	default:
		return NULL;
	}
}
