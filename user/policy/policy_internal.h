/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the policy parser's two halves share: the line being parsed, spans of
 * it, errors that point into it. policy.c reads lines and keeps the entries;
 * policy_addr.c parses the address lists (ports, literals, host names).
 */
#ifndef MU_POLICY_INTERNAL_H
#define MU_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Record the first error at the column of @at, with @fmt as the message; -1. */
int line_error(struct line_ctx *lc, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Quote a span for an error message (two rotating buffers: two per message at most). */
const char *q(struct span s);
/* A new entry at the end of the policy, zeroed; NULL with the error recorded. */
struct policy_entry *policy_add_entry(struct line_ctx *lc, const char *at);
/* policy_addr.c: the host names a load resolved, freed. */
void resolve_cache_free(struct resolve_cache *c);
/* policy_addr.c: a comma-separated list of addresses of @role, each with its prefix. */
int parse_address_list(struct line_ctx *lc, struct span word, uint8_t role);

static inline struct span span_of(const char *p, size_t len)
{
	return (struct span){ .p = p, .len = len };
}

static inline bool span_eq(struct span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(s.p, lit, s.len);
}

static inline const char *span_chr(struct span s, char c)
{
	return memchr(s.p, c, s.len);
}

static inline const char *span_rchr(struct span s, char c)
{
	const char *p;

	for (p = s.p + s.len; p > s.p; p--)
		if (p[-1] == c)
			return p - 1;
	return NULL;
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool span_all(struct span s, const char *set)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if (!strchr(set, s.p[i]))
			return false;
	return true;
}

#endif /* MU_POLICY_INTERNAL_H */
