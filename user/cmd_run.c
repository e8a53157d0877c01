// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade run`: the engine without BPF trampolines. A seccomp filter
 * (classic BPF) hands the program's bind() and connect() calls on IP-sized
 * addresses to a supervisor; when the address is listed, the supervisor puts
 * an MPTCP socket, with the caller's options and flags, in place of the TCP
 * one under the same descriptor number, then lets the kernel run the call.
 * Unlisted sockets are never touched: they stay TCP sockets.
 *
 * The original process execs COMMAND (it keeps its PID, for systemd and PID
 * files); the supervisor is the forked child.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "output.h"
#include "run.h"
#include "sys.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP	(1UL << 0)
#endif

#if defined(__x86_64__)
#define MU_AUDIT_ARCH	AUDIT_ARCH_X86_64
#define MU_X32_BIT	0x40000000U
#else
#error "the run engine's seccomp filter knows x86_64 only"
#endif

void help_run(FILE *out)
{
	fprintf(out,
		"Usage: %s run --policy FILE [--] COMMAND [ARG...]\n"
		"\n"
		"Run COMMAND (a proxy) so that its TCP sockets become MPTCP exactly where the\n"
		"policy lists their address: bind() to a listed local address (bind lines),\n"
		"connect() to a listed destination (server lines). Every other socket stays a\n"
		"plain TCP socket. Works on any kernel with MPTCP and seccomp user\n"
		"notification (Linux 5.9+), without BPF trampolines. COMMAND keeps this\n"
		"process's PID; a supervisor process, forked off, serves the calls, and\n"
		"SIGHUP to it (or '%s reload') reads the policy again.\n"
		"Not covered: sockets created through io_uring, and fds inherited from\n"
		"outside (a listener passed by an old process).\n",
		prog_name, prog_name);
}

/*
 * bind() and connect() whose address length is that of sockaddr_in or
 * sockaddr_in6 go to the supervisor; everything else (other calls, AF_UNIX
 * and netlink addresses, 32-bit and x32 calls) runs untouched.
 */
static int install_filter(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MU_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, MU_X32_BIT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 3),
		/* addrlen, the low half of args[2] (little endian) */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sizeof(struct sockaddr_in), 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sizeof(struct sockaddr_in6), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
		       &prog);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, byte = 'L';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	/* No SIGPIPE if the supervisor never started: an error line instead. */
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The forked half: serve until the last filtered process is gone. */
static int supervise(int sock, const char *policy_path, struct loaded_policy *lp, pid_t proxy)
{
	int listener = recv_fd(sock), ret;
	__u64 sync = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
	const char *want_sync = getenv("MU_RUN_SYNC_WAKEUP");
	bool synced = false;

	if (listener < 0)
		return 1;	/* the other side failed, and said why */
	/* Ready for SIGHUP before the program runs: a reload may come at once. */
	run_supervisor_signals();
	if (write(sock, "A", 1) != 1)
		return 1;
	close(sock);
	/*
	 * The same CPU answers at once where the kernel can (6.6+): +20 us a call,
	 * not +150. MU_RUN_SYNC_WAKEUP=0 leaves it off (the benchmark compares).
	 */
	if (!want_sync || strcmp(want_sync, "0"))
		synced = !ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, sync);
	ret = run_supervisor(listener, policy_path, lp, proxy, synced);
	close(listener);
	return ret;
}

int do_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'P' },
		{}
	};
	struct loaded_policy lp = {};
	const char *policy = NULL;
	int c, sp[2], listener, enabled;
	pid_t proxy = getpid(), sup;
	char ack;

	if (wants_help(argc, argv)) {
		help_run(stdout);
		return 0;
	}
	optind = 1;
	/* '+': stop at COMMAND, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (c == 'P')
			policy = optarg;
		else
			return usage_err("run: unknown option '%s' (see '%s run help')",
					 argv[optind - 1], prog_name);
	}
	if (!policy)
		return usage_err("run: needs --policy FILE (see '%s run help')", prog_name);
	if (optind >= argc)
		return usage_err("run: needs a COMMAND to run (see '%s run help')", prog_name);
	if (geteuid()) {
		p_err("run needs root: the supervisor takes the program's sockets (pidfd_getfd) "
		      "and installs its filter without no_new_privs (run as root)");
		return 1;
	}
	if (load_policy(policy, &lp))
		return 1;
	enabled = mptcp_enabled();
	if (enabled != 1) {
		p_err("MPTCP is %s in this network namespace: listed sockets could not be made "
		      "MPTCP (sysctl -w net.mptcp.enabled=1)",
		      enabled == 0 ? "disabled (net.mptcp.enabled = 0)" : "not available");
		loaded_policy_free(&lp);
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		p_err("can't create a socket pair: %s", strerror(errno));
		loaded_policy_free(&lp);
		return 1;
	}
	fflush(NULL);
	sup = fork();
	if (sup < 0) {
		p_err("can't fork the supervisor: %s", strerror(errno));
		loaded_policy_free(&lp);
		return 1;
	}
	if (sup == 0) {
		/*
		 * Fork again and let the middle process exit: the supervisor must not
		 * be a child of the proxy, whose own child reaping (a master process
		 * watching its workers) has no business seeing it.
		 */
		close(sp[0]);
		if (fork())
			_exit(0);
		setsid();	/* the terminal's ^C is for the proxy, not for it */
		_exit(supervise(sp[1], lp.path, &lp, proxy));
	}
	close(sp[1]);
	waitpid(sup, NULL, 0);	/* the middle process */
	listener = install_filter();
	if (listener < 0) {
		p_err("the kernel refuses a seccomp filter with user notification (%s): the run "
		      "engine needs Linux 5.9+ with CONFIG_SECCOMP_FILTER", strerror(errno));
		return 1;	/* the supervisor gets EOF and exits */
	}
	if (send_fd(sp[0], listener) || read(sp[0], &ack, 1) != 1) {
		/* Without its supervisor, the program's bind() and connect() would fail. */
		p_err("the supervisor did not start: not running %s", argv[optind]);
		return 1;
	}
	close(listener);
	close(sp[0]);
	loaded_policy_free(&lp);
	execvp(argv[optind], &argv[optind]);
	p_err("can't run %s: %s", argv[optind], strerror(errno));
	return 127;
}
