#!/bin/sh
# Threads created after start are sampled: one through pthread_create (seen by the
# wrapper) and one through a raw clone (found by the reader's rescan of /proc/self/task).
. "$(dirname "$0")/lib.sh"

for engine in perf timer; do
	TEST_ENGINE=$engine "$PROG/prog_threads" late "$TMP/late.pb.gz" 200 >"$TMP/out.txt"
	pprof_ok "$TMP/late.pb.gz"
	top "$TMP/late.pb.gz"
	clone=$(cum_pct late_clone_fn)
	pthr=$(cum_pct late_main)
	echo "$engine: raw clone thread ${clone}%, pthread ${pthr}% (truth ~60% / ~40%)"
	awk -v c="$clone" -v p="$pthr" 'BEGIN { exit !(c > 30 && p > 20) }' ||
		fail "$engine: a late thread is missing from the profile"
	tid=$(awk '$1 == "clone_tid" { print $2 }' "$TMP/out.txt")
	go tool pprof -tags "$TMP/late.pb.gz" 2>/dev/null | grep -q ": $tid\$" ||
		fail "$engine: no samples carry the raw clone's thread_id $tid"
done
echo PASS
