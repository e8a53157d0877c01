// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stage 3 on the paths the loopback tests do not take.
 *
 * Crafted SYNs through BPF_PROG_TEST_RUN on the ingress program: IPv4 with
 * options, a header length below 5, MP_CAPABLE v1 (4 bytes) and v0 (12 bytes),
 * at even and odd offsets, IPv6. Each output frame is checked as a receiver
 * would: MP_CAPABLE gone, every other byte unchanged, TCP checksum valid.
 *
 * A router between two hosts (three network namespaces, veth, forwarding on)
 * with an unlisted wildcard listener of ours on the port (review C1): a
 * connection routed through it keeps MPTCP, one to the router itself is kept
 * TCP, with checksum offload off on the client so the router's stack checks
 * the rewritten checksum.
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "tc_harness.h"

#define FRAME_PORT	7300
#define ROUTED_PORT	7400

/* ---- crafted frames --------------------------------------------------------- */

static __u32 sum16(const __u8 *p, size_t len, __u32 sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The TCP checksum field that makes the segment valid; 0 for "check" means valid. */
static __u16 tcp_csum(const __u8 *l3, bool v6, const __u8 *tcp, size_t tcp_len, bool check)
{
	__u8 pseudo[40] = {};
	__u32 sum;

	if (v6) {
		memcpy(pseudo, l3 + 8, 32);
		sum = sum16(pseudo, 32, 0);
		sum += tcp_len + IPPROTO_TCP;
	} else {
		memcpy(pseudo, l3 + 12, 8);
		sum = sum16(pseudo, 8, 0);
		sum += tcp_len + IPPROTO_TCP;
	}
	sum = sum16(tcp, tcp_len, sum);
	return check ? (__u16)~fold(sum) : htons((__u16)~fold(sum));
}

struct frame {
	__u8 data[256];
	size_t len;
	size_t l3, l4, opt;	/* offsets of the headers and of MP_CAPABLE */
	size_t optlen;
	bool v6;
};

/*
 * Ethernet + IPv4 (with @ip_opts bytes of IP options) or IPv6 + a SYN to
 * loopback FRAME_PORT whose options are @pad NOPs, MP_CAPABLE of @mpc_len
 * bytes, and NOPs up to a multiple of 4.
 */
static void build_syn(struct frame *f, bool v6, int ip_opts, int ihl_override, int pad,
		      int mpc_len)
{
	__u8 *ip, *th, *o;
	size_t optlen = pad + mpc_len, tcp_len, i;

	memset(f, 0, sizeof(*f));
	optlen = (optlen + 3) & ~3UL;
	tcp_len = 20 + optlen;
	f->v6 = v6;
	f->l3 = 14;
	f->data[12] = v6 ? 0x86 : 0x08;
	f->data[13] = v6 ? 0xdd : 0x00;
	ip = f->data + f->l3;
	if (v6) {
		ip[0] = 0x60;
		ip[4] = tcp_len >> 8;
		ip[5] = tcp_len & 0xff;
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		ip[23] = 1;		/* ::1 */
		ip[39] = 1;
		f->l4 = f->l3 + 40;
	} else {
		size_t hl = 20 + ip_opts, tot = hl + tcp_len;
		__u32 lo = htonl(INADDR_LOOPBACK);

		ip[0] = 0x40 | (ihl_override ? ihl_override : (int)(hl / 4));
		ip[2] = tot >> 8;
		ip[3] = tot & 0xff;
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, &lo, 4);
		memcpy(ip + 16, &lo, 4);
		memset(ip + 20, 1, ip_opts);	/* IP NOP options */
		*(__u16 *)(ip + 10) = htons((__u16)~fold(sum16(ip, hl, 0)));
		f->l4 = f->l3 + hl;
	}
	th = f->data + f->l4;
	th[0] = 40000 >> 8;
	th[1] = 40000 & 0xff;
	th[2] = FRAME_PORT >> 8;
	th[3] = FRAME_PORT & 0xff;
	th[7] = 1;			/* sequence */
	th[12] = (tcp_len / 4) << 4;
	th[13] = 0x02;			/* SYN */
	th[14] = 0xff;			/* window */
	o = th + 20;
	for (i = 0; i < optlen; i++)
		o[i] = 1;		/* NOP */
	f->opt = f->l4 + 20 + pad;
	f->optlen = mpc_len;
	o += pad;
	o[0] = 30;			/* MPTCP */
	o[1] = mpc_len;
	o[2] = mpc_len == 4 ? 0x01 : 0x00;	/* subtype MP_CAPABLE, version 1 or 0 */
	o[3] = 0x81;			/* flags: checksum, HMAC-SHA256 */
	for (i = 4; i < (size_t)mpc_len; i++)
		o[i] = 0xa0 + i;	/* v0 sender key */
	f->len = f->l4 + tcp_len;
	*(__u16 *)(th + 16) = tcp_csum(ip, v6, th, tcp_len, false);
}

/* Run the ingress program on @f; the frame as it leaves, in @out. */
static int run_ingress(struct stage3_tc_bpf *skel, const struct frame *f, __u8 *out, __u32 *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .data_out = out, .data_size_out = 256, .repeat = 1);
	int ret = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mu_tc_ingress), &opts);

	*out_len = opts.data_size_out;
	return ret;
}

/* Stripped means: NOPs where MP_CAPABLE was, nothing else changed, checksum valid. */
static void check_frame(struct stage3_tc_bpf *skel, const struct frame *f, bool expect_strip,
			const char *what)
{
	__u8 out[256];
	__u32 len = 0;
	size_t i, diffs = 0, nops = 0;
	bool csum_ok;

	if (run_ingress(skel, f, out, &len) || len != f->len) {
		tap(false, "%s: the test run failed: %s", what, strerror(errno));
		return;
	}
	for (i = 0; i < len; i++) {
		bool in_opt = i >= f->opt && i < f->opt + f->optlen;
		bool in_csum = i == f->l4 + 16 || i == f->l4 + 17;

		if (in_opt)
			nops += out[i] == 1;
		else if (!in_csum)
			diffs += out[i] != f->data[i];
	}
	csum_ok = tcp_csum(out + f->l3, f->v6, out + f->l4, len - f->l4, true) == 0;
	if (expect_strip)
		tap(nops == f->optlen && !diffs && csum_ok,
		    "%s: MP_CAPABLE replaced by %zu NOPs, other bytes unchanged (%zu differ), "
		    "TCP checksum %s", what, nops, diffs, csum_ok ? "valid" : "INVALID");
	else
		tap(!memcmp(out, f->data, len), "%s: the frame passes unchanged", what);
}

static void run_frame_tests(struct stage3_tc_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.sock_states);
	int l4 = mptcp_listener(map_fd, AF_INET, FRAME_PORT, true);
	int l6 = mptcp_listener(map_fd, AF_INET6, FRAME_PORT, true);
	struct frame f;

	if (l4 < 0 || l6 < 0) {
		tap(false, "crafted frames: can't make the listeners: %s", strerror(errno));
		return;
	}
	build_syn(&f, false, 0, 0, 0, 4);
	check_frame(skel, &f, true, "IPv4, MP_CAPABLE v1 first");
	build_syn(&f, false, 0, 0, 4, 4);
	check_frame(skel, &f, true, "IPv4, MP_CAPABLE v1 after 4 bytes of options");
	build_syn(&f, false, 0, 0, 0, 12);
	check_frame(skel, &f, true, "IPv4, MP_CAPABLE v0 (12 bytes)");
	build_syn(&f, false, 0, 0, 1, 4);
	check_frame(skel, &f, true, "IPv4, MP_CAPABLE v1 at an odd offset");
	build_syn(&f, false, 0, 0, 3, 12);
	check_frame(skel, &f, true, "IPv4, MP_CAPABLE v0 at an odd offset");
	build_syn(&f, false, 8, 0, 0, 4);
	check_frame(skel, &f, true, "IPv4 with 8 bytes of IP options");
	build_syn(&f, false, 0, 4, 0, 4);
	check_frame(skel, &f, false, "IPv4 with a header length of 4 (invalid)");
	build_syn(&f, true, 0, 0, 0, 4);
	check_frame(skel, &f, true, "IPv6, MP_CAPABLE v1");
	build_syn(&f, true, 0, 0, 2, 12);
	check_frame(skel, &f, true, "IPv6, MP_CAPABLE v0 after 2 NOPs");
	close(l4);
	close(l6);
	/* The same SYN with no listener of ours behind the port. */
	build_syn(&f, false, 0, 0, 0, 4);
	check_frame(skel, &f, false, "IPv4, no listener of ours on the port");
}

/* ---- a router between two hosts --------------------------------------------- */

static char ns_names[3][32];

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	return WIFEXITED(ret) ? WEXITSTATUS(ret) : -1;
}

static void remove_namespaces(void)
{
	int i;

	for (i = 0; i < 3; i++)
		if (ns_names[i][0])
			sh("ip netns del %s 2>/dev/null", ns_names[i]);
}

static int enter_ns(const char *name)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

/* client (A) 192.0.2.1 -- 192.0.2.2 router (R) 198.51.100.2 -- 198.51.100.1 server (B) */
static int make_topology(void)
{
	const char *a = ns_names[0], *r = ns_names[1], *b = ns_names[2];

	return sh("ip netns add %s && ip netns add %s && ip netns add %s", a, r, b) ||
	       sh("ip -n %s link add ra type veth peer name ar netns %s", r, a) ||
	       sh("ip -n %s link add rb type veth peer name br netns %s", r, b) ||
	       sh("ip -n %s addr add 192.0.2.1/24 dev ar && ip -n %s link set dev ar up && "
		  "ip -n %s link set dev lo up && ip -n %s route add default via 192.0.2.2",
		  a, a, a, a) ||
	       sh("ip -n %s addr add 198.51.100.1/24 dev br && ip -n %s link set dev br up && "
		  "ip -n %s link set dev lo up && ip -n %s route add default via 198.51.100.2",
		  b, b, b, b) ||
	       sh("ip -n %s addr add 192.0.2.2/24 dev ra && ip -n %s link set dev ra up && "
		  "ip -n %s addr add 198.51.100.2/24 dev rb && ip -n %s link set dev rb up && "
		  "ip -n %s link set dev lo up && ip netns exec %s sysctl -qw net.ipv4.ip_forward=1",
		  r, r, r, r, r, r) ||
	       /*
		* The client computes full checksums and the router's veth does not
		* vouch for them (veth marks what it receives as verified unless rx
		* offload is off): the router's stack checks the rewritten checksum.
		*/
	       sh("ip netns exec %s ethtool -K ar tx off >/dev/null", a) ||
	       sh("ip netns exec %s ethtool -K ra rx off >/dev/null", r);
}

static struct sockaddr_in addr4(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static void run_router_tests(struct stage3_tc_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.sock_states), links[2][2] = { { -1, -1 }, { -1, -1 } };
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), rl = -1, bl = -1, c, one = 1;
	struct sockaddr_in any = addr4("0.0.0.0", ROUTED_PORT), to;
	struct conn_result res;
	__u64 in0;
	int i;

	for (i = 0; i < 3; i++)
		snprintf(ns_names[i], sizeof(ns_names[i]), "mu-tc-%c-%d", "arb"[i], getpid());
	atexit(remove_namespaces);
	if (sh("command -v ethtool >/dev/null")) {
		printf("# SKIP router tests: ethtool is not installed (apt-get install ethtool)\n");
		return;
	}
	if (self < 0 || make_topology()) {
		tap(false, "router: can't build the three namespaces");
		goto out;
	}
	/* In the router: stage 3 on both veths and an unlisted wildcard listener of ours. */
	if (enter_ns(ns_names[1]) ||
	    attach_tcx_to(skel, if_nametoindex("ra"), links[0]) ||
	    attach_tcx_to(skel, if_nametoindex("rb"), links[1])) {
		tap(false, "router: can't attach the tc programs: %s", strerror(errno));
		goto out;
	}
	rl = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (rl < 0 || setsockopt(rl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(rl, (struct sockaddr *)&any, sizeof(any)) ||
	    mark(map_fd, rl, MU_ENTRY_UNLISTED, MU_ENTRY_NONE) || listen(rl, 8))
		goto fail;
	/* Behind it, a server that asks for MPTCP on the same port. */
	if (enter_ns(ns_names[2]))
		goto fail;
	bl = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (bl < 0 || bind(bl, (struct sockaddr *)&any, sizeof(any)) || listen(bl, 8))
		goto fail;

	if (enter_ns(ns_names[0]))
		goto fail;
	in0 = attach_counter(skel, MU_CNT_KEPT_TCP_IN);
	to = addr4("198.51.100.1", ROUTED_PORT);
	c = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	res = connect_through(bl, c, (struct sockaddr *)&to, sizeof(to));
	tap(res.ok && res.client_mptcp && res.accepted_proto == IPPROTO_MPTCP && res.server_mptcp,
	    "router: a connection routed through a host with an unlisted wildcard listener on "
	    "the port keeps MPTCP (client %d, server SO_PROTOCOL %d)", res.client_mptcp,
	    res.accepted_proto);
	tap(attach_counter(skel, MU_CNT_KEPT_TCP_IN) == in0,
	    "router: the routed connection is not counted as kept TCP");
	to = addr4("192.0.2.2", ROUTED_PORT);
	c = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	res = connect_through(rl, c, (struct sockaddr *)&to, sizeof(to));
	tap(res.ok && !res.client_mptcp && res.accepted_proto == IPPROTO_TCP,
	    "router: a connection to the router itself reaches its unlisted listener as plain "
	    "TCP, the rewritten checksum passing its stack's check (SO_PROTOCOL %d)",
	    res.accepted_proto);
	tap(attach_counter(skel, MU_CNT_KEPT_TCP_IN) == in0 + 1,
	    "router: that one is counted as kept TCP: its first SYN, rewritten, passed the "
	    "router's checksum check");
	goto out;
fail:
	tap(false, "router: can't set up the sockets: %s", strerror(errno));
out:
	for (i = 0; i < 2; i++)
		detach_tcx(links[i]);
	if (rl >= 0)
		close(rl);
	if (bl >= 0)
		close(bl);
	if (self >= 0) {
		setns(self, CLONE_NEWNET);
		close(self);
	}
	remove_namespaces();
	memset(ns_names, 0, sizeof(ns_names));
}

int main(void)
{
	struct stage3_tc_bpf *skel;
	int ret;

	skel = harness_start(&ret);
	if (!skel)
		return ret;
	if (register_attachment(skel, true) || set_policy(skel, 0, 0)) {
		printf("Bail out! can't register the test attachment: %s\n", strerror(errno));
		return 1;
	}
	run_frame_tests(skel);
	run_router_tests(skel);
	stage3_tc_bpf__destroy(skel);
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
