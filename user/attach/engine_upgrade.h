/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Engines of other ABIs: what this version may do with them without knowing
 * their map layouts. The contract between versions is at the top of
 * engine_upgrade.c and in docs/upgrades.md.
 */
#ifndef MU_ENGINE_UPGRADE_H
#define MU_ENGINE_UPGRADE_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

struct attachment;

/* An engine of an older ABI, pinned beside this one's. */
/*
 * The program pin a hand-over removes from an older engine after its hook, so
 * that the older version's own commands can no longer open it (and put the
 * hook back). Part of the contract: every version up to now needs it to open.
 */
#define OLDER_SEAL_PIN	"prog_live_sockets"

struct older_engine {
	unsigned int abi;
	bool legacy;		/* before ABI 7: pins in MU_PIN_BASE, state in MU_RUN_DIR */
	char pins[256];
	char state[256];
	bool hooked;		/* its socket-creation hook is pinned: it still upgrades */
	bool has_state;		/* attachment state files are left: not handed over yet */
};

/*
 * Every command's first look, under the lock: a newer ABI's engine is refused
 * with one line (-1, nothing changed); an older one that was handed over and
 * serves no socket any more is removed.
 */
int engine_abi_gate(char *err, size_t err_size);

/* The older engines, oldest first; 0, or -1 without memory. */
int older_engines(struct older_engine **list, size_t *n);

/* The cgroup ids it has committed: the keys of its attached_cgroups. */
int older_committed(const struct older_engine *o, __u64 **ids, size_t *n);
/* Its state file of cgroup @cgroup_id, read as this version reads its own; 0 or -1. */
int older_state_of(const struct older_engine *o, __u64 cgroup_id, struct attachment *att);
/* Remove its hook: from here on it upgrades no socket. */
int older_unhook(const struct older_engine *o, char *err, size_t err_size);
/* Its attachments are this engine's now: their state files go (lost ones move here). */
void older_forget_state(const struct older_engine *o);
/* Sockets it still keeps state for (its bridge and stage 3 serve them); -1 if unknown. */
long older_sockets(const struct older_engine *o);
/* Remove all its pins: its links detach, its programs and maps are freed. */
void older_remove(const struct older_engine *o);

#endif /* MU_ENGINE_UPGRADE_H */
