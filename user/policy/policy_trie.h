/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A normalized policy turned into the contents of the BPF LPM trie: one node
 * per distinct prefix, each carrying the port ranges of every entry that
 * covers it, in policy order. A longest-prefix lookup followed by a scan of
 * those ranges then finds the same entry as walking the policy line by line.
 */
#ifndef MU_POLICY_TRIE_H
#define MU_POLICY_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "mptcp_upgrade.h"

struct policy;

struct trie_node {
	struct mu_lpm_key key;
	struct mu_policy_value val;
};

struct policy_trie {
	struct trie_node *nodes;	/* sorted by family, prefix length, address */
	size_t nr_nodes;
	__u32 families;			/* MU_FAMILY_* the policy has entries for */
	/* Per family (0: IPv4, 1: IPv6), the prefix lengths in use, longest first. */
	__u8 lens[2][129];
	__u8 nr_lens[2];
};

/* Returns 0, or -1 with a one-line reason in @err (a prefix with too many ranges). */
int policy_trie_build(const struct policy *pol, struct policy_trie *trie, char *err,
		      size_t err_size);
void policy_trie_free(struct policy_trie *trie);

/*
 * What the BPF program computes for a call: entry index + 1 of the first
 * matching entry, or MU_ENTRY_UNLISTED. A userspace model of the kernel's
 * longest-prefix match, for the tests.
 */
__u32 policy_trie_lookup(const struct policy_trie *trie, int family, const uint8_t *addr,
			 uint16_t port, uint8_t role);

#endif /* MU_POLICY_TRIE_H */
