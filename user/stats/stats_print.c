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

#include "common/cgroup.h"
#include "common/diag.h"
#include "stats.h"
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
	for (i = 0; i < p->served->nr; i++) {
		const struct served *sv = &p->served->list[i];

		if (sv->cgroup)
			printf("\npolicy lines of %s:\n", sv->cgroup);
		else if (served_label(sv, "container"))
			printf("\npolicy lines of container %s%s%s%s%s (run supervisor %d):\n",
			       served_label(sv, "container"),
			       served_label(sv, "pod") ? ", pod " : "",
			       served_label(sv, "namespace") ?: "",
			       served_label(sv, "namespace") ? "/" : "",
			       served_label(sv, "pod") ?: "", (int)sv->supervisor);
		else
			printf("\npolicy lines of run supervisor %d (program %d):\n",
			       (int)sv->supervisor, (int)sv->program);
		printf("  %-6s %-32s %8s %9s %7s %9s\n", "LINE", "ADDRESS", "BINDS", "CONNECTS",
		       "MPTCP", "FALLBACK");
		for (j = 0; j < sv->nr_lines; j++) {
			const struct served_line *l = &sv->lines[j];

			printf("  %-6d %-32s %8llu %9llu %7llu %9llu\n", l->line, l->source,
			       served_event(l, "bind"), served_event(l, "connect"),
			       served_event(l, "mptcp"), served_event(l, "fallback"));
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

static void subflow_json(struct jsonw *w, const struct mu_subflow *sf)
{
	jw_object_start(w);
	endpoint_json(w, "local", &sf->local);
	endpoint_json(w, "remote", &sf->remote);
	jw_key(w, "state");
	jw_string(w, tcp_state(sf->state));
	jw_kv_u64(w, "id_local", sf->id_loc);
	jw_kv_u64(w, "id_remote", sf->id_rem);
	jw_key(w, "backup");
	jw_bool(w, sf->flags & (MPTCP_SUBFLOW_FLAG_BKUP_LOC | MPTCP_SUBFLOW_FLAG_BKUP_REM));
	jw_kv_u64(w, "rtt_us", sf->rtt_us);
	jw_kv_u64(w, "cwnd", sf->cwnd);
	jw_kv_u64(w, "retransmits", sf->total_retrans);
	jw_kv_u64(w, "bytes_acked", sf->bytes_acked);
	jw_kv_u64(w, "bytes_received", sf->bytes_received);
	jw_kv_u64(w, "delivery_rate", sf->delivery_rate);
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
	jw_kv_u64(w, "token", c->info.token);
	jw_key(w, "fallback");
	jw_bool(w, fell_back(c));
	jw_kv_u64(w, "netns", c->netns);
	jw_kv_u64(w, "cgroup_id", c->cgroup_id);
	jw_kv_u64(w, "subflows", c->nr_subflows);
	if (MU_INFO_HAS(c, subflows_total))
		jw_kv_u64(w, "subflows_total", c->info.subflows_total);
	if (MU_INFO_HAS(c, bytes_acked)) {
		jw_kv_u64(w, "bytes_sent", c->info.bytes_sent);
		jw_kv_u64(w, "bytes_received", c->info.bytes_received);
		jw_kv_u64(w, "bytes_acked", c->info.bytes_acked);
		jw_kv_u64(w, "bytes_retrans", c->info.bytes_retrans);
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
	if (lr.by && lr.by->cgroup) {
		jw_key(w, "attached_cgroup");
		jw_string(w, lr.by->cgroup);
	}
	if (lr.by && lr.by->supervisor)
		jw_kv_u64(w, "run_supervisor", lr.by->supervisor);
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
	for (i = 0; i < p->served->nr; i++) {
		const struct served *sv = &p->served->list[i];

		for (j = 0; j < sv->nr_lines; j++) {
			const struct served_line *l = &sv->lines[j];
			size_t k;

			jw_object_start(w);
			if (sv->cgroup)
				jw_kv_string(w, "cgroup", sv->cgroup);
			else
				jw_kv_u64(w, "run_supervisor", sv->supervisor);
			jw_kv_int(w, "line", l->line);
			jw_kv_string(w, "source", l->source);
			/* The events the engine counts: binds, connects, then its own. */
			for (k = 0; k < l->nr_events; k++) {
				const char *name = l->events[k].name;

				jw_kv_u64(w, !strcmp(name, "bind") ? "binds" :
					     !strcmp(name, "connect") ? "connects" : name,
					  l->events[k].value);
			}
			jw_object_end(w);
		}
	}
	jw_array_end(w);
	jw_key(w, "namespaces");
	jw_array_start(w);
	for (i = 0; i < s->nr_mib; i++) {
		struct joins_refused jr = joins_refused(&s->mib[i]);

		jw_object_start(w);
		jw_kv_u64(w, "netns", s->mib[i].netns);
		jw_key(w, "multipath_offered");
		jw_bool(w, s->mib[i].offers_multipath);
		jw_key(w, "path_manager");
		jw_string(w, s->mib[i].pm_verdict);
		jw_kv_u64(w, "single_path_connections", s->mib[i].totals.single_path);
		jw_key(w, "joins_refused");
		jw_object_start(w);
		jw_kv_u64(w, "limits", jr.rejected);
		jw_kv_u64(w, "no_token", jr.no_token);
		jw_kv_u64(w, "hmac", jr.hmac);
		jw_object_end(w);
		jw_key(w, "mptcp_mib");
		jw_object_start(w);
		for (j = 0; j < s->mib[i].nr; j++)
			jw_kv_u64(w, s->mib[i].c[j].name, s->mib[i].c[j].value);
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

/* The labels that name what an engine serves: cgroup="...", or program, supervisor, unit. */
static void prom_labels(const struct served_label *l, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		printf("%s%s=\"", i ? "," : "", l[i].name);
		prom_label(l[i].value);
		printf("\"");
	}
}

/*
 * A line with several addresses is several entries of one line number: its
 * series are written once, by its first entry, with the sums of all.
 */
static bool first_of_line(const struct served *sv, size_t j)
{
	size_t k;

	for (k = 0; k < j; k++)
		if (sv->lines[k].line == sv->lines[j].line)
			return false;
	return true;
}

static unsigned long long line_event_sum(const struct served *sv, size_t j, const char *name)
{
	unsigned long long sum = 0;
	size_t k;

	for (k = j; k < sv->nr_lines; k++)
		if (sv->lines[k].line == sv->lines[j].line)
			sum += served_event(&sv->lines[k], name);
	return sum;
}

/* Where record @sv's entry @entry (index + 1) has its live bytes in p->live. */
static size_t live_slot(const struct served_set *set, const struct served *sv, size_t entry)
{
	size_t i, at = 0;

	for (i = 0; i < set->nr && &set->list[i] != sv; i++)
		at += set->list[i].nr_lines;
	return at + entry - 1;
}

/*
 * Per line, the bytes of its closed subflows (the engine's count) and of its
 * live ones (this snapshot's): a counter that does not fall when connections
 * close. Entries of one line (several addresses on it) are summed: the series
 * are per line, as the labels say.
 */
static void prometheus_line_bytes(const struct printer *p, int dir, const char *name,
				  const char *help)
{
	const struct served_set *set = p->served;
	size_t i, j, k;

	prom_head(name, "counter", help);
	for (i = 0; i < set->nr; i++) {
		const struct served *sv = &set->list[i];

		for (j = 0; j < sv->nr_lines; j++) {
			unsigned long long sum = 0;

			if (!sv->lines[j].has_bytes || !first_of_line(sv, j))
				continue;
			for (k = j; k < sv->nr_lines; k++) {
				if (sv->lines[k].line != sv->lines[j].line)
					continue;
				sum += sv->lines[k].closed_bytes[dir];
				if (p->live)
					sum += p->live[live_slot(set, sv, k + 1)][dir];
			}
			printf("%s{", name);
			prom_labels(sv->labels, sv->nr_labels);
			printf(",line=\"%d\"} %llu\n", sv->lines[j].line, sum);
		}
	}
}

/* Every cgroup's and program's per-line series, and their options'. */
static void prometheus_served(const struct printer *p)
{
	const struct served_set *set = p->served;
	size_t i, j, k;

	if (!set->nr)
		return;
	prom_head("mptcp_upgrade_policy_line_events_total", "counter",
		  "Binds and connects that matched a policy line, and of its connections "
		  "those that negotiated MPTCP or fell back; escaped: binds and connects "
		  "of TCP sockets that escaped the upgrade. Under run, by program: "
		  "made_mptcp and kept_tcp, the sockets the supervisor swapped or kept.");
	for (i = 0; i < set->nr; i++)
		for (j = 0; j < set->list[i].nr_lines; j++) {
			const struct served_line *l = &set->list[i].lines[j];

			if (!first_of_line(&set->list[i], j))
				continue;
			for (k = 0; k < l->nr_events; k++) {
				printf("mptcp_upgrade_policy_line_events_total{");
				prom_labels(set->list[i].labels, set->list[i].nr_labels);
				printf(",line=\"%d\",event=\"%s\"} %llu\n", l->line,
				       l->events[k].name, line_event_sum(&set->list[i], j,
									 l->events[k].name));
			}
		}
	prometheus_line_bytes(p, 0, "mptcp_upgrade_policy_line_sent_bytes_total",
			      "Bytes the line's connections sent and the peer acknowledged, summed "
			      "over their subflows (TCP level: each byte once, retransmissions not "
			      "again), of closed subflows and live ones; counted by the bridge.");
	prometheus_line_bytes(p, 1, "mptcp_upgrade_policy_line_received_bytes_total",
			      "Bytes the line's connections received in order, summed over their "
			      "subflows (TCP level), of closed subflows and live ones; counted by "
			      "the bridge.");
	prom_head("mptcp_upgrade_sockopts_total", "counter",
		  "setsockopt() calls on the engine's MPTCP sockets for options MPTCP "
		  "refuses: carried to the subflows by the bridge, refused (nothing can "
		  "carry them), or refused by a subflow. Options never set are absent. "
		  "Under run, not_carried: listed sockets kept TCP because they had set it.");
	for (i = 0; i < set->nr; i++)
		for (j = 0; j < set->list[i].nr_sockopts; j++) {
			const struct served_sockopt *o = &set->list[i].sockopts[j];

			printf("mptcp_upgrade_sockopts_total{");
			prom_labels(set->list[i].labels, set->list[i].nr_labels);
			printf(",option=\"%s\",result=\"%s\"} %llu\n", o->option, o->result,
			       o->value);
		}
}

/* The engines' health series (> 0: 'mptcp-upgrade reload' repairs it, say). */
static void prometheus_health(const struct printer *p)
{
	const struct served_set *set = p->served;
	size_t i, j;

	for (i = 0; i < set->nr_series; i++) {
		const struct served_series *se = &set->series[i];

		prom_head(se->name, "gauge", se->help);
		for (j = 0; j < se->nr_samples; j++) {
			printf("%s", se->name);
			if (se->samples[j].nr_labels) {
				printf("{");
				prom_labels(se->samples[j].labels, se->samples[j].nr_labels);
				printf("}");
			}
			printf(" %llu\n", se->samples[j].value);
		}
	}
}

void prometheus_build_info(void)
{
	prom_head("mptcp_upgrade_build_info", "gauge",
		  "The mptcp-upgrade that wrote these metrics: version and attach engine ABI.");
	printf("mptcp_upgrade_build_info{version=\"%s\",engine_abi=\"%u\"} 1\n",
	       MPTCP_UPGRADE_VERSION, MU_ENGINE_ABI);
}

static void prometheus_end(const struct printer *p, const struct snapshot *s)
{
	static const char *const dirs[] = { "sent", "received", "acked", "retransmitted" };
	size_t i, j, k;

	prometheus_build_info();

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
	prometheus_served(p);
	prometheus_health(p);
	prom_head("mptcp_upgrade_netns_mib_total", "counter",
		  "The network namespaces' MPTcpExt counters (/proc/net/netstat).");
	for (i = 0; i < s->nr_mib; i++)
		for (j = 0; j < s->mib[i].nr; j++)
			printf("mptcp_upgrade_netns_mib_total{netns=\"%lu\",counter=\"%s\"} %llu\n",
			       s->mib[i].netns, s->mib[i].c[j].name, s->mib[i].c[j].value);
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

	/* A line's bytes, whatever the filters: its counter must not fall. */
	if (lr.entry && p->a->prometheus) {
		size_t total = 0, i, at;

		for (i = 0; i < p->served->nr; i++)
			total += p->served->list[i].nr_lines;
		if (!p->live)
			p->live = calloc(total, sizeof(*p->live));
		if (!p->live)
			return -ENOMEM;
		at = live_slot(p->served, lr.by, lr.entry);
		for (i = 0; i < c->nr_subflows; i++) {
			p->live[at][0] += c->subflows[i].bytes_acked;
			p->live[at][1] += c->subflows[i].bytes_received;
		}
	}
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
	free(p->live);
	p->live = NULL;
}
