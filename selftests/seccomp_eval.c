// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a seccomp profile does, as the kernel would run it: the profile (OCI
 * linux.seccomp JSON) is compiled with libseccomp the way runc does it (one
 * rule per name, a rule that compares one argument twice split into one rule
 * per comparison, rules with the default action left out), exported as
 * classic BPF, and that BPF is run here on the calls read from standard input,
 * one per line: "ARCH SYSCALL [ARG0 ...]" (ARCH x86_64, x86 or x32; SYSCALL a
 * name or the number the kernel sees; numbers in C syntax). Each answer is one
 * line: ALLOW, NOTIFY, ERRNO(n), KILL, TRAP, TRACE or LOG; with --run-filter,
 * followed by the run engine's own filter's answer for the same call
 * (user/run/run_filter.c, built in). Exit 1 with a line on stderr if the
 * profile does not compile.
 *
 * Usage: seccomp_eval [--run-filter] PROFILE.json < calls
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The run engine's filter, for its static build_filter(): what the profile must match. */
#include "run/run_filter.c"

static uint32_t action_of(const char *name, json_object *errno_ret, int *ok)
{
	uint32_t e = errno_ret ? json_object_get_int(errno_ret) : EPERM;

	*ok = 1;
	if (!strcmp(name, "SCMP_ACT_ALLOW"))
		return SCMP_ACT_ALLOW;
	if (!strcmp(name, "SCMP_ACT_ERRNO"))
		return SCMP_ACT_ERRNO(e);
	if (!strcmp(name, "SCMP_ACT_NOTIFY"))
		return SCMP_ACT_NOTIFY;
	if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
		return SCMP_ACT_KILL;
	if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
		return SCMP_ACT_KILL_PROCESS;
	if (!strcmp(name, "SCMP_ACT_TRAP"))
		return SCMP_ACT_TRAP;
	if (!strcmp(name, "SCMP_ACT_TRACE"))
		return SCMP_ACT_TRACE(e);
	if (!strcmp(name, "SCMP_ACT_LOG"))
		return SCMP_ACT_LOG;
	*ok = 0;
	return 0;
}

static const struct { const char *name; enum scmp_compare op; } ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int read_cmps(json_object *args, struct scmp_arg_cmp *c, int *repeated)
{
	int n = 0, seen = 0;
	size_t i, j;

	*repeated = 0;
	for (i = 0; args && i < json_object_array_length(args) && n < 6; i++) {
		json_object *a = json_object_array_get_idx(args, i);
		const char *op = json_object_get_string(json_object_object_get(a, "op"));

		c[n].arg = json_object_get_int(json_object_object_get(a, "index"));
		c[n].datum_a = json_object_get_uint64(json_object_object_get(a, "value"));
		c[n].datum_b = json_object_get_uint64(json_object_object_get(a, "valueTwo"));
		for (j = 0; j < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[j].name, op); j++)
			;
		if (j == sizeof(ops) / sizeof(ops[0]))
			return -1;
		c[n].op = ops[j].op;
		if (seen & (1 << c[n].arg))
			*repeated = 1;
		seen |= 1 << c[n].arg;
		n++;
	}
	return n;
}

static scmp_filter_ctx compile(const char *file)
{
	json_object *root = json_object_from_file(file), *x, *arches, *calls;
	uint32_t def;
	scmp_filter_ctx ctx;
	size_t i, j;
	int ok, k;

	if (!root || !json_object_object_get_ex(root, "defaultAction", &x)) {
		fprintf(stderr, "seccomp_eval: %s: no profile\n", file);
		return NULL;
	}
	def = action_of(json_object_get_string(x), json_object_object_get(root, "defaultErrnoRet"),
			&ok);
	ctx = seccomp_init(def);
	if (!ctx)
		return NULL;
	/* runc makes the native architecture the filter's first */
	if (json_object_object_get_ex(root, "architectures", &arches))
		for (i = 0; i < json_object_array_length(arches); i++) {
			json_object *o = json_object_array_get_idx(arches, i);
			const char *a = json_object_get_string(o);
			uint32_t token = !strcmp(a, "SCMP_ARCH_X86_64") ? SCMP_ARCH_X86_64 :
					 !strcmp(a, "SCMP_ARCH_X86") ? SCMP_ARCH_X86 :
					 !strcmp(a, "SCMP_ARCH_X32") ? SCMP_ARCH_X32 : 0;

			if (token && token != SCMP_ARCH_X86_64 && seccomp_arch_add(ctx, token) &&
			    seccomp_arch_exist(ctx, token)) {
				fprintf(stderr, "seccomp_eval: can't add %s\n", a);
				return NULL;
			}
		}
	json_object_object_get_ex(root, "syscalls", &calls);
	for (i = 0; calls && i < json_object_array_length(calls); i++) {
		json_object *e = json_object_array_get_idx(calls, i), *names;
		struct scmp_arg_cmp c[6];
		uint32_t act = action_of(json_object_get_string(json_object_object_get(e, "action")),
					 json_object_object_get(e, "errnoRet"), &ok);
		int n, repeated;

		if (!ok || (n = read_cmps(json_object_object_get(e, "args"), c, &repeated)) < 0) {
			fprintf(stderr, "seccomp_eval: entry %zu: bad action or comparison\n", i);
			return NULL;
		}
		if (act == def)
			continue;
		json_object_object_get_ex(e, "names", &names);
		for (j = 0; names && j < json_object_array_length(names); j++) {
			json_object *o = json_object_array_get_idx(names, j);
			const char *name = json_object_get_string(o);
			int nr = seccomp_syscall_resolve_name(name), rc = 0;

			if (nr == __NR_SCMP_ERROR)
				continue;	/* runc skips names libseccomp does not know */
			if (repeated)
				for (k = 0; k < n && !rc; k++)
					rc = seccomp_rule_add_array(ctx, act, nr, 1, &c[k]);
			else
				rc = seccomp_rule_add_array(ctx, act, nr, n, c);
			if (rc) {
				fprintf(stderr, "seccomp_eval: rule for %s: %s\n", name,
					strerror(-rc));
				return NULL;
			}
		}
	}
	json_object_put(root);
	return ctx;
}

/* Classic BPF as seccomp runs it, on one struct seccomp_data. */
static uint32_t run(const struct sock_filter *f, size_t n, const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {};
	size_t pc;

	for (pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? X : i->k;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS && i->k + 4 <= sizeof(*d))
				memcpy(&A, (const char *)d + i->k, 4);
			else if (BPF_MODE(i->code) == BPF_IMM)
				A = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM)
				A = M[i->k & 15];
			else
				return SECCOMP_RET_KILL_PROCESS;
			break;
		case BPF_LDX:
			X = BPF_MODE(i->code) == BPF_MEM ? M[i->k & 15] : i->k;
			break;
		case BPF_ST:
			M[i->k & 15] = A;
			break;
		case BPF_STX:
			M[i->k & 15] = X;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_ADD: A += src; break;
			case BPF_SUB: A -= src; break;
			case BPF_AND: A &= src; break;
			case BPF_OR: A |= src; break;
			case BPF_LSH: A <<= src; break;
			case BPF_RSH: A >>= src; break;
			case BPF_NEG: A = -A; break;
			default: return SECCOMP_RET_KILL_PROCESS;
			}
			break;
		case BPF_JMP: {
			int t;

			if (BPF_OP(i->code) == BPF_JA) {
				pc += i->k;
				break;
			}
			switch (BPF_OP(i->code)) {
			case BPF_JEQ: t = A == src; break;
			case BPF_JGT: t = A > src; break;
			case BPF_JGE: t = A >= src; break;
			case BPF_JSET: t = !!(A & src); break;
			default: return SECCOMP_RET_KILL_PROCESS;
			}
			pc += t ? i->jt : i->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? A : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				X = A;
			else
				A = X;
			break;
		}
	}
	return SECCOMP_RET_KILL_PROCESS;
}

static const char *action_name(uint32_t r, char *buf, size_t len)
{
	switch (r & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW: return "ALLOW";
	case SECCOMP_RET_USER_NOTIF: return "NOTIFY";
	case SECCOMP_RET_ERRNO:
		snprintf(buf, len, "ERRNO(%u)", r & SECCOMP_RET_DATA);
		return buf;
	case SECCOMP_RET_TRAP: return "TRAP";
	case SECCOMP_RET_TRACE: return "TRACE";
	case SECCOMP_RET_LOG: return "LOG";
	default: return "KILL";
	}
}

int main(int argc, char **argv)
{
	struct sock_filter prog[4096];
	char line[512], arch[16], name[64], b1[32], b2[32];
	bool against = argc == 3 && !strcmp(argv[1], "--run-filter");
	struct filter_asm run_filter;
	scmp_filter_ctx ctx;
	FILE *tmp;
	size_t n;

	if (argc != 2 && !against) {
		fprintf(stderr, "usage: seccomp_eval [--run-filter] PROFILE.json < calls\n");
		return 2;
	}
	build_filter(&run_filter);
	ctx = compile(argv[argc - 1]);
	tmp = tmpfile();
	if (!ctx || !tmp || seccomp_export_bpf(ctx, fileno(tmp))) {
		fprintf(stderr, "seccomp_eval: %s does not compile\n", argv[argc - 1]);
		return 1;
	}
	rewind(tmp);
	n = fread(prog, sizeof(prog[0]), 4096, tmp);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long a[6] = {};
		struct seccomp_data d = {};
		uint32_t token, r;
		int nr, i;

		if (sscanf(line, "%15s %63s %lli %lli %lli %lli %lli %lli", arch, name, &a[0], &a[1],
			   &a[2], &a[3], &a[4], &a[5]) < 2)
			continue;
		token = !strcmp(arch, "x86") ? SCMP_ARCH_X86 : !strcmp(arch, "x32") ?
			SCMP_ARCH_X32 : SCMP_ARCH_X86_64;
		/* A number is taken as it is: libseccomp names i386's bind() socketcall's */
		nr = name[0] >= '0' && name[0] <= '9' ? atoi(name) :
		     seccomp_syscall_resolve_name_rewrite(token, name);
		if (nr < 0) {
			printf("UNKNOWN\n");
			continue;
		}
		d.arch = token == SCMP_ARCH_X86 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
		d.nr = nr;
		for (i = 0; i < 6; i++)
			d.args[i] = a[i];
		r = run(prog, n, &d);
		if (against)
			printf("%s %s\n", action_name(r, b1, sizeof(b1)),
			       action_name(run(run_filter.code, run_filter.n, &d), b2, sizeof(b2)));
		else
			printf("%s\n", action_name(r, b1, sizeof(b1)));
		fflush(stdout);
	}
	seccomp_release(ctx);
	return 0;
}
