/*
 * Tiny assertion helpers for the unit tests: each failed check prints both operands with
 * file:line and the test keeps going; main returns check_exit() so ctest sees the result.
 */
#ifndef CPUPROF_TEST_CHECK_H
#define CPUPROF_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_EQ(got, want)                                                                      \
	do {                                                                                     \
		long long check_g_ = (long long)(got), check_w_ = (long long)(want);             \
		if (check_g_ != check_w_) {                                                      \
			fprintf(stderr, "%s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__,  \
				#got, #want, check_g_, check_w_);                                \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_STREQ(got, want)                                                                   \
	do {                                                                                     \
		const char *check_g_ = (got), *check_w_ = (want);                                \
		if (!check_g_ || !check_w_ || strcmp(check_g_, check_w_) != 0) {                 \
			fprintf(stderr, "%s:%d: %s == %s (\"%s\" vs \"%s\")\n", __FILE__,         \
				__LINE__, #got, #want, check_g_ ? check_g_ : "(null)",           \
				check_w_ ? check_w_ : "(null)");                                 \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

/* Aborts the test at once (for a failure that makes the rest meaningless). */
#define REQUIRE(cond)                                                                            \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__,       \
				#cond);                                                          \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

static inline int check_exit(void)
{
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	return 0;
}

#endif
