/*
 * main: the cpuprof command-line tool. Dispatches to one subcommand per file: report.c
 * (top functions), folded.c (folded stacks), flamegraph.c (SVG), record.c (run a command
 * under the preloaded profiler). Every subcommand reads profiles through profile_read.c.
 * Exit status: 0 success, 1 a bad file or failed operation, 2 a usage error; record exits
 * as the command it ran did.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "cpuprof.h"

static const char usage[] =
    "usage: cpuprof COMMAND [OPTIONS] ...\n"
    "\n"
    "Commands:\n"
    "  report [-n N] [--cum] [--sample-index=K] PROFILE\n"
    "        top functions by flat and cumulative value, like go tool pprof -top\n"
    "  folded [--value=samples|ns] PROFILE\n"
    "        folded stacks, one line per distinct stack: main;run;hot 123\n"
    "  flamegraph [-o OUT.svg] PROFILE\n"
    "        an interactive SVG flame graph (hover, click to zoom, Ctrl-F to search)\n"
    "  record [-F HZ] [-o OUT] [--max-depth N] -- COMMAND [ARGS...]\n"
    "        run COMMAND with libcpuprof.so preloaded and write its profile\n"
    "        (OUT ending in .svg or .folded is converted)\n"
    "  help, --help     this text; `cpuprof COMMAND --help` for one command\n"
    "  --version        the version\n"
    "\n"
    "PROFILE is any pprof CPU profile (profile.proto), gzipped or not, such as one written\n"
    "by cpuprof or by Go's runtime/pprof; '-' reads standard input.\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		fputs(usage, stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("cpuprof %s\n", CPUPROF_VERSION_STRING);
		return 0;
	}
	if (strcmp(cmd, "report") == 0) {
		return cmd_report(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "folded") == 0) {
		return cmd_folded(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "flamegraph") == 0) {
		return cmd_flamegraph(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "record") == 0) {
		return cmd_record(argc - 1, argv + 1);
	}
	tool_error("unknown command '%s' (try 'cpuprof help')", cmd);
	return TOOL_EXIT_USAGE;
}
