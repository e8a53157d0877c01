// SPDX-License-Identifier: GPL-2.0-only
/*
 * What starts a supervisor, shared by `run` (which execs the program after)
 * and `agent` (whose programs are containers a runtime started): the cgroup
 * the supervisor's sockets live in, and the watcher that tells when the
 * supervisor dies before its program.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "common/cgroup.h"
#include "common/output.h"
#include "commands.h"
#include "run.h"
#include "run_internal.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP	(1UL << 0)
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/*
 * The watcher: the supervisor's parent, which does nothing but wait for it.
 * A supervisor that leaves with status 0 saw the program's end. Any other end
 * (a crash, a kill) while the program runs leaves the program's bind() and
 * connect() failing with ENOSYS: the watcher says so on stderr (the unit's
 * journal) and, unless told to keep it, stops the program with SIGTERM so
 * that its service manager starts it again under a new supervisor.
 */
int run_watch(pid_t supervisor, pid_t proxy, int proxy_pidfd, bool stop_program)
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
	fprintf(stderr, "%s %s[%d]: %sthe supervisor %d of program %d %s: the program's bind(), "
		"connect(), dup(), fork() and epoll_create() now fail with ENOSYS%s\n", prog_name,
		run_tag, (int)getpid(), run_tag_context, (int)supervisor, (int)proxy, how,
		stop_program ? "; stopping it (SIGTERM) so that it can be started again" :
		"; restart it (--on-supervisor-death keep)");
	if (stop_program)
		run_stop_program(proxy_pidfd, proxy);
	return 1;
}

/*
 * SIGTERM; then, where a grace period is set (the agent's: a container's first
 * process is the init of its PID namespace, and the kernel drops a signal sent
 * to it from outside unless it has a handler for it, pid_namespaces(7)),
 * SIGKILL once it has passed. Under run there is none: the program's service
 * manager decides how long a graceful stop may take.
 */
static int stop_grace_ms;

void run_set_stop_grace(int ms)
{
	stop_grace_ms = ms;
}

void run_stop_program(int pidfd, pid_t pid)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int n;

	syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
	if (!stop_grace_ms)
		return;
	do
		n = poll(&pfd, 1, stop_grace_ms);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		fprintf(stderr, "%s %s[%d]: %sprogram %d still runs %d s after SIGTERM: SIGKILL\n",
			prog_name, run_tag, (int)getpid(), run_tag_context, (int)pid,
			stop_grace_ms / 1000);
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	}
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
#define RUN_CGROUP_PREFIX "mptcp-upgrade-run."

/* This process's cgroup v2 path ("/system.slice/x.service"), "?" when unknown. */
static void cgroup_path_of_self(char *out, size_t size)
{
	if (cgroup_of_pid(0, out, size))
		snprintf(out, size, "?");
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
	while ((de = readdir(d))) {
		int pid;

		if (strncmp(de->d_name, RUN_CGROUP_PREFIX, strlen(RUN_CGROUP_PREFIX)))
			continue;
		/*
		 * Its maker still alive may have made it and not moved in yet (the
		 * agent starts several at once): empty, but not to be taken away.
		 */
		pid = atoi(de->d_name + strlen(RUN_CGROUP_PREFIX));
		if (pid > 0 && (!kill(pid, 0) || errno == EPERM))
			continue;
		unlinkat(cg, de->d_name, AT_REMOVEDIR);	/* EBUSY while in use */
	}
	closedir(d);
}

/*
 * The child made, for run_enter_own_cgroup(); whether this process moved into
 * it; where to go instead when it can't (the agent's --cgroup: anywhere but
 * the agent's own, which ends with its pod).
 */
static int made_child = -1, made_fallback = -1;
static bool entered;

void run_own_cgroup(struct run_made_cgroup *made)
{
	char path[4096], why[4400] = "";
	__u64 id = 0;
	int cg, child = -1;
	struct stat st;

	if (made->under) {
		cg = open(made->under, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg < 0) {
			snprintf(why, sizeof(why), "can't open cgroup %s: %s", made->under,
				 strerror(errno));
			goto off;
		}
		made_fallback = cg;
		/* Its name, for what status and the logs say; else its folder. */
		if (cgroup_name_of_dir(made->under, path, sizeof(path)))
			snprintf(path, sizeof(path), "%s", made->under);
	} else {
		cg = run_bridge_cgroup(&id);
		if (cg < 0) {
			run_supervisor_cgroup(-1, 0, NULL);	/* the bridge says why it is off */
			return;
		}
		cgroup_path_of_self(path, sizeof(path));
	}
	if (!made->always && strcmp(path, "/") && cgroup_alone(cg)) {
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
	if (child < 0 || fstat(child, &st)) {
		snprintf(why, sizeof(why), "can't open cgroup %s%s%s: %s", path,
			 strcmp(path, "/") ? "/" : "", made->name, strerror(errno));
		goto off;
	}
	made_child = child;
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%s",
		 strcmp(path, "/") ? "/" : "", made->name);
	run_supervisor_cgroup(child, st.st_ino, path);
	return;
off:
	if (child >= 0)
		close(child);
	fprintf(stderr, "%s %s[%d]: %ssocket-option bridge off: %s: started from a cgroup "
		"that other processes share, it would run for all of them\n", prog_name, run_tag,
		(int)getpid(), run_tag_context, why);
	run_supervisor_cgroup(-1, 0, NULL);
}

/* Write @pid ("0": the caller) into the cgroup.procs of folder @cg. */
static int move_into(int cg, pid_t pid)
{
	char v[16];
	int procs, len = snprintf(v, sizeof(v), "%d", (int)pid), err;

	procs = openat(cg, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (procs < 0)
		return -1;
	if (write(procs, v, len) != len) {
		err = errno;
		close(procs);
		errno = err;
		return -1;
	}
	return close(procs);
}

int run_enter_own_cgroup(pid_t program)
{
	int err;

	if (made_child < 0) {
		/* None made: out of the caller's cgroup all the same, if it is to leave it. */
		if (made_fallback >= 0 && !entered && move_into(made_fallback, 0))
			return -1;
		entered = made_fallback >= 0;
		return 0;
	}
	if (!entered && move_into(made_child, 0)) {
		err = errno;
		if (made_fallback >= 0)
			move_into(made_fallback, 0);
		errno = err;
		return -1;
	}
	entered = true;
	if (program > 0 && move_into(made_child, program))
		return -2;	/* errno: why the program is not in it */
	return 0;
}

/* The watcher, once the supervisor is gone: the cgroup made goes (left first, if entered). */
void run_cgroup_remove(struct run_made_cgroup *made)
{
	int procs;

	if (made->parent < 0)
		return;
	procs = entered && made_child >= 0 ?
		openat(made->parent, "cgroup.procs", O_WRONLY | O_CLOEXEC) : -1;
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

/*
 * The same CPU answers at once where the kernel can (6.6+): +20 us a call,
 * not +150. MU_RUN_SYNC_WAKEUP=0 leaves it off (the benchmark compares).
 */
bool run_sync_wakeup(int listener)
{
	const char *want = getenv("MU_RUN_SYNC_WAKEUP");
	__u64 sync = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;

	if (want && !strcmp(want, "0"))
		return false;
	return !ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, sync);
}
