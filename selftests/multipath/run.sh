#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make bench-multipath: the multipath measurements (selftests/vm/multipath-guest.sh)
# with the attach engine on a kernel that runs it, here or in the QEMU guest
# (report in selftests/multipath/results/), then with the run engine on this
# machine's own kernel, at real speed (selftests/multipath/results/run/).
# Each is repeated RUNS times (3): the reports give medians and spreads.
# PATH_RATE, PATH_DELAY, BULK_BYTES and FAIL_AFTER change the set-up.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
raw=$(mktemp -d /var/tmp/mu-multipath.XXXXXX)
raw_run=$(mktemp -d /var/tmp/mu-multipath-run.XXXXXX)
trap 'rm -rf "$raw" "$raw_run"' EXIT
command -v gnuplot >/dev/null || { echo "Error: gnuplot missing (apt install gnuplot-nox)" >&2; exit 1; }
runs=${RUNS:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "Error: RUNS must be a positive number" >&2; exit 1; }
# repeat DIR CMD...: CMD RUNS times, with OUT=DIR/1, DIR/2, ...
repeat() {
	local dir=$1 i
	shift
	for ((i = 1; i <= runs; i++)); do
		echo "bench-multipath: run $i of $runs"
		OUT=$dir/$i "$@" || return 1
	done
}

if "$top/mptcp-upgrade" check --engine attach >/dev/null 2>&1; then
	echo "bench-multipath: this kernel runs the attach engine: measuring here"
	repeat "$raw" "$top/selftests/vm/multipath-guest.sh"
else
	echo "bench-multipath: this kernel refuses the socket hook: measuring in the QEMU guest"
	# One boot for every run: the guest's own loop (one line: the guest's sh
	# reads the command from a file), each run into its directory.
	MU_VM_OUT=$raw MU_VM_TIMEOUT=$((900 * runs)) "$top/selftests/vm/run-vm" env \
		PATH_RATE="${PATH_RATE:-50mbit}" PATH_DELAY="${PATH_DELAY:-10ms}" \
		BULK_BYTES="${BULK_BYTES:-40000000}" FAIL_AFTER="${FAIL_AFTER:-2}" \
		bash -c 'for ((i = 1; i <= $1; i++)); do echo "run $i of $1"; OUT=$2/$i "$3" || exit 1; done' \
		repeat "$runs" "$raw" "$top/selftests/vm/multipath-guest.sh"
fi
echo "bench-multipath: the run engine, on this machine's kernel"
ENGINE=run PATH_RATE="${PATH_RATE:-50mbit}" PATH_DELAY="${PATH_DELAY:-10ms}" \
	BULK_BYTES="${BULK_BYTES:-40000000}" FAIL_AFTER="${FAIL_AFTER:-2}" \
	repeat "$raw_run" "$top/selftests/vm/multipath-guest.sh"
rm -rf "$top/selftests/multipath/results"
"$top/selftests/multipath/report.sh" "$raw" "$top/selftests/multipath/results"
"$top/selftests/multipath/report.sh" "$raw_run" "$top/selftests/multipath/results/run"
