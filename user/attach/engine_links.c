// SPDX-License-Identifier: GPL-2.0-only
/*
 * The engine's programs as the kernel runs them (not as they are pinned): the
 * fmod_ret hook and an attachment's cgroup programs, what is missing, and
 * putting it back.
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
#include "engine_objs.h"
#include "common/sys.h"

__u32 engine_prog_id(int fd)
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
		want = engine_prog_id(e->prog_fd[p]);
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


/* The kernel truncates program names to BPF_OBJ_NAME_LEN - 1 characters. */
#define HOOK_PROG_NAME "mu_upgrade_sock"

/*
 * The live link running the engine's fmod_ret program: a tracing link whose
 * program has the hook's name and uses this engine's attached_cgroups map. 0
 * when there is none (its pin removed, or bpffs unmounted), whatever the pins
 * say.
 */
__u32 engine_hook_link(struct engine *e, __u32 *prog_id)
{
	__u32 id = 0, want = 0, map_ids[64], len, i;
	struct bpf_link_info link;
	struct bpf_prog_info prog;
	struct bpf_map_info map;
	int fd;

	memset(&map, 0, sizeof(map));
	len = sizeof(map);
	if (e->map_fd[EM_ATTACHED] < 0 ||
	    bpf_obj_get_info_by_fd(e->map_fd[EM_ATTACHED], &map, &len))
		return 0;
	want = map.id;
	while (!bpf_link_get_next_id(id, &id)) {
		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&link, 0, sizeof(link));
		len = sizeof(link);
		i = bpf_obj_get_info_by_fd(fd, &link, &len);
		close(fd);
		if (i || link.type != BPF_LINK_TYPE_TRACING)
			continue;
		fd = bpf_prog_get_fd_by_id(link.prog_id);
		if (fd < 0)
			continue;
		memset(&prog, 0, sizeof(prog));
		prog.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
		prog.map_ids = (__u64)(unsigned long)map_ids;
		len = sizeof(prog);
		i = bpf_obj_get_info_by_fd(fd, &prog, &len);
		close(fd);
		if (i || strcmp(prog.name, HOOK_PROG_NAME))
			continue;
		if (prog.nr_map_ids > sizeof(map_ids) / sizeof(map_ids[0]))
			prog.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
		for (i = 0; i < prog.nr_map_ids; i++) {
			if (map_ids[i] == want) {
				if (prog_id)
					*prog_id = link.prog_id;
				return id;
			}
		}
	}
	return 0;
}

/*
 * Load the fmod_ret program again, on the pinned maps, attach it and pin its
 * link where the lost one was. A program that was never detached can't be
 * attached twice, so it is loaded anew: the maps carry all the state.
 */
int engine_repair_hook(struct engine *e, char *err, size_t err_size)
{
	struct stage12_bpf *skel;
	struct bpf_link *link = NULL;
	int ret = -1;

	if (!e->loaded || engine_hook_link(e, NULL))
		return 0;
	skel = engine_hook_load(e->map_fd, err, err_size);
	if (!skel)
		return -1;
	link = bpf_program__attach(engine_hook_prog(skel));
	if (!link) {
		fail(err, err_size, "can't attach fmod_ret/update_socket_protocol again: %s",
		     strerror(errno));
		goto out;
	}
	unlink(MU_PIN_DIR "/" HOOK_LINK);	/* a link that is not running, or none */
	if (bpf_link__pin(link, MU_PIN_DIR "/" HOOK_LINK)) {
		fail(err, err_size, "can't pin %s/%s: %s", MU_PIN_DIR, HOOK_LINK, strerror(errno));
		goto out;
	}
	ret = 1;
out:
	if (link) {
		bpf_link__disconnect(link);
		bpf_link__destroy(link);
	}
	engine_hook_destroy(skel);
	return ret;
}
