# SPDX-License-Identifier: GPL-2.0-only
# Two network namespaces joined by two veth pairs, for tests and benchmarks of
# multipath connections. Source it, then: twopath_setup CLIENT_NS SERVER_NS.
# Client 192.0.2.1 and 198.51.100.1, server 192.0.2.2 and 198.51.100.2; the
# server signals its second address, so each connection to 192.0.2.2 joins a
# second subflow over the other path.

twopath_setup() {
	local cli=$1 srv=$2 ns l
	ip netns add "$cli" && ip netns add "$srv" || return 1
	ip -n "$cli" link add v1c type veth peer name v1s netns "$srv"
	ip -n "$cli" link add v2c type veth peer name v2s netns "$srv"
	ip -n "$cli" addr add 192.0.2.1/24 dev v1c
	ip -n "$cli" addr add 198.51.100.1/24 dev v2c
	ip -n "$srv" addr add 192.0.2.2/24 dev v1s
	ip -n "$srv" addr add 198.51.100.2/24 dev v2s
	for ns in "$cli" "$srv"; do
		ip -n "$ns" link set lo up
		for l in $(ip -n "$ns" -o link show type veth | awk -F'[:@ ]+' '{ print $2 }'); do
			ip -n "$ns" link set "$l" up
		done
		ip -n "$ns" mptcp limits set subflow 2 add_addr_accepted 2
		ip netns exec "$ns" sysctl -qw net.mptcp.enabled=1
	done
	ip -n "$srv" mptcp endpoint add 198.51.100.2 dev v2s signal
}

twopath_teardown() {
	ip netns del "$1" 2>/dev/null
	ip netns del "$2" 2>/dev/null
}
