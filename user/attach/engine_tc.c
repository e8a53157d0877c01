// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stage 3's place in the network namespaces: tcx links on every interface of
 * the namespaces the attached cgroups can use, and netns_info, which tells
 * stage 1 where it may upgrade.
 */
#include <dirent.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "engine_internal.h"
#include "common/netns.h"
#include "common/sys.h"

/* ---- stage 3: tc programs on interfaces ------------------------------------ */

/* The part of struct bpf_link_info a tcx link fills (Debian's uapi header predates it). */
struct tcx_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;		/* the union that follows is 8-byte aligned */
	__u32 ifindex;		/* 0 once the device is gone */
	__u32 attach_type;
	__u8 rest[64];
};

/* The interface a pinned tcx link is on: 0 once the device is gone, -1 without a link. */
static int tcx_link_ifindex(const char *pin)
{
	struct tcx_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pin), ifindex = -1;

	if (fd < 0)
		return -1;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		ifindex = info.ifindex;
	close(fd);
	return ifindex;
}

static const char *const tc_dirs[] = { "ingress", "egress" };

/* Where the link of @dir (0 ingress, 1 egress) on interface @ifindex of @netns is pinned. */
static void tc_pin_path(char *out, size_t size, unsigned long netns, unsigned int ifindex,
			size_t dir)
{
	snprintf(out, size, TC_PIN_DIR "/%lu-%u-%s", netns, ifindex, tc_dirs[dir]);
}

/*
 * Every pinned link: how many are on live interfaces; with @sweep, the pins
 * of interfaces that are gone (alone or with their namespace) are removed.
 */
static int walk_tc_pins(bool sweep)
{
	DIR *d = opendir(TC_PIN_DIR);
	char pin[PATH_MAX];
	struct dirent *de;
	int alive = 0;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(pin, sizeof(pin), TC_PIN_DIR "/%s", de->d_name);
		if (tcx_link_ifindex(pin) > 0)
			alive++;
		else if (sweep)
			unlink(pin);
	}
	if (d)
		closedir(d);
	return alive;
}

int engine_tc_links(void)
{
	return walk_tc_pins(false);
}

static bool tcx_link_alive(const char *pin, int ifindex)
{
	return tcx_link_ifindex(pin) == ifindex;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The current network namespace's cookie, the key stage 1 looks it up by. */
static int netns_cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ret = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len);
	close(fd);
	return ret;
}

/* Both directions on every interface of the current network namespace. */
static int install_tc_here(struct engine *e, unsigned long netns, char *err, size_t err_size)
{
	static const enum engine_prog progs_of[] = { EP_TC_INGRESS, EP_TC_EGRESS };
	struct if_nameindex *ifs = if_nameindex(), *it;
	char pin[PATH_MAX];
	int added = 0, link_fd;
	size_t d;

	if (!ifs)
		return fail(err, err_size, "can't list interfaces: %s", strerror(errno));
	for (it = ifs; it->if_index; it++) {
		for (d = 0; d < 2; d++) {
			tc_pin_path(pin, sizeof(pin), netns, it->if_index, d);
			if (tcx_link_alive(pin, it->if_index))
				continue;
			unlink(pin);	/* a link of a device that is gone */
			link_fd = bpf_link_create(e->prog_fd[progs_of[d]], it->if_index,
						  engine_progs[progs_of[d]].type, NULL);
			if (link_fd < 0 && errno == ENODEV)
				break;	/* the interface went away since the listing */
			if (link_fd < 0 || bpf_obj_pin(link_fd, pin)) {
				fail(err, err_size, "can't attach to %s %s of interface %s: %s",
				     d == 0 ? "tcx ingress" : "tcx egress",
				     "hook", it->if_name, strerror(errno));
				if (link_fd >= 0)
					close(link_fd);
				if_freenameindex(ifs);
				return -1;
			}
			close(link_fd);
			added++;
		}
	}
	if_freenameindex(ifs);
	return added;
}

struct install_ctx {
	struct engine *e;
	bool stage3;
	char *err;
	size_t err_size;
};

/*
 * Prepare one namespace: stage 3 on its interfaces when a strict attachment
 * needs it, then tell stage 1 what it may do there. The order matters: a
 * namespace is marked ready only once its programs are in place.
 */
static int install_in_ns(const struct netns_ref *ns, void *arg)
{
	struct install_ctx *c = arg;
	__u32 flags = 0, old = 0;
	__u64 cookie;
	int added = 0;

	if (c->stage3) {
		added = install_tc_here(c->e, ns->ino, c->err, c->err_size);
		if (added < 0)
			return -1;
		flags |= MU_NETNS_STAGE3;
	}
	if (mptcp_enabled() == 0) {
		flags |= MU_NETNS_MPTCP_OFF;
		c->e->netns_mptcp_off++;
	}
	if (netns_cookie(&cookie))
		return fail(c->err, c->err_size, "can't read the network namespace cookie "
			    "(SO_NETNS_COOKIE, Linux 5.14): %s", strerror(errno));
	if (!bpf_map_lookup_elem(c->e->map_fd[EM_NETNS], &cookie, &old))
		flags |= old & MU_NETNS_STAGE3;	/* links stay until unload */
	if (bpf_map_update_elem(c->e->map_fd[EM_NETNS], &cookie, &flags, BPF_ANY))
		return fail(c->err, c->err_size, "can't record network namespace %lu: %s",
			    ns->ino, strerror(errno));
	return added;
}

void engine_warn_mptcp_off(const struct engine *e)
{
	if (e->netns_dropped)
		fprintf(stderr, "note: %zu network namespaces were left unprepared (more than %d, "
			"or no memory): sockets there stay TCP\n", e->netns_dropped, MAX_NETNS);
	if (e->netns_mptcp_off)
		fprintf(stderr, "note: net.mptcp.enabled=0 in %d network namespace%s of the "
			"attached cgroups: sockets created there stay TCP (and are counted) instead "
			"of failing; sysctl -w net.mptcp.enabled=1 there, then reload\n",
			e->netns_mptcp_off, e->netns_mptcp_off == 1 ? "" : "s");
}

/*
 * The namespaces the engine prepares: this command's own first (an empty
 * cgroup's proxy starts here), those of `ip netns`, and those the processes
 * of the attached cgroups live in.
 */
static void prepared_namespaces(struct netns_set *set, const struct attachment *list, size_t nr)
{
	char root[PATH_MAX], path[PATH_MAX * 2];
	size_t i;

	netns_set_init(set);
	netns_set_add_named(set);
	if (first_mount("cgroup2", root, sizeof(root)))
		return;
	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "%s%s", root,
			 strcmp(list[i].cgroup, "/") ? list[i].cgroup : "");
		netns_set_add_cgroup(set, path);
	}
}

int engine_install_tc(struct engine *e, const struct attachment *list, size_t nr, bool stage3,
		      char *err, size_t err_size)
{
	struct install_ctx ctx = { .e = e, .stage3 = stage3, .err = err, .err_size = err_size };
	struct netns_set set;
	int added;

	e->netns_mptcp_off = 0;
	if (mkdir(TC_PIN_DIR, 0700) && errno != EEXIST)
		return fail(err, err_size, "can't create %s: %s", TC_PIN_DIR, strerror(errno));
	prepared_namespaces(&set, list, nr);
	/* Left out, they stay unprepared: stage 1 leaves their sockets TCP (counted). */
	e->netns_dropped = set.dropped;
	err[0] = '\0';
	added = netns_set_for_each(&set, install_in_ns, &ctx);
	if (added < 0 && !err[0])
		fail(err, err_size, "can't return to this network namespace: %s", strerror(errno));
	netns_set_free(&set);
	if (added >= 0)
		walk_tc_pins(true);
	return added;
}

struct gaps_ctx {
	struct engine *e;
	__u32 want[2];
	struct engine_tc_gaps *g;
};

/* The tcx programs the kernel runs on @ifindex of this namespace include @want. */
static bool tcx_runs(int ifindex, enum bpf_attach_type type, __u32 want)
{
	__u32 ids[64], cnt = sizeof(ids) / sizeof(ids[0]), i;

	if (bpf_prog_query(ifindex, type, 0, NULL, ids, &cnt))
		return false;
	for (i = 0; i < cnt; i++)
		if (ids[i] == want)
			return true;
	return false;
}

/*
 * One namespace: only one stage 1 was told is ready for strict sockets
 * (MU_NETNS_STAGE3) needs the programs, and then on every interface.
 */
static int gaps_in_ns(const struct netns_ref *ns, void *arg)
{
	static const enum engine_prog progs_of[] = { EP_TC_INGRESS, EP_TC_EGRESS };
	struct gaps_ctx *c = arg;
	struct if_nameindex *ifs, *it;
	__u32 flags = 0;
	__u64 cookie;
	size_t d;

	if (netns_cookie(&cookie) ||
	    bpf_map_lookup_elem(c->e->map_fd[EM_NETNS], &cookie, &flags) ||
	    !(flags & MU_NETNS_STAGE3))
		return 0;
	ifs = if_nameindex();
	for (it = ifs; it && it->if_index; it++) {
		for (d = 0; d < 2; d++) {
			if (tcx_runs(it->if_index, engine_progs[progs_of[d]].type, c->want[d]))
				continue;
			if (!c->g->missing[d]++)
				snprintf(c->g->first[d], sizeof(c->g->first[d]),
					 "%s in network namespace %lu", it->if_name, ns->ino);
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return 0;
}

int engine_tc_gaps(struct engine *e, const struct attachment *list, size_t nr,
		   struct engine_tc_gaps *g)
{
	struct gaps_ctx c = { .e = e, .g = g };
	struct netns_set set;
	size_t i;
	int ret = 0;

	memset(g, 0, sizeof(*g));
	/* Without a strict attachment nothing installs stage 3: nothing is missing. */
	for (i = 0; i < nr && !(list[i].flags & MU_ATTACH_STRICT); i++)
		;
	if (i == nr)
		return 0;
	c.want[0] = engine_prog_id(e->prog_fd[EP_TC_INGRESS]);
	c.want[1] = engine_prog_id(e->prog_fd[EP_TC_EGRESS]);
	/* The namespaces engine_install_tc prepares, as it finds them. */
	prepared_namespaces(&set, list, nr);
	if (netns_set_for_each(&set, gaps_in_ns, &c) < 0)
		ret = -1;
	netns_set_free(&set);
	return ret;
}
