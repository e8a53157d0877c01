# SPDX-License-Identifier: GPL-2.0-only
# TAP helpers shared by the shell test suites. Source it; call tap_end last.

n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do printf '#   %s\n' "$line"; done
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check NAME CMD...: ok when CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
tap_end() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}

# run ARGS...: $bin's exit code, stdout and stderr land in $rc, $out, $err.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

run_stdin() {
	local input=$1
	shift
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" <"$input"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect NAME RC [STDERR-REGEX]: exit code (and error text) as wanted.
expect() {
	local name=$1 want_rc=$2 want_err=${3:-}
	if [ "$rc" -ne "$want_rc" ]; then
		not_ok "$name" "exit $rc, want $want_rc" "stdout: $out" "stderr: $err"
	elif [ -n "$want_err" ] && ! grep -Eq -- "$want_err" <<<"$err"; then
		not_ok "$name" "stderr lacks /$want_err/" "stderr: $err"
	else
		ok "$name"
	fi
}

# json_ok NAME JQ-EXPR: $out is JSON and the expression holds.
json_ok() {
	if jq -e "$2" >/dev/null 2>&1 <<<"$out"; then
		ok "$1"
	else
		not_ok "$1" "jq '$2' is false or output is not JSON" "stdout: $out"
	fi
}

# wait_for CMD...: poll a condition every 0.1 s for at most 10 s (a bound, not a guess).
# need WHAT CMD...: wait for a test's precondition; one that never comes is a
# failed test naming it, not a misleading failure further on.
need() {
	local what=$1
	shift
	wait_for "$@" || not_ok "precondition: $what" "timed out waiting for: $*"
}
wait_for() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
