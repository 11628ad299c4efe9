/* note: futex event (see note.h). The wake side runs in signal context. */
#define _GNU_SOURCE
#include "note.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void cpuprof__note_wake(struct cpuprof__note *n)
{
	/* Release pairs with the acquire exchange in cpuprof__note_sleep: whatever the waker
	 * published before waking is visible to the sleeper once it sees the word set. */
	if (atomic_exchange_explicit(&n->word, 1, memory_order_release) == 0) {
		int saved = errno;
		syscall(SYS_futex, &n->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		errno = saved;
	}
}

int cpuprof__note_sleep(struct cpuprof__note *n, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000);
		ts.tv_nsec = (long)(timeout_ns % 1000000000);
		tsp = &ts;
	}
	while (atomic_load_explicit(&n->word, memory_order_acquire) == 0) {
		long r = syscall(SYS_futex, &n->word, FUTEX_WAIT_PRIVATE, 0, tsp, NULL, 0);
		if (r == -1 && errno == ETIMEDOUT) {
			break;
		}
		/* EAGAIN (word changed) and EINTR: loop and re-check. A timed wait that
		 * is interrupted restarts with the full timeout; the reader tolerates that. */
	}
	return atomic_exchange_explicit(&n->word, 0, memory_order_acquire) != 0;
}

void cpuprof__note_clear(struct cpuprof__note *n)
{
	atomic_store_explicit(&n->word, 0, memory_order_relaxed);
}
