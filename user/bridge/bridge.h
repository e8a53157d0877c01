/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The socket-option bridge, from userspace: which options the running kernel
 * refuses on MPTCP sockets (probed, never assumed), their names, and the
 * bridge as the run engine uses it (its own copy of the programs, attached to
 * the supervisor's cgroup for as long as it lives).
 */
#ifndef MU_BRIDGE_H
#define MU_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "mptcp_upgrade.h"

/* MU_SOCKOPTS' name for index @i, or NULL; and its other columns. */
const char *sockopt_name(int i);
bool sockopt_carried(int i);	/* in the table as one bpf_setsockopt() takes */
int sockopt_level(int i);
int sockopt_optname(int i);
int sockopt_family(int i);	/* 0: both */
int sockopt_kind(int i);	/* MU_OK_* */
int sockopt_index(int level, int optname);	/* -1: not in the table */

/*
 * Probe the running kernel: which of MU_SOCKOPTS an MPTCP socket refuses,
 * before a connection and once fallen back to TCP, and so which ones the bridge
 * carries. Runs in a network namespace of its own when it can (nothing of the
 * caller's is touched); -1 with @err when MPTCP sockets can't be made at all.
 */
struct sockopt_unnamed {
#define SOCKOPT_UNNAMED_MAX	256
	int nr;
	struct { int level, optname; } opt[SOCKOPT_UNNAMED_MAX];
};
/*
 * @unnamed (may be NULL): also scan every option number of the four levels,
 * and list those a TCP socket knows, an MPTCP socket refuses and the table
 * does not name.
 */
int bridge_probe(struct mu_bridge_config *cfg, struct sockopt_unnamed *unnamed, char *err,
		 size_t err_size);

/* "TCP_USER_TIMEOUT TCP_SYNCNT ..." for the options of @mask, "none" for none. */
void sockopt_mask_names(const struct mu_optmask *m, char *buf, size_t size);
bool sockopt_mask_empty(const struct mu_optmask *m);

struct json_object;
struct jsonw;
/* @key and the names of @m's options as a JSON array; @m NULL: every option of the table. */
void sockopt_mask_json(struct jsonw *w, const char *key, const struct mu_optmask *m);
/* The reverse: @m from an array of names (unknown ones left out); -1 if not an array. */
int sockopt_mask_parse(struct json_object *a, struct mu_optmask *m);

/*
 * Whether the bridge's object (bpf/bridge.bpf.c, Linux 5.19+) loads here, as
 * run_bridge_open() loads it: 0 or -errno. Nothing is attached.
 */
int bridge_load_test(void);

struct run_bridge;

/*
 * The cgroup v2 directory of the calling process, opened (O_CLOEXEC), and its
 * id; -1 when not found. Also under `ip netns exec`, through the mount
 * namespace it was started from: call it before forking away from that.
 */
int run_bridge_cgroup(__u64 *id);
/*
 * The run engine's bridge: load the programs (no trampoline needed), fill in
 * the probed configuration, attach them to cgroup @cg (from
 * run_bridge_cgroup(); the caller keeps it). NULL with @err when it can't (not
 * root, an old kernel): the caller runs without it.
 */
struct run_bridge *run_bridge_open(int cg, __u64 cgroup_id, char *err, size_t err_size);
/*
 * Make @fd, an MPTCP socket the supervisor created, one the bridge acts for;
 * its connection counts against policy entry @entry (index + 1) as a
 * connect() or a listener's once established, MPTCP or fallen back.
 * @swapping: the supervisor is carrying the program's options to it, and a
 * refusal then is not the program's (called again with false once done).
 */
int run_bridge_own(struct run_bridge *b, int fd, __u32 entry, bool is_connect, bool swapping);
/* The swap is done with @fd: refusals on it are the program's from now on. */
int run_bridge_swapped(struct run_bridge *b, int fd);
/* After a reload: the line counts start again (the old entries' are dropped). */
int run_bridge_reloaded(struct run_bridge *b, __u32 old_entries);
int run_bridge_line_counters_fd(const struct run_bridge *b);

const struct mu_bridge_config *run_bridge_config(const struct run_bridge *b);
int run_bridge_counters_fd(const struct run_bridge *b);	/* the sockopt_counters map */
int run_bridge_states_fd(const struct run_bridge *b);	/* sock_states: each socket's line */
/* The generation of the policy in force (what run_bridge_own records). */
__u32 run_bridge_gen(const struct run_bridge *b);
/* Per option carried / refused / apply_failed, summed over CPUs: MU_SOPT_MAX entries. */
int run_bridge_counters(const struct run_bridge *b, struct mu_sockopt_counters *out);
void run_bridge_close(struct run_bridge *b);

/* counters.c: the per-CPU counter maps, summed over CPUs. */
/* The @n __u64 counters of @key in per-CPU map @fd; zeros when it has none. 0, or -1. */
int percpu_sum(int fd, const void *key, __u64 *out, size_t n);
/* One attachment's option counters (MU_SOPT_MAX entries) from the map @map_fd. */
int sockopt_counters_sum(int map_fd, __u32 attach_id, struct mu_sockopt_counters *out);
/*
 * Entry @entry's counts, summed over CPUs, of attachment @attach_id in a
 * line_counters map (the attach engine's, or a run supervisor's bridge's);
 * zeros when it has none.
 */
int line_counters_sum(int map_fd, __u32 attach_id, __u32 entry, struct mu_line_counters *out);


#endif /* MU_BRIDGE_H */
