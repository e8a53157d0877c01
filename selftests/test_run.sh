#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The run engine on this machine's own kernel (no QEMU): seccomp user
# notification needs no BPF trampoline. In a network namespace of its own, over
# loopback. Asserts SO_PROTOCOL on both ends, MPTCP negotiated or not, and what
# the program sees of its sockets (fd, flags, options, source port). Its run
# registry is its own (own_registry), so that suites beside it change nothing
# of what status and stats show it. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
probe=$top/.output/selftests/run_probe

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the run engine needs root"
	exit 0
fi
if [ -z "${MU_RUN_NETNS:-}" ]; then
	exec unshare -n -m env MU_RUN_NETNS=1 "$0" "$@"
fi
ip link set dev lo up
own_registry
# In a QEMU guest (run-vm), stats needs the diag modules of the guest's kernel.
[ -n "${MU_VM_KDIR:-}" ] && modprobe -d "$MU_VM_KDIR" -a tcp_diag mptcp_diag veth 2>/dev/null

tmp=$(mktemp -d /tmp/mu-run.XXXXXX)
bhns=mu-run-bh-$$	# a namespace for the blackhole tests (it has a name: removed on exit)
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	pkill -f "^$bin run --policy $tmp/" 2>/dev/null
	ip netns del "$bhns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

pol=$tmp/run.policy
cat >"$pol" <<'EOF'
bind mptcp4@127.0.0.1:7500
bind mptcp6@[::1]:7510
server s1 mptcp4@127.0.0.1:7600
EOF
# Supervisors keep run's command line; anchored, so a shell quoting it is not one.
# run's processes (supervisor and watcher) for a policy; the supervisor status knows.
supervisors() { pgrep -f "^$bin run --policy $1" | wc -l; }
no_supervisor() { [ "$(supervisors "$1")" = 0 ]; }
supervisor_of() { "$bin" status --json | jq -r --arg p "$1" '.runs[] | select(.policy == $p) | .supervisor'; }
one_supervisor() { [ "$(supervisor_of "$1" | wc -w)" = 1 ]; }

# ---- bad input: one error line, nothing started ---------------------------------

if host_case "bad input: usage errors and refused policies, nothing started"; then
	run run
	expect "run without --policy: exit 2" 2 "run: needs --policy FILE"
	run run --policy "$pol"
	expect "run without a command: exit 2" 2 "run: needs a COMMAND"
	run run --policy "$tmp/nosuch.policy" -- true
	expect "run with a missing policy: exit 1" 1 "can't open policy file"
	printf 'bind mptcp@:80x\n' >"$tmp/bad.policy"
	run run --policy "$tmp/bad.policy" -- touch "$tmp/started"
	expect "run with a bad policy says where, exit 1" 1 "bad.policy:1:"
	[ ! -e "$tmp/started" ] && ok "a bad policy never starts the command" ||
		not_ok "a bad policy never starts the command"
	cp "$pol" "$tmp/nobody.policy" && chown 65534 "$tmp/nobody.policy"
	run run --policy "$tmp/nobody.policy" -- true
	expect "run refuses a policy that is not root's" 1 "is owned by uid 65534"
fi

# ---- listeners --------------------------------------------------------------------

"$bin" run --policy "$pol" -- "$probe" listen 127.0.0.1 7500 >"$tmp/l1.out" 2>&1 &
pids+=($!)
need "listed listener ready" grep -q ready "$tmp/l1.out"
got=$("$sock" connect 127.0.0.1 7500 mptcp)
need "listed listener accepted" grep -q accepted "$tmp/l1.out"
grep -q 'ready proto=262 .*cloexec=1 reuseaddr=1' "$tmp/l1.out" &&
	grep -q 'accepted proto=262' "$tmp/l1.out" && grep -q 'echo=ok mptcp=yes' <<<"$got" &&
	ok "a listed listener is MPTCP (flags and options kept), and so is what it accepts" ||
	not_ok "a listed listener is MPTCP, and so is what it accepts" "$got" "$(cat "$tmp/l1.out")"

"$bin" run --policy "$pol" -- "$probe" listen 127.0.0.1 7501 >"$tmp/l2.out" 2>&1 &
pids+=($!)
need "unlisted listener ready" grep -q ready "$tmp/l2.out"
got=$("$sock" connect 127.0.0.1 7501 mptcp)
need "unlisted listener accepted" grep -q accepted "$tmp/l2.out"
grep -q 'ready proto=6 ' "$tmp/l2.out" && grep -q 'accepted proto=6' "$tmp/l2.out" &&
	grep -q 'echo=ok mptcp=fallback' <<<"$got" &&
	ok "an unlisted listener stays a plain TCP socket" ||
	not_ok "an unlisted listener stays a plain TCP socket" "$got" "$(cat "$tmp/l2.out")"

"$bin" run --policy "$pol" -- "$sock" serve ::ffff:127.0.0.1 7500 1 >"$tmp/l4m.out" 2>&1 &
pids+=($!)
need "v4-mapped listener ready" grep -q ready "$tmp/l4m.out"
got=$("$sock" connect 127.0.0.1 7500 mptcp)
grep -q 'ready proto=262' "$tmp/l4m.out" && grep -q 'echo=ok mptcp=yes' <<<"$got" &&
	ok "dual stack: bind() to ::ffff:127.0.0.1 on an IPv6 socket matches the IPv4 line" ||
	not_ok "dual stack: a v4-mapped bind matches the IPv4 line" "$got" "$(cat "$tmp/l4m.out")"

"$bin" run --policy "$pol" -- "$sock" serve ::1 7510 1 >"$tmp/l6.out" 2>&1 &
pids+=($!)
need "IPv6 listener ready" grep -q ready "$tmp/l6.out"
got=$("$sock" connect ::1 7510 mptcp)
grep -q 'echo=ok mptcp=yes' <<<"$got" &&
	ok "IPv6: a listed listener is MPTCP" || not_ok "IPv6: a listed listener is MPTCP" "$got"

# ---- what status and stats show of a program under run ----------------------------

printf 'bind mptcp4@127.0.0.1:7540\nserver s9 mptcp4@127.0.0.1:7640\n' >"$tmp/count.policy"
"$bin" run --policy "$tmp/count.policy" -- "$sock" sink 127.0.0.1 7540 60 tcp \
	>"$tmp/count.out" 2>&1 &
counted=$!
pids+=($counted)
need "the counted sink ready" grep -q ready "$tmp/count.out"
: >"$tmp/hold.out"
"$sock" hold 127.0.0.1 7540 2 60 >"$tmp/hold.out" 2>&1 &
holder=$!
pids+=($holder)
need "two connections held" grep -q 'held 2' "$tmp/hold.out"
run_json() {
	"$bin" status --json | jq -c --arg p "$tmp/count.policy" \
		'.runs[] | select(.policy == $p) | [.counters.binds_listed, .counters.made_mptcp,
		 .entries[0].binds, .entries[0].made_mptcp, .entries[0].mptcp, .entries[0].fallback,
		 .entries[1].connects]'
}
# The two held connections negotiated MPTCP with the listener: counted from the wire.
wait_for bash -c "[ \"\$(\"$bin\" status --json | jq --arg p '$tmp/count.policy' '.runs[] | select(.policy == \$p) | .entries[0].mptcp')\" = 2 ]"
got=$(run_json)
[ "$got" = "[1,1,1,1,2,null,0]" ] &&
	"$bin" status | grep -Eq '^  1 +bind +127\.0\.0\.1/32 +7540 +1 +0 +1 +0 +2 +-$' &&
	ok "status counts per policy line: bind listed 1, made MPTCP 1, 2 connections negotiated MPTCP" ||
	not_ok "status counts the supervisor's calls per policy line" "$got" "$("$bin" status)"
# One JSON document per output, with the keys users' jq reads (issue 24), pretty or not;
# and the registry entry status reads them from: JSON, root's alone (mode 0600).
sup=$(supervisor_of "$tmp/count.policy")
run_keys='["supervisor","program","container","policy","sha256","policy_changed_since_load","started_at",
	"loaded_at","reloads","last_reload_error","io_uring","sync_wakeup","killable_wait",
	"counters","refused_options","entries","sockopt_bridge","path_managers"]'
line_keys='["line","source","role","prefix","ports","binds","connects","made_mptcp","kept_tcp",
	"mptcp","fallback"]'
bad=
for mode in -j -p; do
	"$bin" "$mode" status >"$tmp/st.json" || bad="$bad; status $mode exit $?"
	python3 -m json.tool "$tmp/st.json" >/dev/null 2>&1 || bad="$bad; status $mode not JSON"
	jq -e --arg p "$tmp/count.policy" --argjson rk "$run_keys" --argjson lk "$line_keys" \
		'.runs[] | select(.policy == $p) | (keys_unsorted == $rk) and
		 ([.entries[] | keys_unsorted == $lk] == [true, true]) and
		 (.counters | type) == "object" and (.last_reload_error == null) and
		 (.sockopt_bridge == null or (.sockopt_bridge | keys_unsorted) ==
		  ["carries", "options", "cgroup"])' "$tmp/st.json" >/dev/null ||
		bad="$bad; status $mode keys: $(jq -c --arg p "$tmp/count.policy" \
			'.runs[] | select(.policy == $p) | keys_unsorted' "$tmp/st.json")"
done
reg=/run/mptcp-upgrade/run-$sup.json
[ "$(stat -c %a "$reg" 2>/dev/null)" = 600 ] || bad="$bad; $reg mode $(stat -c %a "$reg" 2>&1)"
python3 -m json.tool "$reg" >/dev/null 2>&1 &&
	jq -e --arg p "$tmp/count.policy" '.policy == $p and (.entries | length) == 2 and
		(.entries[0] | keys_unsorted) == ["line","source","role","prefix","ports"]' "$reg" \
		>/dev/null || bad="$bad; $reg: $(cat "$reg")"
[ -n "$sup" ] && [ -z "$bad" ] &&
	ok "status -j, -p with a supervisor: one JSON document, its keys; its registry file 0600" ||
	not_ok "status --json of a supervisor, and its registry entry" "supervisor '$sup'$bad"
want_sync=false
IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
[ "$kmaj" -gt 6 ] || { [ "$kmaj" = 6 ] && [ "${kmin%%[!0-9]*}" -ge 6 ]; } && want_sync=true
got=$("$bin" status --json | jq -r --arg p "$tmp/count.policy" \
	'.runs[] | select(.policy == $p) | .sync_wakeup')
[ "$got" = "$want_sync" ] &&
	ok "status shows the synchronous wake-up in use exactly on 6.6+ ($got on $(uname -r))" ||
	not_ok "status shows whether the synchronous wake-up is in use" "want $want_sync, got $got"
got=$("$bin" stats --json --pid "$counted" | jq -c '[.connections[] | .local.port] | unique')
[ "$got" = "[7540]" ] && [ "$("$bin" stats --json --pid "$counted" | jq '.connections | length')" = 2 ] &&
	ok "stats --pid shows the program's two MPTCP connections, not its peer's" ||
	not_ok "stats --pid shows the program's connections" "$got" "$("$bin" stats --pid "$counted")"
got=$("$bin" stats --json --pid "$counted" | jq -c '[.connections[] | [.line, (.run_supervisor > 0)]] | unique')
[ "$got" = '[[1,true]]' ] && "$bin" stats --pid "$counted" | grep -q '  line 1 mptcp4@127.0.0.1:7540' &&
	ok "stats names each connection's policy line under run, and its supervisor (issue 21)" ||
	not_ok "stats names each connection's policy line under run" "$got" \
		"$("$bin" stats --pid "$counted")"
# The supervisor's policy lines, as for an attached cgroup: its per-line counts.
got=$("$bin" stats --json --pid "$counted" |
	jq -c '[.policy_lines[] | select(.run_supervisor > 0) | [.line, .binds, (.connects >= 0), has("made_mptcp"), has("kept_tcp")]]')
[[ $got == '[[1,'[1-9]*',true,true,true]]' ]] &&
	"$bin" stats --pid "$counted" | grep -q '^policy lines of run supervisor [0-9]* (program [0-9]*):$' &&
	ok "stats shows a run supervisor's policy lines with their counts, table and JSON" ||
	not_ok "stats shows a run supervisor's policy lines" "$got" "$("$bin" stats --pid "$counted")"
got=$("$bin" stats --json | jq -c '[.connections[] | .local.port] | unique')
[ "$got" = "[7540]" ] &&
	ok "stats without arguments finds the programs run serves" ||
	not_ok "stats without arguments finds the programs run serves" "$got"
got=$("$bin" stats --json --pid "$holder" | jq -c '[.connections[] | .remote.port] | unique')
[ "$got" = "[7540]" ] && ok "stats --pid works for any process (the client side here)" ||
	not_ok "stats --pid works for any process" "$got"
# What the textfile timer runs: the exposition, whole, renamed into place.
"$bin" stats --prometheus --output "$tmp/mu.prom"
got=$(grep -c '^mptcp_upgrade_connections{netns="[0-9]*",fallback="false"} 2$' "$tmp/mu.prom")
[ "$got" = 1 ] && [ ! -e "$tmp/mu.prom.tmp" ] && grep -q '^mptcp_upgrade_targets [1-9]' "$tmp/mu.prom" &&
	ok "stats --prometheus --output writes the metrics atomically (no .tmp left)" ||
	not_ok "stats --prometheus --output writes the metrics" "$(cat "$tmp/mu.prom")"
# The supervisor's per-line series under the attach engine's names, by program (issue 21).
lbl='program="[^"]*",supervisor="[0-9]*",unit="[^"]*",line="1"'
grep -q "^mptcp_upgrade_policy_line_events_total{$lbl,event=\"bind\"} 1$" "$tmp/mu.prom" &&
	grep -q "^mptcp_upgrade_policy_line_events_total{$lbl,event=\"made_mptcp\"} 1$" "$tmp/mu.prom" &&
	grep -q "^mptcp_upgrade_policy_line_events_total{$lbl,event=\"mptcp\"} 2$" "$tmp/mu.prom" &&
	grep -q '^mptcp_upgrade_build_info{version="[^"]*",engine_abi="[0-9]*"} 1$' "$tmp/mu.prom" &&
	ok "stats --prometheus: run's per-line series by program (bind 1, made MPTCP 1, negotiated 2), and build_info" ||
	not_ok "stats --prometheus: run's per-line series by program" "$(grep -E 'line_events|build_info' "$tmp/mu.prom")"
# --pid shows the namespaces the process lives in, not this command's (issue 21).
unshare -n sleep 30 &
lone=$!
pids+=($lone)
# Asked again at each try: unshare(1) is in its own namespace only once it has run.
need "the process in a namespace of its own" sh -c \
	"[ \"\$(stat -L -c %i /proc/$lone/ns/net 2>/dev/null)\" != \"\$(stat -L -c %i /proc/self/ns/net)\" ]"
got=$("$bin" stats --json --pid "$lone" | jq -c '[.namespaces[].netns]')
[ "$got" = "[$(stat -L -c %i /proc/$lone/ns/net)]" ] &&
	ok "stats --pid lists only the namespace the process lives in" ||
	not_ok "stats --pid lists only the namespace the process lives in" "$got"
kill "$lone" 2>/dev/null
run stats --pid 12abc
expect "stats --pid of no process: exit 2" 2 "--pid takes a process id"
run stats --pid 4000000
expect "stats --pid of a process that is not running: exit 1" 1 "no process 4000000 is running"
kill "$holder" "$counted" 2>/dev/null
wait "$holder" "$counted" 2>/dev/null

# ---- outgoing connections ---------------------------------------------------------

"$sock" sink 127.0.0.1 7600 600 >"$tmp/sink1.out" 2>&1 &
pids+=($!)
"$sock" sink 127.0.0.1 7601 600 >"$tmp/sink2.out" 2>&1 &
pids+=($!)
need "MPTCP sinks ready" grep -q ready "$tmp/sink1.out"
need "MPTCP sinks ready" grep -q ready "$tmp/sink2.out"
got=$("$bin" run --policy "$pol" -- "$probe" connect 127.0.0.1 7600 40100 2>&1)
grep -q 'connect=einprogress fd_same=1 sport=40100 proto=262 nonblock=1 cloexec=1 reuseaddr=1 nodelay=1 keepalive=1 keepidle=77 echo=ok' \
	<<<"$got" &&
	ok "a listed connect is MPTCP: EINPROGRESS, fd, flags, options and source port kept" ||
	not_ok "a listed connect is MPTCP with everything the program set kept" "$got"
got=$("$bin" run --policy "$pol" -- "$sock" connect 127.0.0.1 7600 2>&1)
grep -q 'proto=262 echo=ok mptcp=yes' <<<"$got" &&
	ok "a listed connect negotiates MPTCP with an MPTCP server" ||
	not_ok "a listed connect negotiates MPTCP with an MPTCP server" "$got"
got=$("$bin" run --policy "$pol" -- "$probe" connect 127.0.0.1 7600 40105 epoll 2>&1)
grep -q 'connect=einprogress epoll=ok fd_same=1 sport=40105 proto=262 .* echo=ok' <<<"$got" &&
	ok "a socket in an epoll before connect() (nginx) is watched there after the swap" ||
	not_ok "a socket in an epoll before connect() is watched there after the swap" "$got"
# The caller's socket on the numbers the supervisor uses for its own descriptors
# (pidfd, the copies): the epoll carry borrows that number in its own table.
bad=
for fdn in 4 5 6 7 8; do
	got=$("$bin" run --policy "$pol" -- "$probe" connect 127.0.0.1 7600 0 "epoll=$fdn" 2>&1)
	grep -q "connect=einprogress epoll=ok fd_same=1 sport=[0-9]* proto=262 " <<<"$got" ||
		bad+="fd $fdn: $got"$'\n'
done
[ -z "$bad" ] && ok "epoll carry works whatever descriptor number the socket has (4 to 8)" ||
	not_ok "epoll carry works whatever descriptor number the socket has" "$bad"
got=$("$bin" run --policy "$pol" -- "$sock" connect ::ffff:127.0.0.1 7600 2>&1)
got2=$("$bin" run --policy "$pol" -- "$sock" connect ::ffff:127.0.0.1 7601 2>&1)
grep -q 'proto=262 echo=ok mptcp=yes' <<<"$got" && grep -q 'proto=6 echo=ok' <<<"$got2" &&
	ok "dual stack: connect() to ::ffff:127.0.0.1 matches the IPv4 line, and only it" ||
	not_ok "dual stack: a v4-mapped connect matches the IPv4 line" "$got" "$got2"
got=$("$bin" run --policy "$pol" -- "$probe" connect 127.0.0.1 7601 40101 2>&1)
grep -q 'sport=40101 proto=6 ' <<<"$got" &&
	ok "an unlisted connect stays a plain TCP socket" ||
	not_ok "an unlisted connect stays a plain TCP socket" "$got"
if "$probe" mptcp-refuses; then
	# The bridge carries TCP_USER_TIMEOUT on this kernel: the swap goes ahead.
	got=$("$bin" run --policy "$pol" -- "$probe" connect 127.0.0.1 7600 40102 uto 2>&1)
	grep -q 'proto=262 .*user_timeout=5000 echo=ok bad_uto=Invalid argument' <<<"$got" &&
		grep -q 'socket-option bridge on .*carries .*TCP_USER_TIMEOUT' <<<"$got" &&
		ok "an option MPTCP refuses (TCP_USER_TIMEOUT) set before connect: the socket is MPTCP and reads it back; -1 is EINVAL, as on TCP" ||
		not_ok "an option MPTCP refuses set before connect: the socket is MPTCP and reads it back" "$got"
	got=$(MU_RUN_BRIDGE=0 "$bin" run --policy "$pol" -- "$probe" connect 127.0.0.1 7600 40103 uto 2>&1)
	grep -q 'proto=6 .*user_timeout=5000 echo=ok' <<<"$got" &&
		grep -q 'MPTCP refuses TCP_USER_TIMEOUT' <<<"$got" &&
		ok "without the bridge (MU_RUN_BRIDGE=0) such a socket stays TCP, with the option, and says so" ||
		not_ok "without the bridge such a socket stays TCP, and says so" "$got"
else
	skip "an option MPTCP refuses" "this kernel accepts TCP_USER_TIMEOUT on MPTCP sockets"
	skip "an option MPTCP refuses, without the bridge" "this kernel accepts TCP_USER_TIMEOUT on MPTCP sockets"
fi
# The verifier's walk is what the program's start waits for: mu_sockops once
# took 757,900 of the kernel's 1,000,000 (0.75 s), its paths unmerged, and
# mu_setsockopt / mu_getsockopt 12,485 / 15,018 (about 20 ms of each start)
# until the option lookup became a global function, verified once.
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$cg2" ] && printf '5.16\n%s\n' "$(uname -r)" | sort -V -C; then
	got=$("$bin" run --policy "$pol" -- sh -c \
		"'$sock' verified \"$cg2\$(sed -n 's/^0:://p' /proc/self/cgroup)\"" 2>&1)
	worst=$(awk '$2 ~ /^verified=/ { sub("verified=", "", $2); if ($2 + 0 > w) w = $2 + 0 }
		END { print w + 0 }' <<<"$got")
	if ! grep -q 'socket-option bridge on' <<<"$got"; then
		skip "the verifier's walk of the bridge" "no bridge here: $(grep -m1 'bridge' <<<"$got")"
	elif grep -q '^mu_sockops verified=' <<<"$got" && grep -q '^mu_setsockopt verified=' <<<"$got" &&
		grep -q '^mu_run_setsocko verified=' <<<"$got" &&
		[ "$worst" -gt 0 ] && [ "$worst" -lt 10000 ]; then
		ok "the bridge's and recorder's programs each load with under 10,000 instructions verified (at most $worst)"
	else
		not_ok "the bridge's and recorder's programs each load with under 10,000 instructions verified" "$got"
	fi
else
	skip "the verifier's walk of the bridge" "no cgroup v2 mount, or a kernel before 5.16"
fi
if host_case "a static binary, and a child of the program"; then
	if ldd "$probe.static" 2>&1 | grep -q 'not a dynamic executable'; then
		got=$("$bin" run --policy "$pol" -- "$probe.static" connect 127.0.0.1 7600 40106 2>&1)
		grep -q 'connect=einprogress fd_same=1 sport=40106 proto=262 .* echo=ok' <<<"$got" &&
			ok "a static binary (no LD_PRELOAD possible) gets its listed connect made MPTCP" ||
			not_ok "a static binary gets its listed connect made MPTCP" "$got"
	else
		not_ok "run_probe.static is statically linked" "$(ldd "$probe.static" 2>&1)"
	fi
	got=$("$bin" run --policy "$pol" -- sh -c "\"$probe\" connect 127.0.0.1 7600 40103 & wait" 2>&1)
	grep -q 'sport=40103 proto=262 ' <<<"$got" &&
		ok "a child of the program is covered too" || not_ok "a child of the program is covered" "$got"
fi

# ---- the socket-option bridge: what the subflows do, not only return codes ----------
# A server in a namespace of its own behind a veth, so that its path can be cut
# (a blackhole route for the client: the server's packets never come back).
# TCP_USER_TIMEOUT 1500 ms set through the bridge, before connect() (carried by
# the supervisor) or on the established MPTCP socket (the program's own call):
# the subflow must be gone well before TCP's own 15 minutes.
bh_cleanup() { ip netns del "$bhns" 2>/dev/null; ip link del mu-bh0 2>/dev/null; }
# No socket to the server left, by two dumps in a row that succeeded: once in
# the 6.12 guest a single poll found none while the subflow lived on (the
# connection stayed up 20 s), so one empty answer is not taken as the end.
no_subflow() { local out; out=$(ss -Htn state all dst 10.98.0.2) && [ -z "$out" ]; }
subflow_gone() { no_subflow && no_subflow; }
# subflow_stays MS: no poll finds the subflow gone for MS ms of wall time. Not
# wait_for's 100 polls: in a loaded TCG guest each poll's two dumps took so long
# that 100 outlasted the probe's own 20 s, whose close then took the subflow.
subflow_stays() {
	local end=$(($(date +%s%N) / 1000000 + $1))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		subflow_gone && return 1
		sleep 0.1
	done
	return 0
}
blackhole_case() { # WHEN ENV...: run the probe, cut the path, wait; output in $tmp/bh.out
	local when=$1
	shift
	rm -f "$tmp/bh.go"
	env "$@" "$bin" run --policy "$tmp/bh.policy" -- \
		"$probe" blackhole 10.98.0.2 7620 1500 "$when" "$tmp/bh.go" >"$tmp/bh.out" 2>&1 &
	bh_pid=$!
	wait_for grep -q '^established' "$tmp/bh.out"
	ip -n "$bhns" route replace blackhole 10.98.0.1/32
	touch "$tmp/bh.go"
}
if uto_refused=$("$probe" mptcp-refuses && echo yes) && [ "$uto_refused" = yes ] &&
	ip netns add "$bhns" 2>/dev/null &&
	{ ip link add mu-bh0 type veth peer name mu-bh1 netns "$bhns" 2>/dev/null || { bh_cleanup; false; }; }; then
	ip addr add 10.98.0.1/24 dev mu-bh0 && ip link set mu-bh0 up
	ip -n "$bhns" addr add 10.98.0.2/24 dev mu-bh1 && ip -n "$bhns" link set mu-bh1 up
	ip -n "$bhns" link set lo up
	# After a subflow dies the connection waits net.mptcp.close_timeout for another
	# one (60 s by default, 6.8+): 2 s, so that the program sees the end too.
	close_timeout=$(sysctl -n net.mptcp.close_timeout 2>/dev/null) &&
		sysctl -qw net.mptcp.close_timeout=2
	printf 'server s mptcp@10.98.0.2:7620\n' >"$tmp/bh.policy"
	chmod 600 "$tmp/bh.policy"
	ip netns exec "$bhns" "$sock" sink 10.98.0.2 7620 300 >"$tmp/bhsink.out" 2>&1 &
	pids+=($!)
	need "a sink behind the veth" grep -q ready "$tmp/bhsink.out"
	for when in before after; do
		blackhole_case "$when"
		t0=$(date +%s%N)
		wait_for subflow_gone && gone_ms=$((($(date +%s%N) - t0) / 1000000)) || gone_ms=never
		wait "$bh_pid"
		got=$(cat "$tmp/bh.out")
		ip -n "$bhns" route del blackhole 10.98.0.1/32
		if grep -q '^established proto=262 uto=ok got=1500' <<<"$got" && [ "$gone_ms" != never ] &&
			{ [ -z "$close_timeout" ] || grep -q '^aborted ms=' <<<"$got"; }; then
			ok "TCP_USER_TIMEOUT 1500 set $when connect on a listed socket: the subflow is gone ${gone_ms} ms after the path is cut${close_timeout:+, and the program sees the connection end}"
		else
			not_ok "TCP_USER_TIMEOUT set $when connect reaches the subflow of a blackholed connection" \
				"subflow gone after: $gone_ms ms" "$got"
		fi
	done
	# Without the bridge the call fails and the subflow keeps retransmitting.
	blackhole_case after MU_RUN_BRIDGE=0
	subflow_stays 10000 && gone=no || gone=yes
	{ kill "$bh_pid" && wait "$bh_pid"; } 2>/dev/null
	ip -n "$bhns" route del blackhole 10.98.0.1/32
	grep -q '^established proto=262 uto=Operation not supported' "$tmp/bh.out" && [ "$gone" = no ] &&
		ok "without the bridge, TCP_USER_TIMEOUT fails on the MPTCP socket and the cut subflow stays (10 s)" ||
		not_ok "without the bridge, TCP_USER_TIMEOUT fails and the subflow stays" "gone: $gone" "$(cat "$tmp/bh.out")"
	[ -n "$close_timeout" ] && sysctl -qw net.mptcp.close_timeout="$close_timeout"
	bh_cleanup
else
	skip "TCP_USER_TIMEOUT on the subflows of a blackholed connection" \
		"this kernel takes TCP_USER_TIMEOUT on MPTCP sockets, or no network namespace or veth pair can be added"
	skip "TCP_USER_TIMEOUT, without the bridge" "as above"
fi

# IPV6_TCLASS (refused by MPTCP, carried): every packet of the subflow carries it.
if [ "$("$bin" check --json | jq -r '.sockopts.carried | index("IPV6_TCLASS") != null')" = true ] &&
	command -v tcpdump >/dev/null; then
	printf 'server s mptcp6@[::1]:7630\n' >"$tmp/tc.policy"
	chmod 600 "$tmp/tc.policy"
	"$sock" sink ::1 7630 30 >"$tmp/tcsink.out" 2>&1 &
	pids+=($!)
	need "an IPv6 sink" grep -q ready "$tmp/tcsink.out"
	timeout 20 tcpdump -i lo -nn -v -l -c 3 'ip6 and dst port 7630' >"$tmp/tc.cap" 2>"$tmp/tc.err" &
	cap=$!
	need "tcpdump listening" grep -q 'listening on' "$tmp/tc.err"
	got=$("$bin" run --policy "$tmp/tc.policy" -- "$probe" tclass ::1 7630 32 2>&1)
	wait "$cap"
	classes=$(grep -o 'class 0x[0-9a-f]*' "$tmp/tc.cap" | sort | uniq -c | awk '{ print $1, $3 }')
	grep -q '^proto=262 tclass=32 echo=ok' <<<"$got" && [ "$classes" = "3 0x20" ] &&
		ok "IPV6_TCLASS 32 set before connect: the MPTCP socket reads it back and the subflow's packets carry class 0x20 (SYN included)" ||
		not_ok "IPV6_TCLASS reaches the subflow's packets" "$got" "classes: $classes" "$(cat "$tmp/tc.cap")"
else
	skip "IPV6_TCLASS on the subflow's packets" "the bridge does not carry it here, or no tcpdump"
fi

# docs/bridge.md's table of options per kernel is what this kernel's probe says.
got=$("$top/selftests/sockopt_table.sh" --check "$top/docs/bridge.md" 2>&1)
case $? in
0) ok "docs/bridge.md's socket-option table is what Linux $(uname -r) refuses and the bridge carries" ;;
2) skip "docs/bridge.md's socket-option table for this kernel" "$got" ;;
*) not_ok "docs/bridge.md's socket-option table is what this kernel refuses and the bridge carries" "$got" ;;
esac

# ---- Debian's HAProxy 2.6 in master-worker mode ----------------------------------

if command -v haproxy >/dev/null; then
	printf 'bind mptcp4@127.0.0.1:7530\nserver listed mptcp4@127.0.0.1:7630\n' >"$tmp/hap.policy"
	printf '%s\n' global '	maxconn 64' defaults '	mode tcp' '	timeout connect 5s' \
		'	timeout client 10s' '	timeout server 10s' \
		'frontend listed' '	bind 127.0.0.1:7530' '	default_backend listed' \
		'frontend unlisted' '	bind 127.0.0.1:7531' '	default_backend unlisted' \
		'backend listed' '	server s1 127.0.0.1:7630' \
		'backend unlisted' '	server s2 127.0.0.1:7631' >"$tmp/haproxy.cfg"
	"$sock" serve 127.0.0.1 7630 1 mptcp >"$tmp/b1.out" 2>&1 &
	pids+=($!)
	"$sock" serve 127.0.0.1 7631 1 mptcp >"$tmp/b2.out" 2>&1 &
	pids+=($!)
	need "HAProxy's listed backend ready" grep -q ready "$tmp/b1.out"
	need "HAProxy's unlisted backend ready" grep -q ready "$tmp/b2.out"
	"$bin" run --policy "$tmp/hap.policy" -- haproxy -W -db -f "$tmp/haproxy.cfg" \
		>"$tmp/haproxy.log" 2>&1 &
	haproxy=$!
	pids+=($haproxy)
	listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
	need "HAProxy listening on 7530" listening 7530
	need "HAProxy listening on 7531" listening 7531
	got=$("$sock" connect 127.0.0.1 7530 mptcp)
	got2=$("$sock" connect 127.0.0.1 7531 mptcp)
	need "HAProxy's listed backend served" grep -q accepted "$tmp/b1.out"
	need "HAProxy's unlisted backend served" grep -q accepted "$tmp/b2.out"
	grep -q 'echo=ok mptcp=yes' <<<"$got" && grep -q 'echo=ok mptcp=fallback' <<<"$got2" &&
		ok "HAProxy -W under run: its listed frontend speaks MPTCP, the other plain TCP" ||
		not_ok "HAProxy -W under run: listed frontend MPTCP, the other TCP" "$got" "$got2" \
			"$(cat "$tmp/haproxy.log")"
	grep -q 'accepted proto=262 .*mptcp=yes' "$tmp/b1.out" &&
		grep -q 'accepted proto=6 ' "$tmp/b2.out" &&
		ok "its worker reaches the listed server over MPTCP, the other as plain TCP" ||
		not_ok "its worker reaches the listed server over MPTCP, the other as TCP" \
			"$(cat "$tmp/b1.out" "$tmp/b2.out")"
	[ "$(ps -o pid= --ppid "$haproxy" | wc -l)" -ge 1 ] &&
		! ps -o args= --ppid "$haproxy" | grep -q "mptcp-upgrade" &&
		ok "the master keeps run's PID, and the supervisor is not its child" ||
		not_ok "the master keeps run's PID, and the supervisor is not its child" \
			"$(ps -o pid,args --ppid "$haproxy")"
	kill "$haproxy"
	wait "$haproxy" 2>/dev/null
	need "HAProxy's supervisor gone" no_supervisor "$tmp/hap.policy"
	# README.md's first command (make demo) shows this engine on such a kernel.
	got=$(timeout 60 "$top/selftests/demo-run.sh" 2>&1)
	rc=$?
	demo_prog=$(sed -n 's/^no supervisor left for program \([0-9]*\)$/\1/p' <<<"$got")
	demo_cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	# The watcher removes the run cgroup after the supervisor has gone: waited for.
	demo_dir=$demo_cg$(sed -n 's/^0:://p' /proc/self/cgroup)/mptcp-upgrade-run.$demo_prog
	[ -z "$demo_cg" ] || [ -z "$demo_prog" ] || wait_for bash -c "[ ! -d '$demo_dir' ]"
	[ "$rc" = 0 ] && [ -n "$demo_prog" ] &&
		grep -q '^port 8443 (listed):   connect=ok proto=262 echo=ok mptcp=yes' <<<"$got" &&
		grep -q '^port 8080 (unlisted): connect=ok proto=262 echo=ok mptcp=fallback' <<<"$got" &&
		grep -q "^run supervisor [0-9]* (program $demo_prog)" <<<"$got" &&
		grep -Eq '^  3 +bind +127\.0\.0\.1/32 +8443 +1 +0 +1 +0 +1 ' <<<"$got" &&
		grep -q '^127.0.0.1:8443 -> .* MPTCP .*line 3 mptcp4@127.0.0.1:8443$' <<<"$got" &&
		grep -q '^1 MPTCP connection in 1 network namespace$' <<<"$got" &&
		{ [ -z "$demo_cg" ] || [ ! -d "$demo_dir" ]; } &&
		ok "make demo's run part: HAProxy's listed frontend MPTCP, the other TCP, status and stats say so, cleaned up" ||
		not_ok "make demo's run part runs through" "exit $rc" \
			"run cgroup $demo_dir: $([ -d "$demo_dir" ] && echo "still there, procs: $(cat "$demo_dir/cgroup.procs" 2>&1 | tr '\n' ' ')" || echo gone)" \
			"$got"
else
	skip "HAProxy under run" "haproxy is not installed"
	skip "make demo's run part" "haproxy is not installed"
fi

# ---- Debian's nginx: a master and workers, listed and unlisted listen/upstream ----

if command -v nginx >/dev/null; then
	printf 'bind mptcp4@127.0.0.1:7550\nserver up mptcp4@127.0.0.1:7650\n' >"$tmp/ngx.policy"
	nginx_proxy "$tmp/ngx"
	"$bin" run --policy "$tmp/ngx.policy" -- nginx -p "$tmp/ngx" -e "$tmp/ngx/error.log" \
		-c "$tmp/ngx/nginx.conf" >"$tmp/ngx/out" 2>&1 &
	nginx_pid=$!
	pids+=($nginx_pid)
	listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
	need "nginx listening on 7550" listening 7550
	need "nginx listening on 7551" listening 7551
	workers() { [ "$(ps -o pid= --ppid "$nginx_pid" | wc -l)" -ge 2 ]; }
	need "nginx's two workers" workers
	got=$("$sock" storm 127.0.0.1 7550 1 0 2>&1)
	got2=$("$sock" storm 127.0.0.1 7551 1 0 2>&1)
	need "nginx's listed upstream served" grep -q accepted "$tmp/ngx/up0.out"
	need "nginx's unlisted upstream served" grep -q accepted "$tmp/ngx/up1.out"
	grep -q 'mptcp=1 fallback=0 failed=0' <<<"$got" &&
		grep -q 'mptcp=0 fallback=1 failed=0' <<<"$got2" &&
		ok "nginx under run: its listed listen speaks MPTCP, the other plain TCP" ||
		not_ok "nginx under run: listed listen MPTCP, the other TCP" "$got" "$got2" \
			"$(cat "$tmp/ngx/error.log")"
	# proxy_bind sets IP_BIND_ADDRESS_NO_PORT, which MPTCP refuses before 6.3 or so:
	# there the listed upstream must stay TCP, and say why.
	if grep -q 'MPTCP refuses IP_BIND_ADDRESS_NO_PORT' "$tmp/ngx/out"; then
		grep -q 'accepted proto=6 ' "$tmp/ngx/up0.out" && grep -q 'accepted proto=6 ' "$tmp/ngx/up1.out" &&
			ok "its workers' listed upstream stays TCP: this kernel's MPTCP refuses proxy_bind's IP_BIND_ADDRESS_NO_PORT (logged)" ||
			not_ok "a refused IP_BIND_ADDRESS_NO_PORT keeps the upstream TCP" \
				"$(cat "$tmp/ngx/up0.out" "$tmp/ngx/up1.out" "$tmp/ngx/out")"
	else
		grep -q 'accepted proto=262 .*mptcp=yes' "$tmp/ngx/up0.out" &&
			grep -q 'accepted proto=6 ' "$tmp/ngx/up1.out" &&
			ok "its workers reach the listed upstream over MPTCP (with proxy_bind), the other as TCP" ||
			not_ok "its workers reach the listed upstream over MPTCP, the other as TCP" \
				"$(cat "$tmp/ngx/up0.out" "$tmp/ngx/up1.out" "$tmp/ngx/error.log" "$tmp/ngx/out")"
	fi
	[ "$(cat "$tmp/ngx/nginx.pid" 2>/dev/null)" = "$nginx_pid" ] &&
		ok "nginx's master keeps run's PID (its PID file says so)" ||
		not_ok "nginx's master keeps run's PID" "$(cat "$tmp/ngx/nginx.pid")" "$nginx_pid"
	kill -QUIT "$nginx_pid"
	wait "$nginx_pid" 2>/dev/null
	need "nginx's supervisor gone" no_supervisor "$tmp/ngx.policy"
else
	skip "nginx under run" "nginx is not installed"
fi

# ---- the program's PID, exit status and end ------------------------------------

if host_case "the program's PID and exit status, and no supervisor outlives it"; then
	"$bin" run --policy "$pol" -- sh -c 'echo $$; exit 7' >"$tmp/pid.out" 2>/dev/null &
	runpid=$!
	wait "$runpid"
	rc=$?
	[ "$(head -n 1 "$tmp/pid.out")" = "$runpid" ] && ok "the program keeps run's PID" ||
		not_ok "the program keeps run's PID" "run $runpid, program $(cat "$tmp/pid.out")"
	[ "$rc" = 7 ] && ok "run exits with the program's status (7)" ||
		not_ok "run exits with the program's status" "$rc"
	( "$bin" run --policy "$pol" -- sh -c 'kill -TERM $$' ) >/dev/null 2>&1
	rc=$?
	[ "$rc" = 143 ] && ok "a program killed by SIGTERM looks killed by SIGTERM (143)" ||
		not_ok "a program killed by SIGTERM looks killed by SIGTERM" "$rc"
	need "supervisors gone with their programs" no_supervisor "$pol"
	no_supervisor "$pol" && ok "no supervisor outlives its program" ||
		not_ok "no supervisor outlives its program" "$(pgrep -af "mptcp-upgrade run")"
fi

# ---- faults: a reload in a connect storm, 10,000 connects and the supervisor's size ----

# Two policies listing the storm's address at different entries; 7611 listed by neither.
printf 'server a mptcp4@127.0.0.1:7610\n' >"$tmp/storm-a.policy"
printf 'bind mptcp4@127.0.0.1:7999\nserver b mptcp4@127.0.0.1:7998\nserver a mptcp4@127.0.0.1:7610\n' \
	>"$tmp/storm-b.policy"
cp "$tmp/storm-a.policy" "$tmp/storm.policy"
"$sock" sink 127.0.0.1 7610 300 >"$tmp/ss1.out" 2>&1 &
pids+=($!)
"$sock" sink 127.0.0.1 7611 300 >"$tmp/ss2.out" 2>&1 &
pids+=($!)
need "the storm's sinks ready" grep -q ready "$tmp/ss1.out"
need "the storm's sinks ready" grep -q ready "$tmp/ss2.out"
# storm_case LABEL: reloads during a connect storm, with the wake-up the
# environment asks for (MU_RUN_SYNC_WAKEUP).
storm_case() {
	local label=$1 storm_n=${MU_STORM:-4000} storm storm_sup reloads src done_reloads

	"$bin" run --policy "$tmp/storm.policy" -- sh -c \
		"'$probe' storm 127.0.0.1 7610 $storm_n & '$probe' storm 127.0.0.1 7611 $storm_n & wait" \
		>"$tmp/storm.out" 2>&1 &
	storm=$!
	# The reloads go to the supervisor's PID, read from the registry. Never by
	# command line: until its exec() the program's process still reads
	# "mptcp-upgrade run ...", and a SIGHUP that lands just after the exec() ends
	# the shell (the cause of a failed CI run).
	need "the storm's supervisor registered" one_supervisor "$tmp/storm.policy"
	storm_sup=$(supervisor_of "$tmp/storm.policy")
	# Reload (alternating the two files, each swapped in by rename) until the storm ends.
	reloads=0
	while kill -0 "$storm" 2>/dev/null && [ "$reloads" -lt 2000 ]; do
		if [ $((reloads % 2)) = 0 ]; then src=$tmp/storm-b.policy; else src=$tmp/storm-a.policy; fi
		cp "$src" "$tmp/storm.new" && mv "$tmp/storm.new" "$tmp/storm.policy"
		kill -HUP "$storm_sup" && reloads=$((reloads + 1))
		sleep 0.01
	done
	wait "$storm"
	done_reloads=$(grep -c 'reloaded .*storm.policy' "$tmp/storm.out")
	grep -q "storm n=$storm_n mptcp=$storm_n tcp=0 failed=0" "$tmp/storm.out" &&
		grep -q "storm n=$storm_n mptcp=0 tcp=$storm_n failed=0" "$tmp/storm.out" &&
		[ "$done_reloads" -ge 3 ] &&
		ok "$done_reloads reloads during 2 x $storm_n connects$label: none failed, listed all MPTCP, unlisted all TCP" ||
		not_ok "reloads during a connect storm$label: none failed or misclassified" \
			"reloads $done_reloads" "$(grep -v reloaded "$tmp/storm.out")"
}
if host_case "reloads during a storm of 2 x 4000 connects"; then
	storm_case ""
	# The supervisor's other path, the one kernels before 6.6 take: the guests
	# run only what depends on the kernel, so the host runs the storm on it too.
	[ "$want_sync" = true ] &&
		MU_RUN_SYNC_WAKEUP=0 storm_case " (without the synchronous wake-up)"
fi

# Calls from a thread that is not the leader (HAProxy's threads, thread pools).
got=$("$bin" run --policy "$tmp/storm-a.policy" -- "$probe" storm-thread 127.0.0.1 7610 50 2>&1)
grep -q 'storm n=50 mptcp=50 tcp=0 failed=0' <<<"$got" &&
	ok "connects from a second thread are made MPTCP too (50 of 50)" ||
	not_ok "connects from a second thread are made MPTCP too" "$got"

if host_case "10,000 listed connects leave the supervisor's fds and memory as they were"; then
	# The supervisor's descriptors and memory after 1,000 and after 10,000 listed connects.
	printf 'mptcp4@127.0.0.1:7620\n' >"$tmp/leak.policy"
	mkfifo "$tmp/leak1" "$tmp/leak2"
	: >"$tmp/leak.out"
	bench=$top/.output/selftests/bench_sock
	"$bin" run --policy "$tmp/leak.policy" -- sh -c \
		"'$bench' connect 1000 7620 >'$tmp/leak.out' 2>&1; echo phase1 >>'$tmp/leak.out';
		 read x <'$tmp/leak1'; '$bench' connect 9000 7620 >>'$tmp/leak.out' 2>&1;
		 echo phase2 >>'$tmp/leak.out'; read y <'$tmp/leak2'" >"$tmp/leak.log" 2>&1 &
	leaker=$!
	pids+=($leaker)
	need "1,000 listed connects done" grep -q phase1 "$tmp/leak.out"
	sup=$(supervisor_of "$tmp/leak.policy")
	fds1=$(ls "/proc/$sup/fd" | wc -l)
	rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$sup/status")
	echo go >"$tmp/leak1"
	need "10,000 listed connects done" grep -q phase2 "$tmp/leak.out"
	fds2=$(ls "/proc/$sup/fd" | wc -l)
	rss2=$(awk '/^VmRSS/ { print $2 }' "/proc/$sup/status")
	made=$("$bin" status --json | jq --arg p "$tmp/leak.policy" \
		'.runs[] | select(.policy == $p) | .counters.made_mptcp')
	echo go >"$tmp/leak2"
	wait "$leaker"
	[ "$fds1" = "$fds2" ] && [ $((rss2 - rss1)) -le 128 ] && [ "${made:-0}" -ge 10000 ] &&
		grep -c 'client=262 server=262' "$tmp/leak.out" | grep -qx 2 &&
		ok "10,000 listed connects: the supervisor's fds stay $fds2, its RSS ${rss1} -> ${rss2} KiB" ||
		not_ok "10,000 listed connects leave the supervisor's fds and memory as they were" \
			"fds $fds1 -> $fds2, RSS $rss1 -> $rss2 KiB, made MPTCP ${made:-?}" \
			"$(cat "$tmp/leak.out")"
fi

# ---- reload and the supervisor's death ---------------------------------------------

if host_case "reload: status lists the supervisor, SIGHUP applies a line added"; then
	cp "$pol" "$tmp/reload.policy"
	mkfifo "$tmp/go"
	"$bin" run --policy "$tmp/reload.policy" -- sh -c \
		"read x <'$tmp/go'; exec '$probe' listen 127.0.0.1 7520" >"$tmp/r.out" 2>&1 &
	pids+=($!)
	need "the reload test's supervisor" one_supervisor "$tmp/reload.policy"
	got=$("$bin" status --json | jq -r --arg p "$tmp/reload.policy" \
		'[.runs[] | select(.policy == $p)] | length')
	[ "$got" = 1 ] && "$bin" status | grep -q "^  policy     $tmp/reload.policy" &&
		ok "status lists the running supervisor and its policy" ||
		not_ok "status lists the running supervisor and its policy" "$("$bin" status)"
	printf 'bind mptcp4@127.0.0.1:7520\n' >>"$tmp/reload.policy"
	run reload
	expect "mptcp-upgrade reload reaches the supervisor" 0
	grep -q '^reloaded run\[[0-9]*\] (program [0-9]*): policy '"$tmp/reload.policy" <<<"$out" ||
		not_ok "reload names the supervisor it reloaded" "$out"
	need "the supervisor reloaded" grep -q 'reloaded' "$tmp/r.out"
	echo go >"$tmp/go"
	need "the reloaded listener ready" grep -q ready "$tmp/r.out"
	grep -q 'ready proto=262' "$tmp/r.out" &&
		ok "SIGHUP reloads the policy: a line added applies to the next bind()" ||
		not_ok "SIGHUP reloads the policy" "$(cat "$tmp/r.out")"
	"$sock" connect 127.0.0.1 7520 mptcp >/dev/null
	need "the reload test's program and supervisor gone" no_supervisor "$tmp/reload.policy"
fi

{ cat "$pol"; echo "bind mptcp4@127.0.0.1:7520"; } >"$tmp/k.policy"
# The program waits for a file, not on a shell redirection: with the supervisor
# gone, dup() fails with ENOSYS too.
"$bin" run --policy "$tmp/k.policy" --on-supervisor-death keep -- \
	"$probe" late connect 127.0.0.1 7600 "$tmp/go2" >"$tmp/k.out" 2>&1 &
kpid=$!
need "the last test's supervisor" one_supervisor "$tmp/k.policy"
run reload --pid "$kpid"
grep -q "^reloaded run\[[0-9]*\] (program $kpid)" <<<"$out" &&
	ok "reload --pid reaches the supervisor of that program" ||
	not_ok "reload --pid reaches the supervisor of that program" "$out" "$err"
run reload --pid "$holder"
expect "reload --pid of a process no supervisor serves: exit 1" 1 "no run supervisor serves"
printf 'bind mptcp@:80x\n' >>"$tmp/k.policy"
run reload --pid "$kpid"
expect "mptcp-upgrade reload refuses a supervisor's bad file, saying where" 1 "k.policy:5:"
k_loaded() { "$bin" status --json | jq -r --arg p "$tmp/k.policy" '.runs[] | select(.policy == $p) | .loaded_at'; }
loaded_before=$(k_loaded)
# loaded_at counts seconds: let one pass, so that a rewrite would show.
for i in $(seq 30); do [ "$(date +%s)" -gt "$loaded_before" ] && break; sleep 0.05; done
kill -HUP "$(supervisor_of "$tmp/k.policy")"
need "the supervisor refused the bad file" grep -q 'policy in force stays' "$tmp/k.out"
grep -q 'k.policy:5:' "$tmp/k.out" &&
	ok "a reload with a bad file says where, and the policy in force stays" ||
	not_ok "a reload with a bad file says where" "$(cat "$tmp/k.out")"
need "the failed reload registered" sh -c "'$bin' status --json | jq -e --arg p '$tmp/k.policy' '.runs[] | select(.policy == \$p) | .last_reload_error != null' >/dev/null"
[ "$(k_loaded)" = "$loaded_before" ] &&
	ok "a failed reload leaves the time the policy in force was loaded ($loaded_before)" ||
	not_ok "a failed reload leaves loaded_at" "before $loaded_before, after $(k_loaded)"
ksup=$(supervisor_of "$tmp/k.policy")
kill -KILL "$ksup"
need "the watcher's report" grep -q "the supervisor $ksup of program $kpid was killed by signal 9" \
	"$tmp/k.out"
touch "$tmp/go2"
wait "$kpid"
grep -q 'connect failed errno=38' "$tmp/k.out" && grep -q 'now fail with ENOSYS; restart it' "$tmp/k.out" &&
	ok "supervisor killed (keep): the watcher logs it, the program's bind() fails with ENOSYS" ||
	not_ok "with its supervisor killed, the program's bind() fails with ENOSYS, logged" \
		"$(cat "$tmp/k.out")"
[ "$(supervisor_of "$tmp/k.policy" | wc -w)" = 0 ] &&
	ok "the killed supervisor is gone from status" ||
	not_ok "the killed supervisor is gone from status" "$("$bin" status)"

# By default the watcher stops the program, so that its service manager restarts it.
"$bin" run --policy "$pol" -- python3 -c "$term42" \
	>"$tmp/d.out" 2>&1 &
dpid=$!
need "the default test's supervisor" one_supervisor "$pol"
# Registered before the program runs: killed in between, run says it did not start.
need "the default test's program" grep -q ready "$tmp/d.out"
dsup=$(supervisor_of "$pol")
kill -KILL "$dsup"
wait "$dpid"
rc=$?
[ "$rc" = 42 ] && grep -q "supervisor $dsup of program $dpid was killed by signal 9.*stopping it (SIGTERM)" \
	"$tmp/d.out" &&
	ok "supervisor killed (default): logged, and the program gets SIGTERM (exit 42 here)" ||
	not_ok "supervisor killed: logged, and the program gets SIGTERM" "rc $rc" "$(cat "$tmp/d.out")"
need "the watcher gone too" no_supervisor "$pol"
run run --policy "$pol" --on-supervisor-death later -- true
expect "run --on-supervisor-death takes stop or keep" 2 "takes stop or keep"

tap_end
