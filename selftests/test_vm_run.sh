#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The run engine inside QEMU guests with Debian's own kernels: bookworm's stock
# 6.1 (the kernel Debian 12 and its HAProxy 2.6 ship, which the attach engine
# cannot use: the run engine's floor) and bookworm-backports' 6.12. The host runs
# every case of test_run.sh and test_run_edges.sh natively, on its own kernel; a
# TCG guest is 5 to 20 times slower, so a guest runs only the cases whose result
# can differ with the kernel (MU_RUN_SCOPE=kernel: each group left out is one skip
# line that says so). What a guest keeps, and why it depends on the kernel:
#
# test_run.sh, in both guests:
# - listed and unlisted listeners and connects, v4-mapped, IPv6, the epoll carry
#   (fd 4 to 8), a second thread's connects: the swap itself, made of seccomp user
#   notification, SECCOMP_IOCTL_NOTIF_ADDFD, pidfd_getfd and kcmp(KCMP_EPOLL_TFD)
#   as this kernel has them (6.1 is the floor the engine claims).
# - status and stats of a program under run: the synchronous wake-up is in use
#   exactly on 6.6+, and the counts come from this kernel's mptcp_diag.
# - the options MPTCP refuses: the probe, TCP_USER_TIMEOUT with and without the
#   bridge, the blackholed subflow's timeout (net.mptcp.close_timeout exists from
#   6.8 on), IPV6_TCLASS on the wire, docs/bridge.md's socket-option table for this
#   kernel; and the verifier's walk of the bridge's programs: all per kernel.
# - Debian's HAProxy 2.6 and nginx (and make demo's run part): nginx's proxy_bind
#   sets IP_BIND_ADDRESS_NO_PORT, which MPTCP refuses before 6.3 or so.
# - the supervisor killed: what the kernel answers a watched call once the
#   listener is gone (ENOSYS), and the watcher's pidfd.
# Left to the host: bad input, a static binary and a child, the program's PID and
# exit status, the reload storm (2 x 4000 connects), the 10,000-connect leak
# check, reload: the supervisor's own logic, the same on every kernel.
#
# test_run_edges.sh, in the 6.1 guest (MU_EDGES_N=300 calls under the timer):
# - a 1 ms SIGALRM without SA_RESTART: how often a call is interrupted depends on
#   the wake-up the kernel offers (no synchronous wake-up before 6.6).
# - any number of epolls, made late, a stale entry: KCMP_EPOLL_TFD and fdinfo.
# - a high fd number; retries on one socket after a failure and connect(AF_UNSPEC),
#   which are the kernel's MPTCP socket; status from the wire (mptcp_diag).
# - options set before the call, which MPTCP takes or refuses per kernel
#   (SO_OOBINLINE, IP_TTL, ...), with the bridge and without.
# - second descriptors (dup, fork, vfork, CLONE_FILES) found through /proc and
#   kcmp; flags read back from fdinfo; a 128-byte address, the i386 entry (int 0x80,
#   a kernel option); TCP Fast Open (MPTCP has a client from 6.2); the sockaddr
#   changed during a connect (the bridge's cgroup connect program rewrites it);
#   io_uring; the cgroup the bridge's programs are attached to.
# Left to the host: SCM_RIGHTS of a listener, the registry across PID namespaces,
# a reload that resolves slowly, reload at start, the watcher killed.
#
# MU_VM_SUITES picks the guests (default "bookworm bookworm-backports"; make check
# boots them as two jobs, test_vm_run_6.1.sh and test_vm_run_6.12.sh);
# MU_VM_RUN_SCOPE=all runs the whole suites in them. Prints TAP, numbered across guests.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
scope=${MU_VM_RUN_SCOPE:-kernel}
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
		MU_RUN_SCOPE="$scope" "$top/selftests/${run#*:}" 2>&1)
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
