// SPDX-License-Identifier: GPL-2.0-only
/*
 * The socket-option bridge from userspace. The BPF half is
 * bpf/bridge.bpf.c (mu_setsockopt, mu_getsockopt, mu_sockops); this file
 * finds out what the running kernel refuses, names the options, and runs the
 * bridge for the run engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "bridge.h"
#include "common/cgroup.h"
#include "common/jsonw.h"
#include "common/sys.h"
#include "bridge.skel.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

struct sockopt_row {
	const char *name;
	int level, optname, family, kind;
};

static const struct sockopt_row rows[MU_SOPT_MAX] = {
#define MU_X(nm, lvl, opt, fam, knd) [MU_SOPT_##nm] = { #nm, lvl, opt, fam, knd },
	MU_SOCKOPTS(MU_X)
#undef MU_X
};

/* The carried ones' indexes are their slots in struct mu_bridge_values. */
#define MU_X(nm, lvl, opt, fam, knd) \
	_Static_assert((knd) != MU_OK_BRIDGE || MU_SOPT_##nm < MU_SOPT_CARRIED_MAX, \
		       #nm " is carried by the bridge but not among the first entries");
MU_SOCKOPTS(MU_X)
#undef MU_X
_Static_assert(MU_SOPT_MAX <= 128, "struct mu_optmask holds 128 options");
_Static_assert(MU_SOL_SOCKET == SOL_SOCKET && MU_SOL_TCP == IPPROTO_TCP &&
	       MU_SOL_IP == IPPROTO_IP && MU_SOL_IPV6 == IPPROTO_IPV6 &&
	       MU_AF_INET == AF_INET && MU_AF_INET6 == AF_INET6, "option levels, families");

const char *sockopt_name(int i)
{
	return i >= 0 && i < MU_SOPT_MAX ? rows[i].name : NULL;
}

bool sockopt_carried(int i)
{
	return i >= 0 && i < MU_SOPT_CARRIED_MAX && rows[i].kind == MU_OK_BRIDGE;
}

int sockopt_level(int i)
{
	return i >= 0 && i < MU_SOPT_MAX ? rows[i].level : -1;
}

int sockopt_optname(int i)
{
	return i >= 0 && i < MU_SOPT_MAX ? rows[i].optname : -1;
}

int sockopt_family(int i)
{
	return i >= 0 && i < MU_SOPT_MAX ? rows[i].family : 0;
}

int sockopt_kind(int i)
{
	return i >= 0 && i < MU_SOPT_MAX ? rows[i].kind : 0;
}

int sockopt_index(int level, int optname)
{
	int i;

	for (i = 0; i < MU_SOPT_MAX; i++)
		if (rows[i].level == level && rows[i].optname == optname)
			return i;
	return -1;
}

bool sockopt_mask_empty(const struct mu_optmask *m)
{
	return !m->w[0] && !m->w[1];
}

void sockopt_mask_names(const struct mu_optmask *m, char *buf, size_t size)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < MU_SOPT_MAX && off < size; i++)
		if (mu_optmask_has(m, i))
			off += snprintf(buf + off, size - off, "%s%s", off ? " " : "", rows[i].name);
	if (!off)
		snprintf(buf, size, "none");
}

void sockopt_mask_json(struct jsonw *w, const char *key, const struct mu_optmask *m)
{
	int i;

	jw_key(w, key);
	jw_array_start(w);
	for (i = 0; i < MU_SOPT_MAX; i++)
		if (!m || mu_optmask_has(m, i))
			jw_string(w, rows[i].name);
	jw_array_end(w);
}

int sockopt_mask_parse(struct json_object *a, struct mu_optmask *m)
{
	size_t i, n;
	int j;

	memset(m, 0, sizeof(*m));
	if (!json_object_is_type(a, json_type_array))
		return -1;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(a, i));

		for (j = 0; name && j < MU_SOPT_MAX; j++)
			if (!strcmp(rows[j].name, name))
				mu_optmask_set(m, j);
	}
	return 0;
}

/*
 * A value the kernel would accept for option @i on a TCP socket, in @buf (of
 * at least 64 bytes). Only the refusal matters: MPTCP refuses an option before
 * it reads the value, and any other answer (EINVAL, EPERM) is not a refusal.
 */
static socklen_t probe_value(int i, unsigned char *buf, size_t size)
{
	static struct sock_filter accept_all = { BPF_RET | BPF_K, 0, 0, 0xffff };
	struct sock_fprog prog = { 1, &accept_all };
	int v = 1;

	memset(buf, 0, size);
	switch (i) {
	case MU_SOPT_TCP_MD5SIG:	/* MPTCP refuses it before reading it */
		return sizeof(struct tcp_md5sig);
	case MU_SOPT_TCP_ULP:
		memcpy(buf, "tls", 3);
		return 3;
	case MU_SOPT_TCP_CONGESTION:
		memcpy(buf, "reno", 4);
		return 4;
	case MU_SOPT_SO_BINDTODEVICE:
		memcpy(buf, "lo", 2);
		return 2;
	case MU_SOPT_SO_ATTACH_FILTER:
		memcpy(buf, &prog, sizeof(prog));
		return sizeof(prog);
	case MU_SOPT_SO_LINGER:		/* struct linger, off */
		return 2 * sizeof(int);
	case MU_SOPT_SO_RCVTIMEO_OLD: case MU_SOPT_SO_SNDTIMEO_OLD:
	case MU_SOPT_SO_RCVTIMEO_NEW: case MU_SOPT_SO_SNDTIMEO_NEW:
		return 16;		/* a zero timeout: none */
	case MU_SOPT_TCP_USER_TIMEOUT:	v = 5000; break;
	case MU_SOPT_TCP_MAXSEG:	v = 1400; break;
	case MU_SOPT_TCP_KEEPIDLE:	v = 60; break;
	case MU_SOPT_TCP_KEEPINTVL:	v = 10; break;
	case MU_SOPT_TCP_KEEPCNT:	v = 5; break;
	case MU_SOPT_TCP_SYNCNT:	v = 3; break;
	case MU_SOPT_TCP_WINDOW_CLAMP:	v = 65535; break;
	case MU_SOPT_TCP_NOTSENT_LOWAT:	v = 16384; break;
	case MU_SOPT_IPV6_TCLASS:	v = 0x20; break;
	case MU_SOPT_TCP_LINGER2:	v = 10; break;
	case MU_SOPT_TCP_REPAIR:	v = 0; break;
	case MU_SOPT_IP_TTL: case MU_SOPT_IPV6_UNICAST_HOPS: v = 64; break;
	case MU_SOPT_IP_MTU_DISCOVER: case MU_SOPT_IPV6_MTU_DISCOVER: v = 2; break;
	case MU_SOPT_SO_ATTACH_BPF:	v = -1; break;
	case MU_SOPT_SO_RCVBUF: case MU_SOPT_SO_SNDBUF:
	case MU_SOPT_SO_RCVBUFFORCE: case MU_SOPT_SO_SNDBUFFORCE: v = 65536; break;
	case MU_SOPT_SO_BINDTOIFINDEX:	v = 0; break;
	case MU_SOPT_TCP_FASTOPEN:	v = 16; break;
	case MU_SOPT_SO_INCOMING_CPU:	v = 0; break;
	case MU_SOPT_IP_TOS:		v = 0x20; break;
	case MU_SOPT_IP_LOCAL_PORT_RANGE: v = 0; break;
	case MU_SOPT_TCP_TX_DELAY:	v = 0; break;
	}
	memcpy(buf, &v, sizeof(v));
	return sizeof(int);
}

/* Refused: the option itself, whatever its value (EOPNOTSUPP before a connection, ENOPROTOOPT always). */
static bool refuses(int fd, int i)
{
	unsigned char v[256];
	socklen_t len = probe_value(i, v, sizeof(v));

	if (!setsockopt(fd, rows[i].level, rows[i].optname, v, len))
		return false;
	return errno == EOPNOTSUPP || errno == ENOPROTOOPT;
}

static int loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

/* An MPTCP socket connected to a plain TCP listener: fallen back. -1 if it can't be made. */
static int fallen_back_socket(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l, c;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen)) {
		close(l);
		return -1;
	}
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a))) {
		close(c);
		c = -1;
	}
	close(l);	/* the connection stays, in the accept queue */
	return c;
}

/*
 * Every option number up to SCAN_MAX at each level that a TCP socket knows
 * (any answer but ENOPROTOOPT or EOPNOTSUPP) and an MPTCP socket refuses, and
 * that the table does not name: what a program may set that neither engine
 * knows by name (a run swap keeps such a socket TCP, counted as "other").
 */
#define SCAN_MAX	100

static void scan_unnamed(struct sockopt_unnamed *un)
{
	static const int levels[] = { MU_SOL_SOCKET, MU_SOL_IP, MU_SOL_TCP, MU_SOL_IPV6 };
	unsigned char zero[64] = {};
	size_t l;
	int o;

	for (l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		int family = levels[l] == MU_SOL_IPV6 ? AF_INET6 : AF_INET;

		for (o = 1; o <= SCAN_MAX; o++) {
			int t, m;
			bool tcp_knows, mptcp_refuses;

			if (sockopt_index(levels[l], o) >= 0)
				continue;
			t = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
			m = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
			if (t < 0 || m < 0) {
				if (t >= 0)
					close(t);
				if (m >= 0)
					close(m);
				return;
			}
			tcp_knows = !setsockopt(t, levels[l], o, zero, sizeof(int)) ||
				    (errno != ENOPROTOOPT && errno != EOPNOTSUPP);
			mptcp_refuses = setsockopt(m, levels[l], o, zero, sizeof(int)) &&
					(errno == ENOPROTOOPT || errno == EOPNOTSUPP);
			close(t);
			close(m);
			if (tcp_knows && mptcp_refuses && un->nr < SOCKOPT_UNNAMED_MAX) {
				un->opt[un->nr].level = levels[l];
				un->opt[un->nr].optname = o;
				un->nr++;
			}
		}
	}
}

/* In the child: 0 with @cfg filled, or an errno. */
static int probe_here(struct mu_bridge_config *cfg)
{
	struct utsname u;
	int i, fd, fb, major = 0, minor = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < MU_SOPT_MAX; i++) {
		int family = rows[i].family ? rows[i].family : AF_INET;

		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
		if (fd < 0)
			return errno;
		if (refuses(fd, i))
			mu_optmask_set(&cfg->refused, i);
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd >= 0) {
		int one = 1;

		if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)))
			cfg->flags |= MU_BRIDGE_F_OOBINLINE;
		close(fd);
	}
	fb = fallen_back_socket();
	if (fb >= 0) {
		for (i = 0; i < MU_SOPT_MAX; i++)
			if (rows[i].family != AF_INET6 && mu_optmask_has(&cfg->refused, i) &&
			    !refuses(fb, i))
				mu_optmask_set(&cfg->after_fallback, i);
		close(fb);
	}
	/*
	 * bpf_setsockopt() has taken every carried option since 6.1 (TCP_MAXSEG
	 * and TCP_THIN_LINEAR_TIMEOUTS came last); on older kernels they stay
	 * refused rather than be accepted and then fail on every subflow.
	 */
	if (!uname(&u))
		sscanf(u.release, "%d.%d", &major, &minor);
	for (i = 0; i < MU_SOPT_CARRIED_MAX; i++) {
		if (rows[i].kind != MU_OK_BRIDGE || !mu_optmask_has(&cfg->refused, i))
			continue;
		if ((i == MU_SOPT_TCP_MAXSEG || i == MU_SOPT_TCP_THIN_LINEAR_TIMEOUTS) &&
		    (major < 6 || (major == 6 && minor < 1)))
			continue;
		mu_optmask_set(&cfg->carry, i);
	}
	return 0;
}

int bridge_probe(struct mu_bridge_config *cfg, struct sockopt_unnamed *unnamed, char *err,
		 size_t err_size)
{
	struct {
		int err;
		struct mu_bridge_config cfg;
		struct sockopt_unnamed un;
	} res = { .err = EIO };
	int p[2], status;
	pid_t pid;
	ssize_t got;

	if (pipe2(p, O_CLOEXEC))
		return snprintf(err, err_size, "pipe: %s", strerror(errno)), -1;
	pid = fork();
	if (pid < 0) {
		snprintf(err, err_size, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		/* A namespace of its own where it can: no address or sysctl of the caller's is used. */
		if (!unshare(CLONE_NEWNET))
			loopback_up();
		res.err = probe_here(&res.cfg);
		if (!res.err && unnamed)
			scan_unnamed(&res.un);
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	got = read(p[0], &res, sizeof(res));
	close(p[0]);
	waitpid(pid, &status, 0);
	if (got != (ssize_t)sizeof(res)) {
		snprintf(err, err_size, "the socket-option probe died");
		return -1;
	}
	if (res.err) {
		snprintf(err, err_size, "can't create an MPTCP socket to probe socket options: %s",
			 strerror(res.err));
		return -1;
	}
	*cfg = res.cfg;
	if (unnamed)
		*unnamed = res.un;
	return 0;
}

/* ---- the run engine's bridge ---------------------------------------------- */

struct run_bridge {
	struct bridge_bpf *skel;
	struct mu_bridge_config cfg;
	__u64 cgroup_id;
	__u32 gen;		/* the policy generation line counts belong to */
	int states_fd, counters_fd;
	int links[3];
};

static int self_cgroup(char *dir, size_t size, __u64 *id)
{
	char path[4096];
	struct stat st;

	if (cgroup_of_pid(0, path, sizeof(path)))
		return -1;
	if (cgroup_dir(path, dir, size) || stat(dir, &st)) {
		/*
		 * Under `ip netns exec` this mount namespace has a /sys of its own,
		 * without cgroup2: reach the machine's through the outer one's root.
		 */
		char mnt[2048];
		int pid = outer_mount_ns();

		if (!pid || find_mounts_outside("cgroup2", mnt, sizeof(mnt)) <= 0)
			return -1;
		mnt[strcspn(mnt, " ")] = '\0';
		if ((size_t)snprintf(dir, size, "/proc/%d/root%s%s", pid, mnt,
				     strcmp(path, "/") ? path : "") >= size || stat(dir, &st))
			return -1;
	}
	*id = st.st_ino;
	return 0;
}

int run_bridge_cgroup(__u64 *id)
{
	char dir[4096];

	if (self_cgroup(dir, sizeof(dir), id))
		return -1;
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int bridge_load_test(void)
{
	struct bridge_bpf *skel = bridge_bpf__open();
	int err;

	if (!skel)
		return -errno;
	err = bridge_bpf__load(skel) ? -errno : 0;
	bridge_bpf__destroy(skel);
	return err;
}

struct run_bridge *run_bridge_open(int cg, __u64 cgroup_id, char *err, size_t err_size)
{
	struct run_bridge *b = calloc(1, sizeof(*b));
	struct mu_attachment att = { 0 };
	__u32 zero = 0;
	int i;
	struct {
		struct bpf_program *prog;
		enum bpf_attach_type type;
	} progs[3];

	if (!b)
		return NULL;
	for (i = 0; i < 3; i++)
		b->links[i] = -1;
	b->states_fd = b->counters_fd = -1;
	if (bridge_probe(&b->cfg, NULL, err, err_size))
		goto fail;
	if (sockopt_mask_empty(&b->cfg.refused) && !(b->cfg.flags & MU_BRIDGE_F_OOBINLINE)) {
		snprintf(err, err_size, "this kernel takes every option on MPTCP sockets");
		goto fail;
	}
	if (cg < 0) {
		snprintf(err, err_size, "can't find this process's cgroup v2");
		goto fail;
	}
	b->cgroup_id = cgroup_id;
	b->skel = bridge_bpf__open();
	if (!b->skel) {
		snprintf(err, err_size, "can't open the BPF object: %s", strerror(errno));
		goto fail;
	}
	b->skel->rodata->page_size = (__u32)sysconf(_SC_PAGESIZE);
	if (bridge_bpf__load(b->skel)) {
		snprintf(err, err_size, "can't load the socket-option bridge: %s", strerror(errno));
		goto fail;
	}
	att.id = 0;
	if (bpf_map__update_elem(b->skel->maps.bridge_config, &zero, sizeof(zero), &b->cfg,
				 sizeof(b->cfg), BPF_ANY) ||
	    bpf_map__update_elem(b->skel->maps.attached_cgroups, &b->cgroup_id,
				 sizeof(b->cgroup_id), &att, sizeof(att), BPF_ANY)) {
		snprintf(err, err_size, "can't configure the socket-option bridge: %s",
			 strerror(errno));
		goto fail;
	}
	progs[0].prog = b->skel->progs.mu_setsockopt;
	progs[0].type = BPF_CGROUP_SETSOCKOPT;
	progs[1].prog = b->skel->progs.mu_getsockopt;
	progs[1].type = BPF_CGROUP_GETSOCKOPT;
	progs[2].prog = b->skel->progs.mu_sockops;
	progs[2].type = BPF_CGROUP_SOCK_OPS;
	for (i = 0; i < 3; i++) {
		b->links[i] = bpf_link_create(bpf_program__fd(progs[i].prog), cg, progs[i].type,
					      NULL);
		if (b->links[i] < 0) {
			snprintf(err, err_size, "can't attach the socket-option bridge to the "
				 "cgroup: %s", strerror(errno));
			goto fail;
		}
	}
	b->states_fd = bpf_map__fd(b->skel->maps.sock_states);
	b->counters_fd = bpf_map__fd(b->skel->maps.sockopt_counters);
	return b;
fail:
	run_bridge_close(b);
	return NULL;
}

int run_bridge_states_fd(const struct run_bridge *b)
{
	return b->states_fd;
}

__u32 run_bridge_gen(const struct run_bridge *b)
{
	return __atomic_load_n(&b->gen, __ATOMIC_RELAXED);
}

int run_bridge_own(struct run_bridge *b, int fd, __u32 entry, bool is_connect, bool swapping)
{
	struct mu_sock_state st = { .cgroup_id = b->cgroup_id, .flags = MU_SOCK_UPGRADED,
				    .bind_entry = MU_ENTRY_NONE, .connect_entry = MU_ENTRY_NONE };

	if (swapping)
		st.flags |= MU_SOCK_SWAPPING;
	/* The line its connection is counted against once established (mu_sockops). */
	if (is_connect) {
		st.connect_entry = entry;
		st.connect_gen = __atomic_load_n(&b->gen, __ATOMIC_RELAXED);
	} else {
		st.bind_entry = entry;
		st.bind_gen = __atomic_load_n(&b->gen, __ATOMIC_RELAXED);
	}
	return bpf_map_update_elem(b->states_fd, &fd, &st, BPF_ANY);
}

int run_bridge_swapped(struct run_bridge *b, int fd)
{
	struct mu_sock_state st;

	/* What the programs added meanwhile (SO_OOBINLINE's flag) stays. */
	if (bpf_map_lookup_elem(b->states_fd, &fd, &st))
		return -1;
	st.flags &= ~MU_SOCK_SWAPPING;
	return bpf_map_update_elem(b->states_fd, &fd, &st, BPF_EXIST);
}

int run_bridge_reloaded(struct run_bridge *b, __u32 old_entries)
{
	struct mu_attachment att = { .id = 0 };
	struct mu_line_key key = { .attach_id = 0 };

	/* Connections of the old entries established from now on count nowhere. */
	att.gen = __atomic_add_fetch(&b->gen, 1, __ATOMIC_RELAXED);
	if (bpf_map__update_elem(b->skel->maps.attached_cgroups, &b->cgroup_id,
				 sizeof(b->cgroup_id), &att, sizeof(att), BPF_ANY))
		return -1;
	for (key.entry = 0; key.entry < old_entries; key.entry++)
		bpf_map__delete_elem(b->skel->maps.line_counters, &key, sizeof(key), 0);
	return 0;
}

int run_bridge_line_counters_fd(const struct run_bridge *b)
{
	return bpf_map__fd(b->skel->maps.line_counters);
}

const struct mu_bridge_config *run_bridge_config(const struct run_bridge *b)
{
	return &b->cfg;
}

int run_bridge_counters_fd(const struct run_bridge *b)
{
	return b->counters_fd;
}

int run_bridge_counters(const struct run_bridge *b, struct mu_sockopt_counters *out)
{
	return sockopt_counters_sum(b->counters_fd, 0, out);
}

void run_bridge_close(struct run_bridge *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < 3; i++)
		if (b->links[i] >= 0)
			close(b->links[i]);
	bridge_bpf__destroy(b->skel);
	free(b);
}
