// SPDX-License-Identifier: GPL-2.0-only
/*
 * What an OCI runtime hands the agent: runc and crun connect to the spec's
 * linux.seccomp.listenerPath and send, in one message, the container's
 * seccomp listener (SCM_RIGHTS) and its process state as JSON:
 *
 *   {"ociVersion": ..., "fds": ["seccompFd"], "pid": N,
 *    "metadata": "<listenerMetadata>",
 *    "state": {"id": ..., "pid": N, "annotations": {...}, ...}}
 *
 * "fds" names the descriptors in the order they came. The annotations say what
 * the container asks for (mptcp-upgrade.io/policy or .../policy-file) and, set
 * by Kubernetes' runtimes, what it is called.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"

#define HANDOFF_MAX_BYTES	(1 << 20)
#define HANDOFF_MAX_FDS		16

/* @in for a log line: control characters (an annotation's newline) as '?'. */
static void printable(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = (unsigned char)in[i] < ' ' || in[i] == 0x7f ? '?' : in[i];
	out[i] = '\0';
}

void agent_context(const struct run_container *k, char *out, size_t size)
{
	char name[64];

	printable(k->name, name, sizeof(name));
	if (k->name[0])
		snprintf(out, size, "container %.12s (%s): ", k->id, name);
	else
		snprintf(out, size, "container %.12s: ", k->id);
}

void agent_handoff_free(struct agent_handoff *h)
{
	if (h->listener >= 0)
		close(h->listener);
	h->listener = -1;
	free(h->policy_text);
	h->policy_text = NULL;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The first annotation of @keys that is set (a string), or NULL. */
static const char *annotation(struct json_object *ann, const char *const *keys)
{
	struct json_object *v;

	for (; ann && *keys; keys++)
		if (json_object_object_get_ex(ann, *keys, &v) &&
		    json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
	return NULL;
}

/*
 * What Kubernetes' runtimes call a container and its pod: containerd's CRI
 * plugin (io.kubernetes.cri.*), CRI-O (io.kubernetes.*); nerdctl its own name.
 */
static void identity(struct json_object *ann, struct run_container *k)
{
	static const char *const name[] = {
		"io.kubernetes.cri.container-name", "io.kubernetes.container.name",
		"nerdctl/name", NULL };
	static const char *const pod[] = {
		"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name", NULL };
	static const char *const ns[] = {
		"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace", NULL };
	static const char *const uid[] = {
		"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid", NULL };
	const char *v;

	if ((v = annotation(ann, name)))
		snprintf(k->name, sizeof(k->name), "%s", v);
	if ((v = annotation(ann, pod)))
		snprintf(k->pod, sizeof(k->pod), "%s", v);
	if ((v = annotation(ann, ns)))
		snprintf(k->pod_namespace, sizeof(k->pod_namespace), "%s", v);
	if ((v = annotation(ann, uid)))
		snprintf(k->pod_uid, sizeof(k->pod_uid), "%s", v);
}

/*
 * A container id, as runtimes make them: runc takes [A-Za-z0-9_.+-] of any
 * length, crun '@' and ':' as well. Anything printable without '/' or a
 * space is taken (it names the container in logs, status and metrics); the
 * file of its policy gets a name of its own (policy_file_name()).
 */
static bool id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (!n || n >= sizeof(((struct run_container *)0)->id))
		return false;
	for (i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~' || id[i] == '/')
			return false;
	return true;
}

/* A seccomp user-notification descriptor ("anon_inode:seccomp notify")? */
static bool is_listener(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strcmp(target, "anon_inode:seccomp notify");
}

int agent_handoff_parse(const char *json, size_t len, const int *fds, int nr_fds,
			struct agent_handoff *h, char *err, size_t err_size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *v, *state, *ann = NULL;
	const char *text;
	size_t i, n;
	int ret = -1;

	h->listener = -1;
	if (!tok) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		snprintf(err, err_size, "the runtime's message is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(o, "state", &state) ||
	    !json_object_is_type(state, json_type_object) ||
	    !json_object_object_get_ex(state, "id", &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(err, err_size, "the runtime's message has no state.id");
		goto out;
	}
	if (!id_ok(json_object_get_string(v))) {
		snprintf(err, err_size, "the runtime's container id is not one a runtime makes");
		goto out;
	}
	snprintf(h->k.id, sizeof(h->k.id), "%s", json_object_get_string(v));
	/*
	 * The top-level pid is the process whose filter this is: the container's
	 * first one, or one that `runc exec` (kubectl exec) adds, each with a
	 * listener of its own; state.pid stays the container's first.
	 */
	if ((json_object_object_get_ex(o, "pid", &v) ||
	     json_object_object_get_ex(state, "pid", &v)) && json_object_is_type(v, json_type_int))
		h->pid = json_object_get_int(v);
	if (h->pid <= 0) {
		snprintf(err, err_size, "the runtime's message has no process id");
		goto out;
	}
	if (json_object_object_get_ex(o, "metadata", &v) && json_object_is_type(v, json_type_string))
		snprintf(h->metadata, sizeof(h->metadata), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "fds", &v) && json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n && (int)i < nr_fds; i++) {
			text = json_object_get_string(json_object_array_get_idx(v, i));
			if (text && !strcmp(text, "seccompFd") && h->listener < 0)
				h->listener = fds[i];
		}
	}
	if (h->listener < 0) {
		snprintf(err, err_size, "the runtime sent no seccompFd (%d descriptor%s)", nr_fds,
			 nr_fds == 1 ? "" : "s");
		goto out;
	}
	if (!is_listener(h->listener)) {
		snprintf(err, err_size, "the runtime's seccompFd is not a seccomp listener");
		h->listener = -1;	/* closed with the others */
		goto out;
	}
	if (json_object_object_get_ex(state, "annotations", &ann) &&
	    !json_object_is_type(ann, json_type_object))
		ann = NULL;
	identity(ann, &h->k);
	if (ann && json_object_object_get_ex(ann, AGENT_ANN_POLICY, &v) &&
	    (text = json_object_get_string(v))) {
		h->policy_text = strdup(text);
		if (!h->policy_text) {
			snprintf(err, err_size, "out of memory");
			goto out;
		}
	}
	if (ann && json_object_object_get_ex(ann, AGENT_ANN_POLICY_FILE, &v) &&
	    (text = json_object_get_string(v))) {
		if (strlen(text) >= sizeof(h->policy_file)) {
			snprintf(err, err_size, "its %s is longer than %zu bytes",
				 AGENT_ANN_POLICY_FILE, sizeof(h->policy_file) - 1);
			goto out;
		}
		snprintf(h->policy_file, sizeof(h->policy_file), "%s", text);
	}
	ret = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}

/* Does @buf hold one whole JSON value? */
static bool complete_json(const char *buf, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	bool done;

	if (!tok)
		return false;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	done = o && json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	return done;
}

int agent_handoff_read(int conn, int timeout_ms, struct agent_handoff *h, char *err,
		       size_t err_size)
{
	char cbuf[CMSG_SPACE(HANDOFF_MAX_FDS * sizeof(int))];
	int fds[HANDOFF_MAX_FDS], nr_fds = 0, i, ret;
	long long deadline = now_ms() + timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	h->listener = -1;
	if (!buf) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	for (;;) {
		struct iovec iov;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct pollfd pfd = { .fd = conn, .events = POLLIN };
		long long left = deadline - now_ms();
		struct cmsghdr *c;
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			snprintf(err, err_size, "the runtime sent no complete message in %d ms",
				 timeout_ms);
			goto fail;
		}
		if (len + 1 >= cap) {
			char *grown;

			if (cap >= HANDOFF_MAX_BYTES) {
				snprintf(err, err_size, "the runtime's message is over %d bytes",
					 HANDOFF_MAX_BYTES);
				goto fail;
			}
			grown = realloc(buf, cap * 2);
			if (!grown) {
				snprintf(err, err_size, "out of memory");
				goto fail;
			}
			buf = grown;
			cap *= 2;
		}
		iov = (struct iovec){ buf + len, cap - len - 1 };
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, err_size, "can't read the runtime's message: %s",
				 strerror(errno));
			goto fail;
		}
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			size_t k, got;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < got; k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				if (nr_fds < HANDOFF_MAX_FDS)
					fds[nr_fds++] = fd;
				else
					close(fd);
			}
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/*
		 * `runc run` closes after its message; `runc exec` keeps the
		 * connection while its process runs: a whole JSON object is the end.
		 */
		if (complete_json(buf, len))
			break;
	}
	buf[len] = '\0';
	if (!len && !nr_fds) {
		/* A connection that sends nothing: a second agent asking whether we listen. */
		free(buf);
		return -2;
	}
	ret = agent_handoff_parse(buf, len, fds, nr_fds, h, err, err_size);
	goto out;
fail:
	ret = -1;
out:
	/* Refused or not, a seccomp listener that came is kept: its filter is in force. */
	for (i = 0; ret && h->listener < 0 && i < nr_fds; i++)
		if (is_listener(fds[i]))
			h->listener = fds[i];
	for (i = 0; i < nr_fds; i++)
		if (fds[i] != h->listener)
			close(fds[i]);
	free(buf);
	return ret;
}

/* @id as a file name: [A-Za-z0-9_.+-] kept, anything else '_', at most 64, no leading dot. */
static const char *policy_file_name(const char *id, char name[65])
{
	size_t i;

	for (i = 0; id[i] && i < 64; i++)
		name[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-",
				 id[i]) ? id[i] : '_';
	name[i] = '\0';
	if (name[0] == '.')
		name[0] = '_';
	return name;
}

/* The annotation's policy lines, written where the supervisor (and reload) reads them. */
static int write_policy(const struct agent_handoff *h, char *path, size_t size, char *err,
			size_t err_size)
{
	size_t len = strlen(h->policy_text);
	char name[65];
	int fd;

	if (mkdir(MU_RUN_DIR, 0755) && errno != EEXIST)
		goto fail;
	if (mkdir(AGENT_STATE_DIR, 0700) && errno != EEXIST)
		goto fail;
	/* Per hand-over (this process serves it): each exec of a container comes as well. */
	snprintf(path, size, AGENT_STATE_DIR "/%s-%d.policy", policy_file_name(h->k.id, name),
		 (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write(fd, h->policy_text, len) != (ssize_t)len ||
	    (len && h->policy_text[len - 1] != '\n' && write(fd, "\n", 1) != 1)) {
		close(fd);
		goto fail;
	}
	if (close(fd))
		goto fail;
	return 1;
fail:
	snprintf(err, err_size, "can't write the annotation's policy under %s: %s",
		 AGENT_STATE_DIR, strerror(errno));
	return -1;
}

int agent_policy_path(const struct agent_handoff *h, const char *policy_dir, char *path,
		      size_t size, char *err, size_t err_size)
{
	char want[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
	size_t n;

	if (h->policy_text && h->policy_file[0]) {
		snprintf(err, err_size, "both %s and %s are set: one, not both", AGENT_ANN_POLICY,
			 AGENT_ANN_POLICY_FILE);
		return -1;
	}
	if (h->policy_text)
		return write_policy(h, path, size, err, err_size);
	if (!h->policy_file[0])
		return 0;
	/* A name in the policy folder, or a path that must lead inside it. */
	if (h->policy_file[0] == '/')
		snprintf(want, sizeof(want), "%s", h->policy_file);
	else
		snprintf(want, sizeof(want), "%s/%s", policy_dir, h->policy_file);
	if (!realpath(policy_dir, dir)) {
		snprintf(err, err_size, "%s %s: the policy folder %s: %s", AGENT_ANN_POLICY_FILE,
			 h->policy_file, policy_dir, strerror(errno));
		return -1;
	}
	if (!realpath(want, real)) {
		snprintf(err, err_size, "%s %s: %s: %s", AGENT_ANN_POLICY_FILE, h->policy_file,
			 want, strerror(errno));
		return -1;
	}
	n = strcmp(dir, "/") ? strlen(dir) : 0;	/* "/": every absolute path is inside */
	if (strncmp(real, dir, n) || real[n] != '/') {
		snprintf(err, err_size, "%s %s: %s is outside the policy folder %s",
			 AGENT_ANN_POLICY_FILE, h->policy_file, real, dir);
		return -1;
	}
	snprintf(path, size, "%s", real);
	return 1;
}
