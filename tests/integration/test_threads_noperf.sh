#!/bin/sh
# With perf_event_open forbidden by a seccomp filter the test process installs on itself,
# the AUTO engine falls back to CPU timers, says so in the profile's comments, and still
# weights samples to the asked rate (1000 Hz on a 250 Hz tick).
. "$(dirname "$0")/lib.sh"

"$PROG/prog_threads" noperf "$TMP/np.pb.gz" 1000 >"$TMP/out.txt"
grep -q '^engine timer$' "$TMP/out.txt" || fail "the API does not report the timer engine"
pprof_ok "$TMP/np.pb.gz"
grep -q 'engine=CPU timers' "$TMP/decoded.txt" || fail "the profile does not name the timer engine"
grep -q 'effective rate' "$TMP/decoded.txt" || fail "the profile does not state the effective rate"
cpu=$(total_cpu_ns "$TMP/np.pb.gz")
echo "profile cpu $cpu ns for ~0.5 s of work"
awk -v a="$cpu" 'BEGIN { exit !(a > 0.4e9 && a < 0.65e9) }' || fail "weighted total $cpu ns is off"
echo PASS
