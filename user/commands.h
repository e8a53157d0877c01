/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MU_COMMANDS_H
#define MU_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

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
int do_exporter(int argc, char **argv);
void help_exporter(FILE *out);

int do_upgrade(int argc, char **argv);
void help_upgrade(FILE *out);

int do_run(int argc, char **argv);
void help_run(FILE *out);
int do_agent(int argc, char **argv);
void help_agent(FILE *out);

int do_seccomp_profile(int argc, char **argv);
void help_seccomp_profile(FILE *out);

/* True when argv asks for the command's help ("CMD help", "CMD -h", "CMD --help"). */
int wants_help(int argc, char **argv);

#endif /* MU_COMMANDS_H */
