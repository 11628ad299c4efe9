#!/bin/sh
# cpuprof report checked against go tool pprof -top on profiles from an independent
# encoder (tests/integration/progs/tool_genprof_preload.c): inlined frames count as
# functions, recursion is counted once in cum, every function's flat and cum agree with
# pprof's. Packed or unpacked fields and sparse ids decode the same; default_sample_type
# and --sample-index pick the value as pprof does. 10,000 random stacks agree with pprof
# function by function; on 100,000 the totals are checked and the time each subcommand
# takes is printed (not asserted).
. "$(dirname "$0")/lib.sh"
TOOL="$CPUPROF_BUILD/cpuprof"
GEN="$CPUPROF_BUILD/tests/prog_tool_genprof_preload"
T=$TMP

[ -x "$TOOL" ] || fail "$TOOL is not built"
[ -x "$GEN" ] || fail "$GEN is not built"

# ours FILE: "name flat cum" for every function, sorted (counts: --sample-index=samples).
ours() {
	"$TOOL" report -n 0 --sample-index=samples "$1" | awk '
		/^ *flat/ { rows = 1; next }
		rows { name = $6; for (i = 7; i <= NF; i++) name = name " " $i; print name, $1, $4 }' | sort
}

# theirs FILE: the same from go tool pprof -top, " (inline)" tags dropped.
theirs() {
	go tool pprof -top -sample_index=samples -nodecount=100000 -nodefraction=0 \
		-edgefraction=0 -symbolize=none "$1" 2>"$T/pprof.err" | awk '
		/^ *flat/ { rows = 1; next }
		rows { name = $6; for (i = 7; i <= NF; i++) name = name " " $i;
		       sub(/ \(inline\)$/, "", name); print name, $1, $4 }' | sort
}

cat >"$T/stacks.txt" <<'EOF'
main;run;hot^leaf 50
main;run;hot 20
main;run;hot^leaf;helper 5
main;warm;rec;rec;rec 15
main;warm;rec;other;rec 4
main;cold 10
main 2
worker;loop;hot^leaf 7
EOF
"$GEN" stacks <"$T/stacks.txt" >"$T/a.pb"
ours "$T/a.pb" >"$T/ours.txt"
theirs "$T/a.pb" >"$T/theirs.txt" || fail "go tool pprof -top failed: $(cat "$T/pprof.err")"
diff "$T/ours.txt" "$T/theirs.txt" >"$T/diff.txt" ||
	fail "cpuprof report and go tool pprof -top disagree (<ours >pprof): $(cat "$T/diff.txt")"
# Spelled out: the inlined leaf is a function; rec is counted once per sample in cum.
grep -q '^leaf 57 62$' "$T/ours.txt" || fail "leaf should be flat 57, cum 62: $(cat "$T/ours.txt")"
grep -q '^rec 19 19$' "$T/ours.txt" || fail "rec should be flat 19, cum 19: $(cat "$T/ours.txt")"
grep -q '^hot 20 82$' "$T/ours.txt" || fail "hot should be flat 20, cum 82: $(cat "$T/ours.txt")"

# The default value is the last sample type (cpu), in pprof's units; the header says so.
"$TOOL" report "$T/a.pb" >"$T/default.txt"
grep -q '^Type: cpu$' "$T/default.txt" || fail "the default type is not cpu: $(cat "$T/default.txt")"
grep -q 'Total samples = 1.13s (56.50%)$' "$T/default.txt" || fail "the total is not '1.13s (56.50%)': $(cat "$T/default.txt")"
grep -q '^ *0.57s *50.44% *50.44% *0.62s *54.87%  leaf$' "$T/default.txt" ||
	fail "the leaf row is not '0.57s 50.44% 50.44% 0.62s 54.87%': $(cat "$T/default.txt")"
"$TOOL" report --cum -n 1 "$T/a.pb" | grep -q ' main$' || fail "report --cum -n 1 does not show main"
"$TOOL" report --sample-index=1 "$T/a.pb" | grep -q '^Type: cpu$' || fail "--sample-index=1 is not cpu"
"$TOOL" report --sample-index=0 "$T/a.pb" | grep -q '^Type: samples$' || fail "--sample-index=0 is not samples"
set +e
"$TOOL" report --sample-index=bytes "$T/a.pb" >/dev/null 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "no sample type 'bytes'" "$T/err" || fail "--sample-index=bytes: $rc $(cat "$T/err")"
# default_sample_type wins over the last type.
"$GEN" stacks --default-type=samples <"$T/stacks.txt" >"$T/d.pb"
"$TOOL" report "$T/d.pb" | grep -q '^Type: samples$' || fail "default_sample_type=samples is ignored"

# Unpacked fields and sparse ids: the same report. Gzipped and from stdin too.
"$GEN" stacks --unpacked --sparse-ids <"$T/stacks.txt" >"$T/b.pb"
ours "$T/b.pb" | diff "$T/ours.txt" - >/dev/null || fail "unpacked fields / sparse ids change the report"
gzip -c "$T/b.pb" >"$T/b.pb.gz"
ours "$T/b.pb.gz" | diff "$T/ours.txt" - >/dev/null || fail "the gzipped profile reports differently"
"$TOOL" report -n 0 --sample-index=samples - <"$T/b.pb.gz" | grep -q ' leaf$' || fail "reading stdin fails"

# Folded: one line per distinct stack, root first, inline frames in caller-callee order.
"$TOOL" folded "$T/a.pb" >"$T/folded.txt"
grep -qx 'main;run;hot;leaf 50' "$T/folded.txt" || fail "no 'main;run;hot;leaf 50': $(cat "$T/folded.txt")"
grep -qx 'main;warm;rec;rec;rec 15' "$T/folded.txt" || fail "no 'main;warm;rec;rec;rec 15'"
[ "$(wc -l <"$T/folded.txt")" -eq 8 ] || fail "folded has $(wc -l <"$T/folded.txt") lines, want 8"

# 10,000 distinct stacks (depth 4..32): every function agrees with pprof.
"$GEN" big 10000 32 >"$T/mid.pb"
ours "$T/mid.pb" >"$T/ours.txt"
theirs "$T/mid.pb" >"$T/theirs.txt" || fail "go tool pprof -top failed: $(cat "$T/pprof.err")"
[ "$(wc -l <"$T/ours.txt")" -gt 1000 ] || fail "only $(wc -l <"$T/ours.txt") functions in 10,000 stacks"
diff "$T/ours.txt" "$T/theirs.txt" >"$T/diff.txt" ||
	fail "cpuprof report and go tool pprof -top disagree on 10,000 stacks: $(head -20 "$T/diff.txt")"

# 100,000 distinct stacks: the totals agree with what the generator wrote; the time
# each subcommand takes is printed, not asserted (that is bench/'s business).
"$GEN" big 100000 32 --total 2>"$T/total.txt" | gzip -1 >"$T/big.pb.gz"
want=$(sed -n 's/^total //p' "$T/total.txt")
now() { date +%s.%N; }
t0=$(now)
"$TOOL" report --sample-index=samples "$T/big.pb.gz" >"$T/big_report.txt"
t1=$(now)
"$TOOL" folded "$T/big.pb.gz" >"$T/big.folded"
t2=$(now)
"$TOOL" flamegraph "$T/big.pb.gz" -o "$T/big.svg"
t3=$(now)
lines=$(wc -l <"$T/big.folded")
[ "$lines" -gt 99000 ] || fail "only $lines distinct stacks in the folded output"
sum=$(awk '{ t += $NF } END { printf "%.0f\n", t }' "$T/big.folded")
[ "$sum" = "$want" ] || fail "the folded stacks hold $sum samples, the generator wrote $want"
grep -q "Total samples = $want\$" "$T/big_report.txt" || fail "report's total is not $want"
xmllint --noout "$T/big.svg" || fail "the big flame graph is not well-formed XML"
grep -q "<g id=\"f0\" data-name=\"all\" data-value=\"$want\"" "$T/big.svg" || fail "the big graph's root is not $want"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$lines" 'BEGIN {
	printf "timing: %d distinct stacks: report %.2fs, folded %.2fs, flamegraph %.2fs\n",
		n, b - a, c - b, d - c }'
echo "PASS: report against pprof"
