#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Command-line tests: exit codes, the one-line errors, JSON output, and `check`
# on the running kernel, judged against what the test finds out on its own.
# Prints TAP for prove.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

# one_line_error NAME: stderr is exactly one "Error: " line and stdout is empty.
one_line_error() {
	local lines
	lines=$(printf '%s' "$err" | grep -c '')
	if [ "$lines" -eq 1 ] && [[ $err == Error:\ * ]] && [ -z "$out" ]; then
		ok "$1"
	else
		not_ok "$1" "want one 'Error:' line on stderr and no stdout" \
			"stdout: $out" "stderr ($lines lines): $err"
	fi
}

# ---- global options and help -----------------------------------------------

version=$(cat "$top/VERSION")
run --version
expect "--version exits 0" 0
[[ $out == "mptcp-upgrade v$version"* ]] && ok "--version prints v$version" ||
	not_ok "--version prints v$version" "got: $out"
run -j version
json_ok "version --json is JSON with the version" ".version == \"$version\""

run
expect "no command is a usage error (exit 2)" 2 '^Usage: mptcp-upgrade'
run help
expect "help exits 0" 0
grep -q '^  policy ' <<<"$out" && grep -q '^  check ' <<<"$out" &&
	ok "help lists policy and check" || not_ok "help lists policy and check" "$out"
while read -r cmd form; do
	# shellcheck disable=SC2086
	run $form
	if [ "$rc" -eq 0 ] && grep -q "^Usage: mptcp-upgrade $cmd " <<<"$out"; then
		ok "'$form' prints the $cmd usage"
	else
		not_ok "'$form' prints the $cmd usage" "exit $rc" "$out"
	fi
done <<'FORMS'
policy policy help
check check help
policy help policy
check help check
policy policy --help
check check -h
check --help check
FORMS

run frobnicate
expect "unknown command: exit 2" 2 "^Error: unknown command 'frobnicate'"
one_line_error "unknown command: one error line"
run -j frobnicate
json_ok "unknown command in JSON mode: a JSON error" '.error | test("unknown command")'
[ "$rc" -eq 2 ] && ok "unknown command in JSON mode: exit 2" ||
	not_ok "unknown command in JSON mode: exit 2" "exit $rc"

# ---- policy ------------------------------------------------------------------

run policy
expect "policy without FILE: exit 2" 2 "^Error: policy: missing FILE"
run policy a b
expect "policy with two files: exit 2" 2 "expected one FILE"
run policy --bogus
expect "policy with an unknown option: exit 2" 2 "unknown option '--bogus'"

run policy "$top/configs/haproxy.policy"
expect "example policy is valid" 0
[ "$(grep -c '' <<<"$out")" -eq 7 ] && ok "example policy: header + 6 entries" ||
	not_ok "example policy: header + 6 entries" "$out"
grep -Eq '^bind +ipv6 +::/0 +443 +6 +mptcp6@\[::\]:443$' <<<"$out" &&
	ok "plain output: role, family, prefix, ports, line, address" ||
	not_ok "plain output: role, family, prefix, ports, line, address" "$out"

run policy --json "$top/configs/haproxy.policy"
json_ok "policy --json: entries with every field" \
	'(.entries | length) == 6 and .lines == 5 and .entries[3] == {"role":"connect",
	  "family":"ipv4","prefix":"198.51.100.5/32","port_min":80,"port_max":80,"line":12,
	  "column":13,"source":"mptcp@198.51.100.5:80","host":null}'
run policy "$top/configs/haproxy.policy" -p
json_ok "options after the file work too (-p)" '.entries | length == 6'

printf 'bind mptcp@:443\r\nserver s1 mptcp4@localhost:80 check\r\n' >"$tmp/crlf.policy"
run policy -j "$tmp/crlf.policy"
json_ok "CRLF file, host name resolved at load" \
	'.entries[1] | .prefix == "127.0.0.1/32" and .host == "localhost" and .role == "connect"'

run_stdin "$tmp/crlf.policy" policy -
expect "policy - reads standard input" 0
grep -q 'mptcp4@localhost:80 (localhost)' <<<"$out" && ok "stdin policy printed" ||
	not_ok "stdin policy printed" "$out"

printf '# ok\nbind mptcp@:443\nbind :80 ssl\n' >"$tmp/bad.policy"
run policy "$tmp/bad.policy"
expect "bad policy: exit 1 with file:line:col and the text" 1 \
	"^Error: $tmp/bad.policy:3:6: address ':80' has no mptcp@, mptcp4@ or mptcp6@ prefix"
one_line_error "bad policy: one error line, nothing on stdout"
run policy --json "$tmp/bad.policy"
json_ok "bad policy in JSON mode: a JSON error" ".error | startswith(\"$tmp/bad.policy:3:6: \")"

printf 'server s1 mptcp@10.0.0.5:+1000\n' >"$tmp/offset.policy"
run policy "$tmp/offset.policy"
expect "server port offset: exit 1" 1 ":1:26: port offset '\\+1000' is not supported"

run policy /nonexistent/haproxy.policy
expect "missing file: exit 1" 1 \
	"^Error: can't open policy file /nonexistent/haproxy.policy: No such file or directory$"
one_line_error "missing file: one error line"

run policy /bin/true
expect "binary file: exit 1" 1 "NUL byte"
one_line_error "binary file: one error line"

head -c 1048576 /dev/zero | tr '\0' 'x' >"$tmp/huge.policy"
run policy "$tmp/huge.policy"
expect "1 MB junk line: exit 1" 1 "huge.policy:1:1: unknown keyword 'x{64}\\.\\.\\.'"
[ ${#err} -lt 300 ] && ok "1 MB junk line: the error stays short" ||
	not_ok "1 MB junk line: the error stays short" "${#err} bytes"

: >"$tmp/empty.policy"
run policy -j "$tmp/empty.policy"
json_ok "empty policy is valid and empty" '.entries == [] and .lines == 0'

# ---- check -------------------------------------------------------------------

# What the test finds out by itself, to judge check's verdict against.
lockdown=unknown
if [ -r /sys/kernel/security/lockdown ]; then
	lockdown=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/security/lockdown)
elif [ "$(id -u)" -eq 0 ]; then
	lockdown=$(unshare -m sh -c 'mount --make-rprivate / &&
		mount -t securityfs none /sys/kernel/security &&
		sed -n "s/.*\[\(.*\)\].*/\1/p" /sys/kernel/security/lockdown' 2>/dev/null ||
		echo unknown)
fi
has_hook=no
if [ -r /sys/kernel/btf/vmlinux ] && command -v bpftool >/dev/null &&
   bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null |
   grep -q "FUNC 'update_socket_protocol'"; then
	has_hook=yes
fi

run check
check_rc=$rc check_out=$out
if [ "$(id -u)" -ne 0 ]; then
	skip "check names the trampoline refusal" "needs root to load BPF"
elif [ "$has_hook" = yes ] && [ "$lockdown" != none ] && [ "$lockdown" != unknown ]; then
	# A locked-down kernel (these CI machines): the attach engine can't, run can.
	refusal="the kernel refuses BPF trampolines: loading fmod_ret/update_socket_protocol"
	refusal+=" failed with EPERM as root; kernel lockdown mode: $lockdown"
	expect "check where only the run engine works exits 0 (an engine works)" 0
	grep -q '^Error' <<<"$err" && not_ok "check where an engine works prints no error" "$err" ||
		ok "check where an engine works prints no error"
	grep -Eq "^attach +can't +trampolines: $refusal\$" <<<"$out" &&
		grep -Eq '^run +can run +here: mptcp-upgrade run --policy FILE -- COMMAND$' <<<"$out" &&
		ok "check says why attach can't, and that run can" ||
		not_ok "check says why attach can't, and that run can" "$out"
	grep -Eq '^run_engine +ok ' <<<"$out" &&
		ok "check says the run engine can run here" ||
		not_ok "check says the run engine can run here" "$out"
	grep -Eq '^trampolines +missing ' <<<"$out" &&
		ok "check prints trampolines as missing" ||
		not_ok "check prints trampolines as missing" "$out"
	run check --engine attach
	expect "check --engine attach on a locked-down kernel exits 1, and points to the run engine" 1 \
		"^Error: the attach engine can't run here: trampolines: $refusal; the run engine can \\('mptcp-upgrade run --policy FILE -- COMMAND'\\)$"
elif [ "$has_hook" = no ]; then
	run check --engine attach
	expect "check --engine attach on a kernel without the hook exits 1" 1 "hook: update_socket_protocol"
else
	expect "check on an unlocked kernel with the hook exits 0" 0
	grep -Eq '^trampolines +ok ' <<<"$out" && ok "check prints trampolines as ok" ||
		not_ok "check prints trampolines as ok" "$out"
	grep -Eq '^attach +can run +here$' <<<"$out" && ok "check says attach can run here" ||
		not_ok "check says attach can run here" "$out"
fi
if [ "$(id -u)" -eq 0 ] && grep -Eq '^run_engine +ok ' <<<"$check_out"; then
	run check --engine run
	expect "check --engine run where the run engine works: exit 0" 0
else
	skip "check --engine run" "needs root and a kernel the run engine works on"
fi
run check --engine nonsense
expect "check --engine with another word: exit 2" 2 "--engine takes attach or run, not 'nonsense'"
run check --engine
expect "check --engine without a word: exit 2" 2 "--engine takes attach or run"
out=$check_out
for req in privileges btf hook trampolines programs cgroup2 bpffs mptcp mptcp_diag; do
	grep -Eq "^$req +(ok|warn|missing|unknown) " <<<"$out" ||
		{ not_ok "check prints the $req line" "$out"; continue; }
	ok "check prints the $req line"
done
cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$cg2" ]; then
	grep -Eq "^cgroup2 +ok +mounted at $cg2" <<<"$out" && ok "check finds cgroup v2 at $cg2" ||
		not_ok "check finds cgroup v2 at $cg2" "$out"
else
	grep -Eq '^cgroup2 +missing' <<<"$out" && ok "check reports no cgroup v2" ||
		not_ok "check reports no cgroup v2" "$out"
fi
if grep -q ' - bpf ' /proc/self/mountinfo; then
	grep -Eq '^bpffs +ok ' <<<"$out" && ok "check finds bpffs" || not_ok "check finds bpffs" "$out"
else
	grep -Eq '^bpffs +warn +not mounted' <<<"$out" && ok "check reports bpffs not mounted" ||
		not_ok "check reports bpffs not mounted" "$out"
fi
grep -q ' - securityfs ' /proc/self/mountinfo && had_securityfs=yes || had_securityfs=no
[ "$had_securityfs" = no ] && grep -q ' - securityfs ' /proc/self/mountinfo &&
	not_ok "check leaves the machine's mounts alone" ||
	ok "check leaves the machine's mounts alone"

"$bin" check --engine attach >/dev/null 2>&1
attach_rc=$?
run check --json
# Under ip netns exec (its own /sys, without cgroup2), check says what happened and
# where the machine's cgroup2 is (review D7: it said only that cgroup2 was missing).
if [ "$(id -u)" -eq 0 ] && ip netns add mu-cli-chk 2>/dev/null; then
	got=$(ip netns exec mu-cli-chk "$bin" check --json 2>/dev/null |
		jq -r '.requirements[] | select(.name == "cgroup2") | .state + " " + .detail')
	ip netns del mu-cli-chk
	grep -q '^missing not in this mount namespace, which has a /sys of its own (as under ip netns exec); the machine has cgroup v2 at /' <<<"$got" &&
		ok "check under ip netns exec says why cgroup2 is missing, and where it is" ||
		not_ok "check under ip netns exec says why cgroup2 is missing" "$got"
else
	skip "check under ip netns exec" "needs root to add a network namespace"
fi
json_ok "check --json: twelve requirements, ready matches the exit code, each engine's verdict" \
	"(.requirements | length) == 12 and .ready == ($check_rc == 0) and
	 (.requirements | map(.name) | index(\"trampolines\")) != null and
	 .engines.attach.ready == ($attach_rc == 0) and
	 .ready == (.engines.attach.ready or .engines.run.ready) and
	 ((.engines.attach.ready) or (.engines.attach.error | length > 0))"
if [ "$(id -u)" -eq 0 ]; then
	json_ok "check --json: the socket options probed (67 known, what is carried is refused, the unnamed scanned)" \
		".sockopts | (.known | length) == 67 and (.known | unique | length) == 67 and
		 ((.carried - .refused) | length) == 0 and (.refused_unnamed | type) == \"array\""
else
	skip "check --json: the socket options probed" "needs root"
fi
[ "$rc" -eq "$check_rc" ] && ok "check --json exits as check does" ||
	not_ok "check --json exits as check does" "exit $rc, plain exited $check_rc"

run -d check
grep -q '^libbpf: ' <<<"$err" && ok "-d shows libbpf output" || not_ok "-d shows libbpf output" "$err"
run check
grep -q 'libbpf' <<<"$err" && not_ok "without -d libbpf stays quiet" "$err" ||
	ok "without -d libbpf stays quiet"

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
	# A network namespace of our own with MPTCP off: upgraded sockets would fail there.
	unshare -n sh -c "sysctl -qw net.mptcp.enabled=0 && exec '$bin' check" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$? out=$(cat "$tmp/out") err=$(cat "$tmp/err")
	expect "check in a netns with net.mptcp.enabled=0 exits 1" 1 \
		"mptcp: net.mptcp.enabled = 0 in this network namespace: upgraded sockets would fail with ENOPROTOOPT"
else
	skip "check in a netns with net.mptcp.enabled=0" "needs root and unshare -n"
fi

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	cp "$bin" "$tmp/mu" && chmod 755 "$tmp" "$tmp/mu"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$tmp/mu" check >"$tmp/out" 2>"$tmp/err"
	rc=$? out=$(cat "$tmp/out") err=$(cat "$tmp/err")
	expect "check as an unprivileged user exits 1 and says to run as root" 1 \
		"privileges: lacking CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN \\(run as root\\)"
	grep -Eq '^trampolines +unknown +not probed: needs root' <<<"$out" &&
		ok "unprivileged check does not pretend to know about trampolines" ||
		not_ok "unprivileged check does not pretend to know about trampolines" "$out"
else
	skip "check as an unprivileged user" "needs root to drop to another user"
fi

run check extra
expect "check with an argument: exit 2" 2 "unexpected argument 'extra'"

# ---- attach, reload, detach, status: the paths that fail before the kernel ------

run attach
expect "attach without options: exit 2" 2 "needs --cgroup CGROUP and --policy FILE"
run attach --cgroup x
expect "attach without --policy: exit 2" 2 "needs --cgroup CGROUP and --policy FILE"
run attach --cgroup x --policy y --bogus
expect "attach with an unknown option: exit 2" 2 "attach: unknown option '--bogus'"
for form in "stats --cgroup" "attach --policy" "run --policy"; do
	run $form
	[ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "option '--${form#* --}' needs a value" <<<"$err" &&
		ok "'$form' without its value: one line that says so, exit 2" ||
		not_ok "'$form' without its value: one line that says so, exit 2" "exit $rc" "$err"
done
run attach --cgroup x --policy -
expect "attach refuses a policy on standard input" 2 "the policy must be a file"
run detach --cgroup x --all
expect "detach --cgroup with --all: exit 2" 2 "exclude each other"
run reload --pid 1 --cgroup x
expect "reload --pid with --cgroup: exit 2" 2 "^Error: reload: --pid excludes --cgroup and --policy"
run reload --pid 0
expect "reload --pid 0: exit 2" 2 "^Error: reload: --pid takes a process id, not '0'"
run stats --pid 1 --cgroup /
expect "stats --pid with --cgroup: exit 2" 2 "^Error: stats: --cgroup and --pid exclude each other"
run stats --output "$tmp/never.prom"
expect "stats --output without --prometheus or --json: exit 2" 2 \
	"^Error: stats: --output writes --prometheus or --json output"
[ ! -e "$tmp/never.prom" ] && ok "a refused stats --output writes nothing" ||
	not_ok "a refused stats --output writes nothing"
run run --policy "$top/configs/haproxy.policy" --on-supervisor-death maybe -- true
expect "run --on-supervisor-death maybe: exit 2" 2 "takes stop or keep, not 'maybe'"
run status extra
expect "status with an argument: exit 2" 2 "unexpected argument 'extra'"
run follow extra
expect "follow with an argument: exit 2" 2 "unexpected argument 'extra'"
run attach --cgroup x --policy y --no-strict --all
expect "attach does not take --all: exit 2" 2 "attach: unknown option '--all'"

run attach --cgroup / --policy "$tmp/bad.policy"
expect "attach with a bad policy: its location, exit 1" 1 "bad.policy:3:6: address ':80'"
one_line_error "attach with a bad policy: one error line"

if [ "$(id -u)" -eq 0 ]; then
	cp "$top/configs/haproxy.policy" "$tmp/nobody.policy"
	chown 65534 "$tmp/nobody.policy"
	run attach --cgroup / --policy "$tmp/nobody.policy"
	expect "a policy file not owned by root is refused" 1 \
		"^Error: policy file $tmp/nobody.policy is owned by uid 65534, not root: refusing it"
	cp "$top/configs/haproxy.policy" "$tmp/open.policy"
	chmod 666 "$tmp/open.policy"
	run attach --cgroup / --policy "$tmp/open.policy"
	expect "a world-writable policy file is refused" 1 \
		"^Error: policy file $tmp/open.policy is world-writable: refusing it \\(chmod o-w"
	cp "$top/configs/haproxy.policy" "$tmp/group.policy"
	chgrp 65534 "$tmp/group.policy" && chmod 664 "$tmp/group.policy"
	run attach --cgroup / --policy "$tmp/group.policy"
	expect "a policy file writable by a group other than root's is refused" 1 \
		"^Error: policy file $tmp/group.policy is writable by group 65534: refusing it"
	mkdir "$tmp/theirs" && cp "$top/configs/haproxy.policy" "$tmp/theirs/p.policy"
	chown 65534 "$tmp/theirs"
	run attach --cgroup / --policy "$tmp/theirs/p.policy"
	expect "a root-owned policy in a directory another user owns is refused" 1 \
		"^Error: directory $tmp/theirs is owned by uid 65534, not root"
	# A FIFO with no writer: refused at once, never waited on (reliability D4).
	mkfifo "$tmp/fifo.policy"
	rc=0
	timeout 10 "$bin" attach --cgroup / --policy "$tmp/fifo.policy" >/dev/null 2>"$tmp/err" ||
		rc=$?
	[ "$rc" = 1 ] && grep -q "fifo.policy is not a regular file" "$tmp/err" &&
		ok "a FIFO policy is refused without blocking" ||
		not_ok "a FIFO policy is refused without blocking" "exit $rc" "$(cat "$tmp/err")"
	# `policy FILE` says what attach, reload and run would say (issue 23), FIFO unblocked.
	bad=0
	for f in nobody open group theirs/p fifo; do
		rc=0
		timeout 10 "$bin" policy "$tmp/$f.policy" >/dev/null 2>"$tmp/err" || rc=$?
		[ "$rc" = 1 ] && grep -q "attach, reload and run would refuse it" "$tmp/err" ||
			{ bad=1; echo "# policy $f.policy: exit $rc: $(cat "$tmp/err")"; }
	done
	[ "$bad" = 0 ] && ok "policy FILE refuses the 5 files attach refuses, FIFO included, at once" ||
		not_ok "policy FILE refuses the 5 files attach refuses, FIFO included, at once"
	run_stdin "$tmp/open.policy" policy -
	expect "policy - < FILE checks the syntax alone" 0
fi

# Names are bytes, JSON is UTF-8 (review m3): a file name that is not UTF-8.
got=$("$bin" -j policy "$tmp/caf"$'\xe9'".policy" 2>/dev/null)
iconv -f UTF-8 -t UTF-8 <<<"$got" >/dev/null 2>&1 && jq -e '.error | test("caf\ufffd")' \
	<<<"$got" >/dev/null && ok "a JSON error naming a file that is not UTF-8 is valid UTF-8" ||
	not_ok "a JSON error naming a file that is not UTF-8 is valid UTF-8" "$got"

# Valid means the engine would load it (reliability D5): 17 entries on one /32.
for p in $(seq 1 17); do echo "mptcp@192.0.2.9:$p"; done >"$tmp/p17.policy"
run policy "$tmp/p17.policy"
expect "policy refuses what attach would refuse (17 entries covering one address)" 1 \
	"more than 16 entries cover 192.0.2.9/32"

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ "$(id -u)" -eq 0 ] && [ -n "$cg2" ] && [ -w "$cg2" ]; then
	bpf_mounts_before=$(grep -c ' - bpf ' /proc/self/mountinfo)
	mkdir -p "$cg2/mucli.slice/mucli-a.slice" "$cg2/mucli.slice/mucli-web.service"
	trap 'rmdir "$cg2/mucli.slice/mucli-a.slice" "$cg2/mucli.slice/mucli-web.service" \
		"$cg2/mucli.slice" 2>/dev/null; rm -rf "$tmp"' EXIT

	run attach --cgroup nosuch.slice --policy "$top/configs/haproxy.policy"
	expect "attach to a missing slice: exit 1, and says to create it or start the unit" 1 \
		"^Error: can't find cgroup nosuch.slice \\($cg2/nosuch.slice: No such file or directory\\): create it or start the unit first \\(systemctl start nosuch.slice\\)$"
	run attach --cgroup /mucli-nosuch --policy "$top/configs/haproxy.policy"
	expect "attach to a missing cgroup path: exit 1, and says to create it" 1 \
		"^Error: can't find cgroup /mucli-nosuch .*: create it first \\(mkdir\\)$"
	run attach --cgroup no-such.service --policy "$top/configs/haproxy.policy"
	expect "attach to a unit that is not running: exit 1" 1 \
		"can't find cgroup of unit no-such.service under $cg2"
	for c in ../etc mucli.slice/../../x /mucli-nosuch/../../../y; do
		run attach --cgroup "$c" --policy "$top/configs/haproxy.policy"
		expect "attach --cgroup $c: says it walks out through '..'" 1 \
			"^Error: $c walks out of the cgroup v2 hierarchy \\($cg2\\) through '\\.\\.'"
	done
	run attach --cgroup /sys/fs/cgroup/cpu --policy "$top/configs/haproxy.policy"
	expect "attach to a path outside cgroup v2: exit 1" 1 "is not a cgroup v2 directory|can't find"

	if [ "$attach_rc" -ne 0 ]; then
		cause=$(sed -n 's/^Error: the attach engine can.t run here: [a-z_0-9]*: //p' <<<"$(
			"$bin" check --engine attach 2>&1 >/dev/null)" | sed 's/;.*//')
		run attach --cgroup mucli-a.slice --policy "$top/configs/haproxy.policy"
		expect "a nested slice resolves, and this kernel's refusal is the error" 1 \
			"^Error: can't attach to cgroup /mucli.slice/mucli-a.slice: "
		grep -qF -- "$cause" <<<"$err" && ok "attach names the same cause as check" ||
			not_ok "attach names the same cause as check" "check: $cause" "attach: $err"
		run attach --cgroup mucli-web.service --policy "$top/configs/haproxy.policy"
		expect "a unit is found under its slice" 1 \
			"can't attach to cgroup /mucli.slice/mucli-web.service: "
		[ ! -e /sys/fs/bpf/mptcp-upgrade ] &&
			[ "$(grep -c ' - bpf ' /proc/self/mountinfo)" = "$bpf_mounts_before" ] &&
			ok "a refused attach pins nothing and mounts nothing" ||
			not_ok "a refused attach pins nothing and mounts nothing"
	else
		skip "attach on a kernel that refuses the hook" "this kernel runs it (test_vm.sh covers it)"
	fi
	# Two cgroups with a unit's name (the second in a delegated subtree, say): the
	# search refuses to pick one (review m11).
	mkdir -p "$cg2/mucli.slice/mucli-a.slice/mucli-web.service"
	run attach --cgroup mucli-web.service --policy "$top/configs/haproxy.policy"
	expect "a unit name two cgroups carry is ambiguous, not guessed" 1 \
		"unit mucli-web.service is ambiguous: cgroups .*mucli-web.service and .*mucli-web.service"
	rmdir "$cg2/mucli.slice/mucli-a.slice/mucli-web.service"
	# A private mount namespace without the cgroup v2 mount: a v1-only machine.
	unshare -m sh -c "umount '$cg2' && exec '$bin' attach --cgroup mucli-a.slice \
		--policy '$top/configs/haproxy.policy'" >"$tmp/out" 2>"$tmp/err"
	rc=$? out=$(cat "$tmp/out") err=$(cat "$tmp/err")
	expect "attach on a machine with only cgroup v1: exit 1" 1 \
		"^Error: cgroup v2 is not mounted \\(only cgroup v1 hierarchies are\\)"
	if unshare -n true 2>/dev/null; then
		unshare -n sh -c "sysctl -qw net.mptcp.enabled=0 && exec '$bin' attach \
			--cgroup mucli-a.slice --policy '$top/configs/haproxy.policy'" \
			>"$tmp/out" 2>"$tmp/err"
		rc=$? out=$(cat "$tmp/out") err=$(cat "$tmp/err")
		expect "attach with MPTCP disabled in the caller's netns: exit 1" 1 \
			"MPTCP is disabled \\(net.mptcp.enabled = 0\\) in this network namespace"
	fi
else
	skip "attach to cgroups of this machine" "needs root and a writable cgroup v2 mount"
fi

if [ "$(id -u)" -eq 0 ]; then
	run_alone status
	expect "status with nothing attached: exit 0" 0
	[ "$out" = "nothing is attached" ] && ok "status says nothing is attached" ||
		not_ok "status says nothing is attached" "$out"
	run_alone status --json
	json_ok "status --json with nothing attached" '.loaded == false and .attachments == []'
	run_alone reload
	expect "reload with nothing attached: exit 1" 1 "^Error: nothing is attached"
	# The same answer with or without --all (review D7: one failed, one was silent).
	run_alone detach
	expect "detach with nothing attached: exit 0, and says so" 0 "^note: nothing is attached$"
	run_alone detach --all
	expect "detach --all with nothing attached: exit 0, and says so" 0 "^note: nothing is attached$"
	run_alone detach --cgroup mucli-none.slice
	expect "detach of a cgroup that is not attached: exit 1" 1 \
		"^Error: mucli-none.slice is not attached \\(nothing is\\)$"
fi
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	for cmd in "attach --cgroup / --policy $top/configs/haproxy.policy" reload detach status \
		   follow "exporter --listen 127.0.0.1:9"; do
		# shellcheck disable=SC2086
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
			"$tmp/mu" $cmd >"$tmp/out" 2>"$tmp/err"
		rc=$? out=$(cat "$tmp/out") err=$(cat "$tmp/err")
		expect "${cmd%% *} as an unprivileged user: exit 1, run as root" 1 \
			"^Error: ${cmd%% *} needs root: lacking CAP_BPF.*\\(run as root\\)$"
	done
fi

# ---- every JSON document this host can produce: one document, with its keys (issue 24) ----
# json_doc NAME RC KEYS: $out is exactly one JSON document (jq and python's parser agree),
# the command exited RC, and the top-level keys are KEYS, in order.
json_doc() {
	local keys docs
	keys=$(jq -c keys_unsorted <<<"$out" 2>/dev/null)
	docs=$(jq -s length <<<"$out" 2>/dev/null)
	if [ "$rc" = "$2" ] && [ "$docs" = 1 ] && [ "$keys" = "$3" ] &&
	   python3 -m json.tool <<<"$out" >/dev/null 2>&1; then
		ok "$1"
	else
		not_ok "$1" "exit $rc (want $2), $docs documents, keys $keys" "want $3" \
			"stdout: $out"
	fi
}
# want_keys KEYS OPTIONAL...: the JSON list KEYS without each OPTIONAL key $out lacks.
want_keys() {
	local want=$1 k
	shift
	for k in "$@"; do
		jq -e --arg k "$k" 'has($k)' <<<"$out" >/dev/null 2>&1 ||
			want=$(jq -c --arg k "$k" 'map(select(. != $k))' <<<"$want")
	done
	jq -c . <<<"$want"
}
for mode in -j -p; do
	run "$mode" version
	json_doc "version $mode" 0 '["version","libbpf_version"]'
	run "$mode" policy "$top/configs/haproxy.policy"
	json_doc "policy $mode" 0 '["file","lines","entries"]'
	run "$mode" policy "$tmp/nosuch.policy"
	json_doc "an error in $mode mode: one JSON object, exit 1" 1 '["error"]'
	run "$mode" status extra
	json_doc "a usage error in $mode mode: one JSON object, exit 2" 2 '["error"]'
	run "$mode" check
	# sockopts when the bridge could be probed (root), error when not ready.
	want=$(want_keys '["kernel","requirements","path_manager","sockopts","engines",
		"ready","error"]' sockopts error)
	json_doc "check $mode" "$check_rc" "$want"
	json_ok "check $mode: an error exactly when not ready" 'has("error") == (.ready | not)'
	if [ "$(id -u)" -eq 0 ]; then
		run "$mode" status
		# draining_sockets while a detached engine drains.
		json_doc "status $mode" 0 "$(want_keys '["loaded","pins","programs",
			"hook_attached","tc_links","lost_attachments","older_engines","draining_sockets","runs",
			"attachments","missing","healthy"]' draining_sockets)"
		run "$mode" stats --pid $$
		json_doc "stats $mode" 0 '["connections","policy_lines","namespaces"]'
	fi
done

tap_end
