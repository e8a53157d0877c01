/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the engine's BPF objects share: the maps more than one of them uses,
 * and the helpers over those maps. Each object that includes this declares
 * these maps; the attach engine creates them once (with the first object it
 * loads) and hands the same maps to the others (bpf_map__reuse_fd), so that
 * every stage reads and writes one attached_cgroups, one sock_states and one
 * set of counters. The run engine loads the bridge alone, which creates its own.
 *
 * policy.bpf.h (the policy tries) and lines.bpf.h (the per-line counters) are
 * apart, so that an object declares only the maps it uses.
 */
#ifndef MU_COMMON_BPF_H
#define MU_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "net_consts.h"
#include "mptcp_upgrade.h"

/* cgroup v2 id -> attachment. The loader adds and removes entries. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u64);
	__type(value, struct mu_attachment);
} attached_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u32);
	__type(value, struct mu_attach_counters);
} attach_counters SEC(".maps");

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

/*
 * Is @sk the connection's first subflow (the one the application's bind() and
 * connect() act on), not an MP_JOIN subflow a kernel worker binds and
 * connects? mptcp_sock is kernel-internal: should a kernel lack the field,
 * nothing is taken for a first subflow, and stage 3 classifies from the
 * packets and the listener's address instead of failing to load.
 */
static __always_inline bool first_subflow(struct mptcp_sock *msk, void *sk)
{
	if (!bpf_core_field_exists(msk->first))
		return false;
	return (void *)msk->first == sk;
}

static __always_inline void count(__u32 attach_id, enum mu_attach_counter idx)
{
	struct mu_attach_counters *c = bpf_map_lookup_elem(&attach_counters, &attach_id);

	/*
	 * Per-CPU, but a tc or sockops program in softirq can interrupt a
	 * process-context program on the same CPU: add atomically.
	 */
	if (c && idx < MU_CNT_MAX)
		__sync_fetch_and_add(&c->count[idx], 1);
}

#endif /* MU_COMMON_BPF_H */
