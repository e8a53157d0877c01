// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <net/if.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "netns.h"
#include "sys.h"
#include "upgrade.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* bpffs refuses names with a dot. */
/*
 * tcx (Linux 6.6) is older than nothing the engine needs: update_socket_protocol
 * became hookable in 6.6 too, so there is no clsact fallback to keep. Debian's
 * uapi headers (6.1) lack the names.
 */
#define MU_BPF_TCX_INGRESS	((enum bpf_attach_type)46)
#define MU_BPF_TCX_EGRESS	((enum bpf_attach_type)47)
#define TC_PIN_DIR		MU_PIN_DIR "/tc"

#define STAGING_PREFIX	"mptcp-upgrade-staging-"
#define HOOK_LINK	"link_upgrade_socket"

static const char *const map_names[EM_MAX] = {
	[EM_ATTACHED] = "attached_cgroups",
	[EM_NOTES] = "upgrade_notes",
	[EM_ATTACH_COUNTERS] = "attach_counters",
	[EM_POLICIES] = "policies",
	[EM_LINE_COUNTERS] = "line_counters",
	[EM_SOCK_STATES] = "sock_states",
	[EM_NETNS] = "netns_info",
	[EM_ABI] = "engine_abi",
};

static const struct {
	const char *pin;
	enum bpf_attach_type type;
} progs[EP_MAX] = {
	[EP_SOCK_CREATE] = { "prog_sock_create", BPF_CGROUP_INET_SOCK_CREATE },
	[EP_BIND4] = { "prog_bind4", BPF_CGROUP_INET4_BIND },
	[EP_BIND6] = { "prog_bind6", BPF_CGROUP_INET6_BIND },
	[EP_CONNECT4] = { "prog_connect4", BPF_CGROUP_INET4_CONNECT },
	[EP_CONNECT6] = { "prog_connect6", BPF_CGROUP_INET6_CONNECT },
	[EP_SOCKOPS] = { "prog_sockops", BPF_CGROUP_SOCK_OPS },
	[EP_TC_INGRESS] = { "prog_tc_ingress", MU_BPF_TCX_INGRESS },
	[EP_TC_EGRESS] = { "prog_tc_egress", MU_BPF_TCX_EGRESS },
	[EP_LIVE_ITER] = { "prog_live_sockets", BPF_TRACE_ITER },
};

/*
 * Fault injection for the crash-consistency tests: MPTCP_UPGRADE_CRASH_AT=NAME
 * makes the process SIGKILL itself at the point called NAME, as an operator's
 * kill -9 or an OOM kill could at any moment.
 */
static void crash_point(const char *name)
{
	const char *at = getenv("MPTCP_UPGRADE_CRASH_AT");

	if (at && !strcmp(at, name))
		kill(getpid(), SIGKILL);
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t size, const char *fmt, ...)
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

int engine_lock(struct engine *e, char *err, size_t err_size)
{
	int i;

	e->loaded = false;
	for (i = 0; i < EM_MAX; i++)
		e->map_fd[i] = -1;
	for (i = 0; i < EP_MAX; i++)
		e->prog_fd[i] = -1;
	if (mkdir(MU_RUN_DIR, 0700) && errno != EEXIST)
		return fail(err, err_size, "can't create %s: %s", MU_RUN_DIR, strerror(errno));
	chmod(MU_RUN_DIR, 0700);	/* made 0755 by earlier versions */
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
	return 0;
}

void engine_close(struct engine *e)
{
	close_fds(e);
	if (e->lock_fd >= 0)
		close(e->lock_fd);	/* releases the lock */
	e->lock_fd = -1;
}

/* Remove a pin directory and everything pinned in it. */
static void remove_tree(const char *dir)
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

static void state_path(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_RUN_DIR "/attach-%u.json", id);
}

/* A reload in progress: its state, written before the policy swap that makes it true. */
static void pending_path(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_RUN_DIR "/attach-%u.pending", id);
}

static void link_dir(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_PIN_DIR "/cg-%u", id);
}

static int open_pins(struct engine *e, char *err, size_t err_size)
{
	__u32 zero = 0, abi = 0;
	char path[PATH_MAX];
	int i;

	for (i = 0; i < EM_MAX; i++) {
		snprintf(path, sizeof(path), MU_PIN_DIR "/%s", map_names[i]);
		e->map_fd[i] = bpf_obj_get(path);
		if (e->map_fd[i] < 0)
			goto broken;
	}
	for (i = 0; i < EP_MAX; i++) {
		snprintf(path, sizeof(path), MU_PIN_DIR "/%s", progs[i].pin);
		e->prog_fd[i] = bpf_obj_get(path);
		if (e->prog_fd[i] < 0)
			goto broken;
	}
	if (bpf_map_lookup_elem(e->map_fd[EM_ABI], &zero, &abi) || abi != MU_ENGINE_ABI) {
		close_fds(e);
		return fail(err, err_size, "the engine pinned under %s is of another version (ABI "
			    "%u, this is %u): 'mptcp-upgrade detach --all' removes it and what is "
			    "attached through it", MU_PIN_DIR, abi, MU_ENGINE_ABI);
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
static void committed_ids(struct engine *e, bool used[MU_MAX_ATTACHMENTS])
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
static void delete_line_counters(struct engine *e, __u32 id)
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

static void unload(struct engine *e)
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
}

static void gc(struct engine *e);

void engine_remove_unopenable(struct engine *e)
{
	unload(e);
	gc(e);		/* no engine: the state files go too */
}

static void finish_pending(struct engine *e, __u32 id);

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
static void unload_unless_live(struct engine *e)
{
	long total, orphans;

	if (engine_live_sockets(e, &total, &orphans) || total > 0)
		return;
	crash_point("unload");
	unload(e);
}

static bool bpffs_visible(void)
{
	struct statfs sfs;

	return !statfs(MU_PIN_ROOT, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

static bool any_state_file(void)
{
	DIR *d = opendir(MU_RUN_DIR);
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d)))
		found = !strncmp(de->d_name, "attach-", 7);
	if (d)
		closedir(d);
	return found;
}

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
		d = opendir(MU_RUN_DIR);
		while (d && (de = readdir(d))) {
			if (!strncmp(de->d_name, "attach-", 7)) {
				snprintf(path, sizeof(path), MU_RUN_DIR "/%s", de->d_name);
				unlink(path);
			}
		}
		if (d)
			closedir(d);
		return;
	}
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

int engine_open(struct engine *e, char *err, size_t err_size)
{
	struct stat st;

	if (!bpffs_visible() && any_state_file())
		return fail(err, err_size, "no bpffs is mounted on %s in this mount namespace, but "
			    "%s says cgroups are attached: run where the engine's pins are visible",
			    MU_PIN_ROOT, MU_RUN_DIR);
	if (stat(MU_PIN_DIR, &st)) {
		gc(e);
		return 0;
	}
	if (open_pins(e, err, err_size))
		return -1;
	gc(e);
	return 0;
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
	struct bpf_program *prog_objs[EP_MAX];
	char staging[128], path[PATH_MAX];
	struct upgrade_bpf *skel;
	struct bpf_link *link = NULL;
	struct bpf_map *map;
	int i, ret = -1;

	if (ensure_bpffs(err, err_size))
		return -1;
	skel = upgrade_bpf__open();
	if (!skel)
		return fail(err, err_size, "can't open the BPF object: %s", strerror(errno));
	if (upgrade_bpf__load(skel)) {
		fail(err, err_size, "can't load the BPF programs: %s (see 'mptcp-upgrade check')",
		     strerror(errno));
		goto out;
	}
	{
		__u32 zero = 0, abi = MU_ENGINE_ABI;

		if (bpf_map__update_elem(skel->maps.engine_abi, &zero, sizeof(zero), &abi,
					 sizeof(abi), BPF_ANY)) {
			fail(err, err_size, "can't write the engine's version: %s",
			     strerror(errno));
			goto out;
		}
	}
	link = bpf_program__attach(skel->progs.mu_upgrade_socket);
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
	prog_objs[EP_SOCK_CREATE] = skel->progs.mu_mark_socket;
	prog_objs[EP_BIND4] = skel->progs.mu_bind4;
	prog_objs[EP_BIND6] = skel->progs.mu_bind6;
	prog_objs[EP_CONNECT4] = skel->progs.mu_connect4;
	prog_objs[EP_CONNECT6] = skel->progs.mu_connect6;
	prog_objs[EP_SOCKOPS] = skel->progs.mu_sockops;
	prog_objs[EP_TC_INGRESS] = skel->progs.mu_tc_ingress;
	prog_objs[EP_TC_EGRESS] = skel->progs.mu_tc_egress;
	prog_objs[EP_LIVE_ITER] = skel->progs.mu_live_sockets;
	for (i = 0; i < EM_MAX; i++) {
		map = bpf_object__find_map_by_name(skel->obj, map_names[i]);
		snprintf(path, sizeof(path), "%s/%s", staging, map_names[i]);
		if (!map || bpf_map__pin(map, path))
			goto pin_failed;
	}
	for (i = 0; i < EP_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", staging, progs[i].pin);
		if (bpf_program__pin(prog_objs[i], path))
			goto pin_failed;
	}
	snprintf(path, sizeof(path), "%s/" HOOK_LINK, staging);
	if (bpf_link__pin(link, path))
		goto pin_failed;
	snprintf(path, sizeof(path), "%s/tc", staging);
	if (mkdir(path, 0700))
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
	upgrade_bpf__destroy(skel);
	return ret;
}

void file_sha256(const char *path, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0, i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = -1;

	strcpy(out, "-");
	if (fd < 0 || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, r);
	if (r == 0 && EVP_DigestFinal_ex(ctx, md, &len))
		for (i = 0; i < len && i < 32; i++)
			sprintf(out + 2 * i, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
}

/* The state file of an attachment: what status reports and reload starts from. */
static int write_state(const struct attachment *att, const struct policy *pol,
			const char *path, char *err, size_t err_size)
{
	struct json_object *o = json_object_new_object(), *entries = json_object_new_array();
	char tmp[PATH_MAX + 8];
	char prefix[POLICY_PREFIX_STRLEN], ports[POLICY_PORTS_STRLEN];
	size_t i;
	int ret = 0;

	for (i = 0; i < pol->nr_entries; i++) {
		const struct policy_entry *pe = &pol->entries[i];
		struct json_object *je = json_object_new_object();

		policy_entry_prefix_str(pe, prefix, sizeof(prefix));
		policy_entry_ports_str(pe, ports, sizeof(ports));
		json_object_object_add(je, "line", json_object_new_int(pe->line));
		json_object_object_add(je, "source", json_object_new_string(pe->source));
		json_object_object_add(je, "role", json_object_new_string(policy_role_str(pe->role)));
		json_object_object_add(je, "prefix", json_object_new_string(prefix));
		json_object_object_add(je, "ports", json_object_new_string(ports));
		json_object_array_add(entries, je);
	}
	json_object_object_add(o, "id", json_object_new_int(att->id));
	json_object_object_add(o, "cgroup", json_object_new_string(att->cgroup));
	json_object_object_add(o, "cgroup_id", json_object_new_uint64(att->cgroup_id));
	json_object_object_add(o, "policy", json_object_new_string(att->policy));
	json_object_object_add(o, "loaded_from", json_object_new_string(att->loaded_from));
	json_object_object_add(o, "sha256", json_object_new_string(att->sha256));
	json_object_object_add(o, "attached_at", json_object_new_int64(att->attached_at));
	json_object_object_add(o, "reloaded_at", json_object_new_int64(att->reloaded_at));
	json_object_object_add(o, "families", json_object_new_int(att->families));
	json_object_object_add(o, "flags", json_object_new_int(att->flags));
	json_object_object_add(o, "policy_map_id", json_object_new_int64(att->policy_map_id));
	json_object_object_add(o, "entries", entries);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* Root's alone: it names the cgroup, the policy file and its entries. */
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) || chmod(tmp, 0600) ||
	    rename(tmp, path)) {
		ret = fail(err, err_size, "can't write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	json_object_put(o);
	return ret;
}

static int read_state_file(const char *path, __u32 id, struct attachment *att)
{
	struct json_object *o, *v;

	o = json_object_from_file(path);
	if (!o)
		return -1;
	memset(att, 0, sizeof(*att));
	att->id = id;
	if (json_object_object_get_ex(o, "cgroup", &v))
		snprintf(att->cgroup, sizeof(att->cgroup), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "cgroup_id", &v))
		att->cgroup_id = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "policy", &v))
		snprintf(att->policy, sizeof(att->policy), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "loaded_from", &v))
		snprintf(att->loaded_from, sizeof(att->loaded_from), "%s",
			 json_object_get_string(v));
	else
		snprintf(att->loaded_from, sizeof(att->loaded_from), "%s", att->policy);
	if (json_object_object_get_ex(o, "sha256", &v))
		snprintf(att->sha256, sizeof(att->sha256), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "attached_at", &v))
		att->attached_at = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "reloaded_at", &v))
		att->reloaded_at = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "families", &v))
		att->families = json_object_get_int(v);
	if (json_object_object_get_ex(o, "flags", &v))
		att->flags = json_object_get_int(v);
	if (json_object_object_get_ex(o, "policy_map_id", &v))
		att->policy_map_id = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "entries", &v))
		att->entries = json_object_get(v);
	json_object_put(o);
	return 0;
}

static int read_state(__u32 id, struct attachment *att)
{
	char path[PATH_MAX];

	state_path(id, path, sizeof(path));
	return read_state_file(path, id, att);
}

/* A new LPM trie holding @trie, to be swapped into policies[id]. */
static int create_policy_map(const struct policy_trie *trie, char *err, size_t err_size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	size_t i;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "mu_policy", sizeof(struct mu_lpm_key),
			    sizeof(struct mu_policy_value), MU_MAX_POLICY_ENTRIES, &opts);
	if (fd < 0)
		return fail(err, err_size, "can't create a policy map: %s", strerror(errno));
	for (i = 0; i < trie->nr_nodes; i++) {
		if (bpf_map_update_elem(fd, &trie->nodes[i].key, &trie->nodes[i].val, BPF_ANY)) {
			fail(err, err_size, "can't fill the policy map: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* One element update: a lookup sees the whole old trie or the whole new one. */
static int swap_policy(struct engine *e, __u32 id, int fd, char *err, size_t err_size)
{
	if (bpf_map_update_elem(e->map_fd[EM_POLICIES], &id, &fd, BPF_ANY))
		return fail(err, err_size, "can't install the policy map: %s", strerror(errno));
	return 0;
}

/* The id of the trie policies[@id] holds now (userspace lookups of map-in-map give ids). */
static __u32 current_policy_map_id(struct engine *e, __u32 id)
{
	__u32 inner = 0;

	return bpf_map_lookup_elem(e->map_fd[EM_POLICIES], &id, &inner) ? 0 : inner;
}

/*
 * Make a pending reload true or forget it: the policy swap is its commit
 * point, so the trie in force says which way a killed reload went.
 */
static void finish_pending(struct engine *e, __u32 id)
{
	struct mu_attachment value;
	struct attachment next;
	char pending[PATH_MAX], path[PATH_MAX];

	pending_path(id, pending, sizeof(pending));
	if (read_state_file(pending, id, &next))
		return;
	if (next.policy_map_id && next.policy_map_id == current_policy_map_id(e, id)) {
		value = (struct mu_attachment){ .id = id, .families = next.families,
						.flags = next.flags };
		if (!bpf_map_lookup_elem(e->map_fd[EM_ATTACHED], &next.cgroup_id, &value))
			value.gen++;
		value.families = next.families;
		bpf_map_update_elem(e->map_fd[EM_ATTACHED], &next.cgroup_id, &value, BPF_EXIST);
		delete_line_counters(e, id);
		state_path(id, path, sizeof(path));
		rename(pending, path);
	} else {
		unlink(pending);
	}
	json_object_put(next.entries);
}

static int zero_attach_counters(struct engine *e, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int ret;

	if (ncpu <= 0)
		return -1;
	zero = calloc(ncpu, sizeof(struct mu_attach_counters));
	if (!zero)
		return -1;
	ret = bpf_map_update_elem(e->map_fd[EM_ATTACH_COUNTERS], &id, zero, BPF_ANY);
	free(zero);
	return ret;
}

int engine_attach(struct engine *e, const struct cgroup_ref *cg, const char *policy_path,
		  const char *sha256, const struct policy *pol, const struct policy_trie *trie,
		  __u32 flags, char *err, size_t err_size)
{
	struct mu_attachment value = { .families = trie->families, .flags = flags };
	bool used[MU_MAX_ATTACHMENTS];

	/*
	 * Any start will do as long as it is not the generation of an earlier
	 * attachment of the same cgroup, whose sockets may still be alive.
	 */
	value.gen = (__u32)time(NULL) ^ (__u32)getpid() << 16;
	struct attachment att = {};
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int i, cg_fd, link_fd, policy_fd, ret;
	__u32 id;

	committed_ids(e, used);
	for (id = 0; id < MU_MAX_ATTACHMENTS && used[id]; id++)
		;
	if (id == MU_MAX_ATTACHMENTS)
		return fail(err, err_size, "%d cgroups are attached already, the most the engine "
			    "holds", MU_MAX_ATTACHMENTS);
	value.id = id;

	policy_fd = create_policy_map(trie, err, err_size);
	if (policy_fd < 0)
		return -1;
	att.policy_map_id = map_id(policy_fd);
	ret = swap_policy(e, id, policy_fd, err, err_size);
	close(policy_fd);
	if (ret)
		return -1;
	delete_line_counters(e, id);
	if (zero_attach_counters(e, id))
		return fail(err, err_size, "can't reset counters: %s", strerror(errno));

	cg_fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return fail(err, err_size, "can't open cgroup %s: %s", cg->path, strerror(errno));
	link_dir(id, dir, sizeof(dir));
	if (mkdir(dir, 0700)) {
		close(cg_fd);
		return fail(err, err_size, "can't create %s: %s", dir, strerror(errno));
	}
	for (i = 0; i < EP_CGROUP_MAX; i++) {
		link_fd = bpf_link_create(e->prog_fd[i], cg_fd, progs[i].type, NULL);
		snprintf(path, sizeof(path), "%s/%s", dir, progs[i].pin + strlen("prog_"));
		if (link_fd < 0 || bpf_obj_pin(link_fd, path)) {
			fail(err, err_size, "can't attach to cgroup %s: %s", cg->name,
			     strerror(errno));
			if (link_fd >= 0)
				close(link_fd);
			close(cg_fd);
			remove_tree(dir);
			return -1;
		}
		close(link_fd);
	}
	close(cg_fd);
	crash_point("links-pinned");

	att.id = id;
	att.cgroup_id = cg->id;
	snprintf(att.cgroup, sizeof(att.cgroup), "%s", cg->name);
	snprintf(att.policy, sizeof(att.policy), "%s", policy_path);
	snprintf(att.loaded_from, sizeof(att.loaded_from), "%s", policy_path);
	snprintf(att.sha256, sizeof(att.sha256), "%s", sha256);
	att.attached_at = time(NULL);
	att.families = trie->families;
	att.flags = flags;
	att.gen = value.gen;
	state_path(id, path, sizeof(path));
	if (write_state(&att, pol, path, err, err_size)) {
		remove_tree(dir);
		return -1;
	}
	crash_point("state-written");
	/* The commit point: from here on, sockets of this cgroup are upgraded. */
	if (bpf_map_update_elem(e->map_fd[EM_ATTACHED], &cg->id, &value, BPF_NOEXIST)) {
		fail(err, err_size, "can't register cgroup %s: %s", cg->name, strerror(errno));
		state_path(id, path, sizeof(path));
		unlink(path);
		remove_tree(dir);
		return -1;
	}
	crash_point("attach-committed");
	return 0;
}

int engine_reload(struct engine *e, const struct attachment *att, const char *policy_path,
		  const char *sha256, const struct policy *pol, const struct policy_trie *trie,
		  char *err, size_t err_size)
{
	struct mu_attachment value = { .id = att->id, .families = trie->families,
				       .flags = att->flags, .gen = att->gen + 1 };
	struct attachment next = *att;
	char pending[PATH_MAX], path[PATH_MAX];
	int fd, ret;

	fd = create_policy_map(trie, err, err_size);
	if (fd < 0)
		return -1;
	snprintf(next.loaded_from, sizeof(next.loaded_from), "%s", policy_path);
	if (next.state_lost) {
		/* Its state file was lost: the file named now becomes its own. */
		snprintf(next.policy, sizeof(next.policy), "%s", policy_path);
		next.state_lost = false;
	}
	snprintf(next.sha256, sizeof(next.sha256), "%s", sha256);
	next.reloaded_at = time(NULL);
	next.families = trie->families;
	next.policy_map_id = map_id(fd);
	pending_path(att->id, pending, sizeof(pending));
	if (write_state(&next, pol, pending, err, err_size)) {
		close(fd);
		return -1;
	}
	crash_point("reload-pending");
	/* The commit point of a reload; a killed one is finished by the next command. */
	ret = swap_policy(e, att->id, fd, err, err_size);
	close(fd);
	if (ret) {
		unlink(pending);
		return -1;
	}
	crash_point("policy-swapped");
	if (bpf_map_update_elem(e->map_fd[EM_ATTACHED], &att->cgroup_id, &value, BPF_EXIST))
		return fail(err, err_size, "can't update cgroup %s: %s", att->cgroup,
			    strerror(errno));
	/* Entry numbers changed meaning: their counters start again. */
	delete_line_counters(e, att->id);
	state_path(att->id, path, sizeof(path));
	if (rename(pending, path))
		return fail(err, err_size, "can't write %s: %s", path, strerror(errno));
	return 0;
}

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
		if (bpf_prog_query(cg_fd, progs[p].type, 0, NULL, ids, &cnt))
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
		snprintf(path, sizeof(path), "%s/%s", dir, progs[p].pin + strlen("prog_"));
		unlink(path);	/* a link detached behind our back, or none */
		link_fd = bpf_link_create(e->prog_fd[p], cg_fd, progs[p].type, NULL);
		if (link_fd < 0 || bpf_obj_pin(link_fd, path)) {
			fail(err, err_size, "can't attach %s to cgroup %s again: %s",
			     progs[p].pin + strlen("prog_"), att->cgroup, strerror(errno));
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

int engine_detach(struct engine *e, const struct attachment *att, char *err, size_t err_size)
{
	bool used[MU_MAX_ATTACHMENTS];
	char path[PATH_MAX];
	__u32 id;

	/* The commit point: new sockets of the cgroup stay TCP from here on. */
	if (bpf_map_delete_elem(e->map_fd[EM_ATTACHED], &att->cgroup_id) && errno != ENOENT)
		return fail(err, err_size, "can't unregister cgroup %s: %s", att->cgroup,
			    strerror(errno));
	crash_point("detach-committed");
	link_dir(att->id, path, sizeof(path));
	remove_tree(path);
	bpf_map_delete_elem(e->map_fd[EM_POLICIES], &att->id);
	delete_line_counters(e, att->id);
	state_path(att->id, path, sizeof(path));
	unlink(path);
	pending_path(att->id, path, sizeof(path));
	unlink(path);

	committed_ids(e, used);
	for (id = 0; id < MU_MAX_ATTACHMENTS; id++)
		if (used[id])
			return 0;
	unload_unless_live(e);
	return 0;
}

/*
 * An attachment committed in the map whose state file is gone (removed, or
 * /run lost while bpffs was kept): listed all the same, from what the map
 * knows, so that status shows it and detach can remove it.
 */
static bool synthesize_state(struct engine *e, __u32 id, struct attachment *att)
{
	__u64 key, next, *prev = NULL;
	struct mu_attachment value;

	while (!bpf_map_get_next_key(e->map_fd[EM_ATTACHED], prev, &next)) {
		if (!bpf_map_lookup_elem(e->map_fd[EM_ATTACHED], &next, &value) && value.id == id) {
			memset(att, 0, sizeof(*att));
			att->id = id;
			att->cgroup_id = next;
			att->state_lost = true;
			if (cgroup_name_of_id(next, att->cgroup, sizeof(att->cgroup)))
				snprintf(att->cgroup, sizeof(att->cgroup), "?cgroup-%llu",
					 (unsigned long long)next);
			return true;
		}
		key = next;
		prev = &key;
	}
	return false;
}

int engine_list(struct engine *e, struct attachment **list, size_t *nr)
{
	bool used[MU_MAX_ATTACHMENTS];
	struct attachment *out;
	__u32 id;
	size_t n = 0;

	*list = NULL;
	*nr = 0;
	if (!e->loaded)
		return 0;
	committed_ids(e, used);
	out = calloc(MU_MAX_ATTACHMENTS, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (id = 0; id < MU_MAX_ATTACHMENTS; id++) {
		struct mu_attachment value;

		if (!used[id])
			continue;
		if (read_state(id, &out[n]) && !synthesize_state(e, id, &out[n]))
			continue;
		if (!bpf_map_lookup_elem(e->map_fd[EM_ATTACHED], &out[n].cgroup_id, &value)) {
			out[n].families = value.families;
			out[n].flags = value.flags;
			out[n].gen = value.gen;
		}
		n++;
	}
	*list = out;
	*nr = n;
	return 0;
}

void engine_list_free(struct attachment *list, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		json_object_put(list[i].entries);
	free(list);
}

/* Sum the per-CPU values (each @n __u64 counters) of @key; zeros when it has none. */
static int sum_percpu(int fd, const void *key, __u64 *out, size_t n)
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

int engine_attach_counters(struct engine *e, __u32 id, struct mu_attach_counters *out)
{
	return sum_percpu(e->map_fd[EM_ATTACH_COUNTERS], &id, out->count, MU_CNT_MAX);
}

int engine_line_counters(struct engine *e, __u32 id, __u32 entry, struct mu_line_counters *out)
{
	struct mu_line_key key = { .attach_id = id, .entry = entry };

	return sum_percpu(e->map_fd[EM_LINE_COUNTERS], &key, (__u64 *)out,
			  sizeof(*out) / sizeof(__u64));
}

/* ---- stage 3: tc programs on interfaces ------------------------------------ */

/* The part of struct bpf_link_info a tcx link fills (Debian's uapi header predates it). */
struct tcx_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;		/* the union that follows is 8-byte aligned */
	__u32 ifindex;		/* 0 once the device is gone */
	__u32 attach_type;
	__u8 rest[64];
};

static bool tcx_link_alive(const char *pin, int ifindex)
{
	struct tcx_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pin);
	bool alive;

	if (fd < 0)
		return false;
	alive = !bpf_obj_get_info_by_fd(fd, &info, &len) && (int)info.ifindex == ifindex;
	close(fd);
	return alive;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The current network namespace's cookie, the key stage 1 looks it up by. */
static int netns_cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ret = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len);
	close(fd);
	return ret;
}

/* Both directions on every interface of the current network namespace. */
static int install_tc_here(struct engine *e, unsigned long netns, char *err, size_t err_size)
{
	static const enum engine_prog dirs[] = { EP_TC_INGRESS, EP_TC_EGRESS };
	struct if_nameindex *ifs = if_nameindex(), *it;
	char pin[PATH_MAX];
	int added = 0, link_fd;
	size_t d;

	if (!ifs)
		return fail(err, err_size, "can't list interfaces: %s", strerror(errno));
	for (it = ifs; it->if_index; it++) {
		for (d = 0; d < 2; d++) {
			snprintf(pin, sizeof(pin), TC_PIN_DIR "/%lu-%u-%s", netns, it->if_index,
				 dirs[d] == EP_TC_INGRESS ? "ingress" : "egress");
			if (tcx_link_alive(pin, it->if_index))
				continue;
			unlink(pin);	/* a link of a device that is gone */
			link_fd = bpf_link_create(e->prog_fd[dirs[d]], it->if_index,
						  progs[dirs[d]].type, NULL);
			if (link_fd < 0 && errno == ENODEV)
				break;	/* the interface went away since the listing */
			if (link_fd < 0 || bpf_obj_pin(link_fd, pin)) {
				fail(err, err_size, "can't attach to %s %s of interface %s: %s",
				     dirs[d] == EP_TC_INGRESS ? "tcx ingress" : "tcx egress",
				     "hook", it->if_name, strerror(errno));
				if (link_fd >= 0)
					close(link_fd);
				if_freenameindex(ifs);
				return -1;
			}
			close(link_fd);
			added++;
		}
	}
	if_freenameindex(ifs);
	return added;
}

struct install_ctx {
	struct engine *e;
	bool stage3;
	char *err;
	size_t err_size;
};

/*
 * Prepare one namespace: stage 3 on its interfaces when a strict attachment
 * needs it, then tell stage 1 what it may do there. The order matters: a
 * namespace is marked ready only once its programs are in place.
 */
static int install_in_ns(const struct netns_ref *ns, void *arg)
{
	struct install_ctx *c = arg;
	__u32 flags = 0, old = 0;
	__u64 cookie;
	int added = 0;

	if (c->stage3) {
		added = install_tc_here(c->e, ns->ino, c->err, c->err_size);
		if (added < 0)
			return -1;
		flags |= MU_NETNS_STAGE3;
	}
	if (mptcp_enabled() == 0) {
		flags |= MU_NETNS_MPTCP_OFF;
		c->e->netns_mptcp_off++;
	}
	if (netns_cookie(&cookie))
		return fail(c->err, c->err_size, "can't read the network namespace cookie "
			    "(SO_NETNS_COOKIE, Linux 5.14): %s", strerror(errno));
	if (!bpf_map_lookup_elem(c->e->map_fd[EM_NETNS], &cookie, &old))
		flags |= old & MU_NETNS_STAGE3;	/* links stay until unload */
	if (bpf_map_update_elem(c->e->map_fd[EM_NETNS], &cookie, &flags, BPF_ANY))
		return fail(c->err, c->err_size, "can't record network namespace %lu: %s",
			    ns->ino, strerror(errno));
	return added;
}

void engine_warn_mptcp_off(const struct engine *e)
{
	if (e->netns_mptcp_off)
		fprintf(stderr, "note: net.mptcp.enabled=0 in %d network namespace%s of the "
			"attached cgroups: sockets created there stay TCP (and are counted) instead "
			"of failing; sysctl -w net.mptcp.enabled=1 there, then reload\n",
			e->netns_mptcp_off, e->netns_mptcp_off == 1 ? "" : "s");
}

int engine_install_tc(struct engine *e, const struct attachment *list, size_t nr, bool stage3,
		      char *err, size_t err_size)
{
	struct install_ctx ctx = { .e = e, .stage3 = stage3, .err = err, .err_size = err_size };

	e->netns_mptcp_off = 0;
	char root[PATH_MAX], path[PATH_MAX * 2];
	struct netns_set set;
	size_t i;
	int added;

	if (mkdir(TC_PIN_DIR, 0700) && errno != EEXIST)
		return fail(err, err_size, "can't create %s: %s", TC_PIN_DIR, strerror(errno));
	/* This command's own namespace first: an empty cgroup's proxy starts here. */
	netns_set_init(&set);
	netns_set_add_named(&set);
	if (!first_mount("cgroup2", root, sizeof(root))) {
		for (i = 0; i < nr; i++) {
			snprintf(path, sizeof(path), "%s%s", root,
				 strcmp(list[i].cgroup, "/") ? list[i].cgroup : "");
			netns_set_add_cgroup(&set, path);
		}
	}
	err[0] = '\0';
	added = netns_set_for_each(&set, install_in_ns, &ctx);
	if (added < 0 && !err[0])
		fail(err, err_size, "can't return to this network namespace: %s", strerror(errno));
	return added;
}
