// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade agent`: accept OCI runtimes' seccomp listeners on a unix
 * socket and serve each container with the run engine. Each hand-over is read
 * and served in a process of its own, so a slow or broken runtime never holds
 * up the others, and the agent keeps nothing a container needs: it can stop,
 * restart or be upgraded while containers run (their servers stay; a container
 * started meanwhile fails to start, as its runtime can't connect).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "commands.h"
#include "common/cgroup.h"
#include "common/output.h"
#include "run/run.h"

#define HANDOFF_TIMEOUT_MS 5000

void help_agent(FILE *out)
{
	fprintf(out,
		"Usage: %s agent [--socket PATH] [--policy-dir DIR] [--cgroup CGROUP]\n"
		"                [--cgroup-namespace-of PID]\n"
		"\n"
		"Serve containers with the run engine. An OCI runtime (runc, crun; under\n"
		"Docker, podman, containerd, CRI-O and Kubernetes) whose container uses the\n"
		"seccomp profile of '%s seccomp-profile' hands the container's\n"
		"seccomp listener to PATH (default %s).\n"
		"A container whose annotation %s holds policy\n"
		"lines, or whose %s names a file in DIR\n"
		"(default %s), gets a run supervisor of its own: listed\n"
		"sockets become MPTCP, the others stay TCP. Any other container is let\n"
		"through untouched. Each container's server outlives the agent (restart or\n"
		"upgrade it at will); 'status', 'stats' and 'reload' see each container.\n"
		"--cgroup: the cgroup under which each supervisor gets a cgroup of its own\n"
		"(default: the agent's; made when missing). In a cgroup namespace of its\n"
		"own (a Kubernetes pod), the agent joins that of PID 1 (or of the process\n"
		"--cgroup-namespace-of names), so that cgroups are the host's.\n",
		prog_name, prog_name, AGENT_SOCKET, AGENT_ANN_POLICY, AGENT_ANN_POLICY_FILE,
		AGENT_POLICY_DIR);
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The socket runtimes connect to: refused while another agent answers on it. */
static int open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		p_err("socket path %s is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			p_err("%s exists and is not a socket: not replacing it", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa))) {
			close(probe);
			p_err("another agent is listening on %s", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);	/* left by an agent that was killed */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 128)) {
		p_err("can't listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The containers served before this agent started (their supervisors outlive agents). */
static void say_served(void)
{
	struct run_entry *runs = NULL;
	size_t nr = 0, i, n = 0;

	run_registry_list(&runs, &nr);
	for (i = 0; i < nr; i++)
		if (runs[i].container.id[0]) {
			fprintf(stderr, "%s agent[%d]: container %.12s%s%s%s is served by supervisor "
				"%d, started before this agent\n", prog_name, (int)getpid(),
				runs[i].container.id, runs[i].container.name[0] ? " (" : "",
				runs[i].container.name, runs[i].container.name[0] ? ")" : "",
				(int)runs[i].supervisor);
			n++;
		}
	run_registry_free(runs, nr);
	fprintf(stderr, "%s agent[%d]: %zu container%s served from before\n", prog_name,
		(int)getpid(), n, n == 1 ? "" : "s");
}

/*
 * In a cgroup namespace of its own (a Kubernetes pod's), /proc/PID/cgroup of
 * the containers it serves reads relative to the pod's cgroup, and no
 * supervisor could leave the pod's cgroup, so all would die with the pod:
 * with the host's PID namespace (hostPID), the host's cgroup namespace is
 * /proc/1/ns/cgroup (or that of the process --cgroup-namespace-of names), and
 * the agent joins it. Elsewhere nothing changes.
 */
static int host_cgroup_namespace(const char *of)
{
	char path[64];
	struct stat self, host;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/ns/cgroup", of ? of : "1");
	if (stat("/proc/self/ns/cgroup", &self))
		return 0;	/* no cgroup namespaces (before 4.6): nothing to join */
	if (stat(path, &host)) {
		if (!of)
			return 0;	/* PID 1 is not ours to see: not in a pod with hostPID */
		p_err("--cgroup-namespace-of %s: %s: %s", of, path, strerror(errno));
		return -1;
	}
	if (self.st_ino == host.st_ino && self.st_dev == host.st_dev)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWCGROUP)) {
		p_err("the agent runs in a cgroup namespace of its own and can't join the host's "
		      "(%s: %s): give it the host's PID namespace (hostPID) and CAP_SYS_ADMIN",
		      path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	fprintf(stderr, "%s agent[%d]: joined the host's cgroup namespace\n", prog_name,
		(int)getpid());
	return 0;
}

/* --cgroup names a cgroup that does not exist yet: made, one level below an existing one. */
static int make_cgroup(const char *name)
{
	char dir[PATH_MAX];

	if (name[0] != '/' || cgroup_dir(name, dir, sizeof(dir)))
		return -1;
	return mkdir(dir, 0755) ? -1 : 0;
}

/* A call of the accept loop failed (not EINTR): said once a second at most, a pause, no spin. */
static void fail_pause(const char *what)
{
	static time_t said;
	time_t now = time(NULL);

	if (now != said)
		fprintf(stderr, "%s agent[%d]: %s: %s (pausing 100 ms)\n", prog_name,
			(int)getpid(), what, strerror(errno));
	said = now;
	nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
}

/* In the process forked for connection @conn: read the hand-over, serve it. */
static int handle(int conn, const char *policy_dir, const char *cgroup_dir)
{
	struct agent_handoff h = { .listener = -1 };
	char err[512], path[PATH_MAX], ctx[200];
	int want;
	int got = agent_handoff_read(conn, HANDOFF_TIMEOUT_MS, &h, err, sizeof(err));

	if (got) {
		close(conn);
		if (got == -1 && h.listener >= 0) {
			/* A filter is installed: closing its listener would fail its calls (ENOSYS). */
			fprintf(stderr, "%s agent[%d]: a hand-over refused: %s: its calls are let "
				"through unchanged\n", prog_name, (int)getpid(), err);
			return agent_serve(&h, NULL, cgroup_dir);
		}
		if (got == -1)
			fprintf(stderr, "%s agent[%d]: a hand-over refused: %s\n", prog_name,
				(int)getpid(), err);
		agent_handoff_free(&h);
		return 1;
	}
	close(conn);
	agent_context(&h.k, ctx, sizeof(ctx));
	if (strcmp(h.metadata, AGENT_PROFILE_METADATA)) {
		fprintf(stderr, "%s agent[%d]: %sserved untouched: its listener metadata is '%s', "
			"not '%s' (the calls a swap must see may not all come here)\n", prog_name,
			(int)getpid(), ctx, h.metadata, AGENT_PROFILE_METADATA);
		return agent_serve(&h, NULL, cgroup_dir);
	}
	want = agent_policy_path(&h, policy_dir, path, sizeof(path), err, sizeof(err));
	if (want <= 0)
		fprintf(stderr, "%s agent[%d]: %sserved untouched: %s\n", prog_name, (int)getpid(),
			ctx, want ? err : "no " AGENT_ANN_POLICY " or " AGENT_ANN_POLICY_FILE
			" annotation");
	return agent_serve(&h, want > 0 ? path : NULL, cgroup_dir);
}

int do_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "policy-dir", required_argument, NULL, 'D' },
		{ "cgroup", required_argument, NULL, 'C' },
		{ "cgroup-namespace-of", required_argument, NULL, 'N' },
		{}
	};
	const char *sock_path = AGENT_SOCKET, *policy_dir = AGENT_POLICY_DIR, *cgroup = NULL;
	const char *cgroupns_of = NULL;
	struct cgroup_ref cg = {};
	sigset_t stops, waiting;
	struct stat st;
	struct sigaction sa = { .sa_handler = on_stop };
	char err[512];
	int c, fd;

	if (wants_help(argc, argv)) {
		help_agent(stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (c == ':')
			return usage_err("agent: option '%s' needs a value (see '%s agent help')",
					 argv[optind - 1], prog_name);
		if (c == 'S')
			sock_path = optarg;
		else if (c == 'D')
			policy_dir = optarg;
		else if (c == 'C')
			cgroup = optarg;
		else if (c == 'N' && strspn(optarg, "0123456789") == strlen(optarg) && *optarg)
			cgroupns_of = optarg;
		else if (c == 'N')
			return usage_err("agent: --cgroup-namespace-of takes a PID, not '%s'", optarg);
		else
			return usage_err("agent: unknown option '%s' (see '%s agent help')",
					 argv[optind - 1], prog_name);
	}
	if (optind < argc)
		return usage_err("agent: unexpected argument '%s' (see '%s agent help')",
				 argv[optind], prog_name);
	if (geteuid()) {
		p_err("agent needs root: its supervisors take the containers' sockets (pidfd_getfd) "
		      "and attach BPF programs (run as root)");
		return 1;
	}
	if (!*sock_path)
		return usage_err("agent: --socket needs a path");
	if (stat(policy_dir, &st) || (!S_ISDIR(st.st_mode) && (errno = ENOTDIR)) ||
	    access(policy_dir, R_OK | X_OK)) {
		p_err("policy folder %s: %s", policy_dir, strerror(errno));
		return 1;
	}
	if (host_cgroup_namespace(cgroupns_of))
		return 1;
	if (cgroup) {
		/* Missing: made (its parent must exist), then found like any other. */
		if (cgroup_resolve(cgroup, &cg, err, sizeof(err)) &&
		    (make_cgroup(cgroup) || cgroup_resolve(cgroup, &cg, err, sizeof(err)))) {
			p_err("%s", err);
			return 1;
		}
		if (!strcmp(cg.name, "/")) {
			p_err("--cgroup: not the root cgroup: each supervisor's bridge would run for "
			      "every process of the host");
			return 1;
		}
		cgroup = cg.path;
	}
	if (mkdir(MU_RUN_DIR, 0755) && errno != EEXIST) {
		p_err("can't create %s: %s", MU_RUN_DIR, strerror(errno));
		return 1;
	}
	fd = open_socket(sock_path);
	if (fd < 0)
		return 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Blocked but inside ppoll(): a stop can't land between the check and the wait. */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, &waiting);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGINT);
	signal(SIGCHLD, SIG_IGN);	/* each hand-over's process leaves no zombie */
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "%s agent[%d]: listening on %s\n", prog_name, (int)getpid(), sock_path);
	say_served();
	while (!stopping) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int conn;
		pid_t pid;

		if (ppoll(&pfd, 1, NULL, &waiting) < 0 && errno != EINTR) {
			fail_pause("poll");
			continue;
		}
		if (stopping)
			break;
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				fail_pause("accept");	/* EMFILE, ENFILE, ENOMEM: no spin */
			continue;
		}
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			close(fd);
			sigprocmask(SIG_UNBLOCK, &stops, NULL);
			/* A container's server ends with the container, not with the agent. */
			signal(SIGTERM, SIG_IGN);
			signal(SIGINT, SIG_IGN);
			signal(SIGHUP, SIG_IGN);
			signal(SIGCHLD, SIG_DFL);
			setsid();	/* the agent's signals and terminal are not its own */
			_exit(handle(conn, policy_dir, cgroup));
		}
		if (pid < 0)
			fprintf(stderr, "%s agent[%d]: can't fork for a hand-over: %s\n", prog_name,
				(int)getpid(), strerror(errno));
		close(conn);
	}
	close(fd);
	unlink(sock_path);
	fprintf(stderr, "%s agent[%d]: stopped; the containers it served keep their servers\n",
		prog_name, (int)getpid());
	return 0;
}
