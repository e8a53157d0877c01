// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stage 1 of the attach engine: make the TCP sockets of attached cgroups MPTCP
 * at creation. socket() picks the protocol before any address exists, and
 * update_socket_protocol() is the one place the kernel lets BPF change it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "net_consts.h"
#include "mptcp_upgrade.h"

char LICENSE[] SEC("license") = "GPL";

/* cgroup v2 id -> attachment. The loader adds and removes entries. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u64);
	__type(value, struct mu_attachment);
} attached_cgroups SEC(".maps");

/*
 * pid_tgid -> note for the socket the thread is creating. LRU, so that notes
 * left by a socket() that failed after the upgrade (ENOPROTOOPT when MPTCP is
 * disabled in the caller's netns) age out instead of filling the map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MU_MAX_PENDING_NOTES);
	__type(key, __u64);
	__type(value, struct mu_upgrade_note);
} upgrade_notes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u32);
	__type(value, struct mu_attach_counters);
} attach_counters SEC(".maps");

static __always_inline void count(__u32 attach_id, enum mu_attach_counter idx)
{
	struct mu_attach_counters *c = bpf_map_lookup_elem(&attach_counters, &attach_id);

	if (c && idx < MU_CNT_MAX)
		c->count[idx]++;	/* per-CPU: no atomic needed */
}

/*
 * The attachment that covers the calling task: the deepest attached cgroup on
 * the path from the cgroup v2 root to the task's own cgroup, so that a child
 * cgroup attached with its own policy overrides its parent's.
 */
static __always_inline const struct mu_attachment *current_attachment(void)
{
	const struct mu_attachment *found = NULL, *att;
	__u64 cgid;
	int level;

	for (level = 0; level <= MU_MAX_CGROUP_DEPTH; level++) {
		cgid = bpf_get_current_ancestor_cgroup_id(level);
		if (!cgid)	/* past the task's own cgroup */
			break;
		att = bpf_map_lookup_elem(&attached_cgroups, &cgid);
		if (att)
			found = att;
	}
	return found;
}

SEC("fmod_ret/update_socket_protocol")
int BPF_PROG(mu_upgrade_socket, int family, int type, int protocol)
{
	const struct mu_attachment *att;
	struct mu_upgrade_note note;
	__u64 pid_tgid;
	__u32 family_bit;

	/* Cheap tests first: this runs for every socket() on the machine. */
	if (family == AF_INET)
		family_bit = MU_FAMILY_INET;
	else if (family == AF_INET6)
		family_bit = MU_FAMILY_INET6;
	else
		return protocol;
	if ((type & SOCK_TYPE_MASK) != SOCK_STREAM)
		return protocol;
	if (protocol != 0 && protocol != IPPROTO_TCP && protocol != IPPROTO_MPTCP)
		return protocol;

	att = current_attachment();
	if (!att)
		return protocol;

	pid_tgid = bpf_get_current_pid_tgid();
	if (protocol == IPPROTO_MPTCP) {
		/*
		 * The application wants MPTCP on its own. Drop any note a failed
		 * earlier socket() of this thread left, so this socket is never
		 * mistaken for one we upgraded.
		 */
		bpf_map_delete_elem(&upgrade_notes, &pid_tgid);
		count(att->id, MU_CNT_SOCKETS_NATIVE_MPTCP);
		return protocol;
	}
	if (!(att->families & family_bit)) {
		count(att->id, MU_CNT_SOCKETS_OTHER_FAMILY);
		return protocol;
	}

	note.attach_id = att->id;
	note.family = family;
	if (bpf_map_update_elem(&upgrade_notes, &pid_tgid, &note, BPF_ANY))
		count(att->id, MU_CNT_NOTES_DROPPED);
	count(att->id, MU_CNT_SOCKETS_UPGRADED);
	return IPPROTO_MPTCP;
}
