// SPDX-License-Identifier: GPL-2.0-only
/*
 * The addresses of a policy line: HAProxy's mptcp@, mptcp4@ and mptcp6@
 * prefixes, ports and port ranges, IPv4 and IPv6 literals with CIDR prefixes,
 * and host names resolved once per load.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"
#include "policy_internal.h"

void resolve_cache_free(struct resolve_cache *c)
{
	while (c) {
		struct resolve_cache *next = c->next;

		free(c->name);
		free(c->addrs);
		free(c);
		c = next;
	}
}

/* What one address element of a line says, before host names are resolved. */
struct addr_spec {
	uint8_t role;
	int want_family;	/* AF_UNSPEC for mptcp@, else what mptcp4@/mptcp6@ demand */
	const char *prefix_name; /* "mptcp@", "mptcp4@" or "mptcp6@", for messages */
	struct span elem;	/* the whole element, for entry->source */
	uint16_t port_min, port_max;
};

/* Parse a decimal number of at most @max; -1 with *too_big when it is larger. */
static long parse_decimal(struct span s, long max, bool *too_big)
{
	long v = 0;
	size_t i;

	*too_big = false;
	if (!s.len)
		return -1;
	for (i = 0; i < s.len; i++) {
		if (!isdigit((unsigned char)s.p[i]))
			return -1;
		if (!*too_big) {
			v = v * 10 + (s.p[i] - '0');
			if (v > max)
				*too_big = true;
		}
	}
	return *too_big ? -1 : v;
}

static int parse_one_port(struct line_ctx *lc, struct span s, long *out)
{
	bool too_big;

	if (!s.len)
		return line_error(lc, s.p, "missing port number (expected PORT or PORT1-PORT2)");
	if (s.p[0] == '+' || s.p[0] == '-')
		return line_error(lc, s.p, "port offset %s is not supported: HAProxy's +N/-N "
				  "server port offsets name no fixed port (expected PORT or "
				  "PORT1-PORT2)", q(s));
	*out = parse_decimal(s, 65535, &too_big);
	if (too_big)
		return line_error(lc, s.p, "port %s is over 65535", q(s));
	if (*out < 0)
		return line_error(lc, s.p, "invalid port %s (expected a number from 1 to 65535)",
				  q(s));
	if (*out == 0)
		return line_error(lc, s.p, "port %s is not allowed (omit the port to match "
				  "every port)", q(s));
	return 0;
}

/* PORT or PORT1-PORT2; an empty span means every port. */
static int parse_ports(struct line_ctx *lc, struct span s, struct addr_spec *spec)
{
	const char *dash;
	long lo, hi;

	if (!s.len) {
		spec->port_min = 0;
		spec->port_max = 65535;
		return 0;
	}
	/* A leading sign is an offset, not a range separator. */
	dash = s.len > 1 ? memchr(s.p + 1, '-', s.len - 1) : NULL;
	if (!dash) {
		if (parse_one_port(lc, s, &lo))
			return -1;
		hi = lo;
	} else {
		if (parse_one_port(lc, span_of(s.p, dash - s.p), &lo) ||
		    parse_one_port(lc, span_of(dash + 1, s.p + s.len - dash - 1), &hi))
			return -1;
		if (lo > hi)
			return line_error(lc, s.p, "port range %s runs backwards (expected "
					  "PORT1-PORT2 with PORT1 <= PORT2)", q(s));
	}
	spec->port_min = lo;
	spec->port_max = hi;
	return 0;
}

static int add_address(struct line_ctx *lc, const struct addr_spec *spec, const char *at,
		       int family, const uint8_t *addr, unsigned int prefix_len,
		       struct span host)
{
	struct policy_entry *e = policy_add_entry(lc, spec->elem.p);

	if (!e)
		return -1;
	e->role = spec->role;
	e->family = family;
	e->prefix_len = prefix_len;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	e->port_min = spec->port_min;
	e->port_max = spec->port_max;
	e->line = lc->lineno;
	e->column = (unsigned int)(spec->elem.p - lc->line) + 1;
	e->source = strndup(spec->elem.p, spec->elem.len);
	e->host = host.len ? strndup(host.p, host.len) : NULL;
	if (!e->source || (host.len && !e->host))
		return line_error(lc, at, "out of memory");
	return 0;
}

static int check_family(struct line_ctx *lc, const struct addr_spec *spec, struct span host,
			int family)
{
	if (spec->want_family == AF_UNSPEC || spec->want_family == family)
		return 0;
	return line_error(lc, host.p, "%s takes %s addresses only, %s is an %s address "
			  "(use %s or mptcp@)", spec->prefix_name,
			  spec->want_family == AF_INET ? "IPv4" : "IPv6", q(host),
			  family == AF_INET ? "IPv4" : "IPv6",
			  family == AF_INET ? "mptcp4@" : "mptcp6@");
}

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* A literal address, optionally with /LEN. @bracketed: it was written inside [ ]. */
static int parse_literal(struct line_ctx *lc, const struct addr_spec *spec, struct span host,
			 bool bracketed)
{
	char buf[INET6_ADDRSTRLEN + 1];
	uint8_t addr[16] = {};
	const char *slash = span_chr(host, '/');
	struct span ip = slash ? span_of(host.p, slash - host.p) : host;
	unsigned int bits, max_bits, i;
	bool too_big;
	long len;
	int family;

	if (span_chr(ip, '%'))
		return line_error(lc, host.p, "%s: IPv6 zone indexes are not supported", q(host));
	if (ip.len >= sizeof(buf))
		return line_error(lc, host.p, "%s is not a valid IP address", q(ip));
	memcpy(buf, ip.p, ip.len);
	buf[ip.len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		family = AF_INET;
		if (bracketed)
			return line_error(lc, host.p, "%s: brackets are for IPv6 addresses only",
					  q(host));
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		family = AF_INET6;
	} else if (span_chr(ip, ':') && !bracketed) {
		return line_error(lc, host.p, "%s is not a valid IPv6 address (without brackets "
				  "the port follows the last ':', so write [ADDR]:PORT, or "
				  "ADDR: for every port)", q(ip));
	} else if (span_chr(ip, ':')) {
		return line_error(lc, host.p, "%s is not a valid IPv6 address", q(ip));
	} else {
		return line_error(lc, host.p, "%s is not a valid IPv4 address", q(ip));
	}
	if (check_family(lc, spec, host, family))
		return -1;

	max_bits = family == AF_INET ? 32 : 128;
	bits = max_bits;
	/* 0.0.0.0 and :: are HAProxy's "any" address of the family, as is "*". */
	if (!slash && !memcmp(addr, (uint8_t[16]){}, 16))
		bits = 0;
	if (slash) {
		struct span l = span_of(slash + 1, host.p + host.len - slash - 1);

		len = parse_decimal(l, max_bits, &too_big);
		if (len < 0)
			return line_error(lc, l.p, "invalid prefix length %s (expected 0 to %u)",
					  q(l), max_bits);
		bits = len;
		/* Host bits set is almost always a typo for another network. */
		for (i = bits; i < max_bits; i++) {
			if (addr[i / 8] & (0x80 >> (i % 8)))
				return line_error(lc, host.p, "%s has bits set past the /%u prefix "
						  "(write the network address)", q(host), bits);
		}
	}
	/*
	 * ::ffff:a.b.c.d is IPv4 a.b.c.d reached from a dual-stack IPv6 socket:
	 * the engine matches such a call as IPv4, so the entry becomes IPv4 (and
	 * still lets the IPv6 socket be upgraded).
	 */
	if (family == AF_INET6 && bits >= 96 && !memcmp(addr, v4mapped_prefix, 12)) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		bits -= 96;
		if (add_address(lc, spec, host.p, AF_INET, addr, bits, span_of(NULL, 0)))
			return -1;
		lc->pol->entries[lc->pol->nr_entries - 1].v4mapped = true;
		return 0;
	}
	return add_address(lc, spec, host.p, family, addr, bits, span_of(NULL, 0));
}

/* RFC 1123 host name characters; underscores occur in real DNS and are let through. */
static bool is_host_name(struct span s)
{
	size_t i, label = 0;

	if (!s.len || s.len > 253)
		return false;
	for (i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static struct resolve_cache *resolve_cached(struct policy *pol, const char *name, int family)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	struct resolve_cache *c;
	size_t n = 0, i;

	for (c = pol->cache; c; c = c->next)
		if (c->family == family && !strcmp(c->name, name))
			return c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->name = strdup(name);
	c->family = family;
	c->gai_err = getaddrinfo(name, NULL, &hints, &res);
	for (ai = c->gai_err ? NULL : res; ai; ai = ai->ai_next)
		n++;
	c->addrs = calloc(n ? n : 1, sizeof(*c->addrs));
	if (!c->name || !c->addrs) {
		freeaddrinfo(res);
		resolve_cache_free(c);
		return NULL;
	}
	for (ai = c->gai_err ? NULL : res; ai; ai = ai->ai_next) {
		struct resolved_addr a = { .family = ai->ai_family };

		if (ai->ai_family == AF_INET)
			memcpy(a.addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		else if (ai->ai_family == AF_INET6)
			memcpy(a.addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		else
			continue;
		/* getaddrinfo() repeats addresses; keep each once, in its order. */
		for (i = 0; i < c->nr_addrs; i++)
			if (!memcmp(&c->addrs[i], &a, sizeof(a)))
				break;
		if (i == c->nr_addrs)
			c->addrs[c->nr_addrs++] = a;
	}
	if (res)
		freeaddrinfo(res);
	c->next = pol->cache;
	pol->cache = c;
	return c;
}

static int parse_host_name(struct line_ctx *lc, const struct addr_spec *spec, struct span host)
{
	char name[254];
	struct resolve_cache *c;
	size_t i;

	if (!is_host_name(host))
		return line_error(lc, host.p, "%s is neither an IP address nor a host name",
				  q(host));
	memcpy(name, host.p, host.len);
	name[host.len] = '\0';
	c = resolve_cached(lc->pol, name, spec->want_family);
	if (!c)
		return line_error(lc, host.p, "out of memory");
	if (c->gai_err)
		return line_error(lc, host.p, "can't resolve host name %s: %s", q(host),
				  c->gai_err == EAI_SYSTEM ? strerror(errno)
							   : gai_strerror(c->gai_err));
	if (!c->nr_addrs)
		return line_error(lc, host.p, "host name %s has no %s address", q(host),
				  spec->want_family == AF_INET6 ? "IPv6" : "IPv4");
	for (i = 0; i < c->nr_addrs; i++) {
		unsigned int bits = c->addrs[i].family == AF_INET ? 32 : 128;

		if (add_address(lc, spec, host.p, c->addrs[i].family, c->addrs[i].addr, bits,
				host))
			return -1;
	}
	return 0;
}

/* Split "[v6]:ports", "host:ports" (port after the LAST colon) or "host". */
static int split_host_ports(struct line_ctx *lc, struct span rest, struct span *host,
			    struct span *ports, bool *bracketed)
{
	const char *colon;

	*bracketed = false;
	*ports = span_of(rest.p + rest.len, 0);
	if (rest.len && rest.p[0] == '[') {
		const char *close = span_chr(rest, ']');

		if (!close)
			return line_error(lc, rest.p, "missing ']' in %s", q(rest));
		*host = span_of(rest.p + 1, close - rest.p - 1);
		*bracketed = true;
		if (close + 1 == rest.p + rest.len)
			return 0;
		if (close[1] != ':')
			return line_error(lc, close + 1, "unexpected %s after ']' (expected "
					  ":PORT or nothing)",
					  q(span_of(close + 1, rest.p + rest.len - close - 1)));
		*ports = span_of(close + 2, rest.p + rest.len - close - 2);
		return 0;
	}
	colon = span_rchr(rest, ':');
	if (!colon) {
		*host = rest;
		return 0;
	}
	*host = span_of(rest.p, colon - rest.p);
	*ports = span_of(colon + 1, rest.p + rest.len - colon - 1);
	return 0;
}

/* One element of an address list: [stream+]mptcp{,4,6}@ADDRESS[:PORTS]. */
static int parse_address(struct line_ctx *lc, struct span elem, uint8_t role)
{
	struct addr_spec spec = { .role = role, .elem = elem };
	struct span rest = elem, proto, host, ports;
	const char *at, *plus;
	bool bracketed;

	if (!elem.len)
		return line_error(lc, elem.p, "empty address in comma list");

	at = span_chr(elem, '@');
	if (!at)
		return line_error(lc, elem.p, "address %s has no mptcp@, mptcp4@ or mptcp6@ "
				  "prefix (write mptcp@ before it to upgrade it)", q(elem));

	/* HAProxy's "stream+" names the socket type MPTCP already implies. */
	proto = span_of(elem.p, at - elem.p);
	plus = span_chr(proto, '+');
	if (plus) {
		if (!span_eq(span_of(proto.p, plus - proto.p), "stream"))
			return line_error(lc, elem.p, "socket type prefix %s is not supported "
					  "(MPTCP is a stream protocol: use mptcp@ or "
					  "stream+mptcp@)",
					  q(span_of(proto.p, plus + 1 - proto.p)));
		proto = span_of(plus + 1, at - plus - 1);
	}
	if (span_eq(proto, "mptcp")) {
		spec.want_family = AF_UNSPEC;
		spec.prefix_name = "mptcp@";
	} else if (span_eq(proto, "mptcp4")) {
		spec.want_family = AF_INET;
		spec.prefix_name = "mptcp4@";
	} else if (span_eq(proto, "mptcp6")) {
		spec.want_family = AF_INET6;
		spec.prefix_name = "mptcp6@";
	} else {
		return line_error(lc, proto.p, "prefix %s is not an MPTCP address prefix "
				  "(expected mptcp@, mptcp4@ or mptcp6@)",
				  q(span_of(proto.p, at + 1 - proto.p)));
	}

	rest = span_of(at + 1, elem.p + elem.len - at - 1);
	if (!rest.len)
		return line_error(lc, at + 1, "missing address after %s (expected ADDRESS, "
				  ":PORT or ADDRESS:PORT)", spec.prefix_name);
	if (split_host_ports(lc, rest, &host, &ports, &bracketed) ||
	    parse_ports(lc, ports, &spec))
		return -1;

	/* Empty host, "*": the "any" address of the family the prefix names. */
	if (!bracketed && (!host.len || span_eq(host, "*"))) {
		static const uint8_t any[16];

		return add_address(lc, &spec, host.p,
				   spec.want_family == AF_INET6 ? AF_INET6 : AF_INET, any, 0,
				   span_of(NULL, 0));
	}
	if (!host.len)
		return line_error(lc, host.p, "empty address in brackets");
	if (bracketed || span_chr(host, ':') || span_chr(host, '/') || span_chr(host, '%') ||
	    span_all(host, "0123456789."))
		return parse_literal(lc, &spec, host, bracketed);
	return parse_host_name(lc, &spec, host);
}

/* A comma-separated list of addresses, each with its own prefix. */
int parse_address_list(struct line_ctx *lc, struct span word, uint8_t role)
{
	const char *p = word.p, *end = word.p + word.len;

	for (;;) {
		const char *comma = memchr(p, ',', end - p);
		const char *stop = comma ? comma : end;

		if (parse_address(lc, span_of(p, stop - p), role))
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

