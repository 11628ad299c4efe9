/*
 * The public API's state machine and its error codes: start/stop/rate as documented in
 * cpuprof.h, bad input (unwritable path, NULL path, bad options), and strerror.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "profile_check.h"
#include "cpuprof.h"

static char dir[] = "/tmp/cpuprof-test-api-XXXXXX";

static void test_strerror(void)
{
	CHECK_STREQ(cpuprof_strerror(0), "success");
	CHECK_STREQ(cpuprof_strerror(CPUPROF_ERUNNING), "a profile is already running");
	CHECK_STREQ(cpuprof_strerror(CPUPROF_EIO), "cannot write the profile file");
	CHECK_STREQ(cpuprof_strerror(12345), "unknown error");
	/* Every code in the table has its own text. */
#define X(name, value, text) CHECK_STREQ(cpuprof_strerror(value), text);
	CPUPROF_ERRNO_MAP(X)
#undef X
	CHECK_STREQ(cpuprof_version(), CPUPROF_VERSION_STRING);
}

static void test_bad_path(void)
{
	CHECK_EQ(cpuprof_start(NULL, 100), CPUPROF_EPATH);
	CHECK_EQ(cpuprof_start("", 100), CPUPROF_EPATH);
	/* A directory that does not exist, and a path inside /proc (not creatable even by
	 * root): start fails at once and leaves nothing running. */
	CHECK_EQ(cpuprof_start("/nonexistent-dir/x/prof.pb.gz", 100), CPUPROF_EIO);
	CHECK_EQ(cpuprof_running(), 0);
	CHECK_EQ(cpuprof_start("/proc/cpuprof-test.pb.gz", 100), CPUPROF_EIO);
	CHECK_EQ(cpuprof_running(), 0);
	CHECK_EQ(cpuprof_stop(), CPUPROF_ENOTRUNNING);
	/* The handler was not left installed. */
	struct sigaction sa;
	sigaction(SIGPROF, NULL, &sa);
	CHECK(!(sa.sa_flags & SA_SIGINFO));
}

static void test_rate_rules(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/a.pb.gz", dir);
	CHECK_EQ(cpuprof_start(path, 0), CPUPROF_EOFF);
	CHECK_EQ(cpuprof_start(path, -5), CPUPROF_EOFF);
	CHECK_EQ(cpuprof_running(), 0);

	/* Stopped: the rate may change, clamped to [0, 1e6]. */
	CHECK_EQ(cpuprof_set_rate(2000000), CPUPROF_MAX_HZ);
	CHECK_EQ(cpuprof_get_rate(), CPUPROF_MAX_HZ);
	CHECK_EQ(cpuprof_set_rate(-1), 0);
	CHECK_EQ(cpuprof_set_rate(100), 100);

	/* The default rate 0 means off for a start that takes the default. */
	CHECK_EQ(cpuprof_set_rate(0), 0);
	CHECK_EQ(cpuprof_start_opts(path, NULL), CPUPROF_EOFF);
	CHECK_EQ(cpuprof_set_rate(100), 100);

	REQUIRE(cpuprof_start(path, 2000000) == 0);
	CHECK_EQ(cpuprof_running(), 1);
	CHECK_EQ(cpuprof_get_rate(), CPUPROF_MAX_HZ); /* clamped */
	/* Running: a second start and any rate change are refused with their codes. */
	CHECK_EQ(cpuprof_start(path, 100), CPUPROF_ERUNNING);
	CHECK_EQ(cpuprof_set_rate(50), CPUPROF_ERUNNING);
	CHECK_EQ(cpuprof_get_rate(), CPUPROF_MAX_HZ);

	cpuprof_stats st;
	memset(&st, 0, sizeof(st));
	CHECK_EQ(cpuprof_get_stats(&st), CPUPROF_EINVAL); /* size not set */
	st.size = sizeof(st);
	CHECK_EQ(cpuprof_get_stats(&st), 0);
	CHECK_EQ(st.running, 1);
	CHECK_EQ(st.hz, CPUPROF_MAX_HZ);
	CHECK(st.engine == CPUPROF_ENGINE_PERF || st.engine == CPUPROF_ENGINE_TIMER);

	/* The handler is installed as documented while running. */
	struct sigaction sa;
	sigaction(SIGPROF, NULL, &sa);
	CHECK((sa.sa_flags & (SA_SIGINFO | SA_RESTART | SA_ONSTACK)) ==
	      (SA_SIGINFO | SA_RESTART | SA_ONSTACK));
	CHECK(sigismember(&sa.sa_mask, SIGINT) && sigismember(&sa.sa_mask, SIGTERM) &&
	      sigismember(&sa.sa_mask, SIGPROF));

	CHECK_EQ(cpuprof_stop(), 0);
	CHECK_EQ(cpuprof_running(), 0);
	CHECK_EQ(cpuprof_stop(), CPUPROF_ENOTRUNNING);
	struct stat stbuf;
	CHECK_EQ(stat(path, &stbuf), 0);
	CHECK(stbuf.st_size > 0);
	CHECK(profile_ok(path));
	CHECK_EQ(cpuprof_set_rate(100), 100);
}

static void test_options(void)
{
	cpuprof_options *o = cpuprof_options_new();
	REQUIRE(o != NULL);
	CHECK_EQ(cpuprof_options_set_max_depth(o, 0), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_options_set_max_depth(o, CPUPROF_MAX_MAX_DEPTH + 1), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_options_set_max_depth(o, 512), 0);
	CHECK_EQ(cpuprof_options_set_engine(o, (cpuprof_engine)7), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_options_set_sigprof_policy(o, (cpuprof_sigprof_policy)9), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_options_set_hz(o, 5000000), CPUPROF_MAX_HZ);
	CHECK_EQ(cpuprof_options_set_hz(o, -3), 0);
	CHECK_EQ(cpuprof_options_set_hz(NULL, 1), CPUPROF_EINVAL);
	cpuprof_options_free(o);
	cpuprof_options_free(NULL);
}

int main(void)
{
	REQUIRE(mkdtemp(dir) != NULL);
	test_strerror();
	test_bad_path();
	test_rate_rules();
	test_options();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return check_exit();
}
