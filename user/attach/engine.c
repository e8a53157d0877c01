// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attach, reload and detach: policy maps swapped in with one update, the
 * commit point of each step, and the counters they leave.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "engine_internal.h"
#include "engine_upgrade.h"

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
void finish_pending(struct engine *e, __u32 id)
{
	struct mu_attachment value;
	struct attachment next;
	char pending[PATH_MAX], path[PATH_MAX];

	pending_path(id, pending, sizeof(pending));
	if (read_state_file(pending, id, &next, false))
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

/*
 * Which cgroups are attached changed: every verdict socket() remembers per
 * cgroup (cgroup_verdicts) is from an older generation now, and is walked
 * again. After the change to attached_cgroups, never before it.
 */
void bump_attach_gen(struct engine *e)
{
	__u32 zero = 0;
	__u64 gen = 0;

	bpf_map_lookup_elem(e->map_fd[EM_ATTACH_GEN], &zero, &gen);
	gen++;
	bpf_map_update_elem(e->map_fd[EM_ATTACH_GEN], &zero, &gen, BPF_ANY);
}

static int zero_attach_counters(struct engine *e, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int ret, i;

	if (ncpu <= 0)
		return -1;
	zero = calloc(ncpu, sizeof(struct mu_attach_counters));
	if (!zero)
		return -1;
	ret = bpf_map_update_elem(e->map_fd[EM_ATTACH_COUNTERS], &id, zero, BPF_ANY);
	free(zero);
	if (ret)
		return ret;
	/* The option counters of the slot's previous attachment, if any. */
	zero = calloc(ncpu, sizeof(struct mu_sockopt_counters));
	if (!zero)
		return -1;
	for (i = 0; i < MU_SOPT_MAX && !ret; i++) {
		__u32 key = id * MU_SOPT_MAX + i;

		ret = bpf_map_update_elem(e->map_fd[EM_SOCKOPT_COUNTERS], &key, zero, BPF_ANY);
	}
	free(zero);
	return ret;
}

int engine_attach(struct engine *e, const struct cgroup_ref *cg, const char *policy_path,
		  const char *sha256, const struct policy *pol, const struct policy_trie *trie,
		  __u32 flags, const struct attach_origin *origin, char *err, size_t err_size)
{
	struct mu_attachment value = { .families = trie->families, .flags = flags };
	bool used[MU_MAX_ATTACHMENTS];
	struct attachment att = {};
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int i, cg_fd, link_fd, policy_fd, ret;
	__u32 id;

	/*
	 * An older engine's hook returns the protocol for cgroups it has not
	 * attached, which ends the chain of hooks: run first, it would keep this
	 * attachment's sockets TCP. Its cgroups are handed over first.
	 */
	if (!e->handing_over && older_engine_pending())
		return fail(err, err_size, "an engine of an older version still runs: "
			    "'mptcp-upgrade upgrade' hands its cgroups over to this one first");
	/*
	 * Any start will do as long as it is not the generation of an earlier
	 * attachment of the same cgroup, whose sockets may still be alive.
	 */
	value.gen = (__u32)time(NULL) ^ (__u32)getpid() << 16;

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
		link_fd = bpf_link_create(e->prog_fd[i], cg_fd, engine_progs[i].type, NULL);
		snprintf(path, sizeof(path), "%s/%s", dir, engine_progs[i].pin + strlen("prog_"));
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
	if (origin)
		att.origin = *origin;
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
	crash_point("attach-registered");
	bump_attach_gen(e);
	crash_point("attach-committed");
	return 0;
}

static void next_map_pin(__u32 id, char *out, size_t size)
{
	snprintf(out, size, MU_PIN_DIR "/next-%u", id);
}

static void group_path(char *out, size_t size)
{
	snprintf(out, size, MU_STATE_DIR "/reload-group");
}

/*
 * First step of a reload: the new trie built and pinned, the state it makes
 * true written as pending. Nothing in force changes. Returns the map's fd.
 */
static int reload_prepare(struct engine *e, const struct reload_step *st, char *err,
			  size_t err_size)
{
	const struct attachment *att = st->att;
	struct attachment next = *att;
	char pending[PATH_MAX], pin[PATH_MAX];
	int fd;

	fd = create_policy_map(st->trie, err, err_size);
	if (fd < 0)
		return -1;
	snprintf(next.loaded_from, sizeof(next.loaded_from), "%s", st->path);
	if (next.state_lost) {
		/* Its state file was lost: the file named now becomes its own. */
		snprintf(next.policy, sizeof(next.policy), "%s", st->path);
		next.state_lost = false;
	}
	snprintf(next.sha256, sizeof(next.sha256), "%s", st->sha256);
	next.reloaded_at = time(NULL);
	next.families = st->trie->families;
	next.policy_map_id = map_id(fd);
	next_map_pin(att->id, pin, sizeof(pin));
	unlink(pin);
	pending_path(att->id, pending, sizeof(pending));
	if (bpf_obj_pin(fd, pin)) {
		fail(err, err_size, "can't pin %s: %s", pin, strerror(errno));
		close(fd);
		return -1;
	}
	if (write_state(&next, st->pol, pending, err, err_size)) {
		unlink(pin);
		close(fd);
		return -1;
	}
	return fd;
}

/* The group of attachments a reload swaps, with their new tries: all or none. */
static int write_group(const struct reload_step *steps, const int *fds, size_t n, char *err,
		       size_t err_size)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	size_t i;
	FILE *f;

	group_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return fail(err, err_size, "can't write %s: %s", tmp, strerror(errno));
	for (i = 0; i < n; i++)
		fprintf(f, "%u %u\n", steps[i].att->id, map_id(fds[i]));
	if (fclose(f) || chmod(tmp, 0600) || rename(tmp, path)) {
		unlink(tmp);
		return fail(err, err_size, "can't write %s: %s", path, strerror(errno));
	}
	return 0;
}

/* The pinned tries of a reload (next-ID), wherever one left them. */
static void remove_next_pins(void)
{
	DIR *d = opendir(MU_PIN_DIR);
	char pin[PATH_MAX];
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "next-", 5))
			continue;
		snprintf(pin, sizeof(pin), MU_PIN_DIR "/%s", de->d_name);
		unlink(pin);
	}
	if (d)
		closedir(d);
}

void finish_group(struct engine *e)
{
	char path[PATH_MAX], pin[PATH_MAX];
	__u32 ids[MU_MAX_ATTACHMENTS], maps[MU_MAX_ATTACHMENTS];
	bool started = false;
	size_t n = 0, i;
	FILE *f;
	int fd;

	group_path(path, sizeof(path));
	f = fopen(path, "re");
	while (f && n < MU_MAX_ATTACHMENTS && fscanf(f, "%u %u", &ids[n], &maps[n]) == 2)
		if (ids[n] < MU_MAX_ATTACHMENTS)
			n++;
	if (f)
		fclose(f);
	for (i = 0; i < n; i++)
		started |= maps[i] && current_policy_map_id(e, ids[i]) == maps[i];
	/*
	 * The first swap is the group's commit point: once one attachment has
	 * its new trie, the others get theirs from the pins; finish_pending()
	 * then makes each pending state true (or, before it, forgets them).
	 */
	for (i = 0; started && i < n; i++) {
		if (current_policy_map_id(e, ids[i]) == maps[i])
			continue;
		next_map_pin(ids[i], pin, sizeof(pin));
		fd = bpf_obj_get(pin);
		if (fd >= 0) {
			bpf_map_update_elem(e->map_fd[EM_POLICIES], &ids[i], &fd, BPF_ANY);
			close(fd);
		}
	}
	remove_next_pins();
	unlink(path);
}

/* Second step: the new trie in force (the commit point), then what follows from it. */
static int reload_commit(struct engine *e, const struct reload_step *st, int fd, char *err,
			 size_t err_size)
{
	const struct attachment *att = st->att;
	struct mu_attachment value = { .id = att->id, .families = st->trie->families,
				       .flags = att->flags, .gen = att->gen + 1 };
	char pending[PATH_MAX], path[PATH_MAX];

	if (swap_policy(e, att->id, fd, err, err_size))
		return -1;
	crash_point("policy-swapped");
	if (bpf_map_update_elem(e->map_fd[EM_ATTACHED], &att->cgroup_id, &value, BPF_EXIST))
		return fail(err, err_size, "can't update cgroup %s: %s", att->cgroup,
			    strerror(errno));
	/* Entry numbers changed meaning: their counters start again. */
	delete_line_counters(e, att->id);
	pending_path(att->id, pending, sizeof(pending));
	state_path(att->id, path, sizeof(path));
	if (rename(pending, path))
		return fail(err, err_size, "can't write %s: %s", path, strerror(errno));
	return 0;
}

int engine_reload(struct engine *e, const struct reload_step *steps, size_t n, char *err,
		  size_t err_size)
{
	char pending[PATH_MAX], path[PATH_MAX];
	int *fds = calloc(n ? n : 1, sizeof(*fds)), ret = -1;
	size_t i, prepared = 0;

	if (!fds)
		return fail(err, err_size, "out of memory");
	for (i = 0; i < n; i++, prepared++) {
		fds[i] = reload_prepare(e, &steps[i], err, err_size);
		if (fds[i] < 0)
			goto undo;
		crash_point("reload-pending");
	}
	if (write_group(steps, fds, n, err, err_size))
		goto undo;
	crash_point("reload-group");
	/* From the first swap on, a killed reload is completed by the next command. */
	for (i = 0; i < n; i++) {
		if (reload_commit(e, &steps[i], fds[i], err, err_size)) {
			/* Past the commit point: the rest is rolled forward, not left half done. */
			finish_group(e);
			for (i = 0; i < n; i++)
				finish_pending(e, steps[i].att->id);
			goto out;
		}
	}
	ret = 0;
	finish_group(e);	/* nothing left to roll forward: removes pins and the group */
	goto out;
undo:
	for (i = 0; i < prepared; i++) {
		pending_path(steps[i].att->id, pending, sizeof(pending));
		unlink(pending);
		next_map_pin(steps[i].att->id, path, sizeof(path));
		unlink(path);
	}
out:
	for (i = 0; i < prepared; i++)
		close(fds[i]);
	free(fds);
	return ret;
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
	bump_attach_gen(e);
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
