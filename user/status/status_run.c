// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade status` for the run engine: each supervisor, the program it
 * serves, its policy lines with their counters (from its counters file, the
 * bridge's line counters and its BPF object's), and its socket-option bridge.
 */
#include <bpf/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "run/run.h"
#include "stats/stats.h"
#include "status.h"
#include "common/paths.h"

static void run_sockopts(const struct run_entry *r, struct json_object *parent)
{
	int fd;

	if (!r->bridge_map_id) {
		if (parent)
			json_object_object_add(parent, "sockopt_bridge", NULL);
		else
			printf("  options    no socket-option bridge (see the supervisor's log): "
			       "options MPTCP refuses keep a listed socket TCP\n");
		return;
	}
	fd = bpf_map_get_fd_by_id(r->bridge_map_id);
	if (!parent)
		printf("  bridge     attached to cgroup %s (the supervisor's; only the sockets it "
		       "makes run it)\n", r->bridge_cgroup[0] ? r->bridge_cgroup : "?");
	sockopt_bridge(fd, 0, &r->bridge_carry, parent, true);
	if (fd >= 0)
		close(fd);
	if (parent) {
		struct json_object *b;

		if (json_object_object_get_ex(parent, "sockopt_bridge", &b) && b)
			json_object_object_add(b, "cgroup", json_object_new_string(r->bridge_cgroup));
	}
}

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

struct json_object *run_json(const struct run_entry *r, const struct run_counters *c,
				    bool changed)
{
	int lines_fd = run_lines_fd(r);
	struct json_object *o = json_object_new_object(), *cnt = NULL, *refused = NULL;
	struct json_object *entries = json_object_new_array();
	size_t i, n = r->entries ? json_object_array_length(r->entries) : 0;

	json_object_object_add(o, "supervisor", json_object_new_int(r->supervisor));
	json_object_object_add(o, "program", json_object_new_int(r->program));
	json_object_object_add(o, "policy", json_object_new_string(r->policy));
	json_object_object_add(o, "sha256", json_object_new_string(r->sha256));
	json_object_object_add(o, "policy_changed_since_load", json_object_new_boolean(changed));
	json_object_object_add(o, "started_at", json_object_new_int64(r->started_at));
	json_object_object_add(o, "loaded_at", json_object_new_int64(r->loaded_at));
	json_object_object_add(o, "reloads", json_object_new_uint64(r->reload_seq));
	json_object_object_add(o, "last_reload_error", r->reload_error[0] ?
			       json_object_new_string(r->reload_error) : NULL);
	if (c) {
		cnt = json_object_new_object();
		refused = json_object_new_object();
		json_object_object_add(cnt, "binds_listed", json_object_new_uint64(c->binds_listed));
		json_object_object_add(cnt, "binds_unlisted",
				       json_object_new_uint64(c->binds_unlisted));
		json_object_object_add(cnt, "connects_listed",
				       json_object_new_uint64(c->connects_listed));
		json_object_object_add(cnt, "connects_unlisted",
				       json_object_new_uint64(c->connects_unlisted));
		json_object_object_add(cnt, "made_mptcp", json_object_new_uint64(c->made_mptcp));
		json_object_object_add(cnt, "kept_tcp", json_object_new_uint64(c->kept_tcp));
		json_object_object_add(cnt, "kept_tcp_epoll", json_object_new_uint64(c->kept_epoll));
		json_object_object_add(cnt, "kept_tcp_shared", json_object_new_uint64(c->kept_shared));
		json_object_object_add(cnt, "back_to_tcp", json_object_new_uint64(c->restored_tcp));
		json_object_object_add(cnt, "escaped", json_object_new_uint64(c->escaped));
		json_object_object_add(cnt, "interrupted", json_object_new_uint64(c->interrupted));
		json_object_object_add(cnt, "io_uring_setups",
				       json_object_new_uint64(c->io_uring_setups));
		{
			struct mu_run_bpf_counts b;

			run_bpf_counts(r, &b);
			json_object_object_add(cnt, "address_rewritten",
					       json_object_new_uint64(b.rewritten));
			json_object_object_add(cnt, "address_refused",
					       json_object_new_uint64(b.refused));
			json_object_object_add(cnt, "address_unchecked",
					       json_object_new_uint64(c->addr_unchecked));
		}
		json_object_object_add(o, "io_uring", json_object_new_string(
			c->flags & MU_RUN_F_IO_URING_DENY ? "deny" : "allow"));
		json_object_object_add(o, "sync_wakeup",
				       json_object_new_boolean(c->flags & MU_RUN_F_SYNC_WAKEUP));
		json_object_object_add(o, "killable_wait",
				       json_object_new_boolean(c->flags & MU_RUN_F_KILLABLE));
		for (i = 0; run_option_label(i); i++)
			if (c->refused[i])
				json_object_object_add(refused, run_option_label(i),
						       json_object_new_uint64(c->refused[i]));
	}
	/* null when the counters can't be read (a reload in between, or no file) */
	json_object_object_add(o, "counters", cnt);
	json_object_object_add(o, "refused_options", refused);
	for (i = 0; i < n; i++) {
		struct json_object *je = NULL;

		json_object_deep_copy(json_object_array_get_idx(r->entries, i), &je, NULL);
		if (c && i < c->nr_entries) {
			struct mu_line_counters wire;
			bool have = run_wire(r, lines_fd, i, &wire);

			json_object_object_add(je, "binds", json_object_new_uint64(c->line[i].binds));
			json_object_object_add(je, "connects",
					       json_object_new_uint64(c->line[i].connects));
			json_object_object_add(je, "made_mptcp",
					       json_object_new_uint64(c->line[i].mptcp));
			json_object_object_add(je, "kept_tcp",
					       json_object_new_uint64(c->line[i].kept_tcp));
			/* From the wire, as the attach engine's: null without the bridge. */
			json_object_object_add(je, "mptcp",
					       have ? json_object_new_uint64(wire.mptcp) : NULL);
			json_object_object_add(je, "fallback", have && run_fallback_known(je) ?
					       json_object_new_uint64(wire.fallback) : NULL);
		}
		json_object_array_add(entries, je);
	}
	json_object_object_add(o, "entries", entries);
	if (lines_fd >= 0)
		close(lines_fd);
	run_sockopts(r, o);
	path_managers_of_pid(r->program, o);
	return o;
}

void print_run(const struct run_entry *r, const struct run_counters *c, bool changed)
{
	size_t i, n = r->entries ? json_object_array_length(r->entries) : 0;
	int lines_fd;
	char at[32], re[32];
	bool any = false;

	format_time(r->started_at, at, sizeof(at));
	format_time(r->loaded_at, re, sizeof(re));
	printf("run supervisor %d (program %d)\n", (int)r->supervisor, (int)r->program);
	printf("  policy     %s%s\n", r->policy,
	       changed ? "  (the file changed since it was loaded: run reload)" : "");
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
	{
		struct mu_run_bpf_counts b;

		run_bpf_counts(r, &b);
		if (b.rewritten || b.refused)
			printf("  ADDRESS    %llu listed calls had their address changed by another "
			       "thread after it was classified: the kernel used the classified one; "
			       "%llu changed family and were refused (EPERM)\n",
			       (unsigned long long)b.rewritten, (unsigned long long)b.refused);
		if (c->addr_unchecked)
			printf("  UNCHECKED  %llu listed calls served without the address check "
			       "(a kernel before 5.19, or no cgroup of its own: see the supervisor's "
			       "log): a thread changing the address during the call could reach an "
			       "unlisted address over MPTCP\n",
			       (unsigned long long)c->addr_unchecked);
	}
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
		printf("%s%s %llu", any ? "," : "  kept       options a swap could not carry, the socket left as it was (TCP_QUICKACK: dropped):",
		       run_option_label(i), (unsigned long long)c->refused[i]);
		any = true;
	}
	if (any)
		putchar('\n');
	run_sockopts(r, NULL);
	path_managers_of_pid(r->program, NULL);
	/* MADE-MPTCP: sockets it swapped; MPTCP, FALLBACK: their connections, from the wire. */
	printf("  %-6s %-8s %-28s %-12s %8s %9s %10s %9s %7s %8s\n", "LINE", "ROLE", "PREFIX",
	       "PORTS", "BINDS", "CONNECTS", "MADE-MPTCP", "KEPT-TCP", "MPTCP", "FALLBACK");
	lines_fd = run_lines_fd(r);
	for (i = 0; i < n && i < c->nr_entries; i++) {
		struct json_object *je = json_object_array_get_idx(r->entries, i);
		struct mu_line_counters wire;
		char m[24] = "-", f[24] = "-";

		if (run_wire(r, lines_fd, i, &wire)) {
			snprintf(m, sizeof(m), "%llu", (unsigned long long)wire.mptcp);
			if (run_fallback_known(je))
				snprintf(f, sizeof(f), "%llu", (unsigned long long)wire.fallback);
		}
		printf("  %-6d %-8s %-28s %-12s %8llu %9llu %10llu %9llu %7s %8s\n",
		       json_int(je, "line"), json_str(je, "role"), json_str(je, "prefix"),
		       json_str(je, "ports"), (unsigned long long)c->line[i].binds,
		       (unsigned long long)c->line[i].connects, (unsigned long long)c->line[i].mptcp,
		       (unsigned long long)c->line[i].kept_tcp, m, f);
	}
	if (lines_fd >= 0)
		close(lines_fd);
}
