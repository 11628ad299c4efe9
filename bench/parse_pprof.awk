# parse_pprof.awk: reads `go tool pprof -raw [BINARY] PROFILE` and prints one line of
# key=value fields for the harness:
#   samples=  total of the first sample value (samples/count)
#   nstacks=  sample records (distinct stack + label combinations)
#   period_ns= the profile's sampling period
#   frames_max= most physical frames in one stack (synthetic "[cpuprof] ..." frames not
#               counted); wl_max= most frames of functions matching -v wl=REGEX
#   fn.NAME=  samples whose leaf frame is in function NAME, for NAME matching -v fn=REGEX
# "Leaf function" is the physical function owning the leaf PC (the last line of the
# location, after its inline frames), the same thing perf's sym field names.
function flush_loc() {
	if (cur != "") {
		phys[cur] = name
	}
}
/^Period:/ { period = $2 }
/^Samples:/ { sec = "s"; next }
/^Locations/ { sec = "l"; next }
/^Mappings/ { flush_loc(); cur = ""; sec = "m"; next }
sec == "s" && $1 ~ /^[0-9]+$/ {
	for (i = 2; i <= NF; i++) {
		if ($i ~ /:$/) {
			break
		}
	}
	ns++
	cnt[ns] = $1
	stk[ns] = ""
	for (j = i + 1; j <= NF; j++) {
		stk[ns] = stk[ns] " " $j
	}
	next
}
sec == "l" && $1 ~ /^[0-9]+:$/ {
	flush_loc()
	cur = substr($1, 1, length($1) - 1)
	name = "?"
	for (i = 3; i <= NF; i++) {
		if ($i ~ /^M=/) {
			continue
		}
		name = $i
		break
	}
	next
}
sec == "l" && NF >= 1 { name = $1 }
END {
	if (sec == "l") {
		flush_loc()
	}
	total = 0
	fmax = 0
	wmax = 0
	for (s = 1; s <= ns; s++) {
		n = split(stk[s], ids, " ")
		total += cnt[s]
		leaf = n > 0 ? phys[ids[1]] : "?"
		if (fn != "" && leaf ~ fn) {
			byfn[leaf] += cnt[s]
		}
		f = 0
		w = 0
		for (k = 1; k <= n; k++) {
			p = phys[ids[k]]
			if (p ~ /^\[cpuprof\]/) {
				continue
			}
			f++
			if (wl != "" && p ~ wl) {
				w++
			}
		}
		if (f > fmax) {
			fmax = f
		}
		if (w > wmax) {
			wmax = w
		}
	}
	printf "samples=%d nstacks=%d period_ns=%s frames_max=%d wl_max=%d", total, ns,
		period == "" ? 0 : period, fmax, wmax
	for (k in byfn) {
		printf " fn.%s=%d", k, byfn[k]
	}
	printf "\n"
}
