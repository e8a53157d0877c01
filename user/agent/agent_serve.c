// SPDX-License-Identifier: GPL-2.0-only
/*
 * One container, served in the process that read its hand-over (detached from
 * the agent, in a session of its own): with a policy, it is the watcher of a
 * run supervisor, which lives in a cgroup of its own (the bridge's) and
 * records the options of the container's sockets in the container's cgroup;
 * without one (or when the supervisor can't start), it answers every call
 * unchanged, so the container runs as it would without the agent.
 *
 * Neither depends on the agent once started: the agent can be killed,
 * restarted or upgraded, and each container keeps its server until it ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "common/cgroup.h"
#include "common/output.h"
#include "policy/policy.h"
#include "run/run.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Every call goes on as if no filter had asked: until the container's last process is gone. */
static int pass_through(int listener)
{
	struct seccomp_notif_sizes sizes;
	struct seccomp_notif *n;
	struct seccomp_notif_resp *r;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes))
		return 1;
	n = calloc(1, sizes.seccomp_notif > sizeof(*n) ? sizes.seccomp_notif : sizeof(*n));
	r = calloc(1, sizes.seccomp_notif_resp > sizeof(*r) ? sizes.seccomp_notif_resp :
		   sizeof(*r));
	if (!n || !r)
		return 1;
	for (;;) {
		struct pollfd pfd = { .fd = listener, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
			return 0;	/* no process uses the filter any more */
		memset(n, 0, sizes.seccomp_notif);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n))
			continue;	/* EINTR, or the caller is gone (ENOENT) */
		memset(r, 0, sizes.seccomp_notif_resp);
		r->id = n->id;
		r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, r);	/* ENOENT: the caller is gone */
	}
}

/* The container's cgroup (its first process's), opened, and its name in @path. */
static int container_cgroup(pid_t pid, char *path, size_t size)
{
	char dir[PATH_MAX + 32];

	errno = ENOENT;
	if (cgroup_of_pid(pid, path, size) || cgroup_dir(path, dir, sizeof(dir)))
		return -1;
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * The supervisor: its cgroup is the watcher's (made for it by
 * run_own_cgroup()). It says on @ready when it serves ('A'); if it can't,
 * the watcher answers the container's calls itself.
 */
static int supervise(struct agent_handoff *h, const char *policy_path, struct loaded_policy *lp,
		     int ready, pid_t watcher)
{
	char cg_path[PATH_MAX];
	int cg = container_cgroup(h->pid, cg_path, sizeof(cg_path)), ret;
	bool synced = false;
	sigset_t sigs;

	if (cg >= 0)
		run_program_cgroup(cg, cg_path);
	else
		run_say("can't open the container's cgroup (%s): its sockets' options are read "
			"at each swap", strerror(errno));
	/*
	 * Blocked before the watcher's death can signal it (PR_SET_PDEATHSIG,
	 * SIGUSR2): run_supervisor_prepare() reads them from its signalfd, as
	 * under run, where they are blocked from the start.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	run_registry_set_container(&h->k);
	run_supervisor_watcher(watcher, true);
	synced = run_sync_wakeup(h->listener);
	/*
	 * The runtimes' filters can't wait killably (libseccomp 2.5 has no
	 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV): a signal can interrupt a call
	 * under way, as before 5.19 under run.
	 */
	if (run_supervisor_prepare(policy_path, lp, h->pid, synced, false))
		return 1;
	if (write(ready, "A", 1) != 1)
		return 1;
	close(ready);
	run_say("serving with policy %s (%zu line%s)", policy_path, lp->pol.nr_entries,
		lp->pol.nr_entries == 1 ? "" : "s");
	ret = run_supervisor(h->listener);
	close(h->listener);
	return ret;
}

/* Into cgroup @dir (a folder of the cgroup v2 mount), before the child for the supervisor is made. */
static int enter_cgroup(const char *dir)
{
	char procs[PATH_MAX + 16];
	int fd;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "0", 1) != 1) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return close(fd);
}

/*
 * The supervisor says 'A' once it serves. The container's calls wait for it
 * meanwhile (the filter is in force): past AGENT_READY_MS (a policy whose host
 * names don't resolve, a BPF load that hangs) it is killed and the watcher
 * lets the calls through.
 */
static bool supervisor_ready(int fd, pid_t sup)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char ack;
	int n;

	do
		n = poll(&pfd, 1, AGENT_READY_MS);
	while (n < 0 && errno == EINTR);
	if (n > 0 && read(fd, &ack, 1) == 1)
		return true;
	if (n == 0) {
		run_say("the supervisor %d was not ready in %d s: stopped", (int)sup,
			AGENT_READY_MS / 1000);
		kill(sup, SIGKILL);
	}
	waitpid(sup, NULL, 0);
	return false;
}

/*
 * Out of the agent's cgroup, whatever serves the container: in a pod, that
 * cgroup is killed with the pod, and a pass-through killed with it leaves the
 * container's calls failing with ENOSYS. Once.
 */
static void leave_agent_cgroup(const char *cgroup_dir)
{
	static bool done;

	if (done || !cgroup_dir)
		return;
	done = true;
	if (enter_cgroup(cgroup_dir))
		run_say("can't enter cgroup %s (%s): this container's server ends with the "
			"agent's cgroup", cgroup_dir, strerror(errno));
}

int agent_serve(struct agent_handoff *h, const char *policy_path, const char *cgroup_dir)
{
	struct run_made_cgroup made = { .parent = -1, .always = true, .under = cgroup_dir };
	struct loaded_policy *lp;
	int sp[2], pidfd, ret;
	pid_t sup, watcher = getpid();
	char ctx[200];

	agent_context(&h->k, ctx, sizeof(ctx));
	run_set_tag("agent", ctx);
	/* As run's watcher: the OOM killer passes it by, SIGUSR1 (a report) is not for it. */
	run_oom_protect();
	signal(SIGUSR1, SIG_IGN);
	/* A container's first process ignores SIGTERM from here unless it handles it. */
	run_set_stop_grace(AGENT_STOP_GRACE_MS);
	if (!policy_path) {
		leave_agent_cgroup(cgroup_dir);
		ret = pass_through(h->listener);
		agent_handoff_free(h);
		return ret;
	}
	lp = calloc(1, sizeof(*lp));
	if (!lp || load_policy(policy_path, lp)) {
		run_say("served untouched: the policy %s can't be used (see above)", policy_path);
		goto untouched;
	}
	pidfd = syscall(SYS_pidfd_open, h->pid, 0);
	if (pidfd < 0) {
		run_say("served untouched: its process %d is gone (%s)", (int)h->pid,
			strerror(errno));
		goto untouched;
	}
	run_own_cgroup(&made);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		run_say("served untouched: can't create a socket pair: %s", strerror(errno));
		goto untouched;
	}
	fflush(NULL);
	sup = fork();
	if (sup == 0) {
		close(sp[0]);
		close(pidfd);
		_exit(supervise(h, policy_path, lp, sp[1], watcher));
	}
	close(sp[1]);
	/*
	 * The watcher's own move (an RCU grace period, about 14 ms) while the
	 * supervisor loads its BPF and moves into the cgroup made for it.
	 */
	leave_agent_cgroup(cgroup_dir);
	if (sup < 0 || !supervisor_ready(sp[0], sup)) {
		run_say("served untouched: the supervisor did not start%s%s",
			sup < 0 ? ": " : " (see above)", sup < 0 ? strerror(errno) : "");
		close(sp[0]);
		goto untouched;
	}
	close(sp[0]);
	/* The supervisor alone holds the listener now: if it dies, the calls fail (ENOSYS). */
	close(h->listener);
	h->listener = -1;
	ret = run_watch(sup, h->pid, pidfd, true);
	run_cgroup_remove(&made);
	if (h->policy_text)
		unlink(policy_path);	/* the annotation's copy: the container is gone */
	agent_handoff_free(h);
	return ret;
untouched:
	run_cgroup_remove(&made);	/* nothing to bridge */
	leave_agent_cgroup(cgroup_dir);
	ret = pass_through(h->listener);
	if (h->policy_text)
		unlink(policy_path);
	agent_handoff_free(h);
	return ret;
}
