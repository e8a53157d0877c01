#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Hand-overs from an older engine to this one (docs/upgrades.md), in a kernel
# that runs the attach engine (see test_vm_upgrade.sh). An older binary attaches
# a cgroup, a process of the cgroup makes connections without pause, and this
# binary takes the cgroup over: every socket made across it must be MPTCP, a
# connection made before keeps the older engine's socket-option bridge, and the
# older engine goes once its sockets are closed. Twice: from this tree built with
# the ABI before this one's, and from the unversioned pin layout of the last
# release before versioned pins. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
old=$top/.output/old-abi/mptcp-upgrade
legacy=$top/.output/legacy-81ccf3c/mptcp-upgrade
ho=$top/.output/selftests/mu_handover
sock=$top/.output/selftests/mu_sock
tmp=$(mktemp -d /tmp/mu-test.XXXXXX)
cgroot=/sys/fs/cgroup/mu-upg
base=/sys/fs/bpf/mptcp-upgrade
abi=$(sed -n 's/^#define MU_ENGINE_ABI[[:space:]]*\([0-9]*\).*/\1/p' "$top/include/mptcp_upgrade.h")
pids=()

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cleanup() {
	local p
	exec 7>&- 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$bin" detach --all >/dev/null 2>&1
	rm -rf "$base/v99"
	rmdir "$cgroot/att" "$cgroot/other" "$cgroot" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/vm/guest-lib.sh
. "$top/selftests/vm/guest-lib.sh"

# Up to a minute (the guest is slow): what TCG takes for sockets to close.
wait_long() { WAIT_TENTHS=600 wait_for "$@"; }

[ -x "$old" ] || { echo "1..0 # SKIP $old is not built (make vmtest builds it)"; exit 0; }
mkdir -p "$cgroot/att" "$cgroot/other"
printf 'mptcp4@127.0.0.1:9000\n' >"$tmp/p.policy"
[ -n "${MU_VM_KDIR:-}" ] && modprobe -d "$MU_VM_KDIR" -a tcp_diag mptcp_diag 2>/dev/null

# The peer: a plain MPTCP server outside the attached cgroup.
"$sock" sink 127.0.0.1 9000 900 >"$tmp/sink.out" 2>&1 &
pids+=($!)
need "the server ready" grep -q ready "$tmp/sink.out"

bridged=no
"$bin" check --json | jq -e '.sockopts.carried | index("TCP_USER_TIMEOUT")' >/dev/null &&
	bridged=yes

new_upgraded() { "$bin" status --json | jq -r '.attachments[0].counters.sockets_upgraded'; }
cg_progs() { bpftool -j cgroup show "$cgroot/att" | jq length; }
hook_links() { bpftool -j link show | jq '[.[] | select(.type == "tracing")] | length'; }

# handover NAME OLDBIN OLDPINS OLDSTATE CMD [OLDABI]: attach with OLDBIN (of engine ABI
# OLDABI, this one's minus 1 by default), hand over with `$bin CMD`.
handover() {
	local name=$1 oldbin=$2 oldpins=$3 oldstate=$4 cmd=$5 oldabi=${6:-$((abi - 1))}
	local churn keep got before

	run_old() { "$oldbin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; rc=$?; }
	run_old attach --cgroup /mu-upg/att --policy "$tmp/p.policy"
	[ "$rc" = 0 ] && [ -e "$oldpins/link_upgrade_socket" ] && [ "$(cg_progs)" = 8 ] &&
		ok "$name: the older binary attached, its pins under $oldpins" ||
		not_ok "$name: the older binary attached" "rc=$rc" "$(cat "$tmp/err")" "$(ls "$oldpins")"

	# A connection made under the older engine, held across the hand-over.
	rm -f "$tmp/go"
	mkfifo "$tmp/go"
	exec 7<>"$tmp/go"
	in_cg att "$ho" keep 127.0.0.1 9000 <"$tmp/go" >"$tmp/keep.out" 2>&1 &
	keep=$!
	pids+=($keep)
	need "$name: the early connection" grep -q connected "$tmp/keep.out"
	grep -q 'connected proto=262 echo=ok' "$tmp/keep.out" &&
		ok "$name: a connection made under the older engine is MPTCP" ||
		not_ok "$name: the early connection is MPTCP" "$(cat "$tmp/keep.out")"

	# Connections without pause, from before the hand-over to after it.
	rm -f "$tmp/stop"
	in_cg att "$ho" churn 127.0.0.1 9000 "$tmp/stop" 100000 >"$tmp/churn.out" 2>&1 &
	churn=$!
	pids+=($churn)
	need "$name: the churn running" grep -q ready "$tmp/churn.out"
	run "$cmd"
	expect "$name: '$cmd' exits 0" 0
	grep -q "handed over /mu-upg/att from ABI $oldabi" \
		<<<"$out$err" && ok "$name: '$cmd' says it handed /mu-upg/att over" ||
		not_ok "$name: '$cmd' says what it handed over" "$out" "$err"
	# Twenty sockets made by this engine, then stop: the churn spans the hand-over.
	before=$(new_upgraded)
	wait_long sh -c "[ \$('$bin' status --json | jq -r '.attachments[0].counters.sockets_upgraded') -ge $((before + 20)) ]" ||
		not_ok "$name: the churn goes on under the new engine" "$(cat "$tmp/churn.out")"
	touch "$tmp/stop"
	wait "$churn"
	got=$(tail -n 1 "$tmp/churn.out")
	[[ $got =~ ^churn\ n=([0-9]+)\ mptcp=([0-9]+)\ tcp=0\ failed=0$ ]] &&
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[1]}" -ge 20 ] &&
		ok "$name: every socket made across the hand-over is MPTCP ($got)" ||
		not_ok "$name: every socket made across the hand-over is MPTCP" "$got"

	got=$("$bin" status --json | jq -r '[.pins, (.attachments | length), .attachments[0].cgroup] | join(" ")')
	[ "$got" = "$base/v$abi 1 /mu-upg/att" ] && [ ! -e "$oldpins/link_upgrade_socket" ] &&
		ok "$name: status shows the cgroup attached by ABI $abi; the older hook is gone" ||
		not_ok "$name: status shows the cgroup attached by this ABI" "$got" "$(ls "$oldpins")"
	[ ! -e "$oldstate" ] && ok "$name: the older engine's state is gone" ||
		not_ok "$name: the older engine's state is gone" "$(ls -d "$oldstate")"

	# status says the older engine drains, in both renderings, while the early connection lives.
	got=$("$bin" status --json | jq -c '[.older_engines[] | [.handed_over, (.sockets > 0)]]')
	[ "$got" = '[[true,true]]' ] && "$bin" status | grep -q '^OLDER   the ABI .*, handed over, serves' &&
		ok "$name: status shows the older engine handed over and serving its sockets" ||
		not_ok "$name: status shows the older engine draining" "$got" "$("$bin" status)"

	# The older version's own commands (its follow, its reload) can't put its
	# hook back: the engine is sealed (docs/upgrades.md).
	"$oldbin" reload >"$tmp/old-reload.out" 2>&1
	[ ! -e "$oldpins/link_upgrade_socket" ] && [ "$(hook_links)" = 1 ] &&
		ok "$name: the older binary's reload after the hand-over does not bring its hook back" ||
		not_ok "$name: the older binary can't reattach its hook" "hooks $(hook_links)" \
			"$(cat "$tmp/old-reload.out")" "$(ls "$oldpins")"

	# The older engine's bridge still serves the connection it upgraded.
	if [ "$bridged" = yes ]; then
		echo go >&7
		wait "$keep"
		grep -q '^after set=0 got=4321 echo=ok$' "$tmp/keep.out" &&
			ok "$name: TCP_USER_TIMEOUT through the older engine's bridge on an early connection" ||
			not_ok "$name: the early connection keeps its bridge" "$(cat "$tmp/keep.out")"
	else
		echo go >&7
		wait "$keep"
		skip "$name: the bridge on an early connection" "this kernel takes TCP_USER_TIMEOUT on MPTCP sockets"
	fi
	exec 7>&-

	# Its sockets closed, the next command removes the older engine.
	if wait_long sh -c "'$bin' status >/dev/null 2>&1; [ ! -e '$oldpins/sock_states' ]"; then
		[ "$(cg_progs)" = 8 ] && [ "$(hook_links)" = 1 ] &&
			[ "$(ls "$base")" = "v$abi" ] &&
			ok "$name: the older engine's pins and links are gone once its sockets closed" ||
			not_ok "$name: only this engine's links are left" "progs $(cg_progs)" \
				"hooks $(hook_links)" "$(ls "$base")"
	else
		not_ok "$name: the older engine goes once its sockets closed" "$("$bin" status)" \
			"$(ls -R "$base")"
	fi
	"$bin" detach --all >/dev/null 2>&1
}

handover "ABI $((abi - 1))" "$old" "$base/v$((abi - 1))" "/run/mptcp-upgrade/v$((abi - 1))" upgrade

# ---- refusals ----------------------------------------------------------------------

"$old" attach --cgroup /mu-upg/att --policy "$tmp/p.policy" >/dev/null 2>&1
run attach --cgroup /mu-upg/other --policy "$tmp/p.policy"
expect "attach beside an older engine points to upgrade" 1 \
	"^Error: an engine of an older version still runs: 'mptcp-upgrade upgrade'"
[ ! -e "$base/v$abi" ] && [ -e "$base/v$((abi - 1))/link_upgrade_socket" ] &&
	ok "the refused attach changed nothing" || not_ok "the refused attach changed nothing" "$(ls "$base")"
run upgrade
expect "upgrade hands it over" 0
got=$("$old" status 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "^Error: the engine pinned under $base/v$abi is of a newer mptcp-upgrade (ABI $abi, this one is ABI $((abi - 1)))" <<<"$got" &&
	ok "an older binary refuses this engine in one line" || not_ok "an older binary refuses a newer engine" "rc=$rc" "$got"

# A newer engine than this one: refused by every command, never touched.
mkdir -p "$base/v99"
bpftool map create "$base/v99/engine_abi" type array key 4 value 4 entries 1 name engine_abi &&
	bpftool map update pinned "$base/v99/engine_abi" key 0 0 0 0 value 99 0 0 0
before=$(ls -R "$base" "/run/mptcp-upgrade")
for c in status upgrade "detach --all" reload; do
	# shellcheck disable=SC2086
	run $c
	expect "'$c' refuses a newer engine in one line" 1 \
		"^Error: the engine pinned under $base/v99 is of a newer mptcp-upgrade \\(ABI 99, this one is ABI $abi\\)"
done
[ "$(ls -R "$base" "/run/mptcp-upgrade")" = "$before" ] && ok "the refusals changed nothing" ||
	not_ok "the refusals changed nothing" "$before" "$(ls -R "$base" /run/mptcp-upgrade)"
rm -rf "$base/v99"
got=$("$bin" status --json | jq -r '.attachments[0].cgroup')
[ "$got" = /mu-upg/att ] && ok "the attachment is intact after the refusals" ||
	not_ok "the attachment is intact after the refusals" "$got"
"$bin" detach --all >/dev/null 2>&1

# ---- a hand-over killed midway: the next command completes it ---------------------------

for point in handover-attached handover-unhooked; do
	"$old" attach --cgroup /mu-upg/att --policy "$tmp/p.policy" >/dev/null 2>&1
	(MPTCP_UPGRADE_CRASH_AT=$point "$bin" upgrade; exit $?) >/dev/null 2>&1
	krc=$?
	during=$(in_cg att "$sock" proto 4)
	run upgrade
	got=$("$bin" status --json | jq -r '[.pins, (.attachments | length), .attachments[0].cgroup] | join(" ")')
	[ "$krc" = 137 ] && [ "$during" = proto=262 ] && [ "$rc" = 0 ] &&
		[ "$got" = "$base/v$abi 1 /mu-upg/att" ] && [ "$(ls "$base")" = "v$abi" ] &&
		[ ! -e "/run/mptcp-upgrade/v$((abi - 1))" ] && [ "$(cg_progs)" = 8 ] &&
		ok "an upgrade killed at $point: sockets stay MPTCP, the next upgrade completes it" ||
		not_ok "an upgrade killed at $point is completed by the next" "exit $krc, $during" \
			"rc=$rc $out $err" "$got" "$(ls -R "$base")"
	"$bin" detach --all >/dev/null 2>&1
done

# Killed while the older state files were being removed: one gone, one left.
"$old" attach --cgroup /mu-upg/att --policy "$tmp/p.policy" >/dev/null 2>&1
"$old" attach --cgroup /mu-upg/other --policy "$tmp/p.policy" >/dev/null 2>&1
(MPTCP_UPGRADE_CRASH_AT=handover-unhooked "$bin" upgrade; exit $?) >/dev/null 2>&1
krc=$?
left=$(ls "/run/mptcp-upgrade/v$((abi - 1))" 2>/dev/null | grep -c '^attach-[0-9]*\.json$')
rm -f "/run/mptcp-upgrade/v$((abi - 1))/attach-0.json"
run upgrade
got=$("$bin" status --json | jq -r '[.pins, (.attachments | length)] | join(" ")')
[ "$krc" = 137 ] && [ "$left" = 2 ] && [ "$rc" = 0 ] && [ "$got" = "$base/v$abi 2" ] &&
	[ ! -e "/run/mptcp-upgrade/v$((abi - 1))" ] &&
	ok "an upgrade killed while removing the older state files: the next one completes it" ||
	not_ok "an upgrade killed while removing the older state files is completed by the next" \
		"exit $krc, $left state files" "rc=$rc $out $err" "$got" "$(ls -R "$base")"
"$bin" detach --all >/dev/null 2>&1

# ---- from the unversioned layout ------------------------------------------------------

if [ -x "$legacy" ]; then
	# The last engine of that layout, at 81ccf3c, is ABI 6 (include/mptcp_upgrade.h there).
	handover "unversioned layout" "$legacy" "$base" "/run/mptcp-upgrade/attach-0.json" reload 6
else
	skip "the hand-over from the unversioned pin layout" \
		"no binary of it ($legacy): this clone lacks commit 81ccf3c, or its build failed"
fi

tap_end
