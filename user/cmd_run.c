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

#include "bridge.h"
#include "commands.h"
#include "output.h"
#include "run.h"
#include "sys.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
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
		"Usage: %s run --policy FILE [--on-supervisor-death stop|keep] [--] COMMAND [ARG...]\n"
		"\n"
		"Run COMMAND (a proxy) so that its TCP sockets become MPTCP exactly where the\n"
		"policy lists their address: bind() to a listed local address (bind lines),\n"
		"connect() to a listed destination (server lines). Every other socket stays a\n"
		"plain TCP socket. Works on any kernel with MPTCP and seccomp user\n"
		"notification (Linux 5.9+), without BPF trampolines. COMMAND keeps this\n"
		"process's PID; a supervisor process, forked off, serves the calls, and\n"
		"SIGHUP to it (or '%s reload') reads the policy again. If the supervisor dies\n"
		"while COMMAND runs, COMMAND's bind() and connect() fail with ENOSYS: a watcher\n"
		"process logs it and stops COMMAND with SIGTERM so that its service manager\n"
		"restarts it (--on-supervisor-death keep: log only).\n"
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

/*
 * The watcher: the supervisor's parent, which does nothing but wait for it.
 * A supervisor that leaves with status 0 saw the program's end. Any other end
 * (a crash, a kill) while the program runs leaves the program's bind() and
 * connect() failing with ENOSYS: the watcher says so on stderr (the unit's
 * journal) and, unless told to keep it, stops the program with SIGTERM so
 * that its service manager starts it again under a new supervisor.
 */
static int watch(pid_t supervisor, pid_t proxy, int proxy_pidfd, bool stop_program)
{
	int status, ret;
	char how[64];

	do
		ret = waitpid(supervisor, &status, 0);
	while (ret < 0 && errno == EINTR);
	if (ret < 0 || (WIFEXITED(status) && !WEXITSTATUS(status)))
		return 0;
	/* The program gone too (a unit stopped as a whole): nothing to report. */
	if (syscall(SYS_pidfd_send_signal, proxy_pidfd, 0, NULL, 0))
		return 0;
	run_registry_remove(supervisor);
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	fprintf(stderr, "%s run[%d]: the supervisor %d of program %d %s: the program's bind() "
		"and connect() on IP addresses now fail with ENOSYS%s\n", prog_name,
		(int)getpid(), (int)supervisor, (int)proxy, how,
		stop_program ? "; stopping it (SIGTERM) so that it can be started again" :
		"; restart it (--on-supervisor-death keep)");
	if (stop_program)
		syscall(SYS_pidfd_send_signal, proxy_pidfd, SIGTERM, NULL, 0);
	return 1;
}

int do_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'P' },
		{ "on-supervisor-death", required_argument, NULL, 'D' },
		{}
	};
	bool stop_program = true;
	int proxy_pidfd;
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
		else if (c == 'D' && (!strcmp(optarg, "stop") || !strcmp(optarg, "keep")))
			stop_program = !strcmp(optarg, "stop");
		else if (c == 'D')
			return usage_err("run: --on-supervisor-death takes stop or keep, not '%s'",
					 optarg);
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
	proxy_pidfd = syscall(SYS_pidfd_open, proxy, 0);
	if (proxy_pidfd < 0) {
		p_err("the kernel has no pidfd_open (%s): the run engine needs Linux 5.9+",
		      strerror(errno));
		loaded_policy_free(&lp);
		return 1;
	}
	fcntl(proxy_pidfd, F_SETFD, FD_CLOEXEC);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		p_err("can't create a socket pair: %s", strerror(errno));
		loaded_policy_free(&lp);
		return 1;
	}
	/* Here, not in the supervisor: under `ip netns exec` it is found through our parent. */
	{
		__u64 cgid = 0;
		int cg = run_bridge_cgroup(&cgid);

		run_supervisor_cgroup(cg, cgid);
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
		pid_t supervisor;

		close(sp[0]);
		if (fork())
			_exit(0);
		setsid();	/* the terminal's ^C is for the proxy, not for it */
		supervisor = fork();
		if (supervisor == 0) {
			close(proxy_pidfd);
			_exit(supervise(sp[1], lp.path, &lp, proxy));
		}
		/* The watcher: no socket pair (the supervisor alone gets the listener). */
		close(sp[1]);
		loaded_policy_free(&lp);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGUSR1, SIG_IGN);
		if (supervisor < 0)
			_exit(1);	/* the program gets EOF on the pair and says so */
		run_oom_protect();
		_exit(watch(supervisor, proxy, proxy_pidfd, stop_program));
	}
	close(proxy_pidfd);
	close(sp[1]);
	waitpid(sup, NULL, 0);	/* the middle process */
	listener = install_filter();
	if (listener < 0) {
		p_err("the kernel refuses a seccomp filter with user notification (%s): the run "
		      "engine needs Linux 5.9+ with CONFIG_SECCOMP_FILTER", strerror(errno));
		return 1;	/* the supervisor gets EOF and exits */
	}
	{
		/* ADDFD (5.9) is how listed sockets are swapped: a kernel without it gets nothing. */
		struct seccomp_notif_addfd probe = {};

		if (!ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &probe) || errno != ENOENT) {
			p_err("the kernel's seccomp user notification has no ADDFD: the run engine "
			      "needs Linux 5.9+");
			return 1;
		}
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
