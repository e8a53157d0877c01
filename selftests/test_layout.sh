#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The source tree's shape, as docs/design.md describes it: which folder of
# user/ may include which, headers private to their folder, no cycle between
# folders, and no C or BPF file over 700 lines. Reads the tree only: no build,
# no root.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
. selftests/lib.sh

# The folders each folder of user/ may include from ("-": none). The top
# (main.c, commands.h) dispatches to all of them.
declare -A allowed=(
	[common]="-"
	[policy]="common"
	[bridge]="common"
	[run]="common policy bridge"
	[stats]="common container"
	[container]="common"
	[exporter]="common stats"
	[check]="common bridge attach"
	[attach]="common policy bridge run stats container"
	[status]="common policy bridge attach run stats"
	[agent]="common policy bridge run container"
)

# folder_deps DIR: the other folders DIR's files include, one per line.
folder_deps() {
	grep -ho '^#include "[a-z_]*/' "user/$1"/*.[ch] 2>/dev/null |
		sed 's/^#include "//; s|/$||' | sort -u | grep -vx "$1"
}

folders=$(cd user && ls -d */ | tr -d / | tr "\n" " ")
known=$(printf '%s\n' "${!allowed[@]}" | sort | tr '\n' ' ')
got=$(printf '%s\n' $folders | sort | tr '\n' ' ')
[ "$got" = "$known" ] &&
	ok "user/ has the folders docs/design.md names ($got)" ||
	not_ok "user/ has the folders docs/design.md names" "found: $got" "known: $known"

for d in $folders; do
	bad=
	for dep in $(folder_deps "$d"); do
		case " ${allowed[$d]:-} " in
		*" $dep "*) ;;
		*) bad="$bad $dep" ;;
		esac
	done
	[ -z "$bad" ] &&
		ok "user/$d/ includes only from: ${allowed[$d]:-?}" ||
		not_ok "user/$d/ includes only from: ${allowed[$d]:-?}" \
			"also includes:$bad" "$(grep -n "^#include \"\(${bad# }\)/" "user/$d"/*.[ch] 2>/dev/null |
				head -5)"
done

# The engines and stats never reach into the attach engine; stats reaches no engine.
hits=$(grep -ln '^#include "attach/' user/run/* user/stats/* user/common/* user/policy/* \
	user/bridge/* 2>/dev/null)
[ -z "$hits" ] && ok "the run engine, stats, policy, bridge and common include no attach/ file" ||
	not_ok "the run engine, stats, policy, bridge and common include no attach/ file" "$hits"
hits=$(grep -ln '^#include "run/' user/stats/* user/common/* user/policy/* 2>/dev/null)
[ -z "$hits" ] && ok "stats, policy and common include no run/ file (stats: common/served.h)" ||
	not_ok "stats, policy and common include no run/ file" "$hits"

# Private headers stay in their folder.
for h in attach/engine_internal.h run/run_internal.h policy/policy_internal.h; do
	d=${h%%/*}
	hits=$(grep -rln "\"$h\"\|\"${h#*/}\"" user selftests --include='*.[ch]' | grep -v "^user/$d/")
	[ -z "$hits" ] && ok "$h is included only inside user/$d/" ||
		not_ok "$h is included only inside user/$d/" "$hits"
done

# No cycle: repeatedly drop the folders all of whose dependencies are gone.
left=" $folders "
progress=1
while [ "$progress" = 1 ]; do
	progress=0
	for d in $left; do
		blocked=
		for dep in $(folder_deps "$d"); do
			case "$left" in *" $dep "*) blocked=1 ;; esac
		done
		if [ -z "$blocked" ]; then
			left=${left/ $d / }
			progress=1
		fi
	done
done
[ -z "${left// /}" ] && ok "the folders' includes have no cycle" ||
	not_ok "the folders' includes have no cycle" "in a cycle:$left"

long=$(wc -l user/*.[ch] user/*/*.[ch] bpf/*.[ch] 2>/dev/null | awk '$2 != "total" && $1 > 700')
[ -z "$long" ] && ok "no C or BPF file is over 700 lines" ||
	not_ok "no C or BPF file is over 700 lines" "$long"

tap_end
