#!/bin/sh
# Core accuracy: three functions burning 50/30/20 of thread CPU time, profiled through the
# API at 100 Hz for 2.5 s. go tool pprof must name them with shares within 10 points of
# the truth measured by CLOCK_THREAD_CPUTIME_ID, total cpu/nanoseconds within 10% of the
# process CPU time, and the -O2 inlined helper must appear as an inline frame with file:line.
. "$(dirname "$0")/lib.sh"

"$PROG/prog_split" "$TMP/split.pb.gz" 100 2.5 >"$TMP/truth.txt"
pprof_ok "$TMP/split.pb.gz"
top "$TMP/split.pb.gz"
cat "$TMP/top.txt"

sum=$(awk '$1 == "truth" { s += $3 } END { print s }' "$TMP/truth.txt")
for f in work_a work_b work_c; do
	truth=$(awk -v f=$f -v s="$sum" '$1 == "truth" && $2 == f { printf "%.2f", 100 * $3 / s }' "$TMP/truth.txt")
	got=$(cum_pct $f)
	echo "$f: profile ${got}% truth ${truth}%"
	within "$got" "$truth" 10 || fail "$f share ${got}% is not within 10 points of ${truth}%"
done

cpu_total_ok "$TMP/split.pb.gz" "$TMP/truth.txt" split

# Inline frame: mix_step inlined into work_a, shown with its source file and line.
go tool pprof -traces "$TMP/split.pb.gz" >"$TMP/traces.txt"
grep -q 'mix_step.*(inline)' "$TMP/traces.txt" || fail "no inline frame for mix_step in -traces"
grep -A2 'mix_step' "$TMP/decoded.txt" >/dev/null
go tool pprof -raw "$TMP/split.pb.gz" | grep -E 'mix_step .*split\.c:[0-9]+' >/dev/null ||
	fail "mix_step has no split.c:line in -raw"
# Each function carries its source file.
go tool pprof -raw "$TMP/split.pb.gz" | grep -E 'work_b .*split\.c:[0-9]+' >/dev/null ||
	fail "work_b has no split.c:line"
echo "PASS"
