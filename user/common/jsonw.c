// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonw.h"
#include "utf8.h"

static void start(struct jsonw *w, FILE *out, bool pretty)
{
	w->out = out;
	w->pretty = pretty;
	w->raw_bytes = false;
	w->depth = 0;
	w->first[0] = true;
	w->after_key = false;
}

void jw_init(struct jsonw *w, FILE *out, bool pretty)
{
	start(w, out, pretty);
	w->mem = NULL;
	w->mem_len = 0;
}

int jw_init_memory(struct jsonw *w, bool pretty)
{
	FILE *f = open_memstream(&w->mem, &w->mem_len);

	if (!f)
		return -1;
	start(w, f, pretty);
	return 0;
}

void jw_memory_flush(struct jsonw *w, FILE *out)
{
	fclose(w->out);
	if (out) {
		fwrite(w->mem, 1, w->mem_len, out);
		fflush(out);
	}
	free(w->mem);
	w->out = NULL;
	w->mem = NULL;
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

static void tmp_path(const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s.tmp", path);
}

int jw_file_open(struct jsonw *w, const char *path)
{
	char tmp[PATH_MAX + 8];
	FILE *f = NULL;
	int fd;

	tmp_path(path, tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && (fchmod(fd, 0600) || !(f = fdopen(fd, "w")))) {
		int err = errno;

		close(fd);
		unlink(tmp);
		errno = err;
		return -1;
	}
	if (fd < 0)
		return -1;
	jw_init(w, f, false);
	w->raw_bytes = true;
	return 0;
}

int jw_file_commit(struct jsonw *w, const char *path)
{
	char tmp[PATH_MAX + 8];
	int ret = jw_end(w), err = errno;

	tmp_path(path, tmp, sizeof(tmp));
	if (fclose(w->out) && !ret) {
		ret = -1;
		err = errno;
	}
	w->out = NULL;
	if (!ret && rename(tmp, path)) {
		ret = -1;
		err = errno;
	}
	if (ret) {
		unlink(tmp);
		errno = err ? err : EIO;
	}
	return ret;
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
		} else if (w->raw_bytes) {
			fputc(*p++, w->out);
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

int jw_end(struct jsonw *w)
{
	fputc('\n', w->out);
	return fflush(w->out) || ferror(w->out) ? -1 : 0;
}

void jw_kv_string(struct jsonw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_string(w, s);
}

void jw_kv_u64(struct jsonw *w, const char *key, unsigned long long v)
{
	jw_key(w, key);
	jw_u64(w, v);
}

void jw_kv_int(struct jsonw *w, const char *key, long long v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void jw_kv_bool(struct jsonw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

void jw_kv_null(struct jsonw *w, const char *key)
{
	jw_key(w, key);
	jw_null(w);
}
