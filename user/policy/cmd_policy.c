// SPDX-License-Identifier: GPL-2.0-only
/* `mptcp-upgrade policy FILE`: validate a policy and print what it normalizes to. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "common/output.h"
#include "policy.h"
#include "policy_trie.h"

void help_policy(FILE *out)
{
	fprintf(out,
		"Usage: %s policy FILE [--json]\n"
		"\n"
		"Read FILE (\"-\" for standard input) as an mptcp-upgrade policy, resolve its\n"
		"host names, and print one normalized entry per address: the calls it\n"
		"applies to (bind, connect or both), the family, the prefix, the ports and\n"
		"where it was written. A file with an error prints the error with its\n"
		"file:line:column and exits 1; so does a file attach, reload and run would\n"
		"refuse (not a regular file, not root's, writable by others or by a group\n"
		"other than root's). Standard input is checked for its syntax alone.\n"
		"\n"
		"Syntax, in HAProxy's words (mptcp-upgrade.policy(5) has all of it):\n"
		"  mptcp@ADDR[:PORTS]                 listeners and connections\n"
		"  bind mptcp@ADDR[:PORTS][,...] ...  listeners bound to ADDR\n"
		"  server NAME mptcp@ADDR[:PORTS] ... connections made to ADDR\n"
		"  mptcp4@ / mptcp6@ force the family; ADDR may be a CIDR prefix or a host name.\n",
		prog_name);
}

static void print_entries_json(const char *file, const struct policy *pol)
{
	char prefix[POLICY_PREFIX_STRLEN];
	struct jsonw w;
	size_t i;

	json_stdout(&w);
	jw_object_start(&w);
	jw_kv_string(&w, "file", file);
	jw_kv_int(&w, "lines", pol->nr_lines);
	jw_key(&w, "entries");
	jw_array_start(&w);
	for (i = 0; i < pol->nr_entries; i++) {
		const struct policy_entry *e = &pol->entries[i];

		policy_entry_prefix_str(e, prefix, sizeof(prefix));
		jw_object_start(&w);
		jw_kv_string(&w, "role", policy_role_str(e->role));
		jw_kv_string(&w, "family", policy_family_str(e->family));
		jw_kv_string(&w, "prefix", prefix);
		jw_kv_int(&w, "port_min", e->port_min);
		jw_kv_int(&w, "port_max", e->port_max);
		jw_kv_int(&w, "line", e->line);
		jw_kv_int(&w, "column", e->column);
		jw_kv_string(&w, "source", e->source);
		if (e->host)
			jw_kv_string(&w, "host", e->host);
		else
			jw_kv_null(&w, "host");
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	jw_end(&w);
}

static void print_entries_plain(const struct policy *pol)
{
	char prefix[POLICY_PREFIX_STRLEN], ports[POLICY_PORTS_STRLEN];
	int wprefix = (int)strlen("PREFIX");
	size_t i;

	for (i = 0; i < pol->nr_entries; i++) {
		policy_entry_prefix_str(&pol->entries[i], prefix, sizeof(prefix));
		if ((int)strlen(prefix) > wprefix)
			wprefix = strlen(prefix);
	}
	printf("%-7s  %-6s  %-*s  %-11s  %-5s  %s\n", "ROLE", "FAMILY", wprefix, "PREFIX",
	       "PORTS", "LINE", "ADDRESS");
	for (i = 0; i < pol->nr_entries; i++) {
		const struct policy_entry *e = &pol->entries[i];

		policy_entry_prefix_str(e, prefix, sizeof(prefix));
		policy_entry_ports_str(e, ports, sizeof(ports));
		printf("%-7s  %-6s  %-*s  %-11s  %-5u  %s%s%s%s\n", policy_role_str(e->role),
		       policy_family_str(e->family), wprefix, prefix, ports, e->line, e->source,
		       e->host ? " (" : "", e->host ? e->host : "", e->host ? ")" : "");
	}
}

int do_policy(int argc, char **argv)
{
	struct policy_error err;
	struct policy_trie trie = {};
	struct stat st;
	char msg[512];
	struct policy pol;
	const char *file;

	if (wants_help(argc, argv)) {
		help_policy(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--"))
		argv++, argc--;
	if (argc != 2)
		return usage_err(argc < 2 ? "policy: missing FILE (see '%s policy help')"
					  : "policy: expected one FILE (see '%s policy help')",
				 prog_name);
	file = argv[1];
	if (file[0] == '-' && file[1])
		return usage_err("policy: unknown option '%s' (see '%s policy help')", file,
				 prog_name);

	/*
	 * The file as the engines will meet it: one they refuse is no valid
	 * policy file, whatever its syntax (and a FIFO is refused unopened).
	 */
	if (strcmp(file, "-") && !stat(file, &st) && policy_check_trusted(file, &err)) {
		p_err("%s; attach, reload and run would refuse it ('%s policy - < FILE' checks the "
		      "syntax alone)", err.msg, prog_name);
		return 1;
	}
	if (policy_load_file(file, &pol, &err)) {
		p_err("%s", err.msg);
		return 1;
	}
	/* Valid means the engine would load it: its limits are checked by building the trie. */
	if (policy_trie_build(&pol, &trie, msg, sizeof(msg))) {
		p_err("%s: %s", strcmp(file, "-") ? file : "<stdin>", msg);
		policy_free(&pol);
		return 1;
	}
	policy_trie_free(&trie);
	if (opts.json)
		print_entries_json(strcmp(file, "-") ? file : "<stdin>", &pol);
	else
		print_entries_plain(&pol);
	policy_free(&pol);
	return 0;
}
