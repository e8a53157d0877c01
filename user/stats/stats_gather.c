// SPDX-License-Identifier: GPL-2.0-only
/* stats: the snapshot of a cgroup subtree's MPTCP connections and namespaces. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/mptcp.h>

#include "common/cgroup.h"
#include "common/diag.h"
#include "stats.h"
#include "common/jsonw.h"
#include "common/netns.h"
#include "common/output.h"
#include "common/pm.h"
#include "common/proc_tree.h"
#include "common/utf8.h"
#include "common/sys.h"

/* ---- gathering ----------------------------------------------------------------- */

/* One cgroup of the subtree: its id joins the set sockets are kept by. */
static int push_cgid(struct snapshot *s, __u64 id)
{
	if (s->nr_cgids == s->cap_cgids) {
		size_t cap = s->cap_cgids ? s->cap_cgids * 2 : 64;
		__u64 *n = realloc(s->cgids, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->cgids = n;
		s->cap_cgids = cap;
	}
	s->cgids[s->nr_cgids++] = id;
	return 0;
}

static int add_cgid(const char *path, void *ctx)
{
	struct stat st;

	if (stat(path, &st))
		return 0;	/* removed meanwhile */
	return push_cgid(ctx, st.st_ino);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

/* The MPTcpExt line pair of /proc/net/netstat, in the current namespace. */
static void read_mib(struct ns_mib *m)
{
	FILE *f = fopen("/proc/net/netstat", "re");
	char *names = NULL, *values = NULL, *line = NULL, *sn, *sv, *n, *v;
	size_t cap = 0;

	m->nr = 0;
	while (f && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "MPTcpExt:", 9))
			continue;
		if (!names)
			names = strdup(line + 9);
		else if (!values)
			values = strdup(line + 9);
	}
	if (names && values) {
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(values, " \n", &sv);
		while (n && v && m->nr < MAX_MIB) {
			snprintf(m->c[m->nr].name, sizeof(m->c[m->nr].name), "%s", n);
			m->c[m->nr++].value = strtoull(v, NULL, 10);
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
	}
	free(names);
	free(values);
	free(line);
	if (f)
		fclose(f);
}

/* What gather_ns needs besides the snapshot: which connections a process tree keeps. */
struct gather {
	struct snapshot *s;
	struct ns_mib *ns;		/* the namespace being dumped */
	const __u64 *subtree;		/* the cgroup subtrees' ids, when trees are asked too */
	size_t nr_subtree;
	const struct proc_tree *trees;	/* NULL: every connection of the cgroups is kept */
};

/*
 * A connection of a process tree is one whose socket a member holds; the
 * tree's cgroups only narrow the kernel's dump. Connections of the cgroup
 * subtrees (the attachments) are kept whoever holds them.
 */
static int keep_conn(const struct mu_conn *c, void *arg)
{
	struct gather *g = arg;

	if (g->trees &&
	    !(g->nr_subtree && bsearch(&c->cgroup_id, g->subtree, g->nr_subtree,
				       sizeof(*g->subtree), cmp_u64)) &&
	    !proc_tree_has_inode(g->trees, c->inode))
		return 0;
	return g->s->sink(c, g->ns, g->s->sink_ctx);
}

static int gather_ns(const struct netns_ref *ref, void *arg)
{
	struct gather *g = arg;
	struct snapshot *s = g->s;
	struct ns_mib *ns;
	struct pm_info pm;
	int err;

	if (s->nr_mib == s->cap_mib) {
		size_t want = s->cap_mib ? 2 * s->cap_mib : 4;
		struct ns_mib *grown = realloc(s->mib, want * sizeof(*grown));

		if (!grown) {
			errno = ENOMEM;
			return -1;
		}
		s->mib = grown;
		s->cap_mib = want;
	}
	ns = &s->mib[s->nr_mib++];
	memset(ns, 0, sizeof(*ns));
	ns->netns = ref->ino;
	read_mib(ns);
	pm_read(&pm);
	ns->offers_multipath = pm_verdict(&pm, ns->pm_verdict, sizeof(ns->pm_verdict));
	g->ns = ns;
	err = diag_collect(&s->diag, ref->ino, s->cgids, s->nr_cgids, s->storage_fds, s->nr_storage,
			   s->sink ? keep_conn : NULL, g);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

/* ---- what a connection matched ------------------------------------------------------ */

struct line_ref line_of(const struct mu_conn *c, const struct printer *p)
{
	struct line_ref r = {};
	__u32 entry, gen;

	if (!c->has_state || !(c->st.flags & MU_SOCK_UPGRADED))
		return r;
	entry = c->st.connect_entry, gen = c->st.connect_gen;
	if (entry == MU_ENTRY_NONE)
		entry = c->st.bind_entry, gen = c->st.bind_gen;
	/* A map no engine shown registered (a supervisor not shown, say): not ours to name. */
	r.by = served_of_socket(p->served, c->st_map_id, c->st.cgroup_id, &r.ours);
	/* An entry of an earlier policy (before a reload) names no line of the one in force. */
	if (!r.by || gen != r.by->gen || entry == MU_ENTRY_NONE || entry == MU_ENTRY_UNLISTED ||
	    entry > r.by->nr_lines)
		return r;
	r.line = r.by->lines[entry - 1].line;
	r.entry = entry;
	r.source = r.by->lines[entry - 1].source;
	return r;
}

bool fell_back(const struct mu_conn *c)
{
	return c->info.flags & MPTCP_INFO_FLAG_FALLBACK;
}

unsigned long long mib_value(const struct ns_mib *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		if (!strcmp(m->c[i].name, name))
			return m->c[i].value;
	return 0;
}

bool single_path(const struct ns_mib *ns, const struct mu_conn *c)
{
	if (fell_back(c) || c->state != 1 /* TCP_ESTABLISHED */ || c->nr_subflows > 1 ||
	    (MU_INFO_HAS(c, subflows_total) && c->info.subflows_total > 1))
		return false;
	return ns->offers_multipath;
}

bool wanted(const struct stats_args *a, const struct mu_conn *c, struct line_ref lr)
{
	if (a->listed && !lr.line)
		return false;
	if (a->line && lr.line != a->line)
		return false;
	if (a->fallback && !fell_back(c))
		return false;
	return true;
}

int snapshot_take(struct snapshot *s, const char *const *roots, size_t nr_roots,
		  const pid_t *trees, size_t nr_trees)
{
	struct proc_tree t = {};
	struct netns_set set;
	__u64 *subtree = NULL;
	size_t i, nr_subtree;
	int ret = 0;

	/*
	 * The namespaces the cgroup subtrees' processes live in, and this
	 * command's where they have none (an attached cgroup empty now has its
	 * proxy start here) or where it was run in a namespace of its own on
	 * purpose (nsenter, ip netns exec: sockets a process made there before
	 * leaving it). Not the host's otherwise: a dump of a namespace holds
	 * every socket there, and the host's, with none of the cgroup's, cost as
	 * much as the namespace that has them (stats --cgroup was 1.40x ss on
	 * 300 connections). Process trees alone show only their own namespaces.
	 */
	netns_set_init_empty(&set);
	for (i = 0; i < nr_roots && !ret; i++) {
		if (cgroup_walk(roots[i], add_cgid, s))
			ret = -ENOMEM;
		netns_set_add_cgroup(&set, roots[i]);
	}
	if (nr_roots && (!set.nr || !netns_self_is_init()))
		netns_set_add_self(&set);
	qsort(s->cgids, s->nr_cgids, sizeof(*s->cgids), cmp_u64);
	nr_subtree = s->nr_cgids;
	if (!ret && nr_trees) {
		subtree = malloc((nr_subtree + 1) * sizeof(*subtree));
		if (!subtree)
			ret = -ENOMEM;
		else if (nr_subtree)
			memcpy(subtree, s->cgids, nr_subtree * sizeof(*subtree));
	}
	/* A tree whose root has exited meanwhile (-ESRCH) has nothing to show. */
	for (i = 0; i < nr_trees && !ret; i++)
		if (proc_tree_add(&t, trees[i]) == -ENOMEM)
			ret = -ENOMEM;
	proc_tree_done(&t);
	for (i = 0; i < t.nr_pids && !ret; i++)
		netns_set_add_pid(&set, t.pids[i]);
	for (i = 0; i < t.nr_cgids && !ret; i++)
		ret = push_cgid(s, t.cgids[i]);
	if (ret) {
		netns_set_free(&set);
		proc_tree_free(&t);
		free(subtree);
		return ret;
	}
	qsort(s->cgids, s->nr_cgids, sizeof(*s->cgids), cmp_u64);
	s->netns_dropped = set.dropped;
	{
		struct gather g = { .s = s, .subtree = subtree, .nr_subtree = nr_subtree,
				    .trees = nr_trees ? &t : NULL };

		ret = netns_set_for_each(&set, gather_ns, &g) < 0 ? -errno : 0;
	}
	netns_set_free(&set);
	proc_tree_free(&t);
	free(subtree);
	return ret;
}

void snapshot_free(struct snapshot *s)
{
	diag_free(&s->diag);
	free(s->cgids);
	free(s->mib);
	s->cgids = NULL;
	s->mib = NULL;
	s->nr_cgids = s->cap_cgids = 0;
	s->nr_mib = s->cap_mib = 0;
}


int cgroup_tcp_listeners(const char *cgroup, struct mu_listener **out, size_t *nr)
{
	char path[2 * PATH_MAX];
	const char *roots[1] = { path };
	struct snapshot s = {};
	int ret;

	*out = NULL;
	*nr = 0;
	if (cgroup_dir(cgroup, path, sizeof(path)))
		return -ENOENT;
	ret = snapshot_take(&s, roots, 1, NULL, 0);
	if (!ret) {
		*out = s.diag.tcp_listeners;	/* handed over: not freed below */
		*nr = s.diag.nr_tcp_listeners;
		s.diag.tcp_listeners = NULL;
	}
	snapshot_free(&s);
	return ret;
}
