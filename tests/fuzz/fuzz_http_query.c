/*
 * fuzz_http_query: the /debug/pprof/profile query parser (src/http.c) on arbitrary bytes.
 * The first two bytes choose the server's maximum (1..65536 seconds), the rest is the raw
 * query, in a buffer of exactly its size and not NUL-terminated. Checks: no crash or
 * overread; an accepted query has 1 <= seconds <= max and 0 <= hz <= CPUPROF_MAX_HZ; a
 * refusal names a known error whose text is one line; the result is deterministic, and an
 * accepted `seconds` reads back the same when written canonically.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuprof.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2) {
		return 0;
	}
	int max = 1 + (data[0] | data[1] << 8);
	const char *q = (const char *)data + 2;
	size_t len = size - 2;
	struct cpuprof__http_query a, b;
	int ea = cpuprof__http_parse_query(q, len, max, &a);
	int eb = cpuprof__http_parse_query(q, len, max, &b);
	if (ea != eb) {
		abort();
	}
	const char *msg = cpuprof__http_query_error(ea);
	if (!msg || strchr(msg, '\n') || ea < CPUPROF__HTTP_QOK || ea > CPUPROF__HTTP_QDUPLICATE) {
		abort();
	}
	if (ea != CPUPROF__HTTP_QOK) {
		return 0;
	}
	if (a.seconds < 1 || a.seconds > max || a.hz < 0 || a.hz > CPUPROF_MAX_HZ ||
	    a.seconds != b.seconds || a.hz != b.hz) {
		abort();
	}
	char canon[64];
	int n = snprintf(canon, sizeof(canon), "seconds=%d&hz=%d", a.seconds, a.hz ? a.hz : 1);
	struct cpuprof__http_query c;
	if (cpuprof__http_parse_query(canon, (size_t)n, max, &c) != CPUPROF__HTTP_QOK ||
	    c.seconds != a.seconds || c.hz != (a.hz ? a.hz : 1)) {
		abort();
	}
	return 0;
}
