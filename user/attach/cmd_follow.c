// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade follow`: keep stage 3 on interfaces that appear after attach.
 * Listens for new links in this network namespace and, for each, puts the tc
 * programs on every interface of this namespace and of the attached cgroups'.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "engine.h"
#include "engine_internal.h"
#include "common/output.h"
#include "common/sys.h"

/* How often follow looks for programs the kernel stopped running. */
#define REPAIR_EVERY_MS 5000

static volatile sig_atomic_t stopping;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	stopping = 1;
}

void help_follow(FILE *out)
{
	fprintf(out,
		"Usage: %s follow\n"
		"\n"
		"Run until SIGTERM or SIGINT, putting stage 3's tc programs on each interface\n"
		"created in this network namespace (and re-checking the namespaces of the\n"
		"attached cgroups' processes) as it appears, and every 5 seconds putting back\n"
		"any program of the engine the kernel stopped running (a pin removed) and\n"
		"attaching again each container attached with --container that was re-created\n"
		"in a new cgroup (its old attachment detached). Without it, 'reload' repairs\n"
		"once. Prints one line per repair, re-attachment and per interface event that\n"
		"added programs.\n", prog_name);
}

/*
 * One pass: stage 3 on every interface of every namespace, and whatever the
 * kernel stopped running put back (a pin removed by a cleanup script: nothing
 * announces that, so do_follow also comes here every REPAIR_EVERY_MS). Returns
 * what it added, or -1. A pass's problem is said when it changes, not on every
 * pass that meets it again.
 */
static int cover_interfaces(bool timer)
{
	static char last_err[1024];
	struct engine e = { .lock_fd = -1, .bpffs_lock_fd = -1 };
	struct attachment *list = NULL;
	char err[1024], problem[1024] = "";
	size_t nr = 0, i;
	int added = 0, n;

	if (engine_start(&e, &list, &nr, err, sizeof(err))) {
		snprintf(problem, sizeof(problem), "%s", err);
		added = -1;
		goto out;
	}
	if (e.lost)
		snprintf(problem, sizeof(problem), "%zu attachment%s lost with the engine's pins "
			 "(bpffs unmounted?): 'mptcp-upgrade reload' restores them", e.lost,
			 e.lost == 1 ? "" : "s");
	if (!nr)
		goto out;
	/* Containers re-created since attach first: their new namespaces get stage 3 below. */
	follow_containers(&e, &list, &nr, problem, sizeof(problem));
	for (i = 0; i < nr && !(list[i].flags & MU_ATTACH_STRICT); i++)
		;
	added = engine_install_tc(&e, list, nr, i < nr, err, sizeof(err));
	if (added < 0) {
		snprintf(problem, sizeof(problem), "%s", err);
		goto out;
	}
	if (timer && added > 0)
		printf("repaired: stage 3 was missing on %d interface hook%s: attached\n", added,
		       added == 1 ? "" : "s");
	if (!timer)
		engine_warn_mptcp_off(&e);
	n = engine_repair_hook(&e, err, sizeof(err));
	if (n < 0)
		snprintf(problem, sizeof(problem), "%s", err);
	else if (n)
		printf("repaired: fmod_ret/update_socket_protocol was not running: attached "
		       "again\n");
	added += n > 0 ? n : 0;
	for (i = 0; i < nr; i++) {
		n = engine_repair_links(&e, &list[i], err, sizeof(err));
		if (n < 0)
			snprintf(problem, sizeof(problem), "%s", err);
		else if (n)
			printf("repaired: %d program%s of %s had been detached from its cgroup: "
			       "attached again\n", n, n == 1 ? "" : "s", list[i].cgroup);
		added += n > 0 ? n : 0;
	}
out:
	if (problem[0] && strcmp(problem, last_err))
		p_err("%s", problem);
	snprintf(last_err, sizeof(last_err), "%s", problem);
	engine_list_free(list, nr);
	engine_close(&e);
	fflush(stdout);
	return added;
}

int do_follow(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	long long next_pass;
	int n, added;

	if (wants_help(argc, argv)) {
		help_follow(stdout);
		return 0;
	}
	if (argc > 1)
		return usage_err("follow: unexpected argument '%s' (see '%s follow help')", argv[1],
				 prog_name);
	if (need_root("follow"))
		return 1;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		p_err("can't listen for interface events: %s", strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Subscribed first, then the first pass: no interface falls in between. */
	added = cover_interfaces(false);
	printf("following interfaces (%d tc links added now)\n", added < 0 ? 0 : added);
	fflush(stdout);
	next_pass = now_ms() + REPAIR_EVERY_MS;
	while (!stopping) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		long long left = next_pass - now_ms();
		struct nlmsghdr *nlh;
		bool new_link = false;

		/* A deadline, not a timeout: a stream of other link events delays no pass. */
		n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (n == 0) {
			cover_interfaces(true);
			next_pass = now_ms() + REPAIR_EVERY_MS;
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			p_err("waiting for interface events: %s", strerror(errno));
			mnl_socket_close(nl);
			return 1;
		}
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {		/* events were lost: look at everything */
				new_link = true;
			} else {
				p_err("reading interface events: %s", strerror(errno));
				mnl_socket_close(nl);
				return 1;
			}
		}
		for (nlh = (struct nlmsghdr *)buf; n > 0 && mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n))
			new_link |= nlh->nlmsg_type == RTM_NEWLINK;
		if (!new_link)
			continue;
		added = cover_interfaces(false);
		if (added > 0) {
			printf("interface event: %d tc links added\n", added);
			fflush(stdout);
		}
	}
	mnl_socket_close(nl);
	return 0;
}
