#!/bin/sh
# cpuprof record: runs a program that knows nothing of cpuprof under the preloaded
# library and must exit as it did (status 3 here), leave a profile go tool pprof reads
# with the hot function in it, and print a summary; -o x.svg and -o x.folded convert
# (through a temporary file that is removed); a command killed by SIGTERM makes record
# die by SIGTERM too; SIGTERM sent to record reaches the command, which still writes its
# profile; the environment the command sees (LD_PRELOAD kept, CPUPROF_*) is checked.
# Needs libcpuprof's preload mode (CPUPROF_OUT honoured by $CPUPROF_BUILD/libcpuprof.so).
. "$(dirname "$0")/lib.sh"
TOOL="$CPUPROF_BUILD/cpuprof"
BURN="$CPUPROF_BUILD/tests/prog_tool_burn_preload"
T=$TMP
mkdir "$T/tmp"
export TMPDIR="$T/tmp"
cd "$T"

[ -x "$TOOL" ] || fail "$TOOL is not built"
[ -x "$BURN" ] || fail "$BURN is not built"
[ -e "$CPUPROF_BUILD/libcpuprof.so" ] || fail "$CPUPROF_BUILD/libcpuprof.so is not built"

# rec ARGS...: runs cpuprof record, status in rc, stderr in $T/err.
rec() {
	set +e
	"$TOOL" record "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
}

# The main case: status 3, a profile pprof accepts, the hot function in it.
rec -F 200 -o "$T/r.pb.gz" -- "$BURN"
[ "$rc" -eq 3 ] || fail "record exited $rc, want the command's 3 (stderr: $(cat "$T/err"))"
[ -s "$T/r.pb.gz" ] || fail "no profile at $T/r.pb.gz (stderr: $(cat "$T/err")); does libcpuprof.so honour CPUPROF_OUT yet?"
grep -q "^cpuprof: [0-9][0-9]* samples ([0-9][0-9]* lost), .* CPU; wrote $T/r.pb.gz\$" "$T/err" ||
	fail "no summary line on stderr: $(cat "$T/err")"
samples=$(sed -n 's/^cpuprof: \([0-9]*\) samples.*/\1/p' "$T/err")
# 1 s of CPU at 200 Hz: about 200 samples; accept a wide range.
[ "$samples" -ge 60 ] && [ "$samples" -le 600 ] || fail "$samples samples for 1 s at 200 Hz"
go tool pprof -top -nodecount=1000 "$T/r.pb.gz" >"$T/top.txt" 2>"$T/top.err" ||
	fail "go tool pprof -top rejects the profile: $(cat "$T/top.err")"
grep -q 'tool_burn_hot' "$T/top.txt" || fail "go tool pprof -top does not name tool_burn_hot: $(cat "$T/top.txt")"
"$TOOL" report "$T/r.pb.gz" | grep -q ' tool_burn_hot$' || fail "cpuprof report does not name tool_burn_hot"

# Conversions, through a temporary profile that is gone afterwards.
rec -o "$T/r.svg" -- "$BURN" 0.3 0
[ "$rc" -eq 0 ] || fail "record -o .svg exited $rc: $(cat "$T/err")"
xmllint --noout "$T/r.svg" || fail "record -o .svg wrote malformed XML"
grep -q 'data-name="tool_burn_hot"' "$T/r.svg" || fail "the recorded flame graph lacks tool_burn_hot"
grep -q "wrote $T/r.svg\$" "$T/err" || fail "the summary does not name the SVG: $(cat "$T/err")"
rec -o "$T/r.folded" -- "$BURN" 0.3 0
[ "$rc" -eq 0 ] || fail "record -o .folded exited $rc: $(cat "$T/err")"
grep -q ';tool_burn_hot' "$T/r.folded" || fail "the recorded folded stacks lack tool_burn_hot: $(cat "$T/r.folded")"
if grep -qv '^.* [0-9][0-9]*$' "$T/r.folded"; then
	fail "malformed folded lines: $(cat "$T/r.folded")"
fi
[ -z "$(ls -A "$T/tmp")" ] || fail "record left temporary files: $(ls -A "$T/tmp")"

# A command killed by SIGTERM: record dies by SIGTERM too (143 as sh reports it).
set +e
"$TOOL" record -o "$T/term.pb.gz" -- sh -c 'kill -TERM $$' 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 143 ] || fail "record of a command killed by SIGTERM exited $rc, want 143 ($(cat "$T/err"))"

# SIGTERM sent to record reaches the command, which writes its profile as it dies.
"$TOOL" record -F 200 -o "$T/fwd.pb.gz" -- "$BURN" 30 0 2>"$T/err" &
pid=$!
sleep 1
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" -eq 143 ] || fail "record sent SIGTERM exited $rc, want 143 ($(cat "$T/err"))"
[ -s "$T/fwd.pb.gz" ] || fail "the command wrote no profile when record forwarded SIGTERM ($(cat "$T/err"))"
"$TOOL" report "$T/fwd.pb.gz" >/dev/null || fail "the profile of the terminated command is unreadable"

# The command's environment: our library first, an existing LD_PRELOAD kept, the options.
keep=$(ls /lib/*/libm.so.6 /usr/lib/*/libm.so.6 2>/dev/null | head -1 || true)
[ -n "$keep" ] || keep=libm.so.6
set +e
LD_PRELOAD="$keep" "$TOOL" record -F 250 --max-depth 16 -o "rel.pb.gz" -- \
	sh -c 'printf "%s|%s|%s|%s\n" "$LD_PRELOAD" "$CPUPROF_HZ" "$CPUPROF_MAX_DEPTH" "$CPUPROF_OUT" >"$0"' \
	"$T/env.txt" 2>"$T/err"
set -e
IFS='|' read -r pre hz depth out <"$T/env.txt"
case $pre in
*/libcpuprof.so*:"$keep") ;;
*) fail "the command saw LD_PRELOAD=$pre, want libcpuprof.so first, then $keep" ;;
esac
[ "$hz" = 250 ] || fail "the command saw CPUPROF_HZ=$hz, want 250"
[ "$depth" = 16 ] || fail "the command saw CPUPROF_MAX_DEPTH=$depth, want 16"
[ "$out" = "$(pwd -P)/rel.pb.gz" ] || fail "the command saw CPUPROF_OUT=$out, want the absolute $(pwd -P)/rel.pb.gz"

# The summary counts samples on "[cpuprof] lost..." frames as lost. The command writes
# the profile itself here (the generator, exec'd without LD_PRELOAD so that no library
# writes over it): 10 + 3 + 2 samples, 5 of them lost, at 10 ms each.
GEN="$CPUPROF_BUILD/tests/prog_tool_genprof_preload"
printf 'main;work 10\n[cpuprof] lost: buffer overflow 3\nmain;[cpuprof] lost: unwind failed 2\n' >"$T/lost.txt"
rec -o "$T/lost.pb.gz" -- sh -c 'exec env -u LD_PRELOAD "$0" stacks <"$1" >"$CPUPROF_OUT"' "$GEN" "$T/lost.txt"
[ "$rc" -eq 0 ] || fail "record of the generator exited $rc: $(cat "$T/err")"
grep -q "^cpuprof: 15 samples (5 lost), 150ms CPU; wrote $T/lost.pb.gz\$" "$T/err" ||
	fail "the summary does not count 15 samples, 5 lost, 150ms: $(cat "$T/err")"

# Exit statuses pass through; a command that cannot run is 127 with one line.
rec -o "$T/x.pb.gz" -- sh -c 'exit 7'
[ "$rc" -eq 7 ] || fail "record of 'exit 7' exited $rc"
rec -o "$T/x.pb.gz" -- "$T/no-such-command"
[ "$rc" -eq 127 ] || fail "record of a missing command exited $rc, want 127"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "a missing command gives more than one line: $(cat "$T/err")"
# A command that dies by SIGKILL writes nothing: record says so and dies the same way.
set +e
"$TOOL" record -o "$T/kill.pb.gz" -- sh -c 'kill -KILL $$' 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 137 ] || fail "record of a command killed by SIGKILL exited $rc, want 137"
grep -q 'wrote no profile' "$T/err" || fail "record does not say that no profile was written: $(cat "$T/err")"
rec -F 0 -- true
[ "$rc" -eq 2 ] || fail "record -F 0 exited $rc, want a usage error (2)"
rec -o "$T/x.pb.gz"
[ "$rc" -eq 2 ] || fail "record without a command exited $rc, want a usage error (2)"
echo "PASS: record"
