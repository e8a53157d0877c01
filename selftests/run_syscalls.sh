#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The run supervisor's own system calls per listed connect(), counted, not
# timed: `run_edges count` under `mptcp-upgrade run` makes one warm-up connect,
# then `strace -f -c` is attached to every thread of its supervisor while it
# makes N more (non-blocking, unbound, in the listed `server` line's port), and
# the calls strace counted are divided by N. The program's own calls are not
# the supervisor's and are not counted.
#
#   selftests/run_syscalls.sh [N [WORD...]]
#       N (200) connects; WORDs as `run_edges count` takes them (nodelay: one
#       option set first; epoll / epoll-before: the socket registered in an
#       epoll after / before its connect). Prints "syscalls per listed connect:
#       X (N connects, M made MPTCP, R ready)" then one "  NAME X" line per
#       system call, most first. Exit 0 when counted, 1 when not.
#
# MU_RUN_BIN: another build's binary, to count before and after a change;
# MU_STRACE_OPTS (default -c) and MU_STRACE_KEEP=FILE: strace's own options and
# a copy of what it wrote, to see the calls one by one (-e trace=...).
#
# Needs root and strace; runs in a network namespace of its own, on loopback.
# A thread blocked in poll() when strace attaches or detaches adds a call or two
# to the whole run, not to each connect (0.01 at N = 200).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${MU_RUN_BIN:-$top/mptcp-upgrade}
edges=$top/.output/selftests/run_edges
n=${1:-200}
shift $(($# > 0 ? 1 : 0))

die() { echo "run_syscalls: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (the run engine's supervisor)"
command -v strace >/dev/null || die "needs strace"
[ -x "$edges" ] || die "$edges is missing (make it)"
if [ -z "${MU_SYSCALLS_NETNS:-}" ]; then
	exec unshare -n env MU_SYSCALLS_NETNS=1 "$0" "$n" "$@"
fi
ip link set dev lo up

tmp=$(mktemp -d /tmp/mu-syscalls.XXXXXX)
chmod 755 "$tmp"
prog=
tracer=
cleanup() {
	[ -n "$tracer" ] && kill "$tracer" 2>/dev/null
	exec 3>&- 2>/dev/null
	[ -n "$prog" ] && kill "$prog" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port=7790
printf 'server counted mptcp4@127.0.0.1:%d\n' "$port" >"$tmp/count.policy"
mkfifo "$tmp/in"
"$bin" run --policy "$tmp/count.policy" -- "$edges" count 127.0.0.1 "$port" "$n" "$@" \
	<"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
prog=$!
exec 3>"$tmp/in"
for _ in $(seq 300); do
	grep -q ready "$tmp/out" && break
	kill -0 "$prog" 2>/dev/null || die "the program ended: $(cat "$tmp/err" "$tmp/out")"
	sleep 0.1
done
grep -q ready "$tmp/out" || die "the program never got ready"
sup=$("$bin" status --json | jq -r --argjson p "$prog" '.runs[] | select(.program == $p) | .supervisor')
[ -n "$sup" ] && [ "$sup" != null ] || die "no supervisor for program $prog"

# shellcheck disable=SC2086 # MU_STRACE_OPTS: words, split on purpose
strace -qq -f ${MU_STRACE_OPTS:--c} -o "$tmp/strace" -p "$sup" &
tracer=$!
# Every thread of the supervisor traced before the first connect.
for _ in $(seq 300); do
	all=1
	for s in /proc/"$sup"/task/*/status; do
		[ "$(awk '/^TracerPid:/ { print $2 }' "$s")" != 0 ] || all=0
	done
	[ "$all" = 1 ] && break
	sleep 0.05
done
[ "$all" = 1 ] || die "strace did not attach to every thread of $sup"
echo start >&3
for _ in $(seq 1200); do
	grep -q '^count' "$tmp/out" && break
	kill -0 "$prog" 2>/dev/null || break
	sleep 0.1
done
line=$(grep '^count' "$tmp/out") || die "the connects did not finish: $(cat "$tmp/err")"
kill -INT "$tracer"
wait "$tracer" 2>/dev/null
tracer=
echo finish >&3
exec 3>&-
wait "$prog" 2>/dev/null
prog=

[ -n "${MU_STRACE_KEEP:-}" ] && cp "$tmp/strace" "$MU_STRACE_KEEP"
mptcp=$(sed -n 's/.*mptcp=\([0-9]*\).*/\1/p' <<<"$line")
ready=$(sed -n 's/.*ready=\([0-9]*\).*/\1/p' <<<"$line")
# strace -c: "% time seconds usecs/call calls errors syscall", then a total line.
awk -v n="$n" -v m="$mptcp" -v r="$ready" '
	$NF == "total" { total = $(NF - 2) }
	/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" {
		calls[$NF] = $4
	}
	END {
		printf "syscalls per listed connect: %.2f (%d connects, %d made MPTCP, %d ready)\n",
			total / n, n, m, r
		for (c in calls)
			printf "  %-16s %.2f\n", c, calls[c] / n | "sort -k2 -rn"
	}' "$tmp/strace"
