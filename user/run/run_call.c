// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a notified call asks, decoded from its arguments whatever the ABI it
 * came through (x86_64, i386 through int 0x80 or socketcall, x32), and the
 * address it names, read from the caller's memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/net.h>
#include <linux/sched.h>

#include "run_internal.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* i386 system call numbers (a 64-bit program can make them with int 0x80). */
#define I386_SOCKETCALL		102
#define I386_EPOLL_CREATE	254
#define I386_EPOLL_CREATE1	329
#define I386_IO_URING_SETUP	425
#define I386_FORK		2
#define I386_DUP		41
#define I386_FCNTL		55
#define I386_DUP2		63
#define I386_CLONE		120
#define I386_VFORK		190
#define I386_FCNTL64		221
#define I386_DUP3		330
#define I386_CLONE3		435
#define I386_BIND		361
#define I386_CONNECT		362
#define X32_BIT			0x40000000U


static bool read_caller(pid_t pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(unsigned long)addr, .iov_len = len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

void run_decode(const struct seccomp_notif *n, struct call *c)
{
	const __u64 *a = n->data.args;
	__u64 args32[6] = {};
	__u32 nr = n->data.nr;

	memset(c, 0, sizeof(*c));
	if (n->data.arch == AUDIT_ARCH_I386) {
		__u32 sa[3];

		c->compat = true;
		switch (nr) {
		case I386_BIND:
		case I386_CONNECT:
			c->kind = nr == I386_BIND ? CALL_BIND : CALL_CONNECT;
			c->fd = (int)a[0];
			c->addr = (__u32)a[1];
			c->len = (__u32)a[2];
			return;
		case I386_SOCKETCALL:
			if ((a[0] != SYS_BIND && a[0] != SYS_CONNECT) ||
			    !read_caller(n->pid, (__u32)a[1], sa, sizeof(sa)))
				return;
			c->kind = a[0] == SYS_BIND ? CALL_BIND : CALL_CONNECT;
			c->fd = (int)sa[0];
			c->addr = sa[1];
			c->len = sa[2];
			return;
		case I386_EPOLL_CREATE:
		case I386_EPOLL_CREATE1:
			nr = nr == I386_EPOLL_CREATE ? __NR_epoll_create : __NR_epoll_create1;
			break;
		case I386_IO_URING_SETUP:
			c->kind = CALL_IO_URING;
			return;
		case I386_DUP:
		case I386_DUP2:
		case I386_DUP3:
		case I386_FCNTL:	/* F_DUPFD, F_DUPFD_CLOEXEC: the filter sends no other */
		case I386_FCNTL64:
			c->kind = CALL_DUP;
			c->fd = (int)(__u32)a[0];
			return;
		case I386_FORK:
		case I386_VFORK:
		case I386_CLONE:	/* without CLONE_FILES: the filter sends no other */
			c->kind = CALL_FORK;
			return;
		case I386_CLONE3:
			nr = __NR_clone3;	/* struct clone_args is the same */
			a = args32;
			args32[0] = (__u32)n->data.args[0];
			break;
		default:
			return;
		}
	}
	switch (nr & ~X32_BIT) {
	case __NR_bind:
	case __NR_connect:
		c->kind = (nr & ~X32_BIT) == __NR_bind ? CALL_BIND : CALL_CONNECT;
		c->fd = (int)a[0];
		c->addr = a[1];
		c->len = (__u32)a[2];
		break;
	case __NR_sendto:
		/* TCP Fast Open without connect(): the destination is in the call. */
		if (!((__u32)a[3] & MSG_FASTOPEN) || !a[4])
			return;
		c->kind = CALL_CONNECT;
		c->fd = (int)a[0];
		c->addr = a[4];
		c->len = (__u32)a[5];
		break;
	case __NR_sendmsg: {
		struct msghdr m;

		if (!((__u32)a[2] & MSG_FASTOPEN) || (nr & X32_BIT) ||
		    !read_caller(n->pid, a[1], &m, sizeof(m)) || !m.msg_name)
			return;
		c->kind = CALL_CONNECT;
		c->fd = (int)a[0];
		c->addr = (unsigned long)m.msg_name;
		c->len = m.msg_namelen;
		break;
	}
	case __NR_io_uring_setup:
		c->kind = CALL_IO_URING;
		break;
	case __NR_epoll_create:
		c->kind = CALL_EPOLL_CREATE;
		c->epoll_bad = (int)a[0] <= 0;
		break;
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
	case __NR_fcntl:	/* F_DUPFD, F_DUPFD_CLOEXEC: the filter sends no other */
		c->kind = CALL_DUP;
		c->fd = (int)a[0];
		break;
	case __NR_fork:
	case __NR_vfork:
	case __NR_clone:	/* without CLONE_FILES: the filter sends no other */
		c->kind = CALL_FORK;
		break;
	case __NR_clone3: {
		__u64 flags;

		/* struct clone_args starts with its flags */
		if (!read_caller(n->pid, a[0], &flags, sizeof(flags)) || !(flags & CLONE_FILES))
			c->kind = CALL_FORK;
		break;
	}
	case __NR_epoll_create1:
		c->kind = CALL_EPOLL_CREATE;
		c->epoll_flags = (__u32)a[0];
		c->epoll_bad = c->epoll_flags & ~EPOLL_CLOEXEC;
		break;
	}
}

/* The address of the call, read from the caller; the family it is matched as. */
bool run_read_address(pid_t pid, const struct call *c, int *family, __u8 addr[16],
			 __u16 *port, struct mu_run_intent *in)
{
	struct sockaddr_storage ss = {};

	if (c->len < sizeof(struct sockaddr_in) || c->len > sizeof(ss) ||
	    !read_caller(pid, c->addr, &ss, c->len))
		return false;
	/* The sockaddr as read, for the kernel to use (bpf/run_options.bpf.c). */
	memset(in, 0, sizeof(*in));
	in->family = ss.ss_family;
	in->role = c->kind == CALL_CONNECT ? MU_ROLE_CONNECT : MU_ROLE_BIND;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		in->addr[0] = a->sin_addr.s_addr;
		in->port = a->sin_port;
		*family = AF_INET;
		memcpy(addr, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
		return true;
	}
	/* 24: sockaddr_in6 without its scope id (RFC 2133), which the kernel takes too. */
	if (ss.ss_family == AF_INET6 && c->len >= 24) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		memcpy(in->addr, &a->sin6_addr, 16);
		in->port = a->sin6_port;
		*port = ntohs(a->sin6_port);
		/* ::ffff:a.b.c.d from a dual-stack socket is IPv4 a.b.c.d, as in the policy. */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			*family = AF_INET;
			memcpy(addr, &a->sin6_addr.s6_addr[12], 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, &a->sin6_addr, 16);
		}
		return true;
	}
	return false;
}
