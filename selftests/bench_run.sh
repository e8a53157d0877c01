#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What the run engine costs, natively on this kernel (no emulation), in a
# network namespace of its own over loopback:
#   - connect() + accept() + close() under run, to an unlisted address (the
#     supervisor's round trip alone) and to a listed one (both ends made MPTCP),
#     against the plain program and against native MPTCP, with the synchronous
#     wake-up (6.6+) and without;
#   - HAProxy's short-connection rate under run against plain HAProxy, with
#     nothing listed and with frontend and server listed;
#   - the supervisor's own system calls per listed connect, counted
#     (selftests/run_syscalls.sh);
#   - the floor: what the least supervisor (selftests/bench_floor.c: the
#     address read, a swap with nothing checked or copied) costs the same loops
#     and HAProxy, so that each goal is read against what this machine allows.
# Every condition is measured in each round, rounds alternate; the report is
# medians and ratios of this one run. Needs root.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${MU_RUN_BIN:-$top/mptcp-upgrade}	# MU_RUN_BIN: another build, to compare
b=$top/.output/selftests/bench_sock
sock=$top/.output/selftests/mu_sock
rounds=${BENCH_ROUNDS:-5}
n_conn=${BENCH_CONNECTS:-2000}
n_req=${BENCH_REQUESTS:-2000}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench_run: needs root (the run engine's supervisor); skipped"
	exit 0
fi
if [ -z "${MU_BENCH_NETNS:-}" ]; then
	exec unshare -n env MU_BENCH_NETNS=1 "$0" "$@"
fi
ip link set dev lo up

tmp=$(mktemp -d /tmp/mu-bench-run.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench_run: $*" >&2; exit 1; }

printf 'mptcp4@127.0.0.1:7000\n' >"$tmp/listed.policy"
printf 'mptcp4@127.0.0.1:7100-7103\n' >"$tmp/threads.policy"
printf 'server elsewhere mptcp4@192.0.2.1:9\n' >"$tmp/unlisted.policy"

# shellcheck source=selftests/benchlib.sh
. "$top/selftests/benchlib.sh"
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2fx", a / b }'; }

# connect_sample NAME WANT_PROTO CMD...: one timed loop; the protocols it saw must be WANT.
connect_sample() {
	local name=$1 want=$2 ns
	shift 2
	ns=$("$@" connect "$n_conn" 7000 2>"$tmp/proto") || die "$name: $(cat "$tmp/proto")"
	grep -q "client=$want server=$want" "$tmp/proto" ||
		die "$name measured the wrong sockets: $(cat "$tmp/proto"), want $want"
	sample "$name" "$ns"
}

# threads_sample NAME WANT_PROTO CMD...: 4 threads at once, a listener each (7100-7103).
threads_sample() {
	local name=$1 want=$2 ns
	shift 2
	ns=$("$@" threads "$n_conn" 7100 4 2>"$tmp/proto") || die "$name: $(cat "$tmp/proto")"
	[ "$(grep -c "client=$want server=$want" "$tmp/proto")" = 4 ] ||
		die "$name measured the wrong sockets: $(cat "$tmp/proto"), want $want"
	sample "$name" "$ns"
}

native_b() { "$b" "$@" mptcp; }
no_sync() { MU_RUN_SYNC_WAKEUP=0 "$@"; }
one_cpu() { taskset -c "$cpu" "$@"; }
native_one_cpu() { taskset -c "$cpu" "$b" "$@" mptcp; }
# floor_sample: the kernel's own cost of a notified call and of the least swap.
floor_sample() {
	local line
	line=$("$notif" 20000) || die "bench_notif failed"
	sample floor_native "$(sed -n 's/.*native=\([0-9]*\).*/\1/p' <<<"$line")"
	sample floor_continue "$(sed -n 's/.*continue=\([0-9]*\).*/\1/p' <<<"$line")"
	sample floor_swap "$(sed -n 's/.*swap=\([0-9]*\).*/\1/p' <<<"$line")"
	floor_sync=$(sed -n 's/.*sync=\([01]\).*/\1/p' <<<"$line")
}
notif=$top/.output/selftests/bench_notif
[ -x "$notif" ] || die "$notif is missing: make bench builds it"
# The same floor on the real loop (selftests/bench_floor.c): the least supervisor
# (read the address; swap: an MPTCP socket installed, nothing checked or copied)
# under bench_sock itself, so that the program's own TCP socket and the wake-ups
# of a real connect are in it; one supervisor thread, or one per program thread.
floor=$top/.output/selftests/bench_floor
[ -x "$floor" ] || die "$floor is missing: make bench builds it"
floor_native() { "$floor" none -- "$b" "$@" mptcp; }	# native MPTCP, its CPU time counted
floor_cpu() {	# floor_cpu NAME: the CPU time per connection of its last sample
	! grep -q 'unswapped=[1-9]' "$tmp/proto" ||
		die "$1: the least supervisor left calls unswapped: $(cat "$tmp/proto")"
	sample "$1" "$(awk -v n="$n_conn" '/^cpu_us=/ { sub("cpu_us=", "", $1); printf "%.0f", $1 * 1000 / n }' \
		"$tmp/proto")"
}
floor_threads=$(nproc)
[ "$floor_threads" -le 64 ] || floor_threads=64	# bench_floor's most
# One CPU for the program and the supervisor both: what cross-CPU wake-ups cost.
cpu=$(taskset -pc $$ | sed -n 's/.*: \([0-9]*\).*/\1/p')

for ((r = 1; r <= rounds; r++)); do
	connect_sample plain 6 "$b"
	connect_sample native 262 native_b
	connect_sample unlisted_sync 6 "$bin" run --policy "$tmp/unlisted.policy" -- "$b"
	connect_sample listed_sync 262 "$bin" run --policy "$tmp/listed.policy" -- "$b"
	connect_sample unlisted_nosync 6 no_sync "$bin" run --policy "$tmp/unlisted.policy" -- "$b"
	connect_sample listed_nosync 262 no_sync "$bin" run --policy "$tmp/listed.policy" -- "$b"
	connect_sample native_cpu 262 native_one_cpu
	connect_sample listed_cpu 262 one_cpu "$bin" run --policy "$tmp/listed.policy" -- "$b"
	threads_sample native_threads 262 native_b
	threads_sample listed_threads 262 "$bin" run --policy "$tmp/threads.policy" -- "$b"
	floor_sample
	connect_sample loop_native 262 floor_native
	floor_cpu cpu_native
	connect_sample loop_continue 6 "$floor" continue -- "$b"
	floor_cpu cpu_continue
	connect_sample loop_swap 262 "$floor" swap -- "$b"
	floor_cpu cpu_swap
	threads_sample loop_threads 262 "$floor" -t 4 swap -- "$b"
done

us() { awk -v a="$(median "$1")" 'BEGIN { printf "%7.1f us", a / 1000 }'; }
echo "run engine, $(uname -r), natively: socket() + connect() + accept() + close() on"
echo "127.0.0.1, $n_conn per sample, medians of $rounds rounds:"
printf '  plain TCP program                  %s\n' "$(us plain)"
printf '  native MPTCP program               %s\n' "$(us native)"
printf '  run, unlisted, synchronous wake-up %s\n' "$(us unlisted_sync)"
printf '  run, listed,   synchronous wake-up %s\n' "$(us listed_sync)"
printf '  run, unlisted, plain wake-up       %s\n' "$(us unlisted_nosync)"
printf '  run, listed,   plain wake-up       %s\n' "$(us listed_nosync)"
printf '  native MPTCP, one CPU              %s\n' "$(us native_cpu)"
printf '  run, listed,   one CPU             %s   (program and supervisor on CPU %s)\n' \
	"$(us listed_cpu)" "$cpu"
echo "  ratios (goals: unlisted / plain <= 1.1, listed / native MPTCP <= 1.5):"
echo "    unlisted / plain TCP (sync wake-up):      $(ratio unlisted_sync plain)"
echo "    listed / native MPTCP (sync wake-up):     $(ratio listed_sync native)"
echo "    unlisted / plain TCP (plain wake-up):     $(ratio unlisted_nosync plain)"
echo "    listed / native MPTCP (plain wake-up):    $(ratio listed_nosync native)"
echo "    plain wake-up / sync wake-up (unlisted):  $(ratio unlisted_nosync unlisted_sync)"
echo "    listed / native MPTCP, one CPU:           $(ratio listed_cpu native_cpu)"
printf '  4 threads connecting at once, wall time per connection (a rate):\n'
printf '    native MPTCP                     %s\n' "$(us native_threads)"
printf '    run, listed                      %s\n' "$(us listed_threads)"
echo "    run's rate / native MPTCP's (goal >= 0.8): $(ratio native_threads listed_threads)"
# The floor: what the kernel itself charges any seccomp supervisor for these
# calls on this machine, and the best ratio that leaves the run engine.
floor_ratio() {	# floor_ratio BASE FLOOR_SAMPLE: (BASE + floor) / BASE
	awk -v a="$(median "$1")" -v f="$(median "$2")" -v n="$(median floor_native)" \
		'BEGIN { printf "%.2fx", (a + f - n) / a }'
}
echo "  the kernel's floor (selftests/bench_notif, one thread, synchronous wake-up $([ "$floor_sync" = 1 ] && echo on || echo off)):"
printf '    notified call answered CONTINUE     %7.1f us   (every bind/connect under run)\n' \
	"$(awk -v a="$(median floor_continue)" 'BEGIN { print a / 1000 }')"
printf '    + MPTCP socket installed (ADDFD)    %7.1f us   (the least a swap costs)\n' \
	"$(awk -v a="$(median floor_swap)" 'BEGIN { print a / 1000 }')"
echo "    best unlisted / plain TCP possible:       $(floor_ratio plain floor_continue)"
echo "    best listed / native MPTCP possible:      $(floor_ratio native floor_swap)"
echo "  the floor on the real loop (selftests/bench_floor: the least supervisor under bench_sock):"
printf '    notified, answered CONTINUE         %s   CPU %7.1f us per connection\n' \
	"$(us loop_continue)" "$(awk -v a="$(median cpu_continue)" 'BEGIN { print a / 1000 }')"
printf '    swapped: MPTCP socket installed     %s   CPU %7.1f us per connection\n' \
	"$(us loop_swap)" "$(awk -v a="$(median cpu_swap)" 'BEGIN { print a / 1000 }')"
printf '    native MPTCP, for its CPU           %s   CPU %7.1f us per connection\n' \
	"$(us loop_native)" "$(awk -v a="$(median cpu_native)" 'BEGIN { print a / 1000 }')"
printf '    4 threads swapped (4 supervisor threads) %s per connection\n' "$(us loop_threads)"
echo "    least unlisted / plain TCP on this machine:      $(ratio loop_continue plain)   (goal 1.1)"
echo "    least listed / native MPTCP on this machine:     $(ratio loop_swap loop_native)   (goal 1.5)"
echo "    most 4-thread rate / native MPTCP's:             $(ratio native_threads loop_threads)   (goal 0.8)"
echo "    run's listed / the least listed:                 $(ratio listed_sync loop_swap)"
echo "    run's unlisted / the least unlisted:             $(ratio unlisted_sync loop_continue)"

# ---- the supervisor's system calls -----------------------------------------------------
# Counted, not timed (strace -f -c on the supervisor's threads, selftests/run_syscalls.sh):
# the same on a busy machine as on a quiet one. Goal (issue 22): at most 20 in the
# common case, a non-blocking unbound socket in a program with an epoll.
echo
echo "the run supervisor's system calls per listed connect (selftests/run_syscalls.sh 200, counted):"
syscalls_row() {	# LABEL WORDS...
	local label=$1 got
	shift
	got=$("$top/selftests/run_syscalls.sh" 200 "$@" 2>&1)
	got=$(sed -n 's/^syscalls per listed connect: \([0-9.]*\).*/\1/p' <<<"$got")
	printf '  %-46s %s\n' "$label" "${got:-not counted (see selftests/run_syscalls.sh)}"
}
syscalls_row "non-blocking, an epoll (goal <= 20)"
syscalls_row "the same, TCP_NODELAY set first" nodelay epoll
syscalls_row "the same, registered in the epoll before connect" nodelay epoll-before
syscalls_row "blocking, no epoll (bench_sock's loop)" blocking no-epoll

# ---- reload ----------------------------------------------------------------------------
# `mptcp-upgrade reload` of a 2-line policy with one supervisor running (the host
# can't attach; this is the command's own fixed cost: start, registry, parse,
# signal), against the policy command on the same file. Goal: <= 50 ms.
printf 'bind mptcp4@127.0.0.1:7000\nserver s mptcp4@127.0.0.1:7001\n' >"$tmp/two.policy"
"$bin" run --policy "$tmp/two.policy" -- sleep 600 >/dev/null 2>&1 &
pids+=($!)
runs_up() { [ "$("$bin" status --json 2>/dev/null | jq '.runs | length')" -ge 1 ]; }
for ((i = 0; i < 100; i++)); do runs_up && break; sleep 0.1; done
runs_up || die "the run supervisor did not register"
for ((r = 1; r <= rounds * 3; r++)); do
	v=$(wall_us "$bin" reload) || exit 1
	sample reload2 "$v"
	v=$(wall_us "$bin" policy "$tmp/two.policy") || exit 1
	sample policy2 "$v"
done
kill "${pids[-1]}" 2>/dev/null
echo
echo "reload, medians of $((rounds * 3)):"
awk -v a="$(median reload2)" -v b="$(median policy2)" 'BEGIN {
	printf "  reload of a 2-line policy, one run supervisor   %6.1f ms (goal <= 50)\n", a / 1000
	printf "  mptcp-upgrade policy on the same file          %6.1f ms\n", b / 1000
	printf "  ratio reload / policy:                         %.2fx\n", a / b }'

# ---- start -------------------------------------------------------------------------
# What a program waits for before its first instruction under run: the filter,
# the supervisor, and its BPF (bridge, recorder, address check) loaded and
# attached. The same without BPF (MU_RUN_BRIDGE=0 still loads the recorder) and
# a bare exec for scale. Before 506bb2d the bridge alone took 0.8 s here.
for ((r = 1; r <= rounds * 3; r++)); do
	v=$(wall_us "$bin" run --policy "$tmp/two.policy" -- true) || exit 1
	sample start_run "$v"
	v=$(MU_RUN_BRIDGE=0 wall_us "$bin" run --policy "$tmp/two.policy" -- true) || exit 1
	sample start_nobridge "$v"
	v=$(wall_us true) || exit 1
	sample start_bare "$v"
done
echo
echo "start (run -- true), medians of $((rounds * 3)):"
awk -v a="$(median start_run)" -v b="$(median start_nobridge)" -v c="$(median start_bare)" 'BEGIN {
	printf "  run, bridge and recorder                        %6.1f ms\n", a / 1000
	printf "  run, recorder only (MU_RUN_BRIDGE=0)            %6.1f ms\n", b / 1000
	printf "  the program alone                               %6.1f ms\n", c / 1000 }'

# ---- the socket-option bridge --------------------------------------------------------
# What the bridge adds: to a listed connect (its sockops program on the subflow,
# the socket handed to it), and to every setsockopt() in the program's cgroup
# (its cgroup/setsockopt program runs first). With the kernel's BPF statistics
# on, the programs' own time per call, read while a supervisor is alive.
no_bridge() { MU_RUN_BRIDGE=0 "$@"; }
setsockopt_sample() { # NAME OPTION WANT_PROTO CMD...
	local name=$1 opt=$2 want=$3 ns
	shift 3
	ns=$("$@" setsockopt 200000 7000 "$opt" 2>"$tmp/proto") || die "$name: $(cat "$tmp/proto")"
	grep -q "client=$want" "$tmp/proto" || die "$name measured a socket of $(cat "$tmp/proto"), want $want"
	sample "$name" "$ns"
}
stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null
for ((r = 1; r <= rounds; r++)); do
	connect_sample listed_bridge 262 "$bin" run --policy "$tmp/listed.policy" -- "$b"
	connect_sample listed_nobridge 262 no_bridge "$bin" run --policy "$tmp/listed.policy" -- "$b"
	setsockopt_sample so_plain nodelay 6 "$b"
	setsockopt_sample so_bridge nodelay 6 "$bin" run --policy "$tmp/unlisted.policy" -- "$b"
	setsockopt_sample so_nobridge nodelay 6 no_bridge "$bin" run --policy "$tmp/unlisted.policy" -- "$b"
	setsockopt_sample uto_tcp uto 6 "$b"
	setsockopt_sample uto_bridge uto 262 "$bin" run --policy "$tmp/listed.policy" -- "$b"
done
# The programs' run time per call, taken at the end of one run (the supervisor alive).
"$bin" run --policy "$tmp/listed.policy" -- sh -c \
	"'$b' setsockopt 200000 7000 uto >/dev/null 2>&1; '$b' connect 2000 7001 >/dev/null 2>&1;
	 bpftool -j prog show" >"$tmp/progs.json" 2>/dev/null
[ "$stats_was" = 1 ] || sysctl -qw kernel.bpf_stats_enabled="$stats_was" 2>/dev/null
prog_ns() { jq -r --arg n "$1" '[.[] | select(.name == $n and .run_cnt > 0)] | last |
	if . == null then "n/a" else "\(.run_time_ns / .run_cnt | floor) ns (\(.run_cnt) calls)" end' \
	"$tmp/progs.json" 2>/dev/null || echo n/a; }
echo
echo "socket-option bridge (run engine), medians of $rounds:"
printf '  listed connect, bridge on          %s\n' "$(us listed_bridge)"
printf '  listed connect, MU_RUN_BRIDGE=0    %s\n' "$(us listed_nobridge)"
printf '  setsockopt(TCP_NODELAY), no run    %7.0f ns\n' "$(median so_plain)"
printf '  ... under run, bridge on           %7.0f ns\n' "$(median so_bridge)"
printf '  ... under run, bridge off          %7.0f ns\n' "$(median so_nobridge)"
printf '  setsockopt(TCP_USER_TIMEOUT) on TCP %7.0f ns\n' "$(median uto_tcp)"
printf '  ... on an MPTCP socket, bridged    %7.0f ns\n' "$(median uto_bridge)"
echo "  programs, kernel.bpf_stats_enabled: cgroup/setsockopt $(prog_ns mu_setsockopt),"
echo "    sockops $(prog_ns mu_sockops), cgroup/getsockopt $(prog_ns mu_getsockopt)"
echo "  ratios (goal: connect <= 1.05):"
echo "    listed connect, bridge on / off:     $(ratio listed_bridge listed_nobridge)"
echo "    setsockopt(TCP_NODELAY), on / off:   $(ratio so_bridge so_nobridge)"
echo "    TCP_USER_TIMEOUT bridged / TCP:      $(ratio uto_bridge uto_tcp)"
echo

# ---- HAProxy: short connections through a tcp-mode frontend ---------------------------

if ! command -v haproxy >/dev/null; then
	echo
	echo "HAProxy under run: skipped (haproxy is not installed)"
	exit 0
fi
# HAProxy instances at once (plain; under run, nothing listed; under run,
# frontend and server listed; under mptcpize, every socket MPTCP, where it is
# installed), each with its own MPTCP echo backend.
printf 'bind mptcp4@127.0.0.1:7713\nserver b mptcp4@127.0.0.1:7793\n' >"$tmp/hap-listed.policy"
with_mptcpize=0
command -v mptcpize >/dev/null && with_mptcpize=1
instances="1 2 3 5"
[ "$with_mptcpize" = 1 ] && instances="1 2 3 4 5"
# haproxy_config CFG FRONT BACK [http]: the configuration of one HAProxy (tcp mode,
# or http mode with option http-server-close) on 127.0.0.1:FRONT, and its own MPTCP
# backend on BACK (an echo, or with http an HTTP upstream) started.
haproxy_config() {
	local mode=('	mode tcp')
	[ "${4:-}" = http ] && mode=('	mode http' '	option http-server-close')
	printf '%s\n' global '	maxconn 4096' defaults "${mode[@]}" '	timeout connect 5s' \
		'	timeout client 10s' '	timeout server 10s' \
		'frontend f' "	bind 127.0.0.1:$2" '	default_backend b' \
		'backend b' "	server s 127.0.0.1:$3" >"$1"
	"$sock" sink 127.0.0.1 "$3" 3600 ${4:-} >"$1.sink" 2>&1 &
	pids+=($!)
}
for i in $instances; do haproxy_config "$tmp/hap$i.cfg" "771$i" "779$i"; done
haproxy -W -db -f "$tmp/hap1.cfg" >"$tmp/hap1.log" 2>&1 &
pids+=($!)
"$bin" run --policy "$tmp/unlisted.policy" -- haproxy -W -db -f "$tmp/hap2.cfg" \
	>"$tmp/hap2.log" 2>&1 &
pids+=($!)
"$bin" run --policy "$tmp/hap-listed.policy" -- haproxy -W -db -f "$tmp/hap3.cfg" \
	>"$tmp/hap3.log" 2>&1 &
pids+=($!)
if [ "$with_mptcpize" = 1 ]; then
	mptcpize run haproxy -W -db -f "$tmp/hap4.cfg" >"$tmp/hap4.log" 2>&1 &
	pids+=($!)
fi
# The least supervisor (bench_floor: every IPv4 bind and connect made MPTCP, nothing
# checked), a thread per HAProxy thread: the best rate any supervisor could give.
"$floor" -t "$floor_threads" swap -- haproxy -W -db -f "$tmp/hap5.cfg" >"$tmp/hap5.log" 2>&1 &
pids+=($!)
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
# await_listeners PORT...: each one listens within 10 s, or the bench stops.
await_listeners() {
	local port t
	for port in "$@"; do
		for ((t = 0; t < 200; t++)); do
			listening "$port" && break
			sleep 0.05
		done
		listening "$port" || die "nothing listens on $port"
	done
}
for i in $instances; do await_listeners "771$i" "779$i"; done
# mptcpize reaches HAProxy's own socket() (dynamically linked): its listener is MPTCP.
if [ "$with_mptcpize" = 1 ] && ! ss -HlM "sport = :7714" | grep -q .; then
	die "HAProxy under mptcpize does not listen with MPTCP on 7714"
fi
ss -HlM "sport = :7715" | grep -q . || die "HAProxy under bench_floor does not listen with MPTCP on 7715"
# rate_sample NAME PORT [mptcp]: BENCH_CLIENTS clients at once, n_req connections in
# all; the rate is connections over the wall time of the sample.
rate_sample() {
	local t0 t1 i cl=${BENCH_CLIENTS:-4} pids=()
	t0=$(date +%s%N)
	for ((i = 0; i < cl; i++)); do
		"$sock" rate 127.0.0.1 "$2" $((n_req / cl)) ${3:-} >"$tmp/rate$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	t1=$(date +%s%N)
	! grep -q failed "$tmp"/rate* || die "$1: $(cat "$tmp"/rate*)"
	sample "$1" "$(awk -v n=$((n_req / cl * cl)) -v d=$((t1 - t0)) \
		'BEGIN { printf "%.0f", n * 1e9 / d }')"
}
for ((r = 1; r <= rounds; r++)); do
	rate_sample hap_plain 7711
	rate_sample hap_unlisted 7712
	rate_sample hap_listed 7713 mptcp
	[ "$with_mptcpize" = 1 ] && rate_sample hap_mptcpize 7714 mptcp
	rate_sample hap_floor 7715 mptcp
done
# The listed instance must have made its sockets MPTCP, or it measured plain TCP.
made=$("$bin" status --json | jq --arg p "$tmp/hap-listed.policy" \
	'[.runs[] | select(.policy == $p) | .counters.made_mptcp] | add')
want=$((rounds * (n_req / ${BENCH_CLIENTS:-4} * ${BENCH_CLIENTS:-4})))
[ "${made:-0}" -ge "$want" ] ||
	die "the listed HAProxy made ${made:-0} sockets MPTCP, want >= $want"
echo
echo "HAProxy $(haproxy -v | sed -n 's/^HA-\{0,1\}Proxy version \([^ ]*\).*/\1/p') (-W, tcp mode), short connections"
echo "(connect, 4-byte request, echo from the backend, close), $n_req per sample from"
echo "${BENCH_CLIENTS:-4} clients at once, medians of $rounds:"
printf '  plain HAProxy                       %8.0f /s\n' "$(median hap_plain)"
printf '  under run, nothing listed           %8.0f /s\n' "$(median hap_unlisted)"
printf '  under run, frontend+server listed   %8.0f /s   (MPTCP on both sides)\n' \
	"$(median hap_listed)"
if [ "$with_mptcpize" = 1 ]; then
	printf '  under mptcpize (every socket MPTCP) %8.0f /s\n' "$(median hap_mptcpize)"
fi
printf '  under the least supervisor          %8.0f /s   (bench_floor swap: the least a swapping supervisor costs)\n' \
	"$(median hap_floor)"
echo "  ratios:"
echo "    run, nothing listed / plain:        $(ratio hap_unlisted hap_plain)"
echo "    run, listed (MPTCP) / plain:        $(ratio hap_listed hap_plain)"
if [ "$with_mptcpize" = 1 ]; then
	echo "    run, listed / mptcpize (goal >= 0.9): $(ratio hap_listed hap_mptcpize)"
	echo "    the least supervisor / mptcpize:      $(ratio hap_floor hap_mptcpize)   (what the goal can reach here)"
else
	echo "    run, listed / mptcpize: not measured (mptcpize is not installed)"
fi
echo "    run, listed / the least supervisor:   $(ratio hap_listed hap_floor)"

# ---- HAProxy in http mode: the client keeps its connection, the server side does not --------
# Issue 22's other HAProxy case: option http-server-close, so every request opens
# a new backend connection (a swap, when listed) while the client's connection
# stays (no swap on the frontend side past the first). BENCH_CLIENTS keep-alive
# clients at once, n_req requests in all. Instances: plain, run with frontend and
# server listed, mptcpize, the least supervisor (bench_floor); MPTCP clients, but plain
# TCP ones for plain HAProxy, as above.
printf 'bind mptcp4@127.0.0.1:7722\nserver b mptcp4@127.0.0.1:7802\n' >"$tmp/ka-listed.policy"
ka_instances="1 2 4"
[ "$with_mptcpize" = 1 ] && ka_instances="1 2 3 4"
for i in $ka_instances; do haproxy_config "$tmp/ka$i.cfg" "772$i" "780$i" http; done
haproxy -W -db -f "$tmp/ka1.cfg" >"$tmp/ka1.log" 2>&1 &
pids+=($!)
"$bin" run --policy "$tmp/ka-listed.policy" -- haproxy -W -db -f "$tmp/ka2.cfg" \
	>"$tmp/ka2.log" 2>&1 &
pids+=($!)
if [ "$with_mptcpize" = 1 ]; then
	mptcpize run haproxy -W -db -f "$tmp/ka3.cfg" >"$tmp/ka3.log" 2>&1 &
	pids+=($!)
fi
"$floor" -t "$floor_threads" swap -- haproxy -W -db -f "$tmp/ka4.cfg" >"$tmp/ka4.log" 2>&1 &
pids+=($!)
for i in $ka_instances; do await_listeners "772$i" "780$i"; done
# ka_sample NAME PORT [mptcp]: BENCH_CLIENTS keep-alive clients at once; requests over wall time.
ka_sample() {
	local t0 t1 i cl=${BENCH_CLIENTS:-4} pids=()
	t0=$(date +%s%N)
	for ((i = 0; i < cl; i++)); do
		"$sock" keepalive 127.0.0.1 "$2" $((n_req / cl)) ${3:-} >"$tmp/ka-rate$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	t1=$(date +%s%N)
	! grep -q -e failed -e timed "$tmp"/ka-rate* || die "$1: $(cat "$tmp"/ka-rate*)"
	sample "$1" "$(awk -v n=$((n_req / cl * cl)) -v d=$((t1 - t0)) \
		'BEGIN { printf "%.0f", n * 1e9 / d }')"
}
made_before=$("$bin" status --json | jq --arg p "$tmp/ka-listed.policy" \
	'[.runs[] | select(.policy == $p) | .counters.made_mptcp] | add')
for ((r = 1; r <= rounds; r++)); do
	ka_sample ka_plain 7721
	ka_sample ka_listed 7722 mptcp
	[ "$with_mptcpize" = 1 ] && ka_sample ka_mptcpize 7723 mptcp
	ka_sample ka_floor 7724 mptcp
done
# Each request's backend connection is a listed connect: swapped, or it measured TCP.
made=$("$bin" status --json | jq --arg p "$tmp/ka-listed.policy" \
	'[.runs[] | select(.policy == $p) | .counters.made_mptcp] | add')
want=$((rounds * (n_req / ${BENCH_CLIENTS:-4} * ${BENCH_CLIENTS:-4})))
[ $((${made:-0} - ${made_before:-0})) -ge "$want" ] ||
	die "the listed HAProxy (http) made $((${made:-0} - ${made_before:-0})) sockets MPTCP, want >= $want"
echo
echo "HAProxy (-W, http mode, option http-server-close): ${BENCH_CLIENTS:-4} keep-alive clients"
echo "at once, $n_req requests per sample, each on a new backend connection, medians of $rounds:"
printf '  plain HAProxy                       %8.0f /s\n' "$(median ka_plain)"
printf '  under run, frontend+server listed   %8.0f /s   (MPTCP on both sides)\n' \
	"$(median ka_listed)"
if [ "$with_mptcpize" = 1 ]; then
	printf '  under mptcpize (every socket MPTCP) %8.0f /s\n' "$(median ka_mptcpize)"
fi
printf '  under the least supervisor          %8.0f /s   (bench_floor swap)\n' "$(median ka_floor)"
echo "  ratios:"
echo "    run, listed (MPTCP) / plain:        $(ratio ka_listed ka_plain)"
if [ "$with_mptcpize" = 1 ]; then
	echo "    run, listed / mptcpize (goal >= 0.9): $(ratio ka_listed ka_mptcpize)"
	echo "    the least supervisor / mptcpize:      $(ratio ka_floor ka_mptcpize)   (what the goal can reach here)"
fi
echo "    run, listed / the least supervisor:   $(ratio ka_listed ka_floor)"
