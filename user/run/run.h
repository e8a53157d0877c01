/* SPDX-License-Identifier: GPL-2.0-only */
/* The run engine's supervisor: seccomp notifications in, MPTCP sockets out. */
#ifndef MU_RUN_H
#define MU_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "policy/policy.h"

/* oom_score_adj -1000 for the supervisor and its watcher (quiet where it is not allowed). */
void run_oom_protect(void);

/*
 * What the supervisor's log lines start with: "PROG TAG[PID]: CONTEXT".
 * run_set_tag("agent", "container 0123456789ab: ") for a container's; "run"
 * and no context by default.
 */
extern char run_tag[16], run_tag_context[160];
void run_set_tag(const char *tag, const char *context);
/* One line on stderr, so prefixed, written at once (threads say things). */
void run_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The cgroup a supervisor's sockets live in, and with them the bridge (see
 * run_spawn.c): the caller's when it holds it alone, else a child made for it
 * (CGROUP/mptcp-upgrade-run.PID, @parent >= 0) that run_cgroup_remove() takes
 * away once the supervisor is gone. Sets run_supervisor_cgroup().
 *
 * A child made is not entered here: the supervisor moves itself and run's
 * program in (run_enter_own_cgroup(), from a thread beside its BPF loads),
 * since a move waits for an RCU grace period (about 14 ms here) that the
 * loads then hide.
 */
struct run_made_cgroup {
	int parent;		/* the cgroup the child was made in, when one was made */
	char name[64];
	bool always;		/* make a child even when the caller is alone (agent) */
	const char *under;	/* the child under this cgroup folder, not the caller's */
};
void run_own_cgroup(struct run_made_cgroup *made);
void run_cgroup_remove(struct run_made_cgroup *made);
/*
 * This process into the child run_own_cgroup() made, and @program (its PID,
 * or 0) after it: 0; -1 and errno when this process could not go in (it went
 * to the cgroup the child was to be made in, if one was named: .under); -2
 * and errno when only @program could not. With no child made but .under
 * named, into that one.
 */
int run_enter_own_cgroup(pid_t program);
/*
 * The watcher: wait for @supervisor; if it dies while @program runs, say so
 * and (@stop_program) stop it: run_stop_program(). 0 when it ended well.
 */
int run_watch(pid_t supervisor, pid_t program, int program_pidfd, bool stop_program);
/*
 * SIGTERM to the program; SIGKILL if it still runs after the grace period
 * run_set_stop_grace() set (none by default: run leaves that to the service
 * manager; the agent sets one, as a container's init ignores SIGTERM from the
 * host unless it handles it).
 */
void run_stop_program(int pidfd, pid_t pid);
void run_set_stop_grace(int ms);
/* Ask the kernel to wake the supervisor on the caller's CPU (6.6+): whether it will. */
bool run_sync_wakeup(int listener);
/*
 * The cgroup of the program's own sockets, when it is not the supervisor's
 * (a container's): the option recorder is attached there too. Before
 * run_supervisor_prepare(); -1 (default): the supervisor's.
 */
void run_program_cgroup(int cg, const char *path);
/*
 * run's program (@program, waiting for the supervisor's answer): moved by the
 * supervisor into the cgroup made for both, beside its own move.
 */
void run_program_enters(pid_t program);

/* The container a supervisor serves for `agent`; an empty id for a program under run. */
struct run_container {
	char id[256];			/* the runtime's id */
	char name[128];			/* as the runtime or Kubernetes named it, or "" */
	char pod[128], pod_namespace[128], pod_uid[64];	/* Kubernetes, or "" */
};
/* What the registry records of it (before run_supervisor_prepare()). */
void run_registry_set_container(const struct run_container *c);

/*
 * The cgroup the socket-option bridge attaches to: the supervisor's own
 * (run_bridge_cgroup()), -1 for none; @path as status shows it.
 */
void run_supervisor_cgroup(int cg, __u64 id, const char *path);

/*
 * Before the program runs: signals, counters, the bridge and the registry
 * entry, so that nothing the program does waits for them. @lp is the policy
 * in force (the supervisor owns it, allocated); SIGHUP reads @policy_path again
 * (a file with an error changes nothing).
 */
/* Before run_supervisor_prepare: answer io_uring_setup() with ENOSYS (run --io-uring=deny). */
void run_supervisor_deny_io_uring(bool deny);
int run_supervisor_prepare(const char *policy_path, struct loaded_policy *lp, pid_t proxy,
			   bool sync_wakeup, bool killable);
/* The supervisor's watcher (its parent), and what to do if the supervisor dies. */
void run_supervisor_watcher(pid_t watcher, bool stop_program);
/* Serve @listener (a seccomp user-notification fd) until no process uses the filter. */
int run_supervisor(int listener);

/*
 * What a supervisor did, in a file of its own (MU_RUN_DIR/run-PID.counters)
 * that it keeps mapped and counts into, and that status reads: the totals
 * since it started, and per entry of the policy in force (a reload starts a
 * new file for the new entries; the totals go on).
 */
#define MU_RUN_COUNTERS_MAGIC	0x3552554dU	/* "MUR5": refused[] by MU_SOCKOPTS */
#define MU_RUN_MAX_OPTIONS	72
#define MU_RUN_F_SYNC_WAKEUP	1U	/* the kernel wakes the supervisor on the caller's CPU */
#define MU_RUN_F_KILLABLE	2U	/* a received call waits killably (no EINTR) */
#define MU_RUN_F_IO_URING_DENY	4U	/* io_uring_setup() answered ENOSYS (--io-uring=deny) */

struct run_line_counters {
	__u64 binds, connects;		/* calls that matched the entry */
	__u64 mptcp;			/* ... whose socket was made MPTCP (made_mptcp in JSON) */
	__u64 kept_tcp;			/* ... whose socket stayed TCP (refused option, ...) */
};

struct run_counters {
	__u32 magic, nr_entries;
	char sha256[72];		/* of the policy the entries belong to */
	__u32 flags;			/* MU_RUN_F_* */
	__u32 pad;
	__u64 binds_listed, binds_unlisted, connects_listed, connects_unlisted;
	__u64 made_mptcp, kept_tcp;
	__u64 restored_tcp;	/* made MPTCP, then back to TCP for an unlisted retry */
	__u64 escaped;		/* an unlisted call on a socket that could not go back to TCP */
	__u64 kept_epoll;	/* kept TCP: epoll registrations that could not be carried */
	__u64 interrupted;	/* the call was gone (a signal, the thread died) before a swap */
	__u64 kept_shared;	/* kept TCP: reachable through another descriptor (dup, fork) */
	__u64 io_uring_setups;	/* io_uring_setup() calls: refused, or rings whose sockets pass unseen */
	__u64 addr_unchecked;	/* listed calls served without the address check (before 5.19) */
	__u64 refused[MU_RUN_MAX_OPTIONS];	/* per run_option_label() */
	struct run_line_counters line[];
};

/* The label of the option that refused[@i] counts, NULL past the last. */
const char *run_option_label(size_t i);

/* A running supervisor, as status and reload find it. */
struct run_entry {
	pid_t supervisor, program;
	char policy[PATH_MAX];
	char sha256[65];
	long long started_at, loaded_at;
	struct json_object *entries;	/* as policy_entries_json() wrote them */
	__u32 bridge_map_id;		/* its sockopt_counters map; 0: no bridge */
	__u32 lines_map_id;		/* its line_counters map: connections negotiated / fallen back */
	__u32 counts_map_id;		/* its struct mu_run_bpf_counts (the run object's .bss) */
	__u32 states_map_id;		/* its bridge's sock_states: which line each socket is of */
	__u32 bridge_gen;		/* the bridge's generation of the policy in force */
	struct mu_optmask bridge_refused, bridge_carry;	/* struct mu_bridge_config's */
	char bridge_cgroup[PATH_MAX];	/* where the bridge is attached */
	unsigned long reload_seq;	/* SIGHUPs the supervisor has handled */
	char reload_error[128];		/* what the last one failed on, "" when applied */
	struct run_container container;	/* served for `agent`: id "" under run */
};

int run_registry_write(pid_t supervisor, pid_t program, const char *policy,
		       const struct loaded_policy *lp, long long started_at);
/* What the next run_registry_write() records of the supervisor's socket-option bridge. */
void run_registry_set_bridge(__u32 counters_map_id, __u32 line_counters_map_id,
			     const struct mu_bridge_config *cfg, const char *cgroup);
/* ... and of its bridge's socket states map and the generation of the policy in force. */
void run_registry_set_bridge_states(__u32 map_id, __u32 gen);
/* ... and of the run object's counters (struct mu_run_bpf_counts). */
void run_registry_set_counts(__u32 map_id);
/* ... and of the last reload: its sequence number (SIGHUPs handled), NULL or what failed. */
void run_registry_set_reload(unsigned long seq, const char *error);
void run_registry_remove(pid_t supervisor);
/* The supervisors alive; files of dead ones are removed. */
int run_registry_list(struct run_entry **list, size_t *nr);
void run_registry_free(struct run_entry *list, size_t nr);
/*
 * A copy of supervisor @pid's counters (free() it), or NULL when they can't be
 * read or belong to another policy than @sha256 (a reload in between).
 */
struct run_counters *run_counters_read(pid_t supervisor, const char *sha256);
/* Create the counters file for @lp, carrying the totals of @prev; NULL on failure. */
struct run_counters *run_counters_create(pid_t supervisor, const struct loaded_policy *lp,
					 const struct run_counters *prev, size_t *mapped);

/*
 * reload: each supervisor of @runs reads its policy again (checked here first),
 * and says it applied it; 0, or 1 with the errors printed. run_reload_pid():
 * the supervisor that serves process @pid, or is @pid.
 */
int run_reload(const struct run_entry *runs, size_t n);
int run_reload_pid(pid_t pid);

#endif /* MU_RUN_H */
