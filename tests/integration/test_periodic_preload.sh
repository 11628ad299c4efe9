#!/bin/sh
# Periodic profiles in preload mode: CPUPROF_PERIODIC=dir:seconds[:keep] on a program that
# knows nothing of cpuprof writes the last, partial window at exit with the exit status
# unchanged; a bad value is one line on stderr naming the variable, and nothing is written.
. "$(dirname "$0")/lib.sh"

# windows DIR: the files of DIR in window order.
windows() { ls "$1" | sort -t- -k3 -n | sed "s|^|$1/|"; }

mkdir "$TMP/pre"
set +e
CPUPROF_PERIODIC="$TMP/pre:10:2" LD_PRELOAD="$LIB" "$PROG/prog_plain_preload" return \
	2>"$TMP/pre.err"
rc=$?
set -e
[ "$rc" = 7 ] || fail "preload: exit status $rc, want 7 ($(cat "$TMP/pre.err"))"
[ ! -s "$TMP/pre.err" ] || fail "preload: unexpected stderr: $(cat "$TMP/pre.err")"
n=$(windows "$TMP/pre" | wc -l)
[ "$n" -eq 1 ] || fail "preload: $n files, want the one partial window written at exit"
f=$(windows "$TMP/pre")
pprof_ok "$f"
top "$f"
grep -q hot_fn "$TMP/top.txt" || fail "preload: $f does not name hot_fn"

set +e
CPUPROF_PERIODIC="$TMP/pre:0" LD_PRELOAD="$LIB" "$PROG/prog_plain_preload" return \
	2>"$TMP/bad.err"
rc=$?
set -e
cat "$TMP/bad.err"
[ "$rc" = 7 ] || fail "preload with a bad CPUPROF_PERIODIC: exit status $rc, want 7"
[ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && grep -q 'CPUPROF_PERIODIC=' "$TMP/bad.err" ||
	fail "a bad CPUPROF_PERIODIC does not give one line naming it"
[ "$(windows "$TMP/pre" | wc -l)" -eq 1 ] || fail "a bad CPUPROF_PERIODIC still wrote files"
echo "PASS"
