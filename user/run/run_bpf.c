// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's BPF parts, all on the cgroup it gives COMMAND and the
 * supervisor: the socket-option bridge, the recorder of the options each
 * socket sets, and the address check (the bind and connect programs that make
 * the kernel use the address the supervisor classified). Each one that can't
 * load is said, and the supervisor goes on without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bridge/bridge.h"
#include "run_internal.h"
#include "run_options.skel.h"

struct run_bridge *run_bridge_in_use;

static int bridge_cg = -1;
static __u64 bridge_cgid;
static char bridge_cg_path[4096];
static int program_cg = -1;
static char program_cg_path[4096];

void run_program_cgroup(int cg, const char *path)
{
	program_cg = cg;
	snprintf(program_cg_path, sizeof(program_cg_path), "%s", path ? path : "");
}

void run_supervisor_cgroup(int cg, __u64 id, const char *path)
{
	bridge_cg = cg;
	bridge_cgid = id;
	snprintf(bridge_cg_path, sizeof(bridge_cg_path), "%s", path ? path : "");
}

void run_bpf_note_states(void)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (run_bridge_in_use &&
	    !bpf_obj_get_info_by_fd(run_bridge_states_fd(run_bridge_in_use), &info, &len))
		run_registry_set_bridge_states(info.id, run_bridge_gen(run_bridge_in_use));
}

/*
 * Options MPTCP refuses (TCP_USER_TIMEOUT, ...) would otherwise keep a listed
 * socket TCP (when set before the swap) or fail for the program (after it).
 * Loading can fail under load (EAGAIN was seen): tried again, then said.
 * MU_RUN_BRIDGE=0 leaves the bridge off.
 */
static void start_bridge(void)
{
	const char *want = getenv("MU_RUN_BRIDGE");
	char err[256];
	int attempt;

	if (want && !strcmp(want, "0"))
		return;
	for (attempt = 0; attempt < 4; attempt++) {
		if (attempt) {
			struct timespec ts = { 0, 100000000L << (attempt - 1) };

			nanosleep(&ts, NULL);
		}
		run_bridge_in_use = run_bridge_open(bridge_cg, bridge_cgid, err, sizeof(err));
		if (run_bridge_in_use || (errno != EAGAIN && errno != EBUSY && errno != EINTR))
			break;
	}
	if (!run_bridge_in_use)
		run_say("socket-option bridge off: %s: listed sockets that set an option MPTCP "
			"refuses stay TCP", err);
}

/* The bridge loaded and attached, and the supervisor in its cgroup: recorded, and said. */
static void announce_bridge(void)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char names[512];

	if (!run_bridge_in_use)
		return;
	if (!bpf_obj_get_info_by_fd(run_bridge_counters_fd(run_bridge_in_use), &info, &len)) {
		struct bpf_map_info lines = {};
		__u32 lines_len = sizeof(lines);

		if (bpf_obj_get_info_by_fd(run_bridge_line_counters_fd(run_bridge_in_use), &lines,
					   &lines_len))
			lines.id = 0;
		run_registry_set_bridge(info.id, lines.id, run_bridge_config(run_bridge_in_use),
					bridge_cg_path);
		run_bpf_note_states();
	}
	sockopt_mask_names(&run_bridge_config(run_bridge_in_use)->carry, names, sizeof(names));
	run_say("socket-option bridge on (cgroup %s): carries %s", bridge_cg_path, names);
}

/*
 * The recorder of the options each socket of the program sets (its own small
 * object, on the same cgroup as the bridge): a swap then carries exactly
 * those. Without it every option is read from the old socket.
 */
static struct run_options_bpf *recorder;
static int recorder_link = -1, recorder_program_link = -1;

/*
 * The address check (mu_run_intent): the run engine's bind and connect
 * programs on the same cgroup make the kernel use the address the supervisor
 * classified. Their links live as long as the supervisor.
 */
int run_intent_fd = -1;

static void start_intent(int load_err)
{
	static const struct {
		size_t prog;
		enum bpf_attach_type type;
	} at[] = {
		{ 0, BPF_CGROUP_INET4_CONNECT }, { 1, BPF_CGROUP_INET6_CONNECT },
		{ 2, BPF_CGROUP_INET4_BIND }, { 3, BPF_CGROUP_INET6_BIND },
	};
	struct bpf_program *progs[] = {
		recorder->progs.mu_run_connect4, recorder->progs.mu_run_connect6,
		recorder->progs.mu_run_bind4, recorder->progs.mu_run_bind6,
	};
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	size_t i;

	if (bpf_program__fd(progs[0]) < 0) {
		errno = load_err;	/* why its programs did not load */
		goto off;
	}
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		if (bpf_link_create(bpf_program__fd(progs[at[i].prog]), bridge_cg, at[i].type,
				    NULL) < 0)
			goto off;	/* the ones made go with the supervisor */
	run_intent_fd = bpf_map__fd(recorder->maps.run_intent);
	if (!bpf_obj_get_info_by_fd(bpf_map__fd(recorder->maps.bss), &info, &len))
		run_registry_set_counts(info.id);
	return;
off:
	run_say("no address check (%s; it needs Linux 5.19): a thread that changes a listed "
		"call's address while the call is served could reach an unlisted address over "
		"MPTCP (counted as unchecked)", strerror(errno ? errno : ENOTSUP));
}

/*
 * Opened and loaded (a parse of the kernel's BTF and the verifier) in a thread
 * of its own while the bridge loads: the program waits for both.
 */
struct recorder_load {
	struct run_options_bpf *skel;
	int err;
	int intent_err;		/* why the address check did not load, or 0 */
	int enter_err;		/* why the supervisor is not in its cgroup, or 0 */
	int program_err;	/* why run's program is not in it, or 0 */
};

/* run's program, which the supervisor moves into their cgroup beside its own move. */
static pid_t program_to_move;

void run_program_enters(pid_t program)
{
	program_to_move = program;
}

static struct run_options_bpf *open_recorder(bool intent)
{
	struct run_options_bpf *r = run_options_bpf__open();
	int err;

	if (!r)
		return NULL;
	r->rodata->page_size = (__u32)sysconf(_SC_PAGESIZE);
	if (!intent) {
		bpf_program__set_autoload(r->progs.mu_run_connect4, false);
		bpf_program__set_autoload(r->progs.mu_run_connect6, false);
		bpf_program__set_autoload(r->progs.mu_run_bind4, false);
		bpf_program__set_autoload(r->progs.mu_run_bind6, false);
	}
	if (!run_options_bpf__load(r))
		return r;
	err = errno;
	run_options_bpf__destroy(r);
	errno = err;
	return NULL;
}

/*
 * Into the cgroup run_own_cgroup() made, where the sockets the supervisor
 * makes must be, and run's program with it (waiting for the answer, it runs
 * nothing meanwhile): a thread of its own, as a move waits for an RCU grace
 * period, which the two loads hide. Both moves here, so that the supervisor
 * knows whether the record can see the program's options.
 */
static void *enter_cgroup(void *arg)
{
	struct recorder_load *rl = arg;
	int ret = run_enter_own_cgroup(program_to_move);

	if (ret == -1)
		rl->enter_err = errno;
	else if (ret == -2)
		rl->program_err = errno;
	return NULL;
}

static void *load_recorder(void *arg)
{
	struct recorder_load *rl = arg;

	rl->skel = open_recorder(true);
	/* Before 5.19 (bpf_skc_to_mptcp_sock): the record without the address check. */
	if (!rl->skel) {
		rl->intent_err = errno;
		rl->skel = open_recorder(false);
	}
	rl->err = rl->skel ? 0 : errno;
	return NULL;
}

static void start_recorder(struct recorder_load *rl)
{
	recorder = rl->skel;
	errno = rl->err;
	if (!recorder)
		goto fail;
	if (rl->program_err) {
		/* Its sockets' options would go unrecorded, and a swap would carry none. */
		run_say("no record of the options sockets set: can't move the program into "
			"cgroup %s (%s): a swap reads each one the socket could have set",
			bridge_cg_path, strerror(rl->program_err));
		start_intent(rl->intent_err);
		return;
	}
	recorder_link = bpf_link_create(bpf_program__fd(recorder->progs.mu_run_setsockopt),
					bridge_cg, BPF_CGROUP_SETSOCKOPT, NULL);
	if (recorder_link < 0)
		goto fail;
	/*
	 * A container's sockets live in its cgroup, those the supervisor made in
	 * the supervisor's: the record must see both (a swap back to TCP carries
	 * what was set on the MPTCP socket). Without the first, a swap would carry
	 * nothing of what the program set: then no record at all.
	 */
	if (program_cg >= 0) {
		recorder_program_link =
			bpf_link_create(bpf_program__fd(recorder->progs.mu_run_setsockopt),
					program_cg, BPF_CGROUP_SETSOCKOPT, NULL);
		if (recorder_program_link < 0) {
			int err = errno;

			close(recorder_link);
			recorder_link = -1;
			errno = err;
			run_say("can't attach the option recorder to the program's cgroup %s",
				program_cg_path);
			goto fail;
		}
	}
	run_options_recorder(bpf_map__fd(recorder->maps.set_opts), &recorder->bss->counts.lost);
	start_intent(rl->intent_err);
	return;
fail:
	run_say("no record of the options sockets set (%s): a swap reads each one the "
		"socket could have set", strerror(errno));
	run_options_bpf__destroy(recorder);
	recorder = NULL;
}

void run_bpf_start(void)
{
	struct recorder_load rl = { .err = ENOMEM };
	pthread_t t, enter;
	bool threaded, entering;

	if (bridge_cg < 0) {
		/* Where it was to be made (the agent's --cgroup), if anywhere. */
		if (run_enter_own_cgroup(0))
			run_say("can't move into its cgroup: %s", strerror(errno));
		start_bridge();
		announce_bridge();
		run_say("no record of the options sockets set and no address check: no cgroup "
			"of its own to attach them to (listed calls are counted as unchecked)");
		return;
	}
	entering = !pthread_create(&enter, NULL, enter_cgroup, &rl);
	if (!entering)
		enter_cgroup(&rl);
	threaded = !pthread_create(&t, NULL, load_recorder, &rl);
	start_bridge();
	if (threaded)
		pthread_join(t, NULL);
	else
		load_recorder(&rl);
	if (entering)
		pthread_join(enter, NULL);
	if (rl.enter_err) {
		/* Its sockets would be made outside the cgroup the programs are attached to. */
		run_say("socket-option bridge, option record and address check off: can't move "
			"into cgroup %s: %s", bridge_cg_path, strerror(rl.enter_err));
		if (run_bridge_in_use)
			run_bridge_close(run_bridge_in_use);
		run_bridge_in_use = NULL;
		if (rl.skel)
			run_options_bpf__destroy(rl.skel);
		return;
	}
	announce_bridge();
	start_recorder(&rl);
}
