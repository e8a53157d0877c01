/* SPDX-License-Identifier: GPL-2.0-only */
/* Where both engines keep their state: one place for the paths they share. */
#ifndef MU_PATHS_H
#define MU_PATHS_H

#define MU_PIN_ROOT	"/sys/fs/bpf"
#define MU_PIN_DIR	MU_PIN_ROOT "/mptcp-upgrade"
#define MU_RUN_DIR	"/run/mptcp-upgrade"	/* state files, locks, run's registry */

#endif /* MU_PATHS_H */
