// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy parser tests, table-driven: every example of the policy syntax
 * reference, every error rule (with the exact line:column it must point at),
 * and the inputs a careful reviewer throws at a parser. Output is TAP, so that
 * prove runs these beside the CLI scripts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/policy.h"
#include "resolver_stub.h"
#include "common/jsonw.h"
#include "common/sha256.h"
#include <json-c/json.h>

#define FILE_NAME "test.policy"

/* A policy that must parse, and its entries as "ROLE FAMILY PREFIX PORTS; ...". */
struct valid_case {
	const char *text;
	const char *want;
};

/* A policy that must fail, where ("LINE:COL") and with what words. */
struct error_case {
	const char *text;
	size_t len;		/* the text may hold NUL bytes */
	const char *where;
	const char *want;
};

/* A literal with its length, NUL bytes included. */
#define T(s) s, sizeof(s) - 1

static const struct valid_case valid_cases[] = {
	/* The address table of the syntax reference, row by row. */
	{ "mptcp@:443",			"both ipv4 0.0.0.0/0 443" },
	{ "mptcp@*:443",		"both ipv4 0.0.0.0/0 443" },
	{ "mptcp@0.0.0.0:443",		"both ipv4 0.0.0.0/0 443" },
	{ "mptcp@[::]:443",		"both ipv6 ::/0 443" },
	{ "mptcp@:::443",		"both ipv6 ::/0 443" },
	{ "mptcp6@:443",		"both ipv6 ::/0 443" },
	{ "mptcp6@*:443",		"both ipv6 ::/0 443" },
	{ "mptcp@10.0.0.5:80",		"both ipv4 10.0.0.5/32 80" },
	{ "mptcp@[2001:db8::1]:80",	"both ipv6 2001:db8::1/128 80" },
	{ "mptcp6@2001:db8::1:80",	"both ipv6 2001:db8::1/128 80" },
	{ "mptcp6@2001:db8::1:",	"both ipv6 2001:db8::1/128 all" },
	{ "mptcp@10.0.0.0/8:80",	"both ipv4 10.0.0.0/8 80" },
	{ "mptcp@[2001:db8::/32]:80",	"both ipv6 2001:db8::/32 80" },
	{ "mptcp4@localhost:80",	"both ipv4 127.0.0.1/32 80" },
	/* Prefixes and families. */
	{ "mptcp4@10.1.2.3:443",	"both ipv4 10.1.2.3/32 443" },
	{ "mptcp4@*",			"both ipv4 0.0.0.0/0 all" },
	{ "mptcp4@:443",		"both ipv4 0.0.0.0/0 443" },
	{ "mptcp6@[::1]:443",		"both ipv6 ::1/128 443" },
	{ "mptcp6@[::]:443",		"both ipv6 ::/0 443" },
	/* IPv4-mapped: matched as IPv4 by the engine (review m1), so entered as IPv4. */
	{ "mptcp@[::ffff:10.0.0.1]:80",	"both ipv4 10.0.0.1/32 80" },
	{ "mptcp6@[::ffff:10.0.0.0/104]:80", "both ipv4 10.0.0.0/8 80" },
	{ "stream+mptcp@:443",		"both ipv4 0.0.0.0/0 443" },
	{ "stream+mptcp6@[::1]:443",	"both ipv6 ::1/128 443" },
	/* Ports. */
	{ "mptcp@:8000-8100",		"both ipv4 0.0.0.0/0 8000-8100" },
	{ "mptcp@:1-65535",		"both ipv4 0.0.0.0/0 1-65535" },
	{ "mptcp@:65535",		"both ipv4 0.0.0.0/0 65535" },
	{ "mptcp@:1",			"both ipv4 0.0.0.0/0 1" },
	{ "mptcp@:443-443",		"both ipv4 0.0.0.0/0 443" },
	{ "mptcp@10.0.0.5:080",		"both ipv4 10.0.0.5/32 80" },
	{ "mptcp@10.0.0.5",		"both ipv4 10.0.0.5/32 all" },
	{ "mptcp@10.0.0.5:",		"both ipv4 10.0.0.5/32 all" },
	{ "mptcp@[2001:db8::1]",	"both ipv6 2001:db8::1/128 all" },
	/* CIDR. */
	{ "mptcp@0.0.0.0/0:80",		"both ipv4 0.0.0.0/0 80" },
	{ "mptcp@192.168.1.0/24",	"both ipv4 192.168.1.0/24 all" },
	{ "mptcp@10.0.0.5/32:80",	"both ipv4 10.0.0.5/32 80" },
	{ "mptcp@[::/0]:80",		"both ipv6 ::/0 80" },
	{ "mptcp6@2001:db8::/48:443",	"both ipv6 2001:db8::/48 443" },
	/* bind and server lines pasted from haproxy.cfg. */
	{ "bind mptcp@:443",		"bind ipv4 0.0.0.0/0 443" },
	{ "bind mptcp@:443 ssl crt /etc/haproxy/site.pem alpn h2,http/1.1",
					"bind ipv4 0.0.0.0/0 443" },
	{ "bind mptcp4@:80,mptcp6@:80",	"bind ipv4 0.0.0.0/0 80; bind ipv6 ::/0 80" },
	{ "bind mptcp@10.0.0.1:80,mptcp@10.0.0.2:8080-8081 name web",
		"bind ipv4 10.0.0.1/32 80; bind ipv4 10.0.0.2/32 8080-8081" },
	{ "bind stream+mptcp@[::]:443 v4v6", "bind ipv6 ::/0 443" },
	{ "server s1 mptcp@10.0.0.5:80 check weight 10", "connect ipv4 10.0.0.5/32 80" },
	{ "server be1 mptcp6@[2001:db8::5]:8080 check inter 2s",
					"connect ipv6 2001:db8::5/128 8080" },
	{ "server local mptcp4@localhost:8080", "connect ipv4 127.0.0.1/32 8080" },
	{ "mptcp@10.0.0.1:80,mptcp@10.0.0.2:81",
		"both ipv4 10.0.0.1/32 80; both ipv4 10.0.0.2/32 81" },
	/* Comments, blanks, white space and line ends. */
	{ "",				"" },
	{ "\n\n\n",			"" },
	{ "# only a comment",		"" },
	{ "   \t  # indented comment",	"" },
	{ "  \tbind\tmptcp@:443   ",	"bind ipv4 0.0.0.0/0 443" },
	{ "bind mptcp@:443 # web",	"bind ipv4 0.0.0.0/0 443" },
	{ "mptcp@:443# no blank before the comment", "both ipv4 0.0.0.0/0 443" },
	{ "bind mptcp@:443\r\nserver s mptcp@10.0.0.1:80\r\n",
		"bind ipv4 0.0.0.0/0 443; connect ipv4 10.0.0.1/32 80" },
	{ "mptcp@:443",			"both ipv4 0.0.0.0/0 443" },	/* no final newline */
	{ "# a\nbind mptcp@:80\n\n# b\nmptcp@[::1]:443\n",
		"bind ipv4 0.0.0.0/0 80; both ipv6 ::1/128 443" },
	/* Duplicates and overlaps are accepted, in order. */
	{ "mptcp@:443\nmptcp@:443",	"both ipv4 0.0.0.0/0 443; both ipv4 0.0.0.0/0 443" },
};

static const struct error_case error_cases[] = {
	/* No mptcp prefix: an error with a hint, never skipped. */
	{ T("bind :443"), "1:6", "':443' has no mptcp@, mptcp4@ or mptcp6@ prefix" },
	{ T("bind 10.0.0.1:80"),		"1:6",  "has no mptcp@" },
	{ T("server s1 10.0.0.5:80 check"), "1:11", "has no mptcp@" },
	{ T(":443"),			"1:1",  "has no mptcp@" },
	{ T("10.0.0.1:80"),		"1:1",  "has no mptcp@" },
	{ T("bind mptcp@:80,:443"),	"1:16", "':443' has no mptcp@" },
	{ T("bind mptcp@:80,"),		"1:16", "empty address in comma list" },
	{ T("bind ,mptcp@:80"),		"1:6",  "empty address in comma list" },
	/* Other HAProxy prefixes are named. */
	{ T("ipv4@:443"), "1:1", "prefix 'ipv4@' is not an MPTCP address prefix" },
	{ T("ipv6@[::1]:443"),		"1:1",  "prefix 'ipv6@'" },
	{ T("bind tcp@:443"),		"1:6",  "prefix 'tcp@'" },
	{ T("bind tcp4@:443"),		"1:6",  "prefix 'tcp4@'" },
	{ T("bind udp@:443"),		"1:6",  "prefix 'udp@'" },
	{ T("bind quic4@:443"),		"1:6",  "prefix 'quic4@'" },
	{ T("bind unix@/run/haproxy.sock"), "1:6", "prefix 'unix@'" },
	{ T("bind abns@haproxy"),		"1:6",  "prefix 'abns@'" },
	{ T("bind fd@3"),			"1:6",  "prefix 'fd@'" },
	{ T("bind sockpair@4"),		"1:6",  "prefix 'sockpair@'" },
	{ T("bind MPTCP@:443"),		"1:6",  "prefix 'MPTCP@'" },
	{ T("bind @:443"),			"1:6",  "prefix '@'" },
	{ T("bind dgram+mptcp@:443"),	"1:6",  "socket type prefix 'dgram+'" },
	{ T("bind stream+udp@:443"),	"1:13", "prefix 'udp@'" },
	/* Family rules. */
	{ T("mptcp4@[::1]:80"), "1:9", "mptcp4@ takes IPv4 addresses only, '::1' is an IPv6" },
	{ T("mptcp4@:::443"),		"1:8",  "mptcp4@ takes IPv4 addresses only" },
	{ T("mptcp6@10.0.0.5:80"), "1:8", "mptcp6@ takes IPv6 addresses only, '10.0.0.5'" },
	{ T("mptcp6@0.0.0.0:443"),		"1:8",  "mptcp6@ takes IPv6 addresses only" },
	{ T("mptcp6@10.0.0.0/8"),		"1:8",  "mptcp6@ takes IPv6 addresses only" },
	{ T("mptcp@[10.0.0.1]:80"),	"1:8",  "brackets are for IPv6 addresses only" },
	/* Addresses. */
	{ T("mptcp6@2001:db8::1"), "1:8", "'2001:db8:' is not a valid IPv6 address (without "
						"brackets the port follows the last ':'" },
	{ T("mptcp@::1"),			"1:7",  "not a valid IPv6 address" },
	{ T("mptcp@[::1"),			"1:7",  "missing ']' in '[::1'" },
	{ T("mptcp@[::1]80"),		"1:12", "unexpected '80' after ']'" },
	{ T("mptcp@[]:80"),		"1:8",  "empty address in brackets" },
	{ T("mptcp@[fe80::1%eth0]:80"),	"1:8",  "zone indexes are not supported" },
	{ T("mptcp@10.0.0.256:80"),	"1:7",  "'10.0.0.256' is not a valid IPv4 address" },
	{ T("mptcp@10.0.0:80"),		"1:7",  "not a valid IPv4 address" },
	{ T("mptcp@10.0.0.1.1:80"),	"1:7",  "not a valid IPv4 address" },
	{ T("mptcp@[2001:db8:::1]:80"),	"1:8",  "not a valid IPv6 address" },
	{ T("mptcp@10.0.0.1/33:80"),	"1:16", "invalid prefix length '33' (expected 0 to 32)" },
	{ T("mptcp@[2001:db8::/129]:80"),
		"1:19", "invalid prefix length '129' (expected 0 to 128)" },
	{ T("mptcp@10.0.0.0/:80"),		"1:16", "invalid prefix length ''" },
	{ T("mptcp@10.0.0.0/-8"),		"1:16", "invalid prefix length '-8'" },
	{ T("mptcp@10.0.0.0/99999999999999999999"), "1:16", "invalid prefix length" },
	{ T("mptcp@10.0.0.1/8:80"),	"1:7",  "'10.0.0.1/8' has bits set past the /8 prefix" },
	{ T("mptcp@[2001:db8::1/32]:80"),	"1:8",  "has bits set past the /32 prefix" },
	{ T("mptcp@"),			"1:7",  "missing address after mptcp@" },
	{ T("mptcp6@"),			"1:8",  "missing address after mptcp6@" },
	{ T("mptcp@no-such-host.invalid:80"),
		"1:7", "can't resolve host name 'no-such-host.invalid'" },
	{ T("mptcp@bad..name:80"), "1:7", "'bad..name' is neither an IP address nor a host name" },
	{ T("mptcp@bad!name:80"),		"1:7",  "neither an IP address nor a host name" },
	/* Ports. */
	{ T("mptcp@:0"),			"1:8",  "port '0' is not allowed" },
	{ T("mptcp@:0-80"),		"1:8",  "port '0' is not allowed" },
	{ T("mptcp@:65536"),		"1:8",  "port '65536' is over 65535" },
	{ T("mptcp@:80-65536"),		"1:11", "port '65536' is over 65535" },
	{ T("mptcp@:99999999999999999999999999"), "1:8", "is over 65535" },
	{ T("mptcp@:100-99"),		"1:8",  "port range '100-99' runs backwards" },
	{ T("mptcp@:80-"),			"1:11", "missing port number" },
	{ T("mptcp@:80--90"),		"1:11", "port offset '-90' is not supported" },
	{ T("mptcp@:-80"),			"1:8",  "port offset '-80' is not supported" },
	{ T("mptcp@:+80"),			"1:8",  "port offset '+80' is not supported" },
	{ T("server s1 mptcp@10.0.0.5:+1000"), "1:26", "port offset '+1000' is not supported" },
	{ T("server s1 mptcp@10.0.0.5:-1000"), "1:26", "port offset '-1000'" },
	{ T("mptcp@:http"),		"1:8",  "invalid port 'http'" },
	{ T("mptcp@:8o"),			"1:8",  "invalid port '8o'" },
	{ T("mptcp@:8 0"),			"1:10", "unexpected '0' after the address" },
	/* Line forms. */
	{ T("frontend web"), "1:1", "unknown keyword 'frontend' (expected 'bind', 'server' "
						"or an mptcp@ address)" },
	{ T("listen stats"),		"1:1",  "unknown keyword 'listen'" },
	{ T("Bind mptcp@:443"),		"1:1",  "unknown keyword 'Bind'" },
	{ T("bind"),			"1:1",  "bind line without an address" },
	{ T("bind   # nothing"),		"1:1",  "bind line without an address" },
	{ T("server"),			"1:1",  "server line needs a name and an address" },
	{ T("server mptcp@10.0.0.1:80"),	"1:8",  "server line needs a name and an address" },
	{ T("server s1"),			"1:10", "server 's1' has no address" },
	{ T("server s1 # check"),		"1:10", "server 's1' has no address" },
	{ T("mptcp@:443 ssl"),		"1:12", "unexpected 'ssl' after the address" },
	/* Truncated lines. */
	{ T("bind mptcp@[2001:db8::1"),	"1:12", "missing ']'" },
	{ T("mptcp6@["),			"1:8",  "missing ']'" },
	{ T("mptcp@10.0.0."),		"1:7",  "not a valid IPv4 address" },
	{ T("server s1 mptcp"),		"1:11", "'mptcp' has no mptcp@" },
	{ T("bind mptcp"),			"1:6",  "has no mptcp@" },
	/* Location: later lines, CRLF files, tabs. */
	{ T("# ok\nbind mptcp@:443\n\nbind mptcp@:0\n"), "4:13", "port '0'" },
	{ T("bind mptcp@:443\r\nbind :80\r\n"), "2:6", "has no mptcp@" },
	{ T("\tbind\t:80"),		"1:7",  "has no mptcp@" },
	/* Damaged files: NUL bytes and binary junk are reported, escaped. */
	{ T("bind mptcp@:443\0"),		"1:16", "NUL byte in policy line" },
	{ T("bind mptcp@:443 # \0 in a comment"), "1:19", "NUL byte" },
	{ T("\x01\x02:80"),		"1:1",  "address '\\x01\\x02:80' has no mptcp@" },
	{ T("mptcp@\xff:80"), "1:7", "'\\xff' is neither an IP address nor a host name" },
};

static int parse(const char *text, size_t len, struct policy *pol, struct policy_error *err)
{
	return policy_parse_buffer(FILE_NAME, text, len, pol, err);
}

/* "ROLE FAMILY PREFIX PORTS; ..." for the whole policy. */
static char *format_entries(const struct policy *pol)
{
	size_t size = pol->nr_entries * 96 + 1, i;
	char *out = calloc(1, size);

	assert_non_null(out);
	for (i = 0; i < pol->nr_entries; i++) {
		const struct policy_entry *e = &pol->entries[i];
		char prefix[POLICY_PREFIX_STRLEN], ports[POLICY_PORTS_STRLEN];

		policy_entry_prefix_str(e, prefix, sizeof(prefix));
		policy_entry_ports_str(e, ports, sizeof(ports));
		snprintf(out + strlen(out), size - strlen(out), "%s%s %s %s %s", i ? "; " : "",
			 policy_role_str(e->role), policy_family_str(e->family), prefix, ports);
	}
	return out;
}

static void test_valid(void **state)
{
	const struct valid_case *c = *state;
	struct policy_error err;
	struct policy pol;
	char *got;

	if (parse(c->text, strlen(c->text), &pol, &err))
		fail_msg("rejected: %s", err.msg);
	got = format_entries(&pol);
	assert_string_equal(got, c->want);
	free(got);
	policy_free(&pol);
}

static void test_error(void **state)
{
	const struct error_case *c = *state;
	struct policy_error err;
	struct policy pol;
	char where[64];

	if (!parse(c->text, c->len, &pol, &err)) {
		char *got = format_entries(&pol);

		fail_msg("accepted, as: %s", got);
		free(got);
	}
	snprintf(where, sizeof(where), FILE_NAME ":%s: ", c->where);
	if (strncmp(err.msg, where, strlen(where)))
		fail_msg("error at the wrong place: want %s, got: %s", where, err.msg);
	if (!strstr(err.msg, c->want))
		fail_msg("error lacks \"%s\": %s", c->want, err.msg);
	/* Nothing half-parsed survives an error. */
	assert_int_equal(pol.nr_entries, 0);
	assert_null(pol.entries);
}

/* A bracketed IPv6 address with an empty port means every port. */
static void test_bracket_empty_port(void **state)
{
	struct policy_error err;
	struct policy pol;
	char *got;

	assert_int_equal(parse("mptcp@[::1]:", 12, &pol, &err), 0);
	got = format_entries(&pol);
	assert_string_equal(got, "both ipv6 ::1/128 all");
	free(got);
	policy_free(&pol);
}

/* Where each entry came from: line, column, the address as written, the host. */
static void test_entry_source(void **state)
{
	const char *text = "# web\n  bind mptcp@:443,mptcp6@[::]:443 ssl\n"
			   "server s1 mptcp4@localhost:80\n";
	struct policy_error err;
	struct policy pol;

	assert_int_equal(parse(text, strlen(text), &pol, &err), 0);
	assert_int_equal(pol.nr_entries, 3);
	assert_int_equal(pol.nr_lines, 2);
	assert_int_equal(pol.entries[0].line, 2);
	assert_int_equal(pol.entries[0].column, 8);
	assert_string_equal(pol.entries[0].source, "mptcp@:443");
	assert_null(pol.entries[0].host);
	assert_int_equal(pol.entries[1].column, 19);
	assert_string_equal(pol.entries[1].source, "mptcp6@[::]:443");
	assert_int_equal(pol.entries[2].line, 3);
	assert_string_equal(pol.entries[2].source, "mptcp4@localhost:80");
	assert_string_equal(pol.entries[2].host, "localhost");
	policy_free(&pol);
}

/* mptcp@NAME takes every address the name has, of both families. */
static void test_host_name_all_addresses(void **state)
{
	struct policy_error err;
	struct policy pol;
	bool v4 = false;
	size_t i;

	assert_int_equal(parse("mptcp@localhost:80", 18, &pol, &err), 0);
	assert_int_equal(pol.nr_entries, 2);	/* the stub resolver's two addresses */
	for (i = 0; i < pol.nr_entries; i++) {
		const struct policy_entry *e = &pol.entries[i];
		uint8_t lo4[4] = { 127, 0, 0, 1 };

		assert_string_equal(e->host, "localhost");
		if (e->family == AF_INET && !memcmp(e->addr, lo4, 4))
			v4 = true;
		assert_int_equal(e->prefix_len, e->family == AF_INET ? 32 : 128);
	}
	assert_true(v4);
	policy_free(&pol);
}

static void test_matches(void **state)
{
	const char *text = "bind mptcp@10.0.0.0/8:80-90\nserver s mptcp@[2001:db8::/32]:443\n"
			   "mptcp@*\n";
	uint8_t a4[16] = { 10, 200, 3, 4 }, b4[16] = { 11, 0, 0, 1 }, a6[16];
	struct policy_error err;
	struct policy pol;
	const struct policy_entry *bind, *server, *any;

	inet_pton(AF_INET6, "2001:db8:ffff::1", a6);
	assert_int_equal(parse(text, strlen(text), &pol, &err), 0);
	bind = &pol.entries[0];
	server = &pol.entries[1];
	any = &pol.entries[2];
	assert_true(policy_entry_matches(bind, AF_INET, a4, 80, MU_ROLE_BIND));
	assert_true(policy_entry_matches(bind, AF_INET, a4, 90, MU_ROLE_BIND));
	assert_false(policy_entry_matches(bind, AF_INET, a4, 91, MU_ROLE_BIND));
	assert_false(policy_entry_matches(bind, AF_INET, a4, 80, MU_ROLE_CONNECT));
	assert_false(policy_entry_matches(bind, AF_INET, b4, 80, MU_ROLE_BIND));
	assert_false(policy_entry_matches(bind, AF_INET6, a6, 80, MU_ROLE_BIND));
	assert_true(policy_entry_matches(server, AF_INET6, a6, 443, MU_ROLE_CONNECT));
	assert_false(policy_entry_matches(server, AF_INET6, a6, 443, MU_ROLE_BIND));
	a6[3] ^= 1;	/* 2001:db9:: is outside 2001:db8::/32 */
	assert_false(policy_entry_matches(server, AF_INET6, a6, 443, MU_ROLE_CONNECT));
	assert_true(policy_entry_matches(any, AF_INET, b4, 1, MU_ROLE_BIND));
	assert_true(policy_entry_matches(any, AF_INET, b4, 65535, MU_ROLE_CONNECT));
	assert_false(policy_entry_matches(any, AF_INET6, a6, 1, MU_ROLE_CONNECT));
	policy_free(&pol);
}

/* A 1 MB line: options after a bind address are skipped, a 1 MB word is quoted short. */
static void test_huge_line(void **state)
{
	size_t big = 1 << 20;
	char *text = malloc(big + 64);
	struct policy_error err;
	struct policy pol;

	assert_non_null(text);
	strcpy(text, "bind mptcp@:443 ");
	memset(text + 16, 'x', big);
	text[16 + big] = '\0';
	assert_int_equal(parse(text, strlen(text), &pol, &err), 0);
	assert_int_equal(pol.nr_entries, 1);
	policy_free(&pol);

	memcpy(text, "mptcp@:", 7);
	memset(text + 7, '9', big);
	assert_int_not_equal(parse(text, strlen(text), &pol, &err), 0);
	assert_non_null(strstr(err.msg, FILE_NAME ":1:8: port '9999"));
	assert_non_null(strstr(err.msg, "...' is over 65535"));
	assert_true(strlen(err.msg) < 200);
	free(text);
}

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/mptcp-upgrade-test-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* 10,000 lines from a file: all kept, in order, each at its own line. */
static void test_ten_thousand_lines(void **state)
{
	size_t n = 10000, i, size = n * 64;
	char *text = malloc(size), *path;
	struct policy_error err;
	struct policy pol;
	size_t len = 0;

	assert_non_null(text);
	for (i = 0; i < n; i++)
		len += snprintf(text + len, size - len, "server s%zu mptcp@10.%zu.%zu.1:%zu\n", i,
				i / 256, i % 256, 1000 + i);
	path = write_temp(text, len);
	assert_int_equal(policy_load_file(path, &pol, &err), 0);
	unlink(path);
	free(path);
	assert_int_equal(pol.nr_entries, n);
	assert_int_equal(pol.nr_lines, n);
	assert_int_equal(pol.entries[9999].line, 10000);
	assert_int_equal(pol.entries[9999].port_min, 10999);
	assert_int_equal(pol.entries[9999].addr[1], 9999 / 256);
	assert_int_equal(pol.entries[9999].addr[2], 9999 % 256);
	policy_free(&pol);
	free(text);
}

/* One address past the limit is refused, at the line that crossed it. */
static void test_too_many_entries(void **state)
{
	size_t n = MU_MAX_POLICY_ENTRIES + 1, i, size = n * 16;
	struct policy_error err;
	struct policy pol;
	char *text = malloc(size), where[64];
	size_t len = 0;

	assert_non_null(text);
	for (i = 0; i < n; i++)
		len += snprintf(text + len, size - len, "mptcp@:%zu\n", i % 65535 + 1);
	assert_int_not_equal(parse(text, len, &pol, &err), 0);
	snprintf(where, sizeof(where), FILE_NAME ":%zu:1: too many entries", n);
	assert_non_null(strstr(err.msg, where));
	free(text);
}

static void test_missing_file(void **state)
{
	struct policy_error err;
	struct policy pol;

	assert_int_not_equal(policy_load_file("/nonexistent/x.policy", &pol, &err), 0);
	assert_string_equal(err.msg, "can't open policy file /nonexistent/x.policy: "
			    "No such file or directory");
	assert_int_not_equal(policy_load_file("/", &pol, &err), 0);
	assert_string_equal(err.msg, "can't read policy file /: Is a directory");
}

/* The first entry in policy order that covers the call: what the trie must find. */
static __u32 linear_lookup(const struct policy *pol, int family, const uint8_t *addr,
			   uint16_t port, uint8_t role)
{
	size_t i;

	for (i = 0; i < pol->nr_entries; i++)
		if (policy_entry_matches(&pol->entries[i], family, addr, port, role))
			return i + 1;
	return MU_ENTRY_UNLISTED;
}

/*
 * Random policies over a small address space, so that prefixes nest and port
 * ranges overlap, then random calls: the trie (longest prefix, then ranges in
 * policy order) must name the same entry as a line-by-line walk of the policy.
 * Holds only because every node carries the ranges of its covering prefixes.
 */
static void test_trie_matches_linear_walk(void **state)
{
	static const unsigned int lens4[] = { 0, 8, 16, 24, 30, 32 };
	static const unsigned int lens6[] = { 0, 32, 64, 120, 128 };
	unsigned int seed = 12345, round, q, mismatches = 0, listed = 0;
	char text[4096], err_msg[256];

	for (round = 0; round < 300; round++) {
		struct policy_error err;
		struct policy_trie trie;
		struct policy pol;
		size_t len = 0, i, nr = 1 + rand_r(&seed) % 14;

		for (i = 0; i < nr; i++) {
			bool v6 = rand_r(&seed) % 3 == 0;
			const char *kw = (const char *[]){ "bind ", "server s ", "" }[rand_r(&seed) % 3];
			unsigned int lo = 1 + rand_r(&seed) % 40, hi = lo + rand_r(&seed) % 20;
			char ports[32] = "";

			if (rand_r(&seed) % 4)
				snprintf(ports, sizeof(ports), "%u-%u", lo, hi);
			if (v6) {
				unsigned int l = lens6[rand_r(&seed) % 5];

				const char *host = l == 0 ? "::" : l < 128 ? "2001:db8::" :
						   rand_r(&seed) % 2 ? "2001:db8::1" : "2001:db8::2";

				len += snprintf(text + len, sizeof(text) - len,
						"%smptcp6@[%s/%u]:%s\n", kw, host, l, ports);
			} else {
				unsigned int l = lens4[rand_r(&seed) % 6];
				unsigned int a = rand_r(&seed) % 2, b = rand_r(&seed) % 2;
				unsigned int c = rand_r(&seed) % 4;
				uint32_t ip = (10u << 24) | (a << 16) | (b << 8) | c;

				if (l < 32)
					ip &= l ? ~0u << (32 - l) : 0;
				len += snprintf(text + len, sizeof(text) - len,
						"%smptcp4@%u.%u.%u.%u/%u:%s\n", kw, ip >> 24,
						(ip >> 16) & 255, (ip >> 8) & 255, ip & 255, l, ports);
			}
		}
		if (parse(text, len, &pol, &err))
			fail_msg("generated policy rejected: %s\n%s", err.msg, text);
		if (policy_trie_build(&pol, &trie, err_msg, sizeof(err_msg)))
			fail_msg("trie refused %zu entries: %s", nr, err_msg);

		for (q = 0; q < 400; q++) {
			uint8_t addr[16] = {};
			int family = rand_r(&seed) % 3 == 0 ? AF_INET6 : AF_INET;
			uint16_t port = rand_r(&seed) % 70;
			uint8_t role = rand_r(&seed) % 2 ? MU_ROLE_BIND : MU_ROLE_CONNECT;
			__u32 want, got;

			if (family == AF_INET) {
				addr[0] = 10 + rand_r(&seed) % 2 * (rand_r(&seed) % 2);
				addr[1] = rand_r(&seed) % 2;
				addr[2] = rand_r(&seed) % 2;
				addr[3] = rand_r(&seed) % 4;
			} else {
				inet_pton(AF_INET6, "2001:db8::", addr);
				addr[15] = rand_r(&seed) % 3;
				if (rand_r(&seed) % 5 == 0)
					addr[14] = 1;
			}
			want = linear_lookup(&pol, family, addr, port, role);
			got = policy_trie_lookup(&trie, family, addr, port, role);
			listed += want != MU_ENTRY_UNLISTED;
			if (want != got && mismatches++ < 5)
				print_error("mismatch: port %u role %u: linear %u, trie %u\n%s", port,
					    role, want, got, text);
		}
		policy_trie_free(&trie);
		policy_free(&pol);
	}
	assert_int_equal(mismatches, 0);
	/* The generator must exercise both outcomes, or the comparison proves little. */
	assert_true(listed > 10000);
	assert_true(listed < 300 * 400 - 10000);
}

/* One prefix covered by more entries than a trie value holds is refused, not cut short. */
static void test_trie_too_many_ranges(void **state)
{
	char text[1024], err_msg[256];
	struct policy_error err;
	struct policy_trie trie;
	struct policy pol;
	size_t len = 0, i;

	for (i = 0; i <= MU_MAX_RANGES; i++)
		len += snprintf(text + len, sizeof(text) - len, "mptcp@:%zu\n", 100 + i);
	assert_int_equal(parse(text, len, &pol, &err), 0);
	assert_int_not_equal(policy_trie_build(&pol, &trie, err_msg, sizeof(err_msg)), 0);
	assert_non_null(strstr(err_msg, "more than 16 entries cover 0.0.0.0/0 (line 17"));
	assert_null(trie.nodes);
	policy_free(&pol);
}

/*
 * An IPv4-mapped entry is matched as IPv4, but the socket that makes such a
 * call is an IPv6 one: both families must be upgraded (review m1).
 */
static void test_trie_v4mapped_families(void **state)
{
	const char text[] = "server s mptcp@[::ffff:192.0.2.7]:80\n";
	struct policy_error err;
	struct policy_trie trie;
	struct policy pol;
	char err_msg[256];

	assert_int_equal(parse(text, sizeof(text) - 1, &pol, &err), 0);
	assert_int_equal(pol.entries[0].family, AF_INET);
	assert_true(pol.entries[0].v4mapped);
	assert_int_equal(policy_trie_build(&pol, &trie, err_msg, sizeof(err_msg)), 0);
	assert_int_equal(trie.families, MU_FAMILY_INET | MU_FAMILY_INET6);
	policy_trie_free(&trie);
	policy_free(&pol);
}

/* A 10,000-line policy: one node per distinct prefix, families noted. */
static void test_trie_large(void **state)
{
	size_t n = 10000, i, size = n * 48, len = 0;
	char *text = malloc(size), err_msg[256];
	struct policy_error err;
	struct policy_trie trie;
	struct policy pol;
	uint8_t a[16] = { 10, 39, 15, 1 };

	assert_non_null(text);
	for (i = 0; i < n; i++)
		len += snprintf(text + len, size - len, "server s mptcp4@10.%zu.%zu.1:%zu\n",
				i / 256, i % 256, 1 + i % 1000);
	len += snprintf(text + len, size - len, "mptcp6@:443\n");
	assert_int_equal(parse(text, len, &pol, &err), 0);
	assert_int_equal(policy_trie_build(&pol, &trie, err_msg, sizeof(err_msg)), 0);
	assert_int_equal(trie.nr_nodes, n + 1);
	assert_int_equal(trie.families, MU_FAMILY_INET | MU_FAMILY_INET6);
	/* 10.39.15.1 is line 39 * 256 + 15 + 1, port 1 + (39 * 256 + 15) % 1000 */
	assert_int_equal(policy_trie_lookup(&trie, AF_INET, a, 1 + (39 * 256 + 15) % 1000,
					    MU_ROLE_CONNECT), 39 * 256 + 15 + 1);
	assert_int_equal(policy_trie_lookup(&trie, AF_INET, a, 1 + (39 * 256 + 15) % 1000,
					    MU_ROLE_BIND), MU_ENTRY_UNLISTED);
	policy_trie_free(&trie);
	policy_free(&pol);
	free(text);
}

/* The streaming writer's output, compact and pretty, is JSON that says what was written. */
static void test_json_writer(void **state)
{
	int pretty;

	for (pretty = 0; pretty < 2; pretty++) {
		struct json_object *o, *v;
		struct jsonw w;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		jw_init(&w, f, pretty);
		jw_object_start(&w);
		jw_key(&w, "s");
		jw_string(&w, "quote \" backslash \\ tab \t nl \n");
		jw_key(&w, "bytes");
		jw_string(&w, "caf\xe9 \xc3\xa9 \xed\xa0\x80 \xf0\x9f\x98\x80");
		jw_key(&w, "empty_array");
		jw_array_start(&w);
		jw_array_end(&w);
		jw_key(&w, "empty_object");
		jw_object_start(&w);
		jw_object_end(&w);
		jw_key(&w, "list");
		jw_array_start(&w);
		jw_u64(&w, 18446744073709551615ULL);
		jw_int(&w, -5);
		jw_bool(&w, true);
		jw_null(&w);
		jw_object_start(&w);
		jw_key(&w, "k");
		jw_bool(&w, false);
		jw_object_end(&w);
		jw_array_end(&w);
		jw_object_end(&w);
		jw_end(&w);
		fclose(f);

		o = json_tokener_parse(buf);
		if (!o)
			fail_msg("not JSON: %s", buf);
		assert_true(json_object_object_get_ex(o, "s", &v));
		assert_string_equal(json_object_get_string(v), "quote \" backslash \\ tab \t nl \n");
		/* Invalid bytes (a Latin-1 byte, a surrogate) become U+FFFD; valid ones stay. */
		assert_true(json_object_object_get_ex(o, "bytes", &v));
		assert_string_equal(json_object_get_string(v), "caf\xef\xbf\xbd \xc3\xa9 "
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80");
		assert_true(json_object_object_get_ex(o, "empty_array", &v));
		assert_int_equal(json_object_array_length(v), 0);
		assert_true(json_object_object_get_ex(o, "list", &v));
		assert_int_equal(json_object_array_length(v), 5);
		assert_true(json_object_get_uint64(json_object_array_get_idx(v, 0)) ==
			    18446744073709551615ULL);
		assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 1)), -5);
		assert_null(json_object_array_get_idx(v, 3));
		assert_true(strchr(buf, '\n') != buf + len - 1 || !pretty);
		json_object_put(o);
		free(buf);
	}
}

/*
 * The policy digest: FIPS 180-4's examples, every padding boundary (55, 56 and
 * 64 bytes leave the length in this block or push it to the next), and the
 * same input fed in pieces of every size from 1 to 130 bytes.
 */
static void test_sha256(void **state)
{
	static const struct { const char *in; size_t repeat; const char *want; } v[] = {
		{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ "a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ "a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	};
	char *buf, got[65], pieces[65];
	size_t i, j, len, step, off;
	struct sha256 s;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		len = strlen(v[i].in) * v[i].repeat;
		buf = malloc(len + 1);
		assert_non_null(buf);
		for (j = 0; j < v[i].repeat; j++)
			memcpy(buf + j * strlen(v[i].in), v[i].in, strlen(v[i].in));
		sha256_hex(buf, len, got);
		assert_string_equal(got, v[i].want);
		for (step = 1; step <= 130 && len <= 4096; step++) {
			sha256_init(&s);
			for (off = 0; off < len; off += step)
				sha256_update(&s, buf + off, len - off < step ? len - off : step);
			sha256_final(&s, pieces);
			assert_string_equal(pieces, v[i].want);
		}
		free(buf);
	}
}

#define NR_VALID (sizeof(valid_cases) / sizeof(valid_cases[0]))
#define NR_ERROR (sizeof(error_cases) / sizeof(error_cases[0]))

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_bracket_empty_port),
		cmocka_unit_test(test_entry_source),
		cmocka_unit_test(test_host_name_all_addresses),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_ten_thousand_lines),
		cmocka_unit_test(test_too_many_entries),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_trie_matches_linear_walk),
		cmocka_unit_test(test_trie_too_many_ranges),
		cmocka_unit_test(test_trie_large),
		cmocka_unit_test(test_trie_v4mapped_families),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_sha256),
	};
	size_t nr_fixed = sizeof(fixed) / sizeof(fixed[0]), n = 0, i;
	int ret;
	struct CMUnitTest *tests = calloc(NR_VALID + NR_ERROR + nr_fixed, sizeof(*tests));
	char (*names)[160] = calloc(NR_VALID + NR_ERROR, sizeof(*names));

	if (!tests || !names)
		return 1;
	/* One test per table row, named after its input so a failure says which. */
	for (i = 0; i < NR_VALID; i++, n++) {
		snprintf(names[n], sizeof(names[n]), "accepts %.100s", valid_cases[i].text);
		tests[n] = (struct CMUnitTest){ .name = names[n], .test_func = test_valid,
						.initial_state = (void *)&valid_cases[i] };
	}
	for (i = 0; i < NR_ERROR; i++, n++) {
		snprintf(names[n], sizeof(names[n]), "rejects %.100s", error_cases[i].text);
		tests[n] = (struct CMUnitTest){ .name = names[n], .test_func = test_error,
						.initial_state = (void *)&error_cases[i] };
	}
	/* Names must stay on one printable TAP line, without '#' (a TAP directive). */
	for (i = 0; i < n; i++)
		for (char *p = names[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '#')
				*p = '.';
	for (i = 0; i < nr_fixed; i++)
		tests[n++] = fixed[i];

	cmocka_set_message_output(CM_OUTPUT_TAP);
	ret = _cmocka_run_group_tests("policy", tests, n, NULL, NULL);
	free(tests);
	free(names);
	return ret;
}
