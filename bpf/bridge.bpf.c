// SPDX-License-Identifier: GPL-2.0-only
/*
 * The socket-option bridge: options MPTCP refuses on its sockets (and the
 * application could set on a TCP one) are accepted at setsockopt(), answered
 * at getsockopt(), and set on every subflow by sockops; and, once a
 * connection is established, whether it negotiated MPTCP is counted against
 * its policy line, and each of its subflows' bytes when that subflow closes.
 * Both engines load it: the attach engine with its other objects, on their
 * maps; the run engine alone, on maps of its own, for the sockets its
 * supervisor marks.
 *
 * Minimum kernel: Linux 5.19 (bpf_skc_to_mptcp_sock(); bpf_set_retval() is
 * 5.18), tested from 6.1 on. No trampolines, no kfuncs, no cgroup-local storage.
 */
#include "common.bpf.h"
#include "lines.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* What the loader probed on the running kernel: struct mu_bridge_config, one element. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mu_bridge_config);
} bridge_config SEC(".maps");

/*
 * The values an application set through the bridge, on its MPTCP socket;
 * created by the first one. BPF_F_CLONE: a connection accepted from a listener
 * starts with the listener's values, as a TCP socket inherits its listener's.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct mu_bridge_values);
} bridge_values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MU_MAX_ATTACHMENTS * MU_SOPT_MAX);
	__type(key, __u32);
	__type(value, struct mu_sockopt_counters);
} sockopt_counters SEC(".maps");

/*
 * The line a listed connection's bytes count against (struct mu_conn_line),
 * on its MPTCP socket (for the subflows that join later) and on each subflow,
 * whose close adds its bytes to the line. No BPF_F_CLONE: a listener has none.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mu_conn_line);
} conn_lines SEC(".maps");

/* The kernel's page size, set by the loader: sockopt buffers beyond it are not ours to see. */
const volatile __u32 page_size = 4096;

enum sockopt_event { SOPT_CARRIED, SOPT_REFUSED, SOPT_APPLY_FAILED };

/*
 * A global function: the verifier checks it once, on its own, and its callers
 * see an unknown index, bounded by their own checks. Inlined, each of the
 * options' constants was a path of its own through the rest of the caller
 * (mu_setsockopt 12,485 and mu_getsockopt 15,018 instructions verified, about
 * 20 ms of every start); now they are a few thousand.
 */
__noinline int sockopt_index(int level, int optname)
{
#define MU_X(name, lvl, opt, family, kind) \
	if (level == (lvl) && optname == (opt)) \
		return MU_SOPT_##name;
	MU_SOCKOPTS(MU_X)
#undef MU_X
	return -1;
}

static __always_inline void count_sockopt(const struct mu_sock_state *st, int idx,
					  enum sockopt_event ev)
{
	const struct mu_attachment *att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	struct mu_sockopt_counters *c;
	__u32 key;

	if (!att || att->id >= MU_MAX_ATTACHMENTS || idx < 0 || idx >= MU_SOPT_MAX)
		return;
	key = att->id * MU_SOPT_MAX + idx;
	c = bpf_map_lookup_elem(&sockopt_counters, &key);
	if (!c)
		return;
	if (ev == SOPT_CARRIED)
		__sync_fetch_and_add(&c->carried, 1);
	else if (ev == SOPT_REFUSED)
		__sync_fetch_and_add(&c->refused, 1);
	else
		__sync_fetch_and_add(&c->apply_failed, 1);
}

/* The kernel's own range checks for the carried options (net/ipv4/tcp.c, net/ipv6/ipv6_sockglue.c). */
static __always_inline bool carried_value_ok(int idx, int v)
{
	switch (idx) {
	case MU_SOPT_TCP_USER_TIMEOUT:
		return v >= 0;
	case MU_SOPT_TCP_MAXSEG:	/* 0, or TCP_MIN_MSS .. MAX_TCP_WINDOW */
		return v == 0 || (v >= 88 && v <= 32767);
	case MU_SOPT_TCP_KEEPIDLE:
	case MU_SOPT_TCP_KEEPINTVL:
		return v >= 1 && v <= 32767;
	case MU_SOPT_TCP_KEEPCNT:
	case MU_SOPT_TCP_SYNCNT:
		return v >= 1 && v <= 127;
	case MU_SOPT_TCP_WINDOW_CLAMP:	/* 0 means "reset" and is left to the kernel */
		return v > 0;
	case MU_SOPT_TCP_THIN_LINEAR_TIMEOUTS:
		return v == 0 || v == 1;
	case MU_SOPT_TCP_NOTSENT_LOWAT:
		return true;
	case MU_SOPT_IPV6_TCLASS:
		return v >= -1 && v <= 255;
	}
	return false;
}

/*
 * setsockopt() on one of our MPTCP sockets, before the kernel's handler. An
 * option the kernel takes is left to it; one it refuses and the bridge carries
 * is accepted here (optlen -1: the kernel's handler is skipped and the call
 * returns 0) and set on the subflows by mu_sockops; one nobody can carry is
 * counted and left to the kernel to refuse, as without the engine.
 */
/* The config, where the bridge answers SO_OOBINLINE, and the state of a socket of ours. */
static __always_inline struct mu_sock_state *oobinline_ours(struct bpf_sock *sk)
{
	const struct mu_bridge_config *cfg;
	struct mu_sock_state *st;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&bridge_config, &zero);
	if (!cfg || !(cfg->flags & MU_BRIDGE_F_OOBINLINE))
		return NULL;
	st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
	if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
		return NULL;
	return st;
}

/* SO_OOBINLINE on one of our MPTCP sockets: answered (MU_BRIDGE_F_OOBINLINE). */
static __always_inline bool oobinline_set(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct mu_sock_state *st = oobinline_ours(sk);
	void *optval = ctx->optval;

	if (!st || optval + sizeof(int) > ctx->optval_end || ctx->optlen < (int)sizeof(int))
		return false;
	/* As the other flags are set: a plain store (the object targets BPF v2). */
	if (*(int *)optval)
		st->flags |= MU_SOCK_OOBINLINE;
	else
		st->flags &= ~MU_SOCK_OOBINLINE;
	ctx->optlen = -1;	/* the kernel's handler is skipped: the call returns 0 */
	return true;
}

SEC("cgroup/setsockopt")
int mu_setsockopt(struct bpf_sockopt *ctx)
{
	const struct mu_bridge_config *cfg;
	struct mu_bridge_values *br;
	struct bpf_sock *sk = ctx->sk;
	struct mu_sock_state *st;
	__u32 zero = 0;
	void *optval;
	int idx, v;

	if (!sk || sk->protocol != IPPROTO_MPTCP)
		goto pass;
	if (ctx->level == MU_SOL_SOCKET && ctx->optname == MU_SO_OOBINLINE) {
		if (oobinline_set(ctx, sk))
			return 1;
		goto pass;
	}
	idx = sockopt_index(ctx->level, ctx->optname);
	if (idx < 0 || idx >= MU_SOPT_MAX)
		goto pass;
	cfg = bpf_map_lookup_elem(&bridge_config, &zero);
	if (!cfg || !mu_optmask_has(&cfg->refused, idx))
		goto pass;	/* the kernel takes it on MPTCP sockets */
	st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
	if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
		goto pass;	/* not ours: the application's own MPTCP socket */
	if ((st->flags & MU_SOCK_FALLBACK) && mu_optmask_has(&cfg->after_fallback, idx))
		goto pass;	/* one plain TCP subflow now: the kernel passes it through */
	if (!mu_optmask_has(&cfg->carry, idx) || idx >= MU_SOPT_CARRIED_MAX) {
		if (!(st->flags & MU_SOCK_SWAPPING))
			count_sockopt(st, idx, SOPT_REFUSED);
		goto pass;
	}
	if (idx == MU_SOPT_IPV6_TCLASS && sk->family != AF_INET6)
		goto pass;	/* IPV6_TCLASS on an IPv4 socket: the kernel's answer */
	optval = ctx->optval;
	if (optval + sizeof(int) > ctx->optval_end || ctx->optlen < (int)sizeof(int))
		goto pass;
	v = *(int *)optval;
	if (!carried_value_ok(idx, v)) {
		if (idx == MU_SOPT_TCP_WINDOW_CLAMP)
			goto pass;
		bpf_set_retval(-22 /* EINVAL */);
		return 0;
	}
	br = bpf_sk_storage_get(&bridge_values, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!br)
		goto pass;	/* no memory: the kernel refuses it, as without the engine */
	br->val[idx] = v;
	br->set |= 1U << idx;	/* under the socket lock */
	count_sockopt(st, idx, SOPT_CARRIED);
	ctx->optlen = -1;
	return 1;
pass:
	if (ctx->optlen > (int)page_size)
		ctx->optlen = 0;	/* a buffer we only saw the start of: use the caller's */
	return 1;
}

/*
 * getsockopt() on one of our MPTCP sockets, after the kernel's handler: where
 * the kernel refused an option the bridge carries and the application set,
 * answer with the value it set.
 */
SEC("cgroup/getsockopt")
int mu_getsockopt(struct bpf_sockopt *ctx)
{
	struct mu_bridge_values *br;
	struct bpf_sock *sk = ctx->sk;
	void *optval;
	int idx;

	if (!sk || sk->protocol != IPPROTO_MPTCP)
		goto pass;
	/* What the application set, not the MPTCP socket's own (never set) flag. */
	if (ctx->level == MU_SOL_SOCKET && ctx->optname == MU_SO_OOBINLINE) {
		struct mu_sock_state *st = oobinline_ours(sk);

		optval = ctx->optval;
		if (!st || ctx->retval || optval + sizeof(int) > ctx->optval_end)
			goto pass;
		*(int *)optval = !!(st->flags & MU_SOCK_OOBINLINE);
		ctx->optlen = sizeof(int);
		return 1;
	}
	if (ctx->retval == 0)
		goto pass;
	idx = sockopt_index(ctx->level, ctx->optname);
	if (idx < 0 || idx >= MU_SOPT_CARRIED_MAX)
		goto pass;
	br = bpf_sk_storage_get(&bridge_values, sk, NULL, 0);
	if (!br || !(br->set & (1U << idx)))
		goto pass;
	optval = ctx->optval;
	if (optval + sizeof(int) > ctx->optval_end)
		goto pass;
	*(int *)optval = br->val[idx];
	ctx->optlen = sizeof(int);
	ctx->retval = 0;
	return 1;
pass:
	if (ctx->optlen > (int)page_size)
		ctx->optlen = 0;
	return 1;
}

/*
 * Not inlined, and nothing accumulated across the options: a mask of the
 * failed ones, a known constant on each path, kept the verifier from merging
 * them (2^n paths, 0.75 s to load mu_sockops, which run's first call waited for).
 */
static __noinline void apply_failed(const struct mu_sock_state *st, int idx)
{
	if (st)
		count_sockopt(st, idx, SOPT_APPLY_FAILED);
}

/* Set every value the application set through the bridge on this subflow. */
static __always_inline void bridge_apply(struct bpf_sock_ops *ops, struct mptcp_sock *msk,
					 const struct mu_bridge_values *br)
{
	const struct mu_sock_state *st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
	int v;

#define MU_X(name, lvl, opt, fam, kind)					\
	if ((kind) == MU_OK_BRIDGE && MU_SOPT_##name < MU_SOPT_CARRIED_MAX &&	\
	    (br->set & (1U << MU_SOPT_##name)) &&					\
	    ((fam) == 0 || ops->family == (fam))) {				\
		v = br->val[MU_SOPT_##name < MU_SOPT_CARRIED_MAX ? MU_SOPT_##name : 0];	\
		if (bpf_setsockopt(ops, (lvl), (opt), &v, sizeof(v)))		\
			apply_failed(st, MU_SOPT_##name);			\
	}
	MU_SOCKOPTS(MU_X)
#undef MU_X
}

/*
 * A subflow of one of our connections comes into being (the first one at
 * connect() or listen(), before its SYN; an accepted or MP_JOIN one once
 * established) or times out a retransmission: give it the bridged values. The
 * retransmission timeout is how a value set after the connection was
 * established reaches subflows that already existed; it is also when
 * TCP_USER_TIMEOUT, the option this is most needed for, comes into play.
 */
static __always_inline void bridge_subflow(struct bpf_sock_ops *ops, struct bpf_sock *sk,
					   struct mptcp_sock *msk, bool established)
{
	struct mu_bridge_values *br;
	struct mu_sock_state *st;

	if (established) {
		st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
			return;
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
					       BPF_SOCK_OPS_RTO_CB_FLAG);
	}
	br = bpf_sk_storage_get(&bridge_values, msk, NULL, 0);
	if (br && br->set)
		bridge_apply(ops, msk, br);
}

/*
 * A subflow whose close counts its bytes against @line: the line kept on it,
 * and the state callbacks asked for (the retransmission one kept, if set).
 */
static __always_inline void bytes_follow(struct bpf_sock_ops *ops, struct bpf_sock *sk,
					 const struct mu_conn_line *line)
{
	struct mu_conn_line *l = bpf_sk_storage_get(&conn_lines, sk, NULL,
						    BPF_SK_STORAGE_GET_F_CREATE);

	if (!l)
		return;
	*l = *line;
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* An MP_JOIN subflow of a listed connection: its bytes go to the connection's line. */
static __always_inline void bytes_join(struct bpf_sock_ops *ops, struct bpf_sock *sk,
				       struct mptcp_sock *msk)
{
	struct mu_conn_line *l = bpf_sk_storage_get(&conn_lines, msk, NULL, 0);

	if (l && l->entry != MU_ENTRY_UNLISTED)
		bytes_follow(ops, sk, l);
}

/*
 * A subflow of a listed connection enters TCP_CLOSE (from any state: a FIN
 * exchange, a reset, the time-wait handover, an MPTCP fast close): what it
 * carried, tcp_sock's bytes_acked (sent, acknowledged: no retransmission
 * twice) and bytes_received (received in order), goes to its line, once.
 */
static __always_inline void bytes_closed(struct bpf_sock_ops *ops, struct bpf_sock *sk)
{
	struct mu_conn_line *l = bpf_sk_storage_get(&conn_lines, sk, NULL, 0);
	const struct mu_attachment *att;
	struct mu_line_counters *c;

	if (!l || l->entry == MU_ENTRY_UNLISTED)
		return;
	att = bpf_map_lookup_elem(&attached_cgroups, &l->cgroup_id);
	if (att && att->gen == l->gen) {
		c = line_slot(att->id, l->entry);
		if (c) {
			__sync_fetch_and_add(&c->sent_bytes, ops->bytes_acked);
			__sync_fetch_and_add(&c->received_bytes, ops->bytes_received);
		}
	}
	l->entry = MU_ENTRY_UNLISTED;
}

/*
 * Did a listed connection negotiate MPTCP? Decided when it is established, from
 * what is on the wire rather than from MPTCP's internal flags (whose bits move
 * between kernel versions): on the active side whether the SYN-ACK carried an
 * MPTCP option (kind 30), on the passive side whether the socket accept() will
 * hand out is an MPTCP subflow at all. An active connection of ours that fell
 * back is marked, so that the bridge lets the kernel pass options through.
 */
static __always_inline void count_established(struct bpf_sock_ops *ops, struct bpf_sock *sk,
					      struct mptcp_sock *msk)
{
	const struct mu_attachment *att;
	struct mu_sock_state *st;
	__u32 entry, gen;
	bool mptcp;

	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		/* Room for any option: a shorter buffer makes a found one fail with -ENOSPC. */
		__u8 opt[TCP_MAX_OPTIONS] = { TCPOPT_MPTCP };

		if (!msk)
			return;
		st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
			return;
		entry = st->connect_entry;
		gen = st->connect_gen;
		mptcp = bpf_load_hdr_opt(ops, opt, sizeof(opt), 0) > 0;
		if (!mptcp)
			st->flags |= MU_SOCK_FALLBACK;
	} else {
		/*
		 * The subflow's state came from the listening subflow (the attach
		 * engine's bind hook set it); the run engine's listeners have it on
		 * the MPTCP socket only, which an MPTCP connection is a clone of.
		 */
		st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
		if (!st && msk)
			st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st)
			return;
		entry = st->bind_entry;
		gen = st->bind_gen;
		mptcp = msk != NULL;
	}
	if (!(st->flags & MU_SOCK_UPGRADED) || entry == MU_ENTRY_NONE ||
	    entry == MU_ENTRY_UNLISTED)
		return;
	/* Count only against the policy the entry came from, never a reloaded one. */
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	if (!att || att->gen != gen)
		return;
	count_line(att->id, entry - 1, mptcp ? LINE_MPTCP : LINE_FALLBACK);
	{
		struct mu_conn_line line = { .cgroup_id = st->cgroup_id, .entry = entry - 1,
					     .gen = gen };
		struct mu_conn_line *l;

		if (msk) {
			l = bpf_sk_storage_get(&conn_lines, msk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
			if (l)
				*l = line;
		}
		bytes_follow(ops, sk, &line);
	}
}

SEC("sockops")
int mu_sockops(struct bpf_sock_ops *ops)
{
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 op = ops->op;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_TCP_LISTEN_CB &&
	    op != BPF_SOCK_OPS_RTO_CB && op != BPF_SOCK_OPS_STATE_CB)
		return 1;
	sk = ops->sk;
	if (!sk)
		return 1;
	if (op == BPF_SOCK_OPS_STATE_CB) {
		if (ops->args[1] == BPF_TCP_CLOSE)
			bytes_closed(ops, sk);
		return 1;
	}
	msk = bpf_skc_to_mptcp_sock(sk);
	if (msk)
		bridge_subflow(ops, sk, msk, op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ||
					     op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB);
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (msk && !first_subflow(msk, sk)) {
		bytes_join(ops, sk, msk);
		return 1;	/* an MP_JOIN subflow: part of a connection counted already */
	}
	count_established(ops, sk, msk);
	return 1;
}
