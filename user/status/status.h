/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `mptcp-upgrade status` in parts: cmd_status.c (the command and the attach
 * engine's attachments), status_run.c (the run engine's supervisors) and
 * status_common.c (what both use).
 */
#ifndef MU_STATUS_H
#define MU_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "mptcp_upgrade.h"

struct run_entry;
struct run_counters;

/* "YYYY-MM-DD HH:MM:SS UTC", or "never" for 0. */
void format_time(long long t, char *out, size_t size);
/* A field of @o ("" or 0 when it is missing or @o is NULL). */
const char *json_str(struct json_object *o, const char *key);
int json_int(struct json_object *o, const char *key);

/* The path manager of each namespace the cgroup's (the process's) processes use: printed, or added to @parent. */
void path_managers_of_cgroup(const char *cgroup, struct json_object *parent);
void path_managers_of_pid(pid_t pid, struct json_object *parent);

/*
 * The socket-option bridge of one attachment (slot @id of the counters map
 * @fd): what it carries and per option what it did; added to @parent, or
 * printed when it is NULL.
 */
void sockopt_bridge(int fd, __u32 id, const struct mu_optmask *carry, struct json_object *parent,
		    bool run_engine);

/* One run supervisor, as JSON and as text (@changed: its policy file changed since loaded). */
struct json_object *run_json(const struct run_entry *r, const struct run_counters *c, bool changed);
void print_run(const struct run_entry *r, const struct run_counters *c, bool changed);

#endif /* MU_STATUS_H */
