/* SPDX-License-Identifier: GPL-2.0-only */
/* The run engine's supervisor: seccomp notifications in, MPTCP sockets out. */
#ifndef MU_RUN_H
#define MU_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "commands.h"

/*
 * Serve @listener (a seccomp user-notification fd) until no process uses the
 * filter any more. @lp is the policy in force; SIGHUP reads @policy_path again
 * (a file with an error changes nothing). Returns the exit code.
 */
/* Its signals: SIGHUP reloads, SIGUSR1 reports, SIGTERM and SIGINT are the program's. */
void run_supervisor_signals(void);

int run_supervisor(int listener, const char *policy_path, struct loaded_policy *lp,
		   pid_t proxy);

/* A running supervisor, as status and reload find it. */
struct run_entry {
	pid_t supervisor, program;
	char policy[PATH_MAX];
	char sha256[65];
	long long loaded_at;
};

int run_registry_write(pid_t supervisor, pid_t program, const char *policy, const char *sha256);
void run_registry_remove(pid_t supervisor);
/* The supervisors alive; files of dead ones are removed. */
int run_registry_list(struct run_entry **list, size_t *nr);

#endif /* MU_RUN_H */
