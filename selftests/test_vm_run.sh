#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The run engine's suites (test_run.sh; test_run_edges.sh at the floor) inside
# QEMU guests with Debian's own kernels: bookworm's stock 6.1 (the kernel Debian 12 and its HAProxy 2.6
# ship, which the attach engine cannot use) and bookworm-backports' 6.12. The
# host kernel runs it natively in test_run.sh. MU_VM_SUITES picks the suites
# (default "bookworm bookworm-backports"). Prints TAP, numbered across guests.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
n=0 failed=0
# The edge cases (test_run_edges.sh) at the floor too, 6.1: no synchronous
# wake-up there, and fewer calls under the timer (emulated, slow).
runs=()
for suite in ${MU_VM_SUITES:-bookworm bookworm-backports}; do
	runs+=("$suite:test_run.sh")
	[ "$suite" = bookworm ] && runs+=("$suite:test_run_edges.sh")
done
for run in "${runs[@]}"; do
	suite=${run%%:*}
	out=$(MU_VM_SUITE=$suite "$top/selftests/vm/run-vm" env MU_EDGES_N=300 \
		"$top/selftests/${run#*:}" 2>&1)
	rc=$?
	kver=$(sed -n 's/^run-vm: booting Linux \([^ ]*\) .*/\1/p' <<<"$out")
	echo "# $suite: Linux ${kver:-?}"
	# Each guest's TAP, renumbered and named by its kernel.
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			n=$((n + 1))
			status=${line%% [0-9]*}
			rest=${line#"$status "}
			rest=${rest#* }
			[ "$status" = "not ok" ] && failed=$((failed + 1))
			echo "$status $n [$suite ${kver:-?}] ${rest#- }"
			;;
		"1.."*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
		n=$((n + 1))
		echo "not ok $n [$suite] the guest's suite exited $rc"
		failed=1
	fi
done
echo "1..$n"
[ "$failed" = 0 ]
