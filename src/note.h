/*
 * note: a one-word futex event the reader sleeps on and a signal handler may wake.
 * Waking is a single FUTEX_WAKE syscall, which is async-signal-safe. Clearing and sleeping
 * belong to the one reader. The wake-up cannot be lost: wake sets the word before
 * FUTEX_WAKE, and sleep only blocks while the word is still 0 (FUTEX_WAIT compares
 * atomically in the kernel).
 */
#ifndef CPUPROF_NOTE_H
#define CPUPROF_NOTE_H

#include <stdatomic.h>
#include <stdint.h>

struct cpuprof__note {
	_Atomic uint32_t word; /* 0: not signalled, 1: signalled */
};

/* Async-signal-safe. */
void cpuprof__note_wake(struct cpuprof__note *n);
/* Blocks until woken or `timeout_ns` passes (< 0: no timeout); then clears the note.
 * Returns 1 if woken, 0 on timeout. Reader only. */
int cpuprof__note_sleep(struct cpuprof__note *n, int64_t timeout_ns);
void cpuprof__note_clear(struct cpuprof__note *n);

#endif
