#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo: the main job on a built-in example. It validates and normalizes the
# policy an operator would write for HAProxy, shows how a wrong line is reported,
# asks the kernel which engine can run here, and then runs an unmodified HAProxy
# 2.6 upgraded by a policy with the engine this kernel runs, natively: attach
# where it loads; run otherwise, then attach in a QEMU guest with Debian's 6.12
# kernel (MU_DEMO_VM=0 leaves the guest out).
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
if [ "$(id -u)" -ne 0 ]; then
	echo
	echo "The engines need root: run the demo as root (sudo make demo)." >&2
	exit 1
fi
if "$bin" check --engine attach >/dev/null 2>&1; then
	step "The attach engine, on this kernel"
	exec "$top/selftests/vm/demo-guest.sh"
fi
if "$bin" check --engine run >/dev/null 2>&1; then
	step "The run engine, on this kernel (the attach engine can't load here)"
	"$top/selftests/demo-run.sh" || exit 1
	if [ "${MU_DEMO_VM:-1}" = 0 ]; then
		echo
		echo "MU_DEMO_VM=0: the attach engine's part (in a QEMU guest) is left out."
		exit 0
	fi
	echo
	echo "Next, the attach engine, which this kernel refuses (see check above), on"
	echo "Debian's bookworm-backports kernel in a QEMU guest (downloaded once, unpacked,"
	echo "never installed; about a minute under emulation; MU_DEMO_VM=0 leaves it out)."
else
	echo
	if [ "${MU_DEMO_VM:-1}" = 0 ]; then
		echo "Neither engine can run here (see check above), and MU_DEMO_VM=0 leaves out" >&2
		echo "the QEMU guest where the attach engine would." >&2
		exit 1
	fi
	echo "Neither engine can run here, for the reasons above. The demo runs the attach"
	echo "engine on Debian's bookworm-backports kernel in a QEMU guest (downloaded once,"
	echo "unpacked, never installed; about a minute under emulation; MU_DEMO_VM=0 leaves"
	echo "it out)."
fi
exec "$top/selftests/vm/run-vm" "$top/selftests/vm/demo-guest.sh"
