/*
 * profile_ok(path): both real parsers accept a profile a unit test wrote: protoc --decode
 * against Debian's profile.proto, and go tool pprof -raw. Returns 1 if both succeed.
 */
#ifndef CPUPROF_TEST_PROFILE_CHECK_H
#define CPUPROF_TEST_PROFILE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static inline int profile_ok(const char *path)
{
	const char *dir = getenv("PROFILE_PROTO_DIR");
	if (!dir) {
		dir = "/usr/share/gocode/src/github.com/google/pprof/proto";
	}
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "zcat '%s' | protoc --decode=perftools.profiles.Profile -I'%s' '%s/profile.proto' "
		 ">/dev/null && HOME=/tmp GOCACHE=/tmp/cpuprof-test-gocache go tool pprof -raw '%s' "
		 ">/dev/null 2>&1",
		 path, dir, dir, path);
	int rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "profile_ok: %s is rejected (%s)\n", path, cmd);
	}
	return rc == 0;
}

#endif
