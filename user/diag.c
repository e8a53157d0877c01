// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/mptcp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "diag.h"

/* The kernel's TCP state number for a listening socket (include/net/tcp_states.h). */
#define MU_TCP_LISTEN 10

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

struct dump_ctx {
	struct mu_diag *d;
	unsigned long netns;
	const __u64 *cgids;
	size_t nr_cgids;
	bool mptcp;		/* this dump is of MPTCP sockets, else of TCP subflows */
	bool interrupted;	/* NLM_F_DUMP_INTR seen */
	int err;
};

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

static void endpoint(struct mu_endpoint *ep, int family, const __be32 *addr, __be16 port)
{
	ep->family = family;
	memset(ep->addr, 0, sizeof(ep->addr));
	memcpy(ep->addr, addr, family == AF_INET ? 4 : 16);
	ep->port = ntohs(port);
}

/* Room for one more element in *@arr; the array is kept (and -1 returned) when there is none. */
static int grow(void **arr, size_t *cap, size_t nr, size_t size)
{
	size_t want = *cap ? *cap * 2 : 256;
	void *n;

	if (nr < *cap)
		return 0;
	if (want < *cap || want > SIZE_MAX / size)
		return -1;
	n = realloc(*arr, want * size);
	if (!n)
		return -1;
	*arr = n;
	*cap = want;
	return 0;
}

/* An attribute of @type whose payload is what the kernel promises; anything else is skipped. */
static bool attr_ok(const struct nlattr *a, enum mnl_attr_data_type type)
{
	return mnl_attr_validate(a, type) >= 0;
}

/* The engine's state out of INET_DIAG_SK_BPF_STORAGES (one map was asked for). */
static bool parse_storage(const struct nlattr *nest, struct mu_sock_state *st)
{
	const struct nlattr *s, *a;

	mnl_attr_for_each_nested(s, nest) {
		if (mnl_attr_get_type(s) != SK_DIAG_BPF_STORAGE)
			continue;
		if (!attr_ok(s, MNL_TYPE_NESTED))
			continue;
		mnl_attr_for_each_nested(a, s) {
			if (mnl_attr_get_type(a) == SK_DIAG_BPF_STORAGE_MAP_VALUE &&
			    mnl_attr_get_payload_len(a) >= sizeof(*st)) {
				memcpy(st, mnl_attr_get_payload(a), sizeof(*st));
				return true;
			}
		}
	}
	return false;
}

static void parse_ulp(const struct nlattr *ulp, struct mu_subflow *sf, bool *is_mptcp)
{
	const struct nlattr *a, *m;

	mnl_attr_for_each_nested(a, ulp) {
		if (mnl_attr_get_type(a) == INET_ULP_INFO_NAME && attr_ok(a, MNL_TYPE_NUL_STRING) &&
		    !strcmp(mnl_attr_get_str(a), "mptcp"))
			*is_mptcp = true;
		if (mnl_attr_get_type(a) != INET_ULP_INFO_MPTCP || !attr_ok(a, MNL_TYPE_NESTED))
			continue;
		mnl_attr_for_each_nested(m, a) {
			switch (mnl_attr_get_type(m)) {
			case MPTCP_SUBFLOW_ATTR_TOKEN_LOC:
				if (attr_ok(m, MNL_TYPE_U32))
					sf->token = mnl_attr_get_u32(m);
				break;
			case MPTCP_SUBFLOW_ATTR_FLAGS:
				if (attr_ok(m, MNL_TYPE_U32))
					sf->flags = mnl_attr_get_u32(m);
				break;
			case MPTCP_SUBFLOW_ATTR_ID_LOC:
				if (attr_ok(m, MNL_TYPE_U8))
					sf->id_loc = mnl_attr_get_u8(m);
				break;
			case MPTCP_SUBFLOW_ATTR_ID_REM:
				if (attr_ok(m, MNL_TYPE_U8))
					sf->id_rem = mnl_attr_get_u8(m);
				break;
			}
		}
	}
}

static int on_socket(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	const struct inet_diag_msg *r = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *info = NULL, *ulp = NULL, *stor = NULL, *a;
	bool have_cg = false, is_mptcp = false;
	__u64 cgid = 0;

	/* A dump that changed while it was read is partial: say so, the caller retries. */
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->interrupted = true;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*r))
		return MNL_CB_OK;	/* too short to be a socket */
	mnl_attr_for_each(a, nlh, sizeof(*r)) {
		switch (mnl_attr_get_type(a)) {
		case INET_DIAG_INFO:
			info = a;
			break;
		case INET_DIAG_ULP_INFO:
			if (attr_ok(a, MNL_TYPE_NESTED))
				ulp = a;
			break;
		case INET_DIAG_SK_BPF_STORAGES:
			if (attr_ok(a, MNL_TYPE_NESTED))
				stor = a;
			break;
		case INET_DIAG_CGROUP_ID:
			if (attr_ok(a, MNL_TYPE_U64)) {
				cgid = mnl_attr_get_u64(a);
				have_cg = true;
			}
			break;
		}
	}
	/* The subtree filter: the kernel's own matches one id, ours the whole set. */
	if (!have_cg || !bsearch(&cgid, c->cgids, c->nr_cgids, sizeof(cgid), cmp_u64))
		return MNL_CB_OK;

	if (c->mptcp) {
		struct mu_conn *conn;

		if (r->idiag_state == MU_TCP_LISTEN)
			return MNL_CB_OK;
		if (grow((void **)&c->d->conns, &c->d->cap_conns, c->d->nr_conns, sizeof(*conn)))
			goto nomem;
		conn = &c->d->conns[c->d->nr_conns++];
		memset(conn, 0, sizeof(*conn));
		endpoint(&conn->local, r->idiag_family, r->id.idiag_src, r->id.idiag_sport);
		endpoint(&conn->remote, r->idiag_family, r->id.idiag_dst, r->id.idiag_dport);
		conn->state = r->idiag_state;
		conn->cgroup_id = cgid;
		conn->inode = r->idiag_inode;
		conn->netns = c->netns;
		if (info) {
			conn->info_len = mnl_attr_get_payload_len(info);
			if (conn->info_len > sizeof(conn->info))
				conn->info_len = sizeof(conn->info);
			memcpy(&conn->info, mnl_attr_get_payload(info), conn->info_len);
		}
		if (stor)
			conn->has_state = parse_storage(stor, &conn->st);
	} else {
		struct mu_subflow sf = {}, *dst;
		struct tcp_info ti = {};

		if (ulp)
			parse_ulp(ulp, &sf, &is_mptcp);
		/* A plain TCP listener: in an attached cgroup, one that escaped the upgrade. */
		if (!is_mptcp && r->idiag_state == MU_TCP_LISTEN) {
			struct mu_listener *l;

			if (grow((void **)&c->d->tcp_listeners, &c->d->cap_tcp_listeners,
				 c->d->nr_tcp_listeners, sizeof(*l)))
				goto nomem;
			l = &c->d->tcp_listeners[c->d->nr_tcp_listeners++];
			memset(l, 0, sizeof(*l));
			endpoint(&l->local, r->idiag_family, r->id.idiag_src, r->id.idiag_sport);
			l->cgroup_id = cgid;
			l->netns = c->netns;
			return MNL_CB_OK;
		}
		if (!ulp)
			return MNL_CB_OK;
		if (!is_mptcp || r->idiag_state == MU_TCP_LISTEN)
			return MNL_CB_OK;
		endpoint(&sf.local, r->idiag_family, r->id.idiag_src, r->id.idiag_sport);
		endpoint(&sf.remote, r->idiag_family, r->id.idiag_dst, r->id.idiag_dport);
		sf.state = r->idiag_state;
		sf.netns = c->netns;
		if (info) {
			size_t len = mnl_attr_get_payload_len(info);

			memcpy(&ti, mnl_attr_get_payload(info), len < sizeof(ti) ? len : sizeof(ti));
			sf.rtt_us = ti.tcpi_rtt;
			sf.cwnd = ti.tcpi_snd_cwnd;
			sf.total_retrans = ti.tcpi_total_retrans;
			sf.bytes_acked = ti.tcpi_bytes_acked;
			sf.bytes_received = ti.tcpi_bytes_received;
			sf.delivery_rate = ti.tcpi_delivery_rate;
		}
		if (grow((void **)&c->d->subflows, &c->d->cap_subflows, c->d->nr_subflows,
			 sizeof(*dst)))
			goto nomem;
		c->d->subflows[c->d->nr_subflows++] = sf;
	}
	return MNL_CB_OK;
nomem:
	c->err = -ENOMEM;
	return MNL_CB_ERROR;
}

/*
 * Every message of a batch lies inside it. libmnl compares nlmsg_len as a
 * signed int, so a length over 2 GiB would walk it out of the buffer (found by
 * the fuzzer): checked here, with unsigned arithmetic, before it runs.
 */
static bool batch_sane(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	size_t off = 0;

	while (len - off >= sizeof(*nlh)) {
		nlh = (const struct nlmsghdr *)((const char *)buf + off);
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			return false;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		if (off > len)
			return true;	/* the last message needs no padding */
	}
	return true;
}

static int dump(struct dump_ctx *c, int family, int storage_map_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct inet_diag_req_v2 *req;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	unsigned int seq = time(NULL), portid;
	int ret, err = 0;

	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0U;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	if (c->mptcp) {
		mnl_attr_put_u32(nlh, INET_DIAG_REQ_PROTOCOL, IPPROTO_MPTCP);
		if (storage_map_fd >= 0) {
			struct nlattr *nest = mnl_attr_nest_start(nlh, INET_DIAG_REQ_SK_BPF_STORAGES);

			mnl_attr_put_u32(nlh, SK_DIAG_BPF_STORAGE_REQ_MAP_FD, storage_map_fd);
			mnl_attr_nest_end(nlh, nest);
		}
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	do {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0) {
			err = -errno;
			break;
		}
		if (!batch_sane(buf, ret)) {
			err = -EBADMSG;
			break;
		}
		ret = mnl_cb_run(buf, ret, seq, portid, on_socket, c);
		if (ret < 0 && errno == EINTR && !c->err) {
			/* libmnl stops at NLM_F_DUMP_INTR: the dump is partial, the caller retries */
			c->interrupted = true;
			break;
		}
		if (ret < 0)
			err = c->err ? c->err : -errno;
	} while (ret > 0);
out:
	mnl_socket_close(nl);
	return err;
}

int diag_collect(struct mu_diag *d, unsigned long netns, const __u64 *cgids, size_t nr_cgids,
		 int storage_map_fd)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct dump_ctx c = { .d = d, .netns = netns, .cgids = cgids, .nr_cgids = nr_cgids };
	int i, err;

	for (i = 0; i < 2; i++) {
		c.mptcp = true;
		err = dump(&c, families[i], storage_map_fd);
		if (err)
			return err;
		c.mptcp = false;
		err = dump(&c, families[i], -1);
		if (err)
			return err;
	}
	/* Sockets came and went during the dump: the caller may take it again. */
	return c.interrupted ? -EAGAIN : 0;
}

int diag_parse(struct mu_diag *d, const void *buf, size_t len, unsigned long netns,
	       const __u64 *cgids, size_t nr_cgids, bool mptcp)
{
	struct dump_ctx c = { .d = d, .netns = netns, .cgids = cgids, .nr_cgids = nr_cgids,
			      .mptcp = mptcp };
	int ret;

	if (!batch_sane(buf, len))
		return -EBADMSG;
	ret = mnl_cb_run(buf, len, 0, 0, on_socket, &c);
	if (ret < 0 && errno == EINTR && !c.err)
		return -EAGAIN;
	if (ret < 0)
		return c.err ? c.err : -EINVAL;
	return c.interrupted ? -EAGAIN : 0;
}

int diag_probe_mptcp(void)
{
	struct mu_diag d = {};
	struct dump_ctx c = { .d = &d, .mptcp = true };	/* no cgroup id: keeps nothing */
	int err = dump(&c, AF_INET, -1);

	diag_free(&d);
	return err;
}

static int cmp_subflow(const void *pa, const void *pb)
{
	const struct mu_subflow *a = pa, *b = pb;

	if (a->netns != b->netns)
		return a->netns < b->netns ? -1 : 1;
	if (a->token != b->token)
		return a->token < b->token ? -1 : 1;
	/* The first subflow (MP_CAPABLE, local id 0) before the joins. */
	return (int)a->id_loc - (int)b->id_loc;
}

static int cmp_token(const void *pa, const void *pb)
{
	const struct mu_subflow *a = pa, *b = pb;

	if (a->netns != b->netns)
		return a->netns < b->netns ? -1 : 1;
	return a->token < b->token ? -1 : a->token > b->token;
}

void diag_join(struct mu_diag *d)
{
	size_t i, j;

	if (!d->nr_subflows)
		return;		/* qsort and bsearch want an array, even of nothing */
	qsort(d->subflows, d->nr_subflows, sizeof(*d->subflows), cmp_subflow);
	for (i = 0; i < d->nr_conns; i++) {
		struct mu_conn *c = &d->conns[i];
		struct mu_subflow probe = { .netns = c->netns, .token = c->info.token };
		struct mu_subflow *hit;

		if (!c->info.token)
			continue;	/* fallback before a token existed: no subflow to show */
		hit = bsearch(&probe, d->subflows, d->nr_subflows, sizeof(probe), cmp_token);
		if (!hit)
			continue;
		/* bsearch may land anywhere in the run: go back to its start. */
		while (hit > d->subflows && hit[-1].netns == c->netns &&
		       hit[-1].token == c->info.token)
			hit--;
		for (j = hit - d->subflows; j < d->nr_subflows &&
		     d->subflows[j].netns == c->netns && d->subflows[j].token == c->info.token; j++)
			;
		c->subflows = hit;
		c->nr_subflows = &d->subflows[j] - hit;
	}
}

void diag_free(struct mu_diag *d)
{
	free(d->conns);
	free(d->subflows);
	free(d->tcp_listeners);
	memset(d, 0, sizeof(*d));
}

void endpoint_str(const struct mu_endpoint *ep, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(ep->family, ep->addr, ip, sizeof(ip));
	snprintf(out, size, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, ep->port);
}
