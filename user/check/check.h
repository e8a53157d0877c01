/* SPDX-License-Identifier: GPL-2.0-only */
/* What check offers the other commands: its probes, asked before they act. */
#ifndef MU_CHECK_H
#define MU_CHECK_H

#include <stddef.h>

/*
 * The kernel requirements attach cannot do without, probed as check does.
 * Returns 0, or -1 with the first missing one described in @cause.
 */
int attach_preflight(char *cause, size_t size);

#endif /* MU_CHECK_H */
