#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A third-party socket test suite under `run`: CPython's own tests of its
# socket-based modules (ftplib, asyncore, asynchat, telnetlib, poplib, smtplib,
# selectors), every loopback address listed, so that every TCP socket they make
# becomes MPTCP. They must pass as they do on native MPTCP sockets (mptcpize,
# the same run): the tests that fail there fail for what MPTCP itself does
# (no urgent data; a peer's reset after close not seen by a send), and are
# named. test_ftplib's server sets SO_OOBINLINE on every connection, which
# MPTCP refuses: natively its clients wait for ever; under run the bridge
# answers it and it passes. In a network namespace of its own. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${MU_RUN_BIN:-$top/mptcp-upgrade}

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the run engine needs root"
	exit 0
fi
# Debian's python3 with its test suite (make deps installs it), else the first
# python3 on PATH that has one.
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import test.support, test.test_ftplib, test.test_asyncore' 2>/dev/null; then
		py=$(command -v "$p")
		break
	fi
done
if [ -z "$py" ]; then
	echo "1..0 # SKIP no python3 with its test suite (Debian: libpython3.X-testsuite; make deps installs it)"
	exit 0
fi
if [ -z "${MU_THIRDPARTY_NETNS:-}" ]; then
	exec unshare -n -m env MU_THIRDPARTY_NETNS=1 "$0" "$@"
fi
ip link set dev lo up
own_registry
sysctl -qw net.mptcp.enabled=1

tmp=$(mktemp -d /tmp/mu-thirdparty.XXXXXX)
chmod 755 "$tmp"
trap 'pkill -f "^$bin run --policy $tmp/" 2>/dev/null; rm -rf "$tmp"' EXIT
printf 'mptcp@0.0.0.0\nmptcp@[::]\n' >"$tmp/all.policy"

modules="test_ftplib test_asyncore test_asynchat test_telnetlib test_poplib test_smtplib test_selectors"
# pytest-style names of the tests that failed or errored, one per line.
failures() { sed -n 's/^\(FAIL\|ERROR\): \([^ ]*\) (\([^)]*\)).*/\3/p' "$1" | sort -u; }
mib() { nstat -asz 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
# How many modules the summary accounts for (passed or failed): all of them,
# or the run was cut short (a timeout, a crash) and its failures say nothing.
accounted() {
	awk '/^[0-9]+ tests? OK\.$/ { n += $1 } /^[0-9]+ tests? failed:$/ { n += $1 }
	     /^All [0-9]+ tests OK\.$/ { n += $2 } END { print n + 0 }' "$1"
}
nr_modules=$(wc -w <<<"$modules")

syn0=$(mib MPTcpExtMPCapableSYNRX)
cd "$tmp" || exit 1
timeout 600 "$bin" run --policy "$tmp/all.policy" -- \
	"$py" -m test -v --timeout 120 $modules >"$tmp/run.log" 2>&1
syn1=$(mib MPTcpExtMPCapableSYNRX)
run_fail=$(failures "$tmp/run.log")
run_done=$(accounted "$tmp/run.log")
[ "$run_done" -eq "$nr_modules" ] && ! grep -Eq 'test_[a-z_.]+ timed out \(' "$tmp/run.log" &&
	ok "the suite ran to its end under run: $run_done of $nr_modules modules accounted for, none timed out" ||
	not_ok "the suite ran to its end under run" "$run_done of $nr_modules modules" \
		"$(tail -15 "$tmp/run.log")"
[ $((${syn1:-0} - ${syn0:-0})) -gt 100 ] &&
	ok "the suite's connections are MPTCP under run ($((${syn1:-0} - ${syn0:-0})) MP_CAPABLE SYNs received)" ||
	not_ok "the suite's connections are MPTCP under run" "MP_CAPABLE SYNs: ${syn0:-?} -> ${syn1:-?}"
ftp_ok=$(grep -c '(test\.test_ftplib\..*\.\.\. ok$' "$tmp/run.log")
[ "$ftp_ok" -gt 50 ] && ! grep -q '^test\.test_ftplib\.' <<<"$run_fail" &&
	ok "test_ftplib (an asyncore FTP server setting SO_OOBINLINE on each connection) passes under run: $ftp_ok tests, none failed" ||
	not_ok "test_ftplib passes under run" "$(grep -E 'test_ftplib|^(FAIL|ERROR)' "$tmp/run.log" | head -20)"

if command -v mptcpize >/dev/null; then
	# The same modules on native MPTCP sockets, but test_ftplib, whose clients
	# wait for ever there (SO_OOBINLINE refused).
	timeout 600 mptcpize run "$py" -m test -v --timeout 120 ${modules#test_ftplib } \
		>"$tmp/native.log" 2>&1
	native_fail=$(failures "$tmp/native.log")
	native_done=$(accounted "$tmp/native.log")
	[ "$native_done" -eq $((nr_modules - 1)) ] && [ "$run_fail" = "$native_fail" ] &&
		ok "every other test passes or fails under run as on native MPTCP sockets ($(echo $run_fail | wc -w) fail on both: $(echo $run_fail | tr ' ' '\n' | sed 's/.*\.//' | sort -u | tr '\n' ' '))" ||
		not_ok "the suite under run is as on native MPTCP sockets" \
			"native modules accounted for: $native_done of $((nr_modules - 1))" \
			"run only: $(comm -23 <(echo "$run_fail") <(echo "$native_fail") | tr '\n' ' ')" \
			"native only: $(comm -13 <(echo "$run_fail") <(echo "$native_fail") | tr '\n' ' ')"
else
	skip "the suite under run as on native MPTCP sockets" "no mptcpize (Debian: mptcpize)"
fi
tap_end
