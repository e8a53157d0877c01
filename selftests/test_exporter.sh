#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `mptcp-upgrade exporter` on this machine's kernel, scraped by curl: in a
# network namespace of its own (loopback only) with a run registry of its own,
# a program under run whose listener the policy lists, connections held and
# closed by mu_sock, on loopback and over two paths (MP_JOIN subflows, in
# namespaces the suite makes). Asserts the HTTP answers (200 and its content
# type, 404, 405, 431, 400), the series and labels of the program under run,
# per-line byte counters that never fall and grow by what the connections
# carried, a silent client that neither hangs the exporter nor keeps its slot,
# and every bad input: one error line, exit 2 for usage, 1 otherwise. Prints TAP.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/mptcp-upgrade
sock=$top/.output/selftests/mu_sock

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the exporter and the run engine need root"
	exit 0
fi
if ! command -v curl >/dev/null; then
	echo "1..0 # SKIP needs curl (.ci/install-deps installs it)"
	exit 0
fi
if [ -z "${MU_EXPORTER_NETNS:-}" ]; then
	exec unshare -n -m env MU_EXPORTER_NETNS=1 "$0" "$@"
fi
ip link set dev lo up
own_registry

tmp=$(mktemp -d /tmp/mu-exporter.XXXXXX)
chmod 755 "$tmp"
pids=()
# shellcheck source=selftests/twopath.sh
. "$top/selftests/twopath.sh"
cli=mu-exp-cli-$$ srv=mu-exp-srv-$$
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	twopath_teardown "$cli" "$srv"
	rm -rf "$tmp"
}
trap cleanup EXIT

# The namespace is the suite's own: these ports are free in it.
port=9863 lport=7540
url=http://127.0.0.1:$port/metrics

# ---- bad input: one error line each ---------------------------------------------

# bad_listen NAME RC REGEX ARGS...: exit RC, one "Error: " line on stderr matching REGEX.
bad_listen() {
	local name=$1 want=$2 re=$3
	shift 3
	run exporter "$@"
	if [ "$rc" = "$want" ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -Eq "^Error: $re" <<<"$err" &&
		[ -z "$out" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, want $want" "stdout: $out" "stderr: $err"
	fi
}
bad_listen "exporter without --listen: usage, exit 2" 2 "exporter: needs --listen"
bad_listen "--listen without a port: exit 2" 2 "exporter: --listen '127.0.0.1' has no port" \
	--listen 127.0.0.1
bad_listen "--listen with port 0: exit 2" 2 "exporter: --listen .* no port 1-65535" \
	--listen 127.0.0.1:0
bad_listen "--listen with port 65536: exit 2" 2 "exporter: --listen .* no port 1-65535" \
	--listen 127.0.0.1:65536
bad_listen "--listen with an IPv6 address out of brackets: exit 2" 2 "exporter: .*in brackets" \
	--listen ::1:$port
bad_listen "--listen [not-an-address]:PORT: exit 2" 2 "exporter: .*is not an IPv6 address" \
	--listen "[nope]:$port"
bad_listen "--listen unix: without a path: exit 2" 2 "exporter: .*unix socket path" --listen unix:
bad_listen "--listen with a name that does not resolve: exit 2" 2 "exporter: .*can't resolve" \
	--listen no-such-host.invalid:$port
run exporter --listen 127.0.0.1:$port --json
[ "$rc" = 2 ] && [ "$out" = '{"error":"exporter: serves Prometheus text, not --json"}' ] &&
	ok "exporter --json: exit 2, the error as JSON (it serves text)" ||
	not_ok "exporter --json: exit 2, the error as JSON" "exit $rc" "$out" "$err"
bad_listen "an address no interface has: exit 1" 1 "can't listen on 192\.0\.2\.77:$port: .*no interface" \
	--listen 192.0.2.77:$port
bad_listen "a unix socket in a directory that does not exist: exit 1" 1 \
	"can't listen on unix:$tmp/nodir/m\.sock: .*does not exist" --listen "unix:$tmp/nodir/m.sock"
: >"$tmp/plain"
bad_listen "a unix socket path that is a plain file: exit 1, the file kept" 1 \
	"can't listen on unix:$tmp/plain: .*not a socket" --listen "unix:$tmp/plain"
setpriv --reuid 65534 --regid 65534 --clear-groups "$bin" exporter --listen 127.0.0.1:$port \
	>"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q '^Error: ' "$tmp/err" &&
	ok "exporter without root: one error line, exit 1" ||
	not_ok "exporter without root: one error line, exit 1" "exit $rc" "$(cat "$tmp/err")"

# ---- serving ------------------------------------------------------------------------

"$bin" exporter --listen 127.0.0.1:$port >"$tmp/exp.out" 2>"$tmp/exp.err" &
exporter=$!
pids+=($exporter)
need "the exporter listening" grep -q "serving /metrics on 127.0.0.1:$port" "$tmp/exp.out"
bad_listen "a port in use: exit 1, says so" 1 "can't listen on 127\.0\.0\.1:$port: Address already in use" \
	--listen 127.0.0.1:$port

# A program under run whose name needs escaping in a label value: quote and backslash.
prog='mu"q\s'
cp "$sock" "$tmp/$prog"
# Line 1 has two addresses (two entries): its series are written once, summed.
printf 'bind mptcp4@127.0.0.1:%s,mptcp4@127.0.0.1:%s\n' "$lport" $((lport + 1)) >"$tmp/p.policy"
"$bin" run --policy "$tmp/p.policy" -- "$tmp/$prog" sink 127.0.0.1 $lport 120 tcp \
	>"$tmp/sink.out" 2>&1 &
pids+=($!)
need "the sink under run ready" grep -q ready "$tmp/sink.out"

# scrape FILE: the body in FILE, the headers in FILE.h; the status code on stdout.
scrape() { curl -sS -m 10 -D "$1.h" -o "$1" -w '%{http_code}' "$url"; }
# value FILE SERIES-REGEX: the value of the one sample matching, or nothing.
value() { grep -E "^$2 [0-9]+$" "$1" | awk '{ print $2 }'; }
lbl='program="mu\\"q\\\\s",supervisor="[0-9]+",unit="[^"]*",line="1"'
sent_re="mptcp_upgrade_policy_line_sent_bytes_total\{$lbl\}"
recv_re="mptcp_upgrade_policy_line_received_bytes_total\{$lbl\}"
# conns_are N: the exporter counts N MPTCP connections (none: no sample, or 0).
conns_are() {
	scrape "$tmp/c" >/dev/null &&
		[ "$(value "$tmp/c" 'mptcp_upgrade_connections\{netns="[0-9]+",fallback="false"\}')" = "$1" ]
}

code=$(scrape "$tmp/m0")
[ "$code" = 200 ] && grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$tmp/m0.h" &&
	grep -qi '^connection: close' "$tmp/m0.h" &&
	ok "GET /metrics: 200, text/plain; version=0.0.4, Connection: close" ||
	not_ok "GET /metrics: 200, text/plain; version=0.0.4" "code $code" "$(cat "$tmp/m0.h")"

# Two connections, 64 KiB echoed on each, held open.
"$sock" hold 127.0.0.1 $lport 2 120 65536 >"$tmp/hold1.out" 2>&1 &
holder=$!
pids+=($holder)
need "two connections held" grep -q 'held 2' "$tmp/hold1.out"
need "the exporter sees two MPTCP connections" conns_are 2
code=$(scrape "$tmp/m1")
if problems=$(prom_problems <"$tmp/m1"); then
	ok "the scrape is valid text exposition format (no series twice)"
else
	not_ok "the scrape is valid text exposition format" "$problems"
fi
"$bin" stats --prometheus >"$tmp/stats.prom"
diff <(sed -n 's/^\(# TYPE \|\)\(mptcp_upgrade_[a-z_]*\).*/\2/p' "$tmp/m1" | uniq) \
	<(sed -n 's/^\(# TYPE \|\)\(mptcp_upgrade_[a-z_]*\).*/\2/p' "$tmp/stats.prom" | uniq) \
	>"$tmp/diff" && ok "the exporter serves the series stats --prometheus prints, in its order" ||
	not_ok "the exporter serves the series stats --prometheus prints" "$(cat "$tmp/diff")"
grep -Eq "^mptcp_upgrade_policy_line_events_total\{$lbl,event=\"bind\"\} 1$" "$tmp/m1" &&
	grep -Eq "^mptcp_upgrade_policy_line_events_total\{$lbl,event=\"mptcp\"\} 2$" "$tmp/m1" &&
	grep -Eq '^mptcp_upgrade_targets 1$' "$tmp/m1" &&
	ok "the program under run: its line's series, labels program (escaped), supervisor, unit, line" ||
	not_ok "the program under run: its line's series and labels" "$(grep -E 'line_|targets' "$tmp/m1")"
# Nothing of one connection in a label: not its addresses, not its ports.
leak=$(grep -v '^#' "$tmp/m1" | sed 's/} [0-9.e+-]*$/}/' | grep -E "127\.0\.0\.1|$lport|:[0-9]{4,5}\"")
[ -z "$leak" ] && ok "no label carries an address or a port of a connection" ||
	not_ok "no label carries an address or a port of a connection" "$leak"
s1=$(value "$tmp/m1" "$sent_re")
r1=$(value "$tmp/m1" "$recv_re")
[ -n "$s1" ] && [ -n "$r1" ] && [ "$s1" -ge 131072 ] && [ "$r1" -ge 131072 ] &&
	ok "line 1's byte counters count the live connections: sent $s1, received $r1 (>= 2 x 64 KiB)" ||
	not_ok "line 1's byte counters count the live connections" "sent '$s1' received '$r1'" \
		"$(grep bytes "$tmp/m1")"

# The connections close: the gauge falls, the counters do not.
kill "$holder"
need "the connections closed" conns_are 0
scrape "$tmp/m2" >/dev/null
s2=$(value "$tmp/m2" "$sent_re")
r2=$(value "$tmp/m2" "$recv_re")
[ -n "$s2" ] && [ -n "$r2" ] && [ "$s2" -ge "$s1" ] && [ "$r2" -ge "$r1" ] &&
	ok "after the connections closed the counters did not fall: sent $s1 -> $s2, received $r1 -> $r2" ||
	not_ok "after the connections closed the counters did not fall" "sent $s1 -> '$s2'" \
		"received $r1 -> '$r2'" "$(grep bytes "$tmp/m2")"

# Two more, which come and go between two scrapes: the counters grow by what they carried.
"$sock" hold 127.0.0.1 $lport 2 1 65536 >"$tmp/hold2.out" 2>&1
need "the second connections closed" conns_are 0
scrape "$tmp/m3" >/dev/null
s3=$(value "$tmp/m3" "$sent_re")
r3=$(value "$tmp/m3" "$recv_re")
grep -q 'held 2' "$tmp/hold2.out" && [ -n "$s3" ] && [ -n "$r3" ] &&
	[ "$s3" -ge $((s2 + 131072)) ] && [ "$r3" -ge $((r2 + 131072)) ] &&
	ok "connections made and closed between scrapes count: sent +$((s3 - s2)), received +$((r3 - r2)) (>= 128 KiB)" ||
	not_ok "connections made and closed between scrapes count" "sent $s2 -> '$s3'" \
		"received $r2 -> '$r3'" "$(cat "$tmp/hold2.out")"

# ---- two paths: the bytes of MP_JOIN subflows count too ---------------------------

# The server under run in a namespace that signals a second address: each
# connection joins a second subflow, whose bytes the bridge counts at its close.
twopath_setup "$cli" "$srv"
srvns=$(stat -L -c %i "/run/netns/$srv")
# A wildcard listener: the joins come to the second address.
printf 'bind mptcp4@:7000\n' >"$tmp/two.policy"
ip netns exec "$srv" "$bin" run --policy "$tmp/two.policy" -- "$sock" sink 0.0.0.0 7000 120 tcp \
	>"$tmp/two.out" 2>&1 &
pids+=($!)
need "the two-path sink under run ready" grep -q ready "$tmp/two.out"
ip netns exec "$cli" "$sock" hold 192.0.2.2 7000 2 120 65536 >"$tmp/hold3.out" 2>&1 &
holder=$!
pids+=($holder)
need "two two-path connections held" grep -q 'held 2' "$tmp/hold3.out"
four_subflows() {
	scrape "$tmp/c" >/dev/null && grep -qx "mptcp_upgrade_subflows{netns=\"$srvns\"} 4" "$tmp/c"
}
need "each connection joined a second subflow" four_subflows
lbl2='program="mu_sock",supervisor="[0-9]+",unit="[^"]*",line="1"'
scrape "$tmp/m4" >/dev/null
s4=$(value "$tmp/m4" "mptcp_upgrade_policy_line_sent_bytes_total\{$lbl2\}")
r4=$(value "$tmp/m4" "mptcp_upgrade_policy_line_received_bytes_total\{$lbl2\}")
sinkpid=$(pgrep -f "^$sock sink 0.0.0.0 7000" | head -1)
joined=$("$bin" stats --json --pid "$sinkpid" |
	jq '[.connections[].subflow_list[] | select(.id_local != 0 or .id_remote != 0) |
	     .bytes_acked + .bytes_received] | add')
kill "$holder"
no_conns_there() {
	scrape "$tmp/c" >/dev/null &&
		grep -qx "mptcp_upgrade_connections{netns=\"$srvns\",fallback=\"false\"} 0" "$tmp/c"
}
need "the two-path connections closed" no_conns_there
scrape "$tmp/m5" >/dev/null
s5=$(value "$tmp/m5" "mptcp_upgrade_policy_line_sent_bytes_total\{$lbl2\}")
r5=$(value "$tmp/m5" "mptcp_upgrade_policy_line_received_bytes_total\{$lbl2\}")
[ -n "$s4" ] && [ -n "$r4" ] && [ "$((s4 + r4))" -ge 262144 ] &&
	[ -n "$s5" ] && [ "$s5" -ge "$s4" ] && [ -n "$r5" ] && [ "$r5" -ge "$r4" ] &&
	ok "two paths: the counters did not fall at close: sent $s4 -> $s5, received $r4 -> $r5" ||
	not_ok "two paths: the counters did not fall at close" "sent '$s4' -> '$s5'" \
		"received '$r4' -> '$r5'"
# Whether the joined subflows carry bytes of the 64 KiB is the scheduler's choice
# (mostly the few KiB MPTCP re-injects there): when they did, those were kept too.
if [ "${joined:-0}" -gt 0 ]; then
	ok "two paths: the joined subflows carried $joined bytes, within what was kept at close"
else
	skip "two paths: the joined subflows' bytes kept at close" \
		"they carried none this time (the scheduler kept the data on the first subflow)"
fi

# ---- other paths, methods and requests -------------------------------------------

code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
code2=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics/x")
[ "$code" = 404 ] && [ "$code2" = 404 ] && ok "other paths: 404" ||
	not_ok "other paths: 404" "/ $code, /metrics/x $code2"
code=$(curl -sS -m 10 -D "$tmp/post.h" -o /dev/null -w '%{http_code}' -X POST "$url")
[ "$code" = 405 ] && grep -qi '^allow: GET, HEAD' "$tmp/post.h" &&
	ok "POST /metrics: 405 with Allow: GET, HEAD" || not_ok "POST /metrics: 405" "$code"
code=$(curl -sS -m 10 -o "$tmp/q" -w '%{http_code}' "$url?x=1")
[ "$code" = 200 ] && grep -q '^mptcp_upgrade_targets' "$tmp/q" &&
	ok "GET /metrics?query: 200, the metrics" || not_ok "GET /metrics?query: 200" "$code"
curl -sS -m 10 -I "$url" >"$tmp/head.h"
len=$(sed -n 's/^[Cc]ontent-[Ll]ength: \([0-9]*\).*/\1/p' "$tmp/head.h")
grep -q '^HTTP/1.1 200' "$tmp/head.h" && [ "${len:-0}" -gt 0 ] &&
	ok "HEAD /metrics: 200 and the length, no body" || not_ok "HEAD /metrics" "$(cat "$tmp/head.h")"

# raw REQUEST: send it as it is, print the status line of the answer.
raw() {
	python3 - "$port" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.split(b"\r\n", 1)[0].decode())
EOF
}
got=$(raw "GET /metrics HTTP/1.1\r\nX-Pad: $(head -c 9000 /dev/zero | tr '\0' a)\r\n\r\n")
[ "$got" = "HTTP/1.1 431 Request Header Fields Too Large" ] &&
	ok "a request head over 8 KiB: 431, answered whole" || not_ok "a request head over 8 KiB: 431" "$got"
got=$(raw 'FOO\r\n\r\n')
got2=$(raw 'GET metrics HTTP/1.1\r\n\r\n')
got3=$(raw 'GET /metrics HTTP/2.0\r\n\r\n')
[ "$got" = "HTTP/1.1 400 Bad Request" ] && [ "$got2" = "$got" ] && [ "$got3" = "$got" ] &&
	ok "malformed requests: 400" || not_ok "malformed requests: 400" "$got / $got2 / $got3"

# A silent client and a slow one: the exporter answers others meanwhile, and
# drops them once their 5 s are up.
python3 - "$port" >"$tmp/slow.out" 2>&1 <<'EOF' &
import socket, sys, time
quiet = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
slow = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
slow.sendall(b"GET /metr")
print("connected", flush=True)
start = time.monotonic()
quiet.settimeout(20)
slow.settimeout(20)
try:
    a = quiet.recv(100)
    b = slow.recv(100)
    print("closed after %.1f s: %r %r" % (time.monotonic() - start, a, b), flush=True)
except socket.timeout:
    print("still open after 20 s", flush=True)
EOF
slowpid=$!
pids+=($slowpid)
need "the silent and slow clients connected" grep -q connected "$tmp/slow.out"
code=$(curl -sS -m 3 -o /dev/null -w '%{http_code}' "$url")
[ "$code" = 200 ] && ok "while a client is silent and another slow, a scrape is answered" ||
	not_ok "while a client is silent and another slow, a scrape is answered" "$code"
wait "$slowpid"
secs=$(sed -n "s/^closed after \([0-9]*\)\.[0-9] s: b'' b''$/\1/p" "$tmp/slow.out")
[ -n "$secs" ] && [ "$secs" -ge 4 ] && [ "$secs" -le 7 ] &&
	ok "the silent and slow clients are dropped after their 5 s (after $secs s)" ||
	not_ok "the silent and slow clients are dropped after their 5 s" "$(cat "$tmp/slow.out")"

kill -TERM "$exporter"
wait "$exporter"
rc=$?
[ "$rc" = 0 ] && [ ! -s "$tmp/exp.err" ] && ok "SIGTERM: the exporter exits 0, nothing on stderr" ||
	not_ok "SIGTERM: the exporter exits 0" "exit $rc" "$(cat "$tmp/exp.err")"

# ---- IPv6 and unix sockets ------------------------------------------------------

"$bin" exporter --listen "[::1]:$port" >"$tmp/exp6.out" 2>&1 &
pids+=($!)
need "the exporter on [::1]" grep -q serving "$tmp/exp6.out"
code=$(curl -sS -m 10 -g -o "$tmp/m6" -w '%{http_code}' "http://[::1]:$port/metrics")
[ "$code" = 200 ] && grep -Eq "^$sent_re [0-9]+$" "$tmp/m6" &&
	ok "--listen [::1]:PORT serves the same metrics" || not_ok "--listen [::1]:PORT" "$code"

# A socket file left behind by an exporter that died is taken over.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/m.sock"
"$bin" exporter --listen "unix:$tmp/m.sock" >"$tmp/expu.out" 2>&1 &
unixexp=$!
pids+=($unixexp)
need "the exporter on a unix socket" grep -q serving "$tmp/expu.out"
code=$(curl -sS -m 10 --unix-socket "$tmp/m.sock" -o "$tmp/mu" -w '%{http_code}' http://localhost/metrics)
[ "$code" = 200 ] && grep -Eq "^$sent_re [0-9]+$" "$tmp/mu" &&
	[ "$(stat -c %a "$tmp/m.sock")" = 660 ] &&
	ok "--listen unix:PATH over a stale socket file: served, mode 0660" ||
	not_ok "--listen unix:PATH" "$code" "$(cat "$tmp/expu.out")"
bad_listen "a unix socket another exporter serves: exit 1, in use" 1 \
	"can't listen on unix:$tmp/m\.sock: Address already in use" --listen "unix:$tmp/m.sock"
kill -TERM "$unixexp"
wait "$unixexp"
[ ! -e "$tmp/m.sock" ] && ok "on SIGTERM the exporter removes its unix socket" ||
	not_ok "on SIGTERM the exporter removes its unix socket"

tap_end
