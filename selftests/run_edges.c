// SPDX-License-Identifier: GPL-2.0-only
/*
 * run_edges: what real programs do at the edges, done under `mptcp-upgrade run`
 * and reported as key=value words for test_run_edges.sh. Every mode uses
 * loopback only, and every loop is bounded.
 *
 *   run_edges sigbind ADDR PORT N
 *   run_edges sigconnect ADDR PORT N
 *       a 1 ms SIGALRM timer whose handler has no SA_RESTART (nginx's
 *       timer_resolution), then N times: socket, bind (or non-blocking
 *       connect), close; "sig n=N eintr=E mptcp=M" (M: sockets that were MPTCP)
 *   run_edges epolls ADDR PORT N
 *       a non-blocking socket registered in N epoll instances, then connect:
 *       "epolls n=N proto=P ready=R" (R: instances that reported EPOLLOUT)
 *   run_edges epoll-late ADDR PORT
 *       a first connect (the supervisor has seen the process), then a new
 *       epoll made at once, a socket registered in it, connect:
 *       "late proto=P ready=0|1"
 *   run_edges epstale ADDR PORT N
 *       N rounds: a socket registered in an epoll, a child forked (it keeps
 *       that socket open), the socket closed, a new one at the same number
 *       registered in the same epoll (two entries for one number there),
 *       connect: "epstale n=N mptcp=M missed=X" (X: MPTCP sockets whose
 *       EPOLLOUT never came)
 *   run_edges dupconnect ADDR PORT N
 *       N rounds: a thread dup()s a socket and is then kept off the CPU
 *       (SCHED_IDLE beside a busy thread) while this one connect()s it:
 *       "dupconnect n=N split=S mptcp=M" (S: rounds where the two descriptors
 *       ended on different sockets), or "dupconnect unavailable" (exit 3) on
 *       one CPU
 *   run_edges forkconnect ADDR PORT N
 *       N rounds: a thread fork()s and is then kept off the CPU as in
 *       dupconnect; a socket is made once the fork is let through, before it
 *       runs; once the child has it, it is connect()ed: "forkconnect n=N
 *       split=S mptcp=M" (S: rounds where the child and the parent ended on
 *       different sockets), or "forkconnect unavailable" (exit 3)
 *   run_edges highfd ADDR PORT FD
 *       the soft descriptor limit raised to the hard one, a non-blocking
 *       socket moved to number FD and registered in an epoll, connect:
 *       "highfd fd=FD proto=P ready=0|1"
 *   run_edges bindretry ADDR BUSY FREE
 *       bind to BUSY (in use: EADDRINUSE), then to FREE on the same socket,
 *       listen, accept one: "bindretry first=ERR proto=P accepted=P"
 *   run_edges reconnect ADDR REFUSED OPEN
 *       blocking connect to REFUSED (ECONNREFUSED), then to OPEN on the same
 *       socket: "reconnect first=ERR proto=P echo=ok|failed"
 *   run_edges unspec ADDR LISTED OPEN
 *       connect to LISTED, connect(AF_UNSPEC), connect to OPEN:
 *       "unspec first=P proto=P echo=ok|failed"
 *   run_edges bindlisted ADDR LPORT OPEN
 *       bind to ADDR:LPORT, connect to OPEN: "bindlisted proto=P echo=ok|failed"
 *   run_edges len128 ADDR PORT
 *       connect with addrlen sizeof(struct sockaddr_storage): "len128 proto=P"
 *   run_edges flags ADDR PORT [FD]
 *       five listed connects on sockets made one after the other at the same
 *       descriptor number: without FD_CLOEXEC, with it, without, non-blocking
 *       with it, blocking without it; "flags fd_same=0|1 protos=P,...
 *       cloexec=C,... nonblock=N,..." (FD_CLOEXEC and O_NONBLOCK of each after
 *       its connect); with FD, each socket is moved to number FD first (dup3
 *       with its own FD_CLOEXEC, the soft descriptor limit raised to the hard
 *       one), or "flags unavailable" (exit 3)
 *   run_edges int80 ADDR PORT
 *       connect through the i386 system call (int 0x80): "int80 proto=P", or
 *       "int80 unavailable" (exit 3) where the kernel has no i386 calls
 *   run_edges int80dup ADDR PORT
 *       dup() through the i386 call, then a listed connect: "int80dup proto=P
 *       other=ok|failed" (the duplicate's echo)
 *   run_edges tfo ADDR PORT
 *       sendto(MSG_FASTOPEN) without connect(): "tfo proto=P sent=N"
 *   run_edges share dup|dup2|dupfd|fork|vfork|clonefiles ADDR PORT
 *       a socket reachable through a second descriptor (dup(), dup2(),
 *       fcntl(F_DUPFD), a forked child, a vfork()ed and exec()ed child) before
 *       its connect(), then an echo through that other descriptor:
 *       "share MODE proto=P other=ok|failed"; with clonefiles, a child sharing
 *       the descriptor table (CLONE_FILES) connects and the parent echoes
 *   run_edges options ADDR PORT
 *       SO_SNDTIMEO 1.5 s, SO_RCVTIMEO 2.5 s, TCP_SYNCNT 3 and SO_RCVLOWAT 2 set
 *       before a blocking connect(), then read back: "options proto=P sndtimeo=MS
 *       rcvtimeo=MS syncnt=N rcvlowat=N"
 *   run_edges oobinline ADDR PORT
 *       SO_OOBINLINE set before connect(), then read back: "oobinline proto=P
 *       echo=ok|failed oob=V"
 *   run_edges oobaccept ADDR PORT
 *       a listener bound to ADDR:PORT, an MPTCP client of it, SO_OOBINLINE set
 *       on the accepted socket and read back (asyncore's FTP servers):
 *       "oobaccept listener=P accepted=P set=ERR get=V"
 *   run_edges latency ADDR PORT SECONDS
 *       blocking connects, one after the other, for SECONDS: "latency n=N
 *       max_ms=M" (the longest one)
 *   run_edges toctou ADDR LISTED UNLISTED N HOLD
 *       N blocking connects to one sockaddr whose port a second thread flips
 *       between LISTED and UNLISTED all the while (a racy or hostile
 *       program): "toctou n=N mptcp_unlisted=X mptcp=M tcp=T failed=F" (X:
 *       MPTCP sockets that reached UNLISTED), then HOLD seconds of sleep
 *   run_edges count ADDR PORT N [nodelay] [epoll|epoll-before] [blocking] [no-epoll]
 *       what the supervisor's system calls are counted over (test_run_edges.sh,
 *       bench_run.sh): a TCP listener at ADDR:PORT and an epoll, one warm-up
 *       round, "ready", then after a line on stdin N rounds of the common
 *       case: a non-blocking socket (TCP_NODELAY set with nodelay, as HAProxy
 *       does), registered in the epoll after its connect (epoll, HAProxy) or
 *       before it (epoll-before, nginx), connect, accept, close both; then
 *       "count n=N mptcp=M ready=R" (R: sockets the epoll reported writable)
 *       and it exits after one more line on stdin; blocking sockets with
 *       blocking, and no epoll at all with no-epoll (bench_sock's loop)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>

#include "testutil.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static struct sockaddr_in addr_of(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static int tcp_socket(int flags)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	return fd;
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "none";
	case EADDRINUSE: return "EADDRINUSE";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EINTR: return "EINTR";
	case EINPROGRESS: return "EINPROGRESS";
	default: return strerror(e);
	}
}

static void on_alarm(int sig)
{
}

static int sig_loop(bool connect_it, const char *ip, int port, long n)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct sockaddr_in a = addr_of(ip, port);
	long i, eintr = 0, mptcp = 0;

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < n; i++) {
		int fd = tcp_socket(connect_it ? SOCK_NONBLOCK : 0), r;

		if (connect_it)
			r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		else
			r = bind(fd, (struct sockaddr *)&a, sizeof(a));
		if (r && errno == EINTR)
			eintr++;
		if (protocol_of(fd) == 262)
			mptcp++;
		close(fd);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("sig n=%ld eintr=%ld mptcp=%ld\n", n, eintr, mptcp);
	return 0;
}

/* EPOLLOUT within 2 s from epoll @ep? */
static int ready(int ep)
{
	struct epoll_event ev;

	return epoll_wait(ep, &ev, 1, 2000) == 1 && (ev.events & EPOLLOUT);
}

static int epolls(const char *ip, int port, int n)
{
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(SOCK_NONBLOCK), i, r = 0;
	int *eps = calloc(n, sizeof(*eps));

	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = i };

		eps[i] = epoll_create1(EPOLL_CLOEXEC);
		if (eps[i] < 0 || epoll_ctl(eps[i], EPOLL_CTL_ADD, fd, &ev)) {
			perror("epoll");
			return 2;
		}
	}
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	for (i = 0; i < n; i++)
		r += ready(eps[i]);
	printf("epolls n=%d proto=%d ready=%d\n", n, protocol_of(fd), r);
	return 0;
}

static int epoll_late(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	struct epoll_event ev = { .events = EPOLLOUT };
	int first = tcp_socket(SOCK_NONBLOCK), ep0 = epoll_create1(0), fd, ep;

	/* An epoll the supervisor sees at its first look, and a listed connect. */
	epoll_ctl(ep0, EPOLL_CTL_ADD, first, &ev);
	connect(first, (struct sockaddr *)&a, sizeof(a));
	ready(ep0);
	ep = epoll_create1(0);
	fd = tcp_socket(SOCK_NONBLOCK);
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	printf("late proto=%d ready=%d\n", protocol_of(fd), ready(ep));
	return 0;
}

static long long now_ms(void);

static int epstale(const char *ip, int port, int n)
{
	struct sockaddr_in a = addr_of(ip, port);
	int i, mptcp = 0, missed = 0;

	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = 1 }, out[4];
		int ep = epoll_create1(EPOLL_CLOEXEC), old = tcp_socket(SOCK_NONBLOCK), fd, k, got;
		int hold[2];
		pid_t child;

		if (ep < 0 || pipe(hold))
			return 2;
		epoll_ctl(ep, EPOLL_CTL_ADD, old, &ev);
		child = fork();
		if (child == 0) {
			char c;

			close(hold[1]);
			read(hold[0], &c, 1);	/* until the parent is done */
			_exit(0);
		}
		close(hold[0]);
		close(old);	/* its entry stays: the child holds the file */
		fd = tcp_socket(SOCK_NONBLOCK);
		if (fd != old) {
			printf("epstale unavailable: fd %d, not %d\n", fd, old);
			return 3;
		}
		ev.data.u32 = 2;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		got = 0;
		for (long long end = now_ms() + 2000; !got && now_ms() < end;) {
			int m = epoll_wait(ep, out, 4, 100);

			for (k = 0; k < m; k++)
				if (out[k].data.u32 == 2 && (out[k].events & EPOLLOUT))
					got = 1;
		}
		if (protocol_of(fd) == 262) {
			mptcp++;
			missed += !got;
		}
		close(hold[1]);
		waitpid(child, NULL, 0);
		close(fd);
		close(ep);
	}
	printf("epstale n=%d mptcp=%d missed=%d\n", n, mptcp, missed);
	return 0;
}

struct dupper {
	int fd, out;
	pid_t tid;
};

static void *dupper(void *arg)
{
	struct dupper *d = arg;
	struct sched_param idle = { 0 };

	/* Set by the thread itself: glibc's attributes take no SCHED_IDLE. */
	sched_setscheduler(0, SCHED_IDLE, &idle);
	__atomic_store_n(&d->tid, gettid(), __ATOMIC_RELEASE);
	d->out = dup(d->fd);
	return NULL;
}

/* What thread @tid is in: its system call's number, -1 running, -2 gone. */
static long in_call(pid_t tid)
{
	char path[64], buf[64] = "";
	long nr;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -2;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	return sscanf(buf, "%ld", &nr) == 1 ? nr : -1;
}

#define EPS_WIDE 200

static int spin_stop;

static void *spinner(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&spin_stop, __ATOMIC_RELAXED))
		;
	return NULL;
}

static pthread_t spin;

/*
 * A thread kept busy on the first CPU this process may use, @slow set to
 * start threads there, and this thread moved to the second: 0, 3 when there
 * is one CPU ("MODE unavailable" said), 2 on an error. starve_end() stops it.
 */
static int starve_setup(const char *mode, pthread_attr_t *slow)
{
	int cpus[2], nr = 0, c;
	cpu_set_t set, one;
	pthread_attr_t busy;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 2;
	for (c = 0; c < CPU_SETSIZE && nr < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[nr++] = c;
	if (nr < 2) {
		printf("%s unavailable: one CPU\n", mode);
		return 3;
	}
	CPU_ZERO(&one);
	CPU_SET(cpus[0], &one);
	pthread_attr_init(slow);
	pthread_attr_setaffinity_np(slow, sizeof(one), &one);
	pthread_attr_init(&busy);
	pthread_attr_setaffinity_np(&busy, sizeof(one), &one);
	__atomic_store_n(&spin_stop, 0, __ATOMIC_RELAXED);
	if (pthread_create(&spin, &busy, spinner, NULL))
		return 2;
	CPU_ZERO(&one);
	CPU_SET(cpus[1], &one);
	sched_setaffinity(0, sizeof(one), &one);
	return 0;
}

static void starve_end(void)
{
	__atomic_store_n(&spin_stop, 1, __ATOMIC_RELAXED);
	pthread_join(spin, NULL);
}

/*
 * The dup()ing thread runs as SCHED_IDLE on a CPU another thread keeps busy:
 * once its call is let through, it waits milliseconds for that CPU, which is
 * when the supervisor serves the connect() that follows on another CPU.
 */
static int dupconnect(const char *ip, int port, int n)
{
	struct sockaddr_in a = addr_of(ip, port);
	int i, split = 0, mptcp = 0, err;
	pthread_attr_t slow;

	err = starve_setup("dupconnect", &slow);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct dupper d = { .fd = tcp_socket(SOCK_NONBLOCK), .out = -1 };
		struct epoll_event ev = { .events = EPOLLOUT };
		struct stat s1, s2;
		int eps[EPS_WIDE], e;
		pthread_t t;

		/* Registrations to carry make the swap long: the dup() lands inside it. */
		for (e = 0; e < EPS_WIDE; e++) {
			eps[e] = epoll_create1(EPOLL_CLOEXEC);
			epoll_ctl(eps[e], EPOLL_CTL_ADD, d.fd, &ev);
		}

		if (pthread_create(&t, &slow, dupper, &d))
			return 2;
		long st = 0, deadline = now_ms() + 2000;

		while (!__atomic_load_n(&d.tid, __ATOMIC_ACQUIRE))
			;
		/* In its dup() (held by the supervisor), then let through but off the CPU. */
		while (now_ms() < deadline && (st = in_call(d.tid)) != SYS_dup && st != -2)
			;
		while (now_ms() < deadline && (st = in_call(d.tid)) == SYS_dup)
			;
		connect(d.fd, (struct sockaddr *)&a, sizeof(a));
		pthread_join(t, NULL);
		if (d.out >= 0 && !fstat(d.fd, &s1) && !fstat(d.out, &s2) && s1.st_ino != s2.st_ino)
			split++;
		mptcp += protocol_of(d.fd) == 262;
		if (d.out >= 0)
			close(d.out);
		close(d.fd);
		for (e = 0; e < EPS_WIDE; e++)
			close(eps[e]);
	}
	starve_end();
	printf("dupconnect n=%d split=%d mptcp=%d\n", n, split, mptcp);
	return 0;
}

struct forker {
	pid_t tid, child;
	int report[2], release[2];
};

static volatile int fork_sock = -1;	/* read by the child: the parent's number */

static void *forker(void *arg)
{
	struct forker *f = arg;
	struct sched_param idle = { 0 };

	sched_setscheduler(0, SCHED_IDLE, &idle);
	__atomic_store_n(&f->tid, gettid(), __ATOMIC_RELEASE);
	f->child = fork();
	if (f->child == 0) {
		struct stat st;
		unsigned long long ino = 0;
		char c;

		/* The socket made while the fork was on its way, as this child has it. */
		if (fork_sock >= 0 && !fstat(fork_sock, &st))
			ino = st.st_ino;
		close(f->release[1]);	/* the parent's close is then the end of the pipe */
		if (write(f->report[1], &ino, sizeof(ino)) != sizeof(ino))
			_exit(1);
		read(f->release[0], &c, 1);	/* held until the parent has compared */
		_exit(0);
	}
	if (f->child > 0)
		waitpid(f->child, NULL, 0);
	return NULL;
}

static int forkconnect(const char *ip, int port, int n)
{
	struct sockaddr_in a = addr_of(ip, port);
	int i, split = 0, mptcp = 0, err;
	pthread_attr_t slow;

	err = starve_setup("forkconnect", &slow);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct forker f = { 0 };
		unsigned long long child_ino = 0;
		long st = 0, deadline = now_ms() + 2000;
		struct stat s1;
		pthread_t t;
		int fd;

		if (pipe(f.report) || pipe(f.release))
			return 2;
		fork_sock = -1;
		if (pthread_create(&t, &slow, forker, &f))
			return 2;
		while (!__atomic_load_n(&f.tid, __ATOMIC_ACQUIRE))
			;
		/* In its fork() (held by the supervisor), then let through but off the CPU. */
		while (now_ms() < deadline && (st = in_call(f.tid)) != SYS_clone &&
		       st != SYS_fork && st != 435 && st != -2)
			;
		while (now_ms() < deadline && (st == SYS_clone || st == SYS_fork || st == 435))
			st = in_call(f.tid);
		fd = tcp_socket(SOCK_NONBLOCK);
		fork_sock = fd;
		/* The child reports the socket it got: the fork has run. */
		if (read(f.report[0], &child_ino, sizeof(child_ino)) != sizeof(child_ino))
			child_ino = 0;
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (child_ino && !fstat(fd, &s1) && s1.st_ino != child_ino)
			split++;
		mptcp += protocol_of(fd) == 262;
		close(f.release[1]);
		pthread_join(t, NULL);
		close(f.release[0]);
		close(f.report[0]);
		close(f.report[1]);
		close(fd);
	}
	starve_end();
	printf("forkconnect n=%d split=%d mptcp=%d\n", n, split, mptcp);
	return 0;
}

static int highfd(const char *ip, int port, int want)
{
	struct sockaddr_in a = addr_of(ip, port);
	struct epoll_event ev = { .events = EPOLLOUT };
	struct rlimit rl;
	int fd = tcp_socket(SOCK_NONBLOCK), ep = epoll_create1(0);

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (dup2(fd, want) != want) {
		printf("highfd unavailable: %s\n", strerror(errno));
		return 3;
	}
	close(fd);
	epoll_ctl(ep, EPOLL_CTL_ADD, want, &ev);
	connect(want, (struct sockaddr *)&a, sizeof(a));
	printf("highfd fd=%d proto=%d ready=%d\n", want, protocol_of(want), ready(ep));
	return 0;
}

static int bindretry(const char *ip, int busy, int free_port)
{
	struct sockaddr_in a = addr_of(ip, busy), b = addr_of(ip, free_port);
	int fd = tcp_socket(0), c, first = 0;

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		first = errno;
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) || listen(fd, 4)) {
		perror("bind/listen");
		return 2;
	}
	printf("bindretry ready first=%s proto=%d\n", err_name(first), protocol_of(fd));
	fflush(stdout);
	alarm(10);
	c = accept(fd, NULL, NULL);
	printf("bindretry first=%s proto=%d accepted=%d\n", err_name(first), protocol_of(fd),
	       c >= 0 ? protocol_of(c) : -1);
	return 0;
}

static const char *echo(int fd)
{
	char buf[4];

	return write(fd, "ping", 4) == 4 && read(fd, buf, 4) == 4 && !memcmp(buf, "ping", 4) ?
	       "ok" : "failed";
}

static int reconnect(const char *ip, int refused, int open_port)
{
	struct sockaddr_in a = addr_of(ip, refused), b = addr_of(ip, open_port);
	int fd = tcp_socket(0), first = 0;

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		first = errno;
	if (connect(fd, (struct sockaddr *)&b, sizeof(b))) {
		printf("reconnect first=%s second=%s\n", err_name(first), err_name(errno));
		return 1;
	}
	printf("reconnect first=%s proto=%d echo=%s\n", err_name(first), protocol_of(fd),
	       echo(fd));
	return 0;
}

static int unspec(const char *ip, int listed, int open_port)
{
	struct sockaddr_in a = addr_of(ip, listed), b = addr_of(ip, open_port);
	struct sockaddr u = { .sa_family = AF_UNSPEC };
	int fd = tcp_socket(0), first;

	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		return 2;
	}
	first = protocol_of(fd);
	if (connect(fd, &u, sizeof(u)) || connect(fd, (struct sockaddr *)&b, sizeof(b))) {
		printf("unspec first=%d failed=%s\n", first, strerror(errno));
		return 1;
	}
	printf("unspec first=%d proto=%d echo=%s\n", first, protocol_of(fd), echo(fd));
	return 0;
}

static int bindlisted(const char *ip, int lport, int open_port)
{
	struct sockaddr_in a = addr_of(ip, lport), b = addr_of(ip, open_port);
	int fd = tcp_socket(0);

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    connect(fd, (struct sockaddr *)&b, sizeof(b))) {
		perror("bind/connect");
		return 2;
	}
	printf("bindlisted proto=%d echo=%s\n", protocol_of(fd), echo(fd));
	return 0;
}

static int len128(const char *ip, int port)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(0);

	memcpy(&ss, &a, sizeof(a));
	if (connect(fd, (struct sockaddr *)&ss, sizeof(ss))) {
		perror("connect");
		return 2;
	}
	printf("len128 proto=%d echo=%s\n", protocol_of(fd), echo(fd));
	return 0;
}

/* The descriptor flags a swap must keep, as the number is closed and reused. */
static int flags_reused(const char *ip, int port, int want)
{
	static const int how[] = { 0, SOCK_CLOEXEC, 0, SOCK_CLOEXEC | SOCK_NONBLOCK, 0 };
	enum { N = sizeof(how) / sizeof(how[0]) };
	struct sockaddr_in a = addr_of(ip, port);
	int protos[N], cloexec[N], nonblock[N], first = -1;
	bool same = true;
	size_t i;

	for (i = 0; i < N; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | how[i], 0);

		if (fd < 0) {
			perror("socket");
			return 2;
		}
		if (want >= 0) {
			struct rlimit rl;

			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			if (dup3(fd, want, how[i] & SOCK_CLOEXEC ? O_CLOEXEC : 0) != want) {
				printf("flags unavailable: %s\n", strerror(errno));
				return 3;
			}
			close(fd);
			fd = want;
		}
		if (first < 0)
			first = fd;
		same = same && fd == first;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) &&
		    !(errno == EINPROGRESS && (how[i] & SOCK_NONBLOCK))) {
			perror("connect");
			return 2;
		}
		protos[i] = protocol_of(fd);
		cloexec[i] = !!(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		nonblock[i] = !!(fcntl(fd, F_GETFL) & O_NONBLOCK);
		close(fd);
	}
	printf("flags fd_same=%d protos=", same);
	for (i = 0; i < N; i++)
		printf("%s%d", i ? "," : "", protos[i]);
	printf(" cloexec=");
	for (i = 0; i < N; i++)
		printf("%s%d", i ? "," : "", cloexec[i]);
	printf(" nonblock=");
	for (i = 0; i < N; i++)
		printf("%s%d", i ? "," : "", nonblock[i]);
	printf("\n");
	return 0;
}

static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static int connect_int80(const char *ip, int port)
{
	struct sockaddr_in *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	int fd = tcp_socket(0);
	long r;

	if (a == MAP_FAILED) {
		printf("int80 unavailable: no 32-bit memory\n");
		return 3;
	}
	*a = addr_of(ip, port);
	r = int80(362 /* i386 connect */, fd, (long)a, sizeof(*a));
	if (r == -ENOSYS) {
		printf("int80 unavailable: the kernel runs no i386 calls\n");
		return 3;
	}
	if (r) {
		printf("int80 connect=%s\n", strerror(-r));
		return 1;
	}
	printf("int80 proto=%d echo=%s\n", protocol_of(fd), echo(fd));
	return 0;
}

/*
 * A 32-bit program's dup (int 0x80) before a listed connect: the socket is
 * reachable through two descriptors, so it stays TCP and both work.
 */
static int dup_int80(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(0);
	long other = int80(41 /* i386 dup */, fd, 0, 0);
	char buf[4];

	if (other == -ENOSYS) {
		printf("int80dup unavailable: the kernel runs no i386 calls\n");
		return 3;
	}
	if (other < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		printf("int80dup failed: %s\n", strerror(other < 0 ? (int)-other : errno));
		return 1;
	}
	printf("int80dup proto=%d other=%s\n", protocol_of(fd),
	       write((int)other, "ping", 4) == 4 && read((int)other, buf, 4) == 4 ? "ok" : "failed");
	return 0;
}

/*
 * A 32-bit program's fork (int 0x80) before a listed connect: the child holds
 * the socket too, so it stays TCP, and the parent's connection works. The
 * child only waits on a pipe and leaves (no libc state is touched).
 */
static int fork_int80(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(0), p[2], status = 0;
	char c;
	long child;

	if (pipe(p))
		return 2;
	child = int80(2 /* i386 fork */, 0, 0, 0);
	if (child == 0) {
		int80(6 /* i386 close */, p[1], 0, 0);
		/* Until the parent closes its end: EOF, so the buffer is never written. */
		int80(3 /* i386 read */, p[0], (long)&c, 1);
		int80(1 /* i386 exit */, 0, 0, 0);
	}
	if (child == -ENOSYS) {
		printf("int80fork unavailable: the kernel runs no i386 calls\n");
		return 3;
	}
	close(p[0]);
	if (child < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		printf("int80fork failed: %s\n", strerror(child < 0 ? (int)-child : errno));
		return 1;
	}
	printf("int80fork proto=%d echo=%s", protocol_of(fd), echo(fd));
	close(p[1]);
	waitpid((pid_t)child, &status, 0);
	printf(" child=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/*
 * A listener bound at a listed address, then passed with SCM_RIGHTS (as
 * HAProxy passes its listeners to the next process on a seamless reload): the
 * receiver gets the MPTCP listener and accepts an MPTCP connection on it.
 */
static int scm_listener(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec v;
	struct msghdr m = {};
	int sv[2], l, c, one = 1, status = 0;
	char b = 'l';
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 2;
	child = fork();
	if (child == 0) {
		char buf[4];
		ssize_t n;
		int fd = -1, conn;

		v = (struct iovec){ &b, 1 };
		m.msg_iov = &v;
		m.msg_iovlen = 1;
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		if (recvmsg(sv[1], &m, 0) != 1 || !CMSG_FIRSTHDR(&m))
			_exit(2);
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(fd));
		conn = accept(fd, NULL, NULL);
		printf("scm listener=%d accepted=%d", protocol_of(fd), protocol_of(conn));
		fflush(stdout);
		n = read(conn, buf, sizeof(buf));
		if (n > 0 && write(conn, buf, n) != n)
			_exit(1);
		_exit(0);
	}
	l = tcp_socket(0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (child < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4)) {
		perror("bind");
		return 2;
	}
	v = (struct iovec){ &b, 1 };
	m.msg_iov = &v;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &l, sizeof(l));
	if (sendmsg(sv[0], &m, 0) != 1) {
		perror("sendmsg");
		return 2;
	}
	close(l);	/* the receiver alone holds it now */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		return 2;
	}
	b = *echo(c);	/* 'o' for ok */
	waitpid(child, &status, 0);
	printf(" echo=%s child=%d\n", b == 'o' ? "ok" : "failed",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

static int tfo(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(0);
	ssize_t sent = sendto(fd, "ping", 4, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof(a));
	char buf[4];

	printf("tfo proto=%d sent=%zd echo=%s\n", protocol_of(fd), sent,
	       sent == 4 && read(fd, buf, 4) == 4 ? "ok" : "failed");
	return 0;
}

static const char *echo_err(int fd)
{
	static char why[64];
	char buf[4];

	signal(SIGPIPE, SIG_IGN);
	if (write(fd, "ping", 4) != 4 || read(fd, buf, 4) != 4 || memcmp(buf, "ping", 4)) {
		snprintf(why, sizeof(why), "failed(%s)", strerror(errno));
		return why;
	}
	return "ok";
}

static int clone_child(void *arg)
{
	struct sockaddr_in *a = arg;

	return connect(3, (struct sockaddr *)a, sizeof(*a)) ? 1 : 0;
}

static int share(const char *how, const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0), other = -1, go[2], done[2], st;
	char res[80] = "", c = 0;
	pid_t pid = -1;

	if (fd < 0 || pipe(go) || pipe(done))
		return 2;
	if (!strcmp(how, "dup")) {
		other = dup(fd);
	} else if (!strcmp(how, "dup2")) {
		other = dup2(fd, 100);
	} else if (!strcmp(how, "dupfd")) {
		other = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	} else if (!strcmp(how, "fork")) {
		pid = fork();
		if (pid == 0) {
			/* The child's copy: used once the parent has connected. */
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			snprintf(res, sizeof(res), "%s", echo_err(fd));
			if (write(done[1], res, strlen(res) + 1) < 0)
				_exit(1);
			_exit(0);
		}
	} else if (!strcmp(how, "vfork")) {
		char script[128];

		/* An exec()ed program keeps the descriptor (no FD_CLOEXEC) and echoes on it. */
		snprintf(script, sizeof(script), "read x; printf ping >&%d && head -c 4 <&%d", fd, fd);
		pid = vfork();
		if (pid == 0) {
			dup2(go[0], 0);
			dup2(done[1], 1);
			execl("/bin/sh", "sh", "-c", script, (char *)NULL);
			_exit(127);
		}
	} else if (!strcmp(how, "clonefiles")) {
		static char stack[65536];

		if (fd != 3 && (dup2(fd, 3) != 3 || close(fd)))
			return 2;
		fd = 3;
		pid = clone(clone_child, stack + sizeof(stack), CLONE_FILES | SIGCHLD, &a);
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("share clonefiles connect failed\n");
			return 1;
		}
		printf("share clonefiles proto=%d other=%s\n", protocol_of(fd), echo_err(fd));
		return 0;
	} else {
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		printf("share %s connect=%s\n", how, strerror(errno));
		return 1;
	}
	if (other >= 0) {
		snprintf(res, sizeof(res), "%s", echo_err(other));
	} else if (!strcmp(how, "fork")) {
		if (write(go[1], "g", 1) != 1 || read(done[0], res, sizeof(res)) <= 0)
			snprintf(res, sizeof(res), "failed(child)");
		waitpid(pid, NULL, 0);
	} else {
		/* vfork: the exec()ed child echoes through its copy. */
		char got[8] = "";

		close(done[1]);
		if (write(go[1], "g\n", 2) != 2 || read(done[0], got, 4) != 4 || strcmp(got, "ping"))
			snprintf(res, sizeof(res), "failed(child)");
		else
			snprintf(res, sizeof(res), "ok");
		waitpid(pid, NULL, 0);
	}
	printf("share %s proto=%d other=%s\n", how, protocol_of(fd), res);
	return 0;
}

static long timeo_ms(int fd, int name)
{
	struct timeval tv = {};
	socklen_t len = sizeof(tv);

	getsockopt(fd, SOL_SOCKET, name, &tv, &len);
	return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int options(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	struct timeval snd = { 1, 500000 }, rcv = { 2, 500000 };
	int fd = tcp_socket(0), three = 3, two = 2;
	socklen_t len = sizeof(int);
	int syncnt = 0, lowat = 0;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
	setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &three, sizeof(three));
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &two, sizeof(two));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		return 2;
	}
	getsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len);
	printf("options proto=%d sndtimeo=%ld rcvtimeo=%ld syncnt=%d rcvlowat=%d\n",
	       protocol_of(fd), timeo_ms(fd, SO_SNDTIMEO), timeo_ms(fd, SO_RCVTIMEO), syncnt, lowat);
	return 0;
}

/*
 * An option a swap can't carry set before a listed connect: SO_ATTACH_FILTER
 * ("filter", a program that can't be read back) or IP_PKTINFO ("pktinfo", one
 * outside the table). The socket stays TCP either way, and still works.
 */
static int keepopt(const char *which, const char *ip, int port)
{
	static struct sock_filter accept_all = { BPF_RET | BPF_K, 0, 0, 0xffff };
	struct sock_fprog prog = { 1, &accept_all };
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(0), one = 1, set;
	char c = 'k';

	if (!strcmp(which, "filter"))
		set = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
	else if (!strcmp(which, "ttl"))	/* in the table; MPTCP refuses it, the bridge can't carry it */
		set = setsockopt(fd, IPPROTO_IP, IP_TTL, &(int){ 61 }, sizeof(int));
	else
		set = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (set || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror(set ? "setsockopt" : "connect");
		return 2;
	}
	printf("keepopt %s proto=%d echo=%s\n", which, protocol_of(fd),
	       write(fd, &c, 1) == 1 && read(fd, &c, 1) == 1 ? "ok" : "failed");
	return 0;
}

static int oobinline(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int fd = tcp_socket(0), one = 1, got = -1;
	socklen_t len;

	setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		return 2;
	}
	len = sizeof(got);
	getsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &got, &len);
	printf("oobinline proto=%d echo=%s oob=%d\n", protocol_of(fd), echo(fd), got);
	return 0;
}

/*
 * What an asyncore FTP server does: SO_OOBINLINE on every connection it
 * accepts, from a listener bound to a listed address (an MPTCP client here).
 */
static int oobaccept(const char *ip, int port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int l = tcp_socket(0), c, s, one = 1, got = -1, set;
	socklen_t len = sizeof(got);

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4)) {
		perror("bind/listen");
		return 2;
	}
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 262 /* IPPROTO_MPTCP */);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		return 2;
	}
	s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("accept");
		return 2;
	}
	set = setsockopt(s, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) ? errno : 0;
	getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &got, &len);
	printf("oobaccept listener=%d accepted=%d set=%s get=%d\n", protocol_of(l), protocol_of(s),
	       err_name(set), got);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int latency(const char *ip, int port, int seconds)
{
	struct sockaddr_in a = addr_of(ip, port);
	long long end = now_ms() + seconds * 1000LL, worst = 0;
	long n = 0;

	printf("latency started\n");
	fflush(stdout);
	while (now_ms() < end && n < 1000000) {
		long long t0 = now_ms();
		int fd = tcp_socket(0);

		connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		n++;
		usleep(2000);
	}
	printf("latency n=%ld max_ms=%lld\n", n, worst);
	return 0;
}

static struct sockaddr_in flipped;
static volatile bool flipping = true;

static void *flipper(void *arg)
{
	const unsigned short *ports = arg;
	unsigned long i = 0;

	while (flipping)
		((volatile struct sockaddr_in *)&flipped)->sin_port = ports[i++ & 1];
	return NULL;
}

static int toctou(const char *ip, int listed, int unlisted, long n, int hold)
{
	unsigned short ports[2] = { htons(listed), htons(unlisted) };
	long i, leak = 0, mptcp = 0, tcp = 0, failed = 0;
	pthread_t t;

	flipped = addr_of(ip, listed);
	if (pthread_create(&t, NULL, flipper, ports))
		return 2;
	for (i = 0; i < n; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = tcp_socket(0);

		if (connect(fd, (struct sockaddr *)&flipped, sizeof(flipped)) ||
		    getpeername(fd, (struct sockaddr *)&peer, &len)) {
			failed++;
		} else if (protocol_of(fd) == 262) {
			mptcp++;
			leak += ntohs(peer.sin_port) == unlisted;
		} else {
			tcp++;
		}
		close(fd);
	}
	flipping = false;
	pthread_join(t, NULL);
	printf("toctou n=%ld mptcp_unlisted=%ld mptcp=%ld tcp=%ld failed=%ld\n", n, leak, mptcp,
	       tcp, failed);
	sleep(hold);
	return 0;
}

/* A line on stdin: the counter is ready (or done). */
static void wait_line(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		exit(2);
}

static int count_round(int ls, int ep, const struct sockaddr_in *a, bool nodelay, int reg,
		       bool blocking)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = tcp_socket(blocking ? 0 : SOCK_NONBLOCK), one = 1, c, proto, rdy = 0;

	if (nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (reg == 2)
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) && errno != EINPROGRESS) {
		perror("connect");
		exit(2);
	}
	if (reg == 1)
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	if (reg)
		rdy = ready(ep);
	proto = protocol_of(fd);
	c = accept(ls, NULL, NULL);
	if (c >= 0)
		close(c);
	close(fd);
	return (proto == 262) | rdy << 1;
}

static int count_loop(const char *ip, int port, long n, char **words, int nr_words)
{
	struct sockaddr_in a = addr_of(ip, port);
	int ls = tcp_socket(0), ep, one = 1, reg = 0, i, r;
	bool nodelay = false, blocking = false, no_epoll = false;
	long mptcp = 0, rdy = 0, k;

	for (i = 0; i < nr_words; i++) {
		if (!strcmp(words[i], "nodelay"))
			nodelay = true;
		else if (!strcmp(words[i], "epoll"))
			reg = 1;
		else if (!strcmp(words[i], "epoll-before"))
			reg = 2;
		else if (!strcmp(words[i], "blocking"))
			blocking = true;
		else if (!strcmp(words[i], "no-epoll"))
			no_epoll = true;
		else
			return 2;
	}
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 64)) {
		perror("listener");
		return 2;
	}
	ep = no_epoll ? -1 : epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		reg = 0;
	count_round(ls, ep, &a, nodelay, reg, blocking);
	printf("ready\n");
	wait_line();
	for (k = 0; k < n; k++) {
		r = count_round(ls, ep, &a, nodelay, reg, blocking);
		mptcp += r & 1;
		rdy += r >> 1;
	}
	printf("count n=%ld mptcp=%ld ready=%ld\n", n, mptcp, rdy);
	wait_line();
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(m, "sigbind"))
		return sig_loop(false, argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc == 5 && !strcmp(m, "sigconnect"))
		return sig_loop(true, argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc == 5 && !strcmp(m, "epolls"))
		return epolls(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(m, "epoll-late"))
		return epoll_late(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(m, "epstale"))
		return epstale(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "forkconnect"))
		return forkconnect(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "dupconnect"))
		return dupconnect(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "highfd"))
		return highfd(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "bindretry"))
		return bindretry(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "reconnect"))
		return reconnect(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "unspec"))
		return unspec(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(m, "bindlisted"))
		return bindlisted(argv[2], atoi(argv[3]), atoi(argv[4]));
	if ((argc == 4 || argc == 5) && !strcmp(m, "flags"))
		return flags_reused(argv[2], atoi(argv[3]), argc == 5 ? atoi(argv[4]) : -1);
	if (argc == 4 && !strcmp(m, "len128"))
		return len128(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(m, "int80"))
		return connect_int80(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(m, "int80dup"))
		return dup_int80(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(m, "tfo"))
		return tfo(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(m, "share"))
		return share(argv[2], argv[3], atoi(argv[4]));
	if (argc == 4 && !strcmp(m, "options"))
		return options(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(m, "scmlisten"))
		return scm_listener(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(m, "int80fork"))
		return fork_int80(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(m, "keepopt"))
		return keepopt(argv[2], argv[3], atoi(argv[4]));
	if (argc == 4 && !strcmp(m, "oobinline"))
		return oobinline(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(m, "oobaccept"))
		return oobaccept(argv[2], atoi(argv[3]));
	if (argc == 7 && !strcmp(m, "toctou"))
		return toctou(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), atoi(argv[6]));
	if (argc == 5 && !strcmp(m, "latency"))
		return latency(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 5 && argc <= 9 && !strcmp(m, "count"))
		return count_loop(argv[2], atoi(argv[3]), atol(argv[4]), argv + 5, argc - 5);
	fprintf(stderr, "usage: see the comment at the top of run_edges.c\n");
	return 2;
}
