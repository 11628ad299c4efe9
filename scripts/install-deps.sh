#!/bin/sh
# Installs the Debian 12 packages cpuprof needs to build, test and benchmark.
# This is the one place the package list lives; `make demo` and `make test` call it.
# It needs root (apt-get). Set CPUPROF_SKIP_DEPS=1 to skip it on a machine set up by hand.
set -eu

PACKAGES="
build-essential cmake pkg-config clang libclang-rt-14-dev
zlib1g-dev libdw-dev libelf-dev libmicrohttpd-dev
golang-go protobuf-compiler golang-github-google-pprof-dev
google-perftools libgoogle-perftools-dev linux-perf
curl libxml2-utils chromium time
"

if [ "${CPUPROF_SKIP_DEPS:-0}" = 1 ]; then
	exit 0
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: these Debian packages are missing:$missing" >&2
	echo "install-deps: installing them needs root; run 'sudo make ...' or install them with" >&2
	echo "install-deps:   sudo apt-get install -y$missing" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
