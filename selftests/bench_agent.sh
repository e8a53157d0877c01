#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What the agent costs a container, natively with Debian's runc, in a network
# namespace of its own, medians of BENCH_ROUNDS (5) interleaved rounds:
#  - from `runc run -d` to the container's first listed bind() done, for a
#    container without the profile, with the profile but no policy (the agent
#    lets it through), and with a policy (a supervisor and its bridge start);
#  - BENCH_CONNECTS (2,000) connect()+request+close() from a container to an
#    MPTCP sink: native MPTCP in a container without the profile, against a
#    listed connect() in a container the agent serves.
# Prints the medians and the ratios to the baseline of the same run.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${MU_RUN_BIN:-$top/mptcp-upgrade}	# MU_RUN_BIN: another build, to compare
sock=$top/.output/selftests/mu_sock
static=$top/.output/selftests/mu_sock.static
rounds=${BENCH_ROUNDS:-5}
connects=${BENCH_CONNECTS:-2000}
# shellcheck source=selftests/benchlib.sh
. "$top/selftests/benchlib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null || [ ! -x "$static" ]; then
	echo "bench_agent: skipped: needs root, runc (Debian package runc) and $static (make check-fast builds it)"
	exit 0
fi
if [ -z "${MU_RUN_NETNS:-}" ]; then
	exec unshare -n -m env MU_RUN_NETNS=1 "$0" "$@"
fi
ip link set dev lo up
mkdir -p /run/mptcp-upgrade && mount -t tmpfs -o mode=0755 mu-bench /run/mptcp-upgrade

tmp=$(mktemp -d /tmp/mu-bench-agent.XXXXXX)
chmod 755 "$tmp"
cg_root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cg=$cg_root/mu-bench-agent-$$
agent=
sink=
cleanup() {
	local id d
	for id in $(runc --root "$tmp/runc" list -q 2>/dev/null); do
		runc --root "$tmp/runc" delete -f "$id" >/dev/null 2>&1
	done
	[ -n "$agent" ] && kill "$agent" 2>/dev/null
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	for d in "$cg"/*/ "$cg"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$cg" "$tmp/etc" "$tmp/rootfs"
cp "$static" "$tmp/rootfs/mu_sock"
(cd "$tmp" && runc spec) || exit 1

# The seccomp rules test_agent.sh uses (every call the supervisor must see).
jq -n --arg s "$tmp/agent.sock" '{defaultAction: "SCMP_ACT_ALLOW",
	architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
	listenerPath: $s, listenerMetadata: "mptcp-upgrade.io/profile=1",
	syscalls: [{names: ["bind", "connect", "epoll_create", "epoll_create1", "dup", "dup2",
		"dup3", "fork", "vfork", "clone3", "io_uring_setup"], action: "SCMP_ACT_NOTIFY"},
		{names: ["clone"], action: "SCMP_ACT_NOTIFY",
		 args: [{index: 0, value: 1024, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ"}]}]}' \
	>"$tmp/seccomp.json"

# bundle NAME KIND ARGS...: a bundle whose container runs mu_sock ARGS; KIND is
# plain (no seccomp), profile (no policy) or policy.
bundle() {
	local name=$1 kind=$2 sec='null' ann='{}'
	shift 2
	mkdir -p "$tmp/$name"
	[ "$kind" != plain ] && sec=$(cat "$tmp/seccomp.json")
	[ "$kind" = policy ] &&
		ann='{"mptcp-upgrade.io/policy": "bind mptcp4@127.0.0.1:7700-7799\nserver s mptcp4@127.0.0.1:7990"}'
	jq --argjson sec "$sec" --argjson ann "$ann" --arg root "$tmp/rootfs" \
		--args '.process.terminal = false | .process.args = ["/mu_sock"] + $ARGS.positional |
		.root.path = $root | .linux.seccomp = $sec | .annotations = $ann |
		.linux.namespaces |= map(select(.type != "network"))' "$@" \
		<"$tmp/config.json" >"$tmp/$name/config.json"
}

"$bin" agent --socket "$tmp/agent.sock" --policy-dir "$tmp/etc" --cgroup "${cg#"$cg_root"}" \
	>"$tmp/agent.log" 2>&1 </dev/null &
agent=$!
for ((i = 0; i < 100; i++)); do grep -q "served from before" "$tmp/agent.log" && break; sleep 0.1; done
"$sock" sink 127.0.0.1 7990 3600 >"$tmp/sink.out" 2>&1 &
sink=$!
for ((i = 0; i < 100; i++)); do grep -q ready "$tmp/sink.out" && break; sleep 0.1; done

# start_ms KIND PORT: from runc run -d to "ready" (its listed bind() done), in ms.
start_ms() {
	local id=s$RANDOM t0 t1 i
	bundle "$id" "$1" serve 127.0.0.1 "$2" 1
	t0=$(date +%s%N)
	runc --root "$tmp/runc" run -d -b "$tmp/$id" "$id" >"$tmp/$id.out" 2>&1 </dev/null
	for ((i = 0; i < 5000; i++)); do grep -q ready "$tmp/$id.out" && break; sleep 0.002; done
	t1=$(date +%s%N)
	"$sock" connect 127.0.0.1 "$2" mptcp >/dev/null
	runc --root "$tmp/runc" delete -f "$id" >/dev/null 2>&1
	echo $(((t1 - t0) / 1000000))
}

# rate KIND MPTCP: connect()s per second from a container to the sink.
rate() {
	local id=r$RANDOM i
	bundle "$id" "$1" rate 127.0.0.1 7990 "$connects" $2
	runc --root "$tmp/runc" run -b "$tmp/$id" "$id" >"$tmp/$id.out" 2>&1 </dev/null
	runc --root "$tmp/runc" delete -f "$id" >/dev/null 2>&1
	sed -n 's/^rate \([0-9.]*\)\/s$/\1/p' "$tmp/$id.out"
}

port=7700
for ((r = 0; r < rounds; r++)); do
	for kind in plain profile policy; do
		sample "start_$kind" "$(start_ms "$kind" $port)"
		port=$((port + 1))
	done
	sample rate_native "$(rate plain mptcp)"
	sample rate_listed "$(rate policy "")"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
echo "the agent, natively with runc, medians of $rounds rounds:"
echo "  runc run -d to the container's first listed bind() done:"
printf '    no seccomp profile           %6s ms\n' "$(median start_plain)"
printf '    the profile, no policy       %6s ms   %sx (the agent lets it through)\n' \
	"$(median start_profile)" "$(ratio "$(median start_profile)" "$(median start_plain)")"
printf '    the profile and a policy     %6s ms   %sx (a supervisor and its bridge start)\n' \
	"$(median start_policy)" "$(ratio "$(median start_policy)" "$(median start_plain)")"
echo "  connect()+request+close() from a container, $connects per sample:"
printf '    native MPTCP, no profile     %8s/s\n' "$(median rate_native)"
printf '    listed, served by the agent  %8s/s   rate %sx native MPTCP\n' \
	"$(median rate_listed)" "$(ratio "$(median rate_listed)" "$(median rate_native)")"
