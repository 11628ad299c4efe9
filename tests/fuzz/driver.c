/*
 * driver: runs a libFuzzer-style target without libFuzzer (gcc builds). Every argument is
 * a file or a directory of files (not recursive); each file's bytes, in a buffer of exactly
 * their size so sanitizers see any overread, go to LLVMFuzzerTestOneInput once. A crash is
 * the failure; an unreadable argument is one too, so a missing corpus is noticed. Shared by
 * every fuzz target.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as with libFuzzer. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "driver: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	int err = ferror(f);
	fclose(f);
	if (!buf || err) {
		fprintf(stderr, "driver: cannot read %s\n", path);
		free(buf);
		return -1;
	}
	/* Copy into an exact-size buffer (a zero-size input gets a 1-byte allocation). */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "driver: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn) {
				break;
			}
			names = nn;
		}
		names[n] = strdup(e->d_name);
		if (names[n]) {
			n++;
		}
	}
	closedir(d);
	/* Sorted, so runs are reproducible. */
	qsort(names, n, sizeof(*names), cmp);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = malloc(len);
		if (!path) {
			rc = -1;
			break;
		}
		snprintf(path, len, "%s/%s", dir, names[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0) {
				rc = -1;
			}
			(*count)++;
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	int rc = 0, count = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			continue; /* libFuzzer flags such as -runs=N mean nothing here */
		}
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "driver: cannot stat %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) != 0) {
				rc = 1;
			}
		} else {
			if (run_file(argv[i]) != 0) {
				rc = 1;
			}
			count++;
		}
	}
	fprintf(stderr, "driver: ran %d input(s)\n", count);
	return rc;
}
