// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness: any bytes as the kernel's sock_diag answer, parsed as
 * stats parses it (MPTCP sockets, then TCP subflows), joined and freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const __u64 cgids[] = { 1, 77, 4242 };
	struct mu_diag d = {};
	void *copy = malloc(size ? size : 1);	/* libmnl wants a mutable, aligned buffer */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	diag_parse(&d, copy, size, 1, cgids, 3, true);
	diag_parse(&d, copy, size, 1, cgids, 3, false);
	diag_join(&d);
	diag_free(&d);
	free(copy);
	return 0;
}
