/*
 * unwind: the frame-pointer walk that runs inside the SIGPROF handler.
 *
 * x86-64 frame record: [fp] = caller's fp, [fp+8] = return address. Every load is checked
 * against the thread's stack bounds [lo, hi), found outside the handler and cached in its
 * slot; frame pointers must rise strictly and stay 8-byte aligned, so the walk ends on the
 * first frame without a frame pointer instead of reading wild memory. No syscall and no
 * libc call per frame. Async-signal-safe.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

#include "core.h"

size_t cpuprof__unwind_fp(uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t lo, uintptr_t hi,
			  uint64_t *out, size_t max, int *more)
{
	size_t n = 0;
	*more = 0;
	if (max == 0) {
		return 0;
	}
	out[n++] = pc;
	if (sp < lo) {
		sp = lo;
	}
	while (fp >= sp && fp <= hi - 2 * sizeof(uintptr_t) && (fp & 7) == 0) {
		const uintptr_t *frame = (const uintptr_t *)fp;
		uintptr_t next = frame[0];
		uintptr_t ret = frame[1];
		if (ret < 4096 || ret >= (1ull << 47)) {
			/* Not a user-space code address (below the first page, or not canonical
			 * for x86-64 user space): the chain ended or a stale frame pointer
			 * led into data. */
			break;
		}
		if (n == max) {
			*more = 1;
			break;
		}
		out[n++] = ret;
		if (next <= fp) {
			break; /* frame pointers grow towards hi; anything else ends the walk */
		}
		sp = fp + 2 * sizeof(uintptr_t);
		fp = next;
	}
	return n;
}
