// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "utf8.h"

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

/* @s with every byte that starts no valid UTF-8 sequence replaced by U+FFFD; NULL if it is valid. */
static char *utf8_repaired(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, len = 0;
	char *out, *o;
	bool bad = false;

	for (; *p; p += n ? n : 1) {
		n = utf8_seq_len(p);
		bad |= !n;
		len += n ? n : 3;
	}
	if (!bad)
		return NULL;
	out = o = malloc(len + 1);
	if (!out)
		return NULL;
	for (p = (const unsigned char *)s; *p; p += n ? n : 1) {
		n = utf8_seq_len(p);
		memcpy(o, n ? (const char *)p : UTF8_REPLACEMENT, n ? n : 3);
		o += n ? n : 3;
	}
	*o = '\0';
	return out;
}

/* Cgroup names and paths are bytes; JSON is UTF-8 (json-c copies bytes as they are). */
static void repair_strings(struct json_object *obj)
{
	size_t i, n;
	char *fixed;

	switch (json_object_get_type(obj)) {
	case json_type_object: {
		json_object_object_foreach(obj, key, val) {
			(void)key;
			repair_strings(val);
		}
		break;
	}
	case json_type_array:
		n = json_object_array_length(obj);
		for (i = 0; i < n; i++)
			repair_strings(json_object_array_get_idx(obj, i));
		break;
	case json_type_string:
		fixed = utf8_repaired(json_object_get_string(obj));
		if (fixed) {
			json_object_set_string(obj, fixed);
			free(fixed);
		}
		break;
	default:
		break;
	}
}

void json_print(struct json_object *obj)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (opts.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
				 : JSON_C_TO_STRING_PLAIN);

	repair_strings(obj);
	puts(json_object_to_json_string_ext(obj, flags));
	fflush(stdout);
	json_object_put(obj);
}
