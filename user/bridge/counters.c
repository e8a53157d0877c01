// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-CPU counter maps of the bridge and the engines, summed over CPUs:
 * what both engines, status and stats read, by map fd, so that none of them
 * needs another's handle.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* Sum the per-CPU values (each @n __u64 counters) of @key; zeros when it has none. */
int percpu_sum(int fd, const void *key, __u64 *out, size_t n)
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

int line_counters_sum(int map_fd, __u32 attach_id, __u32 entry, struct mu_line_counters *out)
{
	struct mu_line_key key = { .attach_id = attach_id, .entry = entry };

	return percpu_sum(map_fd, &key, (__u64 *)out, sizeof(*out) / sizeof(__u64));
}

int sockopt_counters_sum(int map_fd, __u32 attach_id, struct mu_sockopt_counters *out)
{
	int ncpu = libbpf_num_possible_cpus(), i, c;
	struct mu_sockopt_counters *per;

	if (ncpu <= 0)
		return -1;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -1;
	memset(out, 0, MU_SOPT_MAX * sizeof(*out));
	for (i = 0; i < MU_SOPT_MAX; i++) {
		__u32 key = attach_id * MU_SOPT_MAX + i;

		if (bpf_map_lookup_elem(map_fd, &key, per))
			continue;
		for (c = 0; c < ncpu; c++) {
			out[i].carried += per[c].carried;
			out[i].refused += per[c].refused;
			out[i].apply_failed += per[c].apply_failed;
		}
	}
	free(per);
	return 0;
}
