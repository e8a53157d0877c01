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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "commands.h"
#include "common/output.h"
#include "run.h"
#include "run_internal.h"
#include "common/sys.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

void help_run(FILE *out)
{
	fprintf(out,
		"Usage: %s run --policy FILE [--on-supervisor-death stop|keep] [--io-uring allow|deny]\n"
		"           [--] COMMAND [ARG...]\n"
		"\n"
		"Run COMMAND (a proxy) so that its TCP sockets become MPTCP exactly where the\n"
		"policy lists their address: bind() to a listed local address (bind lines),\n"
		"connect() to a listed destination (server lines). Every other socket stays a\n"
		"plain TCP socket. Works on any kernel with MPTCP and seccomp user\n"
		"notification (Linux 5.9+), without BPF trampolines. COMMAND keeps this\n"
		"process's PID; a supervisor process, forked off, serves the calls, and\n"
		"SIGHUP to it (or '%s reload') reads the policy again. If the supervisor dies\n"
		"while COMMAND runs, the calls it serves (bind(), connect(), and dup(), fork()\n"
		"and epoll_create(), which it watches) fail with ENOSYS: a watcher process\n"
		"logs it and stops COMMAND with SIGTERM so that its service manager restarts\n"
		"it (--on-supervisor-death keep: log only, for debugging: a program that can't\n"
		"fork or dup rarely goes on well).\n"
		"Not covered: fds inherited from outside (a listener passed by an old\n"
		"process), and sockets created through io_uring, whose operations pass no\n"
		"filter: their rings are counted and logged, and --io-uring deny answers\n"
		"io_uring_setup() with ENOSYS (libuv, Tokio and liburing users then fall back\n"
		"to epoll, whose calls are seen).\n",
		prog_name, prog_name);
}

/* The listener, and whether its filter makes received calls wait killably ('K'). */
static int send_fd(int sock, int fd, bool killable)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, byte = killable ? 'K' : 'L';
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

static int recv_fd(int sock, bool *killable)
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
	*killable = byte == 'K';
	return fd;
}

static void swallow(int sig)
{
	(void)sig;
}

static void swallow_until_exec(const sigset_t *sigs)
{
	struct sigaction sa = { .sa_handler = swallow }, old;
	int sig;

	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(sigs, sig) == 1 && !sigaction(sig, NULL, &old) &&
		    old.sa_handler == SIG_DFL)
			sigaction(sig, &sa, NULL);
}

/* The forked half: serve until the last filtered process is gone. */
static int supervise(int sock, struct loaded_policy *lp, pid_t proxy, pid_t watcher,
		     bool stop_program)
{
	struct loaded_policy *mine = malloc(sizeof(*mine));
	bool synced = false, killable;
	int listener = recv_fd(sock, &killable), ret;

	if (listener < 0 || !mine)
		return 1;	/* the other side failed, and said why */
	*mine = *lp;
	run_supervisor_watcher(watcher, stop_program);
	run_program_enters(proxy);
	synced = run_sync_wakeup(listener);
	/* Everything the program's calls need, before it runs. */
	if (run_supervisor_prepare(mine->path, mine, proxy, synced, killable))
		return 1;
	if (write(sock, "A", 1) != 1)
		return 1;
	close(sock);
	ret = run_supervisor(listener);
	close(listener);
	return ret;
}

int do_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'P' },
		{ "on-supervisor-death", required_argument, NULL, 'D' },
		{ "io-uring", required_argument, NULL, 'U' },
		{}
	};
	bool stop_program = true, deny_uring = false;
	int proxy_pidfd;
	struct loaded_policy lp = {};
	const char *policy = NULL;
	int c, sp[2], listener, enabled;
	pid_t proxy = getpid(), sup;
	struct run_made_cgroup cgroup_made = { .parent = -1 };
	sigset_t sigs, old_mask;
	bool killable;
	char ack;

	if (wants_help(argc, argv)) {
		help_run(stdout);
		return 0;
	}
	/*
	 * A reload (SIGHUP) or report (SIGUSR1) may come as soon as run starts
	 * (`reload --pid` names COMMAND's PID, which is this one): the supervisor
	 * takes them from its signalfd, and until then they wait, blocked,
	 * instead of killing run.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);	/* the supervisor's: its watcher died */
	sigprocmask(SIG_BLOCK, &sigs, &old_mask);
	optind = 1;
	opterr = 0;	/* one error line, ours */
	/* '+': stop at COMMAND, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		if (c == ':')
			return usage_err("run: option '%s' needs a value (see '%s run help')",
					 argv[optind - 1], prog_name);
		if (c == 'P')
			policy = optarg;
		else if (c == 'D' && (!strcmp(optarg, "stop") || !strcmp(optarg, "keep")))
			stop_program = !strcmp(optarg, "stop");
		else if (c == 'D')
			return usage_err("run: --on-supervisor-death takes stop or keep, not '%s'",
					 optarg);
		else if (c == 'U' && (!strcmp(optarg, "allow") || !strcmp(optarg, "deny")))
			deny_uring = !strcmp(optarg, "deny");
		else if (c == 'U')
			return usage_err("run: --io-uring takes allow or deny, not '%s'", optarg);
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
	run_own_cgroup(&cgroup_made);
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
		pid_t supervisor, watcher;
		int ret;

		close(sp[0]);
		if (fork())
			_exit(0);
		setsid();	/* the terminal's ^C is for the proxy, not for it */
		watcher = getpid();
		supervisor = fork();
		if (supervisor == 0) {
			close(proxy_pidfd);
			run_supervisor_deny_io_uring(deny_uring);
			_exit(supervise(sp[1], &lp, proxy, watcher, stop_program));
		}
		/* The watcher: no socket pair (the supervisor alone gets the listener). */
		close(sp[1]);
		loaded_policy_free(&lp);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGUSR1, SIG_IGN);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		if (supervisor < 0)
			_exit(1);	/* the program gets EOF on the pair and says so */
		run_oom_protect();
		ret = run_watch(supervisor, proxy, proxy_pidfd, stop_program);
		run_cgroup_remove(&cgroup_made);
		_exit(ret);
	}
	close(proxy_pidfd);
	close(sp[1]);
	waitpid(sup, NULL, 0);	/* the middle process */
	listener = run_install_filter(&killable);
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
	/* The supervisor moves this process into their cgroup before it answers. */
	if (send_fd(sp[0], listener, killable) || read(sp[0], &ack, 1) != 1) {
		/* Without its supervisor, the program's bind() and connect() would fail. */
		p_err("the supervisor did not start: not running %s", argv[optind]);
		return 1;
	}
	close(listener);
	close(sp[0]);
	loaded_policy_free(&lp);
	/*
	 * Those sent to run's own PID before COMMAND was there were for the
	 * supervisor. One that lands between the unblocking and the exec() would
	 * end the program before it starts: a handler swallows it, and exec()
	 * puts the default back. A signal the caller had ignored stays ignored.
	 */
	swallow_until_exec(&sigs);
	while (sigtimedwait(&sigs, NULL, &(struct timespec){ 0, 0 }) > 0)
		;
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	execvp(argv[optind], &argv[optind]);
	p_err("can't run %s: %s", argv[optind], strerror(errno));
	return 127;
}
