// SPDX-License-Identifier: GPL-2.0-only
/*
 * One socket put in place of another under the caller's descriptor number:
 *
 *   1. take a copy of the caller's socket (pidfd_getfd) and check it is what
 *      the swap is for: a TCP stream socket of an IP family that has neither
 *      connected nor listened (to MPTCP), or an MPTCP socket the supervisor
 *      made whose listed call failed and is now retried on an unlisted address
 *      (back to TCP, so that the unlisted peer never sees MPTCP);
 *   2. create the new socket in the old one's network namespace, with its
 *      O_NONBLOCK and every option it set that differs from a fresh socket's
 *      (an option refused leaves the socket as it was: counted, logged once);
 *   3. bind it to the old one's local address if it had one (HAProxy `source`,
 *      nginx `proxy_bind`);
 *   4. register it in every epoll that watched the old one;
 *   5. install it under the caller's number (SECCOMP_IOCTL_NOTIF_ADDFD, the
 *      caller's FD_CLOEXEC kept) once a last kcmp says the number still holds
 *      the socket that was checked.
 * The caller's own call then runs on it (CONTINUE), with its own arguments and
 * errors. Anything unexpected leaves the socket as it was.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "run_internal.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int get_int(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, name, &v, &len) ? -1 : v;
}

struct own_swapping {
	int fd;
	__u32 entry;
	bool is_connect, ok;
};

/* The bridge owns the new socket, flagged as swapping (run_carry_options' hook). */
static void own_swapping(void *arg)
{
	struct own_swapping *o = arg;

	o->ok = !run_bridge_own(run_bridge_in_use, o->fd, o->entry, o->is_connect, true);
	if (!o->ok)
		run_say("can't hand the MPTCP socket to the socket-option bridge: %s",
			strerror(errno));
}

/* The local address a socket is bound to, if any (before connect: `source`). */
static bool bound_address(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)ss, len))
		return false;
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		return a->sin_port || a->sin_addr.s_addr;
	}
	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		return a->sin6_port || !IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
	}
	return false;
}

/* Neither connected, connecting nor listening (@bound: it has a local address). */
static bool unconnected(int fd, int protocol, bool bound)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct tcp_info ti;

	if (protocol == IPPROTO_TCP) {
		/*
		 * connect() and listen() give a TCP socket its local port, which
		 * getsockname() shows from then on: one with neither port nor
		 * address has done neither. Otherwise the state byte alone
		 * (SYN_SENT looks unconnected to getpeername()).
		 */
		if (!bound)
			return true;
		len = 1;
		return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) && len == 1 &&
		       ti.tcpi_state == TCP_CLOSE;
	}
	return get_int(fd, SOL_SOCKET, SO_ACCEPTCONN) == 0 &&
	       getpeername(fd, (struct sockaddr *)&peer, &len) && errno == ENOTCONN;
}

/* The inode of @fd's file; 0 when it can't be asked. */
static __u64 inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* Is the caller still in call @n? (the process found for it was its own) */
static bool in_call(int listener, const struct seccomp_notif *n)
{
	return !ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id);
}

/*
 * Our copies of the caller's socket and of the new one: adjacent numbers, as
 * they mostly are, in one call. (So the supervisor's long-lived descriptors are
 * made before the workers start, or from 1024 up, never between the two.)
 */
static void close_both(int old, int new)
{
	if (new >= 0 && (new == old + 1 || old == new + 1)) {
		close_range(old < new ? old : new, old < new ? new : old, 0);
		return;
	}
	close(old);
	if (new >= 0)
		close(new);
}

/*
 * The address the call was classified by, on the MPTCP socket it runs on:
 * the kernel uses that one, whatever the caller's memory says by then.
 */
static void set_intent(int sock, const struct mu_run_intent *intent)
{
	if (intent && run_intent_fd >= 0 &&
	    bpf_map_update_elem(run_intent_fd, &sock, intent, BPF_ANY))
		run_say("can't record the classified address for the kernel: %s",
			strerror(errno));
}

enum run_swap_result run_swap(int listener, const struct seccomp_notif *n, struct run_proc *p,
			      int fd, bool is_connect, enum run_swap_kind kind, __u32 entry,
			      const struct mu_run_intent *intent)
{
	int old, new = -1, family, protocol, want, one = 1, reuse, nregs = 0, ret;
	unsigned long fl = 0;
	enum run_swap_result res = RUN_KEPT;
	struct seccomp_notif_addfd addfd = {};
	const struct run_defaults *def;
	struct run_ep_reg *regs = NULL;
	struct sockaddr_storage local;
	socklen_t local_len;
	int old_reuse = -1;	/* the caller's SO_REUSEADDR, while we hold it at 1 */
	bool bound = false, locked = false, dup_pending;
	struct own_swapping own = {};
	struct run_carry_hook hook = { .before = own_swapping, .arg = &own };
	struct mu_optmask bridged;
	__u64 ino = 0, ours;
	struct stat nst;

	old = syscall(SYS_pidfd_getfd, p->pidfd, fd, 0);
	if (old < 0 && errno == ESRCH) {
		run_proc_gone(p);
		return RUN_GONE;
	}
	if (old < 0)
		return RUN_UNTOUCHED;	/* EBADF: the call fails by itself */
	/*
	 * Whether the thread is still in its call (so that the process found
	 * for it was its own) is asked where something would change without
	 * ADDFD; a swap's ADDFD fails by itself when it is not. getsockname()
	 * fails on anything but a socket (the family stays 0).
	 */
	bound = bound_address(old, &local, &local_len);
	family = local.ss_family;
	if (family != AF_INET && family != AF_INET6) {
		res = RUN_UNTOUCHED;
		goto out;
	}
	/* TCP and MPTCP are stream protocols: SO_PROTOCOL says the type too. */
	protocol = get_int(old, SOL_SOCKET, SO_PROTOCOL);
	/* Beside other swaps (one per number at a time), never beside a dup or fork. */
	pthread_rwlock_rdlock(&p->calls);
	pthread_mutex_lock(&p->fd_lock[fd % RUN_FD_STRIPES]);
	locked = true;
	/* No dup() can be answered from here on (it takes @p->calls exclusively). */
	dup_pending = run_shared_dups_pending(p);
	if (kind == RUN_TO_MPTCP) {
		if (protocol == IPPROTO_MPTCP) {
			/* A restarted call on a socket already swapped, or the program's own. */
			if (!in_call(listener, n)) {
				res = RUN_GONE;
				goto out;
			}
			ours = run_proc_ours(p, fd);
			if (ours && ours == inode_of(old))
				set_intent(old, intent);
			res = RUN_ALREADY;
			goto out;
		}
		want = IPPROTO_MPTCP;
	} else {
		if (!in_call(listener, n)) {
			res = RUN_GONE;
			goto out;
		}
		ours = run_proc_ours(p, fd);
		if (protocol != IPPROTO_MPTCP || !ours || ours != inode_of(old)) {
			/* Not the socket the supervisor put there: that one was closed. */
			run_proc_set_ours(p, fd, 0);
			res = RUN_UNTOUCHED;
			goto out;
		}
		/*
		 * An unlisted call: the address of the earlier listed one must not
		 * be used for it, whether or not the socket goes back to TCP.
		 */
		if (run_intent_fd >= 0)
			bpf_map_delete_elem(run_intent_fd, &old);
		want = IPPROTO_TCP;
	}
	if (protocol != IPPROTO_TCP && protocol != IPPROTO_MPTCP) {
		res = RUN_UNTOUCHED;
		goto out;
	}
	if (!run_proc_fd_flags(p, fd, &fl, &ino)) {
		long f = fcntl(old, F_GETFL);

		fl = f >= 0 ? (unsigned long)f & O_NONBLOCK : 0;	/* close-on-exec: unknown, off */
		ino = 0;
	}
	/*
	 * The socket's inode, from that fdinfo: read under the lock, after
	 * pidfd_getfd, it is @old's unless the number held another file then
	 * and holds @old again at the last kcmp below, which only a dup()
	 * answered before the lock and yet to run could make it do. With such
	 * a dup pending, or no "ino:" line (before 5.14), @old is asked.
	 */
	if (!ino || dup_pending)
		ino = inode_of(old);
	if (!ino) {
		res = RUN_UNTOUCHED;
		goto out;
	}
	if (kind == RUN_TO_MPTCP) {
		enum run_shared_kind sk;

		/* A fork answered may not have run: the child could get the old socket. */
		if (run_shared_forks_pending(p, n->pid)) {
			RUN_COUNT(kept_shared);
			goto out;
		}
		sk = run_shared(ino);

		/* The other descriptor would stay on the old socket: it stays TCP. */
		if (sk == RUN_SHARED_FORK ||
		    (sk == RUN_SHARED_DUP && !run_shared_dup_gone(p, ino, n->pid))) {
			RUN_COUNT(kept_shared);
			goto out;
		}
	}
	if (!unconnected(old, protocol, bound)) {
		res = kind == RUN_TO_TCP ? RUN_ALREADY : RUN_UNTOUCHED;
		goto out;	/* too late: the call fails or works on what there is */
	}
	if (bound && !is_connect) {
		res = RUN_UNTOUCHED;	/* bind() on a bound socket fails by itself */
		goto out;
	}
	new = run_socket_like(old, family, want, fl & O_NONBLOCK ? SOCK_NONBLOCK : 0, &def);
	if (new < 0) {
		run_say("can't create a%s socket: %s", want == IPPROTO_MPTCP ? "n MPTCP" : " TCP",
			strerror(errno));
		goto out;
	}
	/* Before the options: those MPTCP refuses go through the bridge. */
	/*
	 * The bridge must own the MPTCP socket before options are set on it (it
	 * takes those MPTCP refuses), but a refusal while the swap copies them is
	 * the swap's to count: owned as swapping first, when an option is to be
	 * copied at all, and as the program's once done.
	 */
	own.fd = new;
	own.entry = entry;
	own.is_connect = is_connect;
	/*
	 * Owned as swapping only before an option the bridge could act on (one
	 * MPTCP refuses, or SO_OOBINLINE, which it answers): otherwise its
	 * programs never look the socket up while the options are set, and it
	 * is owned once, after them.
	 */
	if (run_bridge_in_use) {
		bridged = run_bridge_config(run_bridge_in_use)->refused;
		mu_optmask_set(&bridged, MU_SOPT_SO_OOBINLINE);
		hook.needs = &bridged;
	}
	if (!run_carry_options(old, new, family, want == IPPROTO_MPTCP, def,
			       want == IPPROTO_MPTCP && run_bridge_in_use ? &hook : NULL))
		goto out;
	if (want == IPPROTO_MPTCP && run_bridge_in_use &&
	    (hook.called ? own.ok && run_bridge_swapped(run_bridge_in_use, new) :
			   run_bridge_own(run_bridge_in_use, new, entry, is_connect, false)))
		run_say("can't hand the MPTCP socket to the socket-option bridge: %s",
			strerror(errno));
	if (bound) {
		/*
		 * The old socket still holds the address: both take SO_REUSEADDR
		 * (allowed between sockets that do not listen), the new one gets
		 * the caller's value back once bound.
		 */
		reuse = get_int(new, SOL_SOCKET, SO_REUSEADDR);
		old_reuse = get_int(old, SOL_SOCKET, SO_REUSEADDR);
		setsockopt(old, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(new, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(new, (struct sockaddr *)&local, local_len)) {
			run_say("can't bind the new socket to the caller's local address: %s",
				strerror(errno));
			goto out;
		}
		setsockopt(new, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
	}
	pthread_mutex_lock(&p->epoll_lock);
	nregs = run_epoll_registrations(p, fd, old, ino, &regs);
	if (nregs > 0 && !run_epoll_carry(p, fd, new, regs, nregs))
		nregs = -1;	/* new's registrations, if any, go when it is closed */
	pthread_mutex_unlock(&p->epoll_lock);
	if (nregs < 0) {
		RUN_COUNT(kept_epoll);
		goto out;
	}
	if (fstat(new, &nst))
		goto out;
	if (want == IPPROTO_MPTCP)
		set_intent(new, intent);
	/* The number still holds the socket checked (not closed and reused meanwhile). */
	if (syscall(SYS_kcmp, p->tgid, run_self(), KCMP_FILE, fd, old)) {
		res = RUN_UNTOUCHED;
		goto out;
	}
	addfd.id = n->id;
	addfd.flags = SECCOMP_ADDFD_FLAG_SETFD;
	addfd.srcfd = new;
	addfd.newfd = fd;
	addfd.newfd_flags = fl & O_CLOEXEC ? O_CLOEXEC : 0;
	do
		ret = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	while (ret < 0 && errno == EINTR);
	if (ret == fd) {
		run_proc_set_ours(p, fd, want == IPPROTO_MPTCP ? nst.st_ino : 0);
		res = RUN_SWAPPED;
	} else if (ret < 0 && (errno == ENOENT || errno == ESRCH)) {
		res = RUN_GONE;		/* the call was interrupted, or the caller is gone */
	}
out:
	if (locked) {
		pthread_mutex_unlock(&p->fd_lock[fd % RUN_FD_STRIPES]);
		pthread_rwlock_unlock(&p->calls);
	}
	/* Not swapped: the caller's socket gets its own SO_REUSEADDR back. */
	if (res != RUN_SWAPPED && old_reuse >= 0)
		setsockopt(old, SOL_SOCKET, SO_REUSEADDR, &old_reuse, sizeof(old_reuse));
	free(regs);
	close_both(old, new);
	return res;
}

enum run_swap_result run_swap_listed(int listener, const struct seccomp_notif *n, int fd,
				     bool is_connect, __u32 entry, const struct mu_run_intent *intent)
{
	struct run_proc *p = run_proc_cached(n->pid);
	enum run_swap_result r;

	r = p ? run_swap(listener, n, p, fd, is_connect, RUN_TO_MPTCP, entry, intent) : RUN_KEPT;
	/*
	 * Its pidfd said the process is gone while the caller is still in its
	 * call: the record was of an earlier process with that PID. Once more
	 * with the process as it is now.
	 */
	if (r == RUN_GONE && p->dead && in_call(listener, n)) {
		run_proc_put(p);
		p = run_proc_of(n->pid);
		r = p ? run_swap(listener, n, p, fd, is_connect, RUN_TO_MPTCP, entry, intent) :
			RUN_KEPT;
	}
	run_proc_put(p);
	return r;
}
