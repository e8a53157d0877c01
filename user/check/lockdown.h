/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MU_LOCKDOWN_H
#define MU_LOCKDOWN_H

#include <stddef.h>

/* The kernel lockdown mode ("integrity"), or NULL when it can't be read. */
const char *lockdown_mode(char *buf, size_t size);

#endif /* MU_LOCKDOWN_H */
