// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's supervisor. For each bind()/connect() the filter hands
 * over: read the address from the caller, match it against the policy, and
 * when it is listed, swap the caller's TCP socket for an MPTCP one:
 *
 *   1. take a copy of the socket (pidfd_getfd) and check it is a TCP stream
 *      socket of an IP family, neither listening nor connected;
 *   2. create an MPTCP socket in the socket's own network namespace, with the
 *      caller's O_NONBLOCK and every option it set that differs from a fresh
 *      TCP socket's (an option MPTCP refuses leaves the socket TCP: logged once
 *      per option, and counted);
 *   3. for a connect() from a bound socket (HAProxy `source`, nginx
 *      `proxy_bind`), bind the new one to the same local address;
 *   4. install it under the caller's descriptor number (SECCOMP_IOCTL_NOTIF_
 *      ADDFD, FD_CLOEXEC kept) and let the kernel run the caller's own call
 *      (SECCOMP_USER_NOTIF_FLAG_CONTINUE), with its own arguments and errors.
 *
 * Anything unexpected leaves the socket as it was: the worst case is TCP.
 * The address is read from the caller's memory, which another of its threads
 * could change before the kernel reads it again: harmless for a choice of
 * protocol, and never used for anything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bridge.h"
#include "engine.h"
#include "output.h"
#include "proc_tree.h"
#include "run.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The options a proxy sets before bind() or connect(), carried over when they differ. */
struct sockopt_desc {
	int level, name;
	const char *label;
	int family;		/* 0: any; else only for sockets of this family */
};

static const struct sockopt_desc carried[] = {
	{ SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 0 },
	{ SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 0 },
	{ SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0 },
	{ SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 0 },
	{ SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", 0 },
	{ SOL_SOCKET, SO_LINGER, "SO_LINGER", 0 },
	{ SOL_SOCKET, SO_MARK, "SO_MARK", 0 },
	{ SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", 0 },
	{ SOL_SOCKET, SO_BINDTODEVICE, "SO_BINDTODEVICE", 0 },
	{ IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 0 },
	{ IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", 0 },
	{ IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 0 },
	{ IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 0 },
	{ IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 0 },
	{ IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", 0 },
	{ IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN", 0 },
	{ IPPROTO_TCP, TCP_FASTOPEN_CONNECT, "TCP_FASTOPEN_CONNECT", 0 },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 0 },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", 0 },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", 0 },
	{ IPPROTO_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP", 0 },
	{ IPPROTO_IP, IP_TOS, "IP_TOS", AF_INET },
	{ IPPROTO_IP, IP_TTL, "IP_TTL", AF_INET },
	{ IPPROTO_IP, IP_TRANSPARENT, "IP_TRANSPARENT", 0 },
	{ IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", 0 },
	{ IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT", 0 },
	{ IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", AF_INET6 },
	{ IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", AF_INET6 },
};
#define NR_CARRIED (sizeof(carried) / sizeof(carried[0]))

_Static_assert(NR_CARRIED <= MU_RUN_MAX_OPTIONS, "run_counters.refused is too small");

const char *run_option_label(size_t i)
{
	return i < NR_CARRIED ? carried[i].label : NULL;
}

/*
 * What the supervisor did: mapped from its counters file, which status reads;
 * in memory of its own when that file can't be made (then only SIGUSR1 shows it).
 */
static struct run_counters *cnt;
/* The socket-option bridge for the sockets this supervisor makes, NULL when off. */
static struct run_bridge *bridge;
static int bridge_cg = -1;	/* run_bridge_cgroup(), opened before the forks */
static __u64 bridge_cgid;

void run_supervisor_cgroup(int cg, __u64 id)
{
	bridge_cg = cg;
	bridge_cgid = id;
}
static size_t cnt_mapped;	/* 0: cnt is malloc()ed */
static bool refusal_logged[NR_CARRIED];

static volatile sig_atomic_t reload_wanted, report_wanted;
static pid_t registry_program;
static long long started_at;

static void on_hup(int sig)
{
	reload_wanted = 1;
}

static void on_usr1(int sig)
{
	report_wanted = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s run[%d]: ", prog_name, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The address of the call, read from the caller; the family it is matched as. */
static bool read_address(const struct seccomp_notif *n, int *family, __u8 addr[16], __u16 *port)
{
	struct sockaddr_storage ss = {};
	size_t len = n->data.args[2];
	struct iovec local = { .iov_base = &ss, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(unsigned long)n->data.args[1],
				.iov_len = len };

	if (len > sizeof(ss) || process_vm_readv(n->pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
		return false;
	if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		*family = AF_INET;
		memcpy(addr, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
		return true;
	}
	if (ss.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		*port = ntohs(a->sin6_port);
		/* ::ffff:a.b.c.d from a dual-stack socket is IPv4 a.b.c.d, as in the policy. */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			*family = AF_INET;
			memcpy(addr, &a->sin6_addr.s6_addr[12], 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, &a->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

static int get_int(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, name, &v, &len) ? -1 : v;
}

/* FD_CLOEXEC of the caller's descriptor, from its fdinfo ("flags:\t02000002"). */
static bool caller_cloexec(pid_t pid, int fd)
{
	char path[64], buf[512], *flags;
	int f;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	flags = strstr(buf, "flags:");
	return flags && strtoul(flags + 6, NULL, 8) & O_CLOEXEC;
}

/*
 * What a fresh TCP socket has for each carried option, per network namespace
 * and family (the defaults come from the namespace's sysctls): taken once and
 * kept DEFAULTS_TTL_S seconds, rather than a socket and 28 getsockopt() calls
 * more on every swap.
 */
#define DEFAULTS_CACHE		8
#define DEFAULTS_TTL_S		10

struct option_defaults {
	unsigned long netns;
	int family;
	time_t taken;
	unsigned long long used;
	bool have[NR_CARRIED];
	socklen_t len[NR_CARRIED];
	char val[NR_CARRIED][64];
};

static struct option_defaults defaults[DEFAULTS_CACHE];
static unsigned long long defaults_clock;
static struct stat self_netns;

static void take_defaults(struct option_defaults *d, int fresh)
{
	size_t i;

	for (i = 0; i < NR_CARRIED; i++) {
		d->len[i] = sizeof(d->val[i]);
		memset(d->val[i], 0, sizeof(d->val[i]));
		d->have[i] = !getsockopt(fresh, carried[i].level, carried[i].name, d->val[i],
					 &d->len[i]);
	}
	d->taken = time(NULL);
}

/* The cached defaults for @netns and @family, or a slot to take them into (*stale). */
static struct option_defaults *defaults_for(unsigned long netns, int family, bool *stale)
{
	struct option_defaults *d = NULL, *oldest = &defaults[0];
	size_t i;

	for (i = 0; i < DEFAULTS_CACHE && !d; i++) {
		if (defaults[i].netns == netns && defaults[i].family == family)
			d = &defaults[i];
		else if (defaults[i].used < oldest->used)
			oldest = &defaults[i];
	}
	*stale = !d || time(NULL) - d->taken >= DEFAULTS_TTL_S;
	if (!d) {
		d = oldest;
		d->netns = netns;
		d->family = family;
	}
	d->used = ++defaults_clock;
	return d;
}

/*
 * An MPTCP socket in the same network namespace as @old (the caller may have
 * changed its namespace since it was started), and the option defaults of that
 * namespace.
 */
static int mptcp_socket_like(int old, int family, struct option_defaults **def)
{
	int nsfd = ioctl(old, SIOCGSKNS), self = -1, fd = -1, fresh;
	struct stat ns = self_netns;
	bool stale;

	if (nsfd >= 0 && fstat(nsfd, &ns)) {
		close(nsfd);
		return -1;
	}
	*def = defaults_for(ns.st_ino, family, &stale);
	if (nsfd >= 0 && ns.st_ino != self_netns.st_ino) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0 || setns(nsfd, CLONE_NEWNET))
			goto out;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd >= 0 && stale) {
		fresh = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
		if (fresh < 0) {
			close(fd);
			fd = -1;
		} else {
			take_defaults(*def, fresh);
			close(fresh);
		}
	}
out:
	if (self >= 0) {
		setns(self, CLONE_NEWNET);
		close(self);
	}
	if (nsfd >= 0)
		close(nsfd);
	return fd;
}

/*
 * Every carried option of @old that differs from a fresh TCP socket's value
 * (@def), set on @new. Returns false when MPTCP refuses one: the swap is off.
 */
static bool carry_options(int old, int new, int family, const struct option_defaults *def)
{
	char v[64];
	size_t i;

	for (i = 0; i < NR_CARRIED; i++) {
		socklen_t vl = sizeof(v);

		if (carried[i].family && carried[i].family != family)
			continue;
		memset(v, 0, sizeof(v));
		if (getsockopt(old, carried[i].level, carried[i].name, v, &vl))
			continue;	/* this kernel does not have it */
		if (def->have[i] && vl == def->len[i] && !memcmp(v, def->val[i], vl))
			continue;	/* the default: nothing to carry */
		if (carried[i].name == SO_RCVBUF || carried[i].name == SO_SNDBUF) {
			/* The kernel reports double what was set; set half to get the same. */
			int half = *(int *)v / 2;

			memcpy(v, &half, sizeof(half));
		}
		if (setsockopt(new, carried[i].level, carried[i].name, v, vl)) {
			cnt->refused[i]++;
			if (!refusal_logged[i]) {
				say("MPTCP refuses %s on this kernel (%s): sockets that set it stay "
				    "TCP", carried[i].label, strerror(errno));
				refusal_logged[i] = true;
			}
			return false;
		}
	}
	return true;
}

/*
 * Programs that register a socket in their epoll before connect() (nginx's
 * upstreams, libevent's Envoy) would wait forever on the MPTCP socket that
 * replaced it: epoll watches files, not descriptor numbers, and the old file's
 * registration goes with it. So the registrations of the old socket are found
 * and made again, same events and data, for the new one.
 *
 * Finding them: the caller's epoll descriptors (a scan of /proc/PID/fd, cached
 * per process for EP_RESCAN_S seconds, or EP_MISS_RESCAN_S when none of them
 * watches the socket), kcmp(KCMP_EPOLL_TFD) to ask each
 * whether it watches the old socket (cheap), and only then its fdinfo for the
 * events and data.
 */
#define EP_CACHE		64
#define EP_PER_PROC		16
#define EP_RESCAN_S		10
#define EP_MISS_RESCAN_S	1

struct ep_proc {
	pid_t pid;
	int nr, fds[EP_PER_PROC];
	time_t scanned;
	unsigned long long used;
};

static struct ep_proc ep_procs[EP_CACHE];
static unsigned long long ep_clock;

struct ep_reg {
	int epfd;		/* in the caller */
	__u32 events;
	__u64 data;
};

static int ep_found(int fd, const char *link, void *ctx)
{
	struct ep_proc *e = ctx;

	if (!strcmp(link, "anon_inode:[eventpoll]"))
		e->fds[e->nr++] = fd;
	return e->nr == EP_PER_PROC;	/* full: stop */
}

static void ep_scan(struct ep_proc *e, pid_t pid)
{
	e->pid = pid;
	e->nr = 0;
	e->scanned = time(NULL);
	proc_fd_links(pid, ep_found, e);
}

/* The epoll descriptors of @pid, from the cache or a fresh scan. */
static struct ep_proc *ep_proc_of(pid_t pid)
{
	struct ep_proc *e = NULL, *oldest = &ep_procs[0];
	size_t i;

	for (i = 0; i < EP_CACHE && !e; i++) {
		if (ep_procs[i].pid == pid)
			e = &ep_procs[i];
		else if (ep_procs[i].used < oldest->used)
			oldest = &ep_procs[i];
	}
	if (!e || time(NULL) - e->scanned >= EP_RESCAN_S)
		ep_scan(e ? e : (e = oldest), pid);
	e->used = ++ep_clock;
	return e;
}

/* The events and data under which epoll @epfd of @pid watches socket @fd (inode @ino). */
static bool ep_entry(pid_t pid, int epfd, int fd, unsigned long ino, struct ep_reg *r)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, epfd);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned long long data;
		unsigned long tino;
		unsigned int events;
		long long pos;
		int tfd;

		if (sscanf(line, "tfd: %d events: %x data: %llx pos:%lli ino:%lx", &tfd, &events,
			   &data, &pos, &tino) == 5 && tfd == fd && tino == ino) {
			r->epfd = epfd;
			r->events = events;
			r->data = data;
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* The epoll registrations of the caller's socket @fd (@old, our copy). -1: can't tell. */
static int ep_registrations(pid_t pid, int fd, int old, struct ep_reg *regs, int max)
{
	struct ep_proc *e = ep_proc_of(pid);
	bool rescanned = false;
	struct stat st;
	int i, n;

	if (fstat(old, &st))
		return -1;
again:
	for (i = n = 0; i < e->nr && n < max; i++) {
		struct kcmp_epoll_slot slot = { .efd = e->fds[i], .tfd = fd, .toff = 0 };
		long same = syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot);

		if (same < 0 && errno == EBADF) {
			e->scanned = 0;		/* closed since the scan: scan again next time */
			continue;
		}
		/* 0: it watches this very file; ENOSYS (no kcmp): read the fdinfo to know. */
		if (same == 0 || (same < 0 && errno == ENOSYS))
			n += ep_entry(pid, e->fds[i], fd, st.st_ino, &regs[n]);
	}
	/*
	 * Watched by none we know: an epoll made since the scan would miss it,
	 * so look again, at most once a second (HAProxy, which registers after
	 * connect(), is always here: a second bounds what it pays).
	 */
	if (!n && !rescanned && time(NULL) - e->scanned >= EP_MISS_RESCAN_S) {
		ep_scan(e, pid);
		rescanned = true;
		goto again;
	}
	return n;
}

/*
 * Register @new under the caller's number @fd in each epoll of @regs, through
 * copies of them: epoll keys its entries by file and descriptor number, so the
 * caller's later EPOLL_CTL_MOD/DEL on @fd find them. The number is borrowed in
 * our own table for the call (whatever we had there is put back).
 */
static bool ep_carry(int pidfd, int fd, int new, const struct ep_reg *regs, int n)
{
	bool ok = true;
	int i, saved = -1, pfd = pidfd;

	if (fd != new) {
		saved = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (saved < 0 && errno != EBADF)
			return false;
		if (dup3(new, fd, O_CLOEXEC) != fd) {
			if (saved >= 0)
				close(saved);
			return false;
		}
		/* The number was our pidfd's: it is the saved copy now. */
		if (fd == pidfd)
			pfd = saved;
	}
	for (i = 0; i < n && ok; i++) {
		struct epoll_event ev = { .events = regs[i].events, .data.u64 = regs[i].data };
		int ep = syscall(SYS_pidfd_getfd, pfd, regs[i].epfd, 0);

		ok = ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		if (!ok)
			say("can't register the MPTCP socket in the program's epoll: %s",
			    strerror(errno));
		if (ep >= 0)
			close(ep);
	}
	if (fd != new) {
		if (saved >= 0) {
			dup3(saved, fd, O_CLOEXEC);
			close(saved);
		} else {
			close(fd);
		}
	}
	return ok;
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

/*
 * A pidfd for the process of thread @tid. The notification names the calling
 * thread, and pidfd_open() takes only a thread-group leader before 6.9: the
 * calls of every other thread (HAProxy's, nginx's with thread pools) were
 * left TCP. The leader is found in /proc/TID/status.
 */
static int process_pidfd(pid_t tid)
{
	char path[64], buf[512], *tgid;
	int fd = syscall(SYS_pidfd_open, tid, 0), f;
	ssize_t n;

	/* Not a leader: EINVAL before 6.9, ENOENT since (without PIDFD_THREAD). */
	if (fd >= 0 || (errno != EINVAL && errno != ENOENT))
		return fd;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	tgid = strstr(buf, "\nTgid:");
	return tgid ? syscall(SYS_pidfd_open, (pid_t)strtol(tgid + 6, NULL, 10), 0) : -1;
}

/* Swap the caller's socket for an MPTCP one. True when the caller's fd is now MPTCP. */
static bool swap_socket(int listener, const struct seccomp_notif *n, bool is_connect)
{
	int fd = n->data.args[0], pidfd, old = -1, new = -1, family, one = 1, reuse, nregs, ret;
	struct ep_reg regs[EP_PER_PROC];
	struct option_defaults *def;
	struct seccomp_notif_addfd addfd = {};
	struct sockaddr_storage local;
	socklen_t local_len;
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	bool bound = false, done = false;
	int old_reuse = -1;	/* the caller's SO_REUSEADDR, while we hold it at 1 */

	pidfd = process_pidfd(n->pid);
	if (pidfd < 0)
		return false;
	old = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (old < 0)
		goto out;
	/*
	 * The caller may be a thread with a descriptor table of its own
	 * (unshare(CLONE_FILES)): what we took must be the very file it calls on.
	 */
	if (syscall(SYS_kcmp, n->pid, getpid(), KCMP_FILE, fd, old) > 0)
		goto out;
	family = get_int(old, SOL_SOCKET, SO_DOMAIN);
	if ((family != AF_INET && family != AF_INET6) ||
	    get_int(old, SOL_SOCKET, SO_TYPE) != SOCK_STREAM ||
	    get_int(old, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP ||
	    get_int(old, SOL_SOCKET, SO_ACCEPTCONN) != 0)
		goto out;	/* MPTCP already, not TCP, or listening: leave it */
	if (!getpeername(old, (struct sockaddr *)&peer, &peer_len) || errno != ENOTCONN)
		goto out;	/* connected (or connecting): too late */
	bound = bound_address(old, &local, &local_len);
	if (bound && !is_connect)
		goto out;	/* bind() on a bound socket fails by itself */

	new = mptcp_socket_like(old, family, &def);
	if (new < 0) {
		say("can't create an MPTCP socket: %s", strerror(errno));
		goto out;
	}
	/* Before the options: those MPTCP refuses go through the bridge. */
	if (bridge && run_bridge_own(bridge, new))
		say("can't hand the MPTCP socket to the socket-option bridge: %s", strerror(errno));
	if (!carry_options(old, new, family, def))
		goto out;
	if (fcntl(old, F_GETFL) & O_NONBLOCK)
		fcntl(new, F_SETFL, fcntl(new, F_GETFL) | O_NONBLOCK);
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
			say("can't bind the MPTCP socket to the caller's local address: %s",
			    strerror(errno));
			goto out;
		}
		setsockopt(new, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
	}
	nregs = ep_registrations(n->pid, fd, old, regs, EP_PER_PROC);
	if (nregs < 0 || (nregs && !ep_carry(pidfd, fd, new, regs, nregs)))
		goto out;	/* new's registrations, if any, go when it is closed */
	/* The call may have been interrupted meanwhile: then its fd is not ours to replace. */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id))
		goto out;
	addfd.id = n->id;
	addfd.flags = SECCOMP_ADDFD_FLAG_SETFD;
	addfd.srcfd = new;
	addfd.newfd = fd;
	addfd.newfd_flags = caller_cloexec(n->pid, fd) ? O_CLOEXEC : 0;
	do
		ret = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	while (ret < 0 && errno == EINTR);
	done = ret == fd;
out:
	/* Not swapped: the caller's socket gets its own SO_REUSEADDR back. */
	if (!done && old_reuse >= 0)
		setsockopt(old, SOL_SOCKET, SO_REUSEADDR, &old_reuse, sizeof(old_reuse));
	close(pidfd);
	if (old >= 0)
		close(old);
	if (new >= 0)
		close(new);
	return done;
}

static void answer(int listener, const struct seccomp_notif *n)
{
	struct seccomp_notif_resp resp = { .id = n->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };

	/* ENOENT: the caller was interrupted and is gone from the call; nothing to do. */
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static void handle(int listener, const struct seccomp_notif *n, struct loaded_policy *lp)
{
	bool is_connect = n->data.nr == __NR_connect;
	struct run_line_counters *line = NULL;
	__u32 entry = MU_ENTRY_UNLISTED;
	__u8 addr[16] = {};
	__u16 port;
	int family;

	if (read_address(n, &family, addr, &port))
		entry = policy_trie_lookup(&lp->trie, family, addr, port,
					   is_connect ? MU_ROLE_CONNECT : MU_ROLE_BIND);
	if (entry == MU_ENTRY_UNLISTED || entry == MU_ENTRY_NONE) {
		if (is_connect)
			cnt->connects_unlisted++;
		else
			cnt->binds_unlisted++;
		answer(listener, n);
		return;
	}
	if (entry <= cnt->nr_entries)
		line = &cnt->line[entry - 1];
	if (is_connect)
		cnt->connects_listed++;
	else
		cnt->binds_listed++;
	if (line && is_connect)
		line->connects++;
	else if (line)
		line->binds++;
	if (swap_socket(listener, n, is_connect)) {
		cnt->made_mptcp++;
		if (line)
			line->mptcp++;
	} else {
		cnt->kept_tcp++;
		if (line)
			line->kept_tcp++;
	}
	answer(listener, n);
}

static void report(void)
{
	size_t i;

	say("bind() listed %llu, unlisted %llu; connect() listed %llu, unlisted %llu; made MPTCP "
	    "%llu, kept TCP %llu", (unsigned long long)cnt->binds_listed,
	    (unsigned long long)cnt->binds_unlisted, (unsigned long long)cnt->connects_listed,
	    (unsigned long long)cnt->connects_unlisted, (unsigned long long)cnt->made_mptcp,
	    (unsigned long long)cnt->kept_tcp);
	for (i = 0; i < NR_CARRIED; i++)
		if (cnt->refused[i])
			say("  %s refused by MPTCP: %llu sockets kept TCP", carried[i].label,
			    (unsigned long long)cnt->refused[i]);
}

/* Counters for the entries of @lp, the totals carried over. */
static int counters_for(const struct loaded_policy *lp)
{
	size_t mapped = 0, size;
	struct run_counters *next;

	next = run_counters_create(getpid(), lp, cnt, &mapped);
	if (!next) {
		size = sizeof(*next) + lp->pol.nr_entries * sizeof(next->line[0]);
		next = calloc(1, size);
		if (!next)
			return -1;
		if (cnt)
			memcpy(next, cnt, sizeof(*next));
		next->nr_entries = lp->pol.nr_entries;
		say("can't keep counters in %s (%s): status will not show them", MU_RUN_DIR,
		    strerror(errno));
	}
	if (cnt && cnt_mapped)
		munmap(cnt, cnt_mapped);
	else
		free(cnt);
	cnt = next;
	cnt_mapped = mapped;
	return 0;
}

static void reload(const char *policy_path, struct loaded_policy *lp)
{
	struct loaded_policy next;

	/* load_policy prints what is wrong; the policy in force stays. */
	if (load_policy(policy_path, &next)) {
		say("reload of %s failed: the policy in force stays", policy_path);
		return;
	}
	if (counters_for(&next)) {
		say("reload of %s: out of memory: the policy in force stays", policy_path);
		loaded_policy_free(&next);
		return;
	}
	loaded_policy_free(lp);
	*lp = next;
	run_registry_write(getpid(), registry_program, policy_path, lp, started_at);
	say("reloaded %s: %zu entries", policy_path, lp->pol.nr_entries);
}

/*
 * Options MPTCP refuses (TCP_USER_TIMEOUT, ...) would otherwise keep a listed
 * socket TCP (when set before the swap) or fail for the program (after it).
 * MU_RUN_BRIDGE=0 leaves the bridge off.
 */
static void start_bridge(void)
{
	const char *want = getenv("MU_RUN_BRIDGE");
	char err[256], names[512];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (want && !strcmp(want, "0"))
		return;
	bridge = run_bridge_open(bridge_cg, bridge_cgid, err, sizeof(err));
	if (!bridge) {
		say("socket-option bridge off: %s", err);
		return;
	}
	if (!bpf_obj_get_info_by_fd(run_bridge_counters_fd(bridge), &info, &len))
		run_registry_set_bridge(info.id, run_bridge_config(bridge));
	sockopt_mask_names(run_bridge_config(bridge)->carry, names, sizeof(names));
	say("socket-option bridge on: carries %s", names);
}

void run_oom_protect(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "-1000", 5) != 5)
			say("can't protect the supervisor from the OOM killer: %s",
			    strerror(errno));
		close(fd);
	}
}

void run_supervisor_signals(void)
{
	/*
	 * SA_RESTART: a reload must not cut a swap short. ADDFD waits for the
	 * caller to take the new socket and gives up on a signal (EINTR), which
	 * left a listed socket TCP when a SIGHUP came at that moment.
	 */
	struct sigaction hup = { .sa_handler = on_hup, .sa_flags = SA_RESTART };
	struct sigaction usr1 = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };

	sigaction(SIGHUP, &hup, NULL);
	sigaction(SIGUSR1, &usr1, NULL);
	/* It lives as long as the program: the service manager's SIGTERM is for the program. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
}

int run_supervisor(int listener, const char *policy_path, struct loaded_policy *lp,
		   pid_t proxy, bool sync_wakeup)
{
	struct seccomp_notif_sizes sizes = {};
	struct seccomp_notif *n;
	struct pollfd p = { .fd = listener, .events = POLLIN };
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", policy_path);
	run_oom_protect();
	stat("/proc/self/ns/net", &self_netns);
	registry_program = proxy;
	started_at = time(NULL);
	if (counters_for(lp))
		return 1;
	if (sync_wakeup)
		cnt->flags |= MU_RUN_F_SYNC_WAKEUP;
	start_bridge();
	if (run_registry_write(getpid(), proxy, path, lp, started_at))
		say("can't register in %s: status and reload will not see this supervisor",
		    MU_RUN_DIR);
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes))
		sizes.seccomp_notif = sizeof(*n);
	n = calloc(1, sizes.seccomp_notif > sizeof(*n) ? sizes.seccomp_notif : sizeof(*n));
	if (!n)
		return 1;
	for (;;) {
		if (reload_wanted) {
			reload_wanted = 0;
			reload(path, lp);
		}
		if (report_wanted) {
			report_wanted = 0;
			report();
		}
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			break;
		}
		/* No process uses the filter any more: the program and its children are gone. */
		if (p.revents & (POLLHUP | POLLERR))
			break;
		memset(n, 0, sizes.seccomp_notif > sizeof(*n) ? sizes.seccomp_notif : sizeof(*n));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n)) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			say("can't receive a notification: %s: the program's bind() and connect() "
			    "now fail with ENOSYS", strerror(errno));
			free(n);
			run_registry_remove(getpid());
			return 1;
		}
		handle(listener, n, lp);
	}
	free(n);
	run_registry_remove(getpid());
	return 0;
}
