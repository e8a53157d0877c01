// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stage 3 of the attach engine, for strict attachments: unlisted addresses
 * stay plain TCP on the wire. On every interface, tc strips MP_CAPABLE from
 * the SYNs of our sockets whose connect() matched no entry (egress) and from
 * the SYNs that reach our listeners bound to an unlisted address (ingress).
 *
 * Minimum kernel: Linux 6.6, for the tcx links the engine attaches it with;
 * the programs themselves load from 6.2 (the bpf_cast_to_kern_ctx() kfunc;
 * bpf_loop() is 5.17), which the host tests use to run them through
 * BPF_PROG_TEST_RUN.
 */
#include "common.bpf.h"
#include "policy.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_HLEN	14
#define VLAN_HLEN	4
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
/* tcx: go on with the next program (classic clsact: TC_ACT_UNSPEC, the same -1). */
#define MU_TC_NEXT	(-1)

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Where a TCP SYN carrying MP_CAPABLE keeps it; offsets from the network header. */
struct syn_info {
	__u32 l4off;		/* TCP header */
	__u32 optrel;		/* the MP_CAPABLE option, from the TCP header */
	__u32 optlen;
	bool v6;
	__be16 tot_len;		/* IPv4 total length / IPv6 payload length */
	struct bpf_sock_tuple tuple;
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
 * A SYN (without ACK) with an MP_CAPABLE option? Read relative to the network
 * header, which the stack has set on both hooks, so that devices with an
 * Ethernet header, with a VLAN tag in the frame, and without any link-layer
 * header (tun, WireGuard, ipip) are parsed alike.
 */
static __always_inline bool parse_syn(struct __sk_buff *skb, struct syn_info *si)
{
	__u16 proto = bpf_ntohs(skb->protocol);
	struct option_scan scan = {};
	struct tcphdr th;

	if (proto == ETH_P_IP) {
		struct iphdr iph;

		if (bpf_skb_load_bytes_relative(skb, 0, &iph, sizeof(iph), BPF_HDR_START_NET))
			return false;
		if (iph.version != 4 || iph.ihl < 5 || iph.protocol != IPPROTO_TCP)
			return false;
		if (iph.frag_off & bpf_htons(0x1fff | 0x2000))	/* fragments: leave them */
			return false;
		si->l4off = iph.ihl * 4;
		si->tot_len = iph.tot_len;
		si->tuple.ipv4.saddr = iph.saddr;
		si->tuple.ipv4.daddr = iph.daddr;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes_relative(skb, 0, &ip6, sizeof(ip6), BPF_HDR_START_NET))
			return false;
		/* A SYN behind extension headers is rare enough to let through untouched. */
		if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP)
			return false;
		si->v6 = true;
		si->l4off = sizeof(ip6);
		si->tot_len = ip6.payload_len;
		__builtin_memcpy(si->tuple.ipv6.saddr, &ip6.saddr, 16);
		__builtin_memcpy(si->tuple.ipv6.daddr, &ip6.daddr, 16);
	} else {
		return false;
	}
	if (si->l4off > 60 ||
	    bpf_skb_load_bytes_relative(skb, si->l4off, &th, sizeof(th), BPF_HDR_START_NET))
		return false;
	if (!th.syn || th.ack)
		return false;
	if (si->v6) {
		si->tuple.ipv6.sport = th.source;
		si->tuple.ipv6.dport = th.dest;
	} else {
		si->tuple.ipv4.sport = th.source;
		si->tuple.ipv4.dport = th.dest;
	}
	/*
	 * Scan a copy, one option per bpf_loop() step: variable offsets into the
	 * packet, or an open-coded loop over unknown bytes, defeat the verifier.
	 */
	scan.optlen = th.doff * 4;
	if (scan.optlen <= 20 || scan.optlen > 20 + TCP_MAX_OPTIONS)
		return false;
	scan.optlen -= 20;
	if (bpf_skb_load_bytes_relative(skb, si->l4off + 20, scan.opts, scan.optlen,
					BPF_HDR_START_NET))
		return false;
	scan.found = -1;
	bpf_loop(TCP_MAX_OPTIONS, scan_option, &scan, 0);
	if (scan.found < 0)
		return false;
	si->optrel = 20 + scan.found;
	si->optlen = scan.len;
	return true;
}

/*
 * Where the network header starts, counted from skb->data (which is where
 * bpf_skb_store_bytes and bpf_l4_csum_replace count from): found by matching
 * the header the stack points at against the packet's first bytes, after no
 * link-layer header, an Ethernet one, or one with a VLAN tag. -1 if none fits.
 */
static __always_inline bool header_at(struct __sk_buff *skb, int off, const __u32 nh[5])
{
	__u32 at[5];

	if (bpf_skb_load_bytes(skb, off, at, sizeof(at)))
		return false;
	return at[0] == nh[0] && at[1] == nh[1] && at[2] == nh[2] && at[3] == nh[3] &&
	       at[4] == nh[4];
}

static __always_inline int network_offset(struct __sk_buff *skb)
{
	__u32 nh[5];

	if (bpf_skb_load_bytes_relative(skb, 0, nh, sizeof(nh), BPF_HDR_START_NET))
		return -1;
	if (header_at(skb, 0, nh))
		return 0;
	if (header_at(skb, ETH_HLEN, nh))
		return ETH_HLEN;
	if (header_at(skb, ETH_HLEN + VLAN_HLEN, nh))
		return ETH_HLEN + VLAN_HLEN;
	return -1;
}

/*
 * Replace the option with NOPs and fix the TCP checksum. SYN's MP_CAPABLE is 4
 * bytes (v1) or 12 (v0). The checksum is a sum of 16-bit words counted from
 * the TCP header, so the rewrite works on the 4-byte aligned window around the
 * option: an option at an odd offset (other stacks write them) is summed right.
 */
static __always_inline int strip_option(struct __sk_buff *skb, const struct syn_info *si)
{
	__u8 old[16] = {}, new[16];
	__u32 rel, len, wstart, wlen, first, i;
	int l3off;
	__s64 diff;

	len = si->optlen;
	if (len != 4 && len != 12)
		return -1;
	rel = si->optrel;
	if (rel < 20 || rel > 60 || si->l4off > 60)
		return -1;
	l3off = network_offset(skb);
	if (l3off < 0)
		return -1;
	first = rel & 3;
	wstart = rel & 0x3c;
	wlen = (first + len + 3) & 0x1c;		/* 4, 8, 12 or 16 */
	if (wlen < 4 || wlen > 16)
		return -1;
	wstart += si->l4off + l3off;
	if (bpf_skb_load_bytes(skb, wstart, old, wlen))
		return -1;
	for (i = 0; i < 16; i++)
		new[i] = i >= first && i < first + len ? TCPOPT_NOP : old[i];
	diff = bpf_csum_diff((__be32 *)old, wlen, (__be32 *)new, wlen, 0);
	if (diff < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, wstart, new, wlen, 0))
		return -1;
	return bpf_l4_csum_replace(skb, l3off + si->l4off + 16, 0, diff, 0);
}

/*
 * Is a SYN that found a wildcard listener addressed to this host? The listener
 * lookup does not check that the destination is local, and a SYN routed through
 * this host (to a container, a VM, another machine) to the same port would
 * otherwise lose MP_CAPABLE. The FIB answers: local destinations are "not
 * forwarded"; with forwarding off on the device nothing but local traffic gets
 * past the IP layer. A device that hands its frames to another one (bridge,
 * macvlan and bond ports) is left to the upper device, which sees them again.
 */
static __always_inline bool addressed_here(struct __sk_buff *skb, const struct syn_info *si)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct bpf_fib_lookup fib = {};
	long ret;

	if (kskb->dev && kskb->dev->rx_handler)
		return false;
	fib.ifindex = skb->ingress_ifindex;
	fib.l4_protocol = IPPROTO_TCP;
	if (si->v6) {
		fib.family = AF_INET6;
		fib.sport = si->tuple.ipv6.sport;
		fib.dport = si->tuple.ipv6.dport;
		__builtin_memcpy(fib.ipv6_src, si->tuple.ipv6.saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, si->tuple.ipv6.daddr, 16);
	} else {
		fib.family = AF_INET;
		fib.sport = si->tuple.ipv4.sport;
		fib.dport = si->tuple.ipv4.dport;
		fib.ipv4_src = si->tuple.ipv4.saddr;
		fib.ipv4_dst = si->tuple.ipv4.daddr;
	}
	fib.tot_len = bpf_ntohs(si->tot_len);
	ret = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	return ret == BPF_FIB_LKUP_RET_NOT_FWDED || ret == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

/* Ours and strict: the sockets stage 3 acts for. */
static __always_inline struct mu_sock_state *strict_state(void *sk)
{
	struct mu_sock_state *st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);

	if (!st || (st->flags & (MU_SOCK_UPGRADED | MU_SOCK_STRICT)) !=
		   (MU_SOCK_UPGRADED | MU_SOCK_STRICT))
		return NULL;
	return st;
}

/*
 * The destination of a SYN whose connect() the engine did not see (TCP Fast
 * Open through sendmsg, say), against the policy in force.
 */
static __always_inline __u32 classify_syn_destination(const struct mu_attachment *att,
						      const struct syn_info *si)
{
	struct mu_lpm_key key = {};
	__u32 a[4];

	if (si->v6) {
		__builtin_memcpy(a, si->tuple.ipv6.daddr, 16);
		lpm_key6(&key, a[0], a[1], a[2], a[3]);
		return policy_lookup(att, &key, bpf_ntohs(si->tuple.ipv6.dport), MU_ROLE_CONNECT);
	}
	lpm_key4(&key, si->tuple.ipv4.daddr);
	return policy_lookup(att, &key, bpf_ntohs(si->tuple.ipv4.dport), MU_ROLE_CONNECT);
}

/*
 * A SYN leaving from one of our sockets whose connect() matched no entry, or
 * whose attachment is gone (detach must not widen what speaks MPTCP).
 */
SEC("tc")
int mu_tc_egress(struct __sk_buff *skb)
{
	const struct mu_attachment *att;
	struct syn_info si = {};
	struct mu_sock_state *st;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 entry;

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
	st = strict_state(msk);
	if (!st)
		return MU_TC_NEXT;
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	entry = st->connect_entry;
	if (!att)
		entry = MU_ENTRY_UNLISTED;
	else if (entry == MU_ENTRY_NONE)
		entry = classify_syn_destination(att, &si);
	if (entry != MU_ENTRY_UNLISTED || strip_option(skb, &si))
		return MU_TC_NEXT;
	/* Retransmitted SYNs are stripped again but counted once. */
	if (!(st->flags & MU_SOCK_STRIPPED)) {
		st->flags |= MU_SOCK_STRIPPED;
		if (att)
			count(att->id, MU_CNT_KEPT_TCP_OUT);
	}
	return MU_TC_NEXT;
}

/* The listener's own bound address, as bind() gave it (the kernel keeps it). */
static __always_inline bool listener_key(struct bpf_sock *sk, struct mu_lpm_key *key)
{
	if (sk->family == AF_INET) {
		lpm_key4(key, sk->src_ip4);
		return sk->src_ip4 == 0;
	}
	lpm_key6(key, sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3]);
	return !(sk->src_ip6[0] | sk->src_ip6[1] | sk->src_ip6[2] | sk->src_ip6[3]);
}

/*
 * A SYN arriving for one of our listeners. The listener is classified again,
 * from its bound address against the policy in force, on every MP_CAPABLE SYN:
 * a reload applies to listeners that already exist, and a listener whose
 * attachment is gone (detached) is unlisted. The result is written back to the
 * listener, so the socket accept() hands out names the line that admitted it.
 */
SEC("tc")
int mu_tc_ingress(struct __sk_buff *skb)
{
	struct mu_sock_state *st, *sub;
	const struct mu_attachment *att = NULL;
	struct mu_lpm_key key = {};
	struct syn_info si = {};
	struct bpf_sock_tuple tuple;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 entry = MU_ENTRY_UNLISTED, gen;
	bool wildcard, ours = false;

	if (!parse_syn(skb, &si))
		return MU_TC_NEXT;
	/*
	 * The listener itself, never a TIME_WAIT or request socket of the same
	 * 4-tuple: the kernel hands a SYN that reuses a TIME_WAIT pair to the
	 * listener. No connection has a zero peer, so only listeners match.
	 */
	tuple = si.tuple;
	if (si.v6) {
		__builtin_memset(tuple.ipv6.saddr, 0, 16);
		tuple.ipv6.sport = 0;
	} else {
		tuple.ipv4.saddr = 0;
		tuple.ipv4.sport = 0;
	}
	if (si.v6)
		sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return MU_TC_NEXT;
	if (sk->state != TCP_LISTEN_STATE)
		goto release;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		goto release;
	st = strict_state(msk);
	if (!st)
		goto release;
	ours = true;
	wildcard = listener_key(sk, &key);
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	if (att) {
		gen = att->gen;
		entry = policy_lookup(att, &key, sk->src_port, MU_ROLE_BIND);
		if (st->bind_entry != entry || st->bind_gen != gen) {
			st->bind_entry = entry;
			st->bind_gen = gen;
		}
		sub = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
		if (sub && (sub->bind_entry != entry || sub->bind_gen != gen)) {
			sub->bind_entry = entry;
			sub->bind_gen = gen;
		}
	}
release:
	bpf_sk_release(sk);
	if (!ours || entry != MU_ENTRY_UNLISTED)
		return MU_TC_NEXT;
	if (wildcard && !addressed_here(skb, &si))
		return MU_TC_NEXT;
	if (!strip_option(skb, &si) && att)
		count(att->id, MU_CNT_KEPT_TCP_IN);
	return MU_TC_NEXT;
}
