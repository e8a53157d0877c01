/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the engines serve, as the commands that observe them see it: one
 * record per attached cgroup or program under run, each with the policy lines
 * in force and what they counted, and each engine's health series. Both
 * engines fill it (attach/engine_served.c, run/run_served.c); stats reads
 * nothing else of them, so that it needs no engine's header.
 *
 * Names of events, options and series are the metrics' own, so that a
 * printer writes them as they come.
 */
#ifndef MU_SERVED_H
#define MU_SERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#define SERVED_MAX_EVENTS	8
/*
 * Labels that name a record: cgroup; or program, supervisor, unit; or, for a
 * container the agent serves, namespace, pod, container and the like. Never
 * anything of one connection (addresses, ports, a connection's pid): a
 * record's series number its lines, not its connections.
 */
#define SERVED_MAX_LABELS	4

struct served_label {
	const char *name;
	char *value;
};

/* One policy line: its place in the file, its text, what matched it. */
struct served_line {
	int line;			/* in the file; 0 if unknown */
	char *source;			/* "" if unknown */
	size_t nr_events;
	struct {
		const char *name;	/* "bind", "connect", "mptcp", ... */
		unsigned long long value;
	} events[SERVED_MAX_EVENTS];
	/*
	 * Bytes of the line's connections whose subflows closed, as the engine's
	 * bridge counted them at each subflow's close: [0] sent and acknowledged,
	 * [1] received (tcp_sock bytes_acked, bytes_received). Only where
	 * has_bytes: without the bridge nothing counts them.
	 */
	bool has_bytes;
	unsigned long long closed_bytes[2];
};

/* A counter of a socket option on the engine's sockets: carried, refused, ... */
struct served_sockopt {
	const char *option, *result;
	unsigned long long value;
};

struct served {
	/* What names it in metrics: cgroup=..., or program=..., supervisor=..., unit=... */
	struct served_label labels[SERVED_MAX_LABELS];
	size_t nr_labels;
	char *cgroup;			/* the cgroup served (a name below the v2 root), or NULL */
	__u64 cgroup_id;
	pid_t supervisor, program;	/* a program under run and its supervisor; 0 for a cgroup */
	/*
	 * The map of socket states that names a connection's line here, and the
	 * policy generation a state must carry to be of the lines shown. Several
	 * cgroups can share one map: then the socket's cgroup picks.
	 */
	__u32 states_map_id;
	__u32 gen;
	struct served_line *lines;	/* entry i of the policy is lines[i] */
	size_t nr_lines;
	struct served_sockopt *sockopts;
	size_t nr_sockopts;
};

/* A sample of an engine's health series. */
struct served_sample {
	struct served_label labels[2];
	size_t nr_labels;
	unsigned long long value;
};

/* An engine's health series (a gauge), written even when all its samples are 0. */
struct served_series {
	const char *name, *help;
	struct served_sample *samples;
	size_t nr_samples;
};

struct served_set;

/* What an engine keeps open to read its counters again on each refresh. */
struct served_source {
	/* Append this engine's records and series to @set; 0, or -1 out of memory. */
	int (*read)(struct served_set *set, void *priv);
	void (*close)(void *priv);
	void *priv;
};

#define SERVED_MAX_SOURCES 2
#define SERVED_MAX_MAPS 16

struct served_set {
	bool health;			/* read the engines' health series too (metrics only) */
	/*
	 * The socket-state maps whose sockets are an engine's, fixed when the
	 * sources open: a socket in one is ours even when no record names it
	 * (the attach engine kept loaded for sockets of detached cgroups).
	 */
	__u32 maps[SERVED_MAX_MAPS];
	size_t nr_maps;
	struct served *list;
	size_t nr, cap;
	struct served_series *series;
	size_t nr_series, cap_series;
	struct served_source src[SERVED_MAX_SOURCES];
	size_t nr_src;
};

/*
 * The attach engine's attachments (all of them: a connection of any can show
 * up under a cgroup asked for). Opens the engine without keeping its lock.
 * 0; or -1 with @err (the engine's pins can't be opened).
 */
int served_attach(struct served_set *set, char *err, size_t err_size);
/*
 * The programs under run: all (@program 0) or the one whose program is
 * @program (none if run does not serve it). 0, or -1 out of memory.
 */
int served_run(struct served_set *set, pid_t program);

/* Read every source's records and series again (counters move); 0, or -1. */
int served_refresh(struct served_set *set);
void served_free(struct served_set *set);

/* For the sources: a socket-state map whose sockets are theirs (a map is kept once). */
void served_add_map(struct served_set *set, __u32 map_id);
/*
 * For the sources: a new record, line, sockopt, series, sample; NULL out of
 * memory. An event or sockopt a line or record has already adds to it (the
 * processes of one container are one record).
 */
struct served *served_add(struct served_set *set);
int served_add_label(struct served_label *labels, size_t *nr, size_t max, const char *name,
		     const char *value);
struct served_line *served_add_line(struct served *s, int line, const char *source);
void served_line_event(struct served_line *l, const char *name, unsigned long long value);
int served_add_sockopt(struct served *s, const char *option, const char *result,
		       unsigned long long value);
struct served_series *served_add_series(struct served_set *set, const char *name,
					const char *help);
struct served_sample *served_add_sample(struct served_series *series);

/* For the readers: the value of label @name of @s, NULL when it has none. */
const char *served_label(const struct served *s, const char *name);
/* For the readers: an event of a line by name, 0 when the line has none. */
unsigned long long served_event(const struct served_line *l, const char *name);
/*
 * The record whose lines name a socket of states map @map_id and cgroup
 * @cgroup_id: NULL when none does. *@ours: the map is one of set->maps (the
 * socket is an engine's even when no record matched).
 */
const struct served *served_of_socket(const struct served_set *set, __u32 map_id,
				      __u64 cgroup_id, bool *ours);

#endif /* MU_SERVED_H */
