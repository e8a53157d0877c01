// SPDX-License-Identifier: GPL-2.0-only
/*
 * The path manager of this network namespace: the type from the sysctls
 * (net.mptcp.path_manager since 6.15, net.mptcp.pm_type since 5.19, the
 * kernel one before), the limits and endpoints from the mptcp_pm generic
 * netlink family (GET_LIMITS, a GET_ADDR dump).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/mptcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "pm.h"

static int read_sysctl(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");
	int ok = f && fgets(out, size, f);

	if (f)
		fclose(f);
	if (!ok)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static void read_manager(struct pm_info *pm)
{
	char v[32];

	if (!read_sysctl("/proc/sys/net/mptcp/path_manager", v, sizeof(v)))
		snprintf(pm->manager, sizeof(pm->manager), "%s", v);
	else if (!read_sysctl("/proc/sys/net/mptcp/pm_type", v, sizeof(v)))
		snprintf(pm->manager, sizeof(pm->manager), "%s",
			 atoi(v) == 1 ? "userspace" : "kernel");
	else
		snprintf(pm->manager, sizeof(pm->manager), "kernel");
	pm->allow_join_initial = -1;
	if (!read_sysctl("/proc/sys/net/mptcp/allow_join_initial_addr_port", v, sizeof(v)))
		pm->allow_join_initial = atoi(v);
}

struct exchange {
	struct mnl_socket *nl;
	unsigned int portid, seq;
	char buf[32768];	/* at least a page, as libmnl asks */
};

/* Send @nlh, run @cb over every answer until the end (ack or dump done). */
static int talk(struct exchange *x, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	int ret;

	nlh->nlmsg_seq = ++x->seq;
	if (mnl_socket_sendto(x->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ret = mnl_socket_recvfrom(x->nl, x->buf, sizeof(x->buf));
		if (ret < 0)
			return -errno;
		ret = mnl_cb_run(x->buf, ret, x->seq, x->portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *genl_request(char *buf, __u16 type, __u16 flags, __u8 cmd, __u8 version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int family_attr(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
	    !mnl_attr_validate(a, MNL_TYPE_U16))
		*(__u16 *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int on_family(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr, data);
}

static int limits_attr(const struct nlattr *a, void *data)
{
	struct pm_info *pm = data;

	if (mnl_attr_validate(a, MNL_TYPE_U32))
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == MPTCP_PM_ATTR_SUBFLOWS)
		pm->subflows = mnl_attr_get_u32(a);
	else if (mnl_attr_get_type(a) == MPTCP_PM_ATTR_RCV_ADD_ADDRS)
		pm->add_addr_accepted = mnl_attr_get_u32(a);
	else
		return MNL_CB_OK;
	pm->have_limits = true;
	return MNL_CB_OK;
}

static int on_limits(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), limits_attr, data);
}

static int endpoint_attr(const struct nlattr *a, void *data)
{
	struct pm_endpoint *e = data;
	const void *p = mnl_attr_get_payload(a);
	size_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case MPTCP_PM_ADDR_ATTR_ID:
		if (len >= 1)
			e->id = *(const __u8 *)p;
		break;
	case MPTCP_PM_ADDR_ATTR_ADDR4:
		if (len >= 4) {
			e->family = AF_INET;
			inet_ntop(AF_INET, p, e->addr, sizeof(e->addr));
		}
		break;
	case MPTCP_PM_ADDR_ATTR_ADDR6:
		if (len >= 16) {
			e->family = AF_INET6;
			inet_ntop(AF_INET6, p, e->addr, sizeof(e->addr));
		}
		break;
	case MPTCP_PM_ADDR_ATTR_PORT:
		if (len >= 2)
			e->port = *(const __u16 *)p;
		break;
	case MPTCP_PM_ADDR_ATTR_FLAGS:
		if (len >= 4)
			e->flags = *(const __u32 *)p;
		break;
	case MPTCP_PM_ADDR_ATTR_IF_IDX:
		if (len >= 4)
			e->ifindex = *(const __s32 *)p;
		break;
	}
	return MNL_CB_OK;
}

static int addr_attr(const struct nlattr *a, void *data)
{
	struct pm_info *pm = data;
	struct pm_endpoint *e;

	if (mnl_attr_get_type(a) != MPTCP_PM_ATTR_ADDR || pm->nr_ep == PM_MAX_ENDPOINTS ||
	    mnl_attr_validate(a, MNL_TYPE_NESTED))
		return MNL_CB_OK;
	e = &pm->ep[pm->nr_ep];
	memset(e, 0, sizeof(*e));
	mnl_attr_parse_nested(a, endpoint_attr, e);
	if (!e->family)
		return MNL_CB_OK;
	pm->nr_signal += !!(e->flags & MPTCP_PM_ADDR_FLAG_SIGNAL);
	pm->nr_subflow += !!(e->flags & MPTCP_PM_ADDR_FLAG_SUBFLOW);
	pm->nr_ep++;
	return MNL_CB_OK;
}

static int on_addr(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), addr_attr, data);
}

void pm_read(struct pm_info *pm)
{
	struct exchange *x = calloc(1, sizeof(*x));
	char req[512];
	struct nlmsghdr *nlh;
	__u16 family = 0;

	memset(pm, 0, sizeof(*pm));
	read_manager(pm);
	if (!x) {
		pm->err = ENOMEM;
		return;
	}
	x->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!x->nl || mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		pm->err = errno;
		goto out;
	}
	x->portid = mnl_socket_get_portid(x->nl);
	x->seq = time(NULL);
	nlh = genl_request(req, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME);
	pm->err = -talk(x, nlh, on_family, &family);
	if (pm->err || !family) {
		pm->err = pm->err ? pm->err : ENOENT;
		goto out;
	}
	nlh = genl_request(req, family, NLM_F_ACK, MPTCP_PM_CMD_GET_LIMITS, MPTCP_PM_VER);
	pm->err = -talk(x, nlh, on_limits, pm);
	if (pm->err)
		goto out;
	nlh = genl_request(req, family, NLM_F_DUMP, MPTCP_PM_CMD_GET_ADDR, MPTCP_PM_VER);
	pm->err = -talk(x, nlh, on_addr, pm);
out:
	if (x->nl)
		mnl_socket_close(x->nl);
	free(x);
}

void pm_flags_str(__u32 flags, char *out, size_t size)
{
	static const struct { __u32 bit; const char *name; } names[] = {
		{ MPTCP_PM_ADDR_FLAG_SIGNAL, "signal" }, { MPTCP_PM_ADDR_FLAG_SUBFLOW, "subflow" },
		{ MPTCP_PM_ADDR_FLAG_BACKUP, "backup" }, { MPTCP_PM_ADDR_FLAG_FULLMESH, "fullmesh" },
		{ MPTCP_PM_ADDR_FLAG_IMPLICIT, "implicit" },
	};
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			n += snprintf(out + n, n < size ? size - n : 0, "%s%s", n ? "," : "",
				      names[i].name);
	if (!n)
		snprintf(out, size, "-");
}

bool pm_verdict(const struct pm_info *pm, char *out, size_t size)
{
	if (pm->err) {
		snprintf(out, size, "the path manager can't be read (%s)", strerror(pm->err));
		return false;
	}
	if (strcmp(pm->manager, "kernel")) {
		snprintf(out, size, "the %s path manager: extra subflows and addresses are up to "
			 "its daemon (mptcpd, NetworkManager)", pm->manager);
		return true;
	}
	if (!pm->subflows) {
		snprintf(out, size, "subflows 0: this host opens no extra subflow and refuses "
			 "peers' joins, so every connection keeps one path (ip mptcp limits set "
			 "subflows N)");
		return false;
	}
	if (!pm->nr_signal && !pm->nr_subflow) {
		snprintf(out, size, "no signal endpoint and no subflow endpoint: peers will use "
			 "one path unless they open subflows themselves (up to %u joins accepted)",
			 pm->subflows);
		return false;
	}
	snprintf(out, size, "%zu signal endpoint%s (announced; peers join if their "
		 "add_addr_accepted >= 1), %zu subflow endpoint%s (subflows opened from here), "
		 "up to %u extra subflows per connection%s", pm->nr_signal,
		 pm->nr_signal == 1 ? "" : "s", pm->nr_subflow, pm->nr_subflow == 1 ? "" : "s",
		 pm->subflows, pm->add_addr_accepted ? "" :
		 "; addresses peers announce are not used (add_addr_accepted 0)");
	return true;
}

void pm_json(struct jsonw *w, const struct pm_info *pm)
{
	char flags[64], verdict[512];
	size_t i;

	jw_kv_string(w, "manager", pm->manager);
	if (pm->err)
		jw_kv_string(w, "error", strerror(pm->err));
	if (pm->have_limits) {
		jw_key(w, "limits");
		jw_object_start(w);
		jw_kv_int(w, "subflows", pm->subflows);
		jw_kv_int(w, "add_addr_accepted", pm->add_addr_accepted);
		jw_object_end(w);
	}
	jw_key(w, "endpoints");
	jw_array_start(w);
	for (i = 0; i < pm->nr_ep; i++) {
		pm_flags_str(pm->ep[i].flags, flags, sizeof(flags));
		jw_object_start(w);
		jw_kv_int(w, "id", pm->ep[i].id);
		jw_kv_string(w, "address", pm->ep[i].addr);
		if (pm->ep[i].port)
			jw_kv_int(w, "port", pm->ep[i].port);
		jw_kv_string(w, "flags", flags);
		if (pm->ep[i].ifindex)
			jw_kv_int(w, "ifindex", pm->ep[i].ifindex);
		jw_object_end(w);
	}
	jw_array_end(w);
	if (pm->allow_join_initial >= 0)
		jw_kv_bool(w, "allow_join_initial_addr_port", pm->allow_join_initial);
	jw_kv_bool(w, "multipath_offered", pm_verdict(pm, verdict, sizeof(verdict)));
	jw_kv_string(w, "verdict", verdict);
}

void pm_print(const struct pm_info *pm, const char *indent)
{
	char flags[64];
	size_t i;

	printf("%spath manager  %s", indent, pm->manager);
	if (pm->have_limits)
		printf(", limits: subflows %u, add_addr_accepted %u", pm->subflows,
		       pm->add_addr_accepted);
	if (pm->allow_join_initial == 0)
		printf(", allow_join_initial_addr_port 0");
	printf("\n");
	for (i = 0; i < pm->nr_ep; i++) {
		pm_flags_str(pm->ep[i].flags, flags, sizeof(flags));
		printf("%sendpoint      id %u %s%s%.0u %s", indent, pm->ep[i].id, pm->ep[i].addr,
		       pm->ep[i].port ? " port " : "", pm->ep[i].port, flags);
		if (pm->ep[i].ifindex)
			printf(" (ifindex %d)", pm->ep[i].ifindex);
		printf("\n");
	}
	if (!pm->nr_ep && !pm->err)
		printf("%sendpoints     none\n", indent);
}
