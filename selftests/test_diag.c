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
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"

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

static int parse(struct msgbuf *m, struct mu_diag *d, bool mptcp)
{
	memset(d, 0, sizeof(*d));
	return diag_parse(d, m->buf, m->len, 1, cgids, 1, mptcp);
}

static void test_valid_connection(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, 0);
	struct mu_mptcp_info info = { .subflows = 2, .token = 0xabcd };
	struct mu_diag d;

	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	mnl_attr_put(nlh, INET_DIAG_INFO, sizeof(info), &info);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, true), 0);
	assert_int_equal(d.nr_conns, 1);
	assert_int_equal(d.conns[0].local.port, 443);
	assert_int_equal(d.conns[0].info.token, 0xabcd);
	diag_free(&d);
}

/* A cgroup id of 4 bytes is no cgroup id: the socket can't be placed, so it is not kept. */
static void test_short_cgroup_id(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, 0);
	struct mu_diag d;

	mnl_attr_put_u32(nlh, INET_DIAG_CGROUP_ID, CGID);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, true), 0);
	assert_int_equal(d.nr_conns, 0);
	diag_free(&d);
}

/* A message too short to hold inet_diag_msg is skipped, not read past. */
static void test_short_message(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(m.buf);
	struct mu_diag d;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	mnl_nlmsg_put_extra_header(nlh, 8);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, true), 0);
	assert_int_equal(d.nr_conns, 0);
	diag_free(&d);
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
	struct msgbuf m = {};
	struct mu_diag d;

	put_subflow(&m, "mptcp", 6, false);
	put_subflow(&m, "mptcp", 5, false);	/* not NUL-terminated */
	put_subflow(&m, "mptcp", 6, true);	/* a u8 where a u32 belongs */
	assert_int_equal(parse(&m, &d, false), 0);
	assert_int_equal(d.nr_subflows, 2);
	assert_int_equal(d.subflows[0].token, 0x1234);
	assert_int_equal(d.subflows[0].id_loc, 1);
	assert_int_equal(d.subflows[1].token, 0);
	assert_int_equal(d.subflows[1].id_loc, 1);
	diag_free(&d);
}

static void test_interrupted_dump(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, NLM_F_DUMP_INTR);
	struct mu_diag d;

	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, CGID);
	done(&m, nlh);
	assert_int_equal(parse(&m, &d, true), -EAGAIN);
	diag_free(&d);
}

/* A length past the buffer (over 2 GiB: libmnl compares it signed) is refused, not followed. */
static void test_length_past_buffer(void **state)
{
	struct msgbuf m = {};
	struct nlmsghdr *nlh = put_socket(&m, 0);
	struct mu_diag d;

	done(&m, nlh);
	nlh->nlmsg_len = 0xfffcffff;
	assert_int_equal(parse(&m, &d, true), -EBADMSG);
	assert_int_equal(d.nr_conns, 0);
	diag_free(&d);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_connection),
		cmocka_unit_test(test_short_cgroup_id),
		cmocka_unit_test(test_short_message),
		cmocka_unit_test(test_subflows),
		cmocka_unit_test(test_interrupted_dump),
		cmocka_unit_test(test_length_past_buffer),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
