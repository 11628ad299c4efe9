/*
 * http: the /debug/pprof endpoint (http.c). The query-string parser is a pure function
 * over bytes, so that the unit tests and the fuzz target drive exactly the code that
 * serves requests. Normal context only.
 */
#ifndef CPUPROF_HTTP_H
#define CPUPROF_HTTP_H

#include <stddef.h>

#define CPUPROF__HTTP_DEFAULT_SECONDS 30      /* `seconds` missing (capped by the maximum) */
#define CPUPROF__HTTP_DEFAULT_MAX_SECONDS 300 /* cpuprof_http_set_max_seconds default */
#define CPUPROF__HTTP_MAX_CONNECTIONS 16      /* concurrent connections, profiling or idle */
#define CPUPROF__HTTP_CONNECTION_TIMEOUT 15   /* seconds of silence before MHD drops a client */
#define CPUPROF__HTTP_STOP_GRACE 5            /* seconds stop waits for answers in flight */
#define CPUPROF__HTTP_MAX_URI 8192            /* longer request targets get 414 */
/* MHD's per-connection pool (request line, headers): a request line that does not fit
 * gets MHD's own 414, oversized headers its 431. */
#define CPUPROF__HTTP_CONNECTION_MEMORY (16 * 1024)

/* Why a query was refused; cpuprof__http_query_error() gives the one-line text. */
enum cpuprof__http_qerr {
	CPUPROF__HTTP_QOK = 0,
	CPUPROF__HTTP_QMALFORMED, /* a bad %-escape */
	CPUPROF__HTTP_QSECONDS,   /* seconds is not a positive decimal integer */
	CPUPROF__HTTP_QTOOLONG,   /* seconds exceeds the maximum */
	CPUPROF__HTTP_QHZ,        /* hz is not an integer in 1..CPUPROF_MAX_HZ */
	CPUPROF__HTTP_QDUPLICATE, /* seconds or hz given more than once */
};

struct cpuprof__http_query {
	int seconds; /* 1..max_seconds */
	int hz;      /* 0: not given */
};

/*
 * Parses the raw query string `q[0..len)` (the bytes after '?', still %-encoded; need not
 * be NUL-terminated) of a profile request. Pairs are separated by '&'; '+' is a space;
 * unknown keys are ignored, but every %-escape must be well formed. A value longer than
 * 32 decoded bytes is never an integer. `seconds` must be 1..max_seconds, missing means
 * min(CPUPROF__HTTP_DEFAULT_SECONDS, max_seconds); `hz` is optional. Returns
 * CPUPROF__HTTP_QOK and fills *out, or a cpuprof__http_qerr (then *out is unspecified).
 * Pure: no allocation, no global state. Thread-safe. Async-signal-safe.
 */
int cpuprof__http_parse_query(const char *q, size_t len, int max_seconds,
                              struct cpuprof__http_query *out);

/* A static one-line text for a cpuprof__http_qerr; it never contains request bytes. */
const char *cpuprof__http_query_error(int qerr);

#endif
