#!/bin/sh
# The flame graph in a real browser: headless Chromium loads the SVG, its script must run
# without an error (it marks the root with data-fg-ready="1" when done) and must find the
# widest frame directly under the root to be the hottest function, as the folded stacks
# say. Then a view from the URL (#zoom=...&search=...) must zoom and report the matched
# share. Names with XML specials, ']]>', a newline and invalid UTF-8 must not break it.
# Skips (exit 0) only when chromium is not installed.
. "$(dirname "$0")/lib.sh"
TOOL="$CPUPROF_BUILD/cpuprof"
GEN="$CPUPROF_BUILD/tests/prog_tool_genprof_preload"
T=$TMP

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "SKIP: chromium is not installed"
	exit 0
fi
[ -x "$TOOL" ] || fail "$TOOL is not built"
[ -x "$GEN" ] || fail "$GEN is not built"

# dom URL OUT: the DOM after load, and the console in OUT.log.
dom() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$T/ud" --enable-logging=stderr --v=0 --dump-dom "$1" \
		>"$2" 2>"$2.log" || fail "chromium failed on $1: $(tail -5 "$2.log")"
	if grep -E 'CONSOLE.*(Uncaught|Error)' "$2.log"; then
		fail "script error in $1"
	fi
	grep -q 'data-fg-ready="1"' "$2" || fail "the script did not finish initializing on $1"
}

# attr NAME FILE: the value of attribute NAME on the root element of the dumped DOM.
attr() {
	sed -n "s/.*<svg [^>]*$1=\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -1
}

cat >"$T/stacks.txt" <<'EOF'
alpha_hot 50
alpha_hot;x_child 15
alpha_hot;x_child;deeper^inlined 5
beta_warm 20
beta_warm;op<&>"'\x5d\x5d>child 3
gamma_cold;new\nline 4
gamma_cold;bad\xff\xfeutf8;z 2
gamma_cold;semi\;colon 1
[cpuprof] lost: buffer overflow 1
EOF
"$GEN" stacks <"$T/stacks.txt" | gzip -c >"$T/p.pb.gz"
"$TOOL" flamegraph "$T/p.pb.gz" -o "$T/fg.svg" || fail "cpuprof flamegraph failed"
xmllint --noout "$T/fg.svg" || fail "the flame graph is not well-formed XML"

# The widest child of the root, from the folded stacks.
"$TOOL" folded "$T/p.pb.gz" >"$T/folded.txt"
want=$(awk '{ n = $NF; s = $0; sub(/ [0-9]+$/, "", s); split(s, f, ";"); w[f[1]] += n }
	END { for (k in w) if (w[k] > best) { best = w[k]; name = k } print name }' "$T/folded.txt")
[ "$want" = alpha_hot ] || fail "the folded stacks say the widest root child is '$want'"

dom "file://$T/fg.svg" "$T/dom.html"
got=$(attr data-fg-widest "$T/dom.html")
[ "$got" = "$want" ] || fail "the script finds '$got' widest under the root, want '$want'"
[ "$(attr data-fg-widest-value "$T/dom.html")" = 70 ] ||
	fail "the widest root child holds $(attr data-fg-widest-value "$T/dom.html"), want 70"
# The tool's own data attributes say the same.
grep -q '<g id="f[0-9]*" data-p="f0" data-name="alpha_hot" data-value="70"' "$T/fg.svg" ||
	fail "the SVG has no alpha_hot frame of 70 under the root"

# Zoom into alpha_hot and search /child/: x_child (20) and the beta_warm child (3) match,
# 23 of 101 samples; frames outside alpha_hot are hidden, its ancestors (the root) faded.
id=$(sed -n 's/.*<g id="\(f[0-9]*\)" data-p="f0" data-name="alpha_hot".*/\1/p' "$T/fg.svg")
dom "file://$T/fg.svg#zoom=$id&search=child" "$T/zoom.html"
[ "$(attr data-fg-zoom "$T/zoom.html")" = "$id" ] || fail "the #zoom view did not zoom into $id"
[ "$(attr data-fg-matched "$T/zoom.html")" = 22.77 ] ||
	fail "search /child/ matched $(attr data-fg-matched "$T/zoom.html")%, want 22.77"
grep -q '<g id="f[0-9]*" data-p="f0" data-name="beta_warm"[^>]*class="fg_hide"' "$T/zoom.html" ||
	fail "beta_warm is not hidden when zoomed into alpha_hot"
grep -q '<g id="f0" data-name="all"[^>]*class="fg_parent"' "$T/zoom.html" ||
	fail "the root is not shown as a parent when zoomed"

# A bigger graph (5,000 stacks, narrow frames left out) initializes as well.
"$GEN" big 5000 20 >"$T/big.pb"
"$TOOL" flamegraph "$T/big.pb" -o "$T/big.svg" || fail "cpuprof flamegraph failed on the big profile"
xmllint --noout "$T/big.svg" || fail "the big flame graph is not well-formed XML"
dom "file://$T/big.svg" "$T/big.html"
[ -n "$(attr data-fg-widest "$T/big.html")" ] || fail "no widest root child in the big graph"
echo "PASS: flame graph in Chromium"
