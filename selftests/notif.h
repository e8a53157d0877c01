/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the benchmarks that run a program under a seccomp supervisor of their
 * own share: the listener handed over a unix socket (SCM_RIGHTS), and the
 * names older headers lack.
 */
#ifndef MU_SELFTESTS_NOTIF_H
#define MU_SELFTESTS_NOTIF_H

#include <linux/seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP	(1UL << 0)
#endif

/* @fd over @sock, with one byte: 0, or -1. */
static inline int fd_pass(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, b = 0;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

/* The descriptor fd_pass() sent over @sock, or -1. */
static inline int fd_take(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &m, 0) != 1 || !(c = CMSG_FIRSTHDR(&m)) || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#endif
