// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade upgrade`: this version's engine takes over every cgroup an
 * older ABI's engine has attached, with no moment in which a new socket of
 * those cgroups stays TCP (docs/upgrades.md). The Debian maintainer script
 * runs it after unpacking a new version; reload runs it first too.
 *
 * Order is what makes it gapless: every policy is read and every cgroup found
 * before anything changes (an error changes nothing); then this engine is
 * attached to each cgroup, committed, while the older one still upgrades; only
 * then is the older hook removed. Between the two, a socket is upgraded by
 * whichever hook runs first and is served by that engine alone. The older
 * engine's maps and links are never touched: its sockets keep their bridge
 * and stage 3 until they close, and it is removed once it serves none.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common/cgroup.h"
#include "common/jsonw.h"
#include "common/output.h"
#include "engine.h"
#include "engine_internal.h"
#include "engine_upgrade.h"
#include "common/sys.h"

/* One cgroup to hand over. */
struct handover_step {
	const struct older_engine *o;
	struct attachment old;		/* as the older engine's state file says */
	struct cgroup_ref cg;
	struct loaded_policy lp;
	bool attached;			/* by this run: undone should a later one fail */
};

struct handover {
	struct older_engine *olds;
	size_t nr_olds;
	struct handover_step *steps;
	size_t nr_steps;
	long *sockets;			/* per older engine, after: -1 unknown, 0 removed */
};

static void handover_free(struct handover *h)
{
	size_t i;

	for (i = 0; i < h->nr_steps; i++)
		loaded_policy_free(&h->steps[i].lp);
	free(h->steps);
	free(h->olds);
	free(h->sockets);
	memset(h, 0, sizeof(*h));
}

/* Say something in text mode only: JSON output is the command's result alone. */
static void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...)
{
	va_list ap;

	if (opts.json)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "note: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * Read what older engine @o has committed into steps; 0, or -1 with the error
 * printed. A cgroup this engine @e has attached already (a hand-over killed
 * after its commit, or while the older state files were being removed) needs
 * no step, nor its state file.
 */
static int plan_engine(struct engine *e, struct handover *h, const struct older_engine *o)
{
	struct attachment *mine = NULL;
	size_t nr_mine = 0, k;
	struct handover_step *s, *grown;
	__u64 *ids = NULL;
	size_t n = 0, i;
	char name[PATH_MAX];
	const char *path;
	char err[1024], now[65];
	int ret = -1;

	if (older_committed(o, &ids, &n)) {
		p_err("can't read the attachments of the ABI %u engine under %s: %s", o->abi,
		      o->pins, strerror(errno));
		return -1;
	}
	if (e->loaded && engine_list(e, &mine, &nr_mine)) {
		p_err("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < nr_mine && mine[k].cgroup_id != ids[i]; k++)
			;
		if (k < nr_mine)
			continue;	/* handed over already */
		grown = realloc(h->steps, (h->nr_steps + 1) * sizeof(*grown));
		if (!grown) {
			p_err("out of memory");
			goto out;
		}
		h->steps = grown;
		s = &h->steps[h->nr_steps];
		memset(s, 0, sizeof(*s));
		s->o = o;
		if (older_state_of(o, ids[i], &s->old)) {
			if (cgroup_name_of_id(ids[i], name, sizeof(name)))
				snprintf(name, sizeof(name), "?cgroup-%llu",
					 (unsigned long long)ids[i]);
			p_err("can't hand over cgroup %s from the ABI %u engine: its state file "
			      "under %s is gone, and with it the name of its policy file", name,
			      o->abi, o->state);
			goto out;
		}
		if (cgroup_alive(s->old.cgroup, s->old.cgroup_id) != 1) {
			note("%s, attached through the ABI %u engine, was removed or recreated: it "
			     "is not handed over", s->old.cgroup, o->abi);
			continue;
		}
		if (cgroup_resolve(s->old.cgroup, &s->cg, err, sizeof(err))) {
			p_err("can't hand over cgroup %s: %s", s->old.cgroup, err);
			goto out;
		}
		/* The policy in force, which reload --policy may have taken from another file. */
		path = s->old.loaded_from[0] ? s->old.loaded_from : s->old.policy;
		h->nr_steps++;
		if (load_policy(path, &s->lp))
			goto out;
		if (strcmp(path, s->old.policy))
			note("%s: the policy in force came from %s, not from its own file %s: that "
			     "one stays in force", s->old.cgroup, path, s->old.policy);
		file_sha256(path, now);
		if (strcmp(now, s->old.sha256))
			note("%s: its policy file changed since the ABI %u engine loaded it: it is "
			     "handed over as the file is now", s->old.cgroup, o->abi);
	}
	ret = 0;
out:
	engine_list_free(mine, nr_mine);
	free(ids);
	return ret;
}

/* Undo this run's attachments: the older engine still upgrades those cgroups. */
static void unwind(struct engine *e, struct handover *h)
{
	struct attachment *list = NULL;
	size_t nr = 0, i, j;
	char err[1024];

	if (engine_list(e, &list, &nr))
		return;
	for (i = 0; i < h->nr_steps; i++)
		for (j = 0; h->steps[i].attached && j < nr; j++)
			if (list[j].cgroup_id == h->steps[i].cg.id)
				engine_detach(e, &list[j], err, sizeof(err));
	engine_list_free(list, nr);
}

/* Attach every step's cgroup to this engine; 0, or -1 with the error printed and undone. */
static int attach_all(struct engine *e, struct handover *h)
{
	struct attachment *list = NULL, *grown;
	size_t nr = 0, have, i, j;
	bool stage3 = false;
	char err[1024];
	int ret = -1;

	if (!e->loaded && (engine_preflight(err, sizeof(err)) ||
			   engine_load(e, err, sizeof(err)))) {
		p_err("can't load this version's engine: %s", err);
		return -1;
	}
	if (engine_list(e, &list, &nr)) {
		p_err("out of memory");
		return -1;
	}
	have = nr;
	grown = realloc(list, (nr + h->nr_steps + 1) * sizeof(*list));
	if (!grown) {
		p_err("out of memory");
		goto out;
	}
	list = grown;
	for (i = 0; i < h->nr_steps; i++) {
		memset(&list[nr], 0, sizeof(list[nr]));
		snprintf(list[nr].cgroup, sizeof(list[nr].cgroup), "%s", h->steps[i].cg.name);
		list[nr++].flags = h->steps[i].old.flags;
	}
	for (i = 0; i < nr; i++)
		stage3 |= list[i].flags & MU_ATTACH_STRICT;
	/* Stage 3 and the namespaces before any commit, as attach does. */
	if (engine_install_tc(e, list, nr, stage3, err, sizeof(err)) < 0) {
		p_err("%s", err);
		goto out;
	}
	e->handing_over = true;
	for (i = 0; i < h->nr_steps; i++) {
		struct handover_step *s = &h->steps[i];

		for (j = 0; j < have && list[j].cgroup_id != s->cg.id; j++)
			;
		if (j < have)
			continue;	/* a hand-over killed after this one's commit */
		if (engine_attach(e, &s->cg, s->lp.path, s->lp.sha256, &s->lp.pol, &s->lp.trie,
				  s->old.flags & (MU_ATTACH_STRICT | MU_ATTACH_BRIDGE_NATIVE),
				  &s->old.origin, err, sizeof(err))) {
			p_err("can't hand over cgroup %s: %s", s->cg.name, err);
			unwind(e, h);
			goto out;
		}
		s->attached = true;
		crash_point("handover-attached");
	}
	ret = 0;
out:
	e->handing_over = false;
	engine_list_free(list, have);
	return ret;
}

/*
 * The hand-over, under the lock with @e open; @h says what was done. 0 (also
 * when there was nothing to do), or -1 with the error printed and the older
 * engines still doing what they did.
 */
static int handover_run(struct engine *e, struct handover *h)
{
	char err[1024];
	size_t i;

	if (older_engines(&h->olds, &h->nr_olds)) {
		p_err("out of memory");
		return -1;
	}
	h->sockets = calloc(h->nr_olds + 1, sizeof(*h->sockets));
	if (!h->sockets) {
		p_err("out of memory");
		return -1;
	}
	for (i = 0; i < h->nr_olds; i++)
		if ((h->olds[i].hooked || h->olds[i].has_state) && plan_engine(e, h, &h->olds[i]))
			return -1;
	if (h->nr_steps && attach_all(e, h))
		return -1;
	for (i = 0; i < h->nr_olds; i++) {
		struct older_engine *o = &h->olds[i];

		if (o->hooked || o->has_state) {
			/* Every cgroup it upgraded is this engine's now: its hook goes. */
			if (older_unhook(o, err, sizeof(err))) {
				p_err("%s", err);
				return -1;
			}
			crash_point("handover-unhooked");
			older_forget_state(o);
		}
		h->sockets[i] = older_sockets(o);
		if (h->sockets[i] == 0)
			older_remove(o);
	}
	return 0;
}

int handover_older(struct engine *e)
{
	struct handover h = {};
	size_t i;
	int ret = handover_run(e, &h);

	for (i = 0; !ret && i < h.nr_steps; i++)
		if (h.steps[i].attached)
			note("handed over %s from ABI %u: policy %s", h.steps[i].cg.name,
			     h.steps[i].o->abi, h.steps[i].lp.path);
	handover_free(&h);
	return ret;
}

static void print_result(const struct handover *h)
{
	struct jsonw w;
	size_t i;

	if (!opts.json) {
		for (i = 0; i < h->nr_steps; i++)
			if (h->steps[i].attached)
				printf("handed over %s from ABI %u: policy %s, %zu entr%s\n",
				       h->steps[i].cg.name, h->steps[i].o->abi, h->steps[i].lp.path,
				       h->steps[i].lp.pol.nr_entries,
				       h->steps[i].lp.pol.nr_entries == 1 ? "y" : "ies");
		for (i = 0; i < h->nr_olds; i++) {
			if (h->sockets[i] == 0)
				printf("removed the ABI %u engine (%s)\n", h->olds[i].abi,
				       h->olds[i].pins);
			else
				printf("kept the ABI %u engine under %s for the %ld socket%s it "
				       "upgraded (its bridge and stage 3 serve them); the next "
				       "command after they close removes it\n", h->olds[i].abi,
				       h->olds[i].pins, h->sockets[i],
				       h->sockets[i] == 1 ? "" : "s");
		}
		if (!h->nr_olds)
			printf("no engine of an older version: nothing to hand over\n");
		return;
	}
	jw_init(&w, stdout, opts.pretty);
	jw_object_start(&w);
	jw_key(&w, "abi");
	jw_int(&w, MU_ENGINE_ABI);
	jw_key(&w, "handed_over");
	jw_array_start(&w);
	for (i = 0; i < h->nr_steps; i++) {
		if (!h->steps[i].attached)
			continue;
		jw_object_start(&w);
		jw_key(&w, "cgroup");
		jw_string(&w, h->steps[i].cg.name);
		jw_key(&w, "from_abi");
		jw_int(&w, h->steps[i].o->abi);
		jw_key(&w, "policy");
		jw_string(&w, h->steps[i].lp.path);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "older_engines");
	jw_array_start(&w);
	for (i = 0; i < h->nr_olds; i++) {
		jw_object_start(&w);
		jw_key(&w, "abi");
		jw_int(&w, h->olds[i].abi);
		jw_key(&w, "pins");
		jw_string(&w, h->olds[i].pins);
		jw_key(&w, "removed");
		jw_bool(&w, h->sockets[i] == 0);
		jw_key(&w, "sockets");
		jw_int(&w, h->sockets[i]);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	jw_end(&w);
}

int older_engines_view(struct older_view **list, size_t *n)
{
	struct older_engine *olds;
	struct older_view *v;
	__u64 *ids;
	size_t i, nr;

	*list = NULL;
	*n = 0;
	if (older_engines(&olds, &nr))
		return -1;
	v = calloc(nr ? nr : 1, sizeof(*v));
	if (!v) {
		free(olds);
		return -1;
	}
	for (i = 0; i < nr; i++) {
		v[i].abi = olds[i].abi;
		snprintf(v[i].pins, sizeof(v[i].pins), "%s", olds[i].pins);
		v[i].handed_over = !olds[i].hooked && !olds[i].has_state;
		if (!v[i].handed_over) {
			if (!older_committed(&olds[i], &ids, &v[i].cgroups))
				free(ids);
		} else {
			v[i].sockets = older_sockets(&olds[i]);
		}
	}
	free(olds);
	*list = v;
	*n = nr;
	return 0;
}

void help_upgrade(FILE *out)
{
	fprintf(out,
		"Usage: %s upgrade\n"
		"\n"
		"Hand every cgroup attached by an older version's engine (another engine ABI)\n"
		"over to this version's, with no moment in which a new socket of those cgroups\n"
		"stays TCP: this engine is attached first, with the policy the older state\n"
		"names, then the older engine stops upgrading. Sockets it upgraded keep its\n"
		"socket-option bridge and stage 3 until they close; it is removed then. The\n"
		"package's maintainer script runs it; reload does it too. A newer version's\n"
		"engine is refused and left as it is. See docs/upgrades.md.\n", prog_name);
}

int do_upgrade(int argc, char **argv)
{
	struct engine e = { .lock_fd = -1, .bpffs_lock_fd = -1 };
	struct handover h = {};
	char err[1024];
	int ret = 1;

	if (wants_help(argc, argv)) {
		help_upgrade(stdout);
		return 0;
	}
	if (argc > 1)
		return usage_err("upgrade: unexpected argument '%s' (see '%s upgrade help')",
				 argv[1], prog_name);
	if (need_root("upgrade"))
		return 1;
	if (engine_lock(&e, err, sizeof(err)) || engine_open(&e, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	if (handover_run(&e, &h))
		goto out;
	print_result(&h);
	ret = 0;
out:
	handover_free(&h);
	engine_close(&e);
	if (ret) {
		/* A fresh engine left with nothing attached goes again (engine_open's gc). */
		if (!engine_lock(&e, err, sizeof(err)))
			engine_open(&e, err, sizeof(err));
		engine_close(&e);
	}
	return ret;
}
