/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one way this program writes JSON: command output (--json), the error
 * objects of --json mode, and the files it reads back (the attach engine's
 * state files, the run registry). It streams: stats --json on 10,000
 * connections made a json-c tree allocate some 150 MB and spend most of its
 * time in malloc. Commas, escaping and (with --pretty) indentation are its
 * business; the caller only says what comes next.
 *
 * json-c is linked for reading alone: it parses the state files and the
 * registry back. Nothing is written with it.
 */
#ifndef MU_JSONW_H
#define MU_JSONW_H

#include <stdbool.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jsonw {
	FILE *out;
	bool pretty;
	/*
	 * Bytes of a string that are no UTF-8 go out as they are, for a file
	 * this program reads back: a cgroup's or a file's name is bytes, and
	 * must come back the same. Output for others gets U+FFFD instead.
	 */
	bool raw_bytes;
	int depth;
	bool first[JW_MAX_DEPTH];	/* nothing written yet at this depth */
	bool after_key;
	char *mem;			/* jw_init_memory()'s buffer */
	size_t mem_len;
};

void jw_init(struct jsonw *w, FILE *out, bool pretty);
void jw_object_start(struct jsonw *w);
void jw_object_end(struct jsonw *w);
void jw_array_start(struct jsonw *w);
void jw_array_end(struct jsonw *w);
void jw_key(struct jsonw *w, const char *key);
void jw_string(struct jsonw *w, const char *s);
void jw_u64(struct jsonw *w, unsigned long long v);
void jw_int(struct jsonw *w, long long v);
void jw_bool(struct jsonw *w, bool v);
void jw_null(struct jsonw *w);
/*
 * A document kept in memory, for output that must not start before the
 * command knows it succeeded: jw_memory_flush() copies it to @out, or drops
 * it when @out is NULL, and leaves @w closed (->out NULL). -1 without memory.
 */
int jw_init_memory(struct jsonw *w, bool pretty);
void jw_memory_flush(struct jsonw *w, FILE *out);
/*
 * A file this program reads back, there whole or not at all: @w writes to
 * "@path.tmp" (root's alone, mode 0600), and jw_file_commit() ends the
 * document and renames it over @path. -1 with errno set; on failure the
 * temporary file is removed.
 */
int jw_file_open(struct jsonw *w, const char *path);
int jw_file_commit(struct jsonw *w, const char *path);
/* After the outermost value: the newline that ends the document; -1 if writing failed. */
int jw_end(struct jsonw *w);

/* A key and its value, the shape most members have. */
void jw_kv_string(struct jsonw *w, const char *key, const char *s);
void jw_kv_u64(struct jsonw *w, const char *key, unsigned long long v);
void jw_kv_int(struct jsonw *w, const char *key, long long v);
void jw_kv_bool(struct jsonw *w, const char *key, bool v);
void jw_kv_null(struct jsonw *w, const char *key);

#endif /* MU_JSONW_H */
