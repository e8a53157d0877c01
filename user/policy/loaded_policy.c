// SPDX-License-Identifier: GPL-2.0-only
/* A policy as the engines load it: root's file, parsed, and its lookup trie. */
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "common/jsonw.h"
#include "common/output.h"

void loaded_policy_free(struct loaded_policy *lp)
{
	policy_trie_free(&lp->trie);
	policy_free(&lp->pol);
}

/* Check @path is root's, parse it and build its trie; errors are printed. */
int load_policy(const char *path, struct loaded_policy *lp)
{
	struct policy_trie *trie = &lp->trie;
	struct policy *pol = &lp->pol;
	struct policy_error perr;
	char err[1024];

	memset(lp, 0, sizeof(*lp));
	if (policy_load_trusted(path, pol, lp->path, lp->sha256, &perr)) {
		p_err("%s", perr.msg);
		return -1;
	}
	if (policy_trie_build(pol, trie, err, sizeof(err))) {
		p_err("%s: %s", path, err);
		policy_free(pol);
		return -1;
	}
	return 0;
}

/* "entries": the entries of @pol as status shows them (both engines' state files keep them). */
void policy_entries_json(struct jsonw *w, const struct policy *pol)
{
	char prefix[POLICY_PREFIX_STRLEN], ports[POLICY_PORTS_STRLEN];
	size_t i;

	jw_key(w, "entries");
	jw_array_start(w);
	for (i = 0; i < pol->nr_entries; i++) {
		const struct policy_entry *pe = &pol->entries[i];

		policy_entry_prefix_str(pe, prefix, sizeof(prefix));
		policy_entry_ports_str(pe, ports, sizeof(ports));
		jw_object_start(w);
		jw_kv_int(w, "line", pe->line);
		jw_kv_string(w, "source", pe->source);
		jw_kv_string(w, "role", policy_role_str(pe->role));
		jw_kv_string(w, "prefix", prefix);
		jw_kv_string(w, "ports", ports);
		jw_object_end(w);
	}
	jw_array_end(w);
}

/*
 * What each command did, one line per cgroup for people; for programs one JSON
 * array, kept in memory and printed at the end, so that a run yields exactly
 * one JSON document (an error on the way prints its own instead).
 */
static struct jsonw results;	/* ->out is NULL until the first result */

static bool results_open(void)
{
	if (!results.out && !jw_init_memory(&results, opts.pretty))
		jw_array_start(&results);
	return results.out;
}

void report_action(const char *action, const char *cgroup, const char *policy,
		   const struct policy *pol, __u32 families)
{
	if (!opts.json) {
		if (pol)
			printf("%s %s: policy %s, %zu entr%s (%s)\n", action, cgroup, policy,
			       pol->nr_entries, pol->nr_entries == 1 ? "y" : "ies",
			       policy_families_str(families));
		else
			printf("%s %s\n", action, cgroup);
		return;
	}
	if (!results_open())
		return;
	jw_object_start(&results);
	jw_kv_string(&results, "action", action);
	jw_kv_string(&results, "cgroup", cgroup);
	if (pol) {
		jw_kv_string(&results, "policy", policy);
		jw_kv_int(&results, "entries", pol->nr_entries);
		jw_kv_string(&results, "families", policy_families_str(families));
	}
	jw_object_end(&results);
}

int report_finish(int ret)
{
	if ((opts.json && !ret && results_open()) || results.out) {
		jw_array_end(&results);
		jw_end(&results);
		jw_memory_flush(&results, ret ? NULL : stdout);
	}
	return ret;
}
