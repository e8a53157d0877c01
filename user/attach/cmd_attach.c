// SPDX-License-Identifier: GPL-2.0-only
/* attach, reload and detach: the commands that change what the attach engine does. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "commands.h"
#include "engine.h"
#include "common/output.h"
#include "stats/stats.h"
#include "run/run.h"
#include "common/sys.h"
#include "engine_internal.h"

#define ERR_SIZE 1024

void help_attach(FILE *out)
{
	fprintf(out,
		"Usage: %s attach --cgroup CGROUP --policy FILE [--no-strict] [--bridge-native]\n"
		"       %s attach --container REF [--root DIR] --policy FILE [...]\n"
		"\n"
		"Upgrade the TCP sockets that processes of CGROUP (and of every cgroup below it)\n"
		"create from now on to MPTCP, for the families FILE has entries for, and record\n"
		"at bind() and connect() which entry of FILE each socket matched. Addresses FILE\n"
		"does not list stay plain TCP on the wire: MP_CAPABLE is removed from their SYNs\n"
		"on every interface of this network namespace and of the cgroup's processes'.\n"
		"--no-strict leaves them MPTCP with peers that ask for it (and loads no tc\n"
		"programs), for when the upgrade should follow HAProxy's policy only in the\n"
		"counters, not on the wire.\n"
		"\n"
		"Socket options MPTCP refuses on this kernel (see 'check') are carried to the\n"
		"subflows of the sockets attach upgraded; --bridge-native does the same for the\n"
		"MPTCP sockets the cgroup's programs create themselves (IPPROTO_MPTCP), which\n"
		"are otherwise left to the kernel.\n"
		"\n"
		"CGROUP is a cgroup v2 path (/sys/fs/cgroup/x, /x or x), a systemd slice\n"
		"(haproxy.slice; a-b.slice is looked for under a.slice), or another systemd\n"
		"unit (haproxy.service), looked for under whichever slice holds it.\n"
		"\n"
		"--container attaches the cgroup v2 a container's init process runs in, found\n"
		"from its runtime's state: REF is runc:ID, crun:ID, podman:NAME (or ID),\n"
		"containerd:NAMESPACE/ID, crio:ID, or an ID (a unique prefix will do) or name\n"
		"looked for in all of them. --root DIR reads the runtime's state from DIR\n"
		"instead of /run/runc, /run/crun or /run/containerd/runc. The container is\n"
		"recorded with the attachment: 'follow' attaches it again when it is re-created.\n"
		"\n"
		"The upgrade is pinned under " MU_PIN_DIR " and outlives this command,\n"
		"until 'detach'. Sockets that existed before attach are not upgraded: restart\n"
		"the proxy (a seamless reload keeps its old listening sockets).\n", prog_name,
		prog_name);
}

void help_reload(FILE *out)
{
	fprintf(out,
		"Usage: %s reload [--cgroup CGROUP | --container REF] [--policy FILE]\n"
		"       %s reload --pid PID\n"
		"\n"
		"Read the policy of every attached cgroup (or of CGROUP) again, or FILE instead,\n"
		"and swap it in atomically: a socket sees the old policy or the new one, never a\n"
		"mix. When any file has an error, nothing changes. Per-line counters restart.\n"
		"Interfaces and network namespaces that appeared since attach get the stage 3\n"
		"programs too. A plain reload also makes every supervisor of the run engine\n"
		"read its policy file again; --pid only the one that serves process PID (in a\n"
		"unit: ExecReload=... reload --pid $MAINPID). --container REF [--root DIR]\n"
		"names the attachment 'attach --container' made, as detach does.\n",
		prog_name, prog_name);
}

void help_detach(FILE *out)
{
	fprintf(out,
		"Usage: %s detach [--cgroup CGROUP | --container REF [--root DIR] | --all]\n"
		"\n"
		"Stop upgrading the sockets of CGROUP (of every attached cgroup with --all; of\n"
		"the only one when there is one). Existing connections keep working; new sockets\n"
		"are plain TCP. With the last cgroup the engine unloads and leaves no pin.\n"
		"With nothing attached, detach and detach --all succeed and say so; a CGROUP\n"
		"that is not attached is an error. --container names the attachment 'attach\n"
		"--container' made (as recorded, or the container's cgroup if it runs).\n",
		prog_name);
}


/* --cgroup, --policy, --all and --no-strict, the options these commands share. */
struct attach_args {
	const char *cgroup;
	const char *container;	/* --container REF, instead of --cgroup */
	const char *root;	/* --root DIR: the container runtime's state directory */
	const char *policy;
	bool all;
	bool no_strict;
	bool bridge_native;
	pid_t pid;		/* reload --pid: the run supervisor serving it */
};

static int parse_args(int argc, char **argv, struct attach_args *a, const char *allowed)
{
	static const struct option longopts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, 'P' },
		{ "all", no_argument, NULL, 'a' },
		{ "no-strict", no_argument, NULL, 'S' },
		{ "bridge-native", no_argument, NULL, 'B' },
		{ "pid", required_argument, NULL, 'p' },
		{ "container", required_argument, NULL, 'C' },
		{ "root", required_argument, NULL, 'R' },
		{}
	};
	const char *cmd = argv[0];
	char *end;
	long v;
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		if (c == ':')
			return usage_err("%s: option '%s' needs a value (see '%s %s help')", cmd,
					 argv[optind - 1], prog_name, cmd);
		if (c == '?' || !strchr(allowed, c))
			return usage_err("%s: unknown option '%s' (see '%s %s help')", cmd,
					 argv[optind - 1], prog_name, cmd);
		if (c == 'c')
			a->cgroup = optarg;
		else if (c == 'P')
			a->policy = optarg;
		else if (c == 'S')
			a->no_strict = true;
		else if (c == 'B')
			a->bridge_native = true;
		else if (c == 'C')
			a->container = optarg;
		else if (c == 'R')
			a->root = optarg;
		else if (c == 'p') {
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > INT_MAX)
				return usage_err("%s: --pid takes a process id, not '%s'", cmd, optarg);
			a->pid = v;
		}
		else
			a->all = true;
	}
	if (optind < argc)
		return usage_err("%s: unexpected argument '%s' (see '%s %s help')", cmd,
				 argv[optind], prog_name, cmd);
	if (a->container && a->cgroup)
		return usage_err("%s: --cgroup and --container exclude each other", cmd);
	if (a->root && !a->container)
		return usage_err("%s: --root goes with --container", cmd);
	if (a->container)
		a->cgroup = a->container;	/* what the commands test and print when named */
	return 0;
}

static void report_detached(const char *cgroup)
{
	report_action("detached", cgroup, NULL, NULL, 0);
}

/*
 * The last detach left the engine in place for sockets that are still alive:
 * say why, and what ends it. Stderr, so that JSON output stays one document.
 */
static void report_draining(struct engine *e)
{
	long total, orphans;
	struct stat st;

	if (!e->loaded || stat(MU_PIN_DIR, &st) || engine_live_sockets(e, &total, &orphans) ||
	    orphans <= 0)
		return;
	fprintf(stderr, "note: %ld listening or unconnected socket%s of detached cgroups %s still "
		"MPTCP; stage 3 stays so that their unlisted addresses keep plain TCP on the wire. "
		"Restart the proxy to release them; the next %s command after that unloads the "
		"engine.\n", orphans, orphans == 1 ? "" : "s", orphans == 1 ? "is" : "are",
		prog_name);
}

/*
 * Listeners the cgroup holds already were created as TCP and stay so: say
 * which, and which of them the policy lists, with what to do.
 */
static void warn_tcp_listeners(const char *cgroup, const struct policy *pol)
{
	struct mu_listener *l = NULL;
	size_t nr = 0, i, j, listed = 0;
	char where[256] = "", ep[64];

	int err = cgroup_tcp_listeners(cgroup, &l, &nr);

	if (err)
		fprintf(stderr, "note: can't tell whether %s already holds TCP listeners, which "
			"would stay TCP (sock_diag: %s; modprobe tcp_diag)\n", cgroup,
			strerror(-err));
	if (err || !nr) {
		free(l);
		return;
	}
	for (i = 0; i < nr; i++) {
		int line = 0;

		for (j = 0; j < pol->nr_entries && !line; j++)
			if (policy_entry_matches(&pol->entries[j], l[i].local.family,
						 l[i].local.addr, l[i].local.port, MU_ROLE_BIND))
				line = pol->entries[j].line;
		if (!line)
			continue;
		listed++;
		endpoint_str(&l[i].local, ep, sizeof(ep));
		if (strlen(where) + strlen(ep) + 16 < sizeof(where))
			snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%s (line %d)",
				 where[0] ? ", " : "", ep, line);
	}
	fprintf(stderr, "note: %s already holds %zu TCP listener%s%s%s%s: sockets created "
		"before attach stay TCP; restart the proxy (systemctl restart its unit) for "
		"them to follow the policy\n", cgroup, nr, nr == 1 ? "" : "s",
		listed ? ", the policy lists " : "", listed ? where : "",
		listed ? "" : " (none the policy lists)");
	free(l);
}

int do_attach(int argc, char **argv)
{
	struct attachment *list = NULL;
	struct engine e = { .lock_fd = -1, .bpffs_lock_fd = -1 };
	struct loaded_policy lp = {};
	struct attach_origin origin;
	char err[ERR_SIZE];
	struct attach_args a;
	struct cgroup_ref cg;
	int ret = 1, enabled;
	size_t nr = 0, i;

	if (wants_help(argc, argv)) {
		help_attach(stdout);
		return 0;
	}
	ret = parse_args(argc, argv, &a, "cPSBCR");
	if (ret)
		return ret;
	if (!a.cgroup || !a.policy)
		return usage_err("attach: needs --cgroup CGROUP and --policy FILE (or --container "
				 "REF instead of --cgroup; see '%s attach help')", prog_name);
	ret = 1;
	if (need_root("attach"))
		return 1;
	if (!strcmp(a.policy, "-"))
		return usage_err("attach: the policy must be a file, so that reload can read it "
				 "again");
	if (load_policy(a.policy, &lp))
		return 1;
	if (attach_target(a.container ? NULL : a.cgroup, a.container, a.root, &cg, &origin))
		goto out;
	enabled = mptcp_enabled();
	if (enabled != 1) {
		p_err("MPTCP is %s in this network namespace: upgraded sockets would fail with "
		      "ENOPROTOOPT (sysctl -w net.mptcp.enabled=1)",
		      enabled == 0 ? "disabled (net.mptcp.enabled = 0)" : "not available");
		goto out;
	}
	if (engine_start(&e, &list, &nr, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (list[i].cgroup_id == cg.id) {
			p_err("cgroup %s is already attached (use '%s reload' to change its policy)",
			      cg.name, prog_name);
			goto out;
		}
		/*
		 * An attachment whose cgroup was removed (or recreated: a service's
		 * cgroup is, on every restart) applies to nothing: the new one
		 * replaces it.
		 */
		if (!cgroup_alive(list[i].cgroup, list[i].cgroup_id) &&
		    (cgroup_nested(list[i].cgroup, cg.name) || (origin.container[0] &&
		     !strcmp(list[i].origin.container, origin.container)))) {
			fprintf(stderr, "note: replacing the attachment of %s, whose cgroup was "
				"removed or recreated since\n", list[i].cgroup);
			if (engine_detach(&e, &list[i], err, sizeof(err))) {
				p_err("%s", err);
				goto out;
			}
			continue;
		}
		if (cgroup_nested(list[i].cgroup, cg.name) ||
		    cgroup_nested_ids(&cg, list[i].cgroup, list[i].cgroup_id)) {
			p_err("cgroup %s is nested with attached cgroup %s: one policy per subtree",
			      cg.name, list[i].cgroup);
			goto out;
		}
	}
	if (strlen(cg.name) > 8 && !strcmp(cg.name + strlen(cg.name) - 8, ".service"))
		fprintf(stderr, "note: %s is a service's cgroup, which systemd removes and creates "
			"anew on every restart of the service: the attachment would then apply to "
			"nothing. Attach its slice instead (Slice= in the unit; see the haproxy.service.d "
			"example)\n", cg.name);
	if (e.lost)
		fprintf(stderr, "note: %zu attachment%s lost with the engine's pins %s not restored: "
			"'%s reload' restores %s\n", e.lost, e.lost == 1 ? "" : "s",
			e.lost == 1 ? "is" : "are", prog_name, e.lost == 1 ? "it" : "them");
	if (!e.loaded) {
		if (engine_preflight(err, sizeof(err))) {
			p_err("can't attach to cgroup %s: %s", cg.name, err);
			goto out;
		}
		if (engine_load(&e, err, sizeof(err))) {
			p_err("%s", err);
			goto out;
		}
	}
	/*
	 * Stage 3 and the namespaces first: the programs do nothing until a
	 * strict socket exists, and stage 1 upgrades only in prepared namespaces.
	 */
	{
		struct attachment *grown = realloc(list, (nr + 1) * sizeof(*list));
		bool stage3 = !a.no_strict;

		if (!grown)
			goto out;
		list = grown;
		memset(&list[nr], 0, sizeof(list[nr]));
		snprintf(list[nr].cgroup, sizeof(list[nr].cgroup), "%s", cg.name);
		for (i = 0; i < nr; i++)
			stage3 |= list[i].flags & MU_ATTACH_STRICT;
		if (engine_install_tc(&e, list, nr + 1, stage3, err, sizeof(err)) < 0) {
			p_err("%s", err);
			goto fail_fresh;
		}
		engine_warn_mptcp_off(&e);
	}
	if (engine_attach(&e, &cg, lp.path, lp.sha256, &lp.pol, &lp.trie,
			  (a.no_strict ? 0 : MU_ATTACH_STRICT) |
			  (a.bridge_native ? MU_ATTACH_BRIDGE_NATIVE : 0), &origin, err,
			  sizeof(err))) {
		p_err("%s", err);
fail_fresh:
		/* A fresh engine with nothing attached is removed again. */
		engine_close(&e);
		if (!engine_lock(&e, err, sizeof(err)))
			engine_open(&e, err, sizeof(err));
		goto out;
	}
	report_action("attached", cg.name, lp.path, &lp.pol, lp.trie.families);
	warn_tcp_listeners(cg.name, &lp.pol);
	ret = 0;
out:
	engine_list_free(list, nr);
	engine_close(&e);
	loaded_policy_free(&lp);
	return report_finish(ret);
}

/*
 * The attachments reload works on (all, or --cgroup's), as indexes into @list;
 * -1 with the error printed, or the usage exit code.
 */
static int reload_targets(struct attachment *list, size_t nr, const struct attach_args *a,
			  size_t *first, size_t *last)
{
	struct attachment *target;

	if (!nr) {
		p_err("nothing is attached (see '%s attach help')", prog_name);
		return -1;
	}
	if (a->cgroup) {
		target = find_target(list, nr, a->cgroup, a->container, a->root);
		if (!target)
			return -1;
		*first = target - list;
		*last = *first + 1;
	} else if (a->policy && nr > 1) {
		return usage_err("reload: %zu cgroups are attached: name the one --policy is for "
				 "with --cgroup", nr);
	} else {
		*first = 0;
		*last = nr;
	}
	return 0;
}

/*
 * Reload reads its policies without holding the lock (a slow resolver or a
 * file on a hung mount must not stop every other command), then takes the
 * lock again and goes on only if the attachments are still those it read for.
 */
int do_reload(int argc, char **argv)
{
	struct engine e = { .lock_fd = -1, .bpffs_lock_fd = -1 };
	struct attachment *list = NULL;
	struct loaded_policy *lps = NULL;
	struct reload_step *steps = NULL;
	struct run_entry *runs = NULL;
	__u64 *cgroup_ids = NULL;
	size_t nruns = 0;
	char err[ERR_SIZE];
	struct attach_args a;
	size_t nr = 0, i, n = 0, first = 0, last = 0;
	bool restore_failed = false;
	int ret;

	if (wants_help(argc, argv)) {
		help_reload(stdout);
		return 0;
	}
	ret = parse_args(argc, argv, &a, "cPpCR");
	if (ret)
		return ret;
	if (a.pid && (a.cgroup || a.policy))
		return usage_err("reload: --pid excludes --cgroup and --policy (a supervisor reads "
				 "its own policy file again)");
	ret = 1;
	if (need_root("reload"))
		return 1;
	if (a.pid)
		return report_finish(run_reload_pid(a.pid));
	if (engine_start(&e, &list, &nr, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	/*
	 * Attachments lost with the engine's pins come back first; one that can't
	 * (its cgroup or policy file gone) is said and fails the reload at the
	 * end, and the rest goes on.
	 */
	if (e.lost || older_engine_pending()) {
		restore_failed = restore_lost(&e) != 0;
		engine_list_free(list, nr);
		engine_close(&e);
		list = NULL;
		nr = 0;
		if (engine_start(&e, &list, &nr, err, sizeof(err))) {
			p_err("%s", err);
			goto out;
		}
	}
	/* Supervisors of the run engine reload with a plain reload, attachments or not. */
	if (!a.cgroup && !a.policy) {
		run_registry_list(&runs, &nruns);
		if (!nr && nruns) {
			ret = run_reload(runs, nruns);
			goto out;
		}
	}
	if (!nr && restore_failed)
		goto out;	/* said: nothing else to reload */
	ret = reload_targets(list, nr, &a, &first, &last);
	if (ret) {
		ret = ret < 0 ? 1 : ret;
		goto out;
	}
	ret = 1;
	engine_close(&e);

	/* Every policy parses before any is swapped in: an error changes nothing. */
	n = last - first;
	lps = calloc(n, sizeof(*lps));
	cgroup_ids = calloc(n, sizeof(*cgroup_ids));
	if (!lps || !cgroup_ids)
		goto out;
	for (i = 0; i < n; i++) {
		cgroup_ids[i] = list[first + i].cgroup_id;
		if (!a.policy && list[first + i].state_lost) {
			p_err("the state of %s is lost, and with it the name of its policy file: "
			      "'%s reload --cgroup %s --policy FILE'", list[first + i].cgroup,
			      prog_name, list[first + i].cgroup);
			goto out;
		}
		if (load_policy(a.policy ? a.policy : list[first + i].policy, &lps[i]))
			goto out;
	}
	for (i = 0; i < n; i++)
		if (!a.policy && strcmp(lps[i].path, list[first + i].policy))
			/* The attachment's file is a link that points elsewhere now. */
			snprintf(lps[i].path, sizeof(lps[i].path), "%s", list[first + i].policy);

	engine_list_free(list, nr);
	list = NULL;
	if (engine_start(&e, &list, &nr, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (first + i >= nr || list[first + i].cgroup_id != cgroup_ids[i]) {
			p_err("the attachments changed while their policies were read: run reload "
			      "again");
			goto out;
		}
	}
	/* Interfaces and namespaces may have come since: stage 3 covers them first. */
	for (i = 0; i < nr && !(list[i].flags & MU_ATTACH_STRICT); i++)
		;
	ret = engine_install_tc(&e, list, nr, i < nr, err, sizeof(err));
	if (ret < 0) {
		p_err("%s", err);
		ret = 1;
		goto out;
	}
	if (ret)
		fprintf(stderr, "note: stage 3 was missing on %d interface hook%s (new interfaces, "
			"or links removed): attached\n", ret, ret == 1 ? "" : "s");
	engine_warn_mptcp_off(&e);
	/* What someone removed is put back: reload is the repair. */
	ret = engine_repair_hook(&e, err, sizeof(err));
	if (ret < 0) {
		p_err("%s", err);
		ret = 1;
		goto out;
	}
	if (ret)
		fprintf(stderr, "note: the kernel ran no fmod_ret/update_socket_protocol (its link "
			"was removed): loaded and attached again, listed sockets are MPTCP again\n");
	ret = 1;
	for (i = 0; i < nr; i++) {
		int repaired = engine_repair_links(&e, &list[i], err, sizeof(err));

		if (repaired < 0) {
			p_err("%s", err);
			goto out;
		}
		if (repaired)
			fprintf(stderr, "note: %d program%s of %s had been detached from its cgroup: "
				"attached again\n", repaired, repaired == 1 ? "" : "s",
				list[i].cgroup);
	}
	steps = calloc(n, sizeof(*steps));
	if (!steps)
		goto out;
	for (i = 0; i < n; i++) {
		struct attachment *att = &list[first + i];

		if (cgroup_alive(att->cgroup, att->cgroup_id) == 0)
			fprintf(stderr, "note: the cgroup of %s was removed or recreated since attach: "
				"its policy applies to nothing (see '%s status')\n", att->cgroup,
				prog_name);
		steps[i] = (struct reload_step){ .att = att, .path = lps[i].path,
						 .sha256 = lps[i].sha256, .pol = &lps[i].pol,
						 .trie = &lps[i].trie };
	}
	if (engine_reload(&e, steps, n, err, sizeof(err))) {
		p_err("%s", err);
		goto out;
	}
	for (i = 0; i < n; i++)
		report_action("reloaded", list[first + i].cgroup, lps[i].path, &lps[i].pol,
		       lps[i].trie.families);
	ret = run_reload(runs, nruns);
out:
	for (i = 0; lps && i < n; i++)
		loaded_policy_free(&lps[i]);
	free(lps);
	free(steps);
	run_registry_free(runs, nruns);
	free(cgroup_ids);
	engine_list_free(list, nr);
	engine_close(&e);
	return report_finish(restore_failed && !ret ? 1 : ret);
}

int do_detach(int argc, char **argv)
{
	struct engine e = { .lock_fd = -1, .bpffs_lock_fd = -1 };
	struct attachment *list = NULL, *target;
	char err[ERR_SIZE];
	struct attach_args a;
	size_t nr = 0, i;
	int ret;

	if (wants_help(argc, argv)) {
		help_detach(stdout);
		return 0;
	}
	ret = parse_args(argc, argv, &a, "caCR");
	if (ret)
		return ret;
	if (a.cgroup && a.all)
		return usage_err("detach: --%s and --all exclude each other",
				 a.container ? "container" : "cgroup");
	ret = 1;
	if (need_root("detach"))
		return 1;
	if (engine_start(&e, &list, &nr, err, sizeof(err))) {
		/*
		 * The way out of pins this version can't open (one removed by
		 * hand, a killed older version, a package upgrade): detach --all
		 * removes them, under the lock, if it got that far.
		 */
		if (a.all && e.lock_fd >= 0 && !e.loaded && !e.newer_abi &&
		    access(MU_PIN_DIR, F_OK) == 0) {
			engine_remove_unopenable(&e);
			fprintf(stderr, "note: removed the engine pinned under %s, which could not "
				"be opened (%s)\n", MU_PIN_DIR, err);
			ret = 0;
			goto out;
		}
		p_err("%s", err);
		goto out;
	}
	/*
	 * Attachments lost with the engine's pins are forgotten when asked for:
	 * --all, the cgroup named, or a plain detach with nothing else attached.
	 * Never before the arguments are known to be right.
	 */
	if (e.lost && (a.all || (!a.cgroup && !nr))) {
		forget_lost(NULL);
		if (!nr) {
			ret = 0;
			goto out;
		}
	} else if (e.lost && a.cgroup && forget_lost(a.cgroup)) {
		for (i = 0; i < nr && !names_cgroup(a.cgroup, list[i].cgroup); i++)
			;
		if (i == nr) {
			ret = 0;	/* it was lost, not attached: forgetting it is the detach */
			goto out;
		}
	}
	/*
	 * detach asks for a state, and nothing attached is that state: success,
	 * said on stderr, with or without --all. A cgroup named and not attached
	 * is an error (find_attachment says so).
	 */
	if (!nr && !a.cgroup) {
		fprintf(stderr, "note: nothing is attached\n");
		ret = 0;
		goto out;
	}
	if (!nr) {
		p_err("%s is not attached (nothing is)", a.cgroup);
		goto out;
	}
	if (a.cgroup) {
		target = find_target(list, nr, a.cgroup, a.container, a.root);
		if (!target)
			goto out;
		if (engine_detach(&e, target, err, sizeof(err))) {
			p_err("%s", err);
			goto out;
		}
		report_detached(target->cgroup);
		report_draining(&e);
	} else if (a.all || nr == 1) {
		for (i = 0; i < nr; i++) {
			if (engine_detach(&e, &list[i], err, sizeof(err))) {
				p_err("%s", err);
				goto out;
			}
			report_detached(list[i].cgroup);
		}
		report_draining(&e);
	} else {
		ret = usage_err("detach: %zu cgroups are attached: name one with --cgroup, or "
				"use --all", nr);
		goto out;
	}
	ret = 0;
out:
	engine_list_free(list, nr);
	engine_close(&e);
	return report_finish(ret);
}
