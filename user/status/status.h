/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `mptcp-upgrade status` in parts, as stats is: what the kernel and the
 * engines' files say is gathered into the structs below once, then rendered
 * as a table or as JSON from them. cmd_status.c is the command and gathers
 * the attach engine's attachments, status_print.c renders them, status_run.c
 * gathers and renders the run engine's supervisors, and status_common.c holds
 * what both use (times, path managers, the socket-option bridge).
 */
#ifndef MU_STATUS_H
#define MU_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "attach/engine.h"
#include "common/jsonw.h"
#include "common/pm.h"
#include "mptcp_upgrade.h"

struct run_entry;
struct run_counters;

#define HOOK_NAME HOOK_PROG_LABEL
#define REPAIR "mptcp-upgrade reload"

/* "YYYY-MM-DD HH:MM:SS UTC", or "never" for 0. */
void format_time(long long t, char *out, size_t size);
/* A field of @o ("" or 0 when it is missing or @o is NULL). */
const char *json_str(struct json_object *o, const char *key);
int json_int(struct json_object *o, const char *key);

/* The path manager of each network namespace a cgroup's (a program's) processes use. */
struct status_pm {
	unsigned long netns;
	struct pm_info pm;
};

struct status_pms {
	bool known;			/* false: the cgroup can't be found */
	struct status_pm *ns;
	size_t nr;
};

void path_managers_of_cgroup(const char *cgroup, struct status_pms *out);
void path_managers_of_pid(pid_t pid, struct status_pms *out);
void path_managers_print(const struct status_pms *p);
/* "path_managers": [...] */
void path_managers_json(struct jsonw *w, const struct status_pms *p);

/* The socket-option bridge of one attachment or supervisor: what it carries, what it did. */
struct status_bridge {
	bool readable;			/* false: its counters can't be read */
	struct mu_optmask carry;
	struct mu_sockopt_counters c[MU_SOPT_MAX];
};

/* Slot @id of the counters map @fd (-1: none), which the caller closes. */
void sockopt_bridge_read(int fd, __u32 id, const struct mu_optmask *carry,
			 struct status_bridge *out);
void sockopt_bridge_print(const struct status_bridge *b, bool run_engine);
/* "sockopt_bridge": {...} (null when unreadable), its last member @cgroup unless NULL. */
void sockopt_bridge_json(struct jsonw *w, const struct status_bridge *b, const char *cgroup);

/* What the kernel runs of the attach engine as a whole, for status and its exit code. */
struct engine_view {
	bool loaded;
	__u32 hook_prog;		/* 0: no live hook link */
	__u32 prog_ids[EP_MAX];
	int tc_links;
	struct engine_tc_gaps tc;
	int problems;			/* programs missing anywhere, attachments lost */
};

/* A TCP listener of an attached cgroup: a socket that escaped the upgrade. */
struct status_listener {
	char address[64];
	unsigned long netns;
	int line;			/* the policy line that lists it for bind(), or 0 */
};

/* One attachment of the attach engine. */
struct status_attachment {
	const struct attachment *a;
	struct mu_attach_counters c;
	bool changed;			/* its policy file changed since it was loaded */
	bool alive;			/* its cgroup is the one attached */
	unsigned int missing;		/* EP_* bits of programs the (live) cgroup lacks */
	struct policy_row *rows;	/* attachment_rows(a), with the engine's counters */
	bool listeners_known;		/* false: sock_diag can't list them */
	struct status_listener *listeners;
	size_t nr_listeners;
	bool bridge_native;
	struct status_bridge bridge;
	struct status_pms pms;
};

/* One run supervisor. */
struct status_run_line {
	struct policy_row row;		/* from the registry; counters from the wire */
	bool wire;			/* the bridge's counters are known */
	bool fallback_known;		/* fell back is known (connect() lines) */
};

struct status_run {
	const struct run_entry *r;
	struct run_counters *c;		/* NULL: not readable now */
	bool changed;
	struct mu_run_bpf_counts b;
	struct status_run_line *lines;	/* one per registry entry */
	size_t nr_lines;
	bool bridge;			/* it has a socket-option bridge */
	struct status_bridge sockopts;
	struct status_pms pms;
};

struct status {
	struct engine_view v;
	struct attachment *lost;	/* attachments whose engine's pins are gone */
	size_t nr_lost;
	struct older_view *older;	/* engines of older versions still pinned */
	size_t nr_older;
	bool none;			/* nothing attached, nothing lost */
	bool draining;			/* loaded, nothing attached: orphans says how many */
	long orphans;
	struct attachment *list;	/* engine_list()'s, that att[] points into */
	struct status_attachment *att;
	size_t nr_att;
	struct run_entry *registry;	/* run_registry_list()'s, that runs[] points into */
	struct status_run *runs;
	size_t nr_runs;
};

void status_run_gather(const struct run_entry *r, struct status_run *out);
void status_run_free(struct status_run *s);
void print_run(const struct status_run *s);
void run_json(struct jsonw *w, const struct status_run *s);

/* The whole of status, rendered (status_print.c). */
void status_print(const struct status *s);
void status_json(const struct status *s);

#endif /* MU_STATUS_H */
