/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per policy line counters, for the objects that count against a line: stage
 * 1-2 (binds, connects, escaped sockets) and the bridge (connections once
 * established, MPTCP or fallen back). Include common.bpf.h first.
 */
#ifndef MU_LINES_BPF_H
#define MU_LINES_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MU_MAX_LINE_COUNTERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mu_line_key);
	__type(value, struct mu_line_counters);
} line_counters SEC(".maps");

enum line_event { LINE_BIND, LINE_CONNECT, LINE_MPTCP, LINE_FALLBACK, LINE_ESCAPED };

/* A line's counters, created zero on first use; NULL (and counted) when the map is full. */
static __always_inline struct mu_line_counters *line_slot(__u32 attach_id, __u32 entry)
{
	struct mu_line_key key = { .attach_id = attach_id, .entry = entry };
	struct mu_line_counters *c, zero = {};

	c = bpf_map_lookup_elem(&line_counters, &key);
	if (!c) {
		bpf_map_update_elem(&line_counters, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&line_counters, &key);
		if (!c)
			count(attach_id, MU_CNT_LINE_COUNTERS_FULL);
	}
	return c;
}

static __always_inline void count_line(__u32 attach_id, __u32 entry, enum line_event ev)
{
	struct mu_line_counters *c = line_slot(attach_id, entry);

	if (!c)
		return;
	if (ev == LINE_BIND)
		__sync_fetch_and_add(&c->binds, 1);
	else if (ev == LINE_CONNECT)
		__sync_fetch_and_add(&c->connects, 1);
	else if (ev == LINE_MPTCP)
		__sync_fetch_and_add(&c->mptcp, 1);
	else if (ev == LINE_FALLBACK)
		__sync_fetch_and_add(&c->fallback, 1);
	else
		__sync_fetch_and_add(&c->escaped, 1);
}

#endif /* MU_LINES_BPF_H */
