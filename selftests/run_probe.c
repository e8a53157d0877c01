// SPDX-License-Identifier: GPL-2.0-only
/*
 * run_probe: what a proxy's sockets look like to the proxy under `mptcp-upgrade
 * run`, printed as key=value words. It creates plain TCP sockets the way
 * proxies do (non-blocking, close-on-exec, options set before the call) and
 * reports, after bind()/connect(), what the descriptor is now.
 *
 *   run_probe connect ADDR PORT SRCPORT [uto | epoll]
 *       socket(SOCK_NONBLOCK|SOCK_CLOEXEC), SO_REUSEADDR, TCP_NODELAY,
 *       SO_KEEPALIVE, TCP_KEEPIDLE 77 (with uto: TCP_USER_TIMEOUT 5000 too, and
 *       after the echo TCP_USER_TIMEOUT -1, reported as bad_uto=<error>),
 *       bind 127.0.0.1:SRCPORT (HAProxy's `source`), connect (EINPROGRESS),
 *       wait, echo 4 bytes; with epoll, the socket is put in an epoll before
 *       connect() (as nginx does) and its EPOLLOUT and EPOLL_CTL_MOD reported;
 *       epoll=N moves the socket to descriptor N first
 *   run_probe listen ADDR PORT
 *       socket(SOCK_CLOEXEC), SO_REUSEADDR, TCP_DEFER_ACCEPT 0, bind, listen
 *       ("ready ..."), accept one connection and report it
 *   run_probe storm ADDR PORT N
 *       N plain TCP sockets, one after the other: connect, echo 4 bytes, close;
 *       prints "storm n=N mptcp=A tcp=B failed=C" (SO_PROTOCOL of each)
 *   run_probe storm-thread ADDR PORT N
 *       the same, from a second thread (not the thread-group leader)
 *   run_probe blackhole ADDR PORT MS before|after GOFILE
 *       TCP_USER_TIMEOUT MS set before connect() or after it, connect, echo,
 *       print "established proto=P uto=<setsockopt result> got=<read back>",
 *       wait for GOFILE to appear (the caller has cut the path by then), write,
 *       and print how long until the connection failed and with what:
 *       "aborted ms=N err=NAME", or "alive ms=N" after 20 s
 *   run_probe tclass ADDR6 PORT CLASS
 *       socket(AF_INET6), IPV6_TCLASS CLASS before connect(), connect, echo,
 *       print "proto=P tclass=<read back> echo=ok|failed"
 *   run_probe late connect|bind ADDR PORT GOFILE
 *       socket() now ("created"), connect() or bind() once GOFILE appears (at
 *       most 10 s), print "connected proto=P" or "bound proto=P" (a socket that
 *       predates an attach)
 *   run_probe uring connect|bind ADDR PORT
 *       a socket made through io_uring (IORING_OP_SOCKET, which socket()'s hook
 *       does not see), then connect() or bind(): "uring proto=P connected" (or
 *       "bound"), or
 *       "uring unavailable: REASON" (exit 3) where the kernel has no such op
 *   run_probe mptcp-refuses
 *       exit 0 when this kernel refuses TCP_USER_TIMEOUT on an MPTCP socket
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static int get_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(fd, level, name, &v, &len);
	return v;
}

static void describe(int fd)
{
	printf("proto=%d nonblock=%d cloexec=%d reuseaddr=%d nodelay=%d keepalive=%d keepidle=%d",
	       protocol_of(fd), !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
	       !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), get_int(fd, SOL_SOCKET, SO_REUSEADDR),
	       get_int(fd, IPPROTO_TCP, TCP_NODELAY), get_int(fd, SOL_SOCKET, SO_KEEPALIVE),
	       get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE));
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

#define EPOLL_DATA 0x1234abcd5678ULL

static int probe_connect(const char *ip, int port, int src, int uto, int use_epoll)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	int idle = 77, timeout = 5000, before = fd, err = 0, ret, ep = -1;
	struct sockaddr_in to = addr_of(ip, port), from = addr_of("127.0.0.1", src), local;
	socklen_t len = sizeof(err), llen = sizeof(local);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	char buf[8];

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) ||
	    (uto && setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout))) ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from))) {
		printf("setup failed errno=%d\n", errno);
		return 1;
	}
	/*
	 * With epoll=N the socket moves to descriptor N first: the numbers the
	 * supervisor itself uses for its own descriptors are the interesting ones.
	 */
	if (use_epoll > 1) {
		if (dup3(fd, use_epoll, O_CLOEXEC) != use_epoll) {
			printf("setup failed errno=%d\n", errno);
			return 1;
		}
		close(fd);
		fd = before = use_epoll;
		p.fd = fd;
	}
	/* nginx's way: the socket joins the event loop before connect() is called. */
	if (use_epoll) {
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.u64 = EPOLL_DATA };

		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			printf("setup failed errno=%d\n", errno);
			return 1;
		}
	}
	ret = connect(fd, (struct sockaddr *)&to, sizeof(to));
	printf("connect=%s ", ret == 0 ? "done" : errno == EINPROGRESS ? "einprogress" :
	       strerror(errno));
	if (ret && errno != EINPROGRESS)
		return 1;
	if (use_epoll) {
		struct epoll_event got = {}, mod = { .events = EPOLLIN | EPOLLET,
						     .data.u64 = EPOLL_DATA };
		int n = epoll_wait(ep, &got, 1, 10000);

		printf("epoll=%s ", n != 1 ? "no-event" : got.data.u64 != EPOLL_DATA ? "wrong-data" :
		       epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod) ? "mod-failed" : "ok");
	}
	if (poll(&p, 1, 10000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		printf("failed errno=%d\n", err);
		return 1;
	}
	getsockname(fd, (struct sockaddr *)&local, &llen);
	printf("fd_same=%d sport=%d ", fd == before, ntohs(local.sin_port));
	describe(fd);
	if (uto)
		printf(" user_timeout=%d", get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	fcntl(fd, F_SETFL, 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	printf(" echo=%s", write(fd, "ping", 4) == 4 && poll(&p, 1, 10000) == 1 &&
	       read(fd, buf, sizeof(buf)) == 4 ? "ok" : "failed");
	if (uto) {
		int bad = -1;

		printf(" bad_uto=%s", setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &bad,
						 sizeof(bad)) ? strerror(errno) : "accepted");
	}
	printf("\n");
	return 0;
}

static int probe_listen(const char *ip, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0, a;
	struct sockaddr_in at = addr_of(ip, port);
	char buf[64];
	ssize_t n;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&at, sizeof(at)) || listen(fd, 8)) {
		printf("setup failed errno=%d\n", errno);
		return 1;
	}
	printf("ready ");
	describe(fd);
	printf("\n");
	fflush(stdout);
	a = accept(fd, NULL, NULL);
	if (a < 0)
		return 1;
	n = read(a, buf, sizeof(buf));
	if (n > 0 && write(a, buf, n) != n)
		return 1;
	printf("accepted proto=%d\n", protocol_of(a));
	return 0;
}

/* N plain TCP sockets connect one after the other, each echoes; count what they were. */
static int probe_storm(const char *ip, int port, long n)
{
	struct sockaddr_in to = addr_of(ip, port);
	long i, mptcp = 0, tcp = 0, failed = 0;

	for (i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), proto;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[8];

		if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) ||
		    write(fd, "ping", 4) != 4 || poll(&p, 1, 10000) != 1 ||
		    read(fd, buf, sizeof(buf)) != 4) {
			failed++;
		} else {
			proto = protocol_of(fd);
			mptcp += proto == IPPROTO_MPTCP;
			tcp += proto == IPPROTO_TCP;
		}
		if (fd >= 0)
			close(fd);
	}
	printf("storm n=%ld mptcp=%ld tcp=%ld failed=%ld\n", n, mptcp, tcp, failed);
	return failed != 0;
}

static int probe_blackhole(const char *ip, int port, int ms, bool before, const char *go)
{
	struct sockaddr_in to = addr_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0, err = 0, i;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t len = sizeof(err);
	struct timespec t0, t1;
	char buf[8];

	if (fd < 0)
		return 1;
	if (before)
		rc = setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) || write(fd, "ping", 4) != 4 ||
	    poll(&p, 1, 10000) != 1 || read(fd, buf, sizeof(buf)) != 4) {
		printf("setup failed errno=%d\n", errno);
		return 1;
	}
	if (!before)
		rc = setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	printf("established proto=%d uto=%s got=%d\n", protocol_of(fd), rc ? strerror(errno) : "ok",
	       get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	fflush(stdout);
	for (i = 0; i < 1000 && access(go, F_OK); i++)
		poll(NULL, 0, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (write(fd, "lost", 4) != 4)
		return 1;
	p.events = POLLIN;
	rc = poll(&p, 1, 20000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (rc != 1) {
		printf("alive ms=%d\n", ms);
		return 0;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (!err) {
		ssize_t got = read(fd, buf, sizeof(buf));

		if (got > 0) {
			printf("echoed ms=%d: the path was not cut\n", ms);
			return 1;
		}
		err = got < 0 ? errno : 0;
	}
	printf("aborted ms=%d err=%s\n", ms, err == ETIMEDOUT ? "ETIMEDOUT" : strerror(err));
	return 0;
}

static int probe_tclass(const char *ip, int port, int tclass)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[8];

	if (fd < 0 || inet_pton(AF_INET6, ip, &to.sin6_addr) != 1 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass)) ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		printf("setup failed errno=%d\n", errno);
		return 1;
	}
	printf("proto=%d tclass=%d echo=%s\n", protocol_of(fd), get_int(fd, IPPROTO_IPV6, IPV6_TCLASS),
	       write(fd, "ping", 4) == 4 && poll(&p, 1, 10000) == 1 &&
	       read(fd, buf, sizeof(buf)) == 4 ? "ok" : "failed");
	return 0;
}

static int probe_late(bool bind_it, const char *ip, int port, const char *go)
{
	struct sockaddr_in to = addr_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), i;

	if (fd < 0)
		return 1;
	printf("created proto=%d\n", protocol_of(fd));
	fflush(stdout);
	for (i = 0; i < 1000 && access(go, F_OK); i++)
		poll(NULL, 0, 10);
	if (bind_it ? bind(fd, (struct sockaddr *)&to, sizeof(to)) :
		      connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		printf("%s failed errno=%d\n", bind_it ? "bind" : "connect", errno);
		return 1;
	}
	printf("%s proto=%d\n", bind_it ? "bound" : "connected", protocol_of(fd));
	return 0;
}

/* One IORING_OP_SOCKET through a ring of one entry, with raw system calls. */
static int uring_socket(int family, int type, const char **why)
{
	struct io_uring_params p = {};
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail;
	void *sq, *cq;
	int ring, res;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0) {
		*why = strerror(errno);
		return -1;
	}
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		*why = "mmap of the ring failed";
		return -1;
	}
	sq_tail = (unsigned int *)((char *)sq + p.sq_off.tail);
	sq_array = (unsigned int *)((char *)sq + p.sq_off.array);
	cq_head = (unsigned int *)((char *)cq + p.cq_off.head);
	cq_tail = (unsigned int *)((char *)cq + p.cq_off.tail);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_SOCKET;
	sqes[0].fd = family;
	sqes[0].off = type;
	sqes[0].len = 0;	/* protocol 0, as a proxy asks */
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 ||
	    __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head) {
		*why = strerror(errno);
		return -1;
	}
	cqe = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
	res = cqe[*cq_head & (p.cq_entries - 1)].res;
	if (res < 0) {
		*why = strerror(-res);	/* EINVAL: a kernel before 5.19 has no IORING_OP_SOCKET */
		return -1;
	}
	close(ring);
	return res;
}

static int probe_uring(bool bind_it, const char *ip, int port)
{
	struct sockaddr_in to = addr_of(ip, port);
	const char *why = "";
	int fd = uring_socket(AF_INET, SOCK_STREAM, &why);

	if (fd < 0) {
		printf("uring unavailable: %s\n", why);
		return 3;
	}
	if (bind_it ? bind(fd, (struct sockaddr *)&to, sizeof(to)) :
		      connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		printf("uring proto=%d %s failed errno=%d\n", protocol_of(fd),
		       bind_it ? "bind" : "connect", errno);
		return 1;
	}
	printf("uring proto=%d %s\n", protocol_of(fd), bind_it ? "bound" : "connected");
	return 0;
}

struct storm_args {
	const char *ip;
	int port;
	long n;
	int ret;
};

static void *storm_thread(void *arg)
{
	struct storm_args *a = arg;

	a->ret = probe_storm(a->ip, a->port, a->n);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "storm"))
		return probe_storm(argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "storm-thread")) {
		/* The same from a thread that is not the process's leader (HAProxy's threads). */
		struct storm_args a = { argv[2], atoi(argv[3]), atol(argv[4]), 1 };
		pthread_t t;

		if (pthread_create(&t, NULL, storm_thread, &a) || pthread_join(t, NULL))
			return 1;
		return a.ret;
	}
	if (argc >= 5 && !strcmp(argv[1], "connect"))
		return probe_connect(argv[2], atoi(argv[3]), atoi(argv[4]),
				     argc > 5 && !strcmp(argv[5], "uto"),
				     argc > 5 && !strcmp(argv[5], "epoll") ? 1 :
				     argc > 5 && !strncmp(argv[5], "epoll=", 6) ? atoi(argv[5] + 6) : 0);
	if (argc == 4 && !strcmp(argv[1], "listen"))
		return probe_listen(argv[2], atoi(argv[3]));
	if (argc == 7 && !strcmp(argv[1], "blackhole"))
		return probe_blackhole(argv[2], atoi(argv[3]), atoi(argv[4]),
				       !strcmp(argv[5], "before"), argv[6]);
	if (argc == 5 && !strcmp(argv[1], "uring"))
		return probe_uring(!strcmp(argv[2], "bind"), argv[3], atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "late"))
		return probe_late(!strcmp(argv[2], "bind"), argv[3], atoi(argv[4]), argv[5]);
	if (argc == 5 && !strcmp(argv[1], "tclass"))
		return probe_tclass(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 2 && !strcmp(argv[1], "mptcp-refuses")) {
		int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), v = 5000;

		return fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v)) ?
		       0 : 1;
	}
	fprintf(stderr, "usage: see the comment at the top of run_probe.c\n");
	return 2;
}
