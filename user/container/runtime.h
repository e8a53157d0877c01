/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A container named as its runtime names it, and the cgroup v2 it runs in:
 * what `attach --container` attaches. Each runtime is asked through its own
 * state where it keeps one (runc's state.json, crun's status, containerd's
 * runc state per namespace), podman through `podman container inspect`. No
 * daemon API: the state files are there whether a daemon runs or not.
 */
#ifndef MU_CONTAINER_RUNTIME_H
#define MU_CONTAINER_RUNTIME_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* "containerd:" + a namespace + "/" + a 64-character id fits, with room. */
#define CT_REF_MAX 320

struct container {
	/*
	 * The reference that finds the container again after it is re-created:
	 * "runc:ID", "crun:ID", "containerd:NAMESPACE/ID", "crio:ID" (full ids),
	 * or "podman:NAME" (podman gives a re-created container a new id and
	 * keeps its name).
	 */
	char ref[CT_REF_MAX];
	char id[256];		/* the runtime's id of it */
	pid_t pid;		/* its init process */
	char cgroup[PATH_MAX];	/* its cgroup v2, under the root: /proc/PID/cgroup's 0:: line */
};

/*
 * Resolve @ref: "runc:ID", "crun:ID", "podman:NAME|ID", "containerd:NAMESPACE/ID"
 * (or "containerd:ID", in any namespace), "crio:ID", or a bare ID, prefix or
 * podman name looked for in every runtime. An ID may be a unique prefix. @root,
 * when not NULL or "", is the runtime's state directory instead of its default
 * (/run/runc, /run/crun, /run/containerd/runc). Returns 0, or -1 with one
 * lowercase line in @err: unknown, ambiguous (the matches listed), stopped, a
 * runtime not installed, or a container in the root cgroup. Checks nothing
 * about the cgroup's directory: cgroup_resolve() does.
 */
int container_resolve(const char *ref, const char *root, struct container *ct, char *err,
		      size_t err_size);

/*
 * Does @arg, as a command line gives a container, name the container recorded
 * as @recorded (a struct container's ref)? Without asking any runtime: the
 * container may be gone.
 */
bool container_ref_names(const char *arg, const char *recorded);

#endif /* MU_CONTAINER_RUNTIME_H */
