/* SPDX-License-Identifier: GPL-2.0-only */
/* Where both engines keep their state: one place for the paths they share. */
#ifndef MU_PATHS_H
#define MU_PATHS_H

#include "mptcp_upgrade.h"

#define MU_STR_(x)	#x
#define MU_STR(x)	MU_STR_(x)

#define MU_PIN_ROOT	"/sys/fs/bpf"
/* Every ABI's engine, each in v<ABI>/ (before ABI 7: the pins right in it). */
#define MU_PIN_BASE	MU_PIN_ROOT "/mptcp-upgrade"
#define MU_PIN_DIR	MU_PIN_BASE "/v" MU_STR(MU_ENGINE_ABI)
#define MU_RUN_DIR	"/run/mptcp-upgrade"	/* the lock of every version, run's registry */
/* The attach engine's state files, per ABI as its pins. */
#define MU_STATE_DIR	MU_RUN_DIR "/v" MU_STR(MU_ENGINE_ABI)

#endif /* MU_PATHS_H */
