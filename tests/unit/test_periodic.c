/*
 * periodic: argument checks (every bad argument leaves nothing running), the state
 * machine (ERUNNING, ENOTRUNNING), and a short run whose stop writes the partial window.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cpuprof.h"
#include "preload.h"

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		n += strncmp(e->d_name, "cpuprof-", 8) == 0;
	}
	if (d) {
		closedir(d);
	}
	return n;
}

/* CPUPROF_PERIODIC=dir:seconds[:keep] as the preload reads it. */
static void test_preload_parse(void)
{
	static struct cpuprof__preload_config c;
	char err[512];
	struct {
		const char *v;
		int ok;
		const char *dir;
		int seconds, keep;
	} cases[] = {
	    {"/tmp/p:10", 1, "/tmp/p", 10, 0},
	    {"/tmp/p:10:3", 1, "/tmp/p", 10, 3},
	    {"/tmp/p:10:0", 1, "/tmp/p", 10, 0},
	    {"a:b:10", 1, "a:b", 10, 0},
	    {"a:b:10:2", 1, "a:b", 10, 2},
	    {"rel:86400", 1, "rel", 86400, 0},
	    {"/tmp/p", 0, NULL, 0, 0},
	    {"/tmp/p:", 0, NULL, 0, 0},
	    {":10", 0, NULL, 0, 0},
	    {":10:2", 0, NULL, 0, 0},
	    {"/tmp/p:0", 0, NULL, 0, 0},
	    {"/tmp/p:86401", 0, NULL, 0, 0},
	    {"/tmp/p:ten", 0, NULL, 0, 0},
	    {"/tmp/p:10:-1", 0, NULL, 0, 0},
	    {"/tmp/p:10:x", 0, NULL, 0, 0},
	    {"", 0, NULL, 0, 0},
	    {":", 0, NULL, 0, 0},
	    {"::", 0, NULL, 0, 0},
	};
	unsetenv("CPUPROF_OUT");
	unsetenv("CPUPROFILE");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("CPUPROF_PERIODIC", cases[i].v, 1);
		err[0] = 0;
		int rc = cpuprof__preload_parse(&c, err, sizeof(err));
		if ((rc == 0) != cases[i].ok) {
			fprintf(stderr, "CPUPROF_PERIODIC=%s: rc %d (%s)\n", cases[i].v, rc, err);
		}
		CHECK_EQ(rc == 0, cases[i].ok);
		if (rc == 0 && cases[i].ok) {
			CHECK_EQ(c.periodic_set, 1);
			CHECK_STREQ(c.periodic_dir, cases[i].dir);
			CHECK_EQ(c.periodic_seconds, cases[i].seconds);
			CHECK_EQ(c.periodic_keep, cases[i].keep);
		} else if (rc != 0) {
			CHECK(strstr(err, "CPUPROF_PERIODIC") != NULL); /* names the variable */
		}
	}
	unsetenv("CPUPROF_PERIODIC");
	CHECK_EQ(cpuprof__preload_parse(&c, err, sizeof(err)), 0);
	CHECK_EQ(c.periodic_set, 0);
}

int main(void)
{
	test_preload_parse();

	char dir[] = "/tmp/cpuprof-test-periodic-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char file[sizeof(dir) + 16];
	snprintf(file, sizeof(file), "%s/plain", dir);
	FILE *f = fopen(file, "w");
	REQUIRE(f != NULL);
	fclose(f);

	CHECK_EQ(cpuprof_periodic_stop(), CPUPROF_ENOTRUNNING);
	CHECK_EQ(cpuprof_periodic_start(NULL, 1, 0, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_periodic_start("", 1, 0, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_periodic_start(dir, 0, 0, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_periodic_start(dir, -5, 0, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_periodic_start(dir, 1, -1, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_periodic_start(dir, 1, 0, -1), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_periodic_start("/nonexistent/cpuprof", 1, 0, 100), CPUPROF_EIO);
	CHECK_EQ(cpuprof_periodic_start(file, 1, 0, 100), CPUPROF_EIO); /* not a directory */
	if (geteuid() != 0) {                                           /* root writes anywhere */
		CHECK_EQ(cpuprof_periodic_start("/proc", 1, 0, 100), CPUPROF_EIO);
	}
	CHECK_EQ(cpuprof_running(), 0);
	CHECK_EQ(count_files(dir), 0);

	CHECK_EQ(cpuprof_periodic_start(dir, 60, 0, 100), 0);
	CHECK_EQ(cpuprof_running(), 1);
	CHECK_EQ(cpuprof_periodic_start(dir, 60, 0, 100), CPUPROF_ERUNNING);
	CHECK_EQ(cpuprof_periodic_stop(), 0); /* the partial window is written at once */
	CHECK_EQ(cpuprof_running(), 0);
	CHECK_EQ(cpuprof_periodic_stop(), CPUPROF_ENOTRUNNING);
	CHECK_EQ(count_files(dir), 1);
	/* A second run continues the numbering instead of overwriting. */
	CHECK_EQ(cpuprof_periodic_start(dir, 60, 1, 0), 0);
	CHECK_EQ(cpuprof_periodic_stop(), 0);
	CHECK_EQ(count_files(dir), 2);

	char cmd[sizeof(dir) + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
	return check_exit();
}
