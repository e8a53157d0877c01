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
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/mptcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mptcp_upgrade.h"
#include "upgrade.skel.h"

#include "testutil.h"

#define TCX_INGRESS ((enum bpf_attach_type)46)
#define TCX_EGRESS ((enum bpf_attach_type)47)
#define WAIT_MS 5000

static int tests, failures;

__attribute__((format(printf, 2, 3)))
static void tap(bool pass, const char *fmt, ...)
{
	va_list ap;

	tests++;
	failures += !pass;
	printf("%sok %d - ", pass ? "" : "not ", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}


/* 1 MPTCP, 0 fell back or plain TCP. */
static int negotiated_mptcp(int fd)
{
	struct mptcp_info info = {};
	socklen_t len = sizeof(info);

	if (protocol_of(fd) != IPPROTO_MPTCP ||
	    getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len))
		return 0;
	return !(info.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK);
}

static socklen_t loopback(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	return sizeof(struct sockaddr_in6);
}

/* The attachment the marked sockets belong to, as engine_attach registers one. */
#define TEST_CGROUP_ID	4242
#define TEST_GEN	7

/* Mark @fd as the engine marks a socket it upgraded under a strict attachment. */
static int mark(int map_fd, int fd, __u32 bind_entry, __u32 connect_entry)
{
	struct mu_sock_state st = {
		.cgroup_id = TEST_CGROUP_ID, .flags = MU_SOCK_UPGRADED | MU_SOCK_STRICT,
		.bind_entry = bind_entry, .connect_entry = connect_entry,
		.bind_gen = TEST_GEN, .connect_gen = TEST_GEN,
	};

	return bpf_map_update_elem(map_fd, &fd, &st, BPF_NOEXIST);
}

/* Register the test attachment (slot 0, strict) with an empty policy, or remove it. */
static int register_attachment(struct upgrade_bpf *skel, bool on)
{
	struct mu_attachment att = { .id = 0, .families = MU_FAMILY_INET | MU_FAMILY_INET6,
				     .flags = MU_ATTACH_STRICT, .gen = TEST_GEN };
	__u64 cgid = TEST_CGROUP_ID;

	if (!on)
		return bpf_map__delete_elem(skel->maps.attached_cgroups, &cgid, sizeof(cgid), 0);
	return bpf_map__update_elem(skel->maps.attached_cgroups, &cgid, sizeof(cgid), &att,
				    sizeof(att), BPF_ANY);
}

/*
 * Swap in a policy for slot 0, as reload does: empty, or one entry (index 0)
 * for @port on the IPv4 and IPv6 loopback addresses in @roles.
 */
static int set_policy(struct upgrade_bpf *skel, int port, __u8 roles)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct mu_policy_value val = { .nr_ranges = 1 };
	struct mu_lpm_key k4 = { .prefixlen = MU_LPM_FAMILY_BITS + 32, .family = AF_INET };
	struct mu_lpm_key k6 = { .prefixlen = MU_LPM_FAMILY_BITS + 128, .family = AF_INET6 };
	__u32 slot = 0, lo4 = htonl(INADDR_LOOPBACK);
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "test_policy", sizeof(struct mu_lpm_key),
			    sizeof(struct mu_policy_value), 64, &opts);
	if (fd < 0)
		return -1;
	val.ranges[0] = (struct mu_port_range){ .port_min = port, .port_max = port,
						.roles = roles, .entry = 0 };
	memcpy(k4.addr, &lo4, 4);
	memcpy(k6.addr, &in6addr_loopback, 16);
	ret = port && (bpf_map_update_elem(fd, &k4, &val, BPF_ANY) ||
		       bpf_map_update_elem(fd, &k6, &val, BPF_ANY));
	if (!ret)
		ret = bpf_map__update_elem(skel->maps.policies, &slot, sizeof(slot), &fd,
					   sizeof(fd), BPF_ANY);
	close(fd);
	return ret;
}

struct conn_result {
	bool ok;		/* connected, and the data came back */
	int client_mptcp;
	int accepted_proto;
	int server_mptcp;
};

/*
 * One connection over lo: a listener and a client, each MPTCP by their own
 * choice, either marked as an unlisted socket of ours before listen()/connect().
 */
static struct conn_result one_connection(int map_fd, int family, int port, bool mark_listener,
					 bool mark_client)
{
	struct conn_result r = { .accepted_proto = -1 };
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int l = socket(family, SOCK_STREAM, IPPROTO_MPTCP), c = -1, a = -1, one = 1;
	char buf[16];
	struct pollfd p;

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len))
		goto out;
	if (mark_listener && mark(map_fd, l, MU_ENTRY_UNLISTED, MU_ENTRY_NONE))
		goto out;
	if (listen(l, 4))
		goto out;
	c = socket(family, SOCK_STREAM, IPPROTO_MPTCP);
	if (c < 0 || (mark_client && mark(map_fd, c, MU_ENTRY_NONE, MU_ENTRY_UNLISTED)))
		goto out;
	if (connect(c, (struct sockaddr *)&ss, len))
		goto out;
	p = (struct pollfd){ .fd = l, .events = POLLIN };
	if (poll(&p, 1, WAIT_MS) != 1)
		goto out;
	a = accept(l, NULL, NULL);
	if (a < 0 || write(c, "ping", 4) != 4)
		goto out;
	p = (struct pollfd){ .fd = a, .events = POLLIN };
	if (poll(&p, 1, WAIT_MS) != 1 || read(a, buf, sizeof(buf)) != 4 || write(a, buf, 4) != 4)
		goto out;
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, WAIT_MS) != 1 || read(c, buf, sizeof(buf)) != 4 || memcmp(buf, "ping", 4))
		goto out;
	r.ok = true;
	r.client_mptcp = negotiated_mptcp(c);
	r.accepted_proto = protocol_of(a);
	r.server_mptcp = negotiated_mptcp(a);
out:
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return r;
}

static int enter_private_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		return -1;
	close(fd);
	return 0;
}

static struct upgrade_bpf *load_tc_programs(void)
{
	struct upgrade_bpf *skel = upgrade_bpf__open();
	struct bpf_program *prog;

	if (!skel)
		return NULL;
	/*
	 * Everything but the tracing programs (the socket-creation hook and the
	 * socket iterator), which this kernel may refuse.
	 */
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog != skel->progs.mu_upgrade_socket &&
					  prog != skel->progs.mu_live_sockets);
	if (upgrade_bpf__load(skel)) {
		upgrade_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* tcx links of both programs on lo; -1 when the kernel has no tcx. */
static int attach_tcx(struct upgrade_bpf *skel, int links[2])
{
	int lo = if_nametoindex("lo");

	links[0] = bpf_link_create(bpf_program__fd(skel->progs.mu_tc_ingress), lo, TCX_INGRESS,
				   NULL);
	links[1] = bpf_link_create(bpf_program__fd(skel->progs.mu_tc_egress), lo, TCX_EGRESS,
				   NULL);
	return links[0] < 0 || links[1] < 0 ? -1 : 0;
}

static void detach_tcx(int links[2])
{
	if (links[0] >= 0)
		close(links[0]);
	if (links[1] >= 0)
		close(links[1]);
	links[0] = links[1] = -1;
}

static __u64 attach_counter(struct upgrade_bpf *skel, enum mu_attach_counter idx)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct mu_attach_counters *v = calloc(ncpu, sizeof(*v));
	__u32 key = 0;
	__u64 sum = 0;

	if (v && !bpf_map__lookup_elem(skel->maps.attach_counters, &key, sizeof(key), v,
				       ncpu * sizeof(*v), 0))
		for (i = 0; i < ncpu; i++)
			sum += v[i].count[idx];
	free(v);
	return sum;
}

static int run_tests(struct upgrade_bpf *skel)
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



static int run_bench(struct upgrade_bpf *skel)
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
	struct upgrade_bpf *skel;
	int links[2] = { -1, -1 }, ret;

	if (geteuid()) {
		printf("1..0 # SKIP needs root to load BPF and make a network namespace\n");
		return 0;
	}
	if (enter_private_netns()) {
		printf("1..0 # SKIP can't make a network namespace: %s\n", strerror(errno));
		return 0;
	}
	skel = load_tc_programs();
	if (!skel) {
		printf("Bail out! the engine's tc and cgroup programs don't load here: %s\n",
		       strerror(errno));
		return 1;
	}
	if (bench) {
		ret = run_bench(skel);
		upgrade_bpf__destroy(skel);
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
	detach_tcx(links);
	upgrade_bpf__destroy(skel);
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
