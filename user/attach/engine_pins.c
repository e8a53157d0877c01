// SPDX-License-Identifier: GPL-2.0-only
/*
 * The engine's pins under MU_PIN_DIR: the lock, loading and pinning (all pins
 * or none, through a staging directory), opening them (and refusing another
 * version's), garbage left by killed commands, and unloading (all at once,
 * and not while sockets stage 3 protects are alive).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "engine.h"
#include "engine_internal.h"
#include "engine_upgrade.h"
#include "engine_objs.h"
#include "common/sys.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *const engine_map_names[EM_MAX] = {
	[EM_ATTACHED] = "attached_cgroups",
	[EM_NOTES] = "upgrade_notes",
	[EM_ATTACH_COUNTERS] = "attach_counters",
	[EM_POLICIES] = "policies",
	[EM_LINE_COUNTERS] = "line_counters",
	[EM_SOCK_STATES] = "sock_states",
	[EM_NETNS] = "netns_info",
	[EM_ABI] = "engine_abi",
	[EM_BRIDGE_CONFIG] = "bridge_config",
	[EM_BRIDGE_VALUES] = "bridge_values",
	[EM_SOCKOPT_COUNTERS] = "sockopt_counters",
	[EM_ATTACH_GEN] = "attach_gen",
	[EM_CGROUP_VERDICTS] = "cgroup_verdicts",
	[EM_SLOT_CGROUPS] = "slot_cgroups",
	[EM_CONN_LINES] = "conn_lines",
};

const struct engine_prog_desc engine_progs[EP_MAX] = {
	[EP_SOCK_CREATE] = { "prog_sock_create", BPF_CGROUP_INET_SOCK_CREATE,
			     "cgroup/sock_create" },
	[EP_BIND4] = { "prog_bind4", BPF_CGROUP_INET4_BIND, "cgroup/bind4" },
	[EP_BIND6] = { "prog_bind6", BPF_CGROUP_INET6_BIND, "cgroup/bind6" },
	[EP_CONNECT4] = { "prog_connect4", BPF_CGROUP_INET4_CONNECT, "cgroup/connect4" },
	[EP_CONNECT6] = { "prog_connect6", BPF_CGROUP_INET6_CONNECT, "cgroup/connect6" },
	[EP_SOCKOPS] = { "prog_sockops", BPF_CGROUP_SOCK_OPS, "cgroup/sockops" },
	[EP_SETSOCKOPT] = { "prog_setsockopt", BPF_CGROUP_SETSOCKOPT, "cgroup/setsockopt" },
	[EP_GETSOCKOPT] = { "prog_getsockopt", BPF_CGROUP_GETSOCKOPT, "cgroup/getsockopt" },
	[EP_TC_INGRESS] = { "prog_tc_ingress", MU_BPF_TCX_INGRESS, "tcx/ingress" },
	[EP_TC_EGRESS] = { "prog_tc_egress", MU_BPF_TCX_EGRESS, "tcx/egress" },
	[EP_LIVE_ITER] = { "prog_live_sockets", BPF_TRACE_ITER, "iter/bpf_sk_storage_map" },
};

const char *engine_prog_name(enum engine_prog p)
{
	return engine_progs[p].name;
}

/*
 * Fault injection for the crash-consistency tests: MPTCP_UPGRADE_CRASH_AT=NAME
 * makes the process SIGKILL itself at the point called NAME, as an operator's
 * kill -9 or an OOM kill could at any moment.
 */
void crash_point(const char *name)
{
	const char *at = getenv("MPTCP_UPGRADE_CRASH_AT");

	if (at && !strcmp(at, name))
		kill(getpid(), SIGKILL);
}

int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

static void close_fds(struct engine *e)
{
	int i;

	for (i = 0; i < EM_MAX; i++) {
		if (e->map_fd[i] >= 0)
			close(e->map_fd[i]);
		e->map_fd[i] = -1;
	}
	for (i = 0; i < EP_MAX; i++) {
		if (e->prog_fd[i] >= 0)
			close(e->prog_fd[i]);
		e->prog_fd[i] = -1;
	}
	e->loaded = false;
}

bool bpffs_visible(void)
{
	struct statfs sfs;

	return !statfs(MU_PIN_ROOT, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

int engine_lock(struct engine *e, char *err, size_t err_size)
{
	int i;

	e->loaded = false;
	e->newer_abi = false;
	for (i = 0; i < EM_MAX; i++)
		e->map_fd[i] = -1;
	for (i = 0; i < EP_MAX; i++)
		e->prog_fd[i] = -1;
	if (mkdir(MU_RUN_DIR, 0700) && errno != EEXIST)
		return fail(err, err_size, "can't create %s: %s", MU_RUN_DIR, strerror(errno));
	chmod(MU_RUN_DIR, 0700);	/* made 0755 by earlier versions */
	if (mkdir(MU_STATE_DIR, 0700) && errno != EEXIST)
		return fail(err, err_size, "can't create %s: %s", MU_STATE_DIR, strerror(errno));
	e->lock_fd = open(MU_RUN_DIR "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->lock_fd < 0)
		return fail(err, err_size, "can't open %s/lock: %s", MU_RUN_DIR, strerror(errno));
	/* Blocks while another invocation works: they serialize, they don't race. */
	while (flock(e->lock_fd, LOCK_EX)) {
		if (errno != EINTR) {
			close(e->lock_fd);
			e->lock_fd = -1;
			return fail(err, err_size, "can't lock %s/lock: %s", MU_RUN_DIR,
				    strerror(errno));
		}
	}
	/*
	 * And where the engine's state lives: two mount namespaces that share
	 * the bpffs but not /run (a container) serialize as well. Taken second,
	 * always, so that two invocations never wait on each other crosswise.
	 */
	e->bpffs_lock_fd = -1;
	if (bpffs_visible()) {
		e->bpffs_lock_fd = open(MU_PIN_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		while (e->bpffs_lock_fd >= 0 && flock(e->bpffs_lock_fd, LOCK_EX) && errno == EINTR)
			;
	}
	return 0;
}

void engine_close(struct engine *e)
{
	close_fds(e);
	if (e->bpffs_lock_fd >= 0)
		close(e->bpffs_lock_fd);
	e->bpffs_lock_fd = -1;
	if (e->lock_fd >= 0)
		close(e->lock_fd);	/* releases the lock */
	e->lock_fd = -1;
}

/* Remove a pin directory and everything pinned in it. */
void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void state_path(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_STATE_DIR "/attach-%u.json", id);
}

/* A reload in progress: its state, written before the policy swap that makes it true. */
void pending_path(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_STATE_DIR "/attach-%u.pending", id);
}

void link_dir(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_PIN_DIR "/cg-%u", id);
}

int open_pins(struct engine *e, char *err, size_t err_size)
{
	__u32 zero = 0, abi = 0;
	char path[PATH_MAX];
	int i;

	for (i = 0; i < EM_MAX; i++) {
		snprintf(path, sizeof(path), MU_PIN_DIR "/%s", engine_map_names[i]);
		e->map_fd[i] = bpf_obj_get(path);
		if (e->map_fd[i] < 0)
			goto broken;
	}
	for (i = 0; i < EP_MAX; i++) {
		snprintf(path, sizeof(path), MU_PIN_DIR "/%s", engine_progs[i].pin);
		e->prog_fd[i] = bpf_obj_get(path);
		if (e->prog_fd[i] < 0)
			goto broken;
	}
	/* v<ABI>/ holds that ABI only: another number here is a build that lied about it. */
	if (bpf_map_lookup_elem(e->map_fd[EM_ABI], &zero, &abi) || abi != MU_ENGINE_ABI) {
		close_fds(e);
		return fail(err, err_size, "the engine pinned under %s says it is of ABI %u, this "
			    "is %u: 'mptcp-upgrade detach --all' removes it and what is attached "
			    "through it", MU_PIN_DIR, abi, MU_ENGINE_ABI);
	}
	e->loaded = true;
	return 0;
broken:
	close_fds(e);
	return fail(err, err_size, "can't open %s: %s (a pin removed, or pins of another "
		    "version: 'mptcp-upgrade detach --all' removes them and what is attached "
		    "through them)", path, strerror(errno));
}

/* Attachment ids committed in attached_cgroups, as a bitmap. */
void committed_ids(struct engine *e, bool used[MU_MAX_ATTACHMENTS])
{
	__u64 key, next, *prev = NULL;
	struct mu_attachment att;

	memset(used, 0, MU_MAX_ATTACHMENTS * sizeof(bool));
	while (!bpf_map_get_next_key(e->map_fd[EM_ATTACHED], prev, &next)) {
		if (!bpf_map_lookup_elem(e->map_fd[EM_ATTACHED], &next, &att) &&
		    att.id < MU_MAX_ATTACHMENTS)
			used[att.id] = true;
		key = next;
		prev = &key;
	}
}

/*
 * Collect the attachment's keys first, then delete them in one batch: deleting
 * during the walk restarts it from the first key every time (quadratic).
 */
void delete_line_counters(struct engine *e, __u32 id)
{
	struct mu_line_key key, next, *prev = NULL, *keys = NULL, *grown;
	size_t n = 0, cap = 0, i;

	while (!bpf_map_get_next_key(e->map_fd[EM_LINE_COUNTERS], prev, &next)) {
		if (next.attach_id == id) {
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				grown = realloc(keys, cap * sizeof(*keys));
				if (!grown)
					break;
				keys = grown;
			}
			keys[n++] = next;
		}
		key = next;
		prev = &key;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(e->map_fd[EM_LINE_COUNTERS], &keys[i]);
	free(keys);
}

void unload(struct engine *e)
{
	char dead[128];

	close_fds(e);
	snprintf(dead, sizeof(dead), MU_PIN_ROOT "/" STAGING_PREFIX "dead-%d", getpid());
	if (rename(MU_PIN_DIR, dead)) {
		remove_tree(MU_PIN_DIR);
		return;
	}
	crash_point("unload-renamed");
	remove_tree(dead);
	rmdir(MU_PIN_BASE);	/* when no other ABI's engine is left in it */
}

void remove_state_files(void)
{
	DIR *d = opendir(MU_STATE_DIR);
	char path[PATH_MAX];
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, "attach-", 7)) {
			snprintf(path, sizeof(path), MU_STATE_DIR "/%s", de->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
}

int engine_live_sockets(struct engine *e, long *total, long *orphans)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	union bpf_iter_link_info info = {};
	char buf[4096], *line, *end;
	size_t have = 0;
	int link_fd, iter_fd;
	ssize_t n;

	*total = *orphans = 0;
	info.map.map_fd = e->map_fd[EM_SOCK_STATES];
	opts.iter_info = &info;
	opts.iter_info_len = sizeof(info);
	link_fd = bpf_link_create(e->prog_fd[EP_LIVE_ITER], 0, BPF_TRACE_ITER, &opts);
	if (link_fd < 0)
		return -1;
	iter_fd = bpf_iter_create(link_fd);
	close(link_fd);
	if (iter_fd < 0)
		return -1;
	/* Lines "CGROUP_ID STATE"; a line may straddle two reads. */
	for (;;) {
		n = read(iter_fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += n;
		buf[have] = '\0';
		for (line = buf; (end = strchr(line, '\n')); line = end + 1) {
			__u64 cgid = strtoull(line, NULL, 10);
			struct mu_attachment att;

			(*total)++;
			if (bpf_map_lookup_elem(e->map_fd[EM_ATTACHED], &cgid, &att))
				(*orphans)++;
		}
		have = strlen(line);
		memmove(buf, line, have);
	}
	close(iter_fd);
	return n < 0 ? -1 : 0;
}

/*
 * The last attachment is gone: unload, unless sockets stage 3 acts for are
 * still alive. Unloading then would let their unlisted addresses negotiate
 * MPTCP; the engine stays, inert for everything else, until a later command
 * finds them gone. If the iterator can't run, stay too: failing open is the
 * outcome detach must never have.
 */
void unload_unless_live(struct engine *e)
{
	long total, orphans;

	if (engine_live_sockets(e, &total, &orphans) || total > 0)
		return;
	crash_point("unload");
	unload(e);
}


static int ensure_bpffs(char *err, size_t err_size)
{
	struct statfs sfs;

	if (!statfs(MU_PIN_ROOT, &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", MU_PIN_ROOT, "bpf", 0, "mode=0700"))
		return fail(err, err_size, "can't mount bpffs on %s: %s", MU_PIN_ROOT,
			    strerror(errno));
	return 0;
}

int engine_load(struct engine *e, char *err, size_t err_size)
{
	struct mu_bridge_config bridge;
	char staging[128], path[PATH_MAX];
	struct engine_objs objs = { 0 };
	struct bpf_link *link = NULL;
	int i, ret = -1;

	if (ensure_bpffs(err, err_size))
		return -1;
	if (bridge_probe(&bridge, NULL, err, err_size))
		return -1;
	if (engine_objs_load(&objs, err, err_size))
		goto out;
	{
		__u32 zero = 0, abi = MU_ENGINE_ABI;

		if (bpf_map__update_elem(objs.maps[EM_ABI], &zero, sizeof(zero), &abi,
					 sizeof(abi), BPF_ANY) ||
		    bpf_map__update_elem(objs.maps[EM_BRIDGE_CONFIG], &zero, sizeof(zero), &bridge,
					 sizeof(bridge), BPF_ANY)) {
			fail(err, err_size, "can't write the engine's version: %s",
			     strerror(errno));
			goto out;
		}
	}
	link = bpf_program__attach(objs.hook);
	if (!link) {
		fail(err, err_size, "can't attach fmod_ret/update_socket_protocol: %s",
		     strerror(errno));
		goto out;
	}

	/* Pin into a staging directory and rename it in place: all pins or none. */
	snprintf(staging, sizeof(staging), MU_PIN_ROOT "/" STAGING_PREFIX "%d", getpid());
	if (mkdir(staging, 0700)) {
		fail(err, err_size, "can't create %s: %s", staging, strerror(errno));
		goto out;
	}
	for (i = 0; i < EM_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", staging, engine_map_names[i]);
		if (bpf_map__pin(objs.maps[i], path))
			goto pin_failed;
	}
	for (i = 0; i < EP_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", staging, engine_progs[i].pin);
		if (bpf_program__pin(objs.progs[i], path))
			goto pin_failed;
	}
	snprintf(path, sizeof(path), "%s/" HOOK_LINK, staging);
	if (bpf_link__pin(link, path))
		goto pin_failed;
	snprintf(path, sizeof(path), "%s/tc", staging);
	if (mkdir(path, 0700))
		goto pin_failed;
	snprintf(path, sizeof(path), "%s", MU_PIN_BASE);
	if (mkdir(path, 0700) && errno != EEXIST)
		goto pin_failed;
	crash_point("engine-staged");
	if (rename(staging, MU_PIN_DIR)) {
		snprintf(path, sizeof(path), "%s", MU_PIN_DIR);
		goto pin_failed;
	}
	crash_point("engine-pinned");
	ret = open_pins(e, err, err_size);
	goto out;
pin_failed:
	fail(err, err_size, "can't pin %s: %s", path, strerror(errno));
	remove_tree(staging);
out:
	/* The pins hold the link and programs now; dropping our fds detaches nothing. */
	if (link) {
		bpf_link__disconnect(link);
		bpf_link__destroy(link);
	}
	engine_objs_destroy(&objs);
	return ret;
}

static int (*preflight)(char *cause, size_t size);

void engine_set_preflight(int (*fn)(char *cause, size_t size))
{
	preflight = fn;
}

int engine_preflight(char *cause, size_t size)
{
	return preflight ? preflight(cause, size) : 0;
}
