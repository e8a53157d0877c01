// SPDX-License-Identifier: GPL-2.0-only
/*
 * Container references resolved through each runtime's own state. runc (and
 * containerd's shims, and CRI-O, which run runc) keep ROOT/ID/state.json with
 * the init process's pid and start time; crun keeps ROOT/ID/status with the
 * same two. podman keeps its containers in its own database, so it is asked
 * (`podman container inspect`), which also resolves names. The cgroup is the
 * init process's own (/proc/PID/cgroup), read after its start time showed it
 * is the container's process and not a later one with a reused pid.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "runtime.h"

#define RUNC_ROOT	"/run/runc"
#define CRUN_ROOT	"/run/crun"
#define CONTAINERD_ROOT	"/run/containerd/runc"
#define MAX_MATCHES	8

enum ct_format { FMT_RUNC, FMT_CRUN, FMT_PODMAN };

struct match {
	char ref[CT_REF_MAX];
	char id[256];
	char state[PATH_MAX];	/* FMT_RUNC, FMT_CRUN: the state file */
	enum ct_format fmt;
	pid_t pid;		/* FMT_PODMAN: as podman says */
	char status[32];	/* FMT_PODMAN: "running", "exited", ... */
};

struct search {
	const char *want;	/* an id, a prefix of one, or a podman name */
	struct match m[MAX_MATCHES];
	size_t n;		/* may be more than MAX_MATCHES: those are counted only */
	char *err;
	size_t err_size;
};

/* Ids, names and namespaces as runtimes allow them: nothing that walks a path. */
static bool valid_name(const char *s)
{
	size_t i;

	if (!s[0] || s[0] == '.' || s[0] == '-' || strlen(s) > 255)
		return false;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.+-", s[i]))
			return false;
	return true;
}

/* One line into @err; -1, for the caller to return. */
static int __attribute__((format(printf, 3, 4)))
say(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	char file[PATH_MAX];

	for (p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if ((size_t)snprintf(file, sizeof(file), "%.*s/%s", (int)(end - p), p, prog) <
		    sizeof(file) && !access(file, X_OK))
			return true;
	}
	return false;
}

static void add_match(struct search *s, const char *label, const char *id, const char *state,
		      enum ct_format fmt)
{
	struct match *m;

	if (s->n++ >= MAX_MATCHES)
		return;
	m = &s->m[s->n - 1];
	memset(m, 0, sizeof(*m));
	snprintf(m->ref, sizeof(m->ref), "%s%s", label, id);
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->state, sizeof(m->state), "%s", state);
	m->fmt = fmt;
}

/*
 * The containers under runtime root @dir whose id is s->want or starts with
 * it, labelled "@label" + id. -errno when @dir can't be read.
 */
static int scan_root(struct search *s, const char *dir, const char *label, bool runc, bool crun)
{
	size_t len = strlen(s->want);
	char state[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, s->want, len))
			continue;
		snprintf(state, sizeof(state), "%s/%s/state.json", dir, de->d_name);
		if (runc && !access(state, F_OK)) {
			add_match(s, label ? label : "runc:", de->d_name, state, FMT_RUNC);
			continue;
		}
		snprintf(state, sizeof(state), "%s/%s/status", dir, de->d_name);
		if (crun && !access(state, F_OK))
			add_match(s, label ? label : "crun:", de->d_name, state, FMT_CRUN);
	}
	closedir(d);
	return 0;
}

/* containerd's runc root: one directory per namespace (@ns, or every one). */
static int scan_containerd(struct search *s, const char *root, const char *ns)
{
	char dir[PATH_MAX], label[300];
	struct dirent *de;
	DIR *d;

	if (ns) {
		snprintf(dir, sizeof(dir), "%s/%s", root, ns);
		snprintf(label, sizeof(label), "containerd:%s/", ns);
		return scan_root(s, dir, label, true, false) == -ENOENT && access(root, F_OK) ?
		       -ENOENT : 0;
	}
	d = opendir(root);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !valid_name(de->d_name))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		snprintf(label, sizeof(label), "containerd:%s/", de->d_name);
		scan_root(s, dir, label, true, false);
	}
	closedir(d);
	return 0;
}

/* What a child wrote on one pipe: the first @size - 1 bytes kept, the rest dropped. */
struct capture {
	int fd;
	char *buf;
	size_t size, got;
};

/* How long a runtime's command may take to answer (podman's first run builds its state). */
#define CAPTURE_MS 10000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Read both pipes to their ends at once, so that neither fills and stops the
 * child; -1 (ETIMEDOUT) when they are still open after CAPTURE_MS.
 */
static int drain(struct capture *c, int n)
{
	long long deadline = now_ms() + CAPTURE_MS;
	struct pollfd pfd[2];
	char scratch[512];
	int i, open_fds = n, ready;
	ssize_t r;

	while (open_fds > 0) {
		long long left = deadline - now_ms();

		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
		ready = left > 0 ? poll(pfd, n, (int)left) : 0;
		if (ready == 0) {
			for (i = 0; i < n; i++)
				c[i].buf[c[i].got] = '\0';	/* what came, a string */
			errno = ETIMEDOUT;
			return -1;
		}
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n; i++) {
			if (c[i].fd < 0 || !pfd[i].revents)
				continue;
			r = c[i].got < c[i].size - 1 ?
			    read(c[i].fd, c[i].buf + c[i].got, c[i].size - 1 - c[i].got) :
			    read(c[i].fd, scratch, sizeof(scratch));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				c[i].fd = -1;	/* poll skips a negative fd */
				open_fds--;
			} else if (c[i].got < c[i].size - 1) {
				c[i].got += r;
			}
		}
	}
	for (i = 0; i < n; i++)
		c[i].buf[c[i].got] = '\0';
	return 0;
}

/*
 * Run @argv; its stdout in @out, its stderr's first line in @errline. The exit
 * status, or -1 (errno ETIMEDOUT: no answer in CAPTURE_MS, the command killed).
 */
static int run_capture(char *const argv[], char *out, size_t out_size, char *errline,
		       size_t errline_size)
{
	int po[2], pe[2], status, timed_out = 0;
	pid_t pid;

	out[0] = errline[0] = '\0';
	if (pipe2(po, O_CLOEXEC))
		return -1;
	if (pipe2(pe, O_CLOEXEC)) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (pid > 0) {
		struct capture c[2] = { { po[0], out, out_size, 0 },
					{ pe[0], errline, errline_size, 0 } };

		if (drain(c, 2) && errno == ETIMEDOUT) {
			timed_out = 1;
			kill(pid, SIGKILL);
		}
		errline[strcspn(errline, "\n")] = '\0';
	}
	close(po[0]);
	close(pe[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	if (timed_out) {
		errno = ETIMEDOUT;
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * podman's answer for @s->want (a name, an id or an id's prefix): one match,
 * none (1), or -1 with the error said.
 */
static int ask_podman(struct search *s, bool say_unknown)
{
	char *argv[] = { "podman", "container", "inspect", "--format",
			 "{{.Id}}\t{{.Name}}\t{{.State.Pid}}\t{{.State.Status}}", "--",
			 (char *)s->want, NULL };
	char out[1024], errline[512], id[256], name[256], status[32];
	int rc, pid;

	rc = run_capture(argv, out, sizeof(out), errline, sizeof(errline));
	if (rc < 0 && errno == ETIMEDOUT) {
		snprintf(s->err, s->err_size, "podman did not answer `podman container inspect %s` "
			 "in %d s (stopped it)", s->want, CAPTURE_MS / 1000);
		return -1;
	}
	if (rc == 0 && sscanf(out, "%255[^\t]\t%255[^\t]\t%d\t%31[^\n]", id, name, &pid,
			      status) == 4) {
		add_match(s, "podman:", name, "", FMT_PODMAN);
		if (s->n <= MAX_MATCHES) {
			snprintf(s->m[s->n - 1].id, sizeof(s->m[s->n - 1].id), "%s", id);
			s->m[s->n - 1].pid = pid;
			snprintf(s->m[s->n - 1].status, sizeof(s->m[s->n - 1].status), "%s",
				 status);
		}
		return 0;
	}
	if (rc > 0 && !strstr(errline, "no such container") && say_unknown) {
		snprintf(s->err, s->err_size, "podman can't inspect container %s: %s", s->want,
			 errline[0] ? errline : "no answer");
		return -1;
	}
	return 1;
}

/* The error for a runtime whose state directory is missing. */
static int no_root(struct search *s, const char *runtime, const char *bin, const char *dir)
{
	if (!in_path(bin))
		snprintf(s->err, s->err_size, "%s is not installed (no %s in PATH, no %s)", runtime,
			 bin, dir);
	else
		snprintf(s->err, s->err_size, "no %s container %s (%s does not exist: %s has "
			 "started none)", runtime, s->want, dir, runtime);
	return -1;
}

/* Only the matches whose id is exactly s->want, when there is one. */
static void prefer_exact(struct search *s)
{
	size_t i, n = 0, kept = s->n < MAX_MATCHES ? s->n : MAX_MATCHES;

	for (i = 0; i < kept; i++)
		if (!strcmp(s->m[i].id, s->want) || (s->m[i].fmt == FMT_PODMAN &&
						     !strcmp(s->m[i].ref + 7, s->want)))
			s->m[n++] = s->m[i];
	if (n)
		s->n = n;
}

/*
 * podman runs its containers with runc or crun under the same id: a container
 * found both ways is podman's (its name finds it again after a re-creation).
 */
static void drop_podman_twins(struct search *s)
{
	size_t i, j, n = 0, kept = s->n < MAX_MATCHES ? s->n : MAX_MATCHES;

	for (i = 0; i < kept; i++) {
		bool twin = false;

		for (j = 0; j < kept && !twin; j++)
			twin = j != i && s->m[i].fmt != FMT_PODMAN && s->m[j].fmt == FMT_PODMAN &&
			       !strcmp(s->m[i].id, s->m[j].id);
		if (!twin)
			s->m[n++] = s->m[i];
	}
	s->n -= kept - n;
}

/* Every runtime, for a bare reference. */
static int search_all(struct search *s, const char *root)
{
	bool any = false;

	if (root && root[0]) {
		if (scan_root(s, root, NULL, true, true))
			return say(s->err, s->err_size, "can't read %s: %s", root,
				   strerror(errno));
		return 0;
	}
	any |= !scan_root(s, RUNC_ROOT, "runc:", true, false);
	any |= !scan_root(s, CRUN_ROOT, "crun:", false, true);
	any |= !scan_containerd(s, CONTAINERD_ROOT, NULL);
	/* podman not answering is said when nothing else found the container. */
	if (in_path("podman")) {
		any = true;
		if (ask_podman(s, false) < 0 && !s->n)
			return -1;
	}
	if (!any)
		return say(s->err, s->err_size, "no container %s: no runtime's state here "
			   "(%s, %s, %s) and podman is not installed", s->want, RUNC_ROOT,
			   CRUN_ROOT, CONTAINERD_ROOT);
	drop_podman_twins(s);
	return 0;
}

/* Field 22 of /proc/PID/stat (start time, in clock ticks since boot), and the state letter. */
static int proc_start(pid_t pid, unsigned long long *start, char *state)
{
	char path[64], buf[1024], *p;
	int field, fd;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	p = strrchr(buf, ')');		/* the name may hold spaces and parentheses */
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return -1;
	*start = strtoull(p, NULL, 10);
	return 0;
}

/* The init process and its start time from a runc state.json or a crun status. */
static int read_state(const struct match *m, pid_t *pid, unsigned long long *start)
{
	struct json_object *o = json_object_from_file(m->state), *v;
	bool runc = m->fmt == FMT_RUNC;

	if (!o)
		return -1;
	*pid = json_object_object_get_ex(o, runc ? "init_process_pid" : "pid", &v) ?
	       json_object_get_int(v) : 0;
	*start = json_object_object_get_ex(o, runc ? "init_process_start" :
					   "process-start-time", &v) ?
		 (unsigned long long)json_object_get_int64(v) : 0;
	json_object_put(o);
	return 0;
}

/* A single match made a container: its process alive, its cgroup read. */
static int finish(const struct match *m, struct container *ct, char *err, size_t err_size)
{
	unsigned long long start = 0, now;
	char state = 0;
	pid_t pid = m->pid;

	memset(ct, 0, sizeof(*ct));
	snprintf(ct->ref, sizeof(ct->ref), "%s", m->ref);
	snprintf(ct->id, sizeof(ct->id), "%s", m->id);
	if (m->fmt != FMT_PODMAN && read_state(m, &pid, &start))
		return say(err, err_size, "can't read the state of container %s (%s)",
			   m->ref, m->state);
	/* Running, or initialized: its process waits in its cgroup to start. */
	if (m->fmt == FMT_PODMAN && pid <= 0)
		return say(err, err_size, "container %s is stopped (podman says %s)", m->ref,
			   m->status);
	if (pid <= 0 || proc_start(pid, &now, &state) || state == 'Z' || state == 'X' ||
	    (start && now != start))
		return say(err, err_size, "container %s is stopped (its init process %d is "
			   "gone)", m->ref, pid);
	ct->pid = pid;
	if (cgroup_of_pid(pid, ct->cgroup, sizeof(ct->cgroup)))
		return say(err, err_size, "container %s: its process %d is in no cgroup v2 "
			   "(only v1 hierarchies are mounted?)", m->ref, pid);
	if (!strcmp(ct->cgroup, "/"))
		return say(err, err_size, "container %s runs in the root cgroup: refusing to "
			   "attach there, where every process of the machine would be "
			   "upgraded", m->ref);
	return 0;
}

/* A runtime's state directory could not be read: why, as one line. */
static int unreadable(struct search *s, const char *rt, const char *dir, bool custom)
{
	if (!custom && errno == ENOENT)
		return no_root(s, rt, !strcmp(rt, "cri-o") ? "crio" : rt, dir);
	snprintf(s->err, s->err_size, "can't read %s: %s", dir, strerror(errno));
	return -1;
}

/* The containers runtime @rt (not podman) knows whose id is s->want or starts with it. */
static int search_runtime(struct search *s, const char *rt, const char *ns, const char *root)
{
	bool custom = root && root[0];
	const char *dir;
	int found;

	if (!strcmp(rt, "containerd")) {
		dir = custom ? root : CONTAINERD_ROOT;
		if (access(dir, F_OK))
			return unreadable(s, rt, dir, custom);
		scan_containerd(s, dir, ns[0] ? ns : NULL);
		return 0;
	}
	if (!strcmp(rt, "crio")) {
		/* CRI-O runs runc or crun, each with its own root. */
		if (custom)
			return scan_root(s, root, "crio:", true, true) ?
			       unreadable(s, "cri-o", root, true) : 0;
		found = !scan_root(s, RUNC_ROOT, "crio:", true, false);
		found += !scan_root(s, CRUN_ROOT, "crio:", false, true);
		if (!found && !in_path("crio"))
			return say(s->err, s->err_size, "cri-o is not installed (no crio in "
				   "PATH, no %s or %s)", RUNC_ROOT, CRUN_ROOT);
		return 0;
	}
	if (!strcmp(rt, "runc")) {
		dir = custom ? root : RUNC_ROOT;
		return scan_root(s, dir, "runc:", true, false) ? unreadable(s, rt, dir, custom) : 0;
	}
	dir = custom ? root : CRUN_ROOT;
	return scan_root(s, dir, "crun:", false, true) ? unreadable(s, rt, dir, custom) : 0;
}

static const char *const runtimes[] = { "runc", "crun", "podman", "containerd", "crio" };

int container_resolve(const char *ref, const char *root, struct container *ct, char *err,
		      size_t err_size)
{
	struct search s = { .err = err, .err_size = err_size };
	const char *colon = strchr(ref, ':'), *name = ref, *slash;
	char rt[16] = "", ns[256] = "", want[256];
	size_t i, len;
	int ret;

	if (colon) {
		for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
			if ((size_t)(colon - ref) == strlen(runtimes[i]) &&
			    !strncmp(ref, runtimes[i], colon - ref))
				snprintf(rt, sizeof(rt), "%s", runtimes[i]);
		if (!rt[0])
			return say(err, err_size, "unknown runtime in container %s (runc, crun, "
				   "podman, containerd or crio, then ':' and the container)",
				   ref);
		name = colon + 1;
	}
	slash = strchr(name, '/');
	if (slash && !strcmp(rt, "containerd")) {
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - name), name);
		if (!valid_name(ns))
			return say(err, err_size, "'%s' is not a containerd namespace", ns);
		name = slash + 1;
	}
	snprintf(want, sizeof(want), "%s", name);
	if (!valid_name(want) || strlen(name) >= sizeof(want))
		return say(err, err_size, "'%s' is not a container id or name", name);
	s.want = want;

	if (!rt[0])
		ret = search_all(&s, root);
	else if (strcmp(rt, "podman"))
		ret = search_runtime(&s, rt, ns, root);
	else if (root && root[0])
		ret = say(err, err_size, "--root is a state directory of runc, crun, containerd "
			  "or cri-o: podman is asked, and keeps its own");
	else if (!in_path("podman"))
		ret = say(err, err_size, "podman is not installed (no podman in PATH)");
	else
		ret = ask_podman(&s, true) < 0 ? -1 : 0;
	if (ret)
		return -1;
	prefer_exact(&s);
	if (!s.n)
		return say(err, err_size, "no container %s%s", ref,
			   root && root[0] ? " under --root" : "");
	if (s.n > 1) {
		len = snprintf(err, err_size, "container %s is ambiguous: %zu match (", ref, s.n);
		for (i = 0; i < s.n && i < MAX_MATCHES && len < err_size; i++)
			len += snprintf(err + len, err_size - len, "%s%s", i ? ", " : "",
					s.m[i].ref);
		if (len < err_size)
			snprintf(err + len, err_size - len, "%s): name one as RUNTIME:ID",
				 s.n > MAX_MATCHES ? ", ..." : "");
		return -1;
	}
	return finish(&s.m[0], ct, err, err_size);
}

bool container_ref_names(const char *arg, const char *recorded)
{
	const char *colon = strchr(recorded, ':'), *bare = colon ? colon + 1 : recorded;
	const char *slash = strchr(bare, '/');

	if (!strcmp(arg, recorded) || !strcmp(arg, bare))
		return true;
	/* "containerd:ID" or a bare ID for "containerd:NAMESPACE/ID" */
	if (slash && (!strcmp(arg, slash + 1) ||
		      (!strncmp(arg, "containerd:", 11) && !strcmp(arg + 11, slash + 1))))
		return true;
	return false;
}
