/*
 * preload: the environment configuration of preload mode (see preload.c). The parsers are
 * pure functions over strings so that tests and the fuzz target can drive them.
 */
#ifndef CPUPROF_PRELOAD_H
#define CPUPROF_PRELOAD_H

#include <limits.h>
#include <stddef.h>

#include "cpuprof.h"

struct cpuprof__preload_config {
	int out_set;
	char out[PATH_MAX];  /* CPUPROF_OUT / CPUPROFILE as given */
	char path[PATH_MAX]; /* after %p / %t expansion (and the child's pid suffix) */
	int hz;              /* CPUPROF_HZ / CPUPROFILE_FREQUENCY, clamped; 0 = off */
	int max_depth;       /* CPUPROF_MAX_DEPTH */
	int toggle_signal;   /* CPUPROF_SIGNAL / CPUPROFILESIGNAL, 0 = none */
	int flush_seconds;   /* CPUPROF_FLUSH, 0 = none */
	int thread_labels;   /* CPUPROF_THREAD_LABELS */
	cpuprof_engine engine; /* CPUPROF_ENGINE */
	int http_set;        /* CPUPROF_HTTP=host:port */
	char http_host[64];
	int http_port;
	int periodic_set;    /* CPUPROF_PERIODIC=dir:seconds[:keep] */
	char periodic_dir[PATH_MAX];
	int periodic_seconds;
	int periodic_keep;
};

/* Reads the CPUPROF_* variables from the environment. Returns 0, or -1 with one line of
 * text in err naming the variable and the value. */
int cpuprof__preload_parse(struct cpuprof__preload_config *c, char *err, size_t errsz);
int cpuprof__parse_hostport(const char *s, char *host, size_t hostsz, int *port);
int cpuprof__expand_path(const char *pat, long pid, long t, char *out, size_t outsz,
			 int *had_pid);
int cpuprof__numbered_path(const char *path, int k, char *out, size_t outsz);

#endif
