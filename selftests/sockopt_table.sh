#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The socket options MPTCP refuses on the running kernel, and what the bridge
# does with them, from `mptcp-upgrade check --json` (which probes them: nothing
# here is written by hand).
#
#   sockopt_table.sh            one line per option: NAME native|bridge|answered|refused
#   sockopt_table.sh --check F  compare with the table in F (docs/bridge.md): exit 0
#                               when F's column for this kernel (MAJOR.MINOR)
#                               says the same and every option F leaves out is
#                               native here, 1 when not (the differences are
#                               printed), 2 when F has no column for it
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
probe() {
	"$top/mptcp-upgrade" check --json 2>/dev/null | jq -r '
		.sockopts as $s
		| $s.known[] as $o
		| "\($o) \(if $o == "SO_OOBINLINE" and $s.oobinline_answered and $s.loads
			    then "answered"
			  elif ($s.carried | index($o)) != null and $s.loads then "bridge"
			  elif ($s.refused | index($o)) != null then "refused"
			  else "native" end)"'
}

[ "${1:-}" = --check ] || { probe; exit; }
file=$2
ver=$(uname -r | cut -d. -f1,2)
# The table: a header row naming kernels ("| option | 6.1 | 6.12 | ..."), then rows.
col=$(grep -m1 '^| option |' "$file" | tr -d ' ' | tr '|' '\n' | grep -v '^$' |
	grep -nx "$ver" | cut -d: -f1)
[ -n "$col" ] || { echo "$file has no column for Linux $ver"; exit 2; }
want=$(awk -F'|' -v c="$((col + 1))" '/^\| option \|/ { t = 1; next }
	t && /^\|---/ { next }
	t && /^\|/ { gsub(/ /, "", $2); gsub(/ /, "", $c); print $2, $c; next }
	t { exit }' "$file" | sort)
# F lists the options some kernel refuses; the others must be native here.
# (No process substitution: the test guests have no /dev/fd.)
got=$(probe | awk -v listed="$(cut -d' ' -f1 <<<"$want" | tr '\n' ' ')" '
	BEGIN { n = split(listed, a, " "); for (i = 1; i <= n; i++) l[a[i]] = 1 }
	l[$1] || $2 != "native"' | sort)
if [ "$want" = "$got" ]; then
	exit 0
fi
tmp=$(mktemp -d)
echo "$want" >"$tmp/doc"
echo "$got" >"$tmp/kernel"
diff "$tmp/doc" "$tmp/kernel" | sed "s|^<|$file:|; s/^>/kernel:/" | grep -v '^[0-9]'
rm -rf "$tmp"
exit 1
