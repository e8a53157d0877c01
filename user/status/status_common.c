// SPDX-License-Identifier: GPL-2.0-only
/*
 * What both engines' parts of `mptcp-upgrade status` share: times, the
 * fields of the state they read back, the path manager of each namespace, and
 * the socket-option bridge's counters, each gathered, printed and as JSON.
 */
#include <bpf/bpf.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "common/cgroup.h"
#include "common/netns.h"
#include "common/pm.h"
#include "status.h"

void format_time(long long t, char *out, size_t size)
{
	time_t tt = t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm))
		snprintf(out, size, "never");
	else
		strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

int json_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : 0;
}

/* ---- the path manager of each namespace a cgroup's or a program's processes use ---- */

static int pm_of_ns(const struct netns_ref *ns, void *ctx)
{
	struct status_pms *p = ctx;
	struct status_pm *grown = realloc(p->ns, (p->nr + 1) * sizeof(*p->ns));

	if (!grown)
		return 0;	/* left out, as netns_set leaves out what it has no room for */
	p->ns = grown;
	p->ns[p->nr].netns = ns->ino;
	pm_read(&p->ns[p->nr++].pm);
	return 0;
}

static void path_managers(struct netns_set *set, struct status_pms *out)
{
	netns_set_for_each(set, pm_of_ns, out);
	netns_set_free(set);
}

void path_managers_of_cgroup(const char *cgroup, struct status_pms *out)
{
	struct netns_set set = {};
	char path[2 * PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (cgroup_dir(cgroup, path, sizeof(path)))
		return;
	out->known = true;
	netns_set_add_cgroup(&set, path);
	path_managers(&set, out);
}

void path_managers_of_pid(pid_t pid, struct status_pms *out)
{
	struct netns_set set = {};

	memset(out, 0, sizeof(*out));
	out->known = true;
	netns_set_add_pid(&set, pid);
	path_managers(&set, out);
}

void path_managers_print(const struct status_pms *p)
{
	char verdict[512];
	size_t i;

	for (i = 0; i < p->nr; i++) {
		pm_verdict(&p->ns[i].pm, verdict, sizeof(verdict));
		printf("  multipath  netns %lu: %s\n", p->ns[i].netns, verdict);
		pm_print(&p->ns[i].pm, "             ");
	}
}

void path_managers_json(struct jsonw *w, const struct status_pms *p)
{
	size_t i;

	if (!p->known)
		return;
	jw_key(w, "path_managers");
	jw_array_start(w);
	for (i = 0; i < p->nr; i++) {
		jw_object_start(w);
		pm_json(w, &p->ns[i].pm);
		jw_kv_u64(w, "netns", p->ns[i].netns);
		jw_object_end(w);
	}
	jw_array_end(w);
}

/* ---- the socket-option bridge of an attachment or a supervisor ---- */

/* "NAME N, NAME N" of the options whose counter at @field is not 0, between @head and @tail. */
static void sockopt_counts(const struct mu_sockopt_counters *c, size_t field, const char *head,
			   const char *tail)
{
	bool any = false;
	int i;

	for (i = 0; i < MU_SOPT_MAX; i++) {
		__u64 v = *(const __u64 *)((const char *)&c[i] + field);

		if (!v)
			continue;
		printf("%s%s %llu", any ? ", " : head, sockopt_name(i), (unsigned long long)v);
		any = true;
	}
	if (any)
		fputs(tail, stdout);
}

/*
 * What the bridge carries here, and per option how often it carried one, how
 * often the kernel refused one nobody can carry (on unlisted sockets too: they
 * are MPTCP sockets), and subflows that refused a carried value.
 */
void sockopt_bridge_read(int fd, __u32 id, const struct mu_optmask *carry,
			 struct status_bridge *out)
{
	memset(out, 0, sizeof(*out));
	out->carry = *carry;
	out->readable = fd >= 0 && !sockopt_counters_sum(fd, id, out->c);
}

void sockopt_bridge_print(const struct status_bridge *b, bool run_engine)
{
	char names[300];

	if (!b->readable) {
		printf("  options    the socket-option bridge's counters can't be read\n");
		return;
	}
	sockopt_mask_names(&b->carry, names, sizeof(names));
	printf("  options    the bridge carries %s", names);
	sockopt_counts(b->c, offsetof(struct mu_sockopt_counters, carried), "; carried ", "");
	putchar('\n');
	sockopt_counts(b->c, offsetof(struct mu_sockopt_counters, refused), "  REFUSED    ",
		       run_engine ?
		       ": MPTCP refuses these and nothing can carry them, so the program got an "
		       "error on a listed socket (unlisted sockets are TCP sockets under run)\n" :
		       ": MPTCP refuses these and nothing can carry them, so the program got an "
		       "error (on unlisted sockets too: they are MPTCP sockets)\n");
	sockopt_counts(b->c, offsetof(struct mu_sockopt_counters, apply_failed), "  NOT SET    ",
		       ": a subflow refused the carried value\n");
}

void sockopt_bridge_json(struct jsonw *w, const struct status_bridge *b, const char *cgroup)
{
	int i;

	if (!b->readable) {
		jw_kv_null(w, "sockopt_bridge");
		return;
	}
	jw_key(w, "sockopt_bridge");
	jw_object_start(w);
	sockopt_mask_json(w, "carries", &b->carry);
	jw_key(w, "options");
	jw_object_start(w);
	for (i = 0; i < MU_SOPT_MAX; i++) {
		const struct mu_sockopt_counters *c = &b->c[i];

		if (!c->carried && !c->refused && !c->apply_failed)
			continue;
		jw_key(w, sockopt_name(i));
		jw_object_start(w);
		jw_kv_u64(w, "carried", c->carried);
		jw_kv_u64(w, "refused", c->refused);
		jw_kv_u64(w, "subflow_refused", c->apply_failed);
		jw_object_end(w);
	}
	jw_object_end(w);
	if (cgroup)
		jw_kv_string(w, "cgroup", cgroup);
	jw_object_end(w);
}
