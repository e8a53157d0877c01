// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy parser. A line is a bare mptcp@ address list, a `bind` line or a
 * `server` line, as a haproxy.cfg written for HAProxy 3.1+ would have them; the
 * addresses follow HAProxy's str2sa_range() rules, plus CIDR prefixes. Every
 * error names file:line:column and quotes what it found. Nothing is partially
 * applied: the caller gets a complete policy or an error.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

/* Longest piece of offending text quoted in an error, before "...". */
#define QUOTE_MAX 64

/* Parsing state of one line, for locating errors. */
struct line_ctx {
	const char *file;
	unsigned int lineno;
	const char *line;	/* start of the line, columns count from here */
	struct policy *pol;
	struct policy_error *err;
};

/* A piece of a line: pointer into the line and its length. */
struct span {
	const char *p;
	size_t len;
};

/* Host names resolved during one load, so a name used on many lines is looked up once. */
struct resolve_cache {
	struct resolve_cache *next;
	char *name;
	int family;		/* AF_UNSPEC, AF_INET or AF_INET6: what was asked */
	int gai_err;		/* getaddrinfo() result */
	size_t nr_addrs;
	struct resolved_addr {
		uint8_t family;
		uint8_t addr[16];
	} *addrs;
};

static void quote_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, o = 0;
	bool cut = len > QUOTE_MAX;

	if (cut)
		len = QUOTE_MAX;
	if (size < 8)
		return;
	dst[o++] = '\'';
	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = src[i];

		if (isprint(c) && c != '\\')
			dst[o++] = c;
		else
			o += snprintf(dst + o, size - o, "\\x%02x", c);
	}
	if (cut && o + 5 < size) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '\'';
	dst[o] = '\0';
}

/* Record the first error at the column of @at, with @fmt as the message. */
__attribute__((format(printf, 3, 4)))
static int line_error(struct line_ctx *lc, const char *at, const char *fmt, ...)
{
	struct policy_error *err = lc->err;
	va_list ap;
	int n;

	n = snprintf(err->msg, sizeof(err->msg), "%s:%u:%zu: ", lc->file, lc->lineno,
		     (size_t)(at - lc->line) + 1);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Quote a span for an error message into one of two rotating buffers. */
static const char *q(struct span s)
{
	static char bufs[2][QUOTE_MAX * 4 + 8];
	static int next;
	char *b = bufs[next++ & 1];

	quote_text(b, sizeof(bufs[0]), s.p, s.len);
	return b;
}

static struct span span_of(const char *p, size_t len)
{
	return (struct span){ .p = p, .len = len };
}

static bool span_eq(struct span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(s.p, lit, s.len);
}

static const char *span_chr(struct span s, char c)
{
	return memchr(s.p, c, s.len);
}

static const char *span_rchr(struct span s, char c)
{
	const char *p;

	for (p = s.p + s.len; p > s.p; p--)
		if (p[-1] == c)
			return p - 1;
	return NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool span_all(struct span s, const char *set)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if (!strchr(set, s.p[i]))
			return false;
	return true;
}

/* ---- entries ---------------------------------------------------------- */

void policy_init(struct policy *pol)
{
	memset(pol, 0, sizeof(*pol));
}

static void resolve_cache_free(struct resolve_cache *c)
{
	while (c) {
		struct resolve_cache *next = c->next;

		free(c->name);
		free(c->addrs);
		free(c);
		c = next;
	}
}

void policy_free(struct policy *pol)
{
	size_t i;

	for (i = 0; i < pol->nr_entries; i++) {
		free(pol->entries[i].source);
		free(pol->entries[i].host);
	}
	free(pol->entries);
	resolve_cache_free(pol->cache);
	policy_init(pol);
}

static struct policy_entry *policy_add_entry(struct line_ctx *lc, const char *at)
{
	struct policy *pol = lc->pol;
	struct policy_entry *e;

	if (pol->nr_entries >= MU_MAX_POLICY_ENTRIES) {
		line_error(lc, at, "too many entries: a policy holds at most %u addresses "
			   "(host names count once per address they resolve to)",
			   MU_MAX_POLICY_ENTRIES);
		return NULL;
	}
	if (pol->nr_entries == pol->cap_entries) {
		size_t cap = pol->cap_entries ? pol->cap_entries * 2 : 64;
		struct policy_entry *n = realloc(pol->entries, cap * sizeof(*n));

		if (!n) {
			line_error(lc, at, "out of memory");
			return NULL;
		}
		pol->entries = n;
		pol->cap_entries = cap;
	}
	e = &pol->entries[pol->nr_entries++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* ---- addresses -------------------------------------------------------- */

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
static int parse_address_list(struct line_ctx *lc, struct span word, uint8_t role)
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

/* Does this word look like an attempt at an address rather than a keyword? */
static bool looks_like_address(struct span w)
{
	return span_chr(w, '@') || span_chr(w, ':') || span_chr(w, ',') ||
	       isdigit((unsigned char)w.p[0]) || w.p[0] == '[' || w.p[0] == '*';
}

#define MAX_WORDS 4	/* the most any line form needs to look at */

static int parse_line(struct line_ctx *lc, const char *p, size_t len)
{
	struct span words[MAX_WORDS];
	const char *end = p + len, *hash;
	size_t nr = 0;

	/* A NUL byte cannot be part of any policy text: the file is damaged. */
	hash = memchr(p, '\0', len);
	if (hash)
		return line_error(lc, hash, "NUL byte in policy line (is this a text file?)");

	hash = memchr(p, '#', len);
	if (hash)
		end = hash;

	while (nr < MAX_WORDS) {
		const char *w;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		w = p;
		while (p < end && !is_blank(*p))
			p++;
		words[nr++] = span_of(w, p - w);
	}
	if (!nr)
		return 0;

	lc->pol->nr_lines++;
	if (span_eq(words[0], "bind")) {
		if (nr < 2)
			return line_error(lc, words[0].p, "bind line without an address (expected "
					  "'bind mptcp@ADDRESS[:PORT] [options...]')");
		return parse_address_list(lc, words[1], MU_ROLE_BIND);
	}
	if (span_eq(words[0], "server")) {
		if (nr < 2 || (nr == 2 && looks_like_address(words[1])))
			return line_error(lc, nr < 2 ? words[0].p : words[1].p,
					  "server line needs a name and an address (expected "
					  "'server NAME mptcp@ADDRESS[:PORT] [options...]')");
		if (nr < 3)
			return line_error(lc, words[1].p + words[1].len, "server %s has no "
					  "address (expected 'server NAME mptcp@ADDRESS[:PORT]')",
					  q(words[1]));
		return parse_address_list(lc, words[2], MU_ROLE_CONNECT);
	}
	if (!looks_like_address(words[0]))
		return line_error(lc, words[0].p, "unknown keyword %s (expected 'bind', 'server' "
				  "or an mptcp@ address)", q(words[0]));
	if (nr > 1)
		return line_error(lc, words[1].p, "unexpected %s after the address (only bind "
				  "and server lines carry options)", q(words[1]));
	return parse_address_list(lc, words[0], MU_ROLE_BOTH);
}

int policy_parse_buffer(const char *name, const char *buf, size_t len, struct policy *pol,
			struct policy_error *err)
{
	struct line_ctx lc = { .file = name, .pol = pol, .err = err };
	const char *p = buf, *end = buf + len;

	policy_init(pol);
	err->msg[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *eol = nl ? nl : end;

		lc.lineno++;
		lc.line = p;
		if (parse_line(&lc, p, eol - p)) {
			policy_free(pol);
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---- printing and matching --------------------------------------------- */

const char *policy_role_str(uint8_t role)
{
	switch (role) {
	case MU_ROLE_BIND:
		return "bind";
	case MU_ROLE_CONNECT:
		return "connect";
	case MU_ROLE_BOTH:
		return "both";
	}
	return "?";
}

const char *policy_family_str(uint8_t family)
{
	return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "?";
}

const char *policy_families_str(uint32_t families)
{
	switch (families & (MU_FAMILY_INET | MU_FAMILY_INET6)) {
	case MU_FAMILY_INET:
		return "ipv4";
	case MU_FAMILY_INET6:
		return "ipv6";
	case MU_FAMILY_INET | MU_FAMILY_INET6:
		return "ipv4 ipv6";
	}
	return "none";
}

void policy_entry_prefix_str(const struct policy_entry *e, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(e->family, e->addr, ip, sizeof(ip));
	snprintf(buf, size, "%s/%u", ip, e->prefix_len);
}

void policy_entry_ports_str(const struct policy_entry *e, char *buf, size_t size)
{
	if (e->port_min == 0 && e->port_max == 65535)
		snprintf(buf, size, "all");
	else if (e->port_min == e->port_max)
		snprintf(buf, size, "%u", e->port_min);
	else
		snprintf(buf, size, "%u-%u", e->port_min, e->port_max);
}

bool policy_entry_matches(const struct policy_entry *e, uint8_t family, const uint8_t *addr,
			  uint16_t port, uint8_t role)
{
	unsigned int full = e->prefix_len / 8, rest = e->prefix_len % 8;

	if (e->family != family || !(e->role & role))
		return false;
	if (port < e->port_min || port > e->port_max)
		return false;
	if (memcmp(e->addr, addr, full))
		return false;
	return !rest || !((e->addr[full] ^ addr[full]) & (0xff << (8 - rest)));
}
