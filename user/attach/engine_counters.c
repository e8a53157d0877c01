// SPDX-License-Identifier: GPL-2.0-only
/*
 * The attach engine's counters, summed over CPUs: per attachment (what each
 * stage decided) and per policy line. Status and the state files read them;
 * nothing here changes the engine.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "engine.h"
#include "engine_internal.h"

int engine_attach_counters(struct engine *e, __u32 id, struct mu_attach_counters *out)
{
	return percpu_sum(e->map_fd[EM_ATTACH_COUNTERS], &id, out->count, MU_CNT_MAX);
}

int engine_line_counters(struct engine *e, __u32 id, __u32 entry, struct mu_line_counters *out)
{
	return line_counters_sum(e->map_fd[EM_LINE_COUNTERS], id, entry, out);
}

