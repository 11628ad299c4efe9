/*
 * bench_build: time to build and write a profile of N distinct stacks (default 10000) made
 * of real addresses in this binary's own code, so every address is symbolized through
 * libdw. Prints the time of each phase in ms. Not part of CMake; build it against a
 * RelWithDebInfo build of the library:
 *
 *   gcc -O2 -g -fno-omit-frame-pointer -Iinclude -Isrc bench/bench_build.c \
 *       BUILD/libcpuprof.a -ldw -lelf -lz -lmicrohttpd -lpthread -o /tmp/bench_build
 *   /tmp/bench_build [nstacks [naddrs [out.pb.gz]]]
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pprof.h"
#include "stacktab.h"

static uint64_t text_lo, text_hi;

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			text_lo = info->dlpi_addr + ph->p_vaddr;
			text_hi = text_lo + ph->p_memsz;
			return 1;
		}
	}
	return 1; /* the first object is the program */
}

static double ms(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wall time, and this process's CPU time (meaningful on a loaded machine). */
static double now_ms(void)
{
	return ms(CLOCK_MONOTONIC);
}

static double cpu_ms(void)
{
	return ms(CLOCK_PROCESS_CPUTIME_ID);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *tname(void *ctx, int32_t tid)
{
	(void)ctx;
	return tid % 2 ? "worker" : NULL;
}

int main(int argc, char **argv)
{
	size_t nstacks = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	size_t naddrs = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	char defpath[64];
	snprintf(defpath, sizeof(defpath), "/tmp/bench_build.%d.pb.gz", (int)getpid());
	const char *path = argc > 3 ? argv[3] : defpath;

	dl_iterate_phdr(find_text, NULL);
	if (text_hi <= text_lo || naddrs == 0) {
		fprintf(stderr, "no text segment found\n");
		return 1;
	}
	uint64_t *pool = malloc(naddrs * sizeof(*pool));
	for (size_t i = 0; i < naddrs; i++) {
		pool[i] = text_lo + next_rand() % (text_hi - text_lo);
	}
	printf("text %#llx-%#llx (%llu KiB), %zu distinct addresses, %zu stacks\n",
	       (unsigned long long)text_lo, (unsigned long long)text_hi,
	       (unsigned long long)((text_hi - text_lo) >> 10), naddrs, nstacks);

	for (int iter = 0; iter < 5; iter++) {
		double t0 = now_ms();
		struct cpuprof__stacktab *t = cpuprof__stacktab_new();
		uint64_t stk[32];
		for (size_t i = 0; i < nstacks; i++) {
			size_t depth = 8 + next_rand() % 24;
			for (size_t d = 0; d < depth; d++) {
				/* Callers are return addresses; +1 keeps them inside the pool's
				 * instructions after the builder's -1. */
				stk[d] = pool[next_rand() % naddrs] + (d ? 1 : 0);
			}
			if (cpuprof__stacktab_add(t, stk, depth, NULL, (int32_t)(1000 + i % 16),
			                          1 + (int64_t)(next_rand() % 10)) != 0) {
				fprintf(stderr, "add failed\n");
				return 1;
			}
		}
		double t1 = now_ms();
		struct cpuprof__pprof_meta meta = {
		    .time_nanos = 1,
		    .duration_nanos = 10000000000LL,
		    .period = 10000000,
		    .thread_labels = 1,
		    .thread_name = tname,
		};
		uint8_t *out = NULL;
		size_t outlen = 0;
		double c1 = cpu_ms();
		int err = cpuprof__pprof_build(t, &meta, &out, &outlen);
		double t2 = now_ms();
		if (err == 0) {
			err = cpuprof__write_file_atomic(path, out, outlen);
		}
		double t3 = now_ms();
		double c3 = cpu_ms();
		if (err) {
			fprintf(stderr, "build/write failed: %d\n", err);
			return 1;
		}
		printf("iter %d: %zu entries, table %.1f ms, build %.1f ms, write %.1f ms, "
		       "build+write %.1f ms (cpu %.1f ms), %zu bytes gz, table %zu KiB\n",
		       iter, cpuprof__stacktab_len(t), t1 - t0, t2 - t1, t3 - t2, t3 - t1, c3 - c1,
		       outlen, cpuprof__stacktab_memory(t) >> 10);
		free(out);
		cpuprof__stacktab_free(t);
	}
	if (argc <= 3) {
		unlink(path);
	}
	free(pool);
	return 0;
}
