#!/bin/sh
# Installation: `cmake --install` puts the header, both libraries, the pkg-config file and
# the tool under a prefix; a program built from the installed files alone, against the
# shared library and against the static one, profiles itself.
. "$(dirname "$0")/lib.sh"

cmake --install "$CPUPROF_BUILD" --prefix "$TMP/prefix" >/dev/null || fail "cmake --install failed"
libdir=$(ls -d "$TMP/prefix"/lib* | head -n 1)
for f in include/cpuprof.h bin/cpuprof; do
	[ -e "$TMP/prefix/$f" ] || fail "$f is not installed"
done
[ -e "$libdir/libcpuprof.so" ] && [ -e "$libdir/libcpuprof.a" ] || fail "the libraries are not installed"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists cpuprof || fail "pkg-config does not find cpuprof.pc"

# Shared.
cc -O2 -g -fno-omit-frame-pointer $(pkg-config --cflags cpuprof) "$CPUPROF_SRC/examples/demo.c" \
	-o "$TMP/demo-shared" $(pkg-config --libs cpuprof) || fail "cannot build against the shared library"
LD_LIBRARY_PATH="$libdir" "$TMP/demo-shared" "$TMP/shared.pb.gz" 0.5 >/dev/null
pprof_ok "$TMP/shared.pb.gz"

# Static: the archive plus its private dependencies.
cc -O2 -g -fno-omit-frame-pointer $(pkg-config --cflags cpuprof) "$CPUPROF_SRC/examples/demo.c" \
	-o "$TMP/demo-static" "$libdir/libcpuprof.a" $(pkg-config --libs-only-l --static cpuprof | sed 's/-lcpuprof//') -lm ||
	fail "cannot build against the static library"
ldd "$TMP/demo-static" | grep -q libcpuprof && fail "the static build still needs libcpuprof.so"
"$TMP/demo-static" "$TMP/static.pb.gz" 0.5 >/dev/null
pprof_ok "$TMP/static.pb.gz"
top "$TMP/static.pb.gz"
[ "$(cum_pct parse_records)" != 0 ] || fail "the static build's profile misses parse_records"

# The installed tool reads what the library wrote.
"$TMP/prefix/bin/cpuprof" report "$TMP/shared.pb.gz" >/dev/null || fail "the installed tool fails"
echo PASS
