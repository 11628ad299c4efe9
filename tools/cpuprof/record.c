/*
 * record: `cpuprof record [-F hz] [-o out] [--max-depth n] -- cmd args...` runs cmd with
 * libcpuprof.so preloaded (LD_PRELOAD, ours first) and CPUPROF_OUT / CPUPROF_HZ /
 * CPUPROF_MAX_DEPTH set; the library writes the profile when the program ends. Then it
 * converts the profile if -o names an .svg or .folded file, prints a one-line summary to
 * stderr and exits as the command did: same status, or the same signal re-raised.
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to us alone are forwarded to the command; signals
 * from the terminal already reach it through the process group and are not sent twice.
 */
#define _XOPEN_SOURCE 700 /* realpath */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "cpuprof.h"

#ifndef CPUPROF_INSTALL_LIBDIR
#define CPUPROF_INSTALL_LIBDIR "/usr/local/lib"
#endif

#define LIB_NAME "libcpuprof.so"

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])

/* The command's pid: written while the forwarded signals are blocked, read by the
 * handler. (A pid_t is an int here, as sig_atomic_t is.) */
static volatile sig_atomic_t child_pid;

/* Async-signal-safe (kill only; errno is kept). */
static void forward_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	/* si_code > 0 means the kernel sent it (a terminal's ^C goes to the whole foreground
	 * process group, the command included); <= 0 is kill(2) and friends, aimed at us. */
	if (child_pid > 0 && !(si && si->si_code > 0)) {
		kill((pid_t)child_pid, sig);
	}
	errno = saved;
}

enum conv { CONV_NONE, CONV_SVG, CONV_FOLDED };

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* An absolute form of path (the command may chdir). Caller frees. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *r;

	if (path[0] == '/' || !getcwd(cwd, sizeof cwd)) {
		return strdup(path);
	}
	r = malloc(strlen(cwd) + strlen(path) + 2);
	if (r) {
		sprintf(r, "%s/%s", cwd, path);
	}
	return r;
}

static int usable_lib(const char *path, char *out)
{
	return access(path, R_OK) == 0 && realpath(path, out) != NULL;
}

/*
 * Finds libcpuprof.so: $CPUPROF_LIB if set (an explicit choice wins), else next to this
 * executable (the build tree has build/cpuprof and build/libcpuprof.so side by side),
 * else in the install libdir. Writes the real path into out (PATH_MAX bytes).
 */
static int find_lib(char *out)
{
	const char *env = getenv("CPUPROF_LIB");
	char exe[PATH_MAX], next[PATH_MAX + sizeof LIB_NAME];
	ssize_t n;

	if (env && *env) {
		if (usable_lib(env, out)) {
			return 0;
		}
		tool_error("record: CPUPROF_LIB=%s: cannot read it: %s", env, strerror(errno));
		return -1;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(next, sizeof next, "%s/%s", exe, LIB_NAME);
			if (usable_lib(next, out)) {
				return 0;
			}
		}
	}
	if (usable_lib(CPUPROF_INSTALL_LIBDIR "/" LIB_NAME, out)) {
		return 0;
	}
	tool_error("record: cannot find %s (looked next to the cpuprof executable and in %s); "
	           "set CPUPROF_LIB to its path",
	           LIB_NAME, CPUPROF_INSTALL_LIBDIR);
	return -1;
}

/* The environment of the command; runs in the child between fork and exec. */
static int child_env(const char *lib, const char *prof_path, const char *hz, const char *depth)
{
	const char *old = getenv("LD_PRELOAD");
	char *pre;

	if (old && *old) {
		pre = malloc(strlen(lib) + strlen(old) + 2);
		if (!pre) {
			return -1;
		}
		sprintf(pre, "%s:%s", lib, old);
	} else {
		pre = strdup(lib);
		if (!pre) {
			return -1;
		}
	}
	int rc = setenv("LD_PRELOAD", pre, 1);
	free(pre);
	/* The preload library marks the first process of a profiled tree with this; the
	 * command is the first of ours even if cpuprof itself runs inside another one. */
	unsetenv("CPUPROF_ROOT_PID");
	if (rc < 0 || setenv("CPUPROF_OUT", prof_path, 1) < 0 ||
	    (hz && setenv("CPUPROF_HZ", hz, 1) < 0) ||
	    (depth && setenv("CPUPROF_MAX_DEPTH", depth, 1) < 0)) {
		return -1;
	}
	return 0;
}

struct run {
	char **cmd;
	const char *lib, *prof_path, *hz, *depth;
	int status;     /* from waitpid */
	int exec_errno; /* nonzero: the command could not be started */
};

/* Forks and execs the command, forwarding signals while it runs. Returns 0 once it has
 * ended (r->status set), -1 if it could not be started at all. */
static int run_command(struct run *r)
{
	struct sigaction sa, old[NFORWARDED];
	sigset_t block, prev;
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0 || fcntl(pfd[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(pfd[1], F_SETFD, FD_CLOEXEC) < 0) {
		tool_error("record: pipe: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&block);
	for (size_t i = 0; i < NFORWARDED; i++) {
		sigaddset(&block, forwarded[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &prev);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++) {
		sigaction(forwarded[i], NULL, &old[i]);
		/* An ignored signal stays ignored, for us and (inherited) for the command. */
		if (old[i].sa_handler != SIG_IGN) {
			sigaction(forwarded[i], &sa, NULL);
		}
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < NFORWARDED; i++) {
			sigaction(forwarded[i], &old[i], NULL);
		}
		sigprocmask(SIG_SETMASK, &prev, NULL);
		close(pfd[0]);
		int e = ENOMEM;
		if (child_env(r->lib, r->prof_path, r->hz, r->depth) == 0) {
			execvp(r->cmd[0], r->cmd);
			e = errno;
		}
		ssize_t wr = write(pfd[1], &e, sizeof e);
		(void)wr;
		_exit(e == ENOENT ? 127 : 126);
	}
	close(pfd[1]);
	if (pid < 0) {
		tool_error("record: fork: %s", strerror(errno));
		close(pfd[0]);
		for (size_t i = 0; i < NFORWARDED; i++) {
			sigaction(forwarded[i], &old[i], NULL);
		}
		sigprocmask(SIG_SETMASK, &prev, NULL);
		return -1;
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &prev, NULL);

	/* The pipe closes at exec (nothing read) or carries the exec errno. */
	ssize_t n;
	do {
		n = read(pfd[0], &r->exec_errno, sizeof r->exec_errno);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof r->exec_errno) {
		r->exec_errno = 0;
	}
	close(pfd[0]);
	while (waitpid(pid, &r->status, 0) < 0) {
		if (errno != EINTR) {
			tool_error("record: waitpid: %s", strerror(errno));
			r->status = 1 << 8;
			break;
		}
	}
	/* From here on a signal acts on us as it normally would. */
	sigprocmask(SIG_BLOCK, &block, &prev);
	child_pid = 0;
	for (size_t i = 0; i < NFORWARDED; i++) {
		sigaction(forwarded[i], &old[i], NULL);
	}
	sigprocmask(SIG_SETMASK, &prev, NULL);
	return 0;
}

/* Did the command write a profile at path (a new file, not one left from before)? */
static int is_new_file(const char *path, const struct stat *before, int existed)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		return 0;
	}
	return !existed || st.st_ino != before->st_ino || st.st_dev != before->st_dev ||
	       st.st_mtim.tv_sec != before->st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != before->st_mtim.tv_nsec || st.st_size != before->st_size;
}

/* The stderr summary: samples, lost samples, CPU time, the file written. */
static void summarize(const struct prof *p, const char *written)
{
	long ci = tool_count_index(p), ni = -1;
	int64_t samples = 0, lost = 0, cpu = 0;
	char *is_lost = calloc(p->nnames ? p->nnames : 1, 1);
	char cpubuf[64];

	for (size_t i = 0; i < p->ntypes; i++) {
		if (strcmp(p->str[p->types[i].unit], "nanoseconds") == 0 &&
		    (ni < 0 || strcmp(p->str[p->types[i].type], "cpu") == 0)) {
			ni = (long)i;
		}
	}
	for (size_t i = 0; is_lost && i < p->nnames; i++) {
		is_lost[i] = strncmp(p->names[i], "[cpuprof] lost", 14) == 0;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prof_sample *sm = &p->samples[i];
		int64_t n = ci >= 0 ? prof_value(p, i, (size_t)ci) : 1;
		int lost_here = 0;

		samples = wrap_add(samples, n);
		if (ni >= 0) {
			cpu = wrap_add(cpu, prof_value(p, i, (size_t)ni));
		}
		for (uint32_t j = 0; is_lost && !lost_here && j < sm->nloc; j++) {
			const struct prof_location *loc = &p->locs[p->sample_loc[sm->loc_off + j]];
			for (uint32_t k = 0; k < loc->nframe; k++) {
				lost_here |= is_lost[p->frames[loc->frame_off + k]];
			}
		}
		if (lost_here) {
			lost = wrap_add(lost, n);
		}
	}
	free(is_lost);
	if (ni >= 0) {
		fmt_value(cpubuf, sizeof cpubuf, cpu, "nanoseconds");
	} else {
		snprintf(cpubuf, sizeof cpubuf, "unknown");
	}
	fprintf(stderr, "cpuprof: %" PRId64 " samples (%" PRId64 " lost), %s CPU; wrote %s\n",
	        samples, lost, cpubuf, written);
}

/* Exits as the command did: its status, or its signal re-raised on ourselves. */
static int exit_like(int status)
{
	fflush(NULL);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		struct rlimit no_core = {0, 0};
		sigset_t set;

		/* The command may have dumped core already; do not add ours. */
		setrlimit(RLIMIT_CORE, &no_core);
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		return 128 + sig;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : TOOL_EXIT_FAIL;
}

static const char record_usage[] =
    "usage: cpuprof record [-F HZ] [-o OUT] [--max-depth N] [--] COMMAND [ARGS...]\n"
    "  Runs COMMAND with libcpuprof.so preloaded and writes its CPU profile.\n"
    "  -F HZ          sampling rate (CPUPROF_HZ; default: the library's, 100)\n"
    "  -o OUT         output (default cpuprof.pb.gz); a name ending in .svg writes a flame\n"
    "                 graph, one ending in .folded writes folded stacks\n"
    "  --max-depth N  frames kept per sample (CPUPROF_MAX_DEPTH)\n"
    "  The library is $CPUPROF_LIB if set, else libcpuprof.so next to cpuprof, else the\n"
    "  one in " CPUPROF_INSTALL_LIBDIR ". Exits with COMMAND's status (or its signal).\n";

int cmd_record(int argc, char **argv)
{
	const char *out = "cpuprof.pb.gz", *hz = NULL, *depth = NULL, *v;
	char lib[PATH_MAX], tmpdir[PATH_MAX] = "";
	char *prof_path = NULL, *out_abs = NULL;
	enum conv conv = CONV_NONE;
	struct run r;
	struct stat before;
	long long x;
	int i, rc, existed;

	memset(&r, 0, sizeof r);
	for (i = 1; i < argc; i++) {
		if (opt_flag(argv, i, "--")) {
			i++;
			break;
		}
		if (argv[i][0] != '-') {
			break;
		}
		if (opt_flag(argv, i, "-h") || opt_flag(argv, i, "--help")) {
			fputs(record_usage, stdout);
			return 0;
		} else if ((rc = opt_value(argc, argv, &i, "-F", &v)) != 0 ||
		           (rc = opt_value(argc, argv, &i, "--hz", &v)) != 0) {
			if (rc < 0 || opt_int("-F", v, 1, CPUPROF_MAX_HZ, &x) < 0) {
				return TOOL_EXIT_USAGE;
			}
			hz = v;
		} else if ((rc = opt_value(argc, argv, &i, "-o", &v)) != 0 ||
		           (rc = opt_value(argc, argv, &i, "--output", &v)) != 0) {
			if (rc < 0) {
				return TOOL_EXIT_USAGE;
			}
			if (!*v) {
				tool_error("record: -o wants a file name");
				return TOOL_EXIT_USAGE;
			}
			out = v;
		} else if ((rc = opt_value(argc, argv, &i, "--max-depth", &v)) != 0) {
			if (rc < 0 || opt_int("--max-depth", v, 1, CPUPROF_MAX_MAX_DEPTH, &x) < 0) {
				return TOOL_EXIT_USAGE;
			}
			depth = v;
		} else {
			tool_error("record: unknown option '%s' (see cpuprof record --help)",
			           argv[i]);
			return TOOL_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		tool_error("record: no command given (usage: cpuprof record [-F HZ] [-o OUT] -- "
		           "COMMAND [ARGS...])");
		return TOOL_EXIT_USAGE;
	}
	if (find_lib(lib) < 0) {
		return TOOL_EXIT_FAIL;
	}
	if (strpbrk(lib, " :")) {
		tool_error("record: the library path '%s' holds a space or ':', which LD_PRELOAD "
		           "cannot carry",
		           lib);
		return TOOL_EXIT_FAIL;
	}
	conv = ends_with(out, ".svg")      ? CONV_SVG
	       : ends_with(out, ".folded") ? CONV_FOLDED
	                                   : CONV_NONE;
	out_abs = absolute(out);
	if (!out_abs) {
		tool_error("record: out of memory");
		return TOOL_EXIT_FAIL;
	}
	if (conv != CONV_NONE) {
		/* Profile to a private temporary file, convert at the end. */
		const char *t = getenv("TMPDIR");
		snprintf(tmpdir, sizeof tmpdir, "%s/cpuprof-record.XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(tmpdir)) {
			tool_error("record: cannot make a temporary directory %s: %s", tmpdir,
			           strerror(errno));
			free(out_abs);
			return TOOL_EXIT_FAIL;
		}
		prof_path = malloc(strlen(tmpdir) + sizeof "/profile.pb.gz");
		if (prof_path) {
			sprintf(prof_path, "%s/profile.pb.gz", tmpdir);
		}
	} else {
		prof_path = strdup(out_abs);
	}
	if (!prof_path) {
		tool_error("record: out of memory");
		rc = TOOL_EXIT_FAIL;
		goto out;
	}
	existed = stat(prof_path, &before) == 0;

	r.cmd = argv + i;
	r.lib = lib;
	r.prof_path = prof_path;
	r.hz = hz;
	r.depth = depth;
	if (run_command(&r) < 0) {
		rc = TOOL_EXIT_FAIL;
		goto out;
	}
	if (r.exec_errno) {
		tool_error("record: cannot run '%s': %s", r.cmd[0], strerror(r.exec_errno));
		rc = r.exec_errno == ENOENT ? 127 : 126;
		goto out;
	}
	if (!is_new_file(prof_path, &before, existed) && WIFSIGNALED(r.status)) {
		tool_error("record: '%s' was killed by signal %d (%s) and wrote no profile to %s",
		           r.cmd[0], WTERMSIG(r.status), strsignal(WTERMSIG(r.status)), prof_path);
	} else if (!is_new_file(prof_path, &before, existed)) {
		tool_error(
		    "record: '%s' exited with status %d and wrote no profile to %s (a static "
		    "binary ignores LD_PRELOAD; LD_PRELOAD=%s)",
		    r.cmd[0], WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, prof_path, lib);
	} else {
		struct prof p;
		if (tool_load(prof_path, &p) == 0) {
			int wrc = 0;
			if (conv == CONV_SVG) {
				struct flamegraph_opts fo = {NULL, NULL};
				wrc = tool_write_output(out_abs, flamegraph_writer, &p, prof_path,
				                        &fo);
			} else if (conv == CONV_FOLDED) {
				wrc =
				    tool_write_output(out_abs, folded_writer, &p, prof_path, NULL);
			}
			if (wrc == 0) {
				summarize(&p, out);
			}
			prof_free(&p);
		}
	}
	rc = -1; /* exit as the command did, once the temporary files are gone */
out:
	if (tmpdir[0]) {
		if (prof_path) {
			unlink(prof_path);
		}
		rmdir(tmpdir);
	}
	free(prof_path);
	free(out_abs);
	return rc == -1 ? exit_like(r.status) : rc;
}
