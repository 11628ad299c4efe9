/*
 * Synthetic frames: small fake "PCs" that the signal path and the reader put into stacks
 * where a real frame cannot be, so that every counted signal lands on a named frame.
 * No code lives below 64 KiB (mmap_min_addr), so a word below CPUPROF__FRAME_LIMIT in a
 * stack is always one of these. The profile builder turns each into a Location with no
 * mapping and a Function named by cpuprof__frame_name().
 */
#ifndef CPUPROF_FRAMES_H
#define CPUPROF_FRAMES_H

#include <stdint.h>

#define CPUPROF__FRAME_MAP(XX)                                                                   \
	XX(TRUNCATED, 1, "[cpuprof] truncated stack")                                            \
	XX(LOST_OVERFLOW, 2, "[cpuprof] lost: buffer overflow")                                  \
	XX(LOST_REENTERED, 3, "[cpuprof] lost: handler re-entered")                              \
	XX(LOST_UNWIND, 4, "[cpuprof] lost: unwind failed")                                      \
	XX(LOST_SIDE_FULL, 6, "[cpuprof] lost: side buffer full")                                \
	XX(NO_STACK_BOUNDS, 7, "[cpuprof] stack not walked: thread stack not known yet")         \
	XX(UNSAMPLED_EXIT, 11, "[cpuprof] CPU of an exited thread not reached by its timer")

enum cpuprof__frame {
#define CPUPROF__FRAME_ENUM(name, value, text) CPUPROF__FRAME_##name = (value),
	CPUPROF__FRAME_MAP(CPUPROF__FRAME_ENUM)
#undef CPUPROF__FRAME_ENUM
	CPUPROF__FRAME_LIMIT = 64
};

/* The name of a synthetic frame, or NULL if `pc` is not one. Async-signal-safe. */
const char *cpuprof__frame_name(uint64_t pc);

static inline int cpuprof__frame_is_synthetic(uint64_t pc)
{
	return pc != 0 && pc < CPUPROF__FRAME_LIMIT;
}

#endif
