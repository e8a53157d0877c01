# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# What the benchmarks share (sourced): samples kept by name, medians, and
# wall-clock timing of one command.

declare -A samples

# sample NAME VALUE: one more measurement of NAME.
sample() { samples[$1]+="$2 "; }

# median_of: the median of the numbers on standard input, one per line.
median_of() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median NAME: the median of NAME's samples.
median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | median_of; }

# wall_us CMD...: the microseconds CMD took, its output discarded. When it
# fails, what it said on stderr is shown and wall_us fails too.
wall_us() {
	local t0 t1 err
	t0=$(date +%s%N)
	if ! err=$("$@" 2>&1 >/dev/null); then
		echo "bench: $* failed${err:+: $err}" >&2
		return 1
	fi
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
