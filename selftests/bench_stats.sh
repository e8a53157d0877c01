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
# shellcheck source=selftests/benchlib.sh
. "$top/selftests/benchlib.sh"

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
# mu_sock raises its own open-file limit to the hard one. Where that is lower
# than the connections (and root may not raise it), the connections are spread
# over several client and server pairs, each on a port of its own.
limit=$(ulimit -Hn)
[ "$limit" = unlimited ] && limit=$((conns + 1024))
per=$((limit - 1024))
[ "$per" -ge 1000 ] || { echo "bench_stats: skipped (open-file limit $limit)"; exit 0; }
pairs=$(((conns + per - 1) / per))
twopath_setup "$cli" "$srv" || exit 1
# Every MP_JOIN subflow binds a port of its own on the client's second address:
# the default range (28,232 ports) ends the set-up near 14,000 connections.
ip netns exec "$cli" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
mkdir -p "$cg"

left=$conns
for ((p = 0; p < pairs; p++)); do
	n=$((left / (pairs - p)))
	left=$((left - n))
	ip netns exec "$srv" "$sock" sink 0.0.0.0 $((7000 + p)) 3600 >"$tmp/sink$p.out" 2>&1 &
	pids+=($!)
	wait_for grep -q ready "$tmp/sink$p.out" || exit 1
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
		ip netns exec "$cli" "$sock" hold 192.0.2.2 $((7000 + p)) "$n" 3600 1024 \
		>"$tmp/hold$p.out" 2>&1 &
	pids+=($!)
done
# Setting up: bounded by the number of connections, not a guess at a duration.
# Done when every connection that negotiated MPTCP has tried its second
# subflow and none is in flight: past about 40,000 connections no port is left
# on the client's second address (the one address per path here), and the
# rest keep one subflow.
mib() { ip netns exec "$cli" nstat -asz "$1" | awk -v n="$1" '$1 == n { print $2 }'; }
joined() {
	local tx=$(mib MPTcpExtMPJoinSynTx)
	[ "$(mib MPTcpExtMPJoinSynAckRx)" = "$tx" ] &&
		[ $((tx + $(mib MPTcpExtMPJoinSynTxBindErr))) -ge "$(mib MPTcpExtMPCapableSYNACKRX)" ]
}
held() { cat "$tmp"/hold*.out | awk '/^held/ { n += $2 } END { print n + 0 }'; }
for ((i = 0; i < conns / 10 + 100; i++)); do
	[ "$(held)" = "$conns" ] && joined && break
	grep -q failed "$tmp"/hold*.out && break	# a client gave up: no use waiting
	sleep 0.5
done
[ "$(held)" = "$conns" ] && joined ||
	{ echo "bench_stats: set-up failed: $(cat "$tmp"/hold*.out)"; exit 1; }

# measure NAME CMD...: "seconds max-rss-KiB" of one run.
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >"$tmp/$name.out" 2>/dev/null
	cat "$tmp/t"
}
# The command's memory before any connection: an empty cgroup (it says so and
# exits 1; the peak is what counts), for the memory per connection.
mkdir -p "$cg-empty"
/usr/bin/time -f '%M' -o "$tmp/empty" "$bin" stats --cgroup /mu-bench-stats-empty --json \
	>/dev/null 2>&1
rmdir "$cg-empty"
# Memory from /usr/bin/time; time from wall_us (/usr/bin/time's 10 ms steps are
# too coarse for a few hundred connections) less wall_us's own cost (`true`),
# each in runs of its own, alternated.
for ((r = 0; r < rounds; r++)); do
	measure stats "$bin" stats --cgroup /mu-bench-stats --json >>"$tmp/stats.times"
	measure ss nsenter --net=/run/netns/"$cli" ss -tinM >>"$tmp/ss.times"
	v=$(wall_us "$bin" stats --cgroup /mu-bench-stats --json) || exit 1
	sample stats_us "$v"
	v=$(wall_us nsenter --net=/run/netns/"$cli" ss -tinM) || exit 1
	sample ss_us "$v"
	v=$(wall_us true) || exit 1
	sample floor_us "$v"	# wall_us's own forks, taken off both
done
got=$(jq '.connections | length' "$tmp/stats.out")
subs=$(jq '[.connections[].subflows] | add' "$tmp/stats.out")
st=$(awk -v u="$(median stats_us)" -v f="$(median floor_us)" 'BEGIN { print (u - f) / 1e6 }')
sm=$(cut -d' ' -f2 "$tmp/stats.times" | median_of)
ss_t=$(awk -v u="$(median ss_us)" -v f="$(median floor_us)" 'BEGIN { print (u - f) / 1e6 }')
ss_m=$(cut -d' ' -f2 "$tmp/ss.times" | median_of)
echo "stats vs ss on $conns MPTCP connections ($got found, $subs subflows), medians of $rounds:"
printf '  mptcp-upgrade stats --json   %8.4f s  %7d KiB peak\n' "$st" "$sm"
printf '  ss -tinM                     %8.4f s  %7d KiB peak\n' "$ss_t" "$ss_m"
awk -v a="$st" -v b="$ss_t" -v c="$sm" -v d="$ss_m" 'BEGIN {
	printf "  ratio stats/ss: time %.2f, memory %.2f\n", (b > 0) ? a / b : 0, (d > 0) ? c / d : 0 }'
awk -v m="$sm" -v e="$(cat "$tmp/empty")" -v n="$conns" -v sf="$subs" 'BEGIN {
	printf "  stats: %d KiB with no connection, %.0f bytes per connection (%.1f subflows each)\n",
		e, (m - e) * 1024 / n, sf / n }'
# A connection whose token the kernel could not register (a bucket of its token
# table full: MPFallbackTokenInit, some hundreds at 50,000 here, where client
# and server share one table) falls back at once and is in no MPTCP dump, ss's
# included, as sock_diag walks that table. Every other one must be found.
lost=$(mib MPTcpExtMPFallbackTokenInit)
[ "$lost" -gt 0 ] && echo "  $lost connections fell back at token set-up: no MPTCP dump lists them"
[ "$got" = $((conns - lost)) ] ||
	{ echo "bench_stats: stats found $got of $((conns - lost)) connections"; exit 1; }
