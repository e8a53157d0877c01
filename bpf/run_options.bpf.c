// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's record of the options a program sets on a TCP socket
 * before its bind() or connect(): a swap then reads and carries exactly
 * those (a lookup and two calls per option) instead of asking the old socket
 * for every option it might have set. Its own small object, loaded by the
 * run supervisor only and attached to the cgroup it has to itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "net_consts.h"
#include "mptcp_upgrade.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 page_size = 4096;
/* Records that could not be made (no memory): the supervisor then reads every option. */
__u64 lost;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mu_set_opts);
} set_opts SEC(".maps");

static __always_inline int run_opt_index(int level, int optname)
{
#define MU_X(name, l, o, family, hint) \
	if (level == (l) && optname == (o)) \
		return MU_RUN_OPT_##name;
	MU_RUN_OPTS(MU_X)
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
		__sync_fetch_and_add(&lost, 1);
		goto pass;
	}
	i = run_opt_index(ctx->level, ctx->optname);
	if (i >= 0 && i < 64) {
		s->known |= 1ULL << i;
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
