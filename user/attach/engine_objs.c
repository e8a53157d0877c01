// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loading the attach engine's BPF objects (one per stage) on one set of maps,
 * and stage 1's hook alone for repair and check. Pinning is engine_pins.c's.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "engine_internal.h"
#include "engine_objs.h"
#include "bridge.skel.h"
#include "live_iter.skel.h"
#include "stage12.skel.h"
#include "stage3_tc.skel.h"

static int map_index(const char *name)
{
	int i;

	for (i = 0; i < EM_MAX; i++)
		if (!strcmp(name, engine_map_names[i]))
			return i;
	return -1;
}

/*
 * Before @obj loads: give it the maps already made (@fd[i] >= 0). A map the
 * engine would not pin is refused, as it would be lost once the loader exits.
 */
static int share_maps(struct bpf_object *obj, const int *fd, const char *what, char *err,
		      size_t err_size)
{
	struct bpf_map *map;
	int i;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;	/* .rodata: the object's own */
		i = map_index(bpf_map__name(map));
		if (i < 0) {
			errno = EINVAL;
			return fail(err, err_size, "%s declares map %s, which the engine does not "
				    "pin", what, bpf_map__name(map));
		}
		if (fd && fd[i] >= 0 && bpf_map__reuse_fd(map, fd[i]))
			return fail(err, err_size, "can't give map %s to %s: %s",
				    bpf_map__name(map), what, strerror(errno));
	}
	return 0;
}

/* After @obj loaded: the maps it made are the ones the next objects get. */
static void note_maps(struct bpf_object *obj, int *fd, struct bpf_map **made)
{
	struct bpf_map *map;
	int i;

	bpf_object__for_each_map(map, obj) {
		i = bpf_map__is_internal(map) ? -1 : map_index(bpf_map__name(map));
		if (i >= 0 && fd[i] < 0) {
			fd[i] = bpf_map__fd(map);
			made[i] = map;
		}
	}
}

/* What each object holds, for the error that names the one that did not load. */
static const char *const stage_names[] = {
	"stage 1-2 (fmod_ret/update_socket_protocol, cgroup sock_create, bind, connect; "
	"Linux 6.6+)",
	"the socket-option bridge (cgroup setsockopt, getsockopt, sockops; Linux 5.19+)",
	"stage 3 (tc ingress and egress; Linux 6.6+)",
	"the socket iterator (iter/bpf_sk_storage_map; Linux 5.9+)",
};

int engine_objs_load(struct engine_objs *o, char *err, size_t err_size)
{
	struct bpf_object_skeleton *stages[4];
	int fd[EM_MAX], i, saved;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < EM_MAX; i++)
		fd[i] = -1;
	o->stage12 = stage12_bpf__open();
	o->bridge = o->stage12 ? bridge_bpf__open() : NULL;
	o->tc = o->bridge ? stage3_tc_bpf__open() : NULL;
	o->iter = o->tc ? live_iter_bpf__open() : NULL;
	if (!o->iter)
		return fail(err, err_size, "can't open the BPF objects: %s", strerror(errno));
	o->bridge->rodata->page_size = (__u32)sysconf(_SC_PAGESIZE);

	/* In this order: stage12 makes most of the shared maps, the others are given them. */
	stages[0] = o->stage12->skeleton;
	stages[1] = o->bridge->skeleton;
	stages[2] = o->tc->skeleton;
	stages[3] = o->iter->skeleton;
	for (i = 0; i < 4; i++) {
		struct bpf_object *obj = *stages[i]->obj;

		if (share_maps(obj, fd, stage_names[i], err, err_size))
			return -1;
		if (bpf_object__load_skeleton(stages[i])) {
			saved = errno;
			o->failed = stage_names[i];
			fail(err, err_size, "can't load %s: %s (see 'mptcp-upgrade check')",
			     stage_names[i], strerror(saved));
			errno = saved;
			return -1;
		}
		note_maps(obj, fd, o->maps);
	}
	for (i = 0; i < EM_MAX; i++)
		if (!o->maps[i]) {
			errno = ENOENT;
			return fail(err, err_size, "no object declares map %s",
				    engine_map_names[i]);
		}
	o->hook = o->stage12->progs.mu_upgrade_socket;
	o->progs[EP_SOCK_CREATE] = o->stage12->progs.mu_mark_socket;
	o->progs[EP_BIND4] = o->stage12->progs.mu_bind4;
	o->progs[EP_BIND6] = o->stage12->progs.mu_bind6;
	o->progs[EP_CONNECT4] = o->stage12->progs.mu_connect4;
	o->progs[EP_CONNECT6] = o->stage12->progs.mu_connect6;
	o->progs[EP_SOCKOPS] = o->bridge->progs.mu_sockops;
	o->progs[EP_SETSOCKOPT] = o->bridge->progs.mu_setsockopt;
	o->progs[EP_GETSOCKOPT] = o->bridge->progs.mu_getsockopt;
	o->progs[EP_TC_INGRESS] = o->tc->progs.mu_tc_ingress;
	o->progs[EP_TC_EGRESS] = o->tc->progs.mu_tc_egress;
	o->progs[EP_LIVE_ITER] = o->iter->progs.mu_live_sockets;
	return 0;
}

void engine_objs_destroy(struct engine_objs *o)
{
	int saved = errno;

	live_iter_bpf__destroy(o->iter);
	stage3_tc_bpf__destroy(o->tc);
	bridge_bpf__destroy(o->bridge);
	stage12_bpf__destroy(o->stage12);
	memset(o, 0, sizeof(*o));
	errno = saved;
}

struct stage12_bpf *engine_hook_load(const int *map_fd, char *err, size_t err_size)
{
	struct stage12_bpf *skel = stage12_bpf__open();
	struct bpf_program *prog;
	int saved;

	if (!skel) {
		fail(err, err_size, "can't open the BPF object: %s", strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == skel->progs.mu_upgrade_socket);
	if (share_maps(skel->obj, map_fd, "stage 1", err, err_size))
		goto out;
	if (stage12_bpf__load(skel)) {
		saved = errno;
		fail(err, err_size, "can't load fmod_ret/update_socket_protocol: %s",
		     strerror(saved));
		errno = saved;
		goto out;
	}
	return skel;
out:
	saved = errno;
	stage12_bpf__destroy(skel);
	errno = saved;
	return NULL;
}

struct bpf_program *engine_hook_prog(struct stage12_bpf *skel)
{
	return skel->progs.mu_upgrade_socket;
}

void engine_hook_destroy(struct stage12_bpf *skel)
{
	stage12_bpf__destroy(skel);
}
