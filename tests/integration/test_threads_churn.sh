#!/bin/sh
# Thread churn: 2,000 short threads created and joined while profiling at 1000 Hz. No
# crash, no timer or perf-event fd left behind (counted in /proc/self/timers and
# /proc/self/fd before and after), and their CPU is accounted for in the profile.
. "$(dirname "$0")/lib.sh"

for engine in perf timer; do
	TEST_ENGINE=$engine "$PROG/prog_threads" churn "$TMP/churn.pb.gz" 1000 2000 >"$TMP/out.txt"
	cat "$TMP/out.txt"
	pprof_ok "$TMP/churn.pb.gz"
	v() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/out.txt"; }
	[ "$(v timers_after)" = "$(v timers_before)" ] || fail "$engine: POSIX timers leaked"
	[ "$(v perf_fds_after)" = "$(v perf_fds_before)" ] || fail "$engine: perf event fds leaked"
	[ "$(v timers_during_max)" -le 8 ] || fail "$engine: timers pile up while threads churn"
	top "$TMP/churn.pb.gz"
	short_ns=$(awk '$1 == "short_threads_cpu" { printf "%.0f", $2 * 1e9 }' "$TMP/out.txt")
	total_ns=$(total_cpu_ns "$TMP/churn.pb.gz")
	# The short threads' samples: their own stacks, and the CPU their timers missed at exit
	# (booked under their start routine; under ASan that is ASan's own thread start).
	got=$(go tool pprof -top -nodecount=1000 -focus='short_main|exited thread' "$TMP/churn.pb.gz" 2>/dev/null |
		awk '/Total samples/ { } /^Showing nodes accounting for/ { v = $5; sub(",", "", v);
			u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
			m = (u == "s") ? 1e9 : ((u == "ms") ? 1e6 : 1e3); printf "%.0f", v * m }')
	echo "$engine: short threads truth $short_ns ns, profile $got ns (total $total_ns ns)"
	awk -v a="$got" -v b="$short_ns" 'BEGIN { r = a / b; exit !(r > 0.75 && r < 1.25) }' ||
		fail "$engine: the short threads' CPU is not accounted within 25%"
done
echo PASS
