#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo: the main job on a built-in example. It validates and normalizes the
# policy an operator would write for HAProxy, shows how a wrong line is reported,
# asks the kernel whether the attach engine can run here, and then runs an
# unmodified HAProxy 2.6 upgraded by a policy: here when this kernel can, in a
# QEMU guest with Debian's 6.12 kernel when it can't.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
policy=$top/configs/haproxy.policy

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

step "The policy, in HAProxy's own address syntax ($policy)"
grep -v '^#' "$policy" | grep -v '^$'

step "mptcp-upgrade policy: what it normalizes to"
"$bin" policy "$policy" || exit 1

step "A wrong line is refused with its location (the policy in force would stay)"
bad=$(mktemp)
trap 'rm -f "$bad"' EXIT
printf 'bind mptcp@:443 ssl crt /etc/haproxy/site.pem\nbind :80\n' >"$bad"
cat "$bad"
"$bin" policy "$bad"
echo "(exit status $?)"

step "mptcp-upgrade check: which engine can this kernel run?"
"$bin" check
"$bin" check --engine attach >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	step "The engine, on this kernel"
	exec "$top/selftests/vm/demo-guest.sh"
fi
echo
echo "check --engine attach exited $rc: the attach engine cannot run on this kernel, for the"
echo "reason above."
echo "So the rest of the demo runs on Debian's bookworm-backports kernel in a QEMU"
echo "guest (downloaded once, unpacked, never installed; about a minute under emulation)."
exec "$top/selftests/vm/run-vm" "$top/selftests/vm/demo-guest.sh"
