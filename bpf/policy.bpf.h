/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The attachments' policies and their lookup, for the objects that classify
 * addresses: stage 1-2 (bind and connect) and stage 3 (SYNs whose connect()
 * was not seen, listeners after a reload). Include common.bpf.h first.
 */
#ifndef MU_POLICY_BPF_H
#define MU_POLICY_BPF_H

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

/* The policy's answer for one address and port in one role: entry + 1 or MU_ENTRY_UNLISTED. */
static __always_inline __u32 policy_lookup(const struct mu_attachment *att,
					   const struct mu_lpm_key *key, __u16 port, __u8 role)
{
	const struct mu_policy_value *val;
	void *trie;

	trie = bpf_map_lookup_elem(&policies, &att->id);
	if (!trie)
		return MU_ENTRY_UNLISTED;
	val = bpf_map_lookup_elem(trie, key);
	return val ? match_ranges(val, port, role) : MU_ENTRY_UNLISTED;
}

/* The trie key of an IPv6 address; ::ffff:a.b.c.d on a dual-stack socket is IPv4 a.b.c.d. */
static __always_inline void lpm_key6(struct mu_lpm_key *key, __u32 a0, __u32 a1, __u32 a2,
				     __u32 a3)
{
	if (!a0 && !a1 && a2 == bpf_htonl(0xffff)) {
		key->family = AF_INET;
		__builtin_memcpy(key->addr, &a3, 4);
		key->prefixlen = MU_LPM_FAMILY_BITS + 32;
		return;
	}
	key->family = AF_INET6;
	__builtin_memcpy(key->addr, &a0, 4);
	__builtin_memcpy(key->addr + 4, &a1, 4);
	__builtin_memcpy(key->addr + 8, &a2, 4);
	__builtin_memcpy(key->addr + 12, &a3, 4);
	key->prefixlen = MU_LPM_FAMILY_BITS + 128;
}

static __always_inline void lpm_key4(struct mu_lpm_key *key, __u32 a)
{
	key->family = AF_INET;
	__builtin_memcpy(key->addr, &a, 4);
	key->prefixlen = MU_LPM_FAMILY_BITS + 32;
}

#endif /* MU_POLICY_BPF_H */
