// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the run engine serves, for stats (common/served.h): each program under
 * a supervisor, named by its program's name, its supervisor and its systemd
 * unit; its policy lines with the calls the supervisor served and, with the
 * bridge, the connections that negotiated or fell back; the options its bridge
 * carried or refused and those that kept a listed socket TCP.
 */
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "common/cgroup.h"
#include "common/served.h"
#include "run.h"

struct run_source {
	struct run_entry *runs;
	size_t nr_runs;
	size_t first, shown;		/* the supervisors served: runs[first .. first + shown) */
};

/* The program's name and its systemd unit (the last *.service or *.scope of its cgroup). */
static void program_names(pid_t program, char *comm, size_t comm_size, char *unit,
			  size_t unit_size)
{
	char path[64], line[PATH_MAX], *u, *end;
	FILE *f;

	comm[0] = unit[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)program);
	f = fopen(path, "re");
	if (f && fgets(comm, comm_size, f))
		comm[strcspn(comm, "\n")] = '\0';
	if (f)
		fclose(f);
	if (cgroup_of_pid(program, line, sizeof(line)))
		return;
	for (u = strtok_r(line, "/", &end); u; u = strtok_r(NULL, "/", &end)) {
		size_t n = strlen(u);

		if ((n > 8 && !strcmp(u + n - 8, ".service")) ||
		    (n > 6 && !strcmp(u + n - 6, ".scope")))
			snprintf(unit, unit_size, "%s", u);
	}
}

/*
 * Its lines: all of the policy in force (they name its sockets' lines); the
 * counts only while its counters can be read and are of that policy.
 */
/* The line of @s with this number and text: another process's policy may differ. */
static struct served_line *line_of(struct served *s, int line, const char *source)
{
	size_t i;

	for (i = 0; i < s->nr_lines; i++)
		if (s->lines[i].line == line && !strcmp(s->lines[i].source, source ? source : ""))
			return &s->lines[i];
	return NULL;
}

static int add_lines(const struct run_entry *r, const struct run_counters *c, struct served *s,
		     bool merge)
{
	size_t j, n = r->entries ? json_object_array_length(r->entries) : 0;
	int lines_fd = r->lines_map_id ? bpf_map_get_fd_by_id(r->lines_map_id) : -1;
	int ret = 0;

	for (j = 0; j < n && !ret; j++) {
		struct json_object *je = json_object_array_get_idx(r->entries, j), *v;
		struct mu_line_counters wire = {};
		struct served_line *l;

		int line = json_object_object_get_ex(je, "line", &v) ? json_object_get_int(v) : 0;
		const char *source = json_object_object_get_ex(je, "source", &v) ?
				     json_object_get_string(v) : "";

		l = merge ? line_of(s, line, source) : NULL;
		if (!l)
			l = served_add_line(s, line, source);
		if (!l) {
			ret = -1;
			break;
		}
		if (!c || j >= c->nr_entries)
			continue;
		served_line_event(l, "bind", c->line[j].binds);
		served_line_event(l, "connect", c->line[j].connects);
		served_line_event(l, "made_mptcp", c->line[j].mptcp);
		served_line_event(l, "kept_tcp", c->line[j].kept_tcp);
		/* Without the bridge, what the wire did is not known. */
		if (lines_fd >= 0 && !line_counters_sum(lines_fd, 0, j, &wire)) {
			served_line_event(l, "mptcp", wire.mptcp);
			served_line_event(l, "fallback", wire.fallback);
			l->has_bytes = true;
			l->closed_bytes[0] += wire.sent_bytes;	/* += : the processes of one container */
			l->closed_bytes[1] += wire.received_bytes;
		}
	}
	if (lines_fd >= 0)
		close(lines_fd);
	return ret;
}

static int add_sockopts(const struct run_entry *r, const struct run_counters *c,
			struct served *s)
{
	static const char *const results[] = { "carried", "refused", "subflow_refused" };
	struct mu_sockopt_counters sc[MU_SOPT_MAX];
	int fd = r->bridge_map_id ? bpf_map_get_fd_by_id(r->bridge_map_id) : -1;
	bool summed = fd >= 0 && !sockopt_counters_sum(fd, 0, sc);
	size_t j, k;
	int ret = 0;

	if (fd >= 0)
		close(fd);
	for (j = 0; summed && j < MU_SOPT_MAX && !ret; j++) {
		__u64 vals[3] = { sc[j].carried, sc[j].refused, sc[j].apply_failed };

		if (!vals[0] && !vals[1] && !vals[2])
			continue;
		for (k = 0; k < 3 && !ret; k++)
			ret = served_add_sockopt(s, sockopt_name((int)j), results[k], vals[k]);
	}
	for (j = 0; c && run_option_label(j) && !ret; j++)
		if (c->refused[j])
			ret = served_add_sockopt(s, run_option_label(j), "not_carried",
						 c->refused[j]);
	return ret;
}

/*
 * A container the agent serves: named as a cluster names it (namespace, pod,
 * container), the container by its name or else its whole id (ids a user
 * chose, as runc takes them, may share any prefix). Bounded: one series per
 * container, never per connection.
 */
static int container_labels(const struct run_container *k, struct served *s)
{
	if (k->pod_namespace[0] &&
	    served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS, "namespace",
			     k->pod_namespace))
		return -1;
	if (k->pod[0] &&
	    served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS, "pod", k->pod))
		return -1;
	return served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS, "container",
				k->name[0] ? k->name : k->id);
}

/*
 * The record already read this round for another process of the same
 * container (one `runc exec`, `kubectl exec` adds, with a supervisor of its
 * own), which this one's counts join, line by line (number and text: a reload
 * in between may have changed the policy): one series per container and line.
 * @rec: the record of each run read so far. -1 if none.
 */
static ssize_t same_container(const struct run_source *src, size_t i, const ssize_t *rec)
{
	const struct run_entry *r = &src->runs[i];
	size_t j;

	if (!r->container.id[0])
		return -1;
	for (j = src->first; j < i; j++)
		if (!strcmp(src->runs[j].container.id, r->container.id))
			return rec[j - src->first];
	return -1;
}

static int read_one(struct served_set *set, const struct run_entry *r, ssize_t merge_into)
{
	struct run_counters *c = run_counters_read(r->supervisor, r->sha256);
	char comm[64], unit[256], sup[16];
	struct served *s;
	int ret = 0;

	if (merge_into >= 0) {
		s = &set->list[merge_into];
		ret = add_lines(r, c, s, true) || add_sockopts(r, c, s);
		free(c);
		return ret;
	}
	s = served_add(set);
	if (!s) {
		free(c);
		return -1;
	}
	program_names(r->program, comm, sizeof(comm), unit, sizeof(unit));
	snprintf(sup, sizeof(sup), "%d", (int)r->supervisor);
	s->supervisor = r->supervisor;
	s->program = r->program;
	s->states_map_id = r->states_map_id;
	s->gen = r->bridge_gen;
	if (r->container.id[0])
		ret = container_labels(&r->container, s);
	else
		ret = served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS, "program",
				       comm) ||
		      served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS, "supervisor",
				       sup) ||
		      served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS, "unit", unit);
	ret = ret || add_lines(r, c, s, false) || add_sockopts(r, c, s);
	free(c);
	return ret;
}

static int run_read(struct served_set *set, void *priv)
{
	struct run_source *src = priv;
	ssize_t *rec = calloc(src->shown ? src->shown : 1, sizeof(*rec)), into;
	size_t i;
	int ret = 0;

	if (!rec)
		return -1;
	for (i = src->first; i < src->first + src->shown && !ret; i++) {
		into = same_container(src, i, rec);
		ret = read_one(set, &src->runs[i], into);
		rec[i - src->first] = into >= 0 ? into : (ssize_t)set->nr - 1;
	}
	free(rec);
	return ret;
}

static void run_close(void *priv)
{
	struct run_source *src = priv;

	run_registry_free(src->runs, src->nr_runs);
	free(src);
}

int served_run(struct served_set *set, pid_t program)
{
	struct run_source *src;
	size_t i;

	if (set->nr_src >= SERVED_MAX_SOURCES)
		return -1;
	src = calloc(1, sizeof(*src));
	if (!src)
		return -1;
	run_registry_list(&src->runs, &src->nr_runs);
	src->shown = src->nr_runs;
	if (program) {
		for (src->first = 0; src->first < src->nr_runs &&
				     src->runs[src->first].program != program; src->first++)
			;
		src->shown = src->first < src->nr_runs;
	}
	for (i = src->first; i < src->first + src->shown; i++)
		served_add_map(set, src->runs[i].states_map_id);
	set->src[set->nr_src++] = (struct served_source){ run_read, run_close, src };
	return 0;
}
