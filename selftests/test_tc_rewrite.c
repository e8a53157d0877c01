// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stage 3's packet rewrite on this kernel, without the socket-creation hook:
 * the engine's tcx programs on lo of a network namespace of our own, and MPTCP
 * sockets marked from userspace exactly as cgroup/sock_create and bind/connect
 * mark the upgraded ones (socket-local storage, written through the socket's
 * fd). Asserts what the peers see: SO_PROTOCOL of accepted sockets, MPTCP_INFO
 * of connections, data echoed back. Prints TAP.
 *
 * test_tc_rewrite           the tests
 * test_tc_rewrite bench     loopback throughput and connection rate, tcx on vs off
 */
#include <pthread.h>
#include <time.h>

#include "tc_harness.h"

static int run_tests(struct stage3_tc_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.sock_states), family, port = 7000, f;
	static const int families[] = { AF_INET, AF_INET6 };
	struct conn_result r;

	for (f = 0; f < 2; f++) {
		const char *v = families[f] == AF_INET ? "IPv4" : "IPv6";
		__u64 in0, out0;

		family = families[f];
		r = one_connection(map_fd, family, port++, false, false);
		tap(r.ok && r.client_mptcp && r.accepted_proto == IPPROTO_MPTCP && r.server_mptcp,
		    "%s: unmarked sockets negotiate MPTCP through the tc programs", v);

		in0 = attach_counter(skel, MU_CNT_KEPT_TCP_IN);
		r = one_connection(map_fd, family, port++, true, false);
		tap(r.ok && !r.client_mptcp && r.accepted_proto == IPPROTO_TCP,
		    "%s: an unlisted listener of ours accepts a plain TCP socket (SO_PROTOCOL %d), "
		    "the MPTCP client falls back, data flows", v, r.accepted_proto);
		tap(attach_counter(skel, MU_CNT_KEPT_TCP_IN) == in0 + 1,
		    "%s: the incoming connection kept TCP is counted", v);

		out0 = attach_counter(skel, MU_CNT_KEPT_TCP_OUT);
		r = one_connection(map_fd, family, port++, false, true);
		tap(r.ok && !r.client_mptcp && r.accepted_proto == IPPROTO_TCP,
		    "%s: an unlisted connection of ours reaches an MPTCP server as plain TCP "
		    "(SO_PROTOCOL %d), data flows", v, r.accepted_proto);
		tap(attach_counter(skel, MU_CNT_KEPT_TCP_OUT) == out0 + 1,
		    "%s: the outgoing connection kept TCP is counted", v);
	}
	return 0;
}

/* The listener's state as the engine keeps it; false when it has none. */
static bool listener_state(struct stage3_tc_bpf *skel, int l, struct mu_sock_state *st)
{
	return !bpf_map__lookup_elem(skel->maps.sock_states, &l, sizeof(l), st, sizeof(*st), 0);
}

/*
 * Reload with live listeners (reliability D1, review M2): a listener bound
 * before the reload follows the policy in force, both ways, and remembers the
 * entry and generation that admitted its connections.
 */
static void run_reload_tests(struct stage3_tc_bpf *skel, int port)
{
	int map_fd = bpf_map__fd(skel->maps.sock_states);
	int l = mptcp_listener(map_fd, AF_INET, port, true);
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	struct mu_sock_state st = {};
	struct conn_result r;

	r = connect_through(l, socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), (void *)&ss, len);
	tap(r.ok && r.accepted_proto == IPPROTO_TCP,
	    "reload: before, the unlisted listener keeps TCP (SO_PROTOCOL %d)", r.accepted_proto);
	set_policy(skel, port, MU_ROLE_BIND);
	r = connect_through(l, socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), (void *)&ss, len);
	tap(r.ok && r.client_mptcp && r.accepted_proto == IPPROTO_MPTCP && r.server_mptcp,
	    "reload: a bind line added for the existing listener takes effect at once "
	    "(SO_PROTOCOL %d, client MPTCP %d)", r.accepted_proto, r.client_mptcp);
	listener_state(skel, l, &st);
	tap(st.bind_entry == 1 && st.bind_gen == TEST_GEN,
	    "reload: the listener now names entry 1 of generation %u (entry %u, generation %u)",
	    TEST_GEN, st.bind_entry, st.bind_gen);
	set_policy(skel, port, MU_ROLE_CONNECT);
	r = connect_through(l, socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), (void *)&ss, len);
	tap(r.ok && !r.client_mptcp && r.accepted_proto == IPPROTO_TCP,
	    "reload: a server line for the same address does not list the listener "
	    "(SO_PROTOCOL %d)", r.accepted_proto);
	memset(&st, 0, sizeof(st));
	listener_state(skel, l, &st);
	tap(st.bind_entry == MU_ENTRY_UNLISTED,
	    "reload: the listener is unlisted again (entry %#x)", st.bind_entry);
	set_policy(skel, 0, 0);
	close(l);
}

/*
 * A socket whose attachment is gone (detached, or its slot reused) must not
 * widen what speaks MPTCP (proxies-in-use 4e): a listed listener and a listed
 * outgoing connection of a removed attachment are kept TCP.
 */
static void run_detach_tests(struct stage3_tc_bpf *skel, int port)
{
	int map_fd = bpf_map__fd(skel->maps.sock_states);
	int l = mptcp_listener(map_fd, AF_INET, port, true), u, c;
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	struct conn_result r;

	set_policy(skel, port, MU_ROLE_BOTH);
	r = connect_through(l, socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), (void *)&ss, len);
	tap(r.ok && r.accepted_proto == IPPROTO_MPTCP,
	    "detach: while attached, the listed listener speaks MPTCP (SO_PROTOCOL %d)",
	    r.accepted_proto);
	register_attachment(skel, false);
	r = connect_through(l, socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), (void *)&ss, len);
	tap(r.ok && !r.client_mptcp && r.accepted_proto == IPPROTO_TCP,
	    "detach: the listener of a detached attachment keeps TCP (SO_PROTOCOL %d)",
	    r.accepted_proto);
	close(l);

	u = mptcp_listener(map_fd, AF_INET, port, false);
	c = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (c >= 0 && mark(map_fd, c, MU_ENTRY_NONE, 1)) {
		close(c);
		c = -1;
	}
	r = connect_through(u, c, (void *)&ss, len);
	tap(r.ok && !r.client_mptcp && r.accepted_proto == IPPROTO_TCP,
	    "detach: a listed connection of a detached attachment arrives as TCP (SO_PROTOCOL %d)",
	    r.accepted_proto);
	close(u);
	register_attachment(skel, true);
	set_policy(skel, 0, 0);
}

/* Is there a TIME_WAIT socket with local port @port in this namespace (/proc/net/tcp)? */
static bool time_wait_on(int port)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	unsigned int lport, state;
	char line[512];
	bool found = false;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &state) == 2 &&
		    (int)lport == port && state == 0x06)
			found = true;
	if (f)
		fclose(f);
	return found;
}

/* bind() the client's fixed port once its previous connection has let go of it. */
static int bind_client_port(int c, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	int one = 1, i;

	setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	for (i = 0; i < 500; i++) {
		if (!bind(c, (struct sockaddr *)&ss, len))
			return 0;
		if (errno != EADDRINUSE)
			return -1;
		poll(NULL, 0, 10);	/* the last ACK of the previous round is in flight */
	}
	return -1;
}

/*
 * A SYN reusing a 4-tuple the server holds in TIME_WAIT (review M1,
 * proxies-in-use 2d): the server closes first, the client reuses its port,
 * and every round must reach the unlisted listener without MP_CAPABLE.
 */
static void run_time_wait_tests(struct stage3_tc_bpf *skel, int port, int client_port)
{
	int map_fd = bpf_map__fd(skel->maps.sock_states);
	int l = mptcp_listener(map_fd, AF_INET, port, true), round, plain = 0, tw = 0;
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	enum { ROUNDS = 6 };

	for (round = 0; round < ROUNDS; round++) {
		int c = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), a;
		struct pollfd p = { .fd = l, .events = POLLIN };
		char buf[8];

		if (c < 0 || bind_client_port(c, client_port))
			break;
		if (round > 0)
			tw += time_wait_on(port);
		if (connect(c, (struct sockaddr *)&ss, len) || poll(&p, 1, WAIT_MS) != 1) {
			close(c);
			break;
		}
		a = accept(l, NULL, NULL);
		plain += protocol_of(a) == IPPROTO_TCP;
		close(a);		/* the server closes first: it holds TIME_WAIT */
		p = (struct pollfd){ .fd = c, .events = POLLIN };
		if (poll(&p, 1, WAIT_MS) != 1 || read(c, buf, sizeof(buf)) != 0) {
			close(c);
			break;
		}
		close(c);
	}
	tap(tw == ROUNDS - 1, "TIME_WAIT: the server held the pair in TIME_WAIT before each "
	    "reuse (%d of %d)", tw, ROUNDS - 1);
	tap(plain == ROUNDS, "TIME_WAIT: every SYN that reused the pair reached the unlisted "
	    "listener as plain TCP (%d of %d)", plain, ROUNDS);
	close(l);
}

/* ---- bench ------------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct sink {
	int fd;
	size_t bytes;
};

static void *drain(void *arg)
{
	struct sink *s = arg;
	char buf[1 << 16];
	ssize_t n;

	while ((n = read(s->fd, buf, sizeof(buf))) > 0)
		s->bytes += n;
	return NULL;
}

/* MB/s of one TCP connection over lo sending @mb megabytes. */
static double throughput(int port, int mb)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	int l = socket(AF_INET, SOCK_STREAM, 0), c, one = 1, i;
	static char buf[1 << 16];
	struct sink s = {};
	pthread_t th;
	double t0, t1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 1))
		return -1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&ss, len))
		return -1;
	s.fd = accept(l, NULL, NULL);
	pthread_create(&th, NULL, drain, &s);
	t0 = now_s();
	for (i = 0; i < mb * 16; i++)
		if (write(c, buf, sizeof(buf)) != sizeof(buf))
			break;
	shutdown(c, SHUT_WR);
	pthread_join(th, NULL);
	t1 = now_s();
	close(c);
	close(s.fd);
	close(l);
	return s.bytes / (1 << 20) / (t1 - t0);
}

/* Connections per second: connect + accept + close, @n times. */
static double conn_rate(int port, int n)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, i;
	double t0;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 64))
		return -1;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), a;

		if (connect(c, (struct sockaddr *)&ss, len))
			return -1;
		a = accept(l, NULL, NULL);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		close(c);
		close(a);
	}
	close(l);
	return n / (now_s() - t0);
}



static int run_bench(struct stage3_tc_bpf *skel)
{
	enum { ROUNDS = 7 };
	double tp[2][ROUNDS], cr[2][ROUNDS];
	int links[2] = { -1, -1 }, r, on, port = 9000;

	for (r = 0; r < ROUNDS; r++) {
		for (on = 0; on < 2; on++) {
			if (on && attach_tcx(skel, links))
				return 1;
			tp[on][r] = throughput(port++, 512);
			cr[on][r] = conn_rate(port++, 2000);
			detach_tcx(links);
		}
	}
	printf("stage 3 tc programs on lo, this kernel, medians of %d rounds:\n", ROUNDS);
	printf("  TCP bulk throughput   off %8.0f MB/s   on %8.0f MB/s   on/off %.3f\n",
	       median(tp[0], ROUNDS), median(tp[1], ROUNDS),
	       median(tp[1], ROUNDS) / median(tp[0], ROUNDS));
	printf("  TCP connections       off %8.0f /s     on %8.0f /s     on/off %.3f\n",
	       median(cr[0], ROUNDS), median(cr[1], ROUNDS),
	       median(cr[1], ROUNDS) / median(cr[0], ROUNDS));
	return 0;
}

int main(int argc, char **argv)
{
	bool bench = argc > 1 && !strcmp(argv[1], "bench");
	struct stage3_tc_bpf *skel;
	int links[2] = { -1, -1 }, ret;

	skel = harness_start(&ret);
	if (!skel)
		return ret;
	if (bench) {
		ret = run_bench(skel);
		stage3_tc_bpf__destroy(skel);
		return ret;
	}
	if (attach_tcx(skel, links)) {
		printf("Bail out! can't attach tcx programs to lo: %s\n", strerror(errno));
		return 1;
	}
	if (register_attachment(skel, true) || set_policy(skel, 0, 0)) {
		printf("Bail out! can't register the test attachment: %s\n", strerror(errno));
		return 1;
	}
	run_tests(skel);
	run_reload_tests(skel, 7100);
	run_detach_tests(skel, 7101);
	run_time_wait_tests(skel, 7102, 40000);
	detach_tcx(links);
	stage3_tc_bpf__destroy(skel);
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
