#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The multipath measurements, on a kernel that runs the engine (bench-multipath
# brings it here). A client namespace with two shaped paths to a proxy
# namespace, where an unmodified HAProxy 2.6 forwards to a backend. Writes raw
# results to $OUT (default $MU_VM_OUT); selftests/multipath/report.sh turns
# them into the report. ENGINE=run upgrades HAProxy with the run engine instead
# of the attach engine (any kernel from 5.9: the host's own, at real speed).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
out=${OUT:-${MU_VM_OUT:?set OUT or MU_VM_OUT}}
rate=${PATH_RATE:-50mbit}
delay=${PATH_DELAY:-10ms}		# one way: 20 ms RTT per path
bytes=${BULK_BYTES:-40000000}
engine=${ENGINE:-attach}
cli=mp-cli px=mp-px
cg=/sys/fs/cgroup/mphaproxy.slice
tmp=$(mktemp -d /tmp/mp.XXXXXX)
pids=()

# shellcheck source=selftests/twopath.sh
. "$top/selftests/twopath.sh"
# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$bin" detach --all >/dev/null 2>&1
	twopath_teardown "$cli" "$px"
	rmdir "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
log() { echo "multipath: $*" >&2; }

[ -n "${MU_VM_KDIR:-}" ] && modprobe -d "$MU_VM_KDIR" -a veth sch_netem tcp_diag mptcp_diag 2>/dev/null
mkdir -p "$out" "$cg"
twopath_setup "$cli" "$px" || exit 1
# Each path: netem (delay and rate); a kernel without netem (the build machines'
# 6.18) gets the rate alone, from htb, and the report says there was no delay.
for dev in "$cli:v1c" "$cli:v2c" "$px:v1s" "$px:v2s"; do
	ns=${dev%%:*} d=${dev#*:}
	ip -n "$ns" link set "$d" txqueuelen 1000
	if ! tc -n "$ns" qdisc add dev "$d" root netem delay "$delay" rate "$rate" limit 2000 \
		2>/dev/null; then
		tc -n "$ns" qdisc add dev "$d" root handle 1: htb default 10 &&
			tc -n "$ns" class add dev "$d" parent 1: classid 1:10 htb rate "$rate" ||
			{ log "this kernel can shape neither with netem nor with htb"; exit 1; }
		delay=0ms
	fi
done
where=host
[ -z "${MU_VM_GUEST:-}" ] || where=guest
echo "rate=$rate delay=$delay bytes=$bytes kernel=$(uname -r) engine=$engine where=$where" \
	>"$out/setup.txt"

cat >"$tmp/haproxy.cfg" <<EOF
global
	maxconn 256
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend bulk
	bind :8443
	default_backend sink
frontend short
	bind :8444
	default_backend echo
backend sink
	server s1 127.0.0.1:9000
backend echo
	server e1 127.0.0.1:9001
EOF
printf 'bind mptcp@:8443\nbind mptcp@:8444\n' >"$tmp/mp.policy"
chmod 644 "$tmp/mp.policy"
ip netns exec "$px" "$sock" sink 127.0.0.1 9001 3600 tcp >"$tmp/echo.out" 2>&1 &
pids+=($!)

# Each way of starting HAProxy ends in an exec: $! is HAProxy itself, which
# stop_haproxy stops and stats --pid follows (a shell in between was left running).
start_haproxy() {	# $1: engine | mptcpize | plain
	case $1 in
	engine) if [ "$engine" = run ]; then
			exec ip netns exec "$px" "$bin" run --policy "$tmp/mp.policy" -- \
				haproxy -db -f "$tmp/haproxy.cfg"
		else
			exec sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
				ip netns exec "$px" haproxy -db -f "$tmp/haproxy.cfg"
		fi ;;
	mptcpize) exec ip netns exec "$px" mptcpize run haproxy -db -f "$tmp/haproxy.cfg" ;;
	plain) exec ip netns exec "$px" haproxy -db -f "$tmp/haproxy.cfg" ;;
	esac >"$tmp/haproxy-$1.log" 2>&1 &
	haproxy_pid=$!
	wait_for sh -c "ip netns exec $px ss -Hltn 'sport = :8443' | grep -q LISTEN"
}
stop_haproxy() {
	kill "$haproxy_pid" 2>/dev/null
	wait "$haproxy_pid" 2>/dev/null
}

# bulk NAME CLIENT-ARGS...: one transfer through HAProxy, timeline and checksums kept.
bulk() {
	local name=$1
	shift
	ip netns exec "$px" "$sock" recv 127.0.0.1 9000 "$out/$name.timeline" >"$tmp/recv.out" 2>&1 &
	local r=$!
	wait_for grep -q ready "$tmp/recv.out"
	ip netns exec "$cli" "$sock" send 192.0.2.2 8443 "$bytes" "$@" >"$out/$name.sent" 2>&1
	wait "$r"
	cp "$tmp/recv.out" "$out/$name.received"
}

# bulk_sampled NAME FAIL-AFTER: an MPTCP bulk transfer whose sender logs the bytes
# each path (v1c, v2c) carried every 100 ms; path 1 goes down FAIL-AFTER seconds
# in (-: never).
bulk_sampled() {
	local name=$1 fail=$2
	ip netns exec "$px" "$sock" recv 127.0.0.1 9000 "$out/$name.timeline" >"$tmp/recv.out" 2>&1 &
	local r=$!
	wait_for grep -q ready "$tmp/recv.out"
	ip netns exec "$cli" "$sock" send 192.0.2.2 8443 "$bytes" mptcp "$out/$name.paths" \
		>"$out/$name.sent" 2>&1 &
	local s=$! f=
	if [ "$fail" != - ]; then
		( sleep "$fail"; ip -n "$cli" link set v1c down ) &
		f=$!
	fi
	wait "$s"
	wait "$r"
	[ -z "$f" ] || wait "$f"
	cp "$tmp/recv.out" "$out/$name.received"
}

# What stats and status look at: the cgroup (attach) or HAProxy's process tree (run).
stats_of() { if [ "$engine" = run ]; then "$bin" stats --pid "$haproxy_pid" "$@"; else
	"$bin" stats --cgroup /mphaproxy.slice "$@"; fi; }
if [ "$engine" = run ]; then
	echo "run engine: HAProxy started under mptcp-upgrade run" >"$out/attach.txt"
else
	"$bin" attach --cgroup mphaproxy.slice --policy "$tmp/mp.policy" >"$out/attach.txt" || exit 1
fi

# (a) plain TCP over one path, through the upgraded HAProxy.
start_haproxy engine
log "a: TCP, one path"
bulk a-tcp
# (b) MPTCP over both paths through the upgraded HAProxy, paths sampled.
log "b: MPTCP, upgraded HAProxy"
bulk_sampled b-mptcp -
stats_of >"$out/stats-after-b.txt" 2>&1

# (c) the same through HAProxy under mptcpize (LD_PRELOAD: all its sockets MPTCP),
# before any link has flapped.
stop_haproxy
if command -v mptcpize >/dev/null; then
	start_haproxy mptcpize
	ip netns exec "$px" ss -Mltn >"$out/c-mptcpize.listeners" 2>&1
	log "c: mptcpize"
	bulk_sampled c-mptcpize -
	stop_haproxy
fi
start_haproxy engine

# Short requests: upgraded HAProxy with MPTCP clients.
log "rate: upgraded"
ip netns exec "$cli" "$sock" rate 192.0.2.2 8444 200 mptcp >"$out/rate-upgraded.txt" 2>&1

# Failover: path 1 goes down FAIL_AFTER seconds into an MPTCP transfer (the
# scenario's own clock: a link dies mid-transfer).
log "failover"
bulk_sampled failover "${FAIL_AFTER:-2}"
ip -n "$cli" link set v1c up
stats_of >"$out/stats-after-failover.txt" 2>&1
# A connection through the upgraded HAProxy, both paths up again, as stats sees it. (Snapshots taken during the bulk transfers came too late: on one
# emulated CPU the transfer finished before stats got to run.)
ip netns exec "$cli" "$sock" hold 192.0.2.2 8444 1 120 65536 >"$tmp/held.out" 2>&1 &
pids+=($!)
wait_for grep -q '^held 1' "$tmp/held.out"
two_subflows() { stats_of --json | jq -e 'any(.connections[]; .subflows == 2)' >/dev/null; }
wait_for two_subflows
stats_of >"$out/stats-held-connection.txt" 2>&1
"$bin" status >"$out/status.txt" 2>&1
stop_haproxy
"$bin" detach --all >/dev/null

# Plain HAProxy and TCP clients: the rate baseline.
start_haproxy plain
log "rate: plain"
ip netns exec "$cli" "$sock" rate 192.0.2.2 8444 200 >"$out/rate-plain.txt" 2>&1
stop_haproxy

log "done"
