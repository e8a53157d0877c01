// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade status`: what is attached, with which policy, and what it
 * did; gathered here once, rendered by status_print.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <bpf/bpf.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "common/cgroup.h"
#include "commands.h"
#include "attach/engine.h"
#include "common/netns.h"
#include "common/output.h"
#include "common/pm.h"
#include "run/run.h"
#include "stats/stats.h"
#include "status.h"
#include "common/sys.h"

/* What the kernel runs of the engine as a whole, and how many programs are missing. */
static void view_engine(struct engine *e, const struct attachment *list, size_t nr,
			struct engine_view *v)
{
	unsigned int missing;
	size_t i;
	int p;

	memset(v, 0, sizeof(*v));
	v->loaded = e->loaded;
	v->tc_links = engine_tc_links();
	if (!e->loaded)
		return;
	for (i = 0; i < EP_MAX; i++)
		v->prog_ids[i] = engine_prog_id(e->prog_fd[i]);
	if (!engine_hook_link(e, &v->hook_prog))
		v->problems++;
	if (engine_tc_gaps(e, list, nr, &v->tc))
		memset(&v->tc, 0, sizeof(v->tc));
	v->problems += (v->tc.missing[0] > 0) + (v->tc.missing[1] > 0);
	for (i = 0; i < nr; i++) {
		if (cgroup_alive(list[i].cgroup, list[i].cgroup_id) == 0 ||
		    engine_missing_links(e, &list[i], &missing))
			continue;	/* GONE says it: nothing runs there to repair */
		for (p = 0; p < EP_CGROUP_MAX; p++)
			v->problems += !!(missing & (1U << p));
	}
}

/* ---- TCP listeners an attached cgroup holds: sockets that escaped the upgrade ---- */

/*
 * An entry as the state file keeps it (prefix "ADDR/LEN", ports "all", "N" or
 * "A-B") made a policy entry again, for policy_entry_matches().
 */
static bool entry_of_row(const struct policy_row *r, struct policy_entry *e)
{
	const char *slash = strchr(r->prefix, '/');
	unsigned int lo = 0, hi = 65535;
	char addr[64];

	memset(e, 0, sizeof(*e));
	if (!slash || (size_t)(slash - r->prefix) >= sizeof(addr))
		return false;
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - r->prefix), r->prefix);
	e->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(e->family, addr, e->addr) != 1)
		return false;
	e->prefix_len = atoi(slash + 1);
	if (strcmp(r->ports, "all")) {
		if (sscanf(r->ports, "%u-%u", &lo, &hi) < 1)
			return false;
		if (!strchr(r->ports, '-'))
			hi = lo;
	}
	e->port_min = lo;
	e->port_max = hi;
	e->role = !strcmp(r->role, "bind") ? MU_ROLE_BIND : !strcmp(r->role, "connect") ?
		  MU_ROLE_CONNECT : !strcmp(r->role, "both") ? MU_ROLE_BOTH : 0;
	return true;
}

/* The policy line that lists @ep for bind(), or 0. */
static int listed_line(const struct attachment *att, const struct mu_endpoint *ep)
{
	size_t i, n = attachment_rows(att);

	for (i = 0; i < n; i++) {
		struct policy_entry e;
		struct policy_row r;

		attachment_row(NULL, att, i, &r);
		if (entry_of_row(&r, &e) &&
		    policy_entry_matches(&e, ep->family, ep->addr, ep->port, MU_ROLE_BIND))
			return r.line;
	}
	return 0;
}

/* TCP listeners the cgroup holds, each with the line that would have listed it. */
static void tcp_listeners(struct status_attachment *s)
{
	struct mu_listener *l = NULL;
	size_t nr = 0, i;

	s->listeners_known = !cgroup_tcp_listeners(s->a->cgroup, &l, &nr);
	if (s->listeners_known && nr)
		s->listeners = calloc(nr, sizeof(*s->listeners));
	for (i = 0; s->listeners && i < nr; i++) {
		endpoint_str(&l[i].local, s->listeners[i].address,
			     sizeof(s->listeners[i].address));
		s->listeners[i].netns = l[i].netns;
		s->listeners[i].line = listed_line(s->a, &l[i].local);
	}
	s->nr_listeners = s->listeners ? nr : 0;
	free(l);
}

static void gather_attachment(struct engine *e, const struct attachment *a,
			      struct status_attachment *s)
{
	struct mu_bridge_config cfg = {};
	size_t i, n = attachment_rows(a);
	__u32 zero = 0;
	char now[65];

	memset(s, 0, sizeof(*s));
	s->a = a;
	engine_attach_counters(e, a->id, &s->c);
	file_sha256(a->loaded_from, now);
	s->changed = strcmp(now, a->sha256) != 0;
	s->alive = cgroup_alive(a->cgroup, a->cgroup_id) != 0;
	if (!s->alive || engine_missing_links(e, a, &s->missing))
		s->missing = 0;
	s->rows = n ? calloc(n, sizeof(*s->rows)) : NULL;
	for (i = 0; s->rows && i < n; i++)
		attachment_row(e, a, i, &s->rows[i]);
	bpf_map_lookup_elem(e->map_fd[EM_BRIDGE_CONFIG], &zero, &cfg);
	sockopt_bridge_read(e->map_fd[EM_SOCKOPT_COUNTERS], a->id, &cfg.carry, &s->bridge);
	tcp_listeners(s);
	path_managers_of_cgroup(a->cgroup, &s->pms);
}

static void status_free(struct status *s)
{
	size_t i;

	for (i = 0; s->att && i < s->nr_att; i++) {
		free(s->att[i].rows);
		free(s->att[i].listeners);
		free(s->att[i].pms.ns);
	}
	for (i = 0; s->runs && i < s->nr_runs; i++)
		status_run_free(&s->runs[i]);
	engine_list_free(s->list, s->nr_att);
	run_registry_free(s->registry, s->nr_runs);
	engine_list_free(s->lost, s->nr_lost);
	free(s->older);
	free(s->att);
	free(s->runs);
}

/* Everything status shows; 0, or -1 with the error printed. */
static int gather(struct engine *e, struct status *s)
{
	char err[1024];
	size_t i;

	memset(s, 0, sizeof(*s));
	e->want_entries = true;
	if (engine_start(e, &s->list, &s->nr_att, err, sizeof(err))) {
		p_err("%s", err);
		return -1;
	}
	view_engine(e, s->list, s->nr_att, &s->v);
	engine_lost_list(&s->lost, &s->nr_lost);
	s->v.problems += s->nr_lost;
	older_engines_view(&s->older, &s->nr_older);
	s->none = !s->nr_att && !e->lost;
	if (e->loaded && !s->nr_att) {
		long total = -1;

		s->orphans = -1;
		s->draining = true;
		engine_live_sockets(e, &total, &s->orphans);
	}
	run_registry_list(&s->registry, &s->nr_runs);
	s->att = calloc(s->nr_att + 1, sizeof(*s->att));
	s->runs = calloc(s->nr_runs + 1, sizeof(*s->runs));
	if (!s->att || !s->runs) {
		p_err("status: %s", strerror(ENOMEM));
		status_free(s);
		return -1;
	}
	for (i = 0; i < s->nr_att; i++)
		gather_attachment(e, &s->list[i], &s->att[i]);
	for (i = 0; i < s->nr_runs; i++)
		status_run_gather(&s->registry[i], &s->runs[i]);
	return 0;
}

void help_status(FILE *out)
{
	fprintf(out,
		"Usage: %s status [--json]\n"
		"\n"
		"The attached cgroups: policy file and its SHA-256 (and whether the file changed\n"
		"since), entries, families, counters (sockets upgraded; binds and connects that\n"
		"matched each policy line, or none), and the kernel programs the engine runs.\n"
		"Then the run engine's supervisors: the program each serves, its policy, and\n"
		"the same per-line counters (calls that matched each line, sockets made MPTCP\n"
		"or kept TCP, options MPTCP refused).\n"
		"\n"
		"What the kernel runs is asked of the kernel. A program the engine needs that is\n"
		"not attached (MISSING), or attachments whose engine's pins are gone (LOST), are\n"
		"shown with what that means on the wire and the command that repairs them\n"
		"('mptcp-upgrade reload'), and status exits 3.\n",
		prog_name);
}

int do_status(int argc, char **argv)
{
	struct engine e = { .lock_fd = -1, .bpffs_lock_fd = -1 };
	struct status s;
	int ret = 1;

	if (wants_help(argc, argv)) {
		help_status(stdout);
		return 0;
	}
	if (argc > 1)
		return usage_err("status: unexpected argument '%s' (see '%s status help')",
				 argv[1], prog_name);
	if (need_root("status"))
		return 1;
	if (!gather(&e, &s)) {
		if (opts.json)
			status_json(&s);
		else
			status_print(&s);
		/* An alert, a probe or config management reads this: 3 means broken. */
		ret = s.v.problems ? 3 : 0;
		status_free(&s);
	}
	engine_close(&e);
	return ret;
}
