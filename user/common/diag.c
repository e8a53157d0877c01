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
#include <limits.h>
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
	diag_conn_fn fn;	/* for each MPTCP connection */
	void *ctx;
	bool interrupted;	/* NLM_F_DUMP_INTR seen */
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

/* ---- the subflow store ------------------------------------------------------------ */

/* The longest record: IPv6 ends, four u32 and three u64 varints. */
#define SF_REC_MAX (4 + 2 * (16 + 2) + 4 * 5 + 3 * 10)

static unsigned char *put_varint(unsigned char *p, __u64 v)
{
	while (v >= 0x80) {
		*p++ = (v & 0x7f) | 0x80;
		v >>= 7;
	}
	*p++ = v;
	return p;
}

/* Reads what put_varint wrote: the records are ours, never the kernel's bytes. */
static const unsigned char *get_varint(const unsigned char *p, __u64 *v)
{
	unsigned int shift = 0;
	__u64 x = 0;

	do {
		x |= (__u64)(*p & 0x7f) << shift;
		shift += 7;
	} while (*p++ & 0x80);
	*v = x;
	return p;
}

static unsigned char *put_end(unsigned char *p, const struct mu_endpoint *ep)
{
	size_t n = ep->family == AF_INET6 ? 16 : 4;

	memcpy(p, ep->addr, n);
	p += n;
	*p++ = ep->port >> 8;
	*p++ = ep->port & 0xff;
	return p;
}

static const unsigned char *get_end(const unsigned char *p, struct mu_endpoint *ep, int family)
{
	size_t n = family == AF_INET6 ? 16 : 4;

	memset(ep, 0, sizeof(*ep));
	ep->family = family;
	memcpy(ep->addr, p, n);
	p += n;
	ep->port = p[0] << 8 | p[1];
	return p + 2;
}

static int store_add(struct mu_subflow_store *st, const struct mu_subflow *sf)
{
	unsigned char *p;

	if (st->len > UINT32_MAX - SF_REC_MAX)
		return -E2BIG;	/* offsets are 32 bits: some 50 million subflows */
	while (st->cap - st->len < SF_REC_MAX) {
		size_t want = st->cap ? st->cap * 2 : 64 * 1024;
		unsigned char *n = realloc(st->rec, want);

		if (!n)
			return -ENOMEM;
		st->rec = n;
		st->cap = want;
	}
	if (grow((void **)&st->idx, &st->cap_idx, st->nr, sizeof(*st->idx)))
		return -ENOMEM;
	st->idx[st->nr].token = sf->token;
	st->idx[st->nr++].off = st->len;
	st->sorted = false;
	p = st->rec + st->len;
	*p++ = sf->local.family == AF_INET6;
	*p++ = sf->state;
	*p++ = sf->id_loc;
	*p++ = sf->id_rem;
	p = put_end(p, &sf->local);
	p = put_end(p, &sf->remote);
	p = put_varint(p, sf->flags);
	p = put_varint(p, sf->rtt_us);
	p = put_varint(p, sf->cwnd);
	p = put_varint(p, sf->total_retrans);
	p = put_varint(p, sf->bytes_acked);
	p = put_varint(p, sf->bytes_received);
	p = put_varint(p, sf->delivery_rate);
	st->len = p - st->rec;
	return 0;
}

static void store_get(const struct mu_subflow_store *st, const struct mu_sf_ref *ref,
		      unsigned long netns, struct mu_subflow *sf)
{
	const unsigned char *p = st->rec + ref->off;
	int family = p[0] ? AF_INET6 : AF_INET;
	__u64 v;

	memset(sf, 0, sizeof(*sf));
	sf->token = ref->token;
	sf->netns = netns;
	sf->state = p[1];
	sf->id_loc = p[2];
	sf->id_rem = p[3];
	p = get_end(p + 4, &sf->local, family);
	p = get_end(p, &sf->remote, family);
	p = get_varint(p, &v), sf->flags = v;
	p = get_varint(p, &v), sf->rtt_us = v;
	p = get_varint(p, &v), sf->cwnd = v;
	p = get_varint(p, &v), sf->total_retrans = v;
	p = get_varint(p, &sf->bytes_acked);
	p = get_varint(p, &sf->bytes_received);
	get_varint(p, &sf->delivery_rate);
}

static int cmp_ref(const void *pa, const void *pb)
{
	const struct mu_sf_ref *a = pa, *b = pb;

	if (a->token != b->token)
		return a->token < b->token ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;	/* in the order the kernel sent them */
}

/*
 * The subflows of connection @token into d->scratch, the first subflow
 * (MP_CAPABLE, local id 0) before the joins: how many, or -ENOMEM.
 */
static int subflows_of(struct mu_diag *d, __u32 token, unsigned long netns)
{
	struct mu_subflow_store *st = &d->sf;
	size_t lo = 0, hi = st->nr, i, n = 0;

	if (!token || !st->nr)
		return 0;	/* fallback before a token existed: no subflow to show */
	if (!st->sorted) {
		qsort(st->idx, st->nr, sizeof(*st->idx), cmp_ref);
		st->sorted = true;
	}
	while (lo < hi) {	/* the first reference with this token or a greater one */
		size_t mid = lo + (hi - lo) / 2;

		if (st->idx[mid].token < token)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < st->nr && st->idx[i].token == token; i++, n++) {
		struct mu_subflow sf;
		size_t j;

		if (grow((void **)&d->scratch, &d->cap_scratch, n, sizeof(*d->scratch)))
			return -ENOMEM;
		store_get(st, &st->idx[i], netns, &sf);
		for (j = n; j > 0 && d->scratch[j - 1].id_loc > sf.id_loc; j--)
			d->scratch[j] = d->scratch[j - 1];
		d->scratch[j] = sf;
	}
	return n;
}

void diag_clear_subflows(struct mu_diag *d)
{
	d->sf.len = 0;
	d->sf.nr = 0;
	d->sf.sorted = false;
}

/* An attribute of @type whose payload is what the kernel promises; anything else is skipped. */
static bool attr_ok(const struct nlattr *a, enum mnl_attr_data_type type)
{
	return mnl_attr_validate(a, type) >= 0;
}

/*
 * An engine's state out of INET_DIAG_SK_BPF_STORAGES, and the map it came
 * from. A socket has state in one of the maps asked for: the first is taken.
 */
static bool parse_storage(const struct nlattr *nest, struct mu_sock_state *st, __u32 *map_id)
{
	const struct nlattr *s, *a;
	bool have;

	mnl_attr_for_each_nested(s, nest) {
		if (mnl_attr_get_type(s) != SK_DIAG_BPF_STORAGE)
			continue;
		if (!attr_ok(s, MNL_TYPE_NESTED))
			continue;
		have = false;
		*map_id = 0;
		mnl_attr_for_each_nested(a, s) {
			if (mnl_attr_get_type(a) == SK_DIAG_BPF_STORAGE_MAP_ID &&
			    attr_ok(a, MNL_TYPE_U32))
				*map_id = mnl_attr_get_u32(a);
			if (mnl_attr_get_type(a) == SK_DIAG_BPF_STORAGE_MAP_VALUE &&
			    mnl_attr_get_payload_len(a) >= sizeof(*st)) {
				memcpy(st, mnl_attr_get_payload(a), sizeof(*st));
				have = true;
			}
		}
		if (have)
			return true;
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

/* One socket of a dump: 0, or -errno to end the dump. */
static int on_socket(const struct nlmsghdr *nlh, struct dump_ctx *c)
{
	const struct inet_diag_msg *r = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *info = NULL, *ulp = NULL, *stor = NULL, *a;
	bool have_cg = false, is_mptcp = false;
	__u64 cgid = 0;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*r))
		return 0;	/* too short to be a socket */
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
	if (!have_cg || !c->nr_cgids ||
	    !bsearch(&cgid, c->cgids, c->nr_cgids, sizeof(cgid), cmp_u64))
		return 0;

	if (c->mptcp) {
		struct mu_conn conn = {};
		int n;

		if (r->idiag_state == MU_TCP_LISTEN || !c->fn)
			return 0;
		endpoint(&conn.local, r->idiag_family, r->id.idiag_src, r->id.idiag_sport);
		endpoint(&conn.remote, r->idiag_family, r->id.idiag_dst, r->id.idiag_dport);
		conn.state = r->idiag_state;
		conn.cgroup_id = cgid;
		conn.inode = r->idiag_inode;
		conn.netns = c->netns;
		if (info) {
			conn.info_len = mnl_attr_get_payload_len(info);
			if (conn.info_len > sizeof(conn.info))
				conn.info_len = sizeof(conn.info);
			memcpy(&conn.info, mnl_attr_get_payload(info), conn.info_len);
		}
		if (stor)
			conn.has_state = parse_storage(stor, &conn.st, &conn.st_map_id);
		n = subflows_of(c->d, conn.info.token, c->netns);
		if (n < 0)
			return n;
		conn.subflows = c->d->scratch;
		conn.nr_subflows = n;
		return c->fn(&conn, c->ctx);
	} else {
		struct mu_subflow sf = {};
		struct tcp_info ti = {};

		if (ulp)
			parse_ulp(ulp, &sf, &is_mptcp);
		/* A plain TCP listener: in an attached cgroup, one that escaped the upgrade. */
		if (!is_mptcp && r->idiag_state == MU_TCP_LISTEN) {
			struct mu_listener *l;

			if (grow((void **)&c->d->tcp_listeners, &c->d->cap_tcp_listeners,
				 c->d->nr_tcp_listeners, sizeof(*l)))
				return -ENOMEM;
			l = &c->d->tcp_listeners[c->d->nr_tcp_listeners++];
			memset(l, 0, sizeof(*l));
			endpoint(&l->local, r->idiag_family, r->id.idiag_src, r->id.idiag_sport);
			l->cgroup_id = cgid;
			l->netns = c->netns;
			return 0;
		}
		if (!ulp || !is_mptcp || r->idiag_state == MU_TCP_LISTEN)
			return 0;
		if (r->idiag_family != AF_INET && r->idiag_family != AF_INET6)
			return 0;	/* the store keeps addresses of these two */
		endpoint(&sf.local, r->idiag_family, r->id.idiag_src, r->id.idiag_sport);
		endpoint(&sf.remote, r->idiag_family, r->id.idiag_dst, r->id.idiag_dport);
		sf.state = r->idiag_state;
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
		return store_add(&c->d->sf, &sf);
	}
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

/*
 * The messages of one batch, checked by batch_sane(): 1 when more are to
 * come, 0 at the end of the dump, or -errno. libmnl's mnl_cb_run() stops at
 * the first message flagged NLM_F_DUMP_INTR; this one notes it and reads on,
 * as the connections already given out can't be taken back.
 */
static int run_batch(struct dump_ctx *c, const void *buf, size_t len, unsigned int seq,
		     unsigned int portid)
{
	const struct nlmsghdr *nlh = buf;
	int left = len, err;

	while (mnl_nlmsg_ok(nlh, left)) {
		if (!mnl_nlmsg_portid_ok(nlh, portid) || !mnl_nlmsg_seq_ok(nlh, seq))
			return -EPROTO;
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			c->interrupted = true;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 0;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				return -EBADMSG;
			return e->error < 0 ? e->error : 0;
		}
		if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
			err = on_socket(nlh, c);
			if (err)
				return err;
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return 1;
}

static int dump(struct dump_ctx *c, int family, const int *storage_fds, size_t nr_storage)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct inet_diag_req_v2 *req;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	unsigned int seq = time(NULL), portid;
	ssize_t got;
	int ret = 0;

	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
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
	/*
	 * Listeners are asked for only by the listener check (no connection
	 * callback), and then nothing else: asked for, each dump walks the
	 * kernel's whole listening hash, whatever few sockets it holds (the
	 * MPTCP one once more, for its own listeners).
	 */
	req->idiag_states = !c->mptcp && !c->fn ? 1U << MU_TCP_LISTEN : ~(1U << MU_TCP_LISTEN);
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	if (c->mptcp) {
		mnl_attr_put_u32(nlh, INET_DIAG_REQ_PROTOCOL, IPPROTO_MPTCP);
		if (nr_storage) {
			struct nlattr *nest = mnl_attr_nest_start(nlh, INET_DIAG_REQ_SK_BPF_STORAGES);
			size_t i;

			for (i = 0; i < nr_storage; i++)
				mnl_attr_put_u32(nlh, SK_DIAG_BPF_STORAGE_REQ_MAP_FD, storage_fds[i]);
			mnl_attr_nest_end(nlh, nest);
		}
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		got = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (got < 0) {
			ret = -errno;
			break;
		}
		if (!batch_sane(buf, got)) {
			ret = -EBADMSG;
			break;
		}
		ret = run_batch(c, buf, got, seq, portid);
	} while (ret > 0);
out:
	mnl_socket_close(nl);
	return ret;
}

/* The subflows and listeners of both families, taken again (a few times) if interrupted. */
static int collect_subflows(struct dump_ctx *c)
{
	static const int families[] = { AF_INET, AF_INET6 };
	size_t listeners = c->d->nr_tcp_listeners;
	int i, err, tries = 0;

	c->mptcp = false;
	do {
		diag_clear_subflows(c->d);
		c->d->nr_tcp_listeners = listeners;
		c->interrupted = false;
		for (i = 0; i < 2; i++) {
			err = dump(c, families[i], NULL, 0);
			if (err)
				return err;
		}
	} while (c->interrupted && ++tries < 3);
	return 0;	/* still changing: keep the last one rather than nothing */
}

int diag_collect(struct mu_diag *d, unsigned long netns, const __u64 *cgids, size_t nr_cgids,
		 const int *storage_fds, size_t nr_storage, diag_conn_fn fn, void *ctx)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct dump_ctx c = { .d = d, .netns = netns, .cgids = cgids, .nr_cgids = nr_cgids,
			      .fn = fn, .ctx = ctx };
	int i, err;

	err = collect_subflows(&c);
	c.mptcp = true;
	for (i = 0; i < 2 && !err && fn; i++)
		err = dump(&c, families[i], storage_fds, nr_storage);
	diag_clear_subflows(d);
	return err;
}

int diag_parse(struct mu_diag *d, const void *buf, size_t len, unsigned long netns,
	       const __u64 *cgids, size_t nr_cgids, diag_conn_fn fn, void *ctx)
{
	struct dump_ctx c = { .d = d, .netns = netns, .cgids = cgids, .nr_cgids = nr_cgids,
			      .mptcp = fn != NULL, .fn = fn, .ctx = ctx };
	int ret;

	if (len > INT_MAX || !batch_sane(buf, len))
		return -EBADMSG;
	ret = run_batch(&c, buf, len, 0, 0);
	if (ret < 0)
		return ret;
	return c.interrupted ? -EAGAIN : 0;
}

int diag_probe_mptcp(void)
{
	struct mu_diag d = {};
	struct dump_ctx c = { .d = &d, .mptcp = true };	/* no cgroup id: keeps nothing */
	int err = dump(&c, AF_INET, NULL, 0);

	diag_free(&d);
	return err;
}

void diag_free(struct mu_diag *d)
{
	free(d->sf.rec);
	free(d->sf.idx);
	free(d->scratch);
	free(d->tcp_listeners);
	memset(d, 0, sizeof(*d));
}

void endpoint_str(const struct mu_endpoint *ep, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(ep->family, ep->addr, ip, sizeof(ip));
	snprintf(out, size, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, ep->port);
}
