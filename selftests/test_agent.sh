#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `mptcp-upgrade agent` with real containers: Debian's runc starts each one from
# a bundle whose root file system holds only a static mu_sock, with a seccomp
# section that hands its listener to the agent (what the shipped profile adds to
# a runtime's defaults) and the container's policy in an annotation. Asserts
# SO_PROTOCOL on both ends and MP_CAPABLE on the wire, that unlisted sockets and
# containers without a policy stay TCP, and that containers keep being served
# across the agent's kill and restart. The containers share the suite's network
# namespace (no network namespace in their spec), its run registry is its own.
# Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
static=$top/.output/selftests/mu_sock.static

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the agent and runc need root"
	exit 0
fi
if ! command -v runc >/dev/null; then
	echo "1..0 # SKIP runc is not installed (Debian package runc)"
	exit 0
fi
if [ -z "${MU_RUN_NETNS:-}" ]; then
	exec unshare -n -m env MU_RUN_NETNS=1 "$0" "$@"
fi
ip link set dev lo up
own_registry

tmp=$(mktemp -d /tmp/mu-agent.XXXXXX)
chmod 755 "$tmp"
runc_root=$tmp/runc
cg_root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cg=$cg_root/mu-agent-$$
cg_agent=$cg_root/mu-agent-pod-$$
agent_pids=()
pids=()
cleanup() {
	local p id
	for id in $(runc --root "$runc_root" list -q 2>/dev/null); do
		runc --root "$runc_root" delete -f "$id" >/dev/null 2>&1
	done
	command -v podman >/dev/null && podman rm -f "mu-agent-$$" >/dev/null 2>&1 &&
		podman rmi -f "localhost/mu-agent-test:$$" >/dev/null 2>&1
	for p in "${pids[@]}" "${agent_pids[@]}"; do kill "$p" 2>/dev/null; done
	# The supervisors' cgroups go with their containers; what is left is the suite's.
	for d in "$cg"/*/ "$cg" "$cg_agent"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/etc"

# A spec of our own: every call the run supervisor must see goes to the agent.
# (configs/seccomp adds the same rules to a runtime's default profile.)
seccomp() { # METADATA SOCKET
	jq -n --arg m "$1" --arg s "$2" '{
	defaultAction: "SCMP_ACT_ALLOW",
	architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
	listenerPath: $s, listenerMetadata: $m,
	syscalls: [
	  {names: ["bind", "connect", "epoll_create", "epoll_create1", "dup", "dup2", "dup3",
		   "fork", "vfork", "clone3", "io_uring_setup"], action: "SCMP_ACT_NOTIFY"},
	  {names: ["clone"], action: "SCMP_ACT_NOTIFY",
	   args: [{index: 0, value: 1024, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ"}]},
	  {names: ["fcntl"], action: "SCMP_ACT_NOTIFY", args: [{index: 1, value: 0, op: "SCMP_CMP_EQ"}]},
	  {names: ["fcntl"], action: "SCMP_ACT_NOTIFY", args: [{index: 1, value: 1030, op: "SCMP_CMP_EQ"}]},
	  {names: ["sendto"], action: "SCMP_ACT_NOTIFY",
	   args: [{index: 3, value: 536870912, valueTwo: 536870912, op: "SCMP_CMP_MASKED_EQ"}]},
	  {names: ["sendmsg"], action: "SCMP_ACT_NOTIFY",
	   args: [{index: 2, value: 536870912, valueTwo: 536870912, op: "SCMP_CMP_MASKED_EQ"}]}
	]}'
}

(cd "$tmp" && runc spec) || { echo "Bail out! runc spec failed"; exit 1; }
base=$tmp/config.json

# container ID ANNOTATIONS-JSON ARGS...: start mu_sock ARGS in container ID
# (output in $tmp/ID.out); METADATA and SOCKET from the environment.
container() {
	local id=$1 ann=$2
	shift 2
	mkdir -p "$tmp/$id/rootfs"
	cp "$static" "$tmp/$id/rootfs/mu_sock"
	jq --argjson sec "$(seccomp "${METADATA-mptcp-upgrade.io/profile=1}" \
		"${SOCKET:-$tmp/agent.sock}")" --argjson ann "$ann" \
		--args '.process.terminal = false | .process.args = ["/mu_sock"] + $ARGS.positional |
		.root.readonly = false | .linux.seccomp = $sec | .annotations = $ann |
		.linux.namespaces |= map(select(.type != "network"))' "$@" <"$base" \
		>"$tmp/$id/config.json"
	runc --root "$runc_root" run -d -b "$tmp/$id" "$id" >"$tmp/$id.out" 2>&1 </dev/null
}
out_has() { grep -q -- "$2" "$tmp/$1.out" 2>/dev/null; }
# start_agent: the agent, with supervisors under $cg. AGENT_CGNS=1: as in a
# Kubernetes pod, from a cgroup of its own ($cg_agent) and in a cgroup
# namespace rooted there.
start_agent() {
	local before
	before=$(grep -cs "served from before" "$tmp/agent.log")
	if [ -n "${AGENT_CGNS:-}" ]; then
		mkdir -p "$cg_agent"
		# PID 1 is not ours to see here: the suite's shell stands for the host's.
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec unshare -C "$@"' sh "$cg_agent" \
			"$bin" agent --socket "$tmp/agent.sock" --policy-dir "$tmp/etc" \
			--cgroup "${cg#"$cg_root"}" --cgroup-namespace-of $$ \
			>>"$tmp/agent.log" 2>&1 </dev/null &
	else
		"$bin" agent --socket "$tmp/agent.sock" --policy-dir "$tmp/etc" \
			--cgroup "${cg#"$cg_root"}" >>"$tmp/agent.log" 2>&1 </dev/null &
	fi
	agent_pids+=($!)
	# Its last line at start: the containers it found served from before.
	wait_for eval '[ "$(grep -c "served from before" "$tmp/agent.log")" -gt "${before:-0}" ]'
}
logged() { grep -q -- "$1" "$tmp/agent.log"; }
policy() { jq -n --arg p "$1" '{"mptcp-upgrade.io/policy": $p}'; }

# ---- bad input: one error line, nothing started ---------------------------------

run agent --bogus
expect "an unknown option is a usage error (2)" 2 "unknown option '--bogus'"
run agent --socket
expect "--socket without a value is a usage error" 2 "needs a value"
run agent --socket "$tmp/a.sock" --policy-dir "$tmp/none"
expect "a missing policy folder: one error line" 1 "policy folder $tmp/none"
[ ! -e "$tmp/a.sock" ] && ok "... and no socket was made" || not_ok "... and no socket was made"
run agent --socket "$tmp/a.sock" --policy-dir /bin/sh
expect "a policy folder that is a file: one error line" 1 "policy folder /bin/sh: Not a directory"
run agent --socket= --policy-dir "$tmp/etc"
expect "an empty --socket is a usage error" 2 "--socket needs a path"
run agent --socket "$tmp/a.sock" --policy-dir "$tmp/etc" --cgroup /
expect "--cgroup at the root is refused" 1 "not the root cgroup"
run agent --socket "$tmp/a.sock" --policy-dir "$tmp/etc" --cgroup /mu-no-such-$$/below
expect "a --cgroup whose parent is missing: one error line" 1 "mu-no-such-$$/below"
: >"$tmp/file"
run agent --socket "$tmp/a.sock" --policy-dir "$tmp/etc" --cgroup-namespace-of me
expect "--cgroup-namespace-of takes a PID" 2 "takes a PID"
run agent --socket "$tmp/a.sock" --policy-dir "$tmp/etc" --cgroup-namespace-of 999999999
expect "--cgroup-namespace-of a process that does not exist: one error line" 1 "999999999"
run agent --socket "$tmp/file" --policy-dir "$tmp/etc"
expect "a socket path that is a file is not replaced" 1 "not a socket"
run agent --socket "$tmp/$(printf 'x%.0s' {1..120})" --policy-dir "$tmp/etc"
expect "a socket path too long for sun_path" 1 "longer than"

if ! start_agent; then
	not_ok "the agent listens" "$(cat "$tmp/agent.log")"
	tap_end
	exit
fi
ok "the agent listens on its socket"
[ -d "$cg" ] && ok "--cgroup that did not exist yet is made" || not_ok "--cgroup that did not exist yet is made"
[ "$(stat -c %a "$tmp/agent.sock")" = 600 ] && ok "its socket is root's alone (0600)" ||
	not_ok "its socket is root's alone (0600)" "$(stat -c %a "$tmp/agent.sock")"
run agent --socket "$tmp/agent.sock" --policy-dir "$tmp/etc"
expect "a second agent on the same socket is refused" 1 "another agent is listening"

# ---- what a broken or hostile client sends: refused, and the agent goes on -------

# handoff JSON [pipe]: send JSON to the agent (with a pipe's descriptor as the
# only one when asked), as a runtime would, then close.
handoff() {
	python3 - "$tmp/agent.sock" "$1" "${2:-}" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
fds = [os.pipe()[0]] if sys.argv[3] else []
socket.send_fds(s, [sys.argv[2].encode()], fds)
s.close()
PY
}
handoff 'not json at all' pipe
wait_for logged "a hand-over refused: the runtime's message is not a JSON object" &&
	ok "a message that is not JSON: refused, said" ||
	not_ok "a message that is not JSON: refused, said" "$(cat "$tmp/agent.log")"
handoff '{"fds":["seccompFd"],"pid":1,"state":{"id":"x","pid":1}}' pipe
wait_for logged "a hand-over refused: the runtime's seccompFd is not a seccomp listener" &&
	ok "a seccompFd that is not a seccomp listener: refused" ||
	not_ok "a seccompFd that is not a seccomp listener: refused" "$(cat "$tmp/agent.log")"
handoff '{"fds":["seccompFd"],"pid":1,"state":{"id":"../etc","pid":1}}' pipe
wait_for logged "a hand-over refused: the runtime's container id is not one a runtime makes" &&
	ok "a container id that would leave the state folder: refused" ||
	not_ok "a container id that would leave the state folder: refused" "$(cat "$tmp/agent.log")"
handoff '{"fds":[],"pid":1,"state":{"id":"x","pid":1}}'
wait_for logged "a hand-over refused: the runtime sent no seccompFd (0 descriptors)" &&
	ok "a hand-over without a listener: refused" ||
	not_ok "a hand-over without a listener: refused" "$(cat "$tmp/agent.log")"
# A client that connects and says nothing holds up no one (each is read apart).
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(30)' "$tmp/agent.sock" &
pids+=($!)

# ---- listed, unlisted, untouched --------------------------------------------------

pol='bind mptcp4@127.0.0.1:7800-7809
server up mptcp4@127.0.0.1:7810'

# A listed listener in a container; a native MPTCP client outside.
container srv "$(policy "$pol")" serve 127.0.0.1 7800 1
if wait_for out_has srv "ready"; then
	out_has srv "ready proto=262" && ok "listed bind() in a container: the listener is MPTCP" ||
		not_ok "listed bind() in a container: the listener is MPTCP" "$(cat "$tmp/srv.out")"
	c=$("$sock" connect 127.0.0.1 7800 mptcp)
	wait_for out_has srv "accepted"
	out_has srv "accepted proto=262 echoed=5 mptcp=yes" &&
		ok "... its accepted connection is MPTCP, negotiated with the client ($c)" ||
		not_ok "... its accepted connection is MPTCP" "$(cat "$tmp/srv.out")"
else
	not_ok "listed bind() in a container: the listener is MPTCP" "$(cat "$tmp/srv.out")" \
		"$(cat "$tmp/agent.log")"
fi

# A listed connect() from a container to a native MPTCP server, seen on the wire.
"$sock" serve 127.0.0.1 7810 1 mptcp >"$tmp/up.out" &
pids+=($!)
need "the upstream listens" grep -qs ready "$tmp/up.out"
tcpdump -i lo -nn -c 1 -w "$tmp/syn.pcap" 'tcp port 7810 and tcp[tcpflags] == tcp-syn' \
	>/dev/null 2>&1 &
dump=$!
wait_for [ -e "$tmp/syn.pcap" ]
container cli "$(policy "$pol")" connect 127.0.0.1 7810
wait_for out_has cli "connect="
out_has cli "connect=ok proto=262 echo=ok mptcp=yes" &&
	ok "listed connect() in a container: MPTCP on the container's side" ||
	not_ok "listed connect() in a container: MPTCP on the container's side" \
		"$(cat "$tmp/cli.out")" "$(cat "$tmp/agent.log")"
wait_for grep -q accepted "$tmp/up.out"
grep -q "accepted proto=262 echoed=5 mptcp=yes" "$tmp/up.out" &&
	ok "... and MPTCP on the server's" || not_ok "... and MPTCP on the server's" "$(cat "$tmp/up.out")"
wait "$dump" 2>/dev/null
tcpdump -nn -r "$tmp/syn.pcap" 2>/dev/null | grep -Eq "mptcp [0-9]+ capable" &&
	ok "... its SYN carries MP_CAPABLE on the wire" ||
	not_ok "... its SYN carries MP_CAPABLE on the wire" "$(tcpdump -nn -r "$tmp/syn.pcap" 2>&1)"

# Unlisted: a listener and a connect() of the same container's policy stay TCP.
container unl "$(policy "$pol")" serve 127.0.0.1 7850 1
wait_for out_has unl "ready"
out_has unl "ready proto=6" && ok "unlisted bind() in a container stays TCP" ||
	not_ok "unlisted bind() in a container stays TCP" "$(cat "$tmp/unl.out")"
"$sock" serve 127.0.0.1 7811 1 mptcp >"$tmp/up2.out" &
pids+=($!)
need "the second upstream listens" grep -qs ready "$tmp/up2.out"
container unc "$(policy "$pol")" connect 127.0.0.1 7811
wait_for out_has unc "connect="
out_has unc "connect=ok proto=6 echo=ok mptcp=no" && ok "unlisted connect() in a container stays TCP" ||
	not_ok "unlisted connect() in a container stays TCP" "$(cat "$tmp/unc.out")"
"$sock" connect 127.0.0.1 7850 >/dev/null

# No policy: untouched, whatever its addresses.
container none '{}' serve 127.0.0.1 7802 1
wait_for out_has none "ready"
out_has none "ready proto=6" && ok "a container without a policy annotation is untouched" ||
	not_ok "a container without a policy annotation is untouched" "$(cat "$tmp/none.out")"
logged "container none: served untouched: no mptcp-upgrade.io/policy" &&
	ok "... and the agent says why" || not_ok "... and the agent says why" "$(cat "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7802 >/dev/null

# Another profile's listener: its calls may not all come here, so untouched.
METADATA=other container meta "$(policy "$pol")" serve 127.0.0.1 7803 1
wait_for out_has meta "ready"
out_has meta "ready proto=6" && ok "another profile's listener (metadata) is served untouched" ||
	not_ok "another profile's listener (metadata) is served untouched" "$(cat "$tmp/meta.out")"
logged "container meta: served untouched: its listener metadata is 'other'" &&
	ok "... and the agent says why" || not_ok "... and the agent says why" "$(cat "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7803 >/dev/null

# policy-file: a file of the policy folder; a path out of it is refused.
printf '%s\n' "$pol" >"$tmp/etc/web.policy"
container pf '{"mptcp-upgrade.io/policy-file": "web.policy"}' serve 127.0.0.1 7804 1
wait_for out_has pf "ready"
out_has pf "ready proto=262" && ok "policy-file names a file of the policy folder: listed, MPTCP" ||
	not_ok "policy-file names a file of the policy folder: listed, MPTCP" "$(cat "$tmp/pf.out")" \
		"$(cat "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7804 mptcp >/dev/null
printf '%s\n' "$pol" >"$tmp/outside.policy"
container pfx '{"mptcp-upgrade.io/policy-file": "../outside.policy"}' serve 127.0.0.1 7805 1
wait_for out_has pfx "ready"
out_has pfx "ready proto=6" && logged "container pfx: served untouched: .*outside the policy folder" &&
	ok "policy-file leading out of the policy folder: refused, served untouched" ||
	not_ok "policy-file leading out of the policy folder: refused, served untouched" \
		"$(cat "$tmp/pfx.out")" "$(cat "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7805 >/dev/null

# A policy with an error: the container still runs, untouched, and the log says where.
container bad "$(policy 'bind mptcp4@127.0.0.1:99999')" serve 127.0.0.1 7806 1
wait_for out_has bad "ready"
out_has bad "ready proto=6" && logged "container bad: served untouched: the policy" &&
	ok "a policy annotation with an error: served untouched, said" ||
	not_ok "a policy annotation with an error: served untouched, said" "$(cat "$tmp/bad.out")" \
		"$(cat "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7806 >/dev/null

# reload: a container's policy-file read again, applied to its next call.
printf 'server s mptcp4@127.0.0.1:7830\n' >"$tmp/etc/re.policy"
"$sock" serve 127.0.0.1 7831 1 mptcp >"$tmp/up3.out" &
pids+=($!)
need "the third upstream listens" grep -qs ready "$tmp/up3.out"
container rel '{"mptcp-upgrade.io/policy-file": "re.policy"}' connect-after /go 127.0.0.1 7831
need "the container is served" wait_for eval '"$bin" status --json | jq -e ".runs[] | select(.container.id == \"rel\")" >/dev/null'
out=$("$bin" stats 2>&1)
grep -q "policy lines of container rel (run supervisor [0-9]*):" <<<"$out" &&
	ok "stats names the container's policy lines" || not_ok "stats names the container's policy lines" "$out"
printf 'server s mptcp4@127.0.0.1:7831\n' >"$tmp/etc/re.policy"
run reload
expect "reload reads a container's policy-file again" 0
: >"$tmp/rel/rootfs/go"
wait_for out_has rel "connect="
out_has rel "connect=ok proto=262 echo=ok mptcp=yes" &&
	ok "... and its next connect() follows it: listed now, MPTCP" ||
	not_ok "... and its next connect() follows it: listed now, MPTCP" "$(cat "$tmp/rel.out")" \
		"$(cat "$tmp/agent.log")"

# runc exec (kubectl exec): the process it adds comes with a listener of its
# own, and is served under the container's policy; one series per container,
# summing what its processes' supervisors count while they run.
container ex "$(policy 'mptcp4@127.0.0.1:7841-7842')" serve 127.0.0.1 7841 2
wait_for out_has ex "ready"
out=$(runc --root "$runc_root" exec ex /mu_sock connect 127.0.0.1 7841 2>&1 </dev/null)
grep -q "connect=ok proto=262 echo=ok mptcp=yes" <<<"$out" &&
	ok "runc exec: the added process's listed connect() is MPTCP" ||
	not_ok "runc exec: the added process's listed connect() is MPTCP" "$out" "$(cat "$tmp/agent.log")"
runc --root "$runc_root" exec -d ex /mu_sock serve 127.0.0.1 7842 1 >"$tmp/ex2.out" 2>&1 </dev/null
wait_for out_has ex2 "ready"
out_has ex2 "ready proto=262" && ok "runc exec: the added process's listed bind() is MPTCP" ||
	not_ok "runc exec: the added process's listed bind() is MPTCP" "$(cat "$tmp/ex2.out")"
out=$("$bin" stats --prometheus)
nseries=$(grep -c '^mptcp_upgrade_policy_line_events_total{container="ex",line="1",event="bind"}' <<<"$out")
v=$(grep '^mptcp_upgrade_policy_line_events_total{container="ex",line="1",event="bind"}' <<<"$out")
[ "$nseries" = 1 ] && [ "${v##* }" = 2 ] &&
	ok "... one series for the container, its processes' binds summed (2)" ||
	not_ok "... one series for the container, its processes' binds summed (2)" "$out"
"$sock" connect 127.0.0.1 7842 mptcp >/dev/null
"$sock" connect 127.0.0.1 7841 mptcp >/dev/null

# podman, with the same profile, an image of the static mu_sock (no registry) and
# runc (this host's hybrid cgroups refuse crun; podman's default limits exceed
# this sandbox's hard ones, hence --ulimit).
pm_image=localhost/mu-agent-test:$$
if ! command -v podman >/dev/null; then
	skip "podman: a listed listener in a podman container is MPTCP" "podman is not installed"
elif ! tar -C "$tmp/srv/rootfs" -cf "$tmp/pm.tar" mu_sock ||
	! podman import "$tmp/pm.tar" "$pm_image" >"$tmp/pm.import" 2>&1; then
	skip "podman: a listed listener in a podman container is MPTCP" \
		"podman can't import an image here: $(tail -1 "$tmp/pm.import")"
else
	seccomp mptcp-upgrade.io/profile=1 "$tmp/agent.sock" >"$tmp/pm-profile.json"
	podman --runtime runc run -d --name "mu-agent-$$" --network host \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		--security-opt seccomp="$tmp/pm-profile.json" \
		--annotation "mptcp-upgrade.io/policy=bind mptcp4@127.0.0.1:7808" \
		"$pm_image" /mu_sock serve 127.0.0.1 7808 1 >"$tmp/pm.run" 2>&1
	pm_logs() { podman logs "mu-agent-$$" 2>&1; }
	if wait_for eval 'pm_logs | grep -q ready'; then
		pm_logs | grep -q "ready proto=262" &&
			ok "podman: a listed listener in a podman container is MPTCP" ||
			not_ok "podman: a listed listener in a podman container is MPTCP" "$(pm_logs)"
		"$sock" connect 127.0.0.1 7808 mptcp >/dev/null
		wait_for eval 'pm_logs | grep -q accepted'
		pm_logs | grep -q "accepted proto=262 echoed=5 mptcp=yes" &&
			ok "... and its connection negotiated MPTCP" ||
			not_ok "... and its connection negotiated MPTCP" "$(pm_logs)"
	else
		not_ok "podman: a listed listener in a podman container is MPTCP" \
			"$(cat "$tmp/pm.run")" "$(pm_logs)"
	fi
	podman rm -f "mu-agent-$$" >/dev/null 2>&1
	podman rmi -f "$pm_image" >/dev/null 2>&1
fi

# A hand-over refused after its filter is in force: let through, never ENOSYS.
long=$(printf 'x%.0s' {1..600})
container longpf "{\"mptcp-upgrade.io/policy-file\": \"$long\"}" serve 127.0.0.1 7861 1
wait_for out_has longpf "ready"
out_has longpf "ready proto=6" &&
	logged "a hand-over refused: its mptcp-upgrade.io/policy-file is longer than 511 bytes: its calls are let through unchanged" &&
	ok "a hand-over refused once its filter is in force: its calls are let through" ||
	not_ok "a hand-over refused once its filter is in force: its calls are let through" \
		"$(cat "$tmp/longpf.out")" "$(tail -3 "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7861 >/dev/null

# A container's supervisor killed: its watcher stops the container, whose first
# process (its PID namespace's init, no handler) ignores SIGTERM: SIGKILL after 10 s.
container stop1 "$(policy "$pol")" serve 127.0.0.1 7809 1
wait_for out_has stop1 "ready"
sup=$("$bin" status --json | jq -r '.runs[] | select(.container.id == "stop1") | .supervisor')
kill -9 "$sup"
ctr_state() { runc --root "$runc_root" state "$1" 2>/dev/null | jq -r .status; }
WAIT_TENTHS=200 wait_for eval '[ "$(ctr_state stop1)" = stopped ]' &&
	logged "container stop1: program [0-9]* still runs 10 s after SIGTERM: SIGKILL" &&
	ok "a container's supervisor killed: the container is stopped (SIGTERM, then SIGKILL)" ||
	not_ok "a container's supervisor killed: the container is stopped" "state: $(ctr_state stop1)" \
		"$(tail -4 "$tmp/agent.log")"

# ---- the agent killed and restarted while containers run -----------------------

container held "$(jq -n --arg p "bind mptcp4@127.0.0.1:7820" '{"mptcp-upgrade.io/policy": $p,
	"io.kubernetes.cri.container-name": "web", "io.kubernetes.cri.sandbox-name": "web-7d9",
	"io.kubernetes.cri.sandbox-namespace": "shop"}')" serve 127.0.0.1 7820 2
container later "$(policy 'server s mptcp4@127.0.0.1:7820')" connect-after /go 127.0.0.1 7820
wait_for out_has held "ready"
out_has held "ready proto=262" && ok "a Kubernetes-named container's listener is MPTCP" ||
	not_ok "a Kubernetes-named container's listener is MPTCP" "$(cat "$tmp/held.out")"
need "both containers are served" wait_for eval '[ "$("$bin" status --json | jq "[.runs[] | select(.container != null)] | length")" -ge 2 ]'
out=$("$bin" status --json)
json_ok "status --json names the container, its pod and namespace" \
	'.runs[] | select(.container.id == "held") | .container.name == "web" and .container.pod == "web-7d9" and .container.namespace == "shop"'
out=$("$bin" status)
grep -q "container  held (web), pod shop/web-7d9, served by the agent" <<<"$out" &&
	ok "status names it in its table" || not_ok "status names it in its table" "$out"
out=$("$bin" stats --prometheus)
grep -q 'namespace="shop",pod="web-7d9",container="web"' <<<"$out" &&
	ok "stats --prometheus labels it namespace, pod, container" ||
	not_ok "stats --prometheus labels it namespace, pod, container" "$out"
grep -q 'container="later"' <<<"$out" && ok "... and a container without a name by its id" ||
	not_ok "... and a container without a name by its id" "$out"
# The same through the HTTP exporter, scraped by curl (a cluster's scraper).
if command -v curl >/dev/null; then
	"$bin" exporter --listen 127.0.0.1:7899 >"$tmp/exp.out" 2>&1 </dev/null &
	pids+=($!)
	need "the exporter listening" grep -q "serving /metrics on 127.0.0.1:7899" "$tmp/exp.out"
	out=$(curl -sS -m 10 http://127.0.0.1:7899/metrics 2>&1)
	grep -q '^mptcp_upgrade_policy_line_events_total{namespace="shop",pod="web-7d9",container="web",line="1",event="bind"} 1$' <<<"$out" &&
		ok "the exporter, scraped by curl: the container's series by namespace, pod, container" ||
		not_ok "the exporter, scraped by curl: the container's series by namespace, pod, container" "$out"
else
	skip "the exporter, scraped by curl: the container's series" "curl is not installed"
fi

kill -9 "${agent_pids[0]}"
wait "${agent_pids[0]}" 2>/dev/null
"$sock" connect 127.0.0.1 7820 mptcp >/dev/null
wait_for out_has held "accepted"
out_has held "accepted proto=262 echoed=5 mptcp=yes" &&
	ok "the agent killed (SIGKILL): its container still accepts over MPTCP" ||
	not_ok "the agent killed (SIGKILL): its container still accepts over MPTCP" "$(cat "$tmp/held.out")"
# The new agent starts as in a Kubernetes pod (its own cgroup and cgroup namespace).
AGENT_CGNS=1 start_agent || not_ok "the agent starts again" "$(cat "$tmp/agent.log")"
logged "joined the host's cgroup namespace" &&
	ok "in a cgroup namespace of its own (a pod's), the agent joins the host's" ||
	not_ok "in a cgroup namespace of its own (a pod's), the agent joins the host's" \
		"$(cat "$tmp/agent.log")"
logged "container held (web) is served by supervisor" && logged "container later is served" &&
	ok "the new agent finds the containers served from before" ||
	not_ok "the new agent finds the containers served from before" "$(cat "$tmp/agent.log")"
: >"$tmp/later/rootfs/go"
wait_for out_has later "connect="
out_has later "connect=ok proto=262 echo=ok mptcp=yes" &&
	ok "a connect() after the restart, in a container from before: listed, MPTCP" ||
	not_ok "a connect() after the restart, in a container from before: listed, MPTCP" \
		"$(cat "$tmp/later.out")" "$(cat "$tmp/agent.log")"
wait_for eval '[ "$(grep -c accepted "$tmp/held.out")" = 2 ]'
[ "$(grep -c "accepted proto=262 echoed=5 mptcp=yes" "$tmp/held.out")" = 2 ] &&
	ok "... and accepted over MPTCP by the other container from before" ||
	not_ok "... and accepted over MPTCP by the other container from before" "$(cat "$tmp/held.out")"
container after "$(policy "$pol")" serve 127.0.0.1 7807 1
wait_for out_has after "ready"
out_has after "ready proto=262" && ok "a container started after the restart is served by the new agent" ||
	not_ok "a container started after the restart is served by the new agent" "$(cat "$tmp/after.out")"
logged "container after: socket-option bridge on (cgroup ${cg#"$cg_root"}/mptcp-upgrade-run\.[0-9]*)" &&
	ok "... its supervisor's cgroup is under --cgroup, out of the agent's (the pod's)" ||
	not_ok "... its supervisor's cgroup is under --cgroup, out of the agent's (the pod's)" \
		"$(cat "$tmp/agent.log")"
"$sock" connect 127.0.0.1 7807 mptcp >/dev/null

# The agent's pod killed as a runtime kills it (cgroup.kill): the agent goes, the
# containers it let through keep their server (under --cgroup, out of the pod).
"$sock" serve 127.0.0.1 7862 1 >"$tmp/up4.out" &
pids+=($!)
need "the fourth upstream listens" grep -qs ready "$tmp/up4.out"
container bare '{}' connect-after /go 127.0.0.1 7862
need "the bare container let through" logged "container bare: served untouched"
echo 1 >"$cg_agent/cgroup.kill"
wait "${agent_pids[1]}" 2>/dev/null
: >"$tmp/bare/rootfs/go"
wait_for out_has bare "connect="
out_has bare "connect=ok proto=6" &&
	ok "the agent's pod killed (cgroup.kill): a container it let through still connects" ||
	not_ok "the agent's pod killed (cgroup.kill): a container it let through still connects" \
		"$(cat "$tmp/bare.out")"
start_agent || not_ok "the agent starts a third time" "$(cat "$tmp/agent.log")"

# Every container above has ended: their supervisors, cgroups and policy copies with them.
wait_for eval '[ "$("$bin" status --json | jq "[.runs[] | select(.container != null)] | length")" = 0 ]' &&
	ok "containers that ended leave no supervisor" ||
	not_ok "containers that ended leave no supervisor" "$("$bin" status 2>&1)"
wait_for eval '[ -z "$(ls /run/mptcp-upgrade/agent/)" ]' &&
	ok "... nor a copy of their annotation's policy" ||
	not_ok "... nor a copy of their annotation's policy" "$(ls /run/mptcp-upgrade/agent/)"
wait_for eval '[ -z "$(find "$cg" -mindepth 1 -maxdepth 1 -type d)" ]' &&
	ok "... nor a supervisor's cgroup" || not_ok "... nor a supervisor's cgroup" "$(ls "$cg")"

kill "${agent_pids[2]}"
wait "${agent_pids[2]}"
rc=$?
[ "$rc" = 0 ] && [ ! -e "$tmp/agent.sock" ] && ok "SIGTERM: the agent exits 0 and removes its socket" ||
	not_ok "SIGTERM: the agent exits 0 and removes its socket" "exit $rc"
tap_end
