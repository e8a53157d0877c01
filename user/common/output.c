// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>

#include "output.h"

struct mu_options opts;
const char *prog_name = "mptcp-upgrade";

static void vp_err(const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (opts.json) {
		struct jsonw w;

		json_stdout(&w);
		jw_object_start(&w);
		jw_kv_string(&w, "error", msg);
		jw_object_end(&w);
		jw_end(&w);
	} else {
		fflush(stdout);	/* what was printed before the error stays before it */
		fprintf(stderr, "Error: %s\n", msg);
	}
}

void json_stdout(struct jsonw *w)
{
	jw_init(w, stdout, opts.pretty);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vp_err(fmt, ap);
	va_end(ap);
}

int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vp_err(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}
