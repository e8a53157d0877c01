// SPDX-License-Identifier: GPL-2.0-only
/*
 * What both engines' parts of `mptcp-upgrade status` share: times, JSON
 * fields, the path manager of each namespace, and the socket-option bridge's
 * counters.
 */
#include <bpf/bpf.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
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
	struct json_object *arr = ctx;
	struct pm_info pm;
	char verdict[512];

	pm_read(&pm);
	if (arr) {
		struct json_object *o = pm_json(&pm);

		json_object_object_add(o, "netns", json_object_new_uint64(ns->ino));
		json_object_array_add(arr, o);
	} else {
		pm_verdict(&pm, verdict, sizeof(verdict));
		printf("  multipath  netns %lu: %s\n", ns->ino, verdict);
		pm_print(&pm, "             ");
	}
	return 0;
}

/* Print (or add to @parent as "path_managers") each namespace's path manager. */
static void path_managers(struct netns_set *set, struct json_object *parent)
{
	struct json_object *arr = parent ? json_object_new_array() : NULL;

	netns_set_for_each(set, pm_of_ns, arr);
	if (parent)
		json_object_object_add(parent, "path_managers", arr);
	netns_set_free(set);
}

void path_managers_of_cgroup(const char *cgroup, struct json_object *parent)
{
	struct netns_set set = {};
	char path[2 * PATH_MAX];

	if (cgroup_dir(cgroup, path, sizeof(path)))
		return;
	netns_set_add_cgroup(&set, path);
	path_managers(&set, parent);
}

void path_managers_of_pid(pid_t pid, struct json_object *parent)
{
	struct netns_set set = {};

	netns_set_add_pid(&set, pid);
	path_managers(&set, parent);
}

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
 * The socket-option bridge of one attachment (slot @id of the counters map
 * @fd, which the caller closes): what it carries here, and per option how often
 * it carried one, how often the kernel refused one nobody can carry (on
 * unlisted sockets too: they are MPTCP sockets), and subflows that refused a
 * carried value. Added to @parent, or printed when it is NULL.
 */
void sockopt_bridge(int fd, __u32 id, const struct mu_optmask *carry,
			   struct json_object *parent,
			   bool run_engine)
{
	struct mu_sockopt_counters c[MU_SOPT_MAX];
	char names[300];
	int i;

	if (fd < 0 || sockopt_counters_sum(fd, id, c)) {
		if (parent)
			json_object_object_add(parent, "sockopt_bridge", NULL);
		else
			printf("  options    the socket-option bridge's counters can't be read\n");
		return;
	}
	if (parent) {
		struct json_object *b = json_object_new_object(), *opts = json_object_new_object();

		json_object_object_add(b, "carries", sockopt_mask_json(carry));
		for (i = 0; i < MU_SOPT_MAX; i++) {
			struct json_object *o;

			if (!c[i].carried && !c[i].refused && !c[i].apply_failed)
				continue;
			o = json_object_new_object();
			json_object_object_add(o, "carried", json_object_new_uint64(c[i].carried));
			json_object_object_add(o, "refused", json_object_new_uint64(c[i].refused));
			json_object_object_add(o, "subflow_refused",
					       json_object_new_uint64(c[i].apply_failed));
			json_object_object_add(opts, sockopt_name(i), o);
		}
		json_object_object_add(b, "options", opts);
		json_object_object_add(parent, "sockopt_bridge", b);
		return;
	}
	sockopt_mask_names(carry, names, sizeof(names));
	printf("  options    the bridge carries %s", names);
	sockopt_counts(c, offsetof(struct mu_sockopt_counters, carried), "; carried ", "");
	putchar('\n');
	sockopt_counts(c, offsetof(struct mu_sockopt_counters, refused), "  REFUSED    ",
		       run_engine ?
		       ": MPTCP refuses these and nothing can carry them, so the program got an "
		       "error on a listed socket (unlisted sockets are TCP sockets under run)\n" :
		       ": MPTCP refuses these and nothing can carry them, so the program got an "
		       "error (on unlisted sockets too: they are MPTCP sockets)\n");
	sockopt_counts(c, offsetof(struct mu_sockopt_counters, apply_failed), "  NOT SET    ",
		       ": a subflow refused the carried value\n");
}
