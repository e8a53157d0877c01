/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A resolver of its own for the programs that parse policies in a test: the
 * machine's (its /etc/hosts, a DNS server that may not answer) must not decide
 * a unit test, nor stall a fuzzer for a timeout per input. Defining
 * getaddrinfo() and freeaddrinfo() in the program takes the place of libc's.
 *   localhost      127.0.0.1 and ::1
 *   one*           192.0.2.1 and 2001:db8::1
 *   anything else  EAI_NONAME
 * Include it in exactly one file of the program.
 */
#ifndef MU_RESOLVER_STUB_H
#define MU_RESOLVER_STUB_H

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

static struct addrinfo *stub_addr(int family, const char *text)
{
	size_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	struct addrinfo *ai = calloc(1, sizeof(*ai) + len);
	void *sa = ai + 1;

	if (!ai)
		return NULL;
	ai->ai_family = family;
	ai->ai_socktype = SOCK_STREAM;
	ai->ai_addrlen = len;
	ai->ai_addr = sa;
	if (family == AF_INET) {
		((struct sockaddr_in *)sa)->sin_family = AF_INET;
		inet_pton(AF_INET, text, &((struct sockaddr_in *)sa)->sin_addr);
	} else {
		((struct sockaddr_in6 *)sa)->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)sa)->sin6_addr);
	}
	return ai;
}

void freeaddrinfo(struct addrinfo *res)
{
	struct addrinfo *next;

	for (; res; res = next) {
		next = res->ai_next;
		free(res);
	}
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	int family = hints ? hints->ai_family : AF_UNSPEC;
	const char *v4, *v6;
	struct addrinfo *a = NULL, *b = NULL;

	(void)service;
	if (node && !strcmp(node, "localhost"))
		v4 = "127.0.0.1", v6 = "::1";
	else if (node && !strncmp(node, "one", 3))
		v4 = "192.0.2.1", v6 = "2001:db8::1";
	else
		return EAI_NONAME;
	if (family != AF_INET6 && !(a = stub_addr(AF_INET, v4)))
		return EAI_MEMORY;
	if (family != AF_INET && !(b = stub_addr(AF_INET6, v6))) {
		freeaddrinfo(a);
		return EAI_MEMORY;
	}
	if (a)
		a->ai_next = b;
	*res = a ? a : b;
	return 0;
}

#endif /* MU_RESOLVER_STUB_H */
