#!/bin/sh
# The signal path stays small and safe: the object files of the code that runs in signal
# context (CPUPROF_SIGNAL_SOURCES in CMakeLists.txt) may reference only each other, the
# shared state listed below, and the async-signal-safe libc entry points listed in
# docs/SIGNAL-SAFETY.md. Also: the shared library exports only the public API.
. "$(dirname "$0")/lib.sh"

objdir="$CPUPROF_BUILD/CMakeFiles/cpuprof_sigobj.dir/src"
ls "$objdir"/*.o >/dev/null 2>&1 || fail "no signal-path objects in $objdir"

# libc functions allowed in signal context (all plain syscalls or vDSO calls).
allowed_libc="syscall clock_gettime __errno_location"
# State shared with normal code (data, not code).
allowed_data="cpuprof__g cpuprof__threads cpuprof__threads_high cpuprof__fd_cookie cpuprof__tls_slot cpuprof__tls_labels _GLOBAL_OFFSET_TABLE_"

nm --defined-only "$objdir"/*.o | awk 'NF == 3 { print $3 }' | sort -u >"$TMP/defined.txt"
nm --undefined-only "$objdir"/*.o | awk 'NF == 2 { print $2 }' | sort -u >"$TMP/undef.txt"
bad=""
while read -r sym; do
	grep -qx "$sym" "$TMP/defined.txt" && continue
	case " $allowed_libc $allowed_data " in *" $sym "*) continue ;; esac
	# Sanitizer builds instrument every object; their runtime is not ours to list.
	if [ "${CPUPROF_SANITIZE:-0}" = 1 ]; then
		case "$sym" in __asan_* | __ubsan_* | __sanitizer_* | __sancov_* | __start___sancov_* | __stop___sancov_*) continue ;; esac
	fi
	bad="$bad $sym"
done <"$TMP/undef.txt"
[ -z "$bad" ] || fail "signal-path objects reference symbols outside the allowlist:$bad"
echo "signal path references: $(tr '\n' ' ' <"$TMP/undef.txt")"

# Every documented libc call is really listed in docs/SIGNAL-SAFETY.md.
for f in $allowed_libc; do
	grep -q "\`$f\`" "$CPUPROF_SRC/docs/SIGNAL-SAFETY.md" || fail "$f is not in docs/SIGNAL-SAFETY.md"
done

# Exported dynamic symbols: the public API (cpuprof_*) and the pthread_create wrapper.
nm -D --defined-only "$LIB" | awk '$2 ~ /^[TWDBR]$/ { print $3 }' | sort -u >"$TMP/exports.txt"
extra=$(grep -v -e '^cpuprof_' -e '^pthread_create$' -e '^_init$' -e '^_fini$' "$TMP/exports.txt" || true)
[ -z "$extra" ] || fail "libcpuprof.so exports non-API symbols: $(echo $extra)"
grep -q '^cpuprof_start$' "$TMP/exports.txt" || fail "cpuprof_start is not exported"
grep -q '^cpuprof__' "$TMP/exports.txt" && fail "internal cpuprof__ symbols are exported"
echo PASS
