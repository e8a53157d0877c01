// SPDX-License-Identifier: GPL-2.0-only
/* `mptcp-upgrade status`: what is attached, with which policy, and what it did. */
#include <arpa/inet.h>
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

static const char *const counter_names[MU_CNT_MAX] = {
	[MU_CNT_SOCKETS_UPGRADED] = "sockets_upgraded",
	[MU_CNT_SOCKETS_OTHER_FAMILY] = "sockets_other_family",
	[MU_CNT_SOCKETS_NATIVE_MPTCP] = "sockets_native_mptcp",
	[MU_CNT_NOTES_DROPPED] = "notes_dropped",
	[MU_CNT_BINDS_LISTED] = "binds_listed",
	[MU_CNT_BINDS_UNLISTED] = "binds_unlisted",
	[MU_CNT_CONNECTS_LISTED] = "connects_listed",
	[MU_CNT_CONNECTS_UNLISTED] = "connects_unlisted",
	[MU_CNT_KEPT_TCP_OUT] = "unlisted_kept_tcp_out",
	[MU_CNT_KEPT_TCP_IN] = "unlisted_kept_tcp_in",
	[MU_CNT_NETNS_UNPREPARED] = "sockets_netns_unprepared",
	[MU_CNT_NETNS_MPTCP_OFF] = "sockets_netns_mptcp_off",
	[MU_CNT_SOCKETS_MARKED] = "sockets_marked",
	[MU_CNT_LINE_COUNTERS_FULL] = "line_counters_full",
	[MU_CNT_BINDS_ESCAPED] = "binds_escaped",
	[MU_CNT_CONNECTS_ESCAPED] = "connects_escaped",
};


/* What a program that is not attached means on the wire, and for the counters. */
static const char *const missing_effect[EP_MAX] = {
	[EP_SOCK_CREATE] = "new sockets are not marked as the engine's, so stage 3 can't keep "
			   "their unlisted addresses TCP: unlisted addresses may negotiate MPTCP",
	[EP_BIND4] = "IPv4 binds are not counted per line (stage 3 classifies listeners itself)",
	[EP_BIND6] = "IPv6 binds are not counted per line (stage 3 classifies listeners itself)",
	[EP_CONNECT4] = "IPv4 connects are not counted per line (stage 3 classifies SYNs itself)",
	[EP_CONNECT6] = "IPv6 connects are not counted per line (stage 3 classifies SYNs itself)",
	[EP_SOCKOPS] = "connections are not counted as MPTCP or fallback, and the option "
		       "bridge does not reach new subflows",
	[EP_SETSOCKOPT] = "options MPTCP refuses fail instead of reaching the subflows",
	[EP_GETSOCKOPT] = "options MPTCP refuses read back as errors",
	[EP_TC_INGRESS] = "unlisted listeners may negotiate MPTCP with clients that ask",
	[EP_TC_EGRESS] = "unlisted outgoing connections may negotiate MPTCP",
};

#define HOOK_NAME HOOK_PROG_LABEL
#define HOOK_EFFECT "the kernel runs no socket-creation hook: listed sockets stay TCP"
#define REPAIR "mptcp-upgrade reload"

/* What the kernel runs of the engine as a whole, for status and its exit code. */
struct engine_view {
	bool loaded;
	__u32 hook_prog;		/* 0: no live hook link */
	struct engine_tc_gaps tc;
	int problems;			/* programs missing anywhere */
};

static void view_engine(struct engine *e, const struct attachment *list, size_t nr,
			struct engine_view *v)
{
	unsigned int missing;
	size_t i;
	int p;

	memset(v, 0, sizeof(*v));
	v->loaded = e->loaded;
	if (!e->loaded)
		return;
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

static void print_engine_missing(const struct engine_view *v)
{
	int d;

	if (v->loaded && !v->hook_prog)
		printf("MISSING %s: %s (run '%s' to repair)\n", HOOK_NAME, HOOK_EFFECT, REPAIR);
	for (d = 0; d < 2; d++)
		if (v->tc.missing[d] > 0)
			printf("MISSING %s on %d interface%s (%s%s): %s (run '%s' to repair)\n",
			       engine_prog_name(EP_TC_INGRESS + d), v->tc.missing[d],
			       v->tc.missing[d] == 1 ? "" : "s", v->tc.first[d],
			       v->tc.missing[d] == 1 ? "" : ", ...",
			       missing_effect[EP_TC_INGRESS + d], REPAIR);
	if (v->problems)
		putchar('\n');
}

/* Attachments whose engine was lost: what that means and the one command that restores them. */
static size_t show_lost(struct json_object *root)
{
	struct json_object *arr = root ? json_object_new_array() : NULL;
	struct attachment *lost = NULL;
	size_t n = 0, i;

	engine_lost_list(&lost, &n);
	if (!root && n)
		printf("LOST    %zu attachment%s recorded under %s lost %s engine's pins (bpffs "
		       "unmounted, or the pins removed), and with them every program: %s "
		       "nothing\n", n, n == 1 ? "" : "s", MU_RUN_DIR, n == 1 ? "its" : "their",
		       n == 1 ? "it applies" : "they apply");
	for (i = 0; i < n; i++) {
		if (root) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "cgroup", json_object_new_string(lost[i].cgroup));
			json_object_object_add(o, "policy", json_object_new_string(lost[i].policy));
			json_object_object_add(o, "strict", json_object_new_boolean(
				lost[i].flags & MU_ATTACH_STRICT));
			json_object_array_add(arr, o);
		} else {
			printf("        cgroup %s, policy %s\n", lost[i].cgroup, lost[i].policy);
		}
	}
	if (root) {
		json_object_object_add(root, "lost_attachments", arr);
	} else if (n) {
		printf("        On the wire: listed sockets stay TCP, and sockets the engine made "
		       "MPTCP before (the proxies' listeners) negotiate MPTCP with any peer that "
		       "asks.\n        '%s' attaches them again from their state (mounting bpffs "
		       "if it must); then restart the proxies so that their sockets are made anew "
		       "under the engine.\n\n", REPAIR);
	}
	engine_list_free(lost, n);
	return n;
}

static struct json_object *missing_json(const char *program, const char *cgroup, int places,
					const char *where, const char *effect)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "program", json_object_new_string(program));
	if (cgroup)
		json_object_object_add(o, "cgroup", json_object_new_string(cgroup));
	if (where) {
		json_object_object_add(o, "interfaces", json_object_new_int(places));
		json_object_object_add(o, "first", json_object_new_string(where));
	}
	json_object_object_add(o, "effect", json_object_new_string(effect));
	json_object_object_add(o, "repair", json_object_new_string(REPAIR));
	return o;
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

static void tcp_listeners(const struct attachment *att, struct json_object *parent)
{
	struct json_object *arr = parent ? json_object_new_array() : NULL;
	struct mu_listener *l = NULL;
	size_t nr = 0, i, listed = 0;
	char ep[64];

	if (cgroup_tcp_listeners(att->cgroup, &l, &nr)) {
		/* Unknown is not none: say so. */
		if (parent)
			json_object_object_add(parent, "tcp_listeners", NULL);
		else
			printf("  NOT UPGRADED unknown: sock_diag can't list the cgroup's TCP "
			       "listeners (modprobe tcp_diag)\n");
		json_object_put(arr);
		free(l);
		return;
	}
	for (i = 0; i < nr; i++) {
		int line = listed_line(att, &l[i].local);

		listed += line != 0;
		endpoint_str(&l[i].local, ep, sizeof(ep));
		if (arr) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "address", json_object_new_string(ep));
			json_object_object_add(o, "netns", json_object_new_uint64(l[i].netns));
			json_object_object_add(o, "line", json_object_new_int(line));
			json_object_array_add(arr, o);
		} else {
			printf("%s%s%s", i ? ", " : "  NOT UPGRADED TCP listeners (created before attach, "
			       "inherited across a reload, or through io_uring): ", ep,
			       line ? "" : " unlisted");
			if (line)
				printf(" (line %d would make it MPTCP)", line);
		}
	}
	if (!arr && nr)
		printf("%s\n", listed ? ": restart the proxy" : "");
	if (arr)
		json_object_object_add(parent, "tcp_listeners", arr);
	free(l);
}

static void attachment_sockopts(struct engine *e, const struct attachment *a,
				struct json_object *parent)
{
	struct mu_bridge_config cfg = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(e->map_fd[EM_BRIDGE_CONFIG], &zero, &cfg);
	sockopt_bridge(e->map_fd[EM_SOCKOPT_COUNTERS], a->id, &cfg.carry, parent, false);
	if (!parent && (a->flags & MU_ATTACH_BRIDGE_NATIVE))
		printf("             for the programs' own MPTCP sockets too (--bridge-native)\n");
}

static struct json_object *attachment_json(struct engine *e, const struct engine_view *v,
					   struct json_object *all_missing,
					   const struct attachment *a,
					   const struct mu_attach_counters *c, bool changed)
{
	struct json_object *o = json_object_new_object(), *cnt = json_object_new_object();
	struct json_object *entries = json_object_new_array();
	size_t i, n = attachment_rows(a);

	for (i = 0; i < MU_CNT_MAX; i++)
		json_object_object_add(cnt, counter_names[i], json_object_new_uint64(c->count[i]));
	for (i = 0; i < n; i++) {
		struct json_object *src = json_object_array_get_idx(a->entries, i), *je = NULL;
		struct mu_line_counters lc;

		engine_line_counters(e, a->id, i, &lc);
		json_object_deep_copy(src, &je, NULL);
		json_object_object_add(je, "binds", json_object_new_uint64(lc.binds));
		json_object_object_add(je, "connects", json_object_new_uint64(lc.connects));
		json_object_object_add(je, "mptcp", json_object_new_uint64(lc.mptcp));
		json_object_object_add(je, "fallback", json_object_new_uint64(lc.fallback));
		json_object_object_add(je, "escaped", json_object_new_uint64(lc.escaped));
		json_object_array_add(entries, je);
	}
	json_object_object_add(o, "id", json_object_new_int(a->id));
	json_object_object_add(o, "cgroup", json_object_new_string(a->cgroup));
	json_object_object_add(o, "cgroup_id", json_object_new_uint64(a->cgroup_id));
	{
		struct json_object *miss = json_object_new_array();
		unsigned int missing = 0;

		if (cgroup_alive(a->cgroup, a->cgroup_id) == 0 || engine_missing_links(e, a, &missing))
			missing = 0;
		for (i = 0; i < EP_CGROUP_MAX; i++) {
			if (!(missing & (1U << i)))
				continue;
			json_object_array_add(miss, json_object_new_string(engine_prog_name(i)));
			json_object_array_add(all_missing,
					      missing_json(engine_prog_name(i), a->cgroup, 0, NULL,
							   missing_effect[i]));
		}
		json_object_object_add(o, "missing_programs", miss);
	}
	json_object_object_add(o, "state_lost", json_object_new_boolean(a->state_lost));
	json_object_object_add(o, "cgroup_alive",
			       json_object_new_boolean(cgroup_alive(a->cgroup, a->cgroup_id) != 0));
	json_object_object_add(o, "policy", json_object_new_string(a->policy));
	json_object_object_add(o, "loaded_from", json_object_new_string(a->loaded_from));
	json_object_object_add(o, "sha256", json_object_new_string(a->sha256));
	json_object_object_add(o, "policy_changed_since_load", json_object_new_boolean(changed));
	json_object_object_add(o, "attached_at", json_object_new_int64(a->attached_at));
	json_object_object_add(o, "reloaded_at", json_object_new_int64(a->reloaded_at));
	json_object_object_add(o, "families",
			       json_object_new_string(policy_families_str(a->families)));
	json_object_object_add(o, "strict",
			       json_object_new_boolean(a->flags & MU_ATTACH_STRICT));
	json_object_object_add(o, "bridge_native",
			       json_object_new_boolean(a->flags & MU_ATTACH_BRIDGE_NATIVE));
	if (a->flags & MU_ATTACH_STRICT)
		json_object_object_add(o, "interfaces_without_stage3",
				       json_object_new_int(v->tc.missing[0] + v->tc.missing[1]));
	json_object_object_add(o, "counters", cnt);
	json_object_object_add(o, "entries", entries);
	path_managers_of_cgroup(a->cgroup, o);
	tcp_listeners(a, o);
	attachment_sockopts(e, a, o);
	return o;
}

static void print_attachment(struct engine *e, const struct engine_view *v,
			     const struct attachment *a,
			     const struct mu_attach_counters *c, bool changed)
{
	size_t i, n = attachment_rows(a);
	char at[32], re[32];
	unsigned int missing;
	bool alive = cgroup_alive(a->cgroup, a->cgroup_id) != 0;
	int gaps = v->tc.missing[0] + v->tc.missing[1];

	format_time(a->attached_at, at, sizeof(at));
	format_time(a->reloaded_at, re, sizeof(re));
	printf("cgroup %s (cgroup id %llu, attachment %u)\n", a->cgroup,
	       (unsigned long long)a->cgroup_id, a->id);
	if (a->state_lost)
		printf("  STATE LOST its state file under %s is gone: the policy in force is not "
		       "known here ('reload --cgroup %s --policy FILE' restores it, or detach)\n",
		       MU_RUN_DIR, a->cgroup);
	if (alive && !engine_missing_links(e, a, &missing))
		for (i = 0; i < EP_CGROUP_MAX; i++)
			if (missing & (1U << i))
				printf("  MISSING    %s is not attached to the cgroup: %s (run '%s' "
				       "to repair)\n", engine_prog_name(i), missing_effect[i],
				       REPAIR);
	if (!alive)
		printf("  GONE       the cgroup was removed or recreated since attach: this "
		       "attachment applies to nothing (detach it, or attach the new cgroup, which "
		       "replaces it)\n");
	printf("  policy     %s%s\n", a->policy,
	       changed ? "  (the file changed since it was loaded: run reload)" : "");
	if (strcmp(a->loaded_from, a->policy))
		printf("  in force   loaded from %s by reload --policy (a plain reload reads %s "
		       "again)\n", a->loaded_from, a->policy);
	printf("  sha256     %s\n", a->sha256);
	printf("  attached   %s, reloaded %s\n", at, re);
	printf("  families   %s\n", policy_families_str(a->families));
	if (!(a->flags & MU_ATTACH_STRICT))
		printf("  strict     no (--no-strict): unlisted addresses negotiate MPTCP with peers "
		       "that ask\n");
	else if (gaps > 0)
		printf("  strict     NOT on every interface: stage 3 is missing %d time%s (see "
		       "MISSING above): SYNs there keep MP_CAPABLE (run '%s', or keep 'follow' "
		       "running)\n", gaps, gaps == 1 ? "" : "s", REPAIR);
	else
		printf("  strict     yes: unlisted addresses stay plain TCP on the wire\n");
	{
		__u64 up = c->count[MU_CNT_SOCKETS_UPGRADED], marked = c->count[MU_CNT_SOCKETS_MARKED];

		printf("  sockets    upgraded %llu, native MPTCP %llu, other family %llu, unmarked "
		       "%llu\n", (unsigned long long)up,
		       (unsigned long long)c->count[MU_CNT_SOCKETS_NATIVE_MPTCP],
		       (unsigned long long)c->count[MU_CNT_SOCKETS_OTHER_FAMILY],
		       (unsigned long long)(up > marked ? up - marked : 0));
		if (up > marked)
			printf("             (unmarked: socket() failed after the upgrade, or the note "
			       "was lost; %llu for want of room)\n",
			       (unsigned long long)c->count[MU_CNT_NOTES_DROPPED]);
		if (c->count[MU_CNT_LINE_COUNTERS_FULL])
			printf("  NOT COUNTED %llu line events: the line counter map is full\n",
			       (unsigned long long)c->count[MU_CNT_LINE_COUNTERS_FULL]);
	}
	printf("  bind()     listed %llu, unlisted %llu\n",
	       (unsigned long long)c->count[MU_CNT_BINDS_LISTED],
	       (unsigned long long)c->count[MU_CNT_BINDS_UNLISTED]);
	printf("  connect()  listed %llu, unlisted %llu\n",
	       (unsigned long long)c->count[MU_CNT_CONNECTS_LISTED],
	       (unsigned long long)c->count[MU_CNT_CONNECTS_UNLISTED]);
	if (c->count[MU_CNT_BINDS_ESCAPED] || c->count[MU_CNT_CONNECTS_ESCAPED])
		printf("  ESCAPED    bind() %llu, connect() %llu of plain TCP sockets (created before "
		       "attach, through io_uring, or passed in): restart the proxy; ESCAPED per "
		       "line below\n", (unsigned long long)c->count[MU_CNT_BINDS_ESCAPED],
		       (unsigned long long)c->count[MU_CNT_CONNECTS_ESCAPED]);
	printf("  kept TCP   outgoing %llu, incoming %llu (unlisted, MP_CAPABLE removed)\n",
	       (unsigned long long)c->count[MU_CNT_KEPT_TCP_OUT],
	       (unsigned long long)c->count[MU_CNT_KEPT_TCP_IN]);
	if (c->count[MU_CNT_NETNS_UNPREPARED] || c->count[MU_CNT_NETNS_MPTCP_OFF])
		printf("  left TCP   %llu in network namespaces without stage 3 (run reload, or "
		       "keep 'follow' running), %llu where net.mptcp.enabled=0\n",
		       (unsigned long long)c->count[MU_CNT_NETNS_UNPREPARED],
		       (unsigned long long)c->count[MU_CNT_NETNS_MPTCP_OFF]);
	attachment_sockopts(e, a, NULL);
	tcp_listeners(a, NULL);
	path_managers_of_cgroup(a->cgroup, NULL);
	printf("  %-6s %-8s %-28s %-12s %8s %9s %7s %9s %8s\n", "LINE", "ROLE", "PREFIX", "PORTS",
	       "BINDS", "CONNECTS", "MPTCP", "FALLBACK", "ESCAPED");
	for (i = 0; i < n; i++) {
		struct policy_row r;

		attachment_row(e, a, i, &r);
		printf("  %-6d %-8s %-28s %-12s %8llu %9llu %7llu %9llu %8llu\n", r.line, r.role,
		       r.prefix, r.ports, (unsigned long long)r.counters.binds,
		       (unsigned long long)r.counters.connects,
		       (unsigned long long)r.counters.mptcp,
		       (unsigned long long)r.counters.fallback,
		       (unsigned long long)r.counters.escaped);
	}
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
	struct json_object *root = NULL, *arr = NULL, *progs, *ra = NULL, *miss = NULL;
	struct attachment *list = NULL;
	struct run_entry *runs = NULL;
	struct engine_view v;
	size_t nr = 0, i, nruns = 0;
	char err[1024];
	int ret = 1, d;

	if (wants_help(argc, argv)) {
		help_status(stdout);
		return 0;
	}
	if (argc > 1)
		return usage_err("status: unexpected argument '%s' (see '%s status help')",
				 argv[1], prog_name);
	if (need_root("status"))
		return 1;
	e.want_entries = true;
	if (engine_start(&e, &list, &nr, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	view_engine(&e, list, nr, &v);
	if (!opts.json)
		v.problems += show_lost(NULL);

	if (opts.json) {
		root = json_object_new_object();
		arr = json_object_new_array();
		progs = json_object_new_object();
		miss = json_object_new_array();
		if (e.loaded) {
			json_object_object_add(progs, HOOK_NAME, json_object_new_int(v.hook_prog));
			for (i = 0; i < EP_MAX; i++)
				json_object_object_add(progs, engine_prog_name(i),
						       json_object_new_int(engine_prog_id(e.prog_fd[i])));
			if (!v.hook_prog)
				json_object_array_add(miss, missing_json(HOOK_NAME, NULL, 0, NULL,
									 HOOK_EFFECT));
			for (d = 0; d < 2; d++)
				if (v.tc.missing[d] > 0)
					json_object_array_add(miss, missing_json(
						engine_prog_name(EP_TC_INGRESS + d), NULL,
						v.tc.missing[d], v.tc.first[d],
						missing_effect[EP_TC_INGRESS + d]));
		}
		json_object_object_add(root, "loaded", json_object_new_boolean(e.loaded));
		json_object_object_add(root, "pins", json_object_new_string(MU_PIN_DIR));
		json_object_object_add(root, "programs", progs);
		json_object_object_add(root, "hook_attached", json_object_new_boolean(v.hook_prog));
		json_object_object_add(root, "tc_links", json_object_new_int(engine_tc_links()));
		v.problems += show_lost(root);
	} else {
		print_engine_missing(&v);
		if (!nr && !e.lost)
			printf("nothing is attached\n");
	}
	if (e.loaded && !nr) {
		long total = -1, orphans = -1;

		engine_live_sockets(&e, &total, &orphans);
		if (opts.json)
			json_object_object_add(root, "draining_sockets",
					       json_object_new_int64(orphans));
		else
			printf("draining: %ld listening or unconnected socket%s of detached cgroups "
			       "%s still MPTCP; stage 3 keeps their unlisted addresses plain TCP "
			       "until they close (restart the proxy)\n", orphans,
			       orphans == 1 ? "" : "s", orphans == 1 ? "is" : "are");
	}
	for (i = 0; i < nr; i++) {
		struct mu_attach_counters c;
		char now[65];
		bool changed;

		engine_attach_counters(&e, list[i].id, &c);
		file_sha256(list[i].loaded_from, now);
		changed = strcmp(now, list[i].sha256) != 0;
		if (opts.json) {
			json_object_array_add(arr, attachment_json(&e, &v, miss, &list[i], &c,
								   changed));
		} else {
			print_attachment(&e, &v, &list[i], &c, changed);
			putchar('\n');
		}
	}
	run_registry_list(&runs, &nruns);
	if (opts.json)
		ra = json_object_new_array();
	for (i = 0; i < nruns; i++) {
		struct run_counters *c = run_counters_read(runs[i].supervisor, runs[i].sha256);
		char now[65];
		bool changed;

		file_sha256(runs[i].policy, now);
		changed = strcmp(now, runs[i].sha256) != 0;
		if (opts.json) {
			json_object_array_add(ra, run_json(&runs[i], c, changed));
		} else {
			print_run(&runs[i], c, changed);
			putchar('\n');
		}
		free(c);
	}
	if (opts.json)
		json_object_object_add(root, "runs", ra);
	run_registry_free(runs, nruns);
	if (opts.json) {
		json_object_object_add(root, "attachments", arr);
		json_object_object_add(root, "missing", miss);
		json_object_object_add(root, "healthy", json_object_new_boolean(!v.problems));
		json_print(root);
	} else if (e.loaded) {
		printf("engine: pinned under %s; %s (prog %u%s)", MU_PIN_DIR, HOOK_NAME, v.hook_prog,
		       v.hook_prog ? "" : ": MISSING");
		for (i = 0; i < EP_MAX; i++)
			printf(", %s (prog %u)", engine_prog_name(i), engine_prog_id(e.prog_fd[i]));
		printf("; %d tcx links\n", engine_tc_links());
		if (v.problems)
			printf("%d program%s the attachments need %s missing: '%s' repairs them\n",
			       v.problems, v.problems == 1 ? "" : "s",
			       v.problems == 1 ? "is" : "are", REPAIR);
	}
	/* An alert, a probe or config management reads this: 3 means broken. */
	ret = v.problems ? 3 : 0;
out:
	engine_list_free(list, nr);
	engine_close(&e);
	return ret;
}
