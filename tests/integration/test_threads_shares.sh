#!/bin/sh
# 8 threads with unequal duty cycles on 2 cores, profiled at 100 Hz for 3 s with each
# engine: every thread's share in the profile (by its thread_name label) is within 5
# points of its share of thread CPU time, and samples x period is within 10% of the
# process CPU time of the window.
. "$(dirname "$0")/lib.sh"

for engine in perf timer; do
	TEST_ENGINE=$engine "$PROG/prog_threads" shares "$TMP/$engine.pb.gz" 100 3 >"$TMP/truth.txt"
	pprof_ok "$TMP/$engine.pb.gz"
	go tool pprof -tags -tagfocus=thread_name=w "$TMP/$engine.pb.gz" >"$TMP/tags.txt" 2>/dev/null ||
		fail "go tool pprof -tags failed"
	sum=$(awk '$1 == "truth" { s += $3 } END { print s }' "$TMP/truth.txt")
	tagsum=$(awk '/thread_name:/ { on = 1; next } on && NF == 0 { on = 0 }
		on { v = $1; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
		     m = (u == "s") ? 1000 : ((u == "us") ? 0.001 : 1); t += v * m } END { print t }' "$TMP/tags.txt")
	for i in 0 1 2 3 4 5 6 7; do
		truth=$(awk -v w=w$i -v s="$sum" '$1 == "truth" && $2 == w { printf "%.2f", 100 * $3 / s }' "$TMP/truth.txt")
		got=$(awk -v w=w$i -v s="$tagsum" '/thread_name:/ { on = 1; next } on && NF == 0 { on = 0 }
			on && $NF == w { v = $1; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
			     m = (u == "s") ? 1000 : ((u == "us") ? 0.001 : 1); printf "%.2f", 100 * v * m / s; f = 1 }
			END { if (!f) print 0 }' "$TMP/tags.txt")
		echo "$engine w$i: profile ${got}% truth ${truth}%"
		within "$got" "$truth" 5 || fail "$engine: thread w$i share ${got}% is not within 5 points of ${truth}%"
	done
	cpu_total_ok "$TMP/$engine.pb.gz" "$TMP/truth.txt" "$engine"
done
echo PASS
