#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# deploy/kubernetes/ checked offline with kubectl, no cluster: every manifest
# decodes into the API's typed objects with no field dropped (a misspelled or
# unknown field would be), kubectl create --dry-run=client takes them (against
# a stub that answers API discovery alone, on loopback), and they say what
# docs/containers.md says: the agent's command, privileges and mounts, the
# profile installed where the kubelet looks, the pod's Localhost profile and
# annotation. Prints TAP for prove.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/deploy/kubernetes
tmp=$(mktemp -d)
stub=
cleanup() {
	[ -n "$stub" ] && kill "$stub" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=selftests/lib.sh
. "$top/selftests/lib.sh"

if ! command -v kubectl >/dev/null; then
	skip "the Kubernetes manifests" "no kubectl (Debian's kubernetes-client)"
	tap_end
	exit
fi

# ---- typed decoding: nothing dropped ----------------------------------------

# leaf_paths JSON: every scalar's path, one per line (a list's items, or one
# object), but for false, 0 and "": the typed encoding leaves those out.
leaf_paths() {
	jq -r 'if .kind == "List" then .items[] else . end | . as $o | .kind as $k |
		paths(scalars) | select(. as $p | $o | getpath($p) | . != false and . != 0 and . != "") |
		$k + ":" + (map(tostring) | join("."))' "$1" | sort -u
}

for f in "$dir"/*.yaml; do
	name=deploy/kubernetes/$(basename "$f")
	# As written (unstructured: every field kept) and as the API's types read it.
	if ! kubectl label --local -f "$f" -o json mu-check=1 >"$tmp/raw.json" 2>"$tmp/err"; then
		not_ok "$name is YAML kubectl reads" "$(cat "$tmp/err")"
		continue
	fi
	case $(basename "$f") in
	namespace.yaml) cp "$tmp/raw.json" "$tmp/typed.json" ;;
	*)	# set env decodes into the typed objects of a pod template
		if ! kubectl set env --local -f "$f" -o json MU_CHECK=1 >"$tmp/typed.json" \
			2>"$tmp/err"; then
			not_ok "$name decodes into the API's types" "$(cat "$tmp/err")"
			continue
		fi ;;
	esac
	dropped=$(comm -23 <(leaf_paths "$tmp/raw.json" | grep -v ":metadata.labels.mu-check$") \
		<(leaf_paths "$tmp/typed.json"))
	[ -z "$dropped" ] && ok "$name decodes into the API's types, no field dropped" ||
		not_ok "$name decodes into the API's types, no field dropped" \
			"fields the API does not know:" $dropped
done

# ---- kubectl create --dry-run=client -----------------------------------------

# kubectl asks the server which kinds exist even for a client dry run: a stub
# on loopback answers discovery for the kinds the manifests use, and nothing else.
cat >"$tmp/stub.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

def res(name, kind, namespaced):
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
            "verbs": ["create", "get", "list"]}

docs = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1",
                "resources": [res("pods", "Pod", True), res("namespaces", "Namespace", False)]},
    "/apis/apps/v1": {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
                      "resources": [res("daemonsets", "DaemonSet", True)]},
}

class Discovery(BaseHTTPRequestHandler):
    def do_GET(self):
        doc = docs.get(self.path.split("?")[0])
        body = json.dumps(doc or {"kind": "Status", "code": 404}).encode()
        self.send_response(200 if doc else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Discovery)
print(server.server_address[1], flush=True)
server.serve_forever()
EOF
python3 "$tmp/stub.py" >"$tmp/port" 2>"$tmp/stub.err" &
stub=$!
if ! wait_for test -s "$tmp/port"; then
	not_ok "a discovery stub on loopback" "$(cat "$tmp/stub.err")"
else
	kc=(kubectl --server "http://127.0.0.1:$(cat "$tmp/port")" --cache-dir "$tmp/cache")
	if "${kc[@]}" create --dry-run=client --validate=false -o name -f "$dir" >"$tmp/out" \
		2>"$tmp/err"; then
		ok "kubectl create --dry-run=client takes deploy/kubernetes/ ($(tr '\n' ' ' <"$tmp/out"))"
	else
		not_ok "kubectl create --dry-run=client takes deploy/kubernetes/" "$(cat "$tmp/err")"
	fi
fi

# ---- what they say -----------------------------------------------------------

kubectl set env --local -f "$dir/agent.yaml" -o json MU_CHECK=1 >"$tmp/agent.json" 2>/dev/null
kubectl set env --local -f "$dir/example-pod.yaml" -o json MU_CHECK=1 >"$tmp/pod.json" 2>/dev/null
out=$(cat "$tmp/agent.json")
spec='.spec.template.spec'
agent="$spec.containers[] | select(.name == \"agent\")"
json_ok "the agent runs 'mptcp-upgrade agent --socket /run/mptcp-upgrade/agent.sock --cgroup /mptcp-upgrade'" \
	"[$agent | .command] == [[\"mptcp-upgrade\", \"agent\", \"--socket\", \"/run/mptcp-upgrade/agent.sock\",
	 \"--cgroup\", \"/mptcp-upgrade\"]]"
json_ok "the agent sees the host's PIDs (the runtimes' state names host PIDs)" "$spec.hostPID == true"
json_ok "the agent is not privileged; it adds SYS_PTRACE, SYS_ADMIN, BPF, PERFMON, NET_ADMIN to none" \
	"[$agent | .securityContext | .privileged == false and .capabilities.drop == [\"ALL\"] and
	  (.capabilities.add | sort) == [\"BPF\", \"NET_ADMIN\", \"PERFMON\", \"SYS_ADMIN\", \"SYS_PTRACE\"]]
	 == [true]"
json_ok "the agent mounts /run/mptcp-upgrade, /sys/fs/cgroup and /etc/mptcp-upgrade (read-only)" \
	"[$agent | .volumeMounts[] | [.mountPath, (.readOnly // false)]] | sort ==
	 [[\"/etc/mptcp-upgrade\", true], [\"/run/mptcp-upgrade\", false], [\"/sys/fs/cgroup\", false]]"
json_ok "the volumes are the host's paths of the same names, and the kubelet's seccomp folder" \
	"[$spec.volumes[].hostPath.path] | sort == [\"/etc/mptcp-upgrade\", \"/run/mptcp-upgrade\",
	 \"/sys/fs/cgroup\", \"/var/lib/kubelet/seccomp\"]"
json_ok "the init container writes the profile as /var/lib/kubelet/seccomp/mptcp-upgrade.json" \
	"$spec.initContainers[0] | (.command[:2] == [\"mptcp-upgrade\", \"seccomp-profile\"]) and
	 (.command | index(\"--output\")) as \$i | .command[\$i + 1] ==
	 \"/var/lib/kubelet/seccomp/mptcp-upgrade.json\" and .securityContext.capabilities.drop == [\"ALL\"]"
# The init container's command, run here: the flags it passes exist.
init=$(jq -r "$spec.initContainers[0].command[2:] | @sh" "$tmp/agent.json")
eval "set -- $init"
for ((i = 1; i <= $#; i++)); do
	[ "${!i}" = --output ] && { j=$((i + 1)); set -- "${@:1:i}" "$tmp/profile.json" "${@:j+1}"; }
done
if [ -r /usr/share/containers/seccomp.json ]; then
	"$top/mptcp-upgrade" seccomp-profile "$@" 2>"$tmp/err" &&
		jq -e '.listenerMetadata == "mptcp-upgrade.io/profile=1"' "$tmp/profile.json" >/dev/null &&
		ok "the init container's seccomp-profile command works as written" ||
		not_ok "the init container's seccomp-profile command works as written" "$(cat "$tmp/err")"
else
	skip "the init container's seccomp-profile command" "no /usr/share/containers/seccomp.json here"
fi
out=$(cat "$tmp/pod.json")
json_ok "the example pod opts in with the Localhost profile mptcp-upgrade.json" \
	'.spec.securityContext.seccompProfile == {"type": "Localhost", "localhostProfile": "mptcp-upgrade.json"}'
json_ok "and gives its policy in the annotation mptcp-upgrade.io/policy" \
	'.metadata.annotations["mptcp-upgrade.io/policy"] | test("mptcp@")'
if [ -x "$top/mptcp-upgrade" ]; then
	jq -r '.metadata.annotations["mptcp-upgrade.io/policy"]' "$tmp/pod.json" >"$tmp/pod.policy"
	"$top/mptcp-upgrade" policy - <"$tmp/pod.policy" >"$tmp/out" 2>&1 &&
		ok "the example annotation is a valid policy" ||
		not_ok "the example annotation is a valid policy" "$(cat "$tmp/out")"
fi

tap_end
