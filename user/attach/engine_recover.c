// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opening the pinned engine, and finishing what a killed command left: a
 * reload group half committed, an attach or detach between its commit and
 * its generation bump, pins and state files no committed attachment accounts
 * for. It sits above the transactions (engine.c), the state files
 * (engine_state.c) and the pins (engine_pins.c), which never call up into it.
 */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "engine_internal.h"
#include "engine_upgrade.h"
#include "common/paths.h"

/* Everything that no committed attachment accounts for is debris of a killed command. */
static void gc(struct engine *e)
{
	bool used[MU_MAX_ATTACHMENTS], any = false;
	char path[PATH_MAX];
	struct dirent *de;
	__u32 id;
	DIR *d;

	d = opendir(MU_PIN_ROOT);
	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX))) {
			snprintf(path, sizeof(path), MU_PIN_ROOT "/%s", de->d_name);
			remove_tree(path);
		}
	}
	if (d)
		closedir(d);
	if (!e->loaded) {
		/*
		 * No engine: no state file can be current. Unless this mount
		 * namespace does not see the bpffs the engine is pinned in: then
		 * nothing can be concluded, and nothing is removed.
		 */
		if (!bpffs_visible())
			return;
		/* State files were kept apart (engine_keep_lost): what is left is debris. */
		remove_state_files();
		return;
	}
	finish_group(e);
	/* A loader killed between attach's or detach's commit and its bump. */
	bump_attach_gen(e);
	committed_ids(e, used);
	for (id = 0; id < MU_MAX_ATTACHMENTS; id++) {
		if (used[id]) {
			finish_pending(e, id);
			any = true;
			continue;
		}
		link_dir(id, path, sizeof(path));
		remove_tree(path);
		state_path(id, path, sizeof(path));
		unlink(path);
		pending_path(id, path, sizeof(path));
		unlink(path);
		bpf_map_delete_elem(e->map_fd[EM_POLICIES], &id);
	}
	if (!any)
		unload_unless_live(e);
}

int engine_open(struct engine *e, char *err, size_t err_size)
{
	struct stat st;

	bool seen = bpffs_visible();

	e->lost = 0;
	/* A newer ABI's engine is refused (nothing changed), a drained older one removed. */
	if (seen && engine_abi_gate(err, err_size)) {
		e->newer_abi = true;
		return -1;
	}
	if (seen && !stat(MU_PIN_DIR, &st) && open_pins(e, err, err_size))
		return -1;
	if (!e->loaded && engine_keep_lost(e, seen))
		return fail(err, err_size, "the engine's pins are not under %s in this mount "
			    "namespace, but %s says cgroups are attached and the kernel may run the "
			    "engine on them: run where the engine's pins are visible", MU_PIN_ROOT,
			    MU_STATE_DIR);
	gc(e);
	e->lost = engine_lost_count();
	return 0;
}

int engine_start(struct engine *e, struct attachment **list, size_t *nr, char *err,
		 size_t err_size)
{
	*list = NULL;
	*nr = 0;
	if (engine_lock(e, err, err_size) || engine_open(e, err, err_size))
		return -1;
	if (engine_list(e, list, nr))
		return fail(err, err_size, "out of memory");
	return 0;
}

void engine_remove_unopenable(struct engine *e)
{
	/* State first: killed in between, the next command finds no attachment to restore. */
	remove_state_files();
	unload(e);
	gc(e);
}
