#!/bin/sh
# The torture suite (ctest label stress). Many threads at the highest rate while the
# program mallocs and frees hard, dlopens and dlcloses, forks and execs, creates and joins
# threads, blocks in read/nanosleep/futex, and another thread starts and stops the
# profiler in a loop. Passes only with: no crash, no hang (the program's own watchdog plus
# ctest's timeout), every cycle's profile valid, samples + counted losses in each profile
# equal to the weighted signals the handler accepted in that run, and no EINTR in the
# blocking calls. TORTURE_SECONDS sets the length (CI: the bounded default; `make stress`: 30).
. "$(dirname "$0")/lib.sh"
# Under ASan+UBSan everything runs several times slower (a stop's symbolization most of
# all): a longer run for at least 2 cycles.
if [ "${CPUPROF_SANITIZE:-0}" = 1 ]; then
	secs=${TORTURE_SECONDS:-20} min_cycles=2
else
	secs=${TORTURE_SECONDS:-8} min_cycles=3
fi

"$PROG/prog_torture" "$TMP" "$secs" >"$TMP/out.txt" || fail "the torture program failed (status $?)"
cat "$TMP/out.txt"
cycles=0
while read -r tag k path w weight s signals; do
	[ "$tag" = cycle ] || continue
	cycles=$((cycles + 1))
	pprof_ok "$path"
	# samples/count summed over all samples, normal and synthetic (losses).
	got=$(go tool pprof -raw "$path" 2>/dev/null | awk '
		/^Samples:/ { s = 1; next } s && /^Locations/ { s = 0 }
		s && $1 ~ /^[0-9]+$/ { t += $1 } END { printf "%.0f", t }')
	echo "cycle $k: profile $got samples, handler accepted $weight (signals $signals)"
	[ "$got" = "$weight" ] || fail "cycle $k: samples + losses $got != accepted $weight"
done <"$TMP/out.txt"
[ "$cycles" -ge "$min_cycles" ] || fail "only $cycles start/stop cycles ran"
eintr=$(awk '$1 == "eintr" { print $3 + $5 + $7 }' "$TMP/out.txt")
engine=$(awk '$1 == "eintr" { print $9 }' "$TMP/out.txt")
if [ "$engine" = perf ]; then
	[ "$eintr" = 0 ] || fail "blocking calls saw EINTR $eintr times"
else
	# CPU timers fire on the tick, which may land while a thread is inside a syscall:
	# Linux then fails nanosleep/timed waits with EINTR whatever SA_RESTART says
	# (docs/SIGNAL-SAFETY.md). read and untimed futex waits must still restart.
	awk '$1 == "eintr" { exit !($3 == 0 && $7 == 0) }' "$TMP/out.txt" ||
		fail "read or futex saw EINTR with the timer engine"
fi
echo PASS
