#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What make install lays out, whether systemd accepts the units, whether the
# man pages and the completion work, and the Debian package built from this
# tree: its contents, lintian's verdict, and that it installs and runs.
# Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# The package build (dpkg-buildpackage from a clean copy, lintian, dpkg -i) takes
# about 100 s: make check runs it when asked, MU_CHECK_INSTALL=1 (.ci/run asks),
# and passes MU_CHECK_INSTALL=0 otherwise. Run on its own, it always runs.
if [ "${MU_CHECK_INSTALL:-1}" = 0 ]; then
	echo "1..0 # SKIP the package build and install run when asked: make check MU_CHECK_INSTALL=1 (.ci/run asks)"
	exit 0
fi
tmp=$(mktemp -d)
installed_pkg=no
cleanup() {
	[ "$installed_pkg" = yes ] && dpkg --purge mptcp-upgrade >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

d=$tmp/dest
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >/dev/null
for f in usr/sbin/mptcp-upgrade:755 usr/share/man/man8/mptcp-upgrade.8:644 \
	 usr/share/man/man5/mptcp-upgrade.policy.5:644 \
	 usr/share/bash-completion/completions/mptcp-upgrade:644 \
	 usr/lib/systemd/system/mptcp-upgrade@.service:644 \
	 usr/lib/systemd/system/mptcp-upgrade@.path:644 \
	 usr/lib/systemd/system/mptcp-upgrade-reload@.service:644 \
	 usr/lib/systemd/system/mptcp-upgrade-follow.service:644 \
	 usr/lib/systemd/system/mptcp-upgrade-textfile.service:644 \
	 usr/lib/systemd/system/mptcp-upgrade-textfile.timer:644 \
	 usr/lib/systemd/system/mptcp-upgrade-agent.service:644 \
	 usr/lib/systemd/system/mptcp-upgrade-exporter.service:644 \
	 etc/mptcp-upgrade/example.policy:644 \
	 usr/share/doc/mptcp-upgrade/examples/haproxy.service.d/mptcp-upgrade.conf:644 \
	 usr/share/doc/mptcp-upgrade/examples/haproxy.service.d/mptcp-upgrade-run.conf:644 \
	 usr/share/doc/mptcp-upgrade/examples/nginx.policy:644 \
	 usr/share/doc/mptcp-upgrade/examples/nginx.service.d/mptcp-upgrade.conf:644 \
	 usr/share/doc/mptcp-upgrade/examples/nginx.service.d/mptcp-upgrade-run.conf:644; do
	path=$d/${f%%:*}
	[ -f "$path" ] && [ "$(stat -c %a "$path")" = "${f#*:}" ] && ok "installed ${f%%:*} (${f#*:})" ||
		not_ok "installed ${f%%:*} (${f#*:})" "$(ls -l "$path" 2>&1)"
done
# The seccomp profile for containers, built where Debian's containers-common profile is.
f=usr/share/mptcp-upgrade/seccomp/mptcp-upgrade.json
if [ -r /usr/share/containers/seccomp.json ]; then
	[ "$(stat -c %a "$d/$f" 2>/dev/null)" = 644 ] &&
		jq -e '.listenerMetadata == "mptcp-upgrade.io/profile=1"' "$d/$f" >/dev/null &&
		ok "installed $f (644), the profile for containers" ||
		not_ok "installed $f (644), the profile for containers" "$(ls -l "$d/$f" 2>&1)"
else
	skip "installed $f" "no /usr/share/containers/seccomp.json to build it from"
fi
grep -qx 'ExecStart=/usr/sbin/mptcp-upgrade attach --cgroup %i --policy /etc/mptcp-upgrade/%i.policy' \
	"$d/usr/lib/systemd/system/mptcp-upgrade@.service" &&
	ok "units name the installed binary" || not_ok "units name the installed binary"
"$d/usr/sbin/mptcp-upgrade" policy "$d/etc/mptcp-upgrade/example.policy" >/dev/null &&
	ok "the installed binary validates the installed example policy" ||
	not_ok "the installed binary validates the installed example policy"

echo "# edited by the operator" >>"$d/etc/mptcp-upgrade/example.policy"
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >/dev/null
grep -q 'edited by the operator' "$d/etc/mptcp-upgrade/example.policy" &&
	ok "install again keeps an edited policy" || not_ok "install again keeps an edited policy"
make -s -C "$top" uninstall DESTDIR="$d" PREFIX=/usr >/dev/null
[ ! -e "$d/usr/sbin/mptcp-upgrade" ] && [ -z "$(find "$d/usr" -type f)" ] &&
	[ -f "$d/etc/mptcp-upgrade/example.policy" ] &&
	ok "uninstall removes what install put, but the policies" ||
	not_ok "uninstall removes what install put, but the policies" "$(find "$d" -type f)"

# systemd-analyze verify wants the binaries where the units say: a prefix of our own.
if command -v systemd-analyze >/dev/null; then
	p=$tmp/prefix
	make -s -C "$top" install PREFIX="$p" SYSCONFDIR="$p/etc" >/dev/null
	mkdir "$tmp/units"
	for u in mptcp-upgrade@.service mptcp-upgrade-reload@.service mptcp-upgrade@.path; do
		cp "$p/lib/systemd/system/$u" "$tmp/units/${u/@/@haproxy.slice}"
	done
	cp "$p/lib/systemd/system/mptcp-upgrade-follow.service" \
		"$p/lib/systemd/system/mptcp-upgrade-textfile.service" \
		"$p/lib/systemd/system/mptcp-upgrade-textfile.timer" \
		"$p/lib/systemd/system/mptcp-upgrade-agent.service" \
		"$p/lib/systemd/system/mptcp-upgrade-exporter.service" "$tmp/units/"
	mkdir -p "$tmp/units/haproxy.service.d"
	out=$(MANPATH=$p/share/man systemd-analyze verify "$tmp"/units/*.service \
		"$tmp"/units/*.path "$tmp"/units/*.timer 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] && ok "systemd-analyze verify accepts the units" ||
		not_ok "systemd-analyze verify accepts the units" "$out"
	# A run drop-in on Debian's own unit: systemd accepts it, and runs what we mean.
	# verify_dropin UNIT DIR START: DIR/UNIT.service.d/ gets the installed drop-in.
	verify_dropin() {
		local unit=$1 dir=$2 want=$3 start
		mkdir -p "$dir/$unit.service.d"
		cp "/lib/systemd/system/$unit.service" "$dir/"
		cp "$p/share/doc/mptcp-upgrade/examples/$unit.service.d/mptcp-upgrade-run.conf" \
			"$dir/$unit.service.d/"
		out=$(systemd-analyze verify "$dir/$unit.service" 2>&1)
		rc=$?
		start=$(grep '^ExecStart=.' "$dir/$unit.service.d/mptcp-upgrade-run.conf")
		[ "$rc" = 0 ] && [ -z "$out" ] && [ "$start" = "ExecStart=$want" ] &&
			ok "systemd-analyze verify accepts $unit.service with the run drop-in" ||
			not_ok "systemd-analyze verify accepts $unit.service with the run drop-in" \
				"$out" "$start"
	}
	if [ -f /lib/systemd/system/haproxy.service ] && [ -x /usr/sbin/haproxy ]; then
		verify_dropin haproxy "$tmp/hap" "$p/sbin/mptcp-upgrade run --policy $p/etc/mptcp-upgrade/haproxy.policy -- /usr/sbin/haproxy -Ws -f \$CONFIG -p \$PIDFILE \$EXTRAOPTS"
		# The same drop-in naming a binary that is not there must fail: it is read.
		sed -i "s|$p/sbin/mptcp-upgrade run|/nonexistent/mptcp-upgrade run|" \
			"$tmp/hap/haproxy.service.d/mptcp-upgrade-run.conf"
		out=$(systemd-analyze verify "$tmp/hap/haproxy.service" 2>&1)
		grep -q '/nonexistent/mptcp-upgrade' <<<"$out" &&
			ok "systemd reads the drop-in (a wrong binary in it is reported)" ||
			not_ok "systemd reads the drop-in" "$out"
	else
		skip "the run drop-in on haproxy.service" "Debian's haproxy is not installed"
	fi
	# nginx's: in the foreground under the supervisor (Type=exec).
	if [ -f /lib/systemd/system/nginx.service ] && [ -x /usr/sbin/nginx ]; then
		verify_dropin nginx "$tmp/ngx" "$p/sbin/mptcp-upgrade run --policy $p/etc/mptcp-upgrade/nginx.policy -- /usr/sbin/nginx -g 'daemon off; master_process on;'"
		"$p/sbin/mptcp-upgrade" policy "$p/share/doc/mptcp-upgrade/examples/nginx.policy" >/dev/null &&
			ok "the example nginx policy is valid" || not_ok "the example nginx policy is valid"
	else
		skip "the run drop-in on nginx.service" "Debian's nginx is not installed"
		skip "the example nginx policy" "Debian's nginx is not installed"
	fi
else
	skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

if command -v man >/dev/null; then
	for page in mptcp-upgrade.8 mptcp-upgrade.policy.5; do
		warn=$(MANWIDTH=80 man --warnings -l "$top/configs/man/$page" 2>&1 >/dev/null)
		[ -z "$warn" ] && ok "man page $page renders without warnings" ||
			not_ok "man page $page renders without warnings" "$warn"
	done
else
	skip "man pages render" "man is not installed"
fi

complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mptcp_upgrade
		 echo "${COMPREPLY[*]}"' sh "$top/configs/bash-completion/mptcp-upgrade" "$@"
}
[ "$(complete_words mptcp-upgrade at)" = attach ] &&
	complete_words mptcp-upgrade attach --n | grep -qx -- --no-strict &&
	complete_words mptcp-upgrade stats --p | grep -qw -- --prometheus &&
	ok "bash completion completes commands and their options" ||
	not_ok "bash completion completes commands and their options" \
		"$(complete_words mptcp-upgrade at) / $(complete_words mptcp-upgrade attach --n)"

# --cgroup completes below a cgroup2 mounted with the source "none" too (review D7).
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	mkdir -p "$tmp/cg2"
	got=$(unshare -m sh -c '
		for m in $(awk "{ for (i = 7; i < NF; i++) if (\$i == \"-\") break }
			\$(i + 1) == \"cgroup2\" { print \$5 }" /proc/self/mountinfo); do
			umount -l "$m"
		done
		mount -t cgroup2 none "$1" && mkdir -p "$1/mu-compl.slice" &&
		bash -c ". \"\$1\"; COMP_WORDS=(mptcp-upgrade attach --cgroup /mu-compl);
			COMP_CWORD=3; _mptcp_upgrade; echo \"\${COMPREPLY[*]}\"" sh "$2"
		rmdir "$1/mu-compl.slice"' sh "$tmp/cg2" "$top/configs/bash-completion/mptcp-upgrade" 2>&1)
	[ "$got" = /mu-compl.slice ] &&
		ok "--cgroup completion works with cgroup2 mounted as 'none'" ||
		not_ok "--cgroup completion works with cgroup2 mounted as 'none'" "$got"
else
	skip "--cgroup completion with cgroup2 mounted as 'none'" "needs root for a mount namespace"
fi

# ---- the Debian package ------------------------------------------------------------

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	skip "Debian package" "dpkg-buildpackage or debhelper is not installed"
	tap_end
	exit
fi
mkdir -p "$tmp/pkg/mptcp-upgrade"
git -C "$top" ls-files | tar -C "$top" -cf - -T - | tar -C "$tmp/pkg/mptcp-upgrade" -xf -
(cd "$tmp/pkg/mptcp-upgrade" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1
rc=$?
deb=$(ls "$tmp"/pkg/mptcp-upgrade_*_amd64.deb 2>/dev/null | head -n 1)
[ "$rc" = 0 ] && [ -n "$deb" ] && ok "dpkg-buildpackage -us -uc -b builds the .deb" ||
	not_ok "dpkg-buildpackage -us -uc -b builds the .deb" "$(tail -n 20 "$tmp/build.log")"
if [ -n "$deb" ]; then
	contents=$(dpkg -c "$deb" | awk '{ print $6 }')
	for f in ./usr/sbin/mptcp-upgrade ./usr/share/man/man8/mptcp-upgrade.8.gz \
		 ./usr/share/man/man5/mptcp-upgrade.policy.5.gz \
		 ./usr/lib/systemd/system/mptcp-upgrade@.service ./etc/mptcp-upgrade/example.policy \
		 ./usr/share/mptcp-upgrade/seccomp/mptcp-upgrade.json; do
		grep -qx -- "$f" <<<"$contents" || { not_ok "the package holds $f"; continue; }
		ok "the package holds $f"
	done
	dpkg-deb -e "$deb" "$tmp/ctl"
	grep -qx /etc/mptcp-upgrade/example.policy "$tmp/ctl/conffiles" &&
		ok "example policies are conffiles" || not_ok "example policies are conffiles"
	if command -v lintian >/dev/null; then
		tags=$(lintian --allow-root --pedantic "${deb%.deb}.changes" 2>&1 |
			grep -E '^[EWP]: ')
		[ -z "$tags" ] && ok "lintian: no error, warning or pedantic tag (overrides explained)" ||
			not_ok "lintian: no error, warning or pedantic tag (overrides explained)" "$tags"
	else
		skip "lintian" "lintian is not installed"
	fi
	if [ "$(id -u)" -eq 0 ] && [ ! -e /usr/sbin/mptcp-upgrade ]; then
		dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 && installed_pkg=yes
		/usr/sbin/mptcp-upgrade check >"$tmp/check.out" 2>&1
		rc=$?
		[ "$installed_pkg" = yes ] && grep -q '^trampolines ' "$tmp/check.out" &&
			{ [ "$rc" = 0 ] || [ "$rc" = 1 ]; } &&
			ok "the package installs and mptcp-upgrade check runs (exit $rc)" ||
			not_ok "the package installs and mptcp-upgrade check runs" \
				"$(cat "$tmp/dpkg.log" "$tmp/check.out")"
	else
		skip "installing the package" "needs root and no mptcp-upgrade in /usr/sbin already"
	fi
fi
tap_end
