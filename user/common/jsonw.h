/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A streaming JSON writer, for output too large to build as a json-c tree
 * first: stats --json on 10,000 connections made json-c allocate some 150 MB
 * and spend most of its time in malloc. Commas, escaping and (with --pretty)
 * indentation are its business; the caller only says what comes next.
 */
#ifndef MU_JSONW_H
#define MU_JSONW_H

#include <stdbool.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jsonw {
	FILE *out;
	bool pretty;
	int depth;
	bool first[JW_MAX_DEPTH];	/* nothing written yet at this depth */
	bool after_key;
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
/* After the outermost value: the newline that ends the document. */
void jw_end(struct jsonw *w);

#endif /* MU_JSONW_H */
