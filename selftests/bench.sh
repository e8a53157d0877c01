#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make bench: the policy parser in-process (median, ratio to reading the file),
# then the whole `mptcp-upgrade policy` command on the same size of file against
# `cat` of it, both timed in this run. Medians and ratios only: these machines
# are shared, single numbers mean little.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/.output/selftests
lines=${BENCH_LINES:-10000}
runs=${BENCH_RUNS:-21}
# shellcheck source=selftests/benchlib.sh
. "$top/selftests/benchlib.sh"

"$out/bench_policy" "$lines" "$runs"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The same mix the in-process benchmark uses, through the real command line.
for ((i = 0; i < lines; i++)); do
	printf 'server s%d mptcp@10.%d.%d.2:80 check\n' "$i" $((i / 256 % 256)) $((i % 256))
done >"$tmp/bench.policy"

# median_ms CMD...: median wall time of RUNS runs, in milliseconds.
median_ms() {
	local i
	for ((i = 0; i < runs; i++)); do
		wall_us "$@" || return 1
	done | median_of | awk '{ printf "%.3f", $1 / 1000 }'
}

cli=$(median_ms "$top/mptcp-upgrade" policy "$tmp/bench.policy")
cat_ms=$(median_ms cat "$tmp/bench.policy")
echo "mptcp-upgrade policy, $lines server lines, median of $runs runs:"
printf '  command         %8s ms   (process start, parse, print)\n' "$cli"
printf '  cat of the file %8s ms   (baseline in the same run)\n' "$cat_ms"
awk -v a="$cli" -v b="$cat_ms" 'BEGIN { r = (b > 0) ? a / b : 0; printf "  ratio command/cat: %.1fx\n", r }'

# stats against ss on 10,000 and on 50,000 MPTCP connections (the larger set
# takes about ten minutes to open; BENCH_STATS_CONNS to change the sizes).
for conns in ${BENCH_STATS_CONNS:-10000 50000}; do
	echo
	BENCH_CONNS=$conns "$top/selftests/bench_stats.sh"
done

# The run engine needs no trampoline: measured natively, on this kernel.
echo
"$top/selftests/bench_run.sh"

# The agent: what serving a container costs its start and its connections (runc).
echo
"$top/selftests/bench_agent.sh"

# Stage 3's tc programs load on this kernel even where the socket hook does not.
echo
"$out/test_tc_rewrite" bench

# The engine's own costs need a kernel that runs it: here, or in the QEMU guest.
echo
if "$top/mptcp-upgrade" check --engine attach >/dev/null 2>&1; then
	echo "(this kernel runs the attach engine: measuring here)"
	"$top/selftests/vm/bench-guest.sh"
else
	echo "(this kernel refuses the socket-creation hook: measuring in the QEMU guest;"
	echo " TCG emulation makes every number slow, only the ratios mean something)"
	"$top/selftests/vm/run-vm" "$top/selftests/vm/bench-guest.sh"
fi
