// SPDX-License-Identifier: GPL-2.0-only
/*
 * Programs that register a socket in their epoll before connect() (nginx's
 * upstreams, libevent, Envoy) would wait forever on the MPTCP socket that
 * replaced it: epoll watches files, not descriptor numbers, and the old file's
 * registrations go with it. So they are found and made again, same events and
 * data, for the new socket.
 *
 * Knowing the epolls exactly: a process's epoll descriptors are read from
 * /proc/PID/fd once, the first time the supervisor meets the process (what it
 * inherited), and from then on every epoll_create() and epoll_create1() of the
 * program comes to the supervisor (the seccomp filter sends them), which
 * creates the instance itself and hands it over (ADDFD with
 * SECCOMP_ADDFD_FLAG_SEND, 5.14+), so that it knows the number the program got.
 * An epoll reaching the program some other way (dup() of an epoll descriptor
 * followed by a close() of the first, SCM_RIGHTS, pidfd_getfd) is not known:
 * docs/limits.md says so.
 *
 * Finding a socket's registrations: kcmp(KCMP_EPOLL_TFD) asks each epoll
 * whether it watches the socket (cheap), and only those that do are read for
 * events and data (their fdinfo).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/proc_tree.h"
#include "common/procfs.h"
#include "run_internal.h"

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

void run_epoll_add(struct run_proc *p, int epfd)
{
	size_t i;

	for (i = 0; i < p->nr_epolls; i++)
		if (p->epolls[i] == epfd)
			return;
	if (p->nr_epolls == p->cap_epolls) {
		size_t cap = p->cap_epolls ? 2 * p->cap_epolls : 8;
		int *grown = realloc(p->epolls, cap * sizeof(*grown));

		if (!grown) {
			p->epolls_seeded = false;	/* can't keep it: scan again when needed */
			return;
		}
		p->epolls = grown;
		p->cap_epolls = cap;
	}
	p->epolls[p->nr_epolls++] = epfd;
}

static int seed_one(int fd, const char *link, void *ctx)
{
	if (procfs_is_epoll(link))
		run_epoll_add(ctx, fd);
	return 0;
}

void run_epoll_seed(struct run_proc *p)
{
	char path[64];

	if (p->epolls_seeded)
		return;
	p->nr_epolls = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)p->tgid);
	if (access(path, R_OK))
		return;		/* not seeded: a registered socket stays TCP */
	p->epolls_seeded = true;
	proc_fd_links(p->tgid, seed_one, p);
}

static void epoll_drop(struct run_proc *p, size_t i)
{
	p->epolls[i] = p->epolls[--p->nr_epolls];
}

/* The events and data under which epoll @epfd of @pid watches socket @fd (inode @ino). */
static bool ep_entry(const struct run_proc *p, int epfd, int fd, unsigned long ino,
		     struct run_ep_reg *r)
{
	int dfd = run_proc_open_fdinfo(p, epfd);
	bool found = false;
	char line[256];
	FILE *f;

	f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
	if (!f && dfd >= 0)
		close(dfd);
	while (f && !found && fgets(line, sizeof(line), f)) {
		if (procfs_epoll_entry(line, fd, ino, &r->events, &r->data)) {
			r->epfd = epfd;
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

int run_epoll_registrations(struct run_proc *p, int fd, int old, __u64 ino,
			    struct run_ep_reg **regs)
{
	struct run_ep_reg *out = NULL;
	bool socket_checked = false;
	size_t i;
	int n = 0;

	*regs = NULL;
	run_epoll_seed(p);
	if (!p->epolls_seeded)
		return -1;
	if (!p->nr_epolls)
		return 0;	/* nothing to carry, nothing to check */
	for (i = 0; i < p->nr_epolls;) {
		struct kcmp_epoll_slot slot = { .efd = p->epolls[i], .tfd = fd };
		long same;

		/*
		 * One number can have several entries in an epoll: a closed
		 * socket's stays while another process holds its file. Each is
		 * asked (toff) until one is this file or none is left (ENOENT).
		 */
		do
			same = syscall(SYS_kcmp, p->tgid, p->tgid, KCMP_EPOLL_TFD, fd, &slot);
		while (same > 0 && ++slot.toff < 64);
		if (same > 0) {
			free(out);
			return -1;	/* 64 entries for one number: can't tell */
		}

		/*
		 * Closed since, or the number now holds something else: not an
		 * epoll of ours. EBADF could also be the socket's number closed
		 * (another thread cancelling the connect()): asked only then.
		 */
		if (same < 0 && errno == EBADF && !socket_checked) {
			if (syscall(SYS_kcmp, p->tgid, run_self(), KCMP_FILE, fd, old)) {
				free(out);
				return -1;
			}
			socket_checked = true;
			continue;	/* the socket is there: this epoll asked again */
		}
		if (same < 0 && (errno == EBADF || errno == EINVAL)) {
			epoll_drop(p, i);
			continue;
		}
		/* 0: it watches this very file; ENOSYS (no kcmp): read the fdinfo to know. */
		if (same == 0 || (same < 0 && errno == ENOSYS)) {
			struct run_ep_reg *grown = realloc(out, (n + 1) * sizeof(*out));

			if (!grown) {
				free(out);
				return -1;
			}
			out = grown;
			if (ep_entry(p, p->epolls[i], fd, ino, &out[n]))
				n++;
			else if (same == 0) {
				free(out);
				return -1;	/* watched, but its entry can't be read */
			}
		}
		i++;
	}
	*regs = out;
	return n;
}

/*
 * The carrier: a thread with a descriptor table of its own, where the caller's
 * number @fd can be borrowed for the new socket while EPOLL_CTL_ADD registers
 * it (epoll keys its entries by file and number, so the program's later
 * EPOLL_CTL_MOD/DEL on @fd find them). The workers share one table, where a
 * borrowed number could be taken or used by another worker meanwhile.
 */
struct carry_job {
	int pidfd, fd, new;
	const struct run_ep_reg *regs;
	int n;
	bool ok, done;
};

static pthread_mutex_t carry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t carry_job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t carry_cond = PTHREAD_COND_INITIALIZER;
static struct carry_job *carry_pending;
static int self_pidfd = -1;
static bool carrier_started;
static bool carrier_private;	/* it has a table of its own: numbers can be borrowed */
static bool carrier_ready;	/* ... as it knows before any call is served */

static bool carry_here(struct carry_job *j)
{
	int pfd, new, i, saved = -1;
	bool ok = true;

	pfd = syscall(SYS_pidfd_getfd, self_pidfd, j->pidfd, 0);
	new = syscall(SYS_pidfd_getfd, self_pidfd, j->new, 0);
	if (pfd < 0 || new < 0) {
		ok = false;
		goto out;
	}
	if (new != j->fd) {
		/* Whatever we hold at that number moves aside and comes back. */
		saved = fcntl(j->fd, F_DUPFD_CLOEXEC, 0);
		if (saved < 0 && errno != EBADF) {
			ok = false;
			goto out;
		}
		if (dup3(new, j->fd, O_CLOEXEC) != j->fd) {
			run_say("can't borrow descriptor number %d to carry the epoll registrations: %s",
				j->fd, strerror(errno));
			if (saved >= 0)
				close(saved);
			ok = false;
			goto out;
		}
		if (pfd == j->fd)
			pfd = saved;
	}
	for (i = 0; i < j->n && ok; i++) {
		struct epoll_event ev = { .events = j->regs[i].events, .data.u64 = j->regs[i].data };
		int ep = syscall(SYS_pidfd_getfd, pfd, j->regs[i].epfd, 0);

		ok = ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, j->fd, &ev);
		if (!ok)
			run_say("can't register the new socket in the program's epoll: %s",
				strerror(errno));
		if (ep >= 0)
			close(ep);
	}
	if (new != j->fd) {
		if (saved >= 0) {
			dup3(saved, j->fd, O_CLOEXEC);
			close(saved);
			if (pfd == saved)
				pfd = j->fd;
		} else {
			close(j->fd);
		}
	}
out:
	if (pfd >= 0)
		close(pfd);
	if (new >= 0)
		close(new);
	return ok;
}

static void *carrier(void *arg)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&carry_job_lock);
	if (unshare(CLONE_FILES))
		run_say("the epoll carrier has no descriptor table of its own (%s): "
			"registered sockets stay TCP", strerror(errno));
	else
		carrier_private = true;
	carrier_ready = true;
	pthread_cond_broadcast(&carry_cond);
	for (;;) {
		struct carry_job *j;

		while (!carry_pending)
			pthread_cond_wait(&carry_cond, &carry_job_lock);
		j = carry_pending;
		carry_pending = NULL;
		pthread_mutex_unlock(&carry_job_lock);
		j->ok = carry_here(j);
		pthread_mutex_lock(&carry_job_lock);
		j->done = true;
		pthread_cond_broadcast(&carry_cond);
	}
	return NULL;
}

/* Start the carrier before the workers (it takes a copy of the table as it is). */
int run_epoll_start(void)
{
	pthread_t t;

	self_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	if (self_pidfd < 0)
		return -1;
	fcntl(self_pidfd, F_SETFD, FD_CLOEXEC);
	if (pthread_create(&t, NULL, carrier, NULL))
		return -1;
	pthread_detach(t);
	pthread_mutex_lock(&carry_job_lock);
	while (!carrier_ready)
		pthread_cond_wait(&carry_cond, &carry_job_lock);
	pthread_mutex_unlock(&carry_job_lock);
	carrier_started = true;
	return 0;
}

bool run_epoll_carry(struct run_proc *p, int fd, int new, const struct run_ep_reg *regs, int n)
{
	struct carry_job j = { .pidfd = p->pidfd, .fd = fd, .new = new, .regs = regs, .n = n };

	if (!carrier_started || !carrier_private)
		return false;	/* borrowing numbers in the shared table would race */
	/* One job at a time: registered sockets are nginx's upstreams, not every call. */
	pthread_mutex_lock(&carry_lock);
	pthread_mutex_lock(&carry_job_lock);
	carry_pending = &j;
	pthread_cond_broadcast(&carry_cond);
	while (!j.done)
		pthread_cond_wait(&carry_cond, &carry_job_lock);
	pthread_mutex_unlock(&carry_job_lock);
	pthread_mutex_unlock(&carry_lock);
	return j.ok;
}
