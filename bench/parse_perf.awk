# parse_perf.awk: reads `perf script -F ip,sym` (one sample per block of callchain lines,
# leaf first, blocks separated by blank lines) and prints the same key=value fields as
# parse_pprof.awk: samples, frames_max, wl_max (frames matching -v wl=REGEX) and fn.NAME
# for leaf functions matching -v fn=REGEX. Each perf sample counts 1.
function end_block() {
	if (depth > 0) {
		total++
		if (fn != "" && leaf ~ fn) {
			byfn[leaf]++
		}
		if (depth > fmax) {
			fmax = depth
		}
		if (w > wmax) {
			wmax = w
		}
	}
	depth = 0
	w = 0
}
NF == 0 { end_block(); next }
{
	depth++
	s = NF >= 2 ? $2 : "?"
	if (depth == 1) {
		leaf = s
	}
	if (wl != "" && s ~ wl) {
		w++
	}
}
END {
	end_block()
	printf "samples=%d nstacks=0 period_ns=0 frames_max=%d wl_max=%d", total, fmax, wmax
	for (k in byfn) {
		printf " fn.%s=%d", k, byfn[k]
	}
	printf "\n"
}
