/* SPDX-License-Identifier: GPL-2.0-only */
/* SHA-256 of a buffer or, in pieces, of a file: the policy digest status shows. */
#ifndef MU_SHA256_H
#define MU_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	unsigned char block[64];
	size_t used;		/* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_final(struct sha256 *s, char out[65]);
void sha256_hex(const void *buf, size_t len, char out[65]);

#endif /* MU_SHA256_H */
