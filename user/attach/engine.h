/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The attach engine's state in the kernel and on disk.
 *
 * Everything lives in pins under MU_PIN_DIR, so the upgrade outlives the
 * command that made it: the maps, the cgroup programs, the fmod_ret link, and
 * per attached cgroup a directory cg-ID of cgroup links. The commit point of an
 * attachment is its entry in the attached_cgroups map; anything without one is
 * debris of a command killed midway and is removed by engine_gc() under the
 * lock, so a SIGKILL leaves the previous state or the new one.
 */
#ifndef MU_ENGINE_H
#define MU_ENGINE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/cgroup.h"
#include "mptcp_upgrade.h"
#include "common/paths.h"
#include "container/runtime.h"
#include "policy/policy.h"


enum engine_map {
	EM_ATTACHED, EM_NOTES, EM_ATTACH_COUNTERS, EM_POLICIES, EM_LINE_COUNTERS, EM_SOCK_STATES,
	EM_NETNS, EM_ABI, EM_BRIDGE_CONFIG, EM_BRIDGE_VALUES, EM_SOCKOPT_COUNTERS, EM_ATTACH_GEN,
	EM_CGROUP_VERDICTS, EM_SLOT_CGROUPS, EM_CONN_LINES,
	EM_MAX,
};

enum engine_prog {
	EP_SOCK_CREATE, EP_BIND4, EP_BIND6, EP_CONNECT4, EP_CONNECT6, EP_SOCKOPS,
	EP_SETSOCKOPT, EP_GETSOCKOPT,	/* the socket-option bridge */
	EP_CGROUP_MAX,			/* the ones above attach to cgroups */
	EP_TC_INGRESS = EP_CGROUP_MAX, EP_TC_EGRESS,	/* these to interfaces */
	EP_LIVE_ITER,			/* an iterator over sock_states, run on demand */
	EP_MAX,
};

struct engine {
	int lock_fd;			/* flock on MU_RUN_DIR/lock */
	int bpffs_lock_fd;		/* flock on the bpffs root, when there is one */
	bool loaded;
	int netns_mptcp_off;		/* namespaces engine_install_tc found MPTCP off in */
	size_t netns_dropped;		/* namespaces it had to leave out */
	int map_fd[EM_MAX];
	int prog_fd[EP_MAX];
	/*
	 * engine_list() reads each attachment's policy entries too (status and
	 * stats show them). The others leave them: parsing thousands of entries
	 * was most of what a reload after a large policy cost.
	 */
	bool want_entries;
	size_t lost;			/* attachments whose engine was lost (engine_keep_lost) */
	bool handing_over;		/* engine_attach for `upgrade`, beside an older engine */
	bool newer_abi;			/* engine_open refused: a newer version's engine is pinned */
};

/*
 * What an attachment made with `attach --container` was asked for: the
 * container as its runtime finds it again (runtime.h), so that follow attaches
 * the container's new cgroup when it is re-created.
 */
struct attach_origin {
	char container[CT_REF_MAX];	/* "" when attached by --cgroup */
	char root[PATH_MAX];		/* attach --root: the runtime's state directory, or "" */
};

/* One attached cgroup, as its state file and the maps describe it. */
struct attachment {
	__u32 id;
	__u64 cgroup_id;
	__u32 families;
	__u32 flags;			/* MU_ATTACH_* */
	__u32 gen;			/* policy generation in force (mu_attachment.gen) */
	char cgroup[PATH_MAX];		/* name under the cgroup v2 root */
	char policy[PATH_MAX];		/* the attachment's file: what a plain reload reads */
	char loaded_from[PATH_MAX];	/* the file of the policy in force (reload --policy) */
	char sha256[65];
	long long attached_at;
	long long reloaded_at;		/* 0 when never reloaded */
	__u32 policy_map_id;		/* the kernel's id of the policy trie in force */
	struct attach_origin origin;
	bool state_lost;		/* committed, but its state file is gone */
	struct json_object *entries;	/* normalized entries at the last (re)load */
};

/* Serialize with every other invocation (flock on MU_RUN_DIR/lock). */
int engine_lock(struct engine *e, char *err, size_t err_size);
/* Open the pinned engine if there is one (e->loaded), and clean up debris. */
int engine_open(struct engine *e, char *err, size_t err_size);
void engine_close(struct engine *e);

/*
 * Remove a pinned engine that can't be opened (pins missing, or of another
 * version), with everything attached through it. Only under the lock.
 */
void engine_remove_unopenable(struct engine *e);

/*
 * Does an engine of an older ABI still upgrade sockets, or hold attachments
 * not handed over to this one yet (engine_upgrade.c)?
 */
bool older_engine_pending(void);

/* Lock, open and list the committed attachments: how every command begins. */
int engine_start(struct engine *e, struct attachment **list, size_t *nr, char *err,
		 size_t err_size);

/* Load the BPF objects (engine_objs.h), attach the socket-creation hook and pin it all. */
int engine_load(struct engine *e, char *err, size_t err_size);

/* @origin: the container attach was asked for (recorded in the state), or NULL. */
int engine_attach(struct engine *e, const struct cgroup_ref *cg, const char *policy_path,
		  const char *sha256, const struct policy *pol, const struct policy_trie *trie,
		  __u32 flags, const struct attach_origin *origin, char *err, size_t err_size);

/*
 * Prepare the network namespaces: this command's, those of `ip netns`
 * (/run/netns) and those the processes of the attached cgroups live in. With
 * @stage3, stage 3's tc programs go on every interface (loopback included);
 * then stage 1 is told it may upgrade sockets there (netns_info), and whether
 * MPTCP is off there. Safe to repeat: present links are kept, links of
 * interfaces that are gone replaced. Returns how many links it added, or -1.
 */
int engine_install_tc(struct engine *e, const struct attachment *list, size_t nr, bool stage3,
		      char *err, size_t err_size);

/* tcx links the engine has pinned on interfaces that still exist. */
int engine_tc_links(void);
/* After engine_install_tc: say on stderr where MPTCP is off (sockets there stay TCP). */
void engine_warn_mptcp_off(const struct engine *e);
/* One attachment's part of a reload. */
struct reload_step {
	const struct attachment *att;
	const char *path;		/* where the policy was read (its own file, or --policy's) */
	const char *sha256;
	const struct policy *pol;
	const struct policy_trie *trie;
};

/*
 * Swap in the new policies of @n attachments, all or none: every trie is
 * built, pinned and its state written before the first swap, and a command
 * killed after it is completed by the next one (finish_group). An attachment
 * keeps its own policy file when a step names another (reload --policy).
 */
int engine_reload(struct engine *e, const struct reload_step *steps, size_t n, char *err,
		  size_t err_size);

/*
 * Detach one cgroup. With the last one the engine unloads itself, unless
 * sockets it upgraded under a strict attachment are still alive (a proxy that
 * was not restarted): then stage 3 stays, so their unlisted addresses do not
 * start negotiating MPTCP, and a later command unloads it once they are gone.
 */
int engine_detach(struct engine *e, const struct attachment *att, char *err, size_t err_size);

/*
 * Sockets upgraded under a strict attachment that may still send or receive a
 * SYN (listening, or not connected yet), in total and of attachments that are
 * gone. -1 when the iterator can't run.
 */
int engine_live_sockets(struct engine *e, long *total, long *orphans);

/*
 * The attachment's cgroup programs that are not attached to its cgroup (one
 * removed by hand, by bpftool or by another tool), as bits of enum
 * engine_prog; -1 when the cgroup can't be opened. What status reports is
 * what the kernel runs, not what is pinned.
 */
int engine_missing_links(struct engine *e, const struct attachment *att, unsigned int *missing);
/* Attach the missing ones again (reload does); how many, or -1. */
int engine_repair_links(struct engine *e, const struct attachment *att, char *err,
			size_t err_size);

/* How status and the metrics name program @p ("cgroup/sock_create", "tcx/egress", ...). */
const char *engine_prog_name(enum engine_prog p);
#define HOOK_PROG_LABEL "fmod_ret/update_socket_protocol"
/* The kernel's id of the program behind @fd; 0 when it has none. */
__u32 engine_prog_id(int fd);
/*
 * The live link of the socket-creation hook (fmod_ret/update_socket_protocol),
 * found among the kernel's links, and its program in @prog_id; 0 when the
 * kernel runs none: listed sockets stay TCP.
 */
__u32 engine_hook_link(struct engine *e, __u32 *prog_id);
/* Load and attach the hook again when the kernel runs none: 1 if it did, 0, or -1. */
int engine_repair_hook(struct engine *e, char *err, size_t err_size);

/* Interfaces of prepared namespaces without stage 3's programs, per direction. */
struct engine_tc_gaps {
	int missing[2];			/* [0] tcx ingress, [1] tcx egress */
	char first[2][96];		/* one of each: "lo in network namespace N" */
};
/*
 * Every namespace stage 1 was told has stage 3 (this command's, those of `ip
 * netns` and of the attachments' processes), every interface, both
 * directions, as bpf_prog_query answers; none missing when no attachment of
 * @list is strict (reload installs stage 3 for strict ones only). -1 when a
 * namespace can't be entered.
 */
int engine_tc_gaps(struct engine *e, const struct attachment *list, size_t nr,
		   struct engine_tc_gaps *g);

/*
 * Attachments whose engine was lost (bpffs unmounted, or its pins removed): the
 * kernel runs nothing for them. engine_open keeps their state files apart
 * (engine_keep_lost, -1 when the engine may live where this mount namespace
 * can't see it); reload attaches them again from those files.
 */
int engine_keep_lost(struct engine *e, bool bpffs_seen);
size_t engine_lost_count(void);
/* Their state (no entries), with ->id the number engine_forget_lost takes. */
int engine_lost_list(struct attachment **list, size_t *nr);
void engine_forget_lost(__u32 id);

/* Committed attachments, in id order. */
int engine_list(struct engine *e, struct attachment **list, size_t *nr);
void engine_list_free(struct attachment *list, size_t nr);

/* One line of an attachment's policy as status and stats show it. */
struct policy_row {
	int line;			/* in the file; 0 if unknown */
	const char *source, *role, *prefix, *ports;	/* "" if unknown */
	struct mu_line_counters counters;
};

/* How many entries the attachment's policy has (0 when its state is lost). */
size_t attachment_rows(const struct attachment *att);
/* Entry @i of it, with the engine's counters for it. */
void attachment_row(struct engine *e, const struct attachment *att, size_t i,
		    struct policy_row *row);

/* Sums over CPUs of an attachment's counters and of one entry's (bridge/counters.c sums). */
int engine_attach_counters(struct engine *e, __u32 id, struct mu_attach_counters *out);
int engine_line_counters(struct engine *e, __u32 id, __u32 entry, struct mu_line_counters *out);

/* SHA-256 of a file, hex; "-" when it can't be read. */
void file_sha256(const char *path, char out[65]);

/*
 * cmd_upgrade.c: hand the cgroups of older engines over to this one's
 * (`upgrade`; reload's first step): 0, also when there is none, or -1 with the
 * error printed and the older engines as they were.
 */
int handover_older(struct engine *e);
/* An older engine still pinned, as status shows it. */
struct older_view {
	unsigned int abi;
	char pins[256];
	bool handed_over;	/* its hook is gone: it only serves the sockets it upgraded */
	size_t cgroups;		/* not handed over: the cgroups it still upgrades */
	long sockets;		/* handed over: the sockets it still serves (-1: unknown) */
};
/* Every older engine still pinned; free(*list). 0, or -1 (none listed). */
int older_engines_view(struct older_view **list, size_t *n);

/*
 * What must hold before the engine is loaded (check's probes, given by main):
 * engine_preflight() is 0, or -1 with the first missing requirement in @cause.
 * With none given, it is 0.
 */
void engine_set_preflight(int (*fn)(char *cause, size_t size));
int engine_preflight(char *cause, size_t size);

#endif /* MU_ENGINE_H */
