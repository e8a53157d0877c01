/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The attach engine's BPF objects, one per stage, loaded on one set of maps:
 *   stage12    fmod_ret/update_socket_protocol, cgroup/sock_create, bind4/6,
 *              connect4/6 (Linux 6.6+, BPF trampolines)
 *   bridge     cgroup/setsockopt, cgroup/getsockopt, sockops (5.19+); the
 *              run engine loads it alone (bridge.c)
 *   stage3_tc  tc ingress and egress (6.6+: tcx)
 *   live_iter  iter/bpf_sk_storage_map (5.9+)
 * A map that several objects declare is created by the first one loaded and
 * given to the others (bpf_map__reuse_fd): every pin names one map.
 */
#ifndef MU_ENGINE_OBJS_H
#define MU_ENGINE_OBJS_H

#include <stddef.h>

#include "engine.h"

struct stage12_bpf;
struct bridge_bpf;
struct stage3_tc_bpf;
struct live_iter_bpf;
struct bpf_map;
struct bpf_program;

struct engine_objs {
	struct stage12_bpf *stage12;
	struct bridge_bpf *bridge;
	struct stage3_tc_bpf *tc;
	struct live_iter_bpf *iter;
	struct bpf_map *maps[EM_MAX];		/* each in the object that created it */
	struct bpf_program *progs[EP_MAX];	/* what engine_progs pins */
	struct bpf_program *hook;		/* fmod_ret/update_socket_protocol */
	const char *failed;			/* the stage that did not load, or NULL */
};

/*
 * Open and load the four objects. -1 with @err (naming the stage, and errno
 * kept) when one does not load; engine_objs_destroy() in any case.
 */
int engine_objs_load(struct engine_objs *o, char *err, size_t err_size);
void engine_objs_destroy(struct engine_objs *o);

/*
 * Stage 1's fmod_ret program alone, to attach again over a pinned engine's
 * maps @map_fd (EM_MAX of them), or, with @map_fd NULL, on maps of its own to
 * see whether the kernel loads it. NULL with @err, errno kept. The cgroup
 * programs of the object are left out: attached ones are running already.
 */
struct stage12_bpf *engine_hook_load(const int *map_fd, char *err, size_t err_size);
struct bpf_program *engine_hook_prog(struct stage12_bpf *skel);
void engine_hook_destroy(struct stage12_bpf *skel);

#endif /* MU_ENGINE_OBJS_H */
