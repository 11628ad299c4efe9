/*
 * The SIGPROF handler's decisions, driven deterministically with queued signals that carry
 * chosen cookies (rt_tgsigqueueinfo, SI_QUEUE): a signal with the current run's cookie is
 * recorded; a stale cookie (another run, a freed slot) is dropped; a SIGPROF that is not
 * ours goes to the handler installed before us; errno survives; the previous handler is
 * restored at stop; the unwinder keeps the leaf end of a deep stack and marks the cut.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "profile_check.h"
#include "core.h"
#include "cpuprof.h"
#include "frames.h"

static _Atomic int theirs_called;
static void their_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	atomic_fetch_add(&theirs_called, 1);
}

static void queue_self(uint64_t value)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGPROF;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)value;
	/* Thread-directed and synchronous: delivered before the syscall returns. */
	REQUIRE(syscall(SYS_rt_tgsigqueueinfo, getpid(), cpuprof__gettid(), SIGPROF, &si) == 0);
}

static uint64_t my_cookie(uint32_t run)
{
	struct cpuprof__thread *t = cpuprof__tls_slot;
	REQUIRE(t != NULL);
	return cpuprof__cookie(run, atomic_load(&t->gen), (uint32_t)(t - cpuprof__threads));
}

static void test_cookies(void)
{
	struct sigaction sa, before;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = their_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGPROF, &sa, &before) == 0);

	cpuprof_options *o = cpuprof_options_new();
	cpuprof_options_set_hz(o, 1); /* timers almost never fire: only our queued signals */
	cpuprof_options_set_engine(o, CPUPROF_ENGINE_TIMER);
	REQUIRE(cpuprof_start_opts("/tmp/cpuprof-test-signal.pb.gz", o) == 0);
	cpuprof_options_free(o);
	uint32_t run = atomic_load(&cpuprof__g.run);
	REQUIRE(run != 0);

	uint64_t s0 = atomic_load(&cpuprof__g.signals);
	errno = 4242;
	queue_self(my_cookie(run));
	CHECK_EQ(errno, 4242); /* the handler preserved errno */
	CHECK_EQ(atomic_load(&cpuprof__g.signals), s0 + 1);

	/* A stale run and a stale slot generation: ours, but dropped, never recorded. */
	uint64_t stale0 = atomic_load(&cpuprof__g.stale);
	queue_self(my_cookie(run + 1));
	struct cpuprof__thread *t = cpuprof__tls_slot;
	queue_self(cpuprof__cookie(run, atomic_load(&t->gen) + 1, (uint32_t)(t - cpuprof__threads)));
	CHECK_EQ(atomic_load(&cpuprof__g.stale), stale0 + 2);
	CHECK_EQ(atomic_load(&cpuprof__g.signals), s0 + 1);
	CHECK_EQ(atomic_load(&theirs_called), 0);

	/* Not ours (no magic), and a plain kill: passed to the program's own handler. */
	queue_self(12345);
	CHECK_EQ(atomic_load(&theirs_called), 1);
	syscall(SYS_tgkill, getpid(), cpuprof__gettid(), SIGPROF);
	CHECK_EQ(atomic_load(&theirs_called), 2);
	CHECK_EQ(atomic_load(&cpuprof__g.signals), s0 + 1);

	REQUIRE(cpuprof_stop() == 0);
	/* Their handler is back, and our old cookie no longer records anything. */
	struct sigaction now;
	sigaction(SIGPROF, NULL, &now);
	CHECK(now.sa_sigaction == their_handler);
	CHECK(profile_ok("/tmp/cpuprof-test-signal.pb.gz"));
	queue_self(my_cookie(run));
	CHECK_EQ(atomic_load(&theirs_called), 3);
	sigaction(SIGPROF, &before, NULL);
	unlink("/tmp/cpuprof-test-signal.pb.gz");
}

/* Sum of samples/count over a profile, by go tool pprof -raw. */
static long long profile_samples(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "HOME=/tmp go tool pprof -raw '%s' 2>/dev/null | awk '/^Samples:/ { s = 1; next } "
		 "s && /^Locations/ { s = 0 } s && $1 ~ /^[0-9]+$/ { t += $1 } END { print t + 0 }'",
		 path);
	FILE *p = popen(cmd, "r");
	long long v = -1;
	if (p) {
		if (fscanf(p, "%lld", &v) != 1) {
			v = -1;
		}
		pclose(p);
	}
	return v;
}

/* A signal that finds this thread's handler already running takes the side path: it is
 * kept in the side buffer and reaches the profile, not lost. */
static void test_reentry_side_path(void)
{
	const char *path = "/tmp/cpuprof-test-side.pb.gz";
	cpuprof_options *o = cpuprof_options_new();
	cpuprof_options_set_hz(o, 1);
	cpuprof_options_set_engine(o, CPUPROF_ENGINE_TIMER);
	REQUIRE(cpuprof_start_opts(path, o) == 0);
	cpuprof_options_free(o);
	uint32_t run = atomic_load(&cpuprof__g.run);
	struct cpuprof__thread *t = cpuprof__tls_slot;
	struct cpuprof__logset *ls = atomic_load(&cpuprof__g.log);
	atomic_store(&t->in_handler, 1); /* as if a handler of ours were below us */
	for (int i = 0; i < 3; i++) {
		queue_self(my_cookie(run));
	}
	atomic_store(&t->in_handler, 0);
	CHECK_EQ(atomic_load(&ls->side_ready), 3);
	REQUIRE(cpuprof_stop() == 0);
	cpuprof_stats st = {.size = sizeof(st)};
	cpuprof_get_stats(&st);
	CHECK_EQ(st.lost, 0);
	CHECK(st.weight >= 3);
	CHECK(profile_ok(path));
	CHECK_EQ(profile_samples(path), (long long)st.weight);
	unlink(path);
}

static void test_refuse_policy(void)
{
	struct sigaction sa, before;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = their_handler;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE(sigaction(SIGPROF, &sa, &before) == 0);
	cpuprof_options *o = cpuprof_options_new();
	cpuprof_options_set_sigprof_policy(o, CPUPROF_SIGPROF_REFUSE);
	CHECK_EQ(cpuprof_start_opts("/tmp/cpuprof-test-refuse.pb.gz", o), CPUPROF_ESIGCONFLICT);
	CHECK_EQ(cpuprof_running(), 0);
	cpuprof_options_free(o);
	struct sigaction now;
	sigaction(SIGPROF, NULL, &now);
	CHECK(now.sa_sigaction == their_handler);
	sigaction(SIGPROF, &before, NULL);
}

/* A previous SIG_DFL comes back as SIG_DFL, and a SIGPROF of ours still pending at stop
 * is discarded on the way (through SIG_IGN) instead of killing the program. */
static void test_dfl_restored_pending_discarded(void)
{
	signal(SIGPROF, SIG_DFL);
	REQUIRE(cpuprof_start("/tmp/cpuprof-test-dfl.pb.gz", 100) == 0);
	sigset_t prof, old;
	sigemptyset(&prof);
	sigaddset(&prof, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &prof, &old);
	queue_self(my_cookie(atomic_load(&cpuprof__g.run))); /* stays pending: blocked */
	sigset_t pending;
	sigpending(&pending);
	CHECK(sigismember(&pending, SIGPROF));
	REQUIRE(cpuprof_stop() == 0);
	CHECK(profile_ok("/tmp/cpuprof-test-dfl.pb.gz"));
	struct sigaction now;
	sigaction(SIGPROF, NULL, &now);
	CHECK(!(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL);
	sigpending(&pending);
	CHECK(!sigismember(&pending, SIGPROF));
	pthread_sigmask(SIG_SETMASK, &old, NULL); /* still alive */
	unlink("/tmp/cpuprof-test-dfl.pb.gz");
}

/* A fork child inherits our handler; starting a profile there must not take our own
 * handler for the program's (it would forward to itself forever). */
static void test_fork_child_restart(void)
{
	REQUIRE(cpuprof_start("/tmp/cpuprof-test-fork-parent.pb.gz", 100) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction now;
		sigaction(SIGPROF, NULL, &now);
		if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == cpuprof__sigprof_handler) {
			_exit(10); /* our handler left behind in the child */
		}
		if (cpuprof_start("/tmp/cpuprof-test-fork-child.pb.gz", 100) != 0) {
			_exit(11);
		}
		syscall(SYS_tgkill, getpid(), cpuprof__gettid(), SIGPROF); /* not ours: forwarded */
		_exit(cpuprof_stop() == 0 ? 0 : 12);
	}
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	REQUIRE(cpuprof_stop() == 0);
	CHECK(profile_ok("/tmp/cpuprof-test-fork-child.pb.gz"));
	unlink("/tmp/cpuprof-test-fork-parent.pb.gz");
	unlink("/tmp/cpuprof-test-fork-child.pb.gz");
}

/* ---- the unwinder on a real frame-pointer chain ---- */

static uint64_t out[1100];
static size_t nout;
static int more;

__attribute__((noinline)) static void capture(void)
{
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t sp = fp - 64;
	pthread_attr_t a;
	void *lo;
	size_t size;
	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &lo, &size);
	pthread_attr_destroy(&a);
	nout = cpuprof__unwind_fp((uintptr_t)capture, fp, sp, (uintptr_t)lo,
				  (uintptr_t)lo + size, out, 64, &more);
}

__attribute__((noinline)) static int recurse(int n)
{
	if (n == 0) {
		capture();
		return 0;
	}
	int r = recurse(n - 1);
	__asm__ volatile("" ::: "memory"); /* no tail call */
	return r + 1;
}

static void test_unwind(void)
{
	recurse(10);
	CHECK_EQ(more, 0);
	CHECK(nout >= 12); /* capture's pc, 10+1 recurse frames, test_unwind, main ... */
	recurse(200);
	CHECK_EQ(nout, 64); /* the leaf end is kept */
	CHECK_EQ(more, 1);  /* and the cut is reported */
	/* Garbage frame pointers end the walk without reading outside the bounds. */
	uint64_t o[8];
	int m;
	CHECK_EQ(cpuprof__unwind_fp(0x1000, 0x10, 0x8, 0x1000, 0x2000, o, 8, &m), 1);
	CHECK_EQ(cpuprof__unwind_fp(0x1000, 0x1ff9, 0x1000, 0x1000, 0x2000, o, 8, &m), 1);
	/* A frame whose "return address" is text, not code (a stale frame pointer into a
	 * buffer holding "AAAAAAAA"), ends the walk instead of becoming a frame. */
	uint64_t fake[4] = {0, 0x4141414141414141ull, 0, 0};
	uintptr_t ff = (uintptr_t)fake;
	fake[0] = ff + 16;
	CHECK_EQ(cpuprof__unwind_fp(0x1000, ff, ff, ff, ff + sizeof(fake), o, 8, &m), 1);
}

int main(void)
{
	test_unwind();
	test_cookies();
	test_reentry_side_path();
	test_refuse_policy();
	test_dfl_restored_pending_discarded();
	test_fork_child_restart();
	return check_exit();
}
