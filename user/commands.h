/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MU_COMMANDS_H
#define MU_COMMANDS_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "policy/policy.h"
#include "policy/policy_trie.h"

/*
 * A subcommand: argv[0] is its name, global options are already removed.
 * Returns the process exit code.
 */
struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out);
	const char *summary;
};

int do_policy(int argc, char **argv);
void help_policy(FILE *out);
int do_check(int argc, char **argv);
void help_check(FILE *out);
int do_attach(int argc, char **argv);
void help_attach(FILE *out);
int do_reload(int argc, char **argv);
void help_reload(FILE *out);
int do_detach(int argc, char **argv);
void help_detach(FILE *out);
int do_status(int argc, char **argv);
void help_status(FILE *out);
int do_follow(int argc, char **argv);
void help_follow(FILE *out);
int do_stats(int argc, char **argv);
void help_stats(FILE *out);

/*
 * The kernel requirements attach cannot do without, probed as check does.
 * Returns 0, or -1 with the first missing one described in @cause.
 */
int attach_preflight(char *cause, size_t size);

/* A policy read for attach, reload or run: parsed, its trie built, where it came from. */
struct loaded_policy {
	struct policy pol;
	struct policy_trie trie;
	char path[PATH_MAX];		/* resolved */
	char sha256[65];		/* of the bytes parsed */
};

/* Read a policy as attach and reload do (root's alone), and build its trie; errors printed. */
int load_policy(const char *path, struct loaded_policy *lp);
void loaded_policy_free(struct loaded_policy *lp);
struct json_object;
/* Its entries as the state files and the run registry keep them (line, source, role, ...). */
struct json_object *policy_entries_json(const struct policy *pol);

/* What a command did, one line per cgroup (or JSON, printed by the command at its end). */
void report_action(const char *action, const char *cgroup, const char *policy,
		   const struct policy *pol, __u32 families);

struct engine;
/*
 * Attach again every attachment lost with the engine's pins (reload's first
 * step); 0, or -1 when one could not be (errors printed, the rest restored).
 */
int restore_lost(struct engine *e);
/* Forget the lost attachments of cgroup @cgroup (NULL: all); how many. */
size_t forget_lost(const char *cgroup);
/* Does @arg, as --cgroup takes it, name cgroup @cgroup (a name under the root, or gone)? */
bool names_cgroup(const char *arg, const char *cgroup);

int do_run(int argc, char **argv);
void help_run(FILE *out);

/* 0 when this process has what attach needs, else -1 with "CMD needs root" printed. */
int need_root(const char *cmd);

/* True when argv asks for the command's help ("CMD help", "CMD -h", "CMD --help"). */
int wants_help(int argc, char **argv);

#endif /* MU_COMMANDS_H */
