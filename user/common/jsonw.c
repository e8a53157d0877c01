// SPDX-License-Identifier: GPL-2.0-only
#include "jsonw.h"
#include "utf8.h"

void jw_init(struct jsonw *w, FILE *out, bool pretty)
{
	w->out = out;
	w->pretty = pretty;
	w->depth = 0;
	w->first[0] = true;
	w->after_key = false;
}

static void indent(struct jsonw *w)
{
	int i;

	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Before any value or key: the comma and line break it needs. */
static void before(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		fputc(',', w->out);
	w->first[w->depth] = false;
	if (w->depth)
		indent(w);
}

static void container_open(struct jsonw *w, char c)
{
	before(w);
	fputc(c, w->out);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->first[w->depth] = true;
}

static void container_close(struct jsonw *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth)
		w->depth--;
	if (!empty)
		indent(w);
	fputc(c, w->out);
}

void jw_object_start(struct jsonw *w)
{
	container_open(w, '{');
}

void jw_object_end(struct jsonw *w)
{
	container_close(w, '}');
}

void jw_array_start(struct jsonw *w)
{
	container_open(w, '[');
}

void jw_array_end(struct jsonw *w)
{
	container_close(w, ']');
}

static void quoted(struct jsonw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	fputc('"', w->out);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fprintf(w->out, "\\%c", *p++);
		} else if (*p < 0x20) {
			fprintf(w->out, "\\u%04x", *p++);
		} else if ((n = utf8_seq_len(p))) {
			fwrite(p, 1, n, w->out);
			p += n;
		} else {
			fputs(UTF8_REPLACEMENT, w->out);	/* not UTF-8: a byte of a name */
			p++;
		}
	}
	fputc('"', w->out);
}

void jw_key(struct jsonw *w, const char *key)
{
	before(w);
	quoted(w, key);
	fputs(w->pretty ? ": " : ":", w->out);
	w->after_key = true;
}

void jw_string(struct jsonw *w, const char *s)
{
	before(w);
	quoted(w, s);
}

void jw_u64(struct jsonw *w, unsigned long long v)
{
	before(w);
	fprintf(w->out, "%llu", v);
}

void jw_int(struct jsonw *w, long long v)
{
	before(w);
	fprintf(w->out, "%lld", v);
}

void jw_bool(struct jsonw *w, bool v)
{
	before(w);
	fputs(v ? "true" : "false", w->out);
}

void jw_null(struct jsonw *w)
{
	before(w);
	fputs("null", w->out);
}

void jw_end(struct jsonw *w)
{
	fputc('\n', w->out);
	fflush(w->out);
}
