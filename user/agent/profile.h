/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The seccomp profile that hands a container to the agent: a runtime's own
 * profile with NOTIFY on the calls the run engine's filter traps, the agent's
 * socket as its listenerPath and AGENT_PROFILE_METADATA as its
 * listenerMetadata. That string is the contract with the agent: it serves a
 * container with a policy only when its listener came with exactly that,
 * because the supervisor is exact only when it is told of every call its own
 * filter traps, and only this profile says so.
 */
#ifndef MU_AGENT_PROFILE_H
#define MU_AGENT_PROFILE_H

#include "agent.h"

#define PROFILE_LISTENER_PATH		AGENT_SOCKET
#define PROFILE_LISTENER_METADATA	AGENT_PROFILE_METADATA
/* The default profile Debian's golang-github-containers-common installs (podman's, CRI-O's). */
#define PROFILE_DEFAULT_BASE		"/usr/share/containers/seccomp.json"

#endif /* MU_AGENT_PROFILE_H */
