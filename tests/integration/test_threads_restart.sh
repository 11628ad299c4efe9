#!/bin/sh
# Stop, then start again at once with busy threads at 1000 Hz: the second profile holds
# no sample of the first run (its CPU total is not inflated past the second window's own
# process CPU time), and both profiles are valid.
. "$(dirname "$0")/lib.sh"

for engine in perf timer; do
	TEST_ENGINE=$engine "$PROG/prog_threads" restart "$TMP/r1.pb.gz" "$TMP/r2.pb.gz" 1000 >"$TMP/out.txt"
	pprof_ok "$TMP/r1.pb.gz"
	pprof_ok "$TMP/r2.pb.gz"
	cpu2=$(total_cpu_ns "$TMP/r2.pb.gz")
	proc2=$(awk '$1 == "process_cpu2" { printf "%.0f", $2 * 1e9 }' "$TMP/out.txt")
	echo "$engine: second profile $cpu2 ns, its window's process CPU $proc2 ns"
	awk -v a="$cpu2" -v b="$proc2" 'BEGIN { exit !(a <= 1.05 * b && a > 0.5 * b) }' ||
		fail "$engine: second profile's CPU is outside (0.5, 1.05] of its window"
done
echo PASS
