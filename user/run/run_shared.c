// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sockets the program can reach through more than one descriptor (a dup, a
 * fork): a swap replaces one descriptor, so such a socket stays TCP. The set
 * of their inodes, and the dup() and fork() calls answered but not yet run,
 * whose new descriptors can't be seen yet.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/proc_tree.h"
#include "common/procfs.h"
#include "run_internal.h"

/*
 * Sockets reachable through another descriptor: their inodes, in a hash set
 * that is emptied when half full (those then count as not shared, as before
 * this set existed). The low bit of a slot says whether a fork made the
 * other descriptor (in another process: it can't be checked) or a dup.
 */
#define SHARED_SLOTS	(1U << 18)
#define SHARED_FORK	1ULL

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static __u64 *shared;
static size_t nr_shared;

/* The slot of @ino, or the empty one where it would go (shared_lock held). */
static __u64 *shared_slot(__u64 ino)
{
	size_t i;

	for (i = ino % SHARED_SLOTS; shared[i] && shared[i] >> 1 != ino; i = (i + 1) % SHARED_SLOTS)
		;
	return &shared[i];
}

void run_shared_add(__u64 ino, bool fork)
{
	__u64 *slot;

	if (!ino)
		return;
	pthread_mutex_lock(&shared_lock);
	if (!shared)
		shared = calloc(SHARED_SLOTS, sizeof(*shared));
	if (shared && nr_shared >= SHARED_SLOTS / 2) {
		memset(shared, 0, SHARED_SLOTS * sizeof(*shared));
		nr_shared = 0;
	}
	if (shared) {
		slot = shared_slot(ino);
		if (!*slot)
			nr_shared++;
		*slot |= ino << 1 | (fork ? SHARED_FORK : 0);
	}
	pthread_mutex_unlock(&shared_lock);
}

enum run_shared_kind run_shared(__u64 ino)
{
	enum run_shared_kind k = RUN_NOT_SHARED;
	__u64 *slot;

	pthread_mutex_lock(&shared_lock);
	if (shared) {
		slot = shared_slot(ino);
		if (*slot)
			k = *slot & SHARED_FORK ? RUN_SHARED_FORK : RUN_SHARED_DUP;
	}
	pthread_mutex_unlock(&shared_lock);
	return k;
}

struct count_ctx {
	__u64 ino;
	int n;
};

static int count_one(int fd, const char *link, void *ctx)
{
	struct count_ctx *c = ctx;
	unsigned long long ino;

	if (procfs_socket_inode(link, &ino) && ino == c->ino)
		c->n++;
	return 0;
}

/* The calls that make another descriptor of a socket, as the filter sees them. */
static const long dup_calls[] = {
	32, 33, 72, 292,		/* dup, dup2, fcntl, dup3 */
	41, 55, 63, 221, 330,		/* i386: dup, fcntl, dup2, fcntl64, dup3 */
};
static const long fork_calls[] = {
	56, 57, 58, 435,		/* clone, fork, vfork, clone3 */
	2, 120, 190,			/* i386: fork, clone, vfork (clone3 is 435 too) */
};

/*
 * Has thread @tid of @p left the call it was let through (one of @calls)?
 * Yes when it is gone or waits in any other call; "running" may still be
 * before it.
 */
static bool call_done(const struct run_proc *p, pid_t tid, const long *calls, size_t nr_calls)
{
	char path[64], buf[64];
	ssize_t n;
	size_t i;
	long nr;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)p->tgid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n == 0 || errno == ESRCH;
	buf[n] = '\0';
	if (sscanf(buf, "%ld", &nr) != 1)
		return false;	/* "running" */
	for (i = 0; i < nr_calls; i++)
		if (nr == calls[i])
			return false;
	return true;
}

static bool dup_done(const struct run_proc *p, pid_t tid)
{
	return call_done(p, tid, dup_calls, sizeof(dup_calls) / sizeof(dup_calls[0]));
}

static bool fork_done(const struct run_proc *p, pid_t tid)
{
	return call_done(p, tid, fork_calls, sizeof(fork_calls) / sizeof(fork_calls[0]));
}

/*
 * Every thread of @p but @now past its call of a class (@done): after an
 * overflow no record says which thread made one. False when the threads
 * can't be listed.
 */
static bool all_threads_done(const struct run_proc *p, pid_t now,
			     bool (*done)(const struct run_proc *, pid_t))
{
	char path[64];
	struct dirent *d;
	bool all = true;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)p->tgid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (all && (d = readdir(dir)))
		if (d->d_name[0] != '.' && atoi(d->d_name) != now)
			all = done(p, atoi(d->d_name));
	closedir(dir);
	return all;
}

/* Drops the pending dups that are done (@now is in a call of its own: done). p->state held. */
static void dups_prune(struct run_proc *p, pid_t now)
{
	int i;

	for (i = 0; i < p->nr_dups;)
		if (p->dups[i].tid == now || dup_done(p, p->dups[i].tid))
			p->dups[i] = p->dups[--p->nr_dups];
		else
			i++;
}

void run_shared_dup_pending(struct run_proc *p, __u64 ino, pid_t tid)
{
	pthread_mutex_lock(&p->state);
	if (p->nr_dups == RUN_DUPS_PENDING)
		dups_prune(p, 0);
	if (p->nr_dups < RUN_DUPS_PENDING)
		p->dups[p->nr_dups++] = (typeof(p->dups[0])){ .ino = ino, .tid = tid };
	else
		p->dups_overflow = true;
	pthread_mutex_unlock(&p->state);
}

bool run_shared_dups_pending(struct run_proc *p)
{
	bool pending;

	pthread_mutex_lock(&p->state);
	pending = p->nr_dups || p->dups_overflow;
	pthread_mutex_unlock(&p->state);
	return pending;
}

bool run_shared_dup_gone(struct run_proc *p, __u64 ino, pid_t now)
{
	struct count_ctx c = { .ino = ino };
	bool pending = false;
	int i;

	/*
	 * The dup() answered may not have run yet (its thread not scheduled
	 * since): then the one descriptor counted proves nothing.
	 */
	pthread_mutex_lock(&p->state);
	dups_prune(p, now);
	if (p->dups_overflow && all_threads_done(p, now, dup_done))
		p->dups_overflow = false;
	pending = p->dups_overflow;
	for (i = 0; i < p->nr_dups && !pending; i++)
		pending = p->dups[i].ino == ino;
	pthread_mutex_unlock(&p->state);
	if (pending)
		return false;
	proc_fd_links(p->tgid, count_one, &c);
	if (c.n != 1)
		return false;
	/*
	 * One descriptor left, the caller's: the dup was closed (dup2() to a
	 * higher number, then close()). Forgotten, it is not shared any more.
	 * Rehashing what follows in the probe sequence keeps the others findable.
	 */
	pthread_mutex_lock(&shared_lock);
	if (shared) {
		__u64 *slot = shared_slot(ino), moved;
		size_t i = slot - shared;

		if (*slot) {
			*slot = 0;
			nr_shared--;
			for (i = (i + 1) % SHARED_SLOTS; shared[i]; i = (i + 1) % SHARED_SLOTS) {
				moved = shared[i];
				shared[i] = 0;
				*shared_slot(moved >> 1) = moved;
			}
		}
	}
	pthread_mutex_unlock(&shared_lock);
	return true;
}

static int shared_one(int fd, const char *link, void *ctx)
{
	unsigned long long ino;

	if (procfs_socket_inode(link, &ino))
		run_shared_add(ino, true);
	return 0;
}

void run_shared_all_of(struct run_proc *p)
{
	proc_fd_links(p->tgid, shared_one, NULL);
}

/* Every socket the children of thread @tid of @p hold: shared with them. */
static void mark_children_of(const struct run_proc *p, pid_t tid)
{
	char path[80], buf[4096], *tok, *save;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)p->tgid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		proc_fd_links(atoi(tok), shared_one, NULL);
}

void run_shared_fork_pending(struct run_proc *p, pid_t tid)
{
	pthread_mutex_lock(&p->state);
	if (p->nr_forks < RUN_FORKS_PENDING)
		p->forks[p->nr_forks++] = tid;
	else
		p->forks_overflow = true;
	pthread_mutex_unlock(&p->state);
}

bool run_shared_forks_pending(struct run_proc *p, pid_t now)
{
	bool pending;
	int i;

	pthread_mutex_lock(&p->state);
	if (!p->nr_forks && !p->forks_overflow) {
		pthread_mutex_unlock(&p->state);
		return false;
	}
	/*
	 * A fork that has run: its child's table is the parent's of that
	 * instant, so every socket a child holds is marked (those created
	 * after the fork was answered included). One not run yet: any socket
	 * could still go to the child, so none is swapped meanwhile.
	 */
	for (i = 0; i < p->nr_forks;) {
		pid_t tid = p->forks[i];

		if (tid == now || fork_done(p, tid)) {
			mark_children_of(p, tid);
			p->forks[i] = p->forks[--p->nr_forks];
		} else {
			i++;
		}
	}
	/* Which threads forked is not known: every thread's children, once all are past it. */
	if (p->forks_overflow && !p->nr_forks && all_threads_done(p, now, fork_done)) {
		char path[64];
		struct dirent *d;
		DIR *dir;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)p->tgid);
		dir = opendir(path);
		while (dir && (d = readdir(dir)))
			if (d->d_name[0] != '.')
				mark_children_of(p, atoi(d->d_name));
		if (dir)
			closedir(dir);
		p->forks_overflow = !dir;
	}
	pending = p->nr_forks || p->forks_overflow;
	pthread_mutex_unlock(&p->state);
	return pending;
}
