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

#define TCPOPT_MPTCP_KIND	30
#define TCP_MAX_OPTIONS		40

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

/*
 * BPF_F_CLONE: an accepted MPTCP socket is a clone of its listener and so
 * inherits the listener's state (its attachment and the entry its bind matched).
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
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
	note.attach_flags = att->flags;
	note.pad = 0;
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
			if (note->attach_flags & MU_ATTACH_STRICT)
				st->flags |= MU_SOCK_STRICT;
		}
	}
	bpf_map_delete_elem(&upgrade_notes, &pid_tgid);
	return 1;
}

enum line_event { LINE_BIND, LINE_CONNECT, LINE_MPTCP, LINE_FALLBACK };

static __always_inline void count_line(__u32 attach_id, __u32 entry, enum line_event ev)
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
	if (ev == LINE_BIND)
		c->binds++;
	else if (ev == LINE_CONNECT)
		c->connects++;
	else if (ev == LINE_MPTCP)
		c->mptcp++;
	else
		c->fallback++;
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
		struct mu_sock_state *sub;

		st->bind_entry = entry;
		/*
		 * The listening subflow carries the state too: every socket accept()
		 * hands out is cloned from it, MPTCP subflow or plain TCP fallback.
		 */
		sub = bpf_sk_storage_get(&sock_states, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (sub)
			*sub = *st;
		count(st->attach_id, entry == MU_ENTRY_UNLISTED ? MU_CNT_BINDS_UNLISTED
								: MU_CNT_BINDS_LISTED);
	} else {
		st->connect_entry = entry;
		count(st->attach_id, entry == MU_ENTRY_UNLISTED ? MU_CNT_CONNECTS_UNLISTED
								: MU_CNT_CONNECTS_LISTED);
	}
	if (entry != MU_ENTRY_UNLISTED)
		count_line(st->attach_id, entry - 1,
			   role == MU_ROLE_BIND ? LINE_BIND : LINE_CONNECT);
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

/*
 * Did a listed connection negotiate MPTCP? Decided when it is established, from
 * what is on the wire rather than from MPTCP's internal flags (whose bits move
 * between kernel versions): on the active side whether the SYN-ACK carried an
 * MPTCP option (kind 30), on the passive side whether the socket accept() will
 * hand out is an MPTCP subflow at all.
 */
SEC("sockops")
int mu_sockops(struct bpf_sock_ops *ops)
{
	struct mu_sock_state *st;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 entry;
	bool mptcp;

	if (ops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    ops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = ops->sk;
	if (!sk)
		return 1;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (msk && (void *)msk->first != (void *)sk)
		return 1;	/* an MP_JOIN subflow: part of a connection counted already */
	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		/* Room for any option: a shorter buffer makes a found one fail with -ENOSPC. */
		__u8 opt[TCP_MAX_OPTIONS] = { TCPOPT_MPTCP_KIND };

		if (!msk)
			return 1;
		st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st)
			return 1;
		entry = st->connect_entry;
		mptcp = bpf_load_hdr_opt(ops, opt, sizeof(opt), 0) > 0;
	} else {
		st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
		if (!st)
			return 1;
		entry = st->bind_entry;
		mptcp = msk != NULL;
	}
	if (!(st->flags & MU_SOCK_UPGRADED) || entry == MU_ENTRY_NONE ||
	    entry == MU_ENTRY_UNLISTED)
		return 1;
	count_line(st->attach_id, entry - 1, mptcp ? LINE_MPTCP : LINE_FALLBACK);
	return 1;
}

/* ---- stage 3: unlisted addresses stay plain TCP on the wire ------------------ */

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define TCPOPT_NOP	1
#define TCPOPT_EOL	0
#define TCPOPT_MPTCP	30
#define MPTCPOPT_MP_CAPABLE	0
/* tcx: go on with the next program (classic clsact: TC_ACT_UNSPEC, the same -1). */
#define MU_TC_NEXT	(-1)

/* Where a TCP SYN carrying MP_CAPABLE keeps it. */
struct syn_info {
	__u32 l4off;		/* TCP header, from skb->data */
	__u32 opt;		/* the MP_CAPABLE option */
	__u32 optlen;
	struct bpf_sock_tuple tuple;
	__u32 tuple_len;
};

struct option_scan {
	__u8 opts[64];		/* the SYN's options, TCP_MAX_OPTIONS of them at most */
	__u32 optlen;
	__u32 next;		/* offset of the option to look at */
	__s32 found;		/* offset of MP_CAPABLE, or -1 */
	__u32 len;
};

/* One bpf_loop() step: look at the option at c->next. Returns 1 to stop. */
static long scan_option(__u32 step, struct option_scan *c)
{
	__u32 i = c->next;
	__u8 kind, len;

	if (i >= c->optlen || i >= TCP_MAX_OPTIONS)
		return 1;
	kind = c->opts[i & 63];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		c->next = i + 1;
		return 0;
	}
	len = c->opts[(i + 1) & 63];
	if (len < 2 || i + len > c->optlen)
		return 1;
	if (kind == TCPOPT_MPTCP && len >= 3 && (c->opts[(i + 2) & 63] >> 4) == MPTCPOPT_MP_CAPABLE) {
		c->found = i;
		c->len = len;
		return 1;
	}
	c->next = i + len;
	return 0;
}

/*
 * A SYN (without ACK) with an MP_CAPABLE option? The network header follows an
 * Ethernet header on eth, veth and lo, and starts the packet on L3 devices.
 */
static __always_inline bool parse_syn(struct __sk_buff *skb, struct syn_info *si)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u16 proto = bpf_ntohs(skb->protocol);
	struct option_scan scan = {};
	struct tcphdr *th;
	__u32 l3off = 0;

	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		return false;
	if (data + ETH_HLEN <= end && ((struct ethhdr *)data)->h_proto == skb->protocol)
		l3off = ETH_HLEN;
	if (proto == ETH_P_IP) {
		struct iphdr *iph = data + l3off;

		if ((void *)(iph + 1) > end || iph->version != 4 || iph->protocol != IPPROTO_TCP)
			return false;
		if (iph->frag_off & bpf_htons(0x1fff | 0x2000))	/* fragments: leave them */
			return false;
		si->l4off = l3off + iph->ihl * 4;
		si->tuple.ipv4.saddr = iph->saddr;
		si->tuple.ipv4.daddr = iph->daddr;
		si->tuple_len = sizeof(si->tuple.ipv4);
	} else {
		struct ipv6hdr *ip6 = data + l3off;

		/* A SYN behind extension headers is rare enough to let through untouched. */
		if ((void *)(ip6 + 1) > end || ip6->version != 6 || ip6->nexthdr != IPPROTO_TCP)
			return false;
		si->l4off = l3off + sizeof(*ip6);
		__builtin_memcpy(si->tuple.ipv6.saddr, &ip6->saddr, 16);
		__builtin_memcpy(si->tuple.ipv6.daddr, &ip6->daddr, 16);
		si->tuple_len = sizeof(si->tuple.ipv6);
	}
	if (si->l4off > 80)
		return false;
	th = data + si->l4off;
	if ((void *)(th + 1) > end || !th->syn || th->ack)
		return false;
	if (proto == ETH_P_IP) {
		si->tuple.ipv4.sport = th->source;
		si->tuple.ipv4.dport = th->dest;
	} else {
		si->tuple.ipv6.sport = th->source;
		si->tuple.ipv6.dport = th->dest;
	}
	/*
	 * Scan a copy, one option per bpf_loop() step: variable offsets into the
	 * packet, or an open-coded loop over unknown bytes, defeat the verifier.
	 */
	scan.optlen = th->doff * 4;
	if (scan.optlen <= 20 || scan.optlen > 20 + TCP_MAX_OPTIONS)
		return false;
	scan.optlen -= 20;
	if (bpf_skb_load_bytes(skb, si->l4off + 20, scan.opts, scan.optlen))
		return false;
	scan.found = -1;
	bpf_loop(TCP_MAX_OPTIONS, scan_option, &scan, 0);
	if (scan.found < 0)
		return false;
	si->opt = si->l4off + 20 + scan.found;
	si->optlen = scan.len;
	return true;
}

/*
 * Replace the option with NOPs and fix the TCP checksum. SYN's MP_CAPABLE is 4
 * bytes (v1) or 12 (v0); Linux writes options 32-bit aligned, and an option at
 * an odd offset (another stack) is left alone rather than mis-summed.
 */
static __always_inline int strip_option(struct __sk_buff *skb, const struct syn_info *si)
{
	__u8 old[12] = {}, nops[12];
	__s64 diff;
	__u32 len = si->optlen;

	if ((len != 4 && len != 12) || ((si->opt - si->l4off) & 1))
		return -1;
	__builtin_memset(nops, TCPOPT_NOP, sizeof(nops));
	if (len == 4) {
		if (bpf_skb_load_bytes(skb, si->opt, old, 4))
			return -1;
		diff = bpf_csum_diff((__be32 *)old, 4, (__be32 *)nops, 4, 0);
		if (bpf_skb_store_bytes(skb, si->opt, nops, 4, 0))
			return -1;
	} else {
		if (bpf_skb_load_bytes(skb, si->opt, old, 12))
			return -1;
		diff = bpf_csum_diff((__be32 *)old, 12, (__be32 *)nops, 12, 0);
		if (bpf_skb_store_bytes(skb, si->opt, nops, 12, 0))
			return -1;
	}
	if (diff < 0)
		return -1;
	return bpf_l4_csum_replace(skb, si->l4off + 16, 0, diff, 0);
}

/* Our socket, strict, and the entry that decides is unlisted? */
static __always_inline struct mu_sock_state *strict_unlisted(struct mptcp_sock *msk, bool bind)
{
	struct mu_sock_state *st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);

	if (!st || (st->flags & (MU_SOCK_UPGRADED | MU_SOCK_STRICT)) !=
		   (MU_SOCK_UPGRADED | MU_SOCK_STRICT))
		return NULL;
	if ((bind ? st->bind_entry : st->connect_entry) != MU_ENTRY_UNLISTED)
		return NULL;
	return st;
}

/* A SYN leaving from one of our sockets whose connect() matched no entry. */
SEC("tc")
int mu_tc_egress(struct __sk_buff *skb)
{
	struct syn_info si = {};
	struct mu_sock_state *st;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;

	if (!parse_syn(skb, &si))
		return MU_TC_NEXT;
	sk = skb->sk;
	if (!sk)
		return MU_TC_NEXT;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return MU_TC_NEXT;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		return MU_TC_NEXT;
	st = strict_unlisted(msk, false);
	if (!st || strip_option(skb, &si))
		return MU_TC_NEXT;
	/* Retransmitted SYNs are stripped again but counted once. */
	if (!(st->flags & MU_SOCK_STRIPPED)) {
		st->flags |= MU_SOCK_STRIPPED;
		count(st->attach_id, MU_CNT_KEPT_TCP_OUT);
	}
	return MU_TC_NEXT;
}

/* A SYN arriving for one of our listeners whose bind() matched no entry. */
SEC("tc")
int mu_tc_ingress(struct __sk_buff *skb)
{
	struct syn_info si = {};
	struct mu_sock_state *st = NULL;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 attach_id = 0;

	if (!parse_syn(skb, &si))
		return MU_TC_NEXT;
	sk = bpf_skc_lookup_tcp(skb, &si.tuple, si.tuple_len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return MU_TC_NEXT;
	if (sk->state == BPF_TCP_LISTEN) {
		msk = bpf_skc_to_mptcp_sock(sk);
		if (msk) {
			st = strict_unlisted(msk, true);
			if (st)
				attach_id = st->attach_id;
		}
	}
	bpf_sk_release(sk);
	if (st && !strip_option(skb, &si))
		count(attach_id, MU_CNT_KEPT_TCP_IN);
	return MU_TC_NEXT;
}
