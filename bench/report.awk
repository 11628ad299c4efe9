# report.awk: renders the results of bench/run.sh (one record per process: key=value
# fields) as docs/BENCHMARKS.md. POSIX awk (mawk works). Every number in the tables is
# computed here from the records; run.sh passes the machine description with -v.
#
# Record fields: exp wl prof hz rep pair size, the workload's own report (truth.F,
# region_cpu_ns, region_wall_ns, hwm_kb, end_rt_ns, ...), bench_run's (run_wall_ns,
# run_cpu_ns, run_maxrss_kb, run_end_rt_ns, run_status) and the profile's (samples,
# nstacks, period_ns, frames_max, wl_max, fn.F, eff_hz).

function v(r, k) {
	return ((r, k) in val) ? val[r, k] : ""
}
function abs(x) {
	return x < 0 ? -x : x
}
# ---- lists of numbers, by name ----
function ladd(name, x) {
	if (x == "") {
		return
	}
	L[name] = (name in L) ? L[name] " " x : x
}
function lsort(name, a,    n, i, j, t) {
	n = (name in L) ? split(L[name], a, " ") : 0
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) {
			a[j + 1] = a[j]
		}
		a[j + 1] = t
	}
	return n
}
function lcount(name,    a) {
	return (name in L) ? split(L[name], a, " ") : 0
}
function lmed(name,    a, n) {
	n = lsort(name, a)
	if (n == 0) {
		return ""
	}
	return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lmin(name,    a, n) {
	n = lsort(name, a)
	return n ? a[1] + 0 : ""
}
function lmax(name,    a, n) {
	n = lsort(name, a)
	return n ? a[n] + 0 : ""
}
# "median (min–max)" of list `name`, each value times `scale`, printed with `f`.
function fr(name, scale, f,    n) {
	n = lcount(name)
	if (n == 0) {
		return "–"
	}
	if (n == 1) {
		return sprintf(f, lmed(name) * scale)
	}
	return sprintf(f " (" f "–" f ")", lmed(name) * scale, lmin(name) * scale,
		lmax(name) * scale)
}
function fm(name, scale, f) {
	return lcount(name) ? sprintf(f, lmed(name) * scale) : "–"
}
function pname(p) {
	if (p == "cpuprof") return "cpuprof"
	if (p == "cpuprof_timer") return "cpuprof, timer engine"
	if (p == "cpuprof_d512") return "cpuprof, CPUPROF_MAX_DEPTH=512"
	if (p == "cpuprof_idle") return "cpuprof loaded, not profiling"
	if (p == "gperftools") return "gperftools " gperf_short
	if (p == "perf") return "perf record"
	if (p == "plain") return "no profiler"
	if (p == "floor_perf") return "floor: empty handler, perf_event signal"
	if (p == "floor_timer") return "floor: empty handler, POSIX CPU timer"
	return p
}
# The signals a profile stands for: cpuprof's timer engine weights samples by 1 + overrun,
# so its independent draws are the signals (effective rate x CPU time), not the samples.
function nsig(r) {
	if (v(r, "eff_hz") != "") {
		return v(r, "eff_hz") * v(r, "region_cpu_ns") / 1e9
	}
	return v(r, "samples") + 0
}
function exit_ns(r) {
	if (v(r, "run_end_rt_ns") == "" || v(r, "end_rt_ns") == "") {
		return ""
	}
	return v(r, "run_end_rt_ns") - v(r, "end_rt_ns")
}
# Error against the truth and the multinomial noise floor of record r (see the notes).
# The shares are taken among the workload's own functions; the samples outside them are
# OTHER, reported next to the error rather than folded into it.
function accuracy(r,    nk, ks, i, k, sumt, t, nt, tf, e, sumc, fl, p, q, n, ns) {
	nk = split(keys[r], ks, " ")
	sumt = 0
	nt = 0
	sumc = 0
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (substr(k, 1, 6) == "truth.") {
			nt++
			tf[nt] = substr(k, 7)
			t[nt] = val[r, k]
			sumt += val[r, k]
			sumc += v(r, "fn." tf[nt])
		}
	}
	n = v(r, "samples") + 0
	ERR = ""
	FLOOR = ""
	OTHER = ""
	if (sumt <= 0 || n <= 0 || sumc <= 0) {
		return
	}
	# Independent draws among the workload's functions (see nsig).
	ns = nsig(r) * sumc / n
	e = 0
	fl = 0
	for (i = 1; i <= nt; i++) {
		p = t[i] / sumt
		q = v(r, "fn." tf[i]) / sumc
		e += abs(p - q)
		if (ns > 0) {
			fl += sqrt(2 / 3.14159265358979 * p * (1 - p) / ns)
		}
	}
	OTHER = 1 - sumc / n
	ERR = e / 2
	FLOOR = fl / 2
}

# Files after the first: a micro-benchmark's output, its first line naming the command.
FILENAME != ARGV[1] {
	if (FNR == 1) {
		nmicro++
		micro_title[nmicro] = $0
		micro_body[nmicro] = ""
	} else {
		micro_body[nmicro] = micro_body[nmicro] $0 "\n"
	}
	next
}

{
	nrec++
	keys[nrec] = ""
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		if (eq == 0) {
			continue
		}
		k = substr($i, 1, eq - 1)
		val[nrec, k] = substr($i, eq + 1)
		keys[nrec] = keys[nrec] " " k
	}
	if (v(nrec, "pair") != "none" && v(nrec, "prof") == "plain") {
		plainof[v(nrec, "pair")] = nrec
	}
	if (v(nrec, "exp") == "floor" && v(nrec, "prof") == "floor_none") {
		plainof[v(nrec, "pair")] = nrec
	}
	if (v(nrec, "exp") == "acc" && v(nrec, "prof") == "plain") {
		accplain[v(nrec, "wl"), v(nrec, "rep")] = nrec
	}
	if (v(nrec, "exp") == "start" && v(nrec, "prof") == "plain") {
		startplain[v(nrec, "rep")] = nrec
	}
	if (v(nrec, "exp") == "tc" && v(nrec, "prof") == "plain") {
		tcplain[v(nrec, "rep")] = nrec
	}
}

END {
	split(gperf_ver, gv, "-")
	gperf_short = gv[1]
	nrates = split("100 1000 10000", rates, " ")
	nprofs = split("cpuprof cpuprof_timer", profs, " ")
	if (have_gperf == 1) profs[++nprofs] = "gperftools"
	if (have_perf == 1) profs[++nprofs] = "perf"
	npeers = 0
	if (have_gperf == 1) peers[++npeers] = "gperftools"
	if (have_perf == 1) peers[++npeers] = "perf"
	peer_list = ""
	for (i = 1; i <= npeers; i++) peer_list = peer_list " " peers[i]
	failed = 0
	for (r = 1; r <= nrec; r++) {
		if (v(r, "run_status") != "" && v(r, "run_status") != 0) {
			failed++
			failures = failures sprintf("| %s | %s | %s | %s Hz | run %s | exit status %s |\n",
				v(r, "exp"), v(r, "wl"), pname(v(r, "prof")), v(r, "hz"), v(r, "rep"),
				v(r, "run_status"))
			bad[r] = 1
		}
	}

	# ---- per-record derived values, collected into lists ----
	for (r = 1; r <= nrec; r++) {
		if (r in bad) continue
		ex = v(r, "exp"); wl = v(r, "wl"); p = v(r, "prof"); hz = v(r, "hz")
		cpu_s = v(r, "region_cpu_ns") / 1e9
		if (ex == "acc" && p != "plain") {
			key = wl SUBSEP p SUBSEP hz
			accuracy(r)
			ladd("err" key, ERR)
			ladd("floor" key, FLOOR)
			ladd("other" key, OTHER)
			ladd("n" key, v(r, "samples"))
			if (cpu_s > 0 && hz > 0) {
				ladd("cap" key, v(r, "samples") / (hz * cpu_s))
				ladd("eff" key, v(r, "eff_hz") != "" ? v(r, "eff_hz") : v(r, "samples") / cpu_s)
			}
			if (v(r, "period_ns") > 0) {
				ladd("rate" key, 1e9 / v(r, "period_ns"))
			}
			ladd("size" key, v(r, "size"))
			pr = accplain[wl, v(r, "rep")]
			if (pr != "" && exit_ns(r) != "" && exit_ns(pr) != "") {
				ladd("write" key, exit_ns(r) - exit_ns(pr))
			}
			if (hz == 1000 && wl == "threads" && pr != "") {
				ladd("hwmT" p, v(r, "hwm_kb"))
				ladd("dhwmT" p, v(r, "hwm_kb") - v(pr, "hwm_kb"))
				ladd("maxrssT" p, v(r, "run_maxrss_kb"))
			}
		}
		if (ex == "acc" && p == "plain" && wl == "threads") {
			ladd("hwmTplain", v(r, "hwm_kb"))
			ladd("maxrssTplain", v(r, "run_maxrss_kb"))
		}
		if (ex == "ovh" && p != "plain") {
			pr = plainof[v(r, "pair")]
			if (pr == "" || (pr in bad)) continue
			key = wl SUBSEP p SUBSEP hz
			ladd("cpu" key, v(r, "run_cpu_ns") / v(pr, "run_cpu_ns"))
			ladd("wall" key, v(r, "run_wall_ns") / v(pr, "run_wall_ns"))
			ladd("inproc" key, v(r, "region_cpu_ns") / v(pr, "region_cpu_ns"))
			ladd("n" key, v(r, "samples"))
			s = nsig(r)
			if (s > 0) {
				ladd("cost" key, (v(r, "run_cpu_ns") - v(pr, "run_cpu_ns")) / s)
				ladd("icost" key, (v(r, "region_cpu_ns") - v(pr, "region_cpu_ns")) / s)
			}
			if (exit_ns(r) != "" && exit_ns(pr) != "") {
				ladd("write" key, exit_ns(r) - exit_ns(pr))
			}
			ladd("size" key, v(r, "size"))
			if (wl == "fixed1" && hz == 1000) {
				ladd("hwm1" p, v(r, "hwm_kb"))
				ladd("dhwm1" p, v(r, "hwm_kb") - v(pr, "hwm_kb"))
				ladd("vsz1" p, v(r, "vsz_kb") - v(pr, "vsz_kb"))
				ladd("maxrss1" p, v(r, "run_maxrss_kb"))
				ladd("hwm1plain", v(pr, "hwm_kb"))
				ladd("maxrss1plain", v(pr, "run_maxrss_kb"))
			}
		}
		if (ex == "depth") {
			depth_wl[wl, p] = v(r, "wl_max")
			depth_all[wl, p] = v(r, "frames_max")
		}
		if (ex == "cost" && p != "plain") {
			pr = plainof[v(r, "pair")]
			if (pr == "" || (pr in bad)) continue
			s = nsig(r)
			if (s > 0) {
				ladd("dcost" wl SUBSEP p, (v(r, "region_cpu_ns") - v(pr, "region_cpu_ns")) / s)
				ladd("dwcost" wl SUBSEP p, (v(r, "run_cpu_ns") - v(pr, "run_cpu_ns")) / s)
			}
			ladd("dn" wl SUBSEP p, v(r, "samples"))
			ladd("dframes" wl SUBSEP p, v(r, "frames_max"))
		}
		if (ex == "floor" && p != "floor_none") {
			pr = plainof[v(r, "pair")]
			if (pr == "" || (pr in bad) || v(r, "signals") <= 0) continue
			ladd("fcost" p, (v(r, "region_cpu_ns") - v(pr, "region_cpu_ns")) / v(r, "signals"))
			ladd("fsig" p, v(r, "signals") / cpu_s)
		}
		if (ex == "start") {
			ladd("swall" p, v(r, "run_wall_ns"))
			ladd("scpu" p, v(r, "run_cpu_ns"))
			pr = startplain[v(r, "rep")]
			if (pr != "" && p != "plain") {
				ladd("sdwall" p, v(r, "run_wall_ns") - v(pr, "run_wall_ns"))
				ladd("sdcpu" p, v(r, "run_cpu_ns") - v(pr, "run_cpu_ns"))
			}
		}
		if (ex == "tc" && v(r, "threads") > 0) {
			ladd("tc" p, v(r, "create_join_ns"))
			ladd("tccpu" p, v(r, "region_cpu_ns") / v(r, "threads"))
			pr = tcplain[v(r, "rep")]
			if (pr != "" && p != "plain") {
				ladd("tcr" p, v(r, "create_join_ns") / v(pr, "create_join_ns"))
				ladd("tccr" p, v(r, "region_cpu_ns") / v(pr, "region_cpu_ns"))
			}
		}
		if (ex == "stacks") {
			ladd("stk_n", v(r, "nstacks"))
			ladd("stk_samples", v(r, "samples"))
			ladd("stk_wall", v(r, "stop_wall_ns"))
			ladd("stk_cpu", v(r, "stop_cpu_ns"))
			ladd("stk_size", v(r, "size"))
			if (v(r, "nstacks") > 0) {
				ladd("stk_per", v(r, "stop_wall_ns") / v(r, "nstacks"))
			}
		}
		if (ex == "static") {
			stat_text[p] = v(r, "text")
			stat_data[p] = v(r, "databss")
		}
	}

	# ---- header ----
	print "# Benchmarks: cpuprof, gperftools and perf side by side"
	print ""
	print "<!-- Generated by bench/run.sh; do not edit by hand. -->"
	print ""
	printf "Generated by `%s` (%s mode, %d s) on %s, from commit %s.\n", command, mode, elapsed, date, rev
	print "`make bench` runs the same command on `build/`; `--quick` is the short version (fewer, shorter runs)."
	if (mode != "full") {
		print ""
		print "**These are quick-mode numbers**: single accuracy runs and short workloads, so the ranges are wide. Run the full mode for the real table."
	}
	print ""
	print "| machine | |"
	print "|---|---|"
	printf "| CPUs (nproc) | %s × %s |\n", nproc, cpu
	printf "| kernel | %s |\n", kernel
	printf "| cpuprof build | %s, CMAKE_BUILD_TYPE=%s |\n", rev, build_type
	printf "| CONFIG_HZ (kernel tick) | %s |\n", config_hz
	if (lcount("fsigfloor_timer")) {
		printf "| POSIX CPU timer asked for 10000 Hz, delivered | %s signals per CPU-second (the tick bounds it) |\n", fm("fsigfloor_timer", 1, "%.0f")
	}
	printf "| perf_event_paranoid, perf_event_max_stack | %s, %s |\n", paranoid, max_stack
	printf "| load average (1, 5, 15 min) before / after the run | %s / %s (a shared, noisy machine: read the ranges) |\n", load, load_end
	printf "| perf | %s |\n", perf_ver
	printf "| gperftools (libprofiler) | %s |\n", gperf_ver
	printf "| go tool pprof | %s |\n", go_ver
	printf "| fixed work | one step of xorshift64* = %s ns |\n", ns_per_iter
	print ""
	print "Profilers: **cpuprof** by `LD_PRELOAD=libcpuprof.so CPUPROF_OUT=… CPUPROF_HZ=…` (engine `auto`, which is"
	print "perf_event here; **cpuprof, timer engine** adds `CPUPROF_ENGINE=timer`); **gperftools** by"
	print "`LD_PRELOAD=libprofiler.so CPUPROFILE=… CPUPROFILE_FREQUENCY=…`; **perf** by"
	print "`perf record -e cpu-clock -F HZ --call-graph fp --no-bpf-event`. Profiles are read with `go tool pprof -raw`"
	print "(cpuprof, gperftools) and `perf script -F ip,sym` (perf). All workloads are built `-O2 -g -fno-omit-frame-pointer`."
	print "Every figure is a median with the range (min–max) over the runs in parentheses."
	print ""

	# ---- summary ----
	print "## Summary: cpuprof against the best peer"
	print ""
	print "Lower is better everywhere except capture, where 100 % is right. \"behind\" means the best peer's median beats"
	print "cpuprof's; ranges that overlap are marked, because on this machine they often do."
	print ""
	print "| metric | cpuprof | gperftools | perf | cpuprof / best peer | verdict |"
	print "|---|---|---|---|---|---|"
	summary_rates("error vs truth, by function (split)", "err" "split", 100, "%.2f %%", "low")
	summary_rates("error vs truth, by thread (8 threads)", "err" "threads", 100, "%.2f %%", "low")
	summary_row("samples outside the workload (other), split, 10000 Hz", "other" "split" SUBSEP "%s" SUBSEP 10000, 100, "%.1f %%", "low")
	summary_row("samples outside the workload (other), 8 threads, 10000 Hz", "other" "threads" SUBSEP "%s" SUBSEP 10000, 100, "%.1f %%", "low")
	summary_rates("samples captured / (Hz × CPU s), 8 threads", "cap" "threads", 100, "%.1f %%", "one")
	summary_rates("CPU time ratio, fixed work 1 thread", "cpu" "fixed1", 1, "%.3f", "low")
	summary_rates("CPU time ratio, fixed work " nthreads " threads", "cpu" "fixedN", 1, "%.3f", "low")
	summary_row("in-process CPU ratio, fixed work 1 thread, 10000 Hz", "inproc" "fixed1" SUBSEP "%s" SUBSEP 10000, 1, "%.3f", "low")
	summary_row("profile write at exit, fixed work 1 thread, 1000 Hz (ms)", "write" "fixed1" SUBSEP "%s" SUBSEP 1000, 1e-6, "%.1f", "low")
	summary_row("in-process cost per sample, depth 64 (µs)", "dcost" "deep64" SUBSEP "%s", 1e-3, "%.2f", "low", "cpuprof_d512")
	summary_row("in-process cost per sample, depth 512 (µs)", "dcost" "deep512" SUBSEP "%s", 1e-3, "%.2f", "low", "cpuprof_d512")
	summary_row("start-up + exit of /bin/true, extra wall (ms)", "sdwall" "%s", 1e-6, "%.2f", "low")
	summary_row("thread create+join, process CPU, ratio to no profiler", "tccr" "%s", 1, "%.2f", "low")
	summary_row("extra VmHWM of the workload, w_threads at 1000 Hz (MiB)", "dhwmT" "%s", 1 / 1024, "%.2f", "low", "", "perf")
	print ""
	print "perf keeps its memory in its own process (see the memory table), so it is left out of the VmHWM row."
	print ""

	# ---- accuracy tables ----
	rate_table("acc", "split", "Accuracy by function: one thread, four functions (about 40/30/20/10 % of its CPU time)",
		"`bench/w_split SECONDS` (" acc_sec " s of CPU, " acc_reps " run(s) per cell): split_hash, split_float, split_divide, split_memory, truth from CLOCK_THREAD_CPUTIME_ID around every call.")
	rate_table("acc", "threads", "Accuracy by thread: eight threads with unequal shares",
		"`bench/w_threads SECONDS` (" acc_sec " s of wall time, " acc_reps " run(s) per cell): worker_0 runs at 60 % duty (sleeps 40 % of each 10 ms period), worker_1-2 at 30 %, worker_3-4 at 15 %, worker_5-7 at 5 %; truth is each thread's CLOCK_THREAD_CPUTIME_ID. On a loaded 2-CPU machine the threads get less than their duty; the truth is what they got.")

	# ---- overhead ----
	ovh_desc = "`bench/w_fixed THREADS ITERS` (" fix_sec " s of work per thread), " reps " interleaved pairs per cell" \
		(mode == "full" ? "" : " (one unprofiled run shared by the profilers of a cell)") ". Ratios are profiled / unprofiled (1.000 = free)."
	rate_table("ovh", "fixed1", "Overhead: fixed work, one thread", ovh_desc)
	rate_table("ovh", "fixedN", "Overhead: fixed work, " nthreads " threads (one per CPU)", ovh_desc)

	# ---- depth ----
	print "## Deepest stack kept"
	print ""
	print "`bench/w_deep D ITERS` at 1000 Hz: deep_rec calls itself D−1 times, then deep_leaf works. Cells: the most"
	print "workload frames (deep_rec, deep_leaf) one sample kept, of D, and in parentheses all frames of that stack"
	print "(D + main + libc start-up frames when nothing is cut)."
	print ""
	print "| profiler | D = 100 | D = 300 | limit |"
	print "|---|---|---|---|"
	ndp = split("cpuprof cpuprof_d512", dps, " ")
	if (have_gperf == 1) dps[++ndp] = "gperftools"
	if (have_perf == 1) dps[++ndp] = "perf"
	for (i = 1; i <= ndp; i++) {
		p = dps[i]
		lim = p == "cpuprof" ? "CPUPROF_MAX_DEPTH, default 64 (max 1024)" : p == "cpuprof_d512" ? "512 asked" : p == "gperftools" ? "kMaxStackDepth, compiled in" : "kernel.perf_event_max_stack = " max_stack
		printf "| %s | %s of 100 (%s) | %s of 300 (%s) | %s |\n", pname(p), dcell(depth_wl["deep100", p]), dcell(depth_all["deep100", p]),
			dcell(depth_wl["deep300", p]), dcell(depth_all["deep300", p]), lim
	}
	print ""

	# ---- cost per sample ----
	print "## Cost of one sample by stack depth, next to the floor"
	print ""
	print "`bench/w_deep D ITERS` (" deep_sec " s of fixed work) at 10000 Hz, profiled and not, in " reps " interleaved pairs:"
	print "(process CPU time of the work, profiled − unprofiled) / signals delivered, in µs. The floor is"
	print "`bench/floor`: the same work with an empty SIGPROF handler driven by the same kind of clock (a perf_event"
	print "task-clock event signalling its thread, user mode only when allowed, as cpuprof's engine does)."
	print "Its cost does not depend on the depth."
	print "gperftools asked for 10000 Hz runs at its 4000 Hz cap, and the process-wide ITIMER_PROF it uses is"
	print "checked on the tick, so it gets few samples and a wide range. perf's column is the in-kernel cost charged"
	print "to the workload (perf's own process reads the samples separately: see the overhead tables)."
	print ""
	printf "| depth D | cpuprof (max depth 512) | above the floor | %s |", pname("floor_perf")
	for (j = 1; j <= npeers; j++) printf " %s |", pname(peers[j])
	printf "\n|---|---|---|---|"
	for (j = 1; j <= npeers; j++) printf "---|"
	printf "\n"
	nd = split("1 64 512", ds, " ")
	for (i = 1; i <= nd; i++) {
		d = ds[i]
		above = lcount("dcost" "deep" d SUBSEP "cpuprof_d512") && lcount("fcostfloor_perf") ? sprintf("%.2f", (lmed("dcost" "deep" d SUBSEP "cpuprof_d512") - lmed("fcostfloor_perf")) / 1000) : "–"
		printf "| %s | %s | %s | %s |", d, fr("dcost" "deep" d SUBSEP "cpuprof_d512", 1e-3, "%.2f"), above,
			fr("fcostfloor_perf", 1e-3, "%.2f")
		for (j = 1; j <= npeers; j++) printf " %s |", fr("dcost" "deep" d SUBSEP peers[j], 1e-3, "%.2f")
		printf "\n"
	}
	print ""
	if (lcount("fcostfloor_timer") && lmin("fcostfloor_timer") > 0) {
		printf "The POSIX CPU timer floor, at the %s signals per CPU-second the tick lets through, measured %s µs per signal.\n",
			fm("fsigfloor_timer", 1, "%.0f"), fr("fcostfloor_timer", 1e-3, "%.1f")
	} else if (lcount("fsigfloor_timer")) {
		printf "The POSIX CPU timer floor gets only the %s signals per CPU-second the tick lets through: too few for its cost to stand out of the run-to-run noise (%s µs per signal).\n",
			fm("fsigfloor_timer", 1, "%.0f"), fr("fcostfloor_timer", 1e-3, "%.1f")
	}
	printf "Frames per sample recorded at D = 512: cpuprof %s, gperftools %s, perf %s (each keeps what its limit allows).\n",
		fm("dframes" "deep512" SUBSEP "cpuprof_d512", 1, "%d"), fm("dframes" "deep512" SUBSEP "gperftools", 1, "%d"), fm("dframes" "deep512" SUBSEP "perf", 1, "%d")
	printf "Whole-command cost per sample at D = 64 (start-up, reader, writing and perf's own process included): cpuprof %s µs, gperftools %s µs, perf %s µs.\n",
		fm("dwcost" "deep64" SUBSEP "cpuprof_d512", 1e-3, "%.2f"), fm("dwcost" "deep64" SUBSEP "gperftools", 1e-3, "%.2f"), fm("dwcost" "deep64" SUBSEP "perf", 1e-3, "%.2f")
	print ""

	# ---- start-up ----
	print "## Start-up cost"
	print ""
	print "`/bin/true`, " start_n " runs of each, interleaved. Wall and CPU time of the whole command (for perf, perf record"
	print "and its child); the extra is the median of the paired differences to the unprofiled run next to it."
	print "\"cpuprof\" here starts a profile at 100 Hz and writes it at exit (an empty profile)."
	print ""
	print "| command | wall (ms) | extra wall (ms) | CPU (ms) | extra CPU (ms) |"
	print "|---|---|---|---|---|"
	vs_plain_rows("plain cpuprof_idle cpuprof" peer_list, "swall", 1e-6, "%.2f", "sdwall", 1e-6, "%.2f",
		"scpu", 1e-6, "%.1f", "sdcpu", 1e-6, "%.1f")
	print ""

	# ---- thread creation ----
	print "## Thread creation while profiling"
	print ""
	print "`bench/w_threadcreate " tc_n "`: create and join " tc_n " short threads one after another, " tc_reps " runs of each"
	print "(profilers at 100 Hz). perf record follows new threads by inheriting its events into each one."
	print "Wall time waits for each new thread to be scheduled, so on a loaded machine the process CPU time"
	print "per thread (creating thread and new thread together) is the steadier measure."
	print ""
	print "| profiler | create + join, wall (µs) | ratio | create + join, process CPU (µs) | ratio |"
	print "|---|---|---|---|---|"
	vs_plain_rows("plain cpuprof" peer_list, "tc", 1e-3, "%.1f", "tcr", 1, "%.2f", "tccpu", 1e-3, "%.1f", "tccr", 1, "%.2f")
	print ""

	# ---- stacks ----
	print "## Writing a profile with many distinct stacks"
	print ""
	print "`bench/w_stacks OUT 10000 " stk_sec " 16` (linked with libcpuprof, " stk_reps " run(s)): call paths 16 frames deep"
	print "chosen by the bits of a counter (65,536 possible stacks), sampled at 10000 Hz for " stk_sec " s of CPU; the"
	print "time is that of `cpuprof_stop()` (drain, symbolize, encode, gzip, write, rename)."
	print ""
	print "| distinct stacks in the profile | samples | cpuprof_stop() wall (ms) | its CPU (ms) | per stack (µs) | file (KiB) |"
	print "|---|---|---|---|---|---|"
	printf "| %s | %s | %s | %s | %s | %s |\n", fr("stk_n", 1, "%d"), fr("stk_samples", 1, "%d"), fr("stk_wall", 1e-6, "%.1f"),
		fr("stk_cpu", 1e-6, "%.1f"), fr("stk_per", 1e-3, "%.2f"), fr("stk_size", 1 / 1024, "%.0f")
	print ""
	print "Neither peer has a comparable step: gperftools writes its log as it goes and flushes at exit (its exit"
	print "time is in the overhead tables' write column), perf streams into perf.data and post-processes build ids."
	print ""

	# ---- memory ----
	print "## Memory"
	print ""
	print "VmHWM (peak RSS, from /proc/self/status at the end of the workload) of the workload process, and the"
	print "largest max RSS among the command's processes (getrusage of the children: for perf, perf itself)."
	print "Fixed work: 1 thread at 1000 Hz; `w_threads`: 8 workers + main at 1000 Hz."
	print ""
	print "| profiler | VmHWM 1 thread (MiB) | extra | VmHWM 9 threads (MiB) | extra | largest process, 9 threads (MiB) | extra virtual, 1 thread (MiB) |"
	print "|---|---|---|---|---|---|---|"
	printf "| %s | %s | – | %s | – | %s | – |\n", pname("plain"), fm("hwm1plain", 1 / 1024, "%.1f"), fm("hwmTplain", 1 / 1024, "%.1f"), fm("maxrssTplain", 1 / 1024, "%.1f")
	for (i = 1; i <= nprofs; i++) {
		p = profs[i]
		printf "| %s | %s | %s | %s | %s | %s | %s |\n", pname(p), fm("hwm1" p, 1 / 1024, "%.1f"), fr("dhwm1" p, 1 / 1024, "%.2f"),
			fm("hwmT" p, 1 / 1024, "%.1f"), fr("dhwmT" p, 1 / 1024, "%.2f"), fm("maxrssT" p, 1 / 1024, "%.1f"), fr("vsz1" p, 1 / 1024, "%.1f")
	}
	print ""
	if ("cpuprof" in stat_text) {
		printf "Static footprint (`size -A`): libcpuprof.so .text %.0f KiB, .data+.bss %.0f KiB", stat_text["cpuprof"] / 1024, stat_data["cpuprof"] / 1024
		if ("gperftools" in stat_text) {
			printf "; libprofiler.so .text %.0f KiB, .data+.bss %.0f KiB", stat_text["gperftools"] / 1024, stat_data["gperftools"] / 1024
		}
		print "."
		print ""
	}

	if (failed) {
		print "## Runs that failed"
		print ""
		print "| experiment | workload | profiler | rate | run | |"
		print "|---|---|---|---|---|---|"
		printf "%s", failures
		print ""
	}

	if (nmicro) {
		print "## The library's own micro-benchmarks"
		print ""
		print "Programs in bench/ written with the modules they measure (linked with libcpuprof.a), run once each;"
		print "their output as printed."
		print ""
		for (i = 1; i <= nmicro; i++) {
			print "`bench/" micro_title[i] "`"
			print ""
			print "```"
			printf "%s", micro_body[i]
			print "```"
			print ""
		}
	}

	# ---- notes ----
	print "## How the numbers are made"
	print ""
	print "- **Samples and shares.** Every tool is read for \"self\" time: a sample belongs to the function that owns its"
	print "  leaf PC (for pprof, the last line of the leaf location, i.e. the physical function after inline frames; for"
	print "  perf, `sym`). Samples outside the workload's functions (start-up, libc, the profiler's own threads, kernel"
	print "  leaves in perf, cpuprof's \"[cpuprof] ...\" frames) are the \"other\" column."
	print "- **Error** is ½ Σ |p − q| over the workload's functions, where p is a function's measured share of the"
	print "  workload's CPU time (CLOCK_THREAD_CPUTIME_ID) and q its share of the samples that landed in the workload's"
	print "  functions: the fraction of those samples that would have to move. The samples that landed elsewhere are"
	print "  the **other** column, shown next to it and not excused: a profile with 10 % other hides 10 % of the time."
	print "- **Noise floor** is the expected error of a perfect sampler that draws n independent samples from p, by"
	print "  the normal approximation E|q − p| = sqrt(2/π) · sqrt(p(1 − p)/n) per function, summed and halved (no"
	print "  simulation). n is the samples in the workload's functions, except for cpuprof's timer engine, whose"
	print "  samples are weighted by 1 + overrun: there n is the signals actually delivered (effective rate × CPU"
	print "  time, the same fraction in the workload). A periodic sampler can beat this floor (it is not random);"
	print "  an error far above it is bias."
	print "- **Capture** is samples / (asked Hz × CPU seconds of the process during the work). gperftools caps"
	print "  CPUPROFILE_FREQUENCY at 4000 Hz and uses one process-wide ITIMER_PROF; cpuprof's timer engine and"
	print "  gperftools are both bounded by the tick (CONFIG_HZ) for the signals they get, and cpuprof's timer engine"
	print "  makes up the count with overrun weights. \"signals/CPU-s\" is the rate of signals actually delivered."
	print "- **Overhead** is from interleaved pairs: each profiled run right after an unprofiled run of the same"
	print "  command. CPU is user + system time of the whole command and its children (so perf's own process counts),"
	print "  wall is fork to reap. \"in-process\" uses the workload's own CLOCK_PROCESS_CPUTIME_ID over the work only."
	print "  Cost per sample is the extra whole-command CPU time / signals delivered, so at low rates it carries the"
	print "  fixed costs (start-up, symbolizing, writing)."
	print "- **Write** is the time from the workload's last instruction in main (it prints CLOCK_REALTIME) to the"
	print "  process being reaped, minus the same for the unprofiled run: for cpuprof and gperftools the profile write"
	print "  at exit, for perf record its wind-down after the child exits."
	print "- **perf --no-bpf-event**: without it perf record's side-band thread waits out a 1 s poll timeout after"
	print "  the workload ends, which would add idle wall time unrelated to sampling."
	print "- The deep-stack workloads' leaf calls a no-op: GCC 12 gives a leaf function without a stack frame no"
	print "  frame pointer even with -mno-omit-leaf-frame-pointer, and then every frame-pointer unwinder (all three"
	print "  here) drops that leaf's caller."
	print "- Timings appear only here, never in a pass/fail test. Raw records: `BENCH_KEEP=DIR sh bench/run.sh …`."
}

# Table rows for the profilers in plist: two pairs of columns, each a value list (a) and its
# change against the paired unprofiled run (b), which the unprofiled row leaves empty.
function vs_plain_rows(plist, a1, s1, f1, b1, t1, g1, a2, s2, f2, b2, t2, g2,    n, ps, i, p) {
	n = split(plist, ps, " ")
	for (i = 1; i <= n; i++) {
		p = ps[i]
		printf "| %s | %s | %s | %s | %s |\n", pname(p), fr(a1 p, s1, f1), p == "plain" ? "–" : fr(b1 p, t1, g1),
			fr(a2 p, s2, f2), p == "plain" ? "–" : fr(b2 p, t2, g2)
	}
}

function dcell(x) {
	return x == "" ? "–" : x
}

# One summary line: the list name pattern has %s for the profiler.
# cp: cpuprof's variant (default "cpuprof"); nopeer: a peer left out of the comparison.
function summary_row(label, pat, scale, f, better, cp, nopeer,    i, p, name, cm, best, bestp, bm, verdict, cell, overlap) {
	if (cp == "") cp = "cpuprof"
	name = sprintf(pat, cp)
	if (!lcount(name)) return
	cm = lmed(name)
	printf "| %s | %s |", label, fr(name, scale, f)
	best = ""
	for (i = 1; i <= 2; i++) {
		p = i == 1 ? "gperftools" : "perf"
		if ((p == "gperftools" && have_gperf != 1) || (p == "perf" && have_perf != 1) || p == nopeer || !lcount(sprintf(pat, p))) {
			printf " – |"
			continue
		}
		printf " %s |", fr(sprintf(pat, p), scale, f)
		bm = lmed(sprintf(pat, p))
		if (best == "" || score(bm, better) < score(best, better)) {
			best = bm
			bestp = p
		}
	}
	printf " %s |", (best == "" || better == "one" || best <= 0) ? "–" : sprintf("%.2f", cm / best)
	if (best == "") {
		verdict = "no peer"
	} else if (score(cm, better) <= score(best, better)) {
		verdict = "cpuprof best"
	} else {
		overlap = lmin(name) <= lmax(sprintf(pat, bestp)) && lmin(sprintf(pat, bestp)) <= lmax(name)
		verdict = "**behind " bestp "**" (overlap ? " (ranges overlap)" : "")
	}
	printf " %s |\n", verdict
}
# summary_row for each rate: lists named prefix SUBSEP profiler SUBSEP rate.
function summary_rates(label, prefix, scale, f, better,    i) {
	for (i = 1; i <= nrates; i++) {
		summary_row(label ", " rates[i] " Hz", prefix SUBSEP "%s" SUBSEP rates[i], scale, f, better)
	}
}
function score(x, better) {
	return better == "one" ? abs(x - 1) : x
}

# A table with one row per (rate, profiler) of workload wl: kind "acc" (accuracy) or "ovh"
# (overhead). Rows without data say so.
function rate_table(kind, wl, title, desc,    i, j, hz, p, key) {
	print "## " title
	print ""
	print desc
	print ""
	if (kind == "acc") {
		print "| Hz asked | profiler | samples | capture | signals/CPU-s | error | noise floor | other | write (ms) | profile (KiB) |"
		print "|---|---|---|---|---|---|---|---|---|---|"
	} else {
		print "| Hz asked | profiler | CPU ratio | wall ratio | in-process CPU ratio | samples | cost per sample (µs) | write (ms) | profile (KiB) |"
		print "|---|---|---|---|---|---|---|---|---|"
	}
	for (i = 1; i <= nrates; i++) {
		hz = rates[i]
		for (j = 1; j <= nprofs; j++) {
			p = profs[j]
			key = wl SUBSEP p SUBSEP hz
			if (!lcount((kind == "acc" ? "n" : "cpu") key)) {
				printf "| %s | %s | no data |\n", hz, pname(p)
			} else if (kind == "acc") {
				printf "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", hz, pname(p),
					(p == "gperftools" && lmed("rate" key) < hz) ? sprintf(" (capped at %d Hz)", lmed("rate" key)) : "",
					fm("n" key, 1, "%d"), fr("cap" key, 100, "%.1f %%"), fm("eff" key, 1, "%.0f"),
					fr("err" key, 100, "%.2f %%"), fm("floor" key, 100, "%.2f %%"), fm("other" key, 100, "%.1f %%"),
					fr("write" key, 1e-6, "%.1f"), fm("size" key, 1 / 1024, "%.1f")
			} else {
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", hz, pname(p), fr("cpu" key, 1, "%.3f"),
					fr("wall" key, 1, "%.3f"), fr("inproc" key, 1, "%.3f"), fm("n" key, 1, "%d"),
					fr("cost" key, 1e-3, "%.1f"), fr("write" key, 1e-6, "%.1f"), fm("size" key, 1 / 1024, "%.1f")
			}
		}
	}
	print ""
}
