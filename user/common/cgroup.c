// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cgroup.h"
#include "sys.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* How deep below the root a unit name is looked for. */
#define UNIT_SEARCH_DEPTH 8

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && !strcmp(s + ls - lx, suffix);
}

/* "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice", as systemd lays slices out. */
static int slice_path(const char *slice, char *out, size_t size)
{
	size_t len = strlen(slice) - strlen(".slice"), i;

	out[0] = '\0';
	if (!strcmp(slice, "-.slice"))
		return 0;	/* the root slice */
	for (i = 0; i <= len; i++) {
		if (i < len && slice[i] != '-')
			continue;
		if (!i || slice[i - 1] == '-')
			return -1;	/* "-a.slice", "a--b.slice": not a slice name */
		if ((size_t)snprintf(out + strlen(out), size - strlen(out), "%s%.*s.slice",
				     out[0] ? "/" : "", (int)i, slice) >= size - strlen(out))
			return -1;
	}
	return 0;
}

/*
 * The unit's cgroup as the system manager has it (`systemctl show -P
 * ControlGroup`): authoritative where systemd runs, and never a same-named
 * cgroup of a user's delegated subtree. -2 when systemd says the unit has no
 * cgroup (not running), -1 where it can't answer (no systemd).
 */
static int unit_from_systemd(const char *root, const char *unit, char *out, size_t size)
{
	char cmd[PATH_MAX], line[PATH_MAX];
	struct stat st;
	size_t i;
	int status;
	FILE *f;

	for (i = 0; unit[i]; i++)	/* a unit name, not something for the shell */
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.@\\",
			    unit[i]))
			return -1;
	snprintf(cmd, sizeof(cmd), "systemctl show --property=ControlGroup --value -- '%s' "
		 "2>/dev/null", unit);
	f = popen(cmd, "re");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	status = pclose(f);
	line[strcspn(line, "\n")] = '\0';
	/* systemd answered, and the unit has no cgroup: it is not running. */
	if (status == 0 && !line[0])
		return -2;
	if (line[0] != '/')
		return -1;
	if ((size_t)snprintf(out, size, "%s%s", root, line) >= size || stat(out, &st))
		return -1;
	return 0;
}

/*
 * Every directory called @unit below @root, breadth first: exactly one is the
 * answer, more than one is ambiguous (-EEXIST, the first two in @out and
 * @other), none -ENOENT.
 */
static int find_unit(const char *root, const char *unit, char *out, size_t size, char *other,
		     size_t other_size)
{
	char **queue = NULL, **next = NULL;
	size_t nq = 0, nn = 0, i;
	int depth, found = 0;

	switch (unit_from_systemd(root, unit, out, size)) {
	case 0:
		return 0;
	case -2:
		return -ENOENT;
	}
	queue = malloc(sizeof(*queue));
	if (!queue || !(queue[0] = strdup(root))) {
		free(queue);
		return -ENOMEM;
	}
	nq = 1;
	for (depth = 0; depth < UNIT_SEARCH_DEPTH && nq; depth++) {
		for (i = 0; i < nq; i++) {
			DIR *d = opendir(queue[i]);
			struct dirent *de;

			if (!d)
				continue;
			while ((de = readdir(d))) {
				char *child, **grown;

				if (de->d_type != DT_DIR || de->d_name[0] == '.')
					continue;
				if (asprintf(&child, "%s/%s", queue[i], de->d_name) < 0)
					continue;
				if (!strcmp(de->d_name, unit)) {
					if (found++)
						snprintf(other, other_size, "%s", child);
					else
						snprintf(out, size, "%s", child);
					free(child);
					continue;
				}
				grown = realloc(next, (nn + 1) * sizeof(*next));
				if (!grown) {
					free(child);
					continue;
				}
				next = grown;
				next[nn++] = child;
			}
			closedir(d);
		}
		for (i = 0; i < nq; i++)
			free(queue[i]);
		free(queue);
		queue = next;
		nq = nn;
		next = NULL;
		nn = 0;
	}
	for (i = 0; i < nq; i++)
		free(queue[i]);
	free(queue);
	return found == 1 ? 0 : found ? -EEXIST : -ENOENT;
}

/* Does @rel, a path below the cgroup root, climb above it through ".."? */
static bool walks_out(const char *rel)
{
	const char *p = rel, *end;
	long depth = 0;
	size_t n;

	while (*p) {
		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = end - p;
		if (n == 2 && !strncmp(p, "..", 2)) {
			if (--depth < 0)
				return true;
		} else if (n && !(n == 1 && *p == '.')) {
			depth++;
		}
		p = end;
	}
	return false;
}

int cgroup_resolve(const char *arg, struct cgroup_ref *cg, char *err, size_t err_size)
{
	char root[PATH_MAX], rel[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	bool v1;
	int n;

	memset(cg, 0, sizeof(*cg));
	n = find_mounts("cgroup2", root, sizeof(root), &v1);
	if (n <= 0) {
		snprintf(err, err_size, "cgroup v2 is not mounted%s: the engine attaches to cgroup "
			 "v2 only", v1 ? " (only cgroup v1 hierarchies are)" : "");
		return -1;
	}
	if (first_mount("cgroup2", root, sizeof(root)))
		return -1;
	if (!arg[0]) {
		snprintf(err, err_size, "empty cgroup name");
		return -1;
	}

	if (arg[0] == '/' && (!strncmp(arg, root, strlen(root)) &&
			      (arg[strlen(root)] == '/' || !arg[strlen(root)]))) {
		snprintf(cg->path, sizeof(cg->path), "%s", arg);
	} else if (!strchr(arg, '/') && has_suffix(arg, ".slice")) {
		if (slice_path(arg, rel, sizeof(rel))) {
			snprintf(err, err_size, "'%s' is not a valid slice name", arg);
			return -1;
		}
		snprintf(cg->path, sizeof(cg->path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	} else if (!strchr(arg, '/') && strchr(arg, '.') && arg[0] != '.') {
		n = find_unit(root, arg, cg->path, sizeof(cg->path), rel, sizeof(rel));
		if (n == -EEXIST) {
			snprintf(err, err_size, "unit %s is ambiguous: cgroups %.1000s and %.1000s "
				 "both have that name (name the cgroup path)", arg, cg->path, rel);
			return -1;
		}
		if (n) {
			snprintf(err, err_size, "can't find cgroup of unit %s under %s (is it "
				 "running?)", arg, root);
			return -1;
		}
	} else {
		snprintf(cg->path, sizeof(cg->path), "%s%s%s", root, arg[0] == '/' ? "" : "/",
			 arg);
	}
	if (!strncmp(cg->path, root, strlen(root)) && walks_out(cg->path + strlen(root))) {
		snprintf(err, err_size, "%s walks out of the cgroup v2 hierarchy (%s) through "
			 "'..': name a cgroup below it", arg, root);
		return -1;
	}
	/*
	 * One spelling per cgroup: "..", ".", "//" and links resolved, so that
	 * names compare equal and nothing outside the cgroup v2 root is named.
	 */
	if (!realpath(cg->path, rel)) {
		int e = errno;
		const char *dot = strrchr(arg, '.');
		bool unit = dot && (!strcmp(dot, ".slice") || !strcmp(dot, ".service") ||
				    !strcmp(dot, ".scope"));

		snprintf(err, err_size, "can't find cgroup %s (%s: %s)%s%s%s", arg, cg->path,
			 strerror(e), e != ENOENT ? "" : unit ?
			 ": create it or start the unit first (systemctl start " :
			 ": create it first (mkdir)", e == ENOENT && unit ? arg : "",
			 e == ENOENT && unit ? ")" : "");
		return -1;
	}
	if (strncmp(rel, root, strlen(root)) || (rel[strlen(root)] && rel[strlen(root)] != '/')) {
		snprintf(err, err_size, "%s is outside the cgroup v2 hierarchy (%s)", arg, root);
		return -1;
	}
	snprintf(cg->path, sizeof(cg->path), "%s", rel);

	if (stat(cg->path, &st)) {
		snprintf(err, err_size, "can't find cgroup %s (%s: %s)", arg, cg->path,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || statfs(cg->path, &sfs) ||
	    sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, err_size, "%s is not a cgroup v2 directory", cg->path);
		return -1;
	}
	cg->id = st.st_ino;
	snprintf(cg->name, sizeof(cg->name), "%s",
		 cg->path[strlen(root)] ? cg->path + strlen(root) : "/");
	return 0;
}

static bool path_inside(const char *inner, const char *outer)
{
	size_t lo = strlen(outer);

	if (!strcmp(outer, "/"))
		return true;
	return !strncmp(inner, outer, lo) && (inner[lo] == '/' || !inner[lo]);
}

bool cgroup_nested(const char *a, const char *b)
{
	return path_inside(a, b) || path_inside(b, a);
}

/* Is the cgroup @id the directory @path or one of its parents up to @root? */
static bool id_at_or_above(const char *root, const char *path, __u64 id)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	for (;;) {
		if (!stat(dir, &st) && (__u64)st.st_ino == id)
			return true;
		if (strlen(dir) <= strlen(root))
			return false;
		slash = strrchr(dir, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
}

bool cgroup_nested_ids(const struct cgroup_ref *cg, const char *other_name, __u64 other_id)
{
	char root[PATH_MAX], other[PATH_MAX * 2];

	if (first_mount("cgroup2", root, sizeof(root)))
		return false;
	if (id_at_or_above(root, cg->path, other_id))
		return true;
	snprintf(other, sizeof(other), "%s%s", root, strcmp(other_name, "/") ? other_name : "");
	return id_at_or_above(root, other, cg->id);
}

int cgroup_dir(const char *name, char *out, size_t size)
{
	char root[PATH_MAX];

	if (first_mount("cgroup2", root, sizeof(root)))
		return -1;
	if ((size_t)snprintf(out, size, "%s%s", root, strcmp(name, "/") ? name : "") >= size)
		return -1;
	return 0;
}

int cgroup_name_of_dir(const char *dir, char *out, size_t size)
{
	char root[PATH_MAX];
	size_t len;

	if (first_mount("cgroup2", root, sizeof(root)))
		return -1;
	len = strlen(root);
	if (strncmp(dir, root, len) || (dir[len] && dir[len] != '/'))
		return -1;
	if ((size_t)snprintf(out, size, "%s", dir[len] ? dir + len : "/") >= size)
		return -1;
	return 0;
}

int cgroup_alive(const char *name, __u64 id)
{
	char path[PATH_MAX * 2];
	struct stat st;

	if (cgroup_dir(name, path, sizeof(path)))
		return -1;
	return !stat(path, &st) && (__u64)st.st_ino == id;
}

static int find_id(const char *dir, size_t root_len, __u64 id, char *out, size_t size, int depth)
{
	char child[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int found = -1;
	DIR *d;

	if (!stat(dir, &st) && (__u64)st.st_ino == id) {
		snprintf(out, size, "%s", dir[root_len] ? dir + root_len : "/");
		return 0;
	}
	if (depth > 64)
		return -1;
	d = opendir(dir);
	while (d && found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", dir, de->d_name) >= sizeof(child))
			continue;
		found = find_id(child, root_len, id, out, size, depth + 1);
	}
	if (d)
		closedir(d);
	return found;
}

int cgroup_name_of_id(__u64 id, char *out, size_t size)
{
	char root[PATH_MAX];

	if (first_mount("cgroup2", root, sizeof(root)))
		return -1;
	return find_id(root, strlen(root), id, out, size, 0);
}

int cgroup_walk(const char *path, int (*fn)(const char *path, void *ctx), void *ctx)
{
	char child[PATH_MAX];
	struct dirent *de;
	int ret;
	DIR *d;

	ret = fn(path, ctx);
	if (ret)
		return ret;
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >=
		    sizeof(child))
			continue;
		ret = cgroup_walk(child, fn, ctx);
		if (ret)
			break;
	}
	if (d)
		closedir(d);
	return ret;
}

int cgroup_of_pid(pid_t pid, char *out, size_t size)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (ret && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, size, "%s", line + 3);
		ret = 0;
	}
	free(line);
	fclose(f);
	return ret;
}
