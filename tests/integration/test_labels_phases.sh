#!/bin/sh
# Labels: a workload spends 70/30 of its CPU time in two phases labelled phase=parse
# (cpuprof_labels_set) and phase=render (cpuprof_labels_push/pop), profiled at 100 Hz for
# 2 s. go tool pprof -tags must show both values with shares within 10 points of the
# truth measured by CLOCK_THREAD_CPUTIME_ID, and -tagfocus=phase=render must keep only
# the render function.
. "$(dirname "$0")/lib.sh"

"$PROG/prog_labels_phases" "$TMP/labels.pb.gz" 100 2 >"$TMP/truth.txt"
cat "$TMP/truth.txt"
pprof_ok "$TMP/labels.pb.gz"
go tool pprof -tags "$TMP/labels.pb.gz" >"$TMP/tags.txt" 2>"$TMP/tags.err" ||
	fail "go tool pprof -tags fails: $(cat "$TMP/tags.err")"
cat "$TMP/tags.txt"

sum=$(awk '$1 == "truth" { s += $3 } END { print s }' "$TMP/truth.txt")
for p in parse render; do
	truth=$(awk -v p=$p -v s="$sum" '$1 == "truth" && $2 == p { printf "%.2f", 100 * $3 / s }' \
		"$TMP/truth.txt")
	# In the "phase:" block, the line "  1.4s (70.00%): parse".
	got=$(awk -v p="$p" '
		/^ *phase: Total/ { inblk = 1; next }
		inblk && NF == 0 { inblk = 0 }
		inblk && $NF == p { v = $0; sub(/^[^(]*\( */, "", v); sub(/%.*/, "", v); print v; found = 1 }
		END { if (!found) print "missing" }' "$TMP/tags.txt")
	[ "$got" != missing ] || fail "go tool pprof -tags shows no phase=$p"
	echo "phase=$p: profile ${got}% truth ${truth}%"
	within "$got" "$truth" 10 || fail "phase=$p share ${got}% is not within 10 points of ${truth}%"
done
grep -q 'request: Total' "$TMP/tags.txt" || fail "the request label (kept under the push) is missing"

go tool pprof -top -nodecount=1000 -tagfocus=phase=render "$TMP/labels.pb.gz" >"$TMP/top.txt" \
	2>"$TMP/top.err" || fail "go tool pprof -tagfocus fails: $(cat "$TMP/top.err")"
cat "$TMP/top.txt"
[ "$(flat_pct render_phase)" != 0 ] || fail "-tagfocus=phase=render lost render_phase"
! grep -q parse_phase "$TMP/top.txt" || fail "-tagfocus=phase=render still shows parse_phase"
echo "PASS"
