# Shared helpers for the integration tests (sourced by test_*.sh; POSIX sh).
# Environment from ctest: CPUPROF_BUILD, CPUPROF_SRC, PROFILE_PROTO_DIR.
set -eu
: "${CPUPROF_BUILD:?run through ctest (CPUPROF_BUILD unset)}"
: "${PROFILE_PROTO_DIR:=/usr/share/gocode/src/github.com/google/pprof/proto}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
export HOME="$TMP" GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath" GOFLAGS=-mod=mod GO111MODULE=off
PROG="$CPUPROF_BUILD/tests"
LIB="$CPUPROF_BUILD/libcpuprof.so"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# pprof_ok FILE: both real parsers accept the profile.
pprof_ok() {
	[ -s "$1" ] || fail "$1 is missing or empty"
	gzip -t "$1" || fail "$1 is not a valid gzip stream"
	zcat "$1" | protoc --decode=perftools.profiles.Profile -I"$PROFILE_PROTO_DIR" \
		"$PROFILE_PROTO_DIR/profile.proto" >"$TMP/decoded.txt" ||
		fail "protoc --decode rejects $1"
	go tool pprof -raw "$1" >"$TMP/raw.txt" 2>"$TMP/raw.err" ||
		fail "go tool pprof -raw rejects $1: $(cat "$TMP/raw.err")"
}

# top FILE: go tool pprof -top into $TMP/top.txt (flat% is column 2, name the rest).
top() {
	go tool pprof -top -nodecount=1000 "$1" >"$TMP/top.txt" 2>"$TMP/top.err" ||
		fail "go tool pprof -top fails on $1: $(cat "$TMP/top.err")"
}

# flat_pct NAME: flat% of function NAME in $TMP/top.txt (0 if absent).
flat_pct() {
	awk -v f="$1" '$6 == f { gsub("%", "", $2); print $2; found = 1; exit } END { if (!found) print 0 }' \
		"$TMP/top.txt"
}

# cum_pct NAME: cum% of function NAME in $TMP/top.txt (0 if absent).
cum_pct() {
	awk -v f="$1" '$6 == f { gsub("%", "", $5); print $5; found = 1; exit } END { if (!found) print 0 }' \
		"$TMP/top.txt"
}

# total_cpu_ns FILE: the sum of cpu/nanoseconds over all samples (from go tool pprof -raw).
total_cpu_ns() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		/^Samples:/ { in_s = 1; next }
		in_s && /^Locations/ { in_s = 0 }
		in_s && $2 ~ /^[0-9]+:?$/ { v = $2; sub(":", "", v); t += v }
		END { printf "%.0f\n", t }'
}

# within A B TOL: |A - B| <= TOL (floating point).
within() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}

# cpu_total_ok FILE TRUTH WHAT: the profile's total cpu/nanoseconds is within 10% of the
# "process_cpu <seconds>" line the workload printed into TRUTH.
cpu_total_ok() {
	got=$(total_cpu_ns "$1")
	want=$(awk '$1 == "process_cpu" { printf "%.0f", $2 * 1e9 }' "$2")
	echo "$3: profile cpu $got ns, process cpu $want ns"
	awk -v a="$got" -v b="$want" 'BEGIN { r = a / b; exit !(r > 0.9 && r < 1.1) }' ||
		fail "$3: profile CPU $got ns is not within 10% of process CPU $want ns"
}
