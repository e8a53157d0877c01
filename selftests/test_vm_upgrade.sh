#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Hand-overs from older engines to this one (vm/test_upgrade.sh), where test_vm.sh
# decides. The pin layout before ABI 7 (everything right in /sys/fs/bpf/mptcp-upgrade)
# is what users upgrade from first: a binary of it is built here, from the last
# commit that had it, when this clone has that commit (the guest's root is
# read-only, so not there).
top=$(cd "$(dirname "$0")/.." && pwd)
rev=81ccf3c
legacy=$top/.output/legacy-$rev/mptcp-upgrade
if [ ! -x "$legacy" ] && git -C "$top" cat-file -e "$rev^{commit}" 2>/dev/null; then
	src=$(mktemp -d /var/tmp/mu-legacy.XXXXXX)
	if git -C "$top" archive "$rev" | tar -x -C "$src" &&
	   make -C "$src" -s mptcp-upgrade >"$src/build.log" 2>&1; then
		mkdir -p "$(dirname "$legacy")" && cp "$src/mptcp-upgrade" "$legacy"
	else
		echo "# building $rev failed: $(tail -n 3 "$src/build.log" 2>/dev/null)"
	fi
	rm -rf "$src"
fi
exec "$top/selftests/test_vm.sh" "$top/selftests/vm/test_upgrade.sh"
