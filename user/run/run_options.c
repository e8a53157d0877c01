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

#include <bpf/bpf.h>

#include "bridge/bridge.h"
#include "run_internal.h"

/*
 * The options are MU_SOCKOPTS (the table the bridge uses too, user/bridge/bridge.c
 * names them); refused[] counts per index, and one slot more for the options
 * outside it.
 */
#define NR_OPTIONS	MU_SOPT_MAX
#define OTHER_OPTION	MU_SOPT_MAX

_Static_assert(MU_SOPT_MAX + 1 <= MU_RUN_MAX_OPTIONS, "run_counters.refused is too small");

const char *run_option_label(size_t i)
{
	if (i == OTHER_OPTION)
		return "other";
	return i < NR_OPTIONS ? sockopt_name((int)i) : NULL;
}

/*
 * The recorder (bpf/run_options.bpf.c): the options each of the program's
 * TCP sockets set while unconnected. -1: no recorder, every option is read.
 */
static int set_opts_fd = -1;
static const volatile __u64 *recorder_lost;

void run_options_recorder(int map_fd, const volatile __u64 *lost)
{
	set_opts_fd = map_fd;
	recorder_lost = lost;
}

static bool refusal_logged[NR_OPTIONS + 1];

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
	bool have[NR_OPTIONS];
	socklen_t len[NR_OPTIONS];
	char val[NR_OPTIONS][64];
};

static pthread_mutex_t defaults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct run_defaults defaults[DEFAULTS_CACHE];
static unsigned long long defaults_clock;
static struct stat home_netns;
static __u64 home_cookie;	/* SO_NETNS_COOKIE of the supervisor's namespace (5.14+), 0: none */
/* Each thread's way back to its own namespace after creating a socket in another. */
static __thread int home_fd = -1;

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

void run_options_init(void)
{
	socklen_t len = sizeof(home_cookie);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	stat("/proc/self/ns/net", &home_netns);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &home_cookie, &len))
		home_cookie = 0;
	if (fd >= 0)
		close(fd);
}

static void take_defaults(struct run_defaults *d, int fresh)
{
	size_t i;

	for (i = 0; i < NR_OPTIONS; i++) {
		d->len[i] = sizeof(d->val[i]);
		memset(d->val[i], 0, sizeof(d->val[i]));
		d->have[i] = !getsockopt(fresh, sockopt_level((int)i), sockopt_optname((int)i),
					 d->val[i], &d->len[i]);
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

int run_socket_like(int old, int family, int protocol, int flags, const struct run_defaults **def)
{
	struct stat ns = home_netns;
	int nsfd = -1, fd = -1, saved_errno;
	socklen_t len = sizeof(__u64);
	bool away = false;
	__u64 cookie;

	/* The supervisor's own namespace, the common case, in one call (5.14+). */
	if (home_cookie && !getsockopt(old, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) &&
	    cookie == home_cookie)
		goto make;
	nsfd = ioctl(old, SIOCGSKNS);
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
make:
	*def = defaults_for(ns.st_ino, family);
	if (*def)
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | flags, protocol);
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

/* Count option @i as one a swap could not carry, and say once why (@what). */
static void refused_by(size_t i, bool to_mptcp, const char *what)
{
	bool hint = sockopt_kind((int)i) == MU_OK_HINT;

	__atomic_fetch_add(&run_cnt->refused[i], 1, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&refusal_logged[i], true, __ATOMIC_RELAXED))
		run_say("%s: %s", what,
			hint ? "left out, it has no lasting effect before a connection" :
			to_mptcp ? "sockets that set it stay TCP" : "sockets that set it stay MPTCP");
}

/* Carry option @i from @old to @new. False when @new refuses it (and it is no hint). */
static bool carry_one(int old, int new, size_t i, bool to_mptcp, struct run_carry_hook *hook)
{
	int level = sockopt_level((int)i), name = sockopt_optname((int)i);
	char v[64] = {}, what[160];
	socklen_t vl = sizeof(v);

	if (sockopt_kind((int)i) == MU_OK_KEEP) {
		snprintf(what, sizeof(what), "%s can't be read back to be set on another socket",
			 run_option_label(i));
		refused_by(i, to_mptcp, what);
		return false;
	}
	if (getsockopt(old, level, name, v, &vl))
		return true;	/* this kernel does not have it, or it can't be read back */
	if (i == MU_SOPT_SO_RCVBUF || i == MU_SOPT_SO_SNDBUF ||
	    i == MU_SOPT_SO_RCVBUFFORCE || i == MU_SOPT_SO_SNDBUFFORCE) {
		/* The kernel reports double what was set; set half to get the same. */
		int half = *(int *)v / 2;

		memcpy(v, &half, sizeof(half));
	}
	if (hook && !hook->called && (!hook->needs || mu_optmask_has(hook->needs, (int)i))) {
		hook->called = true;
		hook->before(hook->arg);
	}
	if (!setsockopt(new, level, name, v, vl))
		return true;
	snprintf(what, sizeof(what), "%s refuses %s on this kernel (%s)",
		 to_mptcp ? "MPTCP" : "TCP", run_option_label(i), strerror(errno));
	refused_by(i, to_mptcp, what);
	return sockopt_kind((int)i) == MU_OK_HINT;
}

bool run_carry_options(int old, int new, int family, bool to_mptcp, const struct run_defaults *def,
		       struct run_carry_hook *hook)
{
	struct mu_set_opts set;
	size_t i;

	/*
	 * What the program set, as the recorder saw it: those, and only those.
	 * No record is nothing set, unless the recorder ever failed to make one.
	 */
	memset(&set, 0, sizeof(set));
	if (set_opts_fd >= 0 && (!bpf_map_lookup_elem(set_opts_fd, &old, &set) ||
				 (errno == ENOENT && !*recorder_lost))) {
		if (set.nr_other) {
			__atomic_fetch_add(&run_cnt->refused[OTHER_OPTION], 1, __ATOMIC_RELAXED);
			if (!__atomic_exchange_n(&refusal_logged[OTHER_OPTION], true,
						 __ATOMIC_RELAXED))
				run_say("a socket set option %d at level %d, which a swap can't carry: "
					"sockets that set it stay as they are", set.other_optname,
					set.other_level);
			return false;
		}
		for (i = 0; i < NR_OPTIONS; i++)
			if (mu_optmask_has(&set.known, (int)i) &&
			    (!sockopt_family((int)i) || sockopt_family((int)i) == family) &&
			    !carry_one(old, new, i, to_mptcp, hook))
				return false;
		return true;
	}
	/* Every option that differs from a fresh socket's. */
	for (i = 0; i < NR_OPTIONS; i++) {
		char v[64] = {};
		socklen_t vl = sizeof(v);

		if (sockopt_family((int)i) && sockopt_family((int)i) != family)
			continue;
		if (getsockopt(old, sockopt_level((int)i), sockopt_optname((int)i), v, &vl))
			continue;	/* this kernel does not have it */
		if (def->have[i] && vl == def->len[i] && !memcmp(v, def->val[i], vl))
			continue;	/* the default: nothing to carry */
		if (!carry_one(old, new, i, to_mptcp, hook))
			return false;
	}
	return true;
}
