// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's seccomp filter: the calls that go to the supervisor, and
 * its installation with the listener it hands to the supervisor.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/net.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "run.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN	0x20000000
#endif
#define MU_FILTER_FLAG_WAIT_KILLABLE_RECV	(1UL << 5)

#if defined(__x86_64__)
#define MU_AUDIT_ARCH	AUDIT_ARCH_X86_64
#define MU_X32_BIT	0x40000000U
#define MU_I386_SOCKETCALL	102
#define MU_I386_EPOLL_CREATE	254
#define MU_I386_EPOLL_CREATE1	329
#define MU_I386_BIND		361
#define MU_I386_CONNECT		362
#define MU_I386_IO_URING_SETUP	425
#define MU_I386_FORK		2
#define MU_I386_DUP		41
#define MU_I386_FCNTL		55
#define MU_I386_DUP2		63
#define MU_I386_CLONE		120
#define MU_I386_VFORK		190
#define MU_I386_FCNTL64		221
#define MU_I386_DUP3		330
#define MU_I386_CLONE3		435
#else
#error "the run engine's seccomp filter knows x86_64 only"
#endif

/*
 * The filter, classic BPF, written with labels: what goes to the supervisor.
 *  - bind() and connect() whose address length could hold an IP address
 *    (16 to 128 bytes, sizeof(struct sockaddr_in) to sizeof(struct
 *    sockaddr_storage), except AF_UNIX's 110): netlink, AF_UNIX and other small
 *    addresses run untouched; x32 calls too (the x32 bit is masked);
 *  - sendto() and sendmsg() with MSG_FASTOPEN (TCP Fast Open's implicit
 *    connect);
 *  - epoll_create() and epoll_create1(), so that the supervisor knows every
 *    epoll instance exactly (run_epoll.c);
 *  - what makes a second descriptor for an open socket (dup, dup2, dup3,
 *    fcntl F_DUPFD and F_DUPFD_CLOEXEC, fork, vfork, clone without CLONE_FILES,
 *    clone3): a socket reachable through another descriptor stays TCP, as a
 *    swap would leave that descriptor on the old socket (run_loop.c);
 *  - io_uring_setup(), counted, refused under --io-uring deny: a ring's
 *    socket operations pass no filter;
 *  - the same from i386 calls (int 0x80): bind, connect, socketcall's BIND
 *    and CONNECT, epoll_create*, io_uring_setup, dup*, fcntl/fcntl64
 *    F_DUPFD*, fork, vfork, clone, clone3.
 */
enum {
	L_X86_64, L_I386, L_SOCKETCALL, L_ADDR, L_SENDTO, L_SENDMSG, L_CLONE, L_FCNTL, L_ALLOW,
	L_NOTIFY, L_MAX
};

struct filter_asm {
	struct sock_filter code[64];
	int n, label[L_MAX];
	struct { int at, jt, jf; } fix[64];
	int nfix;
};

static void fa_stmt(struct filter_asm *f, __u16 code, __u32 k)
{
	f->code[f->n++] = (struct sock_filter)BPF_STMT(code, k);
}

/* A conditional jump to label @jt when true, @jf when false (-1: the next instruction). */
static void fa_jump(struct filter_asm *f, __u16 code, __u32 k, int jt, int jf)
{
	f->fix[f->nfix++] = (typeof(f->fix[0])){ f->n, jt, jf };
	f->code[f->n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | code | BPF_K, k, 0, 0);
}

static void fa_label(struct filter_asm *f, int l)
{
	f->label[l] = f->n;
}

static void fa_link(struct filter_asm *f)
{
	int i;

	for (i = 0; i < f->nfix; i++) {
		int at = f->fix[i].at;

		if (f->fix[i].jt >= 0)
			f->code[at].jt = f->label[f->fix[i].jt] - at - 1;
		if (f->fix[i].jf >= 0)
			f->code[at].jf = f->label[f->fix[i].jf] - at - 1;
	}
}

#define ARG_LO(i) offsetof(struct seccomp_data, args[i])

static void build_filter(struct filter_asm *f)
{
	memset(f, 0, sizeof(*f));
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	fa_jump(f, BPF_JEQ, MU_AUDIT_ARCH, L_X86_64, -1);
	fa_jump(f, BPF_JEQ, AUDIT_ARCH_I386, L_I386, L_ALLOW);

	fa_label(f, L_X86_64);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	fa_stmt(f, BPF_ALU | BPF_AND | BPF_K, ~MU_X32_BIT);
	fa_jump(f, BPF_JEQ, __NR_bind, L_ADDR, -1);
	fa_jump(f, BPF_JEQ, __NR_connect, L_ADDR, -1);
	fa_jump(f, BPF_JEQ, __NR_epoll_create, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_epoll_create1, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_sendto, L_SENDTO, -1);
	fa_jump(f, BPF_JEQ, __NR_sendmsg, L_SENDMSG, -1);
	fa_jump(f, BPF_JEQ, __NR_dup, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_dup2, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_dup3, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_fork, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_vfork, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_clone3, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_clone, L_CLONE, -1);
	fa_jump(f, BPF_JEQ, __NR_io_uring_setup, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, __NR_fcntl, L_FCNTL, L_ALLOW);

	fa_label(f, L_I386);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	fa_jump(f, BPF_JEQ, MU_I386_BIND, L_ADDR, -1);
	fa_jump(f, BPF_JEQ, MU_I386_CONNECT, L_ADDR, -1);
	fa_jump(f, BPF_JEQ, MU_I386_EPOLL_CREATE, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_EPOLL_CREATE1, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_IO_URING_SETUP, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_DUP, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_DUP2, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_DUP3, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_FORK, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_VFORK, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, MU_I386_CLONE3, L_NOTIFY, -1);
	/* clone's flags and fcntl's command are where the 64-bit calls have them */
	fa_jump(f, BPF_JEQ, MU_I386_CLONE, L_CLONE, -1);
	fa_jump(f, BPF_JEQ, MU_I386_FCNTL, L_FCNTL, -1);
	fa_jump(f, BPF_JEQ, MU_I386_FCNTL64, L_FCNTL, -1);
	fa_jump(f, BPF_JEQ, MU_I386_SOCKETCALL, L_SOCKETCALL, L_ALLOW);
	fa_label(f, L_SOCKETCALL);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
	fa_jump(f, BPF_JEQ, SYS_BIND, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, SYS_CONNECT, L_NOTIFY, L_ALLOW);

	/* addrlen, the low half of args[2] (little endian) */
	fa_label(f, L_ADDR);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, ARG_LO(2));
	fa_jump(f, BPF_JGE, sizeof(struct sockaddr_in), -1, L_ALLOW);
	fa_jump(f, BPF_JGT, sizeof(struct sockaddr_storage), L_ALLOW, -1);
	fa_jump(f, BPF_JEQ, sizeof(struct sockaddr_un), L_ALLOW, L_NOTIFY);

	fa_label(f, L_SENDTO);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, ARG_LO(3));
	fa_jump(f, BPF_JSET, MSG_FASTOPEN, L_NOTIFY, L_ALLOW);
	fa_label(f, L_SENDMSG);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, ARG_LO(2));
	fa_jump(f, BPF_JSET, MSG_FASTOPEN, L_NOTIFY, L_ALLOW);

	/* clone(flags, ...): a thread (CLONE_FILES) shares the table, nothing to know */
	fa_label(f, L_CLONE);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
	fa_jump(f, BPF_JSET, CLONE_FILES, L_ALLOW, L_NOTIFY);
	fa_label(f, L_FCNTL);
	fa_stmt(f, BPF_LD | BPF_W | BPF_ABS, ARG_LO(1));
	fa_jump(f, BPF_JEQ, F_DUPFD, L_NOTIFY, -1);
	fa_jump(f, BPF_JEQ, F_DUPFD_CLOEXEC, L_NOTIFY, L_ALLOW);

	fa_label(f, L_ALLOW);
	fa_stmt(f, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	fa_label(f, L_NOTIFY);
	fa_stmt(f, BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	fa_link(f);	/* classic BPF jumps forward only: labels come after their jumps */
}

/*
 * With SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19+) a signal can't interrupt
 * a call the supervisor has received: without it, a handler without
 * SA_RESTART (nginx's timer_resolution) makes bind() or connect() fail with
 * EINTR, which they never do natively for bind(). *@killable says which.
 */
int run_install_filter(bool *killable)
{
	struct filter_asm f;
	struct sock_fprog prog;
	int fd;

	build_filter(&f);
	prog.len = f.n;
	prog.filter = f.code;
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER | MU_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	*killable = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			     SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	return fd;
}
