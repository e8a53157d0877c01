/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The MPTCP path manager of the current network namespace, as the kernel's
 * mptcp_pm generic netlink family and sysctls report it (what `ip mptcp limits`
 * and `ip mptcp endpoint` show), and what follows from it for multipath.
 */
#ifndef MU_PM_H
#define MU_PM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define PM_MAX_ENDPOINTS 64

struct pm_endpoint {
	__u8 id;
	int family;
	char addr[46];		/* INET6_ADDRSTRLEN */
	__u16 port;		/* 0: none */
	__u32 flags;		/* MPTCP_PM_ADDR_FLAG_* */
	int ifindex;
};

struct pm_info {
	char manager[32];		/* "kernel", "userspace", ... */
	bool have_limits;
	__u32 subflows, add_addr_accepted;
	struct pm_endpoint ep[PM_MAX_ENDPOINTS];
	size_t nr_ep;
	size_t nr_signal, nr_subflow;
	int allow_join_initial;		/* net.mptcp.allow_join_initial_addr_port, -1: unknown */
	int err;			/* 0, or the errno of the netlink exchange */
};

/* Read the path manager of the current network namespace. */
void pm_read(struct pm_info *pm);
/* "signal,subflow,backup": the endpoint's flags as ip-mptcp names them. */
void pm_flags_str(__u32 flags, char *out, size_t size);
/*
 * One line saying what the settings mean for the connections of this
 * namespace's sockets; returns true when this host itself can bring a second
 * subflow (an endpoint to announce or to open one from, or a userspace PM).
 */
bool pm_verdict(const struct pm_info *pm, char *out, size_t size);

struct jsonw;
/* The same as JSON: manager, limits, endpoints, verdict; the members, in the caller's object. */
void pm_json(struct jsonw *w, const struct pm_info *pm);
/* The path manager, its limits and endpoints, one line each, after @indent. */
void pm_print(const struct pm_info *pm, const char *indent);

#endif /* MU_PM_H */
