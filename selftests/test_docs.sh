#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# README.md and docs/*.md against the tree they describe: README.md stays a
# README (at most 250 lines, the two set-up commands that .ci/run and the
# tests rely on in its first code block, a link to every page of docs/), and
# every relative path, `make TARGET` and `mptcp-upgrade SUBCOMMAND` the pages
# name exists. Paths are the words in code spans that hold a slash, are not
# absolute (/etc/..., /usr/... are installed paths) and start with a top-level
# entry of the tree, end with a slash or have an extension; the words in code
# blocks that start with a top-level entry (configs/..., selftests/...); and
# link targets, relative to the page. Files make builds under .output are not
# the tree's and are left out. Needs neither root nor network.
# Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

cd "$top" || exit 1
pages=(README.md docs/*.md)

# ---- README.md is a README ---------------------------------------------------

lines=$(grep -c '' README.md)
[ "$lines" -le 250 ] && ok "README.md has $lines lines (at most 250)" ||
	not_ok "README.md has at most 250 lines" "it has $lines: move the detail to docs/"

# The first fenced block, comments and blank lines dropped.
first=$(awk '/^```/ { if (inside) exit; inside = 1; next } inside' README.md |
	sed 's/#.*//; s/[[:space:]]*$//' | grep -v '^$')
want=$'sudo make deps demo\nsudo make deps check'
[ "$first" = "$want" ] &&
	ok "README.md's first code block is the two set-up commands" ||
	not_ok "README.md's first code block is 'sudo make deps demo' and 'sudo make deps check'" \
		"it holds: $(tr '\n' ';' <<<"$first")"

missing=()
for page in docs/*.md; do
	grep -q "](${page})" README.md || missing+=("$page")
done
[ "${#missing[@]}" -eq 0 ] && ok "README.md links every page of docs/ (${#pages[@]} pages checked)" ||
	not_ok "README.md links every page of docs/" "not linked: ${missing[*]}"

grep -q '^| option | 6\.1 | 6\.12 | 6\.18 |$' docs/bridge.md &&
	ok "docs/bridge.md holds the socket-option table selftests/sockopt_table.sh --check reads" ||
	not_ok "docs/bridge.md holds the '| option | 6.1 | 6.12 | 6.18 |' table" \
		"selftests/test_run.sh checks it against the kernel with sockopt_table.sh"

# ---- what the pages name -------------------------------------------------------

# One line per thing named: KIND PAGE WORD, KIND one of path (from the tree's
# top), link (relative to PAGE), make (the words after make), cmd (the first
# word after mptcp-upgrade that is not an option).
# .output holds what make builds: named in the pages, not part of the tree.
tops=
for entry in * .[!.]*; do
	[ -e "$entry" ] && [ "$entry" != .git ] && [ "$entry" != .output ] && tops+="$entry "
done
perl -e '
	my %top = map { $_ => 1 } split " ", shift;
	sub commands {
		my ($page, $text) = @_;
		while ($text =~ /(?:^|[\s;&|(`])make((?:[ \t]+[^\s#;&|)`]+)*)/g) {
			for my $w (split " ", $1) {
				next if $w =~ /=/ || $w =~ /^-/;
				print "make $page $w\n";
			}
		}
		while ($text =~ /(?:^|[\s;&|(`])mptcp-upgrade((?:[ \t]+[^\s#;&|)`]+)+)/g) {
			my ($w) = grep { !/^-/ } split " ", $1;
			print "cmd $page $w\n" if defined $w && $w =~ /^[a-z][a-z-]*$/;
		}
	}
	for my $page (@ARGV) {
		open(my $f, "<", $page) or die "$page: $!";
		my $fenced = 0;
		while (my $line = <$f>) {
			chomp $line;
			if ($line =~ /^```/) { $fenced = !$fenced; next; }
			if ($fenced) {
				(my $code = $line) =~ s/(^|\s)#.*//;
				commands($page, $code);
				for my $w (split " ", $code) {
					$w =~ s/[.,;:)]+$//;
					my ($first) = split m{/}, $w;
					print "path $page $w\n" if $w =~ m{/} && $top{$first};
				}
				next;
			}
			while ($line =~ /`([^`]+)`/g) {
				my $span = $1;
				commands($page, $span);
				for my $w (split " ", $span) {
					$w =~ s/[.,;:)]+$//;
					next unless $w =~ m{/};
					next if $w =~ m{^[/~\$-]} || $w =~ m{://} || $w =~ /[\@=*<>{}|\[\]"\x27%]/;
					# A path starts in the tree, names a folder or a file
					# with an extension; not cgroup/bind4 or tcx/ingress
					# (BPF program sections).
					my ($first) = split m{/}, $w;
					next if $first eq ".output";
					next unless $top{$first} || $w =~ m{/$} || $w =~ m{\.[a-z0-9]+$};
					print "path $page $w\n";
				}
			}
			while ($line =~ /\]\(([^)\s]+)\)/g) {
				my $t = $1;
				next if $t =~ m{^(?:[a-z]+:|#)};
				$t =~ s/#.*//;
				print "link $page $t\n";
			}
		}
	}' "$tops" "${pages[@]}" | sort -u >"$tmp/named"

# Paths: the same path may be named on several pages; each missing one once.
bad=()
while read -r kind page word; do
	case $kind in
	path) [ -e "$word" ] || bad+=("$word ($page)") ;;
	link) [ -e "$(dirname "$page")/$word" ] || bad+=("$word (link in $page)") ;;
	esac
done <"$tmp/named"
npaths=$(grep -c '^\(path\|link\) ' "$tmp/named")
[ "${#bad[@]}" -eq 0 ] && ok "the $npaths relative paths and links README.md and docs/ name exist" ||
	not_ok "every relative path and link in README.md and docs/ exists" \
		"missing from the tree: ${bad[*]}"

# make targets, from make's own database of this Makefile.
make -pRrq -f Makefile : 2>/dev/null |
	awk -F: '/^[a-zA-Z0-9][^$#\/\t=]*:([^=]|$)/ { n = split($1, t, " "); for (i = 1; i <= n; i++) print t[i] }' |
	sort -u >"$tmp/targets"
bad=()
while read -r kind page word; do
	[ "$kind" = make ] || continue
	grep -qxF -- "$word" "$tmp/targets" || bad+=("make $word ($page)")
done <"$tmp/named"
nmake=$(grep -c '^make ' "$tmp/named")
if [ ! -s "$tmp/targets" ]; then
	not_ok "make targets named in the pages" "make printed no target of Makefile"
elif [ "${#bad[@]}" -eq 0 ]; then
	ok "the $nmake 'make TARGET' words README.md and docs/ name are targets of the Makefile"
else
	not_ok "every 'make TARGET' in README.md and docs/ is a Makefile target" "${bad[@]}" \
		"targets: $(tr '\n' ' ' <"$tmp/targets")"
fi

# Subcommands: the man page's COMMANDS section is the reference; the built
# command's help must agree when it is there.
sed -n '/^\.SH COMMANDS/,/^\.SH [^C]/p' configs/man/mptcp-upgrade.8 |
	awk 'prev == ".TP" { w = $2; gsub(/"/, "", w); gsub(/\\f[A-Z]/, "", w); gsub(/\\-/, "-", w); print w } { prev = $1 }' |
	sort -u >"$tmp/man"
bad=()
while read -r kind page word; do
	[ "$kind" = cmd ] || continue
	grep -qxF -- "$word" "$tmp/man" || bad+=("mptcp-upgrade $word ($page)")
done <"$tmp/named"
ncmd=$(grep -c '^cmd ' "$tmp/named")
[ "${#bad[@]}" -eq 0 ] &&
	ok "the $ncmd 'mptcp-upgrade SUBCOMMAND' words are subcommands of mptcp-upgrade(8)" ||
	not_ok "every 'mptcp-upgrade SUBCOMMAND' in README.md and docs/ is in mptcp-upgrade(8)" \
		"${bad[@]}" "the man page has: $(tr '\n' ' ' <"$tmp/man")"
if [ -x "$bin" ]; then
	"$bin" help 2>/dev/null | awk '/^Commands:/ { c = 1; next } c && /^$/ { exit } c { print $1 }' |
		sort -u >"$tmp/help"
	[ -s "$tmp/help" ] && cmp -s "$tmp/man" "$tmp/help" &&
		ok "mptcp-upgrade(8) documents exactly the subcommands 'mptcp-upgrade help' lists" ||
		not_ok "mptcp-upgrade(8) and 'mptcp-upgrade help' list the same subcommands" \
			"$(diff "$tmp/man" "$tmp/help" | sed 's/^</man:/; s/^>/help:/' | grep -v '^[0-9-]' | tr '\n' ' ')"
else
	skip "mptcp-upgrade(8) against 'mptcp-upgrade help'" "$bin is not built (make)"
fi

tap_end
