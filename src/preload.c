/*
 * preload: profiling an unmodified program from its environment, when libcpuprof is
 * loaded with LD_PRELOAD (or linked) and CPUPROF_OUT (or gperftools' CPUPROFILE) is set.
 *
 * The constructor reads and validates every variable; any invalid value prints one line
 * naming it and the program runs unprofiled. The profile is written however the program
 * ends: at exit (atexit, any thread), and on SIGINT/SIGTERM/SIGHUP left at their default
 * action, where a tiny handler hands the signal to a control thread that writes the
 * profile and then re-raises the signal with its default action, so the exit status is
 * the one the program would have had. The control thread also serves the toggle signal
 * and periodic flushes. A fork child stays silent; an exec'd child profiles itself into
 * its own pid-suffixed file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpuprof.h"
#include "preload.h"
#include "service.h"

static struct cpuprof__preload_config cfg;
static int ctl_pipe[2] = {-1, -1};
static int toggle_count;
static const int term_signals[] = {SIGINT, SIGTERM, SIGHUP};
static int term_installed[3];

static void say(const char *fmt, const char *a, const char *b)
{
	char line[PATH_MAX + 256];
	int n = snprintf(line, sizeof(line), fmt, a, b);
	if (n > 0) {
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}

/* Parses a decimal integer in [lo, hi]; returns 0 or -1. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
	if (!s || !*s) {
		return -1;
	}
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		return -1;
	}
	*out = v;
	return 0;
}

/* Expands %p (pid) and %t (start time, seconds since the epoch) and %% in `pat`. */
int cpuprof__expand_path(const char *pat, long pid, long t, char *out, size_t outsz,
			 int *had_pid)
{
	size_t o = 0;
	*had_pid = 0;
	for (const char *p = pat; *p; p++) {
		char tmp[32];
		const char *ins = NULL;
		if (p[0] == '%' && p[1] == 'p') {
			snprintf(tmp, sizeof(tmp), "%ld", pid);
			ins = tmp;
			*had_pid = 1;
			p++;
		} else if (p[0] == '%' && p[1] == 't') {
			snprintf(tmp, sizeof(tmp), "%ld", t);
			ins = tmp;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			ins = "%";
			p++;
		}
		if (ins) {
			size_t l = strlen(ins);
			if (o + l >= outsz) {
				return -1;
			}
			memcpy(out + o, ins, l);
			o += l;
		} else {
			if (o + 1 >= outsz) {
				return -1;
			}
			out[o++] = *p;
		}
	}
	out[o] = 0;
	return 0;
}

/* "a/b.pb.gz" with k -> "a/b.k.pb.gz"; without the .pb.gz ending, "name.k". */
int cpuprof__numbered_path(const char *path, int k, char *out, size_t outsz)
{
	size_t l = strlen(path);
	const char *ext = ".pb.gz";
	size_t el = strlen(ext);
	int n;
	if (l > el && strcmp(path + l - el, ext) == 0) {
		n = snprintf(out, outsz, "%.*s.%d%s", (int)(l - el), path, k, ext);
	} else {
		n = snprintf(out, outsz, "%s.%d", path, k);
	}
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static const char *getenv2(const char *name, const char *alias, const char **which)
{
	const char *v = getenv(name);
	*which = name;
	if (!v && alias) {
		v = getenv(alias);
		*which = alias;
	}
	return v;
}

int cpuprof__preload_parse(struct cpuprof__preload_config *c, char *err, size_t errsz)
{
	const char *which;
	const char *v;
	long x;
	memset(c, 0, sizeof(*c));
	c->hz = CPUPROF_DEFAULT_HZ;
	c->max_depth = CPUPROF_DEFAULT_MAX_DEPTH;
	c->thread_labels = 1;
	c->engine = CPUPROF_ENGINE_AUTO;

	v = getenv2("CPUPROF_OUT", "CPUPROFILE", &which);
	c->out_set = v != NULL;
	if (v) {
		if (!*v) {
			snprintf(err, errsz, "%s is empty: it must name the profile file", which);
			return -1;
		}
		if (strlen(v) >= sizeof(c->out)) {
			snprintf(err, errsz, "%s is too long", which);
			return -1;
		}
		snprintf(c->out, sizeof(c->out), "%s", v);
	}
	v = getenv2("CPUPROF_HZ", "CPUPROFILE_FREQUENCY", &which);
	if (v) {
		if (parse_int(v, LONG_MIN, LONG_MAX, &x) != 0) {
			snprintf(err, errsz, "%s=%.64s is not a rate in Hz (an integer; 0 means off)",
				 which, v);
			return -1;
		}
		c->hz = x <= 0 ? 0 : (x > CPUPROF_MAX_HZ ? CPUPROF_MAX_HZ : (int)x);
	}
	v = getenv("CPUPROF_MAX_DEPTH");
	if (v) {
		if (parse_int(v, 1, CPUPROF_MAX_MAX_DEPTH, &x) != 0) {
			snprintf(err, errsz, "CPUPROF_MAX_DEPTH=%.64s is not a depth in 1..%d", v,
				 CPUPROF_MAX_MAX_DEPTH);
			return -1;
		}
		c->max_depth = (int)x;
	}
	v = getenv("CPUPROF_SIGNAL");
	if (!v) {
		v = getenv("CPUPROFILESIGNAL");
	}
	if (v) {
		if (parse_int(v, 1, SIGRTMAX, &x) != 0 || x == SIGKILL || x == SIGSTOP ||
		    x == SIGPROF || x == SIGSEGV || x == SIGBUS || x == SIGFPE || x == SIGILL) {
			snprintf(err, errsz,
				 "CPUPROF_SIGNAL=%.64s is not a usable signal number (1..%d, not "
				 "SIGKILL, SIGSTOP, SIGPROF or a fault signal)",
				 v, SIGRTMAX);
			return -1;
		}
		c->toggle_signal = (int)x;
	}
	v = getenv("CPUPROF_FLUSH");
	if (v) {
		if (parse_int(v, 1, 86400, &x) != 0) {
			snprintf(err, errsz, "CPUPROF_FLUSH=%.64s is not a number of seconds (1..86400)",
				 v);
			return -1;
		}
		c->flush_seconds = (int)x;
	}
	v = getenv("CPUPROF_ENGINE");
	if (v) {
		if (strcmp(v, "auto") == 0) {
			c->engine = CPUPROF_ENGINE_AUTO;
		} else if (strcmp(v, "timer") == 0) {
			c->engine = CPUPROF_ENGINE_TIMER;
		} else if (strcmp(v, "perf") == 0) {
			c->engine = CPUPROF_ENGINE_PERF;
		} else {
			snprintf(err, errsz, "CPUPROF_ENGINE=%.64s is not one of auto, timer, perf", v);
			return -1;
		}
	}
	v = getenv("CPUPROF_THREAD_LABELS");
	if (v) {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
			snprintf(err, errsz, "CPUPROF_THREAD_LABELS=%.64s is not 0 or 1", v);
			return -1;
		}
		c->thread_labels = v[0] == '1';
	}
	v = getenv("CPUPROF_HTTP");
	if (v) {
		if (cpuprof__parse_hostport(v, c->http_host, sizeof(c->http_host), &c->http_port) !=
		    0) {
			snprintf(err, errsz, "CPUPROF_HTTP=%.64s is not host:port (e.g. 127.0.0.1:6060)",
				 v);
			return -1;
		}
		c->http_set = 1;
	}
	v = getenv("CPUPROF_PERIODIC");
	if (v) {
		/* dir:seconds[:keep]. The dir may hold colons itself, so the numbers come off
		 * the end: "d:10:5" is d, 10 s, keep 5; "d:10" is d, 10 s, keep all. */
		const char *c1 = strrchr(v, ':'), *c2 = NULL;
		long secs = 0, keep = 0;
		char num[24];
		for (const char *q = c1; q && q > v && !c2;) {
			q--;
			c2 = *q == ':' ? q : NULL;
		}
		size_t nl = c2 ? (size_t)(c1 - c2 - 1) : 0;
		if (c2 && nl < sizeof(num)) {
			memcpy(num, c2 + 1, nl);
			num[nl] = 0;
		}
		if (c2 && nl < sizeof(num) && parse_int(num, 1, 86400, &secs) == 0 &&
		    parse_int(c1 + 1, 0, INT_MAX, &keep) == 0) {
			c1 = c2;
		} else if (!c1 || parse_int(c1 + 1, 1, 86400, &secs) != 0) {
			c1 = NULL;
		}
		if (!c1 || c1 == v || (size_t)(c1 - v) >= sizeof(c->periodic_dir)) {
			snprintf(err, errsz,
				 "CPUPROF_PERIODIC=%.64s is not dir:seconds[:keep] (seconds 1..86400, "
				 "keep 0 or more, 0 keeps all)",
				 v);
			return -1;
		}
		memcpy(c->periodic_dir, v, (size_t)(c1 - v));
		c->periodic_dir[c1 - v] = 0;
		c->periodic_seconds = (int)secs;
		c->periodic_keep = (int)keep;
		c->periodic_set = 1;
	}
	return 0;
}

int cpuprof__parse_hostport(const char *s, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon) {
		return -1;
	}
	size_t hl = (size_t)(colon - s);
	if (hl >= hostsz) {
		return -1;
	}
	long p;
	if (parse_int(colon + 1, 0, 65535, &p) != 0) {
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = 0;
	if (hl == 0) {
		snprintf(host, hostsz, "127.0.0.1");
	}
	for (size_t i = 0; host[i]; i++) {
		if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.')) {
			if (strcmp(host, "localhost") == 0) {
				snprintf(host, hostsz, "127.0.0.1");
				break;
			}
			return -1;
		}
	}
	*port = (int)p;
	return 0;
}

static int start_profile(const char *path)
{
	cpuprof_options *o = cpuprof_options_new();
	if (!o) {
		return CPUPROF_ENOMEM;
	}
	cpuprof_options_set_hz(o, cfg.hz);
	cpuprof_options_set_max_depth(o, cfg.max_depth);
	cpuprof_options_set_thread_labels(o, cfg.thread_labels);
	cpuprof_options_set_engine(o, cfg.engine);
	int err = cpuprof_start_opts(path, o);
	cpuprof_options_free(o);
	return err;
}

static void stop_profile(void)
{
	int err = cpuprof_stop();
	if (err && err != CPUPROF_ENOTRUNNING) {
		say("cpuprof: could not write the profile: %s%s\n", cpuprof_strerror(err), "");
	}
}

/* Always stops (a no-op in a fork child, which forgot the parent's profile): if the
 * control thread is writing the profile for a termination signal right now, this waits for
 * it on the API lock instead of letting exit_group cut the write short. */
static void at_exit(void)
{
	stop_profile();
}

static void ctl_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	(void)!write(ctl_pipe[1], &b, 1);
	errno = saved;
}

static void toggle(void)
{
	if (cpuprof_stop() == 0) {
		return; /* that was "off": the numbered profile is written */
	}
	char path[sizeof(cfg.out) + 32];
	if (cpuprof__numbered_path(cfg.path, ++toggle_count, path, sizeof(path)) != 0) {
		return;
	}
	int err = start_profile(path);
	if (err) {
		say("cpuprof: cannot start profiling to %s: %s\n", path, cpuprof_strerror(err));
	}
}

static void *ctl_main(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	next.tv_sec += cfg.flush_seconds;
	for (;;) {
		int timeout = -1;
		if (cfg.flush_seconds) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long ms = (next.tv_sec - now.tv_sec) * 1000 + (next.tv_nsec - now.tv_nsec) / 1000000;
			timeout = ms < 0 ? 0 : (int)ms;
		}
		struct pollfd pfd = {.fd = ctl_pipe[0], .events = POLLIN};
		int r = poll(&pfd, 1, timeout);
		if (r == 0) {
			(void)cpuprof_flush();
			next.tv_sec += cfg.flush_seconds;
			continue;
		}
		unsigned char sig;
		if (r < 0 || read(ctl_pipe[0], &sig, 1) != 1) {
			continue;
		}
		if (sig == cfg.toggle_signal) {
			toggle();
			continue;
		}
		/* A termination signal at its default action: write, then die by it. */
		stop_profile();
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		kill(getpid(), sig);
		/* Not reached unless the signal is blocked elsewhere; keep serving. */
	}
	return NULL;
}

/* fork child: no control thread exists here. Put termination signals back to their
 * default action so the child dies as it would have, and never write the parent's file. */
static void atfork_child(void)
{
	/* No control thread exists here, and the pipe is the parent's: our handlers would
	 * hand the child's signals to the parent. Put back the default action, but only
	 * where our handler still is (the program may have installed its own since). */
	for (int i = 0; i < 3; i++) {
		struct sigaction cur;
		if (term_installed[i] && sigaction(term_signals[i], NULL, &cur) == 0 &&
		    !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == ctl_signal) {
			signal(term_signals[i], SIG_DFL);
		}
		term_installed[i] = 0;
	}
	struct sigaction cur;
	if (cfg.toggle_signal && sigaction(cfg.toggle_signal, NULL, &cur) == 0 &&
	    !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == ctl_signal) {
		signal(cfg.toggle_signal, SIG_DFL);
	}
	if (ctl_pipe[0] >= 0) {
		close(ctl_pipe[0]);
		close(ctl_pipe[1]);
		ctl_pipe[0] = ctl_pipe[1] = -1;
	}
}

static int start_control(void)
{
	if (pipe2(ctl_pipe, O_CLOEXEC) != 0) {
		return -1;
	}
	fcntl(ctl_pipe[1], F_SETFL, O_NONBLOCK);
	/* The control thread blocks the host's signals (service.h), not SIGPROF. */
	sigset_t all, old;
	cpuprof__service_sigmask(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &attr, ctl_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		pthread_setname_np(th, "cpuprof-ctl");
	}
	return rc == 0 ? 0 : -1;
}

static void install_ctl_handler(int sig, int *installed)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ctl_signal;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
	    old.sa_handler == SIG_DFL) {
		if (sigaction(sig, &sa, NULL) == 0 && installed) {
			*installed = 1;
		}
	}
}

static void periodic_at_exit(void)
{
	(void)cpuprof_periodic_stop();
}

__attribute__((constructor)) static void preload_init(void)
{
	char err[512];
	const char *out = getenv("CPUPROF_OUT");
	if (!out) {
		out = getenv("CPUPROFILE");
	}
	if (!out && !getenv("CPUPROF_HTTP") && !getenv("CPUPROF_PERIODIC")) {
		return; /* not asked to profile from the environment */
	}
	if (cpuprof__preload_parse(&cfg, err, sizeof(err)) != 0) {
		say("cpuprof: %s; running without profiling\n", err, "");
		return;
	}
	long pid = (long)getpid();
	/* A descendant (exec'd child) profiles into its own file: the first process marks
	 * the environment with its pid, and any other pid that sees the mark is a child. */
	const char *root = getenv("CPUPROF_ROOT_PID");
	int child = root && atol(root) != pid;
	if (!root) {
		char b[32];
		snprintf(b, sizeof(b), "%ld", pid);
		setenv("CPUPROF_ROOT_PID", b, 1);
	}
	if (cfg.http_set) {
		int port = cpuprof_http_start(cfg.http_host, cfg.http_port, cfg.hz);
		if (port < 0) {
			char hp[128];
			snprintf(hp, sizeof(hp), "%s:%d", cfg.http_host, cfg.http_port);
			say("cpuprof: cannot serve CPUPROF_HTTP=%s: %s\n", hp, cpuprof_strerror(port));
		}
	}
	if (cfg.periodic_set && cfg.hz > 0) {
		int e = cpuprof_periodic_start(cfg.periodic_dir, cfg.periodic_seconds,
					       cfg.periodic_keep, cfg.hz);
		if (e) {
			say("cpuprof: cannot write CPUPROF_PERIODIC profiles into %s: %s\n",
			    cfg.periodic_dir, cpuprof_strerror(e));
		} else {
			atexit(periodic_at_exit); /* writes the last, partial window */
		}
	}
	if (!cfg.out_set) {
		return;
	}
	if (cfg.hz == 0) {
		return; /* rate 0: profiling is off */
	}
	int had_pid = 0;
	if (cpuprof__expand_path(cfg.out, pid, (long)time(NULL), cfg.path, sizeof(cfg.path),
				 &had_pid) != 0) {
		say("cpuprof: CPUPROF_OUT=%s is too long%s; running without profiling\n", cfg.out, "");
		return;
	}
	if (child && !had_pid) {
		size_t l = strlen(cfg.path);
		snprintf(cfg.path + l, sizeof(cfg.path) - l, ".%ld", pid);
	}
	if (start_control() != 0) {
		say("cpuprof: cannot start the control thread%s%s; running without profiling\n", "",
		    "");
		return;
	}
	pthread_atfork(NULL, NULL, atfork_child);
	if (!cfg.toggle_signal) {
		int e = start_profile(cfg.path);
		if (e) {
			say("cpuprof: cannot profile to %s: %s; running without profiling\n", cfg.path,
			    cpuprof_strerror(e));
			return;
		}
	}
	atexit(at_exit);
	for (int i = 0; i < 3; i++) {
		install_ctl_handler(term_signals[i], &term_installed[i]);
	}
	if (cfg.toggle_signal) {
		install_ctl_handler(cfg.toggle_signal, NULL);
		struct sigaction cur;
		if (sigaction(cfg.toggle_signal, NULL, &cur) == 0 && cur.sa_handler != ctl_signal) {
			say("cpuprof: CPUPROF_SIGNAL=%s: that signal already has a handler%s\n",
			    getenv("CPUPROF_SIGNAL") ? getenv("CPUPROF_SIGNAL") : "?", "");
		}
	}
}
