/* SPDX-License-Identifier: GPL-2.0-only */
/* Facts about the running system that several commands need. */
#ifndef MU_SYS_H
#define MU_SYS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Mount points of filesystem type @fstype, at most a few, space separated in
 * @out. Returns how many there are, or -errno. *@v1_beside (when not NULL)
 * says whether cgroup v1 hierarchies are mounted too.
 */
int find_mounts(const char *fstype, char *out, size_t size, bool *v1_beside);

/* The first mount point of @fstype into @out; -ENOENT when there is none. */
int first_mount(const char *fstype, char *out, size_t size);
/*
 * A process in another mount namespace than ours (init's, or the parent's that
 * `ip netns exec` was started from) whose /proc/PID/root/ we may enter, or 0.
 */
int outer_mount_ns(void);
/*
 * The mounts of @fstype in the mount namespace around this one (init's, or the
 * parent's), when this process has one of its own, as under `ip netns exec`:
 * their count, and where they are there. 0 when there is none or no way to see.
 */
int find_mounts_outside(const char *fstype, char *out, size_t size);

/* Names of the capabilities attach needs that this process lacks ("" when none). */
void lacking_capabilities(char *out, size_t size);

/* net.mptcp.enabled in this network namespace: 1, 0, or -errno. */
int mptcp_enabled(void);

/* 0 when this process has what a command that changes the kernel needs, else -1 with "CMD needs root" printed. */
int need_root(const char *cmd);

#endif /* MU_SYS_H */
