#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The end-to-end suites that need a kernel which runs the socket-creation hook.
# On a kernel that does (check passes), they run here; otherwise, as on the
# locked-down build machines, inside a QEMU guest booted from Debian's
# bookworm-backports kernel (run-vm). Prints the suites' TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
suite=${1:-$top/selftests/vm/test_attach.sh}

if "$top/mptcp-upgrade" check --engine attach >/dev/null 2>&1; then
	echo "# this kernel runs the attach engine: testing here"
	exec "$suite"
fi
echo "# this kernel cannot run the attach engine ($("$top/mptcp-upgrade" check --engine attach 2>&1 |
	sed -n 's/^Error: //p')): testing in a QEMU guest"
exec "$top/selftests/vm/run-vm" "$suite"
