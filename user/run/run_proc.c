// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the supervisor knows of each process of the program, keyed by thread
 * group: the epoll instances it holds and the sockets the supervisor made
 * MPTCP in it. A notification names a thread; its process is found once per
 * thread (/proc/TID/status) and then checked with one kcmp(KCMP_FILES), which
 * also tells a thread with a descriptor table of its own (unshare(CLONE_FILES)):
 * such a thread gets no process, and its sockets stay as they are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/output.h"
#include "common/proc_tree.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#include "common/procfs.h"
#include "run_internal.h"

char run_tag[16] = "run", run_tag_context[160];

void run_set_tag(const char *tag, const char *context)
{
	snprintf(run_tag, sizeof(run_tag), "%s", tag);
	snprintf(run_tag_context, sizeof(run_tag_context), "%s", context ? context : "");
}

void run_say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int off;

	/* One write per line: several threads say things. */
	off = snprintf(buf, sizeof(buf), "%s %s[%d]: %s", prog_name, run_tag, (int)getpid(),
		       run_tag_context);
	va_start(ap, fmt);
	vsnprintf(buf + off, sizeof(buf) - off - 1, fmt, ap);
	va_end(ap);
	off = strlen(buf);
	buf[off++] = '\n';
	if (write(STDERR_FILENO, buf, off) < 0)
		return;	/* nowhere to say it */
}

#define PROCS_MAX	4096	/* processes known at once; dead ones are dropped first */
#define TIDS		1024	/* thread -> process, a direct-mapped cache */

static pthread_mutex_t procs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct run_proc *procs[PROCS_MAX];
static size_t nr_procs;

static struct {
	pid_t tid, tgid;
} tids[TIDS];

/*
 * fdinfo files kept open: per process for descriptor numbers below KEPT_FDS,
 * and in all at most KEPT_MAX or a quarter of the supervisor's descriptor
 * limit, whichever is lower (each costs a descriptor, a proc inode and, once
 * read, the kernel's page of seq_file buffer: about 20 MiB at 4,096); past
 * either, a swap opens the file and closes it again.
 */
#define KEPT_FDS	8192
#define KEPT_MAX	4096
#define KEPT_FD_BASE	1024	/* their numbers in the supervisor start here */
static size_t nr_kept;

/* Read once the supervisor has raised its limit (run_supervisor_prepare). */
static size_t kept_max(void)
{
	static size_t max;
	size_t m = __atomic_load_n(&max, __ATOMIC_RELAXED);
	struct rlimit rl;

	if (!m) {
		m = KEPT_MAX;
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur / 4 < m)
			m = rl.rlim_cur / 4 ? rl.rlim_cur / 4 : 1;
		__atomic_store_n(&max, m, __ATOMIC_RELAXED);
	}
	return m;
}

/* Per descriptor number, how many processes have an entry in ours[] there. */
#define OURS_HINTS	(1U << 20)
static unsigned short ours_hint[OURS_HINTS];

static pid_t tgid_from_status(pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return procfs_status_tgid(buf);
}

static bool same_files(pid_t a, pid_t b)
{
	return a == b || syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0) == 0;
}

static void proc_free(struct run_proc *p)
{
	size_t fd;

	for (fd = 0; fd < p->nr_ours && fd < OURS_HINTS; fd++)
		if (p->ours[fd])
			__atomic_fetch_sub(&ours_hint[fd], 1, __ATOMIC_RELAXED);
	pthread_rwlock_destroy(&p->calls);
	for (fd = 0; fd < RUN_FD_STRIPES; fd++)
		pthread_mutex_destroy(&p->fd_lock[fd]);
	pthread_mutex_destroy(&p->epoll_lock);
	pthread_mutex_destroy(&p->state);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->fdinfo_dir >= 0)
		close(p->fdinfo_dir);
	for (fd = 0; fd < p->nr_kept; fd++)
		if (p->kept[fd] >= 0) {
			close(p->kept[fd]);
			__atomic_fetch_sub(&nr_kept, 1, __ATOMIC_RELAXED);
		}
	free(p->kept);
	free(p->epolls);
	free(p->ours);
	free(p);
}

/* The pidfd says whether the process (not a later one with its PID) still runs. */
static bool proc_alive(const struct run_proc *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

/* Drop the processes that are gone and unused (procs_lock held). */
static void procs_sweep(void)
{
	size_t i, n = 0;

	for (i = 0; i < nr_procs; i++) {
		struct run_proc *p = procs[i];

		if (!p->dead && !proc_alive(p))
			p->dead = true;
		if (p->dead && !p->refs)
			proc_free(p);
		else
			procs[n++] = p;
	}
	nr_procs = n;
}

static void proc_locks_init(struct run_proc *p)
{
	pthread_rwlockattr_t attr;
	int i;

	/* A dup or fork waits for the swaps under way, not behind a stream of them. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&p->calls, &attr);
	pthread_rwlockattr_destroy(&attr);
	for (i = 0; i < RUN_FD_STRIPES; i++)
		pthread_mutex_init(&p->fd_lock[i], NULL);
	pthread_mutex_init(&p->epoll_lock, NULL);
	pthread_mutex_init(&p->state, NULL);
}

static struct run_proc *proc_of(pid_t tid, bool check)
{
	struct run_proc *p = NULL;
	pid_t tgid = -1;
	size_t i, slot = (size_t)tid % TIDS;

	pthread_mutex_lock(&procs_lock);
	if (tids[slot].tid == tid)
		tgid = tids[slot].tgid;
	pthread_mutex_unlock(&procs_lock);
	/* Cached, or the thread is a leader: one kcmp says it is still that process's. */
	if (tgid < 0 || !same_files(tid, tgid)) {
		tgid = tgid_from_status(tid);
		if (tgid < 0 || !same_files(tid, tgid))
			return NULL;	/* gone, or a descriptor table of its own */
	}
	pthread_mutex_lock(&procs_lock);
	tids[slot].tid = tid;
	tids[slot].tgid = tgid;
	for (i = 0; i < nr_procs; i++)
		if (procs[i]->tgid == tgid && !procs[i]->dead) {
			/* An entry of an earlier process with the same PID is dropped. */
			if (!check || proc_alive(procs[i]))
				p = procs[i];
			else
				procs[i]->dead = true;
			break;
		}
	if (!p) {
		/* A new process: those gone give their pidfds back (a program forks rarely). */
		procs_sweep();
		p = nr_procs < PROCS_MAX ? calloc(1, sizeof(*p)) : NULL;
		if (p) {
			char dir[64];

			p->tgid = tgid;
			/* pidfd_open() sets close-on-exec itself. */
			p->pidfd = syscall(SYS_pidfd_open, tgid, 0);
			if (p->pidfd < 0) {
				free(p);
				p = NULL;
			} else {
				/*
				 * Opened after the pidfd and kept only if the pidfd
				 * still says the process runs: the directory is then
				 * that process's, not a later one's with its PID.
				 */
				snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)tgid);
				p->fdinfo_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (p->fdinfo_dir >= 0 && !proc_alive(p)) {
					close(p->fdinfo_dir);
					p->fdinfo_dir = -1;
					p->dead = true;	/* exited already: never read by path */
				}
				proc_locks_init(p);
				procs[nr_procs++] = p;
			}
		}
	}
	if (p)
		p->refs++;
	pthread_mutex_unlock(&procs_lock);
	return p;
}

struct run_proc *run_proc_of(pid_t tid)
{
	return proc_of(tid, true);
}

struct run_proc *run_proc_cached(pid_t tid)
{
	return proc_of(tid, false);
}

pid_t run_self(void)
{
	static pid_t self;
	pid_t s = __atomic_load_n(&self, __ATOMIC_RELAXED);

	if (!s) {
		s = getpid();
		__atomic_store_n(&self, s, __ATOMIC_RELAXED);
	}
	return s;
}

int run_proc_open_fdinfo(const struct run_proc *p, int fd)
{
	char name[64];

	if (p->fdinfo_dir >= 0) {
		snprintf(name, sizeof(name), "%d", fd);
		return openat(p->fdinfo_dir, name, O_RDONLY | O_CLOEXEC);
	}
	/* No directory (it could not be opened): by path, while the pidfd says it is this process. */
	if (p->dead || !proc_alive(p)) {
		errno = ESRCH;
		return -1;
	}
	snprintf(name, sizeof(name), "/proc/%d/fdinfo/%d", (int)p->tgid, fd);
	return open(name, O_RDONLY | O_CLOEXEC);
}

/* The slot keeping fdinfo/@fd open, grown on demand; NULL past the limits. Under p->state. */
static int *kept_slot(struct run_proc *p, int fd)
{
	size_t n;
	int *grown;

	if (fd < 0 || fd >= KEPT_FDS)
		return NULL;
	if ((size_t)fd < p->nr_kept)
		return &p->kept[fd];
	if (__atomic_load_n(&nr_kept, __ATOMIC_RELAXED) >= kept_max())
		return NULL;
	for (n = p->nr_kept ? p->nr_kept : 64; n <= (size_t)fd; n *= 2)
		;
	grown = realloc(p->kept, n * sizeof(*grown));
	if (!grown)
		return NULL;
	for (size_t i = p->nr_kept; i < n; i++)
		grown[i] = -1;
	p->kept = grown;
	p->nr_kept = n;
	return &p->kept[fd];
}

/*
 * The caller holds the stripe of @fd: no other thread reads or replaces the
 * file kept for that number meanwhile, and p->state is held only to find it.
 */
bool run_proc_fd_flags(struct run_proc *p, int fd, unsigned long *flags, __u64 *ino)
{
	bool kept = false;
	char buf[512];
	int *slot, f;
	ssize_t n;

	pthread_mutex_lock(&p->state);
	slot = kept_slot(p, fd);
	f = slot ? *slot : -1;
	pthread_mutex_unlock(&p->state);
	kept = f >= 0;
	if (!kept) {
		f = run_proc_open_fdinfo(p, fd);
		if (f < 0)
			return false;
		if (slot && __atomic_add_fetch(&nr_kept, 1, __ATOMIC_RELAXED) <= kept_max()) {
			/*
			 * Kept above the numbers a swap takes and gives back, so that
			 * the two it holds (the caller's socket, the new one) come
			 * out adjacent and are closed in one call.
			 */
			int high = fcntl(f, F_DUPFD_CLOEXEC, KEPT_FD_BASE);

			if (high >= 0) {
				close(f);
				f = high;
			}
			pthread_mutex_lock(&p->state);
			slot = kept_slot(p, fd);	/* the array may have moved */
			if (slot && *slot < 0) {
				*slot = f;
				kept = true;
			}
			pthread_mutex_unlock(&p->state);
		}
		if (slot && !kept)
			__atomic_fetch_sub(&nr_kept, 1, __ATOMIC_RELAXED);
	}
	/* Read from the start each time: the kernel writes it for the descriptor there now. */
	n = pread(f, buf, sizeof(buf) - 1, 0);
	if (!kept)
		close(f);
	if (n <= 0) {
		/*
		 * The number is closed (ENOENT), or the process is gone: then its
		 * kept files go with it now, not at the next process's sweep.
		 */
		if (!proc_alive(p))
			run_proc_gone(p);
		return false;
	}
	buf[n] = '\0';
	*ino = procfs_fdinfo_ino(buf);
	return procfs_fdinfo_flags(buf, flags);
}

void run_proc_put(struct run_proc *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&procs_lock);
	p->refs--;
	if (p->dead && !p->refs)
		procs_sweep();
	pthread_mutex_unlock(&procs_lock);
}

void run_proc_gone(struct run_proc *p)
{
	pthread_mutex_lock(&procs_lock);
	p->dead = true;
	pthread_mutex_unlock(&procs_lock);
}

__u64 run_proc_ours(struct run_proc *p, int fd)
{
	__u64 ino;

	pthread_mutex_lock(&p->state);
	ino = fd >= 0 && (size_t)fd < p->nr_ours ? p->ours[fd] : 0;
	pthread_mutex_unlock(&p->state);
	return ino;
}

void run_proc_set_ours(struct run_proc *p, int fd, __u64 ino)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&p->state);
	if ((size_t)fd >= p->nr_ours) {
		size_t n = p->nr_ours ? p->nr_ours : 64;
		__u64 *grown;

		if (!ino)
			goto out;	/* nothing there to clear */
		while (n <= (size_t)fd)
			n *= 2;
		grown = realloc(p->ours, n * sizeof(*grown));
		if (!grown)
			goto out;	/* not remembered: a failed call's retry can't be checked */
		memset(grown + p->nr_ours, 0, (n - p->nr_ours) * sizeof(*grown));
		p->ours = grown;
		p->nr_ours = n;
	}
	if ((size_t)fd < OURS_HINTS && !p->ours[fd] != !ino)
		__atomic_fetch_add(&ours_hint[fd], ino ? 1 : -1, __ATOMIC_RELAXED);
	p->ours[fd] = ino;
out:
	pthread_mutex_unlock(&p->state);
}

bool run_ours_maybe(int fd)
{
	return fd < 0 || (unsigned int)fd >= OURS_HINTS ||
	       __atomic_load_n(&ours_hint[fd], __ATOMIC_RELAXED);
}
