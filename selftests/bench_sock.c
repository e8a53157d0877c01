// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_sock: the socket calls whose cost the attach engine changes, timed in a
 * loop. Prints one number, nanoseconds per operation, for the caller to take
 * medians and ratios of.
 *
 *   bench_sock socket N [mptcp]     N x socket(AF_INET, SOCK_STREAM, 0 or IPPROTO_MPTCP) + close
 *   bench_sock connect N PORT [mptcp]
 *                                   N x (socket + connect + accept + close) on 127.0.0.1:PORT;
 *                                   on stderr, the protocol of the first client and
 *                                   server sockets ("client=262 server=262"), so that a
 *                                   run that measured the wrong thing can tell
 *   bench_sock threads N PORT T [mptcp]
 *                                   T threads at once, each with its own listener on
 *                                   127.0.0.1:PORT+t, N/T x (socket + connect + accept +
 *                                   close) each; nanoseconds of wall time per connection
 *                                   of all of them (so a rate); stderr as for connect
 *   bench_sock setsockopt N PORT nodelay|uto
 *                                   connect a socket(AF_INET, SOCK_STREAM, 0) to 127.0.0.1:PORT
 *                                   (made MPTCP there under run when PORT is listed), then
 *                                   N x setsockopt(TCP_NODELAY) (an option every socket
 *                                   takes) or TCP_USER_TIMEOUT (one the bridge carries);
 *                                   on stderr the socket's protocol ("client=262")
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int bench_socket(long n, int proto)
{
	double t0 = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, proto);

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		close(fd);
	}
	printf("%.0f\n", (now_ns() - t0) / n);
	return 0;
}

static int bench_connect(long n, int port, int proto)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int lfd = socket(AF_INET, SOCK_STREAM, proto), one = 1;
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	int client_proto = -1, server_proto = -1;
	socklen_t plen = sizeof(int);
	double t0;
	long i;

	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 64)) {
		perror("listen");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, proto), a;

		if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr))) {
			perror("connect");
			return 1;
		}
		a = accept(lfd, NULL, NULL);
		if (a < 0) {
			perror("accept");
			return 1;
		}
		if (!i) {
			getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &client_proto, &plen);
			getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &server_proto, &plen);
		}
		/* RST instead of TIME_WAIT, so that N loops don't exhaust local ports. */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		close(c);
		close(a);
	}
	printf("%.0f\n", (now_ns() - t0) / n);
	fprintf(stderr, "client=%d server=%d\n", client_proto, server_proto);
	close(lfd);
	return 0;
}

struct conn_thread {
	pthread_t t;
	long n;
	int lfd, port, proto, client_proto, server_proto, failed;
};

static void *conn_loop(void *arg)
{
	struct conn_thread *ct = arg;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(ct->port) };
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	socklen_t plen = sizeof(int);
	long i;

	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	for (i = 0; i < ct->n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, ct->proto), a;

		if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr))) {
			perror("connect");
			ct->failed = 1;
			return NULL;
		}
		a = accept(ct->lfd, NULL, NULL);
		if (a < 0) {
			perror("accept");
			ct->failed = 1;
			return NULL;
		}
		if (!i) {
			getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &ct->client_proto, &plen);
			getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &ct->server_proto, &plen);
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		close(c);
		close(a);
	}
	return NULL;
}

/* Several threads connecting at once: what one supervisor does for many callers. */
static int bench_threads(long n, int port, int nt, int proto)
{
	struct conn_thread ct[64] = {};
	int t, one = 1, failed = 0;
	double t0;

	if (nt < 1 || nt > 64 || n < nt) {
		fprintf(stderr, "threads: 1 to 64 of them, and N at least T\n");
		return 2;
	}
	for (t = 0; t < nt; t++) {
		struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port + t) };

		inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
		ct[t].lfd = socket(AF_INET, SOCK_STREAM, proto);
		if (ct[t].lfd < 0 ||
		    setsockopt(ct[t].lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(ct[t].lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
		    listen(ct[t].lfd, 64)) {
			perror("listen");
			return 1;
		}
		ct[t].n = n / nt;
		ct[t].port = port + t;
		ct[t].proto = proto;
		ct[t].client_proto = ct[t].server_proto = -1;
	}
	t0 = now_ns();
	for (t = 0; t < nt; t++)
		if (pthread_create(&ct[t].t, NULL, conn_loop, &ct[t])) {
			perror("pthread_create");
			return 1;
		}
	for (t = 0; t < nt; t++) {
		pthread_join(ct[t].t, NULL);
		failed |= ct[t].failed;
	}
	if (failed)
		return 1;
	printf("%.0f\n", (now_ns() - t0) / (n / nt * nt));
	/* Every thread's first connection, so that one left TCP shows. */
	for (t = 0; t < nt; t++)
		fprintf(stderr, "client=%d server=%d\n", ct[t].client_proto, ct[t].server_proto);
	return 0;
}

static int bench_setsockopt(long n, int port, int opt)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), one = 1, c, proto = -1;
	socklen_t plen = sizeof(int);
	double t0;
	long i;

	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4)) {
		perror("listen");
		return 1;
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("connect");
		return 1;
	}
	getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &proto, &plen);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		int v = opt == TCP_NODELAY ? (int)(i & 1) : 5000 + (int)(i & 1);

		if (setsockopt(c, IPPROTO_TCP, opt, &v, sizeof(v))) {
			perror("setsockopt");
			return 1;
		}
	}
	printf("%.0f\n", (now_ns() - t0) / n);
	fprintf(stderr, "client=%d\n", proto);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "setsockopt"))
		return bench_setsockopt(atol(argv[2]), atoi(argv[3]),
					!strcmp(argv[4], "uto") ? TCP_USER_TIMEOUT : TCP_NODELAY);
	if (argc >= 5 && !strcmp(argv[1], "threads"))
		return bench_threads(atol(argv[2]), atoi(argv[3]), atoi(argv[4]),
				     argc > 5 && !strcmp(argv[5], "mptcp") ? IPPROTO_MPTCP : 0);
	if (argc >= 3 && !strcmp(argv[1], "socket"))
		return bench_socket(atol(argv[2]), argc > 3 && !strcmp(argv[3], "mptcp") ?
					IPPROTO_MPTCP : 0);
	if (argc >= 4 && !strcmp(argv[1], "connect"))
		return bench_connect(atol(argv[2]), atoi(argv[3]),
				     argc > 4 && !strcmp(argv[4], "mptcp") ? IPPROTO_MPTCP : 0);
	fprintf(stderr, "usage: see the comment at the top of bench_sock.c\n");
	return 2;
}
