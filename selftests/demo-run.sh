#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The built-in demo of the run engine, natively on this kernel (make demo
# brings it here when the kernel runs it): an unmodified HAProxy 2.6 started
# under `mptcp-upgrade run` with configs/demo.policy, in a network namespace of
# its own (loopback only), and an MPTCP client. Needs root.
set -u

if [ "$(id -u)" -ne 0 ]; then
	echo "demo-run: needs root (the run engine's supervisor)" >&2
	exit 1
fi
for tool in haproxy jq; do
	command -v "$tool" >/dev/null ||
		{ echo "demo-run: $tool is not installed (make deps installs it)" >&2; exit 1; }
done
if [ "${MU_DEMO_NETNS:-}" != "$$" ]; then
	exec unshare -n sh -c 'MU_DEMO_NETNS=$$ exec "$0" "$@"' "$0" "$@"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
tmp=$(mktemp -d /tmp/mu-demo-run.XXXXXX)
chmod 755 "$tmp"
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
wait_listening() {
	local i
	for ((i = 0; i < 100; i++)); do
		listening "$1" && return 0
		kill -0 "$haproxy" 2>/dev/null || break	# HAProxy (or run) ended: no use waiting
		sleep 0.1
	done
	echo "port $1 never listened: $(cat "$tmp/haproxy.log")" >&2
	exit 1
}

ip link set lo up
# The policy must be root's and not writable by others, as run checks.
install -m 644 "$top/configs/demo.policy" "$tmp/demo.policy"

step "The kernel: $(uname -r), and the run engine on it"
show "$bin" check --engine run | tail -n 1

step "The policy: only the frontend on port 8443 is listed"
grep -v '^#' "$tmp/demo.policy"

step "A TCP echo backend, and HAProxy 2.6 started under run (unmodified, its config untouched)"
"$sock" sink 127.0.0.1 9000 300 tcp >/dev/null 2>&1 &
pids+=($!)
haproxy=$!	# until HAProxy's own, the sink stands for it in wait_listening
printf '$ %s\n' "$bin run --policy $tmp/demo.policy -- haproxy -db -f configs/demo-haproxy.cfg"
"$bin" run --policy "$tmp/demo.policy" -- haproxy -db -f "$top/configs/demo-haproxy.cfg" \
	>"$tmp/haproxy.log" 2>&1 &
haproxy=$!
pids+=($haproxy)
wait_listening 9000
wait_listening 8443
wait_listening 8080
haproxy -v | head -n 1
echo "TCP listening sockets (ss -ltn):"
ss -Hltn | grep -E ':(8443|8080|9000) '
echo "MPTCP listening sockets (ss -Mln):"
ss -HMln | grep -E ':(8443|8080) ' || echo "(none)"
echo "(the run engine swapped only the listed frontend's socket for an MPTCP one, whose"
echo " listening subflow ss -t lists too; the unlisted frontend and the backend are the"
echo " plain TCP sockets HAProxy made)"

step "An MPTCP client (socket(..., IPPROTO_MPTCP), as mptcpize gives) to each frontend"
printf 'port 8443 (listed):   '; "$sock" connect 127.0.0.1 8443 mptcp
printf 'port 8080 (unlisted): '; "$sock" connect 127.0.0.1 8080 mptcp
echo "(the unlisted frontend is a TCP listener: the client falls back to plain TCP)"

step "What the supervisor saw, per policy line"
echo "(REFUSED TCP_QUICKACK: HAProxy sets it on its listeners; MPTCP refuses it and"
echo " no bridge can carry it, so HAProxy got an error it ignores, on the listed one)"
show "$bin" status

step "A long-lived MPTCP client, and what stats reports for HAProxy's process tree"
"$sock" hold 127.0.0.1 8443 1 60 4096 >"$tmp/hold.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do grep -q '^held' "$tmp/hold.out" && break; sleep 0.1; done
show "$bin" stats --pid "$haproxy"

step "HAProxy stops: its supervisor goes with it, nothing is left behind"
kill "$haproxy"
wait "$haproxy" 2>/dev/null
for ((i = 0; i < 100; i++)); do
	"$bin" status --json 2>/dev/null |
		jq -e --argjson p "$haproxy" '[.runs[] | select(.program == $p)] | length == 0' \
		>/dev/null && break
	sleep 0.1
done
"$bin" status --json | jq -e --argjson p "$haproxy" \
	'[.runs[] | select(.program == $p)] | length == 0' >/dev/null &&
	echo "no supervisor left for program $haproxy" ||
	{ echo "its supervisor is still registered" >&2; exit 1; }
