// SPDX-License-Identifier: GPL-2.0-only
/*
 * reload's first step when the engine was lost (bpffs unmounted, or its pins
 * removed): every attachment kept aside by engine_keep_lost is attached again,
 * with its own policy file and flags, to the cgroup of the same name. Each one
 * is committed before its record goes, so a reload killed midway leaves the
 * rest to the next.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cgroup.h"
#include "engine.h"
#include "common/output.h"
#include "engine_internal.h"

/* Attach one lost attachment again; 0, or -1 with the error printed. */
static int restore_one(struct engine *e, const struct attachment *old, bool *stage3)
{
	struct attachment *list = NULL, *grown;
	struct loaded_policy lp = {};
	struct cgroup_ref cg;
	char err[1024];
	size_t nr = 0, i;
	int ret = -1;

	if (cgroup_resolve(old->cgroup, &cg, err, sizeof(err))) {
		p_err("can't restore the attachment of %s: %s (detach --cgroup %s forgets it)",
		      old->cgroup, err, old->cgroup);
		return -1;
	}
	if (load_policy(old->policy, &lp))
		return -1;
	if (engine_list(e, &list, &nr))
		goto out;
	for (i = 0; i < nr; i++) {
		if (list[i].cgroup_id == cg.id) {
			/* Attached since (or by a reload killed after its commit): done. */
			engine_forget_lost(old->id);
			ret = 0;
			goto out;
		}
	}
	if (!e->loaded) {
		if (engine_preflight(err, sizeof(err))) {
			p_err("can't restore the attachment of %s: %s", cg.name, err);
			goto out;
		}
		if (engine_load(e, err, sizeof(err))) {
			p_err("%s", err);
			goto out;
		}
	}
	*stage3 |= old->flags & MU_ATTACH_STRICT;
	grown = realloc(list, (nr + 1) * sizeof(*list));
	if (!grown)
		goto out;
	list = grown;
	memset(&list[nr], 0, sizeof(list[nr]));
	snprintf(list[nr].cgroup, sizeof(list[nr].cgroup), "%s", cg.name);
	/* Stage 3 and the namespaces before the commit, as attach does. */
	if (engine_install_tc(e, list, nr + 1, *stage3, err, sizeof(err)) < 0 ||
	    engine_attach(e, &cg, lp.path, lp.sha256, &lp.pol, &lp.trie,
			  old->flags & (MU_ATTACH_STRICT | MU_ATTACH_BRIDGE_NATIVE),
			  &old->origin, err, sizeof(err))) {
		p_err("can't restore the attachment of %s: %s", cg.name, err);
		goto out;
	}
	engine_forget_lost(old->id);
	if (cg.id != old->cgroup_id)
		fprintf(stderr, "note: %s was removed or recreated since the engine was lost: "
			"the cgroup of that name is attached\n", cg.name);
	report_action("restored", cg.name, lp.path, &lp.pol, lp.trie.families);
	ret = 0;
out:
	nr = list ? nr : 0;
	engine_list_free(list, nr);
	loaded_policy_free(&lp);
	return ret;
}

int restore_lost(struct engine *e)
{
	struct attachment *lost = NULL;
	bool stage3 = false, handover_failed;
	size_t n = 0, i, failed = 0;

	/* Older versions' cgroups first (docs/upgrades.md); said if that fails. */
	handover_failed = handover_older(e) != 0;
	if (engine_lost_list(&lost, &n)) {
		p_err("out of memory");
		return -1;
	}
	/*
	 * The newest record first (slots are taken lowest first, so a cgroup
	 * lost twice has its later record in a higher one): an older record of
	 * a cgroup restored already is forgotten.
	 */
	for (i = n; i-- > 0;)
		failed += restore_one(e, &lost[i], &stage3) != 0;
	if (n > failed)
		fprintf(stderr, "note: sockets the proxies made before the engine was lost stay as "
			"they were (unlisted MPTCP listeners negotiate MPTCP): restart the proxies "
			"so that their sockets are made again under the engine\n");
	engine_list_free(lost, n);
	e->lost = engine_lost_count();
	return failed || handover_failed ? -1 : 0;
}

/* Does @arg (as attach --cgroup takes it) name cgroup @cgroup (a name under the root)? */
bool names_cgroup(const char *arg, const char *cgroup)
{
	struct cgroup_ref cg;
	char err[512];

	if (!cgroup_resolve(arg, &cg, err, sizeof(err)))
		return !strcmp(cg.name, cgroup);
	/* Gone since: by its name alone. */
	return !strcmp(arg, cgroup) || (cgroup[0] == '/' && !strcmp(arg, cgroup + 1));
}

size_t forget_lost(const char *cgroup)
{
	struct attachment *lost = NULL;
	size_t n = 0, i, forgotten = 0;

	if (engine_lost_list(&lost, &n))
		return 0;
	for (i = 0; i < n; i++) {
		if (cgroup && !names_cgroup(cgroup, lost[i].cgroup))
			continue;
		engine_forget_lost(lost[i].id);
		fprintf(stderr, "note: forgot the attachment of %s lost with the engine's pins (it "
			"was not restored)\n", lost[i].cgroup);
		forgotten++;
	}
	engine_list_free(lost, n);
	return forgotten;
}
