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
#include "policy_internal.h"

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
int line_error(struct line_ctx *lc, const char *at, const char *fmt, ...)
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
const char *q(struct span s)
{
	static char bufs[2][QUOTE_MAX * 4 + 8];
	static int next;
	char *b = bufs[next++ & 1];

	quote_text(b, sizeof(bufs[0]), s.p, s.len);
	return b;
}

/* ---- entries ---------------------------------------------------------- */

void policy_init(struct policy *pol)
{
	memset(pol, 0, sizeof(*pol));
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

struct policy_entry *policy_add_entry(struct line_ctx *lc, const char *at)
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
