#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The seccomp profile that hands containers to the agent (docs/containers.md):
# `mptcp-upgrade seccomp-profile` and its errors; the profile compiled by
# libseccomp as runc compiles it and its BPF run on the calls the run engine's
# filter traps and on calls it must let through; and real containers started
# by runc, crun and podman with it, whose listener (a stand-in for the agent on
# a socket of this suite's own) gets the seccomp fd and the metadata and
# answers every call with CONTINUE; last, the real agent serves a runc
# container started with the profile. The suite runs in a network namespace
# and with a run registry of its own. Prints TAP for prove.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -eq 0 ] && [ -z "${MU_RUN_NETNS:-}" ]; then
	exec unshare -n -m env MU_RUN_NETNS=1 "$0" "$@"
fi
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock
static=$top/.output/selftests/mu_sock.static
evalbin=$top/.output/selftests/seccomp_eval
listener=$top/.output/selftests/seccomp_listener
base=${MU_SECCOMP_BASE:-/usr/share/containers/seccomp.json}
tmp=$(mktemp -d)
pids=()
ctrs=()
cg_root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cg=$cg_root/mu-seccomp-$$
cleanup() {
	local p c d
	for c in "${ctrs[@]}"; do
		runc delete -f "$c" >/dev/null 2>&1
	done
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	# The supervisors' cgroups go with their containers; what is left is the suite's.
	for d in "$cg"/*/ "$cg"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if [ -n "${MU_RUN_NETNS:-}" ]; then
	ip link set dev lo up
	own_registry
fi

meta=mptcp-upgrade.io/profile=1

# ---- errors: one line, exit 1; usage: exit 2 ---------------------------------

run seccomp-profile --base "$tmp/none.json"
expect "a missing base file is an error (exit 1)" 1 "^Error: can't read base profile $tmp/none.json: No such file"
printf '{"defaultAction": ' >"$tmp/bad.json"
run seccomp-profile --base "$tmp/bad.json"
expect "a base that is no JSON is an error (exit 1)" 1 "^Error: base profile .* is no JSON"
echo '[1, 2]' >"$tmp/array.json"
run seccomp-profile --base "$tmp/array.json"
expect "JSON that is no profile is an error (exit 1)" 1 "is no seccomp profile"
echo '{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/x.sock","syscalls":[]}' >"$tmp/lp.json"
run seccomp-profile --base "$tmp/lp.json"
expect "a base with its own listenerPath is refused" 1 "has a listenerPath already"
echo '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["bind"],"action":"SCMP_ACT_NOTIFY"}]}' \
	>"$tmp/notify.json"
run seccomp-profile --base "$tmp/notify.json"
expect "a base that notifies a trapped call is refused" 1 "already notifies bind"
echo '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW",
 "args":[{"index":0,"value":4096,"valueTwo":0,"op":"SCMP_CMP_GT"}]}]}' >"$tmp/gt.json"
run seccomp-profile --base "$tmp/gt.json"
expect "a base condition that can't be merged exactly is refused" 1 "can't merge .* clone"
echo '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}' >"$tmp/min.json"
run seccomp-profile --base "$tmp/min.json" --output "$tmp/no/such/dir/p.json"
expect "an unwritable output is an error (exit 1)" 1 "^Error: can't write $tmp/no/such/dir/p.json.tmp"
[ "$(printf '%s' "$err" | grep -c '')" -eq 1 ] && ok "each error is one line" ||
	not_ok "each error is one line" "$err"
run seccomp-profile --bogus
expect "an unknown option is a usage error (exit 2)" 2 "unknown option '--bogus'"
run seccomp-profile --socket relative.sock
expect "a relative --socket is a usage error (exit 2)" 2 "absolute path"
run seccomp-profile extra
expect "an extra argument is a usage error (exit 2)" 2 "unexpected argument 'extra'"
run seccomp-profile --base
expect "--base without a value is a usage error (exit 2)" 2 "needs a value"
run help seccomp-profile
expect "help seccomp-profile exits 0" 0
grep -q "^Usage: mptcp-upgrade seccomp-profile " <<<"$out" && ok "help prints the usage" ||
	not_ok "help prints the usage" "$out"

# ---- libseccomp's answer for a call -----------------------------------------

# verdicts PROFILE NAME <<< "CALL EXPECTED" lines: one test, every line checked.
verdicts() {
	local profile=$1 name=$2 calls want got bad=() i
	calls=$(cat)
	got=$("$evalbin" "$profile" < <(sed 's/ [^ ]*$//' <<<"$calls") 2>"$tmp/eval.err")
	if [ $? -ne 0 ]; then
		not_ok "$name" "seccomp_eval: $(cat "$tmp/eval.err")"
		return
	fi
	mapfile -t want < <(awk '{print $NF}' <<<"$calls")
	mapfile -t calls <<<"$calls"
	mapfile -t got <<<"$got"
	for i in "${!want[@]}"; do
		[ "${got[i]:-}" = "${want[i]}" ] ||
			bad+=("${calls[i]% *}: ${got[i]:-nothing}, want ${want[i]}")
	done
	[ ${#bad[@]} -eq 0 ] && ok "$name (${#want[@]} calls)" || not_ok "$name" "${bad[@]}"
}

# The run engine's own filter (user/run/run_filter.c) on a base that allows by
# default: the profile must notify exactly what it notifies.
echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}' >"$tmp/allow.json"
run seccomp-profile --base "$tmp/allow.json" --output "$tmp/allow.out.json"
expect "a base that allows by default is merged" 0
verdicts "$tmp/allow.out.json" "on an allow-all base, the calls the run filter notifies and no other" <<'EOF'
x86_64 bind 3 0 16 NOTIFY
x86_64 connect 3 0 28 NOTIFY
x86_64 sendto 3 0 0 0x20000000 0 16 NOTIFY
x86_64 sendto 3 0 0 0x4040 0 16 ALLOW
x86_64 sendmsg 3 0 0x20000040 NOTIFY
x86_64 sendmsg 3 0 0 ALLOW
x86_64 epoll_create 1 NOTIFY
x86_64 epoll_create1 0x80000 NOTIFY
x86_64 dup 3 NOTIFY
x86_64 dup2 3 9 NOTIFY
x86_64 dup3 3 9 0x80000 NOTIFY
x86_64 fcntl 3 0 10 NOTIFY
x86_64 fcntl 3 1030 10 NOTIFY
x86_64 fcntl 3 0x100000000 10 NOTIFY
x86_64 fcntl 3 3 0 ALLOW
x86_64 fcntl 3 4 0x800 ALLOW
x86_64 fcntl 3 1031 0 ALLOW
x86_64 fcntl 3 1 0 ALLOW
x86_64 fork NOTIFY
x86_64 vfork NOTIFY
x86_64 clone 0x1200011 NOTIFY
x86_64 clone 0x3d0f00 ALLOW
x86_64 clone3 0 88 NOTIFY
x86_64 io_uring_setup 8 0 NOTIFY
x86_64 socket 2 1 0 ALLOW
x86_64 read 0 0 0 ALLOW
x86_64 accept4 3 0 0 0x800 ALLOW
x86_64 close 3 ALLOW
x86 361 3 0 16 NOTIFY
x86 362 3 0 16 NOTIFY
x86 socketcall 2 0 NOTIFY
x86 socketcall 3 0 NOTIFY
x86 socketcall 1 0 ALLOW
x86 socketcall 5 0 ALLOW
x86 fcntl64 3 1030 NOTIFY
x86 fcntl64 3 3 ALLOW
x86 fcntl 3 0 NOTIFY
x86 clone 0x11 NOTIFY
x86 clone 0x3d0f00 ALLOW
x86 dup2 3 4 NOTIFY
x86 read 0 0 0 ALLOW
x32 connect 3 0 16 NOTIFY
x32 fcntl 3 1030 NOTIFY
x32 fcntl 3 3 ALLOW
EOF

# The same, against the run engine's filter itself (built into seccomp_eval):
# every x86_64, i386 and x32 syscall number up to 560, with argument patterns
# that reach each of its conditions. Where the two differ, the call must be one
# of the differences the profile can't avoid, and each is harmless:
#  - bind() and connect() with a length no IP address has: the profile can't
#    compare a length against a range in one rule, and the supervisor lets
#    those through unchanged;
#  - sendto() and sendmsg() with MSG_FASTOPEN from i386, and x32's own sendmsg
#    (518): OCI rules apply to every architecture, the supervisor lets them
#    through (the run filter does not send them);
#  - x32 number 46 (sendmsg's 64-bit slot): no x32 call, the kernel answers
#    ENOSYS whatever the filter says.
sweep() {
	local arch nr n p
	for arch in x86_64 x86 x32; do
		for ((nr = 0; nr <= 560; nr++)); do
			n=$nr
			[ $arch = x32 ] && n=$((0x40000000 + nr))
			for p in "0 0 0 0 0 0" "3 0 16 0 0 16" "3 1030 0" "3 0 0" "3 3 0" \
				"0x3d0f00 0 0" "0x11 0 0" "3 0 0x20000000 0x20000000 0 16" "2 0 0" \
				"5 0 0" "3 0 110" "3 0 129" "3 0x100000000 28"; do
				echo "$arch $n $p"
			done
		done
	done
}
sweep >"$tmp/sweep.in"
if "$evalbin" --run-filter "$tmp/allow.out.json" <"$tmp/sweep.in" >"$tmp/sweep.out" 2>"$tmp/eval.err"; then
	x32=$((0x40000000))
	paste -d ' ' "$tmp/sweep.in" "$tmp/sweep.out" | awk -v x=$x32 '
		{ prof = $(NF - 1); filt = $NF; if ((prof == "NOTIFY") == (filt == "NOTIFY")) next
		  nr = $2 + 0; arch = $1; n++
		  if (prof == "NOTIFY" && (arch == "x86" && (nr == 361 || nr == 362) ||
		      arch != "x86" && (nr % x == 42 || nr % x == 49))) { len++; next }
		  if (prof == "NOTIFY" && (arch == "x86" && (nr == 369 || nr == 370) ||
		      arch == "x32" && nr == x + 518)) { tfo++; next }
		  if (filt == "NOTIFY" && arch == "x32" && nr == x + 46) { enosys++; next }
		  print "unexplained: " $0 > "/dev/stderr"; bad++ }
		END { printf "%d %d %d %d %d\n", NR, n, len, tfo, enosys; exit bad > 0 }' \
		>"$tmp/sweep.sum" 2>"$tmp/sweep.bad"
	rc=$?
	read -r total ndiff nlen ntfo nenosys <"$tmp/sweep.sum"
	[ $rc -eq 0 ] && [ "$total" -gt 20000 ] &&
		ok "against the run filter itself, $total calls: the same but $ndiff explained ($nlen by address length, $ntfo Fast Open calls it does not decode, $nenosys no x32 call)" ||
		not_ok "against the run filter itself: no unexplained difference" "$(head -5 "$tmp/sweep.bad")"
else
	not_ok "against the run filter itself" "$(cat "$tmp/eval.err")"
fi

# A base that allows clone only without namespace flags (as Docker's default
# does for a container without CAP_SYS_ADMIN): those conditions keep their meaning.
cat >"$tmp/ns.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
 "syscalls": [
  {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
   "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
  {"names": ["fcntl", "read"], "action": "SCMP_ACT_ALLOW"},
  {"names": ["fcntl"], "action": "SCMP_ACT_LOG",
   "args": [{"index": 1, "value": 1030, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
 ]}
EOF
run seccomp-profile --base "$tmp/ns.json" --output "$tmp/ns.out.json"
expect "a base with conditions on clone is merged" 0
verdicts "$tmp/ns.out.json" "the base's namespace-flag condition on clone keeps its meaning" <<'EOF'
x86_64 clone 0x1200011 NOTIFY
x86_64 clone 0x3d0f00 ALLOW
x86_64 clone 0x20011 ERRNO(1)
x86_64 clone 0x10000400 ERRNO(1)
x86_64 fcntl 3 3 ALLOW
x86_64 fcntl 3 0 NOTIFY
x86_64 read 0 0 0 ALLOW
x86_64 bind 3 0 16 ERRNO(1)
EOF

# includes and excludes, resolved for this node (x86_64, its kernel) and --caps:
# an include holds when all its conditions do, an exclude when any does.
cat >"$tmp/inc.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
 "syscalls": [
  {"names": ["sync"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
  {"names": ["syncfs"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "999.0"}},
  {"names": ["fsync"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.0", "arches": ["amd64"]}},
  {"names": ["fdatasync"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64", "amd64"], "minKernel": "999.0"}},
  {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
  {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
  {"names": ["umask"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.0"}},
  {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "includes": {}, "excludes": {}}
 ]}
EOF
run seccomp-profile --base "$tmp/inc.json" --output "$tmp/inc.out.json"
expect "a base with includes and excludes is resolved" 0
verdicts "$tmp/inc.out.json" "includes need all their conditions, excludes any (default capabilities)" <<'EOF'
x86_64 sync ERRNO(38)
x86_64 syncfs 0 ERRNO(38)
x86_64 fsync 0 ALLOW
x86_64 fdatasync 0 ERRNO(38)
x86_64 ptrace 0 ERRNO(38)
x86_64 chroot 0 ALLOW
x86_64 umask 0 ERRNO(38)
x86_64 getpid ALLOW
EOF
run seccomp-profile --base "$tmp/inc.json" --caps CAP_SYS_PTRACE,CAP_BPF --output "$tmp/inc2.out.json"
verdicts "$tmp/inc2.out.json" "--caps replaces the capability set the rules are resolved for" <<'EOF'
x86_64 ptrace 0 ALLOW
x86_64 chroot 0 ERRNO(38)
EOF

# ---- the profile from the runtime's own default profile ----------------------

if [ ! -r "$base" ]; then
	skip "the profile from $base" "no $base (Debian's golang-github-containers-common)"
	tap_end
	exit
fi
profile=$tmp/profile.json
run seccomp-profile --base "$base" --socket "$tmp/agent.sock" --output "$profile"
expect "seccomp-profile --base $base --output FILE" 0
[ -z "$out" ] && ok "--output writes nothing on stdout" || not_ok "--output writes nothing on stdout" "$out"
[ "$(stat -c %a "$profile")" = 644 ] && ok "the profile is mode 0644 (runtimes read it)" ||
	not_ok "the profile is mode 0644" "$(stat -c %a "$profile")"
out=$(cat "$profile")
json_ok "listenerPath is --socket, listenerMetadata is exactly $meta" \
	".listenerPath == \"$tmp/agent.sock\" and .listenerMetadata == \"$meta\""
json_ok "architectures are x86_64, x86 and x32, in the OCI format" \
	'.architectures == ["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"] and (has("archMap") | not)'
json_ok "no includes or excludes are left (containerd reads the OCI object as it is)" \
	'[.syscalls[] | select(has("includes") or has("excludes"))] | length == 0'
json_ok "the default action and errno are the base's" \
	".defaultAction == $(jq .defaultAction "$base") and .defaultErrnoRet == $(jq .defaultErrnoRet "$base")"
run seccomp-profile --base "$base"
json_ok "without --socket, listenerPath is /run/mptcp-upgrade/agent.sock" \
	'.listenerPath == "/run/mptcp-upgrade/agent.sock"'

# Every call the base allows unconditionally still runs, except those the
# profile notifies (and those another rule of the base names too: setns, in
# this base, is also refused without CAP_SYS_ADMIN).
trapped=' bind connect sendto sendmsg epoll_create epoll_create1 dup dup2 dup3 fcntl fcntl64 fork vfork clone clone3 io_uring_setup socketcall '
allowed=$(jq -r '([.syscalls[] | select(.action != "SCMP_ACT_ALLOW" or ((.args // []) | length) > 0
	or ((.includes // {}) | length) > 0 or ((.excludes // {}) | length) > 0) | .names[]]) as $other |
	.syscalls[] | select(.action == "SCMP_ACT_ALLOW" and ((.args // []) | length) == 0
	and ((.includes // {}) | length) == 0 and ((.excludes // {}) | length) == 0) | .names[] |
	select(. as $n | $other | index($n) | not)' "$base" | sort -u)
calls=
for c in $allowed; do
	[[ $trapped == *" $c "* ]] && continue
	calls+="x86_64 $c 0 0 0 0 0 0"$'\n'
done
got=$("$evalbin" "$profile" <<<"$calls" 2>&1)
nall=$(grep -c . <<<"$calls")
nok=$(grep -c '^ALLOW$\|^UNKNOWN$' <<<"$got")
[ "$nok" -eq "$nall" ] && ok "the $nall other calls the base allows are still allowed" ||
	not_ok "the $nall other calls the base allows are still allowed" "$nok allowed" \
		"$(paste <(echo "$calls") <(echo "$got") | grep -v 'ALLOW\|UNKNOWN' | head -5)"
verdicts "$profile" "compiled by libseccomp, the profile notifies what the run filter traps" <<'EOF'
x86_64 bind 3 0 16 NOTIFY
x86_64 connect 3 0 16 NOTIFY
x86_64 bind 3 0 110 NOTIFY
x86_64 sendto 3 0 0 0x20000000 0 16 NOTIFY
x86_64 sendmsg 3 0 0x20000000 NOTIFY
x86_64 epoll_create 1 NOTIFY
x86_64 epoll_create1 0 NOTIFY
x86_64 dup 3 NOTIFY
x86_64 dup2 3 4 NOTIFY
x86_64 dup3 3 4 0 NOTIFY
x86_64 fcntl 3 0 0 NOTIFY
x86_64 fcntl 3 1030 0 NOTIFY
x86_64 fork NOTIFY
x86_64 vfork NOTIFY
x86_64 clone 0x1200011 NOTIFY
x86_64 clone3 0 88 NOTIFY
x86 socketcall 2 0 NOTIFY
x86 socketcall 3 0 NOTIFY
x86 fcntl64 3 1030 NOTIFY
x32 bind 3 0 16 NOTIFY
EOF
verdicts "$profile" "and lets the others through as the base does" <<'EOF'
x86_64 fcntl 3 3 0 ALLOW
x86_64 fcntl 3 4 0x800 ALLOW
x86_64 fcntl 3 1 0 ALLOW
x86_64 fcntl 3 2 1 ALLOW
x86_64 clone 0x3d0f00 ALLOW
x86_64 socket 2 1 0 ALLOW
x86_64 socket 2 0x80801 262 ALLOW
x86_64 read 0 0 0 ALLOW
x86_64 write 1 0 0 ALLOW
x86_64 sendto 3 0 0 0x4000 0 0 ALLOW
x86_64 sendmsg 3 0 0x40 ALLOW
x86_64 accept4 3 0 0 0x800 ALLOW
x86 socketcall 1 0 ALLOW
x86 socketcall 5 0 ALLOW
x86 fcntl64 3 3 ALLOW
x86_64 kexec_load 0 0 0 ERRNO(1)
x86_64 bpf 0 0 0 ERRNO(1)
EOF

# ---- real containers ---------------------------------------------------------

# bundle DIR: an OCI bundle whose rootfs holds only the static listener binary
# as /probe, started with the profile and a policy annotation.
bundle() {
	local dir=$1
	mkdir -p "$dir/rootfs" &&
		cp "$listener" "$dir/rootfs/probe" &&
		(cd "$dir" && runc spec) &&
		jq --slurpfile s "$profile" '.process.args = ["/probe", "probe"] |
			.process.terminal = false | .linux.seccomp = $s[0] |
			.annotations = {"mptcp-upgrade.io/policy": "mptcp@0.0.0.0:80"}' \
			"$dir/config.json" >"$dir/config.new" && mv "$dir/config.new" "$dir/config.json"
}

# start_listener: the stand-in for the agent on the profile's socket.
start_listener() {
	rm -f "$tmp/agent.sock" "$tmp/heard" "$tmp/heard.json"
	"$listener" listen "$tmp/agent.sock" "$tmp/heard" 2>"$tmp/listener.err" &
	pids+=($!)
	need "the listener's socket" test -S "$tmp/agent.sock"
}

# handed_over WHO PROBE-OUTPUT: what the container and the listener saw.
handed_over() {
	local who=$1 probe=$2 heard
	need "$who: the listener saw the container end" grep -qx done "$tmp/heard"
	heard=$(cat "$tmp/heard" 2>/dev/null)
	grep -qx 'fd=anon_inode:seccomp notify' <<<"$heard" &&
		ok "$who: the listener gets a seccomp notify fd" ||
		not_ok "$who: the listener gets a seccomp notify fd" "$heard" "$(cat "$tmp/listener.err")"
	out=$(cat "$tmp/heard.json" 2>/dev/null)
	json_ok "$who: the state says listenerMetadata $meta, the pid and the annotation" \
		".metadata == \"$meta\" and .state.pid > 0 and
		 .state.annotations[\"mptcp-upgrade.io/policy\"] == \"mptcp@0.0.0.0:80\""
	grep -qx 'call bind' <<<"$heard" && grep -qx 'call connect' <<<"$heard" &&
		grep -qx 'call dup' <<<"$heard" && grep -qx 'call fcntl cmd=1030' <<<"$heard" &&
		grep -q '^call clone ' <<<"$heard" &&
		ok "$who: bind, connect, dup, fcntl F_DUPFD_CLOEXEC and fork reach the listener" ||
		not_ok "$who: bind, connect, dup, fcntl F_DUPFD_CLOEXEC and fork reach the listener" \
			"$heard"
	! grep -q 'call fcntl cmd=[34]$' <<<"$heard" &&
		ok "$who: fcntl F_GETFL and F_SETFL do not" ||
		not_ok "$who: fcntl F_GETFL and F_SETFL do not" "$heard"
	want='socket=ok bind=ok getfl=ok setfl=ok dup=ok dupfd=ok unix_connect=ENOENT fork=ok child_status=7 probe done'
	[ "$(tr '\n' ' ' <<<"$probe" | sed 's/ $//')" = "$want" ] &&
		ok "$who: every call in the container ran as without the profile" ||
		not_ok "$who: every call in the container ran as without the profile" "got: $probe" \
			"want: $want"
}

if [ "$(id -u)" -ne 0 ]; then
	skip "containers with the profile" "needs root"
	tap_end
	exit
fi

if ! command -v runc >/dev/null; then
	skip "runc with the profile" "no runc (Debian's runc)"
else
	bundle "$tmp/bundle"
	start_listener
	name=mu-seccomp-$$-runc
	ctrs+=("$name")
	probe=$(timeout 60 runc run -b "$tmp/bundle" "$name" 2>"$tmp/runc.err" </dev/null)
	rc=$?
	[ $rc -eq 0 ] && ok "runc $(runc --version | sed -n '1s/runc version //p') runs the container" ||
		not_ok "runc runs the container" "exit $rc" "$(cat "$tmp/runc.err")"
	handed_over runc "$probe"
fi

# crun refuses a hybrid cgroup layout (v1 controllers beside a cgroup2 that
# has one): then it runs in a mount namespace of its own where /sys/fs/cgroup
# is cgroup2 alone, without a cgroup of its own (this sandbox's missing
# CAP_SYS_RESOURCE stops crun's cgroup device program on setrlimit).
if ! command -v crun >/dev/null; then
	skip "crun with the profile" "no crun (Debian's crun)"
else
	[ -d "$tmp/bundle" ] || bundle "$tmp/bundle"
	start_listener
	how=
	probe=$(timeout 60 crun run -b "$tmp/bundle" "mu-seccomp-$$-crun" 2>"$tmp/crun.err" </dev/null)
	rc=$?
	if [ $rc -ne 0 ] && grep -q 'hybrid' "$tmp/crun.err"; then
		how=" (cgroup2 alone, no cgroup: $(head -1 "$tmp/crun.err"))"
		kill "${pids[-1]}" 2>/dev/null
		start_listener
		probe=$(timeout 60 unshare -m --propagation private sh -c \
			'mount -t cgroup2 none /sys/fs/cgroup && exec crun --cgroup-manager=disabled "$@"' \
			sh run -b "$tmp/bundle" "mu-seccomp-$$-crun2" 2>"$tmp/crun.err" </dev/null)
		rc=$?
	fi
	if [ $rc -eq 0 ]; then
		ok "crun $(crun --version | sed -n '1s/crun version //p') runs the container$how"
		handed_over crun "$probe"
	else
		skip "crun with the profile" "crun can't run a container here: $(tail -1 "$tmp/crun.err")"
	fi
fi

# podman from a local image (a tar of the same rootfs, no registry), with a
# storage of the suite's own, in a mount namespace of its own; --ulimit keeps
# its default RLIMIT_NOFILE and NPROC, which this sandbox can't raise without
# CAP_SYS_RESOURCE.
if ! command -v podman >/dev/null; then
	skip "podman with the profile" "no podman (Debian's podman)"
else
	[ -d "$tmp/bundle" ] || bundle "$tmp/bundle"
	start_listener
	tar -C "$tmp/bundle/rootfs" -cf "$tmp/rootfs.tar" .
	# shellcheck disable=SC2016
	probe=$(timeout 120 unshare -m --propagation private sh -c '
		p="podman --root $1/pod/root --runroot $1/pod/run --storage-driver vfs
			--cgroup-manager cgroupfs --events-backend none --runtime runc"
		$p import -q "$1/rootfs.tar" localhost/mu-seccomp-probe:test >/dev/null &&
		exec $p run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
			--security-opt seccomp="$2" --annotation mptcp-upgrade.io/policy=mptcp@0.0.0.0:80 \
			localhost/mu-seccomp-probe:test /probe probe' sh "$tmp" "$profile" \
		2>"$tmp/podman.err" </dev/null)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "podman $(podman --version | sed 's/podman version //') runs the container"
		handed_over podman "$probe"
	else
		skip "podman with the profile" "podman can't run a container here: $(tail -1 "$tmp/podman.err")"
	fi
fi

# ---- the agent serves a container started with the profile -----------------

# A runc container from the runtime's default profile with our rules, sharing
# the suite's network namespace: a listed connect() is MPTCP on both ends, an
# unlisted one plain TCP. (test_agent.sh covers the agent itself.)
if ! command -v runc >/dev/null || [ ! -x "$static" ] || [ -z "$cg_root" ]; then
	skip "the agent with the profile" "needs runc, cgroup v2 and .output/selftests/mu_sock.static"
else
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -f "$tmp/agent.sock"
	mkdir -p "$cg" "$tmp/etc"
	"$bin" agent --socket "$tmp/agent.sock" --policy-dir "$tmp/etc" --cgroup "${cg#"$cg_root"}" \
		>"$tmp/agent.log" 2>&1 </dev/null &
	pids+=($!)
	need "the agent listens" grep -q "served from before" "$tmp/agent.log"
	"$sock" serve 127.0.0.1 7910 1 mptcp >"$tmp/up.out" 2>&1 &
	pids+=($!)
	"$sock" serve 127.0.0.1 7911 1 mptcp >"$tmp/up2.out" 2>&1 &
	pids+=($!)
	need "the upstreams listen" grep -qs ready "$tmp/up.out"
	need "the upstreams listen" grep -qs ready "$tmp/up2.out"
	# agent_run NAME PORT: mu_sock connect 127.0.0.1 PORT in a container of the
	# profile, its output. Detached (-d): runc 1.1.5 and crun 1.8.1 keep the
	# connection to the listener open until they exit, and a foreground run
	# exits with its container (containerd, CRI-O and podman create, then exit).
	agent_run() {
		local d=$tmp/$1
		mkdir -p "$d/rootfs" && cp "$static" "$d/rootfs/mu_sock" &&
			jq --slurpfile s "$profile" --arg port "$2" '.process.terminal = false |
				.process.args = ["/mu_sock", "connect", "127.0.0.1", $port] |
				.linux.seccomp = $s[0] |
				.annotations = {"mptcp-upgrade.io/policy":
						"server up mptcp4@127.0.0.1:7910"} |
				.linux.namespaces |= map(select(.type != "network"))' \
				"$tmp/bundle/config.json" >"$d/config.json"
		timeout 60 runc run -d -b "$d" "mu-seccomp-$$-$1" >"$d.out" 2>&1 </dev/null
		wait_for grep -q "connect=" "$d.out"
		cat "$d.out"
	}
	# Named here: agent_run runs in $(...), a subshell, whose ctrs+= cleanup would not see.
	ctrs+=("mu-seccomp-$$-listed" "mu-seccomp-$$-unlisted")
	got=$(agent_run listed 7910)
	[[ $got == *"connect=ok proto=262 echo=ok mptcp=yes"* ]] &&
		ok "the agent serves a container of the profile: a listed connect() is MPTCP" ||
		not_ok "the agent serves a container of the profile: a listed connect() is MPTCP" \
			"container: $got" "$(cat "$tmp/agent.log")"
	wait_for grep -q accepted "$tmp/up.out"
	grep -q "accepted proto=262 echoed=5 mptcp=yes" "$tmp/up.out" &&
		ok "... MPTCP on the server's end too" ||
		not_ok "... MPTCP on the server's end too" "$(cat "$tmp/up.out")"
	got=$(agent_run unlisted 7911)
	[[ $got == *"connect=ok proto=6 echo=ok mptcp=no"* ]] &&
		ok "... and an unlisted connect() of the same container stays TCP" ||
		not_ok "... and an unlisted connect() of the same container stays TCP" "container: $got"
fi

tap_end
