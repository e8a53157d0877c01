// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's own programs, loaded by the run supervisor only and
 * attached to the cgroup it has to itself:
 *  - the record of the options a program sets on a TCP socket before its
 *    bind() or connect(): a swap then reads and carries exactly those (a
 *    lookup and two calls per option) instead of asking the old socket for
 *    every option it might have set;
 *  - the address a listed bind() or connect() was classified by, which the
 *    kernel then uses (struct mu_run_intent).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "net_consts.h"
#include "mptcp_upgrade.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 page_size = 4096;
/*
 * The only thing in .bss, so that its layout is the struct's: status reads it
 * by map id. counts.lost: records that could not be made (no memory), and
 * the supervisor then reads every option.
 */
struct mu_run_bpf_counts counts;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mu_set_opts);
} set_opts SEC(".maps");

/* Global, so verified once: its callers see one unknown index, not a path per option. */
__noinline int run_opt_index(int level, int optname)
{
#define MU_X(name, l, o, family, kind) \
	if (level == (l) && optname == (o)) \
		return MU_SOPT_##name;
	MU_SOCKOPTS(MU_X)
#undef MU_X
	return -1;
}

SEC("cgroup/setsockopt")
int mu_run_setsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct mu_set_opts *s;
	int i;

	/* Only what a swap could need: a TCP socket not connected or listening yet. */
	if (!sk || sk->protocol != IPPROTO_TCP || sk->state != BPF_TCP_CLOSE)
		goto pass;
	s = bpf_sk_storage_get(&set_opts, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		__sync_fetch_and_add(&counts.lost, 1);
		goto pass;
	}
	i = run_opt_index(ctx->level, ctx->optname);
	if (i >= 0) {
		/*
		 * Unknown to the verifier: bounded by the mask itself, on the
		 * register that indexes (a range check would be on a copy).
		 */
		__u32 bit = (__u32)i & 127;

		s->known.w[bit >> 6] |= 1ULL << (bit & 63);
	} else {
		s->other_level = ctx->level;
		s->other_optname = ctx->optname;
		s->nr_other++;
	}
pass:
	if (ctx->optlen > (int)page_size)
		ctx->optlen = 0;	/* a buffer we only saw the start of: use the caller's */
	return 1;
}

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mu_run_intent);
} run_intent SEC(".maps");

/*
 * A listed bind() or connect() on a socket the supervisor made MPTCP: the
 * address the kernel read must be the one the supervisor classified, or
 * becomes it. The call reaches the first subflow; the kernel's own binds and
 * connects of MP_JOIN subflows are not the program's.
 */
static __always_inline int use_classified(struct bpf_sock_addr *ctx, __u8 role, int family)
{
	struct bpf_sock *sk = ctx->sk;
	struct mu_run_intent *in;
	struct mptcp_sock *msk;
	bool same;

	if (!sk || sk->protocol != IPPROTO_TCP)
		return 1;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk || !bpf_core_field_exists(msk->first) || (void *)msk->first != (void *)sk)
		return 1;
	in = bpf_sk_storage_get(&run_intent, msk, NULL, 0);
	if (!in || in->role != role)
		return 1;
	if (in->family != family) {
		__sync_fetch_and_add(&counts.refused, 1);
		return 0;
	}
	if (family == AF_INET)
		same = ctx->user_ip4 == in->addr[0];
	else
		same = ctx->user_ip6[0] == in->addr[0] && ctx->user_ip6[1] == in->addr[1] &&
		       ctx->user_ip6[2] == in->addr[2] && ctx->user_ip6[3] == in->addr[3];
	if (same && (__u16)ctx->user_port == in->port)
		return 1;
	if (family == AF_INET) {
		ctx->user_ip4 = in->addr[0];
	} else {
		ctx->user_ip6[0] = in->addr[0];
		ctx->user_ip6[1] = in->addr[1];
		ctx->user_ip6[2] = in->addr[2];
		ctx->user_ip6[3] = in->addr[3];
	}
	ctx->user_port = in->port;
	__sync_fetch_and_add(&counts.rewritten, 1);
	return 1;
}

SEC("cgroup/connect4")
int mu_run_connect4(struct bpf_sock_addr *ctx)
{
	return use_classified(ctx, MU_ROLE_CONNECT, AF_INET);
}

SEC("cgroup/connect6")
int mu_run_connect6(struct bpf_sock_addr *ctx)
{
	return use_classified(ctx, MU_ROLE_CONNECT, AF_INET6);
}

SEC("cgroup/bind4")
int mu_run_bind4(struct bpf_sock_addr *ctx)
{
	return use_classified(ctx, MU_ROLE_BIND, AF_INET);
}

SEC("cgroup/bind6")
int mu_run_bind6(struct bpf_sock_addr *ctx)
{
	return use_classified(ctx, MU_ROLE_BIND, AF_INET6);
}
