#!/bin/sh
# HTTP endpoint: a program serving /debug/pprof/profile on a free loopback port while it
# burns CPU in hot_http_burn(). The real client (go tool pprof) names the hot function;
# two overlapping requests and a request during a file profile each get a valid profile of
# their own window; malformed requests get 400/405/404/414 with one line of text that does
# not echo the input; a half-open connection is dropped after the connection timeout
# without blocking other clients; a client that hangs up ends its profile at once; and
# cpuprof_http_stop answers a request in flight with 503 instead of hanging.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is not installed"

SRV= SRV2= HALF=
cleanup() {
	for p in $SRV $SRV2 $HALF; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM

# retry N CMD...: runs CMD every 0.1 s until it succeeds, at most N times.
retry() {
	n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
threads_are() { [ "$(threads "$1")" -eq "$2" ]; }
threads_above() { [ "$(threads "$1")" -gt "$2" ]; }
# gone PID: the process exited (a child not yet waited for is a zombie).
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# code ARGS...: curl's status code; the body goes to $TMP/body, the head to $TMP/head.
code() { curl -s -o "$TMP/body" -D "$TMP/head" -w '%{http_code}' "$@" || true; }
# header FILE NAME VALUE: the head in FILE has NAME: VALUE exactly (case-blind name).
header() {
	tr -d '\r' <"$1" | grep -qi "^$2: $3\$" || fail "$1 lacks '$2: $3': $(cat "$1")"
}
duration_s() { awk '/^duration_nanos:/ { printf "%.3f", $2 / 1e9 }' "$TMP/decoded.txt"; }
time_ns() { awk '/^time_nanos:/ { print $2 }' "$TMP/decoded.txt"; }
# start_server PORTFILE OUT [FILEPROFILE]: starts prog_http_serve, waits for its port.
start_server() {
	"$PROG/prog_http_serve" serve "$1" ${3:+"$3"} >"$2" 2>&1 &
	STARTED=$!
	retry 100 test -s "$1" || fail "the server wrote no port: $(cat "$2")"
}

start_server "$TMP/port" "$TMP/serve.out"
SRV=$STARTED
PORT=$(cat "$TMP/port")
BASE="http://127.0.0.1:$PORT/debug/pprof"
IDLE=$(threads "$SRV")
echo "server pid $SRV port $PORT, $IDLE threads idle"

# A half-open connection, held while everything below runs.
"$PROG/prog_http_serve" halfopen "$PORT" 40 >"$TMP/half.out" 2>&1 &
HALF=$!
retry 100 grep -q connected "$TMP/half.out" || fail "half-open client did not connect"

# 1. The real client over loopback.
go tool pprof -top "$BASE/profile?seconds=1" >"$TMP/top.txt" 2>"$TMP/top.err" ||
	fail "go tool pprof cannot fetch the profile: $(cat "$TMP/top.err")"
cat "$TMP/top.txt"
grep -q hot_http_burn "$TMP/top.txt" || fail "go tool pprof -top does not name hot_http_burn"

# 2. Two overlapping requests: 2 s, and 1 s starting 0.5 s later.
curl -sS -D "$TMP/h2" -o "$TMP/p2.pb.gz" "$BASE/profile?seconds=2" &
C2=$!
sleep 0.5
curl -sS -D "$TMP/h1" -o "$TMP/p1.pb.gz" "$BASE/profile?seconds=1" &
C1=$!
wait $C2 || fail "the 2 s request failed"
wait $C1 || fail "the 1 s request failed"
for n in 2 1; do
	head -n1 "$TMP/h$n" | grep -q ' 200 ' || fail "request $n: $(head -n1 "$TMP/h$n")"
	header "$TMP/h$n" Content-Type application/octet-stream
	header "$TMP/h$n" Content-Disposition 'attachment; filename="profile"'
	header "$TMP/h$n" X-Content-Type-Options nosniff
	pprof_ok "$TMP/p$n.pb.gz"
	d=$(duration_s)
	echo "overlapping request of ${n} s: duration ${d} s"
	awk -v d="$d" -v n="$n" 'BEGIN { exit !(d >= n - 0.01 && d < n + 0.6) }' ||
		fail "the ${n} s request covers ${d} s"
	eval "t$n=$(time_ns)"
	top "$TMP/p$n.pb.gz"
	grep -q hot_http_burn "$TMP/top.txt" || fail "the ${n} s profile lacks hot_http_burn"
done
# shellcheck disable=SC2154 # t1, t2 are set by the eval above
awk -v a="$t1" -v b="$t2" 'BEGIN { d = (a - b) / 1e9; exit !(d > 0.3 && d < 1.5) }' ||
	fail "the 1 s window does not start about 0.5 s after the 2 s one ($t2, $t1)"

# 3. Malformed requests: 400 with one line of text/plain that never echoes the input.
for q in abc -1 999999 0 1.5 '%3Cscript%3E' 1e3; do
	c=$(code "$BASE/profile?seconds=$q")
	[ "$c" = 400 ] || fail "seconds=$q: status $c, want 400"
	header "$TMP/head" Content-Type 'text/plain; charset=utf-8'
	[ "$(wc -l <"$TMP/body")" -eq 1 ] || fail "seconds=$q: the body is not one line"
	! grep -qi -e script -e abc -e 999999 -e 1e3 "$TMP/body" ||
		fail "seconds=$q: the body echoes the input: $(cat "$TMP/body")"
	echo "seconds=$q -> $c $(cat "$TMP/body")"
done
c=$(code -X POST -d x "$BASE/profile")
[ "$c" = 405 ] || fail "POST: status $c, want 405"
tr -d '\r' <"$TMP/head" | grep -qi '^Allow: GET' || fail "405 without Allow: GET"
c=$(code -X DELETE "$BASE/profile")
[ "$c" = 405 ] || fail "DELETE: status $c, want 405"
c=$(code "http://127.0.0.1:$PORT/nope")
[ "$c" = 404 ] || fail "/nope: status $c, want 404"
c=$(code "$BASE/heap")
[ "$c" = 404 ] || fail "/debug/pprof/heap: status $c, want 404"
grep -q 'only the CPU profile' "$TMP/body" || fail "the heap 404 does not say why"
c=$(code "$BASE/")
[ "$c" = 200 ] || fail "/debug/pprof/: status $c, want 200"
header "$TMP/head" Content-Type 'text/html; charset=utf-8'
grep -q '/debug/pprof/profile' "$TMP/body" || fail "the index does not link the profile"
c=$(code -I "$BASE/profile?seconds=5")
[ "$c" = 200 ] || fail "HEAD: status $c, want 200"
long=$(head -c 20480 /dev/zero | tr '\0' a)
c=$(code "$BASE/profile?x=$long")
[ "$c" = 414 ] || [ "$c" = 400 ] || fail "a 20 KB URL: status $c, want 414 or 400"
echo "20 KB URL -> $c"

# 4. The half-open connection: other clients were served meanwhile; MHD drops it after
# its 15 s connection timeout.
retry 400 gone "$HALF" || fail "the half-open connection is still open after 40 s"
wait "$HALF" || fail "half-open client: $(cat "$TMP/half.out")"
HALF=
cat "$TMP/half.out"
awk '$1 == "closed" { exit !($2 >= 10 && $2 < 25) }' "$TMP/half.out" ||
	fail "the half-open connection was not closed by the 15 s timeout"
retry 50 threads_are "$SRV" "$IDLE" || fail "$(threads "$SRV") threads, want $IDLE when idle"

# 5. A client that hangs up after 1 s of a 10 s profile: its thread and the sampler end
# at once, and the next request is answered promptly.
rc=0
curl -s --max-time 1 -o /dev/null "$BASE/profile?seconds=10" || rc=$?
[ "$rc" = 28 ] || fail "curl --max-time 1 exited $rc, want 28 (timeout)"
retry 20 threads_are "$SRV" "$IDLE" ||
	fail "$(threads "$SRV") threads 2 s after the client left, want $IDLE"
t0=$(date +%s.%N)
c=$(code "$BASE/profile?seconds=1")
t1=$(date +%s.%N)
[ "$c" = 200 ] || fail "the request after the hang-up: status $c"
cp "$TMP/body" "$TMP/after.pb.gz"
pprof_ok "$TMP/after.pb.gz"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3) }' || fail "the next 1 s request took too long"

# 6. A request while the program profiles itself to a file; then cpuprof_http_stop with a
# request in flight: the client gets 503 at once and the program exits cleanly.
start_server "$TMP/port2" "$TMP/serve2.out" "$TMP/file.pb.gz"
SRV2=$STARTED
BASE2="http://127.0.0.1:$(cat "$TMP/port2")/debug/pprof"
IDLE2=$(threads "$SRV2")
c=$(code "$BASE2/profile?seconds=1")
[ "$c" = 200 ] || fail "request during a file profile: status $c"
cp "$TMP/body" "$TMP/p3.pb.gz"
pprof_ok "$TMP/p3.pb.gz"
d=$(duration_s)
awk -v d="$d" 'BEGIN { exit !(d >= 0.99 && d < 1.6) }' || fail "the request covers ${d} s"
top "$TMP/p3.pb.gz"
grep -q hot_http_burn "$TMP/top.txt" || fail "the profile during a file profile lacks hot_http_burn"
curl -s -o "$TMP/b4" -w '%{http_code}' "$BASE2/profile?seconds=30" >"$TMP/code4" &
C4=$!
retry 50 threads_above "$SRV2" "$IDLE2" || fail "the 30 s request never reached the server"
kill -USR1 "$SRV2"
retry 100 gone "$SRV2" || fail "the server with a request in flight did not stop in 10 s"
wait "$SRV2" || fail "the file-profile server exited with an error: $(cat "$TMP/serve2.out")"
SRV2=
wait $C4 || true
[ "$(cat "$TMP/code4")" = 503 ] || fail "the request in flight at stop got $(cat "$TMP/code4")"
pprof_ok "$TMP/file.pb.gz"
top "$TMP/file.pb.gz"
grep -q hot_http_burn "$TMP/top.txt" || fail "the file profile lacks hot_http_burn"

# 7. After all that, the first server still answers, and stops cleanly.
c=$(code "$BASE/profile?seconds=1")
[ "$c" = 200 ] || fail "the final request: status $c"
cp "$TMP/body" "$TMP/final.pb.gz"
pprof_ok "$TMP/final.pb.gz"
kill -USR1 "$SRV"
retry 100 gone "$SRV" || fail "the server did not stop in 10 s"
wait "$SRV" || fail "the server exited with an error: $(cat "$TMP/serve.out")"
SRV=
grep -q stopped "$TMP/serve.out" || fail "the server did not report its stop"
echo "PASS"
