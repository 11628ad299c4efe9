#!/bin/sh
# LD_PRELOAD mode on a program that knows nothing of cpuprof: a correct profile for every
# way of ending (return, exit from a second thread, SIGINT, SIGTERM, the toggle signal
# twice, CPUPROF_FLUSH before _exit), with the exit status unchanged; an exec'd child
# profiles into its own pid-suffixed file; a forked child stays silent and never touches
# the parent's profile; gperftools' variable names work as aliases.
. "$(dirname "$0")/lib.sh"
P="$PROG/prog_plain_preload"

run() { # run EXPECTED_STATUS OUT MODE...
	want=$1 out=$2
	shift 2
	set +e
	LD_PRELOAD="$LIB" CPUPROF_OUT="$out" CPUPROF_HZ=200 "$P" "$@" 2>"$TMP/stderr.txt"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "$*: exit status $got, want $want ($(cat "$TMP/stderr.txt"))"
	# The shell itself may report a death by SIGTERM ("Terminated"); nothing else.
	if grep -qv '^Terminated' "$TMP/stderr.txt"; then
		fail "$*: unexpected stderr: $(cat "$TMP/stderr.txt")"
	fi
}

hot_in() { # hot_in FILE FUNC: FUNC has a visible share of the profile
	pprof_ok "$1"
	top "$1"
	pct=$(cum_pct "$2")
	awk -v p="$pct" 'BEGIN { exit !(p > 50) }' || fail "$2 has only ${pct}% in $1"
}

run 7 "$TMP/ret.pb.gz" return
hot_in "$TMP/ret.pb.gz" hot_fn

run 5 "$TMP/exit2.pb.gz" exit2
hot_in "$TMP/exit2.pb.gz" hot_fn

# Killed by its signal, as without the profiler: sh reports 128 + signal.
run 130 "$TMP/int.pb.gz" sigint
hot_in "$TMP/int.pb.gz" hot_fn
run 143 "$TMP/term.pb.gz" sigterm
hot_in "$TMP/term.pb.gz" hot_fn

# The toggle signal twice: off -> on -> off writes the first numbered profile.
set +e
LD_PRELOAD="$LIB" CPUPROF_OUT="$TMP/tog.pb.gz" CPUPROF_SIGNAL=12 "$P" toggle 12 "$TMP/tog.1.pb.gz"
st=$?
set -e
[ "$st" = 0 ] || fail "toggle: exit status $st"
[ ! -e "$TMP/tog.pb.gz" ] || fail "toggle mode wrote the unnumbered file"
hot_in "$TMP/tog.1.pb.gz" hot_fn
cpu=$(total_cpu_ns "$TMP/tog.1.pb.gz")
awk -v a="$cpu" 'BEGIN { exit !(a > 0.35e9 && a < 0.65e9) }' ||
	fail "toggle: the profile holds $cpu ns, want only the ~0.5 s between the signals"

# An exec'd child profiles into OUT.<pid>; the parent's own file is intact.
run 0 "$TMP/ex.pb.gz" exec
hot_in "$TMP/ex.pb.gz" hot_fn
child=$(ls "$TMP"/ex.pb.gz.* 2>/dev/null | head -n 1)
[ -n "$child" ] || fail "the exec'd child wrote no profile of its own"
hot_in "$child" child_fn

# A forked child (no exec) stays silent: one profile, the parent's, without child_fn.
run 0 "$TMP/fk.pb.gz" fork
pprof_ok "$TMP/fk.pb.gz"
[ "$(ls "$TMP" | grep -c '^fk\.')" = 1 ] || fail "the forked child wrote a file"
top "$TMP/fk.pb.gz"
[ "$(cum_pct child_fn)" = 0 ] || fail "the parent's profile holds the forked child's samples"

# _exit skips every exit hook: CPUPROF_FLUSH=1 bounds what is lost.
set +e
LD_PRELOAD="$LIB" CPUPROF_OUT="$TMP/fl.pb.gz" CPUPROF_FLUSH=1 "$P" flushwait
set -e
hot_in "$TMP/fl.pb.gz" hot_fn

# gperftools' names: CPUPROFILE and CPUPROFILE_FREQUENCY.
set +e
LD_PRELOAD="$LIB" CPUPROFILE="$TMP/gp.pb.gz" CPUPROFILE_FREQUENCY=300 "$P" return
st=$?
set -e
[ "$st" = 7 ] || fail "CPUPROFILE alias: exit status $st"
pprof_ok "$TMP/gp.pb.gz"
grep -q 'hz=300' "$TMP/decoded.txt" || fail "CPUPROFILE_FREQUENCY was not used"

# Thread labels are on by default and can be turned off.
grep -q '"thread_id"' "$TMP/decoded.txt" || fail "no thread_id label by default"
set +e
LD_PRELOAD="$LIB" CPUPROF_OUT="$TMP/nolab.pb.gz" CPUPROF_THREAD_LABELS=0 "$P" return
set -e
pprof_ok "$TMP/nolab.pb.gz"
grep -q '"thread_id"' "$TMP/decoded.txt" && fail "CPUPROF_THREAD_LABELS=0 still labels samples"

# %p in the name becomes the pid.
run 7 "$TMP/pid-%p.pb.gz" return
ls "$TMP"/pid-[0-9]*.pb.gz >/dev/null 2>&1 || fail "%p was not expanded"
echo PASS
