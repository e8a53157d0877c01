/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The seccomp profile that hands a container to the agent: a runtime's own
 * profile with NOTIFY on the calls the run engine's filter traps, and the
 * agent's socket as its listener. The metadata is the contract with the
 * agent: it serves a container with a policy only when the listener came with
 * exactly PROFILE_LISTENER_METADATA, because the supervisor is exact only when
 * it is told of every call its own filter traps, and only this profile says so.
 */
#ifndef MU_AGENT_PROFILE_H
#define MU_AGENT_PROFILE_H

#define PROFILE_LISTENER_PATH		"/run/mptcp-upgrade/agent.sock"
#define PROFILE_LISTENER_METADATA	"mptcp-upgrade.io/profile=1"
#define PROFILE_DEFAULT_BASE		"/usr/share/containers/seccomp.json"

#endif /* MU_AGENT_PROFILE_H */
