// SPDX-License-Identifier: GPL-2.0-only
/*
 * Engines of other ABIs, and the contract that lets a newer version take an
 * older one's cgroups over without a window in which a new socket stays TCP
 * (docs/upgrades.md tells the story; cmd_upgrade.c does the hand-over).
 *
 * The contract, stable from ABI 7 on. A version may change anything else; it
 * must keep this, for every later version to rely on:
 *
 * 1. Where an engine lives. The engine of ABI N pins everything under
 *    /sys/fs/bpf/mptcp-upgrade/vN/ and keeps its state files in
 *    /run/mptcp-upgrade/vN/. Before ABI 7 ("legacy") the pins were right in
 *    /sys/fs/bpf/mptcp-upgrade/ and the state in /run/mptcp-upgrade/; nothing
 *    named v<digits> was ever among them.
 * 2. One lock for all versions: flock on /run/mptcp-upgrade/lock, then on the
 *    bpffs root (/sys/fs/bpf), in that order, held by every command.
 * 3. Names and types in an engine's pin directory:
 *    - engine_abi: ARRAY, one __u32 element, its ABI;
 *    - link_upgrade_socket: the link of its socket-creation hook (fmod_ret on
 *      update_socket_protocol), held by that pin alone: removing the pin stops
 *      the engine from upgrading sockets, and nothing else;
 *    - attached_cgroups: HASH keyed by the __u64 cgroup v2 id; a key present
 *      is an attachment committed (the value is the engine's own business);
 *    - sock_states: SK_STORAGE with one element per socket the engine serves
 *      (its bridge and stage 3 act on those only); none left, it serves none;
 *    - every link the engine made (cgroup, tcx) is held by a pin somewhere in
 *      the directory and by nothing else: removing the directory detaches
 *      all of it.
 * 4. State files: <state dir>/attach-<id>.json, JSON objects whose members
 *    "cgroup" (name under the cgroup v2 root), "cgroup_id", "policy" (the
 *    attachment's own file), "loaded_from" (the file of the policy in force),
 *    "sha256" (of those bytes) and "flags" (MU_ATTACH_* bits: 1 strict,
 *    2 bridge-native) keep their meaning; restore-<n>.json (attachments whose
 *    pins were lost) are the same objects.
 * 5. The hook returns 0 for sockets it does not upgrade (never the protocol
 *    it was given: the first fmod_ret program returning non-zero ends the
 *    chain). Legacy hooks return the protocol, which is why an older engine
 *    keeps its attachments untouched until its hook is gone.
 *
 * So a newer engine hands over without reading an older one's maps: it
 * attaches every cgroup the older one has committed, with the policy its state
 * names, then removes the older hook; the older engine's cgroup and tcx links
 * and maps stay, untouched, for the sockets it upgraded, and go once its
 * sock_states is empty. A newer ABI than this one's is refused, never touched.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <json-c/json.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "engine_internal.h"
#include "engine_upgrade.h"
#include "sk_count.skel.h"

/* "v<number>" and nothing else (no leading zero): an ABI's directory. */
static bool abi_dir_name(const char *name, unsigned int *abi)
{
	char *end;
	unsigned long v;

	if (name[0] != 'v' || name[1] < '1' || name[1] > '9')
		return false;
	v = strtoul(name + 1, &end, 10);
	if (*end || v > 1000000)
		return false;
	*abi = (unsigned int)v;
	return true;
}

/* The ABI an engine_abi pin says; 0 when there is none to read. */
static unsigned int pinned_abi(const char *dir)
{
	char path[PATH_MAX];
	__u32 zero = 0, abi = 0;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%s/engine_abi", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size != 4 ||
	    info.value_size != 4 || bpf_map_lookup_elem(fd, &zero, &abi))
		abi = 0;
	close(fd);
	return abi;
}

/* Does @dir hold a file named PREFIX<anything>SUFFIX? */
static bool has_file(const char *dir, const char *prefix, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), l;
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		l = strlen(de->d_name);
		found = l > lp + ls && !strncmp(de->d_name, prefix, lp) &&
			!strcmp(de->d_name + l - ls, suffix);
	}
	if (d)
		closedir(d);
	return found;
}

static void describe(struct older_engine *o)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" HOOK_LINK, o->pins);
	o->hooked = !access(path, F_OK);
	o->has_state = has_file(o->state, "attach-", ".json");
}

/*
 * Walk MU_PIN_BASE: older engines into @list (when not NULL), and the first
 * newer one's ABI and directory. Oldest first: legacy, then v<N> by N.
 */
static int scan(struct older_engine **list, size_t *n, unsigned int *newer, char *newer_dir,
		size_t newer_size)
{
	struct older_engine *out = NULL, *grown, tmp;
	struct dirent *de;
	unsigned int abi;
	size_t i, j;
	DIR *d;

	*newer = 0;
	if (list) {
		*list = NULL;
		*n = 0;
	}
	abi = pinned_abi(MU_PIN_BASE);
	if (abi && abi < MU_ENGINE_ABI && list) {
		out = calloc(1, sizeof(*out));
		if (!out)
			return -1;
		out->abi = abi;
		out->legacy = true;
		snprintf(out->pins, sizeof(out->pins), "%s", MU_PIN_BASE);
		snprintf(out->state, sizeof(out->state), "%s", MU_RUN_DIR);
		describe(out);
		*n = 1;
	}
	d = opendir(MU_PIN_BASE);
	while (d && (de = readdir(d))) {
		if (!abi_dir_name(de->d_name, &abi) || abi == MU_ENGINE_ABI)
			continue;
		memset(&tmp, 0, sizeof(tmp));
		snprintf(tmp.pins, sizeof(tmp.pins), MU_PIN_BASE "/v%u", abi);
		snprintf(tmp.state, sizeof(tmp.state), MU_RUN_DIR "/v%u", abi);
		tmp.abi = abi;
		if (abi > MU_ENGINE_ABI) {
			/* Without its engine_abi it is nothing that runs: not ours to judge. */
			if (pinned_abi(tmp.pins) == abi && (!*newer || abi > *newer)) {
				*newer = abi;
				snprintf(newer_dir, newer_size, "%s", tmp.pins);
			}
			continue;
		}
		if (!list)
			continue;
		describe(&tmp);
		grown = realloc(out, (*n + 1) * sizeof(*out));
		if (!grown) {
			closedir(d);
			free(out);
			*list = NULL;
			return -1;
		}
		out = grown;
		out[(*n)++] = tmp;
	}
	if (d)
		closedir(d);
	for (i = 1; list && i < *n; i++)
		for (j = i; j > 0 && !out[j - 1].legacy && out[j - 1].abi > out[j].abi; j--) {
			tmp = out[j];
			out[j] = out[j - 1];
			out[j - 1] = tmp;
		}
	if (list)
		*list = out;
	return 0;
}

int older_engines(struct older_engine **list, size_t *n)
{
	char dir[PATH_MAX];
	unsigned int newer;

	return scan(list, n, &newer, dir, sizeof(dir));
}

bool older_engine_pending(void)
{
	struct older_engine *list;
	size_t n, i;
	bool pending = false;

	if (older_engines(&list, &n))
		return false;
	for (i = 0; i < n; i++)
		pending |= list[i].hooked || list[i].has_state;
	free(list);
	return pending;
}

int older_committed(const struct older_engine *o, __u64 **ids, size_t *n)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	__u64 key, next, *prev = NULL, *out = NULL, *grown;
	char path[PATH_MAX];
	int fd;

	*ids = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/attached_cgroups", o->pins);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size != sizeof(__u64)) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		grown = realloc(out, (*n + 1) * sizeof(*out));
		if (!grown) {
			free(out);
			close(fd);
			*n = 0;
			return -1;
		}
		out = grown;
		out[(*n)++] = next;
		key = next;
		prev = &key;
	}
	close(fd);
	*ids = out;
	return 0;
}

int older_state_of(const struct older_engine *o, __u64 cgroup_id, struct attachment *att)
{
	char path[PATH_MAX], tail[8];
	struct dirent *de;
	unsigned int id;
	int ret = -1;
	DIR *d;

	d = opendir(o->state);
	while (d && ret && (de = readdir(d))) {
		if (sscanf(de->d_name, "attach-%u%7s", &id, tail) != 2 || strcmp(tail, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", o->state, de->d_name);
		if (read_state_file(path, id, att, false))
			continue;
		if (att->cgroup_id == cgroup_id)
			ret = 0;
		else
			json_object_put(att->entries);
	}
	if (d)
		closedir(d);
	return ret;
}

int older_unhook(const struct older_engine *o, char *err, size_t err_size)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" HOOK_LINK, o->pins);
	if (unlink(path) && errno != ENOENT)
		return fail(err, err_size, "can't remove %s: %s", path, strerror(errno));
	/*
	 * Its own binary must not open it again: a follow or reload of the
	 * version before (still running during the package upgrade) would find
	 * its hook "not running" and attach it again, ahead of this engine's.
	 * Every version opens an engine only with all its program pins, and
	 * the iterator's is one that the links of its sockets do not need.
	 */
	snprintf(path, sizeof(path), "%s/" OLDER_SEAL_PIN, o->pins);
	if (unlink(path) && errno != ENOENT)
		return fail(err, err_size, "can't remove %s: %s", path, strerror(errno));
	return 0;
}

/* An older engine's lost attachment becomes one of this engine's (reload restores it). */
static void adopt_lost(const char *from)
{
	char to[PATH_MAX];
	unsigned int slot;

	for (slot = 0; slot < MU_MAX_ATTACHMENTS; slot++) {
		snprintf(to, sizeof(to), MU_STATE_DIR "/restore-%u.json", slot);
		if (access(to, F_OK) && errno == ENOENT)
			break;
	}
	if (slot == MU_MAX_ATTACHMENTS || rename(from, to))
		unlink(from);
}

/* The state files of attachments in @dir: moved (restore-*) or removed; nothing else. */
static void drop_state_files(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!strncmp(de->d_name, "restore-", 8))
			adopt_lost(path);
		else if (!strncmp(de->d_name, "attach-", 7) || !strcmp(de->d_name, "reload-group"))
			unlink(path);
	}
	if (d)
		closedir(d);
}

void older_forget_state(const struct older_engine *o)
{
	drop_state_files(o->state);
	if (!o->legacy)
		rmdir(o->state);
}

long older_sockets(const struct older_engine *o)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info info = {};
	struct bpf_link *link = NULL;
	struct sk_count_bpf *skel;
	char path[PATH_MAX], buf[4096];
	long count = -1;
	int map_fd, iter_fd = -1;
	ssize_t r;

	snprintf(path, sizeof(path), "%s/sock_states", o->pins);
	map_fd = bpf_obj_get(path);
	if (map_fd < 0)
		return errno == ENOENT ? 0 : -1;	/* no socket state at all: none to serve */
	skel = sk_count_bpf__open_and_load();
	if (!skel)
		goto out;
	info.map.map_fd = map_fd;
	opts.link_info = &info;
	opts.link_info_len = sizeof(info);
	link = bpf_program__attach_iter(skel->progs.mu_count_sockets, &opts);
	if (!link)
		goto out;
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	if (iter_fd < 0)
		goto out;
	count = 0;
	while ((r = read(iter_fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			count = -1;
			break;
		}
		count += r;
	}
out:
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	sk_count_bpf__destroy(skel);
	close(map_fd);
	return count;
}

void older_remove(const struct older_engine *o)
{
	char path[PATH_MAX];
	unsigned int abi;
	struct dirent *de;
	DIR *d;

	if (!o->legacy) {
		/* Gone at once, or (killed midway) left as staging debris gc removes. */
		snprintf(path, sizeof(path), MU_PIN_ROOT "/" STAGING_PREFIX "old-%u-%d", o->abi,
			 (int)getpid());
		if (rename(o->pins, path))
			snprintf(path, sizeof(path), "%s", o->pins);
		remove_tree(path);
		return;
	}
	/* Legacy pins share the directory with the versioned ones: its own entries only. */
	d = opendir(o->pins);
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "engine_abi") || abi_dir_name(de->d_name, &abi))
			continue;
		snprintf(path, sizeof(path), "%s/%s", o->pins, de->d_name);
		if (de->d_type == DT_DIR)
			remove_tree(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	/* Last: until it goes, what is left is still recognised as that engine. */
	unlink(MU_PIN_BASE "/engine_abi");
	rmdir(MU_PIN_BASE);
}

int engine_abi_gate(char *err, size_t err_size)
{
	struct older_engine *list;
	char dir[PATH_MAX];
	unsigned int newer;
	size_t n, i;

	if (scan(&list, &n, &newer, dir, sizeof(dir)))
		return fail(err, err_size, "out of memory");
	if (newer) {
		free(list);
		return fail(err, err_size, "the engine pinned under %s is of a newer "
			    "mptcp-upgrade (ABI %u, this one is ABI %u): use that version (to go "
			    "back to this one, detach everything with it first)", dir, newer,
			    MU_ENGINE_ABI);
	}
	for (i = 0; i < n; i++)
		if (!list[i].hooked && !list[i].has_state && older_sockets(&list[i]) == 0)
			older_remove(&list[i]);
	/* Attachments lost with a legacy engine's pins are this engine's to restore. */
	if (!pinned_abi(MU_PIN_BASE) && (has_file(MU_RUN_DIR, "attach-", ".json") ||
					 has_file(MU_RUN_DIR, "restore-", ".json"))) {
		DIR *d = opendir(MU_RUN_DIR);
		struct dirent *de;
		char path[PATH_MAX];

		while (d && (de = readdir(d))) {
			if (strncmp(de->d_name, "attach-", 7) && strncmp(de->d_name, "restore-", 8))
				continue;
			snprintf(path, sizeof(path), MU_RUN_DIR "/%s", de->d_name);
			if (strstr(de->d_name, ".json") && !strstr(de->d_name, ".tmp"))
				adopt_lost(path);
			else
				unlink(path);
		}
		if (d)
			closedir(d);
	}
	free(list);
	/* Left empty by a command killed between creating it and pinning in it. */
	rmdir(MU_PIN_BASE);
	return 0;
}
