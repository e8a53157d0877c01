// SPDX-License-Identifier: GPL-2.0-only
/*
 * mu_sock: the socket calls the end-to-end tests observe, each printing what the
 * kernel says about the socket (SO_PROTOCOL, MPTCP_INFO) as key=value words.
 *
 *   mu_sock proto 4|6                socket(AF, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)
 *   mu_sock native 4|6               socket(AF, SOCK_STREAM, IPPROTO_MPTCP)
 *   mu_sock stale-note               in one thread: net.mptcp.enabled=0, socket(AF_INET,
 *                                    SOCK_STREAM, 0) (fails once upgraded: the note stays),
 *                                    net.mptcp.enabled=1, socket(..., IPPROTO_MPTCP); prints
 *                                    "first=... second=proto=N"
 *   mu_sock serve ADDR PORT COUNT [mptcp]
 *                                    echo server for COUNT connections ("ready" when listening);
 *                                    an HTTP GET gets a 200 answer instead (a proxy's upstream)
 *   mu_sock connect ADDR PORT [mptcp] connect, echo a line, report the connection
 *   mu_sock connect-after FILE ADDR PORT
 *                                    the same once FILE exists (a test's trigger, up to 60 s):
 *                                    a call made at a moment the test chooses
 *   mu_sock sink ADDR PORT SECONDS [tcp|http]
 *                                    MPTCP echo server for any number of clients, for SECONDS
 *                                    (with tcp: socket(..., 0), for the engine to upgrade;
 *                                    with http: each request's head, to its empty line, gets
 *                                    "200 ok", the connection kept: a proxy's HTTP upstream)
 *   mu_sock hold ADDR PORT N SECONDS [BYTES [tcp]]
 *                                    N MPTCP connections, BYTES (64 KiB) echoed on each, then
 *                                    held open ("held N") until SECONDS have passed (with
 *                                    tcp: socket(..., 0), for the engine to upgrade)
 *
 *   mu_sock send ADDR PORT BYTES [mptcp [PATHS]]
 *                                    send BYTES of a fixed pseudo-random stream, print its
 *                                    checksum ("sent N fnv X"); with PATHS, append
 *                                    "ms interface tx-bytes" of this namespace's veths every
 *                                    100 ms (read in-process: no sampler to schedule)
 *   mu_sock recv ADDR PORT TIMELINE  receive one connection to its end, append "ms bytes"
 *                                    every 100 ms to TIMELINE, print "received N fnv X"
 *   mu_sock rate ADDR PORT N [mptcp] N short request/response connections, print "rate R/s"
 *   mu_sock keepalive ADDR PORT N [mptcp]
 *                                    one connection, N HTTP/1.1 GETs on it one after the other,
 *                                    each answer read whole (its head and Content-Length);
 *                                    print "rate R/s"
 *   mu_sock storm ADDR PORT N CLIENT_PORT
 *                                    N MPTCP clients one after the other, each sending an
 *                                    HTTP/1.0 request and reading to the server's close (so
 *                                    the server holds TIME_WAIT); with CLIENT_PORT (not 0)
 *                                    every one binds that port, reusing the pair. Prints
 *                                    "storm n=N mptcp=M fallback=F failed=X"
 *   mu_sock verified CGROUP_DIR      for each BPF program on the cgroup: "NAME verified=N",
 *                                    the instructions the verifier walked to load it
 *
 * Every wait is bounded (10 s for a peer mid-exchange, 10 min for a server's next
 * client), so a broken kernel fails a test instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"


#define WAIT_MS 10000		/* for a peer in the middle of an exchange */
#define ACCEPT_WAIT_MS 600000	/* for the next client of a server the test keeps */


static int family_of(const char *s)
{
	return !strcmp(s, "6") ? AF_INET6 : AF_INET;
}

static socklen_t make_addr(const char *ip, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(atoi(port));
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(port));
		return sizeof(*in6);
	}
	fprintf(stderr, "mu_sock: bad address %s\n", ip);
	exit(2);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, timeout_ms);

	if (r <= 0) {
		fprintf(stderr, "mu_sock: timed out\n");
		exit(3);
	}
	return 0;
}

/* "mptcp=yes|fallback|no subflows=N" for a connected socket. */
static void print_mptcp(int fd)
{
	struct mptcp_info info;
	socklen_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (protocol_of(fd) != IPPROTO_MPTCP) {
		printf(" mptcp=no");
		return;
	}
	if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len)) {
		/* The kernel answers EOPNOTSUPP for a socket that fell back to TCP. */
		printf(" mptcp=fallback");
		return;
	}
	printf(" mptcp=%s subflows=%u", info.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK ?
	       "fallback" : "yes", info.mptcpi_subflows);
}

static int cmd_serve(const char *ip, const char *port, int count, bool mptcp)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, mptcp ? IPPROTO_MPTCP : 0), one = 1, i;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		perror("mu_sock serve");
		return 1;
	}
	printf("ready proto=%d\n", protocol_of(fd));
	fflush(stdout);
	for (i = 0; i < count; i++) {
		char buf[256];
		ssize_t n;
		int c;

		wait_fd(fd, POLLIN, ACCEPT_WAIT_MS);
		c = accept(fd, NULL, NULL);
		if (c < 0) {
			perror("mu_sock accept");
			return 1;
		}
		printf("accepted proto=%d", protocol_of(c));
		wait_fd(c, POLLIN, WAIT_MS);
		n = read(c, buf, sizeof(buf));
		if (n > 4 && !memcmp(buf, "GET ", 4)) {
			/* A proxy's HTTP request (nginx upstream): an HTTP answer, not an echo. */
			static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n"
						 "Connection: close\r\n\r\nok\n";

			if (write(c, ok, sizeof(ok) - 1) != sizeof(ok) - 1)
				n = -1;
		} else if (n > 0 && write(c, buf, n) != n) {
			n = -1;
		}
		printf(" echoed=%zd", n);
		print_mptcp(c);
		printf("\n");
		fflush(stdout);
		close(c);
	}
	close(fd);
	return 0;
}

static int cmd_connect(const char *ip, const char *port, bool mptcp)
{
	static const char msg[] = "ping\n";
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, mptcp ? IPPROTO_MPTCP : 0);
	char buf[64];
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		printf("connect=failed errno=%d\n", errno);
		return 1;
	}
	if (write(fd, msg, sizeof(msg) - 1) != sizeof(msg) - 1) {
		printf("connect=ok write=failed\n");
		return 1;
	}
	wait_fd(fd, POLLIN, WAIT_MS);
	n = read(fd, buf, sizeof(buf));
	printf("connect=ok proto=%d echo=%s", protocol_of(fd),
	       n == sizeof(msg) - 1 && !memcmp(buf, msg, n) ? "ok" : "bad");
	print_mptcp(fd);
	printf("\n");
	close(fd);
	return 0;
}

/* connect-after: FILE is the test's go; polled, as a process in a container can be told no other way. */
static int cmd_connect_after(const char *file, const char *ip, const char *port)
{
	int i;

	for (i = 0; i < 6000 && access(file, F_OK); i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (access(file, F_OK)) {
		printf("connect=failed no-trigger\n");
		return 1;
	}
	return cmd_connect(ip, port, false);
}

/* The stream send writes and recv checks: the same bytes for the same offsets. */
static void fill_stream(unsigned char *buf, size_t len, unsigned long long off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned long long x = (off + i) * 0x9E3779B97F4A7C15ULL;

		buf[i] = (unsigned char)(x >> 56);
	}
}

static unsigned long long fnv1a(unsigned long long h, const unsigned char *p, size_t len)
{
	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "ms interface tx-bytes" for every veth-looking interface (v*) of this namespace. */
static void log_paths(FILE *f, double ms)
{
	FILE *dev = fopen("/proc/self/net/dev", "re");
	char line[512], name[64];
	unsigned long long v[16];

	while (dev && fgets(line, sizeof(line), dev)) {
		if (sscanf(line, " %63[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu", name,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 10 &&
		    name[0] == 'v')
			fprintf(f, "%.0f %s %llu\n", ms, name, v[8]);
	}
	if (dev)
		fclose(dev);
}

struct path_logger {
	FILE *f;
	double t0;
	volatile bool done;
};

/* Its own thread: a writer blocked on a full socket must not stop the samples. */
static void *path_logger_run(void *arg)
{
	struct path_logger *pl = arg;
	double next = pl->t0;

	while (!pl->done) {
		log_paths(pl->f, next - pl->t0);
		next += 100;
		while (!pl->done && mono_ms() < next)
			usleep(5000);
	}
	return NULL;
}

static int cmd_send(const char *ip, const char *port, unsigned long long bytes, bool mptcp,
		    const char *paths)
{
	struct path_logger pl = { .f = paths ? fopen(paths, "w") : NULL, .t0 = mono_ms() };
	pthread_t logger;
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, mptcp ? IPPROTO_MPTCP : 0);
	unsigned long long off = 0, h = 0xcbf29ce484222325ULL;
	static unsigned char buf[65536];

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		printf("connect=failed errno=%d\n", errno);
		return 1;
	}
	if (pl.f)
		pthread_create(&logger, NULL, path_logger_run, &pl);
	while (off < bytes) {
		size_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);
		ssize_t w;

		fill_stream(buf, n, off);
		w = write(fd, buf, n);
		if (w <= 0) {
			printf("write failed at %llu errno=%d\n", off, errno);
			return 1;
		}
		h = fnv1a(h, buf, w);
		off += w;
	}
	shutdown(fd, SHUT_WR);
	/* Wait for the receiver to close: everything arrived. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (pl.f) {
		pl.done = true;
		pthread_join(logger, NULL);
		log_paths(pl.f, mono_ms() - pl.t0);
		fclose(pl.f);
	}
	printf("sent %llu fnv %016llx\n", off, h);
	close(fd);
	return 0;
}

static int cmd_recv(const char *ip, const char *port, const char *timeline)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int l = socket(ss.ss_family, SOCK_STREAM, 0), one = 1, c;
	unsigned long long total = 0, h = 0xcbf29ce484222325ULL;
	static unsigned char buf[65536];
	FILE *tl = fopen(timeline, "w");
	double t0, next;

	if (!tl || l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len) || listen(l, 4)) {
		perror("mu_sock recv");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	wait_fd(l, POLLIN, ACCEPT_WAIT_MS);
	c = accept(l, NULL, NULL);
	t0 = mono_ms();
	next = t0 + 100;
	for (;;) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		double now;
		ssize_t n = 0;

		if (poll(&p, 1, 100) > 0) {
			n = read(c, buf, sizeof(buf));
			if (n <= 0)
				break;
			h = fnv1a(h, buf, n);
			total += n;
		}
		for (now = mono_ms(); now >= next; next += 100)
			fprintf(tl, "%.0f %llu\n", next - t0, total);
		if (now - t0 > ACCEPT_WAIT_MS)
			break;
	}
	fprintf(tl, "%.0f %llu\n", mono_ms() - t0, total);
	fclose(tl);
	close(c);
	printf("received %llu fnv %016llx\n", total, h);
	return 0;
}

static int cmd_rate(const char *ip, const char *port, int n, bool mptcp)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	double t0 = mono_ms();
	char buf[64];
	int i;

	for (i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, mptcp ? IPPROTO_MPTCP : 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) || write(fd, "req\n", 4) != 4) {
			printf("rate failed at %d errno=%d\n", i, errno);
			return 1;
		}
		wait_fd(fd, POLLIN, WAIT_MS);
		if (read(fd, buf, sizeof(buf)) <= 0) {
			printf("rate failed at %d: no answer\n", i);
			return 1;
		}
		close(fd);
	}
	printf("rate %.1f/s\n", n * 1000.0 / (mono_ms() - t0));
	return 0;
}

/* The end of an HTTP head in @buf (its @len bytes), or NULL. */
static const char *head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 3; i < len; i++)
		if (!memcmp(buf + i - 3, "\r\n\r\n", 4))
			return buf + i + 1;
	return NULL;
}

/* The Content-Length of the head @buf (to @end), 0 if none. */
static long content_length(const char *buf, const char *end)
{
	static const char name[] = "\ncontent-length:";
	const char *p;

	for (p = buf; p + sizeof(name) - 1 < end; p++)
		if (!strncasecmp(p, name, sizeof(name) - 1))
			return strtol(p + sizeof(name) - 1, NULL, 10);
	return 0;
}

static int cmd_keepalive(const char *ip, const char *port, int n, bool mptcp)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, mptcp ? IPPROTO_MPTCP : 0), i;
	double t0 = mono_ms();
	char buf[8192];

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		printf("rate failed: can't connect: errno=%d\n", errno);
		return 1;
	}
	for (i = 0; i < n; i++) {
		size_t got = 0;
		const char *end = NULL;
		long body = 0;
		ssize_t r;

		if (write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
			printf("rate failed at %d errno=%d\n", i, errno);
			return 1;
		}
		/* The head, then what Content-Length says is left (one answer at a time). */
		while (!end || got < (size_t)(end - buf) + body) {
			wait_fd(fd, POLLIN, WAIT_MS);	/* exits on a timeout */
			if ((r = read(fd, buf + got, sizeof(buf) - got)) <= 0 ||
			    (got += r) == sizeof(buf)) {
				printf("rate failed at %d: no whole answer\n", i);
				return 1;
			}
			if (!end && (end = head_end(buf, got))) {
				if (strncmp(buf, "HTTP/1.1 200", 12)) {
					printf("rate failed at %d: %.12s\n", i, buf);
					return 1;
				}
				body = content_length(buf, end);
			}
		}
	}
	printf("rate %.1f/s\n", n * 1000.0 / (mono_ms() - t0));
	close(fd);
	return 0;
}

/* Did the connection of @fd negotiate MPTCP (and not fall back)? */
static bool negotiated(int fd)
{
	struct mptcp_info info = {};
	socklen_t len = sizeof(info);

	return protocol_of(fd) == IPPROTO_MPTCP &&
	       !getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) &&
	       !(info.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK);
}

/* bind() @port once the previous connection of this client has let go of it. */
static int bind_port_again(int fd, int family, int port)
{
	struct sockaddr_storage ss = { .ss_family = family };
	int one = 1, i;

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	for (i = 0; i < 500; i++) {
		if (!bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
			  sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
			return 0;
		if (errno != EADDRINUSE)
			return -1;
		poll(NULL, 0, 10);	/* our last ACK of the previous connection is in flight */
	}
	return -1;
}

static int cmd_storm(const char *ip, const char *port, int n, int client_port)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int i, mptcp = 0, fallback = 0, failed = 0;
	char buf[4096];

	for (i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, IPPROTO_MPTCP), got = 0;
		ssize_t r;

		if (fd < 0 || (client_port && bind_port_again(fd, ss.ss_family, client_port)) ||
		    connect(fd, (struct sockaddr *)&ss, len) ||
		    write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
			failed++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		/* To the server's close: it closes first, and keeps TIME_WAIT. */
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, WAIT_MS) != 1 || (r = read(fd, buf, sizeof(buf))) <= 0)
				break;
			got += r;
		}
		if (!got)
			failed++;
		else if (negotiated(fd))
			mptcp++;
		else
			fallback++;
		close(fd);
	}
	printf("storm n=%d mptcp=%d fallback=%d failed=%d\n", n, mptcp, fallback, failed);
	return 0;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* An HTTP upstream's answer to every request head in @buf (@n bytes from a peer). */
static bool answer_heads(int fd, const char *buf, ssize_t n)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	const char *p = buf, *end;

	/* A head split across reads would go unanswered: these are 35-byte GETs. */
	while ((end = head_end(p, buf + n - p))) {
		if (write(fd, ok, sizeof(ok) - 1) != sizeof(ok) - 1)
			return false;
		p = end;
	}
	return true;
}

static int cmd_sink(const char *ip, const char *port, int seconds, bool tcp, bool http)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int l = socket(ss.ss_family, SOCK_STREAM, tcp ? 0 : IPPROTO_MPTCP), one = 1;
	time_t end = time(NULL) + seconds;
	struct pollfd *fds;
	size_t nfds = 1, cap = 1024, i;
	char buf[65536];

	raise_fd_limit();
	fds = calloc(cap, sizeof(*fds));
	if (!fds || l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len) || listen(l, 4096)) {
		perror("mu_sock sink");
		return 1;
	}
	printf("ready proto=%d\n", protocol_of(l));
	fflush(stdout);
	fds[0] = (struct pollfd){ .fd = l, .events = POLLIN };
	while (time(NULL) < end) {
		if (poll(fds, nfds, 1000) <= 0)
			continue;
		for (i = nfds; i-- > 1; ) {
			ssize_t n;

			if (!fds[i].revents)
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			if (n > 0 && (http ? answer_heads(fds[i].fd, buf, n) :
					     write(fds[i].fd, buf, n) == n))
				continue;
			close(fds[i].fd);
			fds[i] = fds[--nfds];
		}
		if (fds[0].revents & POLLIN) {
			int c = accept(l, NULL, NULL);

			if (c >= 0 && nfds == cap) {
				struct pollfd *g = realloc(fds, 2 * cap * sizeof(*fds));

				if (!g) {
					close(c);
					continue;
				}
				fds = g;
				cap *= 2;
			}
			if (c >= 0)
				fds[nfds++] = (struct pollfd){ .fd = c, .events = POLLIN };
		}
	}
	return 0;
}

/* Echo @size bytes through @fd and back. */
static int exchange(int fd, size_t size)
{
	static char out[65536], in[65536];
	size_t got = 0;

	if (write(fd, out, size) != (ssize_t)size)
		return -1;
	while (got < size) {
		ssize_t n;

		wait_fd(fd, POLLIN, WAIT_MS);
		n = read(fd, in, sizeof(in));
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int cmd_hold(const char *ip, const char *port, long n, int seconds, size_t bytes,
		    bool tcp)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	time_t end = time(NULL) + seconds;
	long i;

	raise_fd_limit();
	for (i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, tcp ? 0 : IPPROTO_MPTCP);

		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) || exchange(fd, bytes)) {
			printf("held %ld failed errno=%d\n", i, errno);
			return 1;
		}
	}
	printf("held %ld\n", n);
	fflush(stdout);
	while (time(NULL) < end)
		sleep(1);
	return 0;
}

static int set_mptcp_enabled(const char *v)
{
	FILE *f = fopen("/proc/sys/net/mptcp/enabled", "we");
	int ret;

	if (!f)
		return -1;
	ret = fputs(v, f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/*
 * A socket() that failed after the upgrade leaves this thread's note waiting;
 * the thread's next socket, one it asks MPTCP for itself, must not take it.
 */
static int cmd_stale_note(void)
{
	int fd, err;

	if (set_mptcp_enabled("0"))
		return perror("net.mptcp.enabled"), 1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	err = errno;
	if (set_mptcp_enabled("1"))
		return perror("net.mptcp.enabled"), 1;
	if (fd >= 0)
		printf("first=proto=%d ", protocol_of(fd));
	else
		printf("first=failed errno=%d ", err);
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (fd < 0)
		printf("second=failed errno=%d\n", errno);
	else
		printf("second=proto=%d\n", protocol_of(fd));
	return 0;
}

/*
 * What the verifier walked to load each program on a cgroup (5.16+; bpftool
 * prints it only from v7.2, and Debian 12 ships 7.1): a program whose paths
 * the verifier can't merge takes it far past its own size, and its load as long.
 */
static int print_verified(__u32 id)
{
	struct bpf_prog_info info = {};
	union bpf_attr a = {};
	int fd, ret = 0;

	a.prog_id = id;
	fd = syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &a, sizeof(a));
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = fd;
	a.info.info_len = sizeof(info);
	a.info.info = (unsigned long)&info;
	if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)))
		ret = -1;
	else
		printf("%s verified=%u\n", info.name, info.verified_insns);
	close(fd);
	return ret;
}

static int cmd_verified(const char *cgroup)
{
	static const enum bpf_attach_type types[] = {
		BPF_CGROUP_SETSOCKOPT, BPF_CGROUP_GETSOCKOPT, BPF_CGROUP_SOCK_OPS,
		BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT,
		BPF_CGROUP_INET4_BIND, BPF_CGROUP_INET6_BIND, BPF_CGROUP_INET_SOCK_CREATE,
	};
	int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	size_t t;

	if (cg < 0)
		return perror(cgroup), 1;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		__u32 ids[64], i;
		union bpf_attr a = {};

		a.query.target_fd = cg;
		a.query.attach_type = types[t];
		a.query.prog_ids = (unsigned long)ids;
		a.query.prog_cnt = 64;
		if (syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof(a)))
			continue;	/* a type this kernel doesn't know */
		for (i = 0; i < a.query.prog_cnt; i++)
			if (!print_verified(ids[i]))
				n++;
	}
	close(cg);
	return n ? 0 : 1;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc == 3 && (!strcmp(argv[1], "proto") || !strcmp(argv[1], "native"))) {
		bool native = !strcmp(argv[1], "native");

		fd = native ? socket(family_of(argv[2]), SOCK_STREAM, IPPROTO_MPTCP)
			    : socket(family_of(argv[2]), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				     0);
		if (fd < 0) {
			printf("socket=failed errno=%d\n", errno);
			return 1;
		}
		printf("proto=%d\n", protocol_of(fd));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "verified"))
		return cmd_verified(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "stale-note"))
		return cmd_stale_note();
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "serve"))
		return cmd_serve(argv[2], argv[3], atoi(argv[4]), argc == 6 && !strcmp(argv[5], "mptcp"));
	if (argc == 5 && !strcmp(argv[1], "connect-after"))
		return cmd_connect_after(argv[2], argv[3], argv[4]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "connect"))
		return cmd_connect(argv[2], argv[3], argc == 5 && !strcmp(argv[4], "mptcp"));
	if (argc >= 5 && argc <= 7 && !strcmp(argv[1], "send"))
		return cmd_send(argv[2], argv[3], strtoull(argv[4], NULL, 10),
				argc >= 6 && !strcmp(argv[5], "mptcp"), argc == 7 ? argv[6] : NULL);
	if (argc == 5 && !strcmp(argv[1], "recv"))
		return cmd_recv(argv[2], argv[3], argv[4]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "rate"))
		return cmd_rate(argv[2], argv[3], atoi(argv[4]), argc == 6 && !strcmp(argv[5], "mptcp"));
	if (argc == 6 && !strcmp(argv[1], "storm"))
		return cmd_storm(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "sink"))
		return cmd_sink(argv[2], argv[3], atoi(argv[4]), argc == 6 && !strcmp(argv[5], "tcp"),
				argc == 6 && !strcmp(argv[5], "http"));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "keepalive"))
		return cmd_keepalive(argv[2], argv[3], atoi(argv[4]),
				     argc == 6 && !strcmp(argv[5], "mptcp"));
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "hold"))
		return cmd_hold(argv[2], argv[3], atol(argv[4]), atoi(argv[5]),
				argc >= 7 && atol(argv[6]) > 0 && atol(argv[6]) <= 65536 ?
				(size_t)atol(argv[6]) : 65536, argc == 8 && !strcmp(argv[7], "tcp"));
	fprintf(stderr, "usage: see the comment at the top of mu_sock.c\n");
	return 2;
}
