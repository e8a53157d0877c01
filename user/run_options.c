// SPDX-License-Identifier: GPL-2.0-only
/*
 * The options a swap carries from the caller's socket to the one put in its
 * place: each option the program may have set before bind() or connect(), when
 * it differs from what a fresh TCP socket of that network namespace has. An
 * option the new socket refuses leaves the caller's socket as it was (logged
 * once per option, counted by name).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "run_internal.h"

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

static bool refusal_logged[NR_CARRIED];

/*
 * What a fresh TCP socket has for each carried option, per network namespace
 * and family (the defaults come from the namespace's sysctls): taken once and
 * kept DEFAULTS_TTL_S seconds, rather than a socket and 28 getsockopt() calls
 * more on every swap.
 */
#define DEFAULTS_CACHE		8
#define DEFAULTS_TTL_S		10

struct run_defaults {
	unsigned long netns;
	int family;
	time_t taken;
	unsigned long long used;
	bool have[NR_CARRIED];
	socklen_t len[NR_CARRIED];
	char val[NR_CARRIED][64];
};

static pthread_mutex_t defaults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct run_defaults defaults[DEFAULTS_CACHE];
static unsigned long long defaults_clock;
static struct stat home_netns;
/* Each thread's way back to its own namespace after creating a socket in another. */
static __thread int home_fd = -1;

void run_options_init(void)
{
	stat("/proc/self/ns/net", &home_netns);
}

static void take_defaults(struct run_defaults *d, int fresh)
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

/*
 * The defaults for @netns and @family, taken from a fresh TCP socket when they
 * are not known or too old (this thread is in that namespace now): a copy of
 * this thread's, as another may take the slot for another namespace.
 */
static const struct run_defaults *defaults_for(unsigned long netns, int family)
{
	static __thread struct run_defaults mine;
	struct run_defaults *d = NULL, *oldest = &defaults[0];
	size_t i;
	int fresh;

	pthread_mutex_lock(&defaults_lock);
	for (i = 0; i < DEFAULTS_CACHE && !d; i++) {
		if (defaults[i].taken && defaults[i].netns == netns && defaults[i].family == family)
			d = &defaults[i];
		else if (defaults[i].used < oldest->used)
			oldest = &defaults[i];
	}
	if (!d || time(NULL) - d->taken >= DEFAULTS_TTL_S) {
		if (!d) {
			d = oldest;
			d->taken = 0;	/* nothing valid until taken below */
			d->netns = netns;
			d->family = family;
		}
		fresh = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
		if (fresh < 0) {
			pthread_mutex_unlock(&defaults_lock);
			return NULL;
		}
		take_defaults(d, fresh);
		close(fresh);
	}
	d->used = ++defaults_clock;
	memcpy(&mine, d, sizeof(mine));
	pthread_mutex_unlock(&defaults_lock);
	return &mine;
}

int run_socket_like(int old, int family, int protocol, const struct run_defaults **def)
{
	int nsfd = ioctl(old, SIOCGSKNS), fd = -1, saved_errno;
	struct stat ns = home_netns;
	bool away = false;

	if (nsfd >= 0 && fstat(nsfd, &ns)) {
		close(nsfd);
		return -1;
	}
	if (nsfd >= 0 && ns.st_ino != home_netns.st_ino) {
		if (home_fd < 0)
			home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (home_fd < 0 || setns(nsfd, CLONE_NEWNET))
			goto out;
		away = true;
	}
	*def = defaults_for(ns.st_ino, family);
	if (*def)
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, protocol);
out:
	saved_errno = errno;
	if (away && setns(home_fd, CLONE_NEWNET)) {
		/* Every later socket would be made in the program's namespace: stop here. */
		run_say("can't return to the supervisor's network namespace: %s", strerror(errno));
		_exit(1);
	}
	if (nsfd >= 0)
		close(nsfd);
	errno = saved_errno;
	return fd;
}

bool run_carry_options(int old, int new, int family, bool to_mptcp, const struct run_defaults *def)
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
			__atomic_fetch_add(&run_cnt->refused[i], 1, __ATOMIC_RELAXED);
			if (!__atomic_exchange_n(&refusal_logged[i], true, __ATOMIC_RELAXED))
				run_say("%s refuses %s on this kernel (%s): sockets that set it stay "
					"%s", to_mptcp ? "MPTCP" : "TCP", carried[i].label,
					strerror(errno), to_mptcp ? "TCP" : "MPTCP");
			return false;
		}
	}
	return true;
}
