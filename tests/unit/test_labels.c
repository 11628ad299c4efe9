/*
 * labels: the limits (pairs, bytes), argument errors, push/pop nesting, normalization
 * (sorted keys, last value wins) and interning (equal sets made separately, even on other
 * threads, are one pointer), read back through cpuprof__labels_current().
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cpuprof.h"
#include "labels.h"

static const char *value_of(const char *key)
{
	const struct cpuprof__labelset *s = cpuprof__labels_current();
	for (uint32_t i = 0; s && i < s->n; i++) {
		if (strcmp(s->kv[i].key, key) == 0) {
			return s->kv[i].value;
		}
	}
	return NULL;
}

static unsigned count(void)
{
	const struct cpuprof__labelset *s = cpuprof__labels_current();
	return s ? s->n : 0;
}

static void test_limits(void)
{
	char keys_buf[CPUPROF_MAX_LABELS + 1][8];
	const char *keys[CPUPROF_MAX_LABELS + 1], *values[CPUPROF_MAX_LABELS + 1];
	for (int i = 0; i <= CPUPROF_MAX_LABELS; i++) {
		snprintf(keys_buf[i], sizeof(keys_buf[i]), "k%02d", i);
		keys[i] = keys_buf[i];
		values[i] = "v";
	}
	CHECK_EQ(cpuprof_labels_set(keys, values, CPUPROF_MAX_LABELS), 0);
	CHECK_EQ(count(), CPUPROF_MAX_LABELS);
	CHECK_EQ(cpuprof_labels_set(keys, values, CPUPROF_MAX_LABELS + 1), CPUPROF_ELIMIT);
	CHECK_EQ(count(), CPUPROF_MAX_LABELS); /* a failed set changes nothing */

	char longest[CPUPROF_MAX_LABEL_LEN + 2];
	memset(longest, 'x', sizeof(longest));
	longest[CPUPROF_MAX_LABEL_LEN] = 0; /* exactly the limit: allowed */
	const char *k1[] = {longest}, *v1[] = {"v"};
	CHECK_EQ(cpuprof_labels_set(k1, v1, 1), 0);
	CHECK_EQ(cpuprof_labels_set(v1, k1, 1), 0);
	longest[CPUPROF_MAX_LABEL_LEN] = 'x';
	longest[CPUPROF_MAX_LABEL_LEN + 1] = 0; /* one byte over */
	CHECK_EQ(cpuprof_labels_set(k1, v1, 1), CPUPROF_ELIMIT);
	CHECK_EQ(cpuprof_labels_set(v1, k1, 1), CPUPROF_ELIMIT);
	CHECK_EQ(cpuprof_labels_push(longest, "v"), CPUPROF_ELIMIT);
	CHECK_EQ(cpuprof_labels_push("k", longest), CPUPROF_ELIMIT);

	const char *nk[] = {NULL}, *ek[] = {""}, *nv[] = {NULL}, *ok[] = {"k"};
	CHECK_EQ(cpuprof_labels_set(nk, v1, 1), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_set(ek, v1, 1), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_set(ok, nv, 1), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_set(NULL, NULL, 1), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_push(NULL, "v"), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_push("", "v"), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_push("k", NULL), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_labels_set(NULL, NULL, 0), 0); /* n == 0 clears */
	CHECK(cpuprof__labels_current() == NULL);
}

static void test_nesting(void)
{
	CHECK_EQ(cpuprof_labels_set(NULL, NULL, 0), 0);
	CHECK_EQ(cpuprof_labels_pop(), CPUPROF_EINVAL); /* pop on empty */
	CHECK_EQ(cpuprof_labels_push("a", "1"), 0);
	CHECK_STREQ(value_of("a"), "1");
	CHECK_EQ(cpuprof_labels_push("b", "2"), 0);
	CHECK_EQ(count(), 2);
	CHECK_EQ(cpuprof_labels_push("a", "3"), 0); /* replaces a on top */
	CHECK_STREQ(value_of("a"), "3");
	CHECK_STREQ(value_of("b"), "2");
	CHECK_EQ(count(), 2);
	CHECK_EQ(cpuprof_labels_pop(), 0);
	CHECK_STREQ(value_of("a"), "1");
	CHECK_EQ(cpuprof_labels_pop(), 0);
	CHECK_EQ(count(), 1);
	CHECK_EQ(value_of("b") == NULL, 1);
	CHECK_EQ(cpuprof_labels_pop(), 0);
	CHECK(cpuprof__labels_current() == NULL);
	CHECK_EQ(cpuprof_labels_pop(), CPUPROF_EINVAL);

	/* Depth: CPUPROF_MAX_LABELS pushes nest; one more is refused and changes nothing. */
	char keys[CPUPROF_MAX_LABELS + 1][8];
	for (int i = 0; i < CPUPROF_MAX_LABELS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "d%02d", i);
		CHECK_EQ(cpuprof_labels_push(keys[i], "v"), 0);
	}
	const struct cpuprof__labelset *full = cpuprof__labels_current();
	CHECK_EQ(cpuprof_labels_push("extra", "v"), CPUPROF_ELIMIT);
	CHECK(cpuprof__labels_current() == full);
	for (int i = 0; i < CPUPROF_MAX_LABELS; i++) {
		CHECK_EQ(cpuprof_labels_pop(), 0);
	}
	CHECK(cpuprof__labels_current() == NULL);
	CHECK_EQ(cpuprof_labels_pop(), CPUPROF_EINVAL);
}

static const struct cpuprof__labelset *made_on_thread;

static void *make_on_thread(void *arg)
{
	(void)arg;
	const char *k[] = {"phase", "req"}, *v[] = {"render", "42"};
	if (cpuprof_labels_set(k, v, 2) == 0) {
		made_on_thread = cpuprof__labels_current();
	}
	return NULL;
}

static void test_interning(void)
{
	const char *k1[] = {"req", "phase"}, *v1[] = {"42", "render"};
	CHECK_EQ(cpuprof_labels_set(k1, v1, 2), 0);
	const struct cpuprof__labelset *a = cpuprof__labels_current();
	REQUIRE(a != NULL);
	CHECK_EQ(a->n, 2);
	CHECK_STREQ(a->kv[0].key, "phase"); /* sorted by key */
	CHECK_STREQ(a->kv[1].key, "req");

	/* Same content, other order, other string storage: the same pointer. */
	char kbuf[2][8] = {"phase", "req"}, vbuf[2][8] = {"render", "42"};
	const char *k2[] = {kbuf[0], kbuf[1]}, *v2[] = {vbuf[0], vbuf[1]};
	CHECK_EQ(cpuprof_labels_set(k2, v2, 2), 0);
	CHECK(cpuprof__labels_current() == a);
	CHECK(a->kv[0].key != kbuf[0]); /* the set owns its strings */

	/* Built by pushes: the same pointer again. */
	CHECK_EQ(cpuprof_labels_set(NULL, NULL, 0), 0);
	CHECK_EQ(cpuprof_labels_push("req", "42"), 0);
	CHECK_EQ(cpuprof_labels_push("phase", "render"), 0);
	CHECK(cpuprof__labels_current() == a);
	CHECK_EQ(cpuprof_labels_pop(), 0);
	CHECK_EQ(cpuprof_labels_pop(), 0);

	/* A repeated key keeps its last value, and that is the set {phase=render, req=42}. */
	const char *k3[] = {"phase", "req", "phase"}, *v3[] = {"parse", "42", "render"};
	CHECK_EQ(cpuprof_labels_set(k3, v3, 3), 0);
	CHECK(cpuprof__labels_current() == a);

	/* Another thread making the same set gets the same pointer. */
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, make_on_thread, NULL) == 0);
	pthread_join(th, NULL);
	CHECK(made_on_thread == a);

	/* A different value is a different set. */
	const char *v4[] = {"43", "render"};
	CHECK_EQ(cpuprof_labels_set(k1, v4, 2), 0);
	CHECK(cpuprof__labels_current() != a);
	CHECK_EQ(cpuprof_labels_set(NULL, NULL, 0), 0);
}

int main(void)
{
	test_limits();
	test_nesting();
	test_interning();
	return check_exit();
}
