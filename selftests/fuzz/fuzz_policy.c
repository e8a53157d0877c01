// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness: any bytes as a policy file. The parser must neither crash
 * nor leak, the printers must take what it produced, and the trie the engine
 * would load must give, for every entry's own address and port and both roles,
 * the first entry that matches line by line (the reference BPF must agree with).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_trie.h"

/*
 * No resolver while fuzzing (a DNS timeout per input would stall it): names
 * starting with "one" have one address of each family, others none.
 */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	struct addrinfo *v4, *v6;
	struct sockaddr_in *a4;
	struct sockaddr_in6 *a6;

	(void)service;
	if (!node || strncmp(node, "one", 3))
		return EAI_NONAME;
	v4 = calloc(1, sizeof(*v4) + sizeof(*a4));
	v6 = calloc(1, sizeof(*v6) + sizeof(*a6));
	if (!v4 || !v6) {
		free(v4);
		free(v6);
		return EAI_MEMORY;
	}
	a4 = (struct sockaddr_in *)(v4 + 1);
	a4->sin_family = AF_INET;
	a4->sin_addr.s_addr = htonl(0xc0000201);
	a6 = (struct sockaddr_in6 *)(v6 + 1);
	a6->sin6_family = AF_INET6;
	a6->sin6_addr.s6_addr[0] = 0x20;
	a6->sin6_addr.s6_addr[1] = 0x01;
	a6->sin6_addr.s6_addr[15] = 1;
	*v4 = (struct addrinfo){ .ai_family = AF_INET, .ai_addrlen = sizeof(*a4),
				 .ai_addr = (struct sockaddr *)a4 };
	*v6 = (struct addrinfo){ .ai_family = AF_INET6, .ai_addrlen = sizeof(*a6),
				 .ai_addr = (struct sockaddr *)a6 };
	if (hints && hints->ai_family == AF_INET6) {
		free(v4);
		*res = v6;
	} else if (hints && hints->ai_family == AF_INET) {
		free(v6);
		*res = v4;
	} else {
		v4->ai_next = v6;
		*res = v4;
	}
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	struct addrinfo *next;

	for (; res; res = next) {
		next = res->ai_next;
		free(res);
	}
}

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
