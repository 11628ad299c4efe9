/*
 * test_pb: the protobuf encoder against hand-computed bytes (the examples of the protobuf
 * encoding guide among them), nested and packed fields, and a round trip through a small
 * decoder written here for random values.
 */
#include "pb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "varint.h"
#include "cpuprof.h"

static int bytes_eq(const struct cpuprof__pb *b, const uint8_t *want, size_t n, int line)
{
	if (b->len == n && memcmp(b->buf, want, n) == 0) {
		return 1;
	}
	fprintf(stderr, "test_pb.c:%d: encoded bytes differ\n  got :", line);
	for (size_t i = 0; i < b->len; i++) {
		fprintf(stderr, " %02x", b->buf[i]);
	}
	fprintf(stderr, "\n  want:");
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, " %02x", want[i]);
	}
	fprintf(stderr, "\n");
	check_failures++;
	return 0;
}

#define BYTES_EQ(b, ...)                                                                           \
	do {                                                                                       \
		static const uint8_t want_[] = {__VA_ARGS__};                                      \
		bytes_eq((b), want_, sizeof(want_), __LINE__);                                     \
	} while (0)

static void test_varints(void)
{
	struct cpuprof__pb b;
	cpuprof__pb_init(&b);
	cpuprof__pb_varint(&b, 0);
	BYTES_EQ(&b, 0x00);
	cpuprof__pb_reset(&b);
	cpuprof__pb_varint(&b, 1);
	cpuprof__pb_varint(&b, 127);
	cpuprof__pb_varint(&b, 128);
	cpuprof__pb_varint(&b, 300);
	cpuprof__pb_varint(&b, 16384);
	BYTES_EQ(&b, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02, 0x80, 0x80, 0x01);
	cpuprof__pb_reset(&b);
	cpuprof__pb_varint(&b, UINT64_MAX);
	BYTES_EQ(&b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	cpuprof__pb_reset(&b);
	/* int64 is not zigzag: -1 is ten bytes. */
	cpuprof__pb_int64(&b, 1, -1);
	BYTES_EQ(&b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	cpuprof__pb_reset(&b);
	cpuprof__pb_int64(&b, 2, -2);
	BYTES_EQ(&b, 0x10, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);

	CHECK_EQ(cpuprof__pb_varint_len(0), 1);
	CHECK_EQ(cpuprof__pb_varint_len(127), 1);
	CHECK_EQ(cpuprof__pb_varint_len(128), 2);
	CHECK_EQ(cpuprof__pb_varint_len(UINT64_MAX), 10);
	CHECK_EQ(cpuprof__pb_error(&b), 0);
	cpuprof__pb_free(&b);
}

static void test_fields(void)
{
	struct cpuprof__pb b;
	cpuprof__pb_init(&b);
	/* The protobuf guide's "Test1 { a = 150 }". */
	cpuprof__pb_uint64(&b, 1, 150);
	BYTES_EQ(&b, 0x08, 0x96, 0x01);
	cpuprof__pb_reset(&b);
	/* "Test2 { b = "testing" }". */
	cpuprof__pb_string(&b, 2, "testing");
	BYTES_EQ(&b, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67);
	cpuprof__pb_reset(&b);
	/* _opt skips zero, plain writes it; bools are 0/1. */
	cpuprof__pb_uint64_opt(&b, 1, 0);
	cpuprof__pb_int64_opt(&b, 2, 0);
	cpuprof__pb_bool_opt(&b, 3, 0);
	cpuprof__pb_string_opt(&b, 4, "");
	cpuprof__pb_string_opt(&b, 4, NULL);
	CHECK_EQ(b.len, 0);
	cpuprof__pb_uint64(&b, 1, 0);
	cpuprof__pb_bool(&b, 3, 5);
	cpuprof__pb_bool_opt(&b, 7, 1);
	cpuprof__pb_string(&b, 6, ""); /* string_table[0] is an empty, present field */
	cpuprof__pb_uint64_opt(&b, 2, 3);
	BYTES_EQ(&b, 0x08, 0x00, 0x18, 0x01, 0x38, 0x01, 0x32, 0x00, 0x10, 0x03);
	cpuprof__pb_reset(&b);
	/* A field number that needs a two-byte key: 16 << 3 = 128. */
	cpuprof__pb_uint64(&b, 16, 1);
	BYTES_EQ(&b, 0x80, 0x01, 0x01);
	cpuprof__pb_free(&b);
}

static void test_packed(void)
{
	struct cpuprof__pb b;
	cpuprof__pb_init(&b);
	/* The guide's "Test4 { repeated int32 d = 4 [packed] }" with 3, 270, 86942. */
	const uint64_t d[] = {3, 270, 86942};
	cpuprof__pb_uint64s(&b, 4, d, 3);
	BYTES_EQ(&b, 0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);
	cpuprof__pb_reset(&b);
	/* Two values or fewer: separate fields, as Go writes them. */
	const int64_t v[] = {7, 70000000};
	cpuprof__pb_int64s(&b, 2, v, 2);
	BYTES_EQ(&b, 0x10, 0x07, 0x10, 0x80, 0xbb, 0xb0, 0x21);
	cpuprof__pb_reset(&b);
	cpuprof__pb_uint64s(&b, 1, d, 0);
	CHECK_EQ(b.len, 0);
	const int64_t neg[] = {-1, 0, 1};
	cpuprof__pb_int64s(&b, 13, neg, 3);
	BYTES_EQ(&b, 0x6a, 0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00,
	         0x01);
	cpuprof__pb_free(&b);
}

static void test_nested(void)
{
	struct cpuprof__pb b;
	cpuprof__pb_init(&b);
	/* The guide's "Test3 { c = Test1 { a = 150 } }". */
	size_t s = cpuprof__pb_begin(&b);
	CHECK_EQ(b.nest, 1);
	cpuprof__pb_uint64(&b, 1, 150);
	cpuprof__pb_end(&b, 3, s);
	CHECK_EQ(b.nest, 0);
	BYTES_EQ(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);
	cpuprof__pb_reset(&b);

	/* Two levels, after a preceding field, and an empty message. */
	cpuprof__pb_uint64(&b, 9, 1);
	size_t outer = cpuprof__pb_begin(&b);
	cpuprof__pb_uint64(&b, 1, 2);
	size_t inner = cpuprof__pb_begin(&b);
	cpuprof__pb_uint64(&b, 1, 3);
	cpuprof__pb_end(&b, 4, inner);
	size_t empty = cpuprof__pb_begin(&b);
	cpuprof__pb_end(&b, 5, empty);
	cpuprof__pb_end(&b, 2, outer);
	BYTES_EQ(&b, 0x48, 0x01, 0x12, 0x08, 0x08, 0x02, 0x22, 0x02, 0x08, 0x03, 0x2a, 0x00);
	cpuprof__pb_reset(&b);

	/* A body of 200 bytes needs a two-byte length: the prefix is three bytes and the body
	 * moves by three. */
	char big[198];
	memset(big, 'x', sizeof(big));
	s = cpuprof__pb_begin(&b);
	cpuprof__pb_bytes(&b, 1, big, sizeof(big)); /* 1 + 2 + 198 = 201 bytes */
	cpuprof__pb_end(&b, 2, s);
	CHECK_EQ(b.len, 3 + 201);
	CHECK_EQ(b.buf[0], 0x12);
	CHECK_EQ(b.buf[1], 0xc9); /* 201 = 0xc9 0x01 */
	CHECK_EQ(b.buf[2], 0x01);
	CHECK_EQ(b.buf[3], 0x0a);
	CHECK_EQ(b.buf[4], 0xc6); /* 198 = 0xc6 0x01 */
	CHECK_EQ(b.buf[5], 0x01);
	CHECK_EQ(b.buf[6], 'x');
	CHECK_EQ(b.buf[b.len - 1], 'x');
	cpuprof__pb_free(&b);
}

/* ---- Round trip through a minimal decoder ---- */

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rand_value(void)
{
	/* Spread over every encoded length. */
	int bits = (int)(next_rand() % 65);
	uint64_t v = next_rand();
	return bits == 64 ? v : (v & ((1ULL << bits) - 1));
}

static void test_roundtrip(void)
{
	struct cpuprof__pb b;
	cpuprof__pb_init(&b);
	enum { N = 2000 };
	static uint64_t vals[N];
	for (int i = 0; i < N; i++) {
		vals[i] = rand_value();
	}
	/* Field 1: each value unpacked; field 2: all packed inside message field 3. */
	for (int i = 0; i < N; i++) {
		cpuprof__pb_uint64(&b, 1, vals[i]);
	}
	size_t s = cpuprof__pb_begin(&b);
	cpuprof__pb_uint64s(&b, 2, vals, N);
	cpuprof__pb_end(&b, 3, s);
	REQUIRE(cpuprof__pb_error(&b) == 0);

	const uint8_t *p = b.buf, *end = b.buf + b.len;
	int seen = 0, ok = 1;
	while (p < end && ok) {
		uint64_t key, v;
		REQUIRE(get_varint(&p, end, &key) == 0);
		if (key == (1 << 3 | 0)) {
			REQUIRE(get_varint(&p, end, &v) == 0);
			ok = seen < N && v == vals[seen];
			seen++;
		} else if (key == (3 << 3 | 2)) {
			uint64_t len;
			REQUIRE(get_varint(&p, end, &len) == 0);
			REQUIRE(len <= (uint64_t)(end - p));
			const uint8_t *mend = p + len;
			uint64_t k2, plen;
			REQUIRE(get_varint(&p, mend, &k2) == 0);
			CHECK_EQ(k2, 2 << 3 | 2);
			REQUIRE(get_varint(&p, mend, &plen) == 0);
			CHECK_EQ(plen, (uint64_t)(mend - p));
			for (int i = 0; i < N; i++) {
				REQUIRE(get_varint(&p, mend, &v) == 0);
				if (v != vals[i]) {
					ok = 0;
					break;
				}
			}
			CHECK(p == mend);
		} else {
			ok = 0;
		}
	}
	CHECK(ok);
	CHECK_EQ(seen, N);
	cpuprof__pb_free(&b);
}

int main(void)
{
	test_varints();
	test_fields();
	test_packed();
	test_nested();
	test_roundtrip();
	return check_exit();
}
