/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the host tests of stage 3 share: the engine's tc programs, loaded from
 * their own object (bpf/stage3_tc.bpf.c) on maps of its own, a test attachment
 * registered as engine_attach registers one, policies swapped in as reload
 * swaps them, and MPTCP sockets marked from userspace as cgroup/sock_create
 * and bind/connect mark the upgraded ones. Prints TAP.
 */
#ifndef MU_TC_HARNESS_H
#define MU_TC_HARNESS_H

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/mptcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mptcp_upgrade.h"
#include "stage3_tc.skel.h"

#include "testutil.h"

#define TCX_INGRESS ((enum bpf_attach_type)46)
#define TCX_EGRESS ((enum bpf_attach_type)47)
#define WAIT_MS 5000

static int tests, failures;	/* one harness per test program */

__attribute__((format(printf, 2, 3)))
static inline void tap(bool pass, const char *fmt, ...)
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
static inline int negotiated_mptcp(int fd)
{
	struct mptcp_info info = {};
	socklen_t len = sizeof(info);

	if (protocol_of(fd) != IPPROTO_MPTCP ||
	    getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len))
		return 0;
	return !(info.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK);
}

static inline socklen_t loopback(int family, int port, struct sockaddr_storage *ss)
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
static inline int mark(int map_fd, int fd, __u32 bind_entry, __u32 connect_entry)
{
	struct mu_sock_state st = {
		.cgroup_id = TEST_CGROUP_ID, .flags = MU_SOCK_UPGRADED | MU_SOCK_STRICT,
		.bind_entry = bind_entry, .connect_entry = connect_entry,
		.bind_gen = TEST_GEN, .connect_gen = TEST_GEN,
	};

	return bpf_map_update_elem(map_fd, &fd, &st, BPF_NOEXIST);
}

/* Register the test attachment (slot 0, strict) with an empty policy, or remove it. */
static inline int register_attachment(struct stage3_tc_bpf *skel, bool on)
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
static inline int set_policy(struct stage3_tc_bpf *skel, int port, __u8 roles)
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
 * Connect @c to @sa, accept it on the listener @l, echo 4 bytes, and report
 * what each end sees. Closes @c and the accepted socket.
 */
static inline struct conn_result connect_through(int l, int c, const struct sockaddr *sa,
						 socklen_t len)
{
	struct conn_result r = { .accepted_proto = -1 };
	struct pollfd p;
	char buf[16];
	int a = -1;

	if (c < 0 || connect(c, sa, len))
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
	return r;
}

/* An MPTCP listener on loopback @port, marked as an unlisted one of ours if asked. */
static inline int mptcp_listener(int map_fd, int family, int port, bool marked)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int l = socket(family, SOCK_STREAM, IPPROTO_MPTCP), one = 1;

	if (l < 0)
		return -1;
	if (setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len) ||
	    (marked && mark(map_fd, l, MU_ENTRY_UNLISTED, MU_ENTRY_NONE)) || listen(l, 16)) {
		close(l);
		return -1;
	}
	return l;
}

/*
 * One connection over lo: a listener and a client, each MPTCP by their own
 * choice, either marked as an unlisted socket of ours before listen()/connect().
 */
static inline struct conn_result one_connection(int map_fd, int family, int port,
						bool mark_listener,
					 bool mark_client)
{
	struct conn_result r = { .accepted_proto = -1 };
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int l = mptcp_listener(map_fd, family, port, mark_listener), c;

	if (l < 0)
		return r;
	c = socket(family, SOCK_STREAM, IPPROTO_MPTCP);
	if (c >= 0 && mark_client && mark(map_fd, c, MU_ENTRY_NONE, MU_ENTRY_UNLISTED)) {
		close(c);
		c = -1;
	}
	r = connect_through(l, c, (struct sockaddr *)&ss, len);
	close(l);
	return r;
}

static inline int enter_private_netns(void)
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

/* tcx links of both programs on @ifindex; -1 when the kernel has no tcx. */
static inline int attach_tcx_to(struct stage3_tc_bpf *skel, int ifindex, int links[2])
{
	int lo = ifindex;

	links[0] = bpf_link_create(bpf_program__fd(skel->progs.mu_tc_ingress), lo, TCX_INGRESS,
				   NULL);
	links[1] = bpf_link_create(bpf_program__fd(skel->progs.mu_tc_egress), lo, TCX_EGRESS,
				   NULL);
	return links[0] < 0 || links[1] < 0 ? -1 : 0;
}

static inline void detach_tcx(int links[2])
{
	if (links[0] >= 0)
		close(links[0]);
	if (links[1] >= 0)
		close(links[1]);
	links[0] = links[1] = -1;
}

static inline __u64 attach_counter(struct stage3_tc_bpf *skel, enum mu_attach_counter idx)
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

static inline int attach_tcx(struct stage3_tc_bpf *skel, int links[2])
{
	return attach_tcx_to(skel, if_nametoindex("lo"), links);
}

/*
 * Root, a private network namespace with lo up, and the programs loaded; NULL
 * with *@exit_code set (0 after a SKIP line, 1 after a Bail out! line) if not.
 */
static inline struct stage3_tc_bpf *harness_start(int *exit_code)
{
	struct stage3_tc_bpf *skel;

	*exit_code = 0;
	if (geteuid()) {
		printf("1..0 # SKIP needs root to load BPF and make network namespaces\n");
		return NULL;
	}
	if (enter_private_netns()) {
		printf("1..0 # SKIP can't make a network namespace: %s\n", strerror(errno));
		return NULL;
	}
	skel = stage3_tc_bpf__open_and_load();
	if (!skel) {
		printf("Bail out! the engine's tc programs don't load here: %s\n",
		       strerror(errno));
		*exit_code = 1;
	}
	return skel;
}

#endif /* MU_TC_HARNESS_H */
