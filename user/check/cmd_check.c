// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade check`: can this kernel run the attach engine, and if not,
 * exactly why. Each requirement is probed the way attach will use it: the
 * trampoline test loads the real socket-creation program (and attaches nothing),
 * so a kernel that refuses it here would refuse it at attach time too.
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach/engine_objs.h"
#include "bridge/bridge.h"
#include "check/lockdown.h"
#include "commands.h"
#include "common/diag.h"
#include "common/output.h"
#include "common/pm.h"
#include "common/sys.h"
#include "check.h"


/* Kernel-internal errno that BPF syscalls leak to userspace. */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

#define HOOK_FUNC "update_socket_protocol"

enum req_state {
	REQ_OK,
	REQ_WARN,	/* not needed by attach, but something else will miss it */
	REQ_UNKNOWN,	/* could not be probed (another requirement failed first) */
	REQ_MISSING,	/* the attach engine cannot run without it */
};

static const char *const state_names[] = {
	[REQ_OK] = "ok", [REQ_WARN] = "warn", [REQ_UNKNOWN] = "unknown", [REQ_MISSING] = "missing",
};

struct requirement {
	const char *name;
	enum req_state state;
	bool blocking;		/* a missing one stops attach */
	char detail[1536];
};

enum {
	R_PRIVILEGES, R_BTF, R_HOOK, R_TRAMPOLINES, R_PROGRAMS, R_CGROUP2, R_BPFFS, R_MPTCP,
	R_MPTCP_DIAG, R_RUN_ENGINE, R_SOCKOPTS, R_MULTIPATH, R_MAX,
};

static struct requirement reqs[R_MAX] = {
	[R_PRIVILEGES]	= { "privileges",  .blocking = true },
	[R_BTF]		= { "btf",         .blocking = true },
	[R_HOOK]	= { "hook",        .blocking = true },
	[R_TRAMPOLINES]	= { "trampolines", .blocking = true },
	[R_PROGRAMS]	= { "programs",    .blocking = true },
	[R_CGROUP2]	= { "cgroup2",     .blocking = true },
	[R_BPFFS]	= { "bpffs",       .blocking = false },
	[R_MPTCP]	= { "mptcp",       .blocking = true },
	[R_MPTCP_DIAG]	= { "mptcp_diag",  .blocking = false },
	[R_RUN_ENGINE]	= { "run_engine",  .blocking = false },
	[R_SOCKOPTS]	= { "sockopts",    .blocking = false },
	[R_MULTIPATH]	= { "multipath",   .blocking = false },
};

/* This namespace's path manager, for the multipath line and what follows it. */
static struct pm_info pm;
/* What the socket-option probe found; valid when have_bridge. */
static struct mu_bridge_config bridge;
static struct sockopt_unnamed unnamed;
static bool have_bridge;

static const char *level_name(int level)
{
	switch (level) {
	case MU_SOL_SOCKET: return "SOL_SOCKET";
	case MU_SOL_IP: return "SOL_IP";
	case MU_SOL_TCP: return "SOL_TCP";
	case MU_SOL_IPV6: return "SOL_IPV6";
	}
	return "?";
}

__attribute__((format(printf, 3, 4)))
static void set_req(int idx, enum req_state state, const char *fmt, ...)
{
	va_list ap;

	reqs[idx].state = state;
	va_start(ap, fmt);
	vsnprintf(reqs[idx].detail, sizeof(reqs[idx].detail), fmt, ap);
	va_end(ap);
}

void help_check(FILE *out)
{
	fprintf(out,
		"Usage: %s check [--engine attach|run] [--json]\n"
		"\n"
		"Probe what each engine needs and print one line per requirement, then\n"
		"whether each engine can run here:\n"
		"  privileges   root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN + CAP_SYS_ADMIN\n"
		"  btf          the kernel's BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)\n"
		"  hook         " HOOK_FUNC "() in that BTF (Linux 6.6 or later)\n"
		"  trampolines  the kernel loads the fmod_ret program (some kernels refuse it)\n"
		"  programs     the kernel's verifier accepts every program of the engine, one\n"
		"               object per stage: 1-2 (6.6+), the bridge (5.19+), 3 (6.6+),\n"
		"               the socket iterator (5.9+)\n"
		"  cgroup2      a cgroup v2 hierarchy and where it is mounted\n"
		"  bpffs        where pins go (attach mounts it when missing)\n"
		"  mptcp        net.mptcp.enabled in this network namespace\n"
		"  mptcp_diag   MPTCP sockets visible to sock_diag (needed by stats)\n"
		"  run_engine   what 'run' needs (seccomp user notification, pidfd_getfd, ADDFD)\n"
		"  sockopts     the socket options MPTCP sockets refuse on this kernel, which of\n"
		"               them the socket-option bridge carries to the subflows, and\n"
		"               whether its programs load\n"
		"  multipath    whether this network namespace's path manager can bring a second\n"
		"               subflow (endpoints, limits), then the path manager's settings\n"
		"\n"
		"Nothing is attached or changed. Exits 0 when at least one engine can run\n"
		"here, 1 (naming the causes) when none can. With --engine, the exit status\n"
		"is that engine's alone.\n", prog_name);
}

static void check_privileges(void)
{
	char lacking[128];

	lacking_capabilities(lacking, sizeof(lacking));
	if (!lacking[0])
		set_req(R_PRIVILEGES, REQ_OK, "%s with the capabilities attach needs",
			geteuid() ? "non-root user" : "root");
	else
		set_req(R_PRIVILEGES, REQ_MISSING, "lacking %s (run as root)", lacking);
}

static struct btf *check_btf(void)
{
	struct btf *btf;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		set_req(R_BTF, REQ_MISSING, "no /sys/kernel/btf/vmlinux: %s (the kernel needs "
			"CONFIG_DEBUG_INFO_BTF=y)", strerror(errno));
		return NULL;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		set_req(R_BTF, REQ_MISSING, "can't parse /sys/kernel/btf/vmlinux: %s",
			strerror(errno));
		return NULL;
	}
	set_req(R_BTF, REQ_OK, "/sys/kernel/btf/vmlinux, %u types", btf__type_cnt(btf));
	return btf;
}

static void check_hook(const struct btf *btf)
{
	if (!btf) {
		set_req(R_HOOK, REQ_UNKNOWN, "needs the kernel's BTF to look it up");
		return;
	}
	if (btf__find_by_name_kind(btf, HOOK_FUNC, BTF_KIND_FUNC) < 0)
		set_req(R_HOOK, REQ_MISSING, HOOK_FUNC "() is not in the kernel's BTF (it "
			"arrived in Linux 6.6)");
	else
		set_req(R_HOOK, REQ_OK, HOOK_FUNC "() found");
}

static void check_trampolines(void)
{
	char mode[32], why[256];
	const char *lockdown;
	struct stage12_bpf *skel;
	int err;

	if (reqs[R_PRIVILEGES].state != REQ_OK || reqs[R_HOOK].state != REQ_OK) {
		set_req(R_TRAMPOLINES, REQ_UNKNOWN, "not probed: needs %s first",
			reqs[R_PRIVILEGES].state != REQ_OK ? "root" : "the hook");
		return;
	}
	/* The hook alone, on maps of its own: loaded, not attached. */
	skel = engine_hook_load(NULL, why, sizeof(why));
	err = skel ? 0 : errno;
	engine_hook_destroy(skel);
	if (!err) {
		set_req(R_TRAMPOLINES, REQ_OK, "fmod_ret/" HOOK_FUNC " loads");
	} else if (err == EPERM) {
		/*
		 * Two facts, no cause: mainline lockdown does not cover trampolines
		 * (Secure Boot distributions load fmod_ret programs), so the mode is
		 * reported beside the refusal, not as its reason.
		 */
		lockdown = lockdown_mode(mode, sizeof(mode));
		set_req(R_TRAMPOLINES, REQ_MISSING, "the kernel refuses BPF trampolines: "
			"loading fmod_ret/" HOOK_FUNC " failed with EPERM as root; kernel "
			"lockdown mode: %s", lockdown ? lockdown : "unknown (not readable)");
	} else if (err == ESRCH || err == ENOENT || err == ENOTSUPP || err == EOPNOTSUPP) {
		set_req(R_TRAMPOLINES, REQ_MISSING, "the kernel does not allow fmod_ret on "
			HOOK_FUNC "(): %s (needs Linux 6.6 with CONFIG_MPTCP and "
			"CONFIG_BPF_JIT)", strerror(err));
	} else {
		set_req(R_TRAMPOLINES, REQ_MISSING, "loading fmod_ret/" HOOK_FUNC " failed: %s "
			"(run with --debug for the verifier log)", strerror(err));
	}
}

/* Every object of the engine, loaded as attach loads them. */
static void check_programs(void)
{
	struct engine_objs objs;
	char err[512] = "";

	if (reqs[R_TRAMPOLINES].state != REQ_OK) {
		set_req(R_PROGRAMS, REQ_UNKNOWN, "not probed: needs the socket-creation program "
			"first");
		return;
	}
	/* The way attach loads them: one object per stage, on one set of maps. */
	if (engine_objs_load(&objs, err, sizeof(err)) && objs.failed)
		set_req(R_PROGRAMS, REQ_MISSING, "the kernel refuses %s: %s (run with --debug "
			"for the verifier log)", objs.failed, strerror(errno));
	else if (err[0])
		set_req(R_PROGRAMS, REQ_MISSING, "%s", err);
	else
		set_req(R_PROGRAMS, REQ_OK, "stage 1-2 (sock_create, bind4/6, connect4/6), the "
			"bridge (setsockopt, getsockopt, sockops), stage 3 (tcx) and the socket "
			"iterator load");
	engine_objs_destroy(&objs);
}

static void check_cgroup2(void)
{
	char where[512];
	bool v1;
	int n = find_mounts("cgroup2", where, sizeof(where), &v1);

	if (n < 0)
		set_req(R_CGROUP2, REQ_UNKNOWN, "can't read /proc/self/mountinfo: %s",
			strerror(-n));
	else if (!n && find_mounts_outside("cgroup2", where, sizeof(where)) > 0)
		set_req(R_CGROUP2, REQ_MISSING, "not in this mount namespace, which has a /sys "
			"of its own (as under ip netns exec); the machine has cgroup v2 at %s: "
			"attach from outside it (the other lines are about this namespace)", where);
	else if (!n)
		set_req(R_CGROUP2, REQ_MISSING, "no cgroup v2 hierarchy is mounted%s (mount one: "
			"mount -t cgroup2 none /sys/fs/cgroup)", v1 ? ", only cgroup v1" : "");
	else
		set_req(R_CGROUP2, REQ_OK, "mounted at %s%s", where,
			v1 ? " (hybrid: cgroup v1 hierarchies beside it)" : "");
}

static void check_bpffs(void)
{
	char where[512];
	int n = find_mounts("bpf", where, sizeof(where), NULL);

	if (n < 0)
		set_req(R_BPFFS, REQ_UNKNOWN, "can't read /proc/self/mountinfo: %s", strerror(-n));
	else if (!n)
		set_req(R_BPFFS, REQ_WARN, "not mounted (attach will mount it at /sys/fs/bpf)");
	else
		set_req(R_BPFFS, REQ_OK, "mounted at %s", where);
}

static void check_mptcp_enabled(void)
{
	int enabled = mptcp_enabled();

	if (enabled == -ENOENT)
		set_req(R_MPTCP, REQ_MISSING, "no /proc/sys/net/mptcp/enabled: this kernel has no "
			"MPTCP (CONFIG_MPTCP)");
	else if (enabled == 1)
		set_req(R_MPTCP, REQ_OK, "net.mptcp.enabled = 1 in this network namespace");
	else if (enabled == 0)
		set_req(R_MPTCP, REQ_MISSING, "net.mptcp.enabled = 0 in this network namespace: "
			"upgraded sockets would fail with ENOPROTOOPT (sysctl -w "
			"net.mptcp.enabled=1)");
	else
		set_req(R_MPTCP, REQ_UNKNOWN, "can't read net.mptcp.enabled: %s",
			strerror(-enabled));
}

static void check_mptcp_diag(void)
{
	int err = diag_probe_mptcp();

	if (!err)
		set_req(R_MPTCP_DIAG, REQ_OK, "sock_diag answers for MPTCP sockets");
	else if (err == -ENOENT)
		set_req(R_MPTCP_DIAG, REQ_WARN, "sock_diag has no MPTCP handler: stats can't list "
			"connections (modprobe mptcp_diag; CONFIG_INET_MPTCP_DIAG)");
	else
		set_req(R_MPTCP_DIAG, REQ_WARN, "sock_diag request for MPTCP sockets failed: %s",
			strerror(-err));
}

static void print_plain(const char *kernel)
{
	int i;

	printf("%-12s %-8s %s\n", "kernel", "", kernel);
	for (i = 0; i < R_MAX; i++)
		printf("%-12s %-8s %s\n", reqs[i].name, state_names[reqs[i].state],
		       reqs[i].detail);
	pm_print(&pm, "                      ");
}

/* What check concludes for each engine, and why not. */
struct verdict {
	bool attach, run;
	char attach_why[2048], run_why[sizeof(reqs[0].detail) + 16];
};

static void engine_json(struct jsonw *w, const char *name, bool ready, const char *why)
{
	jw_key(w, name);
	jw_object_start(w);
	jw_kv_bool(w, "ready", ready);
	if (!ready)
		jw_kv_string(w, "error", why);
	jw_object_end(w);
}

static void print_json(const char *kernel, const struct verdict *v, bool ready,
		       const char *causes)
{
	struct jsonw w;
	int i;

	json_stdout(&w);
	jw_object_start(&w);
	jw_kv_string(&w, "kernel", kernel);
	jw_key(&w, "requirements");
	jw_array_start(&w);
	for (i = 0; i < R_MAX; i++) {
		jw_object_start(&w);
		jw_kv_string(&w, "name", reqs[i].name);
		jw_kv_string(&w, "state", state_names[reqs[i].state]);
		jw_kv_bool(&w, "required", reqs[i].blocking);
		jw_kv_string(&w, "detail", reqs[i].detail);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "path_manager");
	jw_object_start(&w);
	pm_json(&w, &pm);
	jw_object_end(&w);
	if (have_bridge) {
		jw_key(&w, "sockopts");
		jw_object_start(&w);
		sockopt_mask_json(&w, "known", NULL);
		sockopt_mask_json(&w, "refused", &bridge.refused);
		sockopt_mask_json(&w, "refused_before_fallback_only", &bridge.after_fallback);
		sockopt_mask_json(&w, "carried", &bridge.carry);
		jw_kv_bool(&w, "oobinline_answered", bridge.flags & MU_BRIDGE_F_OOBINLINE);
		jw_key(&w, "refused_unnamed");
		jw_array_start(&w);
		for (i = 0; i < unnamed.nr; i++) {
			jw_object_start(&w);
			jw_kv_string(&w, "level", level_name(unnamed.opt[i].level));
			jw_kv_int(&w, "optname", unnamed.opt[i].optname);
			jw_object_end(&w);
		}
		jw_array_end(&w);
		jw_kv_bool(&w, "loads", reqs[R_SOCKOPTS].state == REQ_OK);
		jw_object_end(&w);
	}
	jw_key(&w, "engines");
	jw_object_start(&w);
	engine_json(&w, "attach", v->attach, v->attach_why);
	engine_json(&w, "run", v->run, v->run_why);
	jw_object_end(&w);
	jw_kv_bool(&w, "ready", ready);
	if (!ready)
		jw_kv_string(&w, "error", causes);
	jw_object_end(&w);
	jw_end(&w);
}

/*
 * What `mptcp-upgrade run` needs: a seccomp filter with a user-notification
 * listener, and pidfd_getfd. Tried in a throwaway child (a filter stays).
 */
static void check_run_engine(void)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = { .len = 1, .filter = &allow };
		struct seccomp_notif_addfd addfd = {};
		int listener;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			_exit(1);
		listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (listener < 0)
			_exit(1);
		/* ADDFD (5.9) for a notification that does not exist: ENOENT where it is known. */
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) == 0 || errno != ENOENT)
			_exit(3);
		/* An fd of -1 is EBADF where the call exists, ENOSYS where it does not. */
		_exit(syscall(438 /* pidfd_getfd */, -1, 0, 0) < 0 && errno == ENOSYS ? 2 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		set_req(R_RUN_ENGINE, REQ_UNKNOWN, "could not probe seccomp in a child process");
		return;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		if (reqs[R_MPTCP].state != REQ_OK)
			set_req(R_RUN_ENGINE, REQ_WARN, "seccomp and pidfd_getfd are there, but "
				"MPTCP is not enabled in this network namespace (sysctl -w "
				"net.mptcp.enabled=1)");
		else if (geteuid())
			set_req(R_RUN_ENGINE, REQ_WARN, "seccomp user notification and pidfd_getfd "
				"are there, but '%s run' needs root (run as root)", prog_name);
		else
			set_req(R_RUN_ENGINE, REQ_OK, "seccomp user notification and pidfd_getfd: "
				"'%s run' can enforce a policy per socket here", prog_name);
		break;
	case 1:
		set_req(R_RUN_ENGINE, REQ_WARN, "no seccomp filter with user notification "
			"(Linux 5.9+, CONFIG_SECCOMP_FILTER): '%s run' can't work here", prog_name);
		break;
	case 3:
		set_req(R_RUN_ENGINE, REQ_WARN, "seccomp user notification without ADDFD (Linux "
			"5.9+): '%s run' can't work here", prog_name);
		break;
	default:
		set_req(R_RUN_ENGINE, REQ_WARN, "no pidfd_getfd (Linux 5.6+): '%s run' can't work "
			"here", prog_name);
	}
}

/*
 * Which options MPTCP refuses here (probed in a namespace of its own), which
 * of them the bridge carries, and whether its programs load.
 */
static void check_sockopts(void)
{
	char err[256], refused[1024], carried[400], left[1024], more[400] = "";
	struct mu_optmask rest;
	int lerr;

	if (bridge_probe(&bridge, &unnamed, err, sizeof(err))) {
		set_req(R_SOCKOPTS, REQ_UNKNOWN, "not probed: %s", err);
		return;
	}
	have_bridge = true;
	rest.w[0] = bridge.refused.w[0] & ~bridge.carry.w[0];
	rest.w[1] = bridge.refused.w[1] & ~bridge.carry.w[1];
	if (bridge.flags & MU_BRIDGE_F_OOBINLINE)	/* answered, not refused (MU_BRIDGE_F_OOBINLINE) */
		rest.w[MU_SOPT_SO_OOBINLINE / 64] &= ~(1ULL << (MU_SOPT_SO_OOBINLINE % 64));
	if (unnamed.nr)
		snprintf(more, sizeof(more), ", and %d option numbers that TCP takes and this "
			 "table does not name (check --json lists them; a run swap keeps a socket "
			 "that set one TCP)", unnamed.nr);
	sockopt_mask_names(&bridge.refused, refused, sizeof(refused));
	sockopt_mask_names(&bridge.carry, carried, sizeof(carried));
	sockopt_mask_names(&rest, left, sizeof(left));
	if (sockopt_mask_empty(&bridge.carry)) {
		set_req(R_SOCKOPTS, REQ_OK, "MPTCP refuses %s; the bridge carries none of them", refused);
		return;
	}
	if (reqs[R_PRIVILEGES].state != REQ_OK) {
		set_req(R_SOCKOPTS, REQ_UNKNOWN, "MPTCP refuses %s; the bridge would carry %s "
			"(its programs not probed: needs root)", refused, carried);
		return;
	}
	lerr = bridge_load_test();
	if (lerr)
		set_req(R_SOCKOPTS, REQ_WARN, "MPTCP refuses %s, and the bridge's programs do not "
			"load (%s; they need Linux 5.19; --debug shows why): programs setting them "
			"get an error on upgraded sockets", refused, strerror(-lerr));
	else
		set_req(R_SOCKOPTS, REQ_OK, "the bridge carries %s (refused by MPTCP here) to "
			"every subflow%s; MPTCP still refuses %s%s", carried,
			bridge.flags & MU_BRIDGE_F_OOBINLINE ? " and answers SO_OOBINLINE" : "",
			left, more);
}

/* Every probe, in order: later ones look at what earlier ones found. */
/* Whether connections from and to this namespace can get a second subflow, and why. */
static void check_multipath(void)
{
	char verdict[sizeof(reqs[0].detail)];

	pm_read(&pm);
	set_req(R_MULTIPATH, pm_verdict(&pm, verdict, sizeof(verdict)) ? REQ_OK : REQ_WARN,
		"%s", verdict);
}

static void probe_all(void)
{
	struct btf *btf;

	check_privileges();
	btf = check_btf();
	check_hook(btf);
	btf__free(btf);
	check_trampolines();
	check_programs();
	check_cgroup2();
	check_bpffs();
	check_mptcp_enabled();
	check_mptcp_diag();
	check_run_engine();
	check_sockopts();
	check_multipath();
}

int attach_preflight(char *cause, size_t size)
{
	int i;

	probe_all();
	for (i = 0; i < R_MAX; i++) {
		if (!reqs[i].blocking || reqs[i].state == REQ_OK)
			continue;
		snprintf(cause, size, "%s%s", reqs[i].detail,
			 reqs[R_RUN_ENGINE].state == REQ_OK ?
			 " (the run engine works here: mptcp-upgrade run --policy FILE -- COMMAND)" :
			 "");
		return -1;
	}
	return 0;
}

/* The attach engine's causes (its required lines not ok), and the run engine's. */
static void conclude(struct verdict *v)
{
	char *c = v->attach_why;
	int i;

	v->attach = true;
	for (i = 0; i < R_MAX; i++) {
		if (!reqs[i].blocking || reqs[i].state == REQ_OK)
			continue;
		/* An unprobed requirement is only a cause when nothing else explains it. */
		if (reqs[i].state == REQ_UNKNOWN && !v->attach)
			continue;
		v->attach = false;
		snprintf(c + strlen(c), sizeof(v->attach_why) - strlen(c), "%s%s: %s",
			 c[0] ? "; " : "", reqs[i].name, reqs[i].detail);
	}
	/* run refuses to start without root (its supervisor takes the program's sockets): the line says so. */
	v->run = reqs[R_RUN_ENGINE].state == REQ_OK;
	if (!v->run)
		snprintf(v->run_why, sizeof(v->run_why), "run_engine: %s",
			 reqs[R_RUN_ENGINE].detail);
}

int do_check(int argc, char **argv)
{
	enum { ANY, ATTACH, RUN } want = ANY;
	struct verdict v = {};
	char causes[sizeof(v.attach_why) + sizeof(v.run_why) + 128] = "";
	struct utsname uts;
	bool ready;
	int i;

	if (wants_help(argc, argv)) {
		help_check(stdout);
		return 0;
	}
	for (i = 1; i < argc; i++) {
		const char *e = NULL;

		if (want != ANY && (!strcmp(argv[i], "--engine") ||
				    !strncmp(argv[i], "--engine=", 9)))
			return usage_err("check: --engine is given once");
		if (!strcmp(argv[i], "--engine") && i + 1 < argc)
			e = argv[++i];
		else if (!strncmp(argv[i], "--engine=", 9))
			e = argv[i] + 9;
		else if (!strcmp(argv[i], "--engine"))
			return usage_err("check: --engine takes attach or run");
		else
			return usage_err("check: unexpected argument '%s' (see '%s check help')",
					 argv[i], prog_name);
		if (!strcmp(e, "attach"))
			want = ATTACH;
		else if (!strcmp(e, "run"))
			want = RUN;
		else
			return usage_err("check: --engine takes attach or run, not '%s'", e);
	}

	uname(&uts);
	probe_all();
	conclude(&v);
	ready = want == ATTACH ? v.attach : want == RUN ? v.run : v.attach || v.run;
	if (want == ATTACH && !v.attach)
		snprintf(causes, sizeof(causes), "the attach engine can't run here: %s%s%s%s",
			 v.attach_why, v.run ? "; the run engine can ('" : "", v.run ? prog_name : "",
			 v.run ? " run --policy FILE -- COMMAND')" : "");
	else if (want == RUN && !v.run)
		snprintf(causes, sizeof(causes), "the run engine can't run here: %s", v.run_why);
	else if (!ready)
		snprintf(causes, sizeof(causes), "no engine can run here: attach: %s; run: %s",
			 v.attach_why, v.run_why);

	if (opts.json) {
		print_json(uts.release, &v, ready, causes);
		return ready ? 0 : 1;
	}
	print_plain(uts.release);
	printf("\n");
	if (v.attach)
		printf("%-12s %-8s %s\n", "attach", "can run", "here");
	else
		printf("%-12s %-8s %s\n", "attach", "can't", v.attach_why);
	if (v.run)
		printf("%-12s %-8s here: %s run --policy FILE -- COMMAND\n", "run", "can run",
		       prog_name);
	else
		printf("%-12s %-8s %s\n", "run", "can't", v.run_why);
	if (!ready)
		p_err("%s", causes);
	return ready ? 0 : 1;
}
