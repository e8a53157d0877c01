// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where `status` and `reload` find the run engine's supervisors: one file per
 * supervisor, MU_RUN_DIR/run-PID.json (root's alone), written when it starts
 * and on each reload, removed when it leaves. A file whose supervisor is gone
 * (killed) is removed by the next listing.
 */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "run.h"

static void registry_path(pid_t supervisor, char *out, size_t size)
{
	snprintf(out, size, MU_RUN_DIR "/run-%d.json", (int)supervisor);
}

int run_registry_write(pid_t supervisor, pid_t program, const char *policy, const char *sha256)
{
	struct json_object *o = json_object_new_object();
	char path[128], tmp[140];
	int ret = 0;

	if (mkdir(MU_RUN_DIR, 0700) && errno != EEXIST)
		return -1;
	registry_path(supervisor, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	json_object_object_add(o, "supervisor", json_object_new_int(supervisor));
	json_object_object_add(o, "program", json_object_new_int(program));
	json_object_object_add(o, "policy", json_object_new_string(policy));
	json_object_object_add(o, "sha256", json_object_new_string(sha256));
	json_object_object_add(o, "loaded_at", json_object_new_int64(time(NULL)));
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) || chmod(tmp, 0600) ||
	    rename(tmp, path)) {
		unlink(tmp);
		ret = -1;
	}
	json_object_put(o);
	return ret;
}

void run_registry_remove(pid_t supervisor)
{
	char path[128];

	registry_path(supervisor, path, sizeof(path));
	unlink(path);
}

/* Is @pid still a supervisor of ours (and not a PID reused by something else)? */
static bool is_supervisor(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "mptcp-upgrade", 13);
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
		if (!is_supervisor(pid)) {
			unlink(path);	/* killed: its file is all that is left */
			continue;
		}
		o = json_object_from_file(path);
		if (!o)
			continue;
		e.supervisor = pid;
		if (json_object_object_get_ex(o, "program", &v))
			e.program = json_object_get_int(v);
		if (json_object_object_get_ex(o, "policy", &v))
			snprintf(e.policy, sizeof(e.policy), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "sha256", &v))
			snprintf(e.sha256, sizeof(e.sha256), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "loaded_at", &v))
			e.loaded_at = json_object_get_int64(v);
		json_object_put(o);
		grown = realloc(out, (n + 1) * sizeof(*out));
		if (!grown)
			break;
		out = grown;
		out[n++] = e;
	}
	if (d)
		closedir(d);
	*list = out;
	*nr = n;
	return 0;
}
