// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the attach engine serves, for stats (common/served.h): each attached
 * cgroup with its policy lines and their counters, the options its bridge
 * carried or refused, and the engine's health series (programs the kernel does
 * not run where they must be, attachments whose pins were lost).
 */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "common/cgroup.h"
#include "common/served.h"
#include "engine.h"
#include "attach/engine.h"

struct attach_source {
	struct engine e;
	struct attachment *list;
	size_t nr;
	__u32 states_id;		/* the kernel's id of sock_states; 0 with no engine */
};

static int add_lines(struct attach_source *src, const struct attachment *att, struct served *s)
{
	size_t i, n = attachment_rows(att);

	for (i = 0; i < n; i++) {
		struct served_line *l;
		struct policy_row r;

		attachment_row(&src->e, att, i, &r);
		l = served_add_line(s, r.line, r.source);
		if (!l)
			return -1;
		served_line_event(l, "bind", r.counters.binds);
		served_line_event(l, "connect", r.counters.connects);
		served_line_event(l, "mptcp", r.counters.mptcp);
		served_line_event(l, "fallback", r.counters.fallback);
		served_line_event(l, "escaped", r.counters.escaped);
		l->has_bytes = true;
		l->closed_bytes[0] = r.counters.sent_bytes;
		l->closed_bytes[1] = r.counters.received_bytes;
	}
	return 0;
}

/* The options set on its MPTCP sockets that MPTCP refuses, and what became of them. */
static int add_sockopts(struct attach_source *src, const struct attachment *att,
			struct served *s)
{
	static const char *const results[] = { "carried", "refused", "subflow_refused" };
	struct mu_sockopt_counters c[MU_SOPT_MAX];
	size_t j, k;

	if (!src->e.loaded || sockopt_counters_sum(src->e.map_fd[EM_SOCKOPT_COUNTERS], att->id, c))
		return 0;
	for (j = 0; j < MU_SOPT_MAX; j++) {
		__u64 vals[3] = { c[j].carried, c[j].refused, c[j].apply_failed };

		if (!vals[0] && !vals[1] && !vals[2])
			continue;
		for (k = 0; k < 3; k++)
			if (served_add_sockopt(s, sockopt_name((int)j), results[k], vals[k]))
				return -1;
	}
	return 0;
}

static int sample(struct served_series *se, const char *program, const char *cgroup,
		  unsigned long long value)
{
	struct served_sample *sa = served_add_sample(se);

	if (!sa)
		return -1;
	sa->value = value;
	if (!program)
		return 0;
	return served_add_label(sa->labels, &sa->nr_labels, 2, "program", program) ||
	       served_add_label(sa->labels, &sa->nr_labels, 2, "cgroup", cgroup);
}

/*
 * While an engine is loaded every program it needs is written, 0 or not, so
 * that a series that vanished never reads as healthy; with none loaded there
 * is nothing to need.
 */
static int add_health(struct attach_source *src, struct served_set *set)
{
	struct engine_tc_gaps g = {};
	struct served_series *se;
	unsigned int missing;
	size_t i;
	int prog;

	se = served_add_series(set, "mptcp_upgrade_programs_missing",
			       "Programs of the attach engine the kernel does not run where they "
			       "must be: 1 for the hook or a cgroup's program, interfaces for tcx. "
			       "'mptcp-upgrade reload' repairs them.");
	if (!se)
		return -1;
	if (src->e.loaded) {
		if (sample(se, HOOK_PROG_LABEL, "", !engine_hook_link(&src->e, NULL)))
			return -1;
		engine_tc_gaps(&src->e, src->list, src->nr, &g);
		for (i = 0; i < 2; i++)
			if (sample(se, engine_prog_name(EP_TC_INGRESS + i), "", g.missing[i]))
				return -1;
	}
	for (i = 0; i < src->nr; i++) {
		const struct attachment *att = &src->list[i];

		if (cgroup_alive(att->cgroup, att->cgroup_id) == 0 ||
		    engine_missing_links(&src->e, att, &missing))
			missing = 0;
		for (prog = 0; prog < EP_CGROUP_MAX; prog++)
			if (sample(se, engine_prog_name(prog), att->cgroup,
				   !!(missing & (1U << prog))))
				return -1;
	}
	se = served_add_series(set, "mptcp_upgrade_attachments_lost",
			       "Attachments whose engine's pins are gone (bpffs unmounted): they "
			       "apply nothing until 'mptcp-upgrade reload' restores them.");
	return !se || sample(se, NULL, NULL, engine_lost_count()) ? -1 : 0;
}

static int attach_read(struct served_set *set, void *priv)
{
	struct attach_source *src = priv;
	size_t i;

	for (i = 0; i < src->nr; i++) {
		const struct attachment *att = &src->list[i];
		struct served *s = served_add(set);

		if (!s)
			return -1;
		s->cgroup = strdup(att->cgroup);
		if (!s->cgroup || served_add_label(s->labels, &s->nr_labels, SERVED_MAX_LABELS,
						   "cgroup", att->cgroup))
			return -1;
		s->cgroup_id = att->cgroup_id;
		s->states_map_id = src->states_id;
		s->gen = att->gen;
		if (add_lines(src, att, s) || add_sockopts(src, att, s))
			return -1;
	}
	/* Entering every namespace for tc gaps is for the metrics, not for a table. */
	return set->health ? add_health(src, set) : 0;
}

static void attach_close(void *priv)
{
	struct attach_source *src = priv;

	engine_list_free(src->list, src->nr);
	engine_close(&src->e);
	free(src);
}

int served_attach(struct served_set *set, char *err, size_t err_size)
{
	struct attach_source *src;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (set->nr_src >= SERVED_MAX_SOURCES) {
		snprintf(err, err_size, "too many engines to read");
		return -1;
	}
	src = calloc(1, sizeof(*src));
	if (!src) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	src->e = (struct engine){ .lock_fd = -1, .bpffs_lock_fd = -1, .want_entries = true };
	if (engine_start(&src->e, &src->list, &src->nr, err, err_size)) {
		attach_close(src);
		return -1;
	}
	/* The lock is for commands that change things: reading needs none. */
	if (src->e.lock_fd >= 0) {
		close(src->e.lock_fd);
		src->e.lock_fd = -1;
	}
	if (src->e.bpffs_lock_fd >= 0) {
		close(src->e.bpffs_lock_fd);
		src->e.bpffs_lock_fd = -1;
	}
	if (src->e.loaded &&
	    !bpf_obj_get_info_by_fd(src->e.map_fd[EM_SOCK_STATES], &info, &len))
		src->states_id = info.id;
	/* Its sockets are ours even with no cgroup attached (kept loaded for them). */
	served_add_map(set, src->states_id);
	set->src[set->nr_src++] = (struct served_source){ attach_read, attach_close, src };
	return 0;
}
