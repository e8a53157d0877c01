// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "sys.h"

static int scan_mounts(const char *mountinfo, const char *prefix, const char *fstype,
		       char *out, size_t size, bool *v1_beside)
{
	FILE *f = fopen(mountinfo, "re");
	char *line = NULL, *sep;
	size_t cap = 0;
	int n = 0;

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
			snprintf(out + strlen(out), size - strlen(out), "%s%s%s",
				 out[0] ? " " : "", prefix, mnt);
	}
	free(line);
	fclose(f);
	return n;
}

/* The parent of @pid, from /proc/PID/stat; 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/*
 * A process in another mount namespace than ours whose root we may enter:
 * init's, or else the nearest ancestor's (`ip netns exec` was started from one;
 * run's supervisor is a few generations below it), or 0.
 */
int outer_mount_ns(void)
{
	struct stat self, other;
	char path[64];
	pid_t cand = 1;
	int i;

	if (stat("/proc/self/ns/mnt", &self))
		return 0;
	for (i = 0; i < 32 && cand > 0; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)cand);
		if (!stat(path, &other) && other.st_ino != self.st_ino) {
			snprintf(path, sizeof(path), "/proc/%d/root/", (int)cand);
			if (!access(path, X_OK))
				return cand;
		}
		cand = i == 0 ? getppid() : parent_of(cand);
	}
	return 0;
}

int find_mounts(const char *fstype, char *out, size_t size, bool *v1_beside)
{
	out[0] = '\0';
	if (v1_beside)
		*v1_beside = false;
	return scan_mounts("/proc/self/mountinfo", "", fstype, out, size, v1_beside);
}

int find_mounts_outside(const char *fstype, char *out, size_t size)
{
	char mountinfo[64];
	int pid = outer_mount_ns();

	out[0] = '\0';
	if (!pid)
		return 0;
	snprintf(mountinfo, sizeof(mountinfo), "/proc/%d/mountinfo", pid);
	return scan_mounts(mountinfo, "", fstype, out, size, NULL);
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

int need_root(const char *cmd)
{
	char lacking[128];

	lacking_capabilities(lacking, sizeof(lacking));
	if (!lacking[0])
		return 0;
	p_err("%s needs root: lacking %s (run as root)", cmd, lacking);
	return -1;
}
