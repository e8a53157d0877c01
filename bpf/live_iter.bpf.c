// SPDX-License-Identifier: GPL-2.0-only
/*
 * The attach engine's iterator over sock_states (the map is given when the
 * iterator is created, so this object has none of its own): sockets that
 * outlive their attachment.
 *
 * Minimum kernel: Linux 5.9 (iterators over socket-local storage).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "net_consts.h"
#include "mptcp_upgrade.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * One line per socket of ours that could still send or receive a SYN (a
 * listener, or one not connected yet) and that stage 3 acts for: while any is
 * left, detaching the last attachment keeps stage 3 in place, since removing
 * it would let those sockets negotiate MPTCP on unlisted addresses.
 */
SEC("iter/bpf_sk_storage_map")
int mu_live_sockets(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct mu_sock_state *st = ctx->value;
	struct sock *sk = ctx->sk;
	__u8 state;

	if (!sk || !st)
		return 0;
	if ((st->flags & (MU_SOCK_UPGRADED | MU_SOCK_STRICT)) !=
	    (MU_SOCK_UPGRADED | MU_SOCK_STRICT) || sk->sk_protocol != IPPROTO_MPTCP)
		return 0;
	state = sk->__sk_common.skc_state;
	if (state != TCP_LISTEN_STATE && state != TCP_CLOSE_STATE)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%llu %u\n", st->cgroup_id, state);
	return 0;
}
