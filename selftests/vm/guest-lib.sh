# SPDX-License-Identifier: GPL-2.0-only
# What the end-to-end suites share. Source it after setting $bin and $cgroot.

# Only where the engine runs: in the QEMU guest, or on a kernel check accepts.
if [ "${MU_VM_GUEST:-0}" != 1 ] && ! "$bin" check --engine attach >/dev/null 2>&1; then
	echo "1..0 # SKIP this kernel cannot run the attach engine: run through test_vm.sh"
	exit 0
fi

# in_cg CGROUP CMD...: run CMD as a process of $cgroot/CGROUP.
in_cg() {
	local cg=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroot/$cg" "$@"
}

listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
