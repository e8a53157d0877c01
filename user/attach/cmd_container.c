// SPDX-License-Identifier: GPL-2.0-only
/*
 * What --cgroup and --container name: the cgroup attach attaches, the
 * attachment reload and detach work on, and, for follow, the new cgroup of a
 * container that was re-created since it was attached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cgroup.h"
#include "common/output.h"
#include "container/runtime.h"
#include "engine.h"
#include "engine_internal.h"

#define ERR_SIZE 1024

/* The cgroup v2 container @ct runs in, as cgroup_resolve() checks it; -1 with @err. */
static int container_cgroup(const struct container *ct, struct cgroup_ref *cg, char *err,
			    size_t err_size)
{
	char why[400];

	if (cgroup_resolve(ct->cgroup, cg, why, sizeof(why))) {
		snprintf(err, err_size, "container %s is in cgroup %.200s, which can't be used: "
			 "%s", ct->ref, ct->cgroup, why);
		return -1;
	}
	if (!strcmp(cg->name, "/")) {
		snprintf(err, err_size, "container %s runs in the root cgroup: refusing to attach "
			 "there, where every process of the machine would be upgraded", ct->ref);
		return -1;
	}
	return 0;
}

int attach_target(const char *cgroup, const char *container, const char *root,
		  struct cgroup_ref *cg, struct attach_origin *origin)
{
	char err[ERR_SIZE];
	struct container ct;

	memset(origin, 0, sizeof(*origin));
	if (!container) {
		if (!cgroup_resolve(cgroup, cg, err, sizeof(err)))
			return 0;
		p_err("%s", err);
		return -1;
	}
	if (container_resolve(container, root, &ct, err, sizeof(err)) ||
	    container_cgroup(&ct, cg, err, sizeof(err))) {
		p_err("%s", err);
		return -1;
	}
	snprintf(origin->container, sizeof(origin->container), "%s", ct.ref);
	snprintf(origin->root, sizeof(origin->root), "%s", root ? root : "");
	fprintf(stderr, "note: container %s (init process %d) runs in cgroup %s\n", ct.ref,
		ct.pid, cg->name);
	return 0;
}

struct attachment *find_target(struct attachment *list, size_t nr, const char *arg,
			       const char *container, const char *root)
{
	char err[ERR_SIZE];
	struct cgroup_ref cg;
	struct container ct;
	size_t i;

	if (container) {
		/* As recorded first: the container may be stopped, or gone. */
		for (i = 0; i < nr; i++)
			if (list[i].origin.container[0] &&
			    container_ref_names(container, list[i].origin.container))
				return &list[i];
		if (container_resolve(container, root, &ct, err, sizeof(err)) ||
		    container_cgroup(&ct, &cg, err, sizeof(err))) {
			p_err("%s", err);
			return NULL;
		}
		for (i = 0; i < nr; i++)
			if (!strcmp(list[i].origin.container, ct.ref) || list[i].cgroup_id == cg.id)
				return &list[i];
		p_err("container %s (cgroup %s) is not attached (see '%s status')", ct.ref,
		      cg.name, prog_name);
		return NULL;
	}
	/* By the name status shows first: the cgroup may be gone (its service stopped). */
	for (i = 0; i < nr; i++)
		if (!strcmp(list[i].cgroup, arg) ||
		    (arg[0] != '/' && !strcmp(list[i].cgroup + 1, arg)))
			return &list[i];
	if (cgroup_resolve(arg, &cg, err, sizeof(err))) {
		p_err("%s", err);
		return NULL;
	}
	for (i = 0; i < nr; i++)
		if (list[i].cgroup_id == cg.id)
			return &list[i];
	p_err("cgroup %s is not attached (see '%s status')", cg.name, prog_name);
	return NULL;
}

/*
 * Attach @old's container in its new cgroup @cg with @old's policy file and
 * flags, then detach @old: the new attachment is committed before the old one
 * goes, so a failure leaves the old one for the next pass.
 */
static int reattach(struct engine *e, struct attachment *list, size_t nr,
		    const struct attachment *old, const struct cgroup_ref *cg, char *err,
		    size_t err_size)
{
	struct loaded_policy lp;
	struct attachment *grown;
	bool stage3 = old->flags & MU_ATTACH_STRICT;
	size_t i;
	int ret = -1;

	for (i = 0; i < nr; i++) {
		if (&list[i] == old || cgroup_alive(list[i].cgroup, list[i].cgroup_id) != 1)
			continue;
		if (cgroup_nested(list[i].cgroup, cg->name) ||
		    cgroup_nested_ids(cg, list[i].cgroup, list[i].cgroup_id))
			return fail(err, err_size, "its new cgroup %s is nested with attached "
				    "cgroup %s", cg->name, list[i].cgroup);
		stage3 |= list[i].flags & MU_ATTACH_STRICT;
	}
	if (load_policy(old->policy, &lp))
		return fail(err, err_size, "its policy %s can't be read (said above)", old->policy);
	/* Stage 3 and the new namespace first, as attach does. */
	grown = calloc(nr + 1, sizeof(*grown));
	if (!grown) {
		fail(err, err_size, "out of memory");
		goto out;
	}
	memcpy(grown, list, nr * sizeof(*list));
	snprintf(grown[nr].cgroup, sizeof(grown[nr].cgroup), "%s", cg->name);
	if (engine_install_tc(e, grown, nr + 1, stage3, err, err_size) >= 0 &&
	    !engine_attach(e, cg, old->policy, lp.sha256, &lp.pol, &lp.trie,
			   old->flags & (MU_ATTACH_STRICT | MU_ATTACH_BRIDGE_NATIVE), &old->origin,
			   err, err_size))
		ret = engine_detach(e, old, err, err_size);
	free(grown);
out:
	loaded_policy_free(&lp);
	return ret;
}

int follow_containers(struct engine *e, struct attachment **list, size_t *nr, char *problem,
		      size_t problem_size)
{
	static __u64 failed_cgroup;	/* said once, not on every pass */
	char err[ERR_SIZE];
	struct cgroup_ref cg;
	struct container ct;
	int done = 0;
	size_t i;

	for (i = 0; i < *nr; i++) {
		const struct attachment *old = &(*list)[i];

		if (!old->origin.container[0] || cgroup_alive(old->cgroup, old->cgroup_id) != 0)
			continue;
		/* Stopped, or not there yet: the next pass looks again. */
		if (container_resolve(old->origin.container, old->origin.root, &ct, err,
				      sizeof(err)) ||
		    container_cgroup(&ct, &cg, err, sizeof(err)) || cg.id == old->cgroup_id ||
		    cg.id == failed_cgroup)
			continue;
		if (reattach(e, *list, *nr, old, &cg, err, sizeof(err))) {
			failed_cgroup = cg.id;
			snprintf(problem, problem_size, "can't attach container %s in its new "
				 "cgroup %s: %s", ct.ref, cg.name, err);
			continue;
		}
		printf("re-attached: container %s was re-created, in cgroup %s (was %s)\n",
		       ct.ref, cg.name, old->cgroup);
		done++;
	}
	if (done) {
		engine_list_free(*list, *nr);
		*list = NULL;
		*nr = 0;
		engine_list(e, list, nr);
	}
	return done;
}
