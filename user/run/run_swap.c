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

/* Neither connected, connecting nor listening. */
static bool unconnected(int fd, int protocol)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct tcp_info ti;

	if (protocol == IPPROTO_TCP) {
		/* The state byte alone: SYN_SENT looks unconnected to getpeername(). */
		len = 1;
		return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) && len == 1 &&
		       ti.tcpi_state == TCP_CLOSE;
	}
	return get_int(fd, SOL_SOCKET, SO_ACCEPTCONN) == 0 &&
	       getpeername(fd, (struct sockaddr *)&peer, &len) && errno == ENOTCONN;
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
	bool bound = false, locked = false;
	struct own_swapping own = {};
	struct run_carry_hook hook = { .before = own_swapping, .arg = &own };
	struct stat st, nst;

	old = syscall(SYS_pidfd_getfd, p->pidfd, fd, 0);
	if (old < 0 && errno == ESRCH) {
		run_proc_gone(p);
		return RUN_GONE;
	}
	if (old < 0)
		return RUN_UNTOUCHED;	/* EBADF: the call fails by itself */
	/* The thread is still in its call: the process found for it was its own. */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id)) {
		res = RUN_GONE;
		goto out;
	}
	if (fstat(old, &st) || !S_ISSOCK(st.st_mode)) {
		res = RUN_UNTOUCHED;
		goto out;
	}
	/* TCP and MPTCP are stream protocols: SO_PROTOCOL says the type too. */
	bound = bound_address(old, &local, &local_len);
	family = local.ss_family;
	protocol = get_int(old, SOL_SOCKET, SO_PROTOCOL);
	if (family != AF_INET && family != AF_INET6) {
		res = RUN_UNTOUCHED;
		goto out;
	}
	/* Beside other swaps (one per number at a time), never beside a dup or fork. */
	pthread_rwlock_rdlock(&p->calls);
	pthread_mutex_lock(&p->fd_lock[fd % RUN_FD_STRIPES]);
	locked = true;
	if (kind == RUN_TO_MPTCP) {
		if (protocol == IPPROTO_MPTCP) {
			/* A restarted call on a socket already swapped, or the program's own. */
			if (run_proc_ours(p, fd) == st.st_ino)
				set_intent(old, intent);
			res = RUN_ALREADY;
			goto out;
		}
		want = IPPROTO_MPTCP;
	} else {
		if (run_proc_ours(p, fd) != st.st_ino || protocol != IPPROTO_MPTCP) {
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
	if (kind == RUN_TO_MPTCP) {
		enum run_shared_kind sk;

		/* A fork answered may not have run: the child could get the old socket. */
		if (run_shared_forks_pending(p, n->pid)) {
			RUN_COUNT(kept_shared);
			goto out;
		}
		sk = run_shared(st.st_ino);

		/* The other descriptor would stay on the old socket: it stays TCP. */
		if (sk == RUN_SHARED_FORK ||
		    (sk == RUN_SHARED_DUP && !run_shared_dup_gone(p, st.st_ino, n->pid))) {
			RUN_COUNT(kept_shared);
			goto out;
		}
	}
	if (!unconnected(old, protocol)) {
		res = kind == RUN_TO_TCP ? RUN_ALREADY : RUN_UNTOUCHED;
		goto out;	/* too late: the call fails or works on what there is */
	}
	if (bound && !is_connect) {
		res = RUN_UNTOUCHED;	/* bind() on a bound socket fails by itself */
		goto out;
	}
	if (!run_proc_fd_flags(p, fd, &fl)) {
		long f = fcntl(old, F_GETFL);

		fl = f >= 0 ? (unsigned long)f & O_NONBLOCK : 0;	/* close-on-exec: unknown, off */
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
	nregs = run_epoll_registrations(p, fd, old, st.st_ino, &regs);
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
	close(old);
	if (new >= 0)
		close(new);
	return res;
}
