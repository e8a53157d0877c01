// SPDX-License-Identifier: GPL-2.0-only
/*
 * The attach engine in the kernel.
 *
 * Stage 1: make the TCP sockets of attached cgroups MPTCP at creation. socket()
 * picks the protocol before any address exists, and update_socket_protocol()
 * is the one place the kernel lets BPF change it. cgroup/sock_create then marks
 * the new MPTCP socket as ours.
 *
 * Stage 2: at bind() and connect() of one of our sockets, match the address
 * against the attachment's policy and remember which entry matched (or that
 * none did). These programs observe only: they never deny a call.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
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

/* attach id -> that attachment's policy trie; reload swaps the inner map in one update. */
struct policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MU_MAX_POLICY_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	/* sizes, not types: libbpf 1.1 can't size struct types of an inner map */
	__uint(key_size, sizeof(struct mu_lpm_key));
	__uint(value_size, sizeof(struct mu_policy_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u32);
	__array(values, struct policy_trie);
} policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MU_MAX_LINE_COUNTERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mu_line_key);
	__type(value, struct mu_line_counters);
} line_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mu_sock_state);
} sock_states SEC(".maps");

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

SEC("cgroup/sock_create")
int mu_mark_socket(struct bpf_sock *ctx)
{
	struct mu_upgrade_note *note;
	struct mu_sock_state *st;
	__u64 pid_tgid;

	if (ctx->protocol != IPPROTO_MPTCP)
		return 1;
	pid_tgid = bpf_get_current_pid_tgid();
	note = bpf_map_lookup_elem(&upgrade_notes, &pid_tgid);
	if (!note)
		return 1;	/* the application asked for MPTCP itself */
	if (note->family == ctx->family) {
		st = bpf_sk_storage_get(&sock_states, ctx, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (st) {
			st->attach_id = note->attach_id;
			st->flags = MU_SOCK_UPGRADED;
		}
	}
	bpf_map_delete_elem(&upgrade_notes, &pid_tgid);
	return 1;
}

static __always_inline void count_line(__u32 attach_id, __u32 entry, __u8 role)
{
	struct mu_line_key key = { .attach_id = attach_id, .entry = entry };
	struct mu_line_counters *c, zero = {};

	c = bpf_map_lookup_elem(&line_counters, &key);
	if (!c) {
		bpf_map_update_elem(&line_counters, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&line_counters, &key);
		if (!c)
			return;
	}
	if (role == MU_ROLE_BIND)
		c->binds++;
	else
		c->connects++;
}

/* The first entry, in policy order, whose ranges cover this port for this role. */
static __always_inline __u32 match_ranges(const struct mu_policy_value *val, __u16 port,
					  __u8 role)
{
	int i;

	for (i = 0; i < MU_MAX_RANGES; i++) {
		const struct mu_port_range *r = &val->ranges[i];

		if (i >= val->nr_ranges)
			break;
		if ((r->roles & role) && port >= r->port_min && port <= r->port_max)
			return r->entry + 1;
	}
	return MU_ENTRY_UNLISTED;
}

/*
 * Classify the first subflow of one of our MPTCP sockets at bind() (role
 * MU_ROLE_BIND, local address) or connect() (MU_ROLE_CONNECT, destination).
 * @family is a constant per program: the verifier refuses user_ip6 in bind4.
 */
static __always_inline int classify(struct bpf_sock_addr *ctx, __u8 role, int family)
{
	struct mu_lpm_key key = { .family = AF_INET };
	const struct mu_policy_value *val;
	struct bpf_sock *sk = ctx->sk;
	struct mptcp_sock *msk;
	struct mu_sock_state *st;
	void *trie;
	__u32 entry;
	__u16 port;

	if (!sk || sk->protocol != IPPROTO_TCP)
		return 1;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		return 1;
	/* MP_JOIN subflows are bound and connected by the kernel: not a user's call. */
	if ((void *)msk->first != (void *)sk)
		return 1;
	st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
	if (!st || !(st->flags & MU_SOCK_UPGRADED))
		return 1;

	port = bpf_ntohs((__u16)ctx->user_port);
	if (family == AF_INET) {
		__u32 a = ctx->user_ip4;

		__builtin_memcpy(key.addr, &a, 4);
		key.prefixlen = MU_LPM_FAMILY_BITS + 32;
	} else {
		__u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1];
		__u32 a2 = ctx->user_ip6[2], a3 = ctx->user_ip6[3];

		/* ::ffff:a.b.c.d on a dual-stack socket is the IPv4 peer a.b.c.d. */
		if (!a0 && !a1 && a2 == bpf_htonl(0xffff)) {
			__builtin_memcpy(key.addr, &a3, 4);
			key.prefixlen = MU_LPM_FAMILY_BITS + 32;
		} else {
			key.family = AF_INET6;
			__builtin_memcpy(key.addr, &a0, 4);
			__builtin_memcpy(key.addr + 4, &a1, 4);
			__builtin_memcpy(key.addr + 8, &a2, 4);
			__builtin_memcpy(key.addr + 12, &a3, 4);
			key.prefixlen = MU_LPM_FAMILY_BITS + 128;
		}
	}

	entry = MU_ENTRY_UNLISTED;
	trie = bpf_map_lookup_elem(&policies, &st->attach_id);
	if (trie) {
		val = bpf_map_lookup_elem(trie, &key);
		if (val)
			entry = match_ranges(val, port, role);
	}
	if (role == MU_ROLE_BIND) {
		st->bind_entry = entry;
		count(st->attach_id, entry == MU_ENTRY_UNLISTED ? MU_CNT_BINDS_UNLISTED
								: MU_CNT_BINDS_LISTED);
	} else {
		st->connect_entry = entry;
		count(st->attach_id, entry == MU_ENTRY_UNLISTED ? MU_CNT_CONNECTS_UNLISTED
								: MU_CNT_CONNECTS_LISTED);
	}
	if (entry != MU_ENTRY_UNLISTED)
		count_line(st->attach_id, entry - 1, role);
	return 1;
}

SEC("cgroup/bind4")
int mu_bind4(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_BIND, AF_INET);
}

SEC("cgroup/bind6")
int mu_bind6(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_BIND, AF_INET6);
}

SEC("cgroup/connect4")
int mu_connect4(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_CONNECT, AF_INET);
}

SEC("cgroup/connect6")
int mu_connect6(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_CONNECT, AF_INET6);
}
