/*
 * pb: protocol-buffers encoder (see pb.h). Writes only what profile.proto needs: varints
 * (wire type 0) and length-delimited fields (wire type 2), packed repeated scalars and
 * nested messages. Called by pprof.c on the reader or controlling thread.
 */
#include "pb.h"

#include <stdlib.h>
#include <string.h>

#include "cpuprof.h"

void cpuprof__pb_init(struct cpuprof__pb *b)
{
	memset(b, 0, sizeof(*b));
}

void cpuprof__pb_free(struct cpuprof__pb *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

void cpuprof__pb_reset(struct cpuprof__pb *b)
{
	b->len = 0;
}

int cpuprof__pb_error(const struct cpuprof__pb *b)
{
	return b->oom ? CPUPROF_ENOMEM : 0;
}

/* Makes room for `extra` more bytes. Returns 0, or -1 (and sets oom) when it cannot. */
static int reserve(struct cpuprof__pb *b, size_t extra)
{
	if (b->oom) {
		return -1;
	}
	if (b->cap - b->len >= extra) {
		return 0;
	}
	if (extra > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < want) {
		cap *= 2;
	}
	uint8_t *nb = realloc(b->buf, cap);
	if (!nb) {
		b->oom = 1;
		return -1;
	}
	b->buf = nb;
	b->cap = cap;
	return 0;
}

size_t cpuprof__pb_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Encodes v at p (which has room for 10 bytes); returns the bytes written. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t i = 0;
	while (v >= 0x80) {
		p[i++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[i++] = (uint8_t)v;
	return i;
}

void cpuprof__pb_varint(struct cpuprof__pb *b, uint64_t v)
{
	if (reserve(b, 10) != 0) {
		return;
	}
	b->len += put_varint(b->buf + b->len, v);
}

void cpuprof__pb_key(struct cpuprof__pb *b, uint32_t field, uint32_t wiretype)
{
	cpuprof__pb_varint(b, ((uint64_t)field << 3) | wiretype);
}

void cpuprof__pb_uint64(struct cpuprof__pb *b, uint32_t field, uint64_t v)
{
	/* Key and value together: at most 5 + 10 bytes. */
	if (reserve(b, 15) != 0) {
		return;
	}
	b->len += put_varint(b->buf + b->len, ((uint64_t)field << 3) | CPUPROF__PB_VARINT);
	b->len += put_varint(b->buf + b->len, v);
}

void cpuprof__pb_uint64_opt(struct cpuprof__pb *b, uint32_t field, uint64_t v)
{
	if (v != 0) {
		cpuprof__pb_uint64(b, field, v);
	}
}

void cpuprof__pb_int64(struct cpuprof__pb *b, uint32_t field, int64_t v)
{
	cpuprof__pb_uint64(b, field, (uint64_t)v);
}

void cpuprof__pb_int64_opt(struct cpuprof__pb *b, uint32_t field, int64_t v)
{
	if (v != 0) {
		cpuprof__pb_uint64(b, field, (uint64_t)v);
	}
}

void cpuprof__pb_bool(struct cpuprof__pb *b, uint32_t field, int v)
{
	cpuprof__pb_uint64(b, field, v ? 1 : 0);
}

void cpuprof__pb_bool_opt(struct cpuprof__pb *b, uint32_t field, int v)
{
	if (v) {
		cpuprof__pb_uint64(b, field, 1);
	}
}

void cpuprof__pb_bytes(struct cpuprof__pb *b, uint32_t field, const void *data, size_t len)
{
	if (len > SIZE_MAX - 15 || reserve(b, 15 + len) != 0) {
		b->oom = 1;
		return;
	}
	b->len += put_varint(b->buf + b->len, ((uint64_t)field << 3) | CPUPROF__PB_BYTES);
	b->len += put_varint(b->buf + b->len, len);
	if (len) {
		memcpy(b->buf + b->len, data, len);
		b->len += len;
	}
}

void cpuprof__pb_string(struct cpuprof__pb *b, uint32_t field, const char *s)
{
	cpuprof__pb_bytes(b, field, s ? s : "", s ? strlen(s) : 0);
}

void cpuprof__pb_string_opt(struct cpuprof__pb *b, uint32_t field, const char *s)
{
	if (s && *s) {
		cpuprof__pb_bytes(b, field, s, strlen(s));
	}
}

void cpuprof__pb_uint64s(struct cpuprof__pb *b, uint32_t field, const uint64_t *v, size_t n)
{
	if (n <= 2) {
		for (size_t i = 0; i < n; i++) {
			cpuprof__pb_uint64(b, field, v[i]);
		}
		return;
	}
	/* Measuring first lets the prefix go in front directly, with no rotation. */
	size_t body = 0;
	for (size_t i = 0; i < n; i++) {
		body += cpuprof__pb_varint_len(v[i]);
	}
	if (body > SIZE_MAX - 15 || reserve(b, 15 + body) != 0) {
		b->oom = 1;
		return;
	}
	uint8_t *p = b->buf + b->len;
	p += put_varint(p, ((uint64_t)field << 3) | CPUPROF__PB_BYTES);
	p += put_varint(p, body);
	for (size_t i = 0; i < n; i++) {
		p += put_varint(p, v[i]);
	}
	b->len = (size_t)(p - b->buf);
}

void cpuprof__pb_int64s(struct cpuprof__pb *b, uint32_t field, const int64_t *v, size_t n)
{
	/* int64 and uint64 share one encoding (two's complement, no zigzag), and C lets a
	 * signed object be read through its unsigned type. */
	cpuprof__pb_uint64s(b, field, (const uint64_t *)v, n);
}

size_t cpuprof__pb_begin(struct cpuprof__pb *b)
{
	b->nest++;
	return b->len;
}

void cpuprof__pb_end(struct cpuprof__pb *b, uint32_t field, size_t start)
{
	b->nest--;
	if (b->oom || start > b->len) {
		return;
	}
	uint8_t tmp[16];
	size_t body = b->len - start;
	size_t n = put_varint(tmp, ((uint64_t)field << 3) | CPUPROF__PB_BYTES);
	n += put_varint(tmp + n, body);
	if (reserve(b, n) != 0) {
		return;
	}
	memmove(b->buf + start + n, b->buf + start, body);
	memcpy(b->buf + start, tmp, n);
	b->len += n;
}
