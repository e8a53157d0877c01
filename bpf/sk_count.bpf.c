// SPDX-License-Identifier: GPL-2.0-only
/*
 * How many sockets an engine of another ABI still serves, without knowing what
 * it keeps per socket: one byte per element of the socket-local storage map it
 * is iterated over (that engine's sock_states). The value is never read, so the
 * program attaches to an sk_storage map of any value layout (docs/upgrades.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/bpf_sk_storage_map")
int mu_count_sockets(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	char one = 1;

	if (ctx->sk && ctx->value)
		bpf_seq_write(ctx->meta->seq, &one, sizeof(one));
	return 0;
}
