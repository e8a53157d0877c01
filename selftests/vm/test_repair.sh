#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What the kernel runs, not what is pinned (issue 23), in a kernel that runs
# the engine (test_vm.sh brings it here). Each piece of the engine is lost the
# way a cleanup script or a remount loses it (its pin removed, bpffs
# unmounted); then: status names it and exits 3, the wire does what status
# says, reload (or follow) puts it back, and the wire is right again. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
tmp=$(mktemp -d /tmp/mu-repair.XXXXXX)
cgroot=/sys/fs/cgroup/mu-repair
pids=()

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"
pins=$mu_pins

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	"$bin" detach --all >/dev/null 2>&1
	rmdir "$cgroot/proxy" "$cgroot/other" "$cgroot" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/vm/guest-lib.sh
. "$top/selftests/vm/guest-lib.sh"
mkdir -p "$cgroot/proxy" "$cgroot/other"
# stats reads sock_diag: the guest's kernel loads no module by itself.
[ -n "${MU_VM_KDIR:-}" ] && modprobe -d "$MU_VM_KDIR" -a tcp_diag mptcp_diag 2>/dev/null

# sink NAME CGROUP|- PORT [tcp]: a long-lived echo server for any number of clients.
sink() {
	local name=$1 cg=$2 port=$3
	shift 3
	if [ "$cg" = - ]; then
		"$sock" sink 127.0.0.1 "$port" 300 "$@" >"$tmp/$name.out" 2>&1 &
	else
		in_cg "$cg" "$sock" sink 127.0.0.1 "$port" 300 "$@" >"$tmp/$name.out" 2>&1 &
	fi
	pids+=($!)
	need "server $name ready" grep -q ready "$tmp/$name.out"
}
# What a new socket of the cgroup is: proto=262 once upgraded, proto=6 if not.
new_proto() { in_cg proxy "$sock" proto 4 | grep -o 'proto=[0-9]*'; }
# out_to PORT: an outgoing connection of the cgroup to a native MPTCP server: mptcp=yes|fallback.
out_to() { in_cg proxy "$sock" connect 127.0.0.1 "$1" | grep -o 'mptcp=[a-z]*'; }
# in_to PORT: an MPTCP client of the cgroup's listener on PORT.
in_to() { "$sock" connect 127.0.0.1 "$1" mptcp | grep -o 'mptcp=[a-z]*'; }
status_rc() { "$bin" status >"$tmp/status" 2>&1; echo $?; }

cat >"$tmp/p.policy" <<'EOF'
bind mptcp4@127.0.0.1:7400        # the listed frontend
server app mptcp4@127.0.0.1:7501  # the listed backend
EOF
run attach --cgroup /mu-repair/proxy --policy "$tmp/p.policy"
expect "attach" 0
sink listed proxy 7400 tcp		# listed: MPTCP
sink unlisted proxy 7401 tcp		# unlisted: an MPTCP socket stage 3 keeps TCP
sink native_unlisted - 7500		# native MPTCP servers outside the cgroup
sink native_listed - 7501

got="$(new_proto) $(in_to 7400) $(in_to 7401) $(out_to 7500) $(out_to 7501)"
[ "$got" = "proto=262 mptcp=yes mptcp=fallback mptcp=fallback mptcp=yes" ] &&
	ok "attached: listed addresses MPTCP, unlisted ones TCP, both ways" ||
	not_ok "attached: listed addresses MPTCP, unlisted ones TCP, both ways" "$got"
[ "$(status_rc)" = 0 ] && ! grep -q MISSING "$tmp/status" &&
	ok "status exits 0 with nothing missing" ||
	not_ok "status exits 0 with nothing missing" "$(cat "$tmp/status")"

# A mount namespace with an empty bpffs of its own (a container's) that shares
# /run: the engine lives, and must not be taken for lost there.
unshare -m sh -c 'mount -t bpf bpf /sys/fs/bpf && exec "$0" status' "$bin" >"$tmp/ns.out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "the engine's pins are not under /sys/fs/bpf in this mount namespace" "$tmp/ns.out" &&
	ls "$mu_state" | grep -q '^attach-' && ! ls "$mu_state" | grep -q '^restore-' &&
	[ "$(status_rc)" = 0 ] &&
	ok "an empty bpffs elsewhere: status there refuses, the live engine's state stays" ||
	not_ok "an empty bpffs elsewhere: status there refuses, the live engine's state stays" \
		"rc=$rc" "$(cat "$tmp/ns.out")" "$(ls "$mu_state")"

# ---- the fmod_ret link -----------------------------------------------------------

rm "$pins/link_upgrade_socket"
got=$(new_proto)
[ "$got" = proto=6 ] && ok "hook link lost: new sockets of the cgroup are TCP" ||
	not_ok "hook link lost: new sockets of the cgroup are TCP" "$got"
rc=$(status_rc)
[ "$rc" = 3 ] &&
	grep -q "^MISSING fmod_ret/update_socket_protocol: .*listed sockets stay TCP (run 'mptcp-upgrade reload' to repair)" "$tmp/status" &&
	ok "status: the hook is MISSING, listed sockets stay TCP, exit 3" ||
	not_ok "status: the hook is MISSING, listed sockets stay TCP, exit 3" "rc=$rc" \
		"$(cat "$tmp/status")"
! grep -q "restart the proxy" "$tmp/status" &&
	ok "status does not tell the operator to restart the proxy for it" ||
	not_ok "status does not tell the operator to restart the proxy for it" \
		"$(cat "$tmp/status")"
run status --json
json_ok "status --json: healthy false, hook not attached, the hook in missing" \
	'.healthy == false and .hook_attached == false and
	 (.missing | map(.program) | index("fmod_ret/update_socket_protocol")) != null'
"$bin" stats --prometheus >"$tmp/prom" 2>&1
grep -q '^mptcp_upgrade_programs_missing{program="fmod_ret/update_socket_protocol",cgroup=""} 1$' "$tmp/prom" &&
	ok "stats --prometheus: the hook's missing gauge is 1" ||
	not_ok "stats --prometheus: the hook's missing gauge is 1" "$(cat "$tmp/prom")"
run reload
expect "reload repairs the hook and says so" 0 'fmod_ret/update_socket_protocol .*attached again'
got="$(new_proto) $(in_to 7400)"
[ "$got" = "proto=262 mptcp=yes" ] && [ -e "$pins/link_upgrade_socket" ] &&
	ok "after reload: new sockets MPTCP again, the link pinned again" ||
	not_ok "after reload: new sockets MPTCP again, the link pinned again" "$got"
[ "$(status_rc)" = 0 ] && ok "status exits 0 again" || not_ok "status exits 0 again" \
	"$(cat "$tmp/status")"

# ---- tc egress and ingress -------------------------------------------------------

rm "$pins"/tc/*-egress
got=$(out_to 7500)
[ "$got" = mptcp=yes ] && ok "egress lost: an unlisted outgoing connect negotiates MPTCP" ||
	not_ok "egress lost: an unlisted outgoing connect negotiates MPTCP" "$got"
rc=$(status_rc)
[ "$rc" = 3 ] &&
	grep -q "^MISSING tcx/egress on 1 interface (lo in network namespace [0-9]*): unlisted outgoing connections may negotiate MPTCP" "$tmp/status" &&
	! grep -q "strict     yes" "$tmp/status" &&
	ok "status: tcx/egress MISSING on lo, strict not claimed, exit 3" ||
	not_ok "status: tcx/egress MISSING on lo, strict not claimed, exit 3" "rc=$rc" \
		"$(cat "$tmp/status")"
run reload
expect "reload puts egress back and says so" 0 'stage 3 was missing on 1 interface hook'
got=$(out_to 7500)
[ "$got" = mptcp=fallback ] && [ "$(status_rc)" = 0 ] &&
	ok "after reload: the unlisted connect is TCP again, status exits 0" ||
	not_ok "after reload: the unlisted connect is TCP again, status exits 0" "$got" \
		"$(cat "$tmp/status")"

rm "$pins"/tc/*-ingress
got=$(in_to 7401)
[ "$got" = mptcp=yes ] && ok "ingress lost: the unlisted listener negotiates MPTCP" ||
	not_ok "ingress lost: the unlisted listener negotiates MPTCP" "$got"
rc=$(status_rc)
[ "$rc" = 3 ] && grep -q "^MISSING tcx/ingress on 1 interface .*unlisted listeners may negotiate MPTCP" "$tmp/status" &&
	ok "status: tcx/ingress MISSING, exit 3" ||
	not_ok "status: tcx/ingress MISSING, exit 3" "rc=$rc" "$(cat "$tmp/status")"
run reload
got=$(in_to 7401)
[ "$rc" = 0 ] && [ "$got" = mptcp=fallback ] && ok "reload puts ingress back: TCP again" ||
	not_ok "reload puts ingress back: TCP again" "rc=$rc $got" "$err"

# ---- a cgroup program ------------------------------------------------------------

rm "$pins"/cg-*/sock_create
got=$(out_to 7500)
rc=$(status_rc)
[ "$got" = mptcp=yes ] && [ "$rc" = 3 ] &&
	grep -q "MISSING    cgroup/sock_create is not attached to the cgroup: .*unlisted addresses may negotiate MPTCP" "$tmp/status" &&
	ok "sock_create lost: status says unlisted addresses may negotiate MPTCP, and they do" ||
	not_ok "sock_create lost: status says unlisted addresses may negotiate MPTCP, and they do" \
		"$got rc=$rc" "$(cat "$tmp/status")"
"$bin" stats --prometheus >"$tmp/prom" 2>&1
grep -q '^mptcp_upgrade_programs_missing{program="cgroup/sock_create",cgroup="/mu-repair/proxy"} 1$' "$tmp/prom" &&
	ok "stats --prometheus: the cgroup program's gauge is 1" ||
	not_ok "stats --prometheus: the cgroup program's gauge is 1" "$(cat "$tmp/prom")"
run reload
got=$(out_to 7500)
[ "$rc" = 0 ] && [ "$got" = mptcp=fallback ] && [ "$(status_rc)" = 0 ] &&
	ok "reload attaches sock_create again: TCP again, status exits 0" ||
	not_ok "reload attaches sock_create again" "rc=$rc $got" "$err" "$(cat "$tmp/status")"

# ---- follow repairs without being asked ------------------------------------------

"$bin" follow >"$tmp/follow.out" 2>&1 &
follow=$!
pids+=($follow)
need "follow started" grep -q following "$tmp/follow.out"
rm "$pins/link_upgrade_socket" "$pins"/tc/*-egress
# follow looks every 5 s: a bound of 10 s is twice that.
if wait_for grep -q "fmod_ret.*attached again" "$tmp/follow.out" &&
   wait_for grep -q "stage 3 was missing" "$tmp/follow.out"; then
	got="$(new_proto) $(out_to 7500)"
	[ "$got" = "proto=262 mptcp=fallback" ] &&
		ok "follow repaired the hook and egress by itself" ||
		not_ok "follow repaired the hook and egress by itself" "$got"
else
	not_ok "follow repaired the hook and egress by itself" "$(cat "$tmp/follow.out")"
fi
kill "$follow"
wait "$follow" 2>/dev/null

# ---- bpffs unmounted -------------------------------------------------------------

umount /sys/fs/bpf
# The links die with the pins in the kernel's own time (a work item): wait for it.
need "the engine gone with bpffs" sh -c "! bpftool prog show 2>/dev/null | grep -q mu_mark_socket"
got="$(new_proto) $(in_to 7401)"
[ "$got" = "proto=6 mptcp=yes" ] &&
	ok "bpffs unmounted: new sockets TCP, the old unlisted listener negotiates MPTCP" ||
	not_ok "bpffs unmounted: new sockets TCP, the old unlisted listener negotiates MPTCP" "$got"
rc=$(status_rc)
[ "$rc" = 3 ] && grep -q "^LOST    1 attachment recorded under $mu_state lost its engine's pins" "$tmp/status" &&
	grep -q "cgroup /mu-repair/proxy, policy $tmp/p.policy" "$tmp/status" &&
	grep -q "'mptcp-upgrade reload' attaches them again" "$tmp/status" &&
	ok "status: LOST, the attachment, and the command that restores it; exit 3" ||
	not_ok "status: LOST, the attachment, and the command that restores it; exit 3" \
		"rc=$rc" "$(cat "$tmp/status")"
run status --json
json_ok "status --json: the lost attachment, not healthy" \
	'.healthy == false and .lost_attachments[0].cgroup == "/mu-repair/proxy"'
run attach --cgroup /mu-repair/other --policy "$tmp/p.policy"
[ "$rc" = 0 ] && grep -q "1 attachment lost with the engine's pins is not restored" <<<"$err" &&
	ok "attach of another cgroup meanwhile says what is not restored" ||
	not_ok "attach of another cgroup meanwhile says what is not restored" "rc=$rc" "$err"
# A plain detach detaches the one attached; it forgets nothing it was not asked to.
run detach
[ "$rc" = 0 ] && "$bin" status --json | jq -e '.lost_attachments | length == 1' >/dev/null &&
	ok "a plain detach keeps the lost attachment's record" ||
	not_ok "a plain detach keeps the lost attachment's record" "rc=$rc" "$err" \
		"$("$bin" status)"
umount /sys/fs/bpf 2>/dev/null
# A record that can't be restored (its policy file refused now) fails the
# reload, says why, and stays for the next one.
chmod 666 "$tmp/p.policy"
run reload
[ "$rc" = 1 ] && grep -q "p.policy is world-writable: refusing it" <<<"$err" &&
	[ "$(status_rc)" = 3 ] && grep -q "^LOST" "$tmp/status" &&
	ok "a lost attachment whose policy is refused now: reload exits 1, says why, keeps it" ||
	not_ok "a lost attachment whose policy is refused now: reload exits 1, keeps it" "rc=$rc" \
		"$err" "$(cat "$tmp/status")"
chmod 644 "$tmp/p.policy"
run reload
got="$(new_proto) $(out_to 7500) $(out_to 7501)"
[ "$rc" = 0 ] && grep -q "^restored /mu-repair/proxy: policy $tmp/p.policy" <<<"$out" &&
	grep -q "restart the proxies" <<<"$err" && mountpoint -q /sys/fs/bpf &&
	[ "$got" = "proto=262 mptcp=fallback mptcp=yes" ] &&
	ok "reload restores the attachment: bpffs mounted, the policy applied again" ||
	not_ok "reload restores the attachment" "rc=$rc $got" "$out" "$err"
sink unlisted2 proxy 7402 tcp
got="$(in_to 7402) $(in_to 7401)"
[ "$got" = "mptcp=fallback mptcp=yes" ] && [ "$(status_rc)" = 0 ] &&
	ok "a new unlisted listener is TCP; the one from before stays MPTCP until restarted" ||
	not_ok "new unlisted listener TCP, old one MPTCP until restarted" "$got" \
		"$(cat "$tmp/status")"

# Lost, then forgotten: detach --all is the way out that restores nothing.
umount /sys/fs/bpf
mount -t bpf bpf /sys/fs/bpf	# a remount, as systemd would: the pins are gone all the same
need "the engine gone with bpffs" sh -c "! bpftool prog show 2>/dev/null | grep -q mu_mark_socket"
rc=$(status_rc)
[ "$rc" = 3 ] && grep -q "^LOST" "$tmp/status" &&
	ok "after a remount too, status says LOST" ||
	not_ok "after a remount too, status says LOST" "rc=$rc" "$(cat "$tmp/status")"
run detach --all
[ "$rc" = 0 ] && grep -q "forgot the attachment of /mu-repair/proxy" <<<"$err" &&
	[ "$(status_rc)" = 0 ] && grep -q "nothing is attached" "$tmp/status" &&
	ok "detach --all forgets a lost attachment" ||
	not_ok "detach --all forgets a lost attachment" "rc=$rc" "$err" "$(cat "$tmp/status")"

tap_end
