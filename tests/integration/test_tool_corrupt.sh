#!/bin/sh
# Negative tests of the tool's pprof reader, through report, folded and flamegraph: every
# damaged input (gzip cut at many lengths, flipped bytes, empty, garbage, gzip of garbage,
# a gzip bomb, each kind of invalid protobuf content, a missing file, a directory) must
# give exit status 1 (not 0, not a signal, not a sanitizer's status), exactly one line on
# stderr that names the file, and no output. Damage a gzip cannot see (a cut or a flip
# inside a raw protobuf may still be a valid profile) must at least never crash.
. "$(dirname "$0")/lib.sh"
TOOL="$CPUPROF_BUILD/cpuprof"
GEN="$CPUPROF_BUILD/tests/prog_tool_genprof_preload"
T=$TMP

[ -x "$TOOL" ] || fail "$TOOL is not built"
[ -x "$GEN" ] || fail "$GEN is not built"

# run SUBCOMMAND FILE: sets rc; stdout in $T/out, stderr in $T/err.
run() {
	rm -f "$T/out.svg"
	set +e
	if [ "$1" = flamegraph ]; then
		"$TOOL" flamegraph "$2" -o "$T/out.svg" >"$T/out" 2>"$T/err"
	else
		"$TOOL" "$1" "$2" >"$T/out" 2>"$T/err"
	fi
	rc=$?
	set -e
}

# bad FILE WHAT [KEYWORD]: every subcommand rejects FILE properly.
bad() {
	for sub in report folded flamegraph; do
		run "$sub" "$1"
		[ "$rc" -eq 1 ] || fail "$sub on $2: exit status $rc, want 1 (stderr: $(cat "$T/err"))"
		lines=$(wc -l <"$T/err")
		[ "$lines" -eq 1 ] || fail "$sub on $2: $lines lines on stderr, want 1: $(cat "$T/err")"
		grep -q "^cpuprof: " "$T/err" || fail "$sub on $2: stderr is not a cpuprof error: $(cat "$T/err")"
		grep -qF "$1" "$T/err" || fail "$sub on $2: the error does not name the file: $(cat "$T/err")"
		if [ -n "${3:-}" ] && ! grep -qiF -- "$3" "$T/err"; then
			fail "$sub on $2: the error does not mention '$3': $(cat "$T/err")"
		fi
		[ ! -s "$T/out" ] || fail "$sub on $2 wrote to stdout: $(head -c 200 "$T/out")"
		[ ! -e "$T/out.svg" ] || fail "flamegraph on $2 left $T/out.svg behind"
	done
}

# survives FILE WHAT: exit 0, or 1 with one error line; never a crash.
survives() {
	for sub in report folded flamegraph; do
		run "$sub" "$1"
		case $rc in
		0) ;;
		1)
			lines=$(wc -l <"$T/err")
			[ "$lines" -eq 1 ] || fail "$sub on $2: $lines lines on stderr: $(cat "$T/err")"
			;;
		*) fail "$sub on $2: exit status $rc (stderr: $(cat "$T/err"))" ;;
		esac
	done
}

# flip IN POS OUT: OUT is IN with the byte at POS inverted.
flip() {
	head -c "$2" "$1" >"$3"
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "\\$(printf '%03o' $((b ^ 255)))" >>"$3"
	tail -c +$(($2 + 2)) "$1" >>"$3"
}

# A valid profile, raw and gzipped; the tool must accept both.
cat >"$T/stacks.txt" <<'EOF'
main;run;hot^inner 40
main;run;hot 20
main;run;warm 10
main;cold 5
EOF
"$GEN" stacks <"$T/stacks.txt" >"$T/good.pb"
gzip -9 -n -c "$T/good.pb" >"$T/good.gz"
for f in "$T/good.pb" "$T/good.gz"; do
	run report "$f"
	[ "$rc" -eq 0 ] || fail "the valid profile $f is rejected: $(cat "$T/err")"
done
len=$(wc -c <"$T/good.gz")
rawlen=$(wc -c <"$T/good.pb")

# A gzip file cut anywhere: its trailer (CRC and length) makes every cut detectable.
for n in 1 2 3 5 10 11 12 20 40 $((len / 2)) $((len - 9)) $((len - 8)) $((len - 5)) \
	$((len - 4)) $((len - 1)); do
	head -c "$n" "$T/good.gz" >"$T/cut$n.gz"
	bad "$T/cut$n.gz" "gzip cut at $n of $len bytes"
done

# Flipped bytes: the magic, the flags, the compressed data, the CRC and the length
# (bytes 4..9, mtime/xfl/os, are ignored by every gzip reader, so they are skipped).
for pos in 0 1 2 3 10 11 15 $((len / 3)) $((len / 2)) $((len - 12)) $((len - 9)) \
	$((len - 8)) $((len - 6)) $((len - 4)) $((len - 1)); do
	flip "$T/good.gz" "$pos" "$T/flip$pos.gz"
	bad "$T/flip$pos.gz" "gzip with byte $pos of $len flipped"
done

# Raw protobuf cut or flipped: may stay valid, must never crash.
pos=0
while [ "$pos" -lt "$rawlen" ]; do
	head -c "$pos" "$T/good.pb" >"$T/rawcut.pb"
	[ "$pos" -eq 0 ] || survives "$T/rawcut.pb" "raw profile cut at $pos"
	flip "$T/good.pb" "$pos" "$T/rawflip.pb"
	survives "$T/rawflip.pb" "raw profile with byte $pos flipped"
	pos=$((pos + 7))
done

# Empty, garbage, a gzip of garbage, a missing file, a directory.
: >"$T/empty.pb.gz"
bad "$T/empty.pb.gz" "an empty file" empty
printf 'this is not a profile\nat all\n' >"$T/garbage.txt"
bad "$T/garbage.txt" "text" "not a valid pprof profile"
gzip -c "$T/garbage.txt" >"$T/garbage.gz"
bad "$T/garbage.gz" "a valid gzip of text" "not a valid pprof profile"
printf '' | gzip -c >"$T/empty-inside.gz"
bad "$T/empty-inside.gz" "a gzip of nothing" empty
cat "$T/good.gz" >"$T/trailing.gz"
printf 'junk' >>"$T/trailing.gz"
bad "$T/trailing.gz" "gzip with trailing garbage" garbage
bad "$T/no-such-file.pb.gz" "a missing file" "no such file"
mkdir "$T/dir.pb.gz"
bad "$T/dir.pb.gz" "a directory" directory

# A gzip bomb: 110 members of 10 MB of zeros each, 1.1 GB in all (refused, over 1 GiB).
head -c 10000000 /dev/zero | gzip -1 >"$T/zeros.gz"
i=0
while [ "$i" -lt 110 ]; do
	cat "$T/zeros.gz"
	i=$((i + 1))
done >"$T/bomb.gz"
run report "$T/bomb.gz"
[ "$rc" -eq 1 ] || fail "the gzip bomb: exit status $rc, want 1 ($(cat "$T/err"))"
grep -q "1 GiB" "$T/err" || fail "the gzip bomb: the error does not mention the limit: $(cat "$T/err")"

# Invalid protobuf content, each kind with a word its error must contain.
while read -r kind word; do
	"$GEN" corrupt "$kind" >"$T/$kind.pb"
	bad "$T/$kind.pb" "corrupt kind $kind" "$word"
	gzip -c "$T/$kind.pb" >"$T/$kind.gz"
	bad "$T/$kind.gz" "corrupt kind $kind (gzipped)" "$word"
done <<'EOF'
bad-varint varint
wire-type wire type
len-overrun bytes long
str-range string index
str0 string_table[0]
loc-missing location id
func-missing function id
values-mismatch values
zero-id reserved id 0
dup-id multiple
no-types no sample types
concat time_nanos
EOF

# Usage errors: one line, a nonzero status.
for args in "nosuchcommand" "report" "report --bogus x" "folded a b" "flamegraph -o"; do
	set +e
	# shellcheck disable=SC2086
	"$TOOL" $args >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "cpuprof $args: exit status $rc"
	lines=$(wc -l <"$T/err")
	[ "$lines" -eq 1 ] || fail "cpuprof $args: $lines lines on stderr: $(cat "$T/err")"
done
echo "PASS: corrupt inputs"
