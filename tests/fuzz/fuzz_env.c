/*
 * Fuzz target: the preload configuration parser (src/preload.c). The input is a list of
 * NAME=value lines; the names that matter are set in the environment (any other line is
 * tried as a CPUPROF_OUT pattern and a host:port), then the parser runs. It must never
 * crash or overrun, and when it accepts a configuration the values must be in range.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

static const char *const names[] = {
	"CPUPROF_OUT", "CPUPROFILE", "CPUPROF_HZ", "CPUPROFILE_FREQUENCY", "CPUPROF_MAX_DEPTH",
	"CPUPROF_SIGNAL", "CPUPROFILESIGNAL", "CPUPROF_FLUSH", "CPUPROF_ENGINE",
	"CPUPROF_THREAD_LABELS", "CPUPROF_HTTP", "CPUPROF_PERIODIC",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = 0;
	for (size_t i = 0; i < NNAMES; i++) {
		unsetenv(names[i]);
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		int set = 0;
		if (eq) {
			*eq = 0;
			for (size_t i = 0; i < NNAMES; i++) {
				if (strcmp(line, names[i]) == 0) {
					setenv(names[i], eq + 1, 1);
					set = 1;
				}
			}
			*eq = '=';
		}
		if (!set) {
			char out[256], host[64];
			int had = 0, port = 0;
			if (cpuprof__expand_path(line, 12345, 1700000000, out, sizeof(out), &had) == 0 &&
			    strlen(out) >= sizeof(out)) {
				abort();
			}
			(void)cpuprof__numbered_path(line, 7, out, sizeof(out));
			if (cpuprof__parse_hostport(line, host, sizeof(host), &port) == 0 &&
			    (port < 0 || port > 65535 || strlen(host) >= sizeof(host))) {
				abort();
			}
		}
	}
	struct cpuprof__preload_config *c = malloc(sizeof(*c));
	char err[512];
	if (c && cpuprof__preload_parse(c, err, sizeof(err)) == 0) {
		if (c->hz < 0 || c->hz > CPUPROF_MAX_HZ || c->max_depth < 1 ||
		    c->max_depth > CPUPROF_MAX_MAX_DEPTH || c->flush_seconds < 0) {
			abort();
		}
	}
	free(c);
	free(text);
	for (size_t i = 0; i < NNAMES; i++) {
		unsetenv(names[i]);
	}
	return 0;
}
