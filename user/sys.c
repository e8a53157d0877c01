// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

int find_mounts(const char *fstype, char *out, size_t size, bool *v1_beside)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep;
	size_t cap = 0;
	int n = 0;

	out[0] = '\0';
	if (v1_beside)
		*v1_beside = false;
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mnt[512], type[64];

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE ..." */
		sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		if (v1_beside && !strcmp(type, "cgroup"))
			*v1_beside = true;
		if (strcmp(type, fstype))
			continue;
		if (n++ < 4)	/* a few are enough to say where */
			snprintf(out + strlen(out), size - strlen(out), "%s%s",
				 out[0] ? " " : "", mnt);
	}
	free(line);
	fclose(f);
	return n;
}

int first_mount(const char *fstype, char *out, size_t size)
{
	char all[2048], *space;
	int n = find_mounts(fstype, all, sizeof(all), NULL);

	if (n < 0)
		return n;
	if (!n)
		return -ENOENT;
	space = strchr(all, ' ');
	if (space)
		*space = '\0';
	snprintf(out, size, "%s", all);
	return 0;
}

/* Effective capabilities from /proc/self/status, 0 when unreadable. */
static unsigned long long effective_caps(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

void lacking_capabilities(char *out, size_t size)
{
	/* CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39 */
	static const struct { int bit; const char *name; } needed[] = {
		{ 39, "CAP_BPF" }, { 38, "CAP_PERFMON" }, { 12, "CAP_NET_ADMIN" },
		{ 21, "CAP_SYS_ADMIN" },
	};
	unsigned long long caps = effective_caps();
	size_t i;

	out[0] = '\0';
	for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (caps & (1ULL << needed[i].bit))
			continue;
		snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? ", " : "",
			 needed[i].name);
	}
}

int mptcp_enabled(void)
{
	FILE *f = fopen("/proc/sys/net/mptcp/enabled", "re");
	int enabled = -EINVAL;

	if (!f)
		return -errno;
	if (fscanf(f, "%d", &enabled) != 1)
		enabled = -EINVAL;
	fclose(f);
	return enabled;
}
