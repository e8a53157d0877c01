// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade seccomp-profile`: a container runtime's seccomp profile with
 * the run engine's notifications merged in, for the agent.
 *
 * The output is the OCI runtime spec's linux.seccomp object (what runc and crun
 * take, and what Docker, podman, containerd, CRI-O and Kubernetes' Localhost
 * profiles read): containerd reads a profile into that object as it is, so the
 * base's own extensions (archMap, includes and excludes by capability,
 * architecture or kernel) are resolved here, for x86_64 and a capability set.
 *
 * Merging must survive libseccomp, which runc and crun build the filter with.
 * Measured with 2.5.4: a syscall with an unconditional ALLOW rule drops any
 * conditional NOTIFY rule of the same syscall, whichever was added first. So a
 * call the run filter traps is taken out of the base's allowing rules and
 * put back as disjoint rules: NOTIFY where the run filter notifies, the base's
 * action everywhere else, each conjoined with the base rule's own conditions
 * (clone's namespace flags keep their meaning). No rule compares one argument
 * twice: runc turns such a rule into several rules, one per comparison (OR).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "commands.h"
#include "common/jsonw.h"
#include "common/output.h"
#include "profile.h"

#define MAX_ARGS	6
#define MAX_CASES	80
#define M32		0xffffffffULL
#define MSG_FASTOPEN_	0x20000000ULL
#define CLONE_FILES_	0x00000400ULL
#define F_DUPFD_	0
#define F_DUPFD_CLOEXEC_ 1030
#define SYS_BIND_	2	/* socketcall()'s call numbers */
#define SYS_CONNECT_	3

/* Docker's and containerd's default capabilities (podman and CRI-O give fewer: see --caps). */
static const char *const default_caps =
	"CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_MKNOD,CAP_NET_RAW,CAP_SETGID,"
	"CAP_SETUID,CAP_SETFCAP,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_SYS_CHROOT,CAP_KILL,"
	"CAP_AUDIT_WRITE";

enum op { OP_NE, OP_LT, OP_LE, OP_EQ, OP_GE, OP_GT, OP_MASKED_EQ, OP_MAX };
static const char *const op_names[OP_MAX] = {
	"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
	"SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

/* For SCMP_CMP_MASKED_EQ, value is the mask and value_two what the masked argument equals. */
struct cmp {
	unsigned int index;
	enum op op;
	uint64_t value, value_two;
};

struct rule {
	const char *name;
	const char *action;
	long long errno_ret;	/* -1: none */
	int nargs;
	struct cmp args[MAX_ARGS];
};

struct profile {
	struct rule *rules;
	size_t n, cap;
};

/* How the run filter (user/run/run_filter.c) decides for a call it may trap. */
enum split {
	SPLIT_ALL, SPLIT_FLAGS_A2, SPLIT_FLAGS_A3, SPLIT_CLONE, SPLIT_FCNTL, SPLIT_SOCKETCALL
};

static const struct {
	const char *name;
	enum split split;
} trapped[] = {
	{ "bind", SPLIT_ALL },		/* non-IP addresses: the supervisor lets them through */
	{ "connect", SPLIT_ALL },
	{ "epoll_create", SPLIT_ALL },
	{ "epoll_create1", SPLIT_ALL },
	{ "dup", SPLIT_ALL },
	{ "dup2", SPLIT_ALL },
	{ "dup3", SPLIT_ALL },
	{ "fork", SPLIT_ALL },
	{ "vfork", SPLIT_ALL },
	{ "clone3", SPLIT_ALL },
	{ "io_uring_setup", SPLIT_ALL },
	{ "sendto", SPLIT_FLAGS_A3 },	/* MSG_FASTOPEN */
	{ "sendmsg", SPLIT_FLAGS_A2 },
	{ "clone", SPLIT_CLONE },	/* without CLONE_FILES */
	{ "fcntl", SPLIT_FCNTL },	/* F_DUPFD, F_DUPFD_CLOEXEC */
	{ "fcntl64", SPLIT_FCNTL },
	{ "socketcall", SPLIT_SOCKETCALL },	/* i386: SYS_BIND, SYS_CONNECT */
};

struct kase {
	bool notify;
	bool cond;
	struct cmp c;
};

static int trapped_split(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(trapped) / sizeof(trapped[0]); i++)
		if (!strcmp(trapped[i].name, name))
			return trapped[i].split;
	return -1;
}

static struct kase masked(bool notify, unsigned int index, uint64_t mask, uint64_t v)
{
	return (struct kase){ notify, true, { index, OP_MASKED_EQ, mask, v } };
}

/*
 * The low 32 bits of argument @index outside the values @ex, as aligned blocks
 * (one masked comparison each): the kernel reads these arguments as 32-bit
 * ints, and so does the run filter.
 */
static void complement(unsigned int index, uint64_t prefix, int bits, const uint64_t *ex, int nex,
		       struct kase *out, int *n)
{
	bool hit = false;
	int i;

	for (i = 0; i < nex; i++)
		if (ex[i] >= prefix && ex[i] - prefix < (1ULL << bits))
			hit = true;
	if (!hit) {
		out[(*n)++] = masked(false, index, (M32 << bits) & M32, prefix);
		return;
	}
	if (!bits)
		return;
	complement(index, prefix, bits - 1, ex, nex, out, n);
	complement(index, prefix + (1ULL << (bits - 1)), bits - 1, ex, nex, out, n);
}

static int split_cases(enum split s, struct kase *out)
{
	static const uint64_t fcntl_ex[] = { F_DUPFD_, F_DUPFD_CLOEXEC_ };
	static const uint64_t sockcall_ex[] = { SYS_BIND_, SYS_CONNECT_ };
	int n = 0;

	switch (s) {
	case SPLIT_ALL:
		out[n++] = (struct kase){ .notify = true };
		break;
	case SPLIT_FLAGS_A2:
	case SPLIT_FLAGS_A3:
		out[n++] = masked(true, s == SPLIT_FLAGS_A2 ? 2 : 3, MSG_FASTOPEN_, MSG_FASTOPEN_);
		out[n++] = masked(false, s == SPLIT_FLAGS_A2 ? 2 : 3, MSG_FASTOPEN_, 0);
		break;
	case SPLIT_CLONE:
		out[n++] = masked(true, 0, CLONE_FILES_, 0);
		out[n++] = masked(false, 0, CLONE_FILES_, CLONE_FILES_);
		break;
	case SPLIT_FCNTL:
		out[n++] = masked(true, 1, M32, F_DUPFD_);
		out[n++] = masked(true, 1, M32, F_DUPFD_CLOEXEC_);
		complement(1, 0, 32, fcntl_ex, 2, out, &n);
		break;
	case SPLIT_SOCKETCALL:
		out[n++] = masked(true, 0, M32 & ~1ULL, SYS_BIND_);	/* 2 and 3 */
		complement(0, 0, 32, sockcall_ex, 2, out, &n);
		break;
	}
	return n;
}

/*
 * @r's conditions and @c together, in one comparison per argument: 1, or 0 when
 * they contradict each other, -1 when they can't be written as one rule.
 */
static int conjoin(struct rule *r, const struct cmp *c)
{
	int i;

	for (i = 0; i < r->nargs; i++) {
		struct cmp *b = &r->args[i];
		uint64_t both;

		if (b->index != c->index)
			continue;
		if (b->op == OP_EQ)	/* the base fixes the argument: decide here */
			return (b->value & c->value) == c->value_two;
		if (b->op != OP_MASKED_EQ)
			return -1;
		both = b->value & c->value;
		if ((b->value_two & both) != (c->value_two & both))
			return 0;
		b->value |= c->value;
		b->value_two = (b->value_two & ~c->value) | c->value_two;
		return 1;
	}
	if (r->nargs == MAX_ARGS)
		return -1;
	r->args[r->nargs++] = *c;
	return 1;
}

static int add_rule(struct profile *p, const struct rule *r)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 512;
		struct rule *n = realloc(p->rules, cap * sizeof(*n));

		if (!n)
			return -1;
		p->rules = n;
		p->cap = cap;
	}
	p->rules[p->n++] = *r;
	return 0;
}

static bool allowing(const char *action)
{
	return !strcmp(action, "SCMP_ACT_ALLOW") || !strcmp(action, "SCMP_ACT_LOG");
}

/* Add @base's rule for a trapped call as its disjoint NOTIFY and base-action parts. */
static int add_split(struct profile *p, const struct rule *base, enum split s)
{
	struct kase cases[MAX_CASES];
	int i, n = split_cases(s, cases);

	for (i = 0; i < n; i++) {
		struct rule r = *base;
		int ok = cases[i].cond ? conjoin(&r, &cases[i].c) : 1;

		if (ok < 0) {
			p_err("can't merge the base profile's rule for %s with the run engine's "
			      "condition on argument %u (it compares that argument otherwise)",
			      base->name, cases[i].c.index);
			return -1;
		}
		if (!ok)
			continue;
		if (cases[i].notify) {
			r.action = "SCMP_ACT_NOTIFY";
			r.errno_ret = -1;
		}
		if (add_rule(p, &r))
			return -1;
	}
	return 0;
}

/* ---- reading the base ---- */

struct resolve {
	char *caps;		/* ",CAP_A,CAP_B," */
	unsigned int kmaj, kmin;
};

static bool has_cap(const struct resolve *rs, const char *cap)
{
	char key[64];

	snprintf(key, sizeof(key), ",%s,", cap);
	return strstr(rs->caps, key);
}

/* The kernel is at least "MAJ.MIN[...]"; an unreadable version counts as met. */
static bool kernel_at_least(const struct resolve *rs, const char *v)
{
	unsigned int maj, min;

	if (sscanf(v, "%u.%u", &maj, &min) != 2)
		return true;
	return rs->kmaj > maj || (rs->kmaj == maj && rs->kmin >= min);
}

/*
 * Whether the base's "includes" (@incl) or "excludes" object holds on this
 * node: includes when every condition it names holds (all its capabilities
 * held, amd64 among its arches, the kernel at least its minKernel), excludes
 * when any does (one of its capabilities held, amd64 among its arches, the
 * kernel at least its minKernel). An empty object includes, and excludes nothing.
 */
static bool filter_holds(const struct resolve *rs, json_object *o, bool incl)
{
	bool all = true, any = false;
	json_object *v;
	size_t i;

	if (!o || !json_object_is_type(o, json_type_object))
		return incl;
	if (json_object_object_get_ex(o, "caps", &v) && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v)) {
		for (i = 0; i < json_object_array_length(v); i++) {
			json_object *c = json_object_array_get_idx(v, i);
			bool h = has_cap(rs, json_object_get_string(c));

			all &= h;
			any |= h;
		}
	}
	if (json_object_object_get_ex(o, "arches", &v) && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v)) {
		bool x86 = false;

		for (i = 0; i < json_object_array_length(v); i++)
			x86 |= !strcmp(json_object_get_string(json_object_array_get_idx(v, i)),
				       "amd64");
		all &= x86;
		any |= x86;
	}
	if (json_object_object_get_ex(o, "minKernel", &v) && json_object_get_string(v) &&
	    *json_object_get_string(v)) {
		bool met = kernel_at_least(rs, json_object_get_string(v));

		all &= met;
		any |= met;
	}
	return incl ? all : any;
}

static bool read_u64(json_object *o, const char *key, uint64_t *v)
{
	json_object *x;

	*v = 0;
	if (!json_object_object_get_ex(o, key, &x) || !x)
		return true;
	if (!json_object_is_type(x, json_type_int))
		return false;
	*v = json_object_get_uint64(x);
	return true;
}

static int read_args(const char *file, json_object *jargs, struct rule *r)
{
	size_t i, j;

	r->nargs = 0;
	if (!jargs || !json_object_is_type(jargs, json_type_array))
		return 0;
	if (json_object_array_length(jargs) > MAX_ARGS) {
		p_err("base profile %s: a rule with more than %d conditions", file, MAX_ARGS);
		return -1;
	}
	for (i = 0; i < json_object_array_length(jargs); i++) {
		json_object *a = json_object_array_get_idx(jargs, i), *op;
		struct cmp *c = &r->args[r->nargs];
		uint64_t index;

		if (!json_object_object_get_ex(a, "op", &op) || !read_u64(a, "index", &index) ||
		    index >= MAX_ARGS || !read_u64(a, "value", &c->value) ||
		    !read_u64(a, "valueTwo", &c->value_two)) {
			p_err("base profile %s: a condition without a valid index, value or op",
			      file);
			return -1;
		}
		c->index = index;
		for (j = 0; j < OP_MAX; j++)
			if (!strcmp(json_object_get_string(op), op_names[j]))
				break;
		if (j == OP_MAX) {
			p_err("base profile %s: unknown comparison '%s'", file,
			      json_object_get_string(op));
			return -1;
		}
		c->op = j;
		r->nargs++;
	}
	return 0;
}

/* One base entry, resolved, into @p: its names one rule each, trapped calls split. */
static int read_entry(const char *file, const struct resolve *rs, json_object *e,
		      struct profile *p)
{
	json_object *names, *action, *x;
	struct rule r = { .errno_ret = -1 };
	size_t i;

	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "action", &action) ||
	    !json_object_is_type(action, json_type_string)) {
		p_err("base profile %s: a syscalls entry without an action", file);
		return -1;
	}
	if (!filter_holds(rs, json_object_object_get(e, "includes"), true) ||
	    filter_holds(rs, json_object_object_get(e, "excludes"), false))
		return 0;
	r.action = json_object_get_string(action);
	if (json_object_object_get_ex(e, "errnoRet", &x) && x)
		r.errno_ret = json_object_get_int64(x);
	if (read_args(file, json_object_object_get(e, "args"), &r))
		return -1;
	if (!json_object_object_get_ex(e, "names", &names) &&
	    !json_object_object_get_ex(e, "name", &names)) {
		p_err("base profile %s: a syscalls entry without names", file);
		return -1;
	}
	for (i = 0; i < (json_object_is_type(names, json_type_array) ?
			 json_object_array_length(names) : 1); i++) {
		json_object *n = json_object_is_type(names, json_type_array) ?
				 json_object_array_get_idx(names, i) : names;
		int split;

		r.name = json_object_get_string(n);
		if (!r.name) {
			p_err("base profile %s: a syscall name that is not a string", file);
			return -1;
		}
		split = trapped_split(r.name);
		if (split >= 0 && !strcmp(r.action, "SCMP_ACT_NOTIFY")) {
			p_err("base profile %s already notifies %s: it is for another listener",
			      file, r.name);
			return -1;
		}
		if (split >= 0 && allowing(r.action) ? add_split(p, &r, (enum split)split) :
		    add_rule(p, &r))
			return -1;
	}
	return 0;
}

/* ---- writing ---- */

static bool same_rule(const struct rule *a, const struct rule *b)
{
	return !strcmp(a->action, b->action) && a->errno_ret == b->errno_ret &&
	       a->nargs == b->nargs && !memcmp(a->args, b->args, a->nargs * sizeof(a->args[0]));
}

static void write_rules(struct jsonw *w, const struct profile *p)
{
	bool *done = calloc(p->n, sizeof(*done));
	size_t i, j;
	int k;

	jw_key(w, "syscalls");
	jw_array_start(w);
	for (i = 0; done && i < p->n; i++) {
		const struct rule *r = &p->rules[i];

		if (done[i])
			continue;
		jw_object_start(w);
		jw_key(w, "names");
		jw_array_start(w);
		for (j = i; j < p->n; j++) {
			if (done[j] || !same_rule(r, &p->rules[j]))
				continue;
			done[j] = true;
			jw_string(w, p->rules[j].name);
		}
		jw_array_end(w);
		jw_kv_string(w, "action", r->action);
		if (r->errno_ret >= 0)
			jw_kv_int(w, "errnoRet", r->errno_ret);
		if (r->nargs) {
			jw_key(w, "args");
			jw_array_start(w);
			for (k = 0; k < r->nargs; k++) {
				jw_object_start(w);
				jw_kv_u64(w, "index", r->args[k].index);
				jw_kv_u64(w, "value", r->args[k].value);
				jw_kv_u64(w, "valueTwo", r->args[k].value_two);
				jw_kv_string(w, "op", op_names[r->args[k].op]);
				jw_object_end(w);
			}
			jw_array_end(w);
		}
		jw_object_end(w);
	}
	jw_array_end(w);
	free(done);
}

struct args {
	const char *base, *socket, *output, *caps;
};

static int write_profile(const struct args *a, json_object *root, const struct profile *p)
{
	char tmp[4096];
	json_object *x;
	struct jsonw w;
	FILE *out = stdout;

	if (a->output) {
		int fd;

		snprintf(tmp, sizeof(tmp), "%s.tmp", a->output);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			p_err("can't write %s: %s", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			return 1;
		}
	}
	jw_init(&w, out, true);
	jw_object_start(&w);
	json_object_object_get_ex(root, "defaultAction", &x);
	jw_kv_string(&w, "defaultAction", json_object_get_string(x));
	if (json_object_object_get_ex(root, "defaultErrnoRet", &x) && x)
		jw_kv_int(&w, "defaultErrnoRet", json_object_get_int64(x));
	jw_key(&w, "architectures");
	jw_array_start(&w);
	jw_string(&w, "SCMP_ARCH_X86_64");	/* the run engine's supervisor knows these */
	jw_string(&w, "SCMP_ARCH_X86");
	jw_string(&w, "SCMP_ARCH_X32");
	jw_array_end(&w);
	if (json_object_object_get_ex(root, "flags", &x) &&
	    json_object_is_type(x, json_type_array)) {
		size_t i;

		jw_key(&w, "flags");
		jw_array_start(&w);
		for (i = 0; i < json_object_array_length(x); i++)
			jw_string(&w, json_object_get_string(json_object_array_get_idx(x, i)));
		jw_array_end(&w);
	}
	jw_kv_string(&w, "listenerPath", a->socket);
	jw_kv_string(&w, "listenerMetadata", PROFILE_LISTENER_METADATA);
	write_rules(&w, p);
	jw_object_end(&w);
	if (jw_end(&w) || fflush(out) || (a->output && fsync(fileno(out)))) {
		p_err("can't write %s: %s", a->output ? tmp : "standard output", strerror(errno));
		if (a->output) {
			fclose(out);
			unlink(tmp);
		}
		return 1;
	}
	if (a->output && (fclose(out) || rename(tmp, a->output))) {
		p_err("can't write %s: %s", a->output, strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

static int build(const struct args *a)
{
	struct resolve rs = {};
	struct profile p = {};
	json_object *root, *syscalls, *x;
	struct utsname u;
	int rc = 1;
	size_t i;

	root = json_object_from_file(a->base);
	if (!root) {
		if (access(a->base, R_OK))
			p_err("can't read base profile %s: %s", a->base, strerror(errno));
		else
			p_err("base profile %s is no JSON: %s", a->base, json_util_get_last_err());
		return 1;
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "defaultAction", &x) ||
	    !json_object_is_type(x, json_type_string) ||
	    !json_object_object_get_ex(root, "syscalls", &syscalls) ||
	    !json_object_is_type(syscalls, json_type_array)) {
		p_err("base profile %s is no seccomp profile (no defaultAction or syscalls)",
		      a->base);
		goto out;
	}
	if (json_object_object_get_ex(root, "listenerPath", &x) && json_object_get_string(x) &&
	    *json_object_get_string(x)) {
		p_err("base profile %s has a listenerPath already (%s)", a->base,
		      json_object_get_string(x));
		goto out;
	}
	if (asprintf(&rs.caps, ",%s,", a->caps) < 0)
		goto out;
	if (!uname(&u))
		sscanf(u.release, "%u.%u", &rs.kmaj, &rs.kmin);
	for (i = 0; i < json_object_array_length(syscalls); i++)
		if (read_entry(a->base, &rs, json_object_array_get_idx(syscalls, i), &p))
			goto out;
	/* A base that allows by default allows what it does not name: notify those. */
	json_object_object_get_ex(root, "defaultAction", &x);
	if (allowing(json_object_get_string(x))) {
		for (i = 0; i < sizeof(trapped) / sizeof(trapped[0]); i++) {
			struct rule r = { .name = trapped[i].name, .errno_ret = -1,
					  .action = json_object_get_string(x) };
			size_t j;

			for (j = 0; j < p.n && strcmp(p.rules[j].name, r.name); j++)
				;
			if (j < p.n) {
				p_err("base profile %s allows by default and has rules for %s: "
				      "can't merge", a->base, r.name);
				goto out;
			}
			if (add_split(&p, &r, trapped[i].split))
				goto out;
		}
	}
	rc = write_profile(a, root, &p);
out:
	free(rs.caps);
	free(p.rules);
	json_object_put(root);
	return rc;
}

void help_seccomp_profile(FILE *out)
{
	fprintf(out,
		"Usage: %s seccomp-profile [--base FILE] [--socket PATH] [--caps LIST]\n"
		"                          [--output FILE]\n"
		"\n"
		"Write the seccomp profile that hands a container to 'mptcp-upgrade agent': the\n"
		"base profile (default %s) with NOTIFY on\n"
		"the calls the run engine's filter traps, \"listenerPath\" set to PATH (default\n"
		"%s) and \"listenerMetadata\" set to\n"
		"\"%s\". The output is in the OCI format runc, crun, Docker,\n"
		"podman, containerd, CRI-O and Kubernetes (Localhost profiles) read: the base's\n"
		"includes and excludes are resolved for x86_64, this kernel and the capability\n"
		"LIST (comma-separated; default: Docker's and containerd's default set).\n"
		"Written to standard output, or to FILE (replaced whole, mode 0644).\n",
		prog_name, PROFILE_DEFAULT_BASE, PROFILE_LISTENER_PATH, PROFILE_LISTENER_METADATA);
}

int do_seccomp_profile(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 's' },
		{ "caps", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{}
	};
	struct args a = { PROFILE_DEFAULT_BASE, PROFILE_LISTENER_PATH, NULL, default_caps };
	int c;

	if (wants_help(argc, argv)) {
		help_seccomp_profile(stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			a.base = optarg;
			break;
		case 's':
			a.socket = optarg;
			break;
		case 'c':
			a.caps = optarg;
			break;
		case 'o':
			a.output = optarg;
			break;
		case ':':
			return usage_err("seccomp-profile: option '%s' needs a value (see '%s "
					 "seccomp-profile help')", argv[optind - 1], prog_name);
		default:
			return usage_err("seccomp-profile: unknown option '%s' (see '%s "
					 "seccomp-profile help')", argv[optind - 1], prog_name);
		}
	}
	if (optind < argc)
		return usage_err("seccomp-profile: unexpected argument '%s' (see '%s "
				 "seccomp-profile help')", argv[optind], prog_name);
	if (a.socket[0] != '/' || strlen(a.socket) >= 108)
		return usage_err("seccomp-profile: --socket takes an absolute path shorter than "
				 "108 bytes, not '%s'", a.socket);
	return build(&a);
}
