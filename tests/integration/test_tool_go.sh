#!/bin/sh
# cpuprof report / folded / flamegraph on a real Go CPU profile (runtime/pprof), built and
# run here: two named functions do 70/30 of a fixed amount of work (~1.5 s of CPU). The report must name both,
# the hotter first; folded stacks must add up to the sample count go tool pprof sees; the
# flame graph must be well-formed XML whose root carries that same total.
. "$(dirname "$0")/lib.sh"
TOOL="$CPUPROF_BUILD/cpuprof"
T=$TMP

command -v go >/dev/null || fail "go is not installed (scripts/install-deps.sh installs golang-go)"
[ -x "$TOOL" ] || fail "$TOOL is not built"

cat >"$T/main.go" <<'EOF'
package main

import (
	"os"
	"runtime/pprof"
)

var sink uint64

// A fixed amount of work each, not a wall-clock duration: on a loaded machine a
// time-boxed loop gets whatever CPU the scheduler gives it, and the split drifts.
//go:noinline
func hotFunction(n int) {
	x := sink
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink = x
}

//go:noinline
func coldFunction(n int) {
	x := sink
	for i := 0; i < n; i++ {
		x = x*2862933555777941757 + 3037000493
	}
	sink = x
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	for i := 0; i < 75; i++ {
		hotFunction(14000000)
		coldFunction(6000000)
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
}
EOF
(cd "$T" && go build -o burn main.go) || fail "go build failed"
"$T/burn" "$T/go.pb.gz" || fail "the Go program failed"
[ -s "$T/go.pb.gz" ] || fail "the Go program wrote no profile"

# report: both functions, the hotter first (rows are sorted by flat).
"$TOOL" report -n 0 "$T/go.pb.gz" >"$T/report.txt" 2>"$T/report.err" ||
	fail "cpuprof report failed: $(cat "$T/report.err")"
grep -q '^Type: cpu$' "$T/report.txt" || fail "report has no 'Type: cpu' line: $(cat "$T/report.txt")"
grep -q 'Total samples = ' "$T/report.txt" || fail "report has no total: $(cat "$T/report.txt")"
hot=$(grep -n ' main\.hotFunction$' "$T/report.txt" | cut -d: -f1)
cold=$(grep -n ' main\.coldFunction$' "$T/report.txt" | cut -d: -f1)
[ -n "$hot" ] || fail "report does not name main.hotFunction: $(cat "$T/report.txt")"
[ -n "$cold" ] || fail "report does not name main.coldFunction: $(cat "$T/report.txt")"
[ "$hot" -lt "$cold" ] || fail "main.coldFunction is listed before main.hotFunction: $(cat "$T/report.txt")"
# The same with --cum and on the uncompressed bytes.
"$TOOL" report --cum "$T/go.pb.gz" | grep -q ' main\.main$' || fail "report --cum lacks main.main"
gzip -dc "$T/go.pb.gz" >"$T/go.pb"
"$TOOL" report -n 0 "$T/go.pb" | sed 1d >"$T/report_raw.txt"
sed 1d "$T/report.txt" | cmp -s - "$T/report_raw.txt" || fail "report differs on the uncompressed profile"

# The sample count go tool pprof sees: the first value column of -raw's samples.
go tool pprof -raw "$T/go.pb.gz" >"$T/raw.txt" 2>"$T/raw.err" || fail "go tool pprof -raw: $(cat "$T/raw.err")"
want=$(awk '/^Samples:/ { s = 1; next } s && /^Locations/ { s = 0 }
	s && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+:$/ { t += $1 } END { print t + 0 }' "$T/raw.txt")
[ "$want" -gt 50 ] || fail "go tool pprof sees only $want samples"

# folded: root-first lines "a;b;c N" whose values add up to the samples.
"$TOOL" folded "$T/go.pb.gz" >"$T/folded.txt" 2>"$T/folded.err" ||
	fail "cpuprof folded failed: $(cat "$T/folded.err")"
if grep -qv '^.* [0-9][0-9]*$' "$T/folded.txt"; then
	fail "malformed folded lines: $(grep -v '^.* [0-9][0-9]*$' "$T/folded.txt")"
fi
got=$(awk '{ t += $NF } END { print t + 0 }' "$T/folded.txt")
[ "$got" = "$want" ] || fail "folded lines add up to $got samples, go tool pprof says $want"
grep -q '^runtime\.main;main\.main;main\.hotFunction' "$T/folded.txt" ||
	fail "no root-first runtime.main;main.main;main.hotFunction stack: $(cat "$T/folded.txt")"
# --value=ns: the cpu nanoseconds, period times the samples here.
ns=$("$TOOL" folded --value=ns "$T/go.pb.gz" | awk '{ t += $NF } END { printf "%.0f\n", t }')
[ "$ns" = "$((want * 10000000))" ] || fail "folded --value=ns adds up to $ns, want $((want * 10000000))"

# The report's own total in samples agrees too.
"$TOOL" report --sample-index=samples "$T/go.pb.gz" | grep -q "Total samples = $want\$" ||
	fail "report --sample-index=samples total is not $want"

# flamegraph: well-formed, and the root frame holds every sample.
"$TOOL" flamegraph "$T/go.pb.gz" -o "$T/fg.svg" 2>"$T/fg.err" || fail "cpuprof flamegraph failed: $(cat "$T/fg.err")"
xmllint --noout "$T/fg.svg" || fail "the flame graph is not well-formed XML"
grep -q "<g id=\"f0\" data-name=\"all\" data-value=\"$want\"" "$T/fg.svg" ||
	fail "the root frame does not hold $want samples"
grep -q 'data-name="main.hotFunction"' "$T/fg.svg" || fail "main.hotFunction is not in the flame graph"
echo "PASS: Go profile with $want samples"
