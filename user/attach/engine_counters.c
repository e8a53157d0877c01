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

#include "engine.h"
#include "engine_internal.h"

/* Sum the per-CPU values (each @n __u64 counters) of @key; zeros when it has none. */
static int sum_percpu(int fd, const void *key, __u64 *out, size_t n)
{
	int ncpu = libbpf_num_possible_cpus(), cpu;
	__u64 *percpu;
	size_t i;

	memset(out, 0, n * sizeof(*out));
	if (ncpu <= 0)
		return -1;
	percpu = calloc((size_t)ncpu * n, sizeof(*percpu));
	if (!percpu)
		return -1;
	if (!bpf_map_lookup_elem(fd, key, percpu))
		for (cpu = 0; cpu < ncpu; cpu++)
			for (i = 0; i < n; i++)
				out[i] += percpu[cpu * n + i];
	free(percpu);
	return 0;
}

int engine_attach_counters(struct engine *e, __u32 id, struct mu_attach_counters *out)
{
	return sum_percpu(e->map_fd[EM_ATTACH_COUNTERS], &id, out->count, MU_CNT_MAX);
}

int line_counters_sum(int map_fd, __u32 attach_id, __u32 entry, struct mu_line_counters *out)
{
	struct mu_line_key key = { .attach_id = attach_id, .entry = entry };

	return sum_percpu(map_fd, &key, (__u64 *)out, sizeof(*out) / sizeof(__u64));
}

int engine_line_counters(struct engine *e, __u32 id, __u32 entry, struct mu_line_counters *out)
{
	return line_counters_sum(e->map_fd[EM_LINE_COUNTERS], id, entry, out);
}

