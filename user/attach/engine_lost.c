// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attachments whose engine is gone: bpffs was unmounted (a remount, a
 * container runtime's teardown) or the pin directory removed, so every link
 * died with its pin and the kernel runs none of the engine's programs, while
 * the state files under MU_STATE_DIR still say what the operator attached.
 *
 * Such a state file is renamed restore-N.json, under the lock, the first time
 * a command sees it: from then on nothing mistakes it for the state of a live
 * attachment (a new engine reuses the ids) or for debris to remove, status
 * reports it, and reload attaches it again and removes the file only once the
 * new attachment is committed. A reload killed midway leaves the rest for the
 * next one.
 */
#include <json-c/json.h>
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "engine_internal.h"
#include "common/sys.h"

#define RESTORE_PREFIX "restore-"

static void restore_path(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_STATE_DIR "/" RESTORE_PREFIX "%u.json", id);
}

/*
 * Does the kernel run an attach engine anywhere? Its socket-creation programs
 * (the hook and the mark) live only while an engine is attached: a container
 * whose own bpffs is empty, or a mount namespace that sees none, must not take
 * a live engine for a lost one. (The run engine's bridge loads neither.)
 */
static bool engine_runs_somewhere(void)
{
	__u32 id = 0;
	bool found = false;
	int fd;

	while (!found && !bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		found = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
			(!strcmp(info.name, "mu_mark_socket") || !strcmp(info.name, "mu_upgrade_sock"));
		close(fd);
	}
	return found;
}

/* This process shares the mount namespace of PID 1 (of its PID namespace). */
static bool init_mount_ns(void)
{
	struct stat self, init;

	return !stat("/proc/self/ns/mnt", &self) && !stat("/proc/1/ns/mnt", &init) &&
	       self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

/* The ids of state files named PREFIX<id>.json, as a bitmap; how many. */
static size_t ids_named(const char *prefix, bool ids[MU_MAX_ATTACHMENTS])
{
	DIR *d = opendir(MU_STATE_DIR);
	struct dirent *de;
	size_t n = 0, lp = strlen(prefix);
	unsigned int id;
	char tail[8];

	memset(ids, 0, MU_MAX_ATTACHMENTS * sizeof(bool));
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, lp) ||
		    sscanf(de->d_name + lp, "%u%7s", &id, tail) != 2 || strcmp(tail, ".json") ||
		    id >= MU_MAX_ATTACHMENTS)
			continue;
		ids[id] = true;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

int engine_keep_lost(struct engine *e, bool bpffs_seen)
{
	bool ids[MU_MAX_ATTACHMENTS], slots[MU_MAX_ATTACHMENTS];
	char from[PATH_MAX], to[PATH_MAX];
	__u32 id, slot;

	if (e->loaded || !ids_named("attach-", ids))
		return 0;
	/*
	 * Without a bpffs here, the engine may live in one this mount namespace
	 * does not see: only in init's namespace does "not mounted" mean lost.
	 * And if the kernel still runs an engine anywhere, it lives.
	 */
	if ((!bpffs_seen && !init_mount_ns()) || engine_runs_somewhere())
		return -1;
	ids_named(RESTORE_PREFIX, slots);
	for (id = 0, slot = 0; id < MU_MAX_ATTACHMENTS; id++) {
		if (!ids[id])
			continue;
		/* Slots of their own: lost twice, ids of two engines may be the same. */
		while (slot < MU_MAX_ATTACHMENTS && slots[slot])
			slot++;
		state_path(id, from, sizeof(from));
		restore_path(slot, to, sizeof(to));
		/* Kept apart, or kept where it is: gc must not take it for debris. */
		if (slot == MU_MAX_ATTACHMENTS || rename(from, to))
			return -1;
		slots[slot] = true;
		pending_path(id, from, sizeof(from));
		unlink(from);	/* a reload that never took effect: reload reads the file anew */
	}
	return 0;
}

size_t engine_lost_count(void)
{
	bool ids[MU_MAX_ATTACHMENTS];

	return ids_named(RESTORE_PREFIX, ids);
}

int engine_lost_list(struct attachment **list, size_t *nr)
{
	bool ids[MU_MAX_ATTACHMENTS];
	char path[PATH_MAX];
	size_t n = 0;
	__u32 id;

	*list = NULL;
	*nr = 0;
	if (!ids_named(RESTORE_PREFIX, ids))
		return 0;
	*list = calloc(MU_MAX_ATTACHMENTS, sizeof(**list));
	if (!*list)
		return -ENOMEM;
	for (id = 0; id < MU_MAX_ATTACHMENTS; id++) {
		if (!ids[id])
			continue;
		restore_path(id, path, sizeof(path));
		if (!read_state_file(path, id, &(*list)[n], false))
			n++;
	}
	*nr = n;
	return 0;
}

void engine_forget_lost(__u32 id)
{
	char path[PATH_MAX];

	restore_path(id, path, sizeof(path));
	unlink(path);
}
