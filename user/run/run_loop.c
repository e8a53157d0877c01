// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's supervisor: what each call the filter sends gets, the
 * threads that receive them, signals and reload.
 *
 * Worker threads take turns as the leader, the one thread waiting on the
 * listener, in NOTIF_RECV (so that the kernel's synchronous wake-up runs it on
 * the caller's CPU); a leader hands the wait on before any slow work, so a call is
 * received within microseconds even while other swaps are under way: the
 * kernel lets a signal interrupt a notified call only until it is received
 * (with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 5.19+; before that, until it
 * is answered). Decoding a call is run_call.c's; the BPF parts run_bpf.c's. The main thread waits for
 * signals (signalfd) and for the program's end; a reload parses and resolves
 * there, off the notification path, and swaps the policy and its counters
 * under a write lock the workers take for reading around each call.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/net.h>
#include <linux/sched.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bridge/bridge.h"
#include "common/paths.h"
#include "common/output.h"
#include "run_internal.h"

#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND	(1UL << 1)
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

struct run_counters *run_cnt;

static size_t cnt_mapped;	/* 0: run_cnt is malloc()ed */
static struct loaded_policy *policy;
static pthread_rwlock_t policy_lock;
static pid_t registry_program;
static long long started_at;
static char policy_path[PATH_MAX];	/* the reloaded policy frees the one started with */
static int sigfd = -1;
static bool no_addfd_send;	/* the kernel has no SECCOMP_ADDFD_FLAG_SEND (before 5.14) */
static bool compat_said;
static bool escape_said;

static void answer(int listener, const struct seccomp_notif *n, int error)
{
	struct seccomp_notif_resp resp = { .id = n->id };

	if (error)
		resp.error = -error;
	else
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	/* ENOENT: the caller was interrupted and is gone from the call; nothing to do. */
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/*
 * epoll_create*(): made here and handed over, so that the number the program
 * gets is known (run_epoll.c). Answered by ADDFD itself (FLAG_SEND).
 */
static void epoll_create_for(int listener, const struct seccomp_notif *n, const struct call *c)
{
	struct seccomp_notif_addfd addfd = {};
	struct run_proc *p;
	int ep, ret;

	if (c->epoll_bad) {
		answer(listener, n, EINVAL);
		return;
	}
	p = run_proc_of(n->pid);
	if (!p) {
		answer(listener, n, 0);
		return;
	}
	pthread_rwlock_wrlock(&p->calls);
	if (__atomic_load_n(&no_addfd_send, __ATOMIC_RELAXED)) {
		/* The kernel makes it: the epolls are read again when a swap needs them. */
		p->epolls_seeded = false;
		answer(listener, n, 0);
		pthread_rwlock_unlock(&p->calls);
		run_proc_put(p);
		return;
	}
	run_epoll_seed(p);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		pthread_rwlock_unlock(&p->calls);
		run_proc_put(p);
		answer(listener, n, errno);
		return;
	}
	addfd.id = n->id;
	addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
	addfd.srcfd = ep;
	addfd.newfd_flags = c->epoll_flags & EPOLL_CLOEXEC ? O_CLOEXEC : 0;
	do
		ret = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	while (ret < 0 && errno == EINTR);
	if (ret >= 0) {
		run_epoll_add(p, ret);
	} else if (errno != ENOENT && errno != ESRCH) {
		/*
		 * No FLAG_SEND (EINVAL, before 5.14), or the handover refused (EMFILE,
		 * an LSM): the kernel makes it, with its own answer, and the epolls
		 * are read again when a swap needs them.
		 */
		if (errno == EINVAL)
			__atomic_store_n(&no_addfd_send, true, __ATOMIC_RELAXED);
		p->epolls_seeded = false;
		answer(listener, n, 0);
	}
	pthread_rwlock_unlock(&p->calls);
	close(ep);
	run_proc_put(p);
}

/* An unlisted call on a socket the supervisor made MPTCP: it goes back to TCP. */
static void unlisted_on_ours(int listener, const struct seccomp_notif *n, const struct call *c)
{
	struct run_proc *p = run_proc_of(n->pid);
	enum run_swap_result r;

	if (!p)
		return;
	r = run_swap(listener, n, p, c->fd, c->kind == CALL_CONNECT, RUN_TO_TCP, MU_ENTRY_NONE,
		     NULL);
	if (r == RUN_SWAPPED) {
		RUN_COUNT(restored_tcp);
	} else if (r == RUN_KEPT) {
		/* Still MPTCP: an unlisted peer may negotiate it. */
		RUN_COUNT(escaped);
		if (!__atomic_exchange_n(&escape_said, true, __ATOMIC_RELAXED))
			run_say("a socket made MPTCP for a listed call could not go back to TCP for "
				"an unlisted one: it goes on as MPTCP (counted as escaped)");
	} else if (r == RUN_GONE) {
		RUN_COUNT(interrupted);
	}
	run_proc_put(p);
}

/*
 * A second descriptor for a socket, or a copy of them all: the sockets are
 * remembered, so that a later listed call on one keeps it TCP (docs/limits.md: a swap
 * replaces one descriptor, and the other would stay on the old socket).
 */
static void shared_for(int listener, const struct seccomp_notif *n, const struct call *c)
{
	struct run_proc *p = run_proc_of(n->pid);
	struct stat st;
	int old;

	/* Under the process's lock: a swap in progress finishes first, or sees the mark. */
	if (p)
		pthread_rwlock_wrlock(&p->calls);
	if (p && c->kind == CALL_FORK) {
		run_shared_all_of(p);
		run_shared_fork_pending(p, n->pid);
	} else if (p) {
		old = syscall(SYS_pidfd_getfd, p->pidfd, c->fd, 0);
		if (old >= 0 && !fstat(old, &st) && S_ISSOCK(st.st_mode)) {
			run_shared_add(st.st_ino, false);
			run_shared_dup_pending(p, st.st_ino, n->pid);
		}
		if (old >= 0)
			close(old);
	}
	/* Answered before the lock goes: no swap can start between mark and call. */
	answer(listener, n, 0);
	if (p)
		pthread_rwlock_unlock(&p->calls);
	run_proc_put(p);
}

/*
 * Leader and followers: the leader alone waits on the listener (in RECV, which
 * the kernel wakes as it wakes a poll() on it, synchronous wake-up included: an
 * epoll in between would lose that; alone, so that a call wakes one thread,
 * not every worker) and receives one call. A call that is
 * answered at once (unlisted, on no socket of ours) keeps the leadership;
 * before any slower work the leader hands it on, so that a thread is always
 * waiting. The others wait for it.
 */
static pthread_mutex_t leader = PTHREAD_MUTEX_INITIALIZER;

static bool io_uring_deny, uring_said;

void run_supervisor_deny_io_uring(bool deny)
{
	io_uring_deny = deny;
}

static void lead_off(bool *led)
{
	if (*led) {
		*led = false;
		pthread_mutex_unlock(&leader);
	}
}

static void handle(int listener, const struct seccomp_notif *n, bool *led)
{
	struct run_line_counters *line = NULL;
	struct mu_run_intent intent;
	__u32 entry = MU_ENTRY_UNLISTED;
	enum run_swap_result r;
	__u8 addr[16] = {};
	bool is_connect;
	struct call c;
	__u16 port;
	int family;

	run_decode(n, &c);
	if (c.kind == CALL_OTHER) {
		answer(listener, n, 0);
		return;
	}
	if (c.kind == CALL_IO_URING) {
		/*
		 * IORING_OP_SOCKET, _BIND and _CONNECT pass no filter: a ring's
		 * sockets are beyond the policy. Refused, libuv, Tokio and liburing
		 * users fall back to epoll; allowed, they are counted.
		 */
		RUN_COUNT(io_uring_setups);
		if (io_uring_deny && !__atomic_exchange_n(&uring_said, true, __ATOMIC_RELAXED))
			run_say("io_uring_setup() refused with ENOSYS (--io-uring deny): the program "
				"falls back to its other I/O, or fails");
		else if (!io_uring_deny && !__atomic_exchange_n(&uring_said, true,
								 __ATOMIC_RELAXED))
			run_say("the program sets up io_uring: a bind or connect submitted through a "
				"ring (IORING_OP_BIND, IORING_OP_CONNECT) passes unseen, and its "
				"socket stays TCP whatever the policy (--io-uring deny refuses "
				"rings)");
		answer(listener, n, io_uring_deny ? ENOSYS : 0);
		return;
	}
	if (c.kind == CALL_EPOLL_CREATE) {
		lead_off(led);
		epoll_create_for(listener, n, &c);
		return;
	}
	if (c.kind == CALL_DUP || c.kind == CALL_FORK) {
		lead_off(led);
		shared_for(listener, n, &c);
		return;
	}
	if (c.compat && !__atomic_exchange_n(&compat_said, true, __ATOMIC_RELAXED))
		run_say("the program makes 32-bit bind()/connect() calls (int 0x80): they are "
			"served as the 64-bit ones");
	is_connect = c.kind == CALL_CONNECT;
	/* A reload waiting for the lock: the wait on the listener goes to another thread. */
	if (pthread_rwlock_tryrdlock(&policy_lock)) {
		lead_off(led);
		pthread_rwlock_rdlock(&policy_lock);
	}
	if (run_read_address(n->pid, &c, &family, addr, &port, &intent))
		entry = policy_trie_lookup(&policy->trie, family, addr, port,
					   is_connect ? MU_ROLE_CONNECT : MU_ROLE_BIND);
	if (entry == MU_ENTRY_UNLISTED || entry == MU_ENTRY_NONE) {
		if (is_connect)
			RUN_COUNT(connects_unlisted);
		else
			RUN_COUNT(binds_unlisted);
		if (run_ours_maybe(c.fd)) {
			lead_off(led);
			unlisted_on_ours(listener, n, &c);
		}
		pthread_rwlock_unlock(&policy_lock);
		answer(listener, n, 0);
		return;
	}
	lead_off(led);
	if (entry <= run_cnt->nr_entries)
		line = &run_cnt->line[entry - 1];
	if (is_connect)
		RUN_COUNT(connects_listed);
	else
		RUN_COUNT(binds_listed);
	if (line)
		__atomic_fetch_add(is_connect ? &line->connects : &line->binds, 1, __ATOMIC_RELAXED);
	r = run_swap_listed(listener, n, c.fd, is_connect, entry, &intent);
	switch (r) {
	case RUN_SWAPPED:
		RUN_COUNT(made_mptcp);
		/* fallthrough */
	case RUN_ALREADY:
		if (run_intent_fd < 0)
			RUN_COUNT(addr_unchecked);
		if (line)
			__atomic_fetch_add(&line->mptcp, 1, __ATOMIC_RELAXED);
		break;
	case RUN_KEPT:
		RUN_COUNT(kept_tcp);
		if (line)
			__atomic_fetch_add(&line->kept_tcp, 1, __ATOMIC_RELAXED);
		break;
	case RUN_GONE:
		RUN_COUNT(interrupted);
		break;
	case RUN_UNTOUCHED:
		break;
	}
	pthread_rwlock_unlock(&policy_lock);
	answer(listener, n, 0);
}

/*
 * The watcher (run's watch()) is the supervisor's parent and tells when the
 * supervisor dies while the program runs (bind()/connect() then fail with
 * ENOSYS). If the watcher dies first (a kill, the OOM killer), the supervisor
 * starts another (SIGUSR2 through PR_SET_PDEATHSIG): its child, which waits on
 * a pidfd of the supervisor and does what the watcher would.
 */
static bool stop_program_on_death = true;
static pid_t watcher_pid;

void run_supervisor_watcher(pid_t watcher, bool stop_program)
{
	watcher_pid = watcher;
	stop_program_on_death = stop_program;
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (getppid() != watcher)
		raise(SIGUSR2);	/* gone already: blocked, read from the signalfd */
}

static void new_watcher(void)
{
	pid_t sup = getpid(), child;
	int sup_fd = syscall(SYS_pidfd_open, sup, 0), prog_fd;
	struct pollfd pfd;

	prog_fd = syscall(SYS_pidfd_open, registry_program, 0);
	if (sup_fd < 0 || prog_fd < 0) {
		run_say("the watcher died and another can't be started: %s", strerror(errno));
		return;
	}
	child = fork();
	if (child < 0) {
		run_say("the watcher died and another can't be started: %s", strerror(errno));
	} else if (child == 0) {
		sigset_t all;

		int lo = sup_fd < prog_fd ? sup_fd : prog_fd, hi = sup_fd ^ prog_fd ^ lo;

		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		setsid();
		/*
		 * Nothing of the supervisor's: the listener (the program's calls
		 * would wait for this process), sockets of a swap under way.
		 */
		close_range(3, lo - 1, 0);
		close_range(lo + 1, hi - 1, 0);
		close_range(hi + 1, ~0U, 0);
		pfd = (struct pollfd){ .fd = sup_fd, .events = POLLIN };
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
		/* The program gone too: nothing to report. */
		if (syscall(SYS_pidfd_send_signal, prog_fd, 0, NULL, 0))
			_exit(0);
		run_registry_remove(sup);
		fprintf(stderr, "%s %s[%d]: %sthe supervisor %d of program %d is gone (its first "
			"watcher died before it): the program's bind(), connect(), dup(), fork() and "
			"epoll_create() now fail with ENOSYS%s\n", prog_name, run_tag, (int)getpid(),
			run_tag_context, (int)sup, (int)registry_program, stop_program_on_death ?
			"; stopping it (SIGTERM) so that it can be started again" :
			"; restart it (--on-supervisor-death keep)");
		if (stop_program_on_death)
			run_stop_program(prog_fd, registry_program);
		_exit(1);
	} else {
		run_say("the watcher %d died: watcher %d took over", (int)watcher_pid, (int)child);
		watcher_pid = child;
	}
	close(sup_fd);
	close(prog_fd);
}

static void report(void)
{
	size_t i;

	run_say("bind() listed %llu, unlisted %llu; connect() listed %llu, unlisted %llu; made "
		"MPTCP %llu, kept TCP %llu, back to TCP %llu, escaped %llu",
		(unsigned long long)run_cnt->binds_listed,
		(unsigned long long)run_cnt->binds_unlisted,
		(unsigned long long)run_cnt->connects_listed,
		(unsigned long long)run_cnt->connects_unlisted,
		(unsigned long long)run_cnt->made_mptcp, (unsigned long long)run_cnt->kept_tcp,
		(unsigned long long)run_cnt->restored_tcp, (unsigned long long)run_cnt->escaped);
	for (i = 0; run_option_label(i); i++)
		if (run_cnt->refused[i])
			run_say("  %s refused: %llu sockets kept as they were", run_option_label(i),
				(unsigned long long)run_cnt->refused[i]);
}

/* Counters for the entries of @lp, the totals carried over (policy_lock held for writing). */
static int counters_for(const struct loaded_policy *lp)
{
	size_t mapped = 0, size;
	struct run_counters *next;

	next = run_counters_create(getpid(), lp, run_cnt, &mapped);
	if (!next) {
		size = sizeof(*next) + lp->pol.nr_entries * sizeof(next->line[0]);
		next = calloc(1, size);
		if (!next)
			return -1;
		if (run_cnt)
			memcpy(next, run_cnt, sizeof(*next));
		next->nr_entries = lp->pol.nr_entries;
		run_say("can't keep counters in %s (%s): status will not show them", MU_RUN_DIR,
			strerror(errno));
	}
	if (run_cnt && cnt_mapped)
		munmap(run_cnt, cnt_mapped);
	else
		free(run_cnt);
	run_cnt = next;
	cnt_mapped = mapped;
	return 0;
}

/* Which line each socket is of, for stats: the bridge's map and the generation in force. */

static unsigned long reload_seq;

static void reload(void)
{
	struct loaded_policy *next = calloc(1, sizeof(*next)), *prev;
	int ret = -1;

	reload_seq++;
	/* load_policy prints what is wrong; the policy in force stays. */
	if (!next || load_policy(policy_path, next)) {
		run_say("reload of %s failed: the policy in force stays", policy_path);
		run_registry_set_reload(reload_seq, "the policy could not be loaded (see the "
					"supervisor's log)");
		free(next);
		run_registry_write(getpid(), registry_program, policy_path, policy, started_at);
		return;
	}
	pthread_rwlock_wrlock(&policy_lock);
	prev = policy;
	if (!counters_for(next)) {
		policy = next;
		ret = 0;
		/* Between two calls: no socket is owned under the old entries after this. */
		if (run_bridge_in_use && run_bridge_reloaded(run_bridge_in_use, prev->pol.nr_entries))
			run_say("the per-line counts of connections could not start again: %s",
				strerror(errno));
	}
	pthread_rwlock_unlock(&policy_lock);
	if (ret) {
		run_say("reload of %s: out of memory: the policy in force stays", policy_path);
		run_registry_set_reload(reload_seq, "out of memory");
		loaded_policy_free(next);
		free(next);
		run_registry_write(getpid(), registry_program, policy_path, policy, started_at);
		return;
	}
	loaded_policy_free(prev);
	free(prev);
	run_bpf_note_states();
	run_registry_set_reload(reload_seq, NULL);
	run_registry_write(getpid(), registry_program, policy_path, policy, started_at);
	run_say("reloaded %s: %zu entr%s", policy_path, policy->pol.nr_entries,
		policy->pol.nr_entries == 1 ? "y" : "ies");
}

void run_oom_protect(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "-1000", 5) != 5 && errno != EACCES && errno != EPERM)
			run_say("can't protect the supervisor from the OOM killer: %s",
				strerror(errno));
		close(fd);
	}
}

/*
 * Descriptor numbers: the epoll carrier borrows the caller's number in a table
 * of its own, so the supervisor takes the highest limit the system allows (a
 * proxy raises its own: nginx worker_rlimit_nofile, HAProxy).
 */
static void raise_nofile(void)
{
	struct rlimit rl;
	unsigned long nr_open = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1048576;
		fclose(f);
	}
	rl.rlim_cur = rl.rlim_max = nr_open;
	/* Without CAP_SYS_RESOURCE, as far as the hard limit (the carrier says when it is hit). */
	if (setrlimit(RLIMIT_NOFILE, &rl) && !getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int run_supervisor_prepare(const char *path, struct loaded_policy *lp, pid_t proxy,
			   bool sync_wakeup, bool killable)
{
	pthread_rwlockattr_t attr;
	sigset_t set;

	/* Signals go to the main thread's signalfd; the watcher handles SIGTERM/SIGINT. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);	/* a second watcher is reaped by the kernel */
	sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd < 0)
		return -1;
	pthread_rwlockattr_init(&attr);
	/* A reload must not wait behind a stream of calls. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&policy_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	snprintf(policy_path, sizeof(policy_path), "%s", path);
	policy = lp;
	registry_program = proxy;
	started_at = time(NULL);
	run_oom_protect();
	raise_nofile();
	run_options_init();
	if (counters_for(lp))
		return -1;
	if (sync_wakeup)
		run_cnt->flags |= MU_RUN_F_SYNC_WAKEUP;
	if (killable)
		run_cnt->flags |= MU_RUN_F_KILLABLE;
	if (io_uring_deny)
		run_cnt->flags |= MU_RUN_F_IO_URING_DENY;
	/*
	 * Registered before anything slow and before the program runs: a reload
	 * (SIGHUP, blocked until the main loop reads it) is never lost, and
	 * `reload --pid` finds the program from its first instant.
	 */
	if (run_registry_write(getpid(), proxy, path, lp, started_at))
		run_say("can't register in %s: status and reload will not see this supervisor",
			MU_RUN_DIR);
	run_bpf_start();
	if (run_bridge_in_use || run_intent_fd >= 0)
		run_registry_write(getpid(), proxy, path, lp, started_at);
	return 0;
}

static int listener_fd;
static size_t notif_size;

static void *worker(void *arg)
{
	struct pollfd pfd = { .fd = listener_fd, .events = POLLIN };
	struct seccomp_notif *n = calloc(1, notif_size);
	bool led = false;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (!n) {
		run_say("a supervisor thread can't wait for calls: %s", strerror(errno));
		return NULL;
	}
	for (;;) {
		if (!led) {
			pthread_mutex_lock(&leader);
			led = true;
		}
		/*
		 * The leader waits in RECV itself: woken as a poll() would be (the
		 * synchronous wake-up included), one call less. ENOENT: the call
		 * went (interrupted), or no process uses the filter any more.
		 */
		memset(n, 0, notif_size);
		if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, n)) {
			if (errno == ENOENT && poll(&pfd, 1, 0) > 0 &&
			    (pfd.revents & (POLLHUP | POLLERR)))
				break;	/* the program is gone: the main thread ends it all */
			if (errno == EINTR || errno == ENOENT)
				continue;
			run_say("can't receive a notification: %s: the program's bind() and connect() "
				"now fail with ENOSYS", strerror(errno));
			run_registry_remove(getpid());
			_exit(1);
		}
		handle(listener_fd, n, &led);
	}
	free(n);
	return NULL;
}

static int nr_workers(void)
{
	const char *want = getenv("MU_RUN_WORKERS");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), n;

	if (want && (n = strtol(want, NULL, 10)) >= 1 && n <= 64)
		return n;
	n = 2 * (cpus > 0 ? cpus : 1);
	return n < 4 ? 4 : n > 16 ? 16 : n;
}

int run_supervisor(int listener)
{
	struct seccomp_notif_sizes sizes = {};
	struct epoll_event hup = { .events = 0 };
	struct pollfd pfd[2];
	int i, workers = nr_workers(), hupep;

	listener_fd = listener;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) ||
	    sizes.seccomp_notif < sizeof(struct seccomp_notif))
		sizes.seccomp_notif = sizeof(struct seccomp_notif);
	notif_size = sizes.seccomp_notif;
	if (run_epoll_start())
		run_say("no epoll carrier (%s): sockets registered in an epoll before their "
			"listed call stay TCP", strerror(errno));
	/* Its hang-up only (no process left); before the workers: see close_both(). */
	hupep = epoll_create1(EPOLL_CLOEXEC);
	if (hupep < 0 || epoll_ctl(hupep, EPOLL_CTL_ADD, listener, &hup)) {
		run_say("can't watch for the program's end: %s", strerror(errno));
		return 1;
	}
	for (i = 0; i < workers; i++) {
		pthread_t t;
		int err = pthread_create(&t, NULL, worker, NULL);

		if (err && !i) {
			run_say("can't start a thread to serve calls: %s", strerror(err));
			return 1;
		}
		if (err)
			break;
		pthread_detach(t);
	}
	pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = hupep, .events = POLLIN };
	for (;;) {
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			run_say("can't wait for signals: %s", strerror(errno));
			run_registry_remove(getpid());
			return 1;
		}
		if (pfd[1].revents)
			break;	/* the program and its children are gone */
		if (!(pfd[0].revents & POLLIN) || read(sigfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP)
			reload();
		else if (si.ssi_signo == SIGUSR1)
			report();
		else if (si.ssi_signo == SIGUSR2 && getppid() != watcher_pid)
			new_watcher();
	}
	run_registry_remove(getpid());
	return 0;
}
