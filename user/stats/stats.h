/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `mptcp-upgrade stats` in three parts: cmd_stats.c reads the command line,
 * stats_gather.c takes a snapshot (sock_diag in every namespace of the
 * subtree, the MPTcpExt counters), stats_print.c shows it as a table, JSON or
 * Prometheus text. The connections are not kept: each goes to the printer as
 * its dump arrives, which shows it and adds it to its namespace's totals, so
 * memory grows with the subflows of one namespace (held until their
 * connections arrive, some 35 bytes each), not with everything shown.
 */
#ifndef MU_STATS_H
#define MU_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/diag.h"
#include "common/jsonw.h"
#include "common/served.h"

#define MAX_MIB 128

struct mib_counter {
	char name[48];
	unsigned long long value;
};

/* What the connections of a namespace that passed the filters add up to. */
struct ns_totals {
	unsigned long long conns[2];		/* by fallback: no, yes */
	unsigned long long subflows;
	unsigned long long single_path;
	unsigned long long bytes[4];		/* sent, received, acked, retransmitted (6.5+) */
};

struct ns_mib {
	unsigned long netns;
	struct ns_totals totals;
	struct mib_counter c[MAX_MIB];
	size_t nr;
	bool offers_multipath;		/* its path manager can bring a second subflow */
	char pm_verdict[320];		/* pm_verdict() of its path manager */
};

struct stats_args {
	const char *cgroup;
	const char *container;	/* --container REF: the cgroup it runs in (container/runtime.h) */
	const char *root;	/* --root DIR: the container runtime's state directory */
	pid_t pid;		/* 0: none */
	bool prometheus;
	int watch;		/* seconds, 0: once */
	bool listed;
	int line;		/* 0: any */
	bool fallback;
	const char *output;	/* write here (atomically: FILE.tmp, then rename), not stdout */
	size_t targets;		/* cgroups and process trees watched */
};

/*
 * What `stats` does once its command line is read: the snapshot, written to
 * stdout (or a->output) as a table, JSON or Prometheus text; with a->watch,
 * again until SIGINT or SIGTERM. The exporter calls it for each scrape with
 * a->prometheus, its stdout on a buffer. The exit code: 0, or 1 (said on stderr).
 */
int stats_show(struct stats_args *a);

/* Called for each connection kept, with its namespace: 0, or -errno to stop. */
typedef int (*conn_sink_fn)(const struct mu_conn *c, struct ns_mib *ns, void *ctx);

/* What one refresh gathers, but the connections: those go to @sink as they come. */
/* Socket-state maps a snapshot asks for: the attach engine's and run bridges'. */
#define MU_STATS_MAX_STORAGE 16

struct snapshot {
	conn_sink_fn sink;		/* NULL: no MPTCP dump, listeners only */
	void *sink_ctx;
	struct mu_diag diag;
	struct ns_mib *mib;		/* one per namespace found, allocated as they are */
	size_t nr_mib, cap_mib;
	size_t netns_dropped;
	__u64 *cgids;
	size_t nr_cgids, cap_cgids;
	int storage_fds[MU_STATS_MAX_STORAGE];	/* the engines' socket-state maps */
	size_t nr_storage;
};

struct line_ref {
	const struct served *by;	/* the cgroup or program under run whose line it is */
	int line;		/* 0: none (not ours, or unlisted) */
	size_t entry;		/* its index in by->lines + 1; 0 with line 0 */
	const char *source;
	bool ours;
};

/*
 * The MPTCP connections of the cgroup subtrees @roots, and of the process trees
 * rooted at @trees (those their members hold a descriptor of), each given to
 * s->sink; the namespaces' counters kept in @s, and, with no sink, the plain TCP
 * listeners alone (the only sockets the dumps then ask for).
 */
int snapshot_take(struct snapshot *s, const char *const *roots, size_t nr_roots,
		  const pid_t *trees, size_t nr_trees);
void snapshot_free(struct snapshot *s);
/*
 * The plain TCP listeners of cgroup @cgroup (a name below the cgroup v2 root)
 * and below, in every namespace its processes use; free() *out.
 */
int cgroup_tcp_listeners(const char *cgroup, struct mu_listener **out, size_t *nr);

/* The policy line a connection matched, if it is ours and the line is of the policy in force. */
struct printer;
struct line_ref line_of(const struct mu_conn *c, const struct printer *p);
bool fell_back(const struct mu_conn *c);
/*
 * An established MPTCP connection that never had a second subflow although its
 * namespace's path manager offers one (the peer did not take it).
 */
bool single_path(const struct ns_mib *ns, const struct mu_conn *c);
/* A namespace's MPTcpExt counter, 0 when absent. */
unsigned long long mib_value(const struct ns_mib *m, const char *name);
/* Does the connection pass --listed, --line and --fallback? */
bool wanted(const struct stats_args *a, const struct mu_conn *c, struct line_ref lr);

/* One refresh's output, built as the connections arrive. */
struct printer {
	const struct stats_args *a;
	const struct served_set *served;	/* what the engines serve, read for this refresh */
	bool started;		/* something was written: nothing is, before the first connection */
	size_t shown;
	/*
	 * The live subflows' bytes per policy entry, [sent, received], of every
	 * record's lines one after the other: what the metrics add to the bytes
	 * of the subflows that closed. Allocated by the first connection.
	 */
	unsigned long long (*live)[2];
	struct jsonw w;
};

/* A conn_sink_fn: the connection shown (table, JSON) and added to its namespace's totals. */
int print_conn(const struct mu_conn *c, struct ns_mib *ns, void *printer);
/* The build_info series (what wrote the metrics), as every --prometheus output has it. */
void prometheus_build_info(void);
/* What follows the connections: totals, policy lines, namespaces, counters. */
void print_end(struct printer *p, const struct snapshot *s);

#endif /* MU_STATS_H */
