#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# stats against ss on the same connections: BENCH_CONNS (10,000) MPTCP
# connections with two subflows each, from a cgroup in a namespace of their
# own. Wall time and peak memory of `mptcp-upgrade stats --json` and of
# `ss -tinM` (entered into the namespace with nsenter), alternated, medians of
# BENCH_ROUNDS (5), and their ratios.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
conns=${BENCH_CONNS:-10000}
rounds=${BENCH_ROUNDS:-5}
cli=mu-bench-cli srv=mu-bench-srv
tmp=$(mktemp -d)
pids=()

# shellcheck source=selftests/twopath.sh
. "$top/selftests/twopath.sh"
# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ "$(id -u)" -ne 0 ] || [ -z "$cg2" ] || [ ! -x /usr/bin/time ]; then
	echo "bench_stats: skipped (needs root, cgroup v2 and /usr/bin/time)"
	exit 0
fi
cg=$cg2/mu-bench-stats
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	twopath_teardown "$cli" "$srv"
	rmdir "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# mu_sock raises its own open-file limit to the hard one.
twopath_setup "$cli" "$srv" || exit 1
mkdir -p "$cg"

ip netns exec "$srv" "$sock" sink 0.0.0.0 7000 3600 >"$tmp/sink.out" 2>&1 &
pids+=($!)
wait_for grep -q ready "$tmp/sink.out" || exit 1
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
	ip netns exec "$cli" "$sock" hold 192.0.2.2 7000 "$conns" 3600 1024 >"$tmp/hold.out" 2>&1 &
pids+=($!)
# Setting up: bounded by the number of connections, not a guess at a duration.
joined() {
	[ "$(ip netns exec "$cli" nstat -asz MPTcpExtMPJoinSynAckRx |
		awk '/MPJoinSynAckRx/ { print $2 }')" -ge "$conns" ]
}
for ((i = 0; i < conns / 10 + 100; i++)); do
	grep -q '^held' "$tmp/hold.out" && joined && break
	sleep 0.5
done
grep -q "^held $conns\$" "$tmp/hold.out" && joined ||
	{ echo "bench_stats: set-up failed: $(cat "$tmp/hold.out")"; exit 1; }

# measure NAME CMD...: "seconds max-rss-KiB" of one run.
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >"$tmp/$name.out" 2>/dev/null
	cat "$tmp/t"
}
for ((r = 0; r < rounds; r++)); do
	measure stats "$bin" stats --cgroup /mu-bench-stats --json >>"$tmp/stats.times"
	measure ss nsenter --net=/run/netns/"$cli" ss -tinM >>"$tmp/ss.times"
done
got=$(jq '.connections | length' "$tmp/stats.out")
subs=$(jq '[.connections[].subflows] | add' "$tmp/stats.out")
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
st=$(cut -d' ' -f1 "$tmp/stats.times" | med) sm=$(cut -d' ' -f2 "$tmp/stats.times" | med)
ss_t=$(cut -d' ' -f1 "$tmp/ss.times" | med) ss_m=$(cut -d' ' -f2 "$tmp/ss.times" | med)
echo "stats vs ss on $conns MPTCP connections ($got found, $subs subflows), medians of $rounds:"
printf '  mptcp-upgrade stats --json   %6.2f s  %7d KiB peak\n' "$st" "$sm"
printf '  ss -tinM                     %6.2f s  %7d KiB peak\n' "$ss_t" "$ss_m"
awk -v a="$st" -v b="$ss_t" -v c="$sm" -v d="$ss_m" 'BEGIN {
	printf "  ratio stats/ss: time %.2f, memory %.2f\n", (b > 0) ? a / b : 0, (d > 0) ? c / d : 0 }'
[ "$got" = "$conns" ] || { echo "bench_stats: stats found $got of $conns connections"; exit 1; }
