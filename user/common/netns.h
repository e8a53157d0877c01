/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The network namespaces a cgroup subtree's processes live in: a proxy in a
 * container has its sockets (and its interfaces) in a namespace of its own.
 */
#ifndef MU_NETNS_H
#define MU_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "mptcp_upgrade.h"

/* As many as stage 1 can be told about (netns_info); more are counted in dropped. */
#define MAX_NETNS MU_MAX_NETNS

/* A network namespace, and a process or a bind mount to enter it through (neither: this one). */
struct netns_ref {
	unsigned long ino;
	int pid;
	char path[96];		/* /run/netns/NAME, when pid is 0 and it is not ours */
};

struct netns_set {
	struct netns_ref *ns;
	size_t nr, cap;
	size_t dropped;		/* namespaces left out: MAX_NETNS reached, or no memory */
};

/* Start with this process's own namespace. */
void netns_set_init(struct netns_set *set);
/* Does this command run in PID 1's network namespace (or can't it tell)? */
bool netns_self_is_init(void);
/* This command's own namespace, if not in the set yet. */
void netns_set_add_self(struct netns_set *set);
/* Start with none: only the namespaces added (those of a process tree, say). */
void netns_set_init_empty(struct netns_set *set);
void netns_set_free(struct netns_set *set);
/* Add the namespaces of every process of the cgroup v2 directory @path and below. */
void netns_set_add_cgroup(struct netns_set *set, const char *path);
/* Add the namespace of process @pid. */
void netns_set_add_pid(struct netns_set *set, int pid);
/*
 * Add the named namespaces of `ip netns` (/run/netns): a proxy is often started
 * in one after attach, and its sockets are created before anyone can react.
 */
void netns_set_add_named(struct netns_set *set);

/*
 * Call @fn inside each namespace of @set (skipping those whose process is
 * gone) and come back to this one. Stops at the first @fn that returns < 0 and
 * returns that; otherwise the sum of what @fn returned. -1 with errno set when
 * this namespace can't be re-entered.
 */
int netns_set_for_each(const struct netns_set *set,
		       int (*fn)(const struct netns_ref *ns, void *ctx), void *ctx);

#endif /* MU_NETNS_H */
