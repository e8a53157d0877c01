// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade status` rendered from what cmd_status.c gathered: the table
 * people read, and the same as one JSON document.
 */
#include <stdio.h>
#include <string.h>

#include "common/output.h"
#include "common/paths.h"
#include "run/run.h"
#include "status.h"

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

#define HOOK_EFFECT "the kernel runs no socket-creation hook: listed sockets stay TCP"

/* ---- the table ---- */

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
static void print_lost(const struct attachment *lost, size_t n)
{
	size_t i;

	if (!n)
		return;
	printf("LOST    %zu attachment%s recorded under %s lost %s engine's pins (bpffs "
	       "unmounted, or the pins removed), and with them every program: %s "
	       "nothing\n", n, n == 1 ? "" : "s", MU_STATE_DIR, n == 1 ? "its" : "their",
	       n == 1 ? "it applies" : "they apply");
	for (i = 0; i < n; i++)
		printf("        cgroup %s, policy %s\n", lost[i].cgroup, lost[i].policy);
	printf("        On the wire: listed sockets stay TCP, and sockets the engine made "
	       "MPTCP before (the proxies' listeners) negotiate MPTCP with any peer that "
	       "asks.\n        '%s' attaches them again from their state (mounting bpffs "
	       "if it must); then restart the proxies so that their sockets are made anew "
	       "under the engine.\n\n", REPAIR);
}

static void print_listeners(const struct status_attachment *s)
{
	size_t i, listed = 0;

	if (!s->listeners_known) {
		/* Unknown is not none: say so. */
		printf("  NOT UPGRADED unknown: sock_diag can't list the cgroup's TCP "
		       "listeners (modprobe tcp_diag)\n");
		return;
	}
	for (i = 0; i < s->nr_listeners; i++) {
		const struct status_listener *l = &s->listeners[i];

		listed += l->line != 0;
		printf("%s%s%s", i ? ", " : "  NOT UPGRADED TCP listeners (created before attach, "
		       "inherited across a reload, or through io_uring): ", l->address,
		       l->line ? "" : " unlisted");
		if (l->line)
			printf(" (line %d would make it MPTCP)", l->line);
	}
	if (s->nr_listeners)
		printf("%s\n", listed ? ": restart the proxy" : "");
}

static void print_counters(const struct mu_attach_counters *c)
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
}

static void print_attachment(const struct engine_view *v, const struct status_attachment *s)
{
	const struct attachment *a = s->a;
	size_t i, n = attachment_rows(a);
	int gaps = v->tc.missing[0] + v->tc.missing[1];
	char at[32], re[32];

	format_time(a->attached_at, at, sizeof(at));
	format_time(a->reloaded_at, re, sizeof(re));
	printf("cgroup %s (cgroup id %llu, attachment %u%s%s)\n", a->cgroup,
	       (unsigned long long)a->cgroup_id, a->id, a->origin.container[0] ?
	       ", container " : "", a->origin.container);
	if (a->state_lost)
		printf("  STATE LOST its state file under %s is gone: the policy in force is not "
		       "known here ('reload --cgroup %s --policy FILE' restores it, or detach)\n",
		       MU_RUN_DIR, a->cgroup);
	for (i = 0; i < EP_CGROUP_MAX; i++)
		if (s->missing & (1U << i))
			printf("  MISSING    %s is not attached to the cgroup: %s (run '%s' "
			       "to repair)\n", engine_prog_name(i), missing_effect[i], REPAIR);
	if (!s->alive && a->origin.container[0])
		printf("  GONE       the container's cgroup was removed: stopped or re-created "
		       "('%s follow' attaches it again when it runs)\n", prog_name);
	else if (!s->alive)
		printf("  GONE       the cgroup was removed or recreated since attach: this "
		       "attachment applies to nothing (detach it, or attach the new cgroup, which "
		       "replaces it)\n");
	printf("  policy     %s%s\n", a->policy,
	       s->changed ? "  (the file changed since it was loaded: run reload)" : "");
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
	print_counters(&s->c);
	sockopt_bridge_print(&s->bridge, false);
	if (a->flags & MU_ATTACH_BRIDGE_NATIVE)
		printf("             for the programs' own MPTCP sockets too (--bridge-native)\n");
	print_listeners(s);
	path_managers_print(&s->pms);
	printf("  %-6s %-8s %-28s %-12s %8s %9s %7s %9s %8s\n", "LINE", "ROLE", "PREFIX", "PORTS",
	       "BINDS", "CONNECTS", "MPTCP", "FALLBACK", "ESCAPED");
	for (i = 0; i < n; i++) {
		const struct policy_row *r = &s->rows[i];

		printf("  %-6d %-8s %-28s %-12s %8llu %9llu %7llu %9llu %8llu\n", r->line, r->role,
		       r->prefix, r->ports, (unsigned long long)r->counters.binds,
		       (unsigned long long)r->counters.connects,
		       (unsigned long long)r->counters.mptcp,
		       (unsigned long long)r->counters.fallback,
		       (unsigned long long)r->counters.escaped);
	}
}

/* Engines of older versions: one still upgrading (upgrade hands it over), or draining. */
static void print_older(const struct older_view *o, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!o[i].handed_over)
			printf("OLDER   the ABI %u engine under %s still upgrades %zu cgroup%s: "
			       "'%s upgrade' hands %s over to this version (ABI %u)\n", o[i].abi,
			       o[i].pins, o[i].cgroups, o[i].cgroups == 1 ? "" : "s", prog_name,
			       o[i].cgroups == 1 ? "it" : "them", MU_ENGINE_ABI);
		else if (o[i].sockets < 0)
			printf("OLDER   the ABI %u engine under %s, handed over, serves the sockets "
			       "it upgraded until they close (how many can't be read)\n", o[i].abi,
			       o[i].pins);
		else
			printf("OLDER   the ABI %u engine under %s, handed over, serves %ld socket%s "
			       "it upgraded until %s\n", o[i].abi, o[i].pins, o[i].sockets,
			       o[i].sockets == 1 ? "" : "s",
			       o[i].sockets == 1 ? "it closes" : "they close");
	}
}

void status_print(const struct status *s)
{
	const struct engine_view *v = &s->v;
	size_t i;

	print_lost(s->lost, s->nr_lost);
	print_older(s->older, s->nr_older);
	print_engine_missing(v);
	if (s->none)
		printf("nothing is attached\n");
	if (s->draining)
		printf("draining: %ld listening or unconnected socket%s of detached cgroups "
		       "%s still MPTCP; stage 3 keeps their unlisted addresses plain TCP "
		       "until they close (restart the proxy)\n", s->orphans,
		       s->orphans == 1 ? "" : "s", s->orphans == 1 ? "is" : "are");
	for (i = 0; i < s->nr_att; i++) {
		print_attachment(v, &s->att[i]);
		putchar('\n');
	}
	for (i = 0; i < s->nr_runs; i++) {
		print_run(&s->runs[i]);
		putchar('\n');
	}
	if (!v->loaded)
		return;
	printf("engine: pinned under %s; %s (prog %u%s)", MU_PIN_DIR, HOOK_NAME, v->hook_prog,
	       v->hook_prog ? "" : ": MISSING");
	for (i = 0; i < EP_MAX; i++)
		printf(", %s (prog %u)", engine_prog_name(i), v->prog_ids[i]);
	printf("; %d tcx links\n", v->tc_links);
	if (v->problems)
		printf("%d program%s the attachments need %s missing: '%s' repairs them\n",
		       v->problems, v->problems == 1 ? "" : "s",
		       v->problems == 1 ? "is" : "are", REPAIR);
}

/* ---- JSON ---- */

static void missing_json(struct jsonw *w, const char *program, const char *cgroup, int places,
			 const char *where, const char *effect)
{
	jw_object_start(w);
	jw_kv_string(w, "program", program);
	if (cgroup)
		jw_kv_string(w, "cgroup", cgroup);
	if (where) {
		jw_kv_int(w, "interfaces", places);
		jw_kv_string(w, "first", where);
	}
	jw_kv_string(w, "effect", effect);
	jw_kv_string(w, "repair", REPAIR);
	jw_object_end(w);
}

/* Every program missing: the engine's own, then each attachment's. */
static void all_missing_json(struct jsonw *w, const struct status *s)
{
	size_t i, p;
	int d;

	jw_key(w, "missing");
	jw_array_start(w);
	if (s->v.loaded && !s->v.hook_prog)
		missing_json(w, HOOK_NAME, NULL, 0, NULL, HOOK_EFFECT);
	for (d = 0; s->v.loaded && d < 2; d++)
		if (s->v.tc.missing[d] > 0)
			missing_json(w, engine_prog_name(EP_TC_INGRESS + d), NULL,
				     s->v.tc.missing[d], s->v.tc.first[d],
				     missing_effect[EP_TC_INGRESS + d]);
	for (i = 0; i < s->nr_att; i++)
		for (p = 0; p < EP_CGROUP_MAX; p++)
			if (s->att[i].missing & (1U << p))
				missing_json(w, engine_prog_name(p), s->att[i].a->cgroup, 0, NULL,
					     missing_effect[p]);
	jw_array_end(w);
}

static void listeners_json(struct jsonw *w, const struct status_attachment *s)
{
	size_t i;

	if (!s->listeners_known) {
		jw_kv_null(w, "tcp_listeners");
		return;
	}
	jw_key(w, "tcp_listeners");
	jw_array_start(w);
	for (i = 0; i < s->nr_listeners; i++) {
		jw_object_start(w);
		jw_kv_string(w, "address", s->listeners[i].address);
		jw_kv_u64(w, "netns", s->listeners[i].netns);
		jw_kv_int(w, "line", s->listeners[i].line);
		jw_object_end(w);
	}
	jw_array_end(w);
}

static void attachment_json(struct jsonw *w, const struct engine_view *v,
			    const struct status_attachment *s)
{
	const struct attachment *a = s->a;
	size_t i, n = attachment_rows(a);

	jw_object_start(w);
	jw_kv_int(w, "id", a->id);
	jw_kv_string(w, "cgroup", a->cgroup);
	jw_kv_u64(w, "cgroup_id", a->cgroup_id);
	if (a->origin.container[0])
		jw_kv_string(w, "container", a->origin.container);
	else
		jw_kv_null(w, "container");
	jw_key(w, "missing_programs");
	jw_array_start(w);
	for (i = 0; i < EP_CGROUP_MAX; i++)
		if (s->missing & (1U << i))
			jw_string(w, engine_prog_name(i));
	jw_array_end(w);
	jw_kv_bool(w, "state_lost", a->state_lost);
	jw_kv_bool(w, "cgroup_alive", s->alive);
	jw_kv_string(w, "policy", a->policy);
	jw_kv_string(w, "loaded_from", a->loaded_from);
	jw_kv_string(w, "sha256", a->sha256);
	jw_kv_bool(w, "policy_changed_since_load", s->changed);
	jw_kv_int(w, "attached_at", a->attached_at);
	jw_kv_int(w, "reloaded_at", a->reloaded_at);
	jw_kv_string(w, "families", policy_families_str(a->families));
	jw_kv_bool(w, "strict", a->flags & MU_ATTACH_STRICT);
	jw_kv_bool(w, "bridge_native", a->flags & MU_ATTACH_BRIDGE_NATIVE);
	if (a->flags & MU_ATTACH_STRICT)
		jw_kv_int(w, "interfaces_without_stage3", v->tc.missing[0] + v->tc.missing[1]);
	jw_key(w, "counters");
	jw_object_start(w);
	for (i = 0; i < MU_CNT_MAX; i++)
		jw_kv_u64(w, counter_names[i], s->c.count[i]);
	jw_object_end(w);
	jw_key(w, "entries");
	jw_array_start(w);
	for (i = 0; i < n; i++) {
		const struct policy_row *r = &s->rows[i];

		jw_object_start(w);
		jw_kv_int(w, "line", r->line);
		jw_kv_string(w, "source", r->source);
		jw_kv_string(w, "role", r->role);
		jw_kv_string(w, "prefix", r->prefix);
		jw_kv_string(w, "ports", r->ports);
		jw_kv_u64(w, "binds", r->counters.binds);
		jw_kv_u64(w, "connects", r->counters.connects);
		jw_kv_u64(w, "mptcp", r->counters.mptcp);
		jw_kv_u64(w, "fallback", r->counters.fallback);
		jw_kv_u64(w, "escaped", r->counters.escaped);
		jw_object_end(w);
	}
	jw_array_end(w);
	path_managers_json(w, &s->pms);
	listeners_json(w, s);
	sockopt_bridge_json(w, &s->bridge, NULL);
	jw_object_end(w);
}

void status_json(const struct status *s)
{
	const struct engine_view *v = &s->v;
	struct jsonw w;
	size_t i;

	json_stdout(&w);
	jw_object_start(&w);
	jw_kv_bool(&w, "loaded", v->loaded);
	jw_kv_string(&w, "pins", MU_PIN_DIR);
	jw_key(&w, "programs");
	jw_object_start(&w);
	if (v->loaded) {
		jw_kv_int(&w, HOOK_NAME, v->hook_prog);
		for (i = 0; i < EP_MAX; i++)
			jw_kv_int(&w, engine_prog_name(i), v->prog_ids[i]);
	}
	jw_object_end(&w);
	jw_kv_bool(&w, "hook_attached", v->hook_prog);
	jw_kv_int(&w, "tc_links", v->tc_links);
	jw_key(&w, "lost_attachments");
	jw_array_start(&w);
	for (i = 0; i < s->nr_lost; i++) {
		jw_object_start(&w);
		jw_kv_string(&w, "cgroup", s->lost[i].cgroup);
		jw_kv_string(&w, "policy", s->lost[i].policy);
		jw_kv_bool(&w, "strict", s->lost[i].flags & MU_ATTACH_STRICT);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "older_engines");
	jw_array_start(&w);
	for (i = 0; i < s->nr_older; i++) {
		jw_object_start(&w);
		jw_kv_int(&w, "abi", s->older[i].abi);
		jw_kv_string(&w, "pins", s->older[i].pins);
		jw_kv_bool(&w, "handed_over", s->older[i].handed_over);
		if (s->older[i].handed_over)
			jw_kv_int(&w, "sockets", s->older[i].sockets);
		else
			jw_kv_int(&w, "cgroups", s->older[i].cgroups);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	if (s->draining)
		jw_kv_int(&w, "draining_sockets", s->orphans);
	jw_key(&w, "runs");
	jw_array_start(&w);
	for (i = 0; i < s->nr_runs; i++)
		run_json(&w, &s->runs[i]);
	jw_array_end(&w);
	jw_key(&w, "attachments");
	jw_array_start(&w);
	for (i = 0; i < s->nr_att; i++)
		attachment_json(&w, v, &s->att[i]);
	jw_array_end(&w);
	all_missing_json(&w, s);
	jw_kv_bool(&w, "healthy", !v->problems);
	jw_object_end(&w);
	jw_end(&w);
}
