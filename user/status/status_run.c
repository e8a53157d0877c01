// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade status` for the run engine: each supervisor, the program it
 * serves, its policy lines with their counters (from its counters file, the
 * bridge's line counters and its BPF object's), and its socket-option bridge.
 */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "run/run.h"
#include "stats/stats.h"
#include "status.h"
#include "common/paths.h"

/*
 * Connections of entry @i of supervisor @r that negotiated MPTCP or fell back,
 * as the bridge's sockops program saw them established. False without them.
 */
static bool run_wire(const struct run_entry *r, int lines_fd, size_t i,
		     struct mu_line_counters *out)
{
	return lines_fd >= 0 && r->lines_map_id && !line_counters_sum(lines_fd, 0, i, out);
}

/*
 * Fell back is known for connect() lines only: a listener the supervisor made
 * passes its state to the MPTCP connections it accepts, not to the plain TCP
 * ones (their listening subflow is out of userspace's reach).
 */
static bool run_fallback_known(struct json_object *je)
{
	return !strcmp(json_str(je, "role"), "connect");
}

static int run_lines_fd(const struct run_entry *r)
{
	return r->lines_map_id ? bpf_map_get_fd_by_id(r->lines_map_id) : -1;
}

/* The run object's own counters (the address check), zeros without them. */
static void run_bpf_counts(const struct run_entry *r, struct mu_run_bpf_counts *out)
{
	__u32 zero = 0;
	int fd = r->counts_map_id ? bpf_map_get_fd_by_id(r->counts_map_id) : -1;

	memset(out, 0, sizeof(*out));
	if (fd >= 0 && bpf_map_lookup_elem(fd, &zero, out))
		memset(out, 0, sizeof(*out));
	if (fd >= 0)
		close(fd);
}

void status_run_gather(const struct run_entry *r, struct status_run *s)
{
	size_t i, n = r->entries ? json_object_array_length(r->entries) : 0;
	char now[65];
	int fd;

	memset(s, 0, sizeof(*s));
	s->r = r;
	s->c = run_counters_read(r->supervisor, r->sha256);
	file_sha256(r->policy, now);
	s->changed = strcmp(now, r->sha256) != 0;
	if (s->c)
		run_bpf_counts(r, &s->b);
	s->lines = calloc(n + 1, sizeof(*s->lines));
	s->nr_lines = s->lines ? n : 0;
	fd = run_lines_fd(r);
	for (i = 0; i < s->nr_lines; i++) {
		struct status_run_line *l = &s->lines[i];
		struct json_object *je = json_object_array_get_idx(r->entries, i);

		l->row.line = json_int(je, "line");
		l->row.source = json_str(je, "source");
		l->row.role = json_str(je, "role");
		l->row.prefix = json_str(je, "prefix");
		l->row.ports = json_str(je, "ports");
		l->wire = run_wire(r, fd, i, &l->row.counters);
		l->fallback_known = run_fallback_known(je);
	}
	if (fd >= 0)
		close(fd);
	s->bridge = r->bridge_map_id != 0;
	if (s->bridge) {
		fd = bpf_map_get_fd_by_id(r->bridge_map_id);
		sockopt_bridge_read(fd, 0, &r->bridge_carry, &s->sockopts);
		if (fd >= 0)
			close(fd);
	}
	path_managers_of_pid(r->program, &s->pms);
}

void status_run_free(struct status_run *s)
{
	free(s->c);
	free(s->lines);
	free(s->pms.ns);
}

void run_json(struct jsonw *w, const struct status_run *s)
{
	const struct run_entry *r = s->r;
	const struct run_counters *c = s->c;
	size_t i;

	jw_object_start(w);
	jw_kv_int(w, "supervisor", r->supervisor);
	jw_kv_int(w, "program", r->program);
	if (r->container.id[0]) {
		jw_key(w, "container");
		jw_object_start(w);
		jw_kv_string(w, "id", r->container.id);
		jw_kv_string(w, "name", r->container.name);
		jw_kv_string(w, "pod", r->container.pod);
		jw_kv_string(w, "namespace", r->container.pod_namespace);
		jw_kv_string(w, "pod_uid", r->container.pod_uid);
		jw_object_end(w);
	} else {
		jw_kv_null(w, "container");
	}
	jw_kv_string(w, "policy", r->policy);
	jw_kv_string(w, "sha256", r->sha256);
	jw_kv_bool(w, "policy_changed_since_load", s->changed);
	jw_kv_int(w, "started_at", r->started_at);
	jw_kv_int(w, "loaded_at", r->loaded_at);
	jw_kv_u64(w, "reloads", r->reload_seq);
	if (r->reload_error[0])
		jw_kv_string(w, "last_reload_error", r->reload_error);
	else
		jw_kv_null(w, "last_reload_error");
	/* counters and refused_options are null when they can't be read (a reload in between) */
	if (!c) {
		jw_kv_null(w, "counters");
		jw_kv_null(w, "refused_options");
	} else {
		jw_kv_string(w, "io_uring", c->flags & MU_RUN_F_IO_URING_DENY ? "deny" : "allow");
		jw_kv_bool(w, "sync_wakeup", c->flags & MU_RUN_F_SYNC_WAKEUP);
		jw_kv_bool(w, "killable_wait", c->flags & MU_RUN_F_KILLABLE);
		jw_key(w, "counters");
		jw_object_start(w);
		jw_kv_u64(w, "binds_listed", c->binds_listed);
		jw_kv_u64(w, "binds_unlisted", c->binds_unlisted);
		jw_kv_u64(w, "connects_listed", c->connects_listed);
		jw_kv_u64(w, "connects_unlisted", c->connects_unlisted);
		jw_kv_u64(w, "made_mptcp", c->made_mptcp);
		jw_kv_u64(w, "kept_tcp", c->kept_tcp);
		jw_kv_u64(w, "kept_tcp_epoll", c->kept_epoll);
		jw_kv_u64(w, "kept_tcp_shared", c->kept_shared);
		jw_kv_u64(w, "back_to_tcp", c->restored_tcp);
		jw_kv_u64(w, "escaped", c->escaped);
		jw_kv_u64(w, "interrupted", c->interrupted);
		jw_kv_u64(w, "io_uring_setups", c->io_uring_setups);
		jw_kv_u64(w, "address_rewritten", s->b.rewritten);
		jw_kv_u64(w, "address_refused", s->b.refused);
		jw_kv_u64(w, "address_unchecked", c->addr_unchecked);
		jw_object_end(w);
		jw_key(w, "refused_options");
		jw_object_start(w);
		for (i = 0; run_option_label(i); i++)
			if (c->refused[i])
				jw_kv_u64(w, run_option_label(i), c->refused[i]);
		jw_object_end(w);
	}
	jw_key(w, "entries");
	jw_array_start(w);
	for (i = 0; i < s->nr_lines; i++) {
		const struct status_run_line *l = &s->lines[i];

		jw_object_start(w);
		jw_kv_int(w, "line", l->row.line);
		jw_kv_string(w, "source", l->row.source);
		jw_kv_string(w, "role", l->row.role);
		jw_kv_string(w, "prefix", l->row.prefix);
		jw_kv_string(w, "ports", l->row.ports);
		if (c && i < c->nr_entries) {
			jw_kv_u64(w, "binds", c->line[i].binds);
			jw_kv_u64(w, "connects", c->line[i].connects);
			jw_kv_u64(w, "made_mptcp", c->line[i].mptcp);
			jw_kv_u64(w, "kept_tcp", c->line[i].kept_tcp);
			/* From the wire, as the attach engine's: null without the bridge. */
			if (l->wire)
				jw_kv_u64(w, "mptcp", l->row.counters.mptcp);
			else
				jw_kv_null(w, "mptcp");
			if (l->wire && l->fallback_known)
				jw_kv_u64(w, "fallback", l->row.counters.fallback);
			else
				jw_kv_null(w, "fallback");
		}
		jw_object_end(w);
	}
	jw_array_end(w);
	if (s->bridge)
		sockopt_bridge_json(w, &s->sockopts, r->bridge_cgroup);
	else
		jw_kv_null(w, "sockopt_bridge");
	path_managers_json(w, &s->pms);
	jw_object_end(w);
}

void print_run(const struct status_run *s)
{
	const struct run_entry *r = s->r;
	const struct run_counters *c = s->c;
	char at[32], re[32];
	bool any = false;
	size_t i;

	format_time(r->started_at, at, sizeof(at));
	format_time(r->loaded_at, re, sizeof(re));
	printf("run supervisor %d (program %d)\n", (int)r->supervisor, (int)r->program);
	if (r->container.id[0]) {
		printf("  container  %s", r->container.id);
		if (r->container.name[0])
			printf(" (%s)", r->container.name);
		if (r->container.pod[0])
			printf(", pod %s/%s", r->container.pod_namespace, r->container.pod);
		printf(", served by the agent\n");
	}
	printf("  policy     %s%s\n", r->policy,
	       s->changed ? "  (the file changed since it was loaded: run reload)" : "");
	printf("  sha256     %s\n", r->sha256);
	printf("  started    %s, policy loaded %s\n", at, re);
	if (r->reload_error[0])
		printf("  RELOAD     the last reload failed, the policy above stays: %s\n",
		       r->reload_error);
	if (c)
		printf("  wake-up    %s; %s\n", c->flags & MU_RUN_F_SYNC_WAKEUP ?
		       "synchronous (the supervisor runs on the caller's CPU)" :
		       "plain (no synchronous wake-up: kernel before 6.6, each call waits for a "
		       "scheduler wake-up)", c->flags & MU_RUN_F_KILLABLE ?
		       "a received call can't be interrupted by a signal" :
		       "a signal can interrupt a call until it is answered (EINTR: kernel before "
		       "5.19)");
	if (!c) {
		printf("  counters   not readable now (a reload in between, or the supervisor "
		       "could not write %s): try again\n", MU_RUN_DIR);
		return;
	}
	printf("  bind()     listed %llu, unlisted %llu\n", (unsigned long long)c->binds_listed,
	       (unsigned long long)c->binds_unlisted);
	printf("  connect()  listed %llu, unlisted %llu\n",
	       (unsigned long long)c->connects_listed, (unsigned long long)c->connects_unlisted);
	printf("  sockets    made MPTCP %llu; listed but kept TCP %llu: %llu reachable through "
	       "another descriptor (dup, fork), %llu in epolls that could not be carried, the "
	       "rest for a refused option below\n",
	       (unsigned long long)c->made_mptcp, (unsigned long long)c->kept_tcp,
	       (unsigned long long)c->kept_shared, (unsigned long long)c->kept_epoll);
	if (c->restored_tcp)
		printf("  back       %llu MPTCP sockets went back to TCP: their listed call failed "
		       "and was retried at an unlisted address\n",
		       (unsigned long long)c->restored_tcp);
	if (s->b.rewritten || s->b.refused)
		printf("  ADDRESS    %llu listed calls had their address changed by another "
		       "thread after it was classified: the kernel used the classified one; "
		       "%llu changed family and were refused (EPERM)\n",
		       (unsigned long long)s->b.rewritten, (unsigned long long)s->b.refused);
	if (c->addr_unchecked)
		printf("  UNCHECKED  %llu listed calls served without the address check "
		       "(a kernel before 5.19, or no cgroup of its own: see the supervisor's "
		       "log): a thread changing the address during the call could reach an "
		       "unlisted address over MPTCP\n",
		       (unsigned long long)c->addr_unchecked);
	if (c->io_uring_setups && (c->flags & MU_RUN_F_IO_URING_DENY))
		printf("  io_uring   %llu io_uring_setup() calls refused (--io-uring deny)\n",
		       (unsigned long long)c->io_uring_setups);
	else if (c->io_uring_setups)
		printf("  IO_URING   %llu rings set up: a bind or connect submitted through one "
		       "passes unseen, and its socket stays TCP whatever the policy (--io-uring "
		       "deny refuses rings)\n", (unsigned long long)c->io_uring_setups);
	if (c->escaped)
		printf("  ESCAPED    %llu unlisted calls on MPTCP sockets that could not go back to "
		       "TCP: an unlisted peer may negotiate MPTCP (see the supervisor's log)\n",
		       (unsigned long long)c->escaped);
	for (i = 0; run_option_label(i); i++) {
		if (!c->refused[i])
			continue;
		printf("%s%s %llu", any ? "," : "  kept       options a swap could not carry (TCP_QUICKACK: dropped, the socket swapped; others: the socket kept TCP): ",
		       run_option_label(i), (unsigned long long)c->refused[i]);
		any = true;
	}
	if (any)
		putchar('\n');
	if (!s->bridge) {
		printf("  options    no socket-option bridge (see the supervisor's log): "
		       "options MPTCP refuses keep a listed socket TCP\n");
	} else {
		printf("  bridge     attached to cgroup %s (the supervisor's; only the sockets it "
		       "makes run it)\n", r->bridge_cgroup[0] ? r->bridge_cgroup : "?");
		sockopt_bridge_print(&s->sockopts, true);
	}
	path_managers_print(&s->pms);
	/* MADE-MPTCP: sockets it swapped; MPTCP, FALLBACK: their connections, from the wire. */
	printf("  %-6s %-8s %-28s %-12s %8s %9s %10s %9s %7s %8s\n", "LINE", "ROLE", "PREFIX",
	       "PORTS", "BINDS", "CONNECTS", "MADE-MPTCP", "KEPT-TCP", "MPTCP", "FALLBACK");
	for (i = 0; i < s->nr_lines && i < c->nr_entries; i++) {
		const struct status_run_line *l = &s->lines[i];
		char m[24] = "-", f[24] = "-";

		if (l->wire) {
			snprintf(m, sizeof(m), "%llu", (unsigned long long)l->row.counters.mptcp);
			if (l->fallback_known)
				snprintf(f, sizeof(f), "%llu",
					 (unsigned long long)l->row.counters.fallback);
		}
		printf("  %-6d %-8s %-28s %-12s %8llu %9llu %10llu %9llu %7s %8s\n",
		       l->row.line, l->row.role, l->row.prefix, l->row.ports,
		       (unsigned long long)c->line[i].binds,
		       (unsigned long long)c->line[i].connects,
		       (unsigned long long)c->line[i].mptcp,
		       (unsigned long long)c->line[i].kept_tcp, m, f);
	}
}
