// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness: any bytes as a policy file. The parser must neither crash
 * nor leak, the printers must take what it produced, and the trie the engine
 * would load must give, for every entry's own address and port and both roles,
 * the first entry that matches line by line (the reference BPF must agree with).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "../resolver_stub.h"

static void check_trie(const struct policy *pol)
{
	struct policy_trie trie;
	char err[256], prefix[POLICY_PREFIX_STRLEN], ports[POLICY_PORTS_STRLEN];
	size_t i, j;

	for (i = 0; i < pol->nr_entries; i++) {
		policy_entry_prefix_str(&pol->entries[i], prefix, sizeof(prefix));
		policy_entry_ports_str(&pol->entries[i], ports, sizeof(ports));
	}
	if (policy_trie_build(pol, &trie, err, sizeof(err)))
		return;
	for (i = 0; i < pol->nr_entries; i++) {
		const struct policy_entry *e = &pol->entries[i];
		uint8_t roles[] = { MU_ROLE_BIND, MU_ROLE_CONNECT };

		for (j = 0; j < 2; j++) {
			long want = -1, got;
			size_t k;

			for (k = 0; k < pol->nr_entries && want < 0; k++)
				if (policy_entry_matches(&pol->entries[k], e->family, e->addr,
							 e->port_min, roles[j]))
					want = k;
			got = policy_trie_lookup(&trie, e->family, e->addr, e->port_min, roles[j]);
			if (got != (want < 0 ? (long)MU_ENTRY_UNLISTED : want + 1)) {
				fprintf(stderr, "trie says %ld, the line-by-line walk %ld\n", got, want);
				abort();
			}
		}
	}
	policy_trie_free(&trie);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_error err;
	struct policy pol;

	if (policy_parse_buffer("fuzz", (const char *)data, size, &pol, &err) == 0) {
		check_trie(&pol);
		policy_free(&pol);
	}
	return 0;
}
