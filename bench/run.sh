#!/bin/sh
# bench/run.sh: cpuprof side by side with gperftools' libprofiler and `perf record`, on
# workloads that measure their own ground truth, in one run; writes docs/BENCHMARKS.md.
#
#   sh bench/run.sh BUILD_DIR [--quick]        (`make bench` runs it on build/)
#
# Builds what it needs in BUILD_DIR (target bench_all), runs every experiment with the
# profilers interleaved (A B A B ...), records one line of key=value fields per process
# in a results file, and renders the tables with bench/report.awk. --quick: fewer and
# shorter runs (under 2 minutes); the full run takes about 10-15 minutes.
# Only public tools: sh, awk, perf, go tool pprof. BENCH_KEEP=DIR keeps the raw results.
set -u

usage() {
	echo "usage: sh bench/run.sh BUILD_DIR [--quick]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD_ARG=$1
MODE=full
if [ $# -ge 2 ]; then
	[ "$2" = --quick ] || usage
	MODE=quick
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$SRC/bench
OUT_MD=${BENCH_OUT_MD:-$SRC/docs/BENCHMARKS.md}
COMMAND="sh bench/run.sh $BUILD_ARG${2:+ $2}"
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

say() {
	echo "bench: $*" >&2
}
die() {
	say "$*"
	exit 1
}

# ---- build ------------------------------------------------------------------------------
# A new build directory gets RelWithDebInfo; an existing one keeps its settings, but not a
# sanitizer build (its numbers would say nothing about the profiler).
if [ -f "$BUILD_ARG/CMakeCache.txt" ]; then
	grep -q '^CPUPROF_SANITIZE:BOOL=ON' "$BUILD_ARG/CMakeCache.txt" &&
		die "$BUILD_ARG is a sanitizer build; benchmark a RelWithDebInfo build"
	cmake "$BUILD_ARG" >/dev/null || die "cmake re-configure of $BUILD_ARG failed"
else
	cmake -S "$SRC" -B "$BUILD_ARG" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
		die "cmake configure of $BUILD_ARG failed"
fi
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_ARG/CMakeCache.txt")
cmake --build "$BUILD_ARG" --target bench_all -j"$(nproc)" >/dev/null ||
	die "cannot build the bench targets in $BUILD_ARG (cmake --build $BUILD_ARG --target bench_all)"
BUILD=$(cd "$BUILD_ARG" && pwd)
B=$BUILD/bench
LIB=$BUILD/libcpuprof.so
GPERF=${GPERFTOOLS_LIB:-/usr/lib/x86_64-linux-gnu/libprofiler.so.0}
[ -x "$B/bench_run" ] && [ -f "$LIB" ] || die "missing $B/bench_run or $LIB"
command -v go >/dev/null 2>&1 || die "go (for go tool pprof) is not installed"
HAVE_PERF=0
if command -v perf >/dev/null 2>&1 && perf record -q -o /dev/null -e cpu-clock -- true 2>/dev/null; then
	HAVE_PERF=1
fi
HAVE_GPERF=0
[ -f "$GPERF" ] && HAVE_GPERF=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cpuprof-bench.XXXXXX")
cleanup() {
	if [ -n "${BENCH_KEEP:-}" ]; then
		mkdir -p "$BENCH_KEEP" && cp "$WORK/results.txt" "$WORK/stderr.log" "$WORK"/micro.*.txt \
			"$BENCH_KEEP/" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# go tool pprof wants a cache; perf keeps its build-id cache in $HOME/.debug. Both stay in
# the scratch directory, so the run leaves nothing behind.
export HOME="$WORK" GOCACHE="$WORK/gocache" GOFLAGS= GO111MODULE=off
RES=$WORK/results.txt
: >"$RES"
: >"$WORK/stderr.log"
NRUN=0

# ---- parameters ---------------------------------------------------------------------------
RATES="100 1000 10000"
if [ "$MODE" = full ]; then
	REPS=5 ACC_REPS=3 ACC_SEC=1.5 FIX_SEC=0.8 DEEP_SEC=0.8 DEPTH_SEC=0.3 START_N=50
	TC_REPS=5 TC_N=2000 STK_REPS=3 STK_SEC=2 SHARED_PLAIN=0
else
	# Quick: everything once, shorter; the peers' cost-by-depth runs are left out.
	REPS=3 ACC_REPS=1 ACC_SEC=0.25 FIX_SEC=0.1 DEEP_SEC=0.2 DEPTH_SEC=0.1 START_N=8
	TC_REPS=3 TC_N=1000 STK_REPS=1 STK_SEC=1.2 SHARED_PLAIN=1
fi
PAIR=none
PAIR_NEW=1
NTHREADS=$(nproc)
PROFS=cpuprof
PROFS="$PROFS cpuprof_timer"
[ $HAVE_GPERF = 1 ] && PROFS="$PROFS gperftools"
[ $HAVE_PERF = 1 ] && PROFS="$PROFS perf"
PEERS=""
[ $HAVE_GPERF = 1 ] && PEERS="$PEERS gperftools"
[ $HAVE_PERF = 1 ] && PEERS="$PEERS perf"

count() { # count N: the numbers 1 .. N, one a line
	c_i=1
	while [ "$c_i" -le "$1" ]; do
		echo "$c_i"
		c_i=$((c_i + 1))
	done
}

# ---- one measured process -----------------------------------------------------------------
# measure EXP WL PROF HZ REP FNRE COMMAND...
# Runs COMMAND under profiler PROF at HZ through bench_run, parses the profile it wrote and
# appends one record to $RES. An argument @OUT@ is replaced by the profile path. FNRE picks
# the workload's functions (leaf counts fn.NAME and frame counts wl_max). $PAIR, when set,
# ties a profiled run to the unprofiled run just before it. $NOPARSE=1 skips the parse.
measure() {
	m_exp=$1 m_wl=$2 m_prof=$3 m_hz=$4 m_rep=$5 m_fn=$6
	shift 6
	NRUN=$((NRUN + 1))
	m_rf=$WORK/run.$NRUN.txt
	m_out=$WORK/run.$NRUN.prof
	m_bin=$1
	: >"$m_rf"
	for m_a in "$@"; do
		shift
		[ "$m_a" = @OUT@ ] && m_a=$m_out
		set -- "$@" "$m_a"
	done
	case $m_prof in
	plain | api | floor_*) ;;
	cpuprof_idle) set -- env LD_PRELOAD="$LIB" "$@" ;;
	cpuprof) set -- env LD_PRELOAD="$LIB" CPUPROF_OUT="$m_out" CPUPROF_HZ="$m_hz" "$@" ;;
	cpuprof_timer)
		set -- env LD_PRELOAD="$LIB" CPUPROF_OUT="$m_out" CPUPROF_HZ="$m_hz" \
			CPUPROF_ENGINE=timer "$@"
		;;
	cpuprof_d512)
		set -- env LD_PRELOAD="$LIB" CPUPROF_OUT="$m_out" CPUPROF_HZ="$m_hz" \
			CPUPROF_MAX_DEPTH=512 "$@"
		;;
	gperftools)
		set -- env LD_PRELOAD="$GPERF" CPUPROFILE="$m_out" CPUPROFILE_FREQUENCY="$m_hz" "$@"
		;;
	perf)
		# --no-bpf-event: perf's side-band thread otherwise sits out a 1 s poll
		# timeout at exit (idle wall time, nothing to do with sampling).
		set -- perf record -q --no-bpf-event -e cpu-clock -F "$m_hz" --call-graph fp \
			-o "$m_out" -- "$@"
		;;
	*) die "unknown profiler $m_prof" ;;
	esac
	"$B/bench_run" "$m_rf" -- env BENCH_REPORT="$m_rf" "$@" >/dev/null 2>>"$WORK/stderr.log"
	m_parsed=""
	m_size=0
	if [ -s "$m_out" ]; then
		m_size=$(wc -c <"$m_out" | tr -d ' ')
		if [ "${NOPARSE:-0}" != 1 ]; then
			case $m_prof in
			cpuprof* | api)
				go tool pprof -raw "$m_out" >"$WORK/raw.txt" 2>>"$WORK/stderr.log"
				m_parsed=$(awk -v fn="$m_fn" -v wl="$m_fn" -f "$BENCH/parse_pprof.awk" "$WORK/raw.txt")
				m_eff=$(sed -n 's/.*effective rate: \([0-9.]*\) signals.*/\1/p' "$WORK/raw.txt" | head -n 1)
				[ -n "$m_eff" ] && m_parsed="$m_parsed eff_hz=$m_eff"
				;;
			gperftools)
				go tool pprof -raw "$m_bin" "$m_out" >"$WORK/raw.txt" 2>>"$WORK/stderr.log"
				m_parsed=$(awk -v fn="$m_fn" -v wl="$m_fn" -f "$BENCH/parse_pprof.awk" "$WORK/raw.txt")
				;;
			perf)
				# Kernel symbols are not resolved (--kallsyms=/dev/null saves reading
				# kallsyms for every profile): a kernel leaf counts as "other" anyway.
				m_parsed=$(perf script -i "$m_out" -F ip,sym --kallsyms=/dev/null 2>>"$WORK/stderr.log" |
					awk -v fn="$m_fn" -v wl="$m_fn" -f "$BENCH/parse_perf.awk")
				;;
			esac
		fi
	fi
	rm -f "$m_out" "$m_out.old"
	m_kv=$(awk 'NF == 2 { printf "%s=%s ", $1, $2 } NF == 3 { printf "%s.%s=%s ", $1, $2, $3 }' "$m_rf")
	echo "exp=$m_exp wl=$m_wl prof=$m_prof hz=$m_hz rep=$m_rep pair=${PAIR:-none} size=$m_size $m_kv $m_parsed" >>"$RES"
	rm -f "$m_rf"
}

# pair EXP WL PROF HZ REP FNRE COMMAND...: an unprofiled run, then the profiled one.
# With SHARED_PLAIN=1 (quick mode) one unprofiled run serves every profiler of the same
# EXP, WL, HZ and REP: plain A B C D, plain A B C D, ... (set PAIR_NEW=1 to start a group).
pair() {
	p_exp=$1 p_wl=$2 p_prof=$3 p_hz=$4 p_rep=$5 p_fn=$6
	shift 6
	if [ "$SHARED_PLAIN" = 1 ]; then
		PAIR="$p_exp.$p_wl.$p_hz.$p_rep"
		if [ "$PAIR_NEW" = 1 ]; then
			measure "$p_exp" "$p_wl" plain "$p_hz" "$p_rep" "$p_fn" "$@"
			PAIR_NEW=0
		fi
	else
		PAIR="$p_exp.$p_wl.$p_prof.$p_hz.$p_rep"
		measure "$p_exp" "$p_wl" plain "$p_hz" "$p_rep" "$p_fn" "$@"
	fi
	measure "$p_exp" "$p_wl" "$p_prof" "$p_hz" "$p_rep" "$p_fn" "$@"
	PAIR=none
}

field() { # field KEY: the value of KEY in the last record
	tail -n 1 "$RES" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# ---- calibration: ns per step of the fixed work -----------------------------------------------
say "mode $MODE; results in $WORK"
measure calib fixed1 plain 0 1 '' "$B/w_fixed" 1 100000000
NS_PER_ITER=$(awk -v c="$(field region_cpu_ns)" 'BEGIN { printf "%.4f", c / 1e8 }')
iters() { awk -v s="$1" -v n="$NS_PER_ITER" 'BEGIN { printf "%.0f", s * 1e9 / n }'; }
FIX_ITERS=$(iters "$FIX_SEC")
DEEP_ITERS=$(iters "$DEEP_SEC")
DEPTH_ITERS=$(iters "$DEPTH_SEC")
say "fixed work: $NS_PER_ITER ns per step; $FIX_ITERS steps = ${FIX_SEC}s"

# ---- 1. accuracy: known splits by function and by thread ------------------------------------
say "accuracy (${ACC_REPS} x ${ACC_SEC}s per profiler and rate)"
for rep in $(count $ACC_REPS); do
	measure acc split plain 0 $rep '^split_' "$B/w_split" "$ACC_SEC"
	measure acc threads plain 0 $rep '^worker_[0-9]$' "$B/w_threads" "$ACC_SEC"
	for hz in $RATES; do
		for prof in $PROFS; do
			measure acc split $prof $hz $rep '^split_' "$B/w_split" "$ACC_SEC"
			measure acc threads $prof $hz $rep '^worker_[0-9]$' "$B/w_threads" "$ACC_SEC"
		done
	done
done

# ---- 2. overhead on fixed work, 1 thread and one per core -------------------------------------
say "overhead ($REPS pairs per profiler, rate and workload)"
for rep in $(count $REPS); do
	for hz in $RATES; do
		for wl in fixed1 fixedN; do
			nt=1
			[ $wl = fixedN ] && nt=$NTHREADS
			PAIR_NEW=1
			for prof in $PROFS; do
				pair ovh $wl $prof $hz $rep '^fixed_work$' "$B/w_fixed" $nt "$FIX_ITERS"
			done
		done
	done
done

# ---- 3. deepest stack kept ------------------------------------------------------------------
say "deep stacks"
DEPTH_PROFS="cpuprof cpuprof_d512 $PEERS"
for d in 100 300; do
	for prof in $DEPTH_PROFS; do
		measure depth deep$d $prof 1000 1 '^deep_' "$B/w_deep" $d "$DEPTH_ITERS"
	done
done

# ---- 4. cost per sample by stack depth, next to the empty-handler floor ----------------------
say "cost per sample at depth 1, 64, 512 (10000 Hz)"
COST_PROFS="cpuprof_d512"
[ "$MODE" = full ] && COST_PROFS="$COST_PROFS $PEERS"
for rep in $(count $REPS); do
	for d in 1 64 512; do
		PAIR_NEW=1
		for prof in $COST_PROFS; do
			pair cost deep$d $prof 10000 $rep '^deep_' "$B/w_deep" $d "$DEEP_ITERS"
		done
	done
	for m in perf timer; do
		PAIR="floor.$m.$rep"
		measure floor floor floor_none 10000 $rep '' "$B/floor" none 10000 "$DEEP_ITERS"
		measure floor floor "floor_$m" 10000 $rep '' "$B/floor" $m 10000 "$DEEP_ITERS"
		PAIR=none
	done
done

# ---- 5. start-up cost: /bin/true with and without the profiler ------------------------------
say "start-up ($START_N runs each)"
NOPARSE=1
for i in $(count $START_N); do
	for prof in plain cpuprof_idle cpuprof $PEERS; do
		measure start true $prof 100 $i '' /bin/true
	done
done

# ---- 6. thread creation while profiling -------------------------------------------------------
say "thread creation ($TC_N threads, $TC_REPS runs each)"
for rep in $(count $TC_REPS); do
	for prof in plain cpuprof $PEERS; do
		measure tc create $prof 100 $rep '' "$B/w_threadcreate" $TC_N
	done
done
NOPARSE=0

# ---- 7. writing a profile with many distinct stacks -----------------------------------------
say "profile write with many distinct stacks ($STK_REPS x ${STK_SEC}s at 10000 Hz)"
for rep in $(count $STK_REPS); do
	measure stacks stacks api 10000 $rep '^stk_' "$B/w_stacks" @OUT@ 10000 "$STK_SEC" 16
done

# ---- 8. the library's own micro-benchmarks, when they exist and build ---------------------
# bench_build, bench_labels and bench_http (written with the modules they measure) print
# their own lines; the report shows them as printed.
MICRO=""
for prog in bench_build bench_labels bench_http; do
	[ -f "$BENCH/$prog.c" ] || continue
	if ! cmake --build "$BUILD" --target "$prog" >/dev/null 2>>"$WORK/stderr.log"; then
		say "$prog does not build; left out"
		continue
	fi
	case $prog in
	bench_http) args=$([ "$MODE" = full ] && echo 5 || echo 1) ;;
	bench_labels) args=$([ "$MODE" = full ] && echo 2000000 || echo 200000) ;;
	*) args="10000 2000 $WORK/bench_build.pb.gz" ;;
	esac
	say "$prog $args"
	{
		echo "$prog $args"
		# shellcheck disable=SC2086 # args is a word list on purpose
		(cd "$WORK" && "$B/$prog" $args 2>&1) || echo "(exit status $?)"
	} >"$WORK/micro.$prog.txt"
	MICRO="$MICRO $WORK/micro.$prog.txt"
done

# ---- 8b. the command-line tool on a profile with 100,000 distinct stacks -----------------------
GEN="$BUILD/tests/prog_tool_genprof_preload"
TOOL="$BUILD/cpuprof"
if cmake --build "$BUILD" --target prog_tool_genprof_preload cpuprof_tool >/dev/null 2>>"$WORK/stderr.log" &&
	[ -x "$GEN" ] && [ -x "$TOOL" ]; then
	say "cpuprof report, folded and flamegraph on 100,000 distinct stacks"
	"$GEN" big 100000 32 | gzip -1 >"$WORK/big.pb.gz"
	{
		echo "run.sh: build/cpuprof report, folded and flamegraph on a profile of 100,000 distinct stacks, depth 4-32 ($(($(wc -c <"$WORK/big.pb.gz") / 1024)) KiB gzipped; tests/integration/progs/tool_genprof_preload.c big 100000 32), 3 runs each"
		for sub in report folded flamegraph; do
			for r in 1 2 3; do
				if [ $sub = flamegraph ]; then
					set -- flamegraph "$WORK/big.pb.gz" -o "$WORK/big.svg"
				else
					set -- $sub "$WORK/big.pb.gz"
				fi
				/usr/bin/time -f "$sub, run $r: %e s wall, %U s user + %S s sys CPU, max RSS %M KiB" \
					"$TOOL" "$@" 2>&1 >/dev/null | tail -n 1
			done
		done
	} >"$WORK/micro.tool.txt"
	MICRO="$MICRO $WORK/micro.tool.txt"
fi

# ---- 9. static footprint of the libraries -------------------------------------------------------
static_size() { # static_size NAME FILE: .data + .bss and .text sizes from size -A
	[ -f "$2" ] || return 0
	size -A "$2" 2>/dev/null | awk -v n="$1" '
		$1 == ".text" { t += $2 } $1 == ".data" || $1 == ".bss" || $1 == ".tbss" || $1 == ".tdata" { d += $2 }
		END { printf "exp=static prof=%s text=%d databss=%d\n", n, t, d }' >>"$RES"
}
static_size cpuprof "$(readlink -f "$LIB")"
[ $HAVE_GPERF = 1 ] && static_size gperftools "$(readlink -f "$GPERF")"

# ---- machine and render -----------------------------------------------------------------------
KVER=$(uname -r)
CONFIG_HZ=""
for f in /boot/config-"$KVER" /boot/config-*; do
	[ -r "$f" ] || continue
	CONFIG_HZ=$(sed -n 's/^CONFIG_HZ=//p' "$f" | head -n 1)
	[ -n "$CONFIG_HZ" ] && CONFIG_HZ="$CONFIG_HZ (from $f)" && break
done
if [ -z "$CONFIG_HZ" ] && [ -r /proc/config.gz ]; then
	CONFIG_HZ=$(zcat /proc/config.gz | sed -n 's/^CONFIG_HZ=//p')
	[ -n "$CONFIG_HZ" ] && CONFIG_HZ="$CONFIG_HZ (from /proc/config.gz)"
fi
[ -n "$CONFIG_HZ" ] || CONFIG_HZ="not readable (no /boot/config-*); 250 on the machine these numbers come from"
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
PERF_VER=$( [ $HAVE_PERF = 1 ] && perf --version 2>/dev/null || echo "not available")
GPERF_VER=$(dpkg-query -W -f='${Version}' libgoogle-perftools4 2>/dev/null || echo "?")
GO_VER=$(go version 2>/dev/null | awk '{ print $3 }')
GIT_REV=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git -C "$SRC" status --porcelain -- src include 2>/dev/null)" ]; then
	GIT_REV="$GIT_REV + uncommitted changes in src/ or include/"
fi
T_END=$(date +%s)
mkdir -p "$(dirname "$OUT_MD")"
awk -v mode="$MODE" -v command="$COMMAND" -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" \
	-v nproc="$(nproc)" -v kernel="$KVER" -v config_hz="$CONFIG_HZ" -v cpu="$CPU_MODEL" \
	-v paranoid="$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)" \
	-v max_stack="$(cat /proc/sys/kernel/perf_event_max_stack 2>/dev/null)" \
	-v perf_ver="$PERF_VER" -v gperf_ver="$GPERF_VER" -v go_ver="$GO_VER" -v rev="$GIT_REV" \
	-v load="$LOAD_START" -v load_end="$(cut -d' ' -f1-3 /proc/loadavg)" -v elapsed="$((T_END - T_START))" \
	-v reps="$REPS" -v acc_reps="$ACC_REPS" -v acc_sec="$ACC_SEC" -v fix_sec="$FIX_SEC" \
	-v deep_sec="$DEEP_SEC" -v start_n="$START_N" -v tc_n="$TC_N" -v tc_reps="$TC_REPS" \
	-v stk_reps="$STK_REPS" -v stk_sec="$STK_SEC" -v nthreads="$NTHREADS" \
	-v ns_per_iter="$NS_PER_ITER" -v have_perf="$HAVE_PERF" -v have_gperf="$HAVE_GPERF" \
	-v build_type="${BUILD_TYPE:-?}" \
	-f "$BENCH/report.awk" "$RES" $MICRO >"$OUT_MD.tmp" || die "report.awk failed"
mv "$OUT_MD.tmp" "$OUT_MD"
say "wrote $OUT_MD in $((T_END - T_START)) s"
