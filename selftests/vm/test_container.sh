#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# attach --container end to end, in a kernel that runs the attach engine (the
# QEMU guest of run-vm; see test_vm.sh): real runc and crun containers (the
# guest's pure cgroup v2 mount lets crun run) and podman's, from a rootfs
# holding only the static run_probe, whose process makes a TCP socket as it
# starts. That socket is MPTCP once its container is attached by reference
# (between create and start), status shows the reference beside the cgroup,
# follow attaches the container again when it is re-created in a new cgroup
# (runc: the same id; podman: a new id under the same name), and reload and
# detach find it by reference. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/mptcp-upgrade
probe=$top/.output/selftests/run_probe.static
tmp=$(mktemp -d /tmp/mu-ct.XXXXXX)
cgroot=/sys/fs/cgroup
pids=()
ids=()

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cleanup() {
	local p id
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for id in "${ids[@]}"; do
		${id%%@*} delete -f "${id#*@}" >/dev/null 2>&1
	done
	"$bin" detach --all >/dev/null 2>&1
	command -v podman >/dev/null && podman rm -f -t 0 mu-ct-pod >/dev/null 2>&1
	rmdir "$cgroot/mu-ct-other" 2>/dev/null
	chmod -R u+w "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/vm/guest-lib.sh
. "$top/selftests/vm/guest-lib.sh"

[ -x "$probe" ] || { echo "Bail out! $probe missing (make)"; exit 1; }
printf 'bind mptcp4@127.0.0.1:7000-7009\n' >"$tmp/p.policy"
chmod 644 "$tmp/p.policy"

# bundle DIR CGROUP PORT: a container whose process is run_probe, which makes a
# TCP socket as it starts, says its SO_PROTOCOL ("created proto=N") and binds it
# to 127.0.0.1:PORT; it shares the guest's network namespace and is in cgroup CGROUP.
bundle() {
	mkdir -p "$1/rootfs" && cp "$probe" "$1/rootfs/" &&
		(cd "$1" && runc spec) &&
		jq --arg cg "$2" --arg port "$3" '.process.terminal = false |
			.process.args = ["/run_probe.static", "late", "bind", "127.0.0.1", $port, "/"] |
			.linux.cgroupsPath = $cg |
			.linux.namespaces |= map(select(.type != "network"))' \
			"$1/config.json" >"$1/c" && mv "$1/c" "$1/config.json"
}
# create RUNTIME ID PORT: the container created, not started (its process waits to
# exec); what the probe prints will land in $tmp/ID.out.
create() {
	rm -rf "$tmp/b-$2"
	bundle "$tmp/b-$2" "/mu-ct/$2" "$3" &&
		"$1" create -b "$tmp/b-$2" "$2" </dev/null >"$tmp/$2.out" 2>"$tmp/$1.err"
}
# start RUNTIME ID: start it, and print the SO_PROTOCOL its socket had at creation.
start() {
	"$1" start "$2" 2>>"$tmp/$1.err" &&
		wait_for grep -q '^created ' "$tmp/$2.out" &&
		sed -n 's/^created //p' "$tmp/$2.out"
}
pid_of() { "$1" state "$2" | jq -r .pid; }
gone() { "$1" delete -f "$2" >/dev/null 2>&1; }

# ---- runc ---------------------------------------------------------------------------

ids+=("runc@mu-ct-plain")
if create runc mu-ct-plain 7000; then
	got=$(start runc mu-ct-plain)
	[ "$got" = proto=6 ] && ok "without attach, a container's socket is TCP" ||
		not_ok "without attach, a container's socket is TCP" "$got" "$(cat "$tmp/runc.err")"
else
	not_ok "a runc container is created in the guest" "$(cat "$tmp/runc.err")"
fi

id=mu-ct-web
ids+=("runc@$id")
if ! create runc "$id" 7001; then
	not_ok "a runc container is created in the guest" "$(cat "$tmp/runc.err")"
	tap_end
	exit
fi
# Created, not started: its process waits in its cgroup, and attach comes first.
run attach --container "runc:$id" --policy "$tmp/p.policy"
expect "attach --container runc:ID of a created container exits 0" 0
grep -q "^attached /mu-ct/$id: policy" <<<"$out" &&
	grep -q "^note: container runc:$id (init process $(pid_of runc $id)) runs in cgroup /mu-ct/$id$" <<<"$err" &&
	ok "attach attached the container's cgroup, and said which" ||
	not_ok "attach attached the container's cgroup, and said which" "$out" "$err"
run attach --container "runc:$id" --policy "$tmp/p.policy"
expect "attaching the same container again is refused" 1 "is already attached"
got=$(start runc "$id")
[ "$got" = proto=262 ] && ok "the attached container's process, started, makes an MPTCP socket" ||
	not_ok "the attached container's process, started, makes an MPTCP socket" "$got" \
		"$(cat "$tmp/$id.out" "$tmp/runc.err")"
mkdir -p "$cgroot/mu-ct-other"
got=$(in_cg mu-ct-other "$probe" late bind 127.0.0.1 7002 / | sed -n 's/^bound //p')
[ "$got" = proto=6 ] && ok "a process outside the container stays TCP" ||
	not_ok "a process outside the container stays TCP" "$got"

got=$("$bin" status --json | jq -c '[.attachments[] | [.cgroup, .container]]')
[ "$got" = "[[\"/mu-ct/$id\",\"runc:$id\"]]" ] &&
	"$bin" status | grep -q "^cgroup /mu-ct/$id (cgroup id [0-9]*, attachment 0, container runc:$id)$" &&
	ok "status shows the container beside its cgroup (plain and JSON)" ||
	not_ok "status shows the container beside its cgroup" "$got" "$("$bin" status | head -3)"
grep -q "\"container\":\"runc:$id\"" "$mu_state"/attach-0.json &&
	ok "the attachment's state file records the container" ||
	not_ok "the attachment's state file records the container" "$(cat "$mu_state"/attach-0.json)"

run reload --container "$id"
expect "reload --container ID (bare) reloads its attachment" 0
grep -q "^reloaded /mu-ct/$id:" <<<"$out" && ok "reload names the container's cgroup" ||
	not_ok "reload names the container's cgroup" "$out"

# ---- re-created: follow attaches the new cgroup ---------------------------------------

"$bin" follow >"$tmp/follow.out" 2>&1 &
follow=$!
pids+=("$follow")
need "follow started" grep -q following "$tmp/follow.out"
old_cgid=$("$bin" status --json | jq -r '.attachments[0].cgroup_id')
gone runc "$id"
need "the container's cgroup removed" sh -c "[ ! -d $cgroot/mu-ct/$id ]"
got=$("$bin" status)
grep -q "GONE       the container's cgroup was removed" <<<"$got" &&
	ok "status says the container's cgroup is gone, and that follow attaches it again" ||
	not_ok "status says the container's cgroup is gone" "$got"
if create runc "$id" 7003; then
	# follow looks every 5 s: 10 s is twice that.
	wait_for grep -q "^re-attached: container runc:$id was re-created, in cgroup /mu-ct/$id (was /mu-ct/$id)$" \
		"$tmp/follow.out" && ok "follow attached the re-created container by itself" ||
		not_ok "follow attached the re-created container by itself" "$(cat "$tmp/follow.out")"
	got=$("$bin" status --json | jq -c "[.attachments[] | [.container, .cgroup_alive, .cgroup_id != $old_cgid]]")
	[ "$got" = "[[\"runc:$id\",true,true]]" ] &&
		ok "one attachment, of the new cgroup, with the container recorded" ||
		not_ok "one attachment, of the new cgroup, with the container recorded" "$got"
	got=$(start runc "$id")
	[ "$got" = proto=262 ] && ok "the re-created container's socket is MPTCP" ||
		not_ok "the re-created container's socket is MPTCP" "$got" "$(cat "$tmp/runc.err")"
else
	not_ok "the container is re-created" "$(cat "$tmp/runc.err")"
fi
kill "$follow"
wait "$follow" 2>/dev/null

run detach --container "runc:$id"
expect "detach --container runc:ID exits 0" 0
gone runc "$id"
got=$(create runc "$id" 7004 && start runc "$id")
[ "$got" = proto=6 ] && [ "$("$bin" status --json | jq '.attachments | length')" = 0 ] &&
	ok "after detach, nothing is attached and the container's sockets are TCP" ||
	not_ok "after detach, nothing is attached and the container's sockets are TCP" "$got"

# ---- crun, which a pure cgroup v2 mount lets run --------------------------------------

cid=mu-ct-crun
if ! command -v crun >/dev/null; then
	skip "attach --container crun:ID" "crun is not installed"
else
	ids+=("crun@$cid")
	if create crun "$cid" 7005; then
		run attach --container "crun:$cid" --policy "$tmp/p.policy"
		expect "attach --container crun:ID exits 0" 0
		got=$(start crun "$cid")
		[ "$got" = proto=262 ] && ok "the attached crun container's socket is MPTCP" ||
			not_ok "the attached crun container's socket is MPTCP" "$got" "$err"
		run detach --container "crun:$cid"
		expect "detach --container crun:ID exits 0" 0
	else
		skip "attach --container crun:ID" "crun can't run here: $(grep -m1 . "$tmp/crun.err")"
	fi
fi

# ---- podman: re-created under the same name, with a new id ---------------------------

# A store, runtime directory and settings of the suite's own; the guest's root is
# read-only, so temporary files go to $tmp too.
mkdir -p "$tmp/podman/rootfs"
export CONTAINERS_STORAGE_CONF=$tmp/podman/storage.conf CONTAINERS_CONF=$tmp/podman/containers.conf
export TMPDIR=$tmp/podman
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' \
	"$tmp/podman/graph" "$tmp/podman/run" >"$CONTAINERS_STORAGE_CONF"
printf '[engine]\ntmp_dir = "%s"\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n%s\n' \
	"$tmp/podman/tmp" 'image_copy_tmp_dir = "storage"' >"$CONTAINERS_CONF"
printf '[containers]\nlog_driver = "k8s-file"\n[network]\nnetwork_config_dir = "%s"\n' \
	"$tmp/podman/net" >>"$CONTAINERS_CONF"
pname=mu-ct-pod
# podman's locks live in /dev/shm, which run-vm's guest does not mount.
if [ "${MU_VM_GUEST:-0}" = 1 ] && ! mountpoint -q /dev/shm; then
	mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 shm /dev/shm
fi
# pod_init PORT: the container created and initialized (its process waits in its cgroup).
pod_init() {
	podman rm -f -t 0 "$pname" >/dev/null 2>&1
	podman create --name "$pname" --network host --ulimit nofile=1024:1024 \
		--ulimit nproc=1024:1024 localhost/mu-ct-img /run_probe.static late bind 127.0.0.1 "$1" / \
		>/dev/null 2>"$tmp/podman.err" && podman init "$pname" >/dev/null 2>>"$tmp/podman.err"
}
pod_start() {
	podman start "$pname" >/dev/null 2>>"$tmp/podman.err" &&
		wait_for sh -c "podman logs $pname 2>/dev/null | grep -q '^created '" &&
		podman logs "$pname" 2>/dev/null | sed -n 's/^created //p'
}
cp "$probe" "$tmp/podman/rootfs/"
if ! command -v podman >/dev/null; then
	skip "attach --container podman:NAME, re-created under a new id" "podman is not installed"
elif ! tar -C "$tmp/podman/rootfs" -cf "$tmp/podman/rootfs.tar" . ||
	! podman import "$tmp/podman/rootfs.tar" mu-ct-img >/dev/null 2>"$tmp/podman.err" ||
	! pod_init 7006; then
	skip "attach --container podman:NAME, re-created under a new id" \
		"podman can't run a container here: $(grep -m1 . "$tmp/podman.err")"
else
	id1=$(podman inspect --format '{{.Id}}' "$pname")
	run attach --container "podman:$pname" --policy "$tmp/p.policy"
	expect "attach --container podman:NAME of an initialized container exits 0" 0
	got=$(pod_start)
	[ "$got" = proto=262 ] && ok "the attached podman container's socket is MPTCP" ||
		not_ok "the attached podman container's socket is MPTCP" "$got" "$err" \
			"$(cat "$tmp/podman.err")"
	"$bin" follow >"$tmp/follow.out" 2>&1 &
	follow=$!
	pids+=("$follow")
	need "follow started" grep -q following "$tmp/follow.out"
	if pod_init 7007; then
		id2=$(podman inspect --format '{{.Id}}' "$pname")
		wait_for grep -q "^re-attached: container podman:$pname was re-created, in cgroup .*$id2" \
			"$tmp/follow.out" && [ "$id1" != "$id2" ] &&
			ok "follow attached the podman container re-created under a new id" ||
			not_ok "follow attached the podman container re-created under a new id" \
				"$id1 -> $id2" "$(cat "$tmp/follow.out")"
		got=$(pod_start)
		[ "$got" = proto=262 ] && ok "the re-created podman container's socket is MPTCP" ||
			not_ok "the re-created podman container's socket is MPTCP" "$got"
	else
		not_ok "podman re-creates the container" "$(cat "$tmp/podman.err")"
	fi
	kill "$follow"
	wait "$follow" 2>/dev/null
	run detach --container "$pname"
	expect "detach --container NAME (bare) exits 0" 0
	podman rm -f -t 0 "$pname" >/dev/null 2>&1
	podman rmi -f mu-ct-img >/dev/null 2>&1
fi

tap_end
