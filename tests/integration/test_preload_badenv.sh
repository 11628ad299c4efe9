#!/bin/sh
# Invalid environment values never break the host program: one stderr line naming the
# variable and the value, the program runs unprofiled with its normal exit status.
. "$(dirname "$0")/lib.sh"
P="$PROG/prog_plain_preload"

check() { # check VAR=VALUE...
	set +e
	env LD_PRELOAD="$LIB" CPUPROF_OUT="$TMP/bad.pb.gz" "$@" "$P" return 2>"$TMP/err.txt"
	st=$?
	set -e
	[ "$st" = 7 ] || fail "$*: exit status $st, want 7"
	lines=$(wc -l <"$TMP/err.txt")
	[ "$lines" = 1 ] || fail "$*: $lines stderr lines, want 1: $(cat "$TMP/err.txt")"
	var=${1%%=*}
	val=${1#*=}
	grep -qF -- "$var" "$TMP/err.txt" || fail "$*: the message does not name $var"
	grep -qF -- "$val" "$TMP/err.txt" || fail "$*: the message does not show the value $val"
	[ ! -e "$TMP/bad.pb.gz" ] || fail "$*: a profile was written anyway"
	echo "ok: $(cat "$TMP/err.txt")"
}

check CPUPROF_HZ=abc
check CPUPROF_HZ=12x
check CPUPROFILE_FREQUENCY=fast
check CPUPROF_MAX_DEPTH=0
check CPUPROF_MAX_DEPTH=99999
check CPUPROF_SIGNAL=9
check CPUPROF_SIGNAL=27
check CPUPROF_SIGNAL=notasignal
check CPUPROF_FLUSH=-1
check CPUPROF_ENGINE=turbo
check CPUPROF_THREAD_LABELS=yes
check CPUPROF_HTTP=nohostport

# An unwritable output path is reported at start; the program still runs normally.
set +e
LD_PRELOAD="$LIB" CPUPROF_OUT=/nonexistent-dir/p.pb.gz "$P" return 2>"$TMP/err.txt"
st=$?
set -e
[ "$st" = 7 ] || fail "unwritable path: exit status $st"
[ "$(wc -l <"$TMP/err.txt")" = 1 ] || fail "unwritable path: want one stderr line"
grep -q '/nonexistent-dir/p.pb.gz' "$TMP/err.txt" || fail "the message does not name the path"
echo "ok: $(cat "$TMP/err.txt")"

# A rate of 0 means off: no message, no profile.
set +e
LD_PRELOAD="$LIB" CPUPROF_OUT="$TMP/off.pb.gz" CPUPROF_HZ=0 "$P" return 2>"$TMP/err.txt"
st=$?
set -e
[ "$st" = 7 ] && [ ! -s "$TMP/err.txt" ] && [ ! -e "$TMP/off.pb.gz" ] || fail "CPUPROF_HZ=0 is not a silent off"
echo PASS
