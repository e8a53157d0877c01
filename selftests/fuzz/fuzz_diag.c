// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness: any bytes as the kernel's sock_diag answer, parsed as
 * stats parses it: TCP subflows into the store, then MPTCP sockets, each
 * given out with the subflows decoded from the store, which are all read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"

static int touch(const struct mu_conn *c, void *ctx)
{
	unsigned long long *sum = ctx;
	__u32 i;

	for (i = 0; i < c->nr_subflows; i++)
		*sum += c->subflows[i].bytes_acked + c->subflows[i].local.port + c->subflows[i].id_loc;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const __u64 cgids[] = { 1, 77, 4242 };
	struct mu_diag d = {};
	unsigned long long sum = 0;
	void *copy = malloc(size ? size : 1);	/* libmnl wants a mutable, aligned buffer */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	diag_parse(&d, copy, size, 1, cgids, 3, NULL, NULL);
	diag_parse(&d, copy, size, 1, cgids, 3, touch, &sum);
	diag_free(&d);
	free(copy);
	return 0;
}
