/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the engine's files share and nothing else sees: pin names and paths,
 * the program table, the error and fault-injection helpers.
 */
#ifndef MU_ENGINE_INTERNAL_H
#define MU_ENGINE_INTERNAL_H

#include <bpf/bpf.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

/*
 * tcx (Linux 6.6) is older than nothing the engine needs: update_socket_protocol
 * became hookable in 6.6 too, so there is no clsact fallback to keep. Debian's
 * uapi headers (6.1) lack the names.
 */
#define MU_BPF_TCX_INGRESS	((enum bpf_attach_type)46)
#define MU_BPF_TCX_EGRESS	((enum bpf_attach_type)47)
#define TC_PIN_DIR		MU_PIN_DIR "/tc"

/* bpffs refuses names with a dot, so staging directories are not dotfiles. */
#define STAGING_PREFIX	"mptcp-upgrade-staging-"
#define HOOK_LINK	"link_upgrade_socket"

struct engine_prog_desc {
	const char *pin;
	enum bpf_attach_type type;
	const char *name;		/* as status and the metrics name it */
};

extern const char *const engine_map_names[EM_MAX];
extern const struct engine_prog_desc engine_progs[EP_MAX];

/* MPTCP_UPGRADE_CRASH_AT=NAME: SIGKILL this process at the point called NAME. */
void crash_point(const char *name);
/* Format the error into @err and return -1. */
int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Remove a pin directory and everything pinned in it. */
void remove_tree(const char *dir);

void state_path(__u32 id, char *out, size_t size);
/* A reload in progress: its state, written before the policy swap that makes it true. */
void pending_path(__u32 id, char *out, size_t size);
/* The directory of an attachment's cgroup links. */
void link_dir(__u32 id, char *out, size_t size);
/* Which cgroups are attached changed: drop the verdicts socket() remembers. */
void bump_attach_gen(struct engine *e);
/* Attachment ids committed in attached_cgroups, as a bitmap. */
void committed_ids(struct engine *e, bool used[MU_MAX_ATTACHMENTS]);

/* Delete every line counter of attachment @id. */
void delete_line_counters(struct engine *e, __u32 id);
/* The last attachment is gone: unload, unless sockets stage 3 protects are alive. */
void unload_unless_live(struct engine *e);
/* engine.c, for engine_recover.c: make a pending reload of @id true, or forget it. */
void finish_pending(struct engine *e, __u32 id);
/* engine.c, for engine_recover.c: a reload of several attachments killed midway: all of it, or none. */
void finish_group(struct engine *e);

/* engine_pins.c: is the bpffs of the pins mounted where this process looks? */
bool bpffs_visible(void);
/* engine_pins.c: open every pin of a loaded engine (of this ABI): 0, or -1 with @err. */
int open_pins(struct engine *e, char *err, size_t err_size);
/* engine_pins.c: remove the state files of every attachment. */
void remove_state_files(void);
/* engine_pins.c: unpin the engine (its directory renamed away first, then removed). */
void unload(struct engine *e);

/* engine_state.c: the state files under MU_STATE_DIR. */
int write_state(const struct attachment *att, const struct policy *pol, const char *path,
		char *err, size_t err_size);
/* @entries: the policy entries too (att->entries), not only what describes the attachment. */
int read_state_file(const char *path, __u32 id, struct attachment *att, bool entries);
int read_state(__u32 id, struct attachment *att, bool entries);

/* cmd_restore.c, for cmd_attach.c */
/*
 * Attach again every attachment lost with the engine's pins (reload's first
 * step); 0, or -1 when one could not be (errors printed, the rest restored).
 */
int restore_lost(struct engine *e);
/* Forget the lost attachments of cgroup @cgroup (NULL: all); how many. */
size_t forget_lost(const char *cgroup);
/* Does @arg, as --cgroup takes it, name cgroup @cgroup (a name under the root, or gone)? */
bool names_cgroup(const char *arg, const char *cgroup);

/* cmd_container.c, for cmd_attach.c and cmd_follow.c */
/*
 * The cgroup attach is asked for: @cgroup's, or the one container @container
 * runs in (its runtime's state under @root, or the default), with @origin
 * saying which container. 0, or -1 with the error printed.
 */
int attach_target(const char *cgroup, const char *container, const char *root,
		  struct cgroup_ref *cg, struct attach_origin *origin);
/*
 * The attachment of --cgroup @arg or of --container @container (its recorded
 * reference first, then the cgroup it runs in), or NULL with the error printed.
 */
struct attachment *find_target(struct attachment *list, size_t nr, const char *arg,
			       const char *container, const char *root);
/*
 * follow's pass over attachments made with --container whose cgroup is gone:
 * each container running again in a new cgroup (re-created) is attached there
 * with the same policy file and flags, and its old attachment detached. How
 * many, with *@list listed again when any; a failure is said in @problem.
 */
int follow_containers(struct engine *e, struct attachment **list, size_t *nr, char *problem,
		      size_t problem_size);

#endif /* MU_ENGINE_INTERNAL_H */
