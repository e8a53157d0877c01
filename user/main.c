// SPDX-License-Identifier: GPL-2.0-only
/*
 * mptcp-upgrade: turn the TCP sockets of a cgroup into MPTCP sockets for the
 * addresses a policy lists. This file holds the command table and the global
 * options; each subcommand lives in its own cmd_*.c.
 */
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/engine.h"
#include "check/check.h"
#include "commands.h"
#include "common/output.h"

static void help_main(FILE *out);
static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);
static void help_version(FILE *out);

static const struct command commands[] = {
	{ "attach",  do_attach,  help_attach, "upgrade a cgroup's TCP sockets to MPTCP by a policy" },
	{ "reload",  do_reload,  help_reload, "swap in a changed policy, atomically" },
	{ "detach",  do_detach,  help_detach, "stop upgrading a cgroup's sockets" },
	{ "upgrade", do_upgrade, help_upgrade, "hand an older version's cgroups over to this one" },
	{ "status",  do_status,  help_status, "attached cgroups, policies and counters" },
	{ "follow",  do_follow,  help_follow, "cover interfaces created after attach (runs on)" },
	{ "stats",   do_stats,   help_stats,  "MPTCP connections and subflows of a cgroup" },
	{ "exporter", do_exporter, help_exporter, "serve the metrics over HTTP for Prometheus" },
	{ "run",     do_run,     help_run,    "run a program with the policy enforced per socket" },
	{ "agent",   do_agent,   help_agent,  "serve containers: runtimes hand over their seccomp listeners" },
	{ "policy",  do_policy,  help_policy, "validate a policy file and print it normalized" },
	{ "check",   do_check,   help_check,  "which engine can this kernel run, and why not?" },
	{ "seccomp-profile", do_seccomp_profile, help_seccomp_profile,
	  "write the seccomp profile that hands containers to the agent" },
	{ "version", do_version, help_version, "print the version and the libbpf in use" },
	{ "help",    do_help,    NULL,        "print this help, or a command's" },
};

static void help_main(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: %s [OPTIONS] COMMAND [ARGS...]\n"
		"       %s COMMAND help\n"
		"\n"
		"Commands:\n", prog_name, prog_name);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Options (anywhere on the line):\n"
		"  -j, --json     print JSON, errors included\n"
		"  -p, --pretty   print indented JSON (implies --json)\n"
		"  -d, --debug    show libbpf and verifier output\n"
		"  -V, --version  print the version\n"
		"  -h, --help     print this help\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 wrong usage.\n");
}

int wants_help(int argc, char **argv)
{
	return argc >= 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
			     !strcmp(argv[1], "--help"));
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int do_help(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		help_main(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return usage_err("unknown command '%s' (see '%s help')", argv[1], prog_name);
	if (cmd->help)
		cmd->help(stdout);
	else
		help_main(stdout);
	return 0;
}

static void help_version(FILE *out)
{
	fprintf(out,
		"Usage: %s version [--json]\n"
		"\n"
		"Print this program's version and the version of libbpf it runs with.\n",
		prog_name);
}

static int do_version(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		help_version(stdout);
		return 0;
	}
	if (argc > 1)
		return usage_err("'version' takes no arguments");
	if (opts.json) {
		struct jsonw w;
		char libbpf[32];

		snprintf(libbpf, sizeof(libbpf), "%u.%u", libbpf_major_version(),
			 libbpf_minor_version());
		json_stdout(&w);
		jw_object_start(&w);
		jw_kv_string(&w, "version", MPTCP_UPGRADE_VERSION);
		jw_kv_string(&w, "libbpf_version", libbpf);
		jw_object_end(&w);
		jw_end(&w);
	} else {
		printf("%s v%s\nusing libbpf v%u.%u\n", prog_name, MPTCP_UPGRADE_VERSION,
		       libbpf_major_version(), libbpf_minor_version());
	}
	return 0;
}

/* libbpf talks only under --debug; without it a failed probe must stay one clean line. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!opts.debug)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Take the global options out of argv wherever they stand, so that both
 * "mptcp-upgrade -j check" and "mptcp-upgrade check --json" work and each
 * command sees only its own arguments.
 */
static void strip_global_options(int *argcp, char **argv, bool *version, bool *help)
{
	int argc = *argcp, in, out = 1;
	bool done = false;

	for (in = 1; in < argc; in++) {
		const char *a = argv[in];

		if (done || a[0] != '-' || !a[1]) {
			argv[out++] = argv[in];
			continue;
		}
		if (!strcmp(a, "--")) {
			done = true;
			argv[out++] = argv[in];
		} else if (!strcmp(a, "--json")) {
			opts.json = true;
		} else if (!strcmp(a, "--pretty")) {
			opts.json = opts.pretty = true;
		} else if (!strcmp(a, "--debug")) {
			opts.debug = true;
		} else if (!strcmp(a, "--version")) {
			*version = true;
		} else if (!strcmp(a, "--help")) {
			*help = true;
		} else if (a[1] != '-' && strspn(a + 1, "jpdVh") == strlen(a + 1)) {
			/* bundled short flags: -jp */
			opts.json |= strpbrk(a, "jp") != NULL;
			opts.pretty |= strchr(a, 'p') != NULL;
			opts.debug |= strchr(a, 'd') != NULL;
			*version |= strchr(a, 'V') != NULL;
			*help |= strchr(a, 'h') != NULL;
		} else {
			argv[out++] = argv[in];	/* the command's own option */
		}
	}
	argv[out] = NULL;
	*argcp = out;
}

int main(int argc, char **argv)
{
	bool version = false, help = false;
	const struct command *cmd;

	strip_global_options(&argc, argv, &version, &help);
	libbpf_set_print(libbpf_print);
	/* The attach engine asks check's probes before it loads, without knowing check. */
	engine_set_preflight(attach_preflight);

	if (version)
		return do_version(1, argv);
	if (argc < 2) {
		if (help) {
			help_main(stdout);
			return 0;
		}
		help_main(stderr);
		return EXIT_USAGE;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return usage_err("unknown command '%s' (see '%s help')", argv[1], prog_name);
	if (help) {
		if (cmd->help)
			cmd->help(stdout);
		else
			help_main(stdout);
		return 0;
	}
	return cmd->run(argc - 1, argv + 1);
}
