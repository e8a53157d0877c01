#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# report.sh RAW RESULTS: turn the raw output of multipath-guest.sh into
# RESULTS/report.md and its plots (gnuplot, PNG). RAW holds one directory per
# run (1, 2, ...): the report gives each figure's median over the runs and its
# spread (lowest-highest); the plots and the stats excerpt are of the run whose
# MPTCP goodput is the median one.
set -eu

all=$1 res=$2
mkdir -p "$res"
runs=$(find "$all" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*' | sort -V)
[ -n "$runs" ] || { echo "report: no run in $all" >&2; exit 1; }
nruns=$(wc -l <<<"$runs")
read -r rate delay bytes kernel engine where < <(sed 's/[a-z]*=//g' "$(head -n 1 <<<"$runs")/setup.txt")
engine=${engine:-attach} where=${where:-guest}
# The words that differ with the engine, the machine and the shaping.
if [ "$where" = guest ]; then
	machine="in a QEMU guest (TCG, one vCPU: the build machines' own kernel refuses the socket hook)"
	noise="The gap to the limit is TCG: one emulated CPU carries the
  client, HAProxy, the backend and four netem queues, and one run's numbers move
  by a tenth of the limit or more from the next run's"
else
	machine="natively on this machine (no emulation)"
	noise="The client, HAProxy, the backend and the shaping share this
  machine's CPUs, and one run's numbers move from the next run's"
fi
if [ "$delay" = 0ms ]; then
	shaping="shaped with htb to $rate, with no added delay (this kernel has no netem)"
	bound="Without added delay, this compares the per-connection cost of MPTCP
and of the engine against plain TCP."
else
	shaping="shaped with netem to $rate and $delay each way"
	bound="Both are bound by the paths' round trip, not by the engine."
fi
if [ "$engine" = run ]; then
	how='started under `mptcp-upgrade run` with the policy `bind mptcp@:8443`'
	upgraded="HAProxy under mptcp-upgrade run"
else
	how='in a cgroup attached with `bind mptcp@:8443`'
	upgraded="HAProxy upgraded by mptcp-upgrade attach"
fi
mbit() { echo "$rate" | sed 's/mbit$//'; }
limit=$(( 2 * $(mbit) ))		# two paths

# goodput DIR NAME: Mbit/s of one transfer, from the receiver's last timeline line.
goodput() { awk '{ t = $1; b = $2 } END { printf "%.1f", b * 8 / t / 1000 }' "$1/$2.timeline"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sums_match() { [ "$(awk '/^sent/ { print $4 }' "$1/$2.sent")" = "$(awk '/^received/ { print $4 }' "$1/$2.received")" ]; }

# metrics DIR: one run's figures, "a b c f stall slow rate_up rate_plain sums".
metrics() {
	local d=$1 stall slow sums
	# The longest time the receiver's byte count stood still, in ms (100 ms samples).
	stall=$(awk 'NR > 1 && $2 == prev { run += $1 - t } $2 != prev { if (run > max) max = run; run = 0 }
		{ prev = $2; t = $1 } END { if (run > max) max = run; print max + 0 }' "$d/failover.timeline")
	# The longest stretch with less than a tenth of one path's rate delivered, in ms.
	slow=$(awk -v min="$(mbit)" 'NR > 1 { r = ($2 - pb) * 8 / ($1 - pt) / 1000
		if (r < min / 10) run += $1 - pt; else { if (run > max) max = run; run = 0 } }
		{ pt = $1; pb = $2 } END { if (run > max) max = run; print max + 0 }' "$d/failover.timeline")
	sums=ok
	for n in a-tcp b-mptcp c-mptcpize failover; do sums_match "$d" "$n" || sums=MISMATCH; done
	echo "$(goodput "$d" a-tcp) $(goodput "$d" b-mptcp) $(goodput "$d" c-mptcpize)" \
		"$(goodput "$d" failover) $stall $slow" \
		"$(awk '{ print $2 + 0 }' "$d/rate-upgraded.txt") $(awk '{ print $2 + 0 }' "$d/rate-plain.txt")" \
		"$sums"
}
for d in $runs; do metrics "$d"; done >"$res/runs.txt"
# med N / spread N: column N's median over the runs, and "lowest-highest".
med() { awk -v c="$1" '{ print $c }' "$res/runs.txt" | sort -g |
	awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { awk -v c="$1" '{ print $c }' "$res/runs.txt" | sort -g | sed -n '1p;$p' | paste -sd-; }
a=$(med 1) b=$(med 2) c=$(med 3) f=$(med 4) stall=$(med 5) slow=$(med 6)
rate_up=$(med 7) rate_plain=$(med 8)
sums=$(awk '{ print $9 }' "$res/runs.txt" | sort -u | paste -sd' ')
ra=$(ratio "$a" "$limit") rb=$(ratio "$b" "$limit") rc=$(ratio "$c" "$limit")
# Range of a ratio to the limit: "0.88-0.93".
rspread() { spread "$1" | awk -F- -v l="$limit" '{ printf "%.2f-%.2f", $1 / l, $2 / l }'; }
# The run the plots show: the one whose (b) goodput is closest to the median.
raw=$(paste <(printf '%s\n' $runs) "$res/runs.txt" |
	awk -v m="$b" '{ d = $3 - m; if (d < 0) d = -d; if (best == "" || d < bd) { best = $1; bd = d } }
	END { print best }')
plotted=$(basename "$raw")

# Per path Mbit/s every 100 ms, from the sender's interface counters.
for n in b-mptcp failover c-mptcpize; do
	awk '{ if (($2 in last) && $1 > lt[$2]) printf "%.1f %s %.2f\n", $1 / 1000, $2,
		($3 - last[$2]) * 8 / ($1 - lt[$2]) / 1000; last[$2] = $3; lt[$2] = $1 }' \
		"$raw/$n.paths" >"$res/$n.paths.dat"
	grep ' v1c ' "$res/$n.paths.dat" | awk '{ print $1, $3 }' >"$res/$n.v1c.dat"
	grep ' v2c ' "$res/$n.paths.dat" | awk '{ print $1, $3 }' >"$res/$n.v2c.dat"
done
awk '{ if (NR > 1) printf "%.1f %.2f\n", $1 / 1000, ($2 - pb) * 8 / ($1 - pt) / 1000;
	pt = $1; pb = $2 }' "$raw/failover.timeline" >"$res/failover.goodput.dat"

gnuplot <<GP
set terminal pngcairo size 900,420 font "DejaVu Sans,10"
set output "$res/failover.png"
set title "MPTCP through the upgraded HAProxy: path 1 taken down mid-transfer"
set xlabel "seconds"
set ylabel "Mbit/s"
set yrange [0:*]
set key top right
plot "$res/failover.v1c.dat" using 1:2 with linespoints lw 2 pt 7 ps 0.4 title "path 1 (192.0.2.0/24), sent", \
     "$res/failover.v2c.dat" using 1:2 with linespoints lw 2 pt 7 ps 0.4 title "path 2 (198.51.100.0/24), sent", \
     "$res/failover.goodput.dat" using 1:2 with lines lw 1 dt 2 title "delivered to the backend"
set output "$res/paths.png"
set title "Both paths during one MPTCP transfer through the upgraded HAProxy"
plot "$res/b-mptcp.v1c.dat" using 1:2 with linespoints lw 2 pt 7 ps 0.4 title "path 1, sent", \
     "$res/b-mptcp.v2c.dat" using 1:2 with linespoints lw 2 pt 7 ps 0.4 title "path 2, sent"
set output "$res/goodput.png"
set title "Bulk goodput client -> backend through HAProxy, against the two paths' sum"
set style fill solid 0.6
set boxwidth 0.6
set xtics ("TCP, one path" 0, "MPTCP, upgraded" 1, "MPTCP, mptcpize" 2)
set xlabel ""
set yrange [0:$limit * 1.15]
unset key
set arrow from -0.5,$limit to 2.5,$limit nohead lw 2 dt 2
set label "limit: $limit Mbit/s" at 1.9,$limit * 1.05
plot "-" using 1:2 with boxes
0 $a
1 $b
2 $c
e
GP

cp "$raw/stats-held-connection.txt" "$raw/stats-after-b.txt" "$raw/stats-after-failover.txt" \
	"$raw/status.txt" "$res/" 2>/dev/null || true

cat >"$res/report.md" <<MD
# Multipath through an unmodified HAProxy 2.6

Measured by \`make bench-multipath\` on $(date -u +%Y-%m-%d), Linux $kernel
$machine. A client namespace with two paths to the proxy namespace, each a veth
pair $shaping; HAProxy 2.6 $how, forwarding to a backend on the proxy's
loopback; the proxy namespace signals its second address, so an MPTCP client
joins a subflow over path 2. $bytes bytes per transfer, client to backend.
Every figure is the median of $nruns runs, with the lowest and highest run beside
it (\`runs.txt\`: one line per run); the plots are of run $plotted, the median one.

| transfer | goodput, median | of the limit ($limit Mbit/s) | lowest-highest of the limit |
|---|---|---|---|
| (a) plain TCP, one path, through the upgraded HAProxy | $a Mbit/s | $ra | $(rspread 1) |
| (b) MPTCP over both paths, $upgraded | $b Mbit/s | $rb | $(rspread 2) |
| (c) MPTCP over both paths, HAProxy under mptcpize (LD_PRELOAD) | $c Mbit/s | $rc | $(rspread 3) |

![goodput](goodput.png)

**Failover.** Path 1 goes down ${FAIL_AFTER:-2} s into an MPTCP transfer: the
transfer finishes over path 2 ($f Mbit/s on average over the whole transfer,
$(spread 4) over the runs). The longest time the backend received nothing at
all was **$stall ms** (runs: $(spread 5) ms); the longest stretch below a tenth
of one path's rate was **$slow ms** ($(spread 6) ms; 100 ms samples): the time
MPTCP took to notice the dead subflow and resend its in-flight data on the
other. No byte was lost or changed. Checksums (FNV-1a of the stream, sender
against backend) of every transfer of every run: $sums.

![failover](failover.png)

![both paths](paths.png)

**Short requests** (connect, 4-byte request, answer, close; 200 in a row through
HAProxy): upgraded HAProxy with MPTCP clients $rate_up/s ($(spread 7)), plain
HAProxy with TCP clients $rate_plain/s ($(spread 8)), ratio of the medians
$(ratio "$rate_up" "$rate_plain"). $bound

## Reading it

- The limit is the sum of the shaped rates. (a) is one path's worth; (b) and (c)
  aggregate both. $noise: read the spread before reading a difference
  between (b) and (c).
- (b) and (c) do the same thing to HAProxy's listener here; the difference is
  that mptcpize makes every socket of the process MPTCP (backend connections
  included), and needs the process started under it, while the engine needs
  neither and keeps the policy's unlisted addresses TCP on the wire.
- A link that flapped earlier in a run was seen to keep a later mptcpize run on
  one path (the client's path manager state); the runs are ordered so that the
  failover comes after the aggregate measurements.

## mptcp-upgrade stats, at the end of run $plotted

\`\`\`
$(cat "$raw/stats-held-connection.txt" 2>/dev/null)
\`\`\`

## Raw

\`stats-held-connection.txt\` is what \`mptcp-upgrade stats\` printed for an
MPTCP connection made through the upgraded HAProxy at the end of the run (its
subflows, bytes and the policy line it matched);
\`stats-after-*.txt\` and \`status.txt\` the counters after the transfers (on
one emulated CPU a transfer was over before a snapshot taken during it could
run); the \`.dat\` files are the plotted series.
MD
echo "report: $res/report.md"
echo "headline ($nruns runs, medians): MPTCP upgraded $b Mbit/s = $rb of $limit ($(rspread 2));" \
	"TCP one path $ra; mptcpize $rc ($(rspread 3)); failover: nothing for ${stall} ms" \
	"($(spread 5)), under a tenth of a path for ${slow} ms; checksums $sums"
