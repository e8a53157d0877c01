#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The built-in demo, on a kernel that runs the hook (make demo brings it here,
# in QEMU when the host kernel can't): an unmodified HAProxy 2.6 in a cgroup,
# attached with configs/demo.policy, and an MPTCP client.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
cg=/sys/fs/cgroup/demo.slice/demo-haproxy.slice
tmp=$(mktemp -d /tmp/mu-demo.XXXXXX)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$bin" detach --all >/dev/null 2>&1
	rmdir "$cg" "$(dirname "$cg")" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
wait_listening() {
	local i
	for ((i = 0; i < 100; i++)); do listening "$1" && return 0; sleep 0.1; done
	echo "port $1 never listened" >&2
	exit 1
}

[ -n "${MU_VM_KDIR:-}" ] && modprobe -d "$MU_VM_KDIR" -a tcp_diag mptcp_diag 2>/dev/null
mkdir -p "$cg"

step "The kernel: $(uname -r)"
show "$bin" check --engine attach | tail -n 1

step "Attach the policy to the cgroup HAProxy will run in"
grep -v '^#' "$top/configs/demo.policy"
show "$bin" attach --cgroup demo-haproxy.slice --policy "$top/configs/demo.policy" || exit 1

step "Start a TCP echo backend (outside the cgroup) and HAProxy 2.6 (inside it, unmodified)"
"$sock" sink 127.0.0.1 9000 300 tcp >/dev/null 2>&1 &
pids+=($!)
sh -c 'echo $$ > "$0/cgroup.procs" && exec haproxy -db -f "$1"' "$cg" \
	"$top/configs/demo-haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
pids+=($!)
wait_listening 9000
wait_listening 8443
wait_listening 8080
haproxy -v | head -n 1
echo "MPTCP listening sockets (ss -Mltn, MPTCP rows): HAProxy's two frontends"
ss -Mltn | grep -E '^(Netid|mptcp) '
echo "(the backend on port 9000 runs outside the cgroup and stays plain TCP)"

step "An MPTCP client (mptcpize-like: socket(..., IPPROTO_MPTCP)) to each frontend"
printf 'port 8443 (listed):   '; "$sock" connect 127.0.0.1 8443 mptcp
printf 'port 8080 (unlisted): '; "$sock" connect 127.0.0.1 8080 mptcp
echo "(both listeners are MPTCP sockets, but MP_CAPABLE is removed from SYNs that arrive"
echo " for the unlisted one: its connections are plain TCP, as with HAProxy's own mptcp@)"

step "What the engine saw"
show "$bin" status

step "A long-lived MPTCP client, and what stats reports for the cgroup"
"$sock" hold 127.0.0.1 8443 1 60 4096 >"$tmp/hold.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do grep -q '^held' "$tmp/hold.out" && break; sleep 0.1; done
show "$bin" stats

step "Detach: new sockets are TCP again; the engine stays pinned only while HAProxy holds the MPTCP listeners it made"
show "$bin" detach
ls /sys/fs/bpf
