// SPDX-License-Identifier: GPL-2.0-only
/*
 * An attachment's cgroup programs as the kernel runs them (not as they are
 * pinned): what is missing, and putting it back.
 */
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "engine_internal.h"
#include "sys.h"

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

static int open_cgroup(const struct attachment *att)
{
	char root[PATH_MAX], path[PATH_MAX * 2];

	if (first_mount("cgroup2", root, sizeof(root)))
		return -1;
	snprintf(path, sizeof(path), "%s%s", root, strcmp(att->cgroup, "/") ? att->cgroup : "");
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int engine_missing_links(struct engine *e, const struct attachment *att, unsigned int *missing)
{
	__u32 ids[64], cnt, i, want;
	int cg_fd = open_cgroup(att), p;

	*missing = 0;
	if (cg_fd < 0)
		return -1;
	for (p = 0; p < EP_CGROUP_MAX; p++) {
		want = prog_id_of(e->prog_fd[p]);
		cnt = sizeof(ids) / sizeof(ids[0]);
		if (bpf_prog_query(cg_fd, engine_progs[p].type, 0, NULL, ids, &cnt))
			cnt = 0;
		for (i = 0; i < cnt && ids[i] != want; i++)
			;
		if (!want || i == cnt)
			*missing |= 1U << p;
	}
	close(cg_fd);
	return 0;
}

int engine_repair_links(struct engine *e, const struct attachment *att, char *err,
			size_t err_size)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	unsigned int missing;
	int p, cg_fd, link_fd, repaired = 0;

	if (engine_missing_links(e, att, &missing) || !missing)
		return 0;	/* a cgroup that is gone has nothing to repair */
	cg_fd = open_cgroup(att);
	if (cg_fd < 0)
		return 0;
	link_dir(att->id, dir, sizeof(dir));
	mkdir(dir, 0700);
	for (p = 0; p < EP_CGROUP_MAX; p++) {
		if (!(missing & (1U << p)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, engine_progs[p].pin + strlen("prog_"));
		unlink(path);	/* a link detached behind our back, or none */
		link_fd = bpf_link_create(e->prog_fd[p], cg_fd, engine_progs[p].type, NULL);
		if (link_fd < 0 || bpf_obj_pin(link_fd, path)) {
			fail(err, err_size, "can't attach %s to cgroup %s again: %s",
			     engine_progs[p].pin + strlen("prog_"), att->cgroup, strerror(errno));
			if (link_fd >= 0)
				close(link_fd);
			close(cg_fd);
			return -1;
		}
		close(link_fd);
		repaired++;
	}
	close(cg_fd);
	return repaired;
}

