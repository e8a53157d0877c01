#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What docs/multipath.md's "What to set" claims, each in the two-path
# topology on this machine's kernel (native MPTCP sockets on both ends: the
# path manager's settings decide, whatever made the sockets MPTCP): kernel
# defaults give one subflow, each fix gives two, and each way of refusing a
# join keeps one. Also what check and status say about it. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
cli=mupm-c srv=mupm-s

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"
# shellcheck source=selftests/twopath.sh
. "$top/selftests/twopath.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP network namespaces need root"
	exit 0
fi
tmp=$(mktemp -d /tmp/mu-pm.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	twopath_teardown "$cli" "$srv"
	rm -rf "$tmp"
}
trap cleanup EXIT
twopath_teardown "$cli" "$srv"
twopath_setup "$cli" "$srv" || { echo "1..0 # SKIP can't build the two-path topology"; exit 0; }

# Back to a new namespace's defaults on both sides: no endpoint, subflows 2, add_addr_accepted 0.
defaults() {
	local ns
	for ns in "$cli" "$srv"; do
		ip -n "$ns" mptcp endpoint flush
		ip -n "$ns" mptcp limits set subflows 2 add_addr_accepted 0
		ip netns exec "$ns" sysctl -qw net.mptcp.allow_join_initial_addr_port=1
	done
}
# MPTcpExt counter NAME of namespace NS.
mib() {
	ip netns exec "$1" awk -v n="$2" '$1 == "MPTcpExt:" { if (!h) { split($0, k); h = 1 }
		else { for (i = 2; i <= NF; i++) if (k[i] == n) print $i } }' /proc/net/netstat
}
mib_at_least() { [ "$(mib "$1" "$2")" -ge "$3" ] 2>/dev/null; }

port=7700
ip netns exec "$srv" "$sock" sink 0.0.0.0 "$port" 300 >"$tmp/sink.out" 2>&1 &
sink=$!
pids+=($sink)
need "the server ready" grep -q ready "$tmp/sink.out"

holder=
# connect: one MPTCP connection from the client to 192.0.2.2, held open.
connect() {
	[ -n "$holder" ] && { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; }
	: >"$tmp/hold.out"
	ip netns exec "$cli" "$sock" hold 192.0.2.2 "$port" 1 60 >"$tmp/hold.out" 2>&1 &
	holder=$!
	need "the client connected" grep -q '^held 1' "$tmp/hold.out"
}
subflows() { "$bin" stats --json --pid "$holder" | jq '[.connections[].subflows] | max // 0'; }
two_subflows() { [ "$(subflows)" = 2 ]; }

# ---- kernel defaults --------------------------------------------------------------
defaults
connect
got=$(subflows)
[ "$got" = 1 ] && ok "kernel defaults (no endpoint anywhere): 1 subflow" ||
	not_ok "kernel defaults: 1 subflow" "$got"
got=$(ip netns exec "$srv" "$bin" check --json | jq -r '.path_manager.verdict')
grep -q '^no signal endpoint and no subflow endpoint: peers will use one path' <<<"$got" &&
	ok "check says why: no signal and no subflow endpoint" || not_ok "check says why" "$got"

# ---- a signal endpoint on the server ----------------------------------------------
defaults
ip -n "$srv" mptcp endpoint add 198.51.100.2 dev v2s signal
before=$(mib "$cli" AddAddr)
connect
need "the client got the announcement" mib_at_least "$cli" AddAddr $((${before:-0} + 1))
got=$(subflows)
[ "$got" = 1 ] && ok "server signal endpoint, client add_addr_accepted 0: still 1 subflow" ||
	not_ok "signal endpoint with add_addr_accepted 0: 1 subflow" "$got"
got=$("$bin" stats --json --pid "$sink" | jq -c '[([.connections[] | select(.single_path)] |
	length >= 1), (.namespaces[] | select(.single_path_connections > 0) | .multipath_offered)]')
[ "$got" = "[true,true]" ] && "$bin" stats --pid "$sink" | grep -q '  ONE PATH$' &&
	ok "stats on the server flags the connection that kept one path although it offers more" ||
	not_ok "stats flags ONE PATH connections" "$got" "$("$bin" stats --pid "$sink")"
ip -n "$cli" mptcp limits set subflows 2 add_addr_accepted 1
connect
need "the client joined the announced address" two_subflows
two_subflows && ok "server signal endpoint + client add_addr_accepted 1: 2 subflows" ||
	not_ok "signal endpoint + add_addr_accepted 1: 2 subflows" "$(subflows)"
got=$("$bin" stats --json --pid "$sink" | jq -c '[.connections[] | select(.subflows == 2) | .single_path]')
[ "$got" = "[false]" ] && ok "a connection with two subflows is not flagged" ||
	not_ok "a connection with two subflows is not flagged" "$got"
got=$(ip netns exec "$srv" "$bin" check --json | jq -r '.path_manager | [.multipath_offered, (.endpoints | length)] | @tsv')
[ "$got" = "$(printf 'true\t1')" ] &&
	ok "check lists the server's signal endpoint and says multipath is offered" ||
	not_ok "check lists the signal endpoint" "$got"

# ---- a subflow endpoint on the client ---------------------------------------------
defaults
ip -n "$cli" mptcp endpoint add 198.51.100.1 dev v2c subflow
connect
t0=$(date +%s%N)
need "the client opened a second subflow" two_subflows
# How long a join takes here: the bound for waiting on one that must not happen.
join_ms=$((($(date +%s%N) - t0) / 1000000))
two_subflows && ok "client subflow endpoint: 2 subflows" ||
	not_ok "client subflow endpoint: 2 subflows" "$(subflows)"

# ---- the server refuses joins --------------------------------------------------------
ip -n "$srv" mptcp limits set subflows 0 add_addr_accepted 0
before=$(mib "$srv" MPJoinSynRx)
connect
need "the server saw the join" mib_at_least "$srv" MPJoinSynRx $((${before:-0} + 1))
got=$(subflows)
[ "$got" = 1 ] && ok "server limits subflows 0: the client's join is refused, 1 subflow" ||
	not_ok "server subflows 0 refuses joins" "$got"
got=$("$bin" stats --json --pid "$sink" | jq '[.namespaces[].joins_refused.limits] | max')
[ "${got:-0}" -ge 1 ] 2>/dev/null &&
	"$bin" stats --pid "$sink" | grep -q '^  refused    [0-9]* joins\{0,1\} (MPJoinRejected): over this side' &&
	ok "stats on the server counts the refused join and names the likely cause" ||
	not_ok "stats counts refused joins" "$got" "$("$bin" stats --pid "$sink")" \
		"$(ip netns exec "$srv" nstat -az | grep -i join)"
got=$(ip netns exec "$srv" "$bin" check --json | jq -r '.path_manager.verdict')
grep -q '^subflows 0: this host opens no extra subflow and refuses peers' <<<"$got" &&
	ok "check says subflows 0 refuses joins" || not_ok "check says subflows 0 refuses joins" "$got"

# ---- behind a load balancer: no joins to the initial address, a per-server signal ----
defaults
ip netns exec "$srv" sysctl -qw net.mptcp.allow_join_initial_addr_port=0
ip -n "$cli" mptcp endpoint add 198.51.100.1 dev v2c subflow
connect
# The server's MP_CAPABLE tells the client not to join its initial address, so no
# join SYN ever comes to be counted: wait 20 times what a join took above (at
# least half a second) for one that must not happen.
wait_ms=$((join_ms * 20 > 500 ? join_ms * 20 : 500))
sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
got=$(subflows)
[ "$got" = 1 ] &&
	ok "allow_join_initial_addr_port=0: no join to the initial address (1 subflow after ${wait_ms} ms)" ||
	not_ok "allow_join_initial_addr_port=0 refuses joins to the initial address" "$got"
defaults
ip netns exec "$srv" sysctl -qw net.mptcp.allow_join_initial_addr_port=0
ip -n "$srv" mptcp endpoint add 198.51.100.2 dev v2s signal
ip -n "$cli" mptcp limits set subflows 2 add_addr_accepted 1
connect
need "the client joined the server's own address" two_subflows
two_subflows && ok "allow_join_initial_addr_port=0 + the server's signal endpoint: 2 subflows" ||
	not_ok "load balancer set-up: 2 subflows" "$(subflows)"

# ---- status: the path manager where a program's processes live --------------------
chmod 755 "$tmp"
printf 'bind mptcp4@0.0.0.0:7701\n' >"$tmp/pm.policy"
ip netns exec "$srv" "$bin" run --policy "$tmp/pm.policy" -- "$sock" sink 0.0.0.0 7701 60 \
	>"$tmp/run.out" 2>&1 &
pids+=($!)
need "the program under run ready" grep -q ready "$tmp/run.out"
got=$("$bin" status --json | jq -r --arg p "$tmp/pm.policy" '.runs[] | select(.policy == $p) |
	.path_managers[0] | [.manager, (.endpoints | length), .multipath_offered,
	.allow_join_initial_addr_port] | @tsv')
[ "$got" = "$(printf 'kernel\t1\ttrue\tfalse')" ] &&
	"$bin" status | grep -q '^  multipath  netns [0-9]*: 1 signal endpoint' &&
	ok "status shows the path manager of the namespace the program runs in" ||
	not_ok "status shows the program's path manager" "$got" "$("$bin" status)"

# ---- the socket-option bridge reaches both subflows ----------------------------------
# A program under run sets TCP_USER_TIMEOUT 1500 ms (MPTCP refuses it here)
# before connect() or on the established connection; the server signals its
# second address, so the connection has two subflows when both paths are cut.
# Each must be gone within seconds (TCP's own timeout is about 15 minutes):
# the option reached the first subflow and the MP_JOIN one.
probe=$top/.output/selftests/run_probe
if "$probe" mptcp-refuses; then
	defaults
	ip -n "$srv" mptcp endpoint add 198.51.100.2 dev v2s signal
	ip -n "$cli" mptcp limits set subflows 2 add_addr_accepted 1
	bport=7702
	ip netns exec "$srv" "$sock" sink 0.0.0.0 "$bport" 120 >"$tmp/bsink.out" 2>&1 &
	pids+=($!)
	need "the second server ready" grep -q ready "$tmp/bsink.out"
	printf 'server s mptcp4@192.0.2.2:%s\n' "$bport" >"$tmp/bh.policy"
	chmod 600 "$tmp/bh.policy"
	chmod 755 "$tmp"
	cli_subflows() { ip netns exec "$cli" ss -Htn state established "( dport = :$bport )" | wc -l; }
	two() { [ "$(cli_subflows)" = 2 ]; }
	none() { [ "$(cli_subflows)" = 0 ]; }
	for when in before after; do
		rm -f "$tmp/go"
		ip netns exec "$cli" "$bin" run --policy "$tmp/bh.policy" -- \
			"$probe" blackhole 192.0.2.2 "$bport" 1500 "$when" "$tmp/go" >"$tmp/bh.out" 2>&1 &
		bh=$!
		need "the probe connected" grep -q '^established' "$tmp/bh.out"
		need "the connection has two subflows" two
		nsub=$(cli_subflows)
		ip -n "$srv" route add blackhole 192.0.2.1/32
		ip -n "$srv" route add blackhole 198.51.100.1/32
		touch "$tmp/go"
		t0=$(date +%s%N)
		wait_for none && gone=$((($(date +%s%N) - t0) / 1000000)) || gone=never
		{ kill "$bh" && wait "$bh"; } 2>/dev/null
		ip -n "$srv" route del blackhole 192.0.2.1/32
		ip -n "$srv" route del blackhole 198.51.100.1/32
		if [ "$nsub" = 2 ] && [ "$gone" != never ] &&
			grep -q '^established proto=262 uto=ok got=1500' "$tmp/bh.out"; then
			ok "TCP_USER_TIMEOUT set $when connect reaches both subflows: both gone ${gone} ms after the paths are cut"
		else
			not_ok "TCP_USER_TIMEOUT set $when connect reaches both subflows" \
				"subflows before the cut: $nsub, gone after: $gone ms" "$(cat "$tmp/bh.out")" \
				"$(ip netns exec "$cli" ss -tnio)"
		fi
	done
else
	skip "TCP_USER_TIMEOUT on both subflows (set before connect)" "this kernel takes it on MPTCP sockets"
	skip "TCP_USER_TIMEOUT on both subflows (set after connect)" "this kernel takes it on MPTCP sockets"
fi

tap_end
