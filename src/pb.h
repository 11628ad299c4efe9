/*
 * pb: a small protocol-buffers encoder for writing profile.proto, in the manner of Go's
 * runtime/pprof/protobuf.go: one growing byte buffer, fields appended as they come, nested
 * messages measured at their end and their key+length prefix rotated in front of the body.
 * Used by pprof.c on the reader or controlling thread. Not async-signal-safe (it allocates).
 * Not thread-safe: one encoder belongs to one caller.
 */
#ifndef CPUPROF_PB_H
#define CPUPROF_PB_H

#include <stddef.h>
#include <stdint.h>

/* Wire types that this encoder writes. */
#define CPUPROF__PB_VARINT 0
#define CPUPROF__PB_BYTES 2

/*
 * The encoder. buf[0..len) is the encoded output so far. A failed allocation sets `oom`;
 * every later write is then a no-op, so callers check cpuprof__pb_error() once at the end.
 * `nest` counts open messages: the buffer may be handed on (and truncated with
 * cpuprof__pb_reset) only while nest == 0, because an open message records an offset.
 */
struct cpuprof__pb {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int nest;
	int oom;
};

void cpuprof__pb_init(struct cpuprof__pb *b);
void cpuprof__pb_free(struct cpuprof__pb *b);
/* Drops the encoded bytes, keeping the memory. Only with no open message. */
void cpuprof__pb_reset(struct cpuprof__pb *b);
/* 0, or CPUPROF_ENOMEM if any write since init could not allocate. */
int cpuprof__pb_error(const struct cpuprof__pb *b);

/* A bare base-128 varint, no key. */
void cpuprof__pb_varint(struct cpuprof__pb *b, uint64_t v);
/* A field key: (field << 3) | wire type. */
void cpuprof__pb_key(struct cpuprof__pb *b, uint32_t field, uint32_t wiretype);

/* Scalar fields (wire type 0). int64 is the two's-complement varint, not zigzag, so a
 * negative value takes 10 bytes. The _opt forms skip the field when the value is 0/false
 * (the proto3 default). */
void cpuprof__pb_uint64(struct cpuprof__pb *b, uint32_t field, uint64_t v);
void cpuprof__pb_uint64_opt(struct cpuprof__pb *b, uint32_t field, uint64_t v);
void cpuprof__pb_int64(struct cpuprof__pb *b, uint32_t field, int64_t v);
void cpuprof__pb_int64_opt(struct cpuprof__pb *b, uint32_t field, int64_t v);
void cpuprof__pb_bool(struct cpuprof__pb *b, uint32_t field, int v);
void cpuprof__pb_bool_opt(struct cpuprof__pb *b, uint32_t field, int v);

/* Length-delimited fields (wire type 2). bytes with len 0 writes an empty field (a
 * repeated string needs that for ""); the _opt form of string skips "" and NULL. */
void cpuprof__pb_bytes(struct cpuprof__pb *b, uint32_t field, const void *data, size_t len);
void cpuprof__pb_string(struct cpuprof__pb *b, uint32_t field, const char *s);
void cpuprof__pb_string_opt(struct cpuprof__pb *b, uint32_t field, const char *s);

/* Repeated scalars. As in Go's encoder: more than 2 values are written packed (one
 * length-delimited field of varints), 1 or 2 values as separate varint fields, 0 values
 * as nothing. Decoders accept both forms. */
void cpuprof__pb_uint64s(struct cpuprof__pb *b, uint32_t field, const uint64_t *v, size_t n);
void cpuprof__pb_int64s(struct cpuprof__pb *b, uint32_t field, const int64_t *v, size_t n);

/* Nested messages: start = cpuprof__pb_begin(b); ...fields...; cpuprof__pb_end(b, field,
 * start). The body is written in place and the key+length prefix is moved in front of it
 * at the end (a memmove of the body), so nesting costs no second buffer. */
size_t cpuprof__pb_begin(struct cpuprof__pb *b);
void cpuprof__pb_end(struct cpuprof__pb *b, uint32_t field, size_t start);

/* Bytes needed for the varint encoding of v (1..10). */
size_t cpuprof__pb_varint_len(uint64_t v);

#endif
