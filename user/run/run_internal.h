/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The run engine's supervisor, between its parts:
 *   run_loop.c     the worker threads, signals, reload, what each call gets;
 *   run_proc.c     what the supervisor knows of each process of the program;
 *   run_shared.c   sockets reachable through a second descriptor (dup, fork);
 *   run_swap.c     one socket put in place of another (TCP to MPTCP and back);
 *   run_options.c  the options a swap carries;
 *   run_epoll.c    the program's epoll instances and their registrations.
 */
#ifndef MU_RUN_INTERNAL_H
#define MU_RUN_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <linux/seccomp.h>
#include <linux/types.h>

#include "run.h"

/* What the supervisor counts into (mapped from its counters file), and how. */
extern struct run_counters *run_cnt;
#define RUN_COUNT(field) __atomic_fetch_add(&run_cnt->field, 1, __ATOMIC_RELAXED)

struct run_bridge;
extern struct run_bridge *run_bridge_in_use;	/* NULL when the bridge is off */

/*
 * A process of the program, as the supervisor knows it: a pidfd (taken once),
 * the epoll instances it holds, and the sockets the supervisor made MPTCP in
 * it, by descriptor number (so that a later call on one of them can be checked).
 * Reference counted: run_proc_of() takes one, run_proc_put() drops it.
 */
#define RUN_FD_STRIPES 16
#define RUN_DUPS_PENDING 16
#define RUN_FORKS_PENDING 16

struct run_proc {
	pid_t tgid;
	int pidfd;			/* in the supervisor's shared descriptor table */
	int fdinfo_dir;			/* /proc/TGID/fdinfo, opened once; -1: none */
	/* kept[fd]: fdinfo/fd held open (it follows the number), -1: none yet. */
	int *kept;
	size_t nr_kept;
	int refs;
	bool dead;
	/*
	 * Calls that make another descriptor of a socket (dup, fork) or an
	 * epoll take @calls exclusively; swaps take it shared, so those of
	 * different descriptors go on at once, and those of one number take
	 * turns on its stripe. @state guards ours[], kept[], dups[] and forks[], held
	 * briefly; @epoll_lock the epolls, held while a swap reads and carries
	 * registrations (slow). Order: calls, stripe, epoll_lock, state; the
	 * global procs_lock and shared_lock innermost.
	 */
	pthread_rwlock_t calls;
	pthread_mutex_t fd_lock[RUN_FD_STRIPES];
	pthread_mutex_t epoll_lock;
	pthread_mutex_t state;
	/*
	 * dup() calls answered whose descriptor may not exist yet: the thread
	 * that made each, by inode. While one is pending, one descriptor seen is
	 * no proof the dup was closed. Past RUN_DUPS_PENDING, any thread.
	 */
	struct { __u64 ino; pid_t tid; } dups[RUN_DUPS_PENDING];
	int nr_dups;
	bool dups_overflow;
	/* The same for fork()s answered, by the thread that made each. */
	pid_t forks[RUN_FORKS_PENDING];
	int nr_forks;
	bool forks_overflow;
	/* The epoll descriptors (numbers in the process), exact once seeded. */
	bool epolls_seeded;
	int *epolls;
	size_t nr_epolls, cap_epolls;
	/* ours[fd]: inode of the MPTCP socket the supervisor put at fd, 0 for none. */
	__u64 *ours;
	size_t nr_ours;
};

/*
 * The process of thread @tid (the notification's pid), with a reference; NULL
 * when it can't be found (gone) or the thread has a descriptor table of its own.
 */
struct run_proc *run_proc_of(pid_t tid);
/*
 * The same without asking the pidfd of a process already known whether it
 * still runs (a poll() per call): a record of an earlier process with the same
 * PID is then only found out by a pidfd call failing with ESRCH, after which
 * the caller marks it gone and asks run_proc_of().
 */
struct run_proc *run_proc_cached(pid_t tid);
void run_proc_put(struct run_proc *p);
/* The process died (a pidfd call said ESRCH): forget it once the last user is done. */
void run_proc_gone(struct run_proc *p);

/*
 * The fdinfo of descriptor @fd of @p, opened (O_RDONLY, O_CLOEXEC) from the
 * directory opened with the process, so a swap walks one path component, not
 * /proc/PID/fdinfo/N; -1 with errno when it can't be.
 */
int run_proc_open_fdinfo(const struct run_proc *p, int fd);
/*
 * The flags of descriptor @fd of @p ("flags:" of its fdinfo: O_NONBLOCK and
 * O_CLOEXEC among them) and the inode of its file ("ino:", 5.14+; 0 before),
 * from an fdinfo file kept open per number, so that a swap reads one file
 * instead of opening one; false when they can't be read. The caller holds the
 * stripe of @fd.
 */
bool run_proc_fd_flags(struct run_proc *p, int fd, unsigned long *flags, __u64 *ino);

/* The supervisor's PID, asked once (first called in the supervisor, after its fork). */
pid_t run_self(void);

/* ours[] of @p (they take @p->state). */
__u64 run_proc_ours(struct run_proc *p, int fd);
void run_proc_set_ours(struct run_proc *p, int fd, __u64 ino);
/* Is there an entry at @fd in any process? (no lock: a hint for unlisted calls) */
bool run_ours_maybe(int fd);

/*
 * run_shared.c: sockets reachable through a second descriptor (dup, fork): a swap would leave
 * that one on the old socket, so they stay TCP. By inode; every socket of @p
 * at once before a fork.
 */
enum run_shared_kind { RUN_NOT_SHARED, RUN_SHARED_DUP, RUN_SHARED_FORK };
void run_shared_add(__u64 ino, bool fork);
enum run_shared_kind run_shared(__u64 ino);
void run_shared_all_of(struct run_proc *p);
/* A fork() by thread @tid of @p answered: pending until that thread moves on. */
void run_shared_fork_pending(struct run_proc *p, pid_t tid);
/*
 * Marks the sockets the children of every fork of @p that has run hold
 * (@now: the thread asking, in a call of its own); true while a fork
 * answered may not have run yet.
 */
bool run_shared_forks_pending(struct run_proc *p, pid_t now);
/* A dup() of socket @ino by thread @tid of @p answered: pending until that thread moves on. */
void run_shared_dup_pending(struct run_proc *p, __u64 ino, pid_t tid);
/* Has @p a dup() answered that may not have run yet? (no system call) */
bool run_shared_dups_pending(struct run_proc *p);
/*
 * A dup'd socket whose other descriptors in @p are all closed again, and no
 * dup of it pending (@now: the thread asking, in a call of its own):
 * forgotten, true.
 */
bool run_shared_dup_gone(struct run_proc *p, __u64 ino, pid_t now);

/* epoll instances (@p->calls held exclusively, or shared with @p->epoll_lock). */
void run_epoll_seed(struct run_proc *p);
void run_epoll_add(struct run_proc *p, int epfd);

struct run_ep_reg {
	int epfd;		/* in the caller */
	__u32 events;
	__u64 data;
};

/*
 * The registrations of the caller's socket @fd (@old our copy, inode @ino) in the
 * epolls of @p, in *@regs (malloc()ed, free it). -1: can't tell.
 */
int run_epoll_registrations(struct run_proc *p, int fd, int old, __u64 ino,
			    struct run_ep_reg **regs);
/* The thread that carries registrations; before the workers start. */
int run_epoll_start(void);
/* The same registrations for @new under number @fd. False when one can't be made. */
bool run_epoll_carry(struct run_proc *p, int fd, int new, const struct run_ep_reg *regs, int n);

/* The options of a swap. */
struct run_defaults;
/*
 * A socket of @protocol like @old, in @old's network namespace, with socket()'s
 * @flags (SOCK_NONBLOCK); *@def: a fresh TCP socket's option values there.
 */
int run_socket_like(int old, int family, int protocol, int flags, const struct run_defaults **def);
/* Called once, right before the first option is set on the new socket (if any is). */
struct run_carry_hook {
	void (*before)(void *arg);
	void *arg;
	const struct mu_optmask *needs;	/* called before the first of these; NULL: of any */
	bool called;
};
/*
 * The options the program set on @old (or, without the recorder, every one
 * that differs from @def), set on @new. False (counted) when refused.
 */
bool run_carry_options(int old, int new, int family, bool to_mptcp, const struct run_defaults *def,
		       struct run_carry_hook *hook);
void run_options_init(void);
/* The recorder's map (bpf/run_options.bpf.c), or -1: every option is read. */
void run_options_recorder(int map_fd, const volatile __u64 *lost);
/* The run_intent map of the address check; -1 when the kernel can't run it (before 5.19). */
extern int run_intent_fd;

/* What a swap is for. */
enum run_swap_kind {
	RUN_TO_MPTCP,		/* a listed call on a TCP socket */
	RUN_TO_TCP,		/* an unlisted call on an MPTCP socket the supervisor made */
};

enum run_swap_result {
	RUN_SWAPPED,		/* the caller's fd is the new socket */
	RUN_ALREADY,		/* nothing to do: it already is what it should be */
	RUN_KEPT,		/* left as it was (a reason was counted or logged) */
	RUN_GONE,		/* the call was interrupted or the caller is gone */
	RUN_UNTOUCHED,		/* not a socket the swap is for (or too late): as it was */
};

/*
 * Swap the caller's socket @fd for the call @n (a connect() when @is_connect),
 * listed at policy entry @entry (index + 1) when made MPTCP.
 */
enum run_swap_result run_swap(int listener, const struct seccomp_notif *n, struct run_proc *p,
			      int fd, bool is_connect, enum run_swap_kind kind, __u32 entry,
			      const struct mu_run_intent *intent);

/*
 * A listed call (@n, on the caller's @fd) made MPTCP: run_swap() in the
 * process run_proc_cached() finds, or, when that record turns out to be of an
 * earlier process with the same PID, in the one run_proc_of() finds then.
 */
enum run_swap_result run_swap_listed(int listener, const struct seccomp_notif *n, int fd,
				     bool is_connect, __u32 entry, const struct mu_run_intent *intent);

/* What a notified call asks, whatever the ABI it came through. */
enum call_kind {
	CALL_OTHER, CALL_BIND, CALL_CONNECT, CALL_EPOLL_CREATE,
	CALL_IO_URING,	/* io_uring_setup(): its socket operations would pass unseen */
	CALL_DUP,	/* a second descriptor for @fd */
	CALL_FORK,	/* a copy of every descriptor */
};

struct call {
	enum call_kind kind;
	int fd;
	__u64 addr;
	__u32 len;
	__u32 epoll_flags;	/* EPOLL_CLOEXEC */
	bool epoll_bad;		/* the kernel would refuse it (EINVAL) */
	bool compat;		/* a 32-bit call */
};

/* What notified call @n asks (run_call.c). */
void run_decode(const struct seccomp_notif *n, struct call *c);
/*
 * The address of bind() or connect() call @c of @pid: its family, address
 * (IPv4 in the first 4 bytes), port and the copy the address check keeps;
 * false when it can't be read or is not IPv4 or IPv6.
 */
bool run_read_address(pid_t pid, const struct call *c, int *family, __u8 addr[16], __u16 *port,
		      struct mu_run_intent *intent);

/*
 * The bridge, the option recorder and the address check, on the cgroup given
 * by run_supervisor_cgroup() (run_bpf.c); each is said when off.
 */
void run_bpf_start(void);
/* The registry learns the bridge's socket-states map and policy generation. */
void run_bpf_note_states(void);

/*
 * run_filter.c: install the filter in this process (the program, before its
 * exec): the listener fd, or -1 with errno. *@killable: received calls wait
 * killably (5.19+), so that a signal can't make them fail with EINTR.
 */
int run_install_filter(bool *killable);

#endif /* MU_RUN_INTERNAL_H */
