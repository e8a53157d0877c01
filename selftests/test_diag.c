// SPDX-License-Identifier: GPL-2.0-only
/*
 * stats' sock_diag parsing on canned messages (review m2): what the kernel
 * sends is used, what is short, mistyped or unterminated is skipped, never
 * read past, and an interrupted dump is reported.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/mptcp.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/diag.h"

#define CGID 77
static const __u64 cgids[] = { CGID };

struct msgbuf {
	char buf[8192];
	size_t len;
};

/* One SOCK_DIAG_BY_FAMILY reply for an established IPv4 socket, without attributes. */
static struct nlmsghdr *put_socket(struct msgbuf *m, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(m->buf + m->len);
	struct inet_diag_msg *r;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI | flags;
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->idiag_family = AF_INET;
	r->idiag_state = 1;	/* established */
	r->id.idiag_sport = htons(443);
	r->id.idiag_dport = htons(40000);
	r->id.idiag_src[0] = htonl(0xc0000201);
	r->id.idiag_dst[0] = htonl(0xc0000202);
	return nlh;
}

static void done(struct msgbuf *m, struct nlmsghdr *nlh)
{
	m->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* What the connections given out looked like, copied while they were valid. */
struct seen {
	size_t nr;
	struct mu_conn conns[4];
	struct mu_subflow subflows[4][8];
};

static int record(const struct mu_conn *c, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->nr < 4);
	assert_true(c->nr_subflows <= 8);
	s->conns[s->nr] = *c;
	if (c->nr_subflows)
		memcpy(s->subflows[s->nr], c->subflows, c->nr_subflows * sizeof(*c->subflows));
	s->nr++;
	return 0;
}

/* A TCP dump (@seen NULL): subflows into @d. An MPTCP dump: connections into @seen. */
static int parse(struct msgbuf *m, struct mu_diag *d, struct seen *seen)
{
	return diag_parse(d, m->buf, m->len, 1, cgids, 1, seen ? record : NULL, seen);
}

static void test_valid_connection(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, 0);
	struct mu_mptcp_info info = { .subflows = 2, .token = 0xabcd };
	struct mu_diag d = {};
	struct seen seen = {};

	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	mnl_attr_put(nlh, INET_DIAG_INFO, sizeof(info), &info);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, &seen), 0);
	assert_int_equal(seen.nr, 1);
	assert_int_equal(seen.conns[0].local.port, 443);
	assert_int_equal(seen.conns[0].info.token, 0xabcd);
	assert_int_equal(seen.conns[0].nr_subflows, 0);
	diag_free(&d);
}

/* A cgroup id of 4 bytes is no cgroup id: the socket can't be placed, so it is not kept. */
static void test_short_cgroup_id(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, 0);
	struct mu_diag d = {};
	struct seen seen = {};

	mnl_attr_put_u32(nlh, INET_DIAG_CGROUP_ID, CGID);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, &seen), 0);
	assert_int_equal(seen.nr, 0);
	diag_free(&d);
}

/* A message too short to hold inet_diag_msg is skipped, not read past. */
static void test_short_message(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(m.buf);
	struct mu_diag d = {};
	struct seen seen = {};

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	mnl_nlmsg_put_extra_header(nlh, 8);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, &seen), 0);
	assert_int_equal(seen.nr, 0);
	diag_free(&d);
}

struct sf_spec {
	int family;
	__u32 token;
	__u8 id_loc, id_rem;
	__u16 sport;
	__u32 flags;
	struct tcp_info ti;
};

/* A subflow's socket, as the kernel's TCP dump describes it. */
static void put_sf(struct msgbuf *m, const struct sf_spec *sp)
{
	struct nlmsghdr *nlh = put_socket(m, 0);
	struct inet_diag_msg *r = mnl_nlmsg_get_payload(nlh);
	struct nlattr *ulp, *mp;

	r->idiag_family = sp->family;
	r->id.idiag_sport = htons(sp->sport);
	if (sp->family == AF_INET6) {
		r->id.idiag_src[0] = htonl(0x20010db8);
		r->id.idiag_src[3] = htonl(sp->sport);
		r->id.idiag_dst[0] = htonl(0x20010db8);
		r->id.idiag_dst[3] = htonl(0xffffffff);
	}
	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	mnl_attr_put(nlh, INET_DIAG_INFO, sizeof(sp->ti), &sp->ti);
	ulp = mnl_attr_nest_start(nlh, INET_DIAG_ULP_INFO);
	mnl_attr_put_strz(nlh, INET_ULP_INFO_NAME, "mptcp");
	mp = mnl_attr_nest_start(nlh, INET_ULP_INFO_MPTCP);
	mnl_attr_put_u32(nlh, MPTCP_SUBFLOW_ATTR_TOKEN_LOC, sp->token);
	mnl_attr_put_u32(nlh, MPTCP_SUBFLOW_ATTR_FLAGS, sp->flags);
	mnl_attr_put_u8(nlh, MPTCP_SUBFLOW_ATTR_ID_LOC, sp->id_loc);
	mnl_attr_put_u8(nlh, MPTCP_SUBFLOW_ATTR_ID_REM, sp->id_rem);
	mnl_attr_nest_end(nlh, mp);
	mnl_attr_nest_end(nlh, ulp);
	done(m, nlh);
}

/* An MPTCP connection of @token. */
static void put_conn(struct msgbuf *m, __u32 token)
{
	struct nlmsghdr *nlh = put_socket(m, 0);
	struct mu_mptcp_info info = { .token = token };

	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	mnl_attr_put(nlh, INET_DIAG_INFO, sizeof(info), &info);
	done(m, nlh);
}

/* A subflow: the ULP name must be a terminated "mptcp", each field of its own size. */
static void put_subflow(struct msgbuf *m, const char *name, size_t name_len, bool short_token)
{
	struct nlmsghdr *nlh = put_socket(m, 0);
	struct nlattr *ulp, *mp;

	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	ulp = mnl_attr_nest_start(nlh, INET_DIAG_ULP_INFO);
	mnl_attr_put(nlh, INET_ULP_INFO_NAME, name_len, name);
	mp = mnl_attr_nest_start(nlh, INET_ULP_INFO_MPTCP);
	if (short_token)
		mnl_attr_put_u8(nlh, MPTCP_SUBFLOW_ATTR_TOKEN_LOC, 0x12);
	else
		mnl_attr_put_u32(nlh, MPTCP_SUBFLOW_ATTR_TOKEN_LOC, 0x1234);
	mnl_attr_put_u8(nlh, MPTCP_SUBFLOW_ATTR_ID_LOC, 1);
	mnl_attr_nest_end(nlh, mp);
	mnl_attr_nest_end(nlh, ulp);
	done(m, nlh);
}

static void test_subflows(void **state)
{
	struct msgbuf m = {}, c = {};
	struct mu_diag d = {};
	struct seen seen = {};

	put_subflow(&m, "mptcp", 6, false);
	put_subflow(&m, "mptcp", 5, false);	/* not NUL-terminated */
	put_subflow(&m, "mptcp", 6, true);	/* a u8 where a u32 belongs: no token */
	assert_int_equal(parse(&m, &d, NULL), 0);
	assert_int_equal(d.sf.nr, 2);
	put_conn(&c, 0x1234);
	put_conn(&c, 0);	/* fell back before it had a token: the tokenless subflow isn't its */
	assert_int_equal(parse(&c, &d, &seen), 0);
	assert_int_equal(seen.nr, 2);
	assert_int_equal(seen.conns[0].nr_subflows, 1);
	assert_int_equal(seen.subflows[0][0].token, 0x1234);
	assert_int_equal(seen.subflows[0][0].id_loc, 1);
	assert_int_equal(seen.conns[1].nr_subflows, 0);
	diag_free(&d);
}

/*
 * The compact store gives back what the kernel said, field by field: both
 * families, counters at their widest, and each connection gets its own
 * subflows, the first (local id 0) before the joins whatever the dump's order.
 */
static void test_store_round_trip(void **state)
{
	struct sf_spec sp[] = {
		{ .family = AF_INET, .token = 7, .id_loc = 2, .id_rem = 1, .sport = 50002 },
		{ .family = AF_INET6, .token = 0xffffffff, .id_loc = 0, .sport = 1,
		  .flags = MPTCP_SUBFLOW_FLAG_BKUP_REM | 0x80000000 },
		{ .family = AF_INET, .token = 7, .id_loc = 0, .id_rem = 0, .sport = 50000 },
		{ .family = AF_INET, .token = 5, .id_loc = 0, .sport = 65535 },
		{ .family = AF_INET, .token = 7, .id_loc = 1, .id_rem = 3, .sport = 50001 },
	};
	struct msgbuf m = {}, c = {};
	struct mu_diag d = {};
	struct seen seen = {};
	const struct mu_subflow *s;
	size_t i;

	sp[1].ti.tcpi_rtt = UINT32_MAX;
	sp[1].ti.tcpi_snd_cwnd = 0x80;
	sp[1].ti.tcpi_total_retrans = 0x7f;
	sp[1].ti.tcpi_bytes_acked = UINT64_MAX;
	sp[1].ti.tcpi_bytes_received = 1ULL << 63;
	sp[1].ti.tcpi_delivery_rate = 0x3fff;
	sp[0].ti.tcpi_rtt = 1234;
	sp[0].ti.tcpi_bytes_acked = 99;
	for (i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
		put_sf(&m, &sp[i]);
	assert_int_equal(parse(&m, &d, NULL), 0);
	put_conn(&c, 7);
	put_conn(&c, 0xffffffff);
	put_conn(&c, 6);	/* no subflow of its own: none of its neighbours' */
	assert_int_equal(parse(&c, &d, &seen), 0);
	assert_int_equal(seen.nr, 3);

	assert_int_equal(seen.conns[0].nr_subflows, 3);
	for (i = 0; i < 3; i++) {
		s = &seen.subflows[0][i];
		assert_int_equal(s->id_loc, i);
		assert_int_equal(s->local.port, 50000 + i);
		assert_int_equal(s->local.family, AF_INET);
		assert_int_equal(s->remote.port, 40000);
		assert_int_equal(s->token, 7);
		assert_int_equal(s->netns, 1);
		assert_int_equal(s->state, 1);
	}
	assert_int_equal(seen.subflows[0][1].id_rem, 3);
	assert_int_equal(seen.subflows[0][2].rtt_us, 1234);
	assert_int_equal(seen.subflows[0][2].bytes_acked, 99);
	assert_memory_equal(seen.subflows[0][0].local.addr, "\xc0\x00\x02\x01", 4);
	assert_memory_equal(seen.subflows[0][0].remote.addr, "\xc0\x00\x02\x02", 4);

	assert_int_equal(seen.conns[1].nr_subflows, 1);
	s = &seen.subflows[1][0];
	assert_int_equal(s->local.family, AF_INET6);
	assert_int_equal(s->remote.family, AF_INET6);
	assert_int_equal(s->local.port, 1);
	assert_memory_equal(s->local.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	assert_memory_equal(s->remote.addr + 12, "\xff\xff\xff\xff", 4);
	assert_int_equal(s->flags, MPTCP_SUBFLOW_FLAG_BKUP_REM | 0x80000000);
	assert_int_equal(s->rtt_us, UINT32_MAX);
	assert_int_equal(s->cwnd, 0x80);
	assert_int_equal(s->total_retrans, 0x7f);
	assert_true(s->bytes_acked == UINT64_MAX);
	assert_true(s->bytes_received == 1ULL << 63);
	assert_int_equal(s->delivery_rate, 0x3fff);

	assert_int_equal(seen.conns[2].nr_subflows, 0);
	diag_clear_subflows(&d);
	seen.nr = 0;
	assert_int_equal(parse(&c, &d, &seen), 0);
	assert_int_equal(seen.conns[0].nr_subflows, 0);	/* forgotten */
	diag_free(&d);
}

/* Many subflows: the store grows past its first allocation and still finds each one. */
static void test_store_grows(void **state)
{
	struct mu_diag d = {};
	struct seen seen = {};
	struct sf_spec sp = { .family = AF_INET6 };
	__u32 n;

	for (n = 0; n < 6000; n++) {
		struct msgbuf m = {};

		sp.token = 6000 - n;	/* arriving in the reverse order of tokens */
		sp.sport = n;
		sp.ti.tcpi_bytes_acked = (__u64)n << 40;
		put_sf(&m, &sp);
		assert_int_equal(parse(&m, &d, NULL), 0);
	}
	assert_int_equal(d.sf.nr, 6000);
	assert_true(d.sf.cap > 64 * 1024);
	for (n = 1; n <= 6000; n += 997) {
		struct msgbuf c = {};

		seen.nr = 0;
		put_conn(&c, n);
		assert_int_equal(parse(&c, &d, &seen), 0);
		assert_int_equal(seen.conns[0].nr_subflows, 1);
		assert_int_equal(seen.subflows[0][0].local.port, 6000 - n);
		assert_true(seen.subflows[0][0].bytes_acked == (__u64)(6000 - n) << 40);
	}
	diag_free(&d);
}

/* A callback's error ends the dump with it. */
static int refuse(const struct mu_conn *c, void *ctx)
{
	(*(int *)ctx)++;
	return -ECANCELED;
}

static void test_callback_error(void **state)
{
	struct msgbuf c = {};
	struct mu_diag d = {};
	int calls = 0;

	put_conn(&c, 1);
	put_conn(&c, 2);
	assert_int_equal(diag_parse(&d, c.buf, c.len, 1, cgids, 1, refuse, &calls), -ECANCELED);
	assert_int_equal(calls, 1);
	diag_free(&d);
}

/* A dump flagged as interrupted is read to its end and reported. */
static void test_interrupted_dump(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, NLM_F_DUMP_INTR);
	struct mu_diag d = {};
	struct seen seen = {};

	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	done(&m, nlh);
	put_conn(&m, 3);
	assert_int_equal(parse(&m, &d, &seen), -EAGAIN);
	assert_int_equal(seen.nr, 2);
	diag_free(&d);
}

/* The kernel's error ends a dump with it; an acknowledgement, as the end. */
static void test_error_message(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;
	struct mu_diag d = {};
	struct seen seen = {};

	put_conn(&m, 3);
	nlh = mnl_nlmsg_put_header(m.buf + m.len);
	nlh->nlmsg_type = NLMSG_ERROR;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -ENOENT;
	done(&m, nlh);
	put_conn(&m, 4);	/* past the error: not read */
	assert_int_equal(parse(&m, &d, &seen), -ENOENT);
	assert_int_equal(seen.nr, 1);
	e->error = 0;
	seen.nr = 0;
	assert_int_equal(parse(&m, &d, &seen), 0);
	assert_int_equal(seen.nr, 1);
	diag_free(&d);
}

/* A length past the buffer (over 2 GiB: libmnl compares it signed) is refused, not followed. */
static void test_length_past_buffer(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, 0);
	struct mu_diag d = {};
	struct seen seen = {};

	done(&m, nlh);
	nlh->nlmsg_len = 0xfffcffff;
	assert_int_equal(parse(&m, &d, &seen), -EBADMSG);
	assert_int_equal(seen.nr, 0);
	diag_free(&d);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_connection),
		cmocka_unit_test(test_short_cgroup_id),
		cmocka_unit_test(test_short_message),
		cmocka_unit_test(test_subflows),
		cmocka_unit_test(test_store_round_trip),
		cmocka_unit_test(test_store_grows),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_interrupted_dump),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_length_past_buffer),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
