# SPDX-License-Identifier: GPL-2.0-only
# TAP helpers shared by the shell test suites. Source it; call tap_end last.

n=0
failed=0

# Where this tree's attach engine pins and keeps its state: per engine ABI (docs/upgrades.md).
mu_abi=$(sed -n 's/^#define MU_ENGINE_ABI[[:space:]]*\([0-9]*\).*/\1/p' \
	"${top:-.}/include/mptcp_upgrade.h" 2>/dev/null)
mu_pins=/sys/fs/bpf/mptcp-upgrade/v$mu_abi
mu_state=/run/mptcp-upgrade/v$mu_abi

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

# host_case WHAT: whether to run a group of cases whose result is the same on
# every kernel (the supervisor's own logic, usage errors, load and leak loops).
# MU_RUN_SCOPE=kernel, which test_vm_run.sh sets in its QEMU guests, keeps only
# the cases whose result depends on the kernel: there each other group is one
# skip line saying so, and the host's own run of the suite covers it.
host_case() {
	case ${MU_RUN_SCOPE:-all} in
	all) return 0 ;;
	kernel)
		skip "$1" "the same on every kernel: test_run*.sh on the host runs it (MU_RUN_SCOPE=kernel)"
		return 1 ;;
	*)
		echo "Bail out! MU_RUN_SCOPE is all or kernel, not '$MU_RUN_SCOPE'"
		exit 2 ;;
	esac
}

# run ARGS...: $bin's exit code, stdout and stderr land in $rc, $out, $err.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# own_registry: a run registry (/run/mptcp-upgrade) of the suite's own, mounted
# in the mount namespace the suite re-executed itself into (unshare -n -m): its
# status, reload and stats without a target then see its own supervisors only,
# not those of a suite running beside it or the machine's own.
own_registry() {
	mkdir -p /run/mptcp-upgrade &&
		mount -t tmpfs -o mode=0755 mu-suite /run/mptcp-upgrade && return 0
	echo "Bail out! can't mount a run registry of the suite's own on /run/mptcp-upgrade"
	exit 1
}

# run_alone ARGS...: run, in a mount namespace of its own where the run registry
# (/run/mptcp-upgrade) and bpffs are empty: what status, reload, detach and
# stats say when nothing is attached and no run supervisor exists, whatever
# other suites (make check runs some at once) or the machine's own run
# supervisors and attachments are doing. Needs root.
run_alone() {
	unshare -m sh -c 'mkdir -p /run/mptcp-upgrade &&
		mount -t tmpfs -o mode=0755 mu-alone /run/mptcp-upgrade &&
		{ [ ! -d /sys/fs/bpf ] || mount -t bpf -o mode=0700 bpf /sys/fs/bpf; } &&
		exec "$@"' sh "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
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

# wait_for CMD...: poll a condition every 0.1 s for at most 10 s (a bound, not a
# guess); WAIT_TENTHS=N for another bound, in tenths of a second.
# need WHAT CMD...: wait for a test's precondition; one that never comes is a
# failed test naming it, not a misleading failure further on.
need() {
	local what=$1
	shift
	wait_for "$@" || not_ok "precondition: $what" "timed out waiting for: $*"
}
wait_for() {
	local i
	for ((i = 0; i < ${WAIT_TENTHS:-100}; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# A program that exits 42 on SIGTERM and makes no system call the run engine
# watches (a shell would fork sleep, which fails once the supervisor is gone).
# shellcheck disable=SC2034
term42='import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
print("ready", flush=True)
while True:
    time.sleep(0.1)'

# nginx_proxy DIR: an nginx configuration in DIR (master and two workers, in the
# foreground, everything under DIR) with a listen on 127.0.0.1:7550 proxying to
# 127.0.0.1:7650 (with proxy_bind) and one on 7551 proxying to 7651; and an
# MPTCP HTTP upstream on each of 7650 and 7651 for one request ($sock serve),
# their output in DIR/up0.out and DIR/up1.out. Adds the upstreams to pids.
nginx_proxy() {
	local dir=$1 i
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<NGINX
daemon off;
master_process on;
worker_processes 2;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	server {
		listen 127.0.0.1:7550;
		location / { proxy_pass http://127.0.0.1:7650; proxy_bind 127.0.0.1; }
	}
	server {
		listen 127.0.0.1:7551;
		location / { proxy_pass http://127.0.0.1:7651; }
	}
}
NGINX
	for i in 0 1; do
		"$sock" serve 127.0.0.1 "765$i" 1 mptcp >"$dir/up$i.out" 2>&1 &
		pids+=($!)
	done
	need "nginx's upstreams ready" grep -q ready "$dir/up0.out"
	need "nginx's upstreams ready" grep -q ready "$dir/up1.out"
}

# prom_problems <TEXT: a strict reading of the text exposition format (every sample
# after its TYPE, names and labels well formed, values numbers, counters named
# *_total, no series twice); what is wrong on stdout, exit 1; silent, exit 0.
prom_problems() {
	awk '
	/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
	/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge)$/ {
		if ($4 == "counter" && $3 !~ /_total$/) { print "counter without _total: " $0; bad = 1 }
		type[$3] = $4; next
	}
	{
		name = $0; sub(/[{ ].*/, "", name)
		if (name !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) { print "bad name: " $0; bad = 1; next }
		if (!(name in type)) { print "sample before its TYPE: " $0; bad = 1 }
		rest = substr($0, length(name) + 1)
		labels = ""
		if (rest ~ /^\{/) {
			labels = rest; sub(/\} .*/, "}", labels)
			if (labels !~ /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\}$/) {
				print "bad labels: " $0; bad = 1
			}
			rest = substr(rest, length(labels) + 1)
		}
		if (rest !~ /^ -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) { print "bad value: " $0; bad = 1 }
		if (seen[name labels]++) { print "series twice: " $0; bad = 1 }
		samples++
	}
	END { if (!samples) { print "no samples"; bad = 1 } exit bad }'
}
