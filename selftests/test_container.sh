#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# attach --container against real containers: runc (Debian's 1.1.5), crun and
# podman where they run here, each from a bundle whose rootfs holds only a
# static busybox (podman imports a tar of it: no registry). Each case checks
# that the cgroup attach resolved is the one the container's process is in
# (its /proc/PID/cgroup), or the one clear error line, exit 1, with nothing
# attached or left. The attach itself needs trampolines: where this kernel
# refuses them, attach stops after resolving, with its own error naming the
# same cgroup; selftests/vm/test_attach.sh attaches for real in the 6.12
# guest. Every attach runs in a mount namespace with an empty run registry and
# bpffs, so no other suite's or the machine's attachments are touched. Needs
# root. Prints TAP.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (runs containers)"
	exit 0
fi
tmp=$(mktemp -d /tmp/mu-ct.XXXXXX)
tag=mu-ct-$$
runc_ids=()
pids=()
cgroups=()
podman_ok=
# podman with a store, runtime directory and settings of the suite's own: runc
# (crun refuses hybrid cgroup layouts), cgroupfs (no systemd here), no network.
export CONTAINERS_STORAGE_CONF=$tmp/podman/storage.conf CONTAINERS_CONF=$tmp/podman/containers.conf

cleanup() {
	local id c
	for id in "${runc_ids[@]}"; do
		runc --root "${id%%@*}" delete -f "${id#*@}" >/dev/null 2>&1
	done
	[ -n "$podman_ok" ] && podman rm -f -t 0 "$tag-web" >/dev/null 2>&1
	[ -n "$podman_ok" ] && podman rmi -f "$tag-img" >/dev/null 2>&1
	for c in "${pids[@]}"; do kill -9 "$c" 2>/dev/null; done
	for c in "${cgroups[@]}"; do rmdir "$c" 2>/dev/null; done
	# podman's vfs layers are read-only directories: make them removable.
	chmod -R u+w "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$cg2" ]; then
	echo "1..0 # SKIP no cgroup v2 mounted"
	exit 0
fi
printf 'bind mptcp@127.0.0.1:7000\n' >"$tmp/p.policy"
chmod 644 "$tmp/p.policy"
pol=$tmp/p.policy

# The cgroup v2 of process $1, as its 0:: line names it.
proc_cg() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }

# try [CMD-PREFIX...] -- ARGS...: $bin ARGS in a mount namespace with an empty run
# registry and bpffs (with hide_run=1, an empty /run too); $rc, $out, $err, and
# in $left what it left in the registry or on bpffs (the lock aside).
try() {
	local pre=()
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	unshare -m sh -c '
		[ "$hide_run" != 1 ] || mount -t tmpfs -o mode=0755 mu-run /run || exit 99
		mkdir -p /run/mptcp-upgrade &&
		mount -t tmpfs -o mode=0755 mu-alone /run/mptcp-upgrade &&
		{ [ ! -d /sys/fs/bpf ] || mount -t bpf -o mode=0700 bpf /sys/fs/bpf; } || exit 99
		"$@" >"$T/out" 2>"$T/err" </dev/null
		echo $? >"$T/rc"
		{ find /run/mptcp-upgrade -mindepth 1 ! -name lock ! -type d
		  find /sys/fs/bpf -maxdepth 1 -name "mptcp-upgrade*"; } 2>/dev/null >"$T/left"' \
		sh "${pre[@]}" "$bin" "$@"
	rc=$(cat "$tmp/rc" 2>/dev/null || echo 99)
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	left=$(cat "$tmp/left")
}
export T=$tmp hide_run=0

# resolved NAME CGROUP: attach resolved the container to CGROUP, and stopped there
# with the trampoline error on this kernel (or attached it, where the kernel loads
# the hook: then it is detached again).
attach_native=
"$bin" check --engine attach >/dev/null 2>&1 && attach_native=1
resolved() {
	local name=$1 want=$2 note
	note=$(sed -n 's/^note: container .* runs in cgroup //p' <<<"$err")
	if [ -z "$want" ] || [ "$note" != "$want" ]; then
		not_ok "$name" "resolved to '$note', the process is in '$want'" "stderr: $err"
	elif [ -n "$attach_native" ] && [ "$rc" -eq 0 ] && grep -q "^attached $want:" <<<"$out"; then
		ok "$name (attached)"
	elif [ -z "$attach_native" ] && [ "$rc" -eq 1 ] &&
		grep -q "^Error: can't attach to cgroup $want: the kernel refuses" <<<"$err" &&
		[ -z "$left" ]; then
		ok "$name (this kernel refuses the hook: attach stopped there, nothing left)"
	else
		not_ok "$name" "exit $rc" "stdout: $out" "stderr: $err" "left: $left"
	fi
}

# fails NAME REGEX: one error line matching REGEX, exit 1, nothing left.
fails() {
	local lines
	lines=$(grep -c '' <<<"$err")
	if [ "$rc" -ne 1 ] || ! grep -Eq -- "^Error: $2" <<<"$err" || [ "$lines" -ne 1 ] ||
		[ -n "$left" ]; then
		not_ok "$1" "exit $rc, want 1 and one line /$2/" "stderr: $err" "left: $left"
	else
		ok "$1"
	fi
}

# ---- a bundle whose rootfs is one static program ----------------------------------

bundle() {	# bundle DIR CGROUP-PATH
	mkdir -p "$1/rootfs" &&
		cp /bin/busybox "$1/rootfs/busybox" &&
		(cd "$1" && runc spec) &&
		jq --arg cg "$2" '.process.terminal = false |
			.process.args = ["/busybox", "sleep", "1000"] |
			.linux.cgroupsPath = $cg' "$1/config.json" >"$1/c" && mv "$1/c" "$1/config.json"
}

# runc_up ROOT ID [start]: a container from its own bundle, created (and started).
runc_up() {
	local root=$1 id=$2
	bundle "$tmp/b-$id" "/$id" || return 1
	runc_ids+=("$root@$id")
	runc --root "$root" create -b "$tmp/b-$id" "$id" </dev/null >/dev/null 2>"$tmp/runc.err" ||
		return 1
	cgroups+=("$cg2/$id")
	[ "${3:-}" = start ] || return 0
	runc --root "$root" start "$id" 2>>"$tmp/runc.err" || return 1
	wait_for sh -c "runc --root '$root' state '$id' | jq -e '.status == \"running\"' >/dev/null"
}
runc_pid() { runc --root "$1" state "$2" | jq -r .pid; }

if [ ! -x /bin/busybox ] || ! ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; then
	echo "Bail out! needs a static /bin/busybox (busybox-static) for the containers' rootfs"
	exit 1
fi

# ---- usage --------------------------------------------------------------------------

try -- attach --cgroup x --container y --policy "$pol"
expect "--cgroup and --container exclude each other (usage)" 2 "exclude each other"
try -- attach --root /x --cgroup x --policy "$pol"
expect "--root goes with --container (usage)" 2 "root goes with --container"
try -- detach --container runc:x --all
expect "detach: --container and --all exclude each other (usage)" 2 "container and --all"
try -- stats --container runc:x --pid 1
expect "stats: --container and --pid exclude each other (usage)" 2 "container excludes --cgroup and --pid"

# ---- references no runtime knows ---------------------------------------------------

try -- attach --container foo:abc --policy "$pol"
fails "an unknown runtime is one error" "unknown runtime in container foo:abc"
try -- attach --container 'runc:../etc' --policy "$pol"
fails "an id that walks a path is refused" "'../etc' is not a container id or name"
try -- attach --container 'containerd:a b/x' --policy "$pol"
fails "a containerd namespace that is no name is refused" "'a b' is not a containerd namespace"
try env PATH=/nonexistent -- attach --container podman:web --policy "$pol"
fails "podman not installed: one error" "podman is not installed \(no podman in PATH\)"
hide_run=1 try env PATH=/nonexistent -- attach --container "runc:$tag" --policy "$pol"
fails "runc not installed (no binary, no /run/runc): one error" \
	"runc is not installed \(no runc in PATH, no /run/runc\)"
hide_run=1 try -- attach --container "runc:$tag" --policy "$pol"
fails "runc installed, no /run/runc: no container" "no runc container $tag \(/run/runc does not exist"
hide_run=1 try -- attach --container "containerd:default/$tag" --policy "$pol"
if command -v containerd >/dev/null; then
	fails "containerd with no state: one error" "no containerd container"
else
	fails "containerd not installed: one error" "containerd is not installed"
fi
hide_run=1 try env PATH=/nonexistent -- attach --container "crio:$tag" --policy "$pol"
fails "cri-o not installed: one error" "cri-o is not installed"
try -- attach --container podman:web --root /run/runc --policy "$pol"
fails "--root with podman is one error" "--root is a state directory of runc, crun"
# A podman that never answers (a hung store, a lock held): bounded, then one error.
mkdir -p "$tmp/hungbin"
printf '#!/bin/sh\necho $$ >%s\nexec sleep 120\n' "$tmp/hung.pid" >"$tmp/hungbin/podman"
chmod 755 "$tmp/hungbin/podman"
t0=$(date +%s)
try env PATH="$tmp/hungbin:$PATH" -- attach --container podman:web --policy "$pol"
waited=$(($(date +%s) - t0))
fails "a podman that does not answer is one error" \
	"podman did not answer \`podman container inspect web\` in 10 s \(stopped it\)"
hung=$(cat "$tmp/hung.pid" 2>/dev/null)
if [ "$waited" -le 30 ] && [ -n "$hung" ] && ! kill -0 "$hung" 2>/dev/null; then
	ok "... after 10 s, not for good ($waited s), and the podman asked is stopped"
else
	not_ok "... after 10 s, not for good" "waited $waited s, podman pid ${hung:-?}"
	[ -n "$hung" ] && kill "$hung" 2>/dev/null
fi
try -- attach --container "$tag-nothing" --root "$tmp/nowhere" --policy "$pol"
fails "an unreadable --root is one error" "can't read $tmp/nowhere: No such file"

# ---- runc ---------------------------------------------------------------------------

root=$tmp/runc
mkdir -p "$root"
if ! runc_up "$root" "$tag-a" start; then
	not_ok "a runc container runs" "$(cat "$tmp/runc.err")"
else
	pid=$(runc_pid "$root" "$tag-a")
	want=$(proc_cg "$pid")
	[ "$want" = "/$tag-a" ] && ok "runc put its container in cgroup v2 /$tag-a (pid $pid)" ||
		not_ok "runc put its container in cgroup v2 /$tag-a" "/proc/$pid/cgroup: $want"
	try -- attach --container "runc:$tag-a" --root "$root" --policy "$pol"
	resolved "runc:ID --root DIR resolves to the container process's cgroup" "$want"
	try -- attach --container "runc:$tag-" --root "$root" --policy "$pol"
	resolved "runc:PREFIX resolves when one container has it" "$want"
	try -- attach --container "$tag-a" --root "$root" --policy "$pol"
	resolved "a bare id under --root resolves" "$want"
	grep -q "^note: container runc:$tag-a (init process $pid)" <<<"$err" &&
		ok "attach names the container as runc:ID and its init process" ||
		not_ok "attach names the container as runc:ID and its init process" "stderr: $err"

	# A second container whose id starts with the first's.
	if runc_up "$root" "$tag-ab" start; then
		pid_b=$(runc_pid "$root" "$tag-ab")
		try -- attach --container "runc:$tag-a" --root "$root" --policy "$pol"
		resolved "an exact id wins over a longer one it prefixes" "$want"
		try -- attach --container "runc:$tag-ab" --root "$root" --policy "$pol"
		resolved "the longer id resolves to its own container" "$(proc_cg "$pid_b")"
		try -- attach --container "$tag-" --root "$root" --policy "$pol"
		fails "an ambiguous prefix is one error listing the matches" \
			"container $tag- is ambiguous: 2 match \(runc:$tag-ab?, runc:$tag-ab?\)"
	else
		not_ok "a second runc container runs" "$(cat "$tmp/runc.err")"
	fi

	# Created, not started: its init (runc's, waiting to exec) is in its cgroup already.
	if runc_up "$root" "$tag-c"; then
		pid_c=$(runc_pid "$root" "$tag-c")
		try -- attach --container "runc:$tag-c" --root "$root" --policy "$pol"
		resolved "a created container not started yet resolves (attach before its start)" \
			"$(proc_cg "$pid_c")"
	else
		not_ok "a runc container is created" "$(cat "$tmp/runc.err")"
	fi

	try -- attach --container "runc:$tag-zz" --root "$root" --policy "$pol"
	fails "an unknown runc id is one error" "no container runc:$tag-zz under --root"
	try -- detach --container "runc:$tag-a" --root "$root"
	fails "detach --container with nothing attached: one error" \
		"runc:$tag-a is not attached \(nothing is\)"

	# Stopped: its process killed, runc's state still there.
	kill -9 "$pid"
	need "runc sees $tag-a stopped" sh -c \
		"runc --root '$root' state '$tag-a' | jq -e '.status == \"stopped\"' >/dev/null"
	try -- attach --container "runc:$tag-a" --root "$root" --policy "$pol"
	fails "a stopped runc container is one error" \
		"container runc:$tag-a is stopped \(its init process $pid is gone\)"
fi

# The default root, /run/runc.
if runc_up /run/runc "$tag-d" start; then
	pid_d=$(runc_pid /run/runc "$tag-d")
	try -- attach --container "runc:$tag-d" --policy "$pol"
	resolved "runc:ID resolves from /run/runc, runc's default root" "$(proc_cg "$pid_d")"
	try -- attach --container "$tag-d" --policy "$pol"
	resolved "a bare id is found among all runtimes" "$(proc_cg "$pid_d")"
	try -- attach --container "crio:$tag-d" --policy "$pol"
	resolved "crio:ID is found in the runc root CRI-O runs runc with" "$(proc_cg "$pid_d")"
	# stats needs no attach: the container's cgroup, in its own network namespace.
	netns=$(stat -L -c %i "/proc/$pid_d/ns/net")
	try -- -j stats --container "runc:$tag-d"
	if [ "$rc" -eq 0 ] && [ "$(jq -c '[.namespaces[].netns]' <<<"$out")" = "[$netns]" ]; then
		ok "stats --container looks in the container's own network namespace ($netns)"
	else
		not_ok "stats --container looks in the container's network namespace" \
			"exit $rc, want namespace $netns" "stdout: ${out:0:300}" "stderr: $err"
	fi
	try -- stats --container "runc:$tag-nothing"
	fails "stats --container of an unknown container is one error" \
		"no container runc:$tag-nothing"
else
	not_ok "a runc container runs under /run/runc" "$(cat "$tmp/runc.err")"
fi

# ---- state files pointing at processes the suite placed ------------------------------

# A crun status and a runc state whose process is a sleep in a cgroup of the suite's
# own, or in the root cgroup: the formats, the pid-reuse guard and the root refusal.
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat"; }
sleep 1000 & sl=$!
disown
pids+=("$sl")
mkdir -p "$cg2/$tag-fx" && cgroups+=("$cg2/$tag-fx") && echo "$sl" >"$cg2/$tag-fx/cgroup.procs"
mkdir -p "$tmp/fx/$tag-crun" "$tmp/fx/$tag-reused" "$tmp/fx/$tag-root"
printf '{"pid": %d, "process-start-time": %s, "cgroup-path": "/%s-fx"}\n' "$sl" \
	"$(start_of "$sl")" "$tag" >"$tmp/fx/$tag-crun/status"
try -- attach --container "crun:$tag-crun" --root "$tmp/fx" --policy "$pol"
resolved "crun's status file resolves to its process's cgroup" "/$tag-fx"
printf '{"init_process_pid": %d, "init_process_start": %s}\n' "$sl" \
	"$(($(start_of "$sl") + 1))" >"$tmp/fx/$tag-reused/state.json"
try -- attach --container "runc:$tag-reused" --root "$tmp/fx" --policy "$pol"
fails "a pid reused by another process (start time differs) is a stopped container" \
	"container runc:$tag-reused is stopped"
sleep 1000 & sr=$!
disown
pids+=("$sr")
echo "$sr" >"$cg2/cgroup.procs"
printf '{"init_process_pid": %d, "init_process_start": %s}\n' "$sr" "$(start_of "$sr")" \
	>"$tmp/fx/$tag-root/state.json"
try -- attach --container "runc:$tag-root" --root "$tmp/fx" --policy "$pol"
fails "a container in the root cgroup is refused" \
	"container runc:$tag-root runs in the root cgroup: refusing to attach there"

# ---- crun ---------------------------------------------------------------------------

croot=$tmp/crun
mkdir -p "$croot"
if ! command -v crun >/dev/null; then
	skip "crun:ID resolves a real crun container" "crun is not installed"
elif bundle "$tmp/b-$tag-crun" "/$tag-crun" &&
	crun --root "$croot" create -b "$tmp/b-$tag-crun" "$tag-crun" </dev/null >/dev/null \
		2>"$tmp/crun.err"; then
	cgroups+=("$cg2/$tag-crun")
	cpid=$(crun --root "$croot" state "$tag-crun" | jq -r .pid)
	try -- attach --container "crun:$tag-crun" --root "$croot" --policy "$pol"
	resolved "crun:ID resolves a real crun container" "$(proc_cg "$cpid")"
	crun --root "$croot" delete -f "$tag-crun" >/dev/null 2>&1
else
	skip "crun:ID resolves a real crun container" \
		"crun can't run one here: $(head -1 "$tmp/crun.err")"
fi

# ---- podman -------------------------------------------------------------------------

mkdir -p "$tmp/podman/rootfs"
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$tmp/podman/graph"
runroot = "$tmp/podman/run"
EOF
cat >"$CONTAINERS_CONF" <<EOF
[engine]
tmp_dir = "$tmp/podman/tmp"
cgroup_manager = "cgroupfs"
events_logger = "none"
runtime = "runc"
[containers]
netns = "none"
EOF
# podman's default limits are above this machine's hard ones: its own instead.
pod_run() {
	podman run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name "$tag-web" \
		"$tag-img" /busybox sleep 1000 2>"$tmp/podman.err"
}
pod_pid() { podman inspect --format '{{.State.Pid}}' "$tag-web"; }
cp /bin/busybox "$tmp/podman/rootfs/busybox"
if ! command -v podman >/dev/null; then
	skip "podman:NAME resolves a real podman container" "podman is not installed"
elif ! tar -C "$tmp/podman/rootfs" -cf "$tmp/podman/rootfs.tar" . ||
	! podman import "$tmp/podman/rootfs.tar" "$tag-img" >/dev/null 2>"$tmp/podman.err" ||
	! podman_ok=1 || ! id1=$(pod_run); then
	skip "podman:NAME resolves a real podman container" \
		"podman can't run a container here: $(grep -m1 . "$tmp/podman.err")"
else
	ppid=$(pod_pid)
	want=$(proc_cg "$ppid")
	try -- attach --container "podman:$tag-web" --policy "$pol"
	resolved "podman:NAME resolves to the container process's cgroup" "$want"
	try -- attach --container "podman:${id1:0:12}" --policy "$pol"
	resolved "podman:ID-PREFIX resolves the same" "$want"
	grep -q "^note: container podman:$tag-web " <<<"$err" &&
		ok "a container found by id is recorded by its podman name" ||
		not_ok "a container found by id is recorded by its podman name" "stderr: $err"
	try -- attach --container "$tag-web" --policy "$pol"
	resolved "a bare podman name is found among all runtimes" "$want"
	try -- attach --container "$id1" --policy "$pol"
	resolved "a bare podman id is podman's, not also runc's (one match)" "$want"
	# Re-created under the same name: a new id, a new cgroup, found by the name.
	if podman rm -f -t 0 "$tag-web" >/dev/null 2>&1 && id2=$(pod_run); then
		want2=$(proc_cg "$(pod_pid)")
		try -- attach --container "podman:$tag-web" --policy "$pol"
		[ "$id2" != "$id1" ] && [ "$want2" != "$want" ] &&
			ok "re-created, the container has a new id and cgroup ($want2)" ||
			not_ok "re-created, the container has a new id and cgroup" "$want -> $want2"
		resolved "podman:NAME resolves the re-created container's new cgroup" "$want2"
	else
		not_ok "podman re-creates the container" "$(grep -m1 . "$tmp/podman.err")"
	fi
	podman stop -t 0 "$tag-web" >/dev/null 2>&1
	try -- attach --container "podman:$tag-web" --policy "$pol"
	fails "a stopped podman container is one error" \
		"container podman:$tag-web is stopped \(podman says (exited|stopped)\)"
	try -- attach --container "podman:$tag-nothing" --policy "$pol"
	fails "an unknown podman name is one error" "no container podman:$tag-nothing"
fi

tap_end
