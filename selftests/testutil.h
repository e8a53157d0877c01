/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers the C test and benchmark programs share. */
#ifndef MU_TESTUTIL_H
#define MU_TESTUTIL_H

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

/* Debian's libc headers predate these. */
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

/* SO_PROTOCOL of a socket: 6 TCP, 262 MPTCP; -errno when it can't be read. */
static inline int protocol_of(int fd)
{
	int proto = -1;
	socklen_t len = sizeof(proto);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len))
		return -errno;
	return proto;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n samples (sorts them). */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* MU_TESTUTIL_H */
