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
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP	(1UL << 0)
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
	__u64 sync = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
	const char *want_sync = getenv("MU_RUN_SYNC_WAKEUP");
	struct loaded_policy *mine = malloc(sizeof(*mine));
	bool synced = false, killable;
	int listener = recv_fd(sock, &killable), ret;

	if (listener < 0 || !mine)
		return 1;	/* the other side failed, and said why */
	*mine = *lp;
	run_supervisor_watcher(watcher, stop_program);
	/*
	 * The same CPU answers at once where the kernel can (6.6+): +20 us a call,
	 * not +150. MU_RUN_SYNC_WAKEUP=0 leaves it off (the benchmark compares).
	 */
	if (!want_sync || strcmp(want_sync, "0"))
		synced = !ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, sync);
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
	fprintf(stderr, "%s run[%d]: the supervisor %d of program %d %s: the program's bind(), "
		"connect(), dup(), fork() and epoll_create() now fail with ENOSYS%s\n", prog_name,
		(int)getpid(), (int)supervisor, (int)proxy, how,
		stop_program ? "; stopping it (SIGTERM) so that it can be started again" :
		"; restart it (--on-supervisor-death keep)");
	if (stop_program)
		syscall(SYS_pidfd_send_signal, proxy_pidfd, SIGTERM, NULL, 0);
	return 1;
}

/*
 * The cgroup the socket-option bridge attaches to holds the sockets the
 * supervisor makes (a socket's cgroup is its creator's), and every process in
 * it runs the bridge's programs on each setsockopt/getsockopt. So it must not
 * be shared with unrelated processes: run keeps the cgroup it was started in
 * when that holds run alone (a service's, under systemd), and otherwise (the
 * root cgroup, a login session, cron) makes one for COMMAND and its
 * supervisor, CGROUP/mptcp-upgrade-run.PID, removed when they are gone. If it
 * can't, the bridge stays off (said) rather than tax the others.
 */
struct made_cgroup {
	int parent;		/* the cgroup run was started in, when a child was made */
	char name[64];
};

#define RUN_CGROUP_PREFIX "mptcp-upgrade-run."

/* This process's cgroup v2 path ("/system.slice/x.service"), from /proc/self/cgroup. */
static void cgroup_path_of_self(char *out, size_t size)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");

	snprintf(out, size, "?");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, size, "%s", line + 3);
			break;
		}
	if (f)
		fclose(f);
}

/* Only this process in cgroup @cg (its cgroup.procs)? */
static bool cgroup_alone(int cg)
{
	int fd = openat(cg, "cgroup.procs", O_RDONLY | O_CLOEXEC), n = 0, pid;
	bool alone = false;
	FILE *f;

	if (fd < 0)
		return false;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return false;
	}
	alone = true;
	while (fscanf(f, "%d", &pid) == 1) {
		n++;
		if (pid != getpid())
			alone = false;
	}
	fclose(f);
	return alone && n == 1;
}

/* Children of @cg that earlier runs made and could not remove (killed): empty ones go. */
static void sweep_made(int cg)
{
	int fd = dup(cg);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, RUN_CGROUP_PREFIX, strlen(RUN_CGROUP_PREFIX)))
			unlinkat(cg, de->d_name, AT_REMOVEDIR);	/* EBUSY while in use */
	closedir(d);
}

static void own_cgroup(struct made_cgroup *made)
{
	char path[4096], why[4400] = "";
	__u64 id = 0;
	int cg = run_bridge_cgroup(&id), child = -1, procs;
	struct stat st;

	if (cg < 0) {
		run_supervisor_cgroup(-1, 0, NULL);	/* the bridge says why it is off */
		return;
	}
	cgroup_path_of_self(path, sizeof(path));
	if (strcmp(path, "/") && cgroup_alone(cg)) {
		run_supervisor_cgroup(cg, id, path);
		return;
	}
	sweep_made(cg);
	snprintf(made->name, sizeof(made->name), RUN_CGROUP_PREFIX "%d", (int)getpid());
	if (mkdirat(cg, made->name, 0755) && errno != EEXIST) {
		snprintf(why, sizeof(why), "can't make cgroup %s%s%s: %s", path,
			 strcmp(path, "/") ? "/" : "", made->name, strerror(errno));
		goto off;
	}
	made->parent = cg;
	child = openat(cg, made->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	procs = child < 0 ? -1 : openat(child, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (procs < 0 || write(procs, "0", 1) != 1 || fstat(child, &st)) {
		snprintf(why, sizeof(why), "can't move into cgroup %s%s%s: %s", path,
			 strcmp(path, "/") ? "/" : "", made->name, strerror(errno));
		if (procs >= 0)
			close(procs);
		goto off;
	}
	close(procs);
	cgroup_path_of_self(path, sizeof(path));
	run_supervisor_cgroup(child, st.st_ino, path);
	return;
off:
	if (child >= 0)
		close(child);
	fprintf(stderr, "%s run[%d]: socket-option bridge off: %s: started from a cgroup that "
		"other processes share, it would run for all of them\n", prog_name, (int)getpid(),
		why);
	run_supervisor_cgroup(-1, 0, NULL);
}

/* The watcher, once the supervisor is gone: back to where run started, and the cgroup made goes. */
static void cgroup_remove(struct made_cgroup *made)
{
	int procs;

	if (made->parent < 0)
		return;
	procs = openat(made->parent, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (procs >= 0) {
		if (write(procs, "0", 1) != 1) {
			/* It stays: the removal below fails, and the next run sweeps it. */
		}
		close(procs);
	}
	/*
	 * EBUSY while a task that has just exited is still counted in it (the
	 * supervisor, the program): tried again for up to 2 s. Still busy then,
	 * COMMAND's children run on, and the next run sweeps it.
	 */
	for (int i = 0; i < 200 && unlinkat(made->parent, made->name, AT_REMOVEDIR) &&
			errno == EBUSY; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
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
	struct made_cgroup cgroup_made = { .parent = -1 };
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
	own_cgroup(&cgroup_made);
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
		ret = watch(supervisor, proxy, proxy_pidfd, stop_program);
		cgroup_remove(&cgroup_made);
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
