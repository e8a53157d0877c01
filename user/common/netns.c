// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "netns.h"

static unsigned long netns_inode(int pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

static bool known(const struct netns_set *set, unsigned long ino)
{
	size_t i;

	for (i = 0; i < set->nr; i++)
		if (set->ns[i].ino == ino)
			return true;
	return false;
}

/* Room for one more; false (and counted) when the set is full. */
static bool room(struct netns_set *set)
{
	struct netns_ref *grown;
	size_t want;

	if (set->nr < set->cap)
		return true;
	want = set->cap ? 2 * set->cap : 16;
	if (set->nr >= MAX_NETNS || !(grown = realloc(set->ns, want * sizeof(*grown)))) {
		set->dropped++;
		return false;
	}
	set->ns = grown;
	set->cap = want;
	return true;
}

static void add_pid(struct netns_set *set, int pid)
{
	unsigned long ino = netns_inode(pid);

	if (ino && !known(set, ino) && room(set))
		set->ns[set->nr++] = (struct netns_ref){ .ino = ino, .pid = pid };
}

void netns_set_free(struct netns_set *set)
{
	free(set->ns);
	memset(set, 0, sizeof(*set));
}

void netns_set_add_named(struct netns_set *set)
{
	struct netns_ref ref = {};
	struct dirent *de;
	struct stat st;
	DIR *d = opendir("/run/netns");

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(ref.path, sizeof(ref.path), "/run/netns/%s", de->d_name) >=
		    sizeof(ref.path))
			continue;
		/* A name that is not a mounted namespace (a stale file) has its own inode. */
		if (stat(ref.path, &st) || !st.st_ino || known(set, st.st_ino))
			continue;
		if (!room(set))
			continue;
		ref.ino = st.st_ino;
		set->ns[set->nr++] = ref;
	}
	if (d)
		closedir(d);
}

void netns_set_init_empty(struct netns_set *set)
{
	memset(set, 0, sizeof(*set));
}

void netns_set_add_self(struct netns_set *set)
{
	size_t before = set->nr;

	add_pid(set, getpid());
	if (set->nr > before)
		set->ns[before].pid = 0;	/* entered by staying */
}

bool netns_self_is_init(void)
{
	unsigned long self = netns_inode(getpid()), init = netns_inode(1);

	return !self || !init || self == init;
}

void netns_set_init(struct netns_set *set)
{
	memset(set, 0, sizeof(*set));
	netns_set_add_self(set);
}

/* One cgroup of the subtree: the namespaces of the processes in it. */
static int add_procs(const char *path, void *ctx)
{
	char procs[PATH_MAX];
	FILE *f;
	int pid;

	if ((size_t)snprintf(procs, sizeof(procs), "%s/cgroup.procs", path) >= sizeof(procs))
		return 0;
	f = fopen(procs, "re");
	while (f && fscanf(f, "%d", &pid) == 1)
		add_pid(ctx, pid);
	if (f)
		fclose(f);
	return 0;
}

void netns_set_add_pid(struct netns_set *set, int pid)
{
	add_pid(set, pid);
}

void netns_set_add_cgroup(struct netns_set *set, const char *path)
{
	cgroup_walk(path, add_procs, set);
}

int netns_set_for_each(const struct netns_set *set,
		       int (*fn)(const struct netns_ref *ns, void *ctx), void *ctx)
{
	int self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns_fd, r, sum = 0;
	char path[128];
	size_t i;

	if (self_fd < 0)
		return -1;
	for (i = 0; i < set->nr; i++) {
		if (set->ns[i].pid || set->ns[i].path[0]) {
			if (set->ns[i].pid)
				snprintf(path, sizeof(path), "/proc/%d/ns/net", set->ns[i].pid);
			else
				snprintf(path, sizeof(path), "%s", set->ns[i].path);
			ns_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (ns_fd < 0)
				continue;	/* the process exited meanwhile */
			r = setns(ns_fd, CLONE_NEWNET);
			close(ns_fd);
			if (r)
				continue;
			/*
			 * The process may have exited and its PID gone to another one
			 * since the set was made: act only in the namespace recorded.
			 */
			if (netns_inode(getpid()) != set->ns[i].ino)
				continue;
		} else if (setns(self_fd, CLONE_NEWNET)) {
			sum = -1;
			break;
		}
		r = fn(&set->ns[i], ctx);
		if (r < 0) {
			sum = r;
			break;
		}
		sum += r;
	}
	if (setns(self_fd, CLONE_NEWNET))
		sum = -1;
	close(self_fd);
	return sum;
}
