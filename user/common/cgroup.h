/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MU_CGROUP_H
#define MU_CGROUP_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cgroup_ref {
	char path[PATH_MAX];	/* absolute, on the cgroup v2 mount */
	char name[PATH_MAX];	/* relative to the cgroup v2 root, "/" for the root itself */
	__u64 id;		/* the kernel's cgroup id (the directory's inode number) */
};

/*
 * Find the cgroup v2 directory an operator means by @arg: an absolute path on
 * the cgroup v2 mount, a path relative to its root ("/system.slice/x.service"
 * or "system.slice/x.service"), a systemd slice name ("a-b.slice" nests under
 * "a.slice"), or any other systemd unit name ("haproxy.service"), found under
 * whichever slice holds it. Returns 0, or -1 with a one-line reason in @err.
 */
int cgroup_resolve(const char *arg, struct cgroup_ref *cg, char *err, size_t err_size);

/* Is one of the two cgroup names inside the other (or the same)? */
bool cgroup_nested(const char *a, const char *b);

/*
 * The same question by identity: is @other_id @cg or one of its ancestors, or
 * @cg one of the directories at or above @other_name? Names can be spelled
 * many ways and a cgroup can be recreated under the same name; ids cannot.
 */
bool cgroup_nested_ids(const struct cgroup_ref *cg, const char *other_name, __u64 other_id);

/*
 * Does the cgroup attached as @name still exist as the same cgroup (@id)? 1,
 * 0 when it was removed or recreated (systemd recreates a service's cgroup on
 * every restart), -1 when cgroup v2 can't be found.
 */
int cgroup_alive(const char *name, __u64 id);
/* The directory of cgroup @name ("/a/b", as state files keep it); -1 without cgroup v2. */
int cgroup_dir(const char *name, char *out, size_t size);
/* The other way: the name of the cgroup whose directory is @dir; -1 if it is none. */
int cgroup_name_of_dir(const char *dir, char *out, size_t size);

/*
 * Call @fn on the cgroup directory @path and on every one below it, parents
 * first; stops at the first non-zero return and returns it.
 */
int cgroup_walk(const char *path, int (*fn)(const char *path, void *ctx), void *ctx);

/*
 * The cgroup v2 of process @pid (0: this one), as the 0:: line of
 * /proc/PID/cgroup names it ("/system.slice/x.service", relative to the
 * reader's cgroup namespace): 0, or -1 when there is no such line.
 */
int cgroup_of_pid(pid_t pid, char *out, size_t size);

/* The name (relative to the cgroup v2 root) of the cgroup whose id is @id; -1 if none. */
int cgroup_name_of_id(__u64 id, char *out, size_t size);

#endif /* MU_CGROUP_H */
