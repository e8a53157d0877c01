// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where `status` and `reload` find the run engine's supervisors: one file per
 * supervisor, MU_RUN_DIR/run-PID.json (root's alone), written when it starts
 * and on each reload, removed when it leaves; beside it run-PID.counters, what
 * it counts into. Files whose supervisor is gone (killed) are removed by the
 * next listing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonw.h"
#include "common/paths.h"
#include "bridge/bridge.h"
#include "run.h"

static void registry_path(pid_t supervisor, const char *what, char *out, size_t size)
{
	snprintf(out, size, MU_RUN_DIR "/run-%d.%s", (int)supervisor, what);
}

static __u32 bridge_map_id, lines_map_id, counts_map_id, states_map_id, bridge_gen;
static struct mu_bridge_config bridge_cfg;
static char bridge_cgroup[PATH_MAX];
static unsigned long reload_seq;
static char reload_error[128];
static struct run_container container;

void run_registry_set_container(const struct run_container *c)
{
	container = *c;
}

void run_registry_set_bridge(__u32 counters_map_id, __u32 line_counters_map_id,
			     const struct mu_bridge_config *cfg, const char *cgroup)
{
	bridge_map_id = counters_map_id;
	lines_map_id = line_counters_map_id;
	bridge_cfg = *cfg;
	snprintf(bridge_cgroup, sizeof(bridge_cgroup), "%s", cgroup ? cgroup : "");
}

void run_registry_set_bridge_states(__u32 map_id, __u32 gen)
{
	states_map_id = map_id;
	bridge_gen = gen;
}

void run_registry_set_counts(__u32 map_id)
{
	counts_map_id = map_id;
}

void run_registry_set_reload(unsigned long seq, const char *error)
{
	reload_seq = seq;
	snprintf(reload_error, sizeof(reload_error), "%s", error ? error : "");
}

/*
 * When process @pid started (clock ticks since boot, /proc/PID/stat's 22nd
 * field): with the PID, it names one process, never a later one with its PID.
 * 0 when it can't be read.
 */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* After the command name, whatever it holds: fields 3 on. */
	p = strrchr(buf, ')');
	for (i = 2; p && i < 22; i++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

/*
 * The PID namespace this process lives in (its inode), 0 if unknown: the
 * namespace in which a registry entry's PID means its supervisor.
 */
static unsigned long long pid_namespace(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) ? 0 : (unsigned long long)st.st_ino;
}

static long long loaded_at;
static unsigned long loaded_seq;

int run_registry_write(pid_t supervisor, pid_t program, const char *policy,
		       const struct loaded_policy *lp, long long started_at)
{
	char path[128];
	struct jsonw w;

	if (mkdir(MU_RUN_DIR, 0700) && errno != EEXIST)
		return -1;
	registry_path(supervisor, "json", path, sizeof(path));
	if (jw_file_open(&w, path))
		return -1;
	jw_object_start(&w);
	jw_kv_int(&w, "supervisor", supervisor);
	jw_kv_int(&w, "program", program);
	jw_kv_string(&w, "policy", policy);
	jw_kv_string(&w, "sha256", lp->sha256);
	jw_kv_int(&w, "started_at", started_at);
	jw_kv_u64(&w, "start_time", start_time(supervisor));
	jw_kv_u64(&w, "pid_ns", pid_namespace());
	jw_kv_u64(&w, "reload_seq", reload_seq);
	if (reload_error[0])
		jw_kv_string(&w, "reload_error", reload_error);
	/* When the policy in force was loaded: not moved by a reload that failed. */
	if (!loaded_at || (!reload_error[0] && reload_seq != loaded_seq)) {
		loaded_at = time(NULL);
		loaded_seq = reload_seq;
	}
	jw_kv_int(&w, "loaded_at", loaded_at);
	if (container.id[0]) {
		jw_key(&w, "container");
		jw_object_start(&w);
		jw_kv_string(&w, "id", container.id);
		jw_kv_string(&w, "name", container.name);
		jw_kv_string(&w, "pod", container.pod);
		jw_kv_string(&w, "namespace", container.pod_namespace);
		jw_kv_string(&w, "pod_uid", container.pod_uid);
		jw_object_end(&w);
	}
	policy_entries_json(&w, &lp->pol);
	if (counts_map_id)
		jw_kv_u64(&w, "counts_map_id", counts_map_id);
	if (bridge_map_id) {
		jw_key(&w, "sockopt_bridge");
		jw_object_start(&w);
		jw_kv_u64(&w, "counters_map_id", bridge_map_id);
		/* The map holds this many options per slot, in MU_SOCKOPTS' order. */
		jw_kv_int(&w, "options", MU_SOPT_MAX);
		sockopt_mask_json(&w, "refused", &bridge_cfg.refused);
		sockopt_mask_json(&w, "carry", &bridge_cfg.carry);
		jw_kv_string(&w, "cgroup", bridge_cgroup);
		jw_kv_u64(&w, "line_counters_map_id", lines_map_id);
		jw_kv_u64(&w, "states_map_id", states_map_id);
		jw_kv_u64(&w, "gen", bridge_gen);
		jw_object_end(&w);
	}
	jw_object_end(&w);
	return jw_file_commit(&w, path);
}

static size_t counters_size(__u32 nr_entries)
{
	return sizeof(struct run_counters) + nr_entries * sizeof(struct run_line_counters);
}

struct run_counters *run_counters_create(pid_t supervisor, const struct loaded_policy *lp,
					 const struct run_counters *prev, size_t *mapped)
{
	size_t size = counters_size(lp->pol.nr_entries);
	struct run_counters *c;
	char path[128], tmp[140];
	int fd;

	registry_path(supervisor, "counters", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (mkdir(MU_RUN_DIR, 0700) && errno != EEXIST)
		return NULL;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return NULL;
	/* tmpfs: the pages are allocated now, not at the first count (no SIGBUS later). */
	if (posix_fallocate(fd, 0, size)) {
		close(fd);
		unlink(tmp);
		return NULL;
	}
	c = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED) {
		unlink(tmp);
		return NULL;
	}
	if (prev) {
		memcpy(c, prev, sizeof(*c));	/* the totals, not the old entries */
	}
	c->nr_entries = lp->pol.nr_entries;
	snprintf(c->sha256, sizeof(c->sha256), "%s", lp->sha256);
	c->magic = MU_RUN_COUNTERS_MAGIC;
	if (rename(tmp, path)) {
		munmap(c, size);
		unlink(tmp);
		return NULL;
	}
	*mapped = size;
	return c;
}

struct run_counters *run_counters_read(pid_t supervisor, const char *sha256)
{
	struct run_counters *c = NULL;
	char path[128];
	struct stat st;
	int fd;

	registry_path(supervisor, "counters", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st) && (size_t)st.st_size >= sizeof(*c) &&
	    (size_t)st.st_size <= counters_size(MU_MAX_POLICY_ENTRIES))
		c = malloc(st.st_size);
	if (c && (pread(fd, c, st.st_size, 0) != st.st_size || c->magic != MU_RUN_COUNTERS_MAGIC ||
		  counters_size(c->nr_entries) != (size_t)st.st_size ||
		  strncmp(c->sha256, sha256, 64))) {
		free(c);
		c = NULL;
	}
	close(fd);
	return c;
}

void run_registry_remove(pid_t supervisor)
{
	char path[128];

	registry_path(supervisor, "json", path, sizeof(path));
	unlink(path);
	registry_path(supervisor, "counters", path, sizeof(path));
	unlink(path);
}

/*
 * Is @pid still the supervisor that wrote @o (not a later process with its
 * PID)? Its start time says; an entry without one (an older version's) falls
 * back to the command name.
 */
static bool is_supervisor(pid_t pid, struct json_object *o)
{
	char path[64], comm[32] = "";
	struct json_object *v;
	FILE *f;

	if (json_object_object_get_ex(o, "start_time", &v))
		return json_object_get_uint64(v) && json_object_get_uint64(v) == start_time(pid);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "mptcp-upgrade", 13);
}

/*
 * Is this process in the PID namespace where the supervisor of @o registered,
 * so that a PID found dead here is that supervisor dead? Asked of the entry,
 * never of /proc/1: under `unshare -p --mount-proc` that is the caller itself,
 * and every live supervisor would look dead. /proc/self must agree with the
 * process's own namespace too (a /proc mounted for another one says nothing).
 */
static bool same_pid_namespace(struct json_object *o)
{
	struct json_object *v;
	unsigned long long ns = pid_namespace();
	char self[32] = "";

	/* /proc/self names this process by its PID in the namespace /proc was mounted for. */
	if (readlink("/proc/self", self, sizeof(self) - 1) <= 0 || atoi(self) != getpid())
		return false;
	if (json_object_object_get_ex(o, "pid_ns", &v))
		return ns && json_object_get_uint64(v) == ns;
	/*
	 * An older version's entry, without pid_ns: it registered in init's
	 * namespace, and /proc/1 is init there only when /proc/1 is not this
	 * process (as it is under unshare -p --mount-proc).
	 */
	{
		struct stat init;

		return getpid() != 1 && !stat("/proc/1/ns/pid", &init) && init.st_ino == ns;
	}
}

static void copy_member(struct json_object *o, const char *key, char *out, size_t size)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, size, "%s", json_object_get_string(v));
}

static void container_parse(struct json_object *o, struct run_container *c)
{
	copy_member(o, "id", c->id, sizeof(c->id));
	copy_member(o, "name", c->name, sizeof(c->name));
	copy_member(o, "pod", c->pod, sizeof(c->pod));
	copy_member(o, "namespace", c->pod_namespace, sizeof(c->pod_namespace));
	copy_member(o, "pod_uid", c->pod_uid, sizeof(c->pod_uid));
}

int run_registry_list(struct run_entry **list, size_t *nr)
{
	DIR *d = opendir(MU_RUN_DIR);
	struct run_entry *out = NULL, *grown;
	struct dirent *de;
	size_t n = 0;

	*list = NULL;
	*nr = 0;
	while (d && (de = readdir(d))) {
		struct json_object *o, *v;
		struct run_entry e = {};
		char path[PATH_MAX];
		int pid;

		if (sscanf(de->d_name, "run-%d.json", &pid) != 1 || strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), MU_RUN_DIR "/%s", de->d_name);
		o = json_object_from_file(path);
		if (!o)
			continue;
		if (!is_supervisor(pid, o)) {
			/*
			 * Killed: its files are all that is left. Only a supervisor of
			 * this PID namespace can tell (a PID means another process in
			 * another one): elsewhere the entry is left alone.
			 */
			if (same_pid_namespace(o))
				run_registry_remove(pid);
			json_object_put(o);
			continue;
		}
		e.supervisor = pid;
		if (json_object_object_get_ex(o, "program", &v))
			e.program = json_object_get_int(v);
		if (json_object_object_get_ex(o, "policy", &v))
			snprintf(e.policy, sizeof(e.policy), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "sha256", &v))
			snprintf(e.sha256, sizeof(e.sha256), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "loaded_at", &v))
			e.loaded_at = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "started_at", &v))
			e.started_at = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "reload_seq", &v))
			e.reload_seq = json_object_get_uint64(v);
		if (json_object_object_get_ex(o, "reload_error", &v))
			snprintf(e.reload_error, sizeof(e.reload_error), "%s",
				 json_object_get_string(v));
		if (json_object_object_get_ex(o, "container", &v))
			container_parse(v, &e.container);
		if (json_object_object_get_ex(o, "counts_map_id", &v))
			e.counts_map_id = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "sockopt_bridge", &v)) {
			struct json_object *f, *g;

			/* A supervisor of another option table: its counters can't be named. */
			if (json_object_object_get_ex(v, "counters_map_id", &f) &&
			    json_object_object_get_ex(v, "options", &g) &&
			    json_object_get_int(g) == MU_SOPT_MAX)
				e.bridge_map_id = json_object_get_int64(f);
			if (json_object_object_get_ex(v, "refused", &f))
				sockopt_mask_parse(f, &e.bridge_refused);
			if (json_object_object_get_ex(v, "carry", &f))
				sockopt_mask_parse(f, &e.bridge_carry);
			if (json_object_object_get_ex(v, "line_counters_map_id", &f))
				e.lines_map_id = json_object_get_int64(f);
			if (json_object_object_get_ex(v, "states_map_id", &f))
				e.states_map_id = json_object_get_int64(f);
			if (json_object_object_get_ex(v, "gen", &f))
				e.bridge_gen = json_object_get_int64(f);
			if (json_object_object_get_ex(v, "cgroup", &f))
				snprintf(e.bridge_cgroup, sizeof(e.bridge_cgroup), "%s",
					 json_object_get_string(f));
		}
		if (json_object_object_get_ex(o, "entries", &v) &&
		    json_object_is_type(v, json_type_array))
			e.entries = json_object_get(v);
		json_object_put(o);
		grown = realloc(out, (n + 1) * sizeof(*out));
		if (!grown) {
			json_object_put(e.entries);
			break;
		}
		out = grown;
		out[n++] = e;
	}
	if (d)
		closedir(d);
	*list = out;
	*nr = n;
	return 0;
}

void run_registry_free(struct run_entry *list, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		json_object_put(list[i].entries);
	free(list);
}
