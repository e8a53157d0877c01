#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What the attach engine costs, on a kernel that runs it (make bench brings it
# here, in QEMU when the host can't). Every condition is measured in each round,
# rounds alternate, and the report is medians and ratios of this one run.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
b=$top/.output/selftests/bench_sock
cg=/sys/fs/cgroup/mu-bench
tmp=$(mktemp -d /tmp/mu-bench.XXXXXX)
rounds=${BENCH_ROUNDS:-5}
n_sock=${BENCH_SOCKETS:-20000}
n_conn=${BENCH_CONNECTS:-1000}

cleanup() {
	"$bin" detach --all >/dev/null 2>&1
	rmdir "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$cg"
in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }

# Two policies whose only line for the benchmark's address comes last.
gen_policy() {
	local lines=$1 i
	for ((i = 0; i < lines - 2; i++)); do
		printf 'server s%d mptcp4@10.%d.%d.%d:%d\n' "$i" $((i / 65536 % 256)) \
			$((i / 256 % 256)) $((i % 256)) $((1 + i % 60000))
	done
	printf 'bind mptcp4@127.0.0.1:7000\nserver bench mptcp4@127.0.0.1:7000\n'
}
gen_policy 10 >"$tmp/p10.policy"
gen_policy 10000 >"$tmp/p10k.policy"

declare -A samples
sample() { samples[$1]+="$2 "; }
median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '{ v[NR] = $1 }
	END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for ((r = 1; r <= rounds; r++)); do
	"$bin" detach --all >/dev/null 2>&1
	sample sock_plain "$("$b" socket "$n_sock")"
	sample sock_native "$("$b" socket "$n_sock" mptcp)"
	sample conn_tcp "$("$b" connect "$n_conn" 7000 2>/dev/null)"
	sample conn_native "$("$b" connect "$n_conn" 7000 mptcp 2>/dev/null)"

	"$bin" attach --cgroup /mu-bench --policy "$tmp/p10.policy" >/dev/null || exit 1
	sample sock_outside "$("$b" socket "$n_sock")"
	sample sock_inside "$(in_cg "$b" socket "$n_sock")"
	sample conn_10 "$(in_cg "$b" connect "$n_conn" 7000 2>/dev/null)"

	"$bin" reload --policy "$tmp/p10k.policy" >/dev/null || exit 1
	sample conn_10k "$(in_cg "$b" connect "$n_conn" 7000 2>/dev/null)"
	# The loop's connects must have matched the last line, or nothing was measured.
	matched=$("$bin" status --json | jq '.attachments[0].entries[-1].connects')
	[ "$matched" -ge "$n_conn" ] || { echo "bench: connects were not classified" >&2; exit 1; }
done

ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2f", a / b }'; }
row() { printf '  %-58s %9s ns\n' "$1" "$(median "$2")"; }

echo "attach engine costs, Linux $(uname -r), medians of $rounds rounds"
echo "socket() + close(), $n_sock per sample:"
row "outside any attached cgroup, engine not loaded" sock_plain
row "outside any attached cgroup, engine loaded" sock_outside
row "inside the attached cgroup (upgraded to MPTCP)" sock_inside
row "native socket(IPPROTO_MPTCP), engine not loaded" sock_native
echo "connect() + accept() + close() on 127.0.0.1, $n_conn per sample:"
row "TCP, no programs" conn_tcp
row "native MPTCP both ends, no programs" conn_native
row "upgraded both ends, classified by a 10-line policy" conn_10
row "upgraded both ends, classified by a 10,000-line policy" conn_10k
echo "ratios:"
echo "  socket() outside, engine loaded / not loaded:        $(ratio sock_outside sock_plain)"
echo "  socket() upgraded inside / native MPTCP:             $(ratio sock_inside sock_native)"
echo "  connect 10,000-line policy / 10-line policy:         $(ratio conn_10k conn_10)"
echo "  connect upgraded (10 lines) / native MPTCP:          $(ratio conn_10 conn_native)"
echo "  connect upgraded (10 lines) / TCP:                   $(ratio conn_10 conn_tcp)"
