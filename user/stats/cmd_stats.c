// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade stats`: every MPTCP connection and subflow of a cgroup subtree,
 * in whatever network namespaces its processes live, from sock_diag; the
 * engine's counters when it is attached; the namespaces' MPTcpExt counters.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/mptcp.h>

#include "common/cgroup.h"
#include "commands.h"
#include "container/runtime.h"
#include "common/diag.h"
#include "stats.h"
#include "common/jsonw.h"
#include "common/netns.h"
#include "common/output.h"
#include "common/utf8.h"
#include "common/sys.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

void help_stats(FILE *out)
{
	fprintf(out,
		"Usage: %s stats [--cgroup CGROUP | --container REF [--root DIR] | --pid PID]\n"
		"                     [--json | --prometheus]\n"
		"                     [--watch SECONDS] [--listed] [--line N] [--fallback]\n"
		"                     [--output FILE]\n"
		"\n"
		"Every MPTCP connection of the attached cgroups and of the programs the run\n"
		"engine serves (or of CGROUP and below, attached or not; or of process PID and\n"
		"its descendants: the connections they hold a descriptor of), in every network\n"
		"namespace their processes live in: local\n"
		"and remote address, state, token, fallback, subflows, bytes, the policy line\n"
		"it matched; under it each subflow with its ids, backup flag, RTT, cwnd,\n"
		"retransmits, bytes and delivery rate. Then the engine's counters per policy\n"
		"line and the namespaces' MPTcpExt counters. --container REF is the cgroup the\n"
		"container runs in, as 'attach --container' finds it.\n"
		"\n"
		"  --prometheus     text exposition format (node_exporter's textfile collector)\n"
		"  --output FILE    write to FILE atomically (FILE.tmp, then rename), each refresh;\n"
		"                   with nothing to watch, FILE says so (mptcp_upgrade_targets 0)\n"
		"  --watch SECONDS  refresh in place until interrupted\n"
		"  --listed         only connections that matched a policy line\n"
		"  --line N         only connections that matched policy line N\n"
		"  --fallback       only connections that fell back to TCP\n", prog_name);
}

static int parse_stats_args(int argc, char **argv, struct stats_args *a)
{
	static const struct option longopts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "watch", required_argument, NULL, 'w' },
		{ "listed", no_argument, NULL, 'l' },
		{ "line", required_argument, NULL, 'n' },
		{ "fallback", no_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "container", required_argument, NULL, 'C' },
		{ "root", required_argument, NULL, 'R' },
		{}
	};
	char *end;
	long v;
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->cgroup = optarg;
			break;
		case 'C':
			a->container = optarg;
			break;
		case 'R':
			a->root = optarg;
			break;
		case 'P':
			a->prometheus = true;
			break;
		case 'l':
			a->listed = true;
			break;
		case 'f':
			a->fallback = true;
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > INT_MAX)
				return usage_err("stats: --pid takes a process id, not '%s'", optarg);
			a->pid = v;
			break;
		case 'w':
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 1000000)
				return usage_err("stats: --%s takes a positive number, not '%s'",
						 c == 'w' ? "watch" : "line", optarg);
			if (c == 'w')
				a->watch = v;
			else
				a->line = v;
			break;
		case ':':
			return usage_err("stats: option '%s' needs a value (see '%s stats help')",
					 argv[optind - 1], prog_name);
		default:
			return usage_err("stats: unknown option '%s' (see '%s stats help')",
					 argv[optind - 1], prog_name);
		}
	}
	if (optind < argc)
		return usage_err("stats: unexpected argument '%s' (see '%s stats help')",
				 argv[optind], prog_name);
	if (a->pid && a->cgroup)
		return usage_err("stats: --cgroup and --pid exclude each other");
	if (a->container && (a->pid || a->cgroup))
		return usage_err("stats: --container excludes --cgroup and --pid");
	if (a->root && !a->container)
		return usage_err("stats: --root goes with --container");
	if (a->prometheus && opts.json)
		return usage_err("stats: --json and --prometheus exclude each other");
	if (a->output && !a->prometheus && !opts.json)
		return usage_err("stats: --output writes --prometheus or --json output");
	return 0;
}

/*
 * --output: stdout goes to FILE.tmp (beside FILE, so that rename is atomic)
 * until output_commit() renames it over FILE: a collector reading FILE sees
 * the whole of one refresh or of the one before, never a part.
 */
static int saved_stdout = -1;

static int output_begin(const char *path)
{
	char tmp[PATH_MAX];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fflush(stdout);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (saved_stdout < 0)
		saved_stdout = dup(STDOUT_FILENO);
	if (saved_stdout < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		close(fd);
		unlink(tmp);
		return -errno;
	}
	close(fd);
	return 0;
}

static int output_commit(const char *path)
{
	char tmp[PATH_MAX];
	int ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (fflush(stdout) || fsync(STDOUT_FILENO) || rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
	}
	dup2(saved_stdout, STDOUT_FILENO);
	return ret;
}

/* A refresh that failed: FILE keeps the last one, stdout is stdout again. */
static void output_abandon(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fflush(stdout);
	unlink(tmp);
	dup2(saved_stdout, STDOUT_FILENO);
}

/*
 * Nothing to watch: for a collector (--output, --prometheus), a state to show,
 * not an error: targets 0, which an alert can name.
 */
static int output_nothing(const struct stats_args *a)
{
	int err = a->output ? output_begin(a->output) : 0;

	if (err) {
		p_err("can't write %s.tmp: %s", a->output, strerror(-err));
		return 1;
	}
	if (opts.json) {
		printf("{\"targets\":0,\"connections\":[]}\n");
	} else {
		prometheus_build_info();
		printf("# HELP mptcp_upgrade_targets Attached cgroups and programs under run.\n"
		       "# TYPE mptcp_upgrade_targets gauge\nmptcp_upgrade_targets 0\n");
	}
	err = a->output ? output_commit(a->output) : 0;
	if (err) {
		p_err("can't write %s: %s", a->output, strerror(-err));
		return 1;
	}
	return 0;
}

int do_stats(int argc, char **argv)
{
	struct stats_args a;
	int ret;

	if (wants_help(argc, argv)) {
		help_stats(stdout);
		return 0;
	}
	ret = parse_stats_args(argc, argv, &a);
	if (ret)
		return ret;
	return stats_show(&a);
}

int stats_show(struct stats_args *args)
{
	char err[1024], root[PATH_MAX], (*paths)[PATH_MAX] = NULL;
	struct served_set served = {};
	const char **roots = NULL;
	struct snapshot s = {};
	struct stats_args a = *args;
	struct cgroup_ref cg;
	struct container ct;
	pid_t *run_pids = NULL;
	const pid_t *trees = NULL;
	size_t nr_roots = 0, i, nr_trees = 0, nr_cgroups = 0, nr_programs = 0;
	bool refreshed_once = false;
	int ret;

	/*
	 * The subflow store doubles as a dump arrives. A fixed mmap threshold
	 * keeps it out of the heap, where glibc's adaptive one would put it after
	 * the first free: realloc then moves it with mremap() instead of copying,
	 * and the old copy is not left resident.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	ret = 1;
	if (need_root("stats"))
		return 1;
	if (a.container) {
		if (container_resolve(a.container, a.root, &ct, err, sizeof(err))) {
			p_err("%s", err);
			return 1;
		}
		a.cgroup = ct.cgroup;
	}
	served.health = a.prometheus;
	if (served_attach(&served, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	if (a.pid) {
		char proc[32];

		snprintf(proc, sizeof(proc), "/proc/%d", (int)a.pid);
		if (access(proc, F_OK)) {
			p_err("no process %d is running", (int)a.pid);
			goto out;
		}
		trees = &a.pid;
		nr_trees = 1;
	}
	/* A cgroup asked for: no program under run is shown (their lines name none of its sockets). */
	if (!a.cgroup && served_run(&served, a.pid))
		goto oom;
	if (served_refresh(&served))
		goto oom;
	for (i = 0; i < served.nr; i++) {
		nr_cgroups += !!served.list[i].cgroup;
		nr_programs += !!served.list[i].program;
	}
	paths = calloc(nr_cgroups + 1, sizeof(*paths));
	roots = calloc(nr_cgroups + 1, sizeof(*roots));
	run_pids = calloc(nr_programs + 1, sizeof(*run_pids));
	if (!paths || !roots || !run_pids)
		goto oom;
	if (a.cgroup) {
		if (cgroup_resolve(a.cgroup, &cg, err, sizeof(err))) {
			p_err("%s", err);
			goto out;
		}
		snprintf(paths[0], PATH_MAX, "%s", cg.path);
		nr_roots = 1;
	} else if (!a.pid) {
		for (i = 0; i < served.nr; i++)
			if (served.list[i].program)
				run_pids[nr_trees++] = served.list[i].program;
		trees = run_pids;
		if (!nr_cgroups && !nr_programs && (a.output || a.prometheus)) {
			ret = output_nothing(&a);
			goto out;
		}
		if (!nr_cgroups && !nr_programs) {
			p_err("nothing is attached and no program runs under 'run': name a cgroup "
			      "with --cgroup or a process with --pid");
			goto out;
		}
	}
	if (!a.pid && !a.cgroup && nr_cgroups) {
		if (first_mount("cgroup2", root, sizeof(root))) {
			p_err("cgroup v2 is not mounted");
			goto out;
		}
		for (i = 0; i < served.nr; i++) {
			const char *name = served.list[i].cgroup;

			/* The name starts with '/', so the two make a path; too long, skip it. */
			if (!name || strlen(root) + strlen(name) >= PATH_MAX)
				continue;
			strcpy(paths[nr_roots], root);
			if (strcmp(name, "/"))
				strcat(paths[nr_roots], name);
			nr_roots++;
		}
	}
	for (i = 0; i < nr_roots; i++)
		roots[i] = paths[i];
	a.targets = nr_roots + nr_trees;
	/* The socket states that name each connection's line: the attach engine's, each bridge's. */
	for (i = 0; i < served.nr_maps && s.nr_storage < MU_STATS_MAX_STORAGE; i++) {
		int fd = bpf_map_get_fd_by_id(served.maps[i]);

		if (fd >= 0)
			s.storage_fds[s.nr_storage++] = fd;
	}

	if (a.watch) {
		struct sigaction sa = { .sa_handler = on_signal };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	do {
		struct printer pr = { .a = &a, .served = &served };

		/* Counters move: read again each round but the first, before any output. */
		if (refreshed_once && served_refresh(&served))
			goto oom;
		refreshed_once = true;
		if (a.output) {
			int err = output_begin(a.output);

			if (err) {
				p_err("can't write %s.tmp: %s", a.output, strerror(-err));
				ret = 1;
				goto out;
			}
		}
		if (a.watch && !opts.json && !a.prometheus)
			printf("\033[H\033[2J");	/* refresh in place */
		/* Connections are printed as they arrive: nothing is, if the first dump fails. */
		s.sink = print_conn;
		s.sink_ctx = &pr;
		ret = snapshot_take(&s, roots, nr_roots, trees, nr_trees);
		if (ret) {
			free(pr.live);
			if (a.output)
				output_abandon(a.output);
			else
				fflush(stdout);
		}
		if (ret == -ENOENT) {
			p_err("sock_diag can't list MPTCP or TCP sockets here: the kernel has no "
			      "mptcp_diag or tcp_diag (modprobe mptcp_diag tcp_diag)");
			ret = 1;
			goto out;
		} else if (ret) {
			p_err("can't read sockets through sock_diag: %s", strerror(-ret));
			ret = 1;
			goto out;
		}
		if (s.netns_dropped)
			fprintf(stderr, "note: %zu network namespaces of the subtree were left out "
				"(more than %d): their connections are not listed\n", s.netns_dropped,
				MAX_NETNS);
		print_end(&pr, &s);
		fflush(stdout);
		if (a.output) {
			int err = output_commit(a.output);

			if (err) {
				p_err("can't write %s: %s", a.output, strerror(-err));
				ret = 1;
				goto out;
			}
		}
		snapshot_free(&s);
		if (a.watch) {
			struct timespec ts = { .tv_sec = a.watch };

			while (!stopping && nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
	} while (a.watch && !stopping);
	ret = 0;
	goto out;
oom:
	p_err("out of memory");
	ret = 1;
out:
	for (i = 0; i < s.nr_storage; i++)
		close(s.storage_fds[i]);
	snapshot_free(&s);
	free(paths);
	free(roots);
	free(run_pids);
	served_free(&served);
	return ret;
}
