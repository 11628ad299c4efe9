#!/bin/sh
# Stack depth: the default keeps 64 frames, the leaf end, and marks a deeper stack with a
# synthetic truncation frame at the root end; a configured depth of 512 keeps a 300-frame
# recursion whole, down to main.
. "$(dirname "$0")/lib.sh"

# frames_per_trace FILE: the frame count of every sample's stack (go tool pprof -traces).
frames_per_trace() {
	go tool pprof -traces "$1" 2>/dev/null | awk '
		/^-----------\+/ { if (n) print n; n = 0; in_t = 0; next }
		/^ +[0-9.]+[a-z]*s / { in_t = 1; n = 1; next }
		in_t && NF { n++ }
		END { if (n) print n }' | sort -n | uniq -c
}

"$PROG/prog_deep" "$TMP/d64.pb.gz" 200 300 64 0.5
pprof_ok "$TMP/d64.pb.gz"
top "$TMP/d64.pb.gz"
[ "$(flat_pct deep_leaf)" != 0 ] || fail "the leaf is missing from a truncated stack"
trunc=$(awk '/\[cpuprof\] truncated stack/ { gsub("%", "", $5); print $5 }' "$TMP/top.txt")
echo "depth 64: truncated-stack frame in ${trunc:-0}% of samples"
awk -v t="${trunc:-0}" 'BEGIN { exit !(t > 90) }' || fail "deep stacks are not marked truncated"
frames_per_trace "$TMP/d64.pb.gz" >"$TMP/hist64.txt"
cat "$TMP/hist64.txt"
max64=$(awk '{ m = $2 > m ? $2 : m } END { print m }' "$TMP/hist64.txt")
[ "$max64" = 65 ] || fail "depth 64 kept $max64 frames (want 64 + the truncation frame)"

"$PROG/prog_deep" "$TMP/d512.pb.gz" 200 300 512 0.5
pprof_ok "$TMP/d512.pb.gz"
top "$TMP/d512.pb.gz"
[ "$(cum_pct '[cpuprof] truncated stack')" = 0 ] || true
grep -q 'truncated stack' "$TMP/top.txt" && fail "a 300-frame stack was truncated at depth 512"
[ "$(cum_pct main)" != 0 ] || fail "main is not reached through 300 frames"
frames_per_trace "$TMP/d512.pb.gz" >"$TMP/hist512.txt"
max512=$(awk '{ m = $2 > m ? $2 : m } END { print m }' "$TMP/hist512.txt")
echo "depth 512: deepest stack kept $max512 frames"
[ "$max512" -ge 300 ] || fail "depth 512 kept only $max512 frames of a 300-frame recursion"
echo PASS
