/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A process and its descendants, as /proc shows them now: what `stats --pid`
 * and the run engine's programs are looked up by (their sockets and cgroups).
 */
#ifndef MU_PROC_TREE_H
#define MU_PROC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct proc_tree {
	pid_t *pids;
	size_t nr_pids;
	__u64 *inodes;		/* of the sockets they hold, sorted */
	size_t nr_inodes;
	__u64 *cgids;		/* of the cgroups they are in, sorted, no repeats */
	size_t nr_cgids;
};

/*
 * Add @root and every descendant of it to @t, with their sockets and cgroups.
 * -ESRCH when @root is not running, -ENOMEM. Call proc_tree_done() after the
 * last add to sort.
 */
int proc_tree_add(struct proc_tree *t, pid_t root);
void proc_tree_done(struct proc_tree *t);
bool proc_tree_has_inode(const struct proc_tree *t, __u64 inode);
void proc_tree_free(struct proc_tree *t);

/*
 * Call @fn with each descriptor of @pid and what /proc/PID/fd/N links to
 * ("socket:[123]", "anon_inode:[eventpoll]"); stops at the first non-zero
 * return and returns it.
 */
int proc_fd_links(pid_t pid, int (*fn)(int fd, const char *link, void *ctx), void *ctx);

#endif /* MU_PROC_TREE_H */
