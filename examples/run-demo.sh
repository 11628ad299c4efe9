#!/bin/sh
# `make demo`: profile the bundled demo program and show where the time went.
set -eu
build=${1:-build}
out="$(pwd)/cpuprof-demo.pb.gz"
"$build/cpuprof-demo" "$out" 2
echo
echo "top functions ($build/cpuprof report $out):"
"$build/cpuprof" report -n 10 "$out"
