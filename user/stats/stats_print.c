// SPDX-License-Identifier: GPL-2.0-only
/* stats: a snapshot as a table for people, JSON, or Prometheus text. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
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

#include "bridge/bridge.h"
#include "common/cgroup.h"
#include "common/diag.h"
#include "run/run.h"
#include "stats.h"
#include "attach/engine.h"
#include "common/jsonw.h"
#include "common/netns.h"
#include "common/output.h"
#include "common/utf8.h"
#include "common/sys.h"

/* ---- formatting ------------------------------------------------------------------ */

static const char *tcp_state(__u8 s)
{
	static const char *const names[] = {
		"?", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2",
		"time-wait", "close", "close-wait", "last-ack", "listen", "closing",
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void fmt_bytes(unsigned long long b, char *out, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void fmt_rate(unsigned long long bytes_per_s, char *out, size_t size)
{
	static const char *const units[] = { "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s" };
	double v = bytes_per_s * 8.0;
	int u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(out, size, "%.1f %s", v, units[u]);
}

static bool mib_matters(const char *name)
{
	return !strncmp(name, "MPCapable", 9) || !strncmp(name, "MPJoin", 6) ||
	       strstr(name, "Fallback");
}

/* Joins this namespace refused, by the kernel's reason. */
struct joins_refused {
	unsigned long long rejected, no_token, hmac;
};

static struct joins_refused joins_refused(const struct ns_mib *m)
{
	return (struct joins_refused){
		.rejected = mib_value(m, "MPJoinRejected"),
		.no_token = mib_value(m, "MPJoinNoTokenFound"),
		.hmac = mib_value(m, "MPJoinSynAckHMacFailure") +
			mib_value(m, "MPJoinAckHMacFailure"),
	};
}

/* A namespace's path manager, the connections that kept one path, and refused joins. */
static void print_multipath(const struct ns_mib *m)
{
	struct joins_refused j = joins_refused(m);
	unsigned long long one = m->totals.single_path;

	printf("\nmultipath, network namespace %lu: %s\n", m->netns, m->pm_verdict);
	if (one)
		printf("  ONE PATH   %llu connection%s had no second subflow although this side "
		       "offers one: the peer did not take it (its add_addr_accepted is 0, or it "
		       "has no route or endpoint for the announced address)\n", one,
		       one == 1 ? "" : "s");
	if (j.rejected)
		printf("  refused    %llu join%s (MPJoinRejected): over this side's limits (ip "
		       "mptcp limits: subflows), or to the initial address with "
		       "allow_join_initial_addr_port 0\n", j.rejected, j.rejected == 1 ? "" : "s");
	if (j.no_token)
		printf("  refused    %llu join%s for connections this host does not know "
		       "(MPJoinNoTokenFound): behind a load balancer, joins sent to the shared "
		       "address reach another server\n", j.no_token, j.no_token == 1 ? "" : "s");
	if (j.hmac)
		printf("  refused    %llu join%s that failed authentication (HMAC): a middlebox "
		       "changing options, or a forged join\n", j.hmac, j.hmac == 1 ? "" : "s");
}

/* A connection and its subflows, for people. */
static void conn_table(const struct mu_conn *c, struct line_ref lr, bool one)
{
	char l[64], r[64], b1[32], b2[32], b3[32], b4[32];
	size_t j;

	endpoint_str(&c->local, l, sizeof(l));
	endpoint_str(&c->remote, r, sizeof(r));
	printf("%s -> %s  %s  token %08x  %s  subflows %u", l, r, tcp_state(c->state),
	       c->info.token, fell_back(c) ? "FALLBACK" : "MPTCP", c->nr_subflows);
	if (MU_INFO_HAS(c, subflows_total))
		printf(" (%u total)", c->info.subflows_total);
	if (lr.line)
		printf("  line %d %s", lr.line, lr.source ? lr.source : "");
	else if (lr.ours)
		printf("  unlisted");
	if (one)
		printf("  ONE PATH");
	printf("\n");
	if (MU_INFO_HAS(c, bytes_acked)) {
		fmt_bytes(c->info.bytes_sent, b1, sizeof(b1));
		fmt_bytes(c->info.bytes_received, b2, sizeof(b2));
		fmt_bytes(c->info.bytes_acked, b3, sizeof(b3));
		fmt_bytes(c->info.bytes_retrans, b4, sizeof(b4));
		printf("    sent %s, received %s, acked %s, retransmitted %s\n", b1, b2, b3, b4);
	}
	for (j = 0; j < c->nr_subflows; j++) {
		const struct mu_subflow *sf = &c->subflows[j];

		endpoint_str(&sf->local, l, sizeof(l));
		endpoint_str(&sf->remote, r, sizeof(r));
		fmt_bytes(sf->bytes_acked, b1, sizeof(b1));
		fmt_bytes(sf->bytes_received, b2, sizeof(b2));
		fmt_rate(sf->delivery_rate, b3, sizeof(b3));
		if (sf->rtt_us < 1000)
			snprintf(b4, sizeof(b4), "%u us", sf->rtt_us);
		else
			snprintf(b4, sizeof(b4), "%.2f ms", sf->rtt_us / 1000.0);
		printf("    %s %s -> %s  %s  id %u/%u%s  rtt %s  cwnd %u  retrans %u  "
		       "acked %s  received %s  rate %s\n",
		       j + 1 == c->nr_subflows ? "`-" : "|-", l, r, tcp_state(sf->state),
		       sf->id_loc, sf->id_rem,
		       sf->flags & (MPTCP_SUBFLOW_FLAG_BKUP_LOC | MPTCP_SUBFLOW_FLAG_BKUP_REM) ?
		       " backup" : "", b4, sf->cwnd, sf->total_retrans, b1, b2, b3);
	}
}

static void table_end(const struct printer *p, const struct snapshot *s)
{
	size_t i, j;

	printf("%zu MPTCP connection%s in %zu network namespace%s\n", p->shown,
	       p->shown == 1 ? "" : "s", s->nr_mib, s->nr_mib == 1 ? "" : "s");
	for (i = 0; i < p->nr; i++) {
		size_t n = attachment_rows(&p->list[i]);

		printf("\npolicy lines of %s:\n  %-6s %-32s %8s %9s %7s %9s\n", p->list[i].cgroup,
		       "LINE", "ADDRESS", "BINDS", "CONNECTS", "MPTCP", "FALLBACK");
		for (j = 0; j < n; j++) {
			struct policy_row r;

			attachment_row(p->e, &p->list[i], j, &r);
			printf("  %-6d %-32s %8llu %9llu %7llu %9llu\n", r.line, r.source,
			       (unsigned long long)r.counters.binds,
			       (unsigned long long)r.counters.connects,
			       (unsigned long long)r.counters.mptcp,
			       (unsigned long long)r.counters.fallback);
		}
	}
	for (i = 0; i < s->nr_mib; i++)
		print_multipath(&s->mib[i]);
	for (i = 0; i < s->nr_mib; i++) {
		bool any = false;

		for (j = 0; j < s->mib[i].nr; j++) {
			const struct mib_counter *m = &s->mib[i].c[j];

			if (!m->value || !mib_matters(m->name))
				continue;
			if (!any)
				printf("\nMPTcpExt, network namespace %lu:\n", s->mib[i].netns);
			any = true;
			printf("  %-32s %llu\n", m->name, m->value);
		}
	}
}

static void endpoint_json(struct jsonw *w, const char *key, const struct mu_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(ep->family, ep->addr, ip, sizeof(ip));
	jw_key(w, key);
	jw_object_start(w);
	jw_key(w, "address");
	jw_string(w, ip);
	jw_key(w, "port");
	jw_u64(w, ep->port);
	jw_object_end(w);
}

static void kv_u64(struct jsonw *w, const char *key, unsigned long long v)
{
	jw_key(w, key);
	jw_u64(w, v);
}

static void subflow_json(struct jsonw *w, const struct mu_subflow *sf)
{
	jw_object_start(w);
	endpoint_json(w, "local", &sf->local);
	endpoint_json(w, "remote", &sf->remote);
	jw_key(w, "state");
	jw_string(w, tcp_state(sf->state));
	kv_u64(w, "id_local", sf->id_loc);
	kv_u64(w, "id_remote", sf->id_rem);
	jw_key(w, "backup");
	jw_bool(w, sf->flags & (MPTCP_SUBFLOW_FLAG_BKUP_LOC | MPTCP_SUBFLOW_FLAG_BKUP_REM));
	kv_u64(w, "rtt_us", sf->rtt_us);
	kv_u64(w, "cwnd", sf->cwnd);
	kv_u64(w, "retransmits", sf->total_retrans);
	kv_u64(w, "bytes_acked", sf->bytes_acked);
	kv_u64(w, "bytes_received", sf->bytes_received);
	kv_u64(w, "delivery_rate", sf->delivery_rate);
	jw_object_end(w);
}

static void conn_json(struct jsonw *w, const struct mu_conn *c, struct line_ref lr, bool one)
{
	size_t j;

	jw_object_start(w);
	endpoint_json(w, "local", &c->local);
	endpoint_json(w, "remote", &c->remote);
	jw_key(w, "state");
	jw_string(w, tcp_state(c->state));
	kv_u64(w, "token", c->info.token);
	jw_key(w, "fallback");
	jw_bool(w, fell_back(c));
	kv_u64(w, "netns", c->netns);
	kv_u64(w, "cgroup_id", c->cgroup_id);
	kv_u64(w, "subflows", c->nr_subflows);
	if (MU_INFO_HAS(c, subflows_total))
		kv_u64(w, "subflows_total", c->info.subflows_total);
	if (MU_INFO_HAS(c, bytes_acked)) {
		kv_u64(w, "bytes_sent", c->info.bytes_sent);
		kv_u64(w, "bytes_received", c->info.bytes_received);
		kv_u64(w, "bytes_acked", c->info.bytes_acked);
		kv_u64(w, "bytes_retrans", c->info.bytes_retrans);
	}
	jw_key(w, "upgraded");
	jw_bool(w, lr.ours);
	jw_key(w, "single_path");
	jw_bool(w, one);
	jw_key(w, "line");
	if (lr.line)
		jw_u64(w, lr.line);
	else
		jw_null(w);
	if (lr.att) {
		jw_key(w, "attached_cgroup");
		jw_string(w, lr.att->cgroup);
	}
	if (lr.run)
		kv_u64(w, "run_supervisor", lr.run->supervisor);
	jw_key(w, "subflow_list");
	jw_array_start(w);
	for (j = 0; j < c->nr_subflows; j++)
		subflow_json(w, &c->subflows[j]);
	jw_array_end(w);
	jw_object_end(w);
}

static void json_end(struct printer *p, const struct snapshot *s)
{
	struct jsonw *w = &p->w;
	size_t i, j;

	jw_array_end(w);	/* the connections, streamed before */
	jw_key(w, "policy_lines");
	jw_array_start(w);
	for (i = 0; i < p->nr; i++) {
		size_t n = attachment_rows(&p->list[i]);

		for (j = 0; j < n; j++) {
			struct policy_row r;

			attachment_row(p->e, &p->list[i], j, &r);
			jw_object_start(w);
			jw_key(w, "cgroup");
			jw_string(w, p->list[i].cgroup);
			jw_key(w, "line");
			jw_int(w, r.line);
			jw_key(w, "source");
			jw_string(w, r.source);
			kv_u64(w, "binds", r.counters.binds);
			kv_u64(w, "connects", r.counters.connects);
			kv_u64(w, "mptcp", r.counters.mptcp);
			kv_u64(w, "fallback", r.counters.fallback);
			kv_u64(w, "escaped", r.counters.escaped);
			jw_object_end(w);
		}
	}
	jw_array_end(w);
	jw_key(w, "namespaces");
	jw_array_start(w);
	for (i = 0; i < s->nr_mib; i++) {
		struct joins_refused jr = joins_refused(&s->mib[i]);

		jw_object_start(w);
		kv_u64(w, "netns", s->mib[i].netns);
		jw_key(w, "multipath_offered");
		jw_bool(w, s->mib[i].offers_multipath);
		jw_key(w, "path_manager");
		jw_string(w, s->mib[i].pm_verdict);
		kv_u64(w, "single_path_connections", s->mib[i].totals.single_path);
		jw_key(w, "joins_refused");
		jw_object_start(w);
		kv_u64(w, "limits", jr.rejected);
		kv_u64(w, "no_token", jr.no_token);
		kv_u64(w, "hmac", jr.hmac);
		jw_object_end(w);
		jw_key(w, "mptcp_mib");
		jw_object_start(w);
		for (j = 0; j < s->mib[i].nr; j++)
			kv_u64(w, s->mib[i].c[j].name, s->mib[i].c[j].value);
		jw_object_end(w);
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_object_end(w);
	jw_end(w);
}

/* A label value with \, " and newlines escaped, as the exposition format wants. */
static void prom_label(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n;

	while (*p) {
		if (*p == '\\' || *p == '"') {
			printf("\\%c", *p++);
		} else if (*p == '\n') {
			printf("\\n");
			p++;
		} else if ((n = utf8_seq_len(p))) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else {
			fputs(UTF8_REPLACEMENT, stdout);	/* the format is UTF-8 */
			p++;
		}
	}
}

static void prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* What a run supervisor's series need, read once a scrape: its counters and labels. */
struct run_prom {
	struct run_counters *c;		/* NULL when they can't be read now */
	char comm[64];			/* the program's name */
	char unit[256];			/* its systemd unit, "" if none */
};

static void run_prom_read(const struct run_entry *r, struct run_prom *v)
{
	char path[64], line[PATH_MAX], *u, *end;
	FILE *f;

	memset(v, 0, sizeof(*v));
	v->c = run_counters_read(r->supervisor, r->sha256);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)r->program);
	f = fopen(path, "re");
	if (f && fgets(v->comm, sizeof(v->comm), f))
		v->comm[strcspn(v->comm, "\n")] = '\0';
	if (f)
		fclose(f);
	/* The unit: the last *.service or *.scope of its cgroup path (cgroup v2: "0::PATH"). */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)r->program);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (u = strtok_r(line + 3, "/", &end); u; u = strtok_r(NULL, "/", &end)) {
			size_t n = strlen(u);

			if ((n > 8 && !strcmp(u + n - 8, ".service")) ||
			    (n > 6 && !strcmp(u + n - 6, ".scope")))
				snprintf(v->unit, sizeof(v->unit), "%s", u);
		}
	}
	if (f)
		fclose(f);
}

/* The labels that name a program under run: its name, its supervisor, its unit if any. */
static void prom_run_labels(const struct run_entry *r, const struct run_prom *v)
{
	printf("program=\"");
	prom_label(v->comm);
	printf("\",supervisor=\"%d\",unit=\"", (int)r->supervisor);
	prom_label(v->unit);
	printf("\"");
}

/*
 * The run supervisors' per-line series, under the attach engine's names and
 * labelled by program: calls that matched each line, sockets made MPTCP or
 * kept TCP, and (with the bridge) connections that negotiated or fell back.
 */
static void prometheus_run_lines(const struct printer *p, const struct run_prom *views)
{
	static const char *const events[] = { "bind", "connect", "made_mptcp", "kept_tcp",
					      "mptcp", "fallback" };
	size_t i, j, k, n;

	for (i = 0; i < p->nr_runs; i++) {
		const struct run_entry *r = &p->runs[i];
		const struct run_counters *c = views[i].c;
		int lines_fd = r->lines_map_id ? bpf_map_get_fd_by_id(r->lines_map_id) : -1;

		n = r->entries ? json_object_array_length(r->entries) : 0;
		for (j = 0; c && j < n && j < c->nr_entries; j++) {
			struct json_object *je = json_object_array_get_idx(r->entries, j), *v;
			struct mu_line_counters wire = {};
			bool have = lines_fd >= 0 && !line_counters_sum(lines_fd, 0, j, &wire);
			__u64 vals[6] = { c->line[j].binds, c->line[j].connects, c->line[j].mptcp,
					  c->line[j].kept_tcp, wire.mptcp, wire.fallback };
			int line = json_object_object_get_ex(je, "line", &v) ? json_object_get_int(v) : 0;

			for (k = 0; k < 6; k++) {
				if (k >= 4 && !have)
					continue;	/* no bridge: the wire is not known */
				printf("mptcp_upgrade_policy_line_events_total{");
				prom_run_labels(r, &views[i]);
				printf(",line=\"%d\",event=\"%s\"} %llu\n", line, events[k],
				       (unsigned long long)vals[k]);
			}
		}
		if (lines_fd >= 0)
			close(lines_fd);
	}
}

/*
 * Their options: those the bridge carried or that were refused on the
 * supervisor's MPTCP sockets, and those that kept a listed socket TCP.
 */
static void prometheus_run_sockopts(const struct printer *p, const struct run_prom *views)
{
	static const char *const results[] = { "carried", "refused", "subflow_refused" };
	struct mu_sockopt_counters sc[MU_SOPT_MAX];
	size_t i, j, k;

	for (i = 0; i < p->nr_runs; i++) {
		const struct run_entry *r = &p->runs[i];
		const struct run_counters *c = views[i].c;
		int fd = r->bridge_map_id ? bpf_map_get_fd_by_id(r->bridge_map_id) : -1;
		bool summed = fd >= 0 && !sockopt_counters_sum(fd, 0, sc);

		for (j = 0; summed && j < MU_SOPT_MAX; j++) {
			__u64 vals[3] = { sc[j].carried, sc[j].refused, sc[j].apply_failed };

			if (!vals[0] && !vals[1] && !vals[2])
				continue;
			for (k = 0; k < 3; k++) {
				printf("mptcp_upgrade_sockopts_total{");
				prom_run_labels(r, &views[i]);
				printf(",option=\"%s\",result=\"%s\"} %llu\n", sockopt_name((int)j),
				       results[k], (unsigned long long)vals[k]);
			}
		}
		for (j = 0; c && run_option_label(j); j++) {
			if (!c->refused[j])
				continue;
			printf("mptcp_upgrade_sockopts_total{");
			prom_run_labels(r, &views[i]);
			printf(",option=\"%s\",result=\"not_carried\"} %llu\n", run_option_label(j),
			       (unsigned long long)c->refused[j]);
		}
		if (fd >= 0)
			close(fd);
	}
}

/*
 * What the attachments need and the kernel does not run, as a gauge an alert
 * can use (> 0: 'mptcp-upgrade reload' repairs it). While an engine is loaded
 * every program it needs is written, 0 or not, so that a series that vanished
 * never reads as healthy; with none loaded there is nothing to need.
 */
static void prometheus_missing(const struct printer *p)
{
	struct engine_tc_gaps g = {};
	unsigned int missing;
	size_t i;
	int prog;

	prom_head("mptcp_upgrade_programs_missing", "gauge",
		  "Programs of the attach engine the kernel does not run where they must be: 1 "
		  "for the hook or a cgroup's program, interfaces for tcx. 'mptcp-upgrade "
		  "reload' repairs them.");
	if (p->e->loaded) {
		printf("mptcp_upgrade_programs_missing{program=\"%s\",cgroup=\"\"} %d\n",
		       HOOK_PROG_LABEL, !engine_hook_link(p->e, NULL));
		engine_tc_gaps(p->e, p->list, p->nr, &g);
		for (i = 0; i < 2; i++)
			printf("mptcp_upgrade_programs_missing{program=\"%s\",cgroup=\"\"} %d\n",
			       engine_prog_name(EP_TC_INGRESS + i), g.missing[i]);
	}
	for (i = 0; i < p->nr; i++) {
		if (cgroup_alive(p->list[i].cgroup, p->list[i].cgroup_id) == 0 ||
		    engine_missing_links(p->e, &p->list[i], &missing))
			missing = 0;
		for (prog = 0; prog < EP_CGROUP_MAX; prog++) {
			printf("mptcp_upgrade_programs_missing{program=\"%s\",cgroup=\"",
			       engine_prog_name(prog));
			prom_label(p->list[i].cgroup);
			printf("\"} %d\n", !!(missing & (1U << prog)));
		}
	}
	prom_head("mptcp_upgrade_attachments_lost", "gauge",
		  "Attachments whose engine's pins are gone (bpffs unmounted): they apply "
		  "nothing until 'mptcp-upgrade reload' restores them.");
	printf("mptcp_upgrade_attachments_lost %zu\n", engine_lost_count());
}

static void prometheus_end(const struct printer *p, const struct snapshot *s)
{
	static const char *const dirs[] = { "sent", "received", "acked", "retransmitted" };
	const struct attachment *list = p->list;
	size_t i, j, k, nr = p->nr;
	struct run_prom *views = p->nr_runs ? calloc(p->nr_runs, sizeof(*views)) : NULL;
	struct printer shown = *p;

	/* Read once for both series; without memory, the run series are left out. */
	if (!views)
		shown.nr_runs = 0;
	for (i = 0; i < shown.nr_runs; i++)
		run_prom_read(&p->runs[i], &views[i]);
	p = &shown;
	prom_head("mptcp_upgrade_build_info", "gauge",
		  "The mptcp-upgrade that wrote these metrics: version and attach engine ABI.");
	printf("mptcp_upgrade_build_info{version=\"%s\",engine_abi=\"%u\"} 1\n",
	       MPTCP_UPGRADE_VERSION, MU_ENGINE_ABI);

	prom_head("mptcp_upgrade_targets", "gauge", "Attached cgroups and programs under run.");
	printf("mptcp_upgrade_targets %zu\n", p->a->targets);
	prom_head("mptcp_upgrade_connections", "gauge",
		  "MPTCP connections of the cgroup subtree, by network namespace and fallback.");
	for (i = 0; i < s->nr_mib; i++)
		for (k = 0; k < 2; k++)
			printf("mptcp_upgrade_connections{netns=\"%lu\",fallback=\"%s\"} %llu\n",
			       s->mib[i].netns, k ? "true" : "false", s->mib[i].totals.conns[k]);
	prom_head("mptcp_upgrade_subflows", "gauge",
		  "Subflows of those connections, by network namespace.");
	for (i = 0; i < s->nr_mib; i++)
		printf("mptcp_upgrade_subflows{netns=\"%lu\"} %llu\n", s->mib[i].netns,
		       s->mib[i].totals.subflows);
	prom_head("mptcp_upgrade_single_path_connections", "gauge",
		  "Established connections with one subflow although this side's path manager "
		  "offers more.");
	for (i = 0; i < s->nr_mib; i++)
		printf("mptcp_upgrade_single_path_connections{netns=\"%lu\"} %llu\n",
		       s->mib[i].netns, s->mib[i].totals.single_path);
	prom_head("mptcp_upgrade_joins_refused_total", "counter",
		  "MP_JOIN requests this namespace refused, by reason (kernel MIB counters).");
	for (i = 0; i < s->nr_mib; i++) {
		struct joins_refused jr = joins_refused(&s->mib[i]);

		printf("mptcp_upgrade_joins_refused_total{netns=\"%lu\",reason=\"limits\"} %llu\n"
		       "mptcp_upgrade_joins_refused_total{netns=\"%lu\",reason=\"no_token\"} %llu\n"
		       "mptcp_upgrade_joins_refused_total{netns=\"%lu\",reason=\"hmac\"} %llu\n",
		       s->mib[i].netns, jr.rejected, s->mib[i].netns, jr.no_token,
		       s->mib[i].netns, jr.hmac);
	}
	prom_head("mptcp_upgrade_connection_bytes", "gauge",
		  "Bytes of the open connections (Linux 6.5 and later), by direction.");
	for (i = 0; i < s->nr_mib; i++)
		for (k = 0; k < 4; k++)
			printf("mptcp_upgrade_connection_bytes{netns=\"%lu\",direction=\"%s\"} "
			       "%llu\n", s->mib[i].netns, dirs[k], s->mib[i].totals.bytes[k]);
	if (nr || p->nr_runs) {
		static const char *const events[] = { "bind", "connect", "mptcp", "fallback",
						      "escaped" };

		prom_head("mptcp_upgrade_policy_line_events_total", "counter",
			  "Binds and connects that matched a policy line, and of its connections "
			  "those that negotiated MPTCP or fell back; escaped: binds and connects "
			  "of TCP sockets that escaped the upgrade. Under run, by program: "
			  "made_mptcp and kept_tcp, the sockets the supervisor swapped or kept.");
		for (i = 0; i < nr; i++) {
			size_t n = attachment_rows(&list[i]);

			for (j = 0; j < n; j++) {
				struct policy_row r;
				__u64 vals[5];

				attachment_row(p->e, &list[i], j, &r);
				vals[0] = r.counters.binds;
				vals[1] = r.counters.connects;
				vals[2] = r.counters.mptcp;
				vals[3] = r.counters.fallback;
				vals[4] = r.counters.escaped;
				for (k = 0; k < 5; k++) {
					printf("mptcp_upgrade_policy_line_events_total{cgroup=\"");
					prom_label(list[i].cgroup);
					printf("\",line=\"%d\",event=\"%s\"} %llu\n", r.line,
					       events[k], (unsigned long long)vals[k]);
				}
			}
		}
		prometheus_run_lines(p, views);
	}
	if (nr || p->nr_runs) {
		static const char *const results[] = { "carried", "refused", "subflow_refused" };
		struct mu_sockopt_counters c[MU_SOPT_MAX];

		prom_head("mptcp_upgrade_sockopts_total", "counter",
			  "setsockopt() calls on the engine's MPTCP sockets for options MPTCP "
			  "refuses: carried to the subflows by the bridge, refused (nothing can "
			  "carry them), or refused by a subflow. Options never set are absent. "
			  "Under run, kept_tcp: listed sockets kept TCP because they had set it.");
		prometheus_run_sockopts(p, views);
		for (i = 0; i < nr; i++) {
			if (sockopt_counters_sum(p->e->map_fd[EM_SOCKOPT_COUNTERS], list[i].id, c))
				continue;
			for (j = 0; j < MU_SOPT_MAX; j++) {
				__u64 vals[3] = { c[j].carried, c[j].refused, c[j].apply_failed };

				if (!vals[0] && !vals[1] && !vals[2])
					continue;
				for (k = 0; k < 3; k++) {
					printf("mptcp_upgrade_sockopts_total{cgroup=\"");
					prom_label(list[i].cgroup);
					printf("\",option=\"%s\",result=\"%s\"} %llu\n",
					       sockopt_name((int)j), results[k],
					       (unsigned long long)vals[k]);
				}
			}
		}
	}
	prometheus_missing(p);
	prom_head("mptcp_upgrade_netns_mib_total", "counter",
		  "The network namespaces' MPTcpExt counters (/proc/net/netstat).");
	for (i = 0; i < s->nr_mib; i++)
		for (j = 0; j < s->mib[i].nr; j++)
			printf("mptcp_upgrade_netns_mib_total{netns=\"%lu\",counter=\"%s\"} %llu\n",
			       s->mib[i].netns, s->mib[i].c[j].name, s->mib[i].c[j].value);
	for (i = 0; i < shown.nr_runs; i++)
		free(views[i].c);
	free(views);
}


/* The JSON document is opened by the first thing written, so that a snapshot that fails first writes nothing. */
static void start(struct printer *p)
{
	if (p->started)
		return;
	p->started = true;
	if (opts.json) {
		jw_init(&p->w, stdout, opts.pretty);
		jw_object_start(&p->w);
		jw_key(&p->w, "connections");
		jw_array_start(&p->w);
	}
}

int print_conn(const struct mu_conn *c, struct ns_mib *ns, void *printer)
{
	struct printer *p = printer;
	struct line_ref lr = line_of(c, p);
	struct ns_totals *t = &ns->totals;
	bool one;

	if (!wanted(p->a, c, lr))
		return 0;
	one = single_path(ns, c);
	p->shown++;
	t->conns[fell_back(c)]++;
	t->subflows += c->nr_subflows;
	t->single_path += one;
	if (MU_INFO_HAS(c, bytes_acked)) {
		t->bytes[0] += c->info.bytes_sent;
		t->bytes[1] += c->info.bytes_received;
		t->bytes[2] += c->info.bytes_acked;
		t->bytes[3] += c->info.bytes_retrans;
	}
	if (p->a->prometheus)
		return 0;	/* totals only */
	start(p);
	if (opts.json)
		conn_json(&p->w, c, lr, one);
	else
		conn_table(c, lr, one);
	return 0;
}

void print_end(struct printer *p, const struct snapshot *s)
{
	start(p);
	if (opts.json)
		json_end(p, s);
	else if (p->a->prometheus)
		prometheus_end(p, s);
	else
		table_end(p, s);
}
