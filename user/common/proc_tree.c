// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process tree from /proc: one pass over /proc/PID/stat for the parent of
 * every process, then the descendants of the root by those links; for each
 * member, the socket inodes behind its descriptors (/proc/PID/fd) and the
 * cgroup v2 directory it is in (/proc/PID/cgroup, whose inode is the cgroup id).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "proc_tree.h"
#include "sys.h"

struct parent_link {
	pid_t pid, ppid;
};

static int push(void **arr, size_t *nr, size_t size, const void *v)
{
	void *grown;

	/* 16 at first, then doubling: nr itself says when the array is full. */
	if (!*nr || (*nr >= 16 && !(*nr & (*nr - 1)))) {
		grown = realloc(*arr, (*nr ? 2 * *nr : 16) * size);
		if (!grown)
			return -ENOMEM;
		*arr = grown;
	}
	memcpy((char *)*arr + *nr * size, v, size);
	(*nr)++;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The parent of every process (not thread) now running. */
static int parent_links(struct parent_link **out, size_t *nr)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int ret = 0;

	*out = NULL;
	*nr = 0;
	if (!d)
		return -errno;
	while (!ret && (de = readdir(d))) {
		char path[300], buf[512], *close_paren;
		struct parent_link l;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;	/* gone meanwhile */
		/* "PID (comm) S PPID ...": comm may hold blanks and parentheses. */
		close_paren = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!close_paren || sscanf(close_paren + 1, " %*c %d", &l.ppid) != 1)
			continue;
		l.pid = atoi(de->d_name);
		ret = push((void **)out, nr, sizeof(l), &l);
	}
	closedir(d);
	return ret;
}

int proc_fd_links(pid_t pid, int (*fn)(int fd, const char *link, void *ctx), void *ctx)
{
	char path[64], fdpath[340], link[64];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	while (d && !ret && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;	/* closed meanwhile */
		link[n] = '\0';
		ret = fn(atoi(de->d_name), link, ctx);
	}
	if (d)
		closedir(d);
	return ret;
}

static int add_socket(int fd, const char *link, void *ctx)
{
	struct proc_tree *t = ctx;
	unsigned long long ino;
	__u64 v;

	if (sscanf(link, "socket:[%llu]", &ino) != 1)
		return 0;
	v = ino;
	return push((void **)&t->inodes, &t->nr_inodes, sizeof(v), &v);
}

static int add_cgroup(struct proc_tree *t, pid_t pid)
{
	char name[PATH_MAX], root[PATH_MAX], dir[2 * PATH_MAX];
	struct stat st;
	__u64 id;

	if (cgroup_of_pid(pid, name, sizeof(name)) || first_mount("cgroup2", root, sizeof(root)))
		return 0;
	snprintf(dir, sizeof(dir), "%s%s", root, name);
	if (stat(dir, &st))
		return 0;
	id = st.st_ino;
	return push((void **)&t->cgids, &t->nr_cgids, sizeof(id), &id);
}

int proc_tree_add(struct proc_tree *t, pid_t root)
{
	struct parent_link *links;
	size_t nr_links, first = t->nr_pids, i, j;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d", (int)root);
	if (root <= 0 || access(path, F_OK))
		return -ESRCH;
	ret = parent_links(&links, &nr_links);
	if (ret)
		return ret;
	ret = push((void **)&t->pids, &t->nr_pids, sizeof(root), &root);
	/* Breadth first: each member's children join the end of the list. */
	for (i = first; !ret && i < t->nr_pids; i++)
		for (j = 0; !ret && j < nr_links; j++)
			if (links[j].ppid == t->pids[i] && links[j].pid != t->pids[i])
				ret = push((void **)&t->pids, &t->nr_pids, sizeof(pid_t),
					   &links[j].pid);
	free(links);
	for (i = first; !ret && i < t->nr_pids; i++) {
		ret = proc_fd_links(t->pids[i], add_socket, t);
		if (!ret)
			ret = add_cgroup(t, t->pids[i]);
	}
	return ret;
}

void proc_tree_done(struct proc_tree *t)
{
	size_t i, n = 0;

	qsort(t->inodes, t->nr_inodes, sizeof(*t->inodes), cmp_u64);
	qsort(t->cgids, t->nr_cgids, sizeof(*t->cgids), cmp_u64);
	for (i = 0; i < t->nr_cgids; i++)
		if (!n || t->cgids[n - 1] != t->cgids[i])
			t->cgids[n++] = t->cgids[i];
	t->nr_cgids = n;
}

bool proc_tree_has_inode(const struct proc_tree *t, __u64 inode)
{
	return t->nr_inodes && bsearch(&inode, t->inodes, t->nr_inodes, sizeof(inode), cmp_u64);
}

void proc_tree_free(struct proc_tree *t)
{
	free(t->pids);
	free(t->inodes);
	free(t->cgids);
	memset(t, 0, sizeof(*t));
}
