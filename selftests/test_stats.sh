#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# stats on this kernel (no attach needed: the test processes make their MPTCP
# sockets themselves). Two network namespaces joined by two veth pairs, the
# server announcing its second address, so that every connection opens two
# subflows; clients in a cgroup and outside it. stats runs from the root
# namespace. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
tmp=$(mktemp -d)
cli=mu-stats-cli srv=mu-stats-srv
pids=()

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
# shellcheck source=selftests/twopath.sh
. "$top/selftests/twopath.sh"
if [ "$(id -u)" -ne 0 ] || [ -z "$cg2" ] || ! ip netns add "$srv-probe" 2>/dev/null; then
	echo "1..0 # SKIP needs root, cgroup v2 and network namespaces"
	exit 0
fi
ip netns del "$srv-probe"
cg=$cg2/mu-stats-test
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	twopath_teardown "$cli" "$srv"
	rmdir "$cg/clients" "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
twopath_setup "$cli" "$srv"
mkdir -p "$cg/clients"

ip netns exec "$srv" "$sock" sink 0.0.0.0 7000 300 >"$tmp/sink.out" 2>&1 &
pids+=($!)
wait_for grep -q ready "$tmp/sink.out"
# Three connections from the cgroup, two from outside it, all in the client namespace.
# Into the cgroup first: ip netns exec mounts a sysfs of its own, without the cgroup tree.
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg/clients" \
	ip netns exec "$cli" "$sock" hold 192.0.2.2 7000 3 300 >"$tmp/in.out" 2>&1 &
pids+=($!)
ip netns exec "$cli" "$sock" hold 192.0.2.2 7000 2 300 >"$tmp/out.out" 2>&1 &
pids+=($!)
wait_for grep -q '^held' "$tmp/in.out" && wait_for grep -q '^held' "$tmp/out.out" &&
	ok "five connections are held open, three from the cgroup" ||
	not_ok "five connections are held open, three from the cgroup" \
		"$(cat "$tmp/in.out" "$tmp/out.out")"

two_subflows() {
	"$bin" stats --cgroup /mu-stats-test --json 2>/dev/null |
		jq -e '(.connections | length) == 3 and all(.connections[]; .subflows == 2)' >/dev/null
}
wait_for two_subflows
run stats --cgroup /mu-stats-test --json
json_ok "stats finds the cgroup's three connections, from the root namespace" \
	"(.connections | length) == 3 and
	 all(.connections[]; .netns != $(stat -L -c %i /proc/self/ns/net))"
json_ok "each connection has two subflows, one per path" \
	'(.connections | length) == 3 and all(.connections[]; .subflows == 2 and
	   ([.subflow_list[].local.address] | sort) == ["192.0.2.1", "198.51.100.1"])'
json_ok "connections: addresses, state, token, no fallback" \
	'(.connections | length) == 3 and all(.connections[]; .local.address == "192.0.2.1" and .remote.address == "192.0.2.2" and
	   .remote.port == 7000 and .state == "established" and .token > 0 and
	   .fallback == false and .upgraded == false and .line == null)'
json_ok "byte counters are not zero (65536 echoed on each connection)" \
	'(.connections | length) == 3 and all(.connections[]; ([.subflow_list[].bytes_acked] | add) >= 65536)
	 and all(.connections[]; (has("bytes_sent") | not) or (.bytes_sent >= 65536 and .bytes_received >= 65536))'
json_ok "subflows: ids, rtt, cwnd, delivery rate" \
	'(.connections | length) == 3 and all(.connections[].subflow_list[]; .state == "established" and .cwnd > 0 and
	   .rtt_us > 0) and all(.connections[]; ([.subflow_list[].id_local] | sort) == [0, 1])'
json_ok "the client namespace's MPTcpExt counters came along" \
	'any(.namespaces[]; .mptcp_mib.MPCapableSYNTX >= 5 and .mptcp_mib.MPJoinSynAckRx >= 5)'
ours=$(jq -r '[.connections[].local.port] | sort | join(" ")' <<<"$out")
theirs=$(ip netns exec "$cli" ss -HnM state established | awk '{ print $3 }' |
	sed 's/.*://' | sort -n | tr '\n' ' ')
others=$(for p in $theirs; do grep -qw "$p" <<<"$ours" || echo "$p"; done | wc -l)
[ "$others" = 2 ] && ok "the two connections made outside the cgroup never appear" ||
	not_ok "the two connections made outside the cgroup never appear" "ours: $ours" \
		"all in the namespace: $theirs"

run stats --cgroup /mu-stats-test
expect "the table for people exits 0" 0
grep -Eq '^192\.0\.2\.1:[0-9]+ -> 192\.0\.2\.2:7000  established  token [0-9a-f]{8}  MPTCP  subflows 2' \
	<<<"$out" && grep -Eq '^    `- (192\.0\.2|198\.51\.100)\.1:[0-9]+ -> .* rtt [0-9.]+ (us|ms)  cwnd [0-9]+' <<<"$out" &&
	grep -q '^3 MPTCP connections in' <<<"$out" &&
	ok "the table shows connections, subflows indented under them, units" ||
	not_ok "the table shows connections, subflows indented under them, units" "$out"
cp "$tmp/out" "$tmp/table.txt"

run stats --cgroup /mu-stats-test --prometheus
expect "--prometheus exits 0" 0
if problems=$(prom_problems <<<"$out"); then
	ok "--prometheus output is valid text exposition format"
else
	not_ok "--prometheus output is valid text exposition format" "$problems"
fi
grep -Eq '^mptcp_upgrade_connections\{netns="[0-9]+",fallback="false"\} 3$' <<<"$out" &&
	grep -Eq '^mptcp_upgrade_subflows\{netns="[0-9]+"\} 6$' <<<"$out" &&
	ok "--prometheus counts the three connections and six subflows" ||
	not_ok "--prometheus counts the three connections and six subflows" "$out"

# --watch redraws until interrupted: two screens, then SIGINT and a clean exit
# (the 30 s bound is for a broken --watch, not the pace of a good one).
"$bin" stats --cgroup /mu-stats-test --watch 1 >"$tmp/watch.out" 2>&1 &
watch=$!
two_screens() { [ "$(grep -c '3 MPTCP connections in' "$tmp/watch.out")" -ge 2 ]; }
wait_for two_screens
kill -INT "$watch"
wait "$watch"
rc=$?
screens=$(grep -c '3 MPTCP connections in' "$tmp/watch.out")
[ "$rc" = 0 ] && [ "$screens" -ge 2 ] && grep -q $'\033\[H\033\[2J' "$tmp/watch.out" &&
	ok "--watch refreshes in place and exits 0 on SIGINT" ||
	not_ok "--watch refreshes in place and exits 0 on SIGINT" "exit $rc, $screens screens"

run stats --cgroup /mu-stats-test --json --fallback
json_ok "--fallback keeps none (no connection fell back)" '.connections == []'
# One more from the cgroup, to a server that does not speak MPTCP: it falls back.
ip netns exec "$srv" "$sock" sink 0.0.0.0 7001 300 tcp >"$tmp/tcpsink.out" 2>&1 &
pids+=($!)
wait_for grep -q ready "$tmp/tcpsink.out"
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg/clients" \
	ip netns exec "$cli" "$sock" hold 192.0.2.2 7001 1 300 >"$tmp/fb.out" 2>&1 &
pids+=($!)
wait_for grep -q '^held' "$tmp/fb.out"
run stats --cgroup /mu-stats-test --json --fallback
json_ok "--fallback keeps exactly the connection that fell back" \
	'(.connections | length) == 1 and .connections[0].fallback == true and
	 .connections[0].remote.port == 7001'
run stats --cgroup /mu-stats-test --json --listed
json_ok "--listed keeps none (nothing is attached)" '.connections == []'
run stats --cgroup /mu-stats-test --watch 0
expect "--watch takes a positive number" 2 "--watch takes a positive number"
run stats --cgroup /mu-stats-test --json --prometheus
[ "$rc" = 2 ] && jq -e '.error | test("exclude each other")' <<<"$out" >/dev/null &&
	ok "--json and --prometheus exclude each other (a JSON error, exit 2)" ||
	not_ok "--json and --prometheus exclude each other (a JSON error, exit 2)" "$rc: $out"
run stats --cgroup /mu-stats-no-such
expect "stats of a missing cgroup fails" 1 "can't find cgroup /mu-stats-no-such"
run_alone stats
expect "stats with nothing attached and no --cgroup says what to do" 1 \
	"nothing is attached and no program runs under .run.: name a cgroup with --cgroup"

run_alone stats --prometheus
[ "$rc" = 0 ] && grep -qx 'mptcp_upgrade_targets 0' <<<"$out" &&
	grep -q '^mptcp_upgrade_build_info{version=".*",engine_abi="[0-9]*"} 1$' <<<"$out" &&
	ok "stats --prometheus with nothing attached: targets 0 and build_info, exit 0 (an alert's state)" ||
	not_ok "stats --prometheus with nothing attached writes targets 0" "exit $rc" "$out" "$err"
# For docs/observability.md: the table of this run, when asked.
[ -n "${MU_STATS_SAMPLE:-}" ] && cp "$tmp/table.txt" "$MU_STATS_SAMPLE"
tap_end
