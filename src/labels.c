/*
 * labels: the thread-current label set and the interning table behind it.
 *
 * A set is built in normal context, looked up by content in a global table (mutex), and if
 * new, copied into one allocation that is never freed: the handler copies the bare pointer
 * into the log, and the pointer must stay valid for every profile that may still read it.
 * The thread's current set is one initial-exec TLS pointer, so the handler's read is a
 * single load with no call. Memory grows only with the number of distinct sets.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpuprof.h"
#include "labels.h"

_Thread_local const struct cpuprof__labelset *cpuprof__tls_labels
	__attribute__((tls_model("initial-exec")));
static _Thread_local const struct cpuprof__labelset *tls_stack[CPUPROF_MAX_LABELS];
static _Thread_local unsigned tls_depth;

#define INTERN_BUCKETS 1024
struct intern_node {
	struct intern_node *next;
	struct cpuprof__labelset *set;
};
static struct intern_node *intern_table[INTERN_BUCKETS];
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	}
	return (h ^ 0xff) * 1099511628211ull;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct cpuprof__label *)a)->key,
		      ((const struct cpuprof__label *)b)->key);
}

/* Interns kv[0..n) (sorted, keys unique). Returns the shared set or NULL (no memory). */
static const struct cpuprof__labelset *intern(const struct cpuprof__label *kv, uint32_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t i = 0; i < n; i++) {
		h = fnv(fnv(h, kv[i].key), kv[i].value);
	}
	const struct cpuprof__labelset *found = NULL;
	pthread_mutex_lock(&intern_mu);
	struct intern_node **bucket = &intern_table[h % INTERN_BUCKETS];
	for (struct intern_node *e = *bucket; e && !found; e = e->next) {
		if (e->set->hash != h || e->set->n != n) {
			continue;
		}
		uint32_t i = 0;
		while (i < n && strcmp(e->set->kv[i].key, kv[i].key) == 0 &&
		       strcmp(e->set->kv[i].value, kv[i].value) == 0) {
			i++;
		}
		if (i == n) {
			found = e->set;
		}
	}
	if (!found) {
		size_t bytes = sizeof(struct cpuprof__labelset) + n * sizeof(struct cpuprof__label);
		size_t strs = 0;
		for (uint32_t i = 0; i < n; i++) {
			strs += strlen(kv[i].key) + strlen(kv[i].value) + 2;
		}
		struct cpuprof__labelset *s = malloc(bytes + strs);
		struct intern_node *node = malloc(sizeof(*node));
		if (s && node) {
			char *p = (char *)s + bytes;
			s->hash = h;
			s->n = n;
			for (uint32_t i = 0; i < n; i++) {
				size_t kl = strlen(kv[i].key) + 1, vl = strlen(kv[i].value) + 1;
				memcpy(p, kv[i].key, kl);
				s->kv[i].key = p;
				p += kl;
				memcpy(p, kv[i].value, vl);
				s->kv[i].value = p;
				p += vl;
			}
			node->set = s;
			node->next = *bucket;
			*bucket = node;
			found = s;
		} else {
			free(s);
			free(node);
		}
	}
	pthread_mutex_unlock(&intern_mu);
	return found;
}

/* Validates and normalizes (sort; last value of a repeated key wins) into out. */
static int normalize(const char *const *keys, const char *const *values, size_t n,
		     struct cpuprof__label *out, uint32_t *nout)
{
	if (n > CPUPROF_MAX_LABELS + 1) {
		return CPUPROF_ELIMIT;
	}
	if (n && (!keys || !values)) {
		return CPUPROF_EINVAL;
	}
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keys[i] || !keys[i][0] || !values[i]) {
			return CPUPROF_EINVAL;
		}
		if (strlen(keys[i]) > CPUPROF_MAX_LABEL_LEN ||
		    strlen(values[i]) > CPUPROF_MAX_LABEL_LEN) {
			return CPUPROF_ELIMIT;
		}
		uint32_t j = 0;
		while (j < k && strcmp(out[j].key, keys[i]) != 0) {
			j++;
		}
		out[j].key = keys[i];
		out[j].value = values[i];
		if (j == k) {
			k++;
		}
	}
	if (k > CPUPROF_MAX_LABELS) {
		return CPUPROF_ELIMIT;
	}
	qsort(out, k, sizeof(*out), cmp_label);
	*nout = k;
	return 0;
}

static void set_current(const struct cpuprof__labelset *s)
{
	/* The compiler must not sink the set's construction below this store; the
	 * intern mutex already orders it, and the signal fence keeps a handler on this
	 * thread from seeing the pointer before the contents. */
	atomic_signal_fence(memory_order_release);
	cpuprof__tls_labels = s;
}

CPUPROF_API int cpuprof_labels_set(const char *const *keys, const char *const *values, size_t n)
{
	struct cpuprof__label kv[CPUPROF_MAX_LABELS + 1];
	uint32_t k = 0;
	if (n > CPUPROF_MAX_LABELS) {
		return CPUPROF_ELIMIT;
	}
	int err = normalize(keys, values, n, kv, &k);
	if (err) {
		return err;
	}
	const struct cpuprof__labelset *s = NULL;
	if (k) {
		s = intern(kv, k);
		if (!s) {
			return CPUPROF_ENOMEM;
		}
	}
	set_current(s);
	return 0;
}

CPUPROF_API int cpuprof_labels_push(const char *key, const char *value)
{
	if (tls_depth >= CPUPROF_MAX_LABELS) {
		return CPUPROF_ELIMIT;
	}
	const struct cpuprof__labelset *cur = cpuprof__labels_current();
	const char *keys[CPUPROF_MAX_LABELS + 1], *values[CPUPROF_MAX_LABELS + 1];
	size_t n = 0;
	for (uint32_t i = 0; cur && i < cur->n; i++) {
		keys[n] = cur->kv[i].key;
		values[n] = cur->kv[i].value;
		n++;
	}
	keys[n] = key;
	values[n] = value;
	n++;
	struct cpuprof__label kv[CPUPROF_MAX_LABELS + 1];
	uint32_t k = 0;
	int err = normalize(keys, values, n, kv, &k);
	if (err) {
		return err;
	}
	const struct cpuprof__labelset *s = intern(kv, k);
	if (!s) {
		return CPUPROF_ENOMEM;
	}
	tls_stack[tls_depth++] = cur;
	set_current(s);
	return 0;
}

CPUPROF_API int cpuprof_labels_pop(void)
{
	if (tls_depth == 0) {
		return CPUPROF_EINVAL;
	}
	set_current(tls_stack[--tls_depth]);
	return 0;
}
