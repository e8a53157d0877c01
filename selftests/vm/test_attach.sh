#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The attach engine end to end, in a kernel that runs it (the QEMU guest of
# run-vm; see test_vm.sh). Asserts what the kernel reports: SO_PROTOCOL of new
# sockets, MPTCP_INFO of connections through an unmodified HAProxy 2.6, the
# engine's counters, its pins, and what is left after commands killed midway.
# Prints TAP.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
probe=$top/.output/selftests/run_probe
tmp=$(mktemp -d /tmp/mu-test.XXXXXX)
cgroot=/sys/fs/cgroup/mu-test
pids=()

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$bin" detach --all >/dev/null 2>&1
	for cg in "$cgroot/att/child" "$cgroot/att" "$cgroot/sib" "$cgroot/third" "$cgroot"; do
		rmdir "$cg" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/vm/guest-lib.sh
. "$top/selftests/vm/guest-lib.sh"

mkdir -p "$cgroot/att/child" "$cgroot/sib"

proto_in() { in_cg "$1" "$sock" proto "$2"; }
# counter NAME [ID]: one counter of the first attachment, from status --json.
counter() { "$bin" status --json | jq -r ".attachments[0].counters.$1"; }
line_counter() { "$bin" status --json | jq -r ".attachments[0].entries[$1].$2"; }
no_pins() { [ ! -e /sys/fs/bpf/mptcp-upgrade ] && ! ls /sys/fs/bpf | grep -q staging &&
	    ! ls "$mu_state" 2>/dev/null | grep -q attach-; }

printf 'bind mptcp4@127.0.0.1:8443-8444   # the listed frontends\n' >"$tmp/p1.policy"

# ---- attach ---------------------------------------------------------------------

# Two TCP listeners the cgroup holds before attach (one on the listed address):
# they escape the upgrade, and attach and status must say so (issue 12).
# sock_diag lists them: the guest's kernel loads no module by itself.
[ -n "${MU_VM_KDIR:-}" ] && modprobe -d "$MU_VM_KDIR" -a tcp_diag mptcp_diag 2>/dev/null
# Started without a function between, so that $! is the listener itself.
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroot/att" \
	"$sock" sink 127.0.0.1 8443 60 tcp >"$tmp/early1.out" 2>&1 &
early1=$!
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroot/att" \
	"$sock" sink 127.0.0.1 8449 60 tcp >"$tmp/early2.out" 2>&1 &
early2=$!
pids+=($early1 $early2)
need "the early listeners ready" grep -q ready "$tmp/early1.out"
need "the early listeners ready" grep -q ready "$tmp/early2.out"

run attach --cgroup /mu-test/att --policy "$tmp/p1.policy"
expect "attach exits 0" 0
grep -q '^attached /mu-test/att: policy .*/p1.policy, 1 entry (ipv4)$' <<<"$out" &&
	ok "attach says what it attached" || not_ok "attach says what it attached" "$out"
grep -q '^note: /mu-test/att already holds 2 TCP listeners, the policy lists 127.0.0.1:8443 (line 1): sockets created before attach stay TCP; restart the proxy' <<<"$err" &&
	ok "attach warns about the TCP listeners the cgroup already holds, naming the listed one" ||
	not_ok "attach warns about TCP listeners created before it" "$err"
got=$("$bin" status --json | jq -c '[.attachments[0].tcp_listeners[] | [.address, .line]] | sort')
[ "$got" = '[["127.0.0.1:8443",1],["127.0.0.1:8449",0]]' ] &&
	"$bin" status | grep -q '^  NOT UPGRADED TCP listeners .*127.0.0.1:8443 (line 1 would make it MPTCP).*: restart the proxy$' &&
	ok "status lists the listeners that escaped, with the line that would have matched" ||
	not_ok "status lists the listeners that escaped" "$got" "$("$bin" status)"
# Sockets made through io_uring escape socket()'s hook: they stay TCP, and
# their bind() and connect() are counted as escaped, bind on the line it matches.
got=$(in_cg att "$probe" uring bind 127.0.0.1 8444; in_cg att "$probe" uring connect 127.0.0.1 8443)
if grep -q 'uring unavailable' <<<"$got"; then
	skip "an io_uring socket's bind and connect are counted as escaped" "$got"
else
	esc=$("$bin" status --json | jq -c '.attachments[0] | [.counters.binds_escaped,
		.counters.connects_escaped, .entries[0].escaped, .counters.binds_listed]')
	grep -q 'uring proto=6 bound' <<<"$got" && grep -q 'uring proto=6 connected' <<<"$got" &&
		[ "$esc" = '[1,1,1,0]' ] &&
		"$bin" status | grep -q '^  ESCAPED    bind() 1, connect() 1 of plain TCP sockets' &&
		ok "io_uring sockets stay TCP; their bind and connect are counted as escaped, bind on line 1" ||
		not_ok "io_uring sockets are counted as escaped" "$esc" "$got" "$("$bin" status)"
fi
kill "$early1" "$early2"
wait "$early1" "$early2" 2>/dev/null
got=$("$bin" status --json | jq -c '.attachments[0].tcp_listeners')
[ "$got" = '[]' ] && ok "restarted (here: gone), nothing is listed as escaped" ||
	not_ok "no escaped listener once they are gone" "$got"
check "the upgrade outlives the attach command (pins)" \
	test -e "$mu_pins/link_upgrade_socket" -a -e "$mu_pins/cg-0/bind4"

got=$(proto_in att 4)
[ "$got" = proto=262 ] && ok "SOCK_NONBLOCK|SOCK_CLOEXEC socket in the attached cgroup is MPTCP" ||
	not_ok "SOCK_NONBLOCK|SOCK_CLOEXEC socket in the attached cgroup is MPTCP" "$got"
got=$(proto_in att/child 4)
[ "$got" = proto=262 ] && ok "a child cgroup's socket is MPTCP" ||
	not_ok "a child cgroup's socket is MPTCP" "$got"
got=$(proto_in sib 4)
[ "$got" = proto=6 ] && ok "a sibling cgroup's socket stays TCP" ||
	not_ok "a sibling cgroup's socket stays TCP" "$got"
got=$(proto_in att 6)
[ "$got" = proto=6 ] && ok "an IPv6 socket stays TCP when the policy is IPv4 only" ||
	not_ok "an IPv6 socket stays TCP when the policy is IPv4 only" "$got"

up=$(counter sockets_upgraded) native=$(counter sockets_native_mptcp)
got=$(in_cg att "$sock" native 4)
[ "$got" = proto=262 ] && [ "$(counter sockets_native_mptcp)" = $((native + 1)) ] &&
	[ "$(counter sockets_upgraded)" = "$up" ] &&
	ok "an application's own IPPROTO_MPTCP socket is not counted as ours" ||
	not_ok "an application's own IPPROTO_MPTCP socket is not counted as ours" \
		"$got; upgraded $up -> $(counter sockets_upgraded)"

run attach --cgroup /mu-test/att --policy "$tmp/p1.policy"
expect "attaching the same cgroup twice points to reload" 1 \
	"^Error: cgroup /mu-test/att is already attached \\(use 'mptcp-upgrade reload'"
run attach --cgroup /mu-test/att/child --policy "$tmp/p1.policy"
expect "attaching a cgroup inside an attached one is refused" 1 "nested with attached cgroup"
run attach --cgroup /mu-test/nonexistent --policy "$tmp/p1.policy"
expect "attaching a missing cgroup fails" 1 "^Error: can't find cgroup /mu-test/nonexistent"
printf 'bind :80\n' >"$tmp/bad.policy"
run attach --cgroup /mu-test/sib --policy "$tmp/bad.policy"
expect "attach with a bad policy fails with its location" 1 "bad.policy:1:6: address ':80'"
[ "$("$bin" status --json | jq '.attachments | length')" = 1 ] &&
	ok "failed attaches changed nothing" || not_ok "failed attaches changed nothing"

# ---- an unmodified HAProxy 2.6 --------------------------------------------------

cat >"$tmp/haproxy.cfg" <<EOF
global
	maxconn 64
defaults
	mode tcp
	timeout connect 5s
	timeout client 10s
	timeout server 10s
frontend listed
	bind 127.0.0.1:8443 mss 1400 tcp-ut 5s
	default_backend echo
frontend unlisted
	bind 127.0.0.1:8080 mss 1400 tcp-ut 5s
	default_backend echo
backend echo
	server echo1 127.0.0.1:9000 tcp-ut 5s
# Connections held open for the socket-option bridge's tests.
frontend keep_listed
	bind 127.0.0.1:8444 mss 1400 tcp-ut 5s
	default_backend keep
frontend keep_unlisted
	bind 127.0.0.1:8081 mss 1400 tcp-ut 5s
	default_backend keep
backend keep
	option srvtcpka
	srvtcpka-idle 40s
	server keep1 127.0.0.1:9001 tcp-ut 5s
EOF
"$sock" sink 127.0.0.1 9001 120 >"$tmp/keep.out" 2>&1 &
pids+=($!)
"$sock" serve 127.0.0.1 9000 50 >"$tmp/backend.out" 2>&1 &
pids+=($!)
in_cg att haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
haproxy=$!
pids+=($haproxy)
if wait_for listening 9000 && wait_for listening 8443 && wait_for listening 8080 &&
	wait_for listening 8444 && wait_for listening 8081 && wait_for listening 9001; then
	ok "HAProxy 2.6 starts in the attached cgroup"
else
	not_ok "HAProxy 2.6 starts in the attached cgroup" "$(cat "$tmp/haproxy.log")"
fi

got=$("$sock" connect 127.0.0.1 8443 mptcp)
grep -q 'connect=ok proto=262 echo=ok mptcp=yes' <<<"$got" &&
	ok "an MPTCP client gets MPTCP from HAProxy's listed frontend (no fallback)" ||
	not_ok "an MPTCP client gets MPTCP from HAProxy's listed frontend (no fallback)" "$got" \
		"backend: $(cat "$tmp/backend.out")" "haproxy: $(cat "$tmp/haproxy.log")"
got=$("$sock" connect 127.0.0.1 8080)
grep -q 'connect=ok proto=6 echo=ok' <<<"$got" && ok "a TCP client works through the other frontend" ||
	not_ok "a TCP client works through the other frontend" "$got"
[ "$(line_counter 0 binds)" -ge 1 ] && ok "the listed frontend's bind is counted on policy line 1" ||
	not_ok "the listed frontend's bind is counted on policy line 1" "$("$bin" status)"
[ "$(counter binds_unlisted)" -ge 1 ] && ok "the other frontend's bind counts as unlisted" ||
	not_ok "the other frontend's bind counts as unlisted" "$("$bin" status)"
[ "$(counter connects_unlisted)" -ge 2 ] &&
	ok "HAProxy's backend connections count as unlisted connects" ||
	not_ok "HAProxy's backend connections count as unlisted connects" "$("$bin" status)"

# The socket-option bridge (issue 13): `mss` and `tcp-ut` on the frontends and
# the server failed on MPTCP sockets of this kernel, listed or not (HAProxy
# warned, or not at all for the server). Now: no warning, and the subflows show
# the effect.
opts=$("$bin" check --json | jq -r '.sockopts.carried | join(" ")')
if grep -q TCP_USER_TIMEOUT <<<"$opts"; then
	! grep -qi 'cannot set' "$tmp/haproxy.log" &&
		ok "HAProxy 2.6 sets mss and tcp-ut on its listed and unlisted frontends without a warning" ||
		not_ok "HAProxy sets mss and tcp-ut without a warning" "$(cat "$tmp/haproxy.log")"
	# A connection held open on each frontend: the accepted subflow (listed) and
	# the accepted TCP socket (unlisted, MP_CAPABLE removed) advertise HAProxy's MSS.
	"$sock" hold 127.0.0.1 8444 1 20 4 >"$tmp/hold1.out" 2>&1 &
	h1=$!
	"$sock" hold 127.0.0.1 8081 1 20 4 >"$tmp/hold2.out" 2>&1 &
	h2=$!
	pids+=($h1 $h2)
	need "connections held on both frontends" grep -q '^held 1$' "$tmp/hold1.out"
	need "connections held on both frontends" grep -q '^held 1$' "$tmp/hold2.out"
	adv1=$(ss -Htni state established sport = :8444 | grep -o 'advmss:[0-9]*' | sort -u)
	adv2=$(ss -Htni state established sport = :8081 | grep -o 'advmss:[0-9]*' | sort -u)
	# 1400, less the 12 bytes of the timestamp option when it is on (loopback's own: 65483).
	if [ -n "$adv1" ] && [ "$adv1" = "$adv2" ] && [ "${adv1#advmss:}" -le 1400 ] &&
		[ "${adv1#advmss:}" -ge 1388 ]; then
		ok "HAProxy's mss 1400 is what the subflows advertise ($adv1), listed and unlisted frontend"
	else
		not_ok "HAProxy's mss 1400 reaches the subflows" "listed: $adv1" "unlisted: $adv2" \
			"$(cat "$tmp/hold1.out" "$tmp/hold2.out")" "$(ss -tni)"
	fi
	# The backend connections: keepalive armed by srvtcpka (the timer in ss -o).
	ka=$(ss -Htnio state established dst 127.0.0.1:9001 | grep -c 'timer:(keepalive')
	[ "$ka" -ge 1 ] && ok "srvtcpka: the backend subflows have a keepalive timer" ||
		not_ok "srvtcpka: the backend subflows have a keepalive timer" "$(ss -tnio)"
	kill "$h1" "$h2" 2>/dev/null
	got=$("$bin" status --json | jq -c '.attachments[0].sockopt_bridge.options')
	# TCP_QUICKACK (HAProxy's, unchecked) is refused and nothing can carry it: counted.
	jq -e '(.TCP_USER_TIMEOUT.carried >= 6) and ([.[] | .subflow_refused] | add) == 0' \
		<<<"$got" >/dev/null &&
		ok "status counts TCP_USER_TIMEOUT carried for the four frontends and the servers, no subflow refused it" ||
		not_ok "status counts what the bridge carried" "$got" "$("$bin" status)"
	"$bin" status | grep -q '^  options    the bridge carries .*TCP_USER_TIMEOUT.*; carried .*TCP_USER_TIMEOUT [0-9]' &&
		ok "status prints what the bridge carries and carried" ||
		not_ok "status prints what the bridge carried" "$("$bin" status)"
	# An upgraded socket of an unlisted connect takes the option and reads it back;
	# the application's own MPTCP socket is left to the kernel unless opted in.
	got=$(in_cg att "$probe" connect 127.0.0.1 9001 0 uto)
	grep -q 'proto=262 .*user_timeout=5000 echo=ok' <<<"$got" &&
		ok "an upgraded (unlisted) socket takes TCP_USER_TIMEOUT before connect and reads it back" ||
		not_ok "an upgraded socket takes TCP_USER_TIMEOUT and reads it back" "$got"
	in_cg att "$probe" mptcp-refuses && native=refused || native=taken
	run attach --cgroup /mu-test/sib --policy "$tmp/p1.policy" --bridge-native
	in_cg sib "$probe" mptcp-refuses && opted=refused || opted=taken
	flag=$("$bin" status --json | jq -r '.attachments[] | select(.cgroup == "/mu-test/sib") | .bridge_native')
	"$bin" detach --cgroup /mu-test/sib >/dev/null
	[ "$native" = refused ] && [ "$opted" = taken ] && [ "$flag" = true ] &&
		ok "a program's own MPTCP socket: left to the kernel, bridged with attach --bridge-native" ||
		not_ok "native MPTCP sockets: left alone, bridged when opted in" \
			"without: $native, with: $opted, status: $flag" "$out" "$err"
else
	for t in "no warning" "mss on the subflows" "srvtcpka" "status counts" "status prints" \
		"an upgraded socket reads it back" "native sockets opted in"; do
		skip "the socket-option bridge under HAProxy: $t" "this kernel takes TCP_USER_TIMEOUT on MPTCP sockets"
	done
fi

# ---- an unmodified nginx 1.22 as a reverse proxy --------------------------------
# Its own cgroup and policy: a listed and an unlisted listen, each proxying to
# an upstream (listed, with proxy_bind; and unlisted), both MPTCP servers.
if command -v nginx >/dev/null; then
	printf 'bind mptcp4@127.0.0.1:7550\nserver up mptcp4@127.0.0.1:7650\n' >"$tmp/ngx.policy"
	nginx_proxy "$tmp/ngx"
	run attach --cgroup /mu-test/sib --policy "$tmp/ngx.policy"
	expect "attach nginx's cgroup with its own policy" 0
	# Not through in_cg (a function, so a subshell): $! must be nginx's master itself.
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroot/sib" \
		nginx -p "$tmp/ngx" -e "$tmp/ngx/error.log" -c "$tmp/ngx/nginx.conf" \
		>"$tmp/ngx/out" 2>&1 &
	nginx_pid=$!
	pids+=($nginx_pid)
	need "nginx listening on 7550" listening 7550
	need "nginx listening on 7551" listening 7551
	got=$("$sock" storm 127.0.0.1 7550 1 0 2>&1)
	got2=$("$sock" storm 127.0.0.1 7551 1 0 2>&1)
	need "nginx's listed upstream served" grep -q accepted "$tmp/ngx/up0.out"
	need "nginx's unlisted upstream served" grep -q accepted "$tmp/ngx/up1.out"
	grep -q 'mptcp=1 fallback=0 failed=0' <<<"$got" &&
		grep -q 'mptcp=0 fallback=1 failed=0' <<<"$got2" &&
		ok "nginx in an attached cgroup: its listed listen speaks MPTCP, the other plain TCP on the wire" ||
		not_ok "nginx attached: listed listen MPTCP, the other TCP" "$got" "$got2" \
			"$(cat "$tmp/ngx/error.log")"
	grep -q 'accepted proto=262 .*mptcp=yes' "$tmp/ngx/up0.out" && grep -q 'accepted proto=6 ' "$tmp/ngx/up1.out" &&
		ok "its workers reach the listed upstream over MPTCP (with proxy_bind), the other as TCP" ||
		not_ok "nginx's workers: listed upstream MPTCP, the other TCP" \
			"$(cat "$tmp/ngx/up0.out" "$tmp/ngx/up1.out" "$tmp/ngx/error.log")"
	got=$("$bin" status --json | jq -c '.attachments[] | select(.cgroup == "/mu-test/sib") |
		[.entries[] | [.binds, .connects, .mptcp]]')
	[ "$got" = '[[1,0,1],[0,1,1]]' ] &&
		ok "status counts nginx's listed listen and upstream, each negotiated MPTCP" ||
		not_ok "status counts nginx's lines" "$got" "$("$bin" status)"
	kill -QUIT "$nginx_pid"
	wait "$nginx_pid" 2>/dev/null
	"$bin" detach --cgroup /mu-test/sib >/dev/null
else
	for t in "attach" "listen" "upstream" "status"; do
		skip "nginx in an attached cgroup: $t" "nginx is not installed"
	done
fi

# ---- reload -------------------------------------------------------------------

{ cat "$tmp/p1.policy"; printf 'server echo1 mptcp4@127.0.0.1:9000\nmptcp6@[::1]:7000\n'; } \
	>"$tmp/p2.policy"
run reload --policy "$tmp/p2.policy"
expect "reload with a new policy exits 0" 0
run status --json
json_ok "status shows the new policy, its sha256 and families" \
	".attachments[0] | (.entries | length) == 3 and .families == \"ipv4 ipv6\" and
	 .sha256 == \"$(sha256sum "$tmp/p2.policy" | cut -d' ' -f1)\""
got=$(proto_in att 6)
[ "$got" = proto=262 ] && ok "after reload an IPv6 socket is upgraded, nothing restarted" ||
	not_ok "after reload an IPv6 socket is upgraded, nothing restarted" "$got"
got=$("$sock" connect 127.0.0.1 8443 mptcp)
[ "$(line_counter 1 connects)" = 1 ] && grep -q 'echo=ok' <<<"$got" &&
	ok "HAProxy's next backend connection matches the reloaded server line" ||
	not_ok "HAProxy's next backend connection matches the reloaded server line" "$got" \
		"$("$bin" status)"

{ cat "$tmp/p2.policy"; printf 'server broken mptcp@10.0.0.1:+1\n'; } >"$tmp/p3.policy"
run reload --policy "$tmp/p3.policy"
expect "reload with a bad policy fails and says where" 1 "p3.policy:4:30: port offset"
run status --json
json_ok "the policy in force stays after a bad reload" \
	".attachments[0] | (.entries | length) == 3 and
	 .sha256 == \"$(sha256sum "$tmp/p2.policy" | cut -d' ' -f1)\""

# A killed command is reported by the shell that waits for it: the subshells keep that quiet.
# A reload killed before its policy swap leaves the old policy, one killed after it the new.
printf 'bind mptcp4@127.0.0.1:8443\n' >"$tmp/p4.policy"
(MPTCP_UPGRADE_CRASH_AT=reload-pending "$bin" reload --policy "$tmp/p4.policy"; exit $?) >/dev/null 2>&1
krc=$?
run status --json
[ "$krc" = 137 ] && jq -e ".attachments[0].sha256 == \"$(sha256sum "$tmp/p2.policy" |
	cut -d' ' -f1)\" and (.attachments[0].entries | length) == 3" <<<"$out" >/dev/null &&
	ok "a reload killed before the swap leaves the old policy" ||
	not_ok "a reload killed before the swap leaves the old policy" "exit $krc" "$out"
(MPTCP_UPGRADE_CRASH_AT=policy-swapped "$bin" reload --policy "$tmp/p4.policy"; exit $?) >/dev/null 2>&1
krc=$?
run status --json
[ "$krc" = 137 ] && jq -e ".attachments[0].sha256 == \"$(sha256sum "$tmp/p4.policy" |
	cut -d' ' -f1)\" and .attachments[0].families == \"ipv4\"" <<<"$out" >/dev/null &&
	[ "$(proto_in att 6)" = proto=6 ] &&
	ok "a reload killed after the swap is finished by the next command" ||
	not_ok "a reload killed after the swap is finished by the next command" "exit $krc" "$out"

# ---- detach -------------------------------------------------------------------

# HAProxy keeps running: its listeners are MPTCP sockets of a detached cgroup.
# Detach ends MPTCP on the wire at once (a rollback must), and stage 3 stays
# until they are gone so that none of them negotiates it.
run detach --cgroup mu-test/att
expect "detach by the name status shows exits 0" 0 "stage 3 stays"
got=$(proto_in att 4)
[ "$got" = proto=6 ] && ok "after detach new sockets are TCP" ||
	not_ok "after detach new sockets are TCP" "$got"
got=$("$sock" connect 127.0.0.1 8443 mptcp)
grep -q 'connect=ok proto=262 echo=ok mptcp=fallback' <<<"$got" &&
	ok "HAProxy's existing listener keeps working after detach, as plain TCP on the wire" ||
	not_ok "HAProxy's existing listener keeps working after detach, as plain TCP on the wire" \
		"$got"
run status
expect "status says the engine drains" 0
grep -q '^draining: [1-9]' <<<"$out" && ok "status counts HAProxy's draining listeners" ||
	not_ok "status counts HAProxy's draining listeners" "$out"
# HAProxy and the servers of the cgroup stop (a restart would do the same).
for p in $(cat "$cgroot/att/cgroup.procs"); do kill "$p" 2>/dev/null; done
need "the cgroup's processes gone" sh -c "! grep -q . $cgroot/att/cgroup.procs"
"$bin" status >"$tmp/drained" 2>&1
no_pins && ok "once the cgroup's processes are gone, the next command leaves no pin and no state" ||
	not_ok "once the cgroup's processes are gone, the next command leaves no pin and no state" \
		"$(cat "$tmp/drained")" "$(ss -Mtan)"
run detach
expect "detach with nothing attached succeeds and says so" 0 "nothing is attached"

# ---- commands killed midway ------------------------------------------------------

for point in engine-staged engine-pinned links-pinned state-written; do
	(MPTCP_UPGRADE_CRASH_AT=$point "$bin" attach --cgroup /mu-test/att \
		--policy "$tmp/p1.policy"; exit $?) >/dev/null 2>&1
	krc=$?
	got=$(proto_in att 4)
	run status
	if [ "$krc" = 137 ] && [ "$got" = proto=6 ] && [ "$out" = "nothing is attached" ] &&
	   no_pins; then
		ok "an attach killed at $point leaves nothing behind"
	else
		not_ok "an attach killed at $point leaves nothing behind" "exit $krc, $got" \
			"$out" "$(ls -R /sys/fs/bpf /run/mptcp-upgrade)"
	fi
done
(MPTCP_UPGRADE_CRASH_AT=attach-committed "$bin" attach --cgroup /mu-test/att \
	--policy "$tmp/p1.policy"; exit $?) >/dev/null 2>&1
krc=$?
got=$(proto_in att 4)
[ "$krc" = 137 ] && [ "$got" = proto=262 ] &&
	[ "$("$bin" status --json | jq -r '.attachments[0].cgroup')" = /mu-test/att ] &&
	ok "an attach killed after its commit is complete" ||
	not_ok "an attach killed after its commit is complete" "exit $krc, $got"
(MPTCP_UPGRADE_CRASH_AT=detach-committed "$bin" detach; exit $?) >/dev/null 2>&1
krc=$?
got=$(proto_in att 4)
run status
[ "$krc" = 137 ] && [ "$got" = proto=6 ] && [ "$out" = "nothing is attached" ] && no_pins &&
	ok "a detach killed after its commit is finished by the next command" ||
	not_ok "a detach killed after its commit is finished by the next command" "exit $krc, $got"

# socket() remembers per cgroup whether it is attached (issue 14): attach and
# detach must make it look again. The sibling keeps the engine loaded while a
# socket made in att before leaves att's verdict, "not attached", remembered.
run attach --cgroup /mu-test/sib --policy "$tmp/p1.policy"
before=$(proto_in att 4)
run attach --cgroup /mu-test/att --policy "$tmp/p1.policy"
mid=$(proto_in att 4)
run detach --cgroup /mu-test/att
after=$(proto_in att 4)
[ "$before $mid $after" = "proto=6 proto=262 proto=6" ] &&
	ok "a cgroup's remembered verdict follows attach and detach" ||
	not_ok "a cgroup's remembered verdict follows attach and detach" "$before $mid $after"
# Killed between the commit and the bump that makes socket() look again: the
# next command (any) bumps it.
before=$(proto_in att 4)
(MPTCP_UPGRADE_CRASH_AT=attach-registered "$bin" attach --cgroup /mu-test/att \
	--policy "$tmp/p1.policy"; exit $?) >/dev/null 2>&1
krc=$?
run status
got=$(proto_in att 4)
[ "$before" = proto=6 ] && [ "$krc" = 137 ] && [ "$got" = proto=262 ] &&
	ok "an attach killed before socket() was told is told by the next command" ||
	not_ok "an attach killed before socket() was told is told by the next command" \
		"$before, exit $krc, $got"
# A verdict names the attachment's slot; a slot freed by a detach and taken by
# another cgroup must not lend that cgroup's policy to the first one.
run detach --cgroup /mu-test/att
mkdir -p "$cgroot/third"
run attach --cgroup /mu-test/att --policy "$tmp/p1.policy"
slot=$("$bin" status --json | jq '.attachments[] | select(.cgroup == "/mu-test/att") | .id')
first=$(proto_in att 4)
run detach --cgroup /mu-test/att
run attach --cgroup /mu-test/third --policy "$tmp/p1.policy"
reused=$("$bin" status --json | jq '.attachments[] | select(.cgroup == "/mu-test/third") | .id')
third=$(proto_in third 4)
again=$(proto_in att 4)
[ "$slot" = "$reused" ] && [ "$first $third $again" = "proto=262 proto=262 proto=6" ] &&
	ok "a slot taken over by another cgroup: each cgroup gets its own verdict" ||
	not_ok "a slot taken over by another cgroup" "slot $slot then $reused" \
		"$first $third $again"
run detach --all
rmdir "$cgroot/third"

# ---- several cgroups, concurrent invocations ------------------------------------

printf 'mptcp6@:443\n' >"$tmp/p6.policy"
"$bin" attach --cgroup /mu-test/att --policy "$tmp/p1.policy" >"$tmp/a1" 2>&1 &
a1=$!
"$bin" attach --cgroup /mu-test/sib --policy "$tmp/p6.policy" >"$tmp/a2" 2>&1 &
a2=$!
wait $a1; r1=$?
wait $a2; r2=$?
run status --json
[ $r1 = 0 ] && [ $r2 = 0 ] && jq -e '.attachments | length == 2' <<<"$out" >/dev/null &&
	ok "two attaches at once serialize and both succeed" ||
	not_ok "two attaches at once serialize and both succeed" "$r1 $r2" "$(cat "$tmp/a1" "$tmp/a2")"
[ "$(proto_in sib 6)" = proto=262 ] && [ "$(proto_in sib 4)" = proto=6 ] &&
	[ "$(proto_in att 4)" = proto=262 ] && [ "$(proto_in att 6)" = proto=6 ] &&
	ok "each cgroup follows its own policy's families" ||
	not_ok "each cgroup follows its own policy's families"
run detach
expect "detach without --cgroup refuses to guess between two" 2 "name one with --cgroup"
rmdir "$cgroot/sib"
run detach --cgroup /mu-test/sib
expect "a cgroup that is gone can still be detached by its name" 0
mkdir -p "$cgroot/sib"

# ---- reload --policy, removed cgroups, missing links, paths -------------------------

att_json() { "$bin" status --json | jq -r ".attachments[] | select(.cgroup == \"$1\") | $2"; }
p1=$(realpath "$tmp/p1.policy")
run reload --cgroup /mu-test/att --policy "$tmp/p6.policy"
expect "reload --policy FILE" 0
[ "$(att_json /mu-test/att .policy)" = "$p1" ] &&
	[ "$(att_json /mu-test/att .loaded_from)" = "$(realpath "$tmp/p6.policy")" ] &&
	ok "reload --policy does not rebind the attachment to FILE; status names both" ||
	not_ok "reload --policy does not rebind the attachment to FILE" "$("$bin" status)"
run reload --cgroup /mu-test/att
[ "$(att_json /mu-test/att .loaded_from)" = "$p1" ] && [ "$(proto_in att 4)" = proto=262 ] &&
	ok "a plain reload reads the attachment's own file again" ||
	not_ok "a plain reload reads the attachment's own file again" "$("$bin" status)"
# Commands that show no policy line read the state file cut before its last
# key, ,"entries": - which a policy's path may spell too (json-c escapes its
# quotes). A plain reload takes the path from that cut file.
odd="$tmp/odd,\"entries\":[1]}.policy"
cp "$tmp/p6.policy" "$odd"
run attach --cgroup /mu-test/sib --policy "$odd"
expect "attach with a policy path that spells the state file's last key" 0
run reload --cgroup /mu-test/sib
[ "$rc" = 0 ] && [ "$(att_json /mu-test/sib .loaded_from)" = "$(realpath "$odd")" ] &&
	[ "$(att_json /mu-test/sib '.entries | length')" -gt 0 ] &&
	ok "a plain reload finds that path again; status still shows the lines" ||
	not_ok "a plain reload finds a path that spells the state file's last key" "$out" \
		"$("$bin" status --json)"
run detach --cgroup /mu-test/sib
expect "detach it" 0

run attach --cgroup /mu-test/sib --policy "$tmp/p6.policy"
expect "attach a second cgroup" 0
rmdir "$cgroot/sib"
run status
grep -q 'GONE' <<<"$out" && [ "$(att_json /mu-test/sib .cgroup_alive)" = false ] &&
	ok "status says an attached cgroup is gone" || not_ok "status says an attached cgroup is gone" "$out"
mkdir "$cgroot/sib"
run attach --cgroup /mu-test/sib --policy "$tmp/p6.policy"
expect "attaching the recreated cgroup replaces the dead attachment" 0 "replacing the attachment"
[ "$(att_json /mu-test/sib .cgroup_alive)" = true ] && [ "$(proto_in sib 6)" = proto=262 ] &&
	ok "the new attachment applies to the recreated cgroup" ||
	not_ok "the new attachment applies to the recreated cgroup" "$("$bin" status)"

# A reload of two attachments killed after its first swap: the next command
# completes it, so both have their new policy, never one (review m12).
printf 'server g mptcp@192.0.2.77:1\n' >>"$tmp/p1.policy"
printf 'server g mptcp@192.0.2.77:1\n' >>"$tmp/p6.policy"
(MPTCP_UPGRADE_CRASH_AT=policy-swapped "$bin" reload; exit $?) >/dev/null 2>&1
krc=$?
run status --json
[ "$krc" = 137 ] &&
	[ "$(att_json /mu-test/att .sha256)" = "$(sha256sum "$tmp/p1.policy" | cut -d' ' -f1)" ] &&
	[ "$(att_json /mu-test/sib .sha256)" = "$(sha256sum "$tmp/p6.policy" | cut -d' ' -f1)" ] &&
	[ "$(att_json /mu-test/sib '.entries | length')" = 2 ] && ! ls "$mu_pins" | grep -q next- &&
	ok "a reload of two attachments killed after one swap is completed for both" ||
	not_ok "a reload of two attachments killed after one swap is completed for both" \
		"exit $krc" "$("$bin" status)"

mkdir -p "$cgroot/att/inner"
run attach --cgroup /mu-test/sib/../att/inner --policy "$tmp/p1.policy"
expect "a path spelled with .. is normalized, and nesting is refused" 1 \
	"cgroup /mu-test/att/inner is nested with attached cgroup /mu-test/att"
rmdir "$cgroot/att/inner"

att_id=$(att_json /mu-test/att .id)
rm "$mu_pins/cg-$att_id/bind4"
bpftool link detach pinned "$mu_pins/cg-$att_id/sock_create" 2>/dev/null
[ "$(att_json /mu-test/att '.missing_programs | sort | join(",")')" = \
  "cgroup/bind4,cgroup/sock_create" ] && "$bin" status | grep -q MISSING &&
	ok "status reads what the cgroup runs: two programs removed behind its back" ||
	not_ok "status reads what the cgroup runs" "$("$bin" status --json)"
run reload
expect "reload repairs them" 0 "2 programs of /mu-test/att had been detached"
[ "$(att_json /mu-test/att '.missing_programs | length')" = 0 ] &&
	[ "$(proto_in att 4)" = proto=262 ] &&
	ok "after reload nothing is missing and the cgroup's sockets are upgraded again" ||
	not_ok "after reload nothing is missing" "$("$bin" status)"

# The state file lost (review M4): still listed, still managed, restorable.
rm "$mu_state/attach-$att_id.json"
run status
grep -q 'STATE LOST' <<<"$out" && grep -q '^cgroup /mu-test/att ' <<<"$out" &&
	ok "an attachment whose state file is gone is still listed, by its cgroup" ||
	not_ok "an attachment whose state file is gone is still listed" "$out"
run reload --cgroup /mu-test/att
expect "a plain reload of it says what to do" 1 "state of /mu-test/att is lost"
run reload --cgroup /mu-test/att --policy "$tmp/p1.policy"
expect "reload --policy restores it" 0
[ "$(att_json /mu-test/att .state_lost)" = false ] && [ "$(att_json /mu-test/att .policy)" = "$p1" ] &&
	ok "its state is whole again" || not_ok "its state is whole again" "$("$bin" status)"

run detach --cgroup /mu-test/sib
(MPTCP_UPGRADE_CRASH_AT=unload-renamed "$bin" detach --all; exit $?) >/dev/null 2>&1
krc=$?
run status
[ "$krc" = 137 ] && [ "$out" = "nothing is attached" ] && no_pins &&
	[ "$(proto_in att 4)" = proto=6 ] &&
	ok "an unload killed midway leaves nothing the next command can't clean" ||
	not_ok "an unload killed midway leaves nothing the next command can't clean" "exit $krc" \
		"$out" "$(ls -R /sys/fs/bpf)"

# ---- per-line byte counters ------------------------------------------------------

# The bridge counts a listed connection's subflows at their close, stats adds the
# open ones: the counters read at least as much closed as open, on the listening
# (line 1) and the connecting (line 2) side (observability.md).
printf 'bind mptcp4@127.0.0.1:8453\nserver s1 mptcp4@127.0.0.1:8454\n' >"$tmp/bytes.policy"
run attach --cgroup /mu-test/att --policy "$tmp/bytes.policy"
expect "attach for the byte counters" 0
in_cg att "$sock" sink 127.0.0.1 8453 60 tcp >"$tmp/bs1.out" 2>&1 &
bsink1=$!
"$sock" sink 127.0.0.1 8454 60 >"$tmp/bs2.out" 2>&1 &
bsink2=$!
pids+=($bsink1 $bsink2)
need "the byte counters' sinks ready" grep -q ready "$tmp/bs1.out"
need "the byte counters' sinks ready" grep -q ready "$tmp/bs2.out"
"$sock" hold 127.0.0.1 8453 2 3 >"$tmp/bh1.out" 2>&1 &
bhold1=$!
in_cg att "$sock" hold 127.0.0.1 8454 2 3 65536 tcp >"$tmp/bh2.out" 2>&1 &
bhold2=$!
need "two connections held to each line" grep -q '^held 2$' "$tmp/bh1.out"
need "two connections held to each line" grep -q '^held 2$' "$tmp/bh2.out"
"$bin" stats --prometheus >"$tmp/bytes1.prom"
wait "$bhold1" "$bhold2"
att_closed() {
	"$bin" stats --prometheus >"$tmp/bytes2.prom" &&
		! grep -q '^mptcp_upgrade_connections{netns="[0-9]*",fallback="false"} [1-9]' "$tmp/bytes2.prom"
}
need "the connections closed" att_closed
# line_bytes FILE DIR LINE: the line's counter
line_bytes() {
	sed -n "s/^mptcp_upgrade_policy_line_$2_bytes_total{cgroup=\"\/mu-test\/att\",line=\"$3\"} //p" "$1"
}
bad= got=
for s in "sent 1" "received 1" "sent 2" "received 2"; do
	set -- $s
	o=$(line_bytes "$tmp/bytes1.prom" "$1" "$2") c=$(line_bytes "$tmp/bytes2.prom" "$1" "$2")
	[ -n "$o" ] && [ -n "$c" ] && [ "$o" -ge 131072 ] && [ "$c" -ge "$o" ] || bad="$bad $1/$2 '$o' -> '$c'"
	got="$got $1/$2 $o -> $c,"
done
[ -z "$bad" ] && ok "line byte counters: 2 x 64 KiB each way on both lines, not falling at close:${got%,}" ||
	not_ok "line byte counters count both sides and do not fall at close" "$bad" \
		"$(grep bytes_total "$tmp/bytes1.prom" "$tmp/bytes2.prom")"
kill "$bsink1" "$bsink2"
wait "$bsink1" "$bsink2" 2>/dev/null
run detach --cgroup /mu-test/att
expect "detach after the byte counters" 0

# A pin removed by hand: every command says so, and detach --all recovers (reliability D2).
run attach --cgroup /mu-test/att --policy "$tmp/p1.policy"
rm "$mu_pins/line_counters"
run status
expect "a removed pin is reported, with the way out" 1 "detach --all' removes them"
run detach --all
expect "detach --all removes an engine it can't open" 0 "removed the engine pinned under"
no_pins && [ "$(proto_in att 4)" = proto=6 ] &&
	ok "after that no pin is left and the cgroup's sockets are TCP" ||
	not_ok "after that no pin is left and the cgroup's sockets are TCP" "$(ls -R /sys/fs/bpf)"

run detach --all
expect "detach --all exits 0" 0
check "detach --all leaves no pin" no_pins

tap_end
