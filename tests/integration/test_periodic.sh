#!/bin/sh
# Periodic profiles: 1 s windows for 3.5 s. Every window is a valid profile of the burning
# function; the windows are back to back (each starts where the previous ended) and their
# durations add up to the run, including the partial last window written at stop; with
# keep=2 only the newest 2 files remain. (Preload mode: test_periodic_preload.sh.)
. "$(dirname "$0")/lib.sh"

# windows DIR: the files of DIR in window order.
windows() { ls "$1" | sort -t- -k3 -n | sed "s|^|$1/|"; }

mkdir "$TMP/all" "$TMP/keep2"
"$PROG/prog_periodic" "$TMP/all" 1 0 3.5 >"$TMP/run.txt"
cat "$TMP/run.txt"
n=$(windows "$TMP/all" | wc -l)
echo "$n windows"
[ "$n" -ge 4 ] || fail "3.5 s of 1 s windows wrote $n files, want 4 (3 full and the partial)"
: >"$TMP/windows.txt"
for f in $(windows "$TMP/all"); do
	pprof_ok "$f"
	awk '/^time_nanos:/ { t = $2 } /^duration_nanos:/ { d = $2 } END { print t, d }' \
		"$TMP/decoded.txt" >>"$TMP/windows.txt"
	top "$f"
	grep -q periodic_burn "$TMP/top.txt" || fail "$f does not name periodic_burn"
done
cat "$TMP/windows.txt"
# Full windows last 1 s (the writer wakes on time); each starts where the last ended.
awk 'NR > 1 && prev_t != "" {
		gap = ($1 - (prev_t + prev_d)) / 1e6
		if (gap < -5 || gap > 5) { print "window " NR " starts " gap " ms off the end of the previous"; bad = 1 }
	}
	{ prev_t = $1; prev_d = $2 }
	END { exit bad }' "$TMP/windows.txt" || fail "the windows are not back to back"
awk -v n="$n" 'NR < n { if ($2 < 0.98e9 || $2 > 1.25e9) { print "window " NR " lasts " $2 " ns"; bad = 1 } }
	END { exit bad }' "$TMP/windows.txt" || fail "a full window is not 1 s long"
sum=$(awk '{ s += $2 } END { printf "%.0f", s }' "$TMP/windows.txt")
inner=$(awk '$1 == "inner" { print $2 }' "$TMP/run.txt")
outer=$(awk '$1 == "outer" { print $2 }' "$TMP/run.txt")
echo "windows sum to $sum ns; the run lasted $inner .. $outer ns"
awk -v s="$sum" -v i="$inner" -v o="$outer" 'BEGIN { exit !(s >= i - 2e6 && s <= o + 2e6) }' ||
	fail "the windows sum to $sum ns, not within the run ($inner .. $outer ns)"

"$PROG/prog_periodic" "$TMP/keep2" 1 2 3.5 >/dev/null
ls "$TMP/keep2"
n=$(windows "$TMP/keep2" | wc -l)
[ "$n" -eq 2 ] || fail "keep=2 left $n files"
for f in $(windows "$TMP/keep2"); do
	pprof_ok "$f"
done
# The newest two remain: of windows 1..4 (or more), the last two.
first=$(windows "$TMP/keep2" | head -n1 | sed 's/.*-\([0-9]*\)\.pb\.gz$/\1/')
last=$(windows "$TMP/keep2" | tail -n1 | sed 's/.*-\([0-9]*\)\.pb\.gz$/\1/')
[ "$last" -ge 4 ] && [ "$first" -eq $((last - 1)) ] ||
	fail "keep=2 kept the wrong files: $(ls "$TMP/keep2")"
echo "PASS"
