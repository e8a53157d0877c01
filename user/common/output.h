/* SPDX-License-Identifier: GPL-2.0-only */
/* Output conventions shared by every command, after bpftool's. */
#ifndef MU_OUTPUT_H
#define MU_OUTPUT_H

#include <stdbool.h>

#include "jsonw.h"

/* Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong. */
#define EXIT_USAGE 2

struct mu_options {
	bool json;	/* -j/--json: machine-readable output, errors included */
	bool pretty;	/* -p/--pretty: indented JSON (implies --json) */
	bool debug;	/* -d/--debug: libbpf and verifier output */
};

extern struct mu_options opts;
extern const char *prog_name;

/*
 * One line per error: "Error: ..." on stderr, or {"error": "..."} on stdout in
 * JSON mode, so a program parsing our output always gets JSON.
 */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage problems print their error and return EXIT_USAGE for the caller to exit with. */
int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* @w writes one JSON document on stdout, indented with --pretty; jw_end() ends it. */
void json_stdout(struct jsonw *w);

#endif /* MU_OUTPUT_H */
