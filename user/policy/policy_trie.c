// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"

/* The trie key of @addr cut to @len bits (host bits cleared). */
static void make_key(struct mu_lpm_key *key, int family, const uint8_t *addr, unsigned int len)
{
	memset(key, 0, sizeof(*key));
	key->family = family;
	key->prefixlen = MU_LPM_FAMILY_BITS + len;
	/* Whole bytes, then the one partly kept: the rest stays zero. */
	memcpy(key->addr, addr, len / 8);
	if (len % 8)
		key->addr[len / 8] = addr[len / 8] & (__u8)(0xff00 >> (len % 8));
}

static int cmp_key(const struct mu_lpm_key *a, const struct mu_lpm_key *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* An entry with its key, sorted by key and then by position in the policy. */
struct keyed_entry {
	struct mu_lpm_key key;
	size_t index;
};

static int cmp_keyed(const void *pa, const void *pb)
{
	const struct keyed_entry *a = pa, *b = pb;
	int c = cmp_key(&a->key, &b->key);

	if (c)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int cmp_node(const void *pa, const void *pb)
{
	return cmp_key(&((const struct trie_node *)pa)->key, &((const struct trie_node *)pb)->key);
}

static int cmp_range(const void *pa, const void *pb)
{
	const struct mu_port_range *a = pa, *b = pb;

	return a->entry < b->entry ? -1 : a->entry > b->entry;
}

static struct trie_node *find_node(const struct policy_trie *trie, const struct mu_lpm_key *key)
{
	struct trie_node probe = { .key = *key };

	return bsearch(&probe, trie->nodes, trie->nr_nodes, sizeof(probe), cmp_node);
}

void policy_trie_free(struct policy_trie *trie)
{
	free(trie->nodes);
	memset(trie, 0, sizeof(*trie));
}

int policy_trie_build(const struct policy *pol, struct policy_trie *trie, char *err,
		      size_t err_size)
{
	/* Which prefix lengths occur, per family: only those can be ancestors. */
	bool used_len[2][129] = {};
	struct keyed_entry *ke = NULL;
	struct mu_port_range *own = NULL;
	size_t *first = NULL, i, j, n = pol->nr_entries;
	int ret = -1;

	memset(trie, 0, sizeof(*trie));
	if (!n)
		return 0;
	ke = calloc(n, sizeof(*ke));
	trie->nodes = calloc(n, sizeof(*trie->nodes));
	first = calloc(n + 1, sizeof(*first));
	own = calloc(n, sizeof(*own));
	if (!ke || !trie->nodes || !first || !own) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct policy_entry *e = &pol->entries[i];

		make_key(&ke[i].key, e->family, e->addr, e->prefix_len);
		ke[i].index = i;
		used_len[e->family == AF_INET6][e->prefix_len] = true;
		trie->families |= e->family == AF_INET ? MU_FAMILY_INET : MU_FAMILY_INET6;
		if (e->v4mapped)
			trie->families |= MU_FAMILY_INET6;	/* the dual-stack socket's family */
	}
	qsort(ke, n, sizeof(*ke), cmp_keyed);
	for (i = 0; i < 2; i++)
		for (j = 129; j-- > 0;)
			if (used_len[i][j])
				trie->lens[i][trie->nr_lens[i]++] = j;

	/* Distinct keys become nodes; first[k] is where node k's own entries start in ke. */
	for (i = 0; i < n; i++) {
		const struct policy_entry *e = &pol->entries[ke[i].index];

		if (!i || cmp_key(&ke[i].key, &ke[i - 1].key)) {
			first[trie->nr_nodes] = i;
			trie->nodes[trie->nr_nodes++].key = ke[i].key;
		}
		own[i] = (struct mu_port_range){ .port_min = e->port_min, .port_max = e->port_max,
						 .roles = e->role, .entry = ke[i].index };
	}
	first[trie->nr_nodes] = n;

	for (i = 0; i < trie->nr_nodes; i++) {
		struct trie_node *node = &trie->nodes[i];
		int fam = node->key.family;
		unsigned int len = node->key.prefixlen - MU_LPM_FAMILY_BITS, l;
		struct mu_policy_value *val = &node->val;

		/* Own entries and those of every shorter prefix that covers this one. */
		for (l = 0; l <= len; l++) {
			struct mu_lpm_key akey;
			struct trie_node *anc;
			size_t k;

			if (!used_len[fam == AF_INET6][l])
				continue;
			make_key(&akey, fam, node->key.addr, l);
			anc = l == len ? node : find_node(trie, &akey);
			if (!anc)
				continue;
			k = anc - trie->nodes;
			for (j = first[k]; j < first[k + 1]; j++) {
				if (val->nr_ranges == MU_MAX_RANGES) {
					char ip[INET6_ADDRSTRLEN];

					inet_ntop(fam, node->key.addr, ip, sizeof(ip));
					snprintf(err, err_size, "more than %d entries cover %s/%u "
						 "(line %u is one too many): merge their port "
						 "ranges", MU_MAX_RANGES, ip, len,
						 pol->entries[own[j].entry].line);
					goto out;
				}
				val->ranges[val->nr_ranges++] = own[j];
			}
		}
		qsort(val->ranges, val->nr_ranges, sizeof(val->ranges[0]), cmp_range);
	}
	ret = 0;
out:
	free(ke);
	free(first);
	free(own);
	if (ret)
		policy_trie_free(trie);
	return ret;
}

__u32 policy_trie_lookup(const struct policy_trie *trie, int family, const uint8_t *addr,
			 uint16_t port, uint8_t role)
{
	int v6 = family == AF_INET6;
	unsigned int l;

	if (family != AF_INET && family != AF_INET6)
		return MU_ENTRY_UNLISTED;
	/* Only the prefix lengths some entry has can match, longest first. */
	for (l = 0; l < trie->nr_lens[v6]; l++) {
		struct mu_lpm_key key;
		const struct trie_node *node;
		__u32 i;

		make_key(&key, family, addr, trie->lens[v6][l]);
		node = find_node(trie, &key);
		if (!node)
			continue;
		/* The longest prefix decides, as in the kernel: no fallback to shorter ones. */
		for (i = 0; i < node->val.nr_ranges; i++) {
			const struct mu_port_range *r = &node->val.ranges[i];

			if ((r->roles & role) && port >= r->port_min && port <= r->port_max)
				return r->entry + 1;
		}
		return MU_ENTRY_UNLISTED;
	}
	return MU_ENTRY_UNLISTED;
}
