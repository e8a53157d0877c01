// SPDX-License-Identifier: GPL-2.0-only
/*
 * The attachments as the CLI knows them: one JSON state file per attachment
 * under MU_STATE_DIR (root's alone), and the list of committed attachments,
 * which the attached_cgroups map decides (a committed one whose file is gone
 * is listed from what the map knows).
 */
#include <json-c/json.h>
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
#include "common/jsonw.h"
#include "common/sha256.h"

void file_sha256(const char *path, char out[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char buf[65536];
	struct sha256 s;
	ssize_t r = -1;

	strcpy(out, "-");
	if (fd < 0)
		return;
	sha256_init(&s);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&s, buf, r);
	if (r == 0)
		sha256_final(&s, out);
	close(fd);
}

/* The state file of an attachment: what status reports and reload starts from. */
int write_state(const struct attachment *att, const struct policy *pol,
			const char *path, char *err, size_t err_size)
{
	struct jsonw w;

	/* Root's alone: it names the cgroup, the policy file and its entries. */
	if (jw_file_open(&w, path))
		return fail(err, err_size, "can't write %s: %s", path, strerror(errno));
	jw_object_start(&w);
	jw_kv_int(&w, "id", att->id);
	jw_kv_string(&w, "cgroup", att->cgroup);
	jw_kv_u64(&w, "cgroup_id", att->cgroup_id);
	jw_kv_string(&w, "policy", att->policy);
	jw_kv_string(&w, "loaded_from", att->loaded_from);
	jw_kv_string(&w, "sha256", att->sha256);
	jw_kv_int(&w, "attached_at", att->attached_at);
	jw_kv_int(&w, "reloaded_at", att->reloaded_at);
	jw_kv_int(&w, "families", att->families);
	jw_kv_int(&w, "flags", att->flags);
	jw_kv_int(&w, "policy_map_id", att->policy_map_id);
	if (att->origin.container[0])
		jw_kv_string(&w, "container", att->origin.container);
	if (att->origin.root[0])
		jw_kv_string(&w, "container_root", att->origin.root);
	policy_entries_json(&w, pol);	/* last: state_head() cuts there */
	jw_object_end(&w);
	if (jw_file_commit(&w, path))
		return fail(err, err_size, "can't write %s: %s", path, strerror(errno));
	return 0;
}

/*
 * The state file without its entries: write_state() puts them last, and in
 * the writer's plain output the key's bytes ,"entries": occur nowhere else (a
 * quote inside a string is always escaped), so the object ends there.
 */
static struct json_object *state_head(const char *path)
{
	FILE *f = fopen(path, "re");
	struct json_object *o = NULL;
	char *buf = NULL, *cut;
	size_t cap = 0;

	if (!f)
		return NULL;
	/* JSON has no NUL: the whole file in one read. */
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	cut = strstr(buf, ",\"entries\":");
	if (cut) {
		cut[0] = '}';
		cut[1] = '\0';
	}
	o = json_tokener_parse(buf);
	free(buf);
	return o;
}

int read_state_file(const char *path, __u32 id, struct attachment *att, bool entries)
{
	struct json_object *o, *v;

	o = entries ? json_object_from_file(path) : state_head(path);
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
	if (json_object_object_get_ex(o, "container", &v))
		snprintf(att->origin.container, sizeof(att->origin.container), "%s",
			 json_object_get_string(v));
	if (json_object_object_get_ex(o, "container_root", &v))
		snprintf(att->origin.root, sizeof(att->origin.root), "%s",
			 json_object_get_string(v));
	if (json_object_object_get_ex(o, "entries", &v))
		att->entries = json_object_get(v);
	json_object_put(o);
	return 0;
}

int read_state(__u32 id, struct attachment *att, bool entries)
{
	char path[PATH_MAX];

	state_path(id, path, sizeof(path));
	return read_state_file(path, id, att, entries);
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
		if (read_state(id, &out[n], e->want_entries) && !synthesize_state(e, id, &out[n]))
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


size_t attachment_rows(const struct attachment *att)
{
	return att->entries ? json_object_array_length(att->entries) : 0;
}

static const char *entry_str(struct json_object *je, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(je, key, &v) ? json_object_get_string(v) : "";
}

void attachment_row(struct engine *e, const struct attachment *att, size_t i,
		    struct policy_row *row)
{
	struct json_object *je = i < attachment_rows(att) ?
				 json_object_array_get_idx(att->entries, i) : NULL, *v;

	memset(row, 0, sizeof(*row));
	row->line = je && json_object_object_get_ex(je, "line", &v) ? json_object_get_int(v) : 0;
	row->source = je ? entry_str(je, "source") : "";
	row->role = je ? entry_str(je, "role") : "";
	row->prefix = je ? entry_str(je, "prefix") : "";
	row->ports = je ? entry_str(je, "ports") : "";
	if (e)
		engine_line_counters(e, att->id, i, &row->counters);
}
