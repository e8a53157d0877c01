/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `mptcp-upgrade agent`: the run engine for containers. An OCI runtime (runc,
 * crun) whose container spec names our socket as its seccomp listenerPath
 * connects once per container and hands over the container's seccomp listener
 * with the container's state. The agent serves each container with a run
 * supervisor of its own, detached from the agent, so that the agent can be
 * restarted or upgraded while containers run.
 *
 *   cmd_agent.c      the command: the socket, the accept loop, the containers
 *                    already served when it starts;
 *   agent_handoff.c  what a runtime sends, and what it asks for (the policy);
 *   agent_serve.c    a container's supervisor, or a pass-through for a
 *                    container that asks for nothing.
 */
#ifndef MU_AGENT_H
#define MU_AGENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/paths.h"
#include "run/run.h"

#define AGENT_SOCKET		MU_RUN_DIR "/agent.sock"
#define AGENT_POLICY_DIR	"/etc/mptcp-upgrade"
/* The policies of annotations, one file per container (what reload reads again). */
#define AGENT_STATE_DIR		MU_RUN_DIR "/agent"

/*
 * What the shipped seccomp profile sets as listenerMetadata: the listener
 * notifies every call the run supervisor needs to see (run_filter.c's), so a
 * swap is exact. Any other listener is served untouched.
 */
#define AGENT_PROFILE_METADATA	"mptcp-upgrade.io/profile=1"
/* How long a container's supervisor may take to start; its stop's grace period. */
#define AGENT_READY_MS		30000
#define AGENT_STOP_GRACE_MS	10000

#define AGENT_ANN_POLICY	"mptcp-upgrade.io/policy"
#define AGENT_ANN_POLICY_FILE	"mptcp-upgrade.io/policy-file"

/* One container as its runtime handed it over. */
struct agent_handoff {
	int listener;			/* the seccomp listener, -1 when none came */
	pid_t pid;			/* the process of the filter (the container's first, or
					 * an exec'd one), in our PID namespace */
	char metadata[256];		/* the spec's listenerMetadata */
	struct run_container k;		/* id, name, pod, namespace */
	char *policy_text;		/* annotation AGENT_ANN_POLICY (malloc()ed), or NULL */
	char policy_file[512];		/* annotation AGENT_ANN_POLICY_FILE, or "" */
};

/*
 * Read a runtime's hand-over from connection @conn (SCM_RIGHTS and the
 * container process state JSON, until EOF or @timeout_ms): 0, -1 with a
 * reason in @err, or -2 when nothing at all came (a probe: nothing to say).
 * Every descriptor received other than the listener is closed.
 */
int agent_handoff_read(int conn, int timeout_ms, struct agent_handoff *h, char *err,
		       size_t err_size);
/*
 * Parse the JSON of a hand-over (@json, @len bytes) into @h, @fds the
 * descriptors that came with it: 0, or -1 with a reason.
 */
int agent_handoff_parse(const char *json, size_t len, const int *fds, int nr_fds,
			struct agent_handoff *h, char *err, size_t err_size);
void agent_handoff_free(struct agent_handoff *h);

/*
 * The policy file @h asks for, in @path: the annotation's lines written under
 * AGENT_STATE_DIR, or the file named by policy-file inside @policy_dir.
 * 1: a policy; 0: none asked for; -1 with a reason (a bad request).
 */
int agent_policy_path(const struct agent_handoff *h, const char *policy_dir, char *path,
		      size_t size, char *err, size_t err_size);

/* "container 0123456789ab (name): " for log lines. */
void agent_context(const struct run_container *k, char *out, size_t size);

/*
 * Serve @h from the process that read it (detached from the agent: a session
 * of its own), until the container's last process is gone: a supervisor with
 * the policy at @policy_path in a cgroup made under @cgroup_dir (NULL: under
 * this process's), or, when @policy_path is NULL, every call let through
 * unchanged. Returns the process's exit status.
 */
int agent_serve(struct agent_handoff *h, const char *policy_path, const char *cgroup_dir);

#endif /* MU_AGENT_H */
