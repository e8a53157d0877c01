#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo: what mptcp-upgrade does today, on its built-in example policy.
# It validates and normalizes the policy an operator would write for HAProxy,
# shows how a wrong line is reported (and that nothing is applied), and asks
# the kernel whether the attach engine can run here.
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

step "mptcp-upgrade check: can this kernel run the attach engine?"
"$bin" check
rc=$?
if [ "$rc" -ne 0 ]; then
	echo
	echo "check exited $rc: the attach engine cannot run on this kernel, for the reason above."
fi
exit 0
