// SPDX-License-Identifier: GPL-2.0-only
/*
 * mu_handover: the sockets selftests/vm/test_upgrade.sh watches across a
 * hand-over from an older engine to a newer one.
 *
 *   mu_handover churn ADDR PORT STOPFILE MAX
 *        connections one after the other, each from socket(AF_INET, SOCK_STREAM,
 *        IPPROTO_TCP) (the protocol HAProxy passes, which an older engine's hook
 *        answers with when it does not upgrade), each echoing a byte, until
 *        STOPFILE exists or MAX were made; "ready" after the first, then
 *        "churn n=N mptcp=M tcp=T failed=F" (T: SO_PROTOCOL 6)
 *   mu_handover keep ADDR PORT
 *        one connection made now ("connected proto=P"), held until a line
 *        arrives on stdin; then TCP_USER_TIMEOUT 4321 set and read back on it and
 *        a byte echoed: "after set=RC got=V echo=ok|bad"
 *
 * Every wait is bounded (10 s a peer, 10 min stdin), so a broken engine fails
 * the test instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS		10000
#define STDIN_WAIT_MS	600000

static int protocol_of(int fd)
{
	int proto = -1;
	socklen_t len = sizeof(proto);

	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	return proto;
}

static bool ready_for(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1;
}

/* A connected socket made with IPPROTO_TCP, or -1. */
static int dial(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool echo_byte(int fd)
{
	char c = 'x', back = 0;

	return write(fd, &c, 1) == 1 && ready_for(fd, POLLIN, WAIT_MS) &&
	       read(fd, &back, 1) == 1 && back == c;
}

static int cmd_churn(const struct sockaddr_in *sin, const char *stopfile, long max)
{
	long n = 0, mptcp = 0, tcp = 0, failed = 0;
	int fd;

	while (n < max && access(stopfile, F_OK)) {
		fd = dial(sin);
		n++;
		if (fd < 0) {
			failed++;
			continue;
		}
		if (protocol_of(fd) == IPPROTO_MPTCP)
			mptcp++;
		else
			tcp++;
		if (!echo_byte(fd))
			failed++;
		close(fd);
		if (n == 1) {
			printf("ready\n");
			fflush(stdout);
		}
	}
	printf("churn n=%ld mptcp=%ld tcp=%ld failed=%ld\n", n, mptcp, tcp, failed);
	return 0;
}

static int cmd_keep(const struct sockaddr_in *sin)
{
	int fd = dial(sin), uto = 4321, got = -1, rc;
	socklen_t len = sizeof(got);
	char line[64];

	if (fd < 0) {
		printf("connect=failed errno=%d\n", errno);
		return 1;
	}
	printf("connected proto=%d echo=%s\n", protocol_of(fd), echo_byte(fd) ? "ok" : "bad");
	fflush(stdout);
	if (!ready_for(0, POLLIN, STDIN_WAIT_MS) || !fgets(line, sizeof(line), stdin)) {
		printf("no go line\n");
		return 1;
	}
	rc = setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &got, &len);
	printf("after set=%d got=%d echo=%s\n", rc ? -errno : 0, got,
	       echo_byte(fd) ? "ok" : "bad");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	if (argc < 4 || inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
		goto usage;
	sin.sin_port = htons(atoi(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "churn"))
		return cmd_churn(&sin, argv[4], atol(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "keep"))
		return cmd_keep(&sin);
usage:
	fprintf(stderr, "usage: mu_handover churn ADDR PORT STOPFILE MAX | keep ADDR PORT\n");
	return 2;
}
